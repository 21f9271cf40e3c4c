//! One import line into a checked record: upstream's export shape (an issue with its labels,
//! edges and comments), a row of its backup's `issues.jsonl`, or a memory line.
//!
//! A line is split once into the raw JSON text of the fields we know (`RawValue` slices of the
//! line, nothing copied, unknown fields skipped), and each field is then read as the type it
//! must have. No `serde_json::Value` tree is built for the common shapes: parsing is most of
//! an import's own work. A field of the wrong type is explained with the message serde gives
//! for that type, so errors read the same whatever the path.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;

use super::{Line, Record, bad_row};
use crate::error::Result;
use crate::model::{Comment, Dependency, Issue};
use crate::ops::deps::{validate_external, validate_kind, validate_label};
use crate::store::normalize_ts;

type Raw<'a> = Option<&'a RawValue>;

/// The fields of an issue line we read; `null` reads as absent, as upstream's backup writes
/// `null` for every empty column.
#[derive(Deserialize)]
struct IssueFields<'a> {
    #[serde(rename = "_type", borrow)]
    line_type: Raw<'a>,
    // A memory line's fields. `value` keeps `null` (it is stored as the text `null`).
    #[serde(borrow)]
    key: Raw<'a>,
    #[serde(borrow, default, deserialize_with = "keep_null")]
    value: Raw<'a>,
    #[serde(borrow)]
    id: Raw<'a>,
    #[serde(borrow)]
    title: Raw<'a>,
    #[serde(borrow)]
    description: Raw<'a>,
    #[serde(borrow)]
    design: Raw<'a>,
    #[serde(borrow)]
    acceptance_criteria: Raw<'a>,
    #[serde(borrow)]
    notes: Raw<'a>,
    #[serde(borrow)]
    status: Raw<'a>,
    #[serde(borrow)]
    priority: Raw<'a>,
    #[serde(borrow)]
    issue_type: Raw<'a>,
    #[serde(borrow)]
    assignee: Raw<'a>,
    #[serde(borrow)]
    owner: Raw<'a>,
    #[serde(borrow)]
    estimated_minutes: Raw<'a>,
    #[serde(borrow)]
    created_at: Raw<'a>,
    #[serde(borrow)]
    created_by: Raw<'a>,
    #[serde(borrow)]
    updated_at: Raw<'a>,
    #[serde(borrow)]
    started_at: Raw<'a>,
    #[serde(borrow)]
    closed_at: Raw<'a>,
    #[serde(borrow)]
    close_reason: Raw<'a>,
    #[serde(borrow)]
    closed_by_session: Raw<'a>,
    #[serde(borrow)]
    due_at: Raw<'a>,
    #[serde(borrow)]
    defer_until: Raw<'a>,
    #[serde(borrow)]
    external_ref: Raw<'a>,
    #[serde(borrow)]
    source_system: Raw<'a>,
    #[serde(borrow)]
    spec_id: Raw<'a>,
    #[serde(borrow)]
    metadata: Raw<'a>,
    #[serde(borrow)]
    sender: Raw<'a>,
    #[serde(borrow)]
    ephemeral: Raw<'a>,
    #[serde(borrow)]
    no_history: Raw<'a>,
    #[serde(borrow)]
    wisp_type: Raw<'a>,
    #[serde(borrow)]
    pinned: Raw<'a>,
    #[serde(borrow)]
    is_template: Raw<'a>,
    #[serde(borrow)]
    mol_type: Raw<'a>,
    #[serde(borrow)]
    work_type: Raw<'a>,
    #[serde(borrow)]
    await_type: Raw<'a>,
    #[serde(borrow)]
    await_id: Raw<'a>,
    #[serde(borrow)]
    timeout: Raw<'a>,
    /// Upstream's column for `timeout`; `timeout` wins when a line has both.
    #[serde(borrow)]
    timeout_ns: Raw<'a>,
    #[serde(borrow)]
    waiters: Raw<'a>,
    #[serde(borrow)]
    event_kind: Raw<'a>,
    #[serde(borrow)]
    actor: Raw<'a>,
    #[serde(borrow)]
    target: Raw<'a>,
    #[serde(borrow)]
    payload: Raw<'a>,
    #[serde(borrow)]
    source_formula: Raw<'a>,
    #[serde(borrow)]
    source_location: Raw<'a>,
    #[serde(borrow)]
    deleted_at: Raw<'a>,
    #[serde(borrow)]
    deleted_by: Raw<'a>,
    #[serde(borrow)]
    delete_reason: Raw<'a>,
    #[serde(borrow)]
    original_type: Raw<'a>,
    #[serde(borrow)]
    labels: Raw<'a>,
    #[serde(borrow)]
    dependencies: Raw<'a>,
    #[serde(borrow)]
    comments: Raw<'a>,
    // Columns of upstream's `issues` table this store has no place for (agent, compaction
    // and quality bookkeeping): an import reports how many rows had a value in each.
    #[serde(borrow)]
    agent_state: Raw<'a>,
    #[serde(borrow)]
    compacted_at: Raw<'a>,
    #[serde(borrow)]
    compacted_at_commit: Raw<'a>,
    #[serde(borrow)]
    compaction_level: Raw<'a>,
    #[serde(borrow)]
    crystallizes: Raw<'a>,
    #[serde(borrow)]
    hook_bead: Raw<'a>,
    #[serde(borrow)]
    last_activity: Raw<'a>,
    #[serde(borrow)]
    original_size: Raw<'a>,
    #[serde(borrow)]
    quality_score: Raw<'a>,
    #[serde(borrow)]
    rig: Raw<'a>,
    #[serde(borrow)]
    role_bead: Raw<'a>,
    #[serde(borrow)]
    role_type: Raw<'a>,
    #[serde(borrow)]
    source_repo: Raw<'a>,
}

