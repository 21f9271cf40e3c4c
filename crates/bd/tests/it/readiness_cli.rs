//! `ready`, `blocked` and claiming through the CLI: what becomes ready when, and who gets it.

use crate::{create, fails, ids, json, ok, run, stderr, store};

#[test]
fn closing_a_blocker_makes_its_dependent_ready() {
    let env = store();
    let blocker = create(&env, "Blocker", &["-p", "1"]);
    let dependent = create(&env, "Dependent", &["-p", "0", "--deps", &blocker]);
    assert_eq!(ids(&json(&env, &["ready"])), [blocker.as_str()]);
    assert_eq!(ids(&json(&env, &["blocked"])), [dependent.as_str()]);
    assert_eq!(json(&env, &["show", &dependent])[0]["is_blocked"], true);

    let out = run(&env, &["close", &blocker, "--suggest-next"]);
    crate::assert_code(&out, 0);
    assert!(
        crate::stdout(&out).contains(&dependent),
        "{}",
        crate::stdout(&out)
    );
    assert_eq!(ids(&json(&env, &["ready"])), [dependent.as_str()]);
    assert_eq!(json(&env, &["blocked"]), serde_json::json!([]));

    ok(&env, &["reopen", &blocker]);
    assert_eq!(ids(&json(&env, &["blocked"])), [dependent]);
}

#[test]
fn ready_is_ordered_by_priority_and_filtered() {
    let env = store();
    let low = create(&env, "Low", &["-p", "3", "-l", "later"]);
    let high = create(&env, "High", &["-p", "0", "-a", "bob"]);
    let mid = create(&env, "Mid", &["-p", "2", "-t", "bug"]);
    assert_eq!(
        ids(&json(&env, &["ready"])),
        [high.clone(), mid.clone(), low.clone()]
    );
    assert_eq!(ids(&json(&env, &["ready", "-n", "1"])), [high.as_str()]);
    assert_eq!(ids(&json(&env, &["ready", "-a", "bob"])), [high]);
    assert_eq!(
        ids(&json(&env, &["ready", "--unassigned"])),
        [mid.clone(), low.clone()]
    );
    assert_eq!(ids(&json(&env, &["ready", "-t", "bug"])), [mid]);
    assert_eq!(ids(&json(&env, &["ready", "-l", "later"])), [low]);
}

#[test]
fn deferred_and_in_progress_issues_are_not_ready() {
    let env = store();
    let later = create(&env, "Later", &["--defer", "+2d"]);
    let busy = create(&env, "Busy", &[]);
    ok(&env, &["update", &busy, "-s", "in_progress"]);
    assert_eq!(json(&env, &["ready"]), serde_json::json!([]));
    assert_eq!(ids(&json(&env, &["ready", "--include-deferred"])), [later]);
    assert_cmd_snapshot_empty_ready(&env);
}

fn assert_cmd_snapshot_empty_ready(env: &testkit::TestEnv) {
    testkit::assert_cmd_snapshot!(env, crate::bd(env).arg("ready"), @r"
    exit_code: 0
    ----- stdout -----
    ----- stderr -----
    No ready work
    ");
}

#[test]
fn update_claim_is_exclusive() {
    let env = store();
    let id = create(&env, "Contested", &[]);
    let claimed = json(&env, &["update", &id, "--claim"]);
    assert_eq!(claimed[0]["status"], "in_progress");
    assert_eq!(claimed[0]["assignee"], "alice");
    assert!(claimed[0]["started_at"].is_string());
    // Claiming again as the holder is fine.
    json(&env, &["update", &id, "--claim"]);

    env.set("BD_ACTOR", "bob");
    let out = fails(&env, &["update", &id, "--claim"], 1);
    let err = stderr(&out);
    assert!(err.contains("already claimed by `alice`"), "{err}");
    assert!(err.contains("hint: "), "{err}");
    let out = fails(&env, &["update", &id, "--claim", "--json"], 1);
    let v: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(v["code"], "user_error");
    assert!(v["error"].as_str().unwrap().contains("already claimed"));
    assert_eq!(json(&env, &["show", &id])[0]["assignee"], "alice");

    let closed = create(&env, "Closed", &[]);
    ok(&env, &["close", &closed]);
    let out = fails(&env, &["update", &closed, "--claim"], 1);
    assert!(
        stderr(&out).contains("cannot be claimed"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn ready_claim_hands_out_each_issue_once() {
    let env = store();
    let first = create(&env, "First", &["-p", "0"]);
    let second = create(&env, "Second", &["-p", "1"]);

    let out = run(&env, &["ready", "--claim"]);
    crate::assert_code(&out, 0);
    assert_eq!(crate::stdout(&out), format!("{first}\n"));
    assert!(
        stderr(&out).contains(&format!("Claimed {first}: First")),
        "{}",
        stderr(&out)
    );

    env.set("BD_ACTOR", "bob");
    let got = json(&env, &["ready", "--claim"]);
    assert_eq!(got["id"], second);
    assert_eq!(got["assignee"], "bob");
    assert_eq!(got["status"], "in_progress");

    env.set("BD_ACTOR", "carol");
    let out = fails(&env, &["ready", "--claim"], 1);
    assert!(
        stderr(&out).contains("no ready issue to claim"),
        "{}",
        stderr(&out)
    );
    let out = fails(&env, &["update", &first, "--claim"], 1);
    assert!(
        stderr(&out).contains("already claimed by `alice`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(json(&env, &["show", &first])[0]["assignee"], "alice");
}

#[test]
fn parent_child_and_blocked_filters() {
    let env = store();
    let epic = create(&env, "Epic", &["-t", "epic"]);
    let step = create(&env, "Step", &["--parent", &epic]);
    let gate = create(&env, "Gate", &[]);
    ok(&env, &["dep", "add", &step, &gate]);
    assert_eq!(
        ids(&json(&env, &["blocked", "--parent", &epic])),
        [step.as_str()]
    );
    assert_eq!(ids(&json(&env, &["list", "--parent", &epic])), [step]);
    let other = create(&env, "Other epic", &["-t", "epic"]);
    assert_eq!(
        json(&env, &["blocked", "--parent", &other]),
        serde_json::json!([])
    );
}

#[test]
fn ready_explain_says_why_each_issue_is_ready_or_blocked() {
    let env = store();
    let done = create(&env, "done first", &[]);
    let freed = create(&env, "freed", &["--deps", &done]);
    ok(&env, &["close", &done]);
    let blocker = create(&env, "blocker", &[]);
    let held = create(&env, "held", &["--deps", &blocker]);
    let out = json(&env, &["ready", "--explain"]);
    let ready = out["ready"].as_array().unwrap();
    let item = ready.iter().find(|r| r["id"] == freed.as_str()).unwrap();
    assert_eq!(item["reason"], "1 blocker(s) resolved");
    assert_eq!(item["resolved_blockers"], serde_json::json!([done]));
    let plain = ready.iter().find(|r| r["id"] == blocker.as_str()).unwrap();
    assert_eq!(plain["reason"], "no blocking dependencies");
    assert_eq!(out["blocked"][0]["id"], held.as_str());
    assert_eq!(out["blocked"][0]["blocked_by"][0]["id"], blocker.as_str());
    assert_eq!(out["blocked"][0]["blocked_by"][0]["status"], "open");
    assert_eq!(
        out["summary"],
        serde_json::json!({"total_ready": 2, "total_blocked": 1, "cycle_count": 0})
    );
    assert!(ok(&env, &["ready", "--explain"]).contains("blocked by"));
    fails(&env, &["ready", "--explain", "--claim"], 2);
}
