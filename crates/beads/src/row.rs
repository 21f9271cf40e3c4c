//! Mapping between `issues` rows and [`Issue`].

use std::borrow::Cow;

use rusqlite::Row;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ValueRef};

use crate::model::{Issue, IssueView};

/// The columns of an issue, in the order [`issue_from_row`] reads them, qualified with `i`.
///
/// The last one, kept by the schema's triggers, says whether any rarely used field is set: most
/// issues have only a title, a description and the status fields, and skipping 34 column reads
/// for them halves the cost of decoding a row, which is most of a large listing's time. A field
/// read with [`rare`] must be one the schema counts as rare (`every_rare_field_is_kept_track_of`
/// checks).
macro_rules! issue_columns {
    () => {
        "i.id, i.title, i.description, i.design, i.acceptance_criteria, i.notes,
    i.status, i.priority, i.issue_type, i.assignee, i.owner, i.estimated_minutes, i.created_at, i.created_by,
    i.updated_at, i.started_at, i.closed_at, i.close_reason, i.closed_by_session, i.due_at, i.defer_until,
    i.external_ref, i.source_system, i.spec_id, i.metadata, i.sender, i.ephemeral, i.no_history, i.wisp_type,
    i.pinned, i.is_template, i.mol_type, i.work_type, i.await_type, i.await_id, i.timeout_ns, i.waiters,
    i.event_kind, i.actor, i.target, i.payload, i.source_formula, i.source_location, i.deleted_at,
    i.deleted_by, i.delete_reason, i.original_type, i.cached_rare_fields"
    };
}

/// The columns [`issue_from_row`] reads, in order, qualified with the alias `i`.
pub(crate) const ISSUE_COLUMNS: &str = issue_columns!();

/// [`ISSUE_COLUMNS`] followed by the relation summaries the schema's triggers keep on each row;
/// [`view_from_row`] reads them.
pub(crate) const VIEW_COLUMNS: &str = concat!(
    issue_columns!(),
    ", i.cached_labels, i.cached_parent, i.cached_dependency_count, i.cached_dependent_count,
    i.cached_comment_count"
);

/// [`VIEW_COLUMNS`] with the rarely used columns replaced by `NULL`: SQLite then does not
/// extract them for every row of a large listing. A row whose rare fields are set (few) is
/// read again whole by [`listing_view_from_row`]. Position for position the same as
/// [`VIEW_COLUMNS`] (`listing_columns_line_up_with_view_columns` checks).
pub(crate) const LISTING_COLUMNS: &str = "i.id, i.title, i.description, NULL, NULL, NULL,
    i.status, i.priority, i.issue_type, i.assignee, NULL, NULL, i.created_at, i.created_by,
    i.updated_at, i.started_at, i.closed_at, i.close_reason, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, i.cached_rare_fields, i.cached_labels, i.cached_parent,
    i.cached_dependency_count, i.cached_dependent_count, i.cached_comment_count";

/// Reads the row (selected with [`LISTING_COLUMNS`]) into `view`, reusing the text it held:
/// a listing decodes thousands of rows into one view, and a fresh one each would allocate
/// and free every field of every row. An issue with rare fields set is read again whole.
pub(crate) fn read_listing_view(
    r: &Row<'_>,
    conn: &rusqlite::Connection,
    view: &mut IssueView,
) -> rusqlite::Result<()> {
    if r.get::<_, bool>(RARE_FIELDS_COLUMN)? {
        let id: String = r.get(0)?;
        view.issue = conn
            .prepare_cached(&format!(
                "SELECT {ISSUE_COLUMNS} FROM issues i WHERE i.id = ?1"
            ))?
            .query_row([&id], issue_from_row)?;
    } else {
        read_issue(r, &mut view.issue)?;
    }
    read_summaries(r, view)
}

/// How many columns [`ISSUE_COLUMNS`] selects: a query's own extra columns start here.
pub(crate) const ISSUE_COLUMN_COUNT: usize = RARE_FIELDS_COLUMN + 1;

/// Where the relation summaries start in a [`VIEW_COLUMNS`] row.
const FIRST_SUMMARY_COLUMN: usize = ISSUE_COLUMN_COUNT;

/// The column that says whether any rarely used field holds something other than its default.
const RARE_FIELDS_COLUMN: usize = 47;

