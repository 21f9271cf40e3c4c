//! Agent session runtimes: where an agent's process runs and how we talk to it.
//!
//! [`Runtime`] starts, inspects, sends text to and stops one named session. Two
//! implementations:
//!
//! - [`TmuxRuntime`] (the default): one tmux session per agent on the town's own tmux server
//!   (`tmux -L gt-<hash of the town path>`, see [`socket_for_town`]), never the user's default
//!   server. Readiness is read off the pane, startup dialogs are answered, and text sent is
//!   checked to have arrived. The server may still be shared (`GT_TMUX_SOCKET`), so a session
//!   `gt-furiosa` is the tmux session `gt-furiosa-<town tag>` ([`town_tag`]), stamped with the
//!   town's root, and no operation acts on a session another town stamped.
//! - [`SubprocessRuntime`]: headless, for CI and machines without tmux. The agent is a detached
//!   process with its output in a log file; it cannot be sent text, so the first prompt has to
//!   be a command-line argument.
//!
//! Neither waits on its own: callers run [`Runtime::start`], then [`Runtime::wait_ready`] with
//! the preset's [`Readiness`], then [`Runtime::send`] if the prompt is not an argument.

mod subprocess;
mod tmux;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use host::spawn::SpawnError;
use host::tmux::TmuxError;

use crate::agents::Readiness;
use crate::nudge::screen::Screen;

pub use subprocess::SubprocessRuntime;
pub use tmux::DEFAULT_PROMPT;
pub use tmux::{AttachCommand, TmuxRuntime};

/// How many lines [`Runtime::capture`] returns.
pub const CAPTURE_LINES: usize = 200;
/// How long a stopped session's processes get between `SIGTERM` and `SIGKILL` by default.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(5);
/// How many lines of output an error message carries.
const ERROR_LINES: usize = 20;

/// What to run in a new session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSpec {
    /// The session name: letters, digits, `-` and `_` (`gt-furiosa`, `hq-mayor`).
    pub name: String,
    /// The working directory.
    pub cwd: PathBuf,
    /// Environment variables to set. The subprocess runtime passes exactly these (include
    /// `PATH` and `HOME`); a tmux pane also inherits the tmux server's environment.
    pub env: Vec<(String, String)>,
    /// The program and its arguments; never interpreted by a shell.
    pub argv: Vec<String>,
    /// How to tell that the agent accepts input (for [`Runtime::wait_ready`]).
    pub readiness: Readiness,
    /// Process names that mean the agent is running (for [`Runtime::is_alive`]).
    pub process_names: Vec<String>,
}

/// A started session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionHandle {
    pub name: String,
    /// The tmux pane id (`%3`); `None` outside tmux.
    pub pane_id: Option<String>,
    /// The pid of the agent's process.
    pub pid: u32,
}

