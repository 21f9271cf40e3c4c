//! Molecules through the CLI: `mol seed`, `wisp`/`mol wisp` (create, list, gc), `mol pour`'s
//! JSON, and a root that closes with its last step.

use serde_json::Value;

use crate::{bd, fails, json, ok, stderr, store};

const FORMULA: &str = "mol-code-review";
const VARS: [&str; 4] = ["--var", "issue=t-x", "--var", "target=main"];

fn with_vars<'a>(args: &[&'a str]) -> Vec<&'a str> {
    args.iter().copied().chain(VARS).collect()
}

#[test]
fn seed_checks_that_a_formula_cooks_without_writing_anything() {
    let env = store();
    assert_eq!(
        json(&env, &["mol", "seed", FORMULA]),
        serde_json::json!({"status": "ok", "formula": FORMULA})
    );
    let out = fails(&env, &["mol", "seed", "no-such-formula"], 1);
    assert!(
        stderr(&out).contains("hint: `bd formula list`"),
        "{}",
        stderr(&out)
    );
    // With variables the formula is checked as it would be poured: all required ones given.
    let out = fails(&env, &["mol", "seed", FORMULA, "--var", "issue=t-x"], 1);
    assert!(stderr(&out).contains("target"), "{}", stderr(&out));
    ok(&env, &with_vars(&["mol", "seed", FORMULA]));
    assert_eq!(json(&env, &["count", "--all"])["count"], 0);
}

#[test]
fn wisps_are_created_listed_and_kept_apart_from_poured_molecules() {
    let env = store();
    let made = json(&env, &with_vars(&["wisp", FORMULA]));
    let root = made["new_epic_id"].as_str().unwrap().to_owned();
    assert!(root.starts_with("t-wisp-"), "{root}");
    assert_eq!(made["phase"], "vapor");
    assert_eq!(made["id_mapping"][FORMULA], root.as_str());
    assert_eq!(
        made["id_mapping"][format!("{FORMULA}.review")],
        format!("{root}.review")
    );
    let created = made["created"].as_u64().unwrap();
    assert!(created > 1, "{made:#}");

    let poured = json(&env, &with_vars(&["mol", "pour", FORMULA]));
    assert_eq!(poured["phase"], "liquid");
    assert!(
        poured["new_epic_id"]
            .as_str()
            .unwrap()
            .starts_with("t-mol-")
    );

    for list in [&["wisp", "list"][..], &["mol", "wisp", "list"]] {
        let listed = json(&env, list);
        assert_eq!(listed["count"].as_u64(), Some(created), "{list:?}");
        let wisps = listed["wisps"].as_array().unwrap();
        assert!(
            wisps
                .iter()
                .all(|w| w["id"].as_str().unwrap().starts_with(&root))
        );
        assert_eq!(wisps[0]["priority"], 2);
        assert!(listed.get("old_count").is_none());
    }
    // A day later every wisp is old.
    let later = bd(&env)
        .env("GT_TEST_NOW", "2030-01-01T00:00:00Z")
        .args(["wisp", "list", "--json"])
        .output()
        .unwrap();
    let later: Value = serde_json::from_slice(&later.stdout).unwrap();
    assert_eq!(later["old_count"].as_u64(), Some(created));
    assert_eq!(later["wisps"][0]["old"], true);

    assert_eq!(
        json(&env, &["mol", "wisp", "gc", "--dry-run"])["dry_run"],
        true
    );
    fails(&env, &["wisp"], 2);
}

#[test]
fn closing_every_step_closes_the_molecule() {
    let env = store();
    let made = json(&env, &with_vars(&["wisp", FORMULA]));
    let root = made["new_epic_id"].as_str().unwrap().to_owned();
    let steps: Vec<String> = made["id_mapping"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap().to_owned())
        .filter(|id| *id != root)
        .collect();
    let mut args = vec!["close", "--force"];
    args.extend(steps.iter().map(String::as_str));
    ok(&env, &args);
    let shown = json(&env, &["show", &root]);
    assert_eq!(shown[0]["status"], "closed");
    assert_eq!(shown[0]["close_reason"], "all steps complete");
    assert_eq!(
        json(&env, &["wisp", "list"])["count"],
        0,
        "closed wisps are hidden"
    );
    assert_eq!(
        json(&env, &["wisp", "list", "--all"])["count"].as_u64(),
        Some(steps.len() as u64 + 1)
    );
}

