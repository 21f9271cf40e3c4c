//! `bd label add/remove/list/list-all`.

use clap::{Args, Subcommand};

use crate::cli::Global;
use crate::render;

#[derive(Debug, Subcommand)]
pub enum LabelCommand {
    /// Add labels to an issue.
    Add(EditArgs),
    /// Remove labels from an issue.
    #[command(visible_alias = "rm")]
    Remove(EditArgs),
    /// An issue's labels.
    List(OneArgs),
    /// Every label in use, with counts.
    ListAll,
}

#[derive(Debug, Args)]
pub struct EditArgs {
    pub issue: String,
    #[arg(required = true)]
    pub labels: Vec<String>,
}

#[derive(Debug, Args)]
pub struct OneArgs {
    pub issue: String,
}

pub fn run(g: &Global, cmd: LabelCommand, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let mut store = super::open(g)?;
    match cmd {
        LabelCommand::Add(a) => {
            let labels = super::split_list(&a.labels);
            let issue = store.resolve(&a.issue)?;
            let added = store.add_labels(&issue, &labels)?;
            report(ui, "added", &issue, &added)?;
        }
        LabelCommand::Remove(a) => {
            let labels = super::split_list(&a.labels);
            let issue = store.resolve(&a.issue)?;
            let removed = store.remove_labels(&issue, &labels)?;
            report(ui, "removed", &issue, &removed)?;
        }
        LabelCommand::List(a) => {
            let labels = store.labels(&a.issue)?;
            if ui.is_json() {
                ui.json(&labels)?;
            } else {
                for l in &labels {
                    ui.line(render::safe(l))?;
                }
            }
        }
        LabelCommand::ListAll => {
            let all = store.all_labels()?;
            if ui.is_json() {
                let rows: Vec<_> = all
                    .iter()
                    .map(|(l, n)| serde_json::json!({"label": l, "count": n}))
                    .collect();
                ui.json(&rows)?;
            } else {
                let rows: Vec<Vec<String>> = all
                    .iter()
                    .map(|(l, n)| vec![render::safe(l), n.to_string()])
                    .collect();
                render::table(ui, &rows)?;
            }
        }
    }
    Ok(())
}

fn report(ui: &mut ui::Ui, what: &str, issue: &str, labels: &[String]) -> anyhow::Result<()> {
    if ui.is_json() {
        ui.json(&serde_json::json!({"status": what, "issue_id": issue, "labels": labels}))?;
    } else if labels.is_empty() {
        ui.status(format!("No labels {what} on {issue}"));
    } else {
        ui.status(format!(
            "Labels {what} on {issue}: {}",
            render::safe(&labels.join(", "))
        ));
    }
    Ok(())
}
