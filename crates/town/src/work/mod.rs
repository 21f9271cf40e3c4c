//! The work loop: slinging beads to polecats, priming agents, and `gt done`.
//!
//! - [`identity`]: who a polecat is (`<rig>/polecats/<name>`), found from a path or the env.
//! - [`prime`]: the role context an agent reads at session start (`gt prime`).
//! - [`provision`]: what a polecat's worktree gets before its agent starts (instructions,
//!   hook settings), kept out of git.
//! - [`gitops`]: the git steps of the loop (fetch, worktrees, branches, push and verify).
//! - [`sling`]: `gt sling`, a resumable step log from bead to running agent.
//! - [`session`]: agent session records (`gt prime --hook` writes them, `gt seance` reads).
//! - [`done`]: `gt done`, a resumable step log from finished work to a queued merge request.
//! - [`handoff`]: `gt handoff`, a fresh agent of the same polecat in the same pane, its
//!   predecessor's notes in its inbox.

pub mod done;
pub mod gitops;
pub mod handoff;
pub mod hookfmt;
pub mod identity;
pub mod prime;
pub mod provision;
pub mod session;
pub mod sling;

use std::path::PathBuf;

/// Failures of the work loop. Each names what it was working on.
#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    /// The request itself cannot be done (bad target, closed bead, wrong place…).
    #[error("{0}")]
    Refused(String),
    /// Another command holds the lock.
    #[error("{what} is busy: another `gt` command is working on it")]
    Busy { what: String },
    /// A limit stops the work (the town-wide cap, the respawn breaker).
    #[error("{0}")]
    Limit(String),
    /// No room under a cap (the town's, the rig's, or direct dispatch's safety cap).
    #[error("{0}")]
    Full(crate::scheduler::admission::Full),
    /// Every account of the agent's provider is rate-limited.
    #[error("{0}")]
    RateLimited(String),
    /// Some beads of a multi-bead sling failed (each was undone); the others run.
    #[error("{} of {total} beads were not slung:{}", failed.len(), failed.iter().map(|(b, e)| format!("\n  {b}: {e}")).collect::<String>())]
    NotAllSlung {
        total: usize,
        failed: Vec<(String, String)>,
    },
    /// The agent session could not be started or reached.
    #[error("the agent session `{session}` failed: {reason}")]
    Session { session: String, reason: String },
    #[error(transparent)]
    Git(#[from] host::git::GitError),
    #[error(transparent)]
    Store(#[from] beads::Error),
    #[error(transparent)]
    Rig(#[from] crate::rig::RigError),
    #[error(transparent)]
    Settings(#[from] crate::settings::SettingsError),
    #[error(transparent)]
    Agent(#[from] crate::agents::AgentError),
    /// The agent would fail at once (its program, a credential or a root restriction).
    #[error(transparent)]
    AgentCannotStart(#[from] crate::agent_env::StartRefused),
    #[error(transparent)]
    Namepool(#[from] crate::namepool::NamepoolError),
    #[error(transparent)]
    File(#[from] crate::files::FileError),
    #[error(transparent)]
    Formula(#[from] beads::formula::FormulaError),
    #[error("cannot write `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<crate::rigctx::RigCtxError> for WorkError {
    fn from(e: crate::rigctx::RigCtxError) -> Self {
        use crate::rigctx::RigCtxError as E;
        match e {
            E::Rig(e) => e.into(),
            E::File(e) => e.into(),
            E::Settings(e) => e.into(),
        }
    }
}

impl From<host::lock::LockError> for WorkError {
    fn from(e: host::lock::LockError) -> Self {
        match e {
            host::lock::LockError::Busy { path } => Self::Busy {
                what: path.display().to_string(),
            },
            host::lock::LockError::Io { path, source } => Self::Io { path, source },
        }
    }
}

/// Takes `<town>/.runtime/locks/<name>` without waiting; when another command holds it, the
/// error names `what` is busy (a bead, a polecat) rather than the lock file.
pub(crate) fn lock(
    town: &crate::layout::Town,
    name: &str,
    what: impl FnOnce() -> String,
) -> Result<host::lock::LockGuard> {
    lock_waiting(town, name, std::time::Duration::ZERO, what)
}

/// How long a command waits for a rig's admission lock: admissions take a fetch and a
/// `git worktree add` each, so this is many of them queued, or a fetch that hangs.
const ADMISSION_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// Takes rig `rig`'s admission lock, waiting for other holders: every start of an agent in
/// the rig (and every removal of a polecat's worktree) passes here one at a time, from
/// choosing the polecat until its row, worktree and hook exist.
pub fn admission_lock(town: &crate::layout::Town, rig: &str) -> Result<host::lock::LockGuard> {
    lock_waiting(town, &admission_lock_name(rig), ADMISSION_WAIT, || {
        format!("rig `{rig}`")
    })
}

/// Takes rig `rig`'s admission lock only if nobody holds it (the witness's changes to a
/// polecat wait for the next round rather than for a sling).
pub(crate) fn try_admission_lock(
    town: &crate::layout::Town,
    rig: &str,
) -> Result<host::lock::LockGuard> {
    lock(town, &admission_lock_name(rig), || format!("rig `{rig}`"))
}

fn admission_lock_name(rig: &str) -> String {
    format!("admit-{rig}.lock")
}

/// Takes `<town>/.runtime/locks/<name>`, waiting at most `wait` for its holder.
pub(crate) fn lock_waiting(
    town: &crate::layout::Town,
    name: &str,
    wait: std::time::Duration,
    what: impl FnOnce() -> String,
) -> Result<host::lock::LockGuard> {
    let dir = town.locks_dir();
    std::fs::create_dir_all(&dir).map_err(|source| WorkError::Io {
        path: dir.clone(),
        source,
    })?;
    host::lock::lock_timeout(&dir.join(name), wait).map_err(|e| match e {
        host::lock::LockError::Busy { .. } => WorkError::Busy { what: what() },
        other => other.into(),
    })
}

/// The work loop's result type.
pub type Result<T, E = WorkError> = std::result::Result<T, E>;

pub(crate) fn refused(msg: impl Into<String>) -> WorkError {
    WorkError::Refused(msg.into())
}
