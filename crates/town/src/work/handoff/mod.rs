//! `gt handoff`: an agent hands its session to a fresh agent of itself — its notes mailed to
//! itself, then a new agent (a new context) started in the same tmux pane.
//!
//! [`prepare`] runs in the agent's own session, in this order, each step safe to repeat after a
//! crash: the cooldown check (handoffs of one agent are at least [`COOLDOWN`] apart, so a fresh
//! agent that hands off at once cannot loop), the `🤝 HANDOFF: <subject>` mail to itself (a
//! retry finds the unread one it sent since the last handoff instead of sending another), and
//! the successor marker `<town>/.runtime/handoff/<session>` that makes the next `gt prime`
//! say the agent is post-handoff ([`take_successor_note`]).
//!
//! [`respawn`] replaces the agent. It must not run in the pane's own process tree, which the
//! replacement kills: `gt handoff` starts it as a detached `gt` helper once it has printed its
//! result, and the helper waits for `gt handoff` to exit first. Under the rig's admission lock
//! it starts a new generation of the polecat (so a `gt done` from the old agent is refused)
//! with the `handoff` event in that generation's transaction, records the handoff's time (the
//! cooldown), and respawns the pane with the same preset and
//! the environment `gt sling` gives, started fresh rather than continued.
//!
//! Polecats, the mayor and crew members run in sessions the town starts, so they hand off. A
//! polecat keeps its bead, branch and worktree (upstream ends one with `gt done --status
//! DEFERRED` instead; here DEFERRED keeps its meaning: the bead goes back, blocked); the mayor
//! and crew, who hold no bead, start their next generation through [`crate::roles::respawn`].
//! A crew member's `PreCompact` hook runs `gt handoff --cycle`: a fresh session with notes
//! instead of a lossy compaction.

mod note;
mod respawn;

use std::path::PathBuf;
use std::time::Duration;

use beads::{InboxQuery, MailItem, MessageType};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::layout::Town;
use crate::mail::{MailError, Outgoing};
use crate::work::WorkError;
use crate::work::identity::PolecatId;

pub use note::successor_note;
pub use respawn::{Respawned, respawn};

/// The least time between two handoffs of one agent (upstream's two minutes).
pub const COOLDOWN: Duration = Duration::from_secs(120);
/// How a handoff mail's subject starts (upstream's protocol subject).
pub const SUBJECT_PREFIX: &str = "🤝 HANDOFF: ";
/// The subject when none is given.
pub const DEFAULT_SUBJECT: &str = "session handoff";
/// The subject and reason of `--cycle` (the `PreCompact` hook).
pub const CYCLE_SUBJECT: &str = "context cycle";
pub const CYCLE_REASON: &str = "compaction";

