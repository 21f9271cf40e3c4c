//! tmux, always on a named server: `tmux -u -L <socket> -f /dev/null …`.
//!
//! Never the user's default server, never their config file. Every argument that comes from a
//! caller is escaped for tmux's own parsing before it is passed:
//!
//! - an argument ending in `;` would end the tmux command (tmux splits commands on it even in
//!   argv), so a final `;` is sent as `\;` ([`escape_arg`]);
//! - `-c <dir>` is expanded as a tmux format, where `#(cmd)` runs a shell command, so `#` in a
//!   directory is doubled ([`escape_format`]);
//! - the program is started as `sh -c 'exec <word> <word>…'`, every word single-quoted
//!   ([`shell_quote`]), so nothing in it is interpreted whatever the user's default shell is;
//! - text typed into a pane is sent with `send-keys -l` (literally) after control characters
//!   are removed ([`sanitize_text`]).
//!
//! Session names are checked ([`check_name`]): tmux expands formats in them and reserves `:`
//! and `.` for targets. Commands address a session as `=<name>` (exact match, never a prefix)
//! and its pane as `=<name>:`.
//!
//! The server never inherits the environment of whichever `gt` happened to start it: every
//! tmux client runs with a cleared environment (only `TMUX_TMPDIR`, which picks the socket
//! directory, is kept), and a new session first empties the server's `update-environment`, so
//! no client's variables are copied into sessions either. A pane gets exactly the `-e`
//! variables its caller passes (plus what tmux itself sets: `TERM`, `TMUX`, `TMUX_PANE`).
//!
//! A server may be shared (two towns given one `GT_TMUX_SOCKET`). A [`Tmux`] made
//! [`Tmux::with_owner`] stamps each session it creates with the user option [`OWNER_OPTION`]
//! in the same tmux call, and [`Tmux::pane`] reports every session's stamp
//! ([`PaneInfo::owner`]) so callers can leave other owners' sessions alone.
#![expect(
    clippy::disallowed_methods,
    reason = "this module is the one place that runs tmux"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::spawn::{self, SpawnError};

/// Width of new sessions' windows: wide, so agent output and typed text rarely wrap.
pub const WIDTH: u16 = 200;
/// Height of new sessions' windows.
pub const HEIGHT: u16 = 50;
/// Longest piece of text sent with one `send-keys -l`, in bytes.
const SEND_CHUNK: usize = 512;
/// Field separator in our `-F` formats: a control character no field can contain.
const SEP: char = '\x1f';
/// The tmux user option that names who owns a session (a town's canonical root).
pub const OWNER_OPTION: &str = "@gt_town";
/// The tmux user option that holds the text a session's agent shows as its input prompt
/// (`❯ `), so anyone reading its pane later can tell an idle prompt from half-typed input.
pub const READY_OPTION: &str = "@gt_ready";
/// The `-F` format of [`Tmux::pane`]; the owner comes last, so nothing in it can shift a field
/// (the ready prefix is stored with control characters removed, so it cannot either).
const PANE_FORMAT: &str = "#{pane_id}\x1f#{pane_pid}\x1f#{pane_dead}\x1f#{pane_dead_status}\x1f\
     #{pane_current_command}\x1f#{pane_in_mode}\x1f#{window_activity}\x1f#{@gt_ready}\x1f#{@gt_town}";
/// The `-F` format that [`Tmux::new_session`] and [`Tmux::respawn_pane`] read back.
const IDS_FORMAT: &str = "#{pane_id}\x1f#{pane_pid}";

/// A failed tmux call.
#[derive(Debug, thiserror::Error)]
pub enum TmuxError {
    /// The `tmux` binary could not be started.
    #[error("cannot run `{}`", argv.join(" "))]
    Spawn {
        argv: Vec<String>,
        #[source]
        source: std::io::Error,
    },
    /// tmux ran and exited non-zero.
    #[error("`{}` failed ({status}): {stderr}", argv.join(" "))]
    Failed {
        argv: Vec<String>,
        status: String,
        stderr: String,
    },
    /// tmux's output was not what we parse.
    #[error("unexpected output from `{}`: {output:?}", argv.join(" "))]
    Parse { argv: Vec<String>, output: String },
    /// A session name tmux cannot hold as given.
    #[error("invalid tmux session name `{name}`: {reason}")]
    InvalidName { name: String, reason: &'static str },
    /// An environment variable name that cannot be passed.
    #[error("invalid environment variable name `{key}`")]
    InvalidEnvKey { key: String },
    /// A session was asked to run nothing.
    #[error("no command given for tmux session `{name}`")]
    EmptyCommand { name: String },
    /// The session does not exist.
    #[error("no tmux session `{name}` on socket `{socket}`")]
    NoSession { name: String, socket: String },
    /// The session's processes could not be stopped.
    #[error("cannot stop the processes of tmux session `{name}`")]
    Kill {
        name: String,
        #[source]
        source: SpawnError,
    },
}

/// The pane a new or respawned session runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaneIds {
    /// tmux's pane id (`%3`), stable for the pane's life.
    pub pane_id: String,
    /// The pid of the pane's process (the program itself: it is started with `exec`).
    pub pid: u32,
}

/// What [`Tmux::pane`] reports about a session's pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaneInfo {
    pub pane_id: String,
    pub pid: u32,
    /// The process exited and the pane stays only to show its output (`remain-on-exit`).
    pub dead: bool,
    /// The exit status, once dead (none if it was killed by a signal).
    pub dead_status: Option<i32>,
    /// The foreground process's name as tmux sees it.
    pub current_command: String,
    /// The pane is in a mode (copy-mode, a chooser): keys go to tmux, not to the program.
    pub in_mode: bool,
    /// When the session's window last showed output (`#{window_activity}`), in seconds since
    /// the Unix epoch. Typing into it does not count, unlike `#{session_activity}`.
    pub last_output: Option<i64>,
    /// The session's [`READY_OPTION`]; empty when it has none.
    pub ready_prefix: String,
    /// The session's [`OWNER_OPTION`]; empty when it has none.
    pub owner: String,
}

/// A tmux server, named by its socket (`tmux -L <socket>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tmux {
    socket: String,
    /// Stamped on every new session as [`OWNER_OPTION`].
    owner: Option<String>,
}

impl Tmux {
    /// tmux on socket `socket` (a name under tmux's socket directory, as for `-L`).
    pub fn new(socket: impl Into<String>) -> Self {
        Self {
            socket: socket.into(),
            owner: None,
        }
    }

