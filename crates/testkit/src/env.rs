//! [`TestEnv`]: a temporary root, and commands that see only it.
//!
//! Every command starts from `env_clear()` and gets back only what a test should depend on:
//! the caller's `PATH` (so git and tmux are found), `HOME`, `XDG_CONFIG_HOME` and `TMPDIR` inside
//! the root, git with no global or system config and a fixed identity and date, `LC_ALL=C`,
//! `NO_COLOR=1`, and a `GT_TEST_NOW` that advances one second per command created (as jj does),
//! so output is the same on every machine and every run.
#![expect(
    clippy::disallowed_methods,
    reason = "testkit builds the hermetic commands and reads the caller's PATH and \
              GT_TEST_REQUIRE_EXTERNAL_TOOLS; shipped code goes through `host`"
)]

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use tempfile::TempDir;

/// Author and committer name of every commit made under a [`TestEnv`].
pub const GIT_NAME: &str = "Test Author";
/// Author and committer email of every commit made under a [`TestEnv`].
pub const GIT_EMAIL: &str = "test@example.com";
/// Author and committer date of every commit made under a [`TestEnv`].
pub const GIT_DATE: &str = "2026-01-01T00:00:00Z";
/// `GT_TEST_NOW` of a [`TestEnv`]'s first command; each later command gets one second more.
pub const TEST_EPOCH: &str = "2026-01-01T00:00:00Z";
/// [`TEST_EPOCH`] in seconds since the Unix epoch.
const TEST_EPOCH_SECONDS: i64 = 1_767_225_600;
/// Set to `1` (as CI does) to make [`require_cmd`] fail instead of skipping.
pub const REQUIRE_EXTERNAL_TOOLS: &str = "GT_TEST_REQUIRE_EXTERNAL_TOOLS";

/// A hermetic test environment: a temp root with `home/`, `tmp/` and `work/`, removed on drop.
///
/// Shared by reference (`&self` everywhere, and `Sync`), so fixtures can borrow it while the
/// test keeps adding variables with [`TestEnv::set`].
#[derive(Debug)]
pub struct TestEnv {
    root: PathBuf,
    home: PathBuf,
    tmp: PathBuf,
    work: PathBuf,
    /// The caller's `PATH`, read once.
    inherited_path: OsString,
    /// Directories put in front of `PATH`, most recently prepended first.
    extra_path: Mutex<Vec<PathBuf>>,
    /// Variables added with [`TestEnv::set`], applied after the fixed ones.
    vars: Mutex<Vec<(OsString, OsString)>>,
    /// Commands created so far; drives `GT_TEST_NOW`.
    commands: AtomicU64,
    /// Owns the directory; deleting it is the last thing that happens.
    dir: TempDir,
}