/// The fields of a dependency (an element of an issue's `dependencies`, or a row of a
/// backup's `dependencies.jsonl`).
#[derive(Deserialize)]
struct DepFields<'a> {
    #[serde(borrow)]
    issue_id: Raw<'a>,
    #[serde(borrow)]
    depends_on_id: Raw<'a>,
    #[serde(rename = "type", borrow)]
    kind: Raw<'a>,
    #[serde(borrow)]
    created_at: Raw<'a>,
    #[serde(borrow)]
    created_by: Raw<'a>,
    #[serde(borrow)]
    metadata: Raw<'a>,
}

/// The fields of a comment (an element of an issue's `comments`, or a row of a backup's
/// `comments.jsonl`).
#[derive(Deserialize)]
struct CommentFields<'a> {
    #[serde(borrow)]
    id: Raw<'a>,
    #[serde(borrow)]
    author: Raw<'a>,
    #[serde(borrow)]
    text: Raw<'a>,
    #[serde(borrow)]
    created_at: Raw<'a>,
}

fn keep_null<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Raw<'de>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// Parses one issue line (export shape or a backup's `issues.jsonl` row) or memory line.
/// Upstream columns with no place here that hold a value are tallied in `ignored`.
pub(crate) fn parse_line(
    line: &str,
    n: usize,
    file: Option<&str>,
    ignored: &mut BTreeMap<String, usize>,
) -> Result<Line> {
    let bad = |reason: String| bad_row(file, n, reason);
    // Only an object is split (serde would also fill the fields from an array, by position).
    let split = match line.trim_start().as_bytes().first() {
        Some(b'{') => serde_json::from_str::<IssueFields<'_>>(line).ok(),
        _ => None,
    };
    let deduped;
    let f = match split {
        Some(f) => f,
        None => {
            // Say what is wrong with the line as a whole; an object that did not split has a
            // field given twice, and the later one wins, as in any JSON object we read.
            deduped = match serde_json::from_str::<Value>(line) {
                Err(e) => return Err(bad(format!("not valid JSON: {e}"))),
                Ok(v) if !v.is_object() => return Err(bad("expected a JSON object".into())),
                Ok(v) => v.to_string(),
            };
            serde_json::from_str(&deduped).map_err(|e| bad(e.to_string()))?
        }
    };
    match f.line_type.and_then(as_str).as_deref().unwrap_or("issue") {
        "issue" => {}
        "memory" => {
            let key = f
                .key
                .and_then(as_str)
                .map(Cow::into_owned)
                .ok_or_else(|| bad("memory line without `key`".into()))?;
            let value = match f.value {
                None => String::new(),
                Some(raw) => match as_str(raw) {
                    Some(s) => s.into_owned(),
                    None => serde_json::from_str::<Value>(raw.get())
                        .map_or_else(|_| raw.get().to_owned(), |v| v.to_string()),
                },
            };
            return Ok(Line::Memory(key, value));
        }
        other => return Err(bad(format!("unknown `_type` `{other}`"))),
    }
    // Name the issue in every later error of this line, when the line has an id.
    let id = f.id.and_then(as_str);
    let bad = |reason: String| {
        bad_row(
            file,
            n,
            match &id {
                Some(id) => format!("`{id}`: {reason}"),
                None => reason,
            },
        )
    };
    let mut issue = issue_of(&f, ignored).map_err(bad)?;
    validate(&mut issue).map_err(bad)?;
    let labels = elements("labels", f.labels)
        .and_then(|list| {
            list.into_iter()
                .map(label)
                .collect::<Result<BTreeSet<_>, _>>()
        })
        .map_err(bad)?;
    let deps = elements("dependencies", f.dependencies)
        .and_then(|list| list.into_iter().map(|d| parse_dep(d, &issue)).collect())
        .map_err(bad)?;
    let comments = elements("comments", f.comments)
        .and_then(|list| list.into_iter().map(|c| parse_comment(c, &issue)).collect())
        .map_err(bad)?;
    Ok(Line::Issue(Box::new(Record {
        file: file.map(str::to_owned),
        line: n,
        hash: String::new(),
        issue,
        labels,
        deps,
        comments,
    })))
}

