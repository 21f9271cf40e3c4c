//! Store upkeep: integrity checks (`bd doctor`), wisp garbage collection, raw SQL, history.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::{Event, WISP_TTLS};
use crate::readiness;
use crate::schema::{
    DOCTOR_MARKER, RECOUNT_ISSUE_COUNTS, REFRESH_ALL_SUMMARIES, STALE_ISSUE_COUNTS, STALE_SUMMARIES,
};
use crate::store::Store;

/// One finding of `doctor`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The check's name.
    pub check: &'static str,
    /// `ok`, `warning` or `error`.
    pub status: &'static str,
    /// What was found.
    pub message: String,
    /// Whether `--fix` repaired it.
    pub fixed: bool,
}

/// The result of a raw SQL statement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SqlResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<serde_json::Value>>,
    pub changes: usize,
}

impl Store {
    /// Checks the database's integrity, foreign keys, the `is_blocked` flags against a
    /// from-scratch recompute, the closed-at invariant, cycles and the labels and counts kept
    /// on each issue. With `fix`, repairs what is safe to repair (blocked flags, summaries).
    pub fn doctor(&mut self, fix: bool) -> Result<Vec<Finding>> {
        let mut out = Vec::new();
        let conn = self.conn();
        let integrity: Vec<String> = conn
            .prepare("PRAGMA integrity_check")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let ok = integrity.len() == 1 && integrity[0] == "ok";
        out.push(Finding {
            check: "integrity",
            status: if ok { "ok" } else { "error" },
            message: if ok {
                "SQLite integrity check passed".into()
            } else {
                integrity.join("; ")
            },
            fixed: false,
        });
        let fk: i64 = conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })?;
        out.push(Finding {
            check: "foreign_keys",
            status: if fk == 0 { "ok" } else { "error" },
            message: format!("{fk} rows reference missing issues"),
            fixed: false,
        });
        let dangling: i64 = conn.query_row(
            "SELECT count(*) FROM dependencies d WHERE d.depends_on_id NOT LIKE 'external:%'
             AND NOT EXISTS (SELECT 1 FROM issues i WHERE i.id = d.depends_on_id)",
            [],
            |r| r.get(0),
        )?;
        out.push(Finding {
            check: "dangling_dependencies",
            status: if dangling == 0 { "ok" } else { "warning" },
            message: format!("{dangling} dependencies point at issues not in this store"),
            fixed: false,
        });
        let bad_closed: i64 = conn.query_row(
            "SELECT count(*) FROM issues WHERE status != 'tombstone' AND (status = 'closed') != (closed_at IS NOT NULL)",
            [],
            |r| r.get(0),
        )?;
        out.push(Finding {
            check: "closed_at",
            status: if bad_closed == 0 { "ok" } else { "error" },
            message: format!("{bad_closed} issues where closed_at disagrees with status"),
            fixed: false,
        });
        let cycles = self.dependency_cycles()?;
        out.push(Finding {
            check: "cycles",
            status: if cycles.is_empty() { "ok" } else { "warning" },
            message: if cycles.is_empty() {
                "no dependency cycles".into()
            } else {
                format!("{} cycles, first: {}", cycles.len(), cycles[0].join(" → "))
            },
            fixed: false,
        });
        let drift = readiness::drift(self.conn(), &self.settings)?;
        let n = drift.len();
        let fixed = if fix && n > 0 {
            self.write_unchecked(|tx, w| readiness::rebuild(tx, w.settings))?;
            true
        } else {
            false
        };
        out.push(Finding {
            check: "blocked_state",
            status: if n == 0 { "ok" } else { "error" },
            message: if n == 0 {
                "is_blocked matches a from-scratch recompute".into()
            } else {
                format!(
                    "{n} issues have a stale is_blocked flag (first: {})",
                    drift[0].0
                )
            },
            fixed,
        });
        let stale = self.stale_summaries()?;
        let fixed = if fix && !stale.is_empty() {
            self.write_unchecked(|tx, _| Ok(tx.execute_batch(REFRESH_ALL_SUMMARIES)?))?;
            true
        } else {
            false
        };
        out.push(Finding {
            check: "relation_summaries",
            status: if stale.is_empty() { "ok" } else { "error" },
            message: match stale.first() {
                None => "labels and counts kept on each issue match a recount".into(),
                Some(first) => format!(
                    "{} issues have stale labels or counts (first: {first})",
                    stale.len()
                ),
            },
            fixed,
        });
        let stale = self.stale_issue_counts()?;
        let fixed = if fix && !stale.is_empty() {
            self.write_unchecked(|tx, _| Ok(tx.execute_batch(RECOUNT_ISSUE_COUNTS)?))?;
            true
        } else {
            false
        };
        out.push(Finding {
            check: "issue_counts",
            status: if stale.is_empty() { "ok" } else { "error" },
            message: match stale.first() {
                None => "issue counts kept per prefix, status and type match a recount".into(),
                Some(first) => format!(
                    "{} groups have a stale kept issue count (first: {first})",
                    stale.len()
                ),
            },
            fixed,
        });
        self.record_doctor_verdict(&out)?;
        Ok(out)
    }

    /// Leaves the errors this run found and did not repair in the `metadata` marker that every
    /// write checks, or clears it when there are none. A read-only session records nothing.
    fn record_doctor_verdict(&mut self, findings: &[Finding]) -> Result<()> {
        if self.is_read_only() {
            return Ok(());
        }
        let errors: Vec<String> = findings
            .iter()
            .filter(|f| f.status == "error" && !f.fixed)
            .map(|f| format!("{}: {}", f.check, f.message))
            .collect();
        self.write_unchecked(|tx, _| {
            if errors.is_empty() {
                tx.execute("DELETE FROM metadata WHERE key = ?1", [DOCTOR_MARKER])?;
            } else {
                tx.execute(
                    "INSERT INTO metadata (key, value) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    [DOCTOR_MARKER, &errors.join("; ")],
                )?;
            }
            Ok(())
        })
    }

    /// Deletes wisps (ephemeral issues) past their type's TTL: closed ones by close time, open
    /// ones by last update. Wisps of unknown type use the longest TTL. Returns the deleted ids.
    pub fn wisp_gc(&mut self, dry_run: bool) -> Result<Vec<String>> {
        let now = self.ctx.clock.now();
        let longest = WISP_TTLS.iter().map(|(_, d)| *d).max().unwrap_or_default();
        let mut doomed = Vec::new();
        {
            let mut stmt = self.conn().prepare(
                "SELECT id, wisp_type, COALESCE(closed_at, updated_at) FROM issues WHERE ephemeral = 1 ORDER BY id",
            )?;
            for row in stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })? {
                let (id, wisp_type, at) = row?;
                let ttl = WISP_TTLS
                    .iter()
                    .find(|(t, _)| *t == wisp_type)
                    .map_or(longest, |(_, d)| *d);
                let Ok(at) = at.parse::<jiff::Timestamp>() else {
                    continue;
                };
                if now.duration_since(at) > ttl {
                    doomed.push(id);
                }
            }
        }
        if !dry_run && !doomed.is_empty() {
            self.delete(&doomed)?;
        }
        Ok(doomed)
    }

    /// Runs one raw SQL statement. Writes run in a transaction that records an event.
    ///
    /// The statement may read and write rows, but not change what the store is: no DDL on
    /// the store's tables, no pragma that sets anything (`user_version`, `journal_mode`,
    /// `writable_schema`, `foreign_keys`, …), no transaction control, no `ATTACH`. Such a
    /// statement is refused with [`Error::Sql`] before it runs, and nothing changes.
    pub fn sql(&mut self, sql: &str) -> Result<SqlResult> {
        let sql = sql.trim().trim_end_matches(';').trim();
        if sql.is_empty() {
            return Err(Error::Sql("no SQL statement given".into()));
        }
        // Gas Town's queries were written for upstream's MySQL-dialect Dolt and use `NOW()`;
        // here it is this store's clock, in the form timestamps are stored in, so comparisons
        // with stored timestamps work as text.
        let now = self.now();
        self.conn().create_scalar_function(
            "now",
            0,
            rusqlite::functions::FunctionFlags::SQLITE_UTF8,
            move |_| Ok(now.clone()),
        )?;
        let guard = SqlGuard::default();
        let readonly = guard.run(self.conn(), |conn| {
            Ok(conn.prepare(sql).map_err(user_sql_error)?.readonly())
        })?;
        let run = |conn: &rusqlite::Connection| -> Result<SqlResult> {
            let mut stmt = conn.prepare(sql).map_err(user_sql_error)?;
            let columns: Vec<String> = stmt
                .column_names()
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
            let n = columns.len();
            let mut rows = Vec::new();
            let mut q = stmt.query([]).map_err(user_sql_error)?;
            while let Some(row) = q.next().map_err(user_sql_error)? {
                let mut values = Vec::with_capacity(n);
                for i in 0..n {
                    values.push(match row.get_ref(i)? {
                        rusqlite::types::ValueRef::Null => serde_json::Value::Null,
                        rusqlite::types::ValueRef::Integer(v) => v.into(),
                        rusqlite::types::ValueRef::Real(v) => v.into(),
                        rusqlite::types::ValueRef::Text(t) => {
                            String::from_utf8_lossy(t).into_owned().into()
                        }
                        rusqlite::types::ValueRef::Blob(b) => format!("<{} bytes>", b.len()).into(),
                    });
                }
                rows.push(values);
            }
            drop(q);
            Ok(SqlResult {
                columns,
                rows,
                changes: conn.changes() as usize,
            })
        };
        if readonly {
            let mut out = guard.run(self.conn(), run)?;
            out.changes = 0;
            Ok(out)
        } else {
            // Unchecked: raw SQL is the way to repair by hand what `bd doctor` found and cannot
            // repair itself, so it must work on a store whose other writes refuse.
            self.write_unchecked(|tx, w| {
                let out = guard.run(tx, run)?;
                // Raw writes bypass readiness upkeep; recompute so `is_blocked` stays exact.
                // A failure here is the statement's doing (it left a value the store cannot
                // read), so it is reported as the statement's error.
                readiness::rebuild(tx, w.settings).map_err(user_sql_error_of)?;
                // Triggers keep the relation summaries, but raw SQL may write them directly.
                tx.execute_batch(REFRESH_ALL_SUMMARIES)
                    .map_err(user_sql_error)?;
                tx.execute_batch(RECOUNT_ISSUE_COUNTS)
                    .map_err(user_sql_error)?;
                crate::ops::event(tx, w, "", "sql", None, None, Some(sql))?;
                Ok(out)
            })
        }
    }

    /// Issues whose stored `is_blocked` differs from a from-scratch recompute, with the
    /// correct value. Empty when readiness is exact.
    pub fn blocked_drift(&self) -> Result<Vec<(String, bool)>> {
        readiness::drift(self.conn(), &self.settings)
    }

    /// Issues whose labels and counts kept on the row differ from a recount of the relation
    /// tables. Empty when the triggers have done their job.
    pub fn stale_summaries(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn().prepare(STALE_SUMMARIES)?;
        let ids = stmt.query_map([], |r| r.get(0))?;
        Ok(ids.collect::<Result<_, _>>()?)
    }

    /// Groups of `issue_counts` whose kept count differs from a recount of `issues`, as
    /// `prefix status type`. Empty when the triggers have done their job.
    pub fn stale_issue_counts(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn().prepare(STALE_ISSUE_COUNTS)?;
        let groups = stmt.query_map([], |r| r.get(0))?;
        Ok(groups.collect::<Result<_, _>>()?)
    }

    /// An issue's audit events, oldest first.
    pub fn history(&self, input: &str) -> Result<Vec<Event>> {
        let id = self.resolve(input)?;
        let mut stmt = self.conn().prepare_cached(
            "SELECT id, issue_id, event_type, actor, old_value, new_value, comment, created_at FROM events
             WHERE issue_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([&id], event_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Up to `limit` events with an id greater than `cursor`, in id order: what changed since a
    /// reader last looked (pass the last id it saw; 0 for everything). Every write commits its
    /// events under the store's one write lock, and ids only grow (`AUTOINCREMENT`), so a reader
    /// that saw id `n` has seen every committed event below it.
    pub fn events_after(&self, cursor: i64, limit: usize) -> Result<Vec<Event>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT id, issue_id, event_type, actor, old_value, new_value, comment, created_at FROM events
             WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(rusqlite::params![cursor, limit], event_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The newest `n` events, oldest first.
    pub fn events_latest(&self, n: usize) -> Result<Vec<Event>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT id, issue_id, event_type, actor, old_value, new_value, comment, created_at FROM events
             ORDER BY id DESC LIMIT ?1",
        )?;
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        let rows = stmt.query_map([n], event_from_row)?;
        let mut events: Vec<Event> = rows.collect::<Result<_, _>>()?;
        events.reverse();
        Ok(events)
    }

    /// The id of the newest event (0 when there is none): a cursor for
    /// [`Store::events_after`] that skips the past.
    pub fn last_event_id(&self) -> Result<i64> {
        Ok(self
            .conn()
            .prepare_cached("SELECT COALESCE(max(id), 0) FROM events")?
            .query_row([], |r| r.get(0))?)
    }
}

pub(crate) fn event_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        id: r.get(0)?,
        issue_id: r.get(1)?,
        event_type: r.get(2)?,
        actor: r.get(3)?,
        old_value: r.get(4)?,
        new_value: r.get(5)?,
        comment: r.get(6)?,
        created_at: r.get(7)?,
    })
}