impl TestEnv {
    /// Creates the temp root and its `home/` (with `home/.config/`), `tmp/` and `work/`.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("gt-test-")
            .tempdir()
            .expect("create the test root in the system temp dir");
        // Canonical, so paths agree with what `pwd` or git print (macOS's /var is a symlink).
        let root = dir
            .path()
            .canonicalize()
            .expect("canonicalize the test root");
        let home = root.join("home");
        let tmp = root.join("tmp");
        let work = root.join("work");
        for d in [&home.join(".config"), &tmp, &work] {
            std::fs::create_dir_all(d).unwrap_or_else(|e| panic!("create {}: {e}", d.display()));
        }
        Self {
            root,
            home,
            tmp,
            work,
            inherited_path: std::env::var_os("PATH").unwrap_or_default(),
            extra_path: Mutex::new(Vec::new()),
            vars: Mutex::new(Vec::new()),
            commands: AtomicU64::new(0),
            dir,
        }
    }

    /// The temp root (canonical).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `HOME` of every command: `<root>/home`.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// `TMPDIR` of every command: `<root>/tmp`.
    pub fn tmp(&self) -> &Path {
        &self.tmp
    }

    /// The current directory of every command: `<root>/work`.
    pub fn work(&self) -> &Path {
        &self.work
    }

    /// The root as the temp-dir API returned it, before canonicalization; it differs from
    /// [`TestEnv::root`] only where the system temp dir sits behind a symlink.
    pub(crate) fn raw_root(&self) -> &Path {
        self.dir.path()
    }

    /// Puts `dir` in front of `PATH` for every later command (for fake tools such as an agent).
    pub fn prepend_path(&self, dir: impl Into<PathBuf>) {
        lock(&self.extra_path).insert(0, dir.into());
    }

    /// Sets `key=value` in every later command, replacing an earlier [`TestEnv::set`] of `key`
    /// and overriding the fixed variables.
    pub fn set(&self, key: impl Into<OsString>, value: impl Into<OsString>) {
        let key = key.into();
        let mut vars = lock(&self.vars);
        vars.retain(|(k, _)| *k != key);
        vars.push((key, value.into()));
    }

    /// `PATH` as commands see it: the prepended directories, then the caller's `PATH`.
    pub fn path_var(&self) -> OsString {
        let extra = lock(&self.extra_path);
        let dirs = extra
            .iter()
            .cloned()
            .chain(std::env::split_paths(&self.inherited_path));
        std::env::join_paths(dirs).expect("PATH entries contain no path separator")
    }

    /// A hermetic `std` command for `program`, run in [`TestEnv::work`].
    ///
    /// Each call advances `GT_TEST_NOW` by one second, so call it once per process you run.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", self.path_var())
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("TMPDIR", &self.tmp)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_AUTHOR_NAME", GIT_NAME)
            .env("GIT_AUTHOR_EMAIL", GIT_EMAIL)
            .env("GIT_AUTHOR_DATE", GIT_DATE)
            .env("GIT_COMMITTER_NAME", GIT_NAME)
            .env("GIT_COMMITTER_EMAIL", GIT_EMAIL)
            .env("GIT_COMMITTER_DATE", GIT_DATE)
            .env("LC_ALL", "C")
            .env("NO_COLOR", "1")
            .env("GT_TEST_NOW", self.next_now())
            .current_dir(&self.work);
        for (key, value) in lock(&self.vars).iter() {
            cmd.env(key, value);
        }
        cmd
    }

    /// [`TestEnv::command`] as an [`assert_cmd::Command`], for `.assert().success()` and friends.
    pub fn assert_cmd(&self, program: impl AsRef<OsStr>) -> assert_cmd::Command {
        assert_cmd::Command::from_std(self.command(program))
    }

    /// The next `GT_TEST_NOW`: [`TEST_EPOCH`] plus one second per command created before.
    fn next_now(&self) -> String {
        let n = self.commands.fetch_add(1, Ordering::Relaxed);
        let n = i64::try_from(n).expect("fewer than 2^63 commands");
        jiff::Timestamp::from_second(TEST_EPOCH_SECONDS + n)
            .expect("test clock stays within jiff's range")
            .to_string()
    }
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

/// Locks `m`; a panic in another test thread does not make the data unusable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether `name` is an executable on `PATH` (or, with a `/`, at that path).
///
/// Returns `false` with a skip notice on stderr when it is missing, so the test can return
/// early; panics instead when `GT_TEST_REQUIRE_EXTERNAL_TOOLS=1`, so CI never skips silently.
///
/// ```no_run
/// if !testkit::require_cmd("tmux") {
///     return;
/// }
/// ```
pub fn require_cmd(name: &str) -> bool {
    let required = std::env::var_os(REQUIRE_EXTERNAL_TOOLS).is_some_and(|v| v == "1");
    check_cmd(name, std::env::var_os("PATH").as_deref(), required)
}

/// Where the end-to-end tests look first for the real agent CLIs (`claude`, `codex`,
/// `gemini`): the `.bin` directory `scripts/install-agent-clis` prints. `PATH` comes after it.
pub const AGENT_CLIS: &str = "GT_TEST_AGENT_CLIS";

