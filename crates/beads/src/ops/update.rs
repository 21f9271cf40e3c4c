//! Changing issues: update, claim, close, reopen, delete.

use rusqlite::Connection;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::model::{self, Issue};
use crate::ops::deps::{self, delete_label, insert_label};
use crate::ops::{event, fetch, rehash};
use crate::readiness;
use crate::store::{Store, WriteCtx};

/// The fields `update` may change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub title: Option<String>,
    pub description: Option<String>,
    pub design: Option<String>,
    pub notes: Option<String>,
    pub append_notes: Option<String>,
    pub acceptance_criteria: Option<String>,
    pub status: Option<String>,
    pub priority: Option<i64>,
    pub issue_type: Option<String>,
    pub assignee: Option<String>,
    pub owner: Option<String>,
    pub add_labels: Vec<String>,
    pub remove_labels: Vec<String>,
    pub set_labels: Option<Vec<String>>,
    /// `Some(None)` removes the parent.
    pub parent: Option<Option<String>>,
    /// `Some(None)` clears the date.
    pub due_at: Option<Option<String>>,
    pub defer_until: Option<Option<String>>,
    pub ephemeral: Option<bool>,
    pub no_history: Option<bool>,
    pub pinned: Option<bool>,
    pub metadata: Option<Map<String, Value>>,
    pub set_metadata: Vec<(String, Value)>,
    pub unset_metadata: Vec<String>,
    pub estimated_minutes: Option<i64>,
    pub external_ref: Option<String>,
    pub await_id: Option<String>,
    pub session: Option<String>,
}

/// How `close` behaves.
#[derive(Debug, Clone, Default)]
pub struct CloseOptions {
    pub reason: String,
    /// Close even when blocked, pinned, or an epic with open children.
    pub force: bool,
    pub session: String,
}

impl Store {
    /// Applies `changes` to one issue in one transaction.
    pub fn update(&mut self, input: &str, changes: &Changes) -> Result<Issue> {
        let mut updated = self.update_all(&[input.to_owned()], changes, false)?;
        Ok(updated.remove(0))
    }

    /// Applies `changes` to every issue in `inputs`, claiming each first when `claim` (as
    /// `bd update --claim` does), all in one transaction: if any issue refuses, none changes.
    pub fn update_all(
        &mut self,
        inputs: &[String],
        changes: &Changes,
        claim: bool,
    ) -> Result<Vec<Issue>> {
        let ids = self.resolve_all(inputs)?;
        if let Some(t) = &changes.title {
            model::validate_title(t)?;
        }
        if let Some(p) = changes.priority {
            model::validate_priority(p)?;
        }
        if let Some(s) = &changes.status {
            self.check_status(s)?;
        }
        let issue_type = changes
            .issue_type
            .as_deref()
            .map(|t| self.check_type(t))
            .transpose()?;
        for l in changes
            .add_labels
            .iter()
            .chain(changes.set_labels.iter().flatten())
        {
            deps::validate_label(l)?;
        }
        let parent = match &changes.parent {
            Some(Some(p)) => Some(Some(self.resolve(p)?)),
            Some(None) => Some(None),
            None => None,
        };
        let checked = CheckedChanges {
            changes,
            issue_type: issue_type.as_deref(),
            parent: parent.as_ref().map(Option::as_deref),
        };
        self.write(|tx, w| {
            ids.iter()
                .map(|id| {
                    if claim {
                        claim_in_tx(tx, id, w)?;
                    }
                    update_in_tx(tx, w, id, &checked)
                })
                .collect()
        })
    }

    /// Moves an issue to `to` only if its status is one of `from` (a compare-and-swap), with
    /// the usual event and readiness upkeep. Returns whether it moved.
    pub fn transition(&mut self, input: &str, from: &[&str], to: &str) -> Result<bool> {
        let id = self.resolve(input)?;
        self.check_status(to)?;
        let current = self.get(&id)?.status;
        if !from.contains(&current.as_str()) {
            return Ok(false);
        }
        let changes = Changes {
            status: Some(to.to_owned()),
            ..Changes::default()
        };
        self.write(|tx, w| {
            let old = fetch(tx, &id)?;
            if !from.contains(&old.status.as_str()) {
                return Ok(false);
            }
            let mut new = old.clone();
            apply(&mut new, &changes, None, w)?;
            store_fields(tx, &old, &new, w)?;
            readiness::refresh(tx, w.settings, readiness::seeds_for_status_change(tx, &id)?)?;
            rehash(tx, &id)?;
            Ok(true)
        })
    }