/// Brings upstream's variants to our shape while reading the fields: legacy statuses,
/// timestamps in any offset, booleans as `0`/`1`, metadata and waiters as strings, defaults,
/// the closed-at invariant.
fn issue_of(
    f: &IssueFields<'_>,
    ignored: &mut BTreeMap<String, usize>,
) -> std::result::Result<Issue, String> {
    let ephemeral = flag("ephemeral", f.ephemeral)?;
    let no_history = flag("no_history", f.no_history)?;
    let pinned = flag("pinned", f.pinned)?;
    let is_template = flag("is_template", f.is_template)?;
    for (key, raw) in [
        ("agent_state", f.agent_state),
        ("compacted_at", f.compacted_at),
        ("compacted_at_commit", f.compacted_at_commit),
        ("compaction_level", f.compaction_level),
        ("crystallizes", f.crystallizes),
        ("hook_bead", f.hook_bead),
        ("last_activity", f.last_activity),
        ("original_size", f.original_size),
        ("quality_score", f.quality_score),
        ("rig", f.rig),
        ("role_bead", f.role_bead),
        ("role_type", f.role_type),
        ("source_repo", f.source_repo),
    ] {
        if let Some(raw) = raw
            && !matches!(raw.get(), "\"\"" | "0" | "-0")
        {
            *ignored.entry(key.to_owned()).or_default() += 1;
        }
    }
    let created_at = time("created_at", f.created_at)?;
    let updated_at = time("updated_at", f.updated_at)?;
    let started_at = time("started_at", f.started_at)?;
    let mut closed_at = time("closed_at", f.closed_at)?;
    let due_at = time("due_at", f.due_at)?;
    let defer_until = time("defer_until", f.defer_until)?;
    let deleted_at = time("deleted_at", f.deleted_at)?;
    let metadata = metadata(f.metadata)?;
    let waiters = match f.waiters {
        None => Vec::new(),
        Some(raw) => match as_str(raw) {
            Some(s) => s
                .split(',')
                .filter(|w| !w.is_empty())
                .map(str::to_owned)
                .collect(),
            None => read("waiters", raw)?,
        },
    };
    let mut status = text("status", f.status)?;
    if status.is_empty() && f.status.is_none() {
        status = "open".into();
    }
    if status == "deleted" {
        status = "tombstone".into();
    }
    let created_at = created_at.ok_or("`created_at` is required")?;
    // `updated_at` defaults first: it is the fallback for a closed issue's `closed_at`.
    let updated_at = updated_at.unwrap_or_else(|| created_at.clone());
    if status == "closed" && closed_at.is_none() {
        closed_at = Some(updated_at.clone());
    }
    if status != "closed" && status != "tombstone" {
        closed_at = None;
    }
    let issue_type = match f.issue_type {
        None => "task".to_owned(),
        raw => text("issue_type", raw)?,
    };
    let timeout = match f.timeout.or(f.timeout_ns) {
        None => 0,
        Some(raw) => read("timeout", raw)?,
    };
    Ok(Issue {
        id: text("id", f.id)?,
        title: text("title", f.title)?,
        description: text("description", f.description)?,
        design: text("design", f.design)?,
        acceptance_criteria: text("acceptance_criteria", f.acceptance_criteria)?,
        notes: text("notes", f.notes)?,
        status,
        priority: f.priority.map_or(Ok(2), |raw| read("priority", raw))?,
        issue_type,
        assignee: text("assignee", f.assignee)?,
        owner: text("owner", f.owner)?,
        estimated_minutes: f
            .estimated_minutes
            .map(|raw| read("estimated_minutes", raw))
            .transpose()?,
        created_at,
        created_by: text("created_by", f.created_by)?,
        updated_at,
        started_at,
        closed_at,
        close_reason: text("close_reason", f.close_reason)?,
        closed_by_session: text("closed_by_session", f.closed_by_session)?,
        due_at,
        defer_until,
        external_ref: text("external_ref", f.external_ref)?,
        source_system: text("source_system", f.source_system)?,
        spec_id: text("spec_id", f.spec_id)?,
        metadata,
        sender: text("sender", f.sender)?,
        ephemeral,
        // An ephemeral issue keeps no history flag of its own (the schema forbids both).
        no_history: no_history && !ephemeral,
        wisp_type: text("wisp_type", f.wisp_type)?,
        pinned,
        is_template,
        mol_type: text("mol_type", f.mol_type)?,
        work_type: text("work_type", f.work_type)?,
        await_type: text("await_type", f.await_type)?,
        await_id: text("await_id", f.await_id)?,
        timeout,
        waiters,
        event_kind: text("event_kind", f.event_kind)?,
        actor: text("actor", f.actor)?,
        target: text("target", f.target)?,
        payload: text("payload", f.payload)?,
        source_formula: text("source_formula", f.source_formula)?,
        source_location: text("source_location", f.source_location)?,
        deleted_at,
        deleted_by: text("deleted_by", f.deleted_by)?,
        delete_reason: text("delete_reason", f.delete_reason)?,
        original_type: text("original_type", f.original_type)?,
    })
}