/// The executable of the real agent CLI `name`, from `$GT_TEST_AGENT_CLIS` or else `PATH`.
///
/// Returns `None` with a skip notice when it (or `node`, which runs it) is missing; panics
/// instead when `GT_TEST_REQUIRE_EXTERNAL_TOOLS=1`, as CI sets. Prepend its directory to a
/// [`TestEnv`]'s `PATH` so the agent sessions find it.
///
/// ```no_run
/// let Some(claude) = testkit::require_agent_cli("claude") else {
///     return;
/// };
/// ```
pub fn require_agent_cli(name: &str) -> Option<PathBuf> {
    let required = std::env::var_os(REQUIRE_EXTERNAL_TOOLS).is_some_and(|v| v == "1");
    let dir = std::env::var_os(AGENT_CLIS);
    let path = std::env::var_os("PATH");
    let found = dir
        .as_deref()
        .and_then(|dir| find_in_path(name, Some(dir)))
        .or_else(|| find_in_path(name, path.as_deref()));
    let node = find_in_path("node", path.as_deref());
    if let (Some(found), Some(_)) = (&found, node) {
        return Some(found.clone());
    }
    let missing = if found.is_some() {
        "`node` (which runs the agent CLIs) is not on PATH".to_owned()
    } else {
        format!(
            "agent CLI `{name}` is in neither ${AGENT_CLIS} ({}) nor PATH; \
             install the pinned CLIs with `export {AGENT_CLIS}=\"$(scripts/install-agent-clis)\"`",
            dir.as_deref()
                .map_or_else(|| "unset".into(), |d| d.to_string_lossy())
        )
    };
    assert!(
        !required,
        "{missing}, and {REQUIRE_EXTERNAL_TOOLS}=1 forbids skipping tests that need it"
    );
    skip_notice(&missing);
    None
}

fn check_cmd(name: &str, path: Option<&OsStr>, required: bool) -> bool {
    if find_in_path(name, path).is_some() {
        return true;
    }
    assert!(
        !required,
        "`{name}` is not on PATH, and {REQUIRE_EXTERNAL_TOOLS}=1 forbids skipping tests that need it"
    );
    skip_notice(&format!("`{name}` is not on PATH"));
    false
}

#[expect(
    clippy::print_stderr,
    reason = "a skipped test says why on the test's own stderr"
)]
fn skip_notice(missing: &str) {
    eprintln!("skipping test: {missing} (set {REQUIRE_EXTERNAL_TOOLS}=1 to fail instead)");
}

