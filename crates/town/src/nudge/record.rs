//! What the town's event stream hears of nudges: one event per nudge queued, delivered (by
//! `gt nudge`, an agent's hook or the daemon) or expired undelivered. Each records what already
//! happened, and a failed write must not undo it (it is logged). A queued nudge's events are
//! written once per queue entry, keyed by the entry's name ([`ENTRY`]): whoever takes an entry
//! from the queue (delivery or expiry) first completes its `nudge_queued` if the process that
//! queued it was killed before recording it, and records its own event before the entry's file
//! goes, so a kill at any point leaves the stream complete after the next drain, never doubled.

use super::{Nudge, Outcome, Priority, QueuedNudge};
use crate::address::Address;

/// Who handed a queued nudge to its agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveredBy {
    /// The agent's own hook at a turn boundary (`gt nudge --drain --hook`, `gt mail check
    /// --inject`).
    Hook,
    /// The daemon, to an agent it found idle.
    Daemon,
}

impl DeliveredBy {
    fn as_str(self) -> &'static str {
        match self {
            Self::Hook => "hook",
            Self::Daemon => "daemon",
        }
    }
}

/// The detail key holding a queued nudge's entry name, by which its events are written once.
pub const ENTRY: &str = "entry";

/// What `gt nudge` did with `nudge`.
pub fn record(store: &mut beads::Store, nudge: &Nudge, outcome: &Outcome) {
    let target = nudge.target.canonical();
    let mut detail = detail(&target, &nudge.sender, &nudge.session, nudge.priority);
    match outcome {
        Outcome::Delivered => emit(store, beads::Happening::NudgeDelivered, &target, &detail),
        Outcome::Queued { reason, queued, .. } => {
            detail["reason"] = reason.as_str().into();
            detail["depth"] = queued.depth.into();
            detail[ENTRY] = queued.entry.as_str().into();
            emit_once(store, beads::Happening::NudgeQueued, &target, &detail);
        }
    }
}

/// `entry` was queued for `session` directly (a mail notification or reminder), for `reason`,
/// as `queued` says.
pub fn queued(
    store: &mut beads::Store,
    session: &str,
    entry: &QueuedNudge,
    reason: &str,
    queued: &super::queue::Enqueued,
) {
    let mut detail = detail(&entry.target, &entry.sender, session, entry.priority);
    detail["reason"] = reason.into();
    detail["depth"] = queued.depth.into();
    detail[ENTRY] = queued.entry.as_str().into();
    emit_once(store, beads::Happening::NudgeQueued, &entry.target, &detail);
}

/// `entries` (each with its entry name), queued for `session`, reached its agent. To be called
/// before their files are removed ([`super::Claim::done`]).
pub fn delivered(
    store: &mut beads::Store,
    session: &str,
    entries: &[(&str, &QueuedNudge)],
    by: DeliveredBy,
) {
    for &(name, entry) in entries {
        let mut detail = taken(store, session, name, entry);
        detail["by"] = by.as_str().into();
        emit_once(
            store,
            beads::Happening::NudgeDelivered,
            &entry.target,
            &detail,
        );
    }
}

/// `entries` (each with its entry name), queued for `session`, expired before any agent took
/// them. To be called before their files are removed.
pub fn expired(store: &mut beads::Store, session: &str, entries: &[(&str, &QueuedNudge)]) {
    for &(name, entry) in entries {
        let mut detail = taken(store, session, name, entry);
        detail["queued_at"] = entry.timestamp.to_string().into();
        detail["message"] = entry.message.clone().into();
        emit_once(
            store,
            beads::Happening::NudgeExpired,
            &entry.target,
            &detail,
        );
    }
}

/// Completes the `nudge_queued` of the entry `name`, now taken from `session`'s queue, when the
/// process that queued it was killed before recording it (why it was queued, and the depth,
/// died with that process), and returns the detail its taking starts from.
fn taken(
    store: &mut beads::Store,
    session: &str,
    name: &str,
    entry: &QueuedNudge,
) -> serde_json::Value {
    let mut detail = detail(&entry.target, &entry.sender, session, entry.priority);
    detail[ENTRY] = name.into();
    emit_once(store, beads::Happening::NudgeQueued, &entry.target, &detail);
    detail
}

fn detail(to: &str, from: &str, session: &str, priority: Priority) -> serde_json::Value {
    let mut detail = serde_json::json!({
        "to": to,
        "from": from,
        "session": session,
        "priority": priority.as_str(),
    });
    if let Some(rig) = Address::parse(to).ok().as_ref().and_then(Address::rig) {
        detail["rig"] = rig.into();
    }
    detail
}

fn emit(store: &mut beads::Store, kind: beads::Happening, to: &str, detail: &serde_json::Value) {
    crate::events::emit(store, kind, &subject(to, detail), detail);
}

/// [`emit`], unless the stream already holds this kind of event for the entry named in
/// `detail`.
fn emit_once(
    store: &mut beads::Store,
    kind: beads::Happening,
    to: &str,
    detail: &serde_json::Value,
) {
    let subject = subject(to, detail);
    if let Err(e) = store.record_happening_once(kind, &subject, detail, ENTRY) {
        tracing::warn!(error = %e, kind = kind.as_str(), subject, "event not recorded");
    }
}

/// The subject of a nudge's events: its target's session key.
fn subject(to: &str, detail: &serde_json::Value) -> String {
    // An entry written before queues named their target has none: the session stands in.
    let who = if to.is_empty() {
        detail["session"].as_str().unwrap_or_default()
    } else {
        to
    };
    beads::ops::sessions::session_key(who)
}
