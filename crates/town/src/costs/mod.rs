//! What the agents cost, read from their own transcripts.
//!
//! `claude`, `codex` and `gemini` read one session's transcript into a [`Reading`] (token totals per
//! model, first and last activity); `locate` finds a transcript where its CLI writes it;
//! `record` attributes a reading to the agent, its rig, bead and convoy and stores it (`gt
//! session-end`, and the daemon for agents without hooks); `prices` is the price table;
//! `report` sums the stored sessions for `gt costs`.

pub mod claude;
pub mod codex;
pub mod gemini;
pub mod locate;
pub mod prices;
pub mod record;
pub mod report;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use beads::{CostSource, ModelTokens, Tokens};

/// Why costs could not be read or recorded.
#[derive(Debug, thiserror::Error)]
pub enum CostError {
    /// A transcript could not be read at all (a bad line is a [`LineProblem`], not this).
    #[error("cannot read the transcript `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The transcript has no session id, in its lines or its name.
    #[error("the transcript `{}` names no session", path.display())]
    NoSession { path: PathBuf },
    /// The price overrides are unreadable or wrong.
    #[error(transparent)]
    Prices(#[from] crate::files::FileError),
    #[error(transparent)]
    Store(#[from] beads::Error),
}

/// A transcript line that was skipped, named by file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineProblem {
    pub path: PathBuf,
    /// 1-based.
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for LineProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.reason)
    }
}

/// One session's totals, as read from its transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    pub source: CostSource,
    /// The agent CLI's own session id.
    pub session_id: String,
    /// The transcript read (the main one, for a Claude session with subagents).
    pub transcript: PathBuf,
    /// The working directory the transcript records, when it does.
    pub cwd: Option<String>,
    /// First and last activity (normalized RFC 3339), when any line carried a time.
    pub started_at: Option<jiff::Timestamp>,
    pub ended_at: Option<jiff::Timestamp>,
    /// Totals per model.
    pub usage: BTreeMap<String, Tokens>,
    /// Lines skipped, each named by file and line.
    pub problems: Vec<LineProblem>,
}

impl Reading {
    fn new(source: CostSource, transcript: &Path) -> Self {
        Self {
            source,
            session_id: String::new(),
            transcript: transcript.to_owned(),
            cwd: None,
            started_at: None,
            ended_at: None,
            usage: BTreeMap::new(),
            problems: Vec::new(),
        }
    }

    /// The session's totals over every model.
    pub fn total(&self) -> Tokens {
        let mut t = Tokens::default();
        for u in self.usage.values() {
            t.add(u);
        }
        t
    }

    /// Per model, for the store.
    pub fn model_tokens(&self) -> Vec<ModelTokens> {
        self.usage
            .iter()
            .map(|(model, tokens)| ModelTokens {
                model: model.clone(),
                tokens: *tokens,
            })
            .collect()
    }

    /// Widens the session's span to include `at` (a line's `timestamp`); an unreadable time
    /// is a problem of that line.
    fn saw_time(&mut self, at: &str, path: &Path, line: usize) {
        match at.parse::<jiff::Timestamp>() {
            Ok(ts) => {
                self.started_at = Some(self.started_at.map_or(ts, |s| s.min(ts)));
                self.ended_at = Some(self.ended_at.map_or(ts, |e| e.max(ts)));
            }
            Err(e) => self.problem(
                path,
                line,
                format!("bad timestamp `{}`: {e}", at.escape_debug()),
            ),
        }
    }

    fn problem(&mut self, path: &Path, line: usize, reason: impl Into<String>) {
        self.problems.push(LineProblem {
            path: path.to_owned(),
            line,
            reason: reason.into(),
        });
    }
}

/// Calls `each` with every non-blank line of `path` and its 1-based number; a line that is not
/// UTF-8 is a problem, not an error. Only failing to open or read the file is an error.
fn for_each_line(
    path: &Path,
    reading: &mut Reading,
    mut each: impl FnMut(&mut Reading, usize, &str),
) -> Result<(), CostError> {
    use std::io::BufRead as _;
    let io = |source| CostError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut reader = std::io::BufReader::new(file);
    let mut buf = Vec::new();
    let mut number = 0;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).map_err(io)? == 0 {
            return Ok(());
        }
        number += 1;
        match std::str::from_utf8(&buf) {
            Ok(text) if text.trim().is_empty() => {}
            Ok(text) => each(reading, number, text.trim()),
            Err(e) => reading.problem(path, number, format!("not UTF-8: {e}")),
        }
    }
}

/// A JSON parse error as one short phrase (serde's own message carries line 1, column n).
fn json_problem(e: &serde_json::Error) -> String {
    format!("not a transcript entry: {e}")
}

/// A transcript under `tests/fixtures/transcripts` (real formats, for the readers' tests).
#[cfg(test)]
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/transcripts")
        .join(name)
}
