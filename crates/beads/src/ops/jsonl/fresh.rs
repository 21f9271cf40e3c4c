//! The bulk path of an import into a store with no issues: rows in id order with their
//! summaries, counts and readiness computed from the records, the summary triggers and the
//! secondary indexes off while the rows go in.

use std::borrow::Cow;

use rusqlite::Connection;
use serde_json::Value;

use super::bulk::BulkRecord;
use super::cycles::{FileEdge, refuse_cycles};
use super::{ImportReport, REFRESH_SUMMARIES_OF, record_err};
use crate::error::{Error, Result};
use crate::ops::deps::insert_comment;
use crate::readiness;
use crate::store::{Settings, WriteCtx};

/// Keeps, of the records of one id, the last line's (a later line wins, as it does when lines
/// are applied one by one), in file order; returns their positions in id order. The records
/// stay where the parse put them, so the passes that visit each of them once (readiness,
/// counts) read memory in the order it was written, and only the inserts, which want rows in
/// id order (B-tree appends), jump around it. The sort compares a copy of each id's first
/// eight bytes (where most ids differ) before the ids themselves: the comparisons stay in one
/// compact array instead of following pointers into the records.
fn id_order(records: &mut Vec<&BulkRecord>) -> Vec<usize> {
    let prefix = |id: &str| {
        let mut head = [0u8; 8];
        let n = id.len().min(8);
        head[..n].copy_from_slice(&id.as_bytes()[..n]);
        u64::from_be_bytes(head)
    };
    let mut keyed: Vec<(u64, &str, usize)> = records
        .iter()
        .enumerate()
        .map(|(k, rec)| (prefix(rec.id()), rec.id(), k))
        .collect();
    keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)).then(a.2.cmp(&b.2)));
    keyed.dedup_by(|later, earlier| {
        if later.1 == earlier.1 {
            std::mem::swap(later, earlier);
            true
        } else {
            false
        }
    });
    if keyed.len() < records.len() {
        // Drop the overridden records; a record's new position is the number of kept ones
        // before it.
        let mut kept = vec![false; records.len()];
        for &(.., k) in &keyed {
            kept[k] = true;
        }
        let mut position = Vec::with_capacity(records.len());
        let mut next = 0;
        for &keep in &kept {
            position.push(next);
            next += usize::from(keep);
        }
        let mut flags = kept.iter();
        records.retain(|_| flags.next().copied().unwrap_or(false));
        for entry in &mut keyed {
            entry.2 = position[entry.2];
        }
    }
    keyed.into_iter().map(|(.., k)| k).collect()
}

/// The bulk path: the store has no issues, so nothing is compared or replaced. Rows go in
/// sorted by id (B-tree appends rather than random inserts) with their summaries, counts and
/// readiness computed here from the records themselves, since the triggers are off. What is
/// the same for every row (its `imported` event) is written afterwards by one statement
/// rather than row by row.
///
/// Two threads share the work: while this one writes the edge and label rows (which need
/// nothing but their own record), a second checks the file for cycles and works out what
/// each issue row needs from the whole graph (its readiness, its number of dependents); the
/// issue rows go in once both are done. `records` are all the file's issues in file order,
/// an id given twice among them (which the cycle check reads as the other paths do).
pub(super) fn insert_fresh(
    tx: &Connection,
    w: &WriteCtx<'_>,
    records: &[&BulkRecord],
    report: &mut ImportReport,
) -> Result<()> {
    let all = records;
    let mut records = records.to_vec();
    let order = id_order(&mut records);
    let records: &[&BulkRecord] = &records;
    let settings = w.settings;
    let whole = std::thread::scope(|scope| {
        let whole = scope.spawn(|| -> Result<WholeGraph<'_>> {
            refuse_cycles(
                || all.iter().map(|r| r.id()).collect(),
                &file_edges(all),
                None,
            )?;
            Ok(WholeGraph::of(records, settings))
        });
        let written = insert_relations(tx, records, &order, report);
        // A cycle is reported before anything the rows' writing ran into, as when the check
        // ran first.
        let whole = whole
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        written.map(|()| whole)
    })?;
    insert_issue_rows(tx, w, records, &order, &whole, report)
}

