//! Running a configured shell command with a time limit: the refinery's gates.
//!
//! The command runs under `sh -c` in its own process group with output captured to a file (so
//! a chatty gate never blocks on a full pipe); on timeout the whole group is killed.
//!
//! A gate must not outlive its runner: a refinery killed mid-gate would leave it running in the
//! worktree the next run rebuilds. So the group's leader is a small `sh` wrapper ([`WRAPPER`])
//! that waits for a go-ahead on a pipe from us and starts a watchdog that kills the whole group
//! when that pipe closes — when we exit or die, by any signal, `SIGKILL` included. And with a
//! `record` file, the group (its pgid and its leader's start time) is written down before the
//! go-ahead, removed once the group is gone, and [`reap_recorded`] kills what a record still
//! names — only if the leader's start time still matches, so a recycled pid is never hit.
#![expect(
    clippy::disallowed_methods,
    reason = "this module runs the configured gate commands"
)]

use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellOutcome {
    /// True when it exited 0.
    pub success: bool,
    /// The exit code, if it exited.
    pub code: Option<i32>,
    /// True when it ran out of time and was killed.
    pub timed_out: bool,
    /// The end of its combined output.
    pub output: String,
    pub duration: Duration,
}

/// The longest output kept, from the end.
const OUTPUT_TAIL: usize = 16 * 1024;
/// How long a gate's group gets between `SIGTERM` and `SIGKILL` when it is stopped.
const KILL_GRACE: Duration = Duration::from_millis(500);

/// The leader of a gate's process group, run as `sh -c WRAPPER gt-gate <command>`. It waits for
/// `go` on stdin (a pipe from the runner; end of file means the runner is gone: run nothing),
/// starts a watchdog that reads the pipe until it closes and then kills the whole group, runs
/// the command with stdin from `/dev/null`, and exits with its status after stopping the
/// watchdog. A background list's stdin is `/dev/null`, so the watchdog reads the pipe as fd 3.
const WRAPPER: &str = r#"read -r go || exit 125
exec 3<&0 </dev/null
( read -r _ <&3; kill -KILL 0 ) &
watchdog=$!
exec 3<&-
sh -c "$1"
status=$?
kill "$watchdog" 2>/dev/null
wait "$watchdog" 2>/dev/null
exit "$status""#;

/// Runs `command` with `sh -c` in `cwd`, with `env` added, for at most `timeout`, in a process
/// group of its own that dies with us (see the module docs). With `record`, the group is
/// recorded there while it runs; a group an earlier record names is stopped first
/// ([`reap_recorded`]).
pub fn run(
    command: &str,
    cwd: &Path,
    env: &[(String, String)],
    timeout: Duration,
    record: Option<&Path>,
) -> std::io::Result<ShellOutcome> {
    if let Some(record) = record {
        reap_recorded(record)?;
    }
    // An unnamed temporary file: nothing to clean up, whatever happens.
    let mut log = tempfile::tempfile()?;
    let start = Instant::now();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(WRAPPER)
        .arg("gt-gate")
        .arg(command)
        .current_dir(cwd)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(log.try_clone()?)
        .stderr(log.try_clone()?)
        .process_group(0)
        .spawn()?;
    let pid = child.id();
    // Read before anything can reap the leader: with the pid, it names this one group.
    let leader_start = crate::spawn::start_time(pid);
    // Held until the gate is over: its closing (our exit, whatever the cause) ends the group.
    let go = child.stdin.take().map(|mut pipe| {
        let recorded = record.map_or(Ok(()), |r| write_record(r, pid, leader_start));
        recorded
            .and_then(|()| pipe.write_all(b"go\n"))
            .map(|()| pipe)
    });
    let go = match go {
        Some(Ok(pipe)) => pipe,
        Some(Err(e)) => {
            // No go-ahead: the wrapper runs nothing and exits.
            let _ = child.wait();
            if let Some(record) = record {
                remove_record(record)?;
            }
            return Err(e);
        }
        None => {
            let _ = crate::spawn::kill_group(pid, KILL_GRACE);
            let _ = child.wait();
            return Err(std::io::Error::other("the gate's stdin pipe is missing"));
        }
    };
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if start.elapsed() >= timeout {
            timed_out = true;
            let _ = crate::spawn::kill_group(pid, Duration::from_millis(500));
            // The kill may already have reaped the child; then there is no status to read.
            break child.wait().ok();
        }
        std::thread::sleep(
            Duration::from_millis(5)
                .max(start.elapsed() / 50)
                .min(Duration::from_millis(100)),
        );
    };
    drop(go);
    // What the command left running in its group (a background job) goes with it, so the next
    // gate never runs beside it.
    if let Some(leader_start) = leader_start {
        crate::spawn::kill_recorded_group(pid, leader_start, KILL_GRACE)
            .map_err(std::io::Error::other)?;
    }
    if let Some(record) = record {
        remove_record(record)?;
    }
    let mut text = Vec::new();
    log.seek(SeekFrom::Start(0))?;
    log.read_to_end(&mut text)?;
    let tail = &text[text.len().saturating_sub(OUTPUT_TAIL)..];
    Ok(ShellOutcome {
        success: status.is_some_and(|s| s.success()) && !timed_out,
        code: status.and_then(|s| s.code()),
        timed_out,
        output: String::from_utf8_lossy(tail).into_owned(),
        duration: start.elapsed(),
    })
}

