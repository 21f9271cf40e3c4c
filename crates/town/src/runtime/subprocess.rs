//! [`SubprocessRuntime`]: headless agents as detached processes with a log file.
//!
//! Session `<name>` keeps its state in the runtime's directory: `<name>.pid` (the pid and the
//! process's start time, so a recycled pid is never mistaken for the agent), `<name>.log`
//! (stdout and stderr; the previous run's log is kept as `<name>.prev.log`), and `<name>.lock`
//! (held while starting or stopping).

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use host::lock::LockGuard;

use super::{
    CAPTURE_LINES, DEFAULT_KILL_GRACE, Runtime, RuntimeError, SendWhen, SessionHandle, SessionSpec,
    check_session_name, check_spec, is_prompt_line, poll, runs_any, tail_for_error,
};
use crate::agents::Readiness;

pub(super) const KIND: &str = "subprocess";
/// How much of the end of a log [`Runtime::capture`] reads.
const TAIL_BYTES: u64 = 64 * 1024;

/// Agent sessions as detached processes, with state under one directory.
#[derive(Debug, Clone)]
pub struct SubprocessRuntime {
    state_dir: PathBuf,
    kill_grace: Duration,
}

impl SubprocessRuntime {
    /// Sessions with their pid, log and lock files in `state_dir` (created when needed).
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        Self {
            state_dir: state_dir.into(),
            kill_grace: DEFAULT_KILL_GRACE,
        }
    }

    /// How long a stopped session's processes get between `SIGTERM` and `SIGKILL`.
    pub fn with_kill_grace(mut self, grace: Duration) -> Self {
        self.kill_grace = grace;
        self
    }

    /// Where session `name`'s output goes.
    pub fn log_path(&self, name: &str) -> PathBuf {
        self.state_dir.join(format!("{name}.log"))
    }

    /// Where session `name`'s pid is recorded.
    pub fn pid_path(&self, name: &str) -> PathBuf {
        self.state_dir.join(format!("{name}.pid"))
    }

    /// The sessions started and not stopped since (each has a pid file; its agent may have
    /// exited), sorted; a file whose name is no session name is not one of ours.
    pub fn sessions(&self) -> Result<Vec<String>, RuntimeError> {
        let entries = match fs::read_dir(&self.state_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(io_error("*", "list", &self.state_dir, source)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_error("*", "list", &self.state_dir, e))?;
            let file = entry.file_name();
            if let Some(name) = file.to_str().and_then(|f| f.strip_suffix(".pid"))
                && check_session_name(name).is_ok()
            {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    fn lock(&self, name: &str) -> Result<LockGuard, RuntimeError> {
        fs::create_dir_all(&self.state_dir).map_err(|source| RuntimeError::Io {
            session: name.to_owned(),
            action: "create",
            path: self.state_dir.clone(),
            source,
        })?;
        host::lock::lock(&self.state_dir.join(format!("{name}.lock"))).map_err(|source| {
            RuntimeError::Lock {
                session: name.to_owned(),
                source,
            }
        })
    }

    /// The pid of session `name`'s agent if it is still running.
    fn live_pid(&self, name: &str) -> Result<Option<u32>, RuntimeError> {
        let path = self.pid_path(name);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(io_error(name, "read", &path, source)),
        };
        let (pid, recorded_start) =
            parse_pid_file(&text).ok_or_else(|| RuntimeError::CorruptPidFile {
                session: name.to_owned(),
                path: path.clone(),
                content: text.clone(),
            })?;
        let same_process = match (recorded_start, host::spawn::start_time(pid)) {
            (Some(recorded), Some(now)) => recorded == now,
            _ => true,
        };
        Ok((same_process && host::spawn::is_alive(pid)).then_some(pid))
    }

    fn running_pid(&self, name: &str) -> Result<u32, RuntimeError> {
        if let Some(pid) = self.live_pid(name)? {
            return Ok(pid);
        }
        if !self.pid_path(name).exists() && !self.log_path(name).exists() {
            return Err(not_found(name));
        }
        Err(RuntimeError::Exited {
            session: name.to_owned(),
            // Its parent (often an earlier `gt`) got the status, not us.
            status: "status unknown".to_owned(),
            output: tail_for_error(&self.read_tail(name)?),
        })
    }

    fn read_tail(&self, name: &str) -> Result<String, RuntimeError> {
        let path = self.log_path(name);
        let tail = read_tail(&path, TAIL_BYTES).map_err(|e| io_error(name, "read", &path, e))?;
        Ok(last_lines(&tail, CAPTURE_LINES))
    }

    fn stop_locked(&self, name: &str) -> Result<(), RuntimeError> {
        if let Some(pid) = self.live_pid(name)? {
            host::spawn::kill_tree(pid, self.kill_grace).map_err(|source| {
                RuntimeError::Process {
                    session: name.to_owned(),
                    action: "stop",
                    source,
                }
            })?;
        }
        let path = self.pid_path(name);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(io_error(name, "remove", &path, source)),
        }
    }

    fn start_locked(&self, spec: &SessionSpec) -> Result<SessionHandle, RuntimeError> {
        let name = &spec.name;
        let log = self.log_path(name);
        let prev = self.state_dir.join(format!("{name}.prev.log"));
        match fs::rename(&log, &prev) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(io_error(name, "rotate", &log, source)),
        }
        let (program, args) =
            spec.argv
                .split_first()
                .ok_or_else(|| RuntimeError::EmptyCommand {
                    session: name.clone(),
                })?;
        let pid = host::spawn::spawn_detached(program, args, &spec.env, &spec.cwd, &log).map_err(
            |source| RuntimeError::Process {
                session: name.clone(),
                action: "start",
                source,
            },
        )?;
        let record = match host::spawn::start_time(pid) {
            Some(start) => format!("{pid} {start}\n"),
            None => format!("{pid}\n"),
        };
        let path = self.pid_path(name);
        let tmp = self.state_dir.join(format!("{name}.pid.tmp"));
        fs::write(&tmp, record)
            .and_then(|()| fs::rename(&tmp, &path))
            .map_err(|source| io_error(name, "write", &path, source))?;
        Ok(SessionHandle {
            name: name.clone(),
            pane_id: None,
            pid,
        })
    }
}

