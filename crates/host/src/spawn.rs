//! Long-running processes: starting them detached, asking whether they live, stopping them.
//!
//! [`spawn_detached`] starts a program in its own process group with a cleared environment and
//! its output appended to a log file, and returns its pid; nothing waits for it. `gt` is
//! short-lived, so such a child normally outlives us and is re-parented to init (or the nearest
//! subreaper), which reaps it. While we are still running, a child that has exited stays a
//! zombie until it is waited for: [`is_alive`] reports zombies as dead and reaps them when they
//! are ours, and [`kill_group`] and [`kill_tree`] reap what they kill.
//!
//! Process inspection ([`process_name`], [`start_time`], [`descendants`], zombie detection)
//! reads `/proc`; where there is no `/proc` those answer `None` or nothing, and [`is_alive`]
//! falls back to `kill(pid, 0)` alone.
#![expect(
    clippy::disallowed_methods,
    reason = "this module is where long-running processes are started"
)]

use std::collections::{BTreeMap, VecDeque};
use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::process::{Pid, Signal, WaitOptions};

/// How long [`kill_group`] and [`kill_tree`] wait for processes to vanish after `SIGKILL`.
pub(crate) const KILL_WAIT: Duration = Duration::from_secs(2);

/// A failure to start or signal a process.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The log file could not be opened for appending.
    #[error("cannot open log file `{}`", path.display())]
    Log {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The program could not be started.
    #[error("cannot start `{program}` in `{}`", cwd.display())]
    Spawn {
        program: String,
        cwd: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The pid cannot be signalled safely: 0, 1, out of range, or our own process or group.
    #[error("refusing to signal process {pid}: {reason}")]
    Refused { pid: u32, reason: &'static str },
    /// `kill` failed for a reason other than the process being gone.
    #[error("cannot send {signal} to process {pid}")]
    Signal {
        pid: u32,
        signal: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// Processes were still alive after `SIGKILL`.
    #[error("processes {pids:?} are still alive after SIGKILL")]
    Survived { pids: Vec<u32> },
}

/// Starts `program args…` detached: in a new process group, in `cwd`, with stdin from
/// `/dev/null`, stdout and stderr appended to `log_path` (created if missing), and an
/// environment holding exactly `env` (nothing is inherited, so pass `PATH` and `HOME` if the
/// program needs them). Returns the child's pid without waiting for it.
pub fn spawn_detached(
    program: &str,
    args: &[String],
    env: &[(String, String)],
    cwd: &Path,
    log_path: &Path,
) -> Result<u32, SpawnError> {
    let log_err = |source| SpawnError::Log {
        path: log_path.to_owned(),
        source,
    };
    let stdout = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .map_err(log_err)?;
    let stderr = stdout.try_clone().map_err(log_err)?;
    tracing::debug!(program, ?args, cwd = %cwd.display(), log = %log_path.display(), "spawn detached");
    let child = Command::new(program)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0)
        .spawn()
        .map_err(|source| SpawnError::Spawn {
            program: program.to_owned(),
            cwd: cwd.to_owned(),
            source,
        })?;
    // Dropping the handle neither kills nor waits: the child runs on (see the module docs).
    Ok(child.id())
}

/// Whether process `pid` exists and has not exited. A zombie (exited, not yet reaped) counts as
/// dead, and is reaped here if it is our child.
pub fn is_alive(pid: u32) -> bool {
    let Some(p) = to_pid(pid) else {
        return false;
    };
    match rustix::process::test_kill_process(p) {
        // EPERM: it exists but belongs to someone else.
        Ok(()) | Err(Errno::PERM) => {}
        Err(_) => return false,
    }
    match stat(pid) {
        Some(stat) if stat.is_exited() => {
            reap(pid);
            false
        }
        // Gone between the two checks, or no `/proc`: trust `kill(pid, 0)`.
        Some(_) => true,
        None => !Path::new("/proc/self").exists(),
    }
}

/// The kernel's short name of process `pid` (`/proc/<pid>/comm`, at most 15 bytes).
pub fn process_name(pid: u32) -> Option<String> {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(comm.trim_end_matches('\n').to_owned())
}

/// When process `pid` started, in clock ticks after boot (`/proc/<pid>/stat` field 22). Together
/// with the pid it names one process: a recycled pid has a different start time.
pub fn start_time(pid: u32) -> Option<u64> {
    stat(pid).map(|s| s.start_time)
}

/// The parent of process `pid`.
pub fn parent_pid(pid: u32) -> Option<u32> {
    stat(pid).map(|s| s.ppid)
}

/// Every live descendant of `pid` (children, grandchildren, …), nearest first. Empty when
/// `/proc` cannot be read.
pub fn descendants(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut children: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for entry in entries.flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(stat) = stat(child).filter(|s| !s.is_exited()) {
            children.entry(stat.ppid).or_default().push(child);
        }
    }
    let mut found = Vec::new();
    let mut queue = VecDeque::from([pid]);
    while let Some(parent) = queue.pop_front() {
        for &child in children.get(&parent).into_iter().flatten() {
            // A cycle cannot happen in a real process tree, but a pid reused mid-scan could
            // make one; never loop.
            if child != pid && !found.contains(&child) {
                found.push(child);
                queue.push_back(child);
            }
        }
    }
    found
}

/// Stops process group `pid` (whose leader is `pid`, as for [`spawn_detached`] children and
/// tmux pane processes): `SIGTERM` to the group, up to `grace` for it to exit, then `SIGKILL`.
/// A group that is already gone is not an error.
pub fn kill_group(pid: u32, grace: Duration) -> Result<(), SpawnError> {
    terminate(pid, &[], grace)
}

/// Stops process group `pgid` as [`kill_group`] does, but only if it is still the group that
/// was recorded: its leader runs with start time `leader_start` ([`start_time`]), or, the
/// leader gone, members that started no earlier remain (Linux keeps a pgid from being reused
/// while any member holds it). A recycled pid is left alone. Returns whether there was such a
/// group to stop.
pub fn kill_recorded_group(
    pgid: u32,
    leader_start: u64,
    grace: Duration,
) -> Result<bool, SpawnError> {
    let same = match stat(pgid) {
        Some(leader) if !leader.is_exited() => {
            leader.start_time == leader_start && leader.pgrp == pgid
        }
        _ => group_members(pgid)
            .iter()
            .any(|m| m.start_time >= leader_start),
    };
    if !same {
        return Ok(false);
    }
    tracing::debug!(pgid, leader_start, "stopping a recorded process group");
    kill_group(pgid, grace)?;
    Ok(true)
}

/// The live (non-zombie) processes of group `pgid`.
pub(crate) fn group_members(pgid: u32) -> Vec<Stat> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(stat)
        .filter(|s| s.pgrp == pgid && !s.is_exited())
        .collect()
}

