//! Agent session records: one `events` row per session start or end, under the pseudo issue
//! id `agent:<address>` (as polecat transitions live under `polecat:<rig>/<name>`), with the
//! record's JSON in `new_value`. `gt prime --hook` writes them; `gt seance` reads them.

use rusqlite::params;

use crate::error::{Error, Result};
use crate::model::Event;
use crate::ops::event;
use crate::ops::maintenance::event_from_row;
use crate::store::Store;

/// The pseudo issue id prefix of session records.
pub const SESSION_KEY_PREFIX: &str = "agent:";

/// The event types a session record may have.
pub const SESSION_EVENTS: &[&str] = &["session_start", "session_end"];

/// The `events.issue_id` of `address`'s session records.
pub fn session_key(address: &str) -> String {
    format!("{SESSION_KEY_PREFIX}{address}")
}

impl Store {
    /// Records one session event (`session_start` or `session_end`) of the agent at `address`,
    /// with `record` (JSON text) as its value.
    pub fn record_session(&mut self, address: &str, event_type: &str, record: &str) -> Result<()> {
        if !SESSION_EVENTS.contains(&event_type) {
            return Err(Error::Invalid {
                field: "event_type",
                reason: format!(
                    "`{event_type}` is not a session event (one of {})",
                    SESSION_EVENTS.join(", ")
                ),
            });
        }
        if address.trim().is_empty() || address.chars().any(char::is_control) {
            return Err(Error::Invalid {
                field: "address",
                reason: format!("`{}` cannot name an agent", address.escape_debug()),
            });
        }
        let key = session_key(address);
        self.write(|tx, w| event(tx, w, &key, event_type, None, Some(record), None))
    }

    /// Session events, newest first, at most `limit` (0: all): of one address, or of every
    /// address when `address` is `None`.
    pub fn sessions(&self, address: Option<&str>, limit: usize) -> Result<Vec<Event>> {
        let limit = if limit == 0 {
            i64::MAX
        } else {
            i64::try_from(limit).unwrap_or(i64::MAX)
        };
        // A range over the `(issue_id, id)` index either way: one key, or every `agent:` key
        // (`;` is the character after `:`).
        let (low, high) = match address {
            Some(a) => {
                let key = session_key(a);
                (key.clone(), key)
            }
            None => (SESSION_KEY_PREFIX.to_owned(), "agent;".to_owned()),
        };
        let mut stmt = self.conn().prepare_cached(
            "SELECT id, issue_id, event_type, actor, old_value, new_value, comment, created_at FROM events
             WHERE issue_id >= ?1 AND issue_id <= ?2 AND event_type IN ('session_start', 'session_end')
             ORDER BY id DESC LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![low, high, limit], event_from_row)?;
        let mut events: Vec<Event> = rows.collect::<Result<_, _>>()?;
        // `agent;` sorts after every `agent:…` key but is not one.
        events.retain(|e| e.issue_id.starts_with(SESSION_KEY_PREFIX));
        Ok(events)
    }
}
