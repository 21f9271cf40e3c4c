//! Golden tests for the ready algorithm (spec §4) and our deliberate departures from upstream.

use beads::{Changes, CloseOptions, Filter, NewIssue, Sort};

use crate::{
    assert_no_drift, at, child, create, fresh, is_blocked, is_ready, ready, ready_with, stepped,
    task, typed,
};

fn close(store: &mut beads::Store, id: &str, reason: &str) {
    store
        .close(
            id,
            &CloseOptions {
                reason: reason.into(),
                force: true,
                ..CloseOptions::default()
            },
        )
        .unwrap();
}

fn set_status(store: &mut beads::Store, id: &str, status: &str) {
    store
        .update(
            id,
            &Changes {
                status: Some(status.into()),
                ..Changes::default()
            },
        )
        .unwrap();
}

#[test]
fn blocks_holds_the_dependent_until_the_blocker_closes_and_reopening_reblocks() {
    let (_d, mut s) = fresh();
    let a = task(&mut s, "A");
    let b = task(&mut s, "B");
    assert!(s.add_dependency(&b, &a, "blocks", None).unwrap());
    assert_eq!(ready(&s), vec![a.clone()]);
    assert!(is_blocked(&s, &b));
    assert_no_drift(&s);

    close(&mut s, &a, "done");
    assert_eq!(ready(&s), vec![b.clone()]);
    assert_no_drift(&s);

    s.reopen(&a, "not really").unwrap();
    assert!(is_blocked(&s, &b));
    assert!(!is_ready(&s, &b));
    assert!(is_ready(&s, &a));
    assert_no_drift(&s);
}

#[test]
fn in_progress_deferred_and_hooked_blockers_still_block() {
    let (_d, mut s) = fresh();
    for status in ["in_progress", "blocked", "deferred", "hooked"] {
        let a = task(&mut s, &format!("blocker {status}"));
        let b = task(&mut s, &format!("dependent {status}"));
        s.add_dependency(&b, &a, "blocks", None).unwrap();
        set_status(&mut s, &a, status);
        assert!(is_blocked(&s, &b), "a `{status}` blocker must block");
        assert_no_drift(&s);
    }
}

#[test]
fn pinned_and_closed_blockers_do_not_block() {
    let (_d, mut s) = fresh();
    let pinned = task(&mut s, "pinned blocker");
    let closed = task(&mut s, "closed blocker");
    let b = task(&mut s, "B");
    let c = task(&mut s, "C");
    set_status(&mut s, &pinned, "pinned");
    close(&mut s, &closed, "done");
    s.add_dependency(&b, &pinned, "blocks", None).unwrap();
    s.add_dependency(&c, &closed, "blocks", None).unwrap();
    assert!(!is_blocked(&s, &b));
    assert!(!is_blocked(&s, &c));
    assert!(is_ready(&s, &b));
    assert!(is_ready(&s, &c));
    assert!(!is_ready(&s, &pinned), "a pinned issue is not ready work");
    assert_no_drift(&s);
}

#[test]
fn conditional_blocks_runs_the_dependent_only_when_the_blocker_fails() {
    let (_d, mut s) = fresh();
    let a = task(&mut s, "try the fast path");
    let b = task(&mut s, "fallback");
    s.add_dependency(&b, &a, "conditional-blocks", None)
        .unwrap();
    assert!(is_blocked(&s, &b));
    assert_no_drift(&s);

    close(&mut s, &a, "failed: tests");
    assert!(is_ready(&s, &b), "a failed blocker releases the fallback");
    assert_no_drift(&s);

    s.reopen(&a, "").unwrap();
    assert!(is_blocked(&s, &b));
    close(&mut s, &a, "done");
    assert!(
        is_blocked(&s, &b),
        "a successful blocker keeps the fallback blocked"
    );
    assert!(!is_ready(&s, &b));
    assert_no_drift(&s);

    // Failure keywords match case-insensitively anywhere in the reason.
    let x = task(&mut s, "X");
    let y = task(&mut s, "Y");
    s.add_dependency(&y, &x, "conditional-blocks", None)
        .unwrap();
    close(&mut s, &x, "Build TIMEOUT after 10m");
    assert!(is_ready(&s, &y));
    assert_no_drift(&s);
}

