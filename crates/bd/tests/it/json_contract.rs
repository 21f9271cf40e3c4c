//! The `--json` contract Gas Town and agents rely on (reference: beads.md §3): `show` is an
//! array even for one id, `priority` is always present, empty strings are left out, lists are
//! arrays, errors are JSON on stderr, and upstream's no-op flags are accepted.

use serde_json::Value;

use crate::{create, fails, ids, json, ok, run, stderr, store};

#[test]
fn show_returns_an_array_even_for_one_id() {
    let env = store();
    let a = create(&env, "One", &[]);
    let b = create(&env, "Two", &[]);
    let one = json(&env, &["show", &a]);
    assert!(one.is_array(), "{one:#}");
    assert_eq!(ids(&one), [a.as_str()]);
    assert_eq!(ids(&json(&env, &["show", &a, &b])), [a, b]);
}

#[test]
fn priority_is_always_present_even_when_zero() {
    let env = store();
    let created = json(&env, &["create", "Critical", "-p", "0"]);
    assert_eq!(created["priority"], 0);
    let id = created["id"].as_str().unwrap().to_owned();
    for value in [
        json(&env, &["show", &id])[0].clone(),
        json(&env, &["list"])[0].clone(),
        json(&env, &["ready"])[0].clone(),
        json(&env, &["search", "Critical"])[0].clone(),
        json(&env, &["update", &id, "--notes", "n"])[0].clone(),
        json(&env, &["close", &id])[0].clone(),
    ] {
        assert_eq!(value["priority"], 0, "{value:#}");
    }
}

#[test]
fn empty_strings_are_left_out() {
    let env = store();
    let created = json(&env, &["create", "Bare"]);
    let id = created["id"].as_str().unwrap().to_owned();
    let shown = json(&env, &["show", &id])[0].clone();
    for value in [&created, &shown, &json(&env, &["list"])[0]] {
        let obj = value.as_object().unwrap();
        for (k, v) in obj {
            assert_ne!(v, &Value::String(String::new()), "`{k}` is an empty string");
        }
        for absent in ["description", "assignee", "notes", "design", "close_reason"] {
            assert!(!obj.contains_key(absent), "`{absent}` present: {value:#}");
        }
    }
    // Clearing a field removes it again.
    json(&env, &["update", &id, "-a", "bob"]);
    assert_eq!(json(&env, &["show", &id])[0]["assignee"], "bob");
    json(&env, &["update", &id, "-a", ""]);
    assert!(json(&env, &["show", &id])[0].get("assignee").is_none());
}

#[test]
fn list_shaped_results_are_arrays() {
    let env = store();
    for args in [
        &["list"][..],
        &["ready"],
        &["blocked"],
        &["search", "x"],
        &["label", "list-all"],
        &["dep", "cycles"],
        &["sql", "SELECT id FROM issues"],
    ] {
        assert_eq!(json(&env, args), Value::Array(Vec::new()), "{args:?}");
    }
    let id = create(&env, "Some", &["-l", "a"]);
    for args in [
        &["list"][..],
        &["ready"],
        &["show", &id],
        &["update", &id, "-p", "1"],
        &["comments", &id],
        &["label", "list", &id],
        &["dep", "list", &id],
        &["history", &id],
    ] {
        assert!(json(&env, args).is_array(), "{args:?}");
    }
    let listed = json(&env, &["list"])[0].clone();
    assert_eq!(listed["labels"], serde_json::json!(["a"]));
}

#[test]
fn create_returns_the_object_with_its_id() {
    let env = store();
    let created = json(
        &env,
        &[
            "create",
            "Login fails",
            "-t",
            "bug",
            "-p",
            "1",
            "-a",
            "bob",
            "-l",
            "auth,web",
            "-d",
            "Steps",
        ],
    );
    assert!(created.is_object(), "{created:#}");
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("t-"), "{id}");
    assert_eq!(created["title"], "Login fails");
    assert_eq!(created["issue_type"], "bug");
    assert_eq!(created["status"], "open");
    assert_eq!(created["assignee"], "bob");
    assert_eq!(created["description"], "Steps");
    assert_eq!(created["created_by"], "alice");
    assert_eq!(created["created_at"], created["updated_at"]);
    let shown = &json(&env, &["show", id])[0];
    assert_eq!(shown["labels"], serde_json::json!(["auth", "web"]));
    // `q` prints only the id.
    let quick = ok(&env, &["q", "Quick"]);
    assert!(
        quick.trim().starts_with("t-") && quick.lines().count() == 1,
        "{quick}"
    );
}

#[test]
fn timestamps_follow_the_test_clock() {
    let env = store();
    let created = json(&env, &["create", "Clocked"]);
    let ts = created["created_at"].as_str().unwrap();
    assert!(ts.starts_with("2026-01-01T00:00:0"), "{ts}");
    assert!(ts.ends_with('Z'), "{ts}");
}

#[test]
fn errors_are_json_on_stderr() {
    let env = store();
    let out = fails(&env, &["show", "t-nope", "--json"], 1);
    assert!(out.stdout.is_empty());
    let err: Value = serde_json::from_slice(&out.stderr)
        .unwrap_or_else(|e| panic!("stderr is not JSON ({e}): {}", stderr(&out)));
    assert_eq!(err["schema_version"], 1);
    assert_eq!(err["code"], "user_error");
    assert_eq!(err["exit_code"], 1);
    assert!(err["error"].as_str().unwrap().contains("t-nope"), "{err:#}");
    assert!(err["hints"].is_array());
    assert!(err["causes"].is_array());

    let missing = testkit::TestEnv::new();
    let out = fails(&missing, &["list", "--json"], 1);
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["code"], "user_error");
    assert!(
        err["hints"][0].as_str().unwrap().contains("bd init"),
        "{err:#}"
    );
}