fn find_in_path(name: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    if name.contains('/') {
        let candidate = PathBuf::from(name);
        return is_executable(&candidate).then_some(candidate);
    }
    std::env::split_paths(path?)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// Kills process `pid` with SIGKILL (a process the test did not spawn itself, such as a
/// daemon started by the binary under test). A process that is gone already is fine.
pub fn sigkill(pid: u32) {
    let _ = Command::new("kill").args(["-9", &pid.to_string()]).output();
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn env_of(cmd: &Command) -> BTreeMap<String, String> {
        cmd.get_envs()
            .filter_map(|(k, v)| Some((k.to_str()?.to_owned(), v?.to_str()?.to_owned())))
            .collect()
    }

    #[test]
    fn root_holds_home_tmp_and_work() {
        let env = TestEnv::new();
        let root = env.root().to_owned();
        assert_eq!(root, root.canonicalize().unwrap());
        assert_eq!(env.home(), root.join("home"));
        assert_eq!(env.tmp(), root.join("tmp"));
        assert_eq!(env.work(), root.join("work"));
        for dir in [
            env.home(),
            &env.home().join(".config"),
            env.tmp(),
            env.work(),
        ] {
            assert!(dir.is_dir(), "{} missing", dir.display());
        }
        drop(env);
        assert!(!root.exists(), "the root is removed with the TestEnv");
    }

    #[test]
    fn commands_see_only_the_hermetic_environment() {
        let env = TestEnv::new();
        let out = env.command("env").output().unwrap();
        assert!(out.status.success());
        let seen: BTreeMap<String, String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
            .collect();
        let home = env.home().to_str().unwrap();
        let path = env.path_var();
        let expected = [
            ("GIT_AUTHOR_DATE", GIT_DATE),
            ("GIT_AUTHOR_EMAIL", GIT_EMAIL),
            ("GIT_AUTHOR_NAME", GIT_NAME),
            ("GIT_COMMITTER_DATE", GIT_DATE),
            ("GIT_COMMITTER_EMAIL", GIT_EMAIL),
            ("GIT_COMMITTER_NAME", GIT_NAME),
            ("GIT_CONFIG_GLOBAL", "/dev/null"),
            ("GIT_CONFIG_NOSYSTEM", "1"),
            ("GIT_TERMINAL_PROMPT", "0"),
            ("GT_TEST_NOW", TEST_EPOCH),
            ("HOME", home),
            ("LC_ALL", "C"),
            ("NO_COLOR", "1"),
            ("PATH", path.to_str().unwrap()),
            ("TMPDIR", env.tmp().to_str().unwrap()),
            ("XDG_CONFIG_HOME", &format!("{home}/.config")),
        ];
        let expected: BTreeMap<String, String> = expected
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(seen, expected, "nothing inherited beyond PATH");
    }

    #[test]
    fn path_is_the_callers_with_prepended_dirs_first() {
        let env = TestEnv::new();
        let caller = std::env::var_os("PATH").unwrap_or_default();
        assert_eq!(env.path_var(), caller);
        env.prepend_path("/first");
        env.prepend_path("/second");
        let dirs: Vec<PathBuf> = std::env::split_paths(&env.path_var()).collect();
        assert_eq!(
            dirs[..2],
            [PathBuf::from("/second"), PathBuf::from("/first")]
        );
        assert_eq!(
            dirs[2..],
            std::env::split_paths(&caller).collect::<Vec<_>>()[..]
        );
    }

    #[test]
    fn test_now_ticks_one_second_per_command() {
        let env = TestEnv::new();
        let nows: Vec<String> = (0..3)
            .map(|_| env_of(&env.command("true"))["GT_TEST_NOW"].clone())
            .collect();
        assert_eq!(
            nows,
            [
                "2026-01-01T00:00:00Z",
                "2026-01-01T00:00:01Z",
                "2026-01-01T00:00:02Z"
            ]
        );
        assert_eq!(
            jiff::Timestamp::from_second(TEST_EPOCH_SECONDS)
                .unwrap()
                .to_string(),
            TEST_EPOCH
        );
    }

    #[test]
    fn set_applies_to_later_commands_and_overrides() {
        let env = TestEnv::new();
        let before = env.command("true");
        env.set("GT_TOWN", "/town");
        env.set("GT_TOWN", "/other-town");
        env.set("NO_COLOR", "0");
        let after = env_of(&env.command("true"));
        assert!(!env_of(&before).contains_key("GT_TOWN"));
        assert_eq!(after["GT_TOWN"], "/other-town");
        assert_eq!(after["NO_COLOR"], "0");
    }

    #[test]
    fn commands_run_in_work() {
        let env = TestEnv::new();
        let out = env.command("pwd").output().unwrap();
        assert_eq!(
            String::from_utf8(out.stdout).unwrap().trim_end(),
            env.work().to_str().unwrap()
        );
    }

    #[test]
    fn assert_cmd_uses_the_same_environment() {
        let env = TestEnv::new();
        env.set("GREETING", "hello");
        env.assert_cmd("sh")
            .args(["-c", "echo \"$GREETING $HOME\""])
            .assert()
            .success()
            .stdout(format!("hello {}\n", env.home().display()));
    }

    #[test]
    fn is_shareable_across_threads() {
        fn assert_sync<T: Sync + Send>() {}
        assert_sync::<TestEnv>();
    }

    #[test]
    fn require_cmd_finds_tools_on_path() {
        assert!(require_cmd("sh"));
        let path = std::env::var_os("PATH");
        assert!(check_cmd("sh", path.as_deref(), true));
        assert!(check_cmd("/bin/sh", None, true));
        assert!(!check_cmd("gt-no-such-tool", path.as_deref(), false));
        assert!(!check_cmd("sh", None, false));
    }

    #[test]
    #[should_panic(expected = "`gt-no-such-tool` is not on PATH")]
    fn require_cmd_panics_when_tools_are_required() {
        check_cmd("gt-no-such-tool", std::env::var_os("PATH").as_deref(), true);
    }
}