/// Reads an [`IssueView`] (without dependencies or comments) from a row selected with
/// [`VIEW_COLUMNS`].
pub(crate) fn view_from_row(r: &Row<'_>) -> rusqlite::Result<IssueView> {
    let mut view = IssueView {
        issue: issue_from_row(r)?,
        ..IssueView::default()
    };
    read_summaries(r, &mut view)?;
    Ok(view)
}

/// Reads the relation summaries of row `r` (selected with [`VIEW_COLUMNS`] or
/// [`LISTING_COLUMNS`]) into `view`.
fn read_summaries(r: &Row<'_>, view: &mut IssueView) -> rusqlite::Result<()> {
    let labels = r.get_ref(FIRST_SUMMARY_COLUMN)?.as_str()?;
    if labels == "[]" {
        view.labels.clear();
    } else {
        view.labels = serde_json::from_str(labels).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(
                FIRST_SUMMARY_COLUMN,
                rusqlite::types::Type::Text,
                Box::new(e),
            )
        })?;
    }
    column(r, FIRST_SUMMARY_COLUMN + 1, &mut view.parent)?;
    column(r, FIRST_SUMMARY_COLUMN + 2, &mut view.dependency_count)?;
    column(r, FIRST_SUMMARY_COLUMN + 3, &mut view.dependent_count)?;
    column(r, FIRST_SUMMARY_COLUMN + 4, &mut view.comment_count)?;
    view.dependencies = None;
    view.comments = None;
    Ok(())
}

/// Reads an [`Issue`] from a row selected with [`ISSUE_COLUMNS`].
pub(crate) fn issue_from_row(r: &Row<'_>) -> rusqlite::Result<Issue> {
    let mut issue = Issue::default();
    read_issue(r, &mut issue)?;
    Ok(issue)
}

/// Reads a row selected with [`ISSUE_COLUMNS`] into `i`, reusing the text it held.
fn read_issue(r: &Row<'_>, i: &mut Issue) -> rusqlite::Result<()> {
    let plain = !r.get::<_, bool>(RARE_FIELDS_COLUMN)?;
    let metadata: String = rare_value(r, plain, 24)?;
    let waiters: String = rare_value(r, plain, 36)?;
    column(r, 0, &mut i.id)?;
    column(r, 1, &mut i.title)?;
    column(r, 2, &mut i.description)?;
    rare(r, plain, 3, &mut i.design)?;
    rare(r, plain, 4, &mut i.acceptance_criteria)?;
    rare(r, plain, 5, &mut i.notes)?;
    column(r, 6, &mut i.status)?;
    column(r, 7, &mut i.priority)?;
    column(r, 8, &mut i.issue_type)?;
    column(r, 9, &mut i.assignee)?;
    rare(r, plain, 10, &mut i.owner)?;
    rare(r, plain, 11, &mut i.estimated_minutes)?;
    column(r, 12, &mut i.created_at)?;
    column(r, 13, &mut i.created_by)?;
    column(r, 14, &mut i.updated_at)?;
    column(r, 15, &mut i.started_at)?;
    column(r, 16, &mut i.closed_at)?;
    column(r, 17, &mut i.close_reason)?;
    rare(r, plain, 18, &mut i.closed_by_session)?;
    rare(r, plain, 19, &mut i.due_at)?;
    rare(r, plain, 20, &mut i.defer_until)?;
    rare(r, plain, 21, &mut i.external_ref)?;
    rare(r, plain, 22, &mut i.source_system)?;
    rare(r, plain, 23, &mut i.spec_id)?;
    i.metadata = if metadata.is_empty() || metadata == "{}" {
        None
    } else {
        serde_json::from_str(&metadata).ok()
    };
    rare(r, plain, 25, &mut i.sender)?;
    rare(r, plain, 26, &mut i.ephemeral)?;
    rare(r, plain, 27, &mut i.no_history)?;
    rare(r, plain, 28, &mut i.wisp_type)?;
    rare(r, plain, 29, &mut i.pinned)?;
    rare(r, plain, 30, &mut i.is_template)?;
    rare(r, plain, 31, &mut i.mol_type)?;
    rare(r, plain, 32, &mut i.work_type)?;
    rare(r, plain, 33, &mut i.await_type)?;
    rare(r, plain, 34, &mut i.await_id)?;
    rare(r, plain, 35, &mut i.timeout)?;
    i.waiters = if waiters.is_empty() {
        Vec::new()
    } else {
        waiters.split(',').map(str::to_owned).collect()
    };
    rare(r, plain, 37, &mut i.event_kind)?;
    rare(r, plain, 38, &mut i.actor)?;
    rare(r, plain, 39, &mut i.target)?;
    rare(r, plain, 40, &mut i.payload)?;
    rare(r, plain, 41, &mut i.source_formula)?;
    rare(r, plain, 42, &mut i.source_location)?;
    rare(r, plain, 43, &mut i.deleted_at)?;
    rare(r, plain, 44, &mut i.deleted_by)?;
    rare(r, plain, 45, &mut i.delete_reason)?;
    rare(r, plain, 46, &mut i.original_type)?;
    Ok(())
}