    /// Claims an issue for the actor: a compare-and-swap from `open` and unassigned (or
    /// assigned to the actor) to `in_progress`. Claiming again as the same actor is a no-op.
    pub fn claim(&mut self, input: &str) -> Result<Issue> {
        let id = self.resolve(input)?;
        self.write(|tx, w| claim_in_tx(tx, &id, w))
    }

    /// Closes an issue. Refuses a blocked issue, a pinned one, or an epic with open children,
    /// unless forced.
    pub fn close(&mut self, input: &str, opts: &CloseOptions) -> Result<Issue> {
        let mut closed = self.close_all(&[input.to_owned()], opts)?;
        Ok(closed.remove(0))
    }

    /// Closes every issue in `inputs` in one transaction: if any refuses, none closes. An
    /// issue that a later one in the list was waiting on counts as closed by then.
    pub fn close_all(&mut self, inputs: &[String], opts: &CloseOptions) -> Result<Vec<Issue>> {
        let ids = self.resolve_all(inputs)?;
        self.write(|tx, w| ids.iter().map(|id| close_in_tx(tx, w, id, opts)).collect())
    }

    /// Reopens a closed issue.
    pub fn reopen(&mut self, input: &str, reason: &str) -> Result<Issue> {
        let mut reopened = self.reopen_all(&[input.to_owned()], reason)?;
        Ok(reopened.remove(0))
    }

    /// Reopens every issue in `inputs` in one transaction: if any is not closed, none reopens.
    pub fn reopen_all(&mut self, inputs: &[String], reason: &str) -> Result<Vec<Issue>> {
        let ids = self.resolve_all(inputs)?;
        self.write(|tx, w| {
            ids.iter()
                .map(|id| reopen_in_tx(tx, w, id, reason))
                .collect()
        })
    }

    /// Issues that would be deleted with `cascade` (the issue and, transitively, its dependents
    /// via `blocks` and its children), or just the issue without it.
    pub fn delete_plan(&self, inputs: &[String], cascade: bool) -> Result<Vec<String>> {
        let mut ids = self.resolve_all(inputs)?;
        if cascade {
            let mut stmt = self.conn().prepare_cached(
                "SELECT issue_id FROM dependencies WHERE depends_on_id = ?1 AND type IN ('blocks', 'conditional-blocks', 'parent-child', 'waits-for')",
            )?;
            let mut i = 0;
            while i < ids.len() {
                let more = stmt
                    .query_map([&ids[i]], |r| r.get::<_, String>(0))?
                    .collect::<Result<Vec<_>, _>>()?;
                for m in more {
                    if !ids.contains(&m) {
                        ids.push(m);
                    }
                }
                i += 1;
            }
        }
        Ok(ids)
    }

    /// Deletes issues (and their labels, comments and edges both ways) for good.
    pub fn delete(&mut self, ids: &[String]) -> Result<usize> {
        self.write(|tx, w| {
            let mut seeds = Vec::new();
            for id in ids {
                let issue = fetch(tx, id)?;
                seeds.extend(
                    readiness::seeds_for_status_change(tx, id)?
                        .into_iter()
                        .filter(|s| !ids.contains(s)),
                );
                // Children, waits-for waiters and every other direct dependent lose an edge.
                let mut dependents = tx
                    .prepare_cached("SELECT issue_id FROM dependencies WHERE depends_on_id = ?1")?;
                for c in dependents.query_map([id], |r| r.get::<_, String>(0))? {
                    let c = c?;
                    if !ids.contains(&c) {
                        seeds.push(c);
                    }
                }
                tx.prepare_cached("DELETE FROM dependencies WHERE depends_on_id = ?1")?
                    .execute([id])?;
                tx.prepare_cached("DELETE FROM issues WHERE id = ?1")?
                    .execute([id])?;
                event(tx, w, id, "deleted", Some(&issue.title), None, None)?;
            }
            readiness::refresh(tx, w.settings, seeds)?;
            Ok(ids.len())
        })
    }
}

