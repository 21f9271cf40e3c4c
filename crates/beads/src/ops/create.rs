//! Creating issues.

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::ids;
use crate::model::{self, Issue};
use crate::ops::{deps, event, rehash};
use crate::readiness;
use crate::store::Store;

/// What `create` needs. Everything but the title has a default.
#[derive(Debug, Clone, Default)]
pub struct NewIssue {
    pub title: String,
    pub description: String,
    pub design: String,
    pub acceptance_criteria: String,
    pub notes: String,
    /// Defaults to `task`.
    pub issue_type: Option<String>,
    /// Defaults to 2.
    pub priority: Option<i64>,
    pub assignee: String,
    pub owner: String,
    pub labels: Vec<String>,
    /// Makes the new issue `parent.N` with a `parent-child` edge.
    pub parent: Option<String>,
    /// `(kind, target)` edges from the new issue.
    pub deps: Vec<(String, String)>,
    /// An explicit id instead of a minted one.
    pub id: Option<String>,
    /// A prefix other than the store's default.
    pub prefix: Option<String>,
    pub ephemeral: bool,
    pub no_history: bool,
    pub wisp_type: String,
    pub mol_type: String,
    pub metadata: Option<Map<String, Value>>,
    pub due_at: Option<String>,
    pub defer_until: Option<String>,
    pub external_ref: String,
    pub estimated_minutes: Option<i64>,
    /// Defaults to `open`.
    pub status: Option<String>,
    pub is_template: bool,
    pub sender: String,
    /// What a gate waits for (`human`, `timer`, `bead`, `gh:run`, `gh:pr`, …) and on what.
    pub await_type: String,
    pub await_id: String,
    /// A gate's timeout in nanoseconds (0: none).
    pub timeout: i64,
}

impl crate::store::Settings {
    /// Checks that a status is built in or configured.
    pub(crate) fn check_status(&self, status: &str) -> Result<()> {
        if model::BUILTIN_STATUSES.contains(&status)
            || self.custom_statuses.iter().any(|c| c.name == status)
        {
            Ok(())
        } else {
            Err(Error::invalid(
                "status",
                format!("unknown status `{status}` (custom statuses go in `status.custom`)"),
            ))
        }
    }

    /// Normalizes and checks an issue type: built in, infrastructure, or configured.
    pub(crate) fn check_type(&self, issue_type: &str) -> Result<String> {
        let t = model::normalize_type(issue_type);
        if model::BUILTIN_TYPES.contains(&t.as_str())
            || model::INFRA_TYPES.contains(&t.as_str())
            || self.custom_types.iter().any(|c| c == &t)
        {
            Ok(t)
        } else {
            Err(Error::invalid(
                "type",
                format!("unknown issue type `{issue_type}` (custom types go in `types.custom`)"),
            ))
        }
    }
}

impl Store {
    /// Checks that a status is built in or configured.
    pub fn check_status(&self, status: &str) -> Result<()> {
        self.settings.check_status(status)
    }

    /// Normalizes and checks an issue type: built in, infrastructure, or configured.
    pub fn check_type(&self, issue_type: &str) -> Result<String> {
        self.settings.check_type(issue_type)
    }

    /// Creates an issue with its labels and edges in one transaction.
    pub fn create(&mut self, new: NewIssue) -> Result<Issue> {
        let checked = self.check_new(new)?;
        let nanos = self.ctx.clock.now().as_nanosecond();
        self.write(|tx, w| insert_new(tx, w, &checked, nanos))
    }

    /// Creates an issue and records `kind` about it, with `detail` (a JSON object), in the
    /// same transaction: the town's event stream never holds one without the other (an
    /// escalation raised).
    pub fn create_with_happening(
        &mut self,
        new: NewIssue,
        kind: crate::Happening,
        detail: &serde_json::Value,
    ) -> Result<Issue> {
        crate::ops::happenings::check_detail(kind, detail)?;
        let checked = self.check_new(new)?;
        let nanos = self.ctx.clock.now().as_nanosecond();
        let text = detail.to_string();
        self.write(|tx, w| {
            let issue = insert_new(tx, w, &checked, nanos)?;
            crate::ops::event(tx, w, &issue.id, kind.as_str(), None, Some(&text), None)?;
            Ok(issue)
        })
    }

    /// Creates several issues in one transaction: all of them or, if any is refused, none.
    pub fn create_all(&mut self, news: Vec<NewIssue>) -> Result<Vec<Issue>> {
        let checked = news
            .into_iter()
            .map(|n| self.check_new(n))
            .collect::<Result<Vec<_>>>()?;
        let nanos = self.ctx.clock.now().as_nanosecond();
        self.write(|tx, w| {
            checked
                .iter()
                .zip(0..)
                // A different instant for each keeps minted ids of same-titled issues apart.
                .map(|(c, n)| insert_new(tx, w, c, nanos + n))
                .collect()
        })
    }