/// A field read from a column in place: text is copied into the string already there, so a
/// value decoded again and again keeps its allocations.
trait Column: Default {
    fn set(&mut self, v: ValueRef<'_>) -> FromSqlResult<()>;
    /// Back to the default, keeping any allocation.
    fn reset(&mut self) {
        *self = Self::default();
    }
}

impl Column for String {
    fn set(&mut self, v: ValueRef<'_>) -> FromSqlResult<()> {
        let text = v.as_str()?;
        self.clear();
        self.push_str(text);
        Ok(())
    }
    fn reset(&mut self) {
        self.clear();
    }
}

impl Column for Option<String> {
    fn set(&mut self, v: ValueRef<'_>) -> FromSqlResult<()> {
        match (v, self.as_mut()) {
            (ValueRef::Null, _) => *self = None,
            (v, Some(s)) => s.set(v)?,
            (v, None) => *self = Some(v.as_str()?.to_owned()),
        }
        Ok(())
    }
}

/// Values without an allocation to keep: read as they are.
macro_rules! plain_column {
    ($($t:ty),*) => {$(
        impl Column for $t {
            fn set(&mut self, v: ValueRef<'_>) -> FromSqlResult<()> {
                *self = FromSql::column_result(v)?;
                Ok(())
            }
        }
    )*};
}
plain_column!(i64, bool, Option<i64>);

/// Column `k` of a row into `into`.
fn column<T: Column>(r: &Row<'_>, k: usize, into: &mut T) -> rusqlite::Result<()> {
    let v = r.get_ref(k)?;
    into.set(v).map_err(|e| match e {
        FromSqlError::InvalidType => {
            let name = r
                .as_ref()
                .column_name(k)
                .map_or_else(|_| k.to_string(), str::to_owned);
            rusqlite::Error::InvalidColumnType(k, name, v.data_type())
        }
        e => rusqlite::Error::FromSqlConversionFailure(k, v.data_type(), Box::new(e)),
    })
}

/// Column `k` of a row into `into`, or its type's default without reading it when the row
/// is `plain`.
fn rare<T: Column>(r: &Row<'_>, plain: bool, k: usize, into: &mut T) -> rusqlite::Result<()> {
    if plain {
        into.reset();
        Ok(())
    } else {
        column(r, k, into)
    }
}

/// Column `k` of a row, or its type's default without reading it when the row is `plain`.
fn rare_value<T: FromSql + Default>(r: &Row<'_>, plain: bool, k: usize) -> rusqlite::Result<T> {
    if plain { Ok(T::default()) } else { r.get(k) }
}

/// The columns [`Stored::params`] binds, in order.
const ISSUE_INSERT_COLUMNS: &str = "id, title, description, design, acceptance_criteria, notes, status, priority,
    issue_type, assignee, owner, estimated_minutes, created_at, created_by, updated_at, started_at,
    closed_at, close_reason, closed_by_session, due_at, defer_until, external_ref, source_system, spec_id,
    metadata, sender, ephemeral, no_history, wisp_type, pinned, is_template, mol_type, work_type,
    await_type, await_id, timeout_ns, waiters, event_kind, actor, target, payload, source_formula,
    source_location, deleted_at, deleted_by, delete_reason, original_type, content_hash";

/// An issue with the stored form of the fields that are not stored as they are.
struct Stored<'a> {
    i: &'a Issue,
    metadata: Cow<'a, str>,
    waiters: Cow<'a, str>,
    content_hash: &'a str,
}

