//! The work loop's typed state: polecats, the respawn breaker, checkpoints, merge requests
//! and convoys.

use beads::{NewMergeRequest, PolecatUpdate};

use crate::{assert_no_drift, fresh, task};

#[test]
fn polecats_upsert_with_generations_and_count_toward_the_cap() {
    let (_dir, mut store) = fresh();
    let spawn = PolecatUpdate {
        state: Some("working".into()),
        bead_id: Some("bd-1".into()),
        new_generation: true,
        ..Default::default()
    };
    let p = store.upsert_polecat("gastown", "nux", &spawn).unwrap();
    assert_eq!(
        (p.state.as_str(), p.generation, p.bead_id.as_str()),
        ("working", 1, "bd-1")
    );
    store
        .upsert_polecat(
            "gastown",
            "slit",
            &PolecatUpdate {
                state: Some("spawning".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(store.working_polecats().unwrap(), 2);
    let idle = PolecatUpdate {
        state: Some("idle".into()),
        bead_id: Some(String::new()),
        ..Default::default()
    };
    let p = store.upsert_polecat("gastown", "nux", &idle).unwrap();
    assert_eq!(
        (p.state.as_str(), p.generation, p.bead_id.as_str()),
        ("idle", 1, "")
    );
    assert_eq!(store.working_polecats().unwrap(), 1);
    let again = store.upsert_polecat("gastown", "nux", &spawn).unwrap();
    assert_eq!(again.generation, 2, "a new session is a new generation");
    assert!(
        store
            .upsert_polecat(
                "gastown",
                "nux",
                &PolecatUpdate {
                    state: Some("dancing".into()),
                    ..Default::default()
                }
            )
            .is_err()
    );
    assert_eq!(store.polecats(Some("gastown")).unwrap().len(), 2);
    assert!(store.delete_polecat("gastown", "slit").unwrap());
    assert!(store.polecat("gastown", "slit").unwrap().is_none());
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
    assert_eq!(first.state, "queued");
    let (same, created) = store.submit_mr(&new("polecat/nux/bd-1@a", "1111")).unwrap();
    assert!(!created);
    assert_eq!(same.id, first.id);
    let (second, created) = store.submit_mr(&new("polecat/nux/bd-1@a", "2222")).unwrap();
    assert!(created);
    assert_eq!(store.mr(first.id).unwrap().state, "superseded");
    assert_eq!(
        store.mrs(Some("gastown"), &["queued"]).unwrap(),
        vec![second.clone()]
    );
    let merged = store
        .set_mr_state(second.id, "merged", "landed", "3333")
        .unwrap();
    assert_eq!(
        (merged.state.as_str(), merged.merged_sha.as_str()),
        ("merged", "3333")
    );
    assert!(store.set_mr_state(second.id, "nonsense", "", "").is_err());
    assert!(store.set_mr_state(999, "merged", "", "").is_err());
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
