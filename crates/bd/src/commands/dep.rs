//! `bd dep add/remove/list/tree/cycles`.

use clap::{Args, Subcommand, ValueEnum};

use beads::Direction;

use crate::cli::Global;
use crate::render;

/// `bd dep <subcommand>`, or upstream's shorthand `bd dep A --blocks B` / `--blocked-by B`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DepArgs {
    #[command(subcommand)]
    pub command: Option<DepCommand>,
    /// With `--blocks` or `--blocked-by`: the issue on one end.
    pub issue: Option<String>,
    #[command(flatten)]
    pub direction: EdgeEnds,
}

/// The other end of a `blocks` edge given by which way it points.
#[derive(Debug, Args)]
pub struct EdgeEnds {
    /// The issue blocks this one (this one depends on the issue).
    #[arg(long, value_name = "ID", conflicts_with = "blocked_by")]
    pub blocks: Option<String>,
    /// The issue is blocked by this one (the issue depends on it).
    #[arg(long, value_name = "ID")]
    pub blocked_by: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum DepCommand {
    /// ISSUE depends on (is blocked by) DEPENDS_ON.
    Add(AddArgs),
    /// Remove the dependency of ISSUE on DEPENDS_ON.
    #[command(visible_alias = "rm")]
    Remove(PairArgs),
    /// List an issue's dependencies (down) or dependents (up).
    List(ListArgs),
    /// Show the dependency tree of an issue.
    Tree(TreeArgs),
    /// Find dependency cycles.
    Cycles,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The dependent issue (with `--blocks`, the blocking one).
    pub issue: String,
    /// What it depends on: an id or `external:<project>:<capability>`.
    #[arg(required_unless_present_any = ["blocks", "blocked_by"], conflicts_with_all = ["blocks", "blocked_by"])]
    pub depends_on: Option<String>,
    #[command(flatten)]
    pub ends: EdgeEnds,
    /// Dependency type: blocks, parent-child, conditional-blocks, waits-for, related, …
    #[arg(short = 't', long = "type", default_value = "blocks")]
    pub kind: String,
    /// Edge metadata as a JSON object (for example `{"gate":"any-children"}`).
    #[arg(long)]
    pub metadata: Option<String>,
}

#[derive(Debug, Args)]
pub struct PairArgs {
    pub issue: String,
    pub depends_on: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Dir {
    /// What the issue depends on.
    Down,
    /// What depends on the issue.
    Up,
}

impl From<Dir> for Direction {
    fn from(d: Dir) -> Self {
        match d {
            Dir::Down => Self::Down,
            Dir::Up => Self::Up,
        }
    }
}

#[derive(Debug, Args)]
pub struct ListArgs {
    pub issue: String,
    #[arg(long, value_enum, default_value = "down")]
    pub direction: Dir,
    /// Only this dependency type.
    #[arg(short = 't', long = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Args)]
pub struct TreeArgs {
    pub issue: String,
    #[arg(long, value_enum, default_value = "down")]
    pub direction: Dir,
    /// How deep to go.
    #[arg(long, default_value_t = 10)]
    pub max_depth: usize,
}

impl EdgeEnds {
    /// `(dependent, dependency)` for an edge at `issue`, if a direction was given.
    fn edge(&self, issue: &str) -> Option<(String, String)> {
        match (&self.blocks, &self.blocked_by) {
            (Some(blocked), _) => Some((blocked.clone(), issue.to_owned())),
            (None, Some(blocker)) => Some((issue.to_owned(), blocker.clone())),
            (None, None) => None,
        }
    }
}

pub fn run(g: &Global, args: DepArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let cmd = match (args.command, args.issue) {
        (Some(cmd), _) => cmd,
        (None, Some(issue)) => {
            let Some((from, to)) = args.direction.edge(&issue) else {
                return Err(ui::CliError::usage(
                    "`bd dep ID` needs `--blocks ID` or `--blocked-by ID`",
                )
                .into());
            };
            DepCommand::Add(AddArgs {
                issue: from,
                depends_on: Some(to),
                ends: EdgeEnds {
                    blocks: None,
                    blocked_by: None,
                },
                kind: "blocks".into(),
                metadata: None,
            })
        }
        (None, None) => {
            return Err(
                ui::CliError::usage("give a subcommand (`bd dep --help` lists them)").into(),
            );
        }
    };
    let mut store = super::open(g)?;
    match cmd {
        DepCommand::Add(a) => {
            let (from, to) = match (&a.depends_on, a.ends.edge(&a.issue)) {
                (Some(to), _) => (a.issue.clone(), to.clone()),
                (None, Some(edge)) => edge,
                (None, None) => {
                    return Err(ui::CliError::usage(
                        "give what it depends on, or `--blocks`/`--blocked-by`",
                    )
                    .into());
                }
            };
            let added = store.add_dependency(&from, &to, &a.kind, a.metadata.as_deref())?;
            let from = store.resolve(&from)?;
            let to = store.resolve_target(&to)?;
            if ui.is_json() {
                // `blocked_id`/`blocker_id` are upstream's names for the same two ids.
                ui.json(&serde_json::json!({
                    "status": if added { "added" } else { "exists" },
                    "issue_id": from,
                    "depends_on_id": to,
                    "blocked_id": from,
                    "blocker_id": to,
                    "type": a.kind,
                }))?;
            } else {
                ui.status(format!(
                    "{} {from} depends on {to} ({})",
                    if added { "Added:" } else { "Already there:" },
                    a.kind
                ));
            }
        }
        DepCommand::Remove(a) => {
            // Report the full ids, as `dep add` does, not the (possibly partial) input.
            let from = store.resolve(&a.issue)?;
            // A dangling target (its issue deleted) can still be removed by its literal id.
            let to = match a.depends_on.strip_prefix("external:") {
                Some(_) => a.depends_on.clone(),
                None => store
                    .resolve(&a.depends_on)
                    .unwrap_or_else(|_| a.depends_on.clone()),
            };
            let kind = store.remove_dependency(&from, &to)?;
            if ui.is_json() {
                ui.json(&serde_json::json!({"status": "removed", "issue_id": from, "depends_on_id": to, "type": kind}))?;
            } else {
                ui.status(format!(
                    "Removed: {from} no longer depends on {to} ({kind})"
                ));
            }
        }
        DepCommand::List(a) if ui.is_json() => {
            // Upstream's shape: the issues at the other end, each with the edge's type.
            let linked = store.linked_issues(&a.issue, a.direction.into(), a.kind.as_deref())?;
            ui.json(&linked)?;
        }
        DepCommand::List(a) => {
            let deps = store.dependencies(&a.issue, a.direction.into(), a.kind.as_deref())?;
            if deps.is_empty() {
                ui.status("No dependencies");
            } else {
                let rows: Vec<Vec<String>> = deps
                    .iter()
                    .map(|d| vec![d.issue_id.clone(), d.kind.clone(), d.depends_on_id.clone()])
                    .collect();
                render::table(ui, &rows)?;
            }
        }
        DepCommand::Tree(a) => {
            let nodes = store.dependency_tree(&a.issue, a.direction.into(), a.max_depth)?;
            if ui.is_json() {
                ui.json(&nodes)?;
            } else {
                let rows: Vec<Vec<String>> = nodes
                    .iter()
                    .map(|n| {
                        vec![
                            format!("{}{}", "  ".repeat(n.depth), n.id),
                            format!("P{}", n.priority),
                            n.status.clone(),
                            n.dependency_type.clone(),
                            render::safe(&n.title),
                        ]
                    })
                    .collect();
                render::table(ui, &rows)?;
            }
        }
        DepCommand::Cycles => {
            let cycles = store.dependency_cycles()?;
            if ui.is_json() {
                ui.json(&cycles)?;
            } else if cycles.is_empty() {
                ui.status("No dependency cycles");
            } else {
                for c in &cycles {
                    ui.line(format!("{} → {}", c.join(" → "), c[0]))?;
                }
            }
        }
    }
    Ok(())
}
