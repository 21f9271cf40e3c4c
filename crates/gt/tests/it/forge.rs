//! Landing through a forge (`merge_queue.strategy = pr | github-merge-queue`) with the
//! stand-in `gh` and `glab` (`gt-fake-forge`, linked under both names on the test's `PATH`):
//! the pull request's life as the forge tells it — checks, reviews, the merge queue, a human's
//! merge — decides when the bead closes, and a refinery killed while waiting picks up the same
//! pull request.

use std::path::PathBuf;
use std::process::Stdio;

use serde_json::Value;
use testkit::{sigkill, wait_until};

use super::mq::submit;
use super::stderr;
use super::work_loop::{TIMEOUT, Town, json, ok, stdout};

const FAKE_FORGE: &str = env!("CARGO_BIN_EXE_gt-fake-forge");

/// A town whose rig `gastown` lands through `forge` (`github`/`gitlab`) with `strategy`, the
/// stand-in CLIs first on `PATH`.
fn forge_town(forge: &str, strategy: &str) -> Option<Town> {
    let t = Town::new()?;
    install_fake_forge(&t);
    for (key, value) in [
        ("merge_queue.forge", forge),
        ("merge_queue.strategy", strategy),
        ("merge_queue.forge_poll_secs", "1"),
    ] {
        ok(set_rig(&t, key, value));
    }
    Some(t)
}

/// `gt config set <key> <value> --rig gastown`.
fn set_rig(t: &Town, key: &str, value: &str) -> std::process::Output {
    t.gt(&["config", "set", key, value, "--rig", "gastown"])
}

/// Links the stand-in as `gh` and `glab` into a directory put first on the town's `PATH`.
fn install_fake_forge(t: &Town) {
    let bin = t.env.root().join("forge-bin");
    std::fs::create_dir_all(&bin).expect("make the forge bin dir");
    for name in ["gh", "glab"] {
        std::os::unix::fs::symlink(FAKE_FORGE, bin.join(name)).expect("link the fake forge");
    }
    t.env.prepend_path(&bin);
}

fn forge_dir(t: &Town) -> PathBuf {
    t.remote.join("fake-forge")
}

fn knob(t: &Town, name: &str, text: &str) {
    let dir = forge_dir(t).join("knobs");
    std::fs::create_dir_all(&dir).expect("make the knobs dir");
    std::fs::write(dir.join(name), text).expect("write a knob");
}

fn unknob(t: &Town, name: &str) {
    std::fs::remove_file(forge_dir(t).join("knobs").join(name)).expect("remove a knob");
}

/// The forge's pull requests.
fn prs(t: &Town) -> Vec<Value> {
    std::fs::read_to_string(forge_dir(t).join("prs.json"))
        .map(|text| serde_json::from_str(&text).expect("prs.json is JSON"))
        .unwrap_or_default()
}

/// Every call the refinery (or a test) made to the forge CLIs.
fn calls(t: &Town) -> String {
    std::fs::read_to_string(forge_dir(t).join("log")).unwrap_or_default()
}

/// Runs the stand-in CLI as a human would, in a checkout of the remote.
fn human(t: &Town, program: &str, args: &[&str]) {
    let dir = t.rig().join("refinery/rig");
    let out = t
        .env
        .command(t.env.root().join("forge-bin").join(program))
        .current_dir(&dir)
        .args(args)
        .output()
        .expect("run the forge CLI");
    assert!(out.status.success(), "{program} {args:?}: {}", stderr(&out));
}

fn refinery_once(t: &Town) -> Value {
    json(&ok(
        t.gt(&["--json", "refinery", "run", "gastown", "--once"])
    ))
}

fn mr_state(t: &Town, label: &str) -> Value {
    json(&ok(t.gt(&["--json", "mq", "status", label])))
}

/// The remote's `main`.
fn main_sha(t: &Town) -> String {
    t.git(&t.remote, &["rev-parse", "refs/heads/main"])
        .trim()
        .to_owned()
}

fn comments(t: &Town, bead: &str) -> String {
    stdout(&ok(t.bd(&["comments", bead])))
}