/// Like [`kill_group`], and also every descendant of `pid` found before signalling, including
/// those that moved to a process group or session of their own (a daemonized helper, an MCP
/// server started with `setsid`), which a group kill would leave orphaned.
pub fn kill_tree(pid: u32, grace: Duration) -> Result<(), SpawnError> {
    let tree = descendants(pid);
    terminate(pid, &tree, grace)
}

/// Freezes (`SIGSTOP`) or thaws (`SIGCONT`) every descendant of `pid`, including those in
/// groups or sessions of their own, and `pid` itself when `with_leader`. Processes that are gone
/// are not an error.
///
/// A tmux pane's own process must be left out (`with_leader` false): tmux continues its pane
/// process, and that process's whole group, as soon as it sees it stopped. Its pane runs the
/// agent as a child of a waiting shell for this reason (see `tmux::pane_command`).
pub fn freeze_tree(pid: u32, freeze: bool, with_leader: bool) -> Result<(), SpawnError> {
    let group = check_signallable(pid)?;
    let (signal, name) = if freeze {
        (Signal::STOP, "SIGSTOP")
    } else {
        (Signal::CONT, "SIGCONT")
    };
    // Children first when freezing (none keeps running while the tree is walked), the leader
    // first when thawing.
    if with_leader && !freeze {
        signal_one(pid, group, signal, name)?;
    }
    for p in descendants(pid) {
        if let Some(one) = to_pid(p)
            && check_signallable(p).is_ok()
        {
            signal_one(p, one, signal, name)?;
        }
    }
    if with_leader && freeze {
        signal_one(pid, group, signal, name)?;
    }
    Ok(())
}

