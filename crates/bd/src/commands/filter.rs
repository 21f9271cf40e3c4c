//! Filter options shared by `list`, `ready`, `search` and `count`.

use beads::{Filter, Sort};
use clap::Args;

use super::split_list;

#[derive(Debug, Args, Default)]
pub struct FilterArgs {
    /// Only these statuses (comma-separated or repeated).
    #[arg(short, long, value_name = "STATUS")]
    pub status: Vec<String>,
    /// Only these types (comma-separated or repeated).
    #[arg(short = 't', long = "type", value_name = "TYPE")]
    pub issue_type: Vec<String>,
    /// Leave out these types.
    #[arg(long, value_name = "TYPE")]
    pub exclude_type: Vec<String>,
    /// Only issues assigned to this name.
    #[arg(short, long)]
    pub assignee: Option<String>,
    /// Only unassigned issues.
    #[arg(long, visible_alias = "no-assignee")]
    pub unassigned: bool,
    /// Only issues with all of these labels.
    #[arg(short, long, value_name = "LABEL")]
    pub label: Vec<String>,
    /// Only issues with at least one of these labels.
    #[arg(long, value_name = "LABEL")]
    pub label_any: Vec<String>,
    /// Leave out issues with any of these labels.
    #[arg(long, value_name = "LABEL")]
    pub exclude_label: Vec<String>,
    /// Only issues with a label matching this glob.
    #[arg(long, value_name = "GLOB")]
    pub label_pattern: Option<String>,
    /// Only issues without labels.
    #[arg(long)]
    pub no_labels: bool,
    /// Only issues whose title contains this text.
    #[arg(long, visible_alias = "title")]
    pub title_contains: Option<String>,
    /// Only issues whose description contains this text.
    #[arg(long)]
    pub desc_contains: Option<String>,
    /// Only issues whose notes contain this text.
    #[arg(long)]
    pub notes_contains: Option<String>,
    /// Only these ids.
    #[arg(long, value_name = "ID")]
    pub id: Vec<String>,
    /// Only descendants of this issue.
    #[arg(long)]
    pub parent: Option<String>,
    /// Only issues without a parent.
    #[arg(long)]
    pub no_parent: bool,
    /// Only this priority (0-4).
    #[arg(short, long, value_parser = super::priority_arg)]
    pub priority: Option<i64>,
    /// Only priorities at least this number (0-4).
    #[arg(long, value_parser = super::priority_arg)]
    pub priority_min: Option<i64>,
    /// Only priorities at most this number (0-4).
    #[arg(long, value_parser = super::priority_arg)]
    pub priority_max: Option<i64>,
    /// Only issues created at or after this date.
    #[arg(long)]
    pub created_after: Option<String>,
    /// Only issues created before this date.
    #[arg(long)]
    pub created_before: Option<String>,
    /// Only issues updated at or after this date.
    #[arg(long)]
    pub updated_after: Option<String>,
    /// Only issues updated before this date.
    #[arg(long)]
    pub updated_before: Option<String>,
    /// Only issues closed at or after this date.
    #[arg(long)]
    pub closed_after: Option<String>,
    /// Only issues closed before this date.
    #[arg(long)]
    pub closed_before: Option<String>,
    /// Only pinned issues (whatever their status).
    #[arg(long, conflicts_with = "no_pinned")]
    pub pinned: bool,
    /// No pinned issues (`list` leaves them out unless `--all` or a pinned/hooked status).
    #[arg(long)]
    pub no_pinned: bool,
    /// Include templates.
    #[arg(long)]
    pub include_templates: bool,
    /// Include ephemeral issues (wisps).
    #[arg(long)]
    pub include_ephemeral: bool,
    /// Only issues whose metadata has this `key=value`.
    #[arg(long, value_name = "KEY=VALUE")]
    pub metadata_field: Vec<String>,
    /// Only issues whose metadata has this key.
    #[arg(long, value_name = "KEY")]
    pub has_metadata_key: Option<String>,
    /// Only molecules of this type.
    #[arg(long)]
    pub mol_type: Option<String>,
    /// Only wisps of this type.
    #[arg(long)]
    pub wisp_type: Option<String>,
    /// Only issues past their due date.
    #[arg(long)]
    pub overdue: bool,
    /// Only issues due after this date.
    #[arg(long, value_name = "WHEN")]
    pub due_after: Option<String>,
    /// Only issues due before this date.
    #[arg(long, value_name = "WHEN")]
    pub due_before: Option<String>,
    /// Only issues deferred until a date.
    #[arg(long)]
    pub deferred: bool,
    /// Sort order: priority, hybrid, oldest, newest, updated, id, title.
    #[arg(long)]
    pub sort: Option<String>,
    /// Reverse the order.
    #[arg(short, long)]
    pub reverse: bool,
}

impl FilterArgs {
    /// The library filter; dates accept what `--due` accepts.
    pub fn to_filter(&self, default_sort: Sort, limit: usize) -> anyhow::Result<Filter> {
        let now = host::clock::from_env().now();
        let date = |d: &Option<String>| {
            d.as_deref()
                .map(|s| beads::store::parse_when(s, now))
                .transpose()
        };
        let metadata_fields = self
            .metadata_field
            .iter()
            .map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .ok_or_else(|| {
                        ui::CliError::usage(format!("`--metadata-field {kv}` must be KEY=VALUE"))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Filter {
            statuses: split_list(&self.status),
            types: split_list(&self.issue_type),
            exclude_types: split_list(&self.exclude_type),
            assignee: self.assignee.clone(),
            unassigned: self.unassigned,
            labels: split_list(&self.label),
            labels_any: split_list(&self.label_any),
            exclude_labels: split_list(&self.exclude_label),
            label_pattern: self.label_pattern.clone(),
            no_labels: self.no_labels,
            title_contains: self.title_contains.clone(),
            desc_contains: self.desc_contains.clone(),
            notes_contains: self.notes_contains.clone(),
            ids: split_list(&self.id),
            parent: self.parent.clone(),
            no_parent: self.no_parent,
            priority: self.priority,
            priority_min: self.priority_min,
            priority_max: self.priority_max,
            created_after: date(&self.created_after)?,
            created_before: date(&self.created_before)?,
            updated_after: date(&self.updated_after)?,
            updated_before: date(&self.updated_before)?,
            closed_after: date(&self.closed_after)?,
            closed_before: date(&self.closed_before)?,
            due_after: date(&self.due_after)?,
            due_before: date(&self.due_before)?,
            deferred_only: self.deferred,
            pinned: if self.pinned {
                Some(true)
            } else {
                self.no_pinned.then_some(false)
            },
            include_templates: self.include_templates,
            include_ephemeral: self.include_ephemeral,
            metadata_fields,
            has_metadata_key: self.has_metadata_key.clone(),
            mol_type: self.mol_type.clone(),
            wisp_type: self.wisp_type.clone(),
            overdue: self.overdue,
            sort: self
                .sort
                .as_deref()
                .map(Sort::parse)
                .transpose()?
                .unwrap_or(default_sort),
            reverse: self.reverse,
            limit,
            ..Filter::default()
        })
    }
}
