//! An issue record as the bulk path keeps it ([`super::fresh`]): what a [`Record`] holds, in
//! two allocations instead of some thirty.
//!
//! An import holds every record of its file at once. As [`Record`]s, 10 000 issues are some
//! 35 MB of small allocations, and touching that much fresh memory (the kernel zeroes every
//! new page) was a third of the parse's time; as `BulkRecord`s they are a fifth of it. Each
//! record is made by the thread that parsed and checked it, right after, so the full record's
//! memory is reused by that thread's next line instead of being kept.

use std::collections::BTreeMap;

use super::Record;
use crate::model::{Comment, Dependency, Issue};
use crate::row::{PlainFields, has_rare_fields};

/// The fields every record keeps in its text, in this order; then its labels, then its edges
/// ([`EDGE_FIELDS`] each).
const ID: usize = 0;
const TITLE: usize = 1;
const DESCRIPTION: usize = 2;
const STATUS: usize = 3;
const ISSUE_TYPE: usize = 4;
const ASSIGNEE: usize = 5;
const CREATED_AT: usize = 6;
const CREATED_BY: usize = 7;
const UPDATED_AT: usize = 8;
const STARTED_AT: usize = 9;
const CLOSED_AT: usize = 10;
const CLOSE_REASON: usize = 11;
const HASH: usize = 12;
const FIXED: usize = 13;
/// An edge's target, kind, creation time, creator and metadata (its source is the record).
const EDGE_FIELDS: usize = 5;

/// A checked record: its issue's row fields, content hash, labels (sorted) and edges (one per
/// target, the file's last for a target winning, as an upsert would) as slices of one text;
/// an issue with any rare field set also whole, for the full insert.
#[derive(Clone)]
pub(crate) struct BulkRecord {
    pub file: Option<String>,
    pub line: usize,
    text: String,
    /// Where each field ends in `text`; it starts where the one before ends.
    ends: Vec<u32>,
    labels: usize,
    pub priority: i64,
    started: bool,
    closed: bool,
    pub ephemeral: bool,
    pub is_template: bool,
    pub pinned: bool,
    /// The issue whole, when it has a field beyond the plain ones (most have none).
    pub rare: Option<Box<Issue>>,
    pub comments: Vec<Comment>,
}

/// An edge of a [`BulkRecord`], from the record's issue.
pub(crate) struct BulkEdge<'a> {
    pub to: &'a str,
    pub kind: &'a str,
    pub created_at: &'a str,
    pub created_by: &'a str,
    pub metadata: &'a str,
}

impl BulkRecord {
    /// `rec`, checked and hashed, kept compactly.
    pub(crate) fn new(rec: Record) -> Self {
        let Record {
            file,
            line,
            issue,
            hash,
            labels,
            deps,
            comments,
        } = rec;
        let edges = one_per_target(&deps);
        let fixed: [&str; FIXED] = [
            &issue.id,
            &issue.title,
            &issue.description,
            &issue.status,
            &issue.issue_type,
            &issue.assignee,
            &issue.created_at,
            &issue.created_by,
            &issue.updated_at,
            issue.started_at.as_deref().unwrap_or(""),
            issue.closed_at.as_deref().unwrap_or(""),
            &issue.close_reason,
            &hash,
        ];
        let fields = fixed
            .into_iter()
            .chain(labels.iter().map(String::as_str))
            .chain(edges.iter().flat_map(|d| {
                [
                    d.depends_on_id.as_str(),
                    &d.kind,
                    &d.created_at,
                    &d.created_by,
                    &d.metadata,
                ]
            }));
        let size = fields.clone().map(str::len).sum();
        let mut text = String::with_capacity(size);
        let mut ends = Vec::with_capacity(FIXED + labels.len() + EDGE_FIELDS * edges.len());
        for field in fields {
            text.push_str(field);
            ends.push(u32::try_from(text.len()).expect("a record's text is under 4 GiB"));
        }
        Self {
            file,
            line,
            text,
            ends,
            labels: labels.len(),
            priority: issue.priority,
            started: issue.started_at.is_some(),
            closed: issue.closed_at.is_some(),
            ephemeral: issue.ephemeral,
            is_template: issue.is_template,
            pinned: issue.pinned,
            rare: has_rare_fields(&issue).then(|| Box::new(issue)),
            comments,
        }
    }