    /// Validates a [`NewIssue`] and resolves what it refers to, before any write.
    fn check_new(&self, new: NewIssue) -> Result<CheckedNew> {
        model::validate_title(&new.title)?;
        let priority = new.priority.unwrap_or(2);
        model::validate_priority(priority)?;
        let issue_type = self.check_type(new.issue_type.as_deref().unwrap_or("task"))?;
        let status = new.status.clone().unwrap_or_else(|| "open".into());
        self.check_status(&status)?;
        if new.ephemeral && new.no_history {
            return Err(Error::invalid(
                "flags",
                "`ephemeral` and `no_history` cannot both be set",
            ));
        }
        for label in &new.labels {
            deps::validate_label(label)?;
        }
        let parent = new.parent.as_deref().map(|p| self.resolve(p)).transpose()?;
        let targets: Vec<(String, String)> = new
            .deps
            .iter()
            .map(|(kind, target)| Ok((deps::validate_kind(kind)?, self.resolve_target(target)?)))
            .collect::<Result<_>>()?;
        if let Some(id) = &new.id {
            ids::validate_explicit(id)?;
            if self.exists(id)? {
                return Err(Error::Conflict(format!(
                    "an issue with id `{id}` already exists"
                )));
            }
        }
        let prefix = match &new.prefix {
            Some(p) => {
                crate::store::validate_prefix(p)?;
                p.clone()
            }
            None => self.prefix().to_owned(),
        };
        Ok(CheckedNew {
            new,
            priority,
            issue_type,
            status,
            parent,
            targets,
            prefix,
        })
    }
}

/// A [`NewIssue`] checked against the store, with its references resolved.
struct CheckedNew {
    new: NewIssue,
    priority: i64,
    issue_type: String,
    status: String,
    parent: Option<String>,
    targets: Vec<(String, String)>,
    prefix: String,
}

/// Writes a checked new issue with its labels and edges, inside the caller's transaction.
fn insert_new(
    tx: &rusqlite::Connection,
    w: &crate::store::WriteCtx<'_>,
    c: &CheckedNew,
    nanos: i128,
) -> Result<Issue> {
    let new = &c.new;
    let id = match (&new.id, &c.parent) {
        (Some(id), _) => id.clone(),
        (None, Some(parent)) => ids::next_child(tx, parent)?,
        (None, None) => ids::mint(tx, &c.prefix, &new.title, &new.description, w.actor, nanos)?,
    };
    let status = &c.status;
    let issue = Issue {
        id: id.clone(),
        title: new.title.clone(),
        description: new.description.clone(),
        design: new.design.clone(),
        acceptance_criteria: new.acceptance_criteria.clone(),
        notes: new.notes.clone(),
        status: status.clone(),
        priority: c.priority,
        issue_type: c.issue_type.clone(),
        assignee: new.assignee.clone(),
        owner: new.owner.clone(),
        estimated_minutes: new.estimated_minutes,
        created_at: w.now.to_owned(),
        created_by: w.actor.to_owned(),
        updated_at: w.now.to_owned(),
        started_at: (status == "in_progress").then(|| w.now.to_owned()),
        closed_at: (status == "closed").then(|| w.now.to_owned()),
        due_at: new.due_at.clone(),
        defer_until: new.defer_until.clone(),
        external_ref: new.external_ref.clone(),
        metadata: new.metadata.clone().map(Value::Object),
        sender: new.sender.clone(),
        ephemeral: new.ephemeral,
        no_history: new.no_history,
        wisp_type: new.wisp_type.clone(),
        mol_type: new.mol_type.clone(),
        is_template: new.is_template,
        await_type: new.await_type.clone(),
        await_id: new.await_id.clone(),
        timeout: new.timeout,
        ..Issue::default()
    };
    crate::row::upsert_issue(tx, &issue, &crate::row::content_hash(&issue))?;
    event(tx, w, &id, "created", None, Some(&issue.title), None)?;
    for label in &new.labels {
        deps::insert_label(tx, &id, label, w)?;
    }
    if let Some(parent) = &c.parent {
        deps::insert_edge(tx, w, &id, parent, "parent-child", None)?;
    }
    for (kind, target) in &c.targets {
        deps::insert_edge(tx, w, &id, target, kind, None)?;
    }
    // Not just the new issue: an explicit id may be the target of existing edges, and a
    // closed issue labelled `provides:` satisfies external dependencies.
    readiness::refresh(tx, w.settings, readiness::seeds_for_status_change(tx, &id)?)?;
    rehash(tx, &id)
}
