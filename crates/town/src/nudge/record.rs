//! What the town's event stream hears of nudges: one event per nudge queued, delivered (by
//! `gt nudge`, an agent's hook or the daemon) or expired undelivered. Best effort: each
//! records what already happened, and a missing line must not undo it.

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

/// What `gt nudge` did with `nudge`.
pub fn record(store: &mut beads::Store, nudge: &Nudge, outcome: &Outcome) {
    let target = nudge.target.canonical();
    let mut detail = detail(&target, &nudge.sender, &nudge.session, nudge.priority);
    let kind = match outcome {
        Outcome::Delivered => beads::Happening::NudgeDelivered,
        Outcome::Queued { reason, depth, .. } => {
            detail["reason"] = reason.as_str().into();
            detail["depth"] = (*depth).into();
            beads::Happening::NudgeQueued
        }
    };
    emit(store, kind, &target, &detail);
}

/// `entry` was queued for `session` directly (a mail notification or reminder), for `reason`,
/// leaving the queue `depth` deep.
pub fn queued(
    store: &mut beads::Store,
    session: &str,
    entry: &QueuedNudge,
    reason: &str,
    depth: usize,
) {
    let mut detail = detail(&entry.target, &entry.sender, session, entry.priority);
    detail["reason"] = reason.into();
    detail["depth"] = depth.into();
    emit(store, beads::Happening::NudgeQueued, &entry.target, &detail);
}

/// `entries`, queued for `session`, reached its agent.
pub fn delivered(
    store: &mut beads::Store,
    session: &str,
    entries: &[QueuedNudge],
    by: DeliveredBy,
) {
    for entry in entries {
        let mut detail = detail(&entry.target, &entry.sender, session, entry.priority);
        detail["by"] = by.as_str().into();
        emit(
            store,
            beads::Happening::NudgeDelivered,
            &entry.target,
            &detail,
        );
    }
}

/// `entries`, queued for `session`, expired before any agent took them.
pub fn expired(store: &mut beads::Store, session: &str, entries: &[QueuedNudge]) {
    for entry in entries {
        let mut detail = detail(&entry.target, &entry.sender, session, entry.priority);
        detail["queued_at"] = entry.timestamp.to_string().into();
        detail["message"] = entry.message.clone().into();
        emit(
            store,
            beads::Happening::NudgeExpired,
            &entry.target,
            &detail,
        );
    }
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
    // An entry written before queues named their target has none: the session stands in.
    let who = if to.is_empty() {
        detail["session"].as_str().unwrap_or_default()
    } else {
        to
    };
    let subject = beads::ops::sessions::session_key(who);
    crate::events::emit(store, kind, &subject, detail);
}
