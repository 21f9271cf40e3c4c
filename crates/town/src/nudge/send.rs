//! `gt nudge`'s policy: deliver now, wait for idle, or queue — and say which honestly.

use std::time::Duration;

use jiff::Timestamp;

use super::queue::Enqueued;
use super::screen::Screen;
use super::{NudgeError, Priority, Queue, QueuedNudge, dnd};
use crate::address::Address;
use crate::layout::Town;
use crate::runtime::{Runtime, RuntimeError, SendWhen};

/// How long `wait-idle` waits for an idle prompt before it queues.
pub const WAIT_IDLE: Duration = Duration::from_secs(3);

/// How to deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Wait (at most [`WAIT_IDLE`]) for an idle prompt, else queue.
    #[default]
    WaitIdle,
    /// Queue for the agent's next turn boundary.
    Queue,
    /// Deliver now, even to a busy agent (it takes the text as its next prompt); never into
    /// half-typed input or a menu (queued instead).
    Immediate,
}

/// One nudge to send.
#[derive(Debug, Clone)]
pub struct Nudge {
    pub target: Address,
    /// The target's session.
    pub session: String,
    /// The sender's canonical address.
    pub sender: String,
    pub message: String,
    pub priority: Priority,
}

/// Why a nudge was queued rather than delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueReason {
    /// `--mode queue`.
    Asked,
    /// The target has do-not-disturb on.
    Dnd,
    /// The pane could not take it now (busy, half-typed input, a menu, no prompt).
    Screen(Screen),
    /// The account the agent runs as is rate-limited: a nudge now would only make it try
    /// again and burn its window. The daemon delivers it once the hold ends.
    RateLimited { account: String, until: Timestamp },
}

impl QueueReason {
    /// A word for `--json`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Asked => "asked",
            Self::Dnd => "dnd",
            Self::Screen(screen) => screen.as_str(),
            Self::RateLimited { .. } => "rate_limited",
        }
    }
}

/// What happened to a nudge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It arrived: pasted, seen, submitted.
    Delivered,
    /// It waits in the session's queue.
    Queued {
        reason: QueueReason,
        /// Its entry's name and the queue's depth with it.
        queued: Enqueued,
        expires_at: Timestamp,
    },
}

/// Sends `nudge` through `runtime` by `mode` (`force`: past do-not-disturb and a rate-limit
/// hold). `held` is the hold in force on the account the target runs as, if any
/// ([`crate::scheduler::accounts::hold_on`]). A session that is not running is an error and
/// nothing is queued; a pane that cannot take the text now gets it queued; any other failure
/// is an error, never a success.
pub fn deliver(
    town: &Town,
    runtime: &dyn Runtime,
    nudge: &Nudge,
    mode: Mode,
    force: bool,
    held: Option<&beads::RateHold>,
    now: Timestamp,
) -> Result<Outcome, NudgeError> {
    let message = host::tmux::sanitize_text(&nudge.message);
    if message.trim().is_empty() {
        return Err(NudgeError::EmptyMessage);
    }
    let target = nudge.target.canonical();
    check_running(runtime, &nudge.session, &target)?;
    let queue = |reason| -> Result<Outcome, NudgeError> {
        let entry = QueuedNudge::new(&nudge.sender, &target, &message, nudge.priority, now);
        let queued = enqueue(town, &nudge.session, &entry, now)?;
        Ok(Outcome::Queued {
            reason,
            queued,
            expires_at: entry.expires_at,
        })
    };
    if !force && dnd::is_on(town, &nudge.target)? {
        return queue(QueueReason::Dnd);
    }
    if let Some(hold) = held.filter(|_| !force) {
        return queue(QueueReason::RateLimited {
            account: hold.account.clone(),
            until: hold.until.parse().unwrap_or(now),
        });
    }
    let when = match mode {
        Mode::Queue => return queue(QueueReason::Asked),
        Mode::WaitIdle => SendWhen::Idle(WAIT_IDLE),
        Mode::Immediate => SendWhen::Now,
    };
    match runtime.send(&nudge.session, &message, when) {
        Ok(()) => Ok(Outcome::Delivered),
        Err(RuntimeError::Refused { screen, .. }) => queue(QueueReason::Screen(screen)),
        Err(e @ (RuntimeError::NotFound { .. } | RuntimeError::Exited { .. })) => {
            Err(NudgeError::Dead {
                target,
                source: Box::new(e),
            })
        }
        Err(source) => Err(NudgeError::Failed {
            target,
            source: Box::new(source),
        }),
    }
}

/// Adds `entry` to `session`'s queue and wakes the daemon, which delivers queues of idle
/// agents; returns its entry's name and the queue's depth with it. For callers that queue
/// directly (mail notifications).
pub fn enqueue(
    town: &Town,
    session: &str,
    entry: &QueuedNudge,
    now: Timestamp,
) -> Result<Enqueued, NudgeError> {
    let queued = Queue::new(town, session)?.enqueue(entry, now)?;
    crate::daemon::poke(town);
    Ok(queued)
}

/// The session must run its agent: a dead or missing one is [`NudgeError::Dead`].
fn check_running(runtime: &dyn Runtime, session: &str, target: &str) -> Result<(), NudgeError> {
    let dead = |source| NudgeError::Dead {
        target: target.to_owned(),
        source: Box::new(source),
    };
    match runtime.pid(session) {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(dead(match runtime.capture(session) {
            Ok(output) => RuntimeError::Exited {
                session: session.to_owned(),
                status: "not running".to_owned(),
                output: crate::runtime::tail_for_error(&output),
            },
            Err(e) => e,
        })),
        Err(e @ RuntimeError::Foreign { .. }) => Err(dead(e)),
        Err(source) => Err(NudgeError::Failed {
            target: target.to_owned(),
            source: Box::new(source),
        }),
    }
}
