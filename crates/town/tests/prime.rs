//! `gt prime` for a polecat whose change the refinery sent back: the section that says why
//! (the merge request, its state, and the note the refinery left on the bead — the failing
//! gate's output or the conflicting files), and no such section otherwise.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test by panicking"
)]

use beads::{NewIssue, NewMergeRequest, PolecatUpdate, Store};
use testkit::TestEnv;
use town::layout::Town;
use town::work::identity::PolecatId;
use town::work::prime::{Role, render};

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const FIXED: &str = "89abcdef0123456789abcdef0123456789abcdef";

fn context() -> beads::Context {
    beads::Context {
        actor: "refinery".to_owned(),
        clock: Box::new(host::clock::SystemClock),
    }
}

/// A town whose polecat `app/nux` has bead `bead` hooked; no rig config, so the target is
/// `main`.
fn town(env: &TestEnv) -> (Town, Store, PolecatId, String) {
    let root = env.root().join("town");
    town::install::install(
        &root,
        &town::install::InstallOptions {
            owner: "test@example.com".into(),
            ..Default::default()
        },
        context(),
    )
    .unwrap();
    let town = Town::at(root);
    let mut store = Store::open(&town.beads_dir(), context()).unwrap();
    let bead = store
        .create(NewIssue {
            title: "Make the gate pass".into(),
            ..Default::default()
        })
        .unwrap()
        .id;
    store
        .upsert_polecat(
            "app",
            "nux",
            &PolecatUpdate {
                bead_id: Some(bead.clone()),
                branch: Some(format!("polecat/nux/{bead}")),
                ..Default::default()
            },
        )
        .unwrap();
    (town, store, PolecatId::new("app", "nux").unwrap(), bead)
}

fn submit(store: &mut Store, bead: &str, sha: &str) -> beads::MergeRequest {
    store
        .submit_mr(&NewMergeRequest {
            rig: "app".into(),
            bead_id: bead.into(),
            branch: format!("polecat/nux/{bead}"),
            sha: sha.into(),
            target: "main".into(),
            polecat: "app/nux".into(),
            priority: 2,
        })
        .unwrap()
        .0
}

fn prime(town: &Town, store: &Store, id: &PolecatId) -> String {
    render(town, store, &Role::Polecat(id.clone())).unwrap()
}

/// The section from its heading to the next one.
fn section(text: &str) -> Option<&str> {
    let start = text.find("## Sent back by the refinery")?;
    let rest = &text[start..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |n| n + 3);
    Some(&rest[..end])
}

#[test]
fn a_failed_gate_shows_its_output_and_what_to_do() {
    let env = TestEnv::new();
    let (town, mut store, id, bead) = town(&env);
    assert_eq!(section(&prime(&town, &store, &id)), None, "nothing queued");
    let mr = submit(&mut store, &bead, SHA);
    assert_eq!(section(&prime(&town, &store, &id)), None, "queued");

    // What the refinery's `send_back` records.
    store.start_testing_mr(mr.id).unwrap();
    store.fail_mr(mr.id, "gate `test` failed").unwrap();
    store
        .add_comment(
            &bead,
            "Refinery: gate `test` failed on mr-1:\n\n```\nchecking gate-input.txt\nerror: gate-input.txt says FAIL\n```",
        )
        .unwrap();
    store.add_comment(&bead, "a person's note").unwrap();
    let text = prime(&town, &store, &id);
    assert_eq!(
        section(&text),
        Some(
            "## Sent back by the refinery

Your merge request mr-1 (commit 0123456789) did not land: failed — gate `test` failed.

Refinery: gate `test` failed on mr-1:

```
checking gate-input.txt
error: gate-input.txt says FAIL
```

Fix what the gate reports on this branch, commit, then run `gt done` again: it queues a new merge request.
Do not push to `main` yourself.
"
        ),
        "{text}"
    );
    // After the bead's own text, before how to finish.
    let at = text.find("## Sent back").unwrap();
    assert!(text.find("Hooked bead:").unwrap() < at, "{text}");
    assert!(at < text.find("## When you are done").unwrap(), "{text}");

    // Submitted again: the new request is queued, the old one superseded; nothing to show.
    submit(&mut store, &bead, FIXED);
    assert_eq!(section(&prime(&town, &store, &id)), None);
}

#[test]
fn a_conflict_shows_the_files_and_how_to_merge() {
    let env = TestEnv::new();
    let (town, mut store, id, bead) = town(&env);
    let old = submit(&mut store, &bead, SHA);
    store.start_testing_mr(old.id).unwrap();
    store.fail_mr(old.id, "gate `test` failed").unwrap();
    store
        .add_comment(
            &bead,
            "Refinery: gate `test` failed on mr-1:\n\n```\nold\n```",
        )
        .unwrap();
    let mr = submit(&mut store, &bead, FIXED);
    assert_eq!(mr.label(), "mr-2");
    // What the refinery's `conflict` records.
    store
        .conflict_mr(
            mr.id,
            "conflicts on shared.txt, src/lib.rs; resolution bead hq-zz1",
        )
        .unwrap();
    store
        .add_comment(
            &bead,
            "Refinery: mr-2 conflicts with `main` on shared.txt, src/lib.rs; see hq-zz1.",
        )
        .unwrap();
    let text = prime(&town, &store, &id);
    assert_eq!(
        section(&text),
        Some(
            "## Sent back by the refinery

Your merge request mr-2 (commit 89abcdef01) did not land: conflict — conflicts on shared.txt, src/lib.rs; resolution bead hq-zz1.

Refinery: mr-2 conflicts with `main` on shared.txt, src/lib.rs; see hq-zz1.

Merge `origin/main` into your branch (`git fetch origin && git merge origin/main`; do not rebase: `gt done` does not force-push), resolve the conflicts on this branch, commit, then run `gt done` again: it queues a new merge request.
Do not push to `main` yourself.
"
        ),
        "{text}"
    );
}
