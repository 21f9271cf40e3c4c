//! Mutations: validation, close rules, deletes, events, labels and comments (spec §8 item 11).

use beads::model::parse_metadata;
use beads::{Changes, CloseOptions, Error, NewIssue, Store};

use crate::{assert_no_drift, child, count, create, fresh, is_blocked, is_ready, task, typed};

fn snapshot(s: &mut Store) -> (i64, i64, i64, i64) {
    (
        count(s, "SELECT count(*) FROM issues"),
        count(s, "SELECT count(*) FROM events"),
        count(s, "SELECT count(*) FROM labels"),
        count(s, "SELECT count(*) FROM dependencies"),
    )
}

fn event_types(s: &Store, id: &str) -> Vec<String> {
    s.history(id)
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect()
}

#[test]
fn invalid_input_is_rejected_and_changes_nothing() {
    let (_d, mut s) = fresh();
    let id = task(&mut s, "keep me");
    let before = snapshot(&mut s);
    let original = s.get(&id).unwrap();

    let long = "x".repeat(501);
    let new = |f: &dyn Fn(&mut NewIssue)| {
        let mut n = NewIssue {
            title: "ok".into(),
            ..NewIssue::default()
        };
        f(&mut n);
        n
    };
    let attempts: Vec<(&str, NewIssue)> = vec![
        ("title", new(&|n| n.title.clone_from(&long))),
        ("title", new(&|n| n.title = "   ".into())),
        ("title", new(&|n| n.title = "two\nlines".into())),
        ("priority", new(&|n| n.priority = Some(9))),
        ("priority", new(&|n| n.priority = Some(-1))),
        ("status", new(&|n| n.status = Some("doing".into()))),
        ("type", new(&|n| n.issue_type = Some("saga".into()))),
        ("label", new(&|n| n.labels = vec!["two words".into()])),
        (
            "flags",
            new(&|n| {
                n.ephemeral = true;
                n.no_history = true;
            }),
        ),
        (
            "dependency type",
            new(&|n| n.deps = vec![("bad kind".into(), id.clone())]),
        ),
    ];
    for (field, attempt) in attempts {
        match s.create(attempt) {
            Err(Error::Invalid { field: got, .. }) => assert_eq!(got, field),
            other => panic!("expected invalid {field}, got {other:?}"),
        }
    }
    // A dependency on an unknown issue fails the whole create.
    assert!(matches!(
        s.create(NewIssue {
            title: "ok".into(),
            deps: vec![("blocks".into(), "bd-nope".into())],
            ..NewIssue::default()
        }),
        Err(Error::NotFound { .. })
    ));

    let bad_updates = [
        Changes {
            title: Some(long.clone()),
            ..Changes::default()
        },
        Changes {
            priority: Some(9),
            ..Changes::default()
        },
        Changes {
            status: Some("doing".into()),
            ..Changes::default()
        },
        Changes {
            issue_type: Some("saga".into()),
            ..Changes::default()
        },
        Changes {
            add_labels: vec!["a,b".into()],
            ..Changes::default()
        },
        Changes {
            ephemeral: Some(true),
            no_history: Some(true),
            ..Changes::default()
        },
        Changes {
            parent: Some(Some("bd-nope".into())),
            ..Changes::default()
        },
        // A valid field alongside an invalid one is not half-applied.
        Changes {
            description: Some("new text".into()),
            priority: Some(7),
            ..Changes::default()
        },
    ];
    for changes in &bad_updates {
        assert!(s.update(&id, changes).is_err(), "{changes:?} should fail");
    }

    for bad in ["not json", "[1,2]", "\"str\"", "{\"a\":"] {
        assert!(
            matches!(
                parse_metadata(bad),
                Err(Error::Invalid {
                    field: "metadata",
                    ..
                })
            ),
            "{bad}"
        );
    }
    assert_eq!(
        parse_metadata(r#"{"k":1}"#).unwrap().get("k"),
        Some(&serde_json::json!(1))
    );
    let other = task(&mut s, "other");
    let before_dep = snapshot(&mut s);
    assert!(matches!(
        s.add_dependency(&id, &other, "blocks", Some("{bad")),
        Err(Error::Invalid { .. })
    ));
    assert!(matches!(
        s.add_dependency(&id, "external:nocapability", "blocks", None),
        Err(Error::Invalid { .. })
    ));
    assert!(matches!(
        s.add_comment(&id, "   "),
        Err(Error::Invalid { .. })
    ));
    assert!(matches!(
        s.config_set("status.custom", "closed:done"),
        Err(Error::Invalid { .. })
    ));
    assert_eq!(snapshot(&mut s), before_dep);

    s.delete(std::slice::from_ref(&other)).unwrap();
    let (issues, _, labels, deps) = snapshot(&mut s);
    assert_eq!((issues, labels, deps), (before.0, before.2, before.3));
    assert_eq!(s.get(&id).unwrap(), original);
    assert_no_drift(&s);
}

#[test]
fn close_refuses_a_blocked_issue_unless_forced() {
    let (_d, mut s) = fresh();
    let a = task(&mut s, "a");
    let b = task(&mut s, "b");
    s.add_dependency(&b, &a, "blocks", None).unwrap();
    match s.close(&b, &CloseOptions::default()) {
        Err(Error::Conflict(msg)) => assert!(msg.contains(&a), "{msg}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(s.get(&b).unwrap().status, "open");
    let closed = s
        .close(
            &b,
            &CloseOptions {
                reason: "anyway".into(),
                force: true,
                ..CloseOptions::default()
            },
        )
        .unwrap();
    assert_eq!(closed.status, "closed");
    assert_eq!(closed.close_reason, "anyway");
    assert!(!is_blocked(&s, &b), "closed issues are never blocked");
    assert_no_drift(&s);
}

#[test]
fn close_refuses_an_epic_with_open_children_and_a_pinned_issue() {
    let (_d, mut s) = fresh();
    let epic = typed(&mut s, "epic", "epic");
    let kid = child(&mut s, &epic, "kid");
    match s.close(&epic, &CloseOptions::default()) {
        Err(Error::Conflict(msg)) => assert!(msg.contains(&kid), "{msg}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    s.close(&kid, &CloseOptions::default()).unwrap();
    assert_eq!(
        s.close(&epic, &CloseOptions::default()).unwrap().status,
        "closed"
    );

    let pinned = task(&mut s, "pinned");
    s.update(
        &pinned,
        &Changes {
            pinned: Some(true),
            ..Changes::default()
        },
    )
    .unwrap();
    assert!(matches!(
        s.close(&pinned, &CloseOptions::default()),
        Err(Error::Conflict(_))
    ));
    assert!(
        s.close(
            &pinned,
            &CloseOptions {
                force: true,
                ..CloseOptions::default()
            }
        )
        .is_ok()
    );
    assert_no_drift(&s);
}

#[test]
fn close_accepts_issues_whose_dependencies_are_satisfied() {
    let (_d, mut s) = fresh();
    // An external dependency whose capability has been provided.
    let provider = create(
        &mut s,
        NewIssue {
            title: "auth".into(),
            labels: vec!["provides:auth".into()],
            ..NewIssue::default()
        },
    );
    s.close(&provider, &CloseOptions::default()).unwrap();
    let w = task(&mut s, "uses auth");
    s.add_dependency(&w, "external:platform:auth", "blocks", None)
        .unwrap();
    assert!(is_ready(&s, &w));
    s.close(&w, &CloseOptions::default()).unwrap();

    // A waits-for any-children gate that one closed child satisfied.
    let spawner = task(&mut s, "spawner");
    let c1 = child(&mut s, &spawner, "c1");
    let _c2 = child(&mut s, &spawner, "c2");
    s.close(&c1, &CloseOptions::default()).unwrap();
    let waiter = task(&mut s, "waiter");
    s.add_dependency(
        &waiter,
        &spawner,
        "waits-for",
        Some(r#"{"gate":"any-children"}"#),
    )
    .unwrap();
    assert!(is_ready(&s, &waiter));
    s.close(&waiter, &CloseOptions::default()).unwrap();

    // A failed conditional blocker.
    let attempt = task(&mut s, "attempt");
    let fallback = task(&mut s, "fallback");
    s.add_dependency(&fallback, &attempt, "conditional-blocks", None)
        .unwrap();
    s.close(
        &attempt,
        &CloseOptions {
            reason: "failed: tests".into(),
            ..CloseOptions::default()
        },
    )
    .unwrap();
    s.close(&fallback, &CloseOptions::default()).unwrap();
    assert_no_drift(&s);
}

#[test]
fn closed_at_follows_the_status() {
    let (_d, mut s) = fresh();
    let id = task(&mut s, "a");
    assert!(s.get(&id).unwrap().closed_at.is_none());
    let closed = s
        .update(
            &id,
            &Changes {
                status: Some("closed".into()),
                ..Changes::default()
            },
        )
        .unwrap();
    assert_eq!(closed.closed_at.as_deref(), Some(crate::at(0).as_str()));
    let reopened = s
        .update(
            &id,
            &Changes {
                status: Some("open".into()),
                ..Changes::default()
            },
        )
        .unwrap();
    assert!(reopened.closed_at.is_none());

    s.close(
        &id,
        &CloseOptions {
            reason: "done".into(),
            ..CloseOptions::default()
        },
    )
    .unwrap();
    let reopened = s.reopen(&id, "again").unwrap();
    assert!(reopened.closed_at.is_none());
    assert!(reopened.close_reason.is_empty());
    assert_eq!(reopened.status, "open");
    assert!(
        matches!(s.reopen(&id, ""), Err(Error::Conflict(_))),
        "reopening an open issue is refused"
    );
    assert_eq!(
        event_types(&s, &id),
        vec!["created", "closed", "reopened", "closed", "reopened"]
    );
    assert_eq!(
        count(
            &mut s,
            "SELECT count(*) FROM issues WHERE (status = 'closed') != (closed_at IS NOT NULL)"
        ),
        0
    );
    assert_no_drift(&s);
}

#[test]
fn delete_removes_the_issue_its_relations_and_unblocks_dependents() {
    let (_d, mut s) = fresh();
    let a = create(
        &mut s,
        NewIssue {
            title: "a".into(),
            labels: vec!["x".into(), "y".into()],
            ..NewIssue::default()
        },
    );
    let b = task(&mut s, "b");
    let c = task(&mut s, "c");
    s.add_dependency(&b, &a, "blocks", None).unwrap();
    s.add_dependency(&a, &c, "related", None).unwrap();
    s.add_comment(&a, "first").unwrap();
    s.add_comment(&a, "second").unwrap();
    assert!(is_blocked(&s, &b));

    assert_eq!(
        s.delete_plan(std::slice::from_ref(&a), true).unwrap(),
        vec![a.clone(), b.clone()]
    );
    assert_eq!(s.delete(std::slice::from_ref(&a)).unwrap(), 1);
    assert!(matches!(s.get(&a), Err(Error::NotFound { .. })));
    assert_eq!(
        count(
            &mut s,
            &format!("SELECT count(*) FROM labels WHERE issue_id = '{a}'")
        ),
        0
    );
    assert_eq!(
        count(
            &mut s,
            &format!("SELECT count(*) FROM comments WHERE issue_id = '{a}'")
        ),
        0
    );
    assert_eq!(
        count(
            &mut s,
            &format!(
                "SELECT count(*) FROM dependencies WHERE issue_id = '{a}' OR depends_on_id = '{a}'"
            )
        ),
        0
    );
    assert!(is_ready(&s, &b));
    assert!(is_ready(&s, &c));
    assert_eq!(
        count(
            &mut s,
            &format!(
                "SELECT count(*) FROM events WHERE issue_id = '{a}' AND event_type = 'deleted'"
            )
        ),
        1
    );
    assert_no_drift(&s);
}

#[test]
fn deleting_a_spawner_releases_its_waiters() {
    let (_d, mut s) = fresh();
    let spawner = task(&mut s, "spawner");
    let kid = child(&mut s, &spawner, "kid");
    let waiter = task(&mut s, "waiter");
    s.add_dependency(&waiter, &spawner, "waits-for", None)
        .unwrap();
    assert!(is_blocked(&s, &waiter));
    s.delete(std::slice::from_ref(&spawner)).unwrap();
    assert_no_drift(&s);
    assert!(is_ready(&s, &waiter));
    assert!(is_ready(&s, &kid));
}

#[test]
fn deleting_a_blocked_parent_frees_its_children() {
    let (_d, mut s) = fresh();
    let gate = typed(&mut s, "gate", "epic");
    let epic = typed(&mut s, "epic", "epic");
    s.add_dependency(&epic, &gate, "blocks", None).unwrap();
    let kid = child(&mut s, &epic, "kid");
    let grandkid = child(&mut s, &kid, "grandkid");
    assert!(is_blocked(&s, &grandkid));
    s.delete(std::slice::from_ref(&epic)).unwrap();
    assert!(is_ready(&s, &kid));
    assert!(is_ready(&s, &grandkid));
    assert_no_drift(&s);
}

#[test]
fn every_mutation_writes_an_event() {
    let (_d, mut s) = fresh();
    let a = task(&mut s, "a");
    let b = task(&mut s, "b");
    let mut expect = vec!["created"];
    assert_eq!(event_types(&s, &a), expect);

    s.update(
        &a,
        &Changes {
            title: Some("a, renamed".into()),
            priority: Some(1),
            ..Changes::default()
        },
    )
    .unwrap();
    expect.push("updated");
    s.update(
        &a,
        &Changes {
            status: Some("blocked".into()),
            ..Changes::default()
        },
    )
    .unwrap();
    expect.push("status_changed");
    s.add_labels(&a, &["ui".into(), "p1".into()]).unwrap();
    expect.extend(["label_added", "label_added"]);
    s.add_labels(&a, &["ui".into()]).unwrap(); // already there: no event
    s.remove_labels(&a, &["p1".into(), "absent".into()])
        .unwrap();
    expect.push("label_removed");
    s.add_comment(&a, "looks good").unwrap();
    expect.push("commented");
    s.add_dependency(&a, &b, "related", None).unwrap();
    expect.push("dependency_added");
    s.remove_dependency(&a, &b).unwrap();
    expect.push("dependency_removed");
    s.close(
        &a,
        &CloseOptions {
            reason: "shipped".into(),
            ..CloseOptions::default()
        },
    )
    .unwrap();
    expect.push("closed");
    s.reopen(&a, "").unwrap();
    expect.push("reopened");
    s.claim(&a).unwrap();
    expect.push("claimed");
    assert_eq!(event_types(&s, &a), expect);

    let history = s.history(&a).unwrap();
    assert!(
        history
            .iter()
            .all(|e| e.actor == "alice" && e.issue_id == a)
    );
    let updated = &history[1];
    let old: serde_json::Value =
        serde_json::from_str(updated.old_value.as_deref().unwrap()).unwrap();
    let new: serde_json::Value =
        serde_json::from_str(updated.new_value.as_deref().unwrap()).unwrap();
    assert_eq!(old["title"], "a");
    assert_eq!(new["title"], "a, renamed");
    assert_eq!(new["priority"], 1);
    assert_eq!(
        history
            .iter()
            .find(|e| e.event_type == "commented")
            .unwrap()
            .comment
            .as_deref(),
        Some("looks good")
    );

    // A no-op update changes nothing and records nothing.
    let n = s.history(&a).unwrap().len();
    s.update(&a, &Changes::default()).unwrap();
    assert_eq!(s.history(&a).unwrap().len(), n);
    assert_no_drift(&s);
}

#[test]
fn labels_and_comments_round_trip() {
    let (_d, mut s) = fresh();
    let a = task(&mut s, "a");
    assert_eq!(
        s.add_labels(&a, &["b".into(), "a".into(), "b".into()])
            .unwrap(),
        vec!["b".to_owned(), "a".into()]
    );
    assert_eq!(s.labels(&a).unwrap(), vec!["a".to_owned(), "b".into()]);
    assert_eq!(
        s.remove_labels(&a, &["a".into(), "zzz".into()]).unwrap(),
        vec!["a".to_owned()]
    );
    s.update(
        &a,
        &Changes {
            set_labels: Some(vec!["x".into(), "y".into()]),
            ..Changes::default()
        },
    )
    .unwrap();
    assert_eq!(s.labels(&a).unwrap(), vec!["x".to_owned(), "y".into()]);
    assert_eq!(
        s.all_labels().unwrap(),
        vec![("x".to_owned(), 1), ("y".to_owned(), 1)]
    );

    let c1 = s.add_comment(&a, "one").unwrap();
    let c2 = s.add_comment(&a, "two").unwrap();
    assert_ne!(
        c1.id, c2.id,
        "same instant, same author: still distinct ids"
    );
    assert_eq!(c1.author, "alice");
    let texts: Vec<String> = s
        .comments(&a)
        .unwrap()
        .into_iter()
        .map(|c| c.text)
        .collect();
    assert_eq!(texts.len(), 2);
    assert!(texts.contains(&"one".to_owned()) && texts.contains(&"two".to_owned()));
    let shown = s.show(&a).unwrap();
    assert_eq!(shown.comments.len(), 2);
    assert_eq!(shown.labels, vec!["x".to_owned(), "y".into()]);
    assert_no_drift(&s);
}

#[test]
fn metadata_updates_merge_and_unset_keys() {
    let (_d, mut s) = fresh();
    let meta = parse_metadata(r#"{"a":1,"b":"two"}"#).unwrap();
    let id = create(
        &mut s,
        NewIssue {
            title: "m".into(),
            metadata: Some(meta),
            ..NewIssue::default()
        },
    );
    let issue = s
        .update(
            &id,
            &Changes {
                set_metadata: vec![("c".into(), serde_json::json!(true))],
                unset_metadata: vec!["a".into()],
                ..Changes::default()
            },
        )
        .unwrap();
    assert_eq!(
        issue.metadata,
        Some(serde_json::json!({"b": "two", "c": true}))
    );
}

/// The labels, counts and parent a listing shows for `id`.
fn listed(s: &Store, id: &str) -> (Vec<String>, Option<String>, i64, i64, i64) {
    let v = s
        .list(&beads::Filter {
            all: true,
            limit: 0,
            ..beads::Filter::default()
        })
        .unwrap()
        .into_iter()
        .find(|v| v.issue.id == id)
        .unwrap();
    (
        v.labels,
        v.parent,
        v.dependency_count,
        v.dependent_count,
        v.comment_count,
    )
}

#[test]
fn listings_show_labels_counts_and_parent_as_they_change() {
    let (_d, mut s) = fresh();
    let epic = typed(&mut s, "epic", "epic");
    let a = child(&mut s, &epic, "a");
    let b = task(&mut s, "b");
    let c = task(&mut s, "c");
    assert_eq!(listed(&s, &a), (vec![], Some(epic.clone()), 1, 0, 0));
    assert_eq!(listed(&s, &epic), (vec![], None, 0, 1, 0));

    s.add_labels(&a, &["zeta".into(), "alpha".into()]).unwrap();
    s.add_dependency(&a, &b, "blocks", None).unwrap();
    s.add_dependency(&c, &b, "related", None).unwrap();
    s.add_comment(&a, "first").unwrap();
    s.add_comment(&a, "second").unwrap();
    assert_eq!(
        listed(&s, &a),
        (
            vec!["alpha".into(), "zeta".into()],
            Some(epic.clone()),
            2,
            0,
            2
        )
    );
    assert_eq!(listed(&s, &b), (vec![], None, 0, 2, 0));

    s.remove_labels(&a, &["alpha".into()]).unwrap();
    s.remove_dependency(&a, &b).unwrap();
    assert_eq!(
        listed(&s, &a),
        (vec!["zeta".into()], Some(epic.clone()), 1, 0, 2)
    );
    assert_eq!(listed(&s, &b), (vec![], None, 0, 1, 0));

    // Deleting an issue takes its edges with it: its target's dependent count drops.
    s.delete(&[c]).unwrap();
    assert_eq!(listed(&s, &b), (vec![], None, 0, 0, 0));
    s.delete(&[epic]).unwrap();
    assert_eq!(listed(&s, &a).1, None, "the parent is gone");
    assert_no_drift(&s);
}

#[test]
fn doctor_finds_and_repairs_stale_relation_summaries() {
    let (d, mut s) = fresh();
    let a = task(&mut s, "a");
    s.add_labels(&a, &["x".into()]).unwrap();
    // Another program writing the file directly can leave the kept counts wrong.
    let raw = rusqlite::Connection::open(d.path().join(".beads/beads.db")).unwrap();
    raw.execute(
        "UPDATE issues SET cached_labels = '[]', cached_comment_count = 7 WHERE id = ?1",
        [&a],
    )
    .unwrap();
    drop(raw);
    assert_eq!(s.stale_summaries().unwrap(), vec![a.clone()]);
    let finding = |s: &mut Store, fix| {
        s.doctor(fix)
            .unwrap()
            .into_iter()
            .find(|f| f.check == "relation_summaries")
            .unwrap()
    };
    let found = finding(&mut s, false);
    assert_eq!((found.status, found.fixed), ("error", false));
    assert!(found.message.contains(&a), "{}", found.message);
    let repaired = finding(&mut s, true);
    assert!(repaired.fixed);
    assert_eq!(finding(&mut s, false).status, "ok");
    assert_eq!(listed(&s, &a), (vec!["x".into()], None, 0, 0, 0));
    assert_no_drift(&s);
}

#[test]
fn show_reports_an_epics_progress() {
    let (_d, mut s) = fresh();
    let epic = typed(&mut s, "epic", "epic");
    assert_eq!(
        s.show(&epic).unwrap().epic,
        None,
        "no children, no progress"
    );
    let a = child(&mut s, &epic, "a");
    let b = child(&mut s, &epic, "b");
    let progress = |s: &Store| {
        let e = s.show(&epic).unwrap().epic.unwrap();
        (
            e.epic_closed_children,
            e.epic_total_children,
            e.epic_closeable,
        )
    };
    assert_eq!(progress(&s), (0, 2, false));
    s.close(&a, &CloseOptions::default()).unwrap();
    assert_eq!(progress(&s), (1, 2, false));
    s.close(&b, &CloseOptions::default()).unwrap();
    assert_eq!(progress(&s), (2, 2, true));
    let task_parent = task(&mut s, "plain parent");
    child(&mut s, &task_parent, "c");
    assert_eq!(
        s.show(&task_parent).unwrap().epic,
        None,
        "only epics report progress"
    );
    assert_no_drift(&s);
}