impl<'a> Stored<'a> {
    fn new(i: &'a Issue, content_hash: &'a str) -> Self {
        // Most issues have neither: nothing to allocate for them (an import stores thousands).
        let metadata = match &i.metadata {
            Some(serde_json::Value::Object(m)) if m.is_empty() => Cow::Borrowed("{}"),
            Some(v) if !v.is_null() => Cow::Owned(v.to_string()),
            _ => Cow::Borrowed("{}"),
        };
        let waiters = match i.waiters.as_slice() {
            [] => Cow::Borrowed(""),
            [one] => Cow::Borrowed(one.as_str()),
            many => Cow::Owned(many.join(",")),
        };
        Self {
            i,
            metadata,
            waiters,
            content_hash,
        }
    }

    /// The values of [`ISSUE_INSERT_COLUMNS`].
    fn params(&self) -> Vec<&dyn rusqlite::ToSql> {
        let Self {
            i,
            metadata,
            waiters,
            content_hash,
        } = self;
        vec![
            &i.id,
            &i.title,
            &i.description,
            &i.design,
            &i.acceptance_criteria,
            &i.notes,
            &i.status,
            &i.priority,
            &i.issue_type,
            &i.assignee,
            &i.owner,
            &i.estimated_minutes,
            &i.created_at,
            &i.created_by,
            &i.updated_at,
            &i.started_at,
            &i.closed_at,
            &i.close_reason,
            &i.closed_by_session,
            &i.due_at,
            &i.defer_until,
            &i.external_ref,
            &i.source_system,
            &i.spec_id,
            metadata as &dyn rusqlite::ToSql,
            &i.sender,
            &i.ephemeral,
            &i.no_history,
            &i.wisp_type,
            &i.pinned,
            &i.is_template,
            &i.mol_type,
            &i.work_type,
            &i.await_type,
            &i.await_id,
            &i.timeout,
            waiters,
            &i.event_kind,
            &i.actor,
            &i.target,
            &i.payload,
            &i.source_formula,
            &i.source_location,
            &i.deleted_at,
            &i.deleted_by,
            &i.delete_reason,
            &i.original_type,
            content_hash,
        ]
    }
}

/// Inserts or replaces a full issue row (create and import). `is_blocked` starts at 0 and is
/// fixed by the caller's readiness refresh.
pub(crate) fn upsert_issue(
    conn: &rusqlite::Connection,
    i: &Issue,
    content_hash: &str,
) -> rusqlite::Result<()> {
    let stored = Stored::new(i, content_hash);
    let mut stmt = conn.prepare_cached(
        "INSERT INTO issues (id, title, description, design, acceptance_criteria, notes, status, priority,
            issue_type, assignee, owner, estimated_minutes, created_at, created_by, updated_at, started_at,
            closed_at, close_reason, closed_by_session, due_at, defer_until, external_ref, source_system, spec_id,
            metadata, sender, ephemeral, no_history, wisp_type, pinned, is_template, mol_type, work_type,
            await_type, await_id, timeout_ns, waiters, event_kind, actor, target, payload, source_formula,
            source_location, deleted_at, deleted_by, delete_reason, original_type, content_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21,
            ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35, ?36, ?37, ?38, ?39, ?40, ?41,
            ?42, ?43, ?44, ?45, ?46, ?47, ?48)
         ON CONFLICT (id) DO UPDATE SET title = excluded.title, description = excluded.description,
            design = excluded.design, acceptance_criteria = excluded.acceptance_criteria, notes = excluded.notes,
            status = excluded.status, priority = excluded.priority, issue_type = excluded.issue_type,
            assignee = excluded.assignee, owner = excluded.owner, estimated_minutes = excluded.estimated_minutes,
            created_at = excluded.created_at, created_by = excluded.created_by, updated_at = excluded.updated_at,
            started_at = excluded.started_at, closed_at = excluded.closed_at, close_reason = excluded.close_reason,
            closed_by_session = excluded.closed_by_session, due_at = excluded.due_at,
            defer_until = excluded.defer_until, external_ref = excluded.external_ref,
            source_system = excluded.source_system, spec_id = excluded.spec_id, metadata = excluded.metadata,
            sender = excluded.sender, ephemeral = excluded.ephemeral, no_history = excluded.no_history,
            wisp_type = excluded.wisp_type, pinned = excluded.pinned, is_template = excluded.is_template,
            mol_type = excluded.mol_type, work_type = excluded.work_type, await_type = excluded.await_type,
            await_id = excluded.await_id, timeout_ns = excluded.timeout_ns, waiters = excluded.waiters,
            event_kind = excluded.event_kind, actor = excluded.actor, target = excluded.target,
            payload = excluded.payload, source_formula = excluded.source_formula,
            source_location = excluded.source_location, deleted_at = excluded.deleted_at,
            deleted_by = excluded.deleted_by, delete_reason = excluded.delete_reason,
            original_type = excluded.original_type, content_hash = excluded.content_hash",
    )?;
    stmt.execute(stored.params().as_slice())?;
    Ok(())
}