    /// The same record as a [`Record`] (for the path that compares with the store, when a
    /// store that was empty at parse time has issues by the time of the write).
    pub(crate) fn to_record(&self) -> Record {
        let issue = match &self.rare {
            Some(issue) => (**issue).clone(),
            None => Issue {
                id: self.id().to_owned(),
                title: self.field(TITLE).to_owned(),
                description: self.field(DESCRIPTION).to_owned(),
                status: self.status().to_owned(),
                priority: self.priority,
                issue_type: self.issue_type().to_owned(),
                assignee: self.field(ASSIGNEE).to_owned(),
                created_at: self.field(CREATED_AT).to_owned(),
                created_by: self.field(CREATED_BY).to_owned(),
                updated_at: self.field(UPDATED_AT).to_owned(),
                started_at: self.started.then(|| self.field(STARTED_AT).to_owned()),
                closed_at: self.closed.then(|| self.field(CLOSED_AT).to_owned()),
                close_reason: self.close_reason().to_owned(),
                ..Issue::default()
            },
        };
        Record {
            file: self.file.clone(),
            line: self.line,
            hash: self.hash().to_owned(),
            labels: self.labels().map(str::to_owned).collect(),
            deps: self
                .edges()
                .map(|e| Dependency {
                    issue_id: issue.id.clone(),
                    depends_on_id: e.to.to_owned(),
                    kind: e.kind.to_owned(),
                    created_at: e.created_at.to_owned(),
                    created_by: e.created_by.to_owned(),
                    metadata: e.metadata.to_owned(),
                })
                .collect(),
            comments: self.comments.clone(),
            issue,
        }
    }

    fn field(&self, k: usize) -> &str {
        let start = if k == 0 { 0 } else { self.ends[k - 1] as usize };
        &self.text[start..self.ends[k] as usize]
    }

    pub(crate) fn id(&self) -> &str {
        self.field(ID)
    }

    pub(crate) fn status(&self) -> &str {
        self.field(STATUS)
    }

    pub(crate) fn issue_type(&self) -> &str {
        self.field(ISSUE_TYPE)
    }

    pub(crate) fn close_reason(&self) -> &str {
        self.field(CLOSE_REASON)
    }

    pub(crate) fn hash(&self) -> &str {
        self.field(HASH)
    }

    /// The row's plain fields, as [`crate::row::SummarizedInsert`] binds them.
    pub(crate) fn plain(&self) -> PlainFields<'_> {
        PlainFields {
            id: self.id(),
            title: self.field(TITLE),
            description: self.field(DESCRIPTION),
            status: self.status(),
            priority: self.priority,
            issue_type: self.issue_type(),
            assignee: self.field(ASSIGNEE),
            created_at: self.field(CREATED_AT),
            created_by: self.field(CREATED_BY),
            updated_at: self.field(UPDATED_AT),
            started_at: self.started.then(|| self.field(STARTED_AT)),
            closed_at: self.closed.then(|| self.field(CLOSED_AT)),
            close_reason: self.close_reason(),
            content_hash: self.hash(),
        }
    }

    /// The labels, sorted.
    pub(crate) fn labels(&self) -> impl Iterator<Item = &str> {
        (FIXED..FIXED + self.labels).map(|k| self.field(k))
    }

    pub(crate) fn edge_count(&self) -> usize {
        (self.ends.len() - FIXED - self.labels) / EDGE_FIELDS
    }

    /// The edges, by target.
    pub(crate) fn edges(&self) -> impl Iterator<Item = BulkEdge<'_>> {
        let first = FIXED + self.labels;
        (0..self.edge_count()).map(move |e| {
            let k = first + e * EDGE_FIELDS;
            BulkEdge {
                to: self.field(k),
                kind: self.field(k + 1),
                created_at: self.field(k + 2),
                created_by: self.field(k + 3),
                metadata: self.field(k + 4),
            }
        })
    }
}