/// Stops the process group `record` names, if it still runs (a gate whose runner was killed),
/// waits until it is gone, and removes the record. Returns the group's pgid if there was one
/// to stop. A record whose leader's start time no longer matches names a recycled pid and is
/// only removed; so is one that cannot be read as a record.
pub fn reap_recorded(record: &Path) -> std::io::Result<Option<u32>> {
    let text = match std::fs::read_to_string(record) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let stopped = match parse_record(&text) {
        Some((pgid, Some(leader_start))) => {
            crate::spawn::kill_recorded_group(pgid, leader_start, KILL_GRACE)
                .map_err(std::io::Error::other)?
                .then_some(pgid)
        }
        Some((pgid, None)) => {
            tracing::warn!(pgid, record = %record.display(), "no start time recorded: cannot tell the group from a recycled pid; leaving it");
            None
        }
        None => {
            tracing::warn!(record = %record.display(), content = ?text, "not a gate record; removing it");
            None
        }
    };
    if let Some(pgid) = stopped {
        tracing::warn!(pgid, record = %record.display(), "stopped a gate left running by a runner that died");
    }
    remove_record(record)?;
    Ok(stopped)
}

/// Writes `<pgid> <leader start time or ->` to `record` (through a temporary file and a
/// rename, synced, so the record is whole or absent).
fn write_record(record: &Path, pgid: u32, leader_start: Option<u64>) -> std::io::Result<()> {
    if let Some(dir) = record.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let start = leader_start.map_or_else(|| "-".to_owned(), |t| t.to_string());
    let tmp = record.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(format!("{pgid} {start}\n").as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, record)
}