/// What the schema keeps on an issue's row besides its fields: its relation summaries (what
/// the `relation_summaries` view computes) and its readiness.
#[derive(Debug, Clone, Default)]
pub(crate) struct RowSummary<'a> {
    /// The issue's labels, sorted, as a JSON array.
    pub labels: &'a str,
    pub parent: Option<&'a str>,
    pub dependency_count: i64,
    pub dependent_count: i64,
    pub comment_count: i64,
    pub blocked: bool,
}

impl RowSummary<'_> {
    /// The values of `SUMMARY_INSERT_COLUMNS`, with the row's rare-fields flag.
    fn params<'p>(&'p self, rare: &'p bool) -> [&'p dyn rusqlite::ToSql; 7] {
        [
            &self.labels,
            &self.parent,
            &self.dependency_count,
            &self.dependent_count,
            &self.comment_count,
            rare,
            &self.blocked,
        ]
    }
}

/// The columns every row binds when it goes in with [`SummarizedInsert`]: the fields that
/// are not rare, and the summaries. A row whose rare fields all hold their defaults (most)
/// binds only these and leaves the rest to the schema's column defaults.
const PLAIN_INSERT_COLUMNS: &str = "id, title, description, status, priority, issue_type,
    assignee, created_at, created_by, updated_at, started_at, closed_at, close_reason, content_hash";
const SUMMARY_INSERT_COLUMNS: &str = "cached_labels, cached_parent, cached_dependency_count,
    cached_dependent_count, cached_comment_count, cached_rare_fields, is_blocked";

/// Inserts new issue rows with their summaries and readiness already computed: the bulk path
/// of an import into an empty store, which writes with the summary triggers off. Both
/// statements are prepared once for the whole bulk write, not looked up in the statement
/// cache (hashing 1 kB of SQL) row by row.
pub(crate) struct SummarizedInsert<'c> {
    full: rusqlite::Statement<'c>,
    plain: rusqlite::Statement<'c>,
}

impl<'c> SummarizedInsert<'c> {
    pub(crate) fn prepare(conn: &'c rusqlite::Connection) -> rusqlite::Result<Self> {
        let sql = |columns: &str, n: usize| {
            let marks: Vec<String> = (1..=n).map(|k| format!("?{k}")).collect();
            format!(
                "INSERT INTO issues ({columns}, {SUMMARY_INSERT_COLUMNS}) VALUES ({})",
                marks.join(", ")
            )
        };
        Ok(Self {
            full: conn.prepare(&sql(ISSUE_INSERT_COLUMNS, 55))?,
            plain: conn.prepare(&sql(PLAIN_INSERT_COLUMNS, 21))?,
        })
    }

    /// Inserts a row whose rare fields all hold their defaults.
    pub(crate) fn insert_plain(
        &mut self,
        p: &PlainFields<'_>,
        s: &RowSummary<'_>,
    ) -> rusqlite::Result<()> {
        let mut params: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(21);
        params.extend([
            &p.id as &dyn rusqlite::ToSql,
            &p.title,
            &p.description,
            &p.status,
            &p.priority,
            &p.issue_type,
            &p.assignee,
            &p.created_at,
            &p.created_by,
            &p.updated_at,
            &p.started_at,
            &p.closed_at,
            &p.close_reason,
            &p.content_hash,
        ]);
        params.extend(s.params(&false));
        self.plain.execute(params.as_slice())?;
        Ok(())
    }

