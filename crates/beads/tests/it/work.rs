//! The work loop's typed state: polecats, the respawn breaker, checkpoints, merge requests
//! and convoys.

use std::sync::{Arc, Barrier};

use beads::{
    Admission, CapScope, Caps, Error, GenerationHappening, Happening, Landing, MergeRequest,
    MrState, MrTransition, NewMergeRequest, PolecatState, PolecatUpdate, Store,
};

use crate::{assert_no_drift, fresh, open_as, task};

/// The state an `InvalidTransition` found, or a panic naming what came instead.
fn refused_from<T: std::fmt::Debug>(r: beads::Result<T>) -> Option<&'static str> {
    match r {
        Err(Error::InvalidTransition { from, .. }) => from,
        other => panic!("expected InvalidTransition, got {other:?}"),
    }
}

#[test]
fn polecats_move_only_through_named_transitions_and_count_toward_the_cap() {
    let (_dir, mut store) = fresh();
    assert!(matches!(
        store
            .admit_polecat("gastown", "nux", "bd-1", Caps::town(2))
            .unwrap(),
        Admission::Admitted { before: None }
    ));
    let p = store
        .upsert_polecat(
            "gastown",
            "nux",
            &PolecatUpdate {
                branch: Some("polecat/nux".into()),
                new_generation: true,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        (p.state, p.generation, p.bead_id.as_str()),
        (PolecatState::Spawning, 1, "bd-1")
    );
    let p = store.mark_polecat_working("gastown", "nux").unwrap();
    assert_eq!(p.state, PolecatState::Working);
    // Working already: the compare-and-set refuses, naming where it is.
    assert_eq!(
        refused_from(store.mark_polecat_working("gastown", "nux")),
        Some("working")
    );
    store
        .admit_polecat("gastown", "slit", "bd-2", Caps::town(2))
        .unwrap();
    assert_eq!(store.working_polecats().unwrap(), 2);
    assert!(matches!(
        store
            .admit_polecat("gastown", "rictus", "bd-3", Caps::town(2))
            .unwrap(),
        Admission::AtCap {
            working: 2,
            scope: CapScope::Town
        }
    ));
    let p = store.finish_polecat("gastown", "nux").unwrap();
    assert_eq!(
        (p.state, p.generation, p.bead_id.as_str()),
        (PolecatState::Idle, 1, "")
    );
    // A resumed `gt done` finishes again.
    store.finish_polecat("gastown", "nux").unwrap();
    assert_eq!(store.working_polecats().unwrap(), 1);
    // Idle polecats cannot get stuck or start working without an admission.
    assert_eq!(
        refused_from(store.mark_polecat_stuck("gastown", "nux")),
        Some("idle")
    );
    let stuck = store.mark_polecat_stuck("gastown", "slit").unwrap();
    assert_eq!(
        (stuck.state, stuck.bead_id.as_str()),
        (PolecatState::Stuck, "bd-2")
    );
    assert_eq!(refused_from(store.finish_polecat("gastown", "ghost")), None);
    let err = store.finish_polecat("gastown", "ghost").unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot finish polecat `gastown/ghost`: it does not exist"
    );
    let again = store
        .upsert_polecat(
            "gastown",
            "nux",
            &PolecatUpdate {
                new_generation: true,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(again.generation, 2, "a new session is a new generation");
    assert_eq!(again.state, PolecatState::Idle, "an update keeps the state");
    assert_eq!(store.polecats(Some("gastown")).unwrap().len(), 2);
    assert!(store.delete_polecat("gastown", "slit").unwrap());
    assert!(store.polecat("gastown", "slit").unwrap().is_none());
    let kinds: Vec<String> = store
        .events_after(0, 100)
        .unwrap()
        .into_iter()
        .filter(|e| e.issue_id == "polecat:gastown/nux")
        .map(|e| e.event_type)
        .collect();
    assert_eq!(
        kinds,
        [
            "polecat_spawning",
            "polecat_updated",
            "polecat_working",
            "polecat_idle",
            "polecat_idle",
            "polecat_updated"
        ]
    );
}

/// The detail of every `event_type` row about `subject`, oldest first.
fn details(store: &Store, subject: &str, event_type: &str) -> Vec<serde_json::Value> {
    store
        .events_after(0, 1000)
        .unwrap()
        .into_iter()
        .filter(|e| e.issue_id == subject && e.event_type == event_type)
        .map(|e| serde_json::from_str(e.new_value.as_deref().unwrap()).unwrap())
        .collect()
}

fn sling_update(bead: &str) -> PolecatUpdate {
    PolecatUpdate {
        session: Some("gt-nux".into()),
        new_generation: true,
        happenings: vec![GenerationHappening {
            kind: Happening::Sling,
            subject: bead.into(),
            detail: serde_json::json!({"rig": "gastown", "bead": bead}),
        }],
        ..Default::default()
    }
}

#[test]
fn a_happening_with_a_polecat_update_commits_with_it_or_not_at_all() {
    let (dir, mut store) = fresh();
    let p = store
        .upsert_polecat("gastown", "nux", &sling_update("bd-1"))
        .unwrap();
    assert_eq!(p.generation, 1);
    // The generation is the one the transaction made.
    assert_eq!(
        details(&store, "bd-1", "sling"),
        [serde_json::json!({"rig": "gastown", "bead": "bd-1", "generation": 1})]
    );

    // The event's insert fails inside the transaction: the row's change goes with it.
    rusqlite::Connection::open(dir.path().join(".beads/beads.db"))
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER refuse_sling BEFORE INSERT ON events WHEN NEW.event_type = 'sling'
             BEGIN SELECT RAISE(ABORT, 'no slings'); END",
        )
        .unwrap();
    let cursor = store.last_event_id().unwrap();
    assert!(
        store
            .upsert_polecat("gastown", "nux", &sling_update("bd-2"))
            .is_err()
    );
    let row = store.polecat("gastown", "nux").unwrap().unwrap();
    assert_eq!(row.generation, 1, "the new generation was rolled back");
    assert!(store.events_after(cursor, 10).unwrap().is_empty());

    // A detail that is no object, or a subject that names nothing, is refused before any write.
    let mut bad = sling_update("bd-3");
    bad.happenings[0].detail = serde_json::json!("text");
    assert!(matches!(
        store.upsert_polecat("gastown", "slit", &bad),
        Err(Error::Invalid {
            field: "detail",
            ..
        })
    ));
    bad.happenings[0] = GenerationHappening {
        kind: Happening::Sling,
        subject: " ".into(),
        detail: serde_json::json!({}),
    };
    assert!(matches!(
        store.upsert_polecat("gastown", "slit", &bad),
        Err(Error::Invalid {
            field: "subject",
            ..
        })
    ));
    assert!(store.polecat("gastown", "slit").unwrap().is_none());
}

#[test]
fn a_happening_recorded_once_is_written_once_per_key_value() {
    let (_dir, mut store) = fresh();
    let spawn =
        |generation: i64| serde_json::json!({"session": "gt-nux", "generation": generation});
    let key = "polecat:gastown/nux";
    assert!(
        store
            .record_happening_once(Happening::Spawn, key, &spawn(1), "generation")
            .unwrap()
    );
    assert!(
        !store
            .record_happening_once(Happening::Spawn, key, &spawn(1), "generation")
            .unwrap()
    );
    assert!(
        store
            .record_happening_once(Happening::Spawn, key, &spawn(2), "generation")
            .unwrap()
    );
    // Another polecat's spawn of the same generation is its own.
    assert!(
        store
            .record_happening_once(
                Happening::Spawn,
                "polecat:gastown/slit",
                &spawn(1),
                "generation"
            )
            .unwrap()
    );
    assert_eq!(
        details(&store, key, "session_spawned"),
        [spawn(1), spawn(2)]
    );
    // A detail without the key cannot be told apart from another: refused, nothing written.
    let cursor = store.last_event_id().unwrap();
    for key_name in ["pid", "", "a.b"] {
        assert!(matches!(
            store.record_happening_once(Happening::Spawn, key, &spawn(3), key_name),
            Err(Error::Invalid { field: "key", .. })
        ));
    }
    assert!(store.events_after(cursor, 10).unwrap().is_empty());
}

#[test]
fn the_last_happening_matching_a_detail_is_found_by_id() {
    let (_dir, mut store) = fresh();
    let sling = |polecat: &str, generation: i64| serde_json::json!({"polecat": polecat, "generation": generation, "rig": "gastown"});
    let find = |store: &Store, polecat: &str, generation: i64| {
        store
            .last_happening_id(
                Happening::Sling,
                "bd-1",
                &serde_json::json!({"polecat": polecat, "generation": generation}),
            )
            .unwrap()
    };
    assert_eq!(find(&store, "gastown/polecats/nux", 1), None);
    store
        .record_happening(Happening::Sling, "bd-1", &sling("gastown/polecats/nux", 1))
        .unwrap();
    let first = store.last_event_id().unwrap();
    store
        .record_happening(Happening::Sling, "bd-1", &sling("gastown/polecats/slit", 1))
        .unwrap();
    assert_eq!(find(&store, "gastown/polecats/nux", 1), Some(first));
    // The same name and generation again (a nuked polecat's name back): the newest.
    store
        .record_happening(Happening::Sling, "bd-1", &sling("gastown/polecats/nux", 1))
        .unwrap();
    let again = store.last_event_id().unwrap();
    assert_eq!(find(&store, "gastown/polecats/nux", 1), Some(again));
    assert_eq!(find(&store, "gastown/polecats/nux", 2), None);
    assert!(matches!(
        store.last_happening_id(Happening::Sling, "bd-1", &serde_json::json!({"a.b": 1})),
        Err(Error::Invalid { field: "key", .. })
    ));
}

#[test]
fn respawns_and_checkpoints_are_counted_and_cleared() {
    let (_dir, mut store) = fresh();
    assert_eq!(store.respawns("bd-1").unwrap(), 0);
    assert_eq!(store.bump_respawns("bd-1").unwrap(), 1);
    assert_eq!(store.bump_respawns("bd-1").unwrap(), 2);
    store
        .checkpoint("done:gastown/nux:1", "pushed", "abc")
        .unwrap();
    store
        .checkpoint("done:gastown/nux:1", "pushed", "abc")
        .unwrap();
    store
        .checkpoint("done:gastown/nux:1", "mr", "mr-1")
        .unwrap();
    let cps = store.checkpoints("done:gastown/nux:1").unwrap();
    assert_eq!(cps.len(), 2);
    assert_eq!(cps["pushed"], "abc");
    store.clear_checkpoints("done:gastown/nux:1").unwrap();
    assert!(store.checkpoints("done:gastown/nux:1").unwrap().is_empty());
}

fn submit(store: &mut Store, bead: &str, sha: &str) -> MergeRequest {
    store
        .submit_mr(&NewMergeRequest {
            rig: "gastown".into(),
            bead_id: bead.into(),
            branch: format!("polecat/nux/{bead}@{sha}"),
            sha: sha.into(),
            target: "main".into(),
            polecat: "gastown/polecats/nux".into(),
            priority: 2,
        })
        .unwrap()
        .0
}

fn land(store: &mut Store, ids: &[i64], sha: &str) -> beads::Result<Vec<MergeRequest>> {
    landing(store, ids, sha).map(|l| l.requests)
}

fn landing(store: &mut Store, ids: &[i64], sha: &str) -> beads::Result<beads::Landed> {
    store.land_mrs(&Landing {
        ids,
        sha,
        target: "main",
    })
}

#[test]
fn merge_requests_dedup_on_branch_and_sha_and_supersede_older_ones() {
    let (_dir, mut store) = fresh();
    let new = |branch: &str, sha: &str| NewMergeRequest {
        rig: "gastown".into(),
        bead_id: "bd-1".into(),
        branch: branch.into(),
        sha: sha.into(),
        target: "main".into(),
        polecat: "nux".into(),
        priority: 2,
    };
    let (first, created) = store.submit_mr(&new("polecat/nux/bd-1@a", "1111")).unwrap();
    assert!(created);
    assert_eq!(first.state, MrState::Queued);
    let (same, created) = store.submit_mr(&new("polecat/nux/bd-1@a", "1111")).unwrap();
    assert!(!created);
    assert_eq!(same.id, first.id);
    let (second, created) = store.submit_mr(&new("polecat/nux/bd-1@a", "2222")).unwrap();
    assert!(created);
    assert_eq!(store.mr(first.id).unwrap().state, MrState::Superseded);
    assert_eq!(
        store.mrs(Some("gastown"), &[MrState::Queued]).unwrap(),
        vec![second.clone()]
    );
    store.start_testing_mr(second.id).unwrap();
    let merged = land(&mut store, &[second.id], "3333").unwrap();
    assert_eq!(
        (merged[0].state, merged[0].merged_sha.as_str()),
        (MrState::Merged, "3333")
    );
    // The JSON shape is the stored word.
    let json = serde_json::to_value(&merged[0]).unwrap();
    assert_eq!(json["state"], "merged");
    assert_eq!(refused_from(store.retry_mr(999, "")), None);
    // Every change of state wrote one event on the bead, for `bd history` and for readers
    // waiting on `events_after`.
    let kinds: Vec<String> = store
        .events_after(0, 100)
        .unwrap()
        .into_iter()
        .filter(|e| e.issue_id == "bd-1")
        .map(|e| e.event_type)
        .collect();
    assert_eq!(
        kinds,
        [
            "mr_submitted",
            "mr_superseded",
            "mr_submitted",
            "mr_testing",
            "mr_merged"
        ]
    );
}

/// Puts a fresh request for a new bead in `state` through the named transitions.
fn mr_in(store: &mut Store, state: MrState, n: usize) -> MergeRequest {
    let bead = task(store, &format!("bead {n}"));
    let mr = submit(store, &bead, &format!("{n:04}"));
    let id = mr.id;
    match state {
        MrState::Queued => {}
        MrState::Testing => {
            store.start_testing_mr(id).unwrap();
        }
        MrState::Failed => {
            store.start_testing_mr(id).unwrap();
            store.fail_mr(id, "gate `test` failed").unwrap();
        }
        MrState::Conflict => {
            store.conflict_mr(id, "conflicts on a.txt").unwrap();
        }
        MrState::Merged => {
            store.start_testing_mr(id).unwrap();
            land(store, &[id], "abcd").unwrap();
        }
        MrState::Rejected => {
            store.reject_mr(id, "not wanted").unwrap();
        }
        MrState::Superseded => {
            store.supersede_mr(id, "the bead was closed").unwrap();
        }
    }
    let mr = store.mr(id).unwrap();
    assert_eq!(mr.state, state);
    mr
}

#[test]
fn retry_and_reject_follow_one_rule_for_every_state() {
    let (_dir, mut store) = fresh();
    for (n, &state) in MrState::ALL.iter().enumerate() {
        let retryable = matches!(state, MrState::Failed | MrState::Conflict);
        assert_eq!(MrTransition::Retry.applies_to(state), retryable);
        let mr = mr_in(&mut store, state, 2 * n);
        match store.retry_mr(mr.id, "retried by hand") {
            Ok(retried) => {
                assert!(retryable, "{state} was retried");
                assert_eq!((retried.state, retried.retries), (MrState::Queued, 1));
            }
            Err(Error::InvalidTransition {
                what,
                id,
                action,
                from,
                to,
                allowed,
            }) => {
                assert!(!retryable, "{state} was not retried");
                assert_eq!(
                    (what, id.as_str(), action, from, to),
                    (
                        "merge request",
                        mr.label().as_str(),
                        "retry",
                        Some(state.as_str()),
                        "queued"
                    )
                );
                assert_eq!(allowed, "failed or conflict");
                assert_eq!(store.mr(mr.id).unwrap(), mr, "nothing was written");
            }
            Err(e) => panic!("{e}"),
        }
        // Only what waits in the queue, or was sent back, can be rejected: not what the
        // refinery is testing (it may be pushing it now), nor what is finished.
        let rejectable = matches!(state, MrState::Queued | MrState::Conflict | MrState::Failed);
        let mr = mr_in(&mut store, state, 2 * n + 1);
        let r = store.reject_mr(mr.id, "not wanted");
        assert_eq!(r.is_ok(), rejectable, "{state}: {r:?}");
        if rejectable {
            assert_eq!(store.mr(mr.id).unwrap().state, MrState::Rejected);
        } else {
            assert_eq!(refused_from(r), Some(state.as_str()));
        }
    }
    let merged = mr_in(&mut store, MrState::Merged, 100);
    assert_eq!(
        store.retry_mr(merged.id, "").unwrap_err().to_string(),
        format!(
            "cannot retry merge request `{}`: it is merged, not failed or conflict",
            merged.label()
        )
    );
    assert_no_drift(&store);
}

/// One writer in a race: a transition on its own connection.
type Racer = Box<dyn FnOnce(&mut Store) -> beads::Result<MergeRequest> + Send>;

#[test]
fn a_transition_raced_by_two_writers_succeeds_for_exactly_one() {
    let (dir, mut store) = fresh();
    for round in 0..8 {
        // Two hands retry the same failed request at once.
        let failed = mr_in(&mut store, MrState::Failed, 2 * round);
        // The refinery lands a tested request while something requeues it.
        let testing = mr_in(&mut store, MrState::Testing, 2 * round + 1);
        let barrier = Arc::new(Barrier::new(4));
        let spawn = |f: Racer| {
            let barrier = Arc::clone(&barrier);
            let mut store = open_as(&dir, "racer");
            std::thread::spawn(move || {
                barrier.wait();
                f(&mut store)
            })
        };
        let (f, t) = (failed.id, testing.id);
        let handles = [
            spawn(Box::new(move |s| s.retry_mr(f, "one"))),
            spawn(Box::new(move |s| s.retry_mr(f, "two"))),
            spawn(Box::new(move |s| s.requeue_mr(t, "requeued"))),
            spawn(Box::new(move |s| {
                land(s, &[t], "beef").map(|mut v| v.remove(0))
            })),
        ];
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let (retries, others) = results.split_at(2);
        assert_eq!(
            retries.iter().filter(|r| r.is_ok()).count(),
            1,
            "{retries:?}"
        );
        let loser = retries.iter().find(|r| r.is_err()).unwrap();
        assert!(
            matches!(loser, Err(Error::InvalidTransition { from: Some(f), .. }) if *f == "queued"),
            "{loser:?}"
        );
        let after = store.mr(failed.id).unwrap();
        assert_eq!((after.state, after.retries), (MrState::Queued, 1));
        assert_eq!(others.iter().filter(|r| r.is_ok()).count(), 1, "{others:?}");
        let winner = others.iter().find_map(|r| r.as_ref().ok()).unwrap().state;
        let loser = others.iter().find(|r| r.is_err()).unwrap();
        assert!(
            matches!(loser, Err(Error::InvalidTransition { from: Some(f), .. }) if *f == winner.as_str()),
            "{loser:?}"
        );
        let bead = store.get(&testing.bead_id).unwrap();
        assert_eq!(
            bead.status == "closed",
            winner == MrState::Merged,
            "the bead closes exactly when its request merged"
        );
    }
    assert_no_drift(&store);
}

#[test]
fn a_landing_is_one_transaction() {
    let (_dir, mut store) = fresh();
    let a = task(&mut store, "first");
    let b = task(&mut store, "second");
    let convoy = store
        .create_convoy("Work: two things", &[a.clone(), b.clone()])
        .unwrap();
    let mr_a = submit(&mut store, &a, "aaaa");
    let mr_b = submit(&mut store, &b, "bbbb");
    store.start_testing_mr(mr_a.id).unwrap();
    // b was never put in the batch: a landing that names it fails as a whole, and a's half
    // is not written either.
    let cursor = store.last_event_id().unwrap();
    let err = land(&mut store, &[mr_a.id, mr_b.id], "cafe").unwrap_err();
    assert!(
        matches!(err, Error::InvalidTransition { action: "land", .. }),
        "{err}"
    );
    assert_eq!(store.mr(mr_a.id).unwrap().state, MrState::Testing);
    assert_eq!(store.get(&a).unwrap().status, "open");
    assert!(store.comments(&a).unwrap().is_empty());
    assert!(store.events_after(cursor, 100).unwrap().is_empty());

    store.start_testing_mr(mr_b.id).unwrap();
    let cursor = store.last_event_id().unwrap();
    let landed = landing(&mut store, &[mr_a.id, mr_b.id], "cafe0123456789").unwrap();
    assert!(landed.requests.iter().all(|m| m.state == MrState::Merged));
    assert_eq!(landed.convoys, std::slice::from_ref(&convoy.id));
    for (bead, mr) in [(&a, &mr_a), (&b, &mr_b)] {
        let issue = store.get(bead).unwrap();
        assert_eq!(
            (issue.status.as_str(), issue.close_reason.as_str()),
            ("closed", "merged")
        );
        let comments = store.comments(bead).unwrap();
        assert_eq!(comments.len(), 1);
        assert_eq!(
            comments[0].text,
            format!("Landed on `main` as cafe01234567 ({}).", mr.label())
        );
    }
    let status = store.convoy_status(&convoy.id).unwrap();
    assert_eq!(status.status, "closed");
    assert!(status.landed_at.is_some());
    // One batch of events, written by one transaction.
    let events = store.events_after(cursor, 100).unwrap();
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.issue_id.as_str(), e.event_type.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (a.as_str(), "mr_merged"),
            (a.as_str(), "closed"),
            (a.as_str(), "commented"),
            (b.as_str(), "mr_merged"),
            (b.as_str(), "closed"),
            (b.as_str(), "commented"),
            (convoy.id.as_str(), "convoy_landed"),
        ]
    );
    assert!(events.windows(2).all(|w| w[1].id == w[0].id + 1));

    // Again (a restarted refinery): nothing changes, nothing is written.
    let cursor = store.last_event_id().unwrap();
    let again = landing(&mut store, &[mr_a.id, mr_b.id], "cafe0123456789").unwrap();
    assert!(
        again.convoys.is_empty(),
        "a convoy is announced as landed once"
    );
    assert!(store.events_after(cursor, 100).unwrap().is_empty());
    assert_eq!(store.comments(&a).unwrap().len(), 1);
    assert_no_drift(&store);
}

