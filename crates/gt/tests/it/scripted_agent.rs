//! `gt-scripted-agent`, the stand-in for a coding-agent CLI: run for real in a [`TestEnv`],
//! in a git clone, with a fake `gt` on `PATH` that records how it was called.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use testkit::{GitFixture, TestEnv, TmuxServer, require_cmd, wait_until};

/// The binary under test.
const AGENT: &str = env!("CARGO_BIN_EXE_gt-scripted-agent");

const TIMEOUT: Duration = Duration::from_secs(20);

const BEACON: &str = "[GAS TOWN] gastown/polecats/nux <- witness • 2026-01-01T00:00 • assigned:gt-b3ac\n\nRun `gt prime --hook` and begin work on your hook.";

/// Writes `text` to `<root>/script.gt` and names it with `GT_AGENT_SCRIPT`.
fn use_script(env: &TestEnv, text: &str) -> PathBuf {
    let path = env.root().join("script.gt");
    std::fs::write(&path, text).expect("write the script");
    env.set("GT_AGENT_SCRIPT", &path);
    path
}

/// The agent with no ready delay, in `dir`, with the beacon as its last argument.
fn run_agent(env: &TestEnv, dir: &Path) -> Output {
    env.command(AGENT)
        .env("GT_SCRIPTED_AGENT_READY_DELAY_MS", "0")
        .arg("--dangerously-skip-permissions")
        .arg(BEACON)
        .current_dir(dir)
        .output()
        .expect("run gt-scripted-agent")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_code(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
}

/// A fake `gt` first on `PATH`: it appends its arguments to `<root>/gt.log`, prints
/// `<root>/prime.txt` for `gt prime`, and exits with the code in `<root>/done-exit` (0 if absent)
/// for `gt done`. Returns the log's path.
fn fake_gt(env: &TestEnv, prime: &str) -> PathBuf {
    let bin = env.root().join("bin");
    std::fs::create_dir_all(&bin).expect("create bin/");
    let root = env.root().display().to_string();
    let script = format!(
        "#!/bin/sh\n\
         printf '%s\\n' \"$*\" >> '{root}/gt.log'\n\
         case \"$1\" in\n\
         prime) cat '{root}/prime.txt' ;;\n\
         done) echo 'fake gt: done'; [ -f '{root}/done-exit' ] && exit \"$(cat '{root}/done-exit')\" ;;\n\
         esac\n\
         exit 0\n"
    );
    let gt = bin.join("gt");
    std::fs::write(&gt, script).expect("write the fake gt");
    let mut perms = std::fs::metadata(&gt).expect("stat gt").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&gt, perms).expect("make gt executable");
    std::fs::write(env.root().join("prime.txt"), prime).expect("write prime.txt");
    env.prepend_path(bin);
    env.root().join("gt.log")
}

fn gt_calls(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn banner_says_not_an_ai_then_prompt_then_the_beacon() {
    let env = TestEnv::new();
    use_script(&env, "exit 0\n");
    let out = run_agent(&env, env.work());
    assert_code(&out, 0);
    let text = stdout(&out);
    let expected_start = format!(
        "Scripted agent (not an AI model) — {}\n❯ \nreceived: [GAS TOWN] gastown/polecats/nux <- witness • 2026-01-01T00:00 • assigned:gt-b3ac\n",
        env!("CARGO_PKG_VERSION")
    );
    assert!(text.starts_with(&expected_start), "{text}");
    assert!(text.contains("step: exit 0\n"), "{text}");
    assert_eq!(stderr(&out), "");
}

#[test]
fn version_and_help_call_it_a_scripted_agent() {
    let env = TestEnv::new();
    let out = env.command(AGENT).arg("--version").output().unwrap();
    assert_code(&out, 0);
    assert_eq!(
        stdout(&out),
        format!("gt-scripted-agent {}\n", env!("CARGO_PKG_VERSION"))
    );
    let out = env.command(AGENT).arg("--help").output().unwrap();
    assert_code(&out, 0);
    assert!(stdout(&out).contains("not an AI model"), "{}", stdout(&out));
}

#[test]
fn parse_errors_name_the_line_and_nothing_runs() {
    let env = TestEnv::new();
    let script = use_script(
        &env,
        "# make a file\nwrite made.txt hello\n\nfrobnicate now\n",
    );
    let out = run_agent(&env, env.work());
    assert_code(&out, 2);
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "error: line 4 of `{}`: unknown command `frobnicate`\n",
            script.display()
        )),
        "{err}"
    );
    assert!(
        err.contains("hint: the commands are: prime, write"),
        "{err}"
    );
    assert!(!stdout(&out).contains("step:"), "{}", stdout(&out));
    assert!(!env.work().join("made.txt").exists());
}