/// The edges of one record, one per target: a later edge to the same target replaces an
/// earlier one, as it would if they were added one by one. Several come out sorted by target.
fn one_per_target(deps: &[Dependency]) -> Vec<&Dependency> {
    match deps {
        [] | [_] => deps.iter().collect(),
        many => many
            .iter()
            .map(|d| (d.depends_on_id.as_str(), d))
            .collect::<BTreeMap<_, _>>()
            .into_values()
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::{BulkRecord, one_per_target};
    use crate::ops::jsonl::{Line, check_record, parse_line};
    use crate::store::Settings;

    /// A plain issue with labels and two edges to one target, one started, one closed, one
    /// with rare fields, comments and an external edge.
    const LINES: [&str; 4] = [
        r#"{"id":"bd-a1","title":"Plain","description":"words","assignee":"bob","created_by":"ann","created_at":"2025-01-01T00:00:00Z","labels":["b","a"],"dependencies":[{"depends_on_id":"bd-b2"},{"depends_on_id":"bd-c3","type":"related"},{"depends_on_id":"bd-b2","type":"parent-child","created_by":"x"}]}"#,
        r#"{"id":"bd-b2","title":"Started","status":"in_progress","priority":0,"created_at":"2025-01-01T00:00:00Z","started_at":"2025-01-02T00:00:00Z"}"#,
        r#"{"id":"bd-c3","title":"Closed","status":"closed","created_at":"2025-01-01T00:00:00Z","closed_at":"2025-01-03T00:00:00Z","close_reason":"done","dependencies":[{"depends_on_id":"external:p:cap"}]}"#,
        r#"{"id":"bd-d4","title":"Rare","created_at":"2025-01-01T00:00:00Z","design":"d","ephemeral":true,"metadata":"{\"k\": 1}","labels":["provides:x"],"comments":[{"id":"c-1","author":"ann","text":"hi","created_at":"2025-01-02T00:00:00Z"}]}"#,
    ];

    /// A record kept compactly gives back everything it had (its edges one per target, the
    /// later winning), and reads the same through its accessors.
    #[test]
    fn a_bulk_record_keeps_everything_of_its_record() {
        for line in LINES {
            let Ok(Line::Issue(rec)) =
                parse_line(line, 7, Some("issues.jsonl"), &mut BTreeMap::new())
            else {
                panic!("{line}")
            };
            let mut rec = *rec;
            check_record(&Settings::default(), &mut rec).unwrap();
            let bulk = BulkRecord::new(rec.clone());
            let mut want = rec;
            want.deps = one_per_target(&want.deps).into_iter().cloned().collect();
            assert_eq!(bulk.to_record(), want, "{line}");
            assert_eq!(
                bulk.rare.is_some(),
                crate::row::has_rare_fields(&want.issue)
            );
            assert_eq!(bulk.edge_count(), want.deps.len());
            assert_eq!(
                (bulk.id(), bulk.status(), bulk.issue_type(), bulk.hash()),
                (
                    want.issue.id.as_str(),
                    want.issue.status.as_str(),
                    want.issue.issue_type.as_str(),
                    want.hash.as_str()
                )
            );
            let plain = bulk.plain();
            assert_eq!(
                (plain.started_at, plain.closed_at, plain.priority),
                (
                    want.issue.started_at.as_deref(),
                    want.issue.closed_at.as_deref(),
                    want.issue.priority
                )
            );
        }
    }
}
