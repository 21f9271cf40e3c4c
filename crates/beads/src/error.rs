//! The store's errors. Each variant says what went wrong with which input; the binaries decide
//! whose fault it is.

use std::path::PathBuf;

/// A failed store operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No issue has this id (after prefix and partial resolution).
    #[error("no issue found matching `{id}`")]
    NotFound { id: String },
    /// A partial id matches several issues.
    #[error("`{input}` is ambiguous: it matches {}", candidates.join(", "))]
    Ambiguous {
        input: String,
        candidates: Vec<String>,
    },
    /// A field value is not acceptable.
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// The dependency would close a cycle of blocking edges.
    #[error("adding `{from}` → `{to}` ({kind}) would create a cycle: {}", path.join(" → "))]
    Cycle {
        from: String,
        to: String,
        kind: String,
        path: Vec<String>,
    },
    /// The operation conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// A named state transition of a merge request or polecat found the row in a state it
    /// does not start from (another writer moved it first), or found no row at all. Nothing
    /// was written.
    #[error("cannot {action} {what} `{id}`: {}", transition_clause(*from, allowed))]
    InvalidTransition {
        /// `merge request` or `polecat`.
        what: &'static str,
        /// The row (`mr-12`, `gastown/nux`).
        id: String,
        /// The transition asked for (`retry`, `land`, …).
        action: &'static str,
        /// The state the row is in; `None` when there is no such row.
        from: Option<&'static str>,
        /// The state the transition would have moved it to.
        to: &'static str,
        /// The states the transition starts from, as words (`failed or conflict`).
        allowed: String,
    },
    /// No message with this id is in the mailbox (never sent there, deleted, or collected).
    #[error("no message `{id}` in the mailbox `{mailbox}`")]
    NoMessage { id: String, mailbox: String },
    /// Somebody else holds the issue.
    #[error("`{id}` is already claimed by `{by}`")]
    AlreadyClaimed { id: String, by: String },
    /// The issue cannot be claimed in its current status.
    #[error("`{id}` cannot be claimed: its status is `{status}`, not `open`")]
    NotClaimable { id: String, status: String },
    /// There is nothing to claim.
    #[error("no ready issue to claim")]
    NothingReady,
    /// A write on a store opened read-only.
    #[error("the store is read-only here (`--readonly`), and this command changes it")]
    ReadOnly,
    /// No `.beads/` directory was found.
    #[error("no beads database found from `{}` upward", start.display())]
    NoStore { start: PathBuf },
    /// `bd init` where a store exists.
    #[error("a beads database already exists at `{}`", path.display())]
    AlreadyInitialized { path: PathBuf },
    /// The database file is not a usable beads database.
    #[error("the database `{}` is unusable: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    /// `bd doctor` found errors in the store that it could not repair; writes refuse until a
    /// doctor run finds none.
    #[error("the database `{}` has errors `bd doctor` found: {errors}", path.display())]
    DoctorFound { path: PathBuf, errors: String },
    /// An import file line does not parse.
    #[error("line {line}: {reason}")]
    BadLine { line: usize, reason: String },
    /// A line of one of the files an import reads does not parse or is refused.
    #[error("`{file}` line {line}: {reason}")]
    BadRow {
        file: String,
        line: usize,
        reason: String,
    },
    /// A raw `bd sql` statement failed.
    #[error("SQL error: {0}")]
    Sql(String),
    /// SQLite failed.
    #[error("database error")]
    Sqlite(#[from] rusqlite::Error),
    /// A file could not be read or written.
    #[error("cannot access `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

fn transition_clause(from: Option<&str>, allowed: &str) -> String {
    match from {
        None => "it does not exist".to_owned(),
        Some(from) => format!("it is {from}, not {allowed}"),
    }
}

/// `a`, `a or b`, `a, b or c`: the states a transition starts from, for its error.
pub(crate) fn either(words: &[&str]) -> String {
    match words {
        [] => "nothing".to_owned(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// The store's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The SQLite error type, for callers that match on [`Error::Sqlite`].
pub use rusqlite::Error as RusqliteError;
