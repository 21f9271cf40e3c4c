//! Finding processes by their environment, and stopping them.
//!
//! An agent session's processes carry the variables its session was started with
//! (`GT_TOWN_ROOT`, `GT_SESSION`, …), and so does everything they start, including tool
//! processes that detach themselves (`setsid`, a double fork) and so escape a kill of the
//! session's process group or tmux session. [`find`] scans `/proc/<pid>/environ` for them;
//! [`kill_all`] stops what it found, checking each process's start time before every signal
//! so a recycled pid is never hit.
//!
//! Only processes of our own user are looked at; those whose environment cannot be read (gone
//! meanwhile, zombies, kernel threads) are skipped, and the calling process is never returned.
//! Without `/proc`, [`find`] finds nothing.
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::process::Signal;

use crate::spawn::{self, SpawnError};

/// The variables [`find`] copies into each [`Proc`]: set in agent sessions (by `gt sling`),
/// read here from other processes' environments, never from ours.
pub const GT_TOWN_ROOT: &str = crate::env::GT_TOWN_ROOT;
pub const GT_SESSION: &str = "GT_SESSION";
pub const GT_GENERATION: &str = "GT_GENERATION";
pub const GT_ROLE: &str = crate::env::GT_ROLE;

/// A process's environment as it was when the process started (`/proc/<pid>/environ`; later
/// `setenv` calls of the process itself do not show).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcEnv {
    vars: Vec<(String, String)>,
}

impl ProcEnv {
    /// Parses `NAME=value` entries separated by NUL bytes; non-UTF-8 bytes are replaced.
    pub fn parse(environ: &[u8]) -> Self {
        let vars = environ
            .split(|&b| b == 0)
            .filter(|entry| !entry.is_empty())
            .filter_map(|entry| {
                let eq = entry.iter().position(|&b| b == b'=')?;
                let (name, value) = (&entry[..eq], &entry[eq + 1..]);
                Some((
                    String::from_utf8_lossy(name).into_owned(),
                    String::from_utf8_lossy(value).into_owned(),
                ))
            })
            .collect();
        Self { vars }
    }

    /// The value of `name` (the first, if the environment holds it twice).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every variable, in the environment's order.
    pub fn vars(&self) -> &[(String, String)] {
        &self.vars
    }
}

/// A process found by [`find`]: enough to signal it safely later, and the `GT_*` variables
/// that say which agent it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proc {
    pub pid: u32,
    /// Its process group.
    pub pgid: u32,
    /// Its session (`setsid`).
    pub sid: u32,
    /// When it started, in clock ticks after boot; with the pid, it names this one process.
    pub start_time: u64,
    /// The kernel's short name of the process (at most 15 bytes).
    pub comm: String,
    pub town_root: Option<String>,
    pub session: Option<String>,
    pub generation: Option<String>,
    pub role: Option<String>,
}

impl Proc {
    /// Whether it leads its process group (and so is signalled as a whole group).
    pub fn leads_group(&self) -> bool {
        self.pid == self.pgid
    }

    /// Whether this very process still runs: its pid is live and has the recorded start time.
    pub fn is_running(&self) -> bool {
        // `is_alive` reaps it if it is our exited child, so it stops showing.
        spawn::is_alive(self.pid)
            && spawn::stat(self.pid).is_some_and(|s| s.start_time == self.start_time)
    }

    /// Whether its group still has live members that started no earlier than the leader did
    /// (a pgid cannot be reused while any member holds it, so these are of the same group).
    fn group_running(&self) -> bool {
        self.leads_group()
            && spawn::group_members(self.pgid)
                .iter()
                .any(|m| m.start_time >= self.start_time)
    }
}

/// Every process of our user, other than the caller, whose environment `keep` accepts, by pid.
pub fn find(mut keep: impl FnMut(&ProcEnv) -> bool) -> Vec<Proc> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id();
    let uid = rustix::process::getuid().as_raw();
    let mut found: Vec<Proc> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter_map(|pid| {
            let dir = format!("/proc/{pid}");
            if std::fs::metadata(&dir).ok()?.uid() != uid {
                return None;
            }
            let environ = std::fs::read(format!("{dir}/environ")).ok()?;
            if environ.is_empty() {
                // A zombie or a kernel thread: nothing to match, nothing to stop.
                return None;
            }
            let env = ProcEnv::parse(&environ);
            if !keep(&env) {
                return None;
            }
            let stat = spawn::stat(pid).filter(|s| !s.is_exited())?;
            let var = |name| env.get(name).map(str::to_owned);
            Some(Proc {
                pid,
                pgid: stat.pgrp,
                sid: stat.session,
                start_time: stat.start_time,
                comm: spawn::process_name(pid).unwrap_or_default(),
                town_root: var(GT_TOWN_ROOT),
                session: var(GT_SESSION),
                generation: var(GT_GENERATION),
                role: var(GT_ROLE),
            })
        })
        .collect();
    found.sort_by_key(|p| p.pid);
    found
}