impl Runtime for SubprocessRuntime {
    fn kind(&self) -> &'static str {
        KIND
    }

    /// Spawns `spec.argv` detached, in its own process group, with exactly `spec.env`.
    fn start(&self, spec: &SessionSpec) -> Result<SessionHandle, RuntimeError> {
        check_spec(spec)?;
        let _lock = self.lock(&spec.name)?;
        if self.live_pid(&spec.name)?.is_some() {
            return Err(RuntimeError::AlreadyRunning {
                session: spec.name.clone(),
                runtime: KIND,
            });
        }
        self.start_locked(spec)
    }

    /// Polls the log for the prompt (no dialog can be answered here), or waits out the delay;
    /// fails at once if the process exits.
    fn wait_ready(
        &self,
        name: &str,
        readiness: &Readiness,
        timeout: Duration,
    ) -> Result<(), RuntimeError> {
        check_session_name(name)?;
        match readiness {
            Readiness::Prompt { prefix, .. } => {
                let start = std::time::Instant::now();
                let mut last = String::new();
                let ready = poll(timeout, || {
                    // Ask whether the agent runs *before* reading its output, and read it either
                    // way: an agent that printed its prompt, did its work and exited between two
                    // polls was ready all the same.
                    let running = self.running_pid(name);
                    if let Err(e @ RuntimeError::NotFound { .. }) = running {
                        return Err(e);
                    }
                    last = self.read_tail(name)?;
                    if prefix.trim().is_empty() || last.lines().any(|l| is_prompt_line(l, prefix)) {
                        return Ok(Some(()));
                    }
                    running.map(|_| None)
                })?;
                ready.ok_or_else(|| RuntimeError::NotReady {
                    session: name.to_owned(),
                    prefix: prefix.clone(),
                    waited: start.elapsed(),
                    output: tail_for_error(&last),
                })
            }
            Readiness::Delay { ms } => {
                let delay = Duration::from_millis(*ms).min(timeout);
                poll(delay, || self.running_pid(name).map(|_| None::<()>))?;
                self.running_pid(name).map(|_| ())
            }
        }
    }

    /// Always an error: a detached process has no terminal to type into.
    fn send(&self, name: &str, _text: &str, _when: SendWhen) -> Result<(), RuntimeError> {
        Err(RuntimeError::SendUnsupported {
            session: name.to_owned(),
            runtime: KIND,
        })
    }

    /// The end of the session's log.
    fn capture(&self, name: &str) -> Result<String, RuntimeError> {
        check_session_name(name)?;
        if !self.log_path(name).exists() {
            return Err(not_found(name));
        }
        self.read_tail(name)
    }

    fn is_alive(&self, name: &str, process_names: &[String]) -> Result<bool, RuntimeError> {
        check_session_name(name)?;
        Ok(self
            .live_pid(name)?
            .is_some_and(|pid| process_names.is_empty() || runs_any(pid, process_names)))
    }

    fn pid(&self, name: &str) -> Result<Option<u32>, RuntimeError> {
        check_session_name(name)?;
        self.live_pid(name)
    }

    /// Unknown: the process's parent (often an earlier `gt`) reaped it, not us.
    fn exit_status(&self, name: &str) -> Result<Option<i32>, RuntimeError> {
        check_session_name(name)?;
        Ok(None)
    }

    /// When its log was last written: the agent's output goes nowhere else.
    fn last_output(&self, name: &str) -> Result<Option<jiff::Timestamp>, RuntimeError> {
        check_session_name(name)?;
        let path = self.log_path(name);
        match fs::metadata(&path).and_then(|m| m.modified()) {
            Ok(at) => Ok(jiff::Timestamp::try_from(at).ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(io_error(name, "read", &path, source)),
        }
    }

    fn freeze(&self, name: &str, freeze: bool) -> Result<bool, RuntimeError> {
        let Some(pid) = self.pid(name)? else {
            return Ok(false);
        };
        host::spawn::freeze_tree(pid, freeze, true).map_err(|source| RuntimeError::Process {
            action: if freeze { "freeze" } else { "thaw" },
            session: name.to_owned(),
            source,
        })?;
        Ok(true)
    }

    /// Stops the agent's process group and descendants, then removes the pid file.
    fn stop(&self, name: &str) -> Result<(), RuntimeError> {
        check_session_name(name)?;
        let _lock = self.lock(name)?;
        self.stop_locked(name)
    }

    /// Stops the session if it runs, then starts `spec`.
    fn respawn(&self, spec: &SessionSpec) -> Result<SessionHandle, RuntimeError> {
        check_spec(spec)?;
        let _lock = self.lock(&spec.name)?;
        self.stop_locked(&spec.name)?;
        self.start_locked(spec)
    }
}

