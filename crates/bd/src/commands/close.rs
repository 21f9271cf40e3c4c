//! `bd close` and `bd reopen`.

use clap::Args;

use beads::CloseOptions;

use crate::cli::Global;

#[derive(Debug, Args)]
pub struct CloseArgs {
    /// Issue ids.
    #[arg(required = true)]
    pub ids: Vec<String>,
    /// Why it is closed (a failure word such as `failed` frees `conditional-blocks` dependents).
    #[arg(short, long, visible_alias = "resolution")]
    pub reason: Option<String>,
    /// Close even if blocked, pinned, or an epic with open children.
    #[arg(short, long)]
    pub force: bool,
    /// The session closing it.
    #[arg(long)]
    pub session: Option<String>,
    /// After closing, print the issues that became ready.
    #[arg(long)]
    pub suggest_next: bool,
}

#[derive(Debug, Args)]
pub struct ReopenArgs {
    /// Issue ids.
    #[arg(required = true)]
    pub ids: Vec<String>,
    /// Why it is reopened.
    #[arg(short, long)]
    pub reason: Option<String>,
}

pub fn run(g: &Global, args: &CloseArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let mut store = super::open(g)?;
    let ids = store.resolve_all(&args.ids)?;
    let before: std::collections::HashSet<String> = if args.suggest_next {
        store
            .ready(&beads::Filter {
                limit: 0,
                ..Default::default()
            })?
            .into_iter()
            .map(|v| v.issue.id)
            .collect()
    } else {
        Default::default()
    };
    let opts = CloseOptions {
        reason: args.reason.clone().unwrap_or_default(),
        force: args.force,
        session: args.session.clone().unwrap_or_default(),
    };
    let closed = store.close_all(&ids, &opts)?;
    crate::render::changed(ui, "Closed", &closed)?;
    if args.suggest_next {
        let newly: Vec<_> = store
            .ready(&beads::Filter {
                limit: 0,
                ..Default::default()
            })?
            .into_iter()
            .filter(|v| !before.contains(&v.issue.id))
            .collect();
        if !ui.is_json() {
            crate::render::issues(ui, &newly, "Nothing new is ready")?;
        }
    }
    Ok(())
}

pub fn reopen(g: &Global, args: &ReopenArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let mut store = super::open(g)?;
    let reason = args.reason.clone().unwrap_or_default();
    let reopened = store.reopen_all(&args.ids, &reason)?;
    crate::render::changed(ui, "Reopened", &reopened)?;
    Ok(())
}
