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