/// [`Changes`] whose type, labels and parent were checked against the store before the write.
struct CheckedChanges<'a> {
    changes: &'a Changes,
    issue_type: Option<&'a str>,
    /// `Some(None)` removes the parent; the id is resolved.
    parent: Option<Option<&'a str>>,
}

fn update_in_tx(
    tx: &Connection,
    w: &WriteCtx<'_>,
    id: &str,
    checked: &CheckedChanges<'_>,
) -> Result<Issue> {
    let changes = checked.changes;
    let old = fetch(tx, id)?;
    let mut new = old.clone();
    apply(&mut new, changes, checked.issue_type, w)?;
    if new.ephemeral && new.no_history {
        return Err(Error::invalid(
            "flags",
            "`ephemeral` and `no_history` cannot both be set",
        ));
    }
    store_fields(tx, &old, &new, w)?;
    // A `provides:` label's dependents are found through the label, so look them up before a
    // relabel may remove it and again after it may add one.
    let relabels = !changes.add_labels.is_empty()
        || !changes.remove_labels.is_empty()
        || changes.set_labels.is_some();
    let mut seeds = if relabels {
        readiness::seeds_for_status_change(tx, id)?
    } else {
        Vec::new()
    };
    relabel(tx, id, changes, w)?;
    if let Some(parent) = checked.parent {
        reparent(tx, id, parent, w)?;
    }
    if old.status != new.status || checked.parent.is_some() || relabels {
        seeds.extend(readiness::seeds_for_status_change(tx, id)?);
        readiness::refresh(tx, w.settings, seeds)?;
    }
    rehash(tx, id)
}

pub(crate) fn close_in_tx(
    tx: &Connection,
    w: &WriteCtx<'_>,
    id: &str,
    opts: &CloseOptions,
) -> Result<Issue> {
    let old = fetch(tx, id)?;
    if old.status == "closed" {
        return Ok(old);
    }
    if !opts.force {
        refuse_close(tx, &old, w)?;
    }
    tx.prepare_cached(
        "UPDATE issues SET status = 'closed', closed_at = ?2, updated_at = ?2, close_reason = ?3,
         closed_by_session = ?4 WHERE id = ?1",
    )?
    .execute([id, w.now, &opts.reason, &opts.session])?;
    event(
        tx,
        w,
        id,
        "closed",
        Some(&old.status),
        Some("closed"),
        Some(&opts.reason),
    )?;
    readiness::refresh(tx, w.settings, readiness::seeds_for_status_change(tx, id)?)?;
    let closed = rehash(tx, id)?;
    if let Some(node) = finished_molecule_node_above(tx, w, id)? {
        let done = CloseOptions {
            reason: MOLECULE_DONE.to_owned(),
            force: true,
            session: opts.session.clone(),
        };
        close_in_tx(tx, w, &node, &done)?;
    }
    Ok(closed)
}

/// The close reason of a molecule root (or nested step) closed because its last step was.
const MOLECULE_DONE: &str = "all steps complete";

/// The open molecule node (a root, or a step with steps of its own, poured from a formula)
/// directly above `id` whose children are now all done, if any: closing a molecule's last
/// step closes its root. Ordinary epics are left for `bd close`.
fn finished_molecule_node_above(
    tx: &Connection,
    w: &WriteCtx<'_>,
    id: &str,
) -> Result<Option<String>> {
    let done_statuses = w.settings.done_statuses();
    let node = match crate::ops::molecule::formula_parent(tx, id)? {
        Some(p) if !p.is_template && !done_statuses.contains(&p.status) => p.id,
        _ => return Ok(None),
    };
    let done = readiness::sql_list(&done_statuses);
    let unfinished: i64 = tx.query_row(
        &format!(
            "SELECT count(*) FROM dependencies d JOIN issues c ON c.id = d.issue_id
             WHERE d.depends_on_id = ?1 AND d.type = 'parent-child' AND c.status NOT IN {done}"
        ),
        [&node],
        |r| r.get(0),
    )?;
    Ok((unfinished == 0).then_some(node))
}

