//! `bd label add/remove/list/list-all`.

use clap::{Args, Subcommand};

use crate::cli::Global;
use crate::render;

#[derive(Debug, Subcommand)]
pub enum LabelCommand {
    /// Add a label to issues: `label add ID… LABEL` (LABEL may be a comma list).
    Add(EditArgs),
    /// Remove a label from issues: `label remove ID… LABEL`.
    #[command(visible_alias = "rm")]
    Remove(EditArgs),
    /// An issue's labels.
    List(OneArgs),
    /// Every label in use, with counts.
    ListAll,
}

/// Upstream's order: one or more issue ids, then the label.
#[derive(Debug, Args)]
pub struct EditArgs {
    #[arg(required = true, num_args = 2.., value_name = "ID… LABEL")]
    pub args: Vec<String>,
}

impl EditArgs {
    /// The issue ids and the labels (the last argument, split at commas).
    fn split(&self) -> (&[String], Vec<String>) {
        let (label, ids) = self
            .args
            .split_last()
            .map_or((&[][..], &self.args[..]), |(l, ids)| {
                (std::slice::from_ref(l), ids)
            });
        (ids, super::split_list(label))
    }
}

#[derive(Debug, Args)]
pub struct OneArgs {
    pub issue: String,
}

pub fn run(g: &Global, cmd: LabelCommand, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let mut store = super::open(g)?;
    match cmd {
        LabelCommand::Add(a) => edit(&mut store, &a, true, ui)?,
        LabelCommand::Remove(a) => edit(&mut store, &a, false, ui)?,
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

/// Adds (or removes) the label(s) on every issue given, in one transaction.
fn edit(store: &mut beads::Store, a: &EditArgs, add: bool, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let (ids, labels) = a.split();
    let changes = if add {
        beads::Changes {
            add_labels: labels.clone(),
            ..beads::Changes::default()
        }
    } else {
        beads::Changes {
            remove_labels: labels.clone(),
            ..beads::Changes::default()
        }
    };
    let issues = store.update_all(ids, &changes, false)?;
    report(ui, if add { "added" } else { "removed" }, &issues, &labels)
}

/// Upstream's report: one `{status, issue_id, label}` per issue and label.
fn report(
    ui: &mut ui::Ui,
    what: &str,
    issues: &[beads::Issue],
    labels: &[String],
) -> anyhow::Result<()> {
    if ui.is_json() {
        let rows: Vec<_> = issues
            .iter()
            .flat_map(|i| {
                labels
                    .iter()
                    .map(move |l| serde_json::json!({"status": what, "issue_id": i.id, "label": l}))
            })
            .collect();
        ui.json(&rows)?;
    } else {
        for i in issues {
            ui.status(format!(
                "Label(s) {what} on {}: {}",
                i.id,
                render::safe(&labels.join(", "))
            ));
        }
    }
    Ok(())
}
