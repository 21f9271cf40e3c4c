//! [`GitFixture`]: real repositories built with real git under a [`TestEnv`].
//!
//! The layout in the env's root is `remote.git/` (bare, default branch `main`) and `clone/`
//! (a working clone whose `origin` is the remote's `file://` URL). Git runs through
//! [`TestEnv::command`], so identities and dates are fixed and the same steps give the same SHAs.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use crate::TestEnv;

/// A bare remote and a working clone of it, in a [`TestEnv`]'s root.
#[derive(Debug)]
pub struct GitFixture<'a> {
    env: &'a TestEnv,
    remote: PathBuf,
    clone: PathBuf,
}

impl<'a> GitFixture<'a> {
    /// Creates `remote.git` (bare, `HEAD` on `main`, no commits) and `clone/` on an unborn `main`.
    ///
    /// One fixture per env: a second one would find `clone/` already there and panic.
    pub fn new(env: &'a TestEnv) -> Self {
        let fixture = Self {
            env,
            remote: env.root().join("remote.git"),
            clone: env.root().join("clone"),
        };
        fixture.git(
            env.root(),
            ["init", "-q", "--bare", "-b", "main", "remote.git"],
        );
        fixture.git(
            env.root(),
            ["clone", "-q", fixture.remote_url().as_str(), "clone"],
        );
        // Cloning an empty repository leaves the branch name to the clone's defaults; pin it.
        fixture.git(&fixture.clone, ["symbolic-ref", "HEAD", "refs/heads/main"]);
        fixture
    }

    /// A fixture whose remote already has `n` commits on `main`: commit `i` (from 1) adds
    /// `file-<i>.txt` containing `<i>\n` with message `commit <i>`.
    pub fn with_commits(env: &'a TestEnv, n: usize) -> Self {
        let fixture = Self::new(env);
        for i in 1..=n {
            fixture.commit(
                format!("file-{i}.txt"),
                format!("{i}\n"),
                &format!("commit {i}"),
            );
        }
        if n > 0 {
            fixture.push();
        }
        fixture
    }

    /// The env this fixture lives in.
    pub fn env(&self) -> &'a TestEnv {
        self.env
    }

    /// The bare remote: `<root>/remote.git`.
    pub fn remote_path(&self) -> &Path {
        &self.remote
    }

    /// The remote as a `file://` URL, the clone's `origin`.
    pub fn remote_url(&self) -> String {
        format!("file://{}", self.remote.display())
    }

    /// The working clone: `<root>/clone`.
    pub fn clone_path(&self) -> &Path {
        &self.clone
    }

    /// The SHA of the clone's `HEAD`.
    pub fn head(&self) -> String {
        self.git(&self.clone, ["rev-parse", "HEAD"])
    }

    /// Writes `contents` to `path` (relative to the clone, parents created), stages it and
    /// commits it with `message`; returns the new commit's SHA.
    pub fn commit(
        &self,
        path: impl AsRef<Path>,
        contents: impl AsRef<[u8]>,
        message: &str,
    ) -> String {
        let path = path.as_ref();
        let file = self.clone.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("create {}: {e}", parent.display()));
        }
        std::fs::write(&file, contents).unwrap_or_else(|e| panic!("write {}: {e}", file.display()));
        self.git(
            &self.clone,
            [OsStr::new("add"), OsStr::new("--"), path.as_os_str()],
        );
        self.git(&self.clone, ["commit", "-q", "-m", message]);
        self.head()
    }

    /// Pushes the clone's `main` to the remote (and makes `origin/main` its upstream).
    pub fn push(&self) {
        self.git(&self.clone, ["push", "-q", "-u", "origin", "main"]);
    }

    /// Runs `git -C <dir> <args>` hermetically; see [`run`].
    pub fn git<I, S>(&self, dir: impl AsRef<Path>, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        run(self.env, dir, args)
    }
}

