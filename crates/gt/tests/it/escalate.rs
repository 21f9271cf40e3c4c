//! `gt escalate`: an escalation follows its route (bead, log, command), what `list` and `show`
//! print, acknowledgement and the stale pass, and bad input (settings, ids, text) refused.
#![expect(clippy::unwrap_used, reason = "test steps fail the test by panicking")]

use std::path::{Path, PathBuf};
use std::process::Output;

use testkit::{TestEnv, assert_cmd_snapshot};

use super::GT;
use super::work_loop::{json, ok, stdout};

fn gt(env: &TestEnv, args: &[&str]) -> Output {
    env.command(GT).args(args).output().expect("run gt")
}

/// A town (no rigs needed) with `escalation.json` set to `config`.
fn town(env: &TestEnv, config: &str) -> PathBuf {
    ok(gt(env, &["install", "town"]));
    let root = env.work().join("town");
    env.set("GT_TOWN_ROOT", &root);
    std::fs::write(root.join("settings/escalation.json"), config).unwrap();
    root
}

/// A notifier that records its arguments, its `GT_ESCALATION_*` variables and its stdin.
fn notifier(env: &TestEnv) -> (PathBuf, PathBuf) {
    let out = env.root().join("notified");
    let script = env.root().join("notify");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n{{ echo \"args: $*\"; env | grep '^GT_ESCALATION_' | sort; echo \"stdin: $(cat)\"; }} >> {}\n",
            out.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script, out)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn an_escalation_follows_its_route() {
    let env = TestEnv::new();
    let (script, notified) = notifier(&env);
    let root = town(
        &env,
        &format!(
            r#"{{"routes": {{"high": ["bead", "log", "command:{} --page $(rm -rf ~)"],
                           "low": ["bead"]}}}}"#,
            script.display()
        ),
    );
    env.set("GT_ROLE", "gastown/polecats/nux");
    let raised = json(&ok(gt(
        &env,
        &[
            "--json",
            "escalate",
            "Tests fail on main; $(touch /tmp/pwned)\nsecond line",
            "-s",
            "high",
            "-r",
            "The suite fails since yesterday.",
            "--source",
            "plugin:nightly",
        ],
    )));
    let id = raised["escalation"]["id"].as_str().unwrap().to_owned();
    let routes: Vec<(&str, bool)> = raised["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["route"].as_str().unwrap(), d["ok"].as_bool().unwrap()))
        .collect();
    assert_eq!(routes.len(), 3, "{raised}");
    assert!(routes.iter().all(|(_, ok)| *ok), "{raised}");
    assert_eq!(raised["escalation"]["severity"], "HIGH");
    assert_eq!(raised["escalation"]["from"], "gastown/polecats/nux");

    // The log: one line (a title's newline became a blank when the bead was made).
    let log = read(&root.join("logs/escalations.log"));
    assert_eq!(log.lines().count(), 1, "{log}");
    assert!(
        log.contains(&format!(
            "HIGH {id} raised from=gastown/polecats/nux source=plugin:nightly"
        )),
        "{log}"
    );
    assert!(log.ends_with("$(touch /tmp/pwned) second line\n"), "{log}");
    // The command: its words as configured (no shell ran them), the escalation in its
    // environment and as JSON on stdin.
    let note = read(&notified);
    assert!(note.contains("args: --page $(rm -rf ~)"), "{note}");
    assert!(note.contains(&format!("GT_ESCALATION_ID={id}")), "{note}");
    assert!(note.contains("GT_ESCALATION_SEVERITY=HIGH"), "{note}");
    assert!(
        note.contains("GT_ESCALATION_SOURCE=plugin:nightly"),
        "{note}"
    );
    assert!(
        note.contains(&format!("stdin: {{\"id\":\"{id}\"")),
        "{note}"
    );
    // The bead, with upstream's labels.
    let bead = json(&ok(env
        .command(super::work_loop::bd_bin())
        .current_dir(&root)
        .args(["show", &id, "--json"])
        .output()
        .unwrap()));
    let labels = bead[0]["labels"].to_string();
    for label in [
        "gt:escalation",
        "severity:HIGH",
        "original_severity:HIGH",
        "acknowledged:false",
        "reescalation_count:0",
        "source:plugin:nightly",
        "from:gastown/polecats/nux",
    ] {
        assert!(labels.contains(label), "{label}: {labels}");
    }
    assert_eq!(bead[0]["priority"], 1);

    // LOW goes to the bead only.
    env.set("GT_ROLE", "mayor/");
    ok(gt(&env, &["escalate", "Disk at 80%", "-s", "LOW"]));
    assert_eq!(read(&root.join("logs/escalations.log")).lines().count(), 1);

    assert_cmd_snapshot!(env, env.command(GT).args(["escalate", "list"]), @r"
    exit_code: 0
    ----- stdout -----
    ID       SEVERITY  ACK  AGE  FROM                  TITLE
    [ID]  LOW       no   [DURATION]   mayor/                Disk at 80%
    [ID]  HIGH      no   [DURATION]   gastown/polecats/nux  Tests fail on main; $(touch /tmp/pwned) second line
    ----- stderr -----
    ");
    assert_cmd_snapshot!(env, env.command(GT).args(["escalate", "show", &id]), @r"
    exit_code: 0
    ----- stdout -----
    [ID]  HIGH  Tests fail on main; $(touch /tmp/pwned) second line
    Status:        open
    Severity:      HIGH
    Re-escalated:  0 time(s)
    Acknowledged:  no
    From:          gastown/polecats/nux
    Source:        plugin:nightly
    Raised:        [TIMESTAMP]
    Escalated:     [TIMESTAMP]

      The suite fails since yesterday.
    ----- stderr -----
    ");
    ok(gt(&env, &["escalate", "ack", &id]));
    assert_cmd_snapshot!(env, env.command(GT).args(["escalate", "ack", &id]), @r"
    exit_code: 0
    ----- stdout -----
    ----- stderr -----
    [ID] was acknowledged already (by mayor/)
    ");
    ok(gt(
        &env,
        &["escalate", "close", &id, "-r", "fixed the suite"],
    ));
    assert_cmd_snapshot!(env, env.command(GT).args(["escalate", "list", "--all"]), @r"
    exit_code: 0
    ----- stdout -----
    ID       STATUS  SEVERITY  ACK  AGE  FROM                  TITLE
    [ID]  open    LOW       no   [DURATION]   mayor/                Disk at 80%
    [ID]  closed  HIGH      yes  [DURATION]   gastown/polecats/nux  Tests fail on main; $(touch /tmp/pwned) second line
    ----- stderr -----
    ");
    // The event stream: the escalation's bead and its raising written together (one
    // transaction: nothing between them), its acknowledgement once.
    let all: Vec<serde_json::Value> = stdout(&ok(gt(&env, &["--json", "events"])))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let of = |kind: &str| {
        all.iter()
            .position(|e| e["bead"] == id.as_str() && e["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} of {id}: {all:#?}"))
    };
    let (created, raised_at) = (of("bead_created"), of("escalation_raised"));
    assert!(created < raised_at);
    assert!(
        all[created..raised_at]
            .iter()
            .all(|e| e["bead"] == id.as_str()),
        "{:#?}",
        &all[created..=raised_at]
    );
    let events: Vec<&serde_json::Value> = all.iter().filter(|e| e["bead"] == id.as_str()).collect();
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(all[raised_at]["payload"]["severity"], "HIGH");
    assert_eq!(
        kinds.iter().filter(|k| **k == "escalation_acked").count(),
        1,
        "{kinds:?}"
    );
}

#[test]
fn a_failing_command_is_reported_and_the_escalation_stands() {
    let env = TestEnv::new();
    let root = town(
        &env,
        r#"{"routes": {"critical": ["log", "command:/no/such/notifier"]}}"#,
    );
    let out = env
        .command(GT)
        .args(["escalate", "Production is down", "-s", "CRITICAL"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("route `command:/no/such/notifier` failed: cannot run `/no/such/notifier`"),
        "{err}"
    );
    let id = stdout(&out).trim().to_owned();
    assert_eq!(read(&root.join("logs/escalations.log")).lines().count(), 1);
    let shown = json(&ok(gt(&env, &["--json", "escalate", "show", &id])));
    assert_eq!(shown["status"], "open");
    assert!(
        shown["notes"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Route `command:/no/such/notifier` failed"),
        "{shown}"
    );
}

#[test]
fn dry_run_says_where_it_would_go_and_changes_nothing() {
    let env = TestEnv::new();
    town(&env, r#"{"routes": {"medium": ["log"]}}"#);
    assert_cmd_snapshot!(env, env.command(GT).args(["escalate", "Need a decision", "--dry-run"]), @r"
    exit_code: 0
    ----- stdout -----
    Would escalate (MEDIUM) along: bead, log
    ----- stderr -----
    ");
    assert_eq!(
        json(&ok(gt(&env, &["--json", "escalate", "list"]))),
        serde_json::json!([])
    );
}

#[test]
fn ack_stops_the_stale_pass_and_stale_bumps_once_per_threshold_up_to_the_max() {
    let env = TestEnv::new();
    let root = town(
        &env,
        r#"{"stale_threshold": "1h", "max_reescalations": 1, "routes": {"medium": ["log"], "high": ["log"]}}"#,
    );
    let quiet = stdout(&ok(gt(&env, &["escalate", "nobody answers"])))
        .trim()
        .to_owned();
    let answered = stdout(&ok(gt(&env, &["escalate", "someone answers"])))
        .trim()
        .to_owned();
    ok(gt(&env, &["escalate", "ack", &answered]));
    env.set("GT_TEST_NOW", "2026-01-01T01:00:30Z");
    assert_cmd_snapshot!(env, env.command(GT).args(["escalate", "stale", "--dry-run"]), @r"
    exit_code: 0
    ----- stdout -----
    Would re-escalate [ID]: MEDIUM -> HIGH (1 of 1)  nobody answers
    ----- stderr -----
    ");
    assert_cmd_snapshot!(env, env.command(GT).args(["escalate", "stale"]), @r"
    exit_code: 0
    ----- stdout -----
    Re-escalated [ID]: MEDIUM -> HIGH (1 of 1)  nobody answers
    ----- stderr -----
    ");
    // Once per threshold, and the maximum is one.
    assert_cmd_snapshot!(env, env.command(GT).args(["escalate", "stale"]), @r"
    exit_code: 0
    ----- stdout -----
    ----- stderr -----
    No stale escalations
    ");
    env.set("GT_TEST_NOW", "2026-01-01T05:00:00Z");
    assert_cmd_snapshot!(env, env.command(GT).args(["escalate", "stale"]), @r"
    exit_code: 0
    ----- stdout -----
    ----- stderr -----
    No stale escalations
    ");
    let shown = json(&ok(gt(&env, &["--json", "escalate", "show", &quiet])));
    assert_eq!(
        (shown["severity"].as_str(), shown["reescalations"].as_u64()),
        (Some("HIGH"), Some(1))
    );
    let log = read(&root.join("logs/escalations.log"));
    assert_eq!(log.matches("re-escalated").count(), 1, "{log}");
}

#[test]
fn bad_settings_unknown_ids_and_bad_values_fail_cleanly() {
    let env = TestEnv::new();
    let root = town(&env, r#"{"routes": {"high": ["bead", "pager"]}}"#);
    assert_cmd_snapshot!(env, env.command(GT).args(["escalate", "x", "-s", "HIGH"]), @r"
    exit_code: 1
    ----- stdout -----
    ----- stderr -----
    error: `[ROOT]/work/town/settings/escalation.json`: `routes.high[1]`: `pager` is not a route: use `bead`, `log`, `mail:<address>` or `command:<program> <args…>`

    hint: fix `settings/escalation.json` (routes: bead, log, mail:<address>, command:<program> <args>)
    ");

    std::fs::write(
        root.join("settings/escalation.json"),
        r#"{"stale_threshold": "soon"}"#,
    )
    .unwrap();
    assert_cmd_snapshot!(env, env.command(GT).args(["escalate", "stale"]), @r"
    exit_code: 1
    ----- stdout -----
    ----- stderr -----
    error: `[ROOT]/work/town/settings/escalation.json`: `stale_threshold`: `soon` is not a duration (like `[DURATION]`, `[DURATION]` or `[DURATION]`)

    hint: fix `settings/escalation.json` (routes: bead, log, mail:<address>, command:<program> <args>)
    ");

    std::fs::write(root.join("settings/escalation.json"), "{}").unwrap();
    assert_eq!(
        json(&ok(gt(&env, &["--json", "escalate", "list", "--all"]))),
        serde_json::json!([])
    );

    assert_cmd_snapshot!(env, env.command(GT).args(["escalate", "show", "hq-zzz9"]), @r"
    exit_code: 1
    ----- stdout -----
    ----- stderr -----
    error: no issue found matching `[ID]`
    ");
    assert_cmd_snapshot!(env, env.command(GT).args(["escalate", "ack", "hq-zzz9"]), @r"
    exit_code: 1
    ----- stdout -----
    ----- stderr -----
    error: no issue found matching `[ID]`
    ");
    // A bead that is not an escalation.
    let plain = stdout(&ok(env
        .command(super::work_loop::bd_bin())
        .current_dir(&root)
        .args(["create", "plain work", "--silent"])
        .output()
        .unwrap()))
    .trim()
    .to_owned();
    assert_cmd_snapshot!(env, env.command(GT).args(["escalate", "close", &plain]), @r"
    exit_code: 1
    ----- stdout -----
    ----- stderr -----
    error: `[ID]` is not an escalation (it has no `gt:escalation` label)

    hint: `gt escalate list --all` shows the escalations
    ");
    assert_cmd_snapshot!(env, env.command(GT).args(["escalate", "x", "-s", "urgent"]), @r"
    exit_code: 2
    ----- stdout -----
    ----- stderr -----
    error: invalid value 'urgent' for '--severity <SEVERITY>': `urgent` is not a severity (CRITICAL, HIGH, MEDIUM or LOW)

    For more information, try '--help'.
    ");
    assert_cmd_snapshot!(env, env.command(GT).args(["escalate", "x", "--source", "a b;rm"]), @r"
    exit_code: 1
    ----- stdout -----
    ----- stderr -----
    error: `a b;rm` is not a source: use `<type>:<name>` with letters, digits and `_-:./@`
    ");
    assert_cmd_snapshot!(env, env.command(GT).args(["escalate", "x", "--related", "hq-zzz9"]), @r"
    exit_code: 1
    ----- stdout -----
    ----- stderr -----
    error: no issue found matching `[ID]`
    ");
    assert_cmd_snapshot!(env, env.command(GT).args(["escalate", "   "]), @r"
    exit_code: 1
    ----- stdout -----
    ----- stderr -----
    error: an escalation needs a description: say what is wrong
    ");
    env.set("GT_ROLE", "../etc");
    assert_cmd_snapshot!(env, env.command(GT).args(["escalate", "x"]), @r"
    exit_code: 1
    ----- stdout -----
    ----- stderr -----
    error: `../etc` is not an address: the rig name has characters an address cannot hold

    hint: addresses: mayor/, deacon/, overseer, <rig>/witness, <rig>/refinery, <rig>/polecats/<name> (or <rig>/<name>), <rig>/crew/<name>, list:<name>, queue:<name>, @town, @rig/<rig>
    ");
    // Nothing was made by any of them.
    env.set("GT_ROLE", "mayor/");
    assert_eq!(
        json(&ok(gt(&env, &["--json", "escalate", "list", "--all"]))),
        serde_json::json!([])
    );
}