#[test]
fn usage_errors_are_json_too_when_json_is_asked_for() {
    let env = store();
    for args in [
        &["create", "Too urgent", "-p", "9", "--json"][..],
        &["--json", "no-such-command"],
        &["list", "--json", "--no-such-flag"],
    ] {
        let out = fails(&env, args, 2);
        assert!(out.stdout.is_empty(), "{args:?}");
        let err: Value = serde_json::from_slice(&out.stderr)
            .unwrap_or_else(|e| panic!("{args:?}: stderr is not JSON ({e}): {}", stderr(&out)));
        assert_eq!(err["schema_version"], 1, "{args:?}");
        assert_eq!(err["code"], "usage_error", "{args:?}");
        assert_eq!(err["exit_code"], 2, "{args:?}");
        assert!(!err["error"].as_str().unwrap().is_empty(), "{args:?}");
    }
    // Without `--json` (or after `--`), clap's own text.
    let out = fails(&env, &["create", "x", "-p", "9"], 2);
    assert!(stderr(&out).starts_with("error: "), "{}", stderr(&out));
}

#[test]
fn upstream_no_op_flags_are_accepted() {
    let env = store();
    let id = create(&env, "Flagged", &[]);
    let plain = json(&env, &["list"]);
    assert_eq!(json(&env, &["list", "--flat"]), plain);
    assert_eq!(
        json(&env, &["list", "--flat", "--allow-stale", "--no-daemon"]),
        plain
    );
    assert_eq!(
        json(&env, &["--allow-stale", "show", &id]),
        json(&env, &["show", &id])
    );
    assert_eq!(
        json(&env, &["ready", "--no-daemon"]),
        json(&env, &["ready"])
    );
    let out = run(
        &env,
        &["--no-daemon", "--allow-stale", "create", "Also", "--json"],
    );
    crate::assert_code(&out, 0);
}

#[test]
fn mutations_return_the_changed_issues() {
    let env = store();
    let a = create(&env, "A", &[]);
    let b = create(&env, "B", &[]);
    let updated = json(&env, &["update", &a, &b, "-p", "4"]);
    assert_eq!(ids(&updated), [a.clone(), b.clone()]);
    assert!(
        updated
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["priority"] == 4)
    );
    let dep = json(&env, &["dep", "add", &a, &b]);
    assert_eq!(dep["status"], "added");
    assert_eq!(dep["issue_id"], a);
    assert_eq!(dep["depends_on_id"], b);
    assert_eq!(json(&env, &["dep", "add", &a, &b])["status"], "exists");
    let shown = &json(&env, &["show", &a])[0];
    assert_eq!(shown["is_blocked"], true);
    assert_eq!(shown["dependencies"][0]["id"], b);
    let blocked = json(&env, &["blocked"]);
    assert_eq!(blocked[0]["id"], a);
    assert_eq!(blocked[0]["blocked_by"], serde_json::json!([b]));
}

#[test]
fn reports_name_full_ids_when_given_partial_ones() {
    let env = store();
    ok(&env, &["create", "A", "--id", "t-abcd"]);
    ok(&env, &["create", "B", "--id", "t-wxyz"]);
    let added = json(&env, &["dep", "add", "abcd", "wxyz"]);
    assert_eq!(
        (&added["issue_id"], &added["depends_on_id"]),
        (&"t-abcd".into(), &"t-wxyz".into())
    );
    let removed = json(&env, &["dep", "remove", "abcd", "wxyz"]);
    assert_eq!(removed["issue_id"], "t-abcd");
    assert_eq!(removed["depends_on_id"], "t-wxyz");
    assert_eq!(
        json(&env, &["label", "add", "abcd", "x"])[0]["issue_id"],
        "t-abcd"
    );
    assert_eq!(
        json(&env, &["label", "remove", "abcd", "x"])[0]["issue_id"],
        "t-abcd"
    );
    assert_eq!(json(&env, &["comment", "abcd", "hi"])["issue_id"], "t-abcd");
    assert_eq!(ids(&json(&env, &["show", "abcd"])), ["t-abcd"]);
}

/// What a write prints is the issue as it now is: labels, parent and counts included.
#[test]
fn writes_print_the_issue_with_its_labels_and_parent() {
    let env = crate::store();
    let made = crate::json(&env, &["create", "child", "-l", "a,b"]);
    assert_eq!(made["labels"], serde_json::json!(["a", "b"]));
    assert_eq!(made["dependency_count"], 0);
    let id = made["id"].as_str().unwrap().to_owned();
    let epic = crate::create(&env, "epic", &["-t", "epic"]);
    let updated = crate::json(
        &env,
        &["update", &id, "--add-label", "c", "--parent", &epic],
    );
    assert_eq!(updated[0]["labels"], serde_json::json!(["a", "b", "c"]));
    assert_eq!(updated[0]["parent"], epic.as_str());
    let closed = crate::json(&env, &["close", &id]);
    assert_eq!(closed[0]["labels"], serde_json::json!(["a", "b", "c"]));
}

/// `BD_JSON_ENVELOPE=1` wraps every JSON output, streamed listings included.
#[test]
fn the_envelope_wraps_every_output_when_asked_for() {
    let env = crate::store();
    let id = crate::create(&env, "a", &[]);
    env.set("BD_JSON_ENVELOPE", "1");
    for args in [
        &["list"][..],
        &["ready"],
        &["show", &id],
        &["config", "get", "issue_prefix"],
    ] {
        let out = crate::json(&env, args);
        assert_eq!(out["schema_version"], 1, "{args:?}: {out}");
        assert!(!out["data"].is_null(), "{args:?}: {out}");
    }
    assert_eq!(crate::json(&env, &["list"])["data"][0]["id"], id.as_str());
}