/// Why a handoff cannot be done.
#[derive(Debug, thiserror::Error)]
pub enum HandoffError {
    /// Not inside a session the town started.
    #[error(
        "`gt handoff` replaces the agent of a town session, but `GT_SESSION` is not set: this shell is not one"
    )]
    NoSession,
    /// `GT_SESSION` holds something no session is named.
    #[error("`GT_SESSION` is `{session}`, which is not a session name")]
    BadSession { session: String },
    /// The caller is not an agent the town starts.
    #[error(
        "`{address}` cannot hand off: only polecats, the mayor and crew run in sessions the town starts and can restart"
    )]
    NotRestartable { address: String },
    /// The store knows the polecat under another session (or not at all).
    #[error("session `{session}` is not the session of `{address}` ({recorded})")]
    WrongSession {
        session: String,
        address: String,
        recorded: String,
    },
    /// A newer generation of the polecat runs (or was started) since this agent.
    #[error(
        "this session is generation {mine} of `{address}`, but the polecat has been restarted since (generation {current}); the newer agent carries on"
    )]
    OldGeneration {
        address: String,
        mine: i64,
        current: i64,
    },
    /// Nothing is hooked: no work to hand on.
    #[error("nothing is hooked to `{address}`: there is no work to hand off")]
    NothingHooked { address: String },
    /// Inside the cooldown.
    #[error(
        "`{address}` handed off {} ago; handoffs are at least two minutes apart: try again in {}",
        short(*ago),
        short(*left)
    )]
    Cooldown {
        address: String,
        ago: Duration,
        left: Duration,
    },
    /// The polecat moved on while the respawn waited (restarted, finished, nuked).
    #[error("`{address}` changed before its handoff could respawn it: {why}")]
    Superseded { address: String, why: String },
    /// The agent's pane could not be respawned.
    #[error("cannot respawn session `{session}`")]
    Respawn {
        session: String,
        #[source]
        source: Box<crate::runtime::RuntimeError>,
    },
    #[error(transparent)]
    Mail(#[from] MailError),
    #[error(transparent)]
    Work(#[from] WorkError),
    #[error(transparent)]
    Store(#[from] beads::Error),
    #[error(transparent)]
    File(#[from] crate::files::FileError),
}

/// `1m53s`, `45s`.
fn short(d: Duration) -> String {
    let secs = d.as_secs();
    match secs / 60 {
        0 => format!("{secs}s"),
        m => format!("{m}m{}s", secs % 60),
    }
}

/// Who hands off: the session's environment (`GT_ROLE`, `GT_SESSION`, `GT_GENERATION`).
#[derive(Debug, Clone)]
pub struct Caller {
    pub address: Address,
    pub session: Option<String>,
    pub generation: Option<i64>,
}

/// What the agent says to its successor.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// After `🤝 HANDOFF: ` ([`DEFAULT_SUBJECT`] when `None`).
    pub subject: Option<String>,
    /// The Context section.
    pub message: Option<String>,
    pub reason: Option<String>,
    /// Fill the Status section from the store: the hook, inbox, in-progress and ready beads.
    pub collect: bool,
}

/// A prepared handoff: the mail sent and the marker written; the respawn is next.
#[derive(Debug, Clone, Serialize)]
pub struct Handoff {
    pub address: String,
    pub session: String,
    /// The generation handing off; the successor is the next one.
    pub generation: i64,
    /// The hooked bead (a polecat's; empty for the mayor and crew).
    pub bead: String,
    /// `msg-<n>`.
    pub mail: String,
    pub subject: String,
    /// A retry found the mail an interrupted run had sent.
    pub mail_reused: bool,
    pub marker: PathBuf,
}

/// What the successor marker holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Marker {
    pub session: String,
    pub address: String,
    pub from_generation: i64,
    pub mail: String,
    pub at: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// The checkpoint scope that records an agent's last handoff.
fn scope(address: &Address) -> String {
    format!("handoff:{address}")
}

/// Where the successor marker of `session` lives.
pub fn marker_path(town: &Town, session: &str) -> PathBuf {
    town.runtime_dir().join("handoff").join(session)
}

/// The handoff as the event stream records it, written by [`respawn`] with the new
/// generation in its transaction: a handoff is the generation changing hands, and one refused
/// as superseded records nothing. The mail is the one `prepare` named in the successor marker
/// (absent when the marker is gone or unreadable: the handoff happened all the same).
fn happening(
    town: &Town,
    address: &Address,
    session: &str,
    from_generation: i64,
    bead: &str,
) -> beads::GenerationHappening {
    let mail = crate::files::read_json_opt::<Marker>(&marker_path(town, session))
        .ok()
        .flatten()
        .filter(|m| m.from_generation == from_generation)
        .map(|m| m.mail);
    let mut detail = serde_json::json!({
        "address": address.canonical(),
        "session": session,
        "from_generation": from_generation,
        "mail": mail,
    });
    if let Some(rig) = address.rig() {
        detail["rig"] = rig.into();
    }
    if !bead.is_empty() {
        detail["bead"] = bead.into();
    }
    beads::GenerationHappening {
        kind: beads::Happening::Handoff,
        subject: beads::ops::sessions::session_key(&address.canonical()),
        detail,
    }
}

/// The polecat and its row, checked against the caller's session and generation.
fn caller_polecat(
    store: &beads::Store,
    address: &Address,
    session: &str,
    generation: Option<i64>,
) -> Result<(PolecatId, beads::Polecat), HandoffError> {
    let Address::Polecat { rig, name } = address else {
        return Err(HandoffError::NotRestartable {
            address: address.canonical(),
        });
    };
    let id = PolecatId::new(rig, name).ok_or_else(|| HandoffError::NotRestartable {
        address: address.canonical(),
    })?;
    let row = store.polecat(rig, name)?;
    check_caller(
        address,
        session,
        generation,
        row.as_ref().map(|r| (r.session.as_str(), r.generation)),
        "the store has no such polecat",
    )?;
    Ok((id, row.expect("checked: the polecat exists")))
}

/// The mayor's or crew member's row, checked against the caller's session and generation.
fn caller_role(
    store: &beads::Store,
    address: &Address,
    session: &str,
    generation: Option<i64>,
) -> Result<beads::RoleAgent, HandoffError> {
    let row = store.role_agent(&address.canonical())?;
    check_caller(
        address,
        session,
        generation,
        row.as_ref().map(|r| (r.session.as_str(), r.generation)),
        "it was never started by the town",
    )?;
    Ok(row.expect("checked: the agent is registered"))
}

/// Checks the caller's session and generation against what the store records for `address`
/// (`recorded`: its session and generation, `None` when it has no row, described by `missing`).
fn check_caller(
    address: &Address,
    session: &str,
    generation: Option<i64>,
    recorded: Option<(&str, i64)>,
    missing: &str,
) -> Result<(), HandoffError> {
    let current = match recorded {
        Some((s, current)) if s == session => current,
        other => {
            return Err(HandoffError::WrongSession {
                session: session.to_owned(),
                address: address.canonical(),
                recorded: other.map_or_else(
                    || missing.to_owned(),
                    |(s, _)| format!("the store records session `{s}`"),
                ),
            });
        }
    };
    if let Some(mine) = generation
        && mine != current
    {
        return Err(HandoffError::OldGeneration {
            address: address.canonical(),
            mine,
            current,
        });
    }
    Ok(())
}

/// When `address` last handed off (its respawn), if ever.
fn last_handoff(
    store: &beads::Store,
    address: &Address,
) -> Result<Option<Timestamp>, beads::Error> {
    Ok(store
        .checkpoints(&scope(address))?
        .get("at")
        .and_then(|at| at.parse().ok()))
}

/// Refuses a handoff inside the cooldown.
fn check_cooldown(
    store: &beads::Store,
    address: &Address,
) -> Result<Option<Timestamp>, HandoffError> {
    let Some(last) = last_handoff(store, address)? else {
        return Ok(None);
    };
    let secs = store
        .now_ts()
        .as_second()
        .saturating_sub(last.as_second())
        .max(0);
    let ago = Duration::from_secs(secs.unsigned_abs());
    if ago < COOLDOWN {
        return Err(HandoffError::Cooldown {
            address: address.canonical(),
            ago,
            left: COOLDOWN - ago,
        });
    }
    Ok(Some(last))
}

/// Steps 1–3 of a handoff (cooldown, mail, marker), run in the agent's session. Changes
/// nothing when refused.
pub fn prepare(
    town: &Town,
    store: &mut beads::Store,
    caller: &Caller,
    req: &Request,
) -> Result<Handoff, HandoffError> {
    let session = caller.session.clone().ok_or(HandoffError::NoSession)?;
    crate::runtime::check_session_name(&session).map_err(|_| HandoffError::BadSession {
        session: session.clone(),
    })?;
    let me = &caller.address;
    let (generation, bead, body) = match me {
        Address::Mayor | Address::Crew { .. } => {
            let row = caller_role(store, me, &session, caller.generation)?;
            let body = note::role_body(store, me, &row, req)?;
            (row.generation, String::new(), body)
        }
        _ => {
            let (id, row) = caller_polecat(store, me, &session, caller.generation)?;
            if row.bead_id.is_empty() {
                return Err(HandoffError::NothingHooked {
                    address: me.canonical(),
                });
            }
            let body = note::body(town, store, &id, &row, req)?;
            (row.generation, row.bead_id, body)
        }
    };
    let last = check_cooldown(store, me)?;
    let subject = format!(
        "{SUBJECT_PREFIX}{}",
        one_line(req.subject.as_deref().unwrap_or(DEFAULT_SUBJECT))
    );
    let (mail_id, reused) = match pending_mail(store, me, last)? {
        Some(item) => (item.message.id, true),
        None => {
            let sent = crate::mail::send(
                town,
                store,
                me,
                &Outgoing {
                    to: vec![me.clone()],
                    cc: Vec::new(),
                    subject: subject.clone(),
                    body,
                    priority: beads::ops::mail::PRIORITY_HIGH,
                    msg_type: MessageType::Task,
                    reply_to: None,
                    ephemeral: None,
                },
            )?;
            (sent.message.id, false)
        }
    };
    let mail = beads::ops::mail::message_label(mail_id);
    let marker = marker_path(town, &session);
    let record = Marker {
        session: session.clone(),
        address: me.canonical(),
        from_generation: generation,
        mail: mail.clone(),
        at: store.now(),
        reason: req.reason.as_deref().map(one_line),
    };
    let json = serde_json::to_vec_pretty(&record).map_err(|e| crate::files::FileError::Io {
        path: marker.clone(),
        source: std::io::Error::other(e),
    })?;
    crate::files::write_atomic(&marker, &json)?;
    Ok(Handoff {
        address: me.canonical(),
        session,
        generation,
        bead,
        mail,
        subject: if reused {
            store.mail_item(&me.canonical(), mail_id)?.message.subject
        } else {
            subject
        },
        mail_reused: reused,
        marker,
    })
}

/// The unread handoff mail `me` sent itself since its last handoff: an interrupted run's.
fn pending_mail(
    store: &beads::Store,
    me: &Address,
    since: Option<Timestamp>,
) -> Result<Option<MailItem>, beads::Error> {
    let mailbox = me.canonical();
    let unread = store.mail_inbox(&mailbox, &InboxQuery::unread())?;
    Ok(unread.into_iter().find(|m| {
        m.message.from == mailbox
            && m.message.subject.starts_with(SUBJECT_PREFIX)
            && since.is_none_or(|s| {
                m.message
                    .created_at
                    .parse::<Timestamp>()
                    .is_ok_and(|at| at > s)
            })
    }))
}

/// Text for one line: blanks for line breaks and tabs, other control characters dropped.
fn one_line(text: &str) -> String {
    text.split(['\n', '\r', '\t'])
        .map(|part| part.chars().filter(|c| !c.is_control()).collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_short() {
        assert_eq!(short(Duration::from_secs(45)), "45s");
        assert_eq!(short(Duration::from_secs(113)), "1m53s");
    }

    #[test]
    fn subjects_become_one_safe_line() {
        assert_eq!(one_line(" fix\nthe\tbuild\u{1b}[2J "), "fix the build[2J");
    }
}