/// Keeps `bd sql` from changing what the store is, with SQLite's authorizer.
///
/// Why the authorizer and not "compare `user_version` and `sqlite_schema` after the statement
/// and roll back": SQLite asks the authorizer about every action while it compiles a
/// statement, including the ones inside triggers and views, so a refused statement never runs
/// at all, and what is refused is an explicit list. Comparing afterwards cannot see pragmas
/// that change the connection or the file outside the transaction (`journal_mode`,
/// `foreign_keys`, `writable_schema`), and a rollback cannot undo those. The authorizer is
/// installed only while the user's statement is compiled and run, never for the store's own
/// upkeep that follows it.
#[derive(Default, Clone)]
struct SqlGuard {
    /// Why the last refused action was refused, for the error message.
    refused: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

/// Pragmas that take an argument yet only read (they name a table or index to describe).
const READING_PRAGMAS: &[&str] = &[
    "table_info",
    "table_xinfo",
    "table_list",
    "index_list",
    "index_info",
    "index_xinfo",
    "foreign_key_list",
    "foreign_key_check",
    "integrity_check",
    "quick_check",
];

type Authorizer = fn(rusqlite::hooks::AuthContext<'_>) -> rusqlite::hooks::Authorization;

impl SqlGuard {
    fn run<T>(
        &self,
        conn: &rusqlite::Connection,
        f: impl FnOnce(&rusqlite::Connection) -> Result<T>,
    ) -> Result<T> {
        let refused = std::sync::Arc::clone(&self.refused);
        conn.authorizer(Some(
            move |ctx: rusqlite::hooks::AuthContext<'_>| match refusal(&ctx) {
                None => rusqlite::hooks::Authorization::Allow,
                Some(why) => {
                    if let Ok(mut slot) = refused.lock() {
                        *slot = Some(why);
                    }
                    rusqlite::hooks::Authorization::Deny
                }
            },
        ))?;
        let out = f(conn);
        conn.authorizer(None::<Authorizer>)?;
        let why = self.refused.lock().ok().and_then(|mut slot| slot.take());
        match (out, why) {
            (Err(_), Some(why)) => Err(Error::Sql(format!(
                "{why}; `bd sql` reads and writes rows, but may not change the store's schema or settings"
            ))),
            (out, _) => out,
        }
    }
}

/// Why `bd sql` refuses an action, or `None` to allow it.
fn refusal(ctx: &rusqlite::hooks::AuthContext<'_>) -> Option<String> {
    use rusqlite::hooks::AuthAction as A;
    // Temporary objects live in this connection only and vanish when `bd` exits.
    let temp = ctx.database_name == Some("temp");
    match ctx.action {
        A::Select
        | A::Read { .. }
        | A::Function { .. }
        | A::Recursive
        | A::Insert { .. }
        | A::Update { .. }
        | A::Delete { .. }
        | A::Analyze { .. }
        | A::Reindex { .. }
        | A::CreateTempTable { .. }
        | A::CreateTempIndex { .. }
        | A::CreateTempView { .. }
        | A::CreateTempTrigger { .. }
        | A::DropTempTable { .. }
        | A::DropTempIndex { .. }
        | A::DropTempView { .. }
        | A::DropTempTrigger { .. } => None,
        A::Pragma {
            pragma_name,
            pragma_value,
        } => {
            let name = pragma_name.to_ascii_lowercase();
            if pragma_value.is_none() || READING_PRAGMAS.contains(&name.as_str()) {
                None
            } else {
                Some(format!(
                    "`PRAGMA {pragma_name} = {}` would change a setting of the store",
                    pragma_value.unwrap_or_default()
                ))
            }
        }
        A::CreateTable { table_name }
        | A::CreateView {
            view_name: table_name,
        }
        | A::CreateIndex { table_name, .. }
        | A::CreateTrigger { table_name, .. }
        | A::DropTable { table_name }
        | A::DropView {
            view_name: table_name,
        }
        | A::DropIndex { table_name, .. }
        | A::DropTrigger { table_name, .. }
        | A::AlterTable { table_name, .. }
        | A::CreateVtable { table_name, .. }
        | A::DropVtable { table_name, .. }
            if !temp =>
        {
            Some(format!(
                "the statement would change the schema (`{table_name}`)"
            ))
        }
        A::Transaction { .. } | A::Savepoint { .. } => Some(
            "transaction control is refused: each `bd sql` statement runs in its own transaction"
                .into(),
        ),
        A::Attach { filename } => Some(format!("attaching `{filename}` is refused")),
        A::Detach { database_name } => Some(format!("detaching `{database_name}` is refused")),
        _ => Some(format!("{:?} is refused", ctx.action)),
    }
}

/// An error of the user's SQL statement: the statement itself is wrong (syntax, a missing
/// table or column, a violated constraint, a type mismatch, a refused action) → [`Error::Sql`],
/// the user's to fix. Anything else (I/O, corruption, a full disk, a lock held too long) is the
/// environment's and stays [`Error::Sqlite`].
fn user_sql_error(e: rusqlite::Error) -> Error {
    use rusqlite::ErrorCode as C;
    let user = match &e {
        rusqlite::Error::SqliteFailure(f, _) => matches!(
            f.code,
            // SQLITE_ERROR: a syntax error, no such table or column, a function's error.
            C::Unknown
                | C::ConstraintViolation
                | C::TypeMismatch
                | C::ParameterOutOfRange
                | C::AuthorizationForStatementDenied
                | C::TooBig
                | C::ApiMisuse
        ),
        rusqlite::Error::MultipleStatement
        | rusqlite::Error::InvalidQuery
        | rusqlite::Error::InvalidParameterCount(..)
        | rusqlite::Error::SqlInputError { .. } => true,
        _ => false,
    };
    if user {
        Error::Sql(e.to_string())
    } else {
        Error::Sqlite(e)
    }
}

fn user_sql_error_of(e: Error) -> Error {
    match e {
        Error::Sqlite(e) => user_sql_error(e),
        other => other,
    }
}