/// A runtime operation that failed, naming the session.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The name cannot be used for a session.
    #[error("invalid session name `{name}`: use letters, digits, `-` and `_`")]
    InvalidName { name: String },
    /// The spec has an empty argv.
    #[error("session `{session}` has no command to run")]
    EmptyCommand { session: String },
    /// A live session of that name exists.
    #[error("session `{session}` is already running (in the {runtime} runtime)")]
    AlreadyRunning {
        session: String,
        runtime: &'static str,
    },
    /// The tmux session of that name belongs to another town (or to no town): left alone.
    #[error(
        "tmux session `{tmux_session}` (for `{session}`) belongs to {}, not to this town; \
         leaving it alone",
        if owner.is_empty() { "no town".to_owned() } else { format!("the town at `{owner}`") }
    )]
    Foreign {
        session: String,
        tmux_session: String,
        owner: String,
    },
    /// No session of that name exists.
    #[error("no session `{session}` (in the {runtime} runtime)")]
    NotFound {
        session: String,
        runtime: &'static str,
    },
    /// The agent's process has exited.
    #[error("the agent in session `{session}` has exited ({status}); its last output:\n{output}")]
    Exited {
        session: String,
        status: String,
        output: String,
    },
    /// The ready prompt did not appear in time.
    #[error(
        "the agent in session `{session}` showed no `{prefix}` prompt within {waited:?}; its last \
         output:\n{output}"
    )]
    NotReady {
        session: String,
        prefix: String,
        waited: Duration,
        output: String,
    },
    /// The agent waits at a startup screen that has no answer Gas Town may give (a sign-in
    /// without credentials).
    #[error("the agent in session `{session}` cannot start: {why}; its screen:\n{output}")]
    Unanswerable {
        session: String,
        why: String,
        output: String,
    },
    /// Pasted text never showed up in the pane's input line (it was pasted once, never again,
    /// so it cannot arrive twice).
    #[error(
        "text pasted into session `{session}` never appeared in its input line; its last \
         output:\n{output}"
    )]
    NotDelivered { session: String, output: String },
    /// The text showed in the input line but Enter never submitted it.
    #[error(
        "text pasted into session `{session}` stayed in its input line after Enter was pressed \
         {attempts} times; its last output:\n{output}"
    )]
    NotSubmitted {
        session: String,
        attempts: u32,
        output: String,
    },
    /// The pane was in no state to take text (busy while asked to wait for idle, half-typed
    /// input, a menu); nothing was typed.
    #[error("session `{session}` {}; nothing was typed", describe(screen))]
    Refused { session: String, screen: Screen },
    /// The runtime has no way to type into the session.
    #[error(
        "the {runtime} runtime cannot send text to `{session}`; pass the prompt as an argument"
    )]
    SendUnsupported {
        session: String,
        runtime: &'static str,
    },
    /// A tmux command failed.
    #[error("tmux failed for session `{session}`")]
    Tmux {
        session: String,
        #[source]
        source: TmuxError,
    },
    /// Starting or stopping the session's processes failed.
    #[error("cannot {action} session `{session}`")]
    Process {
        session: String,
        action: &'static str,
        #[source]
        source: SpawnError,
    },
    /// A state file could not be read or written.
    #[error("cannot {action} `{}` for session `{session}`", path.display())]
    Io {
        session: String,
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The session's pid file holds something else than a pid.
    #[error("pid file `{}` of session `{session}` is corrupt: {content:?}", path.display())]
    CorruptPidFile {
        session: String,
        path: PathBuf,
        content: String,
    },
    /// The session's lock could not be taken.
    #[error("cannot lock session `{session}`")]
    Lock {
        session: String,
        #[source]
        source: host::lock::LockError,
    },
}

/// Starts, inspects, talks to and stops agent sessions, by name.
pub trait Runtime: Send + Sync {
    /// `tmux` or `subprocess`.
    fn kind(&self) -> &'static str;

    /// Starts `spec`. A live session of the same name is an error; a dead one is replaced.
    fn start(&self, spec: &SessionSpec) -> Result<SessionHandle, RuntimeError>;

    /// Waits until the agent accepts input: its prompt shows (answering startup dialogs on the
    /// way, where the runtime can), or the delay has passed. Fails at once if the agent exits,
    /// and after `timeout` if no prompt showed.
    fn wait_ready(
        &self,
        name: &str,
        readiness: &Readiness,
        timeout: Duration,
    ) -> Result<(), RuntimeError>;

    /// Delivers `text` to the session as one message: pasted whole, then Enter, both checked
    /// in the pane (see [`TmuxRuntime`]'s implementation), under the session's delivery lock.
    /// Never succeeds without having delivered the text, never types into half-typed input,
    /// and with [`SendWhen::Idle`] refuses ([`RuntimeError::Refused`]) an agent that stays busy.
    fn send(&self, name: &str, text: &str, when: SendWhen) -> Result<(), RuntimeError>;

    /// The session's last [`CAPTURE_LINES`] lines of output.
    fn capture(&self, name: &str) -> Result<String, RuntimeError>;

    /// Whether the session exists and its agent process runs; with `process_names`, also that
    /// the agent's process or one of its descendants has one of those names.
    fn is_alive(&self, name: &str, process_names: &[String]) -> Result<bool, RuntimeError>;