fn reopen_in_tx(tx: &Connection, w: &WriteCtx<'_>, id: &str, reason: &str) -> Result<Issue> {
    let old = fetch(tx, id)?;
    if old.status != "closed" {
        return Err(Error::Conflict(format!(
            "`{id}` is not closed (status `{}`)",
            old.status
        )));
    }
    tx.prepare_cached(
        "UPDATE issues SET status = 'open', closed_at = NULL, close_reason = '', closed_by_session = '',
         updated_at = ?2 WHERE id = ?1",
    )?
    .execute([id, w.now])?;
    event(
        tx,
        w,
        id,
        "reopened",
        Some("closed"),
        Some("open"),
        (!reason.is_empty()).then_some(reason),
    )?;
    readiness::refresh(tx, w.settings, readiness::seeds_for_status_change(tx, id)?)?;
    rehash(tx, id)
}

pub(crate) fn claim_in_tx(tx: &Connection, id: &str, w: &WriteCtx<'_>) -> Result<Issue> {
    let n = tx
        .prepare_cached(
            "UPDATE issues SET status = 'in_progress', assignee = ?2, started_at = COALESCE(started_at, ?3), updated_at = ?3
             WHERE id = ?1 AND status = 'open' AND (assignee = '' OR assignee = ?2)",
        )?
        .execute([id, w.actor, w.now])?;
    let issue = fetch(tx, id)?;
    if n == 0 {
        if issue.status == "in_progress" && issue.assignee == w.actor {
            return Ok(issue);
        }
        if !issue.assignee.is_empty() && issue.assignee != w.actor {
            return Err(Error::AlreadyClaimed {
                id: id.to_owned(),
                by: issue.assignee,
            });
        }
        return Err(Error::NotClaimable {
            id: id.to_owned(),
            status: issue.status,
        });
    }
    event(
        tx,
        w,
        id,
        "claimed",
        Some("open"),
        Some("in_progress"),
        None,
    )?;
    readiness::refresh(tx, w.settings, readiness::seeds_for_status_change(tx, id)?)?;
    rehash(tx, id)
}

