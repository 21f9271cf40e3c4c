//! Atomic claims (spec §8 item 4): compare-and-swap inside one write transaction.

use beads::{Changes, CloseOptions, Error, Filter, NewIssue};

use crate::{assert_no_drift, fresh, open_as, task};

#[test]
fn first_claim_wins_across_connections_and_the_second_actor_is_refused() {
    let (dir, mut alice) = fresh();
    let id = task(&mut alice, "contended");
    let mut bob = open_as(&dir, "bob");

    let won = alice.claim(&id).unwrap();
    assert_eq!(won.status, "in_progress");
    assert_eq!(won.assignee, "alice");
    assert!(won.started_at.is_some());

    match bob.claim(&id) {
        Err(Error::AlreadyClaimed { id: got, by }) => {
            assert_eq!(got, id);
            assert_eq!(by, "alice");
        }
        other => panic!("expected AlreadyClaimed, got {other:?}"),
    }
    let now = bob.get(&id).unwrap();
    assert_eq!(
        (now.status.as_str(), now.assignee.as_str()),
        ("in_progress", "alice")
    );

    // Reclaiming as the same actor is a no-op that succeeds and writes no event.
    let events = alice.history(&id).unwrap().len();
    let again = alice.claim(&id).unwrap();
    assert_eq!(again, now);
    assert_eq!(alice.history(&id).unwrap().len(), events);
    let claimed: Vec<_> = alice
        .history(&id)
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == "claimed")
        .collect();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].actor, "alice");
    assert_no_drift(&alice);
}

#[test]
fn an_issue_assigned_to_someone_else_cannot_be_claimed() {
    let (dir, mut alice) = fresh();
    let id = task(&mut alice, "assigned");
    alice
        .update(
            &id,
            &Changes {
                assignee: Some("carol".into()),
                ..Changes::default()
            },
        )
        .unwrap();
    let mut bob = open_as(&dir, "bob");
    assert!(matches!(bob.claim(&id), Err(Error::AlreadyClaimed { by, .. }) if by == "carol"));
    // The assignee may claim their own open issue.
    let mut carol = open_as(&dir, "carol");
    assert_eq!(carol.claim(&id).unwrap().status, "in_progress");
}

#[test]
fn closed_or_non_open_issues_are_not_claimable() {
    let (_d, mut s) = fresh();
    let id = task(&mut s, "done already");
    s.close(
        &id,
        &CloseOptions {
            reason: "done".into(),
            ..CloseOptions::default()
        },
    )
    .unwrap();
    match s.claim(&id) {
        Err(Error::NotClaimable { id: got, status }) => {
            assert_eq!(got, id);
            assert_eq!(status, "closed");
        }
        other => panic!("expected NotClaimable, got {other:?}"),
    }
    let deferred = task(&mut s, "later");
    s.update(
        &deferred,
        &Changes {
            status: Some("deferred".into()),
            ..Changes::default()
        },
    )
    .unwrap();
    assert!(matches!(
        s.claim(&deferred),
        Err(Error::NotClaimable { .. })
    ));
    assert!(matches!(s.claim("bd-none"), Err(Error::NotFound { .. })));
    assert_eq!(s.get(&id).unwrap().status, "closed");
}

#[test]
fn claim_ready_takes_the_top_ready_issue_then_the_next() {
    let (dir, mut alice) = fresh();
    let low = alice
        .create(NewIssue {
            title: "low".into(),
            priority: Some(3),
            ..NewIssue::default()
        })
        .unwrap()
        .id;
    let high = alice
        .create(NewIssue {
            title: "high".into(),
            priority: Some(0),
            ..NewIssue::default()
        })
        .unwrap()
        .id;
    let blocker = alice
        .create(NewIssue {
            title: "blocker".into(),
            priority: Some(4),
            ..NewIssue::default()
        })
        .unwrap()
        .id;
    let blocked = alice
        .create(NewIssue {
            title: "blocked".into(),
            priority: Some(0),
            ..NewIssue::default()
        })
        .unwrap()
        .id;
    alice
        .add_dependency(&blocked, &blocker, "blocks", None)
        .unwrap();
    let mut bob = open_as(&dir, "bob");

    let first = alice.claim_ready(&Filter::default()).unwrap();
    assert_eq!(first.id, high);
    assert_eq!(first.assignee, "alice");
    let second = bob.claim_ready(&Filter::default()).unwrap();
    assert_eq!(
        second.id, low,
        "bob gets the next ready issue, never alice's"
    );
    assert_eq!(second.assignee, "bob");
    let third = bob.claim_ready(&Filter::default()).unwrap();
    assert_eq!(third.id, blocker, "the blocked issue is skipped");
    assert!(matches!(
        alice.claim_ready(&Filter::default()),
        Err(Error::NothingReady)
    ));
    assert_no_drift(&alice);

    // Closing the blocker makes the blocked issue claimable.
    bob.close(&blocker, &CloseOptions::default()).unwrap();
    assert_eq!(alice.claim_ready(&Filter::default()).unwrap().id, blocked);
    assert_no_drift(&bob);
}

#[test]
fn claim_ready_on_an_empty_store_reports_nothing_ready() {
    let (_d, mut s) = fresh();
    assert!(matches!(
        s.claim_ready(&Filter::default()),
        Err(Error::NothingReady)
    ));
    let assigned = task(&mut s, "assigned elsewhere");
    s.update(
        &assigned,
        &Changes {
            assignee: Some("bob".into()),
            ..Changes::default()
        },
    )
    .unwrap();
    assert!(
        matches!(s.claim_ready(&Filter::default()), Err(Error::NothingReady)),
        "assigned issues are not up for grabs"
    );
}

#[test]
fn concurrent_claim_ready_from_threads_never_double_dispatches() {
    let (dir, mut s) = fresh();
    for n in 0..8 {
        task(&mut s, &format!("job {n}"));
    }
    let handles: Vec<_> = (0..4)
        .map(|w| {
            let path = dir.path().to_owned();
            std::thread::spawn(move || {
                let ctx = beads::Context {
                    actor: format!("worker{w}"),
                    clock: Box::new(host::clock::FixedClock(crate::start())),
                };
                let mut store = beads::Store::open(&path.join(".beads"), ctx).unwrap();
                let mut got = Vec::new();
                loop {
                    match store.claim_ready(&Filter::default()) {
                        Ok(issue) => got.push(issue.id),
                        Err(Error::NothingReady) => break got,
                        Err(e) => panic!("claim failed: {e}"),
                    }
                }
            })
        })
        .collect();
    let mut all: Vec<String> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all.sort();
    let n = all.len();
    all.dedup();
    assert_eq!(all.len(), n, "an issue was claimed twice");
    assert_eq!(n, 8);
    assert_no_drift(&s);
}