#[test]
fn write_and_commit_make_a_commit() {
    let env = TestEnv::new();
    let fx = GitFixture::with_commits(&env, 1);
    let base = fx.head();
    use_script(
        &env,
        "write src/lib.rs pub fn answer() -> u32 {\\n    42\\n}\n\
         append NOTES.md first\n\
         append NOTES.md second\n\
         commit Add the answer\n",
    );
    let out = run_agent(&env, fx.clone_path());
    assert_code(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("step: write src/lib.rs"), "{text}");
    assert!(
        text.contains("step: commit Add the answer\ncommitted "),
        "{text}"
    );
    assert_eq!(
        fx.git(fx.clone_path(), ["log", "-1", "--format=%s|%an|%ae"]),
        "Add the answer|Test Author|test@example.com"
    );
    assert_eq!(
        fx.git(fx.clone_path(), ["rev-parse", "HEAD~1"]),
        base,
        "one new commit"
    );
    assert_eq!(
        fx.git(fx.clone_path(), ["show", "HEAD:src/lib.rs"]),
        "pub fn answer() -> u32 {\n    42\n}"
    );
    assert_eq!(
        std::fs::read_to_string(fx.clone_path().join("NOTES.md")).unwrap(),
        "first\nsecond\n"
    );
    assert_eq!(fx.git(fx.clone_path(), ["status", "--porcelain"]), "");
}

#[test]
fn a_failing_commit_names_the_line() {
    let env = TestEnv::new();
    let fx = GitFixture::with_commits(&env, 1);
    use_script(&env, "sleep 1\ncommit nothing changed\n");
    let out = run_agent(&env, fx.clone_path());
    assert_code(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("error: line 2 of "), "{err}");
    assert!(err.contains("failed: `commit nothing changed`"), "{err}");
    assert!(err.contains("caused by: nothing to commit"), "{err}");
}

#[test]
fn crash_exits_70_without_committing_or_reporting() {
    let env = TestEnv::new();
    let fx = GitFixture::with_commits(&env, 1);
    let head = fx.head();
    let log = fake_gt(&env, "");
    use_script(&env, "write half-done.txt wip\ncrash\n");
    let out = run_agent(&env, fx.clone_path());
    assert_code(&out, 70);
    assert_eq!(fx.head(), head);
    assert!(fx.clone_path().join("half-done.txt").exists());
    assert_eq!(gt_calls(&log), Vec::<String>::new(), "no `gt done`");
}