#[test]
fn a_blocked_epic_blocks_its_descendants_transitively() {
    let (_d, mut s) = fresh();
    let gate = typed(&mut s, "prerequisite epic", "epic");
    let epic = typed(&mut s, "epic", "epic");
    let kid = child(&mut s, &epic, "child");
    let grandkid = child(&mut s, &kid, "grandchild");
    assert_eq!(kid, format!("{epic}.1"));
    assert_eq!(grandkid, format!("{epic}.1.1"));

    // An open, unblocked parent does not block its children.
    for id in [&epic, &kid, &grandkid] {
        assert!(is_ready(&s, id), "{id} should be ready under an open epic");
    }
    assert_no_drift(&s);

    s.add_dependency(&epic, &gate, "blocks", None).unwrap();
    for id in [&epic, &kid, &grandkid] {
        assert!(
            is_blocked(&s, id),
            "{id} should be blocked by the blocked epic"
        );
        assert!(!is_ready(&s, id));
    }
    assert_no_drift(&s);

    close(&mut s, &gate, "done");
    for id in [&epic, &kid, &grandkid] {
        assert!(
            is_ready(&s, id),
            "{id} should be free once the epic is unblocked"
        );
    }
    assert_no_drift(&s);

    // Removing the blocking edge also frees descendants.
    s.reopen(&gate, "").unwrap();
    assert!(is_blocked(&s, &grandkid));
    s.remove_dependency(&epic, &gate).unwrap();
    assert!(is_ready(&s, &grandkid));
    assert_no_drift(&s);
}

#[test]
fn a_child_attached_under_a_blocked_parent_is_blocked_and_freed_when_moved_away() {
    let (_d, mut s) = fresh();
    let gate = typed(&mut s, "gate epic", "epic");
    let epic = typed(&mut s, "epic", "epic");
    s.add_dependency(&epic, &gate, "blocks", None).unwrap();
    let loose = task(&mut s, "loose");
    let loose_kid = child(&mut s, &loose, "loose kid");
    assert!(is_ready(&s, &loose_kid));

    s.update(
        &loose,
        &Changes {
            parent: Some(Some(epic.clone())),
            ..Changes::default()
        },
    )
    .unwrap();
    assert!(is_blocked(&s, &loose));
    assert!(is_blocked(&s, &loose_kid));
    assert_no_drift(&s);

    s.update(
        &loose,
        &Changes {
            parent: Some(None),
            ..Changes::default()
        },
    )
    .unwrap();
    assert!(is_ready(&s, &loose));
    assert!(is_ready(&s, &loose_kid));
    assert_no_drift(&s);
}