/// The edges of `records`, for the cycle check.
fn file_edges<'a>(records: &[&'a BulkRecord]) -> Vec<FileEdge<'a>> {
    records
        .iter()
        .flat_map(|rec| {
            rec.edges().map(|e| FileEdge {
                from: rec.id(),
                to: e.to,
                kind: e.kind,
                file: rec.file.as_deref(),
                line: rec.line,
            })
        })
        .collect()
}

/// What an issue row needs from the whole file: whether the issue is blocked (by its
/// position among the records) and how many edges point at it (by id).
struct WholeGraph<'a> {
    blocked: Vec<bool>,
    dependents: foldhash::HashMap<&'a str, i64>,
}

impl<'a> WholeGraph<'a> {
    fn of(records: &[&'a BulkRecord], settings: &Settings) -> Self {
        let mut graph = readiness::Graph::default();
        graph.status.reserve(records.len());
        graph
            .edges
            .reserve(records.iter().map(|r| r.edge_count()).sum());
        let mut dependents: foldhash::HashMap<&str, i64> =
            foldhash::HashMap::with_capacity_and_hasher(records.len(), Default::default());
        for rec in records {
            graph.status.insert(
                Cow::Borrowed(rec.id()),
                (
                    Cow::Borrowed(rec.status()),
                    Cow::Borrowed(rec.close_reason()),
                ),
            );
            for e in rec.edges() {
                *dependents.entry(e.to).or_default() += 1;
                let gate = if e.metadata == "{}" {
                    None
                } else {
                    serde_json::from_str::<Value>(e.metadata)
                        .ok()
                        .and_then(|m| m.get("gate").and_then(Value::as_str).map(str::to_owned))
                        .map(Cow::Owned)
                };
                graph.edges.push((
                    Cow::Borrowed(rec.id()),
                    Cow::Borrowed(e.to),
                    Cow::Borrowed(e.kind),
                    gate,
                ));
            }
            if rec.status() == "closed" {
                for l in rec.labels() {
                    if let Some(cap) = readiness::provided_capability(l) {
                        graph.provided.insert(Cow::Borrowed(cap));
                    }
                }
            }
        }
        let blocked = readiness::compute(&graph, settings);
        Self {
            blocked: records
                .iter()
                .map(|rec| blocked.get(rec.id()).copied().unwrap_or(false))
                .collect(),
            dependents,
        }
    }
}

/// Writes every record's edges and labels, in id order.
fn insert_relations(
    tx: &Connection,
    records: &[&BulkRecord],
    order: &[usize],
    report: &mut ImportReport,
) -> Result<()> {
    // Prepared once for the whole loop, not looked up in the statement cache row by row.
    let mut insert_edge = tx.prepare(
        "INSERT INTO dependencies (issue_id, depends_on_id, type, created_at, created_by, metadata)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut insert_label = tx.prepare("INSERT INTO labels (issue_id, label) VALUES (?1, ?2)")?;
    for &k in order {
        let rec = records[k];
        for label in rec.labels() {
            insert_label.execute([rec.id(), label])?;
            report.labels_changed += 1;
        }
        for e in rec.edges() {
            insert_edge
                .execute([
                    rec.id(),
                    e.to,
                    e.kind,
                    e.created_at,
                    e.created_by,
                    e.metadata,
                ])
                .map_err(|err| bulk_err(rec, &err))?;
            report.dependencies_changed += 1;
        }
    }
    Ok(())
}

/// An error about a record, naming its file (in a backup), line and issue.
fn bulk_err(rec: &BulkRecord, e: &dyn std::fmt::Display) -> Error {
    record_err(rec.file.as_deref(), rec.line, rec.id(), e)
}

/// Writes every record's issue row with its summaries and readiness, its comments, its
/// `imported` event and the counts, in id order.
fn insert_issue_rows(
    tx: &Connection,
    w: &WriteCtx<'_>,
    records: &[&BulkRecord],
    order: &[usize],
    whole: &WholeGraph<'_>,
    report: &mut ImportReport,
) -> Result<()> {
    // Hashed, not ordered: a handful of keys looked up once per row (an ordered map compares
    // up to three strings per step), written in any order.
    let mut counts: foldhash::HashMap<(&str, &str, &str, bool, bool, bool), i64> =
        foldhash::HashMap::default();
    let mut insert_issue = crate::row::SummarizedInsert::prepare(tx)?;
    let mut labels_json: Vec<u8> = Vec::new();
    // Issues whose comments include one the store already had (a comment id given twice):
    // their comment count is recounted once the rows are in.
    let mut recount: Vec<&str> = Vec::new();
    for &k in order {
        let rec = records[k];
        labels_json.clear();
        write_labels_json(&mut labels_json, rec.labels());
        let summary = crate::row::RowSummary {
            labels: std::str::from_utf8(&labels_json).expect("JSON is UTF-8"),
            parent: rec
                .edges()
                .filter(|e| e.kind == "parent-child")
                .map(|e| e.to)
                .max(),
            dependency_count: rec.edge_count() as i64,
            dependent_count: whole.dependents.get(rec.id()).copied().unwrap_or(0),
            comment_count: rec.comments.len() as i64,
            blocked: whole.blocked[k],
        };
        match &rec.rare {
            Some(issue) => insert_issue.insert_full(issue, rec.hash(), &summary),
            None => insert_issue.insert_plain(&rec.plain(), &summary),
        }
        .map_err(|e| bulk_err(rec, &e))?;
        report.created += 1;
        let prefix = rec.id().split_once('-').map_or("", |(p, _)| p);
        *counts
            .entry((
                prefix,
                rec.status(),
                rec.issue_type(),
                rec.ephemeral,
                rec.is_template,
                rec.pinned,
            ))
            .or_default() += 1;
        for c in &rec.comments {
            if insert_comment(tx, c)? {
                report.comments_added += 1;
            } else {
                recount.push(rec.id());
            }
        }
    }
    // Every issue in the store is one of these: each gets what
    // `event(…, "imported", None, None, Some("created"))` writes, in id order.
    tx.execute(
        "INSERT INTO events (issue_id, event_type, actor, created_at, comment)
         SELECT id, 'imported', ?1, ?2, 'created' FROM issues ORDER BY id",
        [w.actor, w.now],
    )?;
    if !recount.is_empty() {
        let ids = serde_json::to_string(&recount).expect("ids serialize");
        tx.execute(REFRESH_SUMMARIES_OF, [ids])?;
    }
    let mut put = tx.prepare_cached(
        "INSERT INTO issue_counts (prefix, status, issue_type, ephemeral, is_template, pinned, n)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for ((prefix, status, kind, ephemeral, template, pinned), n) in counts {
        put.execute(rusqlite::params![
            prefix, status, kind, ephemeral, template, pinned, n
        ])?;
    }
    Ok(())
}

/// The JSON array of `labels` (sorted, as the set holds them), as the `cached_labels`
/// summary has it. A label is checked to hold no whitespace or control character, so most
/// need no escaping and their text goes in as it is; one with a quote or backslash is
/// escaped by serde.
fn write_labels_json<'a>(out: &mut Vec<u8>, labels: impl Iterator<Item = &'a str>) {
    out.push(b'[');
    for (k, label) in labels.enumerate() {
        if k > 0 {
            out.push(b',');
        }
        if label.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
            serde_json::to_writer(&mut *out, label).expect("labels serialize");
        } else {
            out.push(b'"');
            out.extend_from_slice(label.as_bytes());
            out.push(b'"');
        }
    }
    out.push(b']');
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// The labels summary written by the bulk path reads as serde (and SQLite's
    /// `json_group_array`) would write it, for labels that need escaping too.
    #[test]
    fn labels_json_is_the_json_array_of_the_labels() {
        for labels in [
            vec![],
            vec!["one"],
            vec!["b", "a", "provides:x"],
            vec![r#"say"what"#, r"back\slash", "ü"],
        ] {
            let set: BTreeSet<String> = labels.into_iter().map(str::to_owned).collect();
            let mut out = Vec::new();
            super::write_labels_json(&mut out, set.iter().map(String::as_str));
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(&set).unwrap()
            );
        }
    }
}