/// `once` lines run the first time only, across restarts in the same worktree; their markers
/// live under the git dir (never in a commit), one set per bead.
#[test]
fn once_runs_a_line_the_first_time_only_across_restarts() {
    let env = TestEnv::new();
    let fx = GitFixture::with_commits(&env, 1);
    env.set("GT_HOOK_BEAD", "gt-b3ac");
    let wt = fx.clone_path();
    use_script(&env, "once write a.txt one\nonce crash\nwrite b.txt two\n");
    let first = run_agent(&env, wt);
    assert_code(&first, 70);
    assert_eq!(std::fs::read_to_string(wt.join("a.txt")).unwrap(), "one\n");
    assert!(!wt.join("b.txt").exists());

    std::fs::write(wt.join("a.txt"), "edited\n").unwrap();
    let second = run_agent(&env, wt);
    assert_code(&second, 0);
    let text = stdout(&second);
    assert!(
        text.contains("step: once write a.txt one\nskipped: line 1 already ran once here"),
        "{text}"
    );
    assert!(text.contains("step: once crash\nskipped: line 2"), "{text}");
    assert_eq!(
        std::fs::read_to_string(wt.join("a.txt")).unwrap(),
        "edited\n",
        "not rewritten"
    );
    assert_eq!(std::fs::read_to_string(wt.join("b.txt")).unwrap(), "two\n");
    let markers = wt.join(".git/gt-scripted-agent");
    assert!(markers.join("once-gt-b3ac-1").exists());
    assert!(markers.join("once-gt-b3ac-2").exists());
    // Nothing of `once` in the work tree: `git add -A` would commit only the script's files.
    assert_eq!(fx.git(wt, ["status", "--porcelain"]), "?? a.txt\n?? b.txt");

    // Another bead in the same worktree starts afresh.
    env.set("GT_HOOK_BEAD", "gt-other");
    assert_code(&run_agent(&env, wt), 70);
    assert_eq!(std::fs::read_to_string(wt.join("a.txt")).unwrap(), "one\n");
}

/// `once done` ends the script when it runs (with `gt done`'s code) and lets the lines after
/// it run next time; a `gt done` that fails is not marked, so it runs again.
#[test]
fn once_done_ends_the_first_run_and_is_skipped_after() {
    let env = TestEnv::new();
    let fx = GitFixture::with_commits(&env, 1);
    let wt = fx.clone_path();
    let log = fake_gt(&env, "Hooked bead: gt-b3ac — Fix it\n");
    env.set("GT_HOOK_BEAD", "gt-b3ac");
    use_script(&env, "once done\nwrite fixed.txt ok\ndone\n");

    std::fs::write(env.root().join("done-exit"), "4").unwrap();
    assert_code(&run_agent(&env, wt), 4);
    assert!(!wt.join("fixed.txt").exists());
    std::fs::remove_file(env.root().join("done-exit")).unwrap();
    assert_code(&run_agent(&env, wt), 0);
    assert!(!wt.join("fixed.txt").exists(), "the first `done` ended it");
    assert_code(&run_agent(&env, wt), 0);
    assert!(wt.join("fixed.txt").exists());
    assert_eq!(
        gt_calls(&log),
        [
            "done --status COMPLETED",
            "done --status COMPLETED",
            "done --status COMPLETED"
        ]
    );
}

#[test]
fn exit_and_fail_set_the_exit_code() {
    let env = TestEnv::new();
    use_script(&env, "exit 3\n");
    assert_code(&run_agent(&env, env.work()), 3);

    use_script(&env, "fail the gate is red\\ntests: 3 failed\n");
    let out = run_agent(&env, env.work());
    assert_code(&out, 1);
    assert_eq!(stderr(&out), "error: the gate is red\ntests: 3 failed\n");
}

#[test]
fn paths_outside_the_worktree_are_rejected() {
    let env = TestEnv::new();
    for (line, needle) in [
        ("write /tmp/escape.txt x", "is an absolute path"),
        ("append ../escape.txt x", "leaves the worktree"),
        ("conflict sub/../../escape.txt", "leaves the worktree"),
        ("write .git/config x", "inside `.git`"),
    ] {
        use_script(&env, &format!("sleep 0\n{line}\n"));
        let out = run_agent(&env, env.work());
        assert_code(&out, 2);
        let err = stderr(&out);
        assert!(err.contains("error: line 2 of "), "{line}: {err}");
        assert!(err.contains(needle), "{line}: {err}");
    }
    assert!(!env.root().join("escape.txt").exists());

    // A symlink out of the worktree is caught when the step runs.
    let outside = env.root().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, env.work().join("link")).unwrap();
    use_script(&env, "write link/escape.txt x\n");
    let out = run_agent(&env, env.work());
    assert_code(&out, 1);
    assert!(
        stderr(&out).contains("through a symlink"),
        "{}",
        stderr(&out)
    );
    assert!(!outside.join("escape.txt").exists());
}

