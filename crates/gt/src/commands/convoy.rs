//! `gt convoy create/add/status/list/close/stranded/stage/launch/watch`.

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum ConvoyCommand {
    /// Track beads (of any rig) as one batch.
    Create(CreateArgs),
    /// Add beads to a convoy.
    Add(AddArgs),
    /// Each tracked bead's state.
    Status(StatusArgs),
    /// Open convoys (all with `--all`).
    List(ListArgs),
    /// Close a convoy by hand.
    Close(CloseArgs),
    /// Convoys that cannot move on their own: ready work nobody is on and nothing queued, or
    /// only blocked beads left (the daemon checks this too, and escalates).
    Stranded,
    /// A convoy's or epic's open beads in waves by their dependencies: each wave can start
    /// once the waves before it have landed.
    Stage(StageArgs),
    /// Queue every open bead of a convoy or epic for a rig: the scheduler starts each wave as
    /// the one before it lands (what `gt sling <convoy-or-epic> <rig>` does).
    Launch(LaunchArgs),
    /// Be told (by mail) when a convoy lands; the convoy's owner always is.
    Watch(WatchArgs),
}

#[derive(Debug, Args)]
pub struct StageArgs {
    /// The convoy or epic.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct LaunchArgs {
    /// The convoy or epic.
    pub id: String,
    /// The rig its beads go to.
    pub rig: String,
    /// The agent preset to run, instead of the configured one.
    #[arg(long)]
    pub agent: Option<String>,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    pub convoy: String,
    /// Who is told [default: you, from `GT_ROLE`, else the overseer].
    #[arg(long)]
    pub address: Option<String>,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The convoy's title.
    pub title: String,
    /// Beads to track.
    pub beads: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    pub convoy: String,
    #[arg(required = true)]
    pub beads: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The convoy [default: every open convoy].
    pub convoy: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Include closed convoys.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct CloseArgs {
    pub convoy: String,
    /// Close even though tracked beads have not landed.
    #[arg(long)]
    pub force: bool,
}

pub fn run(cmd: ConvoyCommand, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    let mut store = super::store(&town)?;
    match cmd {
        ConvoyCommand::Create(a) => {
            let convoy = store.create_convoy(&a.title, &a.beads)?;
            if ui.is_json() {
                ui.json(&store.convoy_status(&convoy.id)?)?;
            } else {
                ui.line(&convoy.id)?;
                ui.status(format!(
                    "Created convoy {} tracking {} bead(s)",
                    convoy.id,
                    a.beads.len()
                ));
            }
        }
        ConvoyCommand::Add(a) => {
            let added = store.convoy_add(&a.convoy, &a.beads)?;
            if ui.is_json() {
                ui.json(&serde_json::json!({"convoy": a.convoy, "added": added}))?;
            } else {
                ui.status(format!("Added {} bead(s) to {}", added.len(), a.convoy));
            }
        }
        ConvoyCommand::Status(a) => {
            let view = town::views::convoys(&store, a.convoy.as_deref())?;
            if ui.is_json() {
                ui.json(&view)?;
            } else if view.convoys.is_empty() {
                ui.status("No open convoys");
            } else {
                for c in &view.convoys {
                    ui.line(format!(
                        "{}  {}  [{}, {}/{} merged]",
                        c.convoy.id,
                        super::safe(&c.convoy.title),
                        c.state,
                        c.convoy.merged,
                        c.convoy.tracked.len()
                    ))?;
                    let rows: Vec<Vec<String>> = c
                        .convoy
                        .tracked
                        .iter()
                        .map(|t| {
                            vec![
                                format!("  {}", t.id),
                                t.status.clone(),
                                if t.assignee.is_empty() {
                                    "-".into()
                                } else {
                                    t.assignee.clone()
                                },
                                c.merge_requests
                                    .get(&t.id)
                                    .map_or("-".to_owned(), |m| format!("{} {}", m.mr, m.state)),
                                super::safe(&t.title),
                            ]
                        })
                        .collect();
                    super::table(ui, &rows)?;
                }
            }
        }
        ConvoyCommand::List(a) => {
            let convoys = store.convoys(a.all)?;
            if ui.is_json() {
                ui.json(&convoys)?;
            } else if convoys.is_empty() {
                ui.status("No convoys");
            } else {
                let rows: Vec<Vec<String>> = convoys
                    .iter()
                    .map(|c| {
                        vec![
                            c.id.clone(),
                            c.status.clone(),
                            format!("{}/{}", c.merged, c.tracked.len()),
                            super::safe(&c.title),
                        ]
                    })
                    .collect();
                super::table(ui, &rows)?;
            }
        }
        ConvoyCommand::Close(a) => {
            let status = store.convoy_status(&a.convoy)?;
            let open: Vec<&str> = status
                .tracked
                .iter()
                .filter(|t| t.status != "closed")
                .map(|t| t.id.as_str())
                .collect();
            if !open.is_empty() && !a.force {
                return Err(ui::CliError::user(format!(
                    "convoy {} still tracks open beads: {}",
                    status.id,
                    open.join(", ")
                ))
                .hint("pass `--force` to close it anyway")
                .into());
            }
            let closed = store.close(
                &status.id,
                &beads::CloseOptions {
                    reason: "closed by hand".into(),
                    force: true,
                    ..Default::default()
                },
            )?;
            if ui.is_json() {
                ui.json(&closed)?;
            } else {
                ui.status(format!("Closed convoy {}", closed.id));
            }
        }
        ConvoyCommand::Stranded => {
            let stranded = town::scheduler::convoy::stranded(&store)?;
            if ui.is_json() {
                ui.json(&stranded)?;
            } else if stranded.is_empty() {
                ui.status("No stranded convoys");
            } else {
                let rows: Vec<Vec<String>> = stranded
                    .iter()
                    .map(|c| {
                        vec![
                            c.convoy.clone(),
                            c.reason.replace('_', " "),
                            c.beads.join(","),
                            super::safe(&c.title),
                        ]
                    })
                    .collect();
                super::table(ui, &rows)?;
            }
        }
        ConvoyCommand::Stage(a) => {
            let waves = town::scheduler::convoy::stage(&store, &a.id)?;
            if ui.is_json() {
                ui.json(&waves)?;
            } else if waves.is_empty() {
                ui.status("Nothing left to stage: every bead is closed (or in a dependency cycle)");
            } else {
                for (i, wave) in waves.iter().enumerate() {
                    ui.line(format!("Wave {}: {}", i + 1, wave.join(" ")))?;
                }
            }
        }
        ConvoyCommand::Launch(a) => {
            let runtimes = super::runtimes(&town);
            let cx = super::sling::context(&town, &runtimes, std::time::Duration::from_secs(60))?;
            let opts = town::work::sling::SlingOptions {
                agent: a.agent.clone(),
                ..Default::default()
            };
            super::sling::launch(ui, &town, &mut store, &cx, &a.id, &a.rig, &opts)?;
        }
        ConvoyCommand::Watch(a) => {
            let convoy = store.convoy_id(&a.convoy)?;
            let who = match &a.address {
                Some(text) => town::address::Address::parse(text)?,
                None => town::address::Address::current()?,
            };
            if !who.is_mailbox() {
                return Err(ui::CliError::usage(format!(
                    "`{}` is not one mailbox",
                    who.canonical()
                ))
                .into());
            }
            let label = format!("{}{}", town::notices::WATCHER_LABEL, who.canonical());
            store.add_labels(&convoy, &[label])?;
            if ui.is_json() {
                ui.json(&serde_json::json!({"convoy": convoy, "watcher": who.canonical()}))?;
            } else {
                ui.status(format!(
                    "{} is told when convoy {convoy} lands",
                    who.canonical()
                ));
            }
        }
    }
    Ok(())
}