/// Stops `procs`: `SIGTERM` to each (to its whole group when it leads one), up to `grace` for
/// them to exit, then `SIGKILL` to what is left. Before every signal the process's start time is
/// checked again, so a process that exited and whose pid was reused is left alone; processes
/// this one must not signal (pid 0 and 1, itself, the leader of its own group) are skipped.
/// Processes gone already are fine. Returns how many were still running when asked to stop.
///
/// Every process is tried even when one fails; the first failure is returned after the rest
/// were dealt with, or [`SpawnError::Survived`] if any outlived `SIGKILL`.
pub fn kill_all(procs: &[Proc], grace: Duration) -> Result<usize, SpawnError> {
    let targets: Vec<&Proc> = procs
        .iter()
        .filter(|p| spawn::check_signallable(p.pid).is_ok())
        .filter(|p| p.is_running() || p.group_running())
        .collect();
    if targets.is_empty() {
        return Ok(0);
    }
    tracing::debug!(pids = ?targets.iter().map(|p| p.pid).collect::<Vec<_>>(), ?grace, "kill_all");
    let mut first_error = None;
    for p in &targets {
        if let Err(e) = signal(p, Signal::TERM, "SIGTERM") {
            first_error.get_or_insert(e);
        }
    }
    if !wait_gone(&targets, grace) {
        for p in &targets {
            if let Err(e) = signal(p, Signal::KILL, "SIGKILL") {
                first_error.get_or_insert(e);
            }
        }
        if !wait_gone(&targets, spawn::KILL_WAIT) {
            let pids: Vec<u32> = targets
                .iter()
                .filter(|p| p.is_running())
                .map(|p| p.pid)
                .collect();
            first_error.get_or_insert(SpawnError::Survived { pids });
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(targets.len()),
    }
}

/// Signals `p` if it is still the recorded process: its group if it leads one, else itself.
/// A group whose leader has exited is still signalled while members of it remain.
fn signal(p: &Proc, signal: Signal, name: &'static str) -> Result<(), SpawnError> {
    let running = p.is_running();
    if !running && !p.group_running() {
        return Ok(());
    }
    let pid = spawn::to_pid(p.pid).ok_or(SpawnError::Refused {
        pid: p.pid,
        reason: "not a valid pid",
    })?;
    let result = if p.leads_group() {
        match rustix::process::kill_process_group(pid, signal) {
            Err(Errno::SRCH) if running => rustix::process::kill_process(pid, signal),
            other => other,
        }
    } else {
        rustix::process::kill_process(pid, signal)
    };
    match result {
        Ok(()) | Err(Errno::SRCH) => Ok(()),
        Err(e) => Err(SpawnError::Signal {
            pid: p.pid,
            signal: name,
            source: e.into(),
        }),
    }
}

/// Waits up to `timeout` for every process (and every led group) to be gone.
fn wait_gone(procs: &[&Proc], timeout: Duration) -> bool {
    let start = Instant::now();
    let mut delay = Duration::from_millis(5);
    loop {
        if !procs.iter().any(|p| p.is_running() || p.group_running()) {
            return true;
        }
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            return false;
        }
        std::thread::sleep(delay.min(timeout - elapsed));
        delay = (delay * 2).min(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use testkit::{wait_for, wait_until};

    use super::*;

    const T: Duration = Duration::from_secs(10);

    fn spawn_marked(script: &str, dir: &Path, marker: Option<&str>) -> u32 {
        let mut env = vec![(
            "PATH".to_owned(),
            crate::env::var("PATH").unwrap_or_default(),
        )];
        if let Some(m) = marker {
            env.push(("GT_TEST_MARKER".to_owned(), m.to_owned()));
            env.push((GT_SESSION.to_owned(), "gt-marked".to_owned()));
        }
        spawn::spawn_detached(
            "sh",
            &["-c".to_owned(), script.to_owned()],
            &env,
            dir,
            &dir.join("out.log"),
        )
        .unwrap()
    }

    fn marked(marker: &str) -> Vec<Proc> {
        find(|env| env.get("GT_TEST_MARKER") == Some(marker))
    }

    #[test]
    fn environments_parse_into_variables() {
        let env = ProcEnv::parse(b"A=1\0B=x=y\0junk\0\0C=\xff\0A=2\0");
        assert_eq!(env.get("A"), Some("1"));
        assert_eq!(env.get("B"), Some("x=y"));
        assert_eq!(env.get("C"), Some("\u{fffd}"));
        assert_eq!(env.get("junk"), None);
        assert_eq!(env.vars().len(), 4);
        assert_eq!(ProcEnv::parse(b""), ProcEnv::default());
    }

    #[test]
    fn find_sees_detached_descendants_and_kill_all_stops_them_alone() {
        if !testkit::require_cmd("setsid") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let marker = format!("procs-test-{}", std::process::id());
        // A group leader with a child in its group, and a grandchild that left for a session
        // of its own (as a daemonizing tool does).
        let leader = spawn_marked(
            "setsid sleep 300 & sleep 300 & wait",
            dir.path(),
            Some(&marker),
        );
        let bystander = spawn_marked("exec sleep 300", dir.path(), None);
        let found = wait_for(T, || {
            let found = marked(&marker);
            (found.iter().filter(|p| p.comm == "sleep").count() == 2).then_some(found)
        })
        .unwrap();
        assert_eq!(found.len(), 3, "{found:?}");
        let lead = found.iter().find(|p| p.pid == leader).expect("the leader");
        assert!(lead.leads_group());
        assert_eq!(lead.session.as_deref(), Some("gt-marked"));
        assert_eq!(lead.town_root, None);
        let escaped = found
            .iter()
            .find(|p| p.sid != lead.sid)
            .expect("the setsid'd sleep has a session of its own");
        assert_eq!(escaped.pgid, escaped.pid);
        assert!(!found.iter().any(|p| p.pid == bystander));
        assert!(!found.iter().any(|p| p.pid == std::process::id()));

        assert_eq!(kill_all(&found, Duration::from_secs(5)).unwrap(), 3);
        for p in &found {
            wait_until(T, || !p.is_running()).unwrap();
        }
        assert!(marked(&marker).is_empty());
        assert!(spawn::is_alive(bystander), "a process without the marker");
        spawn::kill_group(bystander, T).unwrap();
    }

    #[test]
    fn kill_all_leaves_a_recycled_pid_alone() {
        let dir = tempfile::tempdir().unwrap();
        let marker = format!("procs-recycled-{}", std::process::id());
        let pid = spawn_marked("exec sleep 300", dir.path(), Some(&marker));
        let mut found = wait_for(T, || {
            let found = marked(&marker);
            (found.len() == 1 && found[0].comm == "sleep").then_some(found)
        })
        .unwrap();
        // The same pid with another start time is another process: not to be signalled.
        found[0].start_time += 1;
        assert_eq!(kill_all(&found, Duration::from_millis(100)).unwrap(), 0);
        assert!(spawn::is_alive(pid));
        found[0].start_time -= 1;
        assert_eq!(kill_all(&found, Duration::from_secs(5)).unwrap(), 1);
        assert!(!spawn::is_alive(pid));
    }

    #[test]
    fn a_process_ignoring_sigterm_is_killed_after_the_grace() {
        let dir = tempfile::tempdir().unwrap();
        let marker = format!("procs-trap-{}", std::process::id());
        let ready = dir.path().join("trapped");
        let pid = spawn_marked(
            &format!(
                "trap '' TERM; touch '{}'; while :; do sleep 1; done",
                ready.display()
            ),
            dir.path(),
            Some(&marker),
        );
        wait_until(T, || ready.exists()).unwrap();
        let found: Vec<Proc> = marked(&marker)
            .into_iter()
            .filter(|p| p.pid == pid)
            .collect();
        assert_eq!(found.len(), 1);
        let start = Instant::now();
        kill_all(&found, Duration::from_millis(200)).unwrap();
        assert!(start.elapsed() >= Duration::from_millis(200));
        assert!(!spawn::is_alive(pid));
    }
}