/// Runs `git -C <dir> <args>` with `env`'s hermetic command and returns stdout without its
/// trailing newlines.
///
/// # Panics
///
/// When git cannot start or exits non-zero; the message carries argv and stderr.
pub fn run<I, S>(env: &TestEnv, dir: impl AsRef<Path>, args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let dir = dir.as_ref();
    let args: Vec<OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let argv = || {
        let args: Vec<_> = args.iter().map(|a| a.to_string_lossy()).collect();
        format!("git -C {} {}", dir.display(), args.join(" "))
    };
    let output = env
        .command("git")
        .arg("-C")
        .arg(dir)
        .args(&args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{}`: {e}", argv()));
    assert!(
        output.status.success(),
        "`{}` failed ({}):\n{}",
        argv(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout)
        .unwrap_or_else(|e| panic!("`{}` printed non-UTF-8: {e}", argv()));
    stdout.trim_end_matches('\n').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::{GIT_EMAIL, GIT_NAME};

    #[test]
    fn new_fixture_is_an_empty_remote_and_a_clone_on_main() {
        let env = TestEnv::new();
        let fx = GitFixture::new(&env);
        assert_eq!(fx.remote_path(), env.root().join("remote.git"));
        assert_eq!(fx.clone_path(), env.root().join("clone"));
        assert_eq!(
            fx.git(fx.remote_path(), ["rev-parse", "--is-bare-repository"]),
            "true"
        );
        assert_eq!(
            fx.git(fx.remote_path(), ["symbolic-ref", "HEAD"]),
            "refs/heads/main"
        );
        assert_eq!(
            fx.git(fx.clone_path(), ["symbolic-ref", "HEAD"]),
            "refs/heads/main"
        );
        assert_eq!(
            fx.git(fx.clone_path(), ["remote", "get-url", "origin"]),
            fx.remote_url()
        );
        assert!(fx.remote_url().starts_with("file:///"));
    }

    #[test]
    fn pushed_commits_are_on_the_remote() {
        let env = TestEnv::new();
        let fx = GitFixture::with_commits(&env, 3);
        let remote_main = fx.git(
            env.root(),
            [
                OsStr::new("--git-dir"),
                fx.remote_path().as_os_str(),
                OsStr::new("rev-parse"),
                OsStr::new("main"),
            ],
        );
        assert_eq!(remote_main, fx.head());
        assert_eq!(
            fx.git(fx.remote_path(), ["rev-list", "--count", "main"]),
            "3"
        );
        assert_eq!(fx.git(fx.remote_path(), ["show", "main:file-3.txt"]), "3");
        assert_eq!(
            fx.git(fx.clone_path(), ["log", "--format=%s"]),
            "commit 3\ncommit 2\ncommit 1"
        );
    }

    #[test]
    fn commit_writes_nested_paths_and_returns_head() {
        let env = TestEnv::new();
        let fx = GitFixture::new(&env);
        let sha = fx.commit("a/b/c.txt", "nested\n", "add nested file");
        assert_eq!(sha.len(), 40);
        assert_eq!(sha, fx.head());
        assert_eq!(
            fx.git(fx.clone_path(), ["show", "HEAD:a/b/c.txt"]),
            "nested"
        );
        // Unpushed: the remote still has no main.
        let out = env
            .command("git")
            .args([
                "-C",
                fx.remote_path().to_str().unwrap(),
                "rev-parse",
                "--verify",
                "-q",
                "main",
            ])
            .output()
            .unwrap();
        assert!(!out.status.success());
    }

    #[test]
    fn commits_have_the_fixed_identity_and_date() {
        let env = TestEnv::new();
        let fx = GitFixture::with_commits(&env, 1);
        let raw = fx.git(fx.clone_path(), ["cat-file", "commit", "HEAD"]);
        let line = format!("{GIT_NAME} <{GIT_EMAIL}> 1767225600 +0000");
        assert!(raw.contains(&format!("\nauthor {line}\n")), "{raw}");
        assert!(raw.contains(&format!("\ncommitter {line}\n")), "{raw}");
    }

    #[test]
    fn shas_are_deterministic() {
        let (a, b) = (TestEnv::new(), TestEnv::new());
        let (fa, fb) = (
            GitFixture::with_commits(&a, 2),
            GitFixture::with_commits(&b, 2),
        );
        assert_eq!(fa.head(), fb.head());
        assert_eq!(fa.commit("x", "y", "z"), fb.commit("x", "y", "z"));
        assert_ne!(
            fa.head(),
            GitFixture::with_commits(&TestEnv::new(), 3).head()
        );
    }

    #[test]
    #[should_panic(expected = "rev-parse no-such-ref` failed")]
    fn failing_git_panics_with_argv() {
        let env = TestEnv::new();
        let fx = GitFixture::new(&env);
        fx.git(fx.clone_path(), ["rev-parse", "no-such-ref"]);
    }
}
