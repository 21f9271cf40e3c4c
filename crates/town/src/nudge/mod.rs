//! Nudges: short text delivered into an agent's session now, or queued for its next turn
//! boundary, and never reported as delivered when it did not arrive.
//!
//! - [`screen`]: what a pane shows (idle, half-typed input, busy, a menu), from a capture.
//! - [`queue`]: the per-session file queue (TTL, depth limit, claims that expire).
//! - [`dnd`]: do-not-disturb per identity.
//! - [`send`]: the policy of `gt nudge` (modes, DND, busy → queue) over
//!   [`Runtime::send`](crate::runtime::Runtime::send), the one delivery path.
//! - [`drain`]: what an agent's hook and the daemon do with a queue.
//! - [`record`]: the nudges' events in the town's event stream.
//! - [`target`]: which session an address's nudges go to.

pub mod dnd;
pub mod drain;
pub mod queue;
pub mod record;
pub mod screen;
pub mod send;
pub mod target;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use drain::{DrainService, drain, render};
pub use queue::{Claim, Queue, QueuedNudge};
pub use record::record;
pub use send::{Mode, Nudge, Outcome, QueueReason, deliver, enqueue};
pub use target::{address_of_session, session_of};

/// How urgent a nudge is: urgent ones live longer in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    #[default]
    Normal,
    Urgent,
}

impl Priority {
    /// How long a queued nudge waits before it is dropped: 30 min, or 2 h when urgent.
    pub fn ttl(self) -> Duration {
        match self {
            Self::Normal => Duration::from_secs(30 * 60),
            Self::Urgent => Duration::from_secs(2 * 60 * 60),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::Urgent => "urgent",
        }
    }
}

/// A nudge that could not be sent or queued.
#[derive(Debug, thiserror::Error)]
pub enum NudgeError {
    /// The message is empty once control characters are removed.
    #[error("the nudge message is empty")]
    EmptyMessage,
    /// The target has no session to nudge (a service, a person, a group).
    #[error("`{target}` has no agent session to nudge: {why}")]
    NoSession { target: String, why: String },
    /// The target's session is not running: nothing was delivered or queued.
    #[error("cannot nudge `{target}`: its agent is not running")]
    Dead {
        target: String,
        #[source]
        source: Box<crate::runtime::RuntimeError>,
    },
    /// Delivery started and failed.
    #[error("nudge to `{target}` failed")]
    Failed {
        target: String,
        #[source]
        source: Box<crate::runtime::RuntimeError>,
    },
    /// A session name no agent of this town runs in.
    #[error("no agent of this town runs in a session named `{session}`")]
    UnknownSession { session: String },
    /// A session name that cannot name a queue.
    #[error("invalid session name `{session}`: use letters, digits, `-` and `_`")]
    InvalidSession { session: String },
    /// The session's queue is at its depth limit.
    #[error("the nudge queue of session `{session}` is full ({depth} entries waiting)")]
    QueueFull { session: String, depth: usize },
    #[error("cannot access `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot lock the nudge queue of `{session}`")]
    Lock {
        session: String,
        #[source]
        source: host::lock::LockError,
    },
    #[error(transparent)]
    File(#[from] crate::files::FileError),
    #[error(transparent)]
    Rig(#[from] crate::rigctx::RigCtxError),
    #[error(transparent)]
    Store(#[from] beads::Error),
}