/// The checks `bd create` and `bd update` make, with the same functions. Whitespace around a
/// title is trimmed first: upstream let a trailing newline into a title (its own export has
/// one), which is no reason to refuse the line, while any control character inside a title is.
/// Two rules of the CLI are not applied: a dependency target need not exist (an export leaves
/// out wisps and infrastructure issues that its edges may point at; `bd doctor` reports such
/// edges), and `blocks` may join an epic and a non-epic (upstream's data has such edges, and
/// readiness handles them; the rule only steers new edges to `parent-child`).
fn validate(issue: &mut Issue) -> std::result::Result<(), String> {
    crate::ids::validate_explicit(&issue.id).map_err(|e| e.to_string())?;
    let trimmed = issue.title.trim();
    if trimmed.len() != issue.title.len() {
        issue.title = trimmed.to_owned();
    }
    crate::model::validate_title(&issue.title).map_err(|e| e.to_string())?;
    crate::model::validate_priority(issue.priority).map_err(|e| e.to_string())?;
    if issue.status.is_empty() || issue.issue_type.is_empty() {
        return Err("needs a status and an issue_type".into());
    }
    if let Some(m) = &issue.metadata
        && !m.is_null()
    {
        crate::model::parse_metadata(&m.to_string()).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// One dependency of `issue`, checked: the object's fields, its target, its kind and time.
pub(crate) fn parse_dep(raw: &RawValue, issue: &Issue) -> std::result::Result<Dependency, String> {
    let mut deduped = String::new();
    let m: DepFields<'_> = object("dependencies", raw, &mut deduped)?;
    for (key, raw) in [
        ("issue_id", m.issue_id),
        ("depends_on_id", m.depends_on_id),
        ("type", m.kind),
        ("created_at", m.created_at),
        ("created_by", m.created_by),
    ] {
        if let Some(raw) = raw
            && as_str(raw).is_none()
        {
            return Err(format!(
                "field `dependencies.{key}` must be a string, not {}",
                raw_type(raw)
            ));
        }
    }
    fn s(raw: Raw<'_>) -> Cow<'_, str> {
        raw.and_then(as_str).unwrap_or_default()
    }
    let target = s(m.depends_on_id);
    if target.is_empty() {
        return Err("a dependency lacks `depends_on_id`".into());
    }
    let from = s(m.issue_id);
    if !from.is_empty() && from != issue.id {
        return Err(format!(
            "dependency of `{}` names another issue `{from}`",
            issue.id
        ));
    }
    if target == issue.id {
        return Err(format!("`{}` depends on itself", issue.id));
    }
    if target.starts_with("external:") {
        validate_external(&target).map_err(|e| e.to_string())?;
    }
    let metadata = match m.metadata {
        None => "{}".to_owned(),
        Some(raw) => match as_str(raw) {
            Some(t) if t.trim().is_empty() => "{}".to_owned(),
            Some(t) => Value::Object(
                crate::model::parse_metadata(&t).map_err(|e| format!("dependency {e}"))?,
            )
            .to_string(),
            None if raw_type(raw) == "an object" => serde_json::from_str::<Value>(raw.get())
                .map_err(|e| format!("dependency metadata: {e}"))?
                .to_string(),
            None => {
                return Err(format!(
                    "dependency metadata must be a JSON object, not {}",
                    raw_type(raw)
                ));
            }
        },
    };
    let kind = s(m.kind);
    let kind =
        validate_kind(if kind.is_empty() { "blocks" } else { &kind }).map_err(|e| e.to_string())?;
    let created_at = match s(m.created_at) {
        t if !t.is_empty() => normalize_ts(&t).map_err(|e| e.to_string())?,
        _ => issue.created_at.clone(),
    };
    Ok(Dependency {
        issue_id: issue.id.clone(),
        depends_on_id: target.into_owned(),
        kind,
        created_at,
        created_by: s(m.created_by).into_owned(),
        metadata,
    })
}

/// One comment on `issue`, checked: an id (a string or upstream's integer), text, a time.
pub(crate) fn parse_comment(raw: &RawValue, issue: &Issue) -> std::result::Result<Comment, String> {
    let mut deduped = String::new();
    let m: CommentFields<'_> = object("comments", raw, &mut deduped)?;
    let id = match m.id {
        // As the number reads back (upstream writes integers; `1.50` would be `1.5`).
        Some(raw) if raw_type(raw) == "a number" => serde_json::from_str::<Value>(raw.get())
            .ok()
            .map(|v| v.to_string()),
        Some(raw) => as_str(raw).filter(|s| !s.is_empty()).map(Cow::into_owned),
        None => None,
    }
    .ok_or_else(|| format!("a comment on `{}` lacks an id", issue.id))?;
    let created_at = match m.created_at.and_then(as_str) {
        Some(t) if !t.is_empty() => normalize_ts(&t).map_err(|e| e.to_string())?,
        _ => issue.created_at.clone(),
    };
    for (key, raw) in [
        ("author", m.author),
        ("text", m.text),
        ("created_at", m.created_at),
    ] {
        if let Some(raw) = raw
            && as_str(raw).is_none()
        {
            return Err(format!(
                "field `comments.{key}` must be a string, not {}",
                raw_type(raw)
            ));
        }
    }
    let text = m.text.and_then(as_str).unwrap_or_default();
    if text.trim().is_empty() {
        return Err(format!("comment `{id}` has no text"));
    }
    Ok(Comment {
        id,
        issue_id: issue.id.clone(),
        author: m.author.and_then(as_str).unwrap_or_default().into_owned(),
        text: text.into_owned(),
        created_at,
    })
}

/// An object's fields; `what` names the list it is an element of. An object with a field
/// given twice does not split: it is read again from `deduped`, the later value kept.
fn object<'a, T: Deserialize<'a>>(
    what: &str,
    raw: &'a RawValue,
    deduped: &'a mut String,
) -> std::result::Result<T, String> {
    if raw_type(raw) != "an object" {
        return Err(format!("{what} must be objects"));
    }
    if let Ok(fields) = serde_json::from_str(raw.get()) {
        return Ok(fields);
    }
    *deduped = serde_json::from_str::<Value>(raw.get())
        .map_err(|e| format!("{what}: {e}"))?
        .to_string();
    serde_json::from_str(deduped).map_err(|e| format!("{what}: {e}"))
}

/// A list field's elements; absent (or `null`) is empty, any other non-array is an error.
fn elements<'a>(key: &str, raw: Raw<'a>) -> std::result::Result<Vec<&'a RawValue>, String> {
    match raw {
        None => Ok(Vec::new()),
        Some(raw) if raw_type(raw) == "an array" => {
            serde_json::from_str(raw.get()).map_err(|e| format!("field `{key}`: {e}"))
        }
        Some(raw) => Err(format!(
            "field `{key}` must be an array, not {}",
            raw_type(raw)
        )),
    }
}

fn label(raw: &RawValue) -> std::result::Result<String, String> {
    let l = as_str(raw)
        .ok_or_else(|| format!("field `labels` must hold strings, not {}", raw_type(raw)))?;
    validate_label(&l).map_err(|e| e.to_string())?;
    Ok(l.into_owned())
}

/// A string field; absent is empty.
fn text(key: &str, raw: Raw<'_>) -> std::result::Result<String, String> {
    match raw {
        None => Ok(String::new()),
        Some(raw) => as_str(raw).map_or_else(|| read(key, raw), |s| Ok(s.into_owned())),
    }
}

/// A boolean field, which upstream's backup writes as `0` or `1`; absent is false.
fn flag(key: &str, raw: Raw<'_>) -> std::result::Result<bool, String> {
    let Some(raw) = raw else { return Ok(false) };
    match serde_json::from_str::<i64>(raw.get()) {
        Ok(n @ (0 | 1)) => Ok(n == 1),
        Ok(n) => Err(format!("`{key}` must be a boolean (or 0 or 1), not {n}")),
        Err(_) => read(key, raw),
    }
}

/// A time field in the stored form; absent or empty is none.
fn time(key: &str, raw: Raw<'_>) -> std::result::Result<Option<String>, String> {
    let Some(raw) = raw else { return Ok(None) };
    match as_str(raw) {
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => normalize_ts(&s)
            .map(Some)
            .map_err(|e| format!("`{key}`: {e}")),
        None => Err(format!("`{key}` must be an RFC 3339 string")),
    }
}

/// `metadata`: an object, or (upstream's backup) the text of one; empty text is `{}`.
fn metadata(raw: Raw<'_>) -> std::result::Result<Option<Value>, String> {
    let Some(raw) = raw else { return Ok(None) };
    let value: Value = match as_str(raw) {
        Some(s) if s.trim().is_empty() => Value::Object(serde_json::Map::new()),
        Some(s) => {
            serde_json::from_str(&s).map_err(|e| format!("`metadata` is not valid JSON: {e}"))?
        }
        None => serde_json::from_str(raw.get())
            .map_err(|e| format!("`metadata` is not valid JSON: {e}"))?,
    };
    match value {
        Value::Null => Ok(None),
        Value::Object(_) => Ok(Some(value)),
        _ => Err("`metadata` must be a JSON object".into()),
    }
}

/// A field read as `T`; the wrong JSON type is named as serde names it, with the place
/// inside the field (`waiters[0]`) when it is deeper.
fn read<T: DeserializeOwned>(key: &str, raw: &RawValue) -> std::result::Result<T, String> {
    serde_json::from_str(raw.get()).map_err(|_| {
        // Through a `Value`, the message has no column numbers of the field's own text.
        let explained = serde_json::from_str::<Value>(raw.get())
            .map_err(|e| (String::new(), e.to_string()))
            .and_then(|v| {
                serde_path_to_error::deserialize::<_, T>(v)
                    .map(drop)
                    .map_err(|e| (e.path().to_string(), e.inner().to_string()))
            });
        let (path, reason) = explained
            .err()
            .unwrap_or_else(|| (String::new(), format!("not {}", std::any::type_name::<T>())));
        let place = match path.as_str() {
            "" | "." => key.to_owned(),
            inner if inner.starts_with('[') => format!("{key}{inner}"),
            inner => format!("{key}.{inner}"),
        };
        format!("field `{place}` has the wrong type: {reason}")
    })
}

/// A JSON string's text; none for any other type. The raw text is valid JSON already, so a
/// string without escapes is the text between its quotes, borrowed from the line (most are:
/// no decoding, and no copy until a field keeps it).
fn as_str(raw: &RawValue) -> Option<Cow<'_, str>> {
    let inner = raw.get().strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(raw.get())
            .ok()
            .map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(inner))
    }
}

