//! `bd list`, `bd search`, `bd count`.

use clap::Args;

use beads::Sort;

use super::filter::FilterArgs;
use crate::cli::Global;
use crate::render;

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Every status except tombstones (default hides closed).
    #[arg(long)]
    pub all: bool,
    /// Only issues `ready` would show.
    #[arg(long)]
    pub ready: bool,
    /// At most this many (0 for no limit).
    #[arg(short = 'n', long, default_value_t = 50)]
    pub limit: usize,
    /// Accepted for compatibility with upstream bd (output is always flat); does nothing.
    #[arg(long, hide = true)]
    pub flat: bool,
    /// Include gate issues (hidden unless asked for by type).
    #[arg(long)]
    pub include_gates: bool,
    /// Include infrastructure issues: agent, rig, role, message (hidden unless asked for).
    #[arg(long)]
    pub include_infra: bool,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Text to find in ids, titles, descriptions and notes.
    pub query: String,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// At most this many (0 for no limit).
    #[arg(short = 'n', long, default_value_t = 50)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The expression: `field OP value` (= != > >= < <=) joined by AND, OR, NOT and
    /// parentheses. Fields: status, priority, type, assignee, owner, label, title,
    /// description, notes, id, spec, parent, created, updated, started, closed, pinned,
    /// ephemeral, template, mol_type. Dates: 7d / 24h / 2w (ago), +2d, tomorrow, 2026-01-31.
    #[arg(required = true, value_name = "EXPRESSION")]
    pub expression: Vec<String>,
    /// Closed issues too (they are left out unless the expression mentions status).
    #[arg(short, long)]
    pub all: bool,
    /// At most this many (0 for no limit).
    #[arg(short = 'n', long, default_value_t = 50)]
    pub limit: usize,
    /// Sort order: priority, hybrid, oldest, newest, updated, id, title.
    #[arg(long)]
    pub sort: Option<String>,
    /// Reverse the order.
    #[arg(short, long)]
    pub reverse: bool,
}

#[derive(Debug, Args)]
pub struct CountArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Every status except tombstones.
    #[arg(long)]
    pub all: bool,
    /// Group counts by status, type, priority, assignee or label.
    #[arg(long, value_name = "FIELD")]
    pub by: Option<String>,
}

pub fn run(g: &Global, args: ListArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let mut filter = args.filter.to_filter(Sort::Priority, args.limit)?;
    filter.all = args.all;
    filter.ready = args.ready;
    // Pinned issues are standing references, not work: hidden unless asked for. A pinned
    // issue moving to `hooked` keeps its flag, so asking for that status shows it too.
    let asks_for_pinned = filter
        .statuses
        .iter()
        .any(|s| s == "pinned" || s == "hooked");
    if filter.pinned.is_none() && !filter.all && !asks_for_pinned {
        filter.pinned = Some(false);
    }
    // Gates and agent/rig/role/message beads are plumbing: hidden unless asked for.
    let asks_for = |t: &str| filter.types.iter().any(|x| x == t);
    if !args.include_gates && !asks_for("gate") {
        filter.exclude_types.push("gate".into());
    }
    if !args.include_infra && !beads::model::HIDDEN_INFRA_TYPES.iter().any(|t| asks_for(t)) {
        filter.exclude_types.extend(
            beads::model::HIDDEN_INFRA_TYPES
                .iter()
                .map(|t| (*t).to_owned()),
        );
    }
    let store = super::open(g)?;
    render::issue_query(ui, &store, &filter, false, "No issues")
}

pub fn search(g: &Global, args: SearchArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let mut filter = args.filter.to_filter(Sort::Priority, args.limit)?;
    filter.text = Some(args.query);
    filter.all = filter.statuses.is_empty();
    let store = super::open(g)?;
    render::issue_query(ui, &store, &filter, false, "No matches")
}

pub fn query(g: &Global, args: QueryArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let sort = match &args.sort {
        Some(s) => Sort::parse(s)?,
        None => Sort::Priority,
    };
    let filter = beads::Filter {
        query: Some(args.expression.join(" ")),
        all: args.all,
        include_ephemeral: true,
        include_templates: true,
        sort,
        reverse: args.reverse,
        limit: args.limit,
        ..beads::Filter::default()
    };
    let store = super::open(g)?;
    render::issue_query(ui, &store, &filter, false, "No issues match")
}

pub fn count(g: &Global, args: CountArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let mut filter = args.filter.to_filter(Sort::Priority, 0)?;
    filter.all = args.all;
    let store = super::open(g)?;
    let groups = store.count(&filter, args.by.as_deref())?;
    match (&args.by, ui.is_json()) {
        (None, true) => {
            ui.json(&serde_json::json!({"count": groups.first().map_or(0, |g| g.1)}))?;
        }
        (None, false) => ui.line(groups.first().map_or(0, |g| g.1))?,
        (Some(_), true) => {
            let rows: Vec<_> = groups
                .iter()
                .map(|(k, n)| serde_json::json!({"group": k, "count": n}))
                .collect();
            ui.json(&rows)?;
        }
        (Some(_), false) => {
            let rows: Vec<Vec<String>> = groups
                .iter()
                .map(|(k, n)| {
                    vec![
                        if k.is_empty() {
                            "(none)".into()
                        } else {
                            render::safe(k)
                        },
                        n.to_string(),
                    ]
                })
                .collect();
            render::table(ui, &rows)?;
        }
    }
    Ok(())
}
