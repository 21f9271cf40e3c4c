//! Town happenings the store has no row of its own for (a sling, a session spawned, a nudge
//! delivered, queued or expired, a handoff, the daemon starting or stopping, an escalation raised or
//! acknowledged, a witness restart): one `events` row each, so the town's event stream
//! (`town::events`) is complete. The row's `issue_id` is what it concerns (a bead id, or a
//! pseudo id such as `polecat:<rig>/<name>`, `agent:<address>`, `daemon`), and `new_value`
//! holds its detail as one JSON object, whose `rig` and `bead` keys, when present, name the
//! rig and bead it belongs to. `mail_sent` rows (written by `send_mail` inside the send's own
//! transaction) follow the same shape. A happening that records a store change is written in
//! that change's transaction (`create_with_happening`, `PolecatUpdate::happenings`); one that
//! records an external change a killed command may leave unrecorded is written with
//! [`Store::record_happening_once`], so its rerun can complete the record without doubling it.

use rusqlite::Connection;

use crate::error::{Error, Result};
use crate::ops::event;
use crate::store::{Store, WriteCtx};

/// A happening's kind, stored as its `event_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Happening {
    /// A bead was slung: hooked to a polecat that is about to start.
    Sling,
    /// A polecat's agent session was started.
    Spawn,
    /// An agent without a session-start hook ran `gt prime` in its session (one with the hook
    /// is recorded by the hook, as `session_start`).
    Primed,
    /// The witness restarted a polecat whose agent died or stalled.
    WitnessRestart,
    /// A nudge was seen in an agent's pane and submitted.
    NudgeDelivered,
    /// A nudge waits in an agent's queue.
    NudgeQueued,
    /// A queued nudge outlived its time to live undelivered.
    NudgeExpired,
    /// An agent handed its work to its next session.
    Handoff,
    DaemonStarted,
    DaemonStopped,
    EscalationRaised,
    EscalationAcked,
}

impl Happening {
    pub const ALL: [Self; 12] = [
        Self::Sling,
        Self::Spawn,
        Self::Primed,
        Self::WitnessRestart,
        Self::NudgeDelivered,
        Self::NudgeQueued,
        Self::NudgeExpired,
        Self::Handoff,
        Self::DaemonStarted,
        Self::DaemonStopped,
        Self::EscalationRaised,
        Self::EscalationAcked,
    ];

    /// The `event_type` it is stored as.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sling => "sling",
            Self::Spawn => "session_spawned",
            Self::Primed => "primed",
            Self::WitnessRestart => "witness_restart",
            Self::NudgeDelivered => "nudge_delivered",
            Self::NudgeQueued => "nudge_queued",
            Self::NudgeExpired => "nudge_expired",
            Self::Handoff => "handoff",
            Self::DaemonStarted => "daemon_started",
            Self::DaemonStopped => "daemon_stopped",
            Self::EscalationRaised => "escalation_raised",
            Self::EscalationAcked => "escalation_acked",
        }
    }
}

/// The `event_type` of a sent message's row.
pub const MAIL_SENT: &str = "mail_sent";
/// The `event_type` of a message's first reading by a mailbox (written in the read's own
/// transaction, detail `{"id", "mailbox"}`).
pub const MAIL_READ: &str = "mail_read";

/// The `issue_id` of the daemon's own rows.
pub const DAEMON_KEY: &str = "daemon";

impl Store {
    /// Records one happening about `subject` with `detail` (a JSON object) in its own
    /// transaction.
    pub fn record_happening(
        &mut self,
        kind: Happening,
        subject: &str,
        detail: &serde_json::Value,
    ) -> Result<()> {
        check(kind, subject, detail)?;
        let text = detail.to_string();
        self.write(|tx, w| event(tx, w, subject, kind.as_str(), None, Some(&text), None))
    }