#[test]
fn done_runs_the_gt_on_path_and_exits_with_its_code() {
    let env = TestEnv::new();
    let log = fake_gt(&env, "");
    use_script(&env, "done\n");
    let out = run_agent(&env, env.work());
    assert_code(&out, 0);
    assert_eq!(gt_calls(&log), ["done --status COMPLETED"]);
    assert!(stdout(&out).contains("fake gt: done"), "{}", stdout(&out));

    std::fs::write(env.root().join("done-exit"), "4").unwrap();
    use_script(&env, "done escalated\n");
    let out = run_agent(&env, env.work());
    assert_code(&out, 4);
    assert_eq!(
        gt_calls(&log),
        ["done --status COMPLETED", "done --status ESCALATED"]
    );
}

#[test]
fn the_script_comes_from_the_gt_script_block_in_gt_prime() {
    let env = TestEnv::new();
    let fx = GitFixture::with_commits(&env, 1);
    let prime = "\
Role: polecat
Hooked bead: gt-b3ac — Make a file

Description:
  Please make a file.

  ```gt-script
  # from the bead
  write from-bead.txt made by the script in the bead
  commit gt-b3ac: from the bead
  done
  ```
";
    let log = fake_gt(&env, prime);
    let out = run_agent(&env, fx.clone_path());
    assert_code(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("script: the gt-script block in `gt prime` output (3 steps)"),
        "{text}"
    );
    assert_eq!(
        fx.git(fx.clone_path(), ["log", "-1", "--format=%s"]),
        "gt-b3ac: from the bead"
    );
    assert_eq!(
        fx.git(fx.clone_path(), ["show", "HEAD:from-bead.txt"]),
        "made by the script in the bead"
    );
    assert_eq!(gt_calls(&log), ["prime", "done --status COMPLETED"]);
}

#[test]
fn the_default_script_commits_a_note_on_the_hooked_bead_and_reports_done() {
    let env = TestEnv::new();
    let fx = GitFixture::with_commits(&env, 1);
    let log = fake_gt(
        &env,
        "Role: polecat\nHooked bead: gt-b3ac — Fix the login page\n",
    );
    let out = run_agent(&env, fx.clone_path());
    assert_code(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("script: the default script (1 step)"),
        "{text}"
    );
    assert!(text.contains("step: write gt-work/gt-b3ac.md"), "{text}");
    assert_eq!(
        fx.git(fx.clone_path(), ["log", "-1", "--format=%s"]),
        "gt-b3ac: Fix the login page"
    );
    let note = fx.git(fx.clone_path(), ["show", "HEAD:gt-work/gt-b3ac.md"]);
    assert!(note.starts_with("# Fix the login page\n"), "{note}");
    assert_eq!(gt_calls(&log), ["prime", "done --status COMPLETED"]);
}

#[test]
fn the_bead_comes_from_the_environment_then_the_beacon() {
    let env = TestEnv::new();
    let fx = GitFixture::with_commits(&env, 1);
    // `gt prime` names no bead: the beacon's `assigned:gt-b3ac` is used.
    fake_gt(&env, "Hook: (none)\n");
    use_script(&env, "conflict file-1.txt\ncommit conflict\n");
    assert_code(&run_agent(&env, fx.clone_path()), 0);
    assert_eq!(
        fx.git(fx.clone_path(), ["show", "HEAD:file-1.txt"]),
        "conflicting change by the scripted agent for `gt-b3ac`"
    );
    env.set("GT_HOOK_BEAD", "gt-other");
    assert_code(&run_agent(&env, fx.clone_path()), 0);
    assert_eq!(
        fx.git(fx.clone_path(), ["show", "HEAD:file-1.txt"]),
        "conflicting change by the scripted agent for `gt-other`"
    );
}

