//! `gt polecat list/status/nuke`.

use clap::{Args, Subcommand};

use town::work::identity::PolecatId;

#[derive(Debug, Subcommand)]
pub enum PolecatCommand {
    /// The polecats of a rig, or of every rig.
    List(ListArgs),
    /// One polecat: state, bead, branch, session.
    Status(OneArgs),
    /// Destroy a polecat: stop its session, remove its worktree and branch, forget it.
    Nuke(NukeArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this rig.
    pub rig: Option<String>,
}

#[derive(Debug, Args)]
pub struct OneArgs {
    /// `<rig>/polecats/<name>` or `<rig>/<name>`.
    pub polecat: String,
}

#[derive(Debug, Args)]
pub struct NukeArgs {
    /// `<rig>/polecats/<name>` or `<rig>/<name>`.
    pub polecat: String,
    /// Nuke even with a bead hooked or uncommitted changes (they are lost).
    #[arg(long)]
    pub force: bool,
}

/// Polecats as a table, each row indented by `indent`. A dead one (working, session gone)
/// shows `DEAD` where a live one shows `yes`.
pub fn table(
    ui: &mut ui::Ui,
    agents: &[town::views::AgentView],
    indent: &str,
) -> anyhow::Result<()> {
    let mut table = vec![vec![
        format!("{indent}POLECAT"),
        "STATE".into(),
        "BEAD".into(),
        "SESSION".into(),
        "RUNTIME".into(),
        "ALIVE".into(),
    ]];
    for a in agents {
        let p = &a.polecat;
        table.push(vec![
            format!("{indent}{}", a.address),
            p.state.to_string(),
            if p.bead_id.is_empty() {
                "-".into()
            } else {
                p.bead_id.clone()
            },
            if p.session.is_empty() {
                "-".into()
            } else {
                p.session.clone()
            },
            if p.runtime.is_empty() {
                "-".into()
            } else {
                p.runtime.clone()
            },
            if a.dead {
                "DEAD".into()
            } else if a.alive {
                "yes".into()
            } else {
                "no".into()
            },
        ]);
    }
    Ok(super::table(ui, &table)?)
}

fn parse(s: &str) -> anyhow::Result<PolecatId> {
    Ok(PolecatId::parse(s).ok_or_else(|| {
        ui::CliError::usage(format!(
            "`{s}` is not a polecat: use `<rig>/polecats/<name>`"
        ))
    })?)
}

pub fn run(cmd: PolecatCommand, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    let mut store = super::store(&town)?;
    let runtimes = super::runtimes(&town);
    // Each session is asked of the runtime its polecat was started in.
    let alive = |p: &beads::Polecat| {
        !p.session.is_empty()
            && runtimes
                .get(&p.runtime)
                .is_alive(&p.session, &[])
                .unwrap_or(false)
    };
    match cmd {
        PolecatCommand::List(a) => {
            if let Some(rig) = &a.rig {
                town::rig::entry(&town, rig)?;
            }
            let view = town::views::agents(&store, &runtimes, a.rig.as_deref())?;
            if ui.is_json() {
                ui.json(&view)?;
            } else if view.agents.is_empty() {
                ui.status("No polecats");
            } else {
                table(ui, &view.agents, "")?;
            }
        }
        PolecatCommand::Status(a) => {
            let id = parse(&a.polecat)?;
            let row = store
                .polecat(&id.rig, &id.name)?
                .ok_or_else(|| ui::CliError::user(format!("no polecat `{}`", id.address())))?;
            let alive = alive(&row);
            if ui.is_json() {
                ui.json(&serde_json::json!({"polecat": row, "alive": alive}))?;
            } else {
                for (k, v) in [
                    ("polecat", id.address()),
                    ("state", row.state.to_string()),
                    (
                        "bead",
                        if row.bead_id.is_empty() {
                            "-".into()
                        } else {
                            row.bead_id.clone()
                        },
                    ),
                    ("branch", row.branch.clone()),
                    ("worktree", row.worktree.clone()),
                    (
                        "session",
                        format!(
                            "{} ({})",
                            row.session,
                            if alive { "alive" } else { "not running" }
                        ),
                    ),
                    ("agent", row.agent.clone()),
                    ("generation", row.generation.to_string()),
                ] {
                    ui.line(format!("{k:<10}  {v}"))?;
                }
            }
        }
        PolecatCommand::Nuke(a) => {
            let id = parse(&a.polecat)?;
            // No sling may choose this polecat, or make a worktree beside it, meanwhile.
            let _admission = town::work::admission_lock(&town, &id.rig)?;
            let row = store
                .polecat(&id.rig, &id.name)?
                .ok_or_else(|| ui::CliError::user(format!("no polecat `{}`", id.address())))?;
            let worktree = id.worktree(&town);
            if !a.force {
                if !row.bead_id.is_empty() {
                    return Err(ui::CliError::user(format!("`{}` has `{}` hooked", id.address(), row.bead_id))
                        .hint("finish it with `gt done`, or pass `--force` to nuke anyway (the bead goes back to the queue)")
                        .into());
                }
                if worktree.exists() && !town::work::gitops::is_clean(&worktree)? {
                    return Err(ui::CliError::user(format!(
                        "`{}` has uncommitted changes",
                        worktree.display()
                    ))
                    .hint("pass `--force` to lose them")
                    .into());
                }
            }
            if !row.session.is_empty() {
                let _ = runtimes.get(&row.runtime).stop(&row.session);
            }
            if !row.bead_id.is_empty() {
                let issue = store.get(&row.bead_id)?;
                if matches!(issue.status.as_str(), "hooked" | "in_progress") {
                    store.update(
                        &row.bead_id,
                        &beads::Changes {
                            status: Some("open".into()),
                            assignee: Some(String::new()),
                            ..Default::default()
                        },
                    )?;
                }
            }
            // The worktree may be on a newer branch than the row says (a `gt sling` killed
            // before recording it): both go with the polecat.
            let bare = town::layout::RigPaths::new(&town, &id.rig).bare_repo();
            let checked_out = town::work::gitops::current_branch(&worktree).unwrap_or_default();
            town::work::gitops::remove_worktree(&bare, &worktree, &row.branch)?;
            if !checked_out.is_empty() && checked_out != row.branch {
                town::work::gitops::remove_worktree(&bare, &worktree, &checked_out)?;
            }
            store.delete_polecat(&id.rig, &id.name)?;
            if ui.is_json() {
                ui.json(&serde_json::json!({"polecat": id.address(), "status": "nuked"}))?;
            } else {
                ui.status(format!("Nuked {}", id.address()));
            }
        }
    }
    Ok(())
}
