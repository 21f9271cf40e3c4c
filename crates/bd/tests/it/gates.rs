//! Gates: timer, bead, human and GitHub gates hold an issue back until `gate check` or
//! `gate resolve` closes them.

use crate::{bd, create, fails, ids, json, ok, store};

fn ready(env: &testkit::TestEnv) -> Vec<String> {
    ids(&json(env, &["ready"]))
}

#[test]
fn a_timer_gate_holds_its_issue_until_the_time_is_up() {
    let env = store();
    let work = create(&env, "deploy", &[]);
    let gate = json(
        &env,
        &[
            "gate",
            "create",
            "--blocks",
            &work,
            "-t",
            "timer",
            "--timeout",
            "1h",
        ],
    );
    let gate = gate["id"].as_str().unwrap().to_owned();
    assert!(!ready(&env).contains(&work));
    let now = json(&env, &["gate", "check"]);
    assert_eq!(
        (now["checked"].as_u64(), now["resolved"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(now["gates"][0]["outcome"], "pending");

    let later = bd(&env)
        .env("GT_TEST_NOW", "2030-01-01T00:00:00Z")
        .args(["gate", "check", "--json"])
        .output()
        .unwrap();
    let later: serde_json::Value = serde_json::from_slice(&later.stdout).unwrap();
    assert_eq!(later["resolved"], 1);
    assert_eq!(json(&env, &["show", &gate])[0]["status"], "closed");
    assert!(ready(&env).contains(&work));
    fails(
        &env,
        &["gate", "create", "--blocks", &work, "-t", "timer"],
        1,
    );
}

#[test]
fn a_bead_gate_waits_for_another_issue_even_named_with_its_rig() {
    let env = store();
    let work = create(&env, "integrate", &[]);
    let other = create(&env, "upstream change", &[]);
    let await_id = format!("other-rig:{other}");
    ok(
        &env,
        &[
            "gate",
            "create",
            "--blocks",
            &work,
            "-t",
            "bead",
            "--await-id",
            &await_id,
        ],
    );
    assert_eq!(
        json(&env, &["gate", "check", "--dry-run"])["gates"][0]["outcome"],
        "pending"
    );
    ok(&env, &["close", &other]);
    let dry = json(&env, &["gate", "check", "--dry-run"]);
    assert_eq!(dry["resolved"], 1);
    assert!(!ready(&env).contains(&work), "a dry run closes nothing");
    ok(&env, &["gate", "check", "-t", "bead"]);
    assert!(ready(&env).contains(&work));
}

#[test]
fn a_human_gate_is_resolved_by_hand_and_github_gates_ask_gh() {
    let env = store();
    let work = create(&env, "ship", &[]);
    let human = json(
        &env,
        &["gate", "create", "--blocks", &work, "-r", "sign-off"],
    );
    let human = human["id"].as_str().unwrap().to_owned();
    assert_eq!(
        json(&env, &["gate", "check"])["checked"],
        0,
        "people resolve human gates"
    );
    assert_eq!(ids(&json(&env, &["gate", "list"])), vec![human.clone()]);
    assert_eq!(
        json(&env, &["gate", "show", &human])[0]["await_type"],
        "human"
    );
    fails(&env, &["gate", "resolve", &work], 1);
    ok(&env, &["gate", "resolve", &human, "-r", "approved"]);
    assert!(ready(&env).contains(&work));
    assert!(json(&env, &["gate", "list"]).as_array().unwrap().is_empty());

    // A stand-in `gh` that says the PR merged.
    let bin = env.root().join("fake-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let gh = bin.join("gh");
    std::fs::write(&gh, "#!/bin/sh\necho '{\"state\":\"MERGED\"}'\n").unwrap();
    let mut perms = std::fs::metadata(&gh).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&gh, perms).unwrap();
    env.prepend_path(&bin);
    let next = create(&env, "after the PR", &[]);
    ok(
        &env,
        &[
            "gate",
            "create",
            "--blocks",
            &next,
            "-t",
            "gh:pr",
            "--await-id",
            "42",
        ],
    );
    let checked = json(&env, &["gate", "check", "-t", "gh"]);
    assert_eq!(checked["gates"][0]["reason"], "PR 42 was merged");
    assert!(ready(&env).contains(&next));
}

#[test]
fn ready_gated_finds_molecules_whose_gate_closed() {
    let env = store();
    let formulas = env.work().join(".beads/formulas");
    std::fs::create_dir_all(&formulas).unwrap();
    std::fs::write(
        formulas.join("ship.formula.toml"),
        "formula = \"ship\"\n[[steps]]\nid = \"build\"\ntitle = \"Build\"\n\
         [[steps]]\nid = \"deploy\"\ntitle = \"Deploy\"\nneeds = [\"build\"]\n\
         gate = { type = \"human\" }\n",
    )
    .unwrap();
    let root = json(&env, &["mol", "pour", "ship"])["new_epic_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (build, deploy, gate) = (
        format!("{root}.build"),
        format!("{root}.deploy"),
        format!("{root}.gate-deploy"),
    );
    ok(&env, &["close", &build]);
    assert_eq!(
        json(&env, &["ready", "--gated"])["count"],
        0,
        "the gate still holds"
    );
    ok(&env, &["gate", "resolve", &gate]);
    let found = json(&env, &["ready", "--gated"]);
    assert_eq!(found["count"], 1);
    let m = &found["molecules"][0];
    assert_eq!(
        (m["molecule_id"].as_str(), m["ready_step"]["id"].as_str()),
        (Some(root.as_str()), Some(deploy.as_str()))
    );
    assert_eq!(m["closed_gate"]["id"], gate.as_str());
    // Someone picks it up: no longer waiting for dispatch.
    ok(&env, &["update", &deploy, "--status", "hooked"]);
    assert_eq!(json(&env, &["ready", "--gated"])["count"], 0);
    fails(&env, &["ready", "--gated", "--claim"], 2);
}

#[test]
fn the_merge_slot_is_held_by_one_agent_at_a_time() {
    let env = store();
    let as_bob = |args: &[&str]| {
        let out = bd(&env)
            .env("BD_ACTOR", "bob")
            .args(args)
            .arg("--json")
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        (out.status.code(), v)
    };
    let out = crate::run(&env, &["merge-slot", "check"]);
    assert_eq!(out.status.code(), Some(1), "no slot yet");
    assert_eq!(json(&env, &["merge-slot", "create"])["id"], "t-merge-slot");
    ok(&env, &["merge-slot", "create"]);
    assert_eq!(json(&env, &["merge-slot", "check"])["available"], true);
    assert_eq!(json(&env, &["merge-slot", "acquire"])["acquired"], true);
    assert_eq!(
        json(&env, &["merge-slot", "acquire"])["acquired"],
        true,
        "again is fine"
    );

    let (code, busy) = as_bob(&["merge-slot", "acquire"]);
    assert_eq!((code, busy["holder"].as_str()), (Some(1), Some("alice")));
    let (code, queued) = as_bob(&["merge-slot", "acquire", "--wait"]);
    assert_eq!((code, queued["position"].as_u64()), (Some(1), Some(1)));
    let state = json(&env, &["merge-slot", "check"]);
    assert_eq!(
        (state["holder"].as_str(), state["waiters"].clone()),
        (Some("alice"), serde_json::json!(["bob"]))
    );
    let (code, _) = as_bob(&["merge-slot", "release", "--holder", "bob"]);
    assert_eq!(code, Some(1), "bob does not hold it");

    ok(&env, &["merge-slot", "release"]);
    assert_eq!(json(&env, &["merge-slot", "check"])["available"], true);
    let (code, got) = as_bob(&["merge-slot", "acquire"]);
    assert_eq!((code, got["acquired"].as_bool()), (Some(0), Some(true)));
    assert_eq!(
        json(&env, &["merge-slot", "check"])["waiters"],
        serde_json::json!([])
    );
}