fn remove_record(record: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(record) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// `<pgid> <start time>` or `<pgid> -`.
fn parse_record(text: &str) -> Option<(u32, Option<u64>)> {
    let mut words = text.split_whitespace();
    let pgid = words.next()?.parse().ok().filter(|&p| p > 1)?;
    let start = match words.next()? {
        "-" => None,
        t => Some(t.parse().ok()?),
    };
    words.next().is_none().then_some((pgid, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_failure_output_and_timeout() {
        let dir = std::env::temp_dir();
        let ok = run(
            "echo hello; echo err >&2",
            &dir,
            &[],
            Duration::from_secs(10),
            None,
        )
        .unwrap();
        assert!(ok.success);
        assert!(
            ok.output.contains("hello") && ok.output.contains("err"),
            "{}",
            ok.output
        );
        let bad = run("exit 4", &dir, &[], Duration::from_secs(10), None).unwrap();
        assert_eq!((bad.success, bad.code), (false, Some(4)));
        let env = vec![("GATE_X".to_owned(), "42".to_owned())];
        assert!(
            run(
                "test \"$GATE_X\" = 42",
                &dir,
                &env,
                Duration::from_secs(10),
                None
            )
            .unwrap()
            .success
        );
        let slow = run("sleep 30", &dir, &[], Duration::from_millis(200), None)
            .expect("a timed-out run still reports");
        assert!(slow.timed_out && !slow.success);
        assert!(slow.duration < Duration::from_secs(5));
    }

    const T: Duration = Duration::from_secs(10);

    fn read_pid(path: &Path) -> u32 {
        testkit::wait_for(T, || {
            std::fs::read_to_string(path).ok()?.trim().parse().ok()
        })
        .unwrap()
    }

    #[test]
    fn a_recorded_run_leaves_no_record_and_nothing_running() {
        let dir = tempfile::tempdir().unwrap();
        let record = dir.path().join("gates/app.gate");
        let bg = dir.path().join("bg.pid");
        let out = run(
            &format!("sleep 300 & echo $! > '{}'", bg.display()),
            dir.path(),
            &[],
            T,
            Some(&record),
        )
        .unwrap();
        assert!(out.success, "{}", out.output);
        assert!(!record.exists());
        assert!(
            !crate::spawn::is_alive(read_pid(&bg)),
            "the background job outlived its gate"
        );
    }

    #[test]
    fn a_gate_whose_runner_is_gone_is_killed_by_its_watchdog() {
        let dir = tempfile::tempdir().unwrap();
        let kid = dir.path().join("kid.pid");
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(WRAPPER)
            .arg("gt-gate")
            .arg(format!("sleep 300 & echo $! > '{}'; wait", kid.display()))
            .stdin(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(b"go\n").unwrap();
        let kid = read_pid(&kid);
        assert!(crate::spawn::is_alive(kid));
        // The runner's end of the pipe closes, as when it dies.
        drop(pipe);
        child.wait().unwrap();
        testkit::wait_until(T, || !crate::spawn::is_alive(kid)).unwrap();
    }

    #[test]
    fn without_a_go_ahead_nothing_runs() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("ran");
        let status = Command::new("sh")
            .arg("-c")
            .arg(WRAPPER)
            .arg("gt-gate")
            .arg(format!(": > '{}'", marker.display()))
            .stdin(Stdio::null())
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(125));
        assert!(!marker.exists());
    }

    #[test]
    fn a_record_names_a_group_that_is_stopped_only_while_it_is_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let record = dir.path().join("app.gate");
        let spawn = || {
            Command::new("sh")
                .args(["-c", "sleep 300 & exec sleep 301"])
                .process_group(0)
                .spawn()
                .unwrap()
        };
        // Reaped by the kill below (it is our child), not by a wait on the handle.
        let pid = spawn().id();
        let started = crate::spawn::start_time(pid).unwrap();
        // A recycled pid: another start time. Left alone; the record goes.
        write_record(&record, pid, Some(started + 1)).unwrap();
        assert_eq!(reap_recorded(&record).unwrap(), None);
        assert!(crate::spawn::is_alive(pid) && !record.exists());
        write_record(&record, pid, Some(started)).unwrap();
        assert_eq!(reap_recorded(&record).unwrap(), Some(pid));
        assert!(!crate::spawn::is_alive(pid) && !record.exists());
        assert_eq!(reap_recorded(&record).unwrap(), None, "no record");
        for junk in ["", "12", "1 5", "abc 5", "12 5 7", "12 x"] {
            std::fs::write(&record, junk).unwrap();
            assert_eq!(reap_recorded(&record).unwrap(), None, "{junk:?}");
            assert!(!record.exists());
        }
        assert_eq!(parse_record("12 -\n"), Some((12, None)));
        assert_eq!(parse_record("12 99\n"), Some((12, Some(99))));
    }
}