    /// The pid of the session's agent process (the leader of its process group), while it runs.
    fn pid(&self, name: &str) -> Result<Option<u32>, RuntimeError>;

    /// The status the session's agent exited with, while the session still shows its dead
    /// agent; `None` while it runs, when it was killed by a signal, or when the runtime cannot
    /// know.
    fn exit_status(&self, name: &str) -> Result<Option<i32>, RuntimeError>;

    /// When the session's agent last wrote output; `None` for a session that does not exist
    /// (or never wrote).
    fn last_output(&self, name: &str) -> Result<Option<jiff::Timestamp>, RuntimeError>;

    /// Freezes (`SIGSTOP`) or thaws every process of the session's agent; returns whether the
    /// session runs. Used by `gt estop`/`gt thaw`.
    fn freeze(&self, name: &str, freeze: bool) -> Result<bool, RuntimeError>;

    /// Stops the session and every process in it. A session that is gone already is fine.
    fn stop(&self, name: &str) -> Result<(), RuntimeError>;

    /// Replaces the session's agent with a fresh one from `spec`.
    fn respawn(&self, spec: &SessionSpec) -> Result<SessionHandle, RuntimeError>;
}

/// When [`Runtime::send`] may deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendWhen {
    /// Now, busy or not (a busy agent takes the text as its next prompt), unless a person's
    /// half-typed input or a menu is in the way.
    Now,
    /// Once the pane shows an idle prompt, waiting at most this long for it.
    Idle(Duration),
}

/// How a refusal reads in a message.
fn describe(screen: &Screen) -> String {
    match screen {
        Screen::Idle => "is idle".to_owned(),
        Screen::Partial(input) => format!(
            "holds half-typed input at its prompt (`{}`) that a paste would merge with",
            ui_safe(input)
        ),
        Screen::Busy => "stayed busy (`esc to interrupt`)".to_owned(),
        Screen::Menu => "shows a menu waiting for a choice; text would pick an option".to_owned(),
        Screen::Unknown => "shows no prompt".to_owned(),
    }
}

/// `text` with control characters shown as escapes, for a message.
fn ui_safe(text: &str) -> String {
    text.chars().flat_map(char::escape_debug).collect()
}

/// The runtimes of one town: the one new sessions start in, and, for a session that exists,
/// the one it was started in (recorded with its polecat), whatever `GT_RUNTIME` says now. A
/// liveness check in the wrong runtime sees every agent as dead, and a restart decided on
/// that would put a second agent beside the first.
pub struct Runtimes {
    tmux: TmuxRuntime,
    subprocess: SubprocessRuntime,
    default_subprocess: bool,
}

impl Runtimes {
    /// `default_kind` is where new sessions start: `subprocess`, or anything else for tmux.
    pub fn new(tmux: TmuxRuntime, subprocess: SubprocessRuntime, default_kind: &str) -> Self {
        Self {
            tmux,
            subprocess,
            default_subprocess: default_kind == subprocess::KIND,
        }
    }

    /// The tmux runtime, for what only it has (listing the town's sessions, its server).
    pub fn tmux(&self) -> &TmuxRuntime {
        &self.tmux
    }

    /// The runtime new sessions start in.
    pub fn default_runtime(&self) -> &dyn Runtime {
        if self.default_subprocess {
            &self.subprocess
        } else {
            &self.tmux
        }
    }

    /// The runtime a session recorded as started in `kind` lives in (`tmux`, `subprocess`);
    /// an empty kind (never started) is the default one.
    pub fn get(&self, kind: &str) -> &dyn Runtime {
        match kind {
            subprocess::KIND => &self.subprocess,
            tmux::KIND => &self.tmux,
            _ => self.default_runtime(),
        }
    }