fn refuse_close(tx: &Connection, issue: &Issue, w: &WriteCtx<'_>) -> Result<()> {
    let hint = "use `--force` to close it anyway";
    if issue.pinned || issue.status == "pinned" {
        return Err(Error::Conflict(format!("`{}` is pinned; {hint}", issue.id)));
    }
    let blockers = readiness::blockers(tx, w.settings, &issue.id)?;
    if !blockers.is_empty() {
        return Err(Error::Conflict(format!(
            "`{}` is blocked by {}; {hint}",
            issue.id,
            blockers.join(", ")
        )));
    }
    if issue.issue_type == "epic" {
        let done = readiness::done_list(w.settings);
        let open: Vec<String> = tx
            .prepare_cached(&format!(
                "SELECT c.issue_id FROM dependencies c JOIN issues i ON i.id = c.issue_id
                 WHERE c.depends_on_id = ?1 AND c.type = 'parent-child' AND i.status NOT IN {done} ORDER BY 1"
            ))?
            .query_map([&issue.id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        if !open.is_empty() {
            return Err(Error::Conflict(format!(
                "epic `{}` has open children: {}; {hint}",
                issue.id,
                open.join(", ")
            )));
        }
    }
    Ok(())
}

fn apply(new: &mut Issue, c: &Changes, issue_type: Option<&str>, w: &WriteCtx<'_>) -> Result<()> {
    let set = |field: &mut String, v: &Option<String>| {
        if let Some(v) = v {
            field.clone_from(v);
        }
    };
    set(&mut new.title, &c.title);
    set(&mut new.description, &c.description);
    set(&mut new.design, &c.design);
    set(&mut new.notes, &c.notes);
    set(&mut new.acceptance_criteria, &c.acceptance_criteria);
    set(&mut new.assignee, &c.assignee);
    set(&mut new.owner, &c.owner);
    set(&mut new.external_ref, &c.external_ref);
    set(&mut new.await_id, &c.await_id);
    if let Some(extra) = &c.append_notes {
        if !new.notes.is_empty() {
            new.notes.push('\n');
        }
        new.notes.push_str(extra);
    }
    if let Some(t) = issue_type {
        new.issue_type = t.to_owned();
    }
    if let Some(p) = c.priority {
        new.priority = p;
    }
    if let Some(d) = &c.due_at {
        new.due_at.clone_from(d);
    }
    if let Some(d) = &c.defer_until {
        new.defer_until.clone_from(d);
    }
    if let Some(b) = c.ephemeral {
        new.ephemeral = b;
    }
    if let Some(b) = c.no_history {
        new.no_history = b;
    }
    if let Some(b) = c.pinned {
        new.pinned = b;
    }
    if let Some(m) = c.estimated_minutes {
        new.estimated_minutes = Some(m);
    }
    if c.metadata.is_some() || !c.set_metadata.is_empty() || !c.unset_metadata.is_empty() {
        let mut map = match (&c.metadata, &new.metadata) {
            (Some(m), _) => m.clone(),
            (None, Some(Value::Object(m))) => m.clone(),
            _ => Map::new(),
        };
        for (k, v) in &c.set_metadata {
            map.insert(k.clone(), v.clone());
        }
        for k in &c.unset_metadata {
            map.remove(k);
        }
        new.metadata = Some(Value::Object(map));
    }
    if let Some(status) = &c.status
        && *status != new.status
    {
        if status == "closed" {
            new.closed_at = Some(w.now.to_owned());
            new.closed_by_session = c.session.clone().unwrap_or_default();
        } else {
            new.closed_at = None;
            new.close_reason.clear();
            new.closed_by_session.clear();
        }
        if status == "in_progress" && new.started_at.is_none() {
            new.started_at = Some(w.now.to_owned());
        }
        new.status.clone_from(status);
    }
    Ok(())
}

/// Writes the changed columns and one event per kind of change.
pub(crate) fn store_fields(
    tx: &Connection,
    old: &Issue,
    new: &Issue,
    w: &WriteCtx<'_>,
) -> Result<()> {
    let mut updated = new.clone();
    updated.updated_at = w.now.to_owned();
    crate::row::upsert_issue(tx, &updated, "")?;
    if old.status != new.status {
        let kind = match new.status.as_str() {
            "closed" => "closed",
            _ if old.status == "closed" => "reopened",
            _ => "status_changed",
        };
        event(
            tx,
            w,
            &new.id,
            kind,
            Some(&old.status),
            Some(&new.status),
            None,
        )?;
    }
    let (mut before, mut after) = (old.clone(), new.clone());
    before.status.clear();
    after.status.clear();
    before.closed_at = None;
    after.closed_at = None;
    if before != after {
        let diff = field_diff(&before, &after);
        event(
            tx,
            w,
            &new.id,
            "updated",
            Some(&diff.0),
            Some(&diff.1),
            None,
        )?;
    }
    Ok(())
}

/// The changed fields as two JSON objects (old, new).
fn field_diff(old: &Issue, new: &Issue) -> (String, String) {
    let (Ok(Value::Object(a)), Ok(Value::Object(b))) =
        (serde_json::to_value(old), serde_json::to_value(new))
    else {
        return (String::new(), String::new());
    };
    let mut before = Map::new();
    let mut after = Map::new();
    for key in a.keys().chain(b.keys()) {
        if a.get(key) != b.get(key) && !before.contains_key(key) && !after.contains_key(key) {
            before.insert(key.clone(), a.get(key).cloned().unwrap_or(Value::Null));
            after.insert(key.clone(), b.get(key).cloned().unwrap_or(Value::Null));
        }
    }
    (
        Value::Object(before).to_string(),
        Value::Object(after).to_string(),
    )
}

fn relabel(tx: &Connection, id: &str, c: &Changes, w: &WriteCtx<'_>) -> Result<()> {
    if let Some(set) = &c.set_labels {
        for old in deps::labels_of(tx, id)? {
            if !set.contains(&old) {
                delete_label(tx, id, &old, w)?;
            }
        }
        for l in set {
            insert_label(tx, id, l, w)?;
        }
    }
    for l in &c.add_labels {
        insert_label(tx, id, l, w)?;
    }
    for l in &c.remove_labels {
        delete_label(tx, id, l, w)?;
    }
    Ok(())
}

fn reparent(tx: &Connection, id: &str, parent: Option<&str>, w: &WriteCtx<'_>) -> Result<()> {
    let old: Vec<String> = tx
        .prepare_cached(
            "SELECT depends_on_id FROM dependencies WHERE issue_id = ?1 AND type = 'parent-child'",
        )?
        .query_map([id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for p in &old {
        if Some(p.as_str()) == parent {
            return Ok(());
        }
        deps::delete_edge(tx, w, id, p, "parent-child")?;
    }
    if let Some(p) = parent {
        deps::insert_edge(tx, w, id, p, "parent-child", None)?;
    }
    Ok(())
}
