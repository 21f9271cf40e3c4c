//! End-to-end tests of the `gt` binary in a hermetic [`TestEnv`]: version, usage errors, a
//! closed stdout, and finding the town root.

use std::io::Read as _;
use std::process::{Output, Stdio};

use testkit::{TestEnv, assert_cmd_snapshot};

mod agent_env;
mod agents_cli;
mod costs;
mod daemon;
mod dashboard;
mod demo;
mod escalate;
mod events;
mod feed;
mod forge;
mod handoff;
mod hints;
mod integration;
mod mail;
mod mq;
mod nudge;
mod rate_limits;
mod real_claude;
mod real_cli;
mod real_codex;
mod real_gemini;
mod roles;
mod scheduler;
mod scripted_agent;
mod seance;
mod sent_back;
mod session;
mod sling_races;
mod town;
mod views;
mod work_loop;

/// The binary under test.
const GT: &str = env!("CARGO_BIN_EXE_gt");

fn gt(env: &TestEnv, args: &[&str]) -> Output {
    env.command(GT).args(args).output().expect("run gt")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Makes `dir` a town root: `dir/mayor/town.json`.
fn make_town(dir: &std::path::Path) {
    std::fs::create_dir_all(dir.join("mayor")).expect("create mayor/");
    std::fs::write(dir.join("mayor/town.json"), "{}\n").expect("write mayor/town.json");
}

#[test]
fn version_prints_name_and_version() {
    let env = TestEnv::new();
    let out = gt(&env, &["--version"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("gt {}\n", env!("CARGO_PKG_VERSION"))
    );
    assert!(out.stderr.is_empty());
}

#[test]
fn unknown_command_is_a_usage_error() {
    let env = TestEnv::new();
    assert_cmd_snapshot!(env, env.command(GT).arg("no-such-command"), @r"
    exit_code: 2
    ----- stdout -----
    ----- stderr -----
    error: unrecognized subcommand 'no-such-command'

    Usage: gt [OPTIONS] <COMMAND>

    For more information, try '--help'.
    ");
}

#[test]
fn help_goes_to_stdout_and_succeeds() {
    let env = TestEnv::new();
    let out = gt(&env, &["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Usage: gt"), "{text}");
    assert!(text.contains("root"), "{text}");
}

#[test]
fn closed_stdout_ends_quietly_with_success() {
    let env = TestEnv::new();
    let town = env.work().join("town");
    make_town(&town);
    for (args, cwd) in [
        (&["--version"][..], env.work().to_owned()),
        (&["--help"], env.work().to_owned()),
        (&["root"], town),
    ] {
        let mut child = env
            .command(GT)
            .args(args)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn gt");
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let mut byte = [0u8; 1];
        stdout.read_exact(&mut byte).expect("gt writes something");
        drop(stdout);
        let out = child.wait_with_output().expect("wait for gt");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}");
    }
}

#[test]
fn root_outside_a_town_suggests_gt_install() {
    let env = TestEnv::new();
    assert_cmd_snapshot!(env, env.command(GT).arg("root"), @r"
    exit_code: 1
    ----- stdout -----
    ----- stderr -----
    error: not inside a Gas Town: no `mayor/town.json` in `[ROOT]/work` or any parent

    hint: run `gt install <path>` to create a town, or set `GT_TOWN_ROOT`
    ");
}

#[test]
fn root_is_found_from_a_nested_directory() {
    let env = TestEnv::new();
    let town = env.work().join("town");
    make_town(&town);
    let nested = town.join("rig/polecats/nux");
    std::fs::create_dir_all(&nested).unwrap();
    for cwd in [&town, &nested] {
        let out = env
            .command(GT)
            .arg("root")
            .current_dir(cwd)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            format!("{}\n", town.display())
        );
    }
}

#[test]
fn gt_town_root_must_name_a_town() {
    let env = TestEnv::new();
    let not_town = env.work().join("plain");
    std::fs::create_dir_all(&not_town).unwrap();
    env.set("GT_TOWN_ROOT", &not_town);
    let out = gt(&env, &["root"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(&not_town.display().to_string()), "{err}");
    assert!(err.contains("mayor/town.json"), "{err}");
    assert!(out.stdout.is_empty());

    // A real town named by GT_TOWN_ROOT wins over the current directory.
    let town = env.root().join("elsewhere");
    make_town(&town);
    env.set("GT_TOWN_ROOT", &town);
    let out = gt(&env, &["root"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("{}\n", town.display())
    );
}
