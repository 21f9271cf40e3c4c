//! `gt seance`: sessions recorded by the `SessionStart` hook (`gt prime --hook` with the agent
//! CLI's JSON on stdin), listed newest first, and `--talk` forking one where the agent can.
#![expect(clippy::unwrap_used, reason = "test steps fail the test by panicking")]

use std::io::Write as _;
use std::process::{Output, Stdio};

use testkit::{TestEnv, assert_cmd_snapshot};

use super::GT;
use super::work_loop::{json, ok};

fn gt(env: &TestEnv, args: &[&str]) -> Output {
    env.command(GT).args(args).output().expect("run gt")
}

/// Runs `gt <args>` as a hook: `input` on stdin, as `role` in `session` running `agent`.
fn hook(env: &TestEnv, args: &[&str], role: &str, agent: &str, input: &str) -> Output {
    let mut child = env
        .command(GT)
        .args(args)
        .env("GT_ROLE", role)
        .env("GT_SESSION", "hq-mayor")
        .env("GT_AGENT", agent)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn town(env: &TestEnv) {
    ok(gt(env, &["install", "town"]));
    env.set("GT_TOWN_ROOT", env.work().join("town"));
}

#[test]
fn seance_lists_the_sessions_the_prime_hook_recorded() {
    let env = TestEnv::new();
    town(&env);
    let start = |id: &str, source: &str| {
        format!(
            r#"{{"session_id":"{id}","transcript_path":"/t/{id}.jsonl","cwd":"/work/m","hook_event_name":"SessionStart","source":"{source}"}}"#
        )
    };
    let primed = ok(hook(
        &env,
        &["prime", "--hook"],
        "mayor/",
        "claude",
        &start("s-1", "startup"),
    ));
    assert!(String::from_utf8_lossy(&primed.stdout).contains("# Gas Town"));
    ok(hook(
        &env,
        &["session-end"],
        "mayor/",
        "claude",
        &start("s-1", "startup"),
    ));
    ok(hook(
        &env,
        &["prime", "--hook"],
        "mayor/",
        "claude",
        &start("s-2", "resume"),
    ));
    // A compaction runs the same hook: not a new session.
    ok(hook(
        &env,
        &["prime", "--hook"],
        "mayor/",
        "claude",
        r#"{"session_id":"s-2","hook_event_name":"PreCompact"}"#,
    ));
    ok(hook(
        &env,
        &["prime", "--hook"],
        "gastown/crew/max",
        "codex",
        &start("c-1", "startup"),
    ));
    // Bad hook input is reported, and the agent still gets its context.
    let bad = ok(hook(
        &env,
        &["prime", "--hook"],
        "gastown/crew/max",
        "codex",
        "not json",
    ));
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("the hook input is not the JSON object expected")
    );

    env.set("GT_ROLE", "mayor/");
    assert_cmd_snapshot!(env, env.command(GT).arg("seance"), @r"
    exit_code: 0
    ----- stdout -----
    STARTED                      ADDRESS  SESSION ID  AGENT   SOURCE   CWD
    [TIMESTAMP]  mayor/   s-2         claude  resume   /work/m
    [TIMESTAMP]  mayor/   s-1         claude  startup  /work/m
    ----- stderr -----
    ");
    env.set("GT_ROLE", "");
    assert_cmd_snapshot!(env, env.command(GT).args(["seance", "--rig", "gastown"]), @r"
    exit_code: 0
    ----- stdout -----
    STARTED                      ADDRESS           SESSION ID  AGENT  SOURCE   CWD
    [TIMESTAMP]  gastown/crew/max  -           codex  -        [ROOT]/work
    [TIMESTAMP]  gastown/crew/max  c-1         codex  startup  /work/m
    ----- stderr -----
    ");
    let all = json(&ok(gt(&env, &["--json", "seance", "--recent", "2"])));
    assert_eq!(all.as_array().unwrap().len(), 2, "{all}");
    assert_eq!(all[1]["session_id"], "c-1");
    assert_eq!(all[1]["transcript_path"], "/t/c-1.jsonl");
    assert_eq!(all[1]["agent"], "codex");
    assert_eq!(all[1]["event"], "session_start");
    assert_cmd_snapshot!(env, env.command(GT).args(["seance", "--role", "gastown/polecats/nux"]), @r"
    exit_code: 0
    ----- stdout -----
    ----- stderr -----
    No sessions recorded for gastown/polecats/nux
    ");
    assert_cmd_snapshot!(env, env.command(GT).args(["seance", "--role", "../x"]), @r"
    exit_code: 1
    ----- stdout -----
    ----- stderr -----
    error: `../x` is not an address: the rig name has characters an address cannot hold

    hint: addresses: mayor/, deacon/, overseer, <rig>/witness, <rig>/refinery, <rig>/polecats/<name> (or <rig>/<name>), <rig>/crew/<name>, list:<name>, queue:<name>, @town, @rig/<rig>
    ");
}

#[test]
fn talk_forks_where_the_preset_can_and_says_so_where_it_cannot() {
    let env = TestEnv::new();
    town(&env);
    let input = |id: &str| {
        format!(
            r#"{{"session_id":"{id}","cwd":"{}"}}"#,
            env.work().display()
        )
    };
    ok(hook(
        &env,
        &["prime", "--hook"],
        "mayor/",
        "claude",
        &input("s-claude"),
    ));
    ok(hook(
        &env,
        &["prime", "--hook"],
        "gastown/crew/max",
        "codex",
        &input("s-codex"),
    ));
    // A stand-in `claude` that shows how it was called.
    let bin = env.root().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("claude"), "#!/bin/sh\necho \"claude $*\"\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(bin.join("claude"), std::fs::Permissions::from_mode(0o755)).unwrap();
    env.prepend_path(&bin);
    assert_cmd_snapshot!(env, env.command(GT).args(["seance", "--talk", "s-claude", "-p", "why did you stop?"]), @r"
    exit_code: 0
    ----- stdout -----
    claude --dangerously-skip-permissions --fork-session --resume s-claude -p why did you stop?
    ----- stderr -----
    ");
    assert_cmd_snapshot!(env, env.command(GT).args(["seance", "--talk", "s-codex"]), @r"
    exit_code: 1
    ----- stdout -----
    ----- stderr -----
    error: session `s-codex` ran agent `codex`, which cannot fork a past session (only presets with `supports_fork_session`, such as claude, can)
    ");
    assert_cmd_snapshot!(env, env.command(GT).args(["seance", "--talk", "nope"]), @r"
    exit_code: 1
    ----- stdout -----
    ----- stderr -----
    error: no recorded session has the id `nope`

    hint: `gt seance` lists the recorded sessions and their ids
    ");
}