    /// The runtime session `name` lives in: the one `kind` records (a polecat's row), or, for a
    /// session nothing records (the mayor's, a crew member's: `kind` empty), the one where it
    /// runs, tmux first, else the default one.
    pub fn find(&self, kind: &str, name: &str) -> &dyn Runtime {
        if !kind.is_empty() {
            return self.get(kind);
        }
        [&self.tmux as &dyn Runtime, &self.subprocess]
            .into_iter()
            .find(|r| r.is_alive(name, &[]).unwrap_or(false))
            .unwrap_or_else(|| self.default_runtime())
    }

    /// Every session of the town that exists, with the kind of runtime it is in: the tmux
    /// sessions stamped as the town's (none where tmux is not installed), then the
    /// subprocesses with a pid file.
    pub fn sessions(&self) -> Result<Vec<(String, &'static str)>, RuntimeError> {
        let tmux = match self.tmux.town_sessions() {
            Ok(names) => names,
            Err(RuntimeError::Tmux {
                source: TmuxError::Spawn { .. },
                ..
            }) => Vec::new(),
            Err(e) => return Err(e),
        };
        let subprocess = self.subprocess.sessions()?;
        Ok(tmux
            .into_iter()
            .map(|n| (n, tmux::KIND))
            .chain(subprocess.into_iter().map(|n| (n, subprocess::KIND)))
            .collect())
    }
}

/// The tmux socket name of the town at `town_root`: `gt-` and 8 hex digits of the FNV-1a hash
/// of its canonical path, so every `gt` in one town finds the same server and two towns never
/// share one. `GT_TMUX_SOCKET`, when set, is used instead (callers pass it to
/// [`TmuxRuntime::for_town`]).
pub fn socket_for_town(town_root: &Path) -> String {
    format!("gt-{}", town_tag(town_root))
}

/// A short, stable tag for the town at `town_root`: 8 hex digits of the FNV-1a hash of its
/// canonical path. Names the town's tmux socket and suffixes its tmux session names.
pub fn town_tag(town_root: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    format!(
        "{:08x}",
        fnv1a32(canonical_root(town_root).as_os_str().as_bytes())
    )
}

/// The town root as the tag and the tmux owner stamp see it: canonical where it exists.
fn canonical_root(town_root: &Path) -> PathBuf {
    town_root
        .canonicalize()
        .unwrap_or_else(|_| town_root.to_owned())
}

/// 32-bit FNV-1a: tiny, stable across versions and platforms, good enough to tell towns apart.
fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash, &b| {
        (hash ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// Checks a session name: non-empty, at most 64 of `[A-Za-z0-9_-]`. Stricter than tmux needs,
/// so the same names also work as file names for the subprocess runtime.
pub fn check_session_name(name: &str) -> Result<(), RuntimeError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(RuntimeError::InvalidName {
            name: name.to_owned(),
        })
    }
}

fn check_spec(spec: &SessionSpec) -> Result<(), RuntimeError> {
    check_session_name(&spec.name)?;
    if spec.argv.is_empty() {
        return Err(RuntimeError::EmptyCommand {
            session: spec.name.clone(),
        });
    }
    Ok(())
}

/// Polls `f` until it returns `Some`, or `None` once `timeout` has passed. The first call is
/// immediate; pauses double from 10 ms to 200 ms, and the last is cut short at the deadline.
fn poll<T>(
    timeout: Duration,
    mut f: impl FnMut() -> Result<Option<T>, RuntimeError>,
) -> Result<Option<T>, RuntimeError> {
    let start = Instant::now();
    let mut delay = Duration::from_millis(10);
    loop {
        if let Some(value) = f()? {
            return Ok(Some(value));
        }
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            return Ok(None);
        }
        std::thread::sleep(delay.min(timeout - elapsed));
        delay = (delay * 2).min(Duration::from_millis(200));
    }
}