fn terminate(leader: u32, others: &[u32], grace: Duration) -> Result<(), SpawnError> {
    let group = check_signallable(leader)?;
    let others: Vec<(u32, Pid)> = others
        .iter()
        .filter_map(|&p| Some((p, to_pid(p)?)))
        .filter(|&(p, _)| check_signallable(p).is_ok())
        .collect();
    tracing::debug!(pid = leader, others = ?others.iter().map(|(p, _)| p).collect::<Vec<_>>(), ?grace, "terminate");
    send(leader, group, Signal::TERM, "SIGTERM")?;
    for &(p, pid) in &others {
        signal_one(p, pid, Signal::TERM, "SIGTERM")?;
    }
    let everyone: Vec<u32> = std::iter::once(leader)
        .chain(others.iter().map(|&(p, _)| p))
        .collect();
    if wait_gone(leader, group, &everyone, grace) {
        return Ok(());
    }
    send(leader, group, Signal::KILL, "SIGKILL")?;
    for &(p, pid) in &others {
        signal_one(p, pid, Signal::KILL, "SIGKILL")?;
    }
    if wait_gone(leader, group, &everyone, KILL_WAIT) {
        return Ok(());
    }
    let pids: Vec<u32> = everyone.into_iter().filter(|&p| is_alive(p)).collect();
    Err(SpawnError::Survived { pids })
}

/// Signals the group led by `leader`, or the process alone if it leads no group.
fn send(leader: u32, pid: Pid, signal: Signal, name: &'static str) -> Result<(), SpawnError> {
    match rustix::process::kill_process_group(pid, signal) {
        Ok(()) | Err(Errno::SRCH) => signal_one(leader, pid, signal, name),
        Err(e) => Err(signal_error(leader, name, e)),
    }
}

fn signal_one(p: u32, pid: Pid, signal: Signal, name: &'static str) -> Result<(), SpawnError> {
    match rustix::process::kill_process(pid, signal) {
        Ok(()) | Err(Errno::SRCH) => Ok(()),
        Err(e) => Err(signal_error(p, name, e)),
    }
}

fn signal_error(pid: u32, signal: &'static str, e: Errno) -> SpawnError {
    SpawnError::Signal {
        pid,
        signal,
        source: e.into(),
    }
}