    /// Inserts a row with every field bound (one with a rare field set).
    pub(crate) fn insert_full(
        &mut self,
        i: &Issue,
        content_hash: &str,
        s: &RowSummary<'_>,
    ) -> rusqlite::Result<()> {
        let rare = has_rare_fields(i);
        let stored = Stored::new(i, content_hash);
        let mut params = stored.params();
        params.extend(s.params(&rare));
        self.full.execute(params.as_slice())?;
        Ok(())
    }
}

/// The fields of a row that [`SummarizedInsert::insert_plain`] binds: those of
/// `PLAIN_INSERT_COLUMNS`, in that order.
pub(crate) struct PlainFields<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub status: &'a str,
    pub priority: i64,
    pub issue_type: &'a str,
    pub assignee: &'a str,
    pub created_at: &'a str,
    pub created_by: &'a str,
    pub updated_at: &'a str,
    pub started_at: Option<&'a str>,
    pub closed_at: Option<&'a str>,
    pub close_reason: &'a str,
    pub content_hash: &'a str,
}

/// Whether any of the rarely used fields holds something other than its default: what the
/// schema's `relation_summaries` view computes as `rare_fields` (a test compares the two for
/// every field).
pub(crate) fn has_rare_fields(i: &Issue) -> bool {
    let metadata_set = match &i.metadata {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::Object(m)) => !m.is_empty(),
        Some(_) => true,
    };
    !(i.design.is_empty()
        && i.acceptance_criteria.is_empty()
        && i.notes.is_empty()
        && i.owner.is_empty()
        && i.estimated_minutes.is_none()
        && i.closed_by_session.is_empty()
        && i.due_at.is_none()
        && i.defer_until.is_none()
        && i.external_ref.is_empty()
        && i.source_system.is_empty()
        && i.spec_id.is_empty()
        && !metadata_set
        && i.sender.is_empty()
        && !i.ephemeral
        && !i.no_history
        && i.wisp_type.is_empty()
        && !i.pinned
        && !i.is_template
        && i.mol_type.is_empty()
        && i.work_type.is_empty()
        && i.await_type.is_empty()
        && i.await_id.is_empty()
        && i.timeout == 0
        && i.waiters.is_empty()
        && i.event_kind.is_empty()
        && i.actor.is_empty()
        && i.target.is_empty()
        && i.payload.is_empty()
        && i.source_formula.is_empty()
        && i.source_location.is_empty()
        && i.deleted_at.is_none()
        && i.deleted_by.is_empty()
        && i.delete_reason.is_empty()
        && i.original_type.is_empty())
}

/// The content hash of an issue's substantive fields (its JSON with volatile fields removed):
/// what import compares to skip unchanged issues.
pub(crate) fn content_hash(i: &Issue) -> String {
    content_hash_of(&mut i.clone())
}

