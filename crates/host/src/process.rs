//! Running short helper programs (`tmux -V`) and finding programs on `PATH`.
#![expect(
    clippy::disallowed_methods,
    reason = "this module is where host programs are run"
)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A helper program that failed to run or exited non-zero.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The program could not be started (usually: not installed).
    #[error("cannot run `{program}`")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    /// The program exited non-zero.
    #[error("`{program}` failed ({status}): {stderr}")]
    Failed {
        program: String,
        status: String,
        stderr: String,
    },
    /// The program ran past its time limit and was killed.
    #[error("`{program}` did not finish within {limit:?}; it was killed")]
    TimedOut { program: String, limit: Duration },
}

/// Runs `program args…` with no input and returns its stdout.
pub fn output(program: &str, args: &[&str]) -> Result<String, ProcessError> {
    let out = Command::new(program)
        .args(args)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .map_err(|source| ProcessError::Spawn {
            program: program.to_owned(),
            source,
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(ProcessError::Failed {
            program: program.to_owned(),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

/// Runs `program args…` with stdin closed and stdout/stderr shared with this process, and
/// returns its exit status (for a helper whose output the user should see as it runs).
pub fn run_inherit(program: &str, args: &[&str]) -> Result<ExitStatus, ProcessError> {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .status()
        .map_err(|source| ProcessError::Spawn {
            program: program.to_owned(),
            source,
        })
}

/// Runs `program args…` in `cwd` attached to this process's terminal (stdin, stdout and
/// stderr shared), for an interactive program the user drives, and returns its exit status.
pub fn run_interactive(
    program: &str,
    args: &[String],
    cwd: &Path,
) -> Result<ExitStatus, ProcessError> {
    Command::new(program)
        .args(args)
        .current_dir(cwd)
        .status()
        .map_err(|source| ProcessError::Spawn {
            program: program.to_owned(),
            source,
        })
}

/// Runs `program args…` directly (never through a shell) with `env` added to this process's
/// environment and `input` on its stdin, for at most `limit`: a notifier configured by the
/// user. Output is discarded except stderr, which a failure carries. A program still running at
/// the limit is killed.
pub fn run_with_input(
    program: &str,
    args: &[String],
    env: &[(String, String)],
    input: &[u8],
    limit: Duration,
) -> Result<(), ProcessError> {
    let spawn_err = |source| ProcessError::Spawn {
        program: program.to_owned(),
        source,
    };
    let mut child = Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_err)?;
    if let Some(mut stdin) = child.stdin.take() {
        // A program that ignores its input may close stdin early: not a failure of ours.
        let _ = stdin.write_all(input);
    }
    let stderr = child.stderr.take();
    // Read stderr aside so a chatty program never blocks on a full pipe while we wait.
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut e) = stderr {
            let _ = std::io::Read::read_to_string(&mut e, &mut text);
        }
        text
    });
    let status = wait_limited(&mut child, program, limit)?;
    let stderr = reader.join().unwrap_or_default();
    if status.success() {
        Ok(())
    } else {
        Err(ProcessError::Failed {
            program: program.to_owned(),
            status: status.to_string(),
            stderr: stderr.trim().to_owned(),
        })
    }
}

/// Waits for `child` at most `limit`, killing it (and failing) at the limit.
fn wait_limited(
    child: &mut std::process::Child,
    program: &str,
    limit: Duration,
) -> Result<ExitStatus, ProcessError> {
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if started.elapsed() >= limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ProcessError::TimedOut {
                    program: program.to_owned(),
                    limit,
                });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(source) => {
                return Err(ProcessError::Spawn {
                    program: program.to_owned(),
                    source,
                });
            }
        }
    }
}

/// What [`shell_output`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellOutput {
    /// The exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `command` with `sh -c` in `cwd`, writing `input` to its stdin, and returns its exit