#[test]
fn waits_for_all_children_waits_for_every_child_of_the_spawner() {
    let (_d, mut s) = fresh();
    let spawner = task(&mut s, "spawner");
    let c1 = child(&mut s, &spawner, "c1");
    let c2 = child(&mut s, &spawner, "c2");
    let waiter = task(&mut s, "waiter");
    s.add_dependency(
        &waiter,
        &spawner,
        "waits-for",
        Some(r#"{"gate":"all-children"}"#),
    )
    .unwrap();
    assert!(is_blocked(&s, &waiter));
    assert!(
        is_ready(&s, &spawner),
        "the spawner itself is not blocked by its children"
    );
    assert_no_drift(&s);

    close(&mut s, &c1, "done");
    assert!(is_blocked(&s, &waiter));
    assert_no_drift(&s);

    close(&mut s, &c2, "done");
    assert!(is_ready(&s, &waiter));
    assert_no_drift(&s);

    // A new child spawned later re-blocks the waiter.
    let c3 = child(&mut s, &spawner, "c3");
    assert!(is_blocked(&s, &waiter));
    assert_no_drift(&s);
    close(&mut s, &c3, "done");
    assert!(is_ready(&s, &waiter));
    assert_no_drift(&s);
}

#[test]
fn waits_for_any_children_is_released_by_the_first_closed_child() {
    let (_d, mut s) = fresh();
    let spawner = task(&mut s, "spawner");
    let waiter = task(&mut s, "waiter");
    s.add_dependency(
        &waiter,
        &spawner,
        "waits-for",
        Some(r#"{"gate":"any-children"}"#),
    )
    .unwrap();
    assert!(
        !is_blocked(&s, &waiter),
        "no children spawned yet: nothing to wait for"
    );
    let c1 = child(&mut s, &spawner, "c1");
    let _c2 = child(&mut s, &spawner, "c2");
    assert!(is_blocked(&s, &waiter));
    assert_no_drift(&s);

    close(&mut s, &c1, "done");
    assert!(is_ready(&s, &waiter));
    assert_no_drift(&s);

    s.reopen(&c1, "").unwrap();
    assert!(is_blocked(&s, &waiter));
    assert_no_drift(&s);
}

#[test]
fn changing_the_waits_for_gate_refreshes_readiness() {
    let (_d, mut s) = fresh();
    let spawner = task(&mut s, "spawner");
    let c1 = child(&mut s, &spawner, "c1");
    let _c2 = child(&mut s, &spawner, "c2");
    close(&mut s, &c1, "done");
    let waiter = task(&mut s, "waiter");
    s.add_dependency(
        &waiter,
        &spawner,
        "waits-for",
        Some(r#"{"gate":"all-children"}"#),
    )
    .unwrap();
    assert!(is_blocked(&s, &waiter));

    // Same edge, new metadata: not a new edge, but the gate changed.
    assert!(
        !s.add_dependency(
            &waiter,
            &spawner,
            "waits-for",
            Some(r#"{"gate":"any-children"}"#)
        )
        .unwrap()
    );
    assert_no_drift(&s);
    assert!(
        is_ready(&s, &waiter),
        "one closed child satisfies any-children"
    );
}

#[test]
fn external_dependencies_block_until_a_closed_issue_provides_the_capability() {
    let (_d, mut s) = fresh();
    let w = task(&mut s, "needs auth");
    s.add_dependency(&w, "external:platform:auth", "blocks", None)
        .unwrap();
    assert!(is_blocked(&s, &w));
    assert_no_drift(&s);

    let p = create(
        &mut s,
        NewIssue {
            title: "ship auth".into(),
            labels: vec!["provides:auth".into()],
            ..NewIssue::default()
        },
    );
    assert!(
        is_blocked(&s, &w),
        "an open provider does not satisfy the capability"
    );
    assert_no_drift(&s);

    close(&mut s, &p, "done");
    assert!(is_ready(&s, &w));
    assert_no_drift(&s);

    s.reopen(&p, "regressed").unwrap();
    assert!(is_blocked(&s, &w));
    assert_no_drift(&s);

    // A different capability does not help.
    let other = create(
        &mut s,
        NewIssue {
            title: "ship billing".into(),
            labels: vec!["provides:billing".into()],
            ..NewIssue::default()
        },
    );
    close(&mut s, &other, "done");
    assert!(is_blocked(&s, &w));
    assert_no_drift(&s);
}

#[test]
fn labelling_a_closed_issue_as_provider_frees_external_dependents() {
    let (_d, mut s) = fresh();
    let w = task(&mut s, "needs auth");
    s.add_dependency(&w, "external:platform:auth", "blocks", None)
        .unwrap();
    let p = task(&mut s, "auth work");
    close(&mut s, &p, "done");
    assert!(is_blocked(&s, &w));

    s.add_labels(&p, &["provides:auth".into()]).unwrap();
    assert!(is_ready(&s, &w));
    assert_no_drift(&s);

    s.remove_labels(&p, &["provides:auth".into()]).unwrap();
    assert!(is_blocked(&s, &w));
    assert_no_drift(&s);

    // The same through `update`.
    s.update(
        &p,
        &Changes {
            add_labels: vec!["provides:auth".into()],
            ..Changes::default()
        },
    )
    .unwrap();
    assert_no_drift(&s);
    assert!(is_ready(&s, &w));
    s.update(
        &p,
        &Changes {
            remove_labels: vec!["provides:auth".into()],
            ..Changes::default()
        },
    )
    .unwrap();
    assert_no_drift(&s);
    assert!(is_blocked(&s, &w));
}

#[test]
fn creating_an_already_closed_provider_frees_external_dependents() {
    let (_d, mut s) = fresh();
    let w = task(&mut s, "needs auth");
    s.add_dependency(&w, "external:platform:auth", "blocks", None)
        .unwrap();
    create(
        &mut s,
        NewIssue {
            title: "auth (imported as done)".into(),
            status: Some("closed".into()),
            labels: vec!["provides:auth".into()],
            ..NewIssue::default()
        },
    );
    assert_no_drift(&s);
    assert!(is_ready(&s, &w));
}

#[test]
fn creating_an_issue_a_dangling_dependency_names_blocks_its_dependent() {
    let (_d, mut s) = fresh();
    let b = task(&mut s, "B");
    // Point B at an id that does not exist yet (as an import could).
    let sql = format!(
        "INSERT INTO dependencies (issue_id, depends_on_id, type, created_at)
         VALUES ('{b}', 'bd-later', 'blocks', '2026-01-01T00:00:00.000000Z')"
    );
    s.sql(&sql).unwrap();
    assert!(!is_blocked(&s, &b), "a missing blocker does not block");
    create(
        &mut s,
        NewIssue {
            title: "later".into(),
            id: Some("bd-later".into()),
            ..NewIssue::default()
        },
    );
    assert_no_drift(&s);
    assert!(is_blocked(&s, &b));
}

#[test]
fn custom_done_status_unblocks_dependents() {
    let (_d, mut s) = fresh();
    s.config_set("status.custom", "review:wip,shipped:done")
        .unwrap();
    let a = task(&mut s, "A");
    let b = task(&mut s, "B");
    s.add_dependency(&b, &a, "blocks", None).unwrap();
    set_status(&mut s, &a, "review");
    assert!(is_blocked(&s, &b), "a wip status still blocks");
    assert_no_drift(&s);

    set_status(&mut s, &a, "shipped");
    assert!(is_ready(&s, &b));
    assert!(!is_ready(&s, &a), "a done issue is not ready work");
    assert_no_drift(&s);

    // Recategorizing the status in config changes what blocks.
    s.config_set("status.custom", "review:wip,shipped:wip")
        .unwrap();
    assert_no_drift(&s);
    assert!(is_blocked(&s, &b));
}

#[test]
fn custom_active_status_counts_as_ready() {
    let (_d, mut s) = fresh();
    s.config_set("status.custom", "triaged:active").unwrap();
    let a = task(&mut s, "A");
    set_status(&mut s, &a, "triaged");
    assert!(is_ready(&s, &a));
    assert_no_drift(&s);
}

#[test]
fn deferral_hides_the_issue_and_all_its_descendants() {
    let (_d, mut s) = fresh();
    let epic = typed(&mut s, "later epic", "epic");
    let kid = child(&mut s, &epic, "kid");
    let grandkid = child(&mut s, &kid, "grandkid");
    let other = task(&mut s, "other");

    s.update(
        &epic,
        &Changes {
            defer_until: Some(Some(at(48))),
            ..Changes::default()
        },
    )
    .unwrap();
    assert_eq!(ready(&s), vec![other.clone()]);
    let with_deferred = ready_with(
        &s,
        &Filter {
            include_deferred: true,
            ..Filter::default()
        },
    );
    for id in [&epic, &kid, &grandkid] {
        assert!(with_deferred.contains(id), "--include-deferred shows {id}");
    }
    assert_no_drift(&s);

    // A date in the past hides nothing.
    s.update(
        &epic,
        &Changes {
            defer_until: Some(Some(at(-1))),
            ..Changes::default()
        },
    )
    .unwrap();
    for id in [&epic, &kid, &grandkid, &other] {
        assert!(
            is_ready(&s, id),
            "{id} should be ready after a past deferral"
        );
    }

    // Deferring a middle node hides its subtree only.
    s.update(
        &kid,
        &Changes {
            defer_until: Some(Some(at(1))),
            ..Changes::default()
        },
    )
    .unwrap();
    assert!(is_ready(&s, &epic));
    assert!(!is_ready(&s, &kid));
    assert!(!is_ready(&s, &grandkid));

    // Status `deferred` hides descendants too.
    s.update(
        &kid,
        &Changes {
            defer_until: Some(None),
            ..Changes::default()
        },
    )
    .unwrap();
    assert!(is_ready(&s, &grandkid));
    set_status(&mut s, &epic, "deferred");
    assert!(!is_ready(&s, &epic));
    assert!(!is_ready(&s, &kid));
    assert!(!is_ready(&s, &grandkid));
    assert_no_drift(&s);
}

#[test]
fn ready_sorts_by_priority_then_newest_or_oldest_first_and_limits() {
    let (_d, mut s, clock) = stepped();
    let mut make = |title: &str, p: i64| {
        let id = crate::create(
            &mut s,
            NewIssue {
                title: title.into(),
                priority: Some(p),
                ..NewIssue::default()
            },
        );
        clock.advance(60);
        id
    };
    let a = make("a", 2);
    let b = make("b", 1);
    let c = make("c", 2);
    let d = make("d", 1);
    let e = make("e", 0);
    assert_eq!(
        ready(&s),
        vec![e.clone(), d.clone(), b.clone(), c.clone(), a.clone()]
    );
    assert_eq!(
        ready_with(
            &s,
            &Filter {
                sort: Sort::Oldest,
                ..Filter::default()
            }
        ),
        vec![a.clone(), b.clone(), c.clone(), d.clone(), e.clone()]
    );
    assert_eq!(
        ready_with(
            &s,
            &Filter {
                limit: 2,
                ..Filter::default()
            }
        ),
        vec![e.clone(), d.clone()]
    );
    assert_eq!(
        ready_with(
            &s,
            &Filter {
                sort: Sort::Oldest,
                limit: 1,
                ..Filter::default()
            }
        ),
        vec![a]
    );
    assert_no_drift(&s);
}

#[test]
fn templates_ephemeral_and_pinned_issues_are_not_ready() {
    let (_d, mut s) = fresh();
    let plain = task(&mut s, "plain");
    let template = create(
        &mut s,
        NewIssue {
            title: "tpl".into(),
            is_template: true,
            ..NewIssue::default()
        },
    );
    let wisp = create(
        &mut s,
        NewIssue {
            title: "wisp".into(),
            ephemeral: true,
            ..NewIssue::default()
        },
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
    assert_eq!(ready(&s), vec![plain]);
    let with_wisps = ready_with(
        &s,
        &Filter {
            include_ephemeral: true,
            ..Filter::default()
        },
    );
    assert!(with_wisps.contains(&wisp));
    assert!(!with_wisps.contains(&template));
    assert_no_drift(&s);
}

#[test]
fn infrastructure_types_are_hidden_unless_asked_for() {
    let (_d, mut s) = fresh();
    let work = task(&mut s, "work");
    let mr = typed(&mut s, "merge me", "merge-request");
    let agent = typed(&mut s, "an agent", "agent");
    let gate = typed(&mut s, "a gate", "gate");
    assert_eq!(ready(&s), vec![work]);
    assert_eq!(
        ready_with(
            &s,
            &Filter {
                types: vec!["merge-request".into()],
                ..Filter::default()
            }
        ),
        vec![mr]
    );
    assert_eq!(
        ready_with(
            &s,
            &Filter {
                types: vec!["agent".into()],
                ..Filter::default()
            }
        ),
        vec![agent]
    );
    assert_eq!(
        ready_with(
            &s,
            &Filter {
                types: vec!["gate".into()],
                ..Filter::default()
            }
        ),
        vec![gate]
    );
    assert_no_drift(&s);
}

#[test]
fn in_progress_and_assigned_work_is_not_ready_but_unassigned_filter_works() {
    let (_d, mut s) = fresh();
    let a = task(&mut s, "a");
    let b = task(&mut s, "b");
    s.claim(&a).unwrap();
    assert_eq!(ready(&s), vec![b.clone()]);
    s.update(
        &b,
        &Changes {
            assignee: Some("bob".into()),
            ..Changes::default()
        },
    )
    .unwrap();
    assert_eq!(ready(&s), vec![b.clone()]);
    assert!(
        ready_with(
            &s,
            &Filter {
                unassigned: true,
                ..Filter::default()
            }
        )
        .is_empty()
    );
    assert_no_drift(&s);
}

#[test]
fn blocked_lists_each_blocked_issue_with_its_blockers() {
    let (_d, mut s) = fresh();
    let a = task(&mut s, "a");
    let b = task(&mut s, "b");
    let c = task(&mut s, "c");
    s.add_dependency(&c, &a, "blocks", None).unwrap();
    s.add_dependency(&c, &b, "blocks", None).unwrap();
    let blocked = s.blocked(None).unwrap();
    assert_eq!(blocked.len(), 1);
    assert_eq!(blocked[0].issue.id, c);
    let mut want = vec![a.clone(), b.clone()];
    want.sort();
    assert_eq!(blocked[0].blocked_by, want);
    close(&mut s, &a, "done");
    assert_eq!(s.blocked(None).unwrap()[0].blocked_by, vec![b]);
    assert_no_drift(&s);
}

#[test]
fn cycles_of_blocking_edges_are_rejected_with_the_path() {
    let (_d, mut s) = fresh();
    let a = task(&mut s, "a");
    let b = task(&mut s, "b");
    let c = task(&mut s, "c");
    s.add_dependency(&b, &a, "blocks", None).unwrap();
    s.add_dependency(&c, &b, "blocks", None).unwrap();
    match s.add_dependency(&a, &c, "blocks", None) {
        Err(beads::Error::Cycle {
            from,
            to,
            kind,
            path,
        }) => {
            assert_eq!(
                (from.as_str(), to.as_str(), kind.as_str()),
                (a.as_str(), c.as_str(), "blocks")
            );
            assert_eq!(path, vec![a.clone(), c.clone(), b.clone(), a.clone()]);
        }
        other => panic!("expected a cycle error, got {other:?}"),
    }
    // conditional-blocks shares the ordering with blocks.
    assert!(matches!(
        s.add_dependency(&a, &c, "conditional-blocks", None),
        Err(beads::Error::Cycle { .. })
    ));
    // Non-blocking kinds may loop.
    assert!(s.add_dependency(&a, &c, "related", None).unwrap());
    assert_eq!(
        s.dependencies(&a, beads::Direction::Down, None)
            .unwrap()
            .len(),
        1
    );
    assert!(s.dependency_cycles().unwrap().is_empty());
    assert_no_drift(&s);
}

#[test]
fn parent_child_cycles_and_self_dependencies_are_rejected() {
    let (_d, mut s) = fresh();
    let a = task(&mut s, "a");
    let b = child(&mut s, &a, "b");
    let c = child(&mut s, &b, "c");
    assert!(matches!(
        s.add_dependency(&a, &c, "parent-child", None),
        Err(beads::Error::Cycle { .. })
    ));
    assert!(matches!(
        s.update(
            &a,
            &Changes {
                parent: Some(Some(c.clone())),
                ..Changes::default()
            }
        ),
        Err(beads::Error::Cycle { .. })
    ));
    assert!(matches!(
        s.add_dependency(&a, &a, "blocks", None),
        Err(beads::Error::Invalid { .. })
    ));
    assert!(matches!(
        s.add_dependency(&a, &a, "related", None),
        Err(beads::Error::Invalid { .. })
    ));
    assert_eq!(
        s.dependencies(&a, beads::Direction::Down, None)
            .unwrap()
            .len(),
        0
    );
    assert_no_drift(&s);
}

#[test]
fn one_edge_per_pair_same_kind_is_idempotent() {
    let (_d, mut s) = fresh();
    let a = task(&mut s, "a");
    let b = task(&mut s, "b");
    assert!(s.add_dependency(&b, &a, "blocks", None).unwrap());
    assert!(
        !s.add_dependency(&b, &a, "blocks", None).unwrap(),
        "same kind again is a no-op"
    );
    assert!(matches!(
        s.add_dependency(&b, &a, "related", None),
        Err(beads::Error::Conflict(_))
    ));
    let deps = s.dependencies(&b, beads::Direction::Down, None).unwrap();
    assert_eq!(deps.len(), 1);
    assert_eq!(deps[0].kind, "blocks");
    // Epics block epics and tasks block tasks, not across.
    let epic = typed(&mut s, "epic", "epic");
    assert!(matches!(
        s.add_dependency(&b, &epic, "blocks", None),
        Err(beads::Error::Invalid { .. })
    ));
    assert_no_drift(&s);
}