/// A raw JSON value's type, for messages, from its first character.
fn raw_type(raw: &RawValue) -> &'static str {
    match raw.get().as_bytes().first() {
        Some(b'n') => "null",
        Some(b't' | b'f') => "a boolean",
        Some(b'"') => "a string",
        Some(b'[') => "an array",
        Some(b'{') => "an object",
        _ => "a number",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::{Line, parse_line};

    fn record(line: &str) -> Box<super::Record> {
        match parse_line(line, 1, None, &mut BTreeMap::new()) {
            Ok(Line::Issue(rec)) => rec,
            Ok(Line::Memory(..)) => panic!("an issue line read as a memory"),
            Ok(Line::Bulk(_)) => panic!("parse_line makes whole records"),
            Err(e) => panic!("{line}: {e}"),
        }
    }

    /// A field given twice (at the top or inside an edge or comment) keeps its later value,
    /// as a JSON object read into a map does.
    #[test]
    fn a_field_given_twice_keeps_its_later_value() {
        let rec = record(
            r#"{"id":"t-a","title":"first","created_at":"2026-01-01T00:00:00Z","title":"second",
                "dependencies":[{"depends_on_id":"t-x","depends_on_id":"t-y"}],
                "comments":[{"id":"c1","text":"one","text":"two"}]}"#,
        );
        assert_eq!(rec.issue.title, "second");
        assert_eq!(rec.deps[0].depends_on_id, "t-y");
        assert_eq!(rec.comments[0].text, "two");
    }

    /// Upstream's backup shape: `null` for absent, `0`/`1` booleans, text metadata and
    /// waiters, `timeout_ns`, and its own columns tallied, not stored.
    #[test]
    fn a_backup_row_reads_as_the_export_shape_does() {
        let mut ignored = BTreeMap::new();
        let line = r#"{"id":"t-b","title":"T","description":null,"status":"deleted",
            "created_at":"2026-01-01T02:00:00+02:00","updated_at":null,"ephemeral":0,"pinned":1,
            "metadata":"{\"k\":1}","waiters":"a,,b","timeout_ns":5,"rig":"r","agent_state":"",
            "compaction_level":0,"priority":null,"issue_type":null}"#;
        let Ok(Line::Issue(rec)) = parse_line(line, 1, None, &mut ignored) else {
            panic!("the backup row did not parse");
        };
        let i = &rec.issue;
        assert_eq!(
            (i.status.as_str(), i.priority, i.issue_type.as_str()),
            ("tombstone", 2, "task")
        );
        assert_eq!(i.created_at, "2026-01-01T00:00:00.000000Z");
        assert_eq!(i.updated_at, i.created_at);
        assert!(i.pinned && !i.ephemeral);
        assert_eq!(i.metadata, Some(serde_json::json!({"k": 1})));
        assert_eq!(i.waiters, ["a", "b"]);
        assert_eq!(i.timeout, 5);
        assert_eq!(ignored, BTreeMap::from([("rig".to_owned(), 1)]));
    }
}