/// [`content_hash`] without a copy: `updated_at` is taken out for the hash and put back (an
/// import hashes every line it reads). The JSON is written into one buffer and digested in
/// one call: serde writes a field in several small pieces, and feeding each piece to the
/// digest on its own cost more than the hashing itself.
pub(crate) fn content_hash_of(i: &mut Issue) -> String {
    use sha2::{Digest, Sha256};
    let updated_at = std::mem::take(&mut i.updated_at);
    let mut json = Vec::with_capacity(1024);
    serde_json::to_writer(&mut json, &*i).expect("issues serialize");
    i.updated_at = updated_at;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for b in Sha256::digest(&json) {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

#[cfg(test)]
mod tests {

    use super::{ISSUE_COLUMNS, RARE_FIELDS_COLUMN};
    use crate::ops::create::NewIssue;

    /// Columns [`super::issue_from_row`] always reads, whatever the plain flag says.
    const ALWAYS_READ: &[&str] = &[
        "id",
        "title",
        "description",
        "status",
        "priority",
        "issue_type",
        "assignee",
        "created_at",
        "created_by",
        "updated_at",
        "started_at",
        "closed_at",
        "close_reason",
    ];

    /// Columns of `issues` that are not issue fields.
    const NOT_FIELDS: &[&str] = &["content_hash", "is_blocked"];

    /// [`super::LISTING_COLUMNS`] must select what [`super::VIEW_COLUMNS`] selects at every
    /// position it keeps, and `NULL` only where a rarely used field is.
    #[test]
    fn listing_columns_line_up_with_view_columns() {
        let split =
            |s: &str| -> Vec<String> { s.split(',').map(|c| c.trim().to_owned()).collect() };
        let (listing, view) = (split(super::LISTING_COLUMNS), split(super::VIEW_COLUMNS));
        assert_eq!(listing.len(), view.len());
        let always: Vec<String> = ALWAYS_READ.iter().map(|c| format!("i.{c}")).collect();
        for (l, v) in listing.iter().zip(&view) {
            if l == "NULL" {
                assert!(
                    !always.contains(v),
                    "`{v}` is always read but NULL in listings"
                );
            } else {
                assert_eq!(l, v);
            }
        }
    }

    /// A row is read without its rarely used fields when the schema says none is set: a
    /// column the schema's test or trigger leaves out would be silently dropped when the row is
    /// read, so every column of `issues` set on its own must mark the row.
    #[test]
    fn every_rare_field_is_kept_track_of() {
        let (_dir, mut store) = crate::store::test_store("bd", "2026-01-15T12:00:00Z");
        let id = store
            .create(NewIssue {
                title: "plain".into(),
                ..NewIssue::default()
            })
            .unwrap()
            .id;
        let conn = store.conn();
        let plain = || -> bool {
            conn.query_row(
                &format!("SELECT {ISSUE_COLUMNS} FROM issues i WHERE i.id = ?1"),
                [&id],
                |r| r.get::<_, bool>(RARE_FIELDS_COLUMN),
            )
            .map(|rare| !rare)
            .unwrap()
        };
        assert!(plain(), "a new issue with only a title is plain");
        assert!(!super::has_rare_fields(
            &crate::ops::fetch(store.conn(), &id).unwrap()
        ));
        let columns: Vec<(String, String)> = conn
            .prepare("SELECT name, type FROM pragma_table_info('issues')")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let mut checked = 0;
        for (column, kind) in &columns {
            if ALWAYS_READ.contains(&column.as_str())
                || NOT_FIELDS.contains(&column.as_str())
                || column.starts_with("cached_")
            {
                continue;
            }
            let value = match (column.as_str(), kind.as_str()) {
                ("metadata", _) => "'{\"k\":1}'",
                (_, "INTEGER") => "1",
                _ => "'x'",
            };
            conn.execute_batch(&format!(
                "SAVEPOINT probe; UPDATE issues SET {column} = {value} WHERE id = '{id}'"
            ))
            .unwrap();
            let still_plain = plain();
            let probed = crate::ops::fetch(conn, &id).unwrap();
            assert!(
                super::has_rare_fields(&probed),
                "`{column}` set: the bulk import's rare-field test must say so, as the view does"
            );
            conn.execute_batch("ROLLBACK TO probe; RELEASE probe")
                .unwrap();
            assert!(
                !still_plain,
                "`{column}` is not kept track of as a rare field"
            );
            checked += 1;
        }
        assert_eq!(checked, 34, "every rarely used field was probed");
    }

    /// The content hash is stored: an import compares it with what it computes, so a stored
    /// issue re-imported unchanged must hash as it did when it was written. This value was
    /// computed by the build before the hash's JSON was buffered; the line has escapes in
    /// its text, a non-ASCII character, metadata and a type to normalize.
    #[test]
    fn the_content_hash_of_an_imported_line_is_what_earlier_builds_stored() {
        let line = r#"{"id":"t-hash1","title":"Golden \"hash\"","description":"line one\nline two \u00fc","status":"closed","priority":1,"issue_type":"bug","assignee":"ann","created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-03T00:00:00Z","close_reason":"done","metadata":{"k":[1,2]},"labels":["a"]}"#;
        let crate::ops::jsonl::Line::Issue(mut rec) =
            crate::ops::jsonl::parse_line(line, 1, None, &mut Default::default()).unwrap()
        else {
            panic!("an issue line read as a memory");
        };
        assert_eq!(
            super::content_hash_of(&mut rec.issue),
            "d58c176f6ee7bb93ce8ea4fc58a9ff88ed37d5f1a721b1f353a4f01ca8223811"
        );
        assert_eq!(rec.issue.updated_at, "2026-01-03T00:00:00.000000Z");
    }
}
