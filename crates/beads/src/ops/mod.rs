//! Operations on the store, one module per concern. Every mutation runs in one transaction
//! that also writes its `events` rows and refreshes readiness.

pub mod backup;
pub mod config;
pub mod convoy;
pub mod costs;
pub mod create;
pub mod deps;
pub mod gate;
pub mod happenings;
pub mod jsonl;
pub mod mail;
pub mod maintenance;
pub mod molecule;
pub mod mr;
pub mod query;
pub mod roles;
pub mod scheduler;
pub mod sessions;
pub mod slot;
pub mod update;
pub mod work;

use rusqlite::{Connection, OptionalExtension};

use crate::error::{Error, Result};
use crate::model::Issue;
use crate::row::{ISSUE_COLUMNS, issue_from_row};
use crate::store::{Store, WriteCtx};

/// Writes one audit event.
pub(crate) fn event(
    conn: &Connection,
    w: &WriteCtx<'_>,
    issue_id: &str,
    event_type: &str,
    old: Option<&str>,
    new: Option<&str>,
    comment: Option<&str>,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO events (issue_id, event_type, actor, old_value, new_value, comment, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(rusqlite::params![issue_id, event_type, w.actor, old, new, comment, w.now])?;
    Ok(())
}

/// Reads one issue by exact id.
pub(crate) fn fetch(conn: &Connection, id: &str) -> Result<Issue> {
    let sql = format!("SELECT {ISSUE_COLUMNS} FROM issues i WHERE i.id = ?1");
    conn.prepare_cached(&sql)?
        .query_row([id], issue_from_row)
        .optional()?
        .ok_or_else(|| Error::NotFound { id: id.to_owned() })
}

/// Recomputes and stores an issue's content hash after a change.
pub(crate) fn rehash(conn: &Connection, id: &str) -> Result<Issue> {
    let issue = fetch(conn, id)?;
    conn.prepare_cached("UPDATE issues SET content_hash = ?2 WHERE id = ?1")?
        .execute(rusqlite::params![id, crate::row::content_hash(&issue)])?;
    Ok(issue)
}

impl Store {
    /// Resolves what a user typed (full id, id without prefix, unique partial id) to an id.
    pub fn resolve(&self, input: &str) -> Result<String> {
        crate::ids::resolve(self.conn(), self.prefix(), input)
    }

    /// Resolves several inputs, failing on the first unknown one.
    pub fn resolve_all<S: AsRef<str>>(&self, inputs: &[S]) -> Result<Vec<String>> {
        inputs.iter().map(|i| self.resolve(i.as_ref())).collect()
    }

    /// One issue by id (resolved).
    pub fn get(&self, input: &str) -> Result<Issue> {
        let id = self.resolve(input)?;
        fetch(self.conn(), &id)
    }
}
