//! Telling agents they have mail: after a message is committed, each agent it reached that
//! runs in a session gets a short nudge queued for it ("new mail from …, run `gt mail read`").
//!
//! The nudge is queued, never typed on the spot: `gt mail send` returns at once whatever the
//! recipient is doing, and the queue reaches the agent at its next turn boundary (its hook) or,
//! when it sits idle at its prompt, through the daemon. A recipient with no running session
//! (the overseer, a service, a dead agent) is not nudged: the mail waits in its inbox and the
//! next session's start hook shows it. A failed notification is reported and never undoes
//! the mail.

use beads::Store;
use beads::ops::mail::message_label;

use super::Sent;
use crate::address::Address;
use crate::layout::Town;
use crate::nudge::{self, NudgeError, Priority, QueuedNudge};
use crate::runtime::Runtimes;

/// What became of one recipient's notification.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Notified {
    pub mailbox: String,
    /// `queued`, or why not: `no-session`, `not-running`, `failed: …`.
    pub outcome: String,
}

/// Queues a nudge about `sent` for each mailbox it reached whose agent runs now.
pub fn notify(town: &Town, store: &Store, runtimes: &Runtimes, sent: &Sent) -> Vec<Notified> {
    let m = &sent.message;
    let label = message_label(m.id);
    let text = format!(
        "📬 New mail from {}: {} ({label}). Run `gt mail read {label}`.",
        m.from, m.subject
    );
    let priority = if m.priority <= beads::ops::mail::PRIORITY_HIGH {
        Priority::Urgent
    } else {
        Priority::Normal
    };
    let now = store.now_ts();
    sent.mailboxes
        .iter()
        .map(|mailbox| {
            let entry = |target: &Address| {
                QueuedNudge::new(&m.from, &target.canonical(), &text, priority, now)
            };
            let outcome = match notify_one(town, store, runtimes, mailbox, entry) {
                Ok(outcome) => outcome.to_owned(),
                Err(e) => {
                    tracing::warn!(mailbox = %mailbox, error = %e, "cannot notify of new mail");
                    format!("failed: {e}")
                }
            };
            Notified {
                mailbox: mailbox.clone(),
                outcome,
            }
        })
        .collect()
}

fn notify_one(
    town: &Town,
    store: &Store,
    runtimes: &Runtimes,
    mailbox: &str,
    entry: impl Fn(&Address) -> QueuedNudge,
) -> Result<&'static str, NudgeError> {
    let Ok(target) = Address::parse(mailbox) else {
        return Ok("no-session");
    };
    let (session, runtime) = match nudge::session_of(town, Some(store), &target) {
        Ok(found) => found,
        Err(NudgeError::NoSession { .. }) => return Ok("no-session"),
        Err(e) => return Err(e),
    };
    if session.is_empty()
        || !runtimes
            .get(&runtime)
            .is_alive(&session, &[])
            .unwrap_or(false)
    {
        return Ok("not-running");
    }
    let entry = entry(&target);
    nudge::enqueue(town, &session, &entry, entry.timestamp)?;
    Ok("queued")
}
