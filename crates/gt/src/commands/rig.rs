//! `gt rig`: add, list, status, remove, park, unpark, config show.

use std::io::IsTerminal;

use clap::{Args, Subcommand};

use town::rig::{self, RigSummary};

#[derive(Debug, Subcommand)]
pub enum RigCommand {
    /// Add a repository as a rig: bare clone, refinery worktree, config, bead prefix.
    Add(AddArgs),
    /// List the rigs.
    List,
    /// Show one rig: branch, polecats, work.
    Status(NameArgs),
    /// Remove a rig (refuses while work is in flight unless `--force`).
    Remove(RemoveArgs),
    /// Stop a rig from taking new work.
    Park(NameArgs),
    /// Let a parked rig take work again.
    Unpark(NameArgs),
    /// Rig settings.
    #[command(subcommand)]
    Config(RigConfigCommand),
}

#[derive(Debug, Subcommand)]
pub enum RigConfigCommand {
    /// Every effective setting of the rig, with the layer it comes from.
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The rig's name: letters, digits and `_`.
    pub name: String,
    /// The repository: a URL, a `file://` URL or a local path.
    pub url: String,
    /// The bead prefix [default: derived from the name].
    #[arg(long)]
    pub prefix: Option<String>,
}

#[derive(Debug, Args)]
pub struct NameArgs {
    pub name: String,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    pub name: String,
    /// Remove even with beads in flight or polecats present.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    pub name: String,
    /// Override a setting for this view (`key=value`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
}

pub fn run(cmd: RigCommand, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    match cmd {
        RigCommand::Add(a) => {
            let now = beads::store::format_ts(host::clock::from_env().now());
            let url = local_path_to_absolute(&a.url);
            let opts = rig::AddOptions {
                prefix: a.prefix.clone(),
                progress: std::io::stderr().is_terminal() && !ui.is_json(),
            };
            // A duplicate is refused before anything is cloned (or said to be).
            rig::check_new(&town, &a.name)?;
            // A town that lands through a forge: its CLI must work before the rig exists.
            let eff = super::effective_settings(&town, None, &[])?;
            town::forge::check(&eff.settings.merge_queue, &url, town.root())?;
            ui.status(format!("Cloning `{url}` into rig `{}`…", a.name));
            let entry = rig::add(&town, &a.name, &url, &opts, &now)?;
            if ui.is_json() {
                ui.json(&serde_json::json!({"name": a.name, "rig": entry}))?;
            } else {
                ui.status(format!(
                    "Added rig `{}` (bead prefix `{}`)",
                    a.name, entry.beads.prefix
                ));
            }
        }
        RigCommand::List => {
            let store = super::store(&town)?;
            let rigs = rig::summaries(&town, &store)?;
            if ui.is_json() {
                ui.json(&rigs)?;
            } else if rigs.is_empty() {
                ui.status("No rigs yet: `gt rig add <name> <git-url>`");
            } else {
                table(ui, &rigs)?;
            }
        }
        RigCommand::Status(a) => {
            let store = super::store(&town)?;
            let entry = rig::entry(&town, &a.name)?;
            let s = rig::summarize(&town, &store, &a.name, &entry)?;
            if ui.is_json() {
                ui.json(&s)?;
            } else {
                let rows = vec![
                    ("rig", s.name.clone()),
                    ("prefix", s.prefix.clone()),
                    ("repository", s.git_url.clone()),
                    ("branch", s.default_branch.clone()),
                    ("parked", s.parked.to_string()),
                    (
                        "polecats",
                        if s.polecats.is_empty() {
                            "none".into()
                        } else {
                            s.polecats.join(", ")
                        },
                    ),
                    (
                        "beads",
                        format!(
                            "{} open, {} hooked, {} in progress, {} closed",
                            s.open, s.hooked, s.in_progress, s.closed
                        ),
                    ),
                ];
                for (k, v) in rows {
                    ui.line(format!("{k:<10}  {v}"))?;
                }
            }
        }
        RigCommand::Remove(a) => {
            let store = super::store(&town)?;
            rig::remove(&town, &store, &a.name, a.force)?;
            report(ui, "removed", &a.name)?;
        }
        RigCommand::Park(a) => {
            let changed = rig::set_parked(&town, &a.name, true)?;
            report(
                ui,
                if changed { "parked" } else { "already parked" },
                &a.name,
            )?;
        }
        RigCommand::Unpark(a) => {
            let changed = rig::set_parked(&town, &a.name, false)?;
            report(ui, if changed { "unparked" } else { "not parked" }, &a.name)?;
        }
        RigCommand::Config(RigConfigCommand::Show(a)) => {
            rig::entry(&town, &a.name)?;
            let flags = a
                .overrides
                .iter()
                .map(|kv| {
                    kv.split_once('=')
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .ok_or_else(|| {
                            ui::CliError::usage(format!("`--set {kv}` must be KEY=VALUE"))
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let eff = super::effective_settings(&town, Some(&a.name), &flags)?;
            if ui.is_json() {
                ui.json(&eff.values)?;
            } else {
                let all: Vec<_> = eff.values.iter().collect();
                super::print_sourced(ui, &all)?;
            }
        }
    }
    Ok(())
}

/// A local path given as the repository becomes absolute, so the rig's remote keeps working
/// from any directory.
fn local_path_to_absolute(url: &str) -> String {
    let path = std::path::Path::new(url);
    if url.contains("://") || url.contains('@') || !path.exists() {
        return url.to_owned();
    }
    path.canonicalize()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| url.to_owned())
}

fn report(ui: &mut ui::Ui, what: &str, name: &str) -> anyhow::Result<()> {
    if ui.is_json() {
        ui.json(&serde_json::json!({"rig": name, "status": what}))?;
    } else {
        ui.status(format!("Rig `{name}` {what}"));
    }
    Ok(())
}

/// The rigs as a table (`gt rig list`, `gt status`).
pub fn table(ui: &mut ui::Ui, rigs: &[RigSummary]) -> anyhow::Result<()> {
    let mut rows = vec![vec![
        "RIG".to_owned(),
        "PREFIX".into(),
        "BRANCH".into(),
        "POLECATS".into(),
        "OPEN".into(),
        "ACTIVE".into(),
        "STATE".into(),
    ]];
    for r in rigs {
        rows.push(vec![
            r.name.clone(),
            r.prefix.clone(),
            r.default_branch.clone(),
            r.polecats.len().to_string(),
            r.open.to_string(),
            (r.in_progress + r.hooked).to_string(),
            if r.parked {
                "parked".into()
            } else {
                "active".into()
            },
        ]);
    }
    Ok(super::table(ui, &rows)?)
}
