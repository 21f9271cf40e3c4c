//! The scheduler's state: the sling queue, the admission caps that count it, rate-limit holds
//! and accounts.

use beads::{Admission, CapScope, Caps, ContextEnd};

use crate::{fresh, task};

#[test]
fn a_bead_is_queued_once_and_ends_once() {
    let (_dir, mut store) = fresh();
    let (a, b) = (task(&mut store, "a"), task(&mut store, "b"));
    let first = store.enqueue_sling(&a, "gastown", "{}").unwrap();
    assert_eq!((first.position, first.existing), (1, false));
    let second = store.enqueue_sling(&b, "gastown", "{}").unwrap();
    assert_eq!(second.position, 2);
    // Queued again: the same context, nothing written.
    let again = store.enqueue_sling(&a, "gastown", "{}").unwrap();
    assert_eq!(
        (again.id, again.position, again.existing),
        (first.id, 1, true)
    );
    assert_eq!(store.sling_contexts(false).unwrap().len(), 2);
    // Ending is a compare-and-set: the second dispatcher finds it gone.
    assert!(
        store
            .end_context(first.id, ContextEnd::Dispatched, "")
            .unwrap()
    );
    assert!(
        !store
            .end_context(first.id, ContextEnd::Cleared, "")
            .unwrap()
    );
    let queued = store.sling_contexts(false).unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].bead_id, b);
    // The work bead is untouched by queueing.
    assert_eq!(store.get(&b).unwrap().status, "open");
    // After three failures the context is circuit-broken.
    assert_eq!(store.context_failed(second.id, "boom", 3).unwrap(), Some(1));
    assert_eq!(store.context_failed(second.id, "boom", 3).unwrap(), Some(2));
    assert_eq!(store.context_failed(second.id, "boom", 3).unwrap(), Some(3));
    assert_eq!(store.context_failed(second.id, "boom", 3).unwrap(), None);
    let all = store.sling_contexts(true).unwrap();
    assert_eq!(
        all.iter().map(|c| c.state.as_str()).collect::<Vec<_>>(),
        ["dispatched", "circuit_broken"]
    );
}

#[test]
fn ready_queued_beads_count_against_a_new_sling_but_not_the_dispatcher() {
    let (_dir, mut store) = fresh();
    let (a, b, c, d) = (
        task(&mut store, "a"),
        task(&mut store, "b"),
        task(&mut store, "c"),
        task(&mut store, "d"),
    );
    store
        .admit_polecat("gastown", "nux", &a, Caps::town(2))
        .unwrap();
    store.enqueue_sling(&b, "gastown", "{}").unwrap();
    // A blocked queued bead does not count: it could not start anyway.
    store.add_dependency(&c, &a, "blocks", None).unwrap();
    store.enqueue_sling(&c, "gastown", "{}").unwrap();
    let behind = Caps {
        town: 2,
        rig: 0,
        behind_queue: true,
    };
    assert_eq!(
        store.admit_polecat("gastown", "slit", &d, behind).unwrap(),
        Admission::AtCap {
            working: 2,
            scope: CapScope::Town
        }
    );
    // The dispatcher starts the queue's head.
    assert!(matches!(
        store
            .admit_polecat("gastown", "slit", &b, Caps::town(2))
            .unwrap(),
        Admission::Admitted { .. }
    ));
    // A rig cap counts the rig's polecats only.
    let rig_cap = Caps {
        town: 10,
        rig: 2,
        behind_queue: false,
    };
    assert!(matches!(
        store
            .admit_polecat("gastown", "rictus", &d, rig_cap)
            .unwrap(),
        Admission::AtCap {
            working: 2,
            scope: CapScope::Rig
        }
    ));
    assert!(matches!(
        store.admit_polecat("other", "rictus", &d, rig_cap).unwrap(),
        Admission::Admitted { .. }
    ));
}

#[test]
fn holds_extend_and_release_after_their_window() {
    let (_dir, mut store) = fresh();
    let now = store.now();
    store
        .set_hold(
            "claude/work",
            "claude",
            "2000-01-01T00:00:00.000000Z",
            "limit",
            "gastown/polecats/nux",
        )
        .unwrap();
    // A later reset extends the hold; an earlier one never shortens it.
    store
        .set_hold(
            "claude/home",
            "claude",
            "2999-01-01T00:00:00.000000Z",
            "limit",
            "x",
        )
        .unwrap();
    store
        .set_hold(
            "claude/home",
            "claude",
            "2001-01-01T00:00:00.000000Z",
            "again",
            "x",
        )
        .unwrap();
    let holds = store.holds().unwrap();
    assert_eq!(holds.len(), 2);
    assert_eq!(holds[1].until, "2999-01-01T00:00:00.000000Z");
    assert!(holds[0].until < now);
    assert_eq!(store.release_holds(None, &now).unwrap(), ["claude/work"]);
    assert_eq!(
        store.release_holds(Some("claude/home"), &now).unwrap(),
        ["claude/home"]
    );
    assert!(store.holds().unwrap().is_empty());
}

#[test]
fn the_first_account_of_a_provider_is_its_default() {
    let (_dir, mut store) = fresh();
    assert!(
        store
            .add_account("claude", "work", "/a")
            .unwrap()
            .is_default
    );
    assert!(
        !store
            .add_account("claude", "home", "/b")
            .unwrap()
            .is_default
    );
    assert!(store.add_account("claude", "home", "/c").is_err());
    store.set_default_account("claude", "home").unwrap();
    assert!(store.set_default_account("claude", "nobody").is_err());
    let accounts = store.accounts().unwrap();
    assert_eq!(
        accounts
            .iter()
            .map(|a| (a.key(), a.is_default))
            .collect::<Vec<_>>(),
        [
            ("claude/home".to_owned(), true),
            ("claude/work".to_owned(), false)
        ]
    );
    store
        .assign_account("gastown/polecats/nux", "claude", "home")
        .unwrap();
    assert_eq!(
        store.assigned_account("gastown/polecats/nux").unwrap(),
        Some(("claude".into(), "home".into()))
    );
}
