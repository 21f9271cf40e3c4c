//! `bd ready` and `bd blocked`.

use clap::Args;

use beads::Sort;

use super::filter::FilterArgs;
use crate::cli::Global;
use crate::render;

#[derive(Debug, Args)]
pub struct ReadyArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// At most this many (0 for no limit).
    #[arg(short = 'n', long, default_value_t = 100)]
    pub limit: usize,
    /// Only steps of this molecule (its direct children).
    #[arg(long)]
    pub mol: Option<String>,
    /// Include issues deferred to a later date.
    #[arg(long)]
    pub include_deferred: bool,
    /// Claim the first ready, unassigned issue atomically and print it.
    #[arg(long)]
    pub claim: bool,
}

#[derive(Debug, Args)]
pub struct BlockedArgs {
    /// Only descendants of this issue.
    #[arg(long)]
    pub parent: Option<String>,
}

pub fn run(g: &Global, args: ReadyArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let mut filter = args.filter.to_filter(Sort::Priority, args.limit)?;
    filter.mol = args.mol;
    filter.include_deferred = args.include_deferred;
    let mut store = super::open(g)?;
    if args.claim {
        let issue = store.claim_ready(&filter)?;
        if ui.is_json() {
            ui.json(&issue)?;
        } else {
            ui.line(&issue.id)?;
            ui.status(format!(
                "Claimed {}: {}",
                issue.id,
                render::safe(&issue.title)
            ));
        }
        return Ok(());
    }
    render::issue_query(ui, &store, &filter, true, "No ready work")
}

pub fn blocked(g: &Global, args: &BlockedArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let store = super::open(g)?;
    let blocked = store.blocked(args.parent.as_deref())?;
    if ui.is_json() {
        ui.json(&blocked)?;
    } else if blocked.is_empty() {
        ui.status("Nothing is blocked");
    } else {
        let rows: Vec<Vec<String>> = blocked
            .iter()
            .map(|b| {
                vec![
                    b.issue.id.clone(),
                    format!("P{}", b.issue.priority),
                    render::safe(&b.issue.title),
                    format!("blocked by {}", b.blocked_by.join(", ")),
                ]
            })
            .collect();
        render::table(ui, &rows)?;
    }
    Ok(())
}
