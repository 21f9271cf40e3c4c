//! Running a configured shell command with a time limit: the refinery's gates.
//!
//! The command runs under `sh -c` in its own process group with output captured to a file (so
//! a chatty gate never blocks on a full pipe); on timeout the whole group is killed.
#![expect(
    clippy::disallowed_methods,
    reason = "this module runs the configured gate commands"
)]

use std::io::{Read as _, Seek as _, SeekFrom};
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

/// Runs `command` with `sh -c` in `cwd`, with `env` added, for at most `timeout`.
pub fn run(
    command: &str,
    cwd: &Path,
    env: &[(String, String)],
    timeout: Duration,
) -> std::io::Result<ShellOutcome> {
    // An unnamed temporary file: nothing to clean up, whatever happens.
    let mut log = tempfile::tempfile()?;
    let start = Instant::now();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(cwd)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log.try_clone()?)
        .process_group(0)
        .spawn()?;
    let pid = child.id();
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
        )
        .unwrap();
        assert!(ok.success);
        assert!(
            ok.output.contains("hello") && ok.output.contains("err"),
            "{}",
            ok.output
        );
        let bad = run("exit 4", &dir, &[], Duration::from_secs(10)).unwrap();
        assert_eq!((bad.success, bad.code), (false, Some(4)));
        let env = vec![("GATE_X".to_owned(), "42".to_owned())];
        assert!(
            run("test \"$GATE_X\" = 42", &dir, &env, Duration::from_secs(10))
                .unwrap()
                .success
        );
        let slow = run("sleep 30", &dir, &[], Duration::from_millis(200))
            .expect("a timed-out run still reports");
        assert!(slow.timed_out && !slow.success);
        assert!(slow.duration < Duration::from_secs(5));
    }
}
