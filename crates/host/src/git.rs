//! `git`, run as a subprocess with a hermetic, machine-readable setup.
//!
//! Every call is `git -C <dir> …` with `LC_ALL=C`, no terminal prompt, no pager, and the
//! caller's `GIT_DIR`/`GIT_WORK_TREE`/`GIT_INDEX_FILE` removed (they leak in when we run inside a
//! git hook and would point git at the wrong repository).
#![expect(
    clippy::disallowed_methods,
    reason = "this module is the one place that runs git"
)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Variables that redirect git to another repository; never inherited.
const LEAKY_VARS: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_PREFIX",
];

/// The oldest git we support: `merge-tree --write-tree` arrived in 2.38.
pub const MIN_VERSION: (u32, u32) = (2, 38);

/// A failed git invocation.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The `git` binary could not be started.
    #[error("cannot run `git`")]
    Spawn(#[source] std::io::Error),
    /// git ran and exited non-zero.
    #[error("`git {}` failed ({status}): {stderr}", args.join(" "))]
    Failed {
        args: Vec<String>,
        status: String,
        stderr: String,
    },
    /// git's output was not what we parse.
    #[error("unexpected output from `git {args}`: {output}")]
    Parse { args: String, output: String },
}

/// A repository directory to run git in.
#[derive(Debug, Clone)]
pub struct Git {
    dir: PathBuf,
    env: Vec<(OsString, OsString)>,
}

impl Git {
    /// Git run in `dir` (`git -C dir`).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            env: Vec::new(),
        }
    }

    /// Adds an environment variable to every call (for example an author identity).
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The directory git runs in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The command for `git -C <dir> <args>`, with the hermetic setup applied.
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = Command::new("git");
        cmd.arg("-C").arg(&self.dir).args(args);
        for var in LEAKY_VARS {
            cmd.env_remove(var);
        }
        cmd.env("LC_ALL", "C")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_PAGER", "cat")
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs git and returns its stdout; a non-zero exit is an error carrying argv and stderr.
    pub fn run<S: AsRef<str>>(&self, args: &[S]) -> Result<String, GitError> {
        let output = self.output(args)?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(failed(args, &output))
        }
    }

    /// Runs git and returns the raw output whatever the exit status.
    pub fn output<S: AsRef<str>>(&self, args: &[S]) -> Result<Output, GitError> {
        tracing::debug!(dir = %self.dir.display(), args = ?args.iter().map(AsRef::as_ref).collect::<Vec<_>>(), "git");
        self.command(args.iter().map(AsRef::as_ref))
            .output()
            .map_err(GitError::Spawn)
    }
}

fn failed<S: AsRef<str>>(args: &[S], output: &Output) -> GitError {
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The tail is where git says what went wrong; long hint blocks come before it.
    let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
    GitError::Failed {
        args: args.iter().map(|a| a.as_ref().to_owned()).collect(),
        status: output.status.to_string(),
        stderr: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
    }
}

/// git's `user.name` as seen from the current directory (repository, global and system
/// config), if set: who the user is when nothing else says.
pub fn user_name() -> Option<String> {
    let out = Git::new(".").run(&["config", "--get", "user.name"]).ok()?;
    let name = out.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// The installed git's version as (major, minor, patch).
pub fn version() -> Result<(u32, u32, u32), GitError> {
    let out = Git::new(".").run(&["--version"])?;
    parse_version(&out).ok_or_else(|| GitError::Parse {
        args: "--version".into(),
        output: out,
    })
}

fn parse_version(out: &str) -> Option<(u32, u32, u32)> {
    let v = out.trim().strip_prefix("git version ")?;
    let mut parts = v
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    Some((major, minor, patch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        assert_eq!(parse_version("git version 2.47.3\n"), Some((2, 47, 3)));
        assert_eq!(
            parse_version("git version 2.39.5 (Apple Git-154)"),
            Some((2, 39, 5))
        );
        assert_eq!(parse_version("git version 2.40"), Some((2, 40, 0)));
        assert_eq!(parse_version("nonsense"), None);
    }

    #[test]
    fn installed_git_is_new_enough() {
        let (major, minor, _) = version().unwrap();
        assert!((major, minor) >= MIN_VERSION);
    }

    #[test]
    fn runs_in_the_given_directory() {
        let dir = tempfile::tempdir().unwrap();
        let git = Git::new(dir.path()).env("GIT_CONFIG_GLOBAL", "/dev/null");
        git.run(&["init", "-q", "-b", "main"]).unwrap();
        let top = git.run(&["rev-parse", "--show-toplevel"]).unwrap();
        assert_eq!(
            Path::new(top.trim()).canonicalize().unwrap(),
            dir.path().canonicalize().unwrap()
        );
    }

    #[test]
    fn failure_names_the_command_and_git_message() {
        let dir = tempfile::tempdir().unwrap();
        let git = Git::new(dir.path()).env("GIT_CONFIG_GLOBAL", "/dev/null");
        let err = git.run(&["rev-parse", "HEAD"]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("`git rev-parse HEAD` failed"), "{msg}");
        assert!(msg.contains("not a git repository"), "{msg}");
    }
}