/// code and output (for a hook command an agent runs, given its event as JSON).
pub fn shell_output(command: &str, cwd: &Path, input: &[u8]) -> Result<ShellOutput, ProcessError> {
    use std::io::Write as _;
    let spawn_err = |source| ProcessError::Spawn {
        program: format!("sh -c {command:?}"),
        source,
    };
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_err)?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that never reads its input closes the pipe early: not an error.
        let _ = stdin.write_all(input);
    }
    let out = child.wait_with_output().map_err(spawn_err)?;
    Ok(ShellOutput {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Runs `program args…` directly (no shell) in `cwd` with `env` added and stdin closed, for at
/// most `limit`, and returns its exit code and output whatever the code (a forge CLI says
/// "checks pending" with exit 8). A program still running at the limit is killed.
pub fn run_in(
    program: &str,
    args: &[String],
    cwd: &Path,
    env: &[(&str, &str)],
    limit: Duration,
) -> Result<ShellOutput, ProcessError> {
    let spawn_err = |source| ProcessError::Spawn {
        program: program.to_owned(),
        source,
    };
    let mut child = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .env("LC_ALL", "C")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_err)?;
    // Read both pipes aside so a chatty program never blocks on a full pipe while we wait.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let status = wait_limited(&mut child, program, limit)?;
    Ok(ShellOutput {
        code: status.code(),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// The first executable named `name` on `PATH` (or `name` itself if it is a path).
pub fn which(name: &str) -> Option<PathBuf> {
    which_in(name, &crate::env::var_os("PATH")?)
}

/// The first executable named `name` on the search path `path` (or `name` itself if it is a
/// path): where a program started with that `PATH` is found.
pub fn which_in(name: &str, path: impl AsRef<std::ffi::OsStr>) -> Option<PathBuf> {
    if name.contains('/') {
        let p = Path::new(name);
        return is_executable(p).then(|| p.to_owned());
    }
    std::env::split_paths(path.as_ref())
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether this process runs as root (effective uid 0): some agent CLIs refuse to, or need to
/// be told the machine is a sandbox.
pub fn running_as_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Parses the first `major.minor` in a version banner (`tmux 3.3a`, `git version 2.47.3`).
pub fn parse_version(banner: &str) -> Option<(u32, u32)> {
    let start = banner.find(|c: char| c.is_ascii_digit())?;
    let mut parts = banner[start..].split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_programs_on_path() {
        assert!(which("sh").is_some());
        assert!(which("no-such-program-xyz").is_none());
    }

    #[test]
    fn output_and_failures() {
        assert_eq!(output("sh", &["-c", "echo hi"]).unwrap(), "hi\n");
        assert!(matches!(
            output("sh", &["-c", "echo bad >&2; exit 3"]),
            Err(ProcessError::Failed { .. })
        ));
        assert!(matches!(
            output("no-such-program-xyz", &[]),
            Err(ProcessError::Spawn { .. })
        ));
    }

    #[test]
    fn run_inherit_reports_the_exit_status() {
        assert_eq!(
            run_inherit("sh", &["-c", "exit 4"]).unwrap().code(),
            Some(4)
        );
        assert!(run_inherit("sh", &["-c", "true"]).unwrap().success());
        assert!(matches!(
            run_inherit("no-such-program-xyz", &[]),
            Err(ProcessError::Spawn { .. })
        ));
    }

    #[test]
    fn run_with_input_passes_env_and_stdin_and_reports_failures() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let script = format!(
            "cat > {}; printf %s \"$X\" >> {}",
            out.display(),
            out.display()
        );
        let args = vec!["-c".to_owned(), script];
        run_with_input(
            "sh",
            &args,
            &[("X".into(), "$(no)".into())],
            b"in;",
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "in;$(no)");
        let fail = vec!["-c".to_owned(), "echo nope >&2; exit 2".to_owned()];
        match run_with_input("sh", &fail, &[], b"", Duration::from_secs(10)) {
            Err(ProcessError::Failed { stderr, .. }) => assert_eq!(stderr, "nope"),
            other => panic!("{other:?}"),
        }
        let slow = vec!["-c".to_owned(), "sleep 5".to_owned()];
        assert!(matches!(
            run_with_input("sh", &slow, &[], b"", Duration::from_millis(100)),
            Err(ProcessError::TimedOut { .. })
        ));
        assert!(matches!(
            run_with_input("no-such-program-xyz", &[], &[], b"", Duration::from_secs(1)),
            Err(ProcessError::Spawn { .. })
        ));
    }

    #[test]
    fn run_interactive_runs_in_the_directory_given() {
        let dir = tempfile::tempdir().unwrap();
        let args = vec!["-c".to_owned(), "pwd > here".to_owned()];
        assert!(run_interactive("sh", &args, dir.path()).unwrap().success());
        let here = std::fs::read_to_string(dir.path().join("here")).unwrap();
        assert_eq!(
            Path::new(here.trim()).canonicalize().unwrap(),
            dir.path().canonicalize().unwrap()
        );
    }

    #[test]
    fn versions_parse() {
        assert_eq!(parse_version("tmux 3.3a"), Some((3, 3)));
        assert_eq!(parse_version("git version 2.47.3"), Some((2, 47)));
        assert_eq!(parse_version("none"), None);
    }
}