    /// Records one happening unless a row of its kind about `subject` already holds the same
    /// value of `key` in its detail, the look and the write in one transaction. For a record a
    /// rerun of a killed command completes (the spawn of a session the killed run started):
    /// however many runs get there, it is written once. Returns whether it wrote the row.
    pub fn record_happening_once(
        &mut self,
        kind: Happening,
        subject: &str,
        detail: &serde_json::Value,
        key: &str,
    ) -> Result<bool> {
        check(kind, subject, detail)?;
        let Some(value) = detail.get(key).filter(|_| is_plain_key(key)) else {
            return Err(Error::Invalid {
                field: "key",
                reason: format!(
                    "a {} recorded once needs its detail to hold `{}`",
                    kind.as_str(),
                    key.escape_debug()
                ),
            });
        };
        let (text, value, path) = (detail.to_string(), value.to_string(), format!("$.{key}"));
        self.write(|tx, w| {
            let seen: bool = tx
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM events WHERE issue_id = ?1 AND event_type = ?2
                        AND json_extract(new_value, ?3) IS json_extract(?4, '$'))",
                )?
                .query_row(
                    rusqlite::params![subject, kind.as_str(), path, value],
                    |r| r.get(0),
                )?;
            if !seen {
                event(tx, w, subject, kind.as_str(), None, Some(&text), None)?;
            }
            Ok(!seen)
        })
    }
}

/// A happening written in the transaction that makes a new generation (of a polecat's
/// session, or of the mayor's or a crew member's): a sling, a witness restart, a handoff. Its
/// detail gains that `generation`, a value only the transaction knows.
#[derive(Debug, Clone)]
pub struct GenerationHappening {
    pub kind: Happening,
    pub subject: String,
    /// A JSON object.
    pub detail: serde_json::Value,
}

/// Checks each of `happenings`, before the write that carries them starts.
pub(crate) fn check_all(happenings: &[GenerationHappening]) -> Result<()> {
    happenings
        .iter()
        .try_for_each(|h| check(h.kind, &h.subject, &h.detail))
}

/// Writes `happenings` (checked by [`check_all`]) inside the transaction that made
/// `generation`.
pub(crate) fn write_with_generation(
    conn: &Connection,
    w: &WriteCtx<'_>,
    happenings: &[GenerationHappening],
    generation: i64,
) -> Result<()> {
    for h in happenings {
        let mut detail = h.detail.clone();
        detail["generation"] = generation.into();
        let text = detail.to_string();
        event(
            conn,
            w,
            &h.subject,
            h.kind.as_str(),
            None,
            Some(&text),
            None,
        )?;
    }
    Ok(())
}

impl Store {
    /// The id of the newest happening of `kind` about `subject` whose detail holds every
    /// key-value pair of `matching` (a JSON object): a token for one occurrence, since ids are
    /// never reused where names and generations are.
    pub fn last_happening_id(
        &self,
        kind: Happening,
        subject: &str,
        matching: &serde_json::Value,
    ) -> Result<Option<i64>> {
        check(kind, subject, matching)?;
        let pairs = matching.as_object().into_iter().flatten();
        let mut sql =
            String::from("SELECT max(id) FROM events WHERE issue_id = ?1 AND event_type = ?2");
        let mut params: Vec<String> = vec![subject.to_owned(), kind.as_str().to_owned()];
        for (key, value) in pairs {
            if !is_plain_key(key) {
                return Err(Error::Invalid {
                    field: "key",
                    reason: format!("`{}` is no detail key", key.escape_debug()),
                });
            }
            params.push(format!("$.{key}"));
            params.push(value.to_string());
            let (path, value) = (params.len() - 1, params.len());
            sql.push_str(&format!(
                " AND json_extract(new_value, ?{path}) IS json_extract(?{value}, '$')"
            ));
        }
        Ok(self
            .conn()
            .prepare(&sql)?
            .query_row(rusqlite::params_from_iter(&params), |r| r.get(0))?)
    }
}

/// A key a JSON path names without quoting.
fn is_plain_key(key: &str) -> bool {
    !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A happening needs a subject that can name what it concerns and a JSON object as detail.
pub(crate) fn check(kind: Happening, subject: &str, detail: &serde_json::Value) -> Result<()> {
    if subject.trim().is_empty() || subject.chars().any(char::is_control) {
        return Err(Error::Invalid {
            field: "subject",
            reason: format!(
                "`{}` cannot name what a {} concerns",
                subject.escape_debug(),
                kind.as_str()
            ),
        });
    }
    check_detail(kind, detail)
}

/// A happening's detail must be one JSON object.
pub(crate) fn check_detail(kind: Happening, detail: &serde_json::Value) -> Result<()> {
    if detail.is_object() {
        Ok(())
    } else {
        Err(Error::Invalid {
            field: "detail",
            reason: format!("a {} needs a JSON object, not `{detail}`", kind.as_str()),
        })
    }
}