    /// Stamps every session this client creates with `owner` as [`OWNER_OPTION`].
    pub fn with_owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = Some(owner.into());
        self
    }

    /// What new sessions are stamped with, if anything.
    pub fn owner(&self) -> Option<&str> {
        self.owner.as_deref()
    }

    /// The socket name.
    pub fn socket(&self) -> &str {
        &self.socket
    }

    /// The full argv for `args`: `tmux -u -L <socket> -f /dev/null <args…>`.
    pub fn argv<S: AsRef<str>>(&self, args: &[S]) -> Vec<String> {
        ["tmux", "-u", "-L", &self.socket, "-f", "/dev/null"]
            .into_iter()
            .map(str::to_owned)
            .chain(args.iter().map(|a| a.as_ref().to_owned()))
            .collect()
    }

    /// Runs tmux with `args` (already escaped) and returns its stdout.
    pub fn run<S: AsRef<str>>(&self, args: &[S]) -> Result<String, TmuxError> {
        let argv = self.argv(args);
        tracing::debug!(?argv, "tmux");
        let mut command = Command::new(&argv[0]);
        // The client that starts the server hands it its environment, which every pane would
        // inherit; the caller's `TMUX`/`TMUX_PANE` would name another server.
        command.args(&argv[1..]).env_clear();
        if let Some(dir) = crate::env::var_os(crate::env::TMUX_TMPDIR) {
            command.env(crate::env::TMUX_TMPDIR, dir);
        }
        let output = command
            .stdin(Stdio::null())
            .output()
            .map_err(|source| TmuxError::Spawn {
                argv: argv.clone(),
                source,
            })?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(TmuxError::Failed {
                argv,
                status: output.status.to_string(),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            })
        }
    }

    /// The argv of [`Tmux::new_session`]: a detached [`WIDTH`]x[`HEIGHT`] session running
    /// `argv` in `cwd` with `env` set, printing its pane id and pid, with `remain-on-exit` set in
    /// the same tmux call so that even a program that exits at once leaves its output behind.
    pub fn new_session_argv(
        &self,
        name: &str,
        cwd: &Path,
        env: &[(String, String)],
        argv: &[String],
    ) -> Result<Vec<String>, TmuxError> {
        check_name(name)?;
        let mut args = vec![
            // Before the session exists: this call may be the one that starts the server.
            "set-option".to_owned(),
            "-g".to_owned(),
            "update-environment".to_owned(),
            String::new(),
            ";".to_owned(),
            "new-session".to_owned(),
            "-d".to_owned(),
            "-s".to_owned(),
            name.to_owned(),
            "-x".to_owned(),
            WIDTH.to_string(),
            "-y".to_owned(),
            HEIGHT.to_string(),
            "-c".to_owned(),
            escape_arg(&escape_format(&cwd.to_string_lossy())),
            "-P".to_owned(),
            "-F".to_owned(),
            IDS_FORMAT.to_owned(),
        ];
        push_env(&mut args, env)?;
        push_command(&mut args, name, argv)?;
        args.extend([
            ";".to_owned(),
            "set-option".to_owned(),
            "-w".to_owned(),
            "-t".to_owned(),
            pane_target(name),
            "remain-on-exit".to_owned(),
            "on".to_owned(),
        ]);
        if let Some(owner) = &self.owner {
            args.extend([
                ";".to_owned(),
                "set-option".to_owned(),
                "-t".to_owned(),
                pane_target(name),
                OWNER_OPTION.to_owned(),
                escape_arg(owner),
            ]);
        }
        Ok(self.argv(&args))
    }

    /// Starts session `name` running `argv` (see [`Tmux::new_session_argv`]).
    pub fn new_session(
        &self,
        name: &str,
        cwd: &Path,
        env: &[(String, String)],
        argv: &[String],
    ) -> Result<PaneIds, TmuxError> {
        let full = self.new_session_argv(name, cwd, env, argv)?;
        let out = self.run(&full[PREFIX_LEN..])?;
        parse_ids(&out).ok_or(TmuxError::Parse {
            argv: full,
            output: out,
        })
    }

    /// The argv of [`Tmux::respawn_pane`].
    pub fn respawn_pane_argv(
        &self,
        name: &str,
        cwd: &Path,
        env: &[(String, String)],
        argv: &[String],
    ) -> Result<Vec<String>, TmuxError> {
        check_name(name)?;
        let mut args = vec![
            "respawn-pane".to_owned(),
            "-k".to_owned(),
            "-t".to_owned(),
            pane_target(name),
            "-c".to_owned(),
            escape_arg(&escape_format(&cwd.to_string_lossy())),
        ];
        push_env(&mut args, env)?;
        push_command(&mut args, name, argv)?;
        Ok(self.argv(&args))
    }

    /// Replaces the program in session `name`'s pane with `argv`, keeping the session (its
    /// options, environment and anyone attached). The old program's process tree is stopped
    /// first, as in [`Tmux::kill_session`]: `respawn-pane -k` alone signals only the pane's own
    /// process and can leave its children running.
    pub fn respawn_pane(
        &self,
        name: &str,
        cwd: &Path,
        env: &[(String, String)],
        argv: &[String],
        grace: Duration,
    ) -> Result<PaneIds, TmuxError> {
        let full = self.respawn_pane_argv(name, cwd, env, argv)?;
        let pane = self.pane(name)?.ok_or_else(|| self.no_session(name))?;
        if !pane.dead {
            self.kill_processes(name, pane.pid, grace)?;
        }
        self.run(&full[PREFIX_LEN..])?;
        let pane = self.pane(name)?.ok_or_else(|| self.no_session(name))?;
        Ok(PaneIds {
            pane_id: pane.pane_id,
            pid: pane.pid,
        })
    }

    /// Whether session `name` exists (an absent server has no sessions).
    pub fn has_session(&self, name: &str) -> Result<bool, TmuxError> {
        check_name(name)?;
        match self.run(&["has-session", "-t", &session_target(name)]) {
            Ok(_) => Ok(true),
            Err(e) if is_absent(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Every session's first pane, in one call: `(session name, pane)`. An absent server has
    /// none. What a caller that asks about many sessions reads once instead of one call each.
    pub fn all_panes(&self) -> Result<Vec<(String, PaneInfo)>, TmuxError> {
        let format = format!("#{{session_name}}{SEP}{PANE_FORMAT}");
        let out = match self.run(&["list-panes", "-a", "-F", &format]) {
            Ok(out) => out,
            Err(e) if is_no_server(&e) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut panes: Vec<(String, PaneInfo)> = Vec::new();
        for line in out.lines() {
            let Some((session, rest)) = line.split_once(SEP) else {
                continue;
            };
            if panes.last().is_some_and(|(s, _)| s == session) {
                continue;
            }
            if let Some(pane) = parse_pane(rest) {
                panes.push((session.to_owned(), pane));
            }
        }
        Ok(panes)
    }

    /// The argv of [`Tmux::pane`].
    pub fn list_panes_argv(&self, name: &str) -> Vec<String> {
        self.argv(&["list-panes", "-t", &pane_target(name), "-F", PANE_FORMAT])
    }

    /// Session `name`'s (first) pane, or `None` if there is no such session.
    pub fn pane(&self, name: &str) -> Result<Option<PaneInfo>, TmuxError> {
        check_name(name)?;
        let full = self.list_panes_argv(name);
        let out = match self.run(&full[PREFIX_LEN..]) {
            Ok(out) => out,
            Err(e) if is_absent(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(line) = out.lines().next() else {
            return Ok(None);
        };
        let mut pane = parse_pane(line).ok_or_else(|| TmuxError::Parse {
            argv: full,
            output: out.clone(),
        })?;
        if pane.dead && pane.dead_status.is_none() {
            // tmux 3.3 sometimes never reaps a pane's program (seen under load: the pane is
            // dead, its program a zombie, no status ever recorded); the kernel still has it.
            pane.dead_status = zombie_exit_status(pane.pid);
        }
        Ok(Some(pane))
    }

    /// The argv of [`Tmux::capture`].
    pub fn capture_argv(&self, name: &str, lines: usize) -> Vec<String> {
        self.argv(&[
            "capture-pane",
            "-p",
            "-J",
            "-t",
            &pane_target(name),
            "-S",
            &format!("-{lines}"),
        ])
    }

    /// The last `lines` lines of session `name`'s pane, scrollback included, wrapped lines
    /// joined, trailing blank lines dropped; each line ends in `\n`.
    pub fn capture(&self, name: &str, lines: usize) -> Result<String, TmuxError> {
        check_name(name)?;
        let out = self.run(&self.capture_argv(name, lines)[PREFIX_LEN..])?;
        Ok(last_lines(&out, lines))
    }

    /// The argvs of [`Tmux::send_text`]: one `send-keys -l` per chunk of at most 512 bytes.
    pub fn send_text_argvs(&self, name: &str, text: &str) -> Vec<Vec<String>> {
        chunks(&sanitize_text(text).replace('\n', " "), SEND_CHUNK)
            .map(|chunk| {
                self.argv(&[
                    "send-keys",
                    "-t",
                    &pane_target(name),
                    "-l",
                    "--",
                    &escape_arg(chunk),
                ])
            })
            .collect()
    }

    /// Types `text` into session `name`'s pane literally, without pressing Enter. Control
    /// characters are removed and newlines become spaces (see [`sanitize_text`]).
    pub fn send_text(&self, name: &str, text: &str) -> Result<(), TmuxError> {
        check_name(name)?;
        for argv in self.send_text_argvs(name, text) {
            self.run(&argv[PREFIX_LEN..])?;
        }
        Ok(())
    }

    /// Types `text` and presses Enter; each line of multi-line text is typed and entered in
    /// turn. Control characters other than newlines are removed first.
    pub fn send_literal(&self, name: &str, text: &str) -> Result<(), TmuxError> {
        check_name(name)?;
        for line in text_lines(&sanitize_text(text)) {
            if !line.is_empty() {
                self.send_text(name, line)?;
            }
            self.send_keys(name, &["Enter"])?;
        }
        Ok(())
    }

    /// The argv of [`Tmux::send_keys`].
    pub fn send_keys_argv(&self, name: &str, keys: &[&str]) -> Vec<String> {
        let mut args = vec!["send-keys".to_owned(), "-t".to_owned(), pane_target(name)];
        args.extend(keys.iter().map(|k| escape_arg(k)));
        self.argv(&args)
    }

    /// Presses keys by tmux name (`Enter`, `Down`, `Escape`, `C-c`), for answering dialogs.
    pub fn send_keys(&self, name: &str, keys: &[&str]) -> Result<(), TmuxError> {
        check_name(name)?;
        self.run(&self.send_keys_argv(name, keys)[PREFIX_LEN..])?;
        Ok(())
    }

    /// The argv of [`Tmux::paste`]: the text into a named buffer, then `paste-buffer -p -d`, in
    /// one tmux call so no other client's paste can come between the two.
    pub fn paste_argv(&self, name: &str, text: &str) -> Vec<String> {
        let buffer = format!("gt-paste-{}", std::process::id());
        self.argv(&[
            "set-buffer".to_owned(),
            "-b".to_owned(),
            buffer.clone(),
            "--".to_owned(),
            escape_arg(&sanitize_text(text)),
            ";".to_owned(),
            "paste-buffer".to_owned(),
            "-p".to_owned(),
            "-d".to_owned(),
            "-b".to_owned(),
            buffer,
            "-t".to_owned(),
            pane_target(name),
        ])
    }

    /// Pastes `text` into session `name`'s pane as one paste, without pressing Enter. Control
    /// characters other than newlines are removed first ([`sanitize_text`]), so the text cannot
    /// end a bracketed paste early or send keys of its own. When the program asked for
    /// bracketed paste (`ESC[?2004h`, as agent TUIs do), tmux wraps the text in the paste
    /// markers and the program reads it as one input, newlines included; to any other program
    /// each newline arrives as a carriage return, as if typed.
    pub fn paste(&self, name: &str, text: &str) -> Result<(), TmuxError> {
        check_name(name)?;
        self.run(&self.paste_argv(name, text)[PREFIX_LEN..])?;
        Ok(())
    }

    /// Leaves whatever mode session `name`'s pane is in (copy-mode, a chooser), so the next
    /// keys reach the program. A pane in no mode is left as it is.
    pub fn cancel_mode(&self, name: &str) -> Result<(), TmuxError> {
        check_name(name)?;
        match self.run(&["send-keys", "-X", "-t", &pane_target(name), "cancel"]) {
            Ok(_) => Ok(()),
            // tmux refuses `-X` outside a mode: nothing to leave.
            Err(TmuxError::Failed { stderr, .. }) if stderr.contains("not in a mode") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Enters copy-mode in session `name`'s pane (what a person scrolling back does).
    pub fn copy_mode(&self, name: &str) -> Result<(), TmuxError> {
        check_name(name)?;
        self.run(&["copy-mode", "-t", &pane_target(name)])?;
        Ok(())
    }

    /// Sets the user option `option` (`@name`) on session `name` to `value`, control
    /// characters removed (they would shift the fields of [`Tmux::pane`]'s format).
    pub fn set_user_option(&self, name: &str, option: &str, value: &str) -> Result<(), TmuxError> {
        check_name(name)?;
        let value: String = value.chars().filter(|c| !c.is_control()).collect();
        self.run(&[
            "set-option",
            "-t",
            &pane_target(name),
            option,
            &escape_arg(&value),
        ])?;
        Ok(())
    }

    /// Stops session `name`: its pane's process group and every descendant get `SIGTERM`, then
    /// `SIGKILL` after `grace` (`kill-session` alone only hangs up the pane's process, which can
    /// leave its children running), then the session is killed. A missing session is fine.
    pub fn kill_session(&self, name: &str, grace: Duration) -> Result<(), TmuxError> {
        check_name(name)?;
        if let Some(pane) = self.pane(name)?
            && !pane.dead
        {
            self.kill_processes(name, pane.pid, grace)?;
        }
        match self.run(&["kill-session", "-t", &session_target(name)]) {
            Ok(_) => Ok(()),
            Err(e) if is_absent(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn kill_processes(&self, name: &str, pid: u32, grace: Duration) -> Result<(), TmuxError> {
        spawn::kill_tree(pid, grace).map_err(|source| TmuxError::Kill {
            name: name.to_owned(),
            source,
        })
    }

    /// Sets `key=value` in session `name`'s environment (seen by processes started later, and
    /// by `show-environment`).
    pub fn set_environment(&self, name: &str, key: &str, value: &str) -> Result<(), TmuxError> {
        check_name(name)?;
        check_env_key(key)?;
        self.run(&[
            "set-environment",
            "-t",
            &session_target(name),
            &escape_arg(key),
            &escape_arg(value),
        ])?;
        Ok(())
    }

    /// The value of `key` in session `name`'s environment, if set.
    pub fn show_environment(&self, name: &str, key: &str) -> Result<Option<String>, TmuxError> {
        check_name(name)?;
        check_env_key(key)?;
        let out = match self.run(&[
            "show-environment",
            "-t",
            &session_target(name),
            &escape_arg(key),
        ]) {
            Ok(out) => out,
            Err(TmuxError::Failed { stderr, .. }) if stderr.contains("unknown variable") => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        // `KEY=value`, or `-KEY` when it is marked as removed.
        let line = out.strip_suffix('\n').unwrap_or(&out);
        Ok(line
            .strip_prefix(key)
            .and_then(|rest| rest.strip_prefix('='))
            .map(str::to_owned))
    }

    /// The names of all sessions on this server (none when it is not running).
    pub fn list_sessions(&self) -> Result<Vec<String>, TmuxError> {
        match self.run(&["list-sessions", "-F", "#{session_name}"]) {
            Ok(out) => Ok(out.lines().map(str::to_owned).collect()),
            Err(e) if is_no_server(&e) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Whether a server is listening on this socket.
    pub fn server_running(&self) -> Result<bool, TmuxError> {
        match self.run(&["list-sessions", "-F", "#{session_name}"]) {
            Ok(_) => Ok(true),
            Err(e) if is_no_server(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The argv that puts a terminal on session `name` (exact name): [`Join::Attach`] makes
    /// the terminal a new client of this server, [`Join::Switch`] moves the tmux client the
    /// command runs inside over to it. Run it with [`run_client`].
    pub fn join_argv(&self, name: &str, join: Join) -> Result<Vec<String>, TmuxError> {
        check_name(name)?;
        let verb = match join {
            Join::Attach => "attach-session",
            Join::Switch => "switch-client",
        };
        Ok(self.argv(&[verb, "-t", &session_target(name)]))
    }

    /// Where this server listens, as it reports it (`#{socket_path}`): what a pane's `TMUX`
    /// names (see [`server_of`]).
    pub fn socket_path(&self) -> Result<PathBuf, TmuxError> {
        let out = self.run(&["display-message", "-p", "#{socket_path}"])?;
        let path = out.trim_end_matches('\n');
        if path.is_empty() {
            return Err(TmuxError::Parse {
                argv: self.argv(&["display-message", "-p", "#{socket_path}"]),
                output: out.clone(),
            });
        }
        Ok(PathBuf::from(path))
    }

    /// Kills this server and every session on it. A server that is not running is fine.
    pub fn kill_server(&self) -> Result<(), TmuxError> {
        match self.run(&["kill-server"]) {
            Ok(_) => Ok(()),
            Err(e) if is_no_server(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn no_session(&self, name: &str) -> TmuxError {
        TmuxError::NoSession {
            name: name.to_owned(),
            socket: self.socket.clone(),
        }
    }
}

/// How [`Tmux::join_argv`] puts a terminal on a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    /// `attach-session`: the terminal becomes a client of the server (nested, if the caller
    /// runs inside another server's pane).
    Attach,
    /// `switch-client`: the caller runs inside a client of the same server, which is moved to
    /// the session (attaching there would nest the server inside itself).
    Switch,
}

/// The socket path of the tmux server whose pane a process runs in, from that process's `TMUX`
/// (`<socket path>,<server pid>,<session index>`); `None` if it is not in that form.
pub fn server_of(tmux_var: &str) -> Option<&Path> {
    let mut parts = tmux_var.rsplitn(3, ',');
    let (_session, pid, path) = (parts.next()?, parts.next()?, parts.next()?);
    (pid.parse::<u32>().is_ok() && !path.is_empty()).then(|| Path::new(path))
}

/// Runs a tmux client from [`Tmux::join_argv`] on this process's terminal (stdin, stdout and
/// stderr shared) until it detaches or its session ends, and returns its exit status.
/// [`Join::Attach`] runs without the caller's `TMUX`/`TMUX_PANE` (tmux refuses to nest while
/// they are set, and they name another server); [`Join::Switch`] keeps them: they are how the
/// server knows which client to move.
pub fn run_client(argv: &[String], join: Join) -> Result<ExitStatus, TmuxError> {
    let (program, args) = argv.split_first().ok_or_else(|| TmuxError::EmptyCommand {
        name: String::new(),
    })?;
    let mut command = Command::new(program);
    command.args(args);
    if join == Join::Attach {
        command.env_remove("TMUX").env_remove("TMUX_PANE");
    }
    command.status().map_err(|source| TmuxError::Spawn {
        argv: argv.to_vec(),
        source,
    })
}

/// How many words [`Tmux::argv`] puts before the subcommand.
const PREFIX_LEN: usize = 6;

/// Checks that tmux can hold `name` as a session name unchanged: not empty, no `:` or `.`
/// (target syntax), no `#` (format expansion), no whitespace or control characters.
pub fn check_name(name: &str) -> Result<(), TmuxError> {
    let invalid = |reason| {
        Err(TmuxError::InvalidName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return invalid("it is empty");
    }
    if name.contains([':', '.']) {
        return invalid("tmux reserves `:` and `.` for targets");
    }
    if name.contains('#') {
        return invalid("tmux expands `#` in names as a format");
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return invalid("it contains whitespace or control characters");
    }
    Ok(())
}

fn check_env_key(key: &str) -> Result<(), TmuxError> {
    let ok = !key.is_empty()
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(TmuxError::InvalidEnvKey {
            key: key.to_owned(),
        })
    }
}

fn push_env(args: &mut Vec<String>, env: &[(String, String)]) -> Result<(), TmuxError> {
    for (key, value) in env {
        check_env_key(key)?;
        args.push("-e".to_owned());
        args.push(escape_arg(&format!("{key}={value}")));
    }
    Ok(())
}

fn push_command(args: &mut Vec<String>, name: &str, argv: &[String]) -> Result<(), TmuxError> {
    if argv.is_empty() {
        return Err(TmuxError::EmptyCommand {
            name: name.to_owned(),
        });
    }
    // Several words after `--` make tmux exec them directly, without the user's default shell.
    args.extend([
        "--".to_owned(),
        "sh".to_owned(),
        "-c".to_owned(),
        escape_arg(&pane_command(argv)),
    ]);
    Ok(())
}

/// `'word' 'word'…; exit $?`: the `sh` script a pane runs. The shell stays as the pane's
/// process, with `argv` as its child, rather than replacing itself: tmux continues a pane
/// process it sees stopped, so only a process that is not tmux's own child can be frozen
/// (`gt estop`). The pane still ends with `argv`'s exit status.
pub fn pane_command(argv: &[String]) -> String {
    let words: Vec<String> = argv.iter().map(|w| shell_quote(w)).collect();
    format!("{}; exit $?", words.join(" "))
}

/// `word` as one `sh` word that means exactly `word`: single-quoted, each `'` written as
/// `'\''`. Nothing inside single quotes is special to `sh` (`$`, backticks, `\`, newlines).
pub fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// `arg` as tmux must receive it to keep it one literal argument: tmux ends a command at an
/// argument ending in `;`, and reads a final `\;` as a literal `;`.
pub fn escape_arg(arg: &str) -> String {
    match arg.strip_suffix(';') {
        Some(rest) => format!(r"{rest}\;"),
        None => arg.to_owned(),
    }
}

/// `text` for an argument tmux expands as a format (`-c`): `#` doubled, so `#(cmd)` and
/// `#{var}` stay literal.
pub fn escape_format(text: &str) -> String {
    text.replace('#', "##")
}

/// `text` made safe to type: `\r\n` and `\r` become `\n`, tabs become spaces, and every other
/// control character (escape sequences, `C-c`, `DEL`, C1 controls) is removed.
pub fn sanitize_text(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .chars()
        .filter_map(|c| match c {
            '\n' => Some('\n'),
            '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

/// The lines of sanitized `text`, one final newline ignored (`"a\n"` is one line).
fn text_lines(text: &str) -> std::str::Split<'_, char> {
    text.strip_suffix('\n').unwrap_or(text).split('\n')
}

/// `text` cut into pieces of at most `max` bytes, on character boundaries.
fn chunks(text: &str, max: usize) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut end = rest.len().min(max);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (chunk, tail) = rest.split_at(end);
        rest = tail;
        Some(chunk)
    })
}

fn session_target(name: &str) -> String {
    format!("={name}")
}

fn pane_target(name: &str) -> String {
    format!("={name}:")
}

/// The last `n` lines of captured `text`, trailing blank lines dropped, each ending in `\n`.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let end = lines
        .iter()
        .rposition(|l| !l.trim().is_empty())
        .map_or(0, |i| i + 1);
    let start = end.saturating_sub(n);
    lines[start..end].iter().map(|l| format!("{l}\n")).collect()
}

fn parse_ids(out: &str) -> Option<PaneIds> {
    let (pane_id, pid) = out.lines().next()?.split_once(SEP)?;
    Some(PaneIds {
        pane_id: pane_id.to_owned(),
        pid: pid.parse().ok()?,
    })
}

fn parse_pane(line: &str) -> Option<PaneInfo> {
    let mut fields = line.split(SEP);
    let pane_id = fields.next()?.to_owned();
    let pid = fields.next()?.parse().ok()?;
    let dead = match fields.next()? {
        "1" => true,
        "0" => false,
        _ => return None,
    };
    let dead_status = fields.next()?.parse().ok();
    let current_command = fields.next()?.to_owned();
    let in_mode = !matches!(fields.next()?, "" | "0");
    let last_output = fields.next()?.parse().ok();
    let ready_prefix = fields.next()?.to_owned();
    // The owner is the rest of the line, separators and all.
    let owner = fields.collect::<Vec<_>>().join(&SEP.to_string());
    Some(PaneInfo {
        pane_id,
        pid,
        dead,
        dead_status,
        current_command,
        in_mode,
        last_output,
        ready_prefix,
        owner,
    })
}

/// The exit status of process `pid` if it is a zombie that exited normally: field 52 of
/// `/proc/<pid>/stat` is its status as `waitpid` would report it. `None` for a live process,
/// one already reaped, one killed by a signal, or where there is no `/proc`.
fn zombie_exit_status(pid: u32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_zombie_exit_status(&stat)
}

fn parse_zombie_exit_status(stat: &str) -> Option<i32> {
    // The command name (field 2) is in parentheses and may contain anything, spaces included;
    // fields 3 onwards follow the last `)`.
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    if fields.first() != Some(&"Z") {
        return None;
    }
    let wait_status: i32 = fields.get(52 - 3)?.parse().ok()?;
    (wait_status & 0x7f == 0).then_some((wait_status >> 8) & 0xff)
}

/// No server, or no such session.
fn is_absent(e: &TmuxError) -> bool {
    is_no_server(e)
        || matches!(e, TmuxError::Failed { stderr, .. }
            if stderr.contains("can't find session") || stderr.contains("can't find pane")
                || stderr.contains("can't find window"))
}

/// Nothing listens on the socket: never started, or the socket file is stale.
fn is_no_server(e: &TmuxError) -> bool {
    matches!(e, TmuxError::Failed { stderr, .. }
        if stderr.contains("no server running") || stderr.contains("error connecting to"))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use testkit::{TmuxServer, require_cmd, wait_for, wait_until};

    use super::*;

    const T: Duration = Duration::from_secs(10);

    fn s(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    /// Runs `word` through `sh -c 'printf %s <quoted>'` and returns what sh made of it.
    fn through_sh(word: &str) -> String {
        host_sh(&format!("printf %s {}", shell_quote(word)))
    }

    fn host_sh(script: &str) -> String {
        crate::process::output("sh", &["-c", script]).unwrap()
    }

    #[test]
    fn shell_quote_survives_hostile_words() {
        let hostile = [
            "",
            "plain",
            "two words",
            "$(rm -rf /)",
            "`rm -rf /`",
            "it's",
            "'",
            "''",
            "\"double\"",
            "back\\slash\\",
            "new\nline",
            "$HOME ${HOME} $((1+1))",
            "a;b && c || d | e > f < g & h",
            "*?[a]~",
            "-n",
            "❯ unicode",
        ];
        for word in hostile {
            assert_eq!(through_sh(word), word, "{word:?}");
        }
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$(x)"), "'$(x)'");
    }

    #[test]
    fn pane_command_quotes_every_word() {
        assert_eq!(
            pane_command(&s(&["claude", "--flag", "$(touch x)"])),
            "'claude' '--flag' '$(touch x)'; exit $?"
        );
    }

    #[test]
    fn tmux_escapes() {
        assert_eq!(escape_arg("plain"), "plain");
        assert_eq!(escape_arg("end;"), r"end\;");
        assert_eq!(escape_arg(r"end\;"), r"end\\;");
        assert_eq!(escape_arg(";"), r"\;");
        assert_eq!(escape_arg("mid;dle"), "mid;dle");
        assert_eq!(
            escape_format("/tmp/a#(touch x)#{y}"),
            "/tmp/a##(touch x)##{y}"
        );
    }

    #[test]
    fn sanitize_removes_control_characters() {
        assert_eq!(
            sanitize_text("a\x1b[31mred\x07\tb\r\nc\rd\u{7f}\u{9b}e"),
            "a[31mred b\nc\nde"
        );
        assert_eq!(sanitize_text("❯ ok\n"), "❯ ok\n");
        let lines: Vec<&str> = text_lines("a\n\nb\n").collect();
        assert_eq!(lines, ["a", "", "b"]);
    }

    #[test]
    fn chunks_respect_character_boundaries() {
        let text = "ab❯cd";
        let parts: Vec<&str> = chunks(text, 3).collect();
        assert_eq!(parts, ["ab", "❯", "cd"]);
        assert_eq!(chunks("", 3).count(), 0);
        assert_eq!(parts.concat(), text);
    }

    #[test]
    fn names_are_checked() {
        for good in ["hq-mayor", "gt-furiosa", "a_b", "x1"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "a:b", "a.b", "a#{x}", "a b", "a\nb"] {
            assert!(
                matches!(check_name(bad), Err(TmuxError::InvalidName { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn new_session_argv_is_exact() {
        let tmux = Tmux::new("gt-1234abcd");
        let argv = tmux
            .new_session_argv(
                "gt-nux",
                Path::new("/town/#(x)/rig;"),
                &[
                    ("GT_ROLE".into(), "polecat".into()),
                    ("V".into(), "a;".into()),
                ],
                &s(&["claude", "--x", "it's"]),
            )
            .unwrap();
        assert_eq!(
            argv,
            s(&[
                "tmux",
                "-u",
                "-L",
                "gt-1234abcd",
                "-f",
                "/dev/null",
                "set-option",
                "-g",
                "update-environment",
                "",
                ";",
                "new-session",
                "-d",
                "-s",
                "gt-nux",
                "-x",
                "200",
                "-y",
                "50",
                "-c",
                r"/town/##(x)/rig\;",
                "-P",
                "-F",
                "#{pane_id}\x1f#{pane_pid}",
                "-e",
                "GT_ROLE=polecat",
                "-e",
                r"V=a\;",
                "--",
                "sh",
                "-c",
                r"'claude' '--x' 'it'\''s'; exit $?",
                ";",
                "set-option",
                "-w",
                "-t",
                "=gt-nux:",
                "remain-on-exit",
                "on",
            ])
        );
        let owned = tmux
            .clone()
            .with_owner("/town;")
            .new_session_argv("gt-nux", Path::new("/"), &[], &s(&["x"]))
            .unwrap();
        assert_eq!(
            owned[owned.len() - 6..],
            s(&[";", "set-option", "-t", "=gt-nux:", "@gt_town", r"/town\;"])
        );
        assert!(matches!(
            tmux.new_session_argv("x", Path::new("/"), &[], &[]),
            Err(TmuxError::EmptyCommand { .. })
        ));
        assert!(matches!(
            tmux.new_session_argv(
                "x",
                Path::new("/"),
                &[("A=B".into(), "c".into())],
                &s(&["x"])
            ),
            Err(TmuxError::InvalidEnvKey { .. })
        ));
    }

    #[test]
    fn other_argvs_are_exact() {
        let tmux = Tmux::new("sock");
        let prefix = s(&["tmux", "-u", "-L", "sock", "-f", "/dev/null"]);
        let with = |rest: &[&str]| [prefix.clone(), s(rest)].concat();
        assert_eq!(
            tmux.respawn_pane_argv("a", Path::new("/w"), &[], &s(&["x"]))
                .unwrap(),
            with(&[
                "respawn-pane",
                "-k",
                "-t",
                "=a:",
                "-c",
                "/w",
                "--",
                "sh",
                "-c",
                "'x'; exit $?"
            ])
        );
        assert_eq!(
            tmux.capture_argv("a", 100),
            with(&["capture-pane", "-p", "-J", "-t", "=a:", "-S", "-100"])
        );
        assert_eq!(
            tmux.send_keys_argv("a", &["Down", "Enter"]),
            with(&["send-keys", "-t", "=a:", "Down", "Enter"])
        );
        assert_eq!(
            tmux.send_text_argvs("a", "-x \x1b[1m;"),
            [with(&["send-keys", "-t", "=a:", "-l", "--", r"-x [1m\;"])]
        );
        assert_eq!(tmux.send_text_argvs("a", &"y".repeat(1100)).len(), 3);
        let buffer = format!("gt-paste-{}", std::process::id());
        assert_eq!(
            tmux.paste_argv("a", "one\ntwo \x1b[201~;"),
            with(&[
                "set-buffer",
                "-b",
                &buffer,
                "--",
                "one\ntwo [201~\\;",
                ";",
                "paste-buffer",
                "-p",
                "-d",
                "-b",
                &buffer,
                "-t",
                "=a:",
            ])
        );
        assert_eq!(
            tmux.list_panes_argv("a"),
            with(&["list-panes", "-t", "=a:", "-F", PANE_FORMAT])
        );
    }

    #[test]
    fn join_argvs_name_the_session_exactly() {
        let tmux = Tmux::new("gt-x");
        let with = |args: &[&str]| tmux.argv(args);
        assert_eq!(
            tmux.join_argv("hq-mayor-1a2b", Join::Attach).unwrap(),
            with(&["attach-session", "-t", "=hq-mayor-1a2b"])
        );
        assert_eq!(
            tmux.join_argv("gt-nux-1a2b", Join::Switch).unwrap(),
            with(&["switch-client", "-t", "=gt-nux-1a2b"])
        );
        assert!(matches!(
            tmux.join_argv("a:b", Join::Attach),
            Err(TmuxError::InvalidName { .. })
        ));
    }

    #[test]
    fn the_server_of_a_tmux_variable_is_its_socket_path() {
        assert_eq!(
            server_of("/tmp/tmux-1000/default,4242,0"),
            Some(Path::new("/tmp/tmux-1000/default"))
        );
        // A socket path may itself hold commas: the last two fields are split off.
        assert_eq!(
            server_of("/tmp/a,b/gt-1,77,3"),
            Some(Path::new("/tmp/a,b/gt-1"))
        );
        for bad in ["", "/tmp/x", "/tmp/x,1", ",1,0", "/tmp/x,pid,0"] {
            assert_eq!(server_of(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn parses_pane_lines() {
        assert_eq!(
            parse_pane("%3\x1f4242\x1f0\x1f\x1fclaude\x1f0\x1f1796524886\x1f\x1f"),
            Some(PaneInfo {
                pane_id: "%3".into(),
                pid: 4242,
                dead: false,
                dead_status: None,
                current_command: "claude".into(),
                in_mode: false,
                last_output: Some(1_796_524_886),
                ready_prefix: String::new(),
                owner: String::new(),
            })
        );
        assert_eq!(
            parse_pane("%3\x1f4242\x1f0\x1f\x1fclaude\x1f1\x1f\x1f❯ \x1f/town/a\x1fb").map(|p| (
                p.in_mode,
                p.last_output,
                p.ready_prefix,
                p.owner
            )),
            Some((true, None, "❯ ".to_owned(), "/town/a\x1fb".to_owned()))
        );
        assert_eq!(
            parse_pane("%3\x1f4242\x1f1\x1f2\x1fsh\x1f0\x1f7\x1f\x1f")
                .map(|p| (p.dead, p.dead_status)),
            Some((true, Some(2)))
        );
        assert_eq!(parse_pane("%3\x1f4242\x1f0\x1f\x1fclaude\x1f0\x1f1"), None);
        assert_eq!(parse_pane("%3 4242 0"), None);
        assert_eq!(
            parse_ids("%7\x1f99\n"),
            Some(PaneIds {
                pane_id: "%7".into(),
                pid: 99
            })
        );
    }

    #[test]
    fn last_lines_drops_trailing_blanks() {
        assert_eq!(last_lines("a\n\nb\nc\n\n  \n", 2), "b\nc\n");
        assert_eq!(last_lines("\n\n", 5), "");
        assert_eq!(last_lines("a\nb\n", 0), "");
    }

    // --- on a private tmux server -------------------------------------------------------

    fn server() -> Option<(TmuxServer, Tmux)> {
        if !require_cmd("tmux") {
            return None;
        }
        let server = TmuxServer::start();
        let tmux = Tmux::new(server.socket_name());
        Some((server, tmux))
    }

    fn tmp() -> PathBuf {
        std::env::temp_dir()
    }

    #[test]
    fn the_socket_path_is_the_one_the_server_reports_and_activity_is_output() {
        let Some((server, tmux)) = server() else {
            return;
        };
        assert_eq!(tmux.socket_path().unwrap(), server.socket_path());
        let pane = tmux.pane(testkit::tmux::SENTINEL).unwrap().unwrap();
        assert!(pane.last_output.is_some_and(|t| t > 0), "{pane:?}");
    }

    #[test]
    fn a_zombies_exit_status_is_read_from_proc_stat() {
        let stat = |state: &str, code: i32| {
            let mut fields = vec!["0"; 49];
            let code = code.to_string();
            fields.push(&code);
            format!("4242 (sh) x) {state} {}", fields[1..].join(" "))
        };
        // `exit 3`: the wait status is 3 << 8.
        assert_eq!(parse_zombie_exit_status(&stat("Z", 3 << 8)), Some(3));
        assert_eq!(parse_zombie_exit_status(&stat("Z", 0)), Some(0));
        assert_eq!(
            parse_zombie_exit_status(&stat("Z", 9)),
            None,
            "killed by SIGKILL"
        );
        assert_eq!(
            parse_zombie_exit_status(&stat("S", 3 << 8)),
            None,
            "still running"
        );
        assert_eq!(parse_zombie_exit_status("garbage"), None);
    }

    fn sh(script: &str) -> Vec<String> {
        s(&["sh", "-c", script])
    }

    fn wait_capture(tmux: &Tmux, name: &str, needle: &str) -> String {
        wait_for(T, || {
            let text = tmux.capture(name, 100).unwrap();
            text.contains(needle).then_some(text)
        })
        .unwrap_or_else(|e| {
            panic!(
                "{e}: `{needle}` never appeared:\n{}",
                tmux.capture(name, 100).unwrap()
            )
        })
    }

    #[test]
    fn sessions_start_report_and_stop() {
        let Some((_server, tmux)) = server() else {
            return;
        };
        assert!(tmux.server_running().unwrap());
        let env = [("GREETING".to_owned(), "hi there;".to_owned())];
        let ids = tmux
            .new_session(
                "agent",
                &tmp(),
                &env,
                &sh("echo \"$GREETING\"; exec sleep 300"),
            )
            .unwrap();
        assert!(ids.pane_id.starts_with('%'), "{ids:?}");
        assert!(tmux.has_session("agent").unwrap());
        assert!(!tmux.has_session("age").unwrap(), "no prefix matching");
        wait_capture(&tmux, "agent", "hi there;");
        let pane = tmux.pane("agent").unwrap().unwrap();
        assert_eq!(
            (pane.pane_id.as_str(), pane.pid),
            (ids.pane_id.as_str(), ids.pid)
        );
        assert!(!pane.dead);
        // The pane's process is the shell that waits on the command (`pane_command`), and
        // tmux names the foreground group by its leader.
        assert_eq!(tmux.pane("agent").unwrap().unwrap().current_command, "sh");
        let mut sessions = tmux.list_sessions().unwrap();
        sessions.sort();
        assert_eq!(sessions, ["agent", testkit::tmux::SENTINEL]);

        tmux.set_environment("agent", "GT_PANE_ID", &ids.pane_id)
            .unwrap();
        assert_eq!(
            tmux.show_environment("agent", "GT_PANE_ID").unwrap(),
            Some(ids.pane_id.clone())
        );
        assert_eq!(tmux.show_environment("agent", "GT_NOPE").unwrap(), None);

        tmux.kill_session("agent", Duration::from_secs(5)).unwrap();
        assert!(!tmux.has_session("agent").unwrap());
        assert!(!spawn::is_alive(ids.pid));
        assert_eq!(tmux.pane("agent").unwrap(), None);
        tmux.kill_session("agent", Duration::from_secs(1)).unwrap();
    }

    #[test]
    fn sessions_carry_their_owners_stamp() {
        let Some((_server, tmux)) = server() else {
            return;
        };
        let owned = tmux.clone().with_owner("/towns/a b;#{x}");
        owned
            .new_session("mine", &tmp(), &[], &sh("exec sleep 300"))
            .unwrap();
        tmux.new_session("plain", &tmp(), &[], &sh("exec sleep 300"))
            .unwrap();
        assert_eq!(tmux.pane("mine").unwrap().unwrap().owner, "/towns/a b;#{x}");
        assert_eq!(owned.pane("plain").unwrap().unwrap().owner, "");
    }

    #[test]
    fn an_absent_server_has_no_sessions() {
        if !require_cmd("tmux") {
            return;
        }
        let tmux = Tmux::new(format!("gt-test-absent-{}", std::process::id()));
        assert!(!tmux.server_running().unwrap());
        assert_eq!(tmux.list_sessions().unwrap(), Vec::<String>::new());
        assert!(!tmux.has_session("x").unwrap());
        assert_eq!(tmux.pane("x").unwrap(), None);
        tmux.kill_session("x", Duration::ZERO).unwrap();
        let err = tmux.capture("x", 10).unwrap_err();
        assert!(err.to_string().contains("capture-pane"), "{err}");
    }

    #[test]
    fn a_program_that_exits_leaves_a_dead_pane_with_its_output() {
        let Some((_server, tmux)) = server() else {
            return;
        };
        // The pause: output written in the instant before a program exits can be lost between
        // the pty and tmux (a race in the kernel's tty hangup), which is not what this tests.
        tmux.new_session("quick", &tmp(), &[], &sh("echo bye-now; sleep 0.3; exit 3"))
            .unwrap();
        // tmux marks a pane dead when its pty closes and learns the exit status when it
        // reaps the child, a moment later.
        let pane = wait_for(T, || {
            tmux.pane("quick")
                .unwrap()
                .filter(|p| p.dead && p.dead_status.is_some())
        })
        .unwrap();
        assert_eq!(pane.dead_status, Some(3));
        wait_capture(&tmux, "quick", "bye-now");
    }

    #[test]
    fn hostile_words_and_directories_are_not_interpreted() {
        let Some((_server, tmux)) = server() else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("pwned");
        let m = marker.display();
        let odd_dir = dir.path().join(format!("d#(touch {m});"));
        // The `/`s in the marker path make nested directories; the whole path holds `#(…)`.
        std::fs::create_dir_all(&odd_dir).unwrap();
        let argv = s(&[
            "sh",
            "-c",
            "printf '[%s]\\n' \"$@\"; pwd; exec sleep 300",
            "sh",
            &format!("$(touch {m})"),
            &format!("`touch {m}`"),
            "it's \"q\";",
            ";",
        ]);
        tmux.new_session("hostile", &odd_dir, &[], &argv).unwrap();
        let text = wait_capture(&tmux, "hostile", &odd_dir.display().to_string());
        assert!(text.contains(&format!("[$(touch {m})]")), "{text}");
        assert!(text.contains(&format!("[`touch {m}`]")), "{text}");
        assert!(text.contains("[it's \"q\";]"), "{text}");
        assert!(text.contains("[;]"), "{text}");
        assert!(!marker.exists());
    }

    #[test]
    fn send_literal_types_lines_and_enter() {
        let Some((_server, tmux)) = server() else {
            return;
        };
        let script = "while IFS= read -r l; do printf 'got[%s]\\n' \"$l\"; done";
        tmux.new_session("echo", &tmp(), &[], &sh(script)).unwrap();
        tmux.send_literal("echo", "one;\ntwo $(x) `y`\x1b[31m\n")
            .unwrap();
        let text = wait_capture(&tmux, "echo", "got[two $(x) `y`[31m]");
        assert!(text.contains("got[one;]"), "{text}");
        tmux.send_text("echo", "-partial").unwrap();
        wait_capture(&tmux, "echo", "-partial");
        tmux.send_keys("echo", &["Enter"]).unwrap();
        wait_capture(&tmux, "echo", "got[-partial]");
    }

    #[test]
    fn respawn_replaces_the_program_and_stops_the_old_tree() {
        let Some((_server, tmux)) = server() else {
            return;
        };
        tmux.new_session(
            "re",
            &tmp(),
            &[],
            &sh("sleep 300 & echo first; exec sleep 301"),
        )
        .unwrap();
        wait_capture(&tmux, "re", "first");
        let old = tmux.pane("re").unwrap().unwrap();
        let old_tree = wait_for(T, || {
            let d = spawn::descendants(old.pid);
            (!d.is_empty()).then_some(d)
        });
        let ids = tmux
            .respawn_pane(
                "re",
                &tmp(),
                &[("WHO".into(), "second".into())],
                &sh("echo \"$WHO\"; exec sleep 300"),
                Duration::from_secs(5),
            )
            .unwrap();
        assert_ne!(ids.pid, old.pid);
        assert_eq!(ids.pane_id, old.pane_id);
        wait_capture(&tmux, "re", "second");
        assert!(!spawn::is_alive(old.pid));
        for pid in old_tree.unwrap_or_default() {
            wait_until(T, || !spawn::is_alive(pid)).unwrap();
        }
        assert!(matches!(
            tmux.respawn_pane("nope", &tmp(), &[], &sh("true"), Duration::ZERO),
            Err(TmuxError::NoSession { .. })
        ));
    }

    #[test]
    fn kill_session_stops_the_whole_process_group() {
        let Some((_server, tmux)) = server() else {
            return;
        };
        let ids = tmux
            .new_session("tree", &tmp(), &[], &sh("sleep 300 & sleep 300"))
            .unwrap();
        let kids = wait_for(T, || {
            let d = spawn::descendants(ids.pid);
            (!d.is_empty()).then_some(d)
        })
        .unwrap();
        tmux.kill_session("tree", Duration::from_secs(5)).unwrap();
        for pid in std::iter::once(ids.pid).chain(kids) {
            wait_until(T, || !spawn::is_alive(pid)).unwrap();
        }
        assert!(!tmux.has_session("tree").unwrap());
    }
}