/// One queued change: its bead and request label.
fn change(t: &Town, title: &str) -> (String, String) {
    let bead = t.create(title, "Make the thing do the other thing.");
    let mr = submit(t, &bead, &format!("polecat/nux/{bead}"));
    (bead, format!("mr-{}", mr["id"]))
}

#[test]
fn a_clean_change_lands_through_a_github_pull_request_labelled_and_linked_to_its_bead() {
    let Some(t) = forge_town("github", "pr") else {
        return;
    };
    ok(set_rig(&t, "merge_queue.labels", r#"["gas-town"]"#));
    let before = main_sha(&t);
    let (bead, label) = change(&t, "Teach the widget to spin");
    let passes = refinery_once(&t);
    assert!(
        passes.to_string().contains(&format!("{label} #1")),
        "{passes}"
    );

    let status = mr_state(&t, &label);
    assert_eq!(status["state"], "merged", "{status}");
    assert_eq!(t.status(&bead), "closed");
    let prs = prs(&t);
    assert_eq!(prs.len(), 1, "{prs:?}");
    let pr = &prs[0];
    assert_eq!(pr["state"], "MERGED");
    assert_eq!(pr["title"], "Teach the widget to spin");
    assert!(
        pr["body"].as_str().unwrap_or_default().contains(&bead),
        "{pr}"
    );
    assert_eq!(pr["labels"], serde_json::json!(["gas-town"]));
    assert_eq!(pr["head"], format!("refinery/polecat/nux/{bead}"));
    // The repository allows every method; the first, a merge commit, is what it used.
    assert_eq!(pr["method"], "merge");
    let merged = pr["merge_commit"].as_str().expect("a merge commit");
    assert_eq!(status["merged_sha"], merged);
    assert_eq!(main_sha(&t), merged);
    let parents = t.git(&t.remote, &["rev-list", "--parents", "-n1", merged]);
    assert!(parents.contains(&before), "{parents}");
    assert!(comments(&t, &bead).contains("waiting on pull request #1"));
    let log = calls(&t);
    assert!(log.contains("gh pr merge 1 --match-head-commit"), "{log}");
    assert!(!log.contains("--admin"), "{log}");
}

#[test]
fn a_clean_change_lands_through_a_gitlab_merge_request_squashed() {
    let Some(t) = forge_town("gitlab", "pr") else {
        return;
    };
    ok(set_rig(&t, "merge_queue.merge_method", "squash"));
    let before = main_sha(&t);
    let (bead, label) = change(&t, "Squash me");
    refinery_once(&t);
    assert_eq!(mr_state(&t, &label)["state"], "merged");
    assert_eq!(t.status(&bead), "closed");
    let pr = &prs(&t)[0];
    assert_eq!(
        (&pr["state"], &pr["method"]),
        (&"MERGED".into(), &"squash".into())
    );
    // One commit on top of the old target, with the change's file.
    let main = main_sha(&t);
    assert_eq!(
        t.git(&t.remote, &["rev-parse", &format!("{main}^")]).trim(),
        before
    );
    let files = t.git(&t.remote, &["ls-tree", "--name-only", &main]);
    assert!(files.contains(&format!("{bead}.txt")), "{files}");
    assert!(calls(&t).contains("glab mr merge 1 --yes --sha"));
}

#[test]
fn a_gitlab_without_the_approvals_endpoint_still_lands_by_the_merge_status() {
    let Some(t) = forge_town("gitlab", "pr") else {
        return;
    };
    knob(&t, "no-approvals-api", "");
    let (bead, label) = change(&t, "Free tier");
    refinery_once(&t);
    assert_eq!(mr_state(&t, &label)["state"], "merged", "{}", calls(&t));
    assert_eq!(t.status(&bead), "closed");
    assert!(calls(&t).contains("glab api projects/:id/merge_requests/1/approvals"));
}

/// A rig that requires a review, on a GitLab that cannot report approvals: the refinery
/// waits (it never lands a review it cannot see) and says why once, in an escalation naming
/// the setting; with the setting off, the change lands by the merge status.
#[test]
fn a_required_review_a_gitlab_cannot_report_is_escalated_once_while_the_change_waits() {
    let Some(t) = forge_town("gitlab", "pr") else {
        return;
    };
    knob(&t, "no-approvals-api", "");
    ok(set_rig(&t, "merge_queue.require_review", "true"));
    let (bead, label) = change(&t, "Reviewed, unseen");
    for _ in 0..3 {
        refinery_once(&t);
        assert_eq!(mr_state(&t, &label)["state"], "testing");
    }
    let raised = escalations(&t);
    assert_eq!(raised.len(), 1, "{raised:?}");
    let text = raised[0].to_string();
    assert!(text.contains("cannot report"), "{text}");
    assert!(
        text.contains("merge_queue.require_review false --rig gastown"),
        "{text}"
    );
    assert!(
        text.contains("https://gitlab.com/fake/repo/-/merge_requests/1"),
        "{text}"
    );
    ok(set_rig(&t, "merge_queue.require_review", "false"));
    refinery_once(&t);
    assert_eq!(mr_state(&t, &label)["state"], "merged");
    assert_eq!(t.status(&bead), "closed");
}

#[test]
fn a_failing_github_check_sends_the_change_back_with_its_name_and_link() {
    failing_check_sends_back("github", "https://github.com/fake/repo/pull/1/checks/lint");
}

#[test]
fn a_failing_gitlab_job_sends_the_change_back_with_its_name_and_link() {
    failing_check_sends_back(
        "gitlab",
        "https://gitlab.com/fake/repo/-/merge_requests/1/jobs/lint",
    );
}

fn failing_check_sends_back(forge: &str, link: &str) {
    let Some(t) = forge_town(forge, "pr") else {
        return;
    };
    knob(
        &t,
        "checks",
        r#"[{"name":"ci","bucket":"pass"},{"name":"lint","bucket":"fail"}]"#,
    );
    let before = main_sha(&t);
    let (bead, label) = change(&t, "Break the lint");
    refinery_once(&t);
    let status = mr_state(&t, &label);
    assert_eq!(status["state"], "failed", "{status}");
    assert!(
        status["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("check `lint` failed"),
        "{status}"
    );
    assert_eq!(t.status(&bead), "open");
    let notes = comments(&t, &bead);
    assert!(
        notes.contains("check `lint` failed on pull request #1"),
        "{notes}"
    );
    assert!(notes.contains(link), "{notes}");
    assert_eq!(main_sha(&t), before, "nothing landed");
    assert!(!calls(&t).contains(" merge "), "never asked to merge");
}

#[test]
fn a_required_github_review_holds_the_change_until_approved() {
    review_holds_until_approved("github", "gh", &["pr", "review", "1", "--approve"]);
}

#[test]
fn a_required_gitlab_approval_holds_the_change_until_given() {
    review_holds_until_approved("gitlab", "glab", &["mr", "approve", "1"]);
}

fn review_holds_until_approved(forge: &str, program: &str, approve: &[&str]) {
    let Some(t) = forge_town(forge, "pr") else {
        return;
    };
    knob(&t, "require-review", "");
    ok(set_rig(&t, "merge_queue.require_review", "true"));
    let (bead, label) = change(&t, "Needs eyes");
    let convoy = json(&ok(t.gt(&["--json", "convoy", "create", "Eyes", &bead])))["id"]
        .as_str()
        .expect("a convoy id")
        .to_owned();
    let convoy_state =
        || json(&ok(t.gt(&["--json", "convoy", "status", &convoy])))[0]["state"].clone();
    let before = main_sha(&t);
    for _ in 0..2 {
        refinery_once(&t);
        assert_eq!(mr_state(&t, &label)["state"], "testing");
        assert_ne!(t.status(&bead), "closed");
    }
    assert_eq!(main_sha(&t), before);
    assert_eq!(prs(&t)[0]["state"], "OPEN");
    assert_eq!(mr_state(&t, &label)["pull_request"], 1);
    assert_eq!(
        convoy_state(),
        "open",
        "not landed while the forge holds it"
    );

    human(&t, program, approve);
    refinery_once(&t);
    assert_eq!(mr_state(&t, &label)["state"], "merged");
    assert_eq!(t.status(&bead), "closed");
    assert_eq!(convoy_state(), "landed");
}

#[test]
fn the_merge_queue_merges_a_change_and_an_ejection_sends_one_back() {
    let Some(t) = forge_town("github", "github-merge-queue") else {
        return;
    };
    let (landed_bead, landed) = change(&t, "Through the queue");
    refinery_once(&t);
    assert_eq!(mr_state(&t, &landed)["state"], "merged");
    assert_eq!(t.status(&landed_bead), "closed");
    assert!(calls(&t).contains("gh pr merge 1 --auto --match-head-commit"));

    knob(&t, "eject", "");
    let before = main_sha(&t);
    let (bead, label) = change(&t, "Ejected");
    refinery_once(&t);
    // Enqueued; the queue ejects it meanwhile, and the next look sees that.
    assert_eq!(mr_state(&t, &label)["state"], "testing");
    refinery_once(&t);
    let status = mr_state(&t, &label);
    assert_eq!(status["state"], "failed", "{status}\n{}", calls(&t));
    assert!(
        status["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("removed from the merge queue"),
        "{status}"
    );
    assert_eq!(t.status(&bead), "open");
    assert_eq!(main_sha(&t), before);
}

#[test]
fn a_refinery_killed_while_waiting_resumes_on_the_same_pull_request() {
    let Some(t) = forge_town("github", "pr") else {
        return;
    };
    knob(&t, "checks", r#"[{"name":"ci","bucket":"pending"}]"#);
    let (bead, label) = change(&t, "Slow checks");
    let mut child = t
        .env
        .command(super::GT)
        .args(["refinery", "run", "gastown", "--interval", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the refinery");
    // Waiting on the forge: the pull request is open and the refinery has looked at its checks.
    wait_until(TIMEOUT, || {
        calls(&t).contains("gh pr checks 1") && mr_state(&t, &label)["state"] == "testing"
    })
    .expect("the refinery waits on pull request #1");
    sigkill(child.id());
    let _ = child.wait();

    knob(&t, "checks", r#"[{"name":"ci","bucket":"pass"}]"#);
    refinery_once(&t);
    assert_eq!(mr_state(&t, &label)["state"], "merged");
    assert_eq!(t.status(&bead), "closed");
    let prs = prs(&t);
    assert_eq!(prs.len(), 1, "one pull request, reused: {prs:?}");
    assert_eq!(prs[0]["state"], "MERGED");
    assert_eq!(calls(&t).matches("gh pr create").count(), 1);
    assert_eq!(calls(&t).matches("gh pr merge").count(), 1);
}

#[test]
fn a_pull_request_merged_by_hand_while_the_refinery_was_down_is_recognised() {
    let Some(t) = forge_town("github", "pr") else {
        return;
    };
    knob(&t, "checks", r#"[{"name":"ci","bucket":"pending"}]"#);
    let (bead, label) = change(&t, "Merged by a human");
    refinery_once(&t);
    assert_eq!(mr_state(&t, &label)["state"], "testing");

    unknob(&t, "checks");
    human(&t, "gh", &["pr", "merge", "1", "--squash"]);
    let merged = prs(&t)[0]["merge_commit"]
        .as_str()
        .expect("merged by hand")
        .to_owned();
    refinery_once(&t);
    let status = mr_state(&t, &label);
    assert_eq!(status["state"], "merged", "{status}");
    assert_eq!(status["merged_sha"], merged);
    assert_eq!(t.status(&bead), "closed");
    assert_eq!(main_sha(&t), merged);
    // The refinery never asked the forge to merge it: the human did, once.
    assert_eq!(calls(&t).matches("pr merge").count(), 1);
}

#[test]
fn a_change_already_on_the_target_lands_without_a_second_pull_request() {
    let Some(t) = forge_town("github", "pr") else {
        return;
    };
    let (bead, label) = change(&t, "Already there");
    // Its pull request merged before the refinery could record it; here: pushed by hand.
    let clone = t.env.work().join(format!("clone-{bead}"));
    t.git(
        &clone,
        &["push", "-q", "origin", &format!("polecat/nux/{bead}:main")],
    );
    let main = main_sha(&t);
    refinery_once(&t);
    let status = mr_state(&t, &label);
    assert_eq!(status["state"], "merged", "{status}");
    assert_eq!(status["merged_sha"], main);
    assert_eq!(t.status(&bead), "closed");
    assert!(prs(&t).is_empty(), "{:?}", prs(&t));
    assert_eq!(main_sha(&t), main);
}

#[test]
fn a_forge_cli_that_is_missing_or_logged_out_is_refused_up_front() {
    let Some(t) = Town::new() else { return };
    // No `gh` on PATH at all.
    let out = set_rig(&t, "merge_queue.strategy", "pr");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("cannot tell the forge of"), "{err}");
    ok(set_rig(&t, "merge_queue.forge", "github"));
    let out = set_rig(&t, "merge_queue.strategy", "pr");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("`gh` (the GitHub CLI) is not on PATH"),
        "{}",
        stderr(&out)
    );
    // A bad word is named with the ones allowed; nothing is written.
    let out = set_rig(&t, "merge_queue.strategy", "yolo");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("`direct`, `pr`, `github-merge-queue`"),
        "{}",
        stderr(&out)
    );
    let got = json(&ok(t.gt(&[
        "--json",
        "config",
        "get",
        "merge_queue.strategy",
        "--rig",
        "gastown",
    ])));
    assert!(got.to_string().contains("direct"), "{got}");

    // Logged out: refused at `config set`, and `gt doctor` says so for a rig already set.
    install_fake_forge(&t);
    t.env.set("GT_FAKE_FORGE_AUTH", "fail");
    let out = set_rig(&t, "merge_queue.strategy", "pr");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("`gh` is not logged in"),
        "{}",
        stderr(&out)
    );
    t.env.set("GT_FAKE_FORGE_AUTH", "ok");
    ok(set_rig(&t, "merge_queue.strategy", "pr"));
    t.env.set("GT_FAKE_FORGE_AUTH", "fail");
    let doctor = json(&t.gt(&["--json", "doctor"]));
    let check = doctor
        .as_array()
        .into_iter()
        .flatten()
        .chain(doctor["checks"].as_array().into_iter().flatten())
        .find(|c| c["check"] == "forge:gastown")
        .cloned()
        .unwrap_or_else(|| panic!("no forge check: {doctor}"));
    assert_eq!(check["status"], "error", "{check}");
    assert!(
        check["message"]
            .as_str()
            .unwrap_or_default()
            .contains("`gh` is not logged in"),
        "{check}"
    );
    // And a new rig of a town that lands through a logged-out forge is not added.
    ok(t.gt(&["config", "set", "merge_queue.strategy", "pr"]));
    ok(t.gt(&["config", "set", "merge_queue.forge", "github"]));
    let url = format!("file://{}", t.remote.display());
    let out = t.gt(&["rig", "add", "second", &url]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`gh` is not logged in"),
        "{}",
        stderr(&out)
    );
    assert!(!t.root.join("second").exists());
}

#[test]
fn the_daemon_lands_a_slung_change_through_its_pull_request_once_the_checks_pass() {
    let Some(f) = super::daemon::Factory::new() else {
        return;
    };
    let t = &f.town;
    install_fake_forge(t);
    for (key, value) in [
        ("merge_queue.forge", "github"),
        ("merge_queue.strategy", "pr"),
        ("merge_queue.forge_poll_secs", "1"),
    ] {
        ok(set_rig(t, key, value));
    }
    knob(t, "checks", r#"[{"name":"ci","bucket":"pending"}]"#);
    f.up(&[]);
    let bead = t.create(
        "add a greeting",
        &super::work_loop::script("write hello.txt hello\ncommit add a greeting\ndone COMPLETED"),
    );
    t.sling(&[&bead, "gastown"]);
    // The daemon's refinery opens the pull request and keeps looking while the check runs.
    wait_until(TIMEOUT, || calls(t).matches("gh pr checks 1").count() >= 2)
        .unwrap_or_else(|e| panic!("the daemon never waited on #1: {e}\n{}", f.log()));
    assert_eq!(t.status(&bead), "submitted");
    knob(t, "checks", r#"[{"name":"ci","bucket":"pass"}]"#);
    t.wait_status(&bead, "closed");
    assert_eq!(prs(t)[0]["state"], "MERGED");
    let main = t.git(&t.remote, &["show", "main:hello.txt"]);
    assert_eq!(main.trim(), "hello");
}

/// Commits a fix on top of `bead`'s change (in the clone [`submit`] made), pushes it as
/// `branch` and queues it again, as a polecat's `gt done` after a send-back does.
fn resubmit(t: &Town, bead: &str, branch: &str) -> String {
    let clone = t.env.work().join(format!("clone-{bead}"));
    std::fs::write(clone.join(format!("{bead}.fix")), "fixed\n").expect("write a file");
    t.git(&clone, &["add", "."]);
    t.git(&clone, &["commit", "-q", "-m", "fix"]);
    t.git(
        &clone,
        &["push", "-q", "origin", &format!("HEAD:refs/heads/{branch}")],
    );
    let mr =
        json(&ok(t.gt(&[
            "--json", "mq", "submit", "gastown", branch, "--bead", bead,
        ])))["mr"]
            .clone();
    format!("mr-{}", mr["id"])
}

/// Queues a change whose required check fails and runs the refinery once: it goes back to its
/// polecat, its pull request left open.
fn sent_back(t: &Town, title: &str) -> (String, String) {
    knob(t, "checks", r#"[{"name":"lint","bucket":"fail"}]"#);
    let (bead, label) = change(t, title);
    refinery_once(t);
    assert_eq!(mr_state(t, &label)["state"], "failed");
    (bead, label)
}

/// The comments the refinery left on pull request `n` of the forge.
fn pr_comments(t: &Town, n: usize) -> String {
    prs(t)[n - 1]["comments"].to_string()
}

fn merge_asks(t: &Town) -> usize {
    calls(t)
        .lines()
        .filter(|l| l.starts_with("gh pr merge"))
        .count()
}

fn escalations(t: &Town) -> Vec<Value> {
    json(&ok(t.bd(&[
        "list",
        "--label",
        "gt:escalation",
        "--json",
        "--all",
    ])))
    .as_array()
    .cloned()
    .unwrap_or_default()
}

#[test]
fn a_change_sent_back_and_resubmitted_lands_through_the_same_pull_request() {
    let Some(t) = forge_town("github", "pr") else {
        return;
    };
    let (bead, _) = sent_back(&t, "Fix it twice");
    // Sent back, its pull request stays open and says why.
    assert_eq!(prs(&t)[0]["state"], "OPEN");
    let said = pr_comments(&t, 1);
    assert!(said.contains("check `lint` failed"), "{said}");
    assert!(
        said.contains("the fix will be pushed to this pull request"),
        "{said}"
    );

    unknob(&t, "checks");
    let again = resubmit(&t, &bead, &format!("polecat/nux/{bead}"));
    refinery_once(&t);
    assert_eq!(mr_state(&t, &again)["state"], "merged");
    assert_eq!(t.status(&bead), "closed");
    let prs = prs(&t);
    assert_eq!(prs.len(), 1, "no second pull request: {prs:?}");
    assert_eq!(prs[0]["state"], "MERGED");
}

#[test]
fn a_change_resubmitted_from_another_branch_closes_its_old_pull_request_as_superseded() {
    let Some(t) = forge_town("github", "pr") else {
        return;
    };
    let (bead, _) = sent_back(&t, "Handed to another polecat");

    unknob(&t, "checks");
    let again = resubmit(&t, &bead, &format!("polecat/rust/{bead}"));
    refinery_once(&t);
    assert_eq!(mr_state(&t, &again)["state"], "merged");
    let prs = prs(&t);
    assert_eq!(prs.len(), 2, "{prs:?}");
    assert_eq!(prs[0]["state"], "CLOSED", "{prs:?}");
    assert_eq!(prs[1]["state"], "MERGED", "{prs:?}");
    let said = pr_comments(&t, 1);
    assert!(said.contains("superseded by #2"), "{said}");
    let old = format!("refinery/polecat/nux/{bead}");
    let left = t.git(&t.remote, &["branch", "--list", &old]);
    assert!(left.trim().is_empty(), "{old} deleted: {left}");
}

#[test]
fn pull_requests_of_beads_closed_by_hand_are_closed_with_a_comment() {
    let Some(t) = forge_town("gitlab", "pr") else {
        return;
    };
    // Two changes sent back (their pull requests parked, open), one waiting on pending checks.
    let (closed, _) = sent_back(&t, "Sent back");
    let (_, rejected) = sent_back(&t, "Rejected");
    knob(&t, "checks", r#"[{"name":"ci","bucket":"pending"}]"#);
    let (waiting, waiting_label) = change(&t, "Waiting");
    refinery_once(&t);
    assert_eq!(mr_state(&t, &waiting_label)["state"], "testing");
    assert!(prs(&t).iter().all(|p| p["state"] == "OPEN"));

    for bead in [&closed, &waiting] {
        ok(t.bd(&["close", bead, "--reason", "not needed after all"]));
    }
    ok(t.gt(&["mq", "reject", &rejected, "--reason", "not this way"]));
    knob(&t, "checks", r#"[{"name":"ci","bucket":"pass"}]"#);
    let before = main_sha(&t);
    refinery_once(&t);
    let said = pr_comments(&t, 2);
    assert!(said.contains("no merge request of bead"), "{said}");
    assert_eq!(prs(&t)[1]["state"], "CLOSED");
    for (n, bead) in [(1, &closed), (3, &waiting)] {
        let pr = &prs(&t)[n - 1];
        assert_eq!(pr["state"], "CLOSED", "{pr}");
        let said = pr_comments(&t, n);
        assert!(said.contains(&format!("bead {bead} was closed")), "{said}");
        assert!(said.contains("no longer pursues"), "{said}");
        let branch = format!("refinery/polecat/nux/{bead}");
        let left = t.git(&t.remote, &["branch", "--list", &branch]);
        assert!(left.trim().is_empty(), "{branch} deleted: {left}");
    }
    let status = mr_state(&t, &waiting_label);
    assert_eq!(status["state"], "superseded", "{status}");
    assert_eq!(main_sha(&t), before, "a closed bead's change never merges");
    assert!(!calls(&t).contains("glab mr merge"), "{}", calls(&t));
}

/// A merge call that never reaches the forge (here `gh`'s words for a host that does not
/// resolve) is no refusal: it is asked again each pass and never counted; only a silence of
/// half an hour is escalated, once; the change lands once the network is back.
#[test]
fn a_merge_call_that_never_reaches_the_forge_is_asked_again_and_only_a_long_silence_escalated() {
    let Some(t) = forge_town("github", "pr") else {
        return;
    };
    knob(
        &t,
        "refuse",
        "error connecting to api.github.com\ncheck your internet connection or https://githubstatus.com",
    );
    let (bead, label) = change(&t, "Offline");
    for asked in 1..=4 {
        refinery_once(&t);
        assert_eq!(merge_asks(&t), asked);
    }
    let status = mr_state(&t, &label);
    assert_eq!(status["state"], "testing", "{status}");
    assert!(status["forge_refusal"].is_null(), "{status}");
    assert!(escalations(&t).is_empty(), "{:?}", escalations(&t));
    // Half an hour and more of silence (the first unanswered call was made in the test's
    // first minutes): one escalation saying so, however many passes follow.
    t.env.set("GT_TEST_NOW", "2026-01-01T02:00:00Z");
    refinery_once(&t);
    refinery_once(&t);
    assert_eq!(merge_asks(&t), 6);
    let raised = escalations(&t);
    assert_eq!(raised.len(), 1, "{raised:?}");
    let text = raised[0].to_string();
    assert!(text.contains("has not answered merge calls"), "{text}");
    assert!(
        text.contains("error connecting to api.github.com"),
        "{text}"
    );
    assert!(mr_state(&t, &label)["forge_refusal"].is_null());
    unknob(&t, "refuse");
    refinery_once(&t);
    assert_eq!(mr_state(&t, &label)["state"], "merged");
    assert_eq!(t.status(&bead), "closed");
}

#[test]
fn a_forge_that_keeps_refusing_the_merge_is_escalated_and_not_asked_again_until_a_human_acts() {
    let Some(t) = forge_town("github", "pr") else {
        return;
    };
    let rule = "GraphQL: Repository rule violations found\n\nChanges must be made through a pull request with 2 approving reviews. (mergePullRequest)";
    knob(&t, "refuse", rule);
    let (bead, label) = change(&t, "Protected");
    for asked in 1..=3 {
        refinery_once(&t);
        assert_eq!(merge_asks(&t), asked);
    }
    let status = mr_state(&t, &label);
    assert_eq!(status["state"], "testing", "{status}");
    assert_eq!(status["forge_refusal"]["count"], 3, "{status}");
    assert_eq!(status["forge_refusal"]["held"], true, "{status}");
    assert!(
        status["forge_refusal"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("2 approving reviews"),
        "{status}"
    );
    let shown = stdout(&ok(t.gt(&["mq", "status", &label])));
    assert!(shown.contains("3 times by the forge (escalated"), "{shown}");
    assert!(shown.contains("Repository rule violations"), "{shown}");
    let listed = stdout(&ok(t.gt(&["mq", "list"])));
    assert!(listed.contains("merge refused, held"), "{listed}");
    let raised = escalations(&t);
    assert_eq!(raised.len(), 1, "{raised:?}");
    let text = raised[0].to_string();
    assert!(text.contains("pull request #1"), "{text}");
    assert!(
        text.contains("https://github.com/fake/repo/pull/1"),
        "{text}"
    );
    assert!(text.contains("2 approving reviews"), "{text}");

    // Held: looked at, never asked again, never escalated again.
    refinery_once(&t);
    refinery_once(&t);
    assert_eq!(merge_asks(&t), 3);
    assert_eq!(escalations(&t).len(), 1);

    // `gt mq retry` releases it: asked once more, refused, counted from one.
    let out = ok(t.gt(&["mq", "retry", &label]));
    assert!(
        stderr(&out).contains("the refinery asks the forge to merge it"),
        "{}",
        stderr(&out)
    );
    refinery_once(&t);
    assert_eq!(merge_asks(&t), 4);
    assert_eq!(mr_state(&t, &label)["forge_refusal"]["count"], 1);
    refinery_once(&t);
    refinery_once(&t);
    assert_eq!(mr_state(&t, &label)["forge_refusal"]["held"], true);
    assert_eq!(escalations(&t).len(), 2);

    // A comment on the pull request changes it: asked again, and counted from one.
    human(
        &t,
        "gh",
        &["pr", "comment", "1", "--body", "Looking into the rule."],
    );
    refinery_once(&t);
    assert_eq!(merge_asks(&t), 7);
    let status = mr_state(&t, &label);
    assert_eq!(status["forge_refusal"]["count"], 1, "{status}");
    assert_eq!(status["forge_refusal"]["held"], false, "{status}");
    refinery_once(&t);
    refinery_once(&t);
    assert_eq!(merge_asks(&t), 9);
    assert_eq!(escalations(&t).len(), 3);

    // A human fixes the rule and says so on the pull request: it changed, so it is asked again.
    unknob(&t, "refuse");
    refinery_once(&t);
    assert_eq!(
        merge_asks(&t),
        9,
        "still held until the pull request changes"
    );
    human(&t, "gh", &["pr", "comment", "1", "--body", "Rule relaxed."]);
    refinery_once(&t);
    assert_eq!(mr_state(&t, &label)["state"], "merged");
    assert_eq!(t.status(&bead), "closed");
}