/// Waits up to `timeout` for the group and every listed process to be gone; reaps our zombies.
fn wait_gone(leader: u32, group: Pid, pids: &[u32], timeout: Duration) -> bool {
    let start = Instant::now();
    let mut delay = Duration::from_millis(5);
    loop {
        // `is_alive` reaps zombie children, which also lets the group empty out.
        if !pids.iter().any(|&p| is_alive(p)) && !group_exists(leader, group) {
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

/// Whether any live (non-zombie) member of the process group led by `leader` remains.
fn group_exists(leader: u32, group: Pid) -> bool {
    if rustix::process::test_kill_process_group(group).is_err() {
        return false;
    }
    // Zombies still count for `kill(-pgid, 0)`; look for a live member before saying yes.
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return true;
    };
    entries.flatten().any(|entry| {
        entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
            .and_then(stat)
            .is_some_and(|s| s.pgrp == leader && !s.is_exited())
    })
}

/// Reaps `pid` if it is an exited child of ours; anything else is left alone.
pub(crate) fn reap(pid: u32) {
    if let Some(p) = to_pid(pid) {
        // ECHILD (not our child) and "still running" are both fine here.
        let _ = rustix::process::waitpid(Some(p), WaitOptions::NOHANG);
    }
}

pub(crate) fn to_pid(pid: u32) -> Option<Pid> {
    Pid::from_raw(i32::try_from(pid).ok()?)
}

/// The pid as a group to signal, refusing the ones where a group kill would hit far more than
/// meant: `kill(-1)` is every process we may signal, and our own group is ourselves.
pub(crate) fn check_signallable(pid: u32) -> Result<Pid, SpawnError> {
    let refuse = |reason| SpawnError::Refused { pid, reason };
    if pid <= 1 {
        return Err(refuse("pid 0 and 1 are never ours to stop"));
    }
    let p = to_pid(pid).ok_or_else(|| refuse("not a valid pid"))?;
    if pid == std::process::id() {
        return Err(refuse("it is this process"));
    }
    if rustix::process::getpgrp() == p {
        return Err(refuse("it leads this process's own group"));
    }
    Ok(p)
}

/// The fields of `/proc/<pid>/stat` we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stat {
    pub(crate) state: char,
    pub(crate) ppid: u32,
    pub(crate) pgrp: u32,
    /// The session id (`setsid` makes a new one).
    pub(crate) session: u32,
    pub(crate) start_time: u64,
}

impl Stat {
    /// Exited but not reaped (`Z`), or being torn down (`X`).
    pub(crate) fn is_exited(&self) -> bool {
        matches!(self.state, 'Z' | 'X')
    }
}

pub(crate) fn stat(pid: u32) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Parses `pid (comm) state ppid pgrp … starttime …`. `comm` may hold spaces and parentheses,
/// so the fields start after the last `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let (_, rest) = text.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        pgrp: fields.get(2)?.parse().ok()?,
        session: fields.get(3)?.parse().ok()?,
        // Field 22 of the whole line; the state is field 3.
        start_time: fields.get(22 - 3)?.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use testkit::wait_until;

    fn spawn_sh(script: &str, dir: &Path) -> u32 {
        let path = crate::env::var("PATH").unwrap_or_default();
        spawn_detached(
            "sh",
            &["-c".to_owned(), script.to_owned()],
            &[("PATH".to_owned(), path)],
            dir,
            &dir.join("out.log"),
        )
        .unwrap()
    }

    #[test]
    fn parses_stat_lines_with_awkward_names() {
        let line = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 \
                    987654 1000 10 18446744073709551615";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                state: 'S',
                ppid: 1,
                pgrp: 4242,
                session: 4242,
                start_time: 987_654
            })
        );
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) Z 0"), None);
    }

    #[test]
    fn spawned_process_runs_with_only_the_given_environment_and_logs() {
        let dir = tempfile::tempdir().unwrap();
        let pid = spawn_sh(
            "echo \"out $GREETING $HOME\"; echo err >&2; pwd",
            dir.path(),
        );
        let log = dir.path().join("out.log");
        wait_until(Duration::from_secs(10), || !is_alive(pid)).unwrap();
        let text = std::fs::read_to_string(&log).unwrap();
        let cwd = dir.path().canonicalize().unwrap();
        assert_eq!(text, format!("out  \nerr\n{}\n", cwd.display()));
    }

    #[test]
    fn log_is_appended_not_truncated() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("out.log"), "earlier\n").unwrap();
        let pid = spawn_sh("echo later", dir.path());
        wait_until(Duration::from_secs(10), || !is_alive(pid)).unwrap();
        let text = std::fs::read_to_string(dir.path().join("out.log")).unwrap();
        assert_eq!(text, "earlier\nlater\n");
    }

    #[test]
    fn a_missing_program_is_a_spawn_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = spawn_detached(
            "gt-no-such-program",
            &[],
            &[],
            dir.path(),
            &dir.path().join("log"),
        )
        .unwrap_err();
        assert!(matches!(err, SpawnError::Spawn { .. }), "{err:?}");
        assert!(err.to_string().contains("gt-no-such-program"), "{err}");
    }

    #[test]
    fn liveness_name_and_start_time_of_a_sleep() {
        let dir = tempfile::tempdir().unwrap();
        let pid = spawn_sh("exec sleep 300", dir.path());
        wait_until(Duration::from_secs(10), || {
            process_name(pid).as_deref() == Some("sleep")
        })
        .unwrap();
        assert!(is_alive(pid));
        assert!(start_time(pid).is_some());
        assert_eq!(parent_pid(pid), Some(std::process::id()));
        kill_group(pid, Duration::from_secs(5)).unwrap();
        assert!(!is_alive(pid));
        // Reaped: no zombie is left behind in our process table.
        assert_eq!(stat(pid), None);
        assert!(!is_alive(0));
    }

    #[test]
    fn kill_group_stops_every_member_of_the_group() {
        let dir = tempfile::tempdir().unwrap();
        let pid = spawn_sh("sleep 300 & sleep 300 & wait", dir.path());
        let kids = wait_for_children(pid, 2);
        kill_group(pid, Duration::from_secs(5)).unwrap();
        for p in std::iter::once(pid).chain(kids) {
            wait_until(Duration::from_secs(5), || !is_alive(p)).unwrap();
        }
    }

    #[test]
    fn kill_tree_also_stops_descendants_in_other_groups() {
        if !testkit::require_cmd("setsid") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let pid = spawn_sh("setsid sleep 300 & sleep 300 & wait", dir.path());
        let kids = wait_for_children(pid, 2);
        let escaped = kids
            .iter()
            .copied()
            .find(|&k| stat(k).is_some_and(|s| s.pgrp != pid))
            .expect("setsid moved one sleep to its own group");
        kill_tree(pid, Duration::from_secs(5)).unwrap();
        for p in std::iter::once(pid).chain(kids) {
            wait_until(Duration::from_secs(5), || !is_alive(p)).unwrap();
        }
        assert!(!is_alive(escaped));
    }

    #[test]
    fn a_process_ignoring_sigterm_is_killed_after_the_grace() {
        let dir = tempfile::tempdir().unwrap();
        let ready = dir.path().join("trapped");
        let pid = spawn_sh(
            &format!(
                "trap '' TERM; touch '{}'; while :; do sleep 1; done",
                ready.display()
            ),
            dir.path(),
        );
        wait_until(Duration::from_secs(10), || ready.exists()).unwrap();
        let start = Instant::now();
        kill_group(pid, Duration::from_millis(200)).unwrap();
        assert!(!is_alive(pid));
        assert!(start.elapsed() >= Duration::from_millis(200));
    }

    #[test]
    fn a_recorded_group_is_stopped_only_while_it_is_the_same_group() {
        let dir = tempfile::tempdir().unwrap();
        let leader = spawn_sh("sleep 300 & exec sleep 301", dir.path());
        let kids = wait_for_children(leader, 1);
        let started = start_time(leader).unwrap();
        // Another start time: a recycled pid, not ours to stop.
        assert!(!kill_recorded_group(leader, started + 1, Duration::from_secs(2)).unwrap());
        assert!(is_alive(leader));
        assert!(kill_recorded_group(leader, started, Duration::from_secs(2)).unwrap());
        for pid in std::iter::once(leader).chain(kids) {
            assert!(!is_alive(pid), "{pid}");
        }
        assert!(!kill_recorded_group(leader, started, Duration::from_secs(2)).unwrap());
    }

    #[test]
    fn a_recorded_group_whose_leader_is_gone_is_still_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let leader = spawn_sh("sleep 300 & sleep 0.5; exit 0", dir.path());
        let started = start_time(leader).unwrap();
        wait_until(Duration::from_secs(10), || !is_alive(leader)).unwrap();
        // The foreground `sleep 0.5` is done; the background `sleep 300` is all that is left.
        let members: Vec<u32> = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&p| stat(p).is_some_and(|s| s.pgrp == leader && !s.is_exited()))
            .collect();
        let [kid] = members[..] else {
            panic!("{members:?}")
        };
        // A later start time than any member's: not the recorded group.
        assert!(!kill_recorded_group(leader, u64::MAX, Duration::from_secs(2)).unwrap());
        assert!(is_alive(kid));
        assert!(kill_recorded_group(leader, started, Duration::from_secs(2)).unwrap());
        assert!(!is_alive(kid));
    }

    #[test]
    fn killing_a_gone_process_is_fine_and_dangerous_pids_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let pid = spawn_sh("exit 0", dir.path());
        wait_until(Duration::from_secs(10), || !is_alive(pid)).unwrap();
        kill_group(pid, Duration::from_millis(10)).unwrap();
        for bad in [0, 1, std::process::id()] {
            assert!(
                matches!(
                    kill_group(bad, Duration::ZERO),
                    Err(SpawnError::Refused { .. })
                ),
                "{bad}"
            );
        }
    }

    fn wait_for_children(pid: u32, n: usize) -> Vec<u32> {
        testkit::wait_for(Duration::from_secs(10), || {
            let kids = descendants(pid);
            let sleeping = kids
                .iter()
                .filter(|&&k| process_name(k).as_deref() == Some("sleep"))
                .count();
            (sleeping >= n).then_some(kids)
        })
        .unwrap()
    }
}