#[test]
fn events_after_a_cursor_come_in_id_order() {
    let (_dir, mut store) = fresh();
    assert_eq!(store.last_event_id().unwrap(), 0);
    assert!(store.events_after(0, 10).unwrap().is_empty());
    let a = task(&mut store, "first");
    let first = store.last_event_id().unwrap();
    let b = task(&mut store, "second");
    store.add_comment(&a, "hello").unwrap();
    let all = store.events_after(0, 100).unwrap();
    assert_eq!(all.last().unwrap().id, store.last_event_id().unwrap());
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    let since: Vec<(String, String)> = store
        .events_after(first, 100)
        .unwrap()
        .into_iter()
        .map(|e| (e.issue_id, e.event_type))
        .collect();
    assert_eq!(
        since,
        [
            (b.clone(), "created".to_owned()),
            (a.clone(), "commented".to_owned())
        ]
    );
    assert_eq!(store.events_after(first, 1).unwrap().len(), 1);
    assert!(
        store
            .events_after(store.last_event_id().unwrap(), 10)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn convoys_track_beads_and_land_once() {
    let (_dir, mut store) = fresh();
    let a = task(&mut store, "first");
    let b = task(&mut store, "second");
    let convoy = store
        .create_convoy("Work: two things", std::slice::from_ref(&a))
        .unwrap();
    assert!(convoy.id.starts_with("hq-cv-"), "{}", convoy.id);
    assert_eq!(
        store
            .convoy_add(&convoy.id, &[a.clone(), b.clone()])
            .unwrap(),
        vec![b.clone()]
    );
    assert_eq!(store.convoys_tracking(&a).unwrap(), vec![convoy.id.clone()]);
    let status = store.convoy_status(&convoy.id).unwrap();
    assert_eq!(status.tracked.len(), 2);
    assert_eq!(status.merged, 0);
    assert!(!store.land_convoy_if_complete(&convoy.id).unwrap());
    let close = beads::CloseOptions {
        reason: "merged".into(),
        ..Default::default()
    };
    store.close(&a, &close).unwrap();
    assert!(!store.land_convoy_if_complete(&convoy.id).unwrap());
    store.close(&b, &close).unwrap();
    assert!(store.land_convoy_if_complete(&convoy.id).unwrap());
    assert!(
        !store.land_convoy_if_complete(&convoy.id).unwrap(),
        "a convoy lands once"
    );
    let landed = store.convoy_status(&convoy.id).unwrap();
    assert_eq!(landed.status, "closed");
    assert!(landed.landed_at.is_some());
    assert!(store.convoys(false).unwrap().is_empty());
    assert_eq!(store.convoys(true).unwrap().len(), 1);
    assert!(store.convoy_id(&a).is_err(), "a plain bead is not a convoy");
    assert_no_drift(&store);
}

#[test]
fn session_records_are_kept_per_address_newest_first() {
    let (_dir, mut store) = fresh();
    store
        .record_session(
            "gastown/polecats/nux",
            "session_start",
            r#"{"session_id":"a"}"#,
        )
        .unwrap();
    store
        .record_session("mayor/", "session_start", r#"{"session_id":"m"}"#)
        .unwrap();
    store
        .record_session(
            "gastown/polecats/nux",
            "session_end",
            r#"{"session_id":"a"}"#,
        )
        .unwrap();
    // An issue's own events never show up among sessions.
    task(&mut store, "unrelated");
    let nux = store.sessions(Some("gastown/polecats/nux"), 0).unwrap();
    let kinds: Vec<_> = nux.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(kinds, ["session_end", "session_start"]);
    let all = store.sessions(None, 0).unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[1].issue_id, "agent:mayor/");
    assert_eq!(store.sessions(None, 1).unwrap().len(), 1);
    assert!(
        store
            .sessions(Some("gastown/polecats/slit"), 0)
            .unwrap()
            .is_empty()
    );
    for (address, kind) in [
        ("nux", "polecat_done"),
        ("", "session_start"),
        ("a\nb", "session_start"),
    ] {
        let err = store.record_session(address, kind, "{}").unwrap_err();
        assert!(
            matches!(err, Error::Invalid { .. }),
            "{address:?} {kind}: {err}"
        );
    }
    assert_no_drift(&store);
}