/// Collects a child's stdout in the background.
fn collect_stdout(child: &mut Child) -> Arc<Mutex<String>> {
    let seen = Arc::new(Mutex::new(String::new()));
    let mut pipe = child.stdout.take().expect("stdout is piped");
    let sink = Arc::clone(&seen);
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    seen
}

#[test]
fn stay_keeps_the_prompt_and_echoes_typed_lines() {
    let env = TestEnv::new();
    let log = fake_gt(&env, "");
    use_script(&env, "done\nstay\n");
    let mut child = env
        .command(AGENT)
        .env("GT_SCRIPTED_AGENT_READY_DELAY_MS", "0")
        .arg(BEACON)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the agent");
    let seen = collect_stdout(&mut child);
    let text = || seen.lock().unwrap().clone();
    wait_until(TIMEOUT, || {
        text().ends_with("fake gt: done\nstep: stay\n❯ ")
    })
    .unwrap_or_else(|e| {
        panic!("{e}: {}", text());
    });
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin.write_all(b"check your mail\n").unwrap();
    stdin.flush().unwrap();
    wait_until(TIMEOUT, || {
        text().ends_with("received: check your mail\n❯ ")
    })
    .unwrap_or_else(|e| panic!("{e}: {}", text()));
    assert!(child.try_wait().unwrap().is_none(), "still running");
    assert_eq!(gt_calls(&log), ["done --status COMPLETED"]);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn hang_stops_responding_but_keeps_running() {
    let env = TestEnv::new();
    use_script(&env, "hang\n");
    let mut child = env
        .command(AGENT)
        .env("GT_SCRIPTED_AGENT_READY_DELAY_MS", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the agent");
    let seen = collect_stdout(&mut child);
    let text = || seen.lock().unwrap().clone();
    wait_until(TIMEOUT, || text().contains("step: hang\n")).unwrap_or_else(|e| {
        panic!("{e}: {}", text());
    });
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin.write_all(b"are you there\n").unwrap();
    stdin.flush().unwrap();
    assert!(child.try_wait().unwrap().is_none(), "still running");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!text().contains("received: are you there"), "{}", text());
}

/// The way a town runs it: in tmux, ready when `❯ ` shows, nudged by `send-keys`.
#[test]
fn in_tmux_the_prompt_shows_and_nudges_arrive() {
    if !require_cmd("tmux") {
        return;
    }
    let env = TestEnv::new();
    let script = use_script(&env, "sleep 0\nstay\n");
    let server = TmuxServer::start();
    let command = format!(
        "cd '{}' && exec env GT_AGENT_SCRIPT='{}' GT_SCRIPTED_AGENT_READY_DELAY_MS=50 '{AGENT}' 'hello from the beacon'",
        env.work().display(),
        script.display()
    );
    server.new_session("agent", &command);
    let pane = || server.capture("agent");
    wait_until(TIMEOUT, || pane().ends_with("step: stay\n❯\n")).unwrap_or_else(|e| {
        panic!("{e}:\n{}", pane());
    });
    assert!(
        pane().starts_with("Scripted agent (not an AI model) — "),
        "{}",
        pane()
    );
    assert!(
        pane().contains("received: hello from the beacon\n"),
        "{}",
        pane()
    );
    server.run(["send-keys", "-t", "agent", "-l", "Check your hook"]);
    server.run(["send-keys", "-t", "agent", "Enter"]);
    wait_until(TIMEOUT, || pane().contains("received: Check your hook\n❯"))
        .unwrap_or_else(|e| panic!("{e}:\n{}", pane()));
}
