//! Environment variables, declared once.
//!
//! Libraries never read the environment; binaries ask here and pass values down.
#![expect(
    clippy::disallowed_methods,
    reason = "this module is the one place allowed to read the environment"
)]

use std::ffi::OsString;

/// Log filter for `gt` (a `tracing` `EnvFilter` directive such as `debug` or `town=trace`).
pub const GT_LOG: &str = "GT_LOG";
/// Log filter for `bd`.
pub const BD_LOG: &str = "BD_LOG";
/// Disables color in all output when set to any non-empty value (<https://no-color.org>).
pub const NO_COLOR: &str = "NO_COLOR";
/// The beads directory (`.beads/`) to use instead of searching upward from the current directory.
pub const BEADS_DIR: &str = "BEADS_DIR";
/// The actor recorded on beads mutations when `--actor` is not given.
pub const BD_ACTOR: &str = "BD_ACTOR";
/// Upstream's name for [`BD_ACTOR`], honoured for compatibility.
pub const BEADS_ACTOR: &str = "BEADS_ACTOR";
/// The town root, used instead of walking up from the current directory.
pub const GT_TOWN_ROOT: &str = "GT_TOWN_ROOT";
/// An agent session's role: `<rig>/polecats/<name>` for a polecat (set by `gt sling`).
pub const GT_ROLE: &str = "GT_ROLE";
/// The rig of an agent session (set by `gt sling`).
pub const GT_RIG: &str = "GT_RIG";
/// The polecat name of an agent session (set by `gt sling`).
pub const GT_POLECAT: &str = "GT_POLECAT";
/// The worktree of a polecat's session (set by `gt sling`).
pub const GT_POLECAT_PATH: &str = "GT_POLECAT_PATH";
/// The tmux socket name (`tmux -L <name>`) for the town's agent sessions, instead of the one
/// derived from the town path.
pub const GT_TMUX_SOCKET: &str = "GT_TMUX_SOCKET";
/// The agent session a process runs in (set by `gt sling` for the agent).
pub const GT_SESSION: &str = "GT_SESSION";
/// The variables an agent session's preset added to its environment, comma-separated (set at
/// session start): what that agent passes on to agents it starts is cleared of them.
pub const GT_PRESET_ENV: &str = "GT_PRESET_ENV";
/// The spawn generation of that session's agent (set by `gt sling`).
pub const GT_GENERATION: &str = "GT_GENERATION";
/// Unstable, for tests: an RFC 3339 instant that the clock reports instead of the real time.
pub const GT_TEST_NOW: &str = "GT_TEST_NOW";
/// Unstable, for tests: the name of a crash point (`host::crash::point`) at which the process
/// sends itself `SIGKILL`.
pub const GT_TEST_KILL_AT: &str = "GT_TEST_KILL_AT";
/// Set by tmux inside its panes (`<socket path>,<server pid>,<session index>`): which server
/// a command runs under, so attaching can switch that client instead of nesting.
pub const TMUX: &str = "TMUX";
/// Where tmux keeps its sockets (instead of `/tmp`): the one variable tmux clients keep.
pub const TMUX_TMPDIR: &str = "TMUX_TMPDIR";
/// Claude Code's configuration directory (its transcripts are under `projects/`), instead of
/// `~/.claude`.
pub const CLAUDE_CONFIG_DIR: &str = "CLAUDE_CONFIG_DIR";
/// Codex CLI's home (its transcripts are under `sessions/`), instead of `~/.codex`.
pub const CODEX_HOME: &str = "CODEX_HOME";
/// The user's home directory.
pub const HOME: &str = "HOME";
/// The user's name, the last fallback for the actor.
pub const USER: &str = "USER";
/// `1` wraps every `bd --json` output as `{"schema_version": 1, "data": …}` (upstream's opt-in).
pub const BD_JSON_ENVELOPE: &str = "BD_JSON_ENVELOPE";

/// For tests: `fail` makes the stand-in forge CLIs (`gt-fake-forge` as `gh`/`glab`) report that
/// they are not logged in.
pub const GT_FAKE_FORGE_AUTH: &str = "GT_FAKE_FORGE_AUTH";

/// The value of `name` if it is set, valid UTF-8 and not empty.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The raw value of `name` if it is set.
pub fn var_os(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

/// Whether color output is disabled by the user (`NO_COLOR`).
pub fn no_color() -> bool {
    var(NO_COLOR).is_some()
}

/// Every variable whose name satisfies `keep`, sorted by name (what an agent session may
/// inherit: the caller decides which names pass).
pub fn vars_matching(keep: impl Fn(&str) -> bool) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = std::env::vars().filter(|(k, _)| keep(k)).collect();
    vars.sort();
    vars
}

/// The path of the running executable.
pub fn current_exe() -> std::io::Result<std::path::PathBuf> {
    std::env::current_exe()
}

/// The current working directory.
pub fn current_dir() -> std::io::Result<std::path::PathBuf> {
    std::env::current_dir()
}