fn not_found(name: &str) -> RuntimeError {
    RuntimeError::NotFound {
        session: name.to_owned(),
        runtime: KIND,
    }
}

fn io_error(name: &str, action: &'static str, path: &Path, source: std::io::Error) -> RuntimeError {
    RuntimeError::Io {
        session: name.to_owned(),
        action,
        path: path.to_owned(),
        source,
    }
}

/// `<pid>` or `<pid> <start time>`.
fn parse_pid_file(text: &str) -> Option<(u32, Option<u64>)> {
    let mut words = text.split_whitespace();
    let pid = words.next()?.parse().ok()?;
    let start = match words.next() {
        Some(w) => Some(w.parse().ok()?),
        None => None,
    };
    words.next().is_none().then_some((pid, start))
}

/// The last `max` bytes of the file at `path`, from the first whole line, as (lossy) UTF-8.
fn read_tail(path: &Path, max: u64) -> std::io::Result<String> {
    let mut file = fs::File::open(path)?;
    let len = file.metadata()?.len();
    let from = len.saturating_sub(max);
    file.seek(SeekFrom::Start(from))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    Ok(if from > 0 {
        text.split_once('\n')
            .map_or("", |(_, rest)| rest)
            .to_owned()
    } else {
        text.into_owned()
    })
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    lines[start..].iter().map(|l| format!("{l}\n")).collect()
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use testkit::{wait_for, wait_until};

    use super::*;

    const T: Duration = Duration::from_secs(10);

    struct Fixture {
        runtime: SubprocessRuntime,
        dir: tempfile::TempDir,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        Fixture {
            runtime: SubprocessRuntime::new(dir.path().join("state"))
                .with_kill_grace(Duration::from_secs(2)),
            dir,
        }
    }

    impl Fixture {
        fn spec(&self, name: &str, script: &str) -> SessionSpec {
            SessionSpec {
                name: name.to_owned(),
                cwd: self.dir.path().to_owned(),
                env: vec![
                    (
                        "PATH".to_owned(),
                        host::env::var("PATH").unwrap_or_default(),
                    ),
                    ("GT_SESSION".to_owned(), name.to_owned()),
                ],
                argv: ["sh", "-c", script].map(str::to_owned).to_vec(),
                readiness: Readiness::Delay { ms: 0 },
                process_names: Vec::new(),
            }
        }

        fn start(&self, name: &str, script: &str) -> SessionHandle {
            self.runtime.start(&self.spec(name, script)).unwrap()
        }

        fn wait_output(&self, name: &str, needle: &str) -> String {
            wait_for(T, || {
                let text = self.runtime.capture(name).unwrap_or_default();
                text.contains(needle).then_some(text)
            })
            .unwrap()
        }
    }

    #[test]
    fn pid_files_parse() {
        assert_eq!(parse_pid_file("42\n"), Some((42, None)));
        assert_eq!(parse_pid_file("42 1234\n"), Some((42, Some(1234))));
        assert_eq!(parse_pid_file(""), None);
        assert_eq!(parse_pid_file("x"), None);
        assert_eq!(parse_pid_file("42 1234 9"), None);
    }

    #[test]
    fn tails_start_on_a_whole_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        fs::write(&path, "aaaa\nbbbb\ncccc\n").unwrap();
        assert_eq!(read_tail(&path, 7).unwrap(), "cccc\n");
        assert_eq!(read_tail(&path, 100).unwrap(), "aaaa\nbbbb\ncccc\n");
        assert_eq!(last_lines("a\nb\nc\n", 2), "b\nc\n");
    }

    #[test]
    fn start_capture_is_alive_and_stop() {
        let f = fixture();
        let h = f.start("worker", "echo \"hello from $GT_SESSION\"; exec sleep 300");
        assert_eq!(h.pane_id, None);
        assert_eq!(f.runtime.kind(), "subprocess");
        f.wait_output("worker", "hello from worker");
        assert!(f.runtime.is_alive("worker", &[]).unwrap());
        wait_until(T, || {
            f.runtime.is_alive("worker", &["sleep".to_owned()]).unwrap()
        })
        .unwrap();
        assert!(
            !f.runtime
                .is_alive("worker", &["claude".to_owned()])
                .unwrap()
        );
        let pid_file = fs::read_to_string(f.runtime.pid_path("worker")).unwrap();
        assert!(pid_file.starts_with(&format!("{} ", h.pid)), "{pid_file}");

        let err = f.runtime.start(&f.spec("worker", "true")).unwrap_err();
        assert!(
            matches!(err, RuntimeError::AlreadyRunning { .. }),
            "{err:?}"
        );
        assert_eq!(f.runtime.sessions().unwrap(), ["worker"]);
        assert!(f.runtime.last_output("worker").unwrap().is_some());
        assert_eq!(f.runtime.last_output("ghost").unwrap(), None);

        f.runtime.stop("worker").unwrap();
        assert!(f.runtime.sessions().unwrap().is_empty(), "stopped");
        assert!(!host::spawn::is_alive(h.pid));
        assert!(!f.runtime.pid_path("worker").exists());
        assert!(!f.runtime.is_alive("worker", &[]).unwrap());
        f.runtime.stop("worker").unwrap();
        // The log outlives the process.
        assert!(
            f.runtime
                .capture("worker")
                .unwrap()
                .contains("hello from worker")
        );
    }

    #[test]
    fn send_is_an_explicit_error() {
        let f = fixture();
        f.start("quiet", "exec sleep 300");
        let err = f
            .runtime
            .send("quiet", "do the thing", SendWhen::Now)
            .unwrap_err();
        assert!(
            matches!(err, RuntimeError::SendUnsupported { .. }),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "the subprocess runtime cannot send text to `quiet`; pass the prompt as an argument"
        );
        f.runtime.stop("quiet").unwrap();
    }

    #[test]
    fn wait_ready_reads_the_prompt_from_the_log_and_fails_fast_on_exit() {
        let f = fixture();
        let prompt = Readiness::Prompt {
            prefix: "❯ ".to_owned(),
            fallback_ms: 10_000,
            dialogs: Vec::new(),
        };
        f.start("ready", "sleep 0.3; printf '❯ \\n'; exec sleep 300");
        f.runtime.wait_ready("ready", &prompt, T).unwrap();
        f.runtime.stop("ready").unwrap();

        // Ready, then gone before the first poll: it showed its prompt, so it was ready.
        f.start("quick", "printf '❯ \\n'; exit 0");
        wait_until(T, || !f.runtime.is_alive("quick", &[]).unwrap()).unwrap();
        f.runtime.wait_ready("quick", &prompt, T).unwrap();

        f.start("crash", "echo crash-output; exit 3");
        let start = Instant::now();
        let err = f.runtime.wait_ready("crash", &prompt, T).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(5));
        let RuntimeError::Exited { output, .. } = &err else {
            panic!("{err:?}");
        };
        assert!(output.contains("crash-output"), "{output}");
        let err = f
            .runtime
            .wait_ready("crash", &Readiness::Delay { ms: 5_000 }, T)
            .unwrap_err();
        assert!(matches!(err, RuntimeError::Exited { .. }), "{err:?}");

        // A dead session can be started again; the old log is kept aside.
        f.start("crash", "echo second-run; exec sleep 300");
        f.wait_output("crash", "second-run");
        assert!(!f.runtime.capture("crash").unwrap().contains("crash-output"));
        f.runtime.stop("crash").unwrap();

        assert!(matches!(
            f.runtime.wait_ready("ghost", &prompt, T),
            Err(RuntimeError::NotFound { .. })
        ));
        assert!(matches!(
            f.runtime.capture("ghost"),
            Err(RuntimeError::NotFound { .. })
        ));
    }

    #[test]
    fn stop_kills_the_process_group() {
        let f = fixture();
        let h = f.start("tree", "sleep 300 & sleep 300");
        let kids = wait_for(T, || {
            let d = host::spawn::descendants(h.pid);
            (!d.is_empty()).then_some(d)
        })
        .unwrap();
        f.runtime.stop("tree").unwrap();
        for pid in std::iter::once(h.pid).chain(kids) {
            wait_until(T, || !host::spawn::is_alive(pid)).unwrap();
        }
    }

    #[test]
    fn respawn_replaces_the_process() {
        let f = fixture();
        let first = f.start("re", "exec sleep 300");
        let second = f
            .runtime
            .respawn(&f.spec("re", "echo again; exec sleep 300"))
            .unwrap();
        assert_ne!(first.pid, second.pid);
        assert!(!host::spawn::is_alive(first.pid));
        f.wait_output("re", "again");
        f.runtime.stop("re").unwrap();
    }

    #[test]
    fn a_stale_pid_file_is_not_a_live_session() {
        let f = fixture();
        let h = f.start("stale", "exec sleep 300");
        let path = f.runtime.pid_path("stale");
        // Our own pid with a start time that is not ours: a recycled pid.
        fs::write(&path, format!("{} 1\n", std::process::id())).unwrap();
        assert!(!f.runtime.is_alive("stale", &[]).unwrap());
        fs::write(&path, "garbage").unwrap();
        assert!(matches!(
            f.runtime.is_alive("stale", &[]),
            Err(RuntimeError::CorruptPidFile { .. })
        ));
        host::spawn::kill_group(h.pid, Duration::from_secs(2)).unwrap();
    }
}
