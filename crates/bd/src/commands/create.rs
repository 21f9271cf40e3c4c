//! `bd create` and `bd q`.

use clap::Args;

use beads::NewIssue;

use super::{read_text_source, split_list};
use crate::cli::Global;

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The title.
    #[arg(value_name = "TITLE")]
    pub title_pos: Option<String>,
    /// The title (instead of the positional argument).
    #[arg(long, conflicts_with = "title_pos")]
    pub title: Option<String>,
    /// Issue type: bug, feature, task, epic, chore, … or a custom type.
    #[arg(short = 't', long = "type", default_value = "task")]
    pub issue_type: String,
    /// Priority 0 (critical) to 4 (backlog).
    #[arg(short, long, default_value = "2", value_parser = super::priority_arg)]
    pub priority: i64,
    /// Description; `-` reads standard input.
    #[arg(short, long)]
    pub description: Option<String>,
    /// Read the description from a file (`-` for standard input).
    #[arg(long, visible_alias = "description-file", value_name = "PATH")]
    pub body_file: Option<String>,
    /// Design notes.
    #[arg(long)]
    pub design: Option<String>,
    /// Acceptance criteria.
    #[arg(long, visible_alias = "acceptance-criteria")]
    pub acceptance: Option<String>,
    /// Notes.
    #[arg(long)]
    pub notes: Option<String>,
    /// Assignee.
    #[arg(short, long)]
    pub assignee: Option<String>,
    /// Owner (a person).
    #[arg(long)]
    pub owner: Option<String>,
    /// Labels (comma-separated or repeated).
    #[arg(short, long = "labels", visible_alias = "label", value_name = "LABEL")]
    pub labels: Vec<String>,
    /// Make this a child of PARENT (id `PARENT.N`).
    #[arg(long)]
    pub parent: Option<String>,
    /// Dependencies as `type:id` or `id` (blocks), comma-separated or repeated.
    #[arg(long, value_name = "TYPE:ID")]
    pub deps: Vec<String>,
    /// Use this id instead of a generated one.
    #[arg(long)]
    pub id: Option<String>,
    /// Use this id prefix instead of the store's.
    #[arg(long)]
    pub prefix: Option<String>,
    /// Create an ephemeral issue (a wisp): not exported, garbage-collected by TTL.
    #[arg(long)]
    pub ephemeral: bool,
    /// Keep out of history (not exported).
    #[arg(long)]
    pub no_history: bool,
    /// Wisp type (heartbeat, ping, patrol, gc_report, recovery, error, escalation).
    #[arg(long)]
    pub wisp_type: Option<String>,
    /// Molecule type (swarm, patrol, work).
    #[arg(long)]
    pub mol_type: Option<String>,
    /// Metadata as a JSON object.
    #[arg(long)]
    pub metadata: Option<String>,
    /// Due date (2026-01-31, RFC 3339, or +2d).
    #[arg(long)]
    pub due: Option<String>,
    /// Hide from `ready` until this date.
    #[arg(long)]
    pub defer: Option<String>,
    /// A reference in another tracker (gh-9, jira-ABC).
    #[arg(long)]
    pub external_ref: Option<String>,
    /// Estimated minutes.
    #[arg(short, long)]
    pub estimate: Option<i64>,
    /// Print only the new id.
    #[arg(long)]
    pub silent: bool,
    /// Create every issue in a markdown plan (`## Title` per issue, `### Priority`, `### Type`,
    /// `### Labels`, `### Dependencies`, … sections), in one transaction.
    #[arg(short = 'f', long = "file", value_name = "PLAN.md", conflicts_with_all = ["title_pos", "title"])]
    pub plan: Option<String>,
}

/// Parses `type:id` (or a bare id, meaning `blocks`). Ids contain `-` but never `:`, except
/// `external:project:capability` targets.
pub fn parse_dep(spec: &str) -> (String, String) {
    if spec.starts_with("external:") {
        return ("blocks".into(), spec.to_owned());
    }
    match spec.split_once(':') {
        Some((kind, target)) => (kind.to_owned(), target.to_owned()),
        None => ("blocks".into(), spec.to_owned()),
    }
}

