//! `gt status`: the town at a glance.

use clap::Args;
use serde::Serialize;

#[derive(Debug, Args)]
pub struct StatusArgs {}

#[derive(Serialize)]
struct Status {
    name: String,
    root: std::path::PathBuf,
    rigs: Vec<town::rig::RigSummary>,
    in_flight: Vec<Work>,
}

#[derive(Serialize)]
struct Work {
    id: String,
    title: String,
    status: String,
    assignee: String,
}

pub fn run(_args: &StatusArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    let config = town.config()?;
    let store = super::store(&town)?;
    let rigs = town::rig::summaries(&town, &store)?;
    let in_flight = store
        .issues(&beads::Filter {
            statuses: vec!["hooked".into(), "in_progress".into()],
            limit: 0,
            ..beads::Filter::default()
        })?
        .into_iter()
        .map(|i| Work {
            id: i.id,
            title: i.title,
            status: i.status,
            assignee: i.assignee,
        })
        .collect();
    let status = Status {
        name: config.name,
        root: town.root().to_owned(),
        rigs,
        in_flight,
    };
    if ui.is_json() {
        ui.json(&status)?;
        return Ok(());
    }
    ui.line(format!("Town {}  ({})", status.name, status.root.display()))?;
    ui.line("")?;
    if status.rigs.is_empty() {
        ui.line("No rigs yet: `gt rig add <name> <git-url>`")?;
    } else {
        super::rig::table(ui, &status.rigs)?;
    }
    ui.line("")?;
    if status.in_flight.is_empty() {
        ui.line("No work in flight")?;
    } else {
        ui.line("Work in flight:")?;
        let rows: Vec<Vec<String>> = status
            .in_flight
            .iter()
            .map(|w| {
                vec![
                    format!("  {}", w.id),
                    w.status.clone(),
                    if w.assignee.is_empty() {
                        "-".into()
                    } else {
                        w.assignee.clone()
                    },
                    super::safe(&w.title),
                ]
            })
            .collect();
        super::table(ui, &rows)?;
    }
    Ok(())
}