#[test]
fn close_continue_claims_the_next_step_until_the_molecule_is_done() {
    let env = store();
    let root = json(&env, &with_vars(&["wisp", FORMULA]))["new_epic_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let steps: Vec<String> = json(&env, &["mol", "show", &root])["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(steps.len() >= 3, "{steps:?}");

    let first = json(&env, &["close", &steps[0], "--continue"]);
    let step = &first["continue"];
    assert_eq!(step["molecule_id"], root.as_str());
    assert_eq!(step["closed_step"]["id"], steps[0].as_str());
    assert_eq!(step["auto_advanced"], true);
    assert_eq!(step["molecule_complete"], false);
    assert_eq!(step["next_step"]["id"], steps[1].as_str());
    let next = &json(&env, &["show", &steps[1]])[0];
    assert_eq!(
        (next["status"].as_str(), next["assignee"].as_str()),
        (Some("in_progress"), Some("alice"))
    );

    let peek = json(&env, &["close", &steps[1], "--continue", "--no-auto"]);
    assert_eq!(peek["continue"]["auto_advanced"], false);
    assert_eq!(peek["continue"]["next_step"]["id"], steps[2].as_str());
    assert_eq!(json(&env, &["show", &steps[2]])[0]["status"], "open");

    let mut rest = vec!["close", "--force"];
    rest.extend(steps[2..steps.len() - 1].iter().map(String::as_str));
    ok(&env, &rest);
    let last = json(&env, &["close", &steps[steps.len() - 1], "--continue"]);
    assert_eq!(last["continue"]["molecule_complete"], true);
    assert!(last["continue"].get("next_step").is_none());

    let out = fails(&env, &["close", &steps[0], &steps[1], "--continue"], 2);
    assert!(stderr(&out).contains("one issue"), "{}", stderr(&out));
}

#[test]
fn close_suggest_next_and_claim_next_report_in_upstreams_shapes() {
    let env = store();
    let blocker = crate::create(&env, "blocker", &[]);
    let waiting = crate::create(&env, "waiting", &["--deps", &blocker]);
    let out = json(&env, &["close", &blocker, "--suggest-next"]);
    assert_eq!(out["closed"][0]["id"], blocker.as_str());
    assert_eq!(out["unblocked"][0]["id"], waiting.as_str());

    let other = crate::create(&env, "other", &["-p", "3"]);
    let out = json(&env, &["close", &waiting, "--claim-next"]);
    assert_eq!(out["closed"][0]["id"], waiting.as_str());
    assert_eq!(out["claimed"]["id"], other.as_str());
    assert_eq!(out["claimed"]["status"], "in_progress");
    // Nothing left to claim: the plain closed array.
    let out = json(&env, &["close", &other, "--claim-next"]);
    assert!(out.is_array(), "{out:#}");
}

#[test]
fn bond_attaches_a_formula_to_a_molecule_or_links_two_molecules() {
    let env = store();
    let patrol = json(&env, &with_vars(&["wisp", FORMULA]))["new_epic_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The ornament pattern: readable ids under the molecule, in its phase (a wisp here).
    let mut args = with_vars(&["mol", "bond", FORMULA, &patrol, "--type", "parallel"]);
    args.extend(["--ref", "arm-{{who}}", "--var", "who=ace"]);
    let arm = json(&env, &args);
    let arm_root = format!("{patrol}.arm-ace");
    assert_eq!(arm["result_id"], patrol.as_str());
    assert_eq!(arm["id_mapping"][FORMULA], arm_root.as_str());
    let shown = &json(&env, &["show", &arm_root])[0];
    assert_eq!(shown["ephemeral"], true);
    assert_eq!(shown["parent"], patrol.as_str());

    // Sequential: the spawned molecule waits for the one it is bonded to.
    let first = json(&env, &with_vars(&["mol", "pour", FORMULA]))["new_epic_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let after = json(&env, &with_vars(&["mol", "bond", &first, FORMULA]));
    let after_root = after["id_mapping"][FORMULA].as_str().unwrap().to_owned();
    assert!(after_root.starts_with("t-mol-"), "{after_root}");
    let blocked: Vec<String> = crate::ids(&json(&env, &["blocked"]));
    assert!(blocked.contains(&after_root), "{blocked:?}");

    // Two molecules: the second depends on the first.
    let linked = json(
        &env,
        &["mol", "bond", &patrol, &first, "--type", "conditional"],
    );
    assert_eq!(linked["bond_type"], "conditional");
    let deps = json(&env, &["dep", "list", &first]);
    assert!(
        deps.as_array()
            .unwrap()
            .iter()
            .any(|d| d["id"] == patrol.as_str() && d["dependency_type"] == "conditional-blocks")
    );

    fails(&env, &with_vars(&["mol", "bond", FORMULA, FORMULA]), 1);
    let mut bad = with_vars(&["mol", "bond", FORMULA, &patrol]);
    bad.extend(["--ref", "has space"]);
    fails(&env, &bad, 1);
}

#[test]
fn stale_lists_open_epics_whose_children_are_all_done() {
    let env = store();
    let epic = crate::create(&env, "epic", &["-t", "epic"]);
    let kid = crate::create(&env, "kid", &["--parent", &epic]);
    let waiting = crate::create(&env, "next epic", &["-t", "epic", "--deps", &epic]);
    assert_eq!(json(&env, &["mol", "stale"])["total_count"], 0);
    ok(&env, &["close", &kid]);
    let stale = json(&env, &["mol", "stale"]);
    assert_eq!(stale["total_count"], 1);
    let m = &stale["stale_molecules"][0];
    assert_eq!(
        (
            m["id"].as_str(),
            m["closed_children"].as_i64(),
            m["total_children"].as_i64()
        ),
        (Some(epic.as_str()), Some(1), Some(1))
    );
    assert_eq!(m["blocking_issues"], serde_json::json!([waiting]));
    assert_eq!(
        json(&env, &["mol", "stale", "--blocking"])["total_count"],
        1
    );
    ok(&env, &["update", &epic, "--assignee", "bob"]);
    assert_eq!(
        json(&env, &["mol", "stale", "--unassigned"])["total_count"],
        0
    );
    ok(&env, &["close", &epic]);
    assert_eq!(json(&env, &["mol", "stale"])["total_count"], 0);
}
