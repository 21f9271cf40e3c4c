//! Reading upstream's backup: the JSONL files `bd backup` writes into `.beads/backup/`, one
//! per table of its Dolt database.
//!
//! What upstream writes (its `cmd/bd/backup_export.go`, and the files in the beads and Gas Town
//! repositories): every row of a table as one JSON object keyed by column name, `null` for SQL
//! `NULL`, `0`/`1` for booleans, timestamps in RFC 3339.
//! - `issues.jsonl`: every column of `issues` (and of `wisps`, when it has one), sorted by id.
//! - `dependencies.jsonl`: `issue_id`, `depends_on_id`, `type`, `created_at`, `created_by`.
//! - `labels.jsonl`: `issue_id`, `label` (a label can appear twice: `labels` and `wisp_labels`
//!   are concatenated).
//! - `comments.jsonl`: integer `id`, `issue_id`, `author`, `text`, `created_at`.
//! - `events.jsonl`: integer `id`, `issue_id`, `event_type`, `actor`, `old_value`, `new_value`,
//!   `comment`, `created_at` (appended to between backups).
//! - `config.jsonl`: `key`, `value`.
//!
//! Relation rows are attached to their issues and checked with the same validators as the
//! export shape; a row naming an issue that `issues.jsonl` lacks is counted as an orphan.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::ops::deps::validate_label;
use crate::ops::jsonl::{
    ImportInput, Line, Parse, UpstreamEvent, bad_row, numbered_lines, parse_lines, read_text,
};
use crate::store::normalize_ts;

/// The files of a backup besides `issues.jsonl`.
pub const TABLE_FILES: &[&str] = &[
    "dependencies.jsonl",
    "labels.jsonl",
    "comments.jsonl",
    "events.jsonl",
    "config.jsonl",
];

/// Config keys of upstream's that describe its own database, not the issues: not imported.
const UPSTREAM_INTERNAL_CONFIG: &[&str] = &["schema_version"];