impl CreateArgs {
    fn into_new(self) -> anyhow::Result<NewIssue> {
        let title = self.title.or(self.title_pos).ok_or_else(|| {
            ui::CliError::usage("a title is required").hint("`bd create \"Fix the login bug\"`")
        })?;
        let description = match (self.description, self.body_file) {
            (Some(_), Some(_)) => {
                return Err(
                    ui::CliError::usage("give `--description` or `--body-file`, not both").into(),
                );
            }
            (Some(d), None) if d == "-" => read_text_source("-")?,
            (Some(d), None) => d,
            (None, Some(f)) => read_text_source(&f)?,
            (None, None) => String::new(),
        };
        let now = host::clock::from_env().now();
        let when = |d: Option<String>| d.map(|s| beads::store::parse_when(&s, now)).transpose();
        Ok(NewIssue {
            title,
            description,
            design: self.design.unwrap_or_default(),
            acceptance_criteria: self.acceptance.unwrap_or_default(),
            notes: self.notes.unwrap_or_default(),
            issue_type: Some(self.issue_type),
            priority: Some(self.priority),
            assignee: self.assignee.unwrap_or_default(),
            owner: self.owner.unwrap_or_default(),
            labels: split_list(&self.labels),
            parent: self.parent,
            deps: split_list(&self.deps)
                .iter()
                .map(|d| parse_dep(d))
                .collect(),
            id: self.id,
            prefix: self.prefix,
            ephemeral: self.ephemeral,
            no_history: self.no_history,
            wisp_type: self.wisp_type.unwrap_or_default(),
            mol_type: self.mol_type.unwrap_or_default(),
            metadata: self
                .metadata
                .as_deref()
                .map(beads::model::parse_metadata)
                .transpose()?,
            due_at: when(self.due)?,
            defer_until: when(self.defer)?,
            external_ref: self.external_ref.unwrap_or_default(),
            estimated_minutes: self.estimate,
            ..NewIssue::default()
        })
    }
}

pub fn run(g: &Global, args: CreateArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    if let Some(path) = &args.plan {
        return from_plan(g, path, ui);
    }
    let silent = args.silent;
    let new = args.into_new()?;
    let mut store = super::open(g)?;
    let issue = store.create(new)?;
    super::touched::remember(&store, &issue.id);
    if ui.is_json() {
        // As it now is, with its labels, parent and counts.
        let view = store.views_of(std::slice::from_ref(&issue.id))?;
        ui.json(&view.first())?;
    } else if silent {
        ui.line(&issue.id)?;
    } else {
        ui.line(&issue.id)?;
        ui.status(format!(
            "Created {}: {}",
            issue.id,
            crate::render::safe(&issue.title)
        ));
    }
    Ok(())
}

/// `create -f PLAN.md`: every issue of the plan, all or none.
fn from_plan(g: &Global, path: &str, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let news = super::plan::parse(&read_text_source(path)?)?;
    let mut store = super::open(g)?;
    let created = store.create_all(news)?;
    if ui.is_json() {
        let ids: Vec<String> = created.iter().map(|i| i.id.clone()).collect();
        ui.json(&store.views_of(&ids)?)?;
        return Ok(());
    }
    for issue in &created {
        ui.line(&issue.id)?;
    }
    ui.status(format!("Created {} issue(s) from {path}", created.len()));
    Ok(())
}

pub fn quick(g: &Global, mut args: CreateArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    args.silent = true;
    run(g, args, ui)
}

#[cfg(test)]
mod tests {
    use super::parse_dep;

    #[test]
    fn dependency_specs_parse() {
        assert_eq!(parse_dep("bd-1"), ("blocks".into(), "bd-1".into()));
        assert_eq!(
            parse_dep("discovered-from:bd-1"),
            ("discovered-from".into(), "bd-1".into())
        );
        assert_eq!(
            parse_dep("external:web:login"),
            ("blocks".into(), "external:web:login".into())
        );
    }
}
