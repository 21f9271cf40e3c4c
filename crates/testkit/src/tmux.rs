//! [`TmuxServer`]: a private tmux server for one test, killed when the guard drops.
//!
//! Every command names the server with `-L gt-test-<pid>-<n>`, so tests never touch the user's
//! default server, and starts from a cleared environment (`TMUX` unset, `HOME` in a temp dir,
//! `-f /dev/null` so no config file is read). Gate tests with [`crate::require_cmd`]`("tmux")`.
#![expect(
    clippy::disallowed_methods,
    reason = "the tmux guard runs tmux itself and hands it the caller's PATH"
)]

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use tempfile::TempDir;

/// Numbers the servers this process starts, so each gets its own socket.
static NEXT_SERVER: AtomicU64 = AtomicU64::new(0);

/// The detached session that keeps a [`TmuxServer`] alive.
pub const SENTINEL: &str = "sentinel";

/// A running tmux server on a private socket; `kill-server` runs when it is dropped.
#[derive(Debug)]
pub struct TmuxServer {
    socket: String,
    /// Where the server listens, as it reports it; removed on drop (`kill-server` leaves it).
    socket_path: PathBuf,
    path: OsString,
    home: TempDir,
}

impl TmuxServer {
    /// Starts a server on socket `gt-test-<pid>-<n>` with a detached [`SENTINEL`] session.
    ///
    /// # Panics
    ///
    /// When tmux cannot start the server.
    pub fn start() -> Self {
        let n = NEXT_SERVER.fetch_add(1, Ordering::Relaxed);
        let mut server = Self {
            socket: format!("gt-test-{}-{n}", std::process::id()),
            socket_path: PathBuf::new(),
            path: std::env::var_os("PATH").unwrap_or_default(),
            home: tempfile::Builder::new()
                .prefix("gt-tmux-home-")
                .tempdir()
                .expect("create a HOME for the tmux server"),
        };
        server.run(["new-session", "-d", "-s", SENTINEL]);
        let socket_path = server.run(["display-message", "-p", "-t", SENTINEL, "#{socket_path}"]);
        server.socket_path = PathBuf::from(socket_path.trim_end_matches('\n'));
        server
    }

    /// The socket name, as passed to `tmux -L` (and to code under test, e.g. `GT_TMUX_SOCKET`).
    pub fn socket_name(&self) -> &str {
        &self.socket
    }

    /// The server's socket file, as tmux reports it (under `$TMUX_TMPDIR` or `/tmp/tmux-<uid>/`).
    pub fn socket_path(&self) -> &Path {
        &self.socket_path
    }

    /// `tmux -L <socket> -f /dev/null` with the hermetic environment; add the subcommand.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.env_clear()
            .env("PATH", &self.path)
            .env("HOME", self.home.path())
            .env("TERM", "xterm-256color")
            .env("SHELL", "/bin/sh")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `tmux -L <socket> <args>` and returns its stdout.
    ///
    /// # Panics
    ///
    /// When tmux cannot start or exits non-zero; the message carries argv and stderr.
    pub fn run<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.command();
        cmd.args(args);
        let argv: Vec<_> = cmd.get_args().map(OsStr::to_string_lossy).collect();
        let argv = format!("tmux {}", argv.join(" "));
        let output = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run `{argv}`: {e}"));
        assert!(
            output.status.success(),
            "`{argv}` failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Whether a session named exactly `name` exists on this server.
    pub fn has_session(&self, name: &str) -> bool {
        self.command()
            .args(["has-session", "-t", &format!("={name}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Starts a detached 80x24 session `name` running `shell_command` (through `sh -c`).
    pub fn new_session(&self, name: &str, shell_command: &str) {
        self.run([
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            "80",
            "-y",
            "24",
            shell_command,
        ]);
    }

    /// The visible text of pane `target` (`capture-pane -p`): its lines up to the last
    /// non-blank one, each ending in `\n`.
    pub fn capture(&self, target: &str) -> String {
        let text = self.run(["capture-pane", "-p", "-t", target]);
        let mut text = text.trim_end_matches('\n').to_owned();
        if !text.is_empty() {
            text.push('\n');
        }
        text
    }
}

impl Drop for TmuxServer {
    fn drop(&mut self) {
        // Ignored: the server may be gone already (a test killed it, or start failed).
        let _ = self
            .command()
            .arg("kill-server")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !self.socket_path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.socket_path);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{require_cmd, wait_until};

    #[test]
    fn starts_with_a_sentinel_session() {
        if !require_cmd("tmux") {
            return;
        }
        let server = TmuxServer::start();
        assert!(server.has_session(SENTINEL));
        assert!(!server.has_session("no-such-session"));
        let sessions = server.run(["list-sessions", "-F", "#{session_name}"]);
        assert_eq!(sessions, "sentinel\n");
    }

    #[test]
    fn drop_kills_the_server() {
        if !require_cmd("tmux") {
            return;
        }
        let server = TmuxServer::start();
        let socket = server.socket_name().to_owned();
        let socket_path = server.socket_path().to_owned();
        assert!(socket.starts_with(&format!("gt-test-{}-", std::process::id())));
        assert!(socket_path.ends_with(&socket), "{}", socket_path.display());
        assert!(socket_path.exists());
        drop(server);
        assert!(!socket_path.exists(), "the socket file is removed");
        let gone = || {
            !Command::new("tmux")
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .args(["-L", &socket, "has-session", "-t", SENTINEL])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .unwrap()
                .success()
        };
        wait_until(Duration::from_secs(5), gone).unwrap();
    }

    #[test]
    fn servers_are_separate() {
        if !require_cmd("tmux") {
            return;
        }
        let (a, b) = (TmuxServer::start(), TmuxServer::start());
        assert_ne!(a.socket_name(), b.socket_name());
        a.new_session("only-in-a", "exec cat");
        assert!(a.has_session("only-in-a"));
        assert!(!b.has_session("only-in-a"));
        assert!(b.has_session(SENTINEL));
    }

    #[test]
    fn every_command_names_the_private_socket() {
        if !require_cmd("tmux") {
            return;
        }
        let server = TmuxServer::start();
        let cmd = server.command();
        assert_eq!(cmd.get_program(), "tmux");
        let args: Vec<&OsStr> = cmd.get_args().collect();
        assert_eq!(args, ["-L", server.socket_name(), "-f", "/dev/null"]);
        let vars: Vec<&OsStr> = cmd.get_envs().map(|(k, _)| k).collect();
        assert_eq!(
            vars,
            ["HOME", "PATH", "SHELL", "TERM"],
            "TMUX and TMUX_TMPDIR are not set"
        );
        // The server reports the socket we named, not the default one.
        let path = server.run(["display-message", "-p", "-t", SENTINEL, "#{socket_path}"]);
        assert!(
            path.trim_end()
                .ends_with(&format!("/{}", server.socket_name())),
            "{path}"
        );
    }

    #[test]
    fn new_session_runs_the_command_and_capture_sees_it() {
        if !require_cmd("tmux") {
            return;
        }
        let server = TmuxServer::start();
        server.new_session("greeter", "printf 'hello from tmux\\n'; exec cat");
        assert!(server.has_session("greeter"));
        wait_until(Duration::from_secs(5), || {
            server.capture("greeter").contains("hello from tmux")
        })
        .unwrap();
        assert_eq!(server.capture("greeter"), "hello from tmux\n");
    }
}