/// Whether `path` names a backup: a directory holding `issues.jsonl`, or an `issues.jsonl`
/// with at least one of the other table files beside it. Returns its `issues.jsonl`.
pub fn backup_issues_file(path: &Path) -> Option<PathBuf> {
    if path.is_dir() {
        return Some(path.join("issues.jsonl"));
    }
    let dir = path.parent()?;
    (path.file_name()? == "issues.jsonl" && TABLE_FILES.iter().any(|f| dir.join(f).is_file()))
        .then(|| path.to_owned())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelRow {
    issue_id: String,
    label: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigRow {
    key: String,
    value: String,
}

#[derive(Deserialize)]
struct EventRow {
    #[serde(rename = "id")]
    _id: Option<i64>,
    issue_id: String,
    event_type: String,
    actor: Option<String>,
    old_value: Option<String>,
    new_value: Option<String>,
    comment: Option<String>,
    created_at: String,
}

/// Reads a backup whose `issues.jsonl` is `issues`, and its sibling files.
pub(crate) fn read(issues: &Path) -> Result<ImportInput> {
    let dir = issues.parent().unwrap_or(Path::new("."));
    let mut input = ImportInput::default();
    let f = std::fs::File::open(issues).map_err(|e| Error::io(issues, e))?;
    let text = read_text(f, issues, Some("issues.jsonl"))?;
    (input.lines, input.ignored_fields) = parse_lines(
        &numbered_lines(&text),
        Some("issues.jsonl"),
        Parse::Unchecked,
    )?;
    let index: HashMap<String, usize> = input
        .lines
        .iter()
        .enumerate()
        .filter_map(|(k, l)| match l {
            Line::Issue(rec) => Some((rec.issue.id.clone(), k)),
            Line::Bulk(_) | Line::Memory(..) => None,
        })
        .collect();
    let attach = |input: &mut ImportInput, issue_id: &str| -> Option<usize> {
        index
            .get(issue_id)
            .copied()
            .filter(|k| matches!(input.lines.get(*k), Some(Line::Issue(_))))
    };

    for (n, line) in numbered_lines(&table(dir, "config.jsonl")?) {
        let row: ConfigRow = row_of(line, n, "config.jsonl")?;
        let bad = |reason: String| bad_row(Some("config.jsonl"), n, reason);
        if row.key.trim().is_empty() {
            return Err(bad("field `key` is empty".into()));
        }
        if UPSTREAM_INTERNAL_CONFIG.contains(&row.key.as_str()) {
            input
                .config_skipped
                .push(format!("{} (upstream's own bookkeeping)", row.key));
        } else if row.key == "issue_prefix" {
            // The store keeps its own prefix: ids keep theirs whatever it is.
            input
                .config_skipped
                .push("issue_prefix (the store keeps its own)".to_owned());
        } else {
            input.config.push((n, row.key, row.value));
        }
    }

    for (n, line) in numbered_lines(&table(dir, "labels.jsonl")?) {
        let row: LabelRow = row_of(line, n, "labels.jsonl")?;
        validate_label(&row.label)
            .map_err(|e| bad_row(Some("labels.jsonl"), n, format!("field `label`: {e}")))?;
        match attach(&mut input, &row.issue_id) {
            Some(k) => {
                if let Some(Line::Issue(rec)) = input.lines.get_mut(k) {
                    rec.labels.insert(row.label);
                }
            }
            None => input.orphans.labels += 1,
        }
    }

    for (n, line) in numbered_lines(&table(dir, "dependencies.jsonl")?) {
        let (map, raw) = object_of(line, n, "dependencies.jsonl")?;
        let from = required_str(&map, "issue_id", n, "dependencies.jsonl")?;
        match attach(&mut input, &from) {
            Some(k) => {
                if let Some(Line::Issue(rec)) = input.lines.get_mut(k) {
                    let dep = crate::ops::jsonl::parse_dep(raw, &rec.issue)
                        .map_err(|e| bad_row(Some("dependencies.jsonl"), n, e))?;
                    rec.deps.push(dep);
                }
            }
            None => input.orphans.dependencies += 1,
        }
    }

    for (n, line) in numbered_lines(&table(dir, "comments.jsonl")?) {
        let (map, raw) = object_of(line, n, "comments.jsonl")?;
        let on = required_str(&map, "issue_id", n, "comments.jsonl")?;
        match attach(&mut input, &on) {
            Some(k) => {
                if let Some(Line::Issue(rec)) = input.lines.get_mut(k) {
                    let comment = crate::ops::jsonl::parse_comment(raw, &rec.issue)
                        .map_err(|e| bad_row(Some("comments.jsonl"), n, e))?;
                    rec.comments.push(comment);
                }
            }
            None => input.orphans.comments += 1,
        }
    }

    for (n, line) in numbered_lines(&table(dir, "events.jsonl")?) {
        let row: EventRow = row_of(line, n, "events.jsonl")?;
        let bad = |reason: String| bad_row(Some("events.jsonl"), n, reason);
        if row.issue_id.trim().is_empty() {
            return Err(bad("field `issue_id` is empty".into()));
        }
        if row.event_type.trim().is_empty() {
            return Err(bad("field `event_type` is empty".into()));
        }
        let created_at =
            normalize_ts(&row.created_at).map_err(|e| bad(format!("field `created_at`: {e}")))?;
        input.events.push(UpstreamEvent {
            issue_id: row.issue_id,
            event_type: row.event_type,
            actor: row.actor.unwrap_or_default(),
            old_value: row.old_value,
            new_value: row.new_value,
            comment: row.comment,
            created_at,
        });
    }
    Ok(input)
}

/// The text of one table file; empty when the file is missing.
fn table(dir: &Path, name: &str) -> Result<String> {
    let path = dir.join(name);
    match std::fs::File::open(&path) {
        Ok(f) => read_text(f, &path, Some(name)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// One row as a typed value; a wrong or missing field is named.
fn row_of<T: for<'de> Deserialize<'de>>(line: &str, n: usize, file: &str) -> Result<T> {
    let mut de = serde_json::Deserializer::from_str(line);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let reason = if path == "." {
            format!("not a valid row: {}", e.inner())
        } else {
            format!("field `{path}`: {}", e.inner())
        };
        bad_row(Some(file), n, reason)
    })
}

/// One row as a JSON object, with its raw text for the parsers of import lines.
fn object_of<'a>(
    line: &'a str,
    n: usize,
    file: &str,
) -> Result<(Map<String, Value>, &'a RawValue)> {
    let parsed = serde_json::from_str::<&RawValue>(line)
        .and_then(|raw| Ok((serde_json::from_str::<Value>(raw.get())?, raw)));
    match parsed {
        Ok((Value::Object(map), raw)) => Ok((map, raw)),
        Ok(_) => Err(bad_row(Some(file), n, "expected a JSON object".into())),
        Err(e) => Err(bad_row(Some(file), n, format!("not valid JSON: {e}"))),
    }
}

fn required_str(map: &Map<String, Value>, key: &str, n: usize, file: &str) -> Result<String> {
    match map.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(bad_row(Some(file), n, format!("field `{key}` is empty"))),
        None | Some(Value::Null) => {
            Err(bad_row(Some(file), n, format!("field `{key}` is missing")))
        }
        Some(_) => Err(bad_row(
            Some(file),
            n,
            format!("field `{key}` must be a string"),
        )),
    }
}
