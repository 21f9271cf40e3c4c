//! A change the refinery sends back, end to end: a scripted agent submits work that fails the
//! rig's gate (its `once` lines), the refinery fails the merge request and hooks the bead to
//! the polecat again, `gt prime` shows the gate's output, `gt done` refuses the same commit,
//! and the polecat started again (as the witness will) skips its `once` lines, fixes the work
//! and submits a new merge request that lands.

use std::path::PathBuf;

use testkit::wait_until;

use super::stderr;
use super::work_loop::{TIMEOUT, Town, json, ok, script, stdout};

/// The rig's gate: fails while `gate-input.txt` says FAIL.
const GATE: &str = "if grep -q FAIL gate-input.txt 2>/dev/null; then echo 'checking gate-input.txt'; echo 'error: gate-input.txt says FAIL'; exit 1; fi; echo 'gate: ok'";

#[test]
fn a_sent_back_change_is_fixed_by_the_restarted_polecat_and_lands() {
    let Some(t) = Town::new() else { return };
    ok(t.gt(&[
        "config",
        "set",
        "merge_queue.test_command",
        GATE,
        "--rig",
        "gastown",
    ]));
    let bead = t.create(
        "Break then fix",
        &script(
            "once write gate-input.txt FAIL\nonce commit break it\nonce done COMPLETED\nprime\nwrite gate-input.txt ok\ncommit fix it\ndone COMPLETED",
        ),
    );
    let slung = t.sling(&[&bead, "gastown"]);
    let polecat = slung[0]["polecat"].as_str().unwrap().to_owned();
    let status = || json(&ok(t.gt(&["--json", "polecat", "status", &polecat])));
    let wait_dead = || {
        wait_until(TIMEOUT, || status()["alive"] == false)
            .unwrap_or_else(|e| panic!("{e}\n{}", t.panes()));
    };
    t.wait_status(&bead, "submitted");
    wait_dead();
    let worktree = PathBuf::from(status()["polecat"]["worktree"].as_str().unwrap().to_owned());
    let broken = t.git(&worktree, &["rev-parse", "HEAD"]);
    assert_eq!(t.merge_requests(), [("queued".to_owned(), 1)]);
    let prime = || stdout(&ok(t.gt_in(&worktree, &["prime"])));
    assert!(!prime().contains("Sent back"), "{}", prime());

    // The gate fails: the request is failed, the bead hooked to its polecat again.
    ok(t.gt(&["refinery", "run", "gastown", "--once"]));
    assert_eq!(t.merge_requests(), [("failed".to_owned(), 1)]);
    assert_eq!(t.status(&bead), "hooked");
    let text = prime();
    let expected = format!(
        "## Sent back by the refinery\n\nYour merge request mr-1 (commit {}) did not land: failed — gate `test` failed.\n\nRefinery: gate `test` failed on mr-1:\n\n```\nchecking gate-input.txt\nerror: gate-input.txt says FAIL\n```\n\nFix what the gate reports on this branch, commit, then run `gt done` again: it queues a new merge request.\nDo not push to `main` yourself.\n",
        &broken[..10]
    );
    assert!(text.contains(&expected), "{text}");

    // The same commit again: refused, nothing queued.
    let out = t.gt_in(&worktree, &["done"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the refinery sent mr-1 back"),
        "{}",
        stderr(&out)
    );
    assert_eq!(t.merge_requests(), [("failed".to_owned(), 1)]);

    // Started again in the same worktree: the `once` lines are skipped, the fix is submitted.
    let again = t.sling(&[&bead, "gastown"]);
    assert_eq!(again[0]["action"], "restarted", "{again:?}");
    t.wait_status(&bead, "submitted");
    wait_dead();
    assert_eq!(
        t.git(&worktree, &["log", "--format=%s", "origin/main..HEAD"]),
        "fix it\nbreak it"
    );
    assert_eq!(
        t.merge_requests(),
        [("queued".to_owned(), 1), ("superseded".to_owned(), 1)]
    );
    assert!(!prime().contains("Sent back"), "{}", prime());
    // A queued request is not duplicated by another `gt done`.
    ok(t.gt_in(&worktree, &["done"]));
    assert_eq!(
        t.merge_requests(),
        [("queued".to_owned(), 1), ("superseded".to_owned(), 1)]
    );

    ok(t.gt(&["refinery", "run", "gastown", "--once"]));
    assert_eq!(
        t.merge_requests(),
        [("merged".to_owned(), 1), ("superseded".to_owned(), 1)]
    );
    assert_eq!(t.status(&bead), "closed");
}

/// The same polecat (no restart, so the same generation of its `gt done` steps) fixes a
/// sent-back change by hand: `gt done` after the send-back is a new round that queues a new
/// request, while `gt done` on a queued request stays a no-op.
#[test]
fn gt_done_after_a_send_back_queues_a_new_request_once() {
    let Some(t) = Town::new() else { return };
    ok(t.gt(&[
        "config",
        "set",
        "merge_queue.test_command",
        GATE,
        "--rig",
        "gastown",
    ]));
    let bead = t.create("Fixed by hand", &script("hang"));
    let slung = t.sling(&[&bead, "gastown"]);
    let name = slung[0]["polecat"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    let wt = t.rig().join("polecats").join(name);
    std::fs::write(wt.join("gate-input.txt"), "FAIL\n").unwrap();
    t.git(&wt, &["add", "gate-input.txt"]);
    t.git(&wt, &["commit", "-qm", "break it"]);
    let first = json(&ok(t.gt_in(&wt, &["--json", "done"])));
    assert_eq!(first["merge_request"]["state"], "queued", "{first}");
    ok(t.gt(&["refinery", "run", "gastown", "--once"]));
    assert_eq!(t.merge_requests(), [("failed".to_owned(), 1)]);

    let out = t.gt_in(&wt, &["done"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("still holds that commit"),
        "{}",
        stderr(&out)
    );

    std::fs::write(wt.join("gate-input.txt"), "ok\n").unwrap();
    t.git(&wt, &["commit", "-qam", "fix it"]);
    let second = json(&ok(t.gt_in(&wt, &["--json", "done"])));
    assert_eq!(second["already_done"], false, "{second}");
    assert_eq!(second["merge_request"]["id"], 2, "{second}");
    assert_eq!(second["merge_request"]["state"], "queued", "{second}");
    assert_eq!(t.status(&bead), "submitted");
    let third = json(&ok(t.gt_in(&wt, &["--json", "done"])));
    assert_eq!(third["already_done"], true, "{third}");
    assert_eq!(
        t.merge_requests(),
        [("queued".to_owned(), 1), ("superseded".to_owned(), 1)]
    );
    ok(t.gt(&["refinery", "run", "gastown", "--once"]));
    assert_eq!(t.status(&bead), "closed");
    // Merged: still done, nothing new queued.
    assert_eq!(
        json(&ok(t.gt_in(&wt, &["--json", "done"])))["already_done"],
        true
    );
    assert_eq!(
        t.merge_requests(),
        [("merged".to_owned(), 1), ("superseded".to_owned(), 1)]
    );
}
