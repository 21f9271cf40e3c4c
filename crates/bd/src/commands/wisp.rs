//! `bd wisp` and `bd mol wisp`: instantiate a formula as a wisp, list wisps, collect old ones.

use std::fmt::Write as _;

use beads::ops::molecule::InstanceKind;
use beads::{Filter, IssueView, Sort};
use clap::{Args, Subcommand};
use serde::Serialize;

use super::mol::{PourArgs, pour};
use crate::cli::Global;
use crate::render;

/// `bd wisp <formula>` creates a wisp; `bd wisp list` and `bd wisp gc` manage them. As in
/// upstream, the subcommands win over a formula of the same name; give such a formula by path.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct WispArgs {
    #[command(subcommand)]
    pub command: Option<WispCommand>,
    /// A formula name or path, or the id of a proto made with `bd cook --persist`.
    pub formula: Option<String>,
    /// Set a variable (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Create only the root; the steps are read from the formula when needed.
    #[arg(long)]
    pub root_only: bool,
}

#[derive(Debug, Subcommand)]
pub enum WispCommand {
    /// Wisps, most recently updated first; those untouched for a day are marked old.
    List(ListArgs),
    /// Delete wisps past their type's time to live.
    Gc(GcArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Closed wisps too.
    #[arg(long)]
    pub all: bool,
    /// Only wisps of this issue type.
    #[arg(short = 't', long = "type")]
    pub issue_type: Option<String>,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Show what would be deleted.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(g: &Global, args: WispArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    match (args.command, args.formula) {
        (Some(WispCommand::List(a)), _) => list(g, &a, ui),
        (Some(WispCommand::Gc(a)), _) => gc(g, &a, ui),
        (None, Some(formula)) => pour(
            g,
            &PourArgs {
                formula,
                vars: args.vars,
            },
            InstanceKind::Wisp {
                root_only: args.root_only,
            },
            ui,
        ),
        (None, None) => Err(ui::CliError::usage(
            "give a formula to instantiate, or `list` or `gc`",
        )
        .hint("`bd formula list` shows the formulas on the search path")
        .into()),
    }
}

/// A wisp not updated for this long is old: likely abandoned, and `gc` will take it in time.
const OLD_AFTER: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

/// One wisp as `wisp list --json` prints it (upstream's shape).
#[derive(Debug, Serialize)]
struct WispItem<'a> {
    id: &'a str,
    title: &'a str,
    status: &'a str,
    priority: i64,
    #[serde(rename = "type")]
    issue_type: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    labels: &'a [String],
    created_at: &'a str,
    updated_at: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    old: bool,
}

fn list(g: &Global, args: &ListArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let store = super::open(g)?;
    let wisps: Vec<IssueView> = store.list(&Filter {
        only_ephemeral: true,
        all: args.all,
        types: args.issue_type.iter().cloned().collect(),
        include_templates: true,
        include_infra: true,
        sort: Sort::Updated,
        limit: 0,
        ..Filter::default()
    })?;
    let now = store.now_ts();
    let is_old = |v: &IssueView| {
        v.issue
            .updated_at
            .parse::<jiff::Timestamp>()
            .is_ok_and(|t| now.duration_since(t) > OLD_AFTER)
    };
    let items: Vec<WispItem<'_>> = wisps
        .iter()
        .map(|v| WispItem {
            id: &v.issue.id,
            title: &v.issue.title,
            status: &v.issue.status,
            priority: v.issue.priority,
            issue_type: &v.issue.issue_type,
            labels: &v.labels,
            created_at: &v.issue.created_at,
            updated_at: &v.issue.updated_at,
            old: is_old(v),
        })
        .collect();
    let old = items.iter().filter(|i| i.old).count();
    if ui.is_json() {
        let mut out = serde_json::json!({"wisps": items, "count": items.len()});
        if old > 0 {
            out["old_count"] = old.into();
        }
        ui.json(&out)?;
        return Ok(());
    }
    if items.is_empty() {
        ui.status("No wisps");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            let mut updated = i.updated_at.to_owned();
            if i.old {
                let _ = write!(updated, " (old)");
            }
            vec![
                i.id.to_owned(),
                format!("P{}", i.priority),
                i.status.to_owned(),
                i.issue_type.to_owned(),
                updated,
                render::safe(i.title),
            ]
        })
        .collect();
    render::table(ui, &rows)?;
    if old > 0 {
        ui.status(format!(
            "{old} wisp(s) not updated in 24 hours; `bd wisp gc` deletes wisps past their time to live"
        ));
    }
    Ok(())
}

fn gc(g: &Global, args: &GcArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let mut store = super::open(g)?;
    let ids = store.wisp_gc(args.dry_run)?;
    if ui.is_json() {
        ui.json(&serde_json::json!({"deleted": ids, "dry_run": args.dry_run}))?;
    } else {
        for id in &ids {
            ui.line(id)?;
        }
        ui.status(format!(
            "{} {} wisp(s)",
            if args.dry_run {
                "Would delete"
            } else {
                "Deleted"
            },
            ids.len()
        ));
    }
    Ok(())
}
