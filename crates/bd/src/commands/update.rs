//! `bd update`.

use clap::Args;
use serde_json::Value;

use beads::Changes;

use super::split_list;
use crate::cli::Global;

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Issue ids [default: the last issue you created, showed or changed].
    pub ids: Vec<String>,
    /// New status.
    #[arg(short, long)]
    pub status: Option<String>,
    /// New title.
    #[arg(long)]
    pub title: Option<String>,
    /// New type.
    #[arg(short = 't', long = "type")]
    pub issue_type: Option<String>,
    /// New priority (0-4).
    #[arg(short, long, value_parser = super::priority_arg)]
    pub priority: Option<i64>,
    /// New assignee (empty to clear).
    #[arg(short, long)]
    pub assignee: Option<String>,
    /// New owner.
    #[arg(long)]
    pub owner: Option<String>,
    /// New description; `-` reads standard input.
    #[arg(short, long)]
    pub description: Option<String>,
    /// Read the new description from a file (`-` for standard input).
    #[arg(long, value_name = "PATH")]
    pub body_file: Option<String>,
    /// New design notes.
    #[arg(long)]
    pub design: Option<String>,
    /// New notes.
    #[arg(long)]
    pub notes: Option<String>,
    /// Append a line to the notes.
    #[arg(long)]
    pub append_notes: Option<String>,
    /// New acceptance criteria.
    #[arg(long, visible_alias = "acceptance")]
    pub acceptance_criteria: Option<String>,
    /// Add labels.
    #[arg(long, value_name = "LABEL")]
    pub add_label: Vec<String>,
    /// Remove labels.
    #[arg(long, value_name = "LABEL")]
    pub remove_label: Vec<String>,
    /// Replace all labels.
    #[arg(long, value_name = "LABEL")]
    pub set_labels: Option<Vec<String>>,
    /// Move under this parent (empty to detach).
    #[arg(long)]
    pub parent: Option<String>,
    /// Claim atomically: open and unassigned (or yours) becomes in_progress and yours.
    #[arg(long)]
    pub claim: bool,
    /// Due date (empty to clear).
    #[arg(long)]
    pub due: Option<String>,
    /// Hide from `ready` until this date (empty to clear).
    #[arg(long)]
    pub defer: Option<String>,
    /// Make ephemeral.
    #[arg(long, conflicts_with = "persistent")]
    pub ephemeral: bool,
    /// Make persistent (not ephemeral).
    #[arg(long)]
    pub persistent: bool,
    /// Keep out of history.
    #[arg(long, conflicts_with = "history")]
    pub no_history: bool,
    /// Keep in history.
    #[arg(long)]
    pub history: bool,
    /// Replace the metadata with this JSON object.
    #[arg(long)]
    pub metadata: Option<String>,
    /// Set one metadata key (`key=value`; the value is JSON if it parses, else a string).
    #[arg(long, value_name = "KEY=VALUE")]
    pub set_metadata: Vec<String>,
    /// Remove one metadata key.
    #[arg(long, value_name = "KEY")]
    pub unset_metadata: Vec<String>,
    /// Estimated minutes.
    #[arg(short, long)]
    pub estimate: Option<i64>,
    /// External reference.
    #[arg(long)]
    pub external_ref: Option<String>,
    /// Gate await id.
    #[arg(long)]
    pub await_id: Option<String>,
    /// The session closing the issue (recorded when status becomes closed).
    #[arg(long)]
    pub session: Option<String>,
}

fn optional_date(
    value: Option<&String>,
    now: jiff::Timestamp,
) -> anyhow::Result<Option<Option<String>>> {
    Ok(match value {
        None => None,
        Some(v) if v.is_empty() => Some(None),
        Some(v) => Some(Some(beads::store::parse_when(v, now)?)),
    })
}

impl UpdateArgs {
    fn changes(&self) -> anyhow::Result<Changes> {
        let now = host::clock::from_env().now();
        let description = match (&self.description, &self.body_file) {
            (Some(_), Some(_)) => {
                return Err(
                    ui::CliError::usage("give `--description` or `--body-file`, not both").into(),
                );
            }
            (Some(d), None) if d == "-" => Some(super::read_text_source("-")?),
            (Some(d), None) => Some(d.clone()),
            (None, Some(f)) => Some(super::read_text_source(f)?),
            (None, None) => None,
        };
        let set_metadata = self
            .set_metadata
            .iter()
            .map(|kv| {
                let (k, v) = kv.split_once('=').ok_or_else(|| {
                    ui::CliError::usage(format!("`--set-metadata {kv}` must be KEY=VALUE"))
                })?;
                let value = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_owned()));
                Ok((k.to_owned(), value))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Changes {
            title: self.title.clone(),
            description,
            design: self.design.clone(),
            notes: self.notes.clone(),
            append_notes: self.append_notes.clone(),
            acceptance_criteria: self.acceptance_criteria.clone(),
            status: self.status.clone(),
            priority: self.priority,
            issue_type: self.issue_type.clone(),
            assignee: self.assignee.clone(),
            owner: self.owner.clone(),
            add_labels: split_list(&self.add_label),
            remove_labels: split_list(&self.remove_label),
            set_labels: self.set_labels.as_ref().map(|l| split_list(l)),
            parent: self
                .parent
                .as_ref()
                .map(|p| (!p.is_empty()).then(|| p.clone())),
            due_at: optional_date(self.due.as_ref(), now)?,
            defer_until: optional_date(self.defer.as_ref(), now)?,
            ephemeral: (self.ephemeral || self.persistent).then_some(self.ephemeral),
            no_history: (self.no_history || self.history).then_some(self.no_history),
            pinned: None,
            metadata: self
                .metadata
                .as_deref()
                .map(beads::model::parse_metadata)
                .transpose()?,
            set_metadata,
            unset_metadata: self.unset_metadata.clone(),
            estimated_minutes: self.estimate,
            external_ref: self.external_ref.clone(),
            await_id: self.await_id.clone(),
            session: self.session.clone(),
        })
    }
}

pub fn run(g: &Global, args: UpdateArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let changes = args.changes()?;
    let mut store = super::open(g)?;
    let ids = super::touched::ids_or_last(&store, &args.ids)?;
    let updated = store.update_all(&ids, &changes, args.claim)?;
    if let Some(first) = updated.first() {
        super::touched::remember(&store, &first.id);
    }
    crate::render::changed(ui, &store, "Updated", &updated)?;
    Ok(())
}
