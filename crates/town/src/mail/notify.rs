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
    /// In JSON, one string: `queued`, `no-session`, `not-running` or `failed: …`.
    pub outcome: Outcome,
}

/// Whether a recipient was told of its mail, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A nudge is queued for its session.
    Queued,
    /// The mailbox has no agent session (a person, a service, a group, an unknown polecat).
    NoSession,
    /// It has a session, which is not running now: its next session's start hook shows the mail.
    NotRunning,
    /// Telling it failed (the mail is kept): the error, as text.
    Failed(String),
}

impl Outcome {
    /// Whether a person should hear of it: the nudge was queued, or queuing it failed. A
    /// recipient with no running session simply reads the mail later.
    pub fn is_worth_reporting(&self) -> bool {
        matches!(self, Self::Queued | Self::Failed(_))
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Queued => f.write_str("queued"),
            Self::NoSession => f.write_str("no-session"),
            Self::NotRunning => f.write_str("not-running"),
            Self::Failed(why) => write!(f, "failed: {why}"),
        }
    }
}

/// The JSON shape `gt mail send --json` has always had: the outcome as one string.
impl serde::Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Queues a nudge about `sent` for each mailbox it reached whose agent runs now.
pub fn notify(town: &Town, store: &mut Store, runtimes: &Runtimes, sent: &Sent) -> Vec<Notified> {
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
            let outcome = notify_one(town, store, runtimes, mailbox, entry).unwrap_or_else(|e| {
                tracing::warn!(mailbox = %mailbox, error = %e, "cannot notify of new mail");
                Outcome::Failed(e.to_string())
            });
            Notified {
                mailbox: mailbox.clone(),
                outcome,
            }
        })
        .collect()
}

fn notify_one(
    town: &Town,
    store: &mut Store,
    runtimes: &Runtimes,
    mailbox: &str,
    entry: impl Fn(&Address) -> QueuedNudge,
) -> Result<Outcome, NudgeError> {
    let Ok(target) = Address::parse(mailbox) else {
        return Ok(Outcome::NoSession);
    };
    let (session, runtime) = match nudge::session_of(town, Some(store), &target) {
        Ok(found) => found,
        Err(NudgeError::NoSession { .. }) => return Ok(Outcome::NoSession),
        Err(e) => return Err(e),
    };
    if session.is_empty()
        || !runtimes
            .get(&runtime)
            .is_alive(&session, &[])
            .unwrap_or(false)
    {
        return Ok(Outcome::NotRunning);
    }
    let entry = entry(&target);
    let queued = nudge::enqueue(town, &session, &entry, entry.timestamp)?;
    nudge::record::queued(store, &session, &entry, "mail", &queued);
    Ok(Outcome::Queued)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_serialize_as_the_strings_they_always_were() {
        let cases = [
            (Outcome::Queued, "queued"),
            (Outcome::NoSession, "no-session"),
            (Outcome::NotRunning, "not-running"),
            (
                Outcome::Failed("the queue is full".into()),
                "failed: the queue is full",
            ),
        ];
        for (outcome, text) in cases {
            let n = Notified {
                mailbox: "gastown/polecats/nux".into(),
                outcome,
            };
            assert_eq!(
                serde_json::to_value(&n).unwrap(),
                serde_json::json!({"mailbox": "gastown/polecats/nux", "outcome": text})
            );
        }
    }

    #[test]
    fn only_queued_and_failed_are_worth_reporting() {
        assert!(Outcome::Queued.is_worth_reporting());
        assert!(Outcome::Failed("x".into()).is_worth_reporting());
        assert!(!Outcome::NoSession.is_worth_reporting());
        assert!(!Outcome::NotRunning.is_worth_reporting());
    }
}
