//! Upstream's shorthands: each does what its long form does, and says so in the same JSON.

use crate::{create, fails, json, ok, run_stdin, store};

#[test]
fn shorthands_change_the_issue_like_update_does() {
    let env = store();
    let a = create(&env, "a", &[]);
    assert_eq!(json(&env, &["assign", &a, "bob"])[0]["assignee"], "bob");
    assert_eq!(json(&env, &["priority", &a, "P0"])[0]["priority"], 0);
    fails(&env, &["priority", &a, "9"], 2);
    ok(&env, &["note", &a, "first", "words"]);
    run_stdin(&env, &["note", &a, "--stdin"], "second\n");
    let notes = json(&env, &["show", &a])[0]["notes"].clone();
    assert_eq!(
        notes
            .as_str()
            .map(|n| (n.contains("first words"), n.contains("second"))),
        Some((true, true))
    );

    let deferred = json(&env, &["defer", &a, "--until", "+2d"]);
    assert_eq!(deferred[0]["status"], "deferred");
    assert!(deferred[0]["defer_until"].is_string());
    assert_eq!(json(&env, &["undefer", &a])[0]["status"], "open");
    assert!(json(&env, &["show", &a])[0].get("defer_until").is_none());
    fails(&env, &["undefer", &a], 1);

    let wisp = create(&env, "wisp", &["--ephemeral"]);
    assert!(
        json(&env, &["promote", &wisp])[0]
            .get("ephemeral")
            .is_none()
    );
    fails(&env, &["promote", &wisp], 1);
}

#[test]
fn links_relations_duplicates_and_supersessions_are_edges() {
    let env = store();
    let (a, b, c) = (
        create(&env, "a", &[]),
        create(&env, "b", &[]),
        create(&env, "c", &[]),
    );
    assert_eq!(json(&env, &["link", &a, &b])["type"], "blocks");
    assert_eq!(json(&env, &["blocked"])[0]["id"], a.as_str());

    ok(&env, &["relate", &b, &c]);
    for (x, y) in [(&b, &c), (&c, &b)] {
        let linked = json(&env, &["dep", "list", x, "--type", "relates-to"]);
        assert_eq!(linked[0]["id"], y.as_str());
    }
    ok(&env, &["unrelate", &c, &b]);
    assert_eq!(
        json(&env, &["dep", "list", &b, "--type", "relates-to"]),
        serde_json::json!([])
    );
    fails(&env, &["unrelate", &b, &c], 1);
    fails(&env, &["relate", &b, &b], 1);

    let dup = json(&env, &["duplicate", &c, "--of", &b]);
    assert_eq!(
        (dup["duplicate"].as_str(), dup["canonical"].as_str()),
        (Some(c.as_str()), Some(b.as_str()))
    );
    let shown = &json(&env, &["show", &c])[0];
    assert_eq!(shown["status"], "closed");
    assert_eq!(shown["dependencies"][0]["dependency_type"], "duplicates");

    let newer = create(&env, "newer", &[]);
    ok(&env, &["supersede", &b, "--with", &newer]);
    assert_eq!(json(&env, &["show", &b])[0]["status"], "closed");
}

#[test]
fn memories_are_kept_recalled_listed_primed_and_forgotten() {
    let env = store();
    let made = json(&env, &["remember", "Always run tests with -race"]);
    assert_eq!(
        (made["key"].as_str(), made["action"].as_str()),
        (Some("always-run-tests-with-race"), Some("remembered"))
    );
    let again = json(&env, &["remember", "JWT, not sessions", "--key", "auth"]);
    assert_eq!(again["key"], "auth");
    assert_eq!(
        json(&env, &["remember", "JWT only", "--key", "auth"])["action"],
        "updated"
    );
    assert_eq!(json(&env, &["recall", "auth"])["value"], "JWT only");
    assert_eq!(
        json(&env, &["memories"]).as_object().map(|m| m.len()),
        Some(2)
    );
    assert_eq!(
        json(&env, &["memories", "jwt"])
            .as_object()
            .map(|m| m.len()),
        Some(1)
    );
    assert!(ok(&env, &["prime"]).contains("[auth] JWT only"));
    ok(&env, &["forget", "auth"]);
    fails(&env, &["recall", "auth"], 1);
    fails(&env, &["forget", "auth"], 1);
}

#[test]
fn migrate_and_pour_are_accepted_as_upstream_spells_them() {
    let env = store();
    assert_eq!(json(&env, &["migrate", "--yes"])["status"], "ok");
    let poured = json(
        &env,
        &[
            "pour",
            "mol-code-review",
            "--var",
            "issue=t-x",
            "--var",
            "target=main",
        ],
    );
    assert_eq!(poured["phase"], "liquid");
}