/// The last [`ERROR_LINES`] non-blank lines of `text`, for an error message.
pub(crate) fn tail_for_error(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(ERROR_LINES);
    if lines.is_empty() {
        return "  (no output)".to_owned();
    }
    lines[start..]
        .iter()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The last `n` lines of real output in a captured screen, for a person to read: blank lines
/// at either end dropped and each run of blank lines inside squeezed to one, since a TUI agent
/// leaves the rows between its output and its input box blank and a plain tail of the pane
/// would be mostly that padding. Lines keep their text as captured (escape them to print).
pub fn output_tail(text: &str, n: usize) -> Vec<&str> {
    let mut lines: Vec<&str> = Vec::new();
    for line in text.lines() {
        let blank = line.trim().is_empty();
        if blank && lines.last().is_none_or(|l| l.trim().is_empty()) {
            continue;
        }
        lines.push(if blank { "" } else { line });
    }
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let start = lines.len().saturating_sub(n);
    lines.split_off(start)
}

/// Whether `line` is the agent's input prompt: after leading blanks and box borders it starts
/// with `prefix` (trailing blanks ignored: tmux drops them). A numbered menu entry under a
/// cursor (`❯ 1. Yes, proceed`) is a dialog, not the prompt.
pub(crate) fn is_prompt_line(line: &str, prefix: &str) -> bool {
    let prefix = prefix.trim();
    let line = line.trim_start_matches(|c: char| c.is_whitespace() || matches!(c, '│' | '┃' | '|'));
    match line.strip_prefix(prefix) {
        Some(rest) => !prefix.is_empty() && !is_numbered_option(rest.trim_start()),
        None => false,
    }
}

/// Whether the end of a captured screen shows a menu waiting for a choice: a numbered option
/// under a cursor (`❯ 1. Yes, proceed`), or options without numbers over their keys' hint
/// (`Enter to confirm · Esc to cancel`), as agent CLIs' dialogs draw them. Typing text there
/// would pick an option, so a stalled agent at a menu is escalated, never nudged.
pub fn shows_menu(screen: &str) -> bool {
    let tail: Vec<&str> = screen
        .lines()
        .rev()
        .filter(|l| !l.trim().is_empty())
        .take(15)
        .collect();
    let top_down: Vec<&str> = tail.iter().rev().copied().collect();
    tmux::last_menu(&top_down).is_some()
        || tail.iter().any(|line| {
            let line = line
                .trim_start_matches(|c: char| c.is_whitespace() || matches!(c, '│' | '┃' | '|'));
            ["❯", ">", "›"].iter().any(|cursor| {
                line.strip_prefix(cursor)
                    .is_some_and(|rest| is_numbered_option(rest.trim_start()))
            })
        })
}

/// `1. Yes`, `2) No`.
fn is_numbered_option(text: &str) -> bool {
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    digits > 0 && text[digits..].starts_with(['.', ')'])
}

/// Whether `process_names` names `pid` or one of its descendants (`/proc/<pid>/comm`, which
/// the kernel cuts to 15 bytes).
fn runs_any(pid: u32, process_names: &[String]) -> bool {
    std::iter::once(pid)
        .chain(host::spawn::descendants(pid))
        .filter_map(host::spawn::process_name)
        .any(|comm| process_names.iter().any(|name| comm_matches(&comm, name)))
}

fn comm_matches(comm: &str, name: &str) -> bool {
    const COMM_MAX: usize = 15;
    comm == name
        || (name.len() > COMM_MAX && name.as_bytes().get(..COMM_MAX) == Some(comm.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_names_are_stable_per_town() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let sa = socket_for_town(&a);
        assert_eq!(sa.len(), "gt-".len() + 8, "{sa}");
        assert!(sa.starts_with("gt-"));
        assert!(sa[3..].chars().all(|c| c.is_ascii_hexdigit()), "{sa}");
        assert_eq!(sa, socket_for_town(&a));
        assert_eq!(sa, socket_for_town(&b.join("../a")), "canonical path");
        assert_ne!(sa, socket_for_town(&b));
    }

    #[test]
    fn fnv1a_matches_reference_values() {
        assert_eq!(fnv1a32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a32(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a32(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn session_names_are_checked() {
        for good in ["hq-mayor", "gt-furiosa", "a_1"] {
            assert!(check_session_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a.b",
            "a/b",
            "..",
            "a b",
            "a:b",
            "x#{y}",
            &"n".repeat(65),
        ] {
            assert!(
                matches!(
                    check_session_name(bad),
                    Err(RuntimeError::InvalidName { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn prompt_lines() {
        assert!(is_prompt_line("❯", "❯ "));
        assert!(is_prompt_line("❯ hello", "❯ "));
        assert!(is_prompt_line("  │ ❯ ", "❯ "));
        assert!(!is_prompt_line("❯ 1. Yes, proceed", "❯ "));
        assert!(!is_prompt_line("say ❯", "❯ "));
        assert!(!is_prompt_line("anything", ""));
        assert!(is_prompt_line("› ", "› "));
    }

    #[test]
    fn numbered_options() {
        assert!(shows_menu(
            "Trust this folder?\n❯ 1. Yes, proceed\n  2. No, exit\n\n"
        ));
        assert!(shows_menu("│ > 2) Cancel │"));
        assert!(!shows_menu("Plan:\n1. Fix the bug\n2. Test it\n❯ "));
        assert!(is_numbered_option("1. Yes"));
        assert!(is_numbered_option("12) No"));
        assert!(!is_numbered_option("1 Yes"));
        assert!(!is_numbered_option("Yes"));
    }

    #[test]
    fn comm_names_are_cut_to_fifteen_bytes() {
        assert!(comm_matches("claude", "claude"));
        assert!(!comm_matches("claude", "node"));
        assert!(comm_matches("a-very-long-pro", "a-very-long-program"));
        assert!(!comm_matches("a-very-long", "a-very-long-program"));
    }

    #[test]
    fn output_tails_skip_blank_padding() {
        let screen = format!(
            "\n\nbuilding\n\n\n   \ndone\n{}❯ \n{}",
            "\n".repeat(38),
            "  \n".repeat(9)
        );
        assert_eq!(output_tail(&screen, 40), ["building", "", "done", "", "❯ "]);
        assert_eq!(output_tail(&screen, 2), ["", "❯ "]);
        assert_eq!(output_tail("one\ntwo\nthree\n", 2), ["two", "three"]);
        assert!(output_tail("\n \n\t\n", 5).is_empty());
        assert!(output_tail("a\nb\n", 0).is_empty());
    }

    #[test]
    fn error_tails_are_short_and_indented() {
        let text: String = (0..30).map(|i| format!("line {i}\n\n")).collect();
        let tail = tail_for_error(&text);
        assert_eq!(tail.lines().count(), ERROR_LINES);
        assert!(tail.starts_with("  line 10\n"), "{tail}");
        assert!(tail.ends_with("  line 29"), "{tail}");
        assert_eq!(tail_for_error("\n \n"), "  (no output)");
    }

    #[test]
    fn a_session_is_looked_up_in_the_runtime_it_was_started_in() {
        let dir = tempfile::tempdir().unwrap();
        let runtimes = |default| {
            Runtimes::new(
                TmuxRuntime::new(host::tmux::Tmux::new("gt-unused"), dir.path()),
                SubprocessRuntime::new(dir.path()),
                default,
            )
        };
        let headless = runtimes("subprocess");
        assert_eq!(headless.default_runtime().kind(), "subprocess");
        assert_eq!(headless.get("tmux").kind(), "tmux");
        assert_eq!(headless.get("").kind(), "subprocess");
        let tmux = runtimes("tmux");
        assert_eq!(tmux.default_runtime().kind(), "tmux");
        assert_eq!(tmux.get("subprocess").kind(), "subprocess");
        assert_eq!(tmux.get("").kind(), "tmux");
    }

    #[test]
    fn runtimes_are_objects() {
        fn takes(_: &dyn Runtime) {}
        let dir = tempfile::tempdir().unwrap();
        takes(&SubprocessRuntime::new(dir.path()));
        takes(&TmuxRuntime::new(
            host::tmux::Tmux::new("gt-unused"),
            dir.path(),
        ));
    }
}
