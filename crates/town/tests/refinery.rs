//! The refinery against real git: a town with one rig whose remote is a local bare repository,
//! changes pushed as `polecat/nux/<bead>` branches, and a gate script on `main` that the tests
//! steer through the changes' contents — a change containing `FAIL` fails it, one containing
//! `FLAKY` fails its first run only. Every gate run appends the SHA it tested to a log outside
//! the worktree, so a test can check that nothing landed untested.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test by panicking"
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use beads::{MergeRequest, MrState, NewIssue, NewMergeRequest, Store};
use testkit::{GitFixture, TestEnv};
use town::layout::{RigPaths, Town};
use town::refinery::runner::{FIRST_RETRY, Runner, Step};
use town::refinery::{self, PassReport, Refinery};
use town::rigctx::RigCtx;

const RIG: &str = "app";
const POLECAT: &str = "app/nux";
/// Where the scenario's clock starts: 2026-01-01T00:00:00Z.
const EPOCH: i64 = 1_767_225_600;

/// The gate on `main`. `GATE_STATE` (set in the configured command) is a directory outside
/// the worktree: `tested` gets the SHA of every run, `flaked` marks the flake as spent.
const GATE: &str = r#"#!/bin/sh
state=${GATE_STATE:?}
git rev-parse HEAD >> "$state/tested"
if [ -d changes ] && grep -rlq FAIL changes; then
  echo "gate: a change says FAIL:"
  grep -rl FAIL changes | sort
  exit 1
fi
if [ -d changes ] && grep -rlq FLAKY changes && [ ! -e "$state/flaked" ]; then
  : > "$state/flaked"
  echo "gate: flaked"
  exit 1
fi
echo "gate: ok"
"#;

/// A clock the test moves by hand.
#[derive(Clone)]
struct TestClock(Arc<AtomicI64>);

impl host::clock::Clock for TestClock {
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::from_second(self.0.load(Ordering::SeqCst)).expect("in range")
    }
}

fn context(actor: &str, clock: Box<dyn host::clock::Clock>) -> beads::Context {
    beads::Context {
        actor: actor.to_owned(),
        clock,
    }
}

/// A town with rig `app` on the fixture's remote, whose `main` holds `gate.sh` and a tracked
/// `shared.txt`, and the refinery's gate configured to run it.
struct Scenario<'e> {
    env: &'e TestEnv,
    fx: GitFixture<'e>,
    town: Town,
    store: Store,
    prefix: String,
    clock: Arc<AtomicI64>,
    /// The gate's state directory.
    state: PathBuf,
    next: usize,
}

impl<'e> Scenario<'e> {
    fn new(env: &'e TestEnv) -> Self {
        let fx = GitFixture::new(env);
        fx.commit("gate.sh", GATE, "gate");
        fx.commit("shared.txt", "original line\n", "shared file");
        fx.push();
        let root = env.root().join("town");
        town::install::install(
            &root,
            &town::install::InstallOptions {
                owner: "test@example.com".into(),
                ..Default::default()
            },
            context("test", Box::new(host::clock::SystemClock)),
        )
        .expect("install the town");
        let town = Town::at(root);
        let entry = town::rig::add(
            &town,
            RIG,
            &fx.remote_url(),
            &town::rig::AddOptions::default(),
            "2026-01-01T00:00:00Z",
        )
        .expect("add the rig");
        let clock = Arc::new(AtomicI64::new(EPOCH));
        let store = Store::open(
            &town.beads_dir(),
            context("refinery", Box::new(TestClock(clock.clone()))),
        )
        .expect("open the store");
        let state = env.root().join("gate-state");
        std::fs::create_dir_all(&state).unwrap();
        let s = Self {
            env,
            fx,
            town,
            store,
            prefix: entry.beads.prefix,
            clock,
            state,
            next: 0,
        };
        s.set(
            "merge_queue.test_command",
            &format!("GATE_STATE='{}' sh gate.sh", s.state.display()),
        );
        s
    }

    /// `gt config set <key> <value> --rig app`.
    fn set(&self, key: &str, value: &str) {
        town::settings::set_in_file(
            &RigPaths::new(&self.town, RIG).settings_json(),
            "rig-settings",
            key,
            value,
        )
        .unwrap_or_else(|e| panic!("set {key}: {e}"));
    }

    fn git<I, S>(&self, dir: impl AsRef<Path>, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        testkit::git::run(self.env, dir, args)
    }

    /// `git --git-dir remote.git <args>`.
    fn remote<const N: usize>(&self, args: [&str; N]) -> String {
        let mut all = vec!["--git-dir", self.fx.remote_path().to_str().unwrap()];
        all.extend(args);
        self.git(self.env.root(), all)
    }

    /// The remote's `main`.
    fn main_sha(&self) -> String {
        self.remote(["rev-parse", "main"])
    }

    /// Subjects of the `change …` commits on the remote's `main`, oldest first.
    fn landed_changes(&self) -> Vec<String> {
        self.remote(["log", "--reverse", "--format=%s", "main"])
            .lines()
            .filter(|s| s.starts_with("change "))
            .map(str::to_owned)
            .collect()
    }

    /// Whether the remote has `branch`.
    fn remote_has(&self, branch: &str) -> bool {
        !self.remote(["branch", "--list", branch]).trim().is_empty()
    }

    /// Moves the clock.
    fn advance(&self, hours: i64) {
        self.clock.fetch_add(hours * 3600, Ordering::SeqCst);
    }

    /// A bead, without a merge request yet.
    fn bead(&mut self, title: &str, priority: i64) -> String {
        self.store
            .create(NewIssue {
                title: title.to_owned(),
                priority: Some(priority),
                prefix: Some(self.prefix.clone()),
                ..Default::default()
            })
            .expect("create a bead")
            .id
    }

    /// Pushes `polecat/nux/<bead>` off the remote's `main` with `files` written, one commit
    /// with `message`; returns the branch and its SHA.
    fn push_branch(&self, bead: &str, files: &[(&str, &str)], message: &str) -> (String, String) {
        let clone = self.fx.clone_path();
        let branch = format!("polecat/nux/{bead}");
        self.git(clone, ["fetch", "-q", "origin"]);
        self.git(clone, ["checkout", "-q", "-B", &branch, "origin/main"]);
        for (path, contents) in files {
            let file = clone.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, contents).unwrap();
            self.git(clone, ["add", "--", path]);
        }
        self.git(clone, ["commit", "-q", "-m", message]);
        let sha = self.git(clone, ["rev-parse", "HEAD"]);
        self.git(clone, ["push", "-q", "-f", "origin", &branch]);
        (branch, sha)
    }

    fn submit(&mut self, bead: &str, branch: &str, sha: &str, priority: i64) -> MergeRequest {
        self.store
            .submit_mr(&NewMergeRequest {
                rig: RIG.into(),
                bead_id: bead.to_owned(),
                branch: branch.to_owned(),
                sha: sha.to_owned(),
                target: "main".into(),
                polecat: POLECAT.into(),
                priority,
            })
            .expect("submit")
            .0
    }

    /// A change: a bead `change <n>`, a branch adding `changes/<n>.txt` with `contents`, and
    /// its merge request. Returns the bead id and the request.
    fn change_with(&mut self, contents: &str, priority: i64) -> (String, MergeRequest) {
        let n = self.next;
        self.next += 1;
        let title = format!("change {n}");
        let bead = self.bead(&title, priority);
        let (branch, sha) =
            self.push_branch(&bead, &[(&format!("changes/{n}.txt"), contents)], &title);
        let mr = self.submit(&bead, &branch, &sha, priority);
        (bead, mr)
    }

    fn change(&mut self) -> (String, MergeRequest) {
        let n = self.next;
        self.change_with(&format!("change {n}\n"), 2)
    }

    fn ctx(&self) -> RigCtx {
        RigCtx::load(&self.town, RIG, None).expect("resolve the rig")
    }

    fn refinery(&mut self) -> Refinery<'_> {
        let ctx = self.ctx();
        Refinery::open(&self.town, &ctx, &mut self.store)
    }

    /// A fresh runner (what `gt refinery run` starts), on its own handle of the store.
    fn runner(&self) -> Runner {
        let store = Store::open(
            &self.town.beads_dir(),
            context("refinery", Box::new(TestClock(self.clock.clone()))),
        )
        .expect("open the store");
        Runner::new(self.town.clone(), self.ctx(), store)
    }

    fn run(&mut self) -> Vec<PassReport> {
        self.runner().run_until_idle().expect("run the queue")
    }

    fn mr(&self, mr: &MergeRequest) -> MergeRequest {
        self.store.mr(mr.id).unwrap()
    }

    /// SHAs the gate ran on.
    fn tested(&self) -> Vec<String> {
        std::fs::read_to_string(self.state.join("tested"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn comments(&self, bead: &str) -> Vec<String> {
        self.store
            .comments(bead)
            .unwrap()
            .into_iter()
            .map(|c| c.text)
            .collect()
    }

    /// Asserts the bead closed as merged with exactly one landing comment.
    fn assert_merged(&self, bead: &str) {
        let issue = self.store.get(bead).unwrap();
        assert_eq!(
            (issue.status.as_str(), issue.close_reason.as_str()),
            ("closed", "merged"),
            "{bead}"
        );
        let landed = self
            .comments(bead)
            .iter()
            .filter(|c| c.starts_with("Landed on `main`"))
            .count();
        assert_eq!(landed, 1, "{bead}: {:?}", self.comments(bead));
    }

    fn labels(ids: &[&MergeRequest]) -> Vec<String> {
        ids.iter().map(|m| m.label()).collect()
    }
}

/// Every gate run (and what it cost) across reports.
fn gate_runs(reports: &[PassReport]) -> u32 {
    reports.iter().map(|r| r.gate_runs).sum()
}

#[test]
fn a_conflicting_change_gets_a_resolution_bead_and_keeps_its_branch() {
    let env = TestEnv::new();
    let mut s = Scenario::new(&env);
    let first = s.bead("first edit", 2);
    let (b1, sha1) = s.push_branch(&first, &[("shared.txt", "first\n")], "change first");
    let mr1 = s.submit(&first, &b1, &sha1, 2);
    let second = s.bead("second edit", 2);
    let (b2, sha2) = s.push_branch(&second, &[("shared.txt", "second\n")], "change second");
    let mr2 = s.submit(&second, &b2, &sha2, 2);

    let reports = s.run();
    // Both merge with main on their own; stacked, the second conflicts with the first and
    // waits for it to land, then its pre-check against the new main conflicts.
    assert_eq!(reports[0].landed, [mr1.label()]);
    assert_eq!(reports[0].requeued, [mr2.label()]);
    assert_eq!(reports[1].conflicted, [mr2.label()]);
    assert_eq!(reports.len(), 2, "{reports:#?}");
    let main = s.main_sha();
    assert_eq!(s.landed_changes(), ["change first"]);
    s.assert_merged(&first);
    assert!(!s.remote_has(&b1), "a merged branch is deleted");
    assert!(s.remote_has(&b2), "a conflicted branch is kept");

    let mr2 = s.mr(&mr2);
    assert_eq!(mr2.state, "conflict");
    let conflicts = s
        .store
        .list(&beads::Filter {
            labels: vec!["gt:conflict".into()],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(conflicts.len(), 1);
    let resolution = &conflicts[0].issue;
    assert!(resolution.id.starts_with(&format!("{}-", s.prefix)));
    assert!(mr2.reason.contains(&resolution.id), "{}", mr2.reason);
    for needle in [
        format!("Target SHA: {main}"),
        format!("Branch SHA: {sha2}"),
        format!("Branch: {b2}"),
        "- shared.txt".to_owned(),
    ] {
        assert!(
            resolution.description.contains(&needle),
            "{needle} not in:\n{}",
            resolution.description
        );
    }
    // The source bead goes back to its polecat, with a note.
    let bead = s.store.get(&second).unwrap();
    assert_eq!(
        (bead.status.as_str(), bead.assignee.as_str()),
        ("hooked", POLECAT)
    );
    assert!(
        s.comments(&second)
            .iter()
            .any(|c| c.contains("conflicts with `main` on shared.txt")),
        "{:?}",
        s.comments(&second)
    );
    let polecat = s.store.polecat(RIG, "nux").unwrap().expect("polecat row");
    assert_eq!(polecat.bead_id, second);
    // Nothing left to do, and running again changes nothing.
    assert!(s.run().is_empty());
    assert_eq!(s.main_sha(), main);
}

#[test]
fn on_conflict_ready_returns_the_bead_to_the_ready_queue() {
    let env = TestEnv::new();
    let mut s = Scenario::new(&env);
    s.set("merge_queue.on_conflict", "ready");
    // Main moves under the branch before the refinery sees it.
    let bead = s.bead("stale edit", 2);
    let (branch, sha) = s.push_branch(&bead, &[("shared.txt", "mine\n")], "change stale");
    s.submit(&bead, &branch, &sha, 2);
    let clone = s.fx.clone_path().to_owned();
    s.git(&clone, ["checkout", "-q", "-B", "main", "origin/main"]);
    std::fs::write(clone.join("shared.txt"), "theirs\n").unwrap();
    s.git(&clone, ["commit", "-q", "-am", "upstream edit"]);
    s.git(&clone, ["push", "-q", "origin", "main"]);

    let reports = s.run();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].conflicted.len(), 1);
    assert_eq!(
        reports[0].gate_runs, 0,
        "a conflict is found before any gate"
    );
    let issue = s.store.get(&bead).unwrap();
    assert_eq!(
        (issue.status.as_str(), issue.assignee.as_str()),
        ("open", "")
    );
    assert!(s.remote_has(&branch));
}

#[test]
fn bisection_finds_the_one_failing_change_among_eight() {
    let env = TestEnv::new();
    let mut s = Scenario::new(&env);
    let mut changes = Vec::new();
    for n in 0..8 {
        changes.push(if n == 3 {
            s.change_with("this change will FAIL\n", 2)
        } else {
            s.change()
        });
    }
    let mrs: Vec<&MergeRequest> = changes.iter().map(|(_, m)| m).collect();

    let reports = s.run();
    let first = &reports[0];
    assert_eq!(first.batch_size, 8, "no failure history: the largest batch");
    assert_eq!(first.landed, Scenario::labels(&mrs[..3]));
    assert_eq!(first.failed, [mrs[3].label()]);
    assert_eq!(first.requeued, Scenario::labels(&mrs[4..]));
    assert_eq!(first.bisect_depth, 3, "8 → 4 (fails) → 2 → 3");
    // The full batch fails (1), prefix 4 fails too (1: that reproduces the failure, so
    // neither is retried), prefixes 2 and 3 pass (2); the target is not tested alone since
    // prefixes containing it passed.
    assert_eq!(first.gate_runs, 4, "{first:#?}");
    assert_eq!(first.flakes, 0);
    // The four behind the culprit land in the next pass (1 failure in 4: a batch of 6).
    assert_eq!(reports.len(), 2, "{reports:#?}");
    assert_eq!(reports[1].batch_size, 4);
    assert_eq!(reports[1].landed, Scenario::labels(&mrs[4..]));
    assert_eq!((reports[1].gate_runs, reports[1].bisect_depth), (1, 0));

    let culprit = s.mr(mrs[3]);
    assert_eq!(culprit.state, "failed");
    assert_eq!(culprit.reason, "gate `test` failed");
    let note = s
        .comments(&changes[3].0)
        .into_iter()
        .find(|c| c.starts_with("Refinery: gate `test` failed on"))
        .expect("the gate's output is on the bead");
    assert!(
        note.contains("gate: a change says FAIL:") && note.contains("changes/3.txt"),
        "{note}"
    );
    let bead = s.store.get(&changes[3].0).unwrap();
    assert_eq!(
        (bead.status.as_str(), bead.assignee.as_str()),
        ("hooked", POLECAT)
    );
    assert!(s.remote_has(&culprit.branch), "a failed branch is kept");

    assert_eq!(
        s.landed_changes(),
        [0, 1, 2, 4, 5, 6, 7].map(|n| format!("change {n}"))
    );
    let main = s.main_sha();
    for (i, (bead, mr)) in changes.iter().enumerate() {
        if i == 3 {
            continue;
        }
        s.assert_merged(bead);
        let mr = s.mr(mr);
        assert_eq!(mr.state, "merged");
        assert_eq!(mr.retries, 0, "waiting behind a culprit is not a retry");
        let merged = s.remote(["merge-base", "--is-ancestor", &mr.merged_sha, &main]);
        assert!(merged.is_empty());
    }
    // Every landed tip was a tested tree.
    let tested = s.tested();
    for r in &reports {
        if let Some(sha) = &r.landed_sha {
            assert!(tested.contains(sha), "{sha} landed untested");
        }
    }
    let stats = s.store.queue_stats(Some(RIG)).unwrap();
    assert_eq!((stats.landed, stats.failed), (7, 1));
    assert_eq!(stats.gate_runs, i64::from(gate_runs(&reports)));
    assert_eq!(stats.gate_runs as usize, tested.len());
    assert_eq!(stats.max_bisect_depth, 3);
    assert_eq!(stats.queued, 0);
    assert_eq!(stats.gate_runs, 5);
}

#[test]
fn a_flaky_gate_is_retried_and_the_change_lands() {
    let env = TestEnv::new();
    let mut s = Scenario::new(&env);
    let (bead, mr) = s.change_with("sometimes FLAKY\n", 2);
    let reports = s.run();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].landed, [mr.label()]);
    assert_eq!((reports[0].gate_runs, reports[0].flakes), (2, 1));
    s.assert_merged(&bead);
    let stats = s.store.queue_stats(Some(RIG)).unwrap();
    assert_eq!((stats.landed, stats.failed, stats.flakes), (1, 0, 1));
}

#[test]
fn a_flake_in_a_batch_blames_nobody() {
    let env = TestEnv::new();
    let mut s = Scenario::new(&env);
    let (_, a) = s.change();
    let (_, b) = s.change();
    let (flaky_bead, c) = s.change_with("sometimes FLAKY\n", 2);
    let reports = s.run();
    assert_eq!(reports.len(), 1, "{reports:#?}");
    let r = &reports[0];
    // The full batch fails once; prefixes 1 and 2 pass; nothing reproduces the failure, so
    // the full batch is retried, passes, and lands whole.
    assert_eq!(r.landed, Scenario::labels(&[&a, &b, &c]));
    assert!(r.failed.is_empty() && r.requeued.is_empty());
    assert_eq!((r.gate_runs, r.flakes, r.bisect_depth), (4, 1, 2));
    assert_eq!(r.landed_sha.as_deref(), Some(s.main_sha().as_str()));
    s.assert_merged(&flaky_bead);
}

#[test]
fn the_target_this_refinery_landed_is_not_tested_alone_again() {
    let env = TestEnv::new();
    let mut s = Scenario::new(&env);
    s.set("merge_queue.max_batch_size", "1");
    let (_, a) = s.change();
    let (_, b) = s.change_with("FAIL\n", 2);
    let reports = s.run();
    assert_eq!(reports[0].landed, [a.label()]);
    assert_eq!(reports[1].failed, [b.label()]);
    // The failure is retried (2 runs), and the target is the tip that just passed.
    assert_eq!(reports[1].gate_runs, 2, "{reports:#?}");
    assert!(
        !s.tested()
            .iter()
            .any(|sha| *sha == s.remote(["rev-parse", "main~1"]))
    );

    // A fresh refinery does not know the target: a failing change alone costs one more run.
    let (_, c) = s.change_with("FAIL again\n", 2);
    let reports = s.run();
    assert_eq!(reports[0].failed, [c.label()]);
    assert_eq!(reports[0].gate_runs, 3, "{reports:#?}");
}

#[test]
fn without_retries_a_flake_fails_the_change() {
    let env = TestEnv::new();
    let mut s = Scenario::new(&env);
    s.set("merge_queue.retry_flaky_tests", "0");
    let (_, mr) = s.change_with("sometimes FLAKY\n", 2);
    let reports = s.run();
    // Alone in its batch, the change is the culprit once the target passes on its own.
    assert_eq!(reports[0].failed, [mr.label()]);
    assert_eq!(s.mr(&mr).state, "failed");
    assert!(s.landed_changes().is_empty());
}

#[test]
fn priority_orders_the_queue_age_lifts_old_requests_and_blocked_beads_wait() {
    let env = TestEnv::new();
    let mut s = Scenario::new(&env);
    let (old_p4, old) = s.change_with("old and unimportant\n", 4);
    s.advance(500);
    let (_, p2) = s.change_with("fresh p2\n", 2);
    let (_, p0) = s.change_with("fresh p0\n", 0);
    let (blocked, waits) = s.change_with("blocked p0\n", 0);
    let blocker = s.bead("blocker", 2);
    s.store
        .add_dependency(&blocked, &blocker, "blocks", None)
        .unwrap();
    assert!(s.store.show(&blocked).unwrap().is_blocked);

    let reports = s.run();
    // 500 hours of waiting (+500) beat four priority levels (+400); P0 before P2.
    assert_eq!(
        reports[0].landed,
        Scenario::labels(&[&old, &p0, &p2]),
        "{reports:#?}"
    );
    assert_eq!(reports[0].waiting, [blocked.as_str()]);
    assert_eq!(reports.last().unwrap().waiting, [blocked.as_str()]);
    assert_eq!(
        s.landed_changes(),
        ["change 0", "change 2", "change 1"],
        "main is in landing order"
    );
    s.assert_merged(&old_p4);
    assert_eq!(s.mr(&waits).state, "queued");

    // Unblocked, it lands on the next run.
    s.store
        .close(&blocker, &beads::CloseOptions::default())
        .unwrap();
    let reports = s.run();
    assert_eq!(reports[0].landed, [waits.label()]);
    assert!(reports[0].waiting.is_empty());
    s.assert_merged(&blocked);
}

#[test]
fn a_target_that_fails_alone_pauses_the_queue_and_blames_nobody() {
    let env = TestEnv::new();
    let mut s = Scenario::new(&env);
    // Main itself breaks.
    let clone = s.fx.clone_path().to_owned();
    s.git(&clone, ["checkout", "-q", "-B", "main", "origin/main"]);
    std::fs::create_dir_all(clone.join("changes")).unwrap();
    std::fs::write(clone.join("changes/broken.txt"), "FAIL\n").unwrap();
    s.git(&clone, ["add", "changes/broken.txt"]);
    s.git(&clone, ["commit", "-q", "-m", "break main"]);
    s.git(&clone, ["push", "-q", "origin", "main"]);
    let broken = s.main_sha();
    let (_, a) = s.change();
    let (_, b) = s.change();

    let reports = s.run();
    assert_eq!(reports.len(), 1, "a paused queue stops");
    let r = &reports[0];
    let reason = r.paused.clone().expect("paused");
    assert!(reason.contains(&broken[..12]), "{reason}");
    assert!(r.failed.is_empty() && r.landed.is_empty());
    assert_eq!(r.requeued, Scenario::labels(&[&a, &b]));
    for mr in [&a, &b] {
        let mr = s.mr(mr);
        assert_eq!((mr.state.as_str(), mr.retries), ("queued", 0));
    }
    assert_eq!(s.refinery().paused().unwrap(), Some(reason.clone()));
    let escalations = s
        .store
        .list(&beads::Filter {
            labels: vec!["gt:escalation".into()],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(escalations.len(), 1);
    assert!(
        escalations[0].issue.id.starts_with("hq-"),
        "{}",
        escalations[0].issue.id
    );
    assert_eq!(escalations[0].issue.priority, 0);
    // Paused: nothing runs.
    assert!(s.refinery().pass().unwrap().is_none());
    assert_eq!(s.main_sha(), broken);

    // Fix main, resume, and the queue drains.
    s.git(&clone, ["checkout", "-q", "main"]);
    s.git(&clone, ["rm", "-q", "changes/broken.txt"]);
    s.git(&clone, ["commit", "-q", "-m", "fix main"]);
    s.git(&clone, ["push", "-q", "origin", "main"]);
    assert!(refinery::resume(&mut s.store, RIG).unwrap());
    assert!(!refinery::resume(&mut s.store, RIG).unwrap());
    assert_eq!(s.refinery().paused().unwrap(), None);
    let reports = s.run();
    assert_eq!(reports[0].landed, Scenario::labels(&[&a, &b]));
}

#[test]
fn a_target_that_moves_during_landing_is_rebuilt_and_retested() {
    let env = TestEnv::new();
    let mut s = Scenario::new(&env);
    // A second clone pushes to main from inside the first gate run, after the candidate is
    // built and before it is pushed.
    let other = env.root().join("other");
    s.git(env.root(), ["clone", "-q", &s.fx.remote_url(), "other"]);
    let mover = env.root().join("mover.sh");
    std::fs::write(
        &mover,
        format!(
            r#"set -e
[ -e '{state}/moved' ] && exit 0
: > '{state}/moved'
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=Other GIT_AUTHOR_EMAIL=other@example.com
export GIT_COMMITTER_NAME=Other GIT_COMMITTER_EMAIL=other@example.com
cd '{other}'
echo moved > moved.txt
git add moved.txt
git commit -q -m 'moved under the refinery'
git push -q origin HEAD:main
git rev-parse HEAD > '{state}/moved'
"#,
            state = s.state.display(),
            other = other.display()
        ),
    )
    .unwrap();
    s.set(
        "merge_queue.test_command",
        &format!(
            "sh '{}' && GATE_STATE='{}' sh gate.sh",
            mover.display(),
            s.state.display()
        ),
    );
    let (a_bead, a) = s.change();
    let (b_bead, b) = s.change();

    let reports = s.run();
    assert!(reports[0].remote_moved, "{reports:#?}");
    assert!(reports[0].landed.is_empty());
    assert_eq!(reports[0].requeued, Scenario::labels(&[&a, &b]));
    assert_eq!(reports[1].landed, Scenario::labels(&[&a, &b]));
    assert!(!reports[1].remote_moved);
    assert_eq!(reports.len(), 2);

    let moved = std::fs::read_to_string(s.state.join("moved"))
        .unwrap()
        .trim()
        .to_owned();
    let main = s.main_sha();
    assert_eq!(reports[1].landed_sha.as_deref(), Some(main.as_str()));
    s.remote(["merge-base", "--is-ancestor", &moved, &main]);
    assert_eq!(
        s.remote(["rev-parse", "main~2"]),
        moved,
        "rebuilt on the moved main"
    );
    assert!(s.tested().contains(&main), "the landed tip was tested");
    assert_eq!(s.landed_changes(), ["change 0", "change 1"]);
    s.assert_merged(&a_bead);
    s.assert_merged(&b_bead);
}

#[test]
fn a_target_that_moves_right_after_the_push_still_counts_the_landing() {
    let env = TestEnv::new();
    let mut s = Scenario::new(&env);
    // The remote itself adds a commit on top of the first push to main, before the pusher can
    // look: the push landed, and the target has already moved on.
    remote_hook(
        &s,
        "post-receive",
        &format!(
            r#"#!/bin/sh
marker='{state}/hooked'
while read old new ref; do
  [ "$ref" = refs/heads/main ] && [ ! -e "$marker" ] || continue
  tree=$(git rev-parse "$new^{{tree}}")
  next=$(GIT_AUTHOR_NAME=Hook GIT_AUTHOR_EMAIL=hook@example.com GIT_COMMITTER_NAME=Hook \
    GIT_COMMITTER_EMAIL=hook@example.com git commit-tree "$tree" -p "$new" -m 'right after')
  git update-ref refs/heads/main "$next"
  echo "$new" > "$marker"
done
"#,
            state = s.state.display()
        ),
    );
    let (a_bead, a) = s.change();
    let (b_bead, b) = s.change();

    let reports = s.run();
    assert_eq!(
        reports[0].landed,
        Scenario::labels(&[&a, &b]),
        "{reports:#?}"
    );
    assert!(!reports[0].remote_moved);
    assert_eq!(reports.len(), 1);
    let pushed = std::fs::read_to_string(s.state.join("hooked")).unwrap();
    assert_eq!(reports[0].landed_sha.as_deref(), Some(pushed.trim()));
    assert_eq!(
        s.landed_changes(),
        ["change 0", "change 1"],
        "nothing lands twice"
    );
    s.assert_merged(&a_bead);
    s.assert_merged(&b_bead);
}

/// Installs `hooks/<name>` in the remote.
fn remote_hook(s: &Scenario<'_>, name: &str, script: &str) {
    let hook = s.fx.remote_path().join("hooks").join(name);
    std::fs::write(&hook, script).unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

#[test]
fn a_remote_that_declines_the_landing_stops_the_queue_instead_of_looping() {
    let env = TestEnv::new();
    let mut s = Scenario::new(&env);
    let (a_bead, a) = s.change();
    remote_hook(
        &s,
        "pre-receive",
        "#!/bin/sh\necho 'main is protected' >&2\nexit 1\n",
    );
    let before = s.main_sha();

    // Not a moved target: an error, not a requeue-and-rebuild loop.
    let err = s.runner().run_until_idle().unwrap_err();
    assert!(err.to_string().contains("git"), "{err}");
    assert_eq!(s.main_sha(), before);
    assert_eq!(s.tested().len(), 1, "the gates ran once");
    assert_eq!(s.mr(&a).state, "testing");

    // Once the remote accepts it again, a restart recovers and lands it.
    std::fs::remove_file(s.fx.remote_path().join("hooks/pre-receive")).unwrap();
    s.refinery().recover().unwrap();
    assert_eq!(s.mr(&a).state, "queued");
    let reports = s.run();
    assert_eq!(reports[0].landed, [a.label()]);
    s.assert_merged(&a_bead);
}

#[test]
fn a_branch_that_cannot_be_deleted_does_not_wedge_the_queue() {
    let env = TestEnv::new();
    let mut s = Scenario::new(&env);
    // The remote refuses branch deletions (a protected-branch rule, say).
    remote_hook(
        &s,
        "pre-receive",
        "#!/bin/sh\nwhile read old new ref; do\n  case $new in *[!0]*) ;; *) echo \"no deleting $ref\" >&2; exit 1;; esac\ndone\n",
    );
    let (a_bead, a) = s.change();
    let reports = s.run();
    assert_eq!(reports[0].landed, [a.label()]);
    s.assert_merged(&a_bead);
    assert!(s.remote_has(&a.branch), "kept, since the remote refused");
    assert!(
        s.store
            .checkpoints(&format!("refinery:{RIG}:landing"))
            .unwrap()
            .is_empty()
    );
    // The queue goes on.
    let (b_bead, b) = s.change();
    let reports = s.run();
    assert_eq!(reports[0].landed, [b.label()]);
    s.assert_merged(&b_bead);
    assert_eq!(s.landed_changes(), ["change 0", "change 1"]);
}

#[test]
fn a_request_whose_commit_is_gone_does_not_wedge_the_queue() {
    let env = TestEnv::new();
    let mut s = Scenario::new(&env);
    // A request for a commit the remote never had (the branch was rewritten and the old
    // commit never fetched).
    let lost = s.bead("lost", 2);
    let (branch, _) = s.push_branch(&lost, &[("changes/lost.txt", "lost\n")], "change lost");
    s.git(
        s.fx.clone_path(),
        ["commit", "-q", "--amend", "-m", "change lost, unpushed"],
    );
    let unpushed = s.git(s.fx.clone_path(), ["rev-parse", "HEAD"]);
    let gone = s.submit(&lost, &branch, &unpushed, 2);
    let (a_bead, a) = s.change();

    // One at a time, so the pass that meets it has nothing else to do and the run must go on.
    s.set("merge_queue.max_batch_size", "1");
    let reports = s.run();
    assert_eq!(reports[0].rejected, [gone.label()], "{reports:#?}");
    assert!(reports[0].conflicted.is_empty() && reports[0].failed.is_empty());
    let landed: Vec<String> = reports.iter().flat_map(|r| r.landed.clone()).collect();
    assert_eq!(landed, [a.label()], "{reports:#?}");
    assert!(
        s.store
            .list(&beads::Filter::default())
            .unwrap()
            .iter()
            .all(|i| !i.issue.title.starts_with("Resolve"))
    );
    s.assert_merged(&a_bead);
    let gone = s.mr(&gone);
    assert_eq!(gone.state, "rejected", "{gone:?}");
    assert!(gone.reason.contains("not on the remote"), "{}", gone.reason);
    let issue = s.store.get(&lost).unwrap();
    assert_eq!(
        (issue.status.as_str(), issue.assignee.as_str()),
        ("hooked", POLECAT)
    );
}

/// Builds on the remote's `main` the candidate the refinery would have landed for `mrs`
/// (their commits cherry-picked in order) in the fixture's clone; returns its SHA unpushed.
fn build_candidate(s: &Scenario<'_>, mrs: &[&MergeRequest]) -> String {
    let clone = s.fx.clone_path();
    s.git(clone, ["fetch", "-q", "origin"]);
    s.git(clone, ["checkout", "-q", "-B", "main", "origin/main"]);
    for mr in mrs {
        s.git(clone, ["cherry-pick", mr.sha.as_str()]);
    }
    s.git(clone, ["rev-parse", "HEAD"])
}

fn checkpoint_landing(s: &mut Scenario<'_>, sha: &str, mrs: &[&MergeRequest]) {
    let scope = format!("refinery:{RIG}:landing");
    for mr in mrs {
        s.store.start_testing_mr(mr.id).unwrap();
    }
    s.store.checkpoint(&scope, "sha", sha).unwrap();
    let ids: Vec<String> = mrs.iter().map(|m| m.id.to_string()).collect();
    s.store.checkpoint(&scope, "mrs", &ids.join(",")).unwrap();
}

#[test]
fn recovery_finishes_a_landing_whose_push_happened_exactly_once() {
    let env = TestEnv::new();
    let mut s = Scenario::new(&env);
    let (a_bead, a) = s.change();
    let (b_bead, b) = s.change();
    let (c_bead, c) = s.change();
    let sha = build_candidate(&s, &[&a, &b]);
    checkpoint_landing(&mut s, &sha, &[&a, &b]);
    // c was in the batch behind them, also testing.
    s.store.start_testing_mr(c.id).unwrap();
    // The push went out; then the refinery died.
    s.git(s.fx.clone_path(), ["push", "-q", "origin", "main"]);

    s.refinery().recover().unwrap();
    for mr in [&a, &b] {
        let mr = s.mr(mr);
        assert_eq!(
            (mr.state.as_str(), mr.merged_sha.as_str()),
            ("merged", sha.as_str())
        );
    }
    assert_eq!(s.mr(&c).state, "queued");
    assert!(
        s.store
            .checkpoints(&format!("refinery:{RIG}:landing"))
            .unwrap()
            .is_empty()
    );
    // Recovering again is a no-op.
    s.refinery().recover().unwrap();
    s.assert_merged(&a_bead);
    s.assert_merged(&b_bead);
    // The queue goes on with c only: nothing lands twice.
    let reports = s.run();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].landed, [c.label()]);
    assert_eq!(s.landed_changes(), ["change 0", "change 1", "change 2"]);
    s.assert_merged(&c_bead);
}

#[test]
fn recovery_requeues_a_landing_whose_push_never_happened() {
    let env = TestEnv::new();
    let mut s = Scenario::new(&env);
    let (a_bead, a) = s.change();
    let (b_bead, b) = s.change();
    let before = s.main_sha();
    let sha = build_candidate(&s, &[&a, &b]);
    checkpoint_landing(&mut s, &sha, &[&a, &b]);

    s.refinery().recover().unwrap();
    assert_eq!(s.main_sha(), before);
    for (bead, mr) in [(&a_bead, &a), (&b_bead, &b)] {
        let mr = s.mr(mr);
        assert_eq!((mr.state.as_str(), mr.merged_sha.as_str()), ("queued", ""));
        assert_eq!(s.store.get(bead).unwrap().status, "open");
    }
    assert!(
        s.store
            .checkpoints(&format!("refinery:{RIG}:landing"))
            .unwrap()
            .is_empty()
    );
    let reports = s.run();
    assert_eq!(reports[0].landed, Scenario::labels(&[&a, &b]));
    assert_eq!(s.landed_changes(), ["change 0", "change 1"]);
    s.assert_merged(&a_bead);
    s.assert_merged(&b_bead);
}

/// Set in the child process of [`a_refinery_killed_mid_gate_converges_on_restart`]: the town.
const CHILD_TOWN: &str = "REFINERY_TEST_CHILD_TOWN";

/// What `gt refinery run app --once` does: lock, recover, run until idle. Runs only as the
/// child process of [`a_refinery_killed_mid_gate_converges_on_restart`].
#[test]
#[ignore = "the child process of a_refinery_killed_mid_gate_converges_on_restart"]
fn refinery_child_process() {
    let Some(root) = host::env::var(CHILD_TOWN) else {
        return;
    };
    let town = Town::at(root);
    let store = Store::open(
        &town.beads_dir(),
        context("refinery", host::clock::from_env()),
    )
    .unwrap();
    let ctx = RigCtx::load(&town, RIG, None).unwrap();
    let mut runner = Runner::new(town, ctx, store);
    runner.acquire().unwrap();
    runner.run_until_idle().unwrap();
}

#[test]
fn a_refinery_killed_mid_gate_converges_on_restart() {
    let env = TestEnv::new();
    let mut s = Scenario::new(&env);
    // The first gate run announces itself and then hangs until released.
    let state = s.state.display().to_string();
    let slow = env.root().join("slow.sh");
    std::fs::write(
        &slow,
        format!(
            "if [ -e '{state}/slow' ]; then rm '{state}/slow'; : > '{state}/started'\n\
             while [ ! -e '{state}/release' ]; do sleep 0.02; done; exit 1; fi\n"
        ),
    )
    .unwrap();
    std::fs::write(s.state.join("slow"), "").unwrap();
    s.set(
        "merge_queue.test_command",
        &format!("sh '{}' && GATE_STATE='{state}' sh gate.sh", slow.display()),
    );
    let changes: Vec<(String, MergeRequest)> = (0..3).map(|_| s.change()).collect();
    let child = || {
        let exe = host::env::current_exe().unwrap();
        let mut cmd = env.command(exe);
        cmd.args(["refinery_child_process", "--exact", "--ignored", "--quiet"])
            .env(CHILD_TOWN, s.town.root());
        cmd
    };

    let mut first = child().stdout(std::process::Stdio::null()).spawn().unwrap();
    testkit::wait_until(Duration::from_secs(60), || s.state.join("started").exists())
        .expect("the gate starts");
    assert_eq!(
        s.store.mrs(Some(RIG), &[MrState::Testing]).unwrap().len(),
        3
    );
    first.kill().unwrap();
    first.wait().unwrap();
    // Were the orphaned gate still running, this would let it go on.
    std::fs::write(s.state.join("release"), "").unwrap();
    // The runner's lock died with it: a second runner starts, recovers and drains the queue.
    let out = child().output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(s.landed_changes(), ["change 0", "change 1", "change 2"]);
    for (bead, mr) in &changes {
        assert_eq!(s.mr(mr).state, "merged");
        s.assert_merged(bead);
    }
    assert!(
        s.store
            .mrs(Some(RIG), &[MrState::Testing, MrState::Queued])
            .unwrap()
            .is_empty()
    );
    assert!(
        s.store
            .checkpoints(&format!("refinery:{RIG}:landing"))
            .unwrap()
            .is_empty()
    );
    // A third run finds nothing to do.
    let out = child().output().unwrap();
    assert!(out.status.success());
    assert_eq!(s.landed_changes().len(), 3);
}

/// A gate that logs `start <pid>` and `end <pid>` around its work, notes `overlap <pid>` if the
/// gate before it is still running when it starts, and hangs for a minute (its `sleep` pid in
/// `sleep.pid`) when `hang` exists.
const LOGGING_GATE: &str = r#"S=${GATE_STATE:?}
if [ -e "$S/gate.pid" ]; then
  prev=$(cat "$S/gate.pid")
  state=$(sed 's/.*) \(.\).*/\1/' "/proc/$prev/stat" 2>/dev/null)
  case "$state" in ''|Z|X) ;; *) echo "overlap $prev" >> "$S/log";; esac
fi
echo $$ > "$S/gate.pid"
echo "start $$" >> "$S/log"
if [ -e "$S/hang" ]; then
  rm "$S/hang"
  sleep 60 &
  echo $! > "$S/sleep.pid"
  : > "$S/started"
  wait
fi
echo "end $$" >> "$S/log"
"#;

/// `gt refinery run` killed with SIGKILL mid-gate leaves the gate behind; the next run kills
/// that gate's whole process group before it starts a gate of its own in the same worktree.
#[test]
fn a_gate_orphaned_by_a_killed_refinery_is_gone_before_the_next_gate_starts() {
    let env = TestEnv::new();
    let mut s = Scenario::new(&env);
    let state = s.state.display().to_string();
    let gate = env.root().join("logging-gate.sh");
    std::fs::write(&gate, LOGGING_GATE).unwrap();
    std::fs::write(s.state.join("hang"), "").unwrap();
    s.set(
        "merge_queue.test_command",
        &format!(
            "GATE_STATE='{state}' sh '{}' && GATE_STATE='{state}' sh gate.sh",
            gate.display()
        ),
    );
    let changes: Vec<(String, MergeRequest)> = (0..2).map(|_| s.change()).collect();
    let child = || {
        let exe = host::env::current_exe().unwrap();
        let mut cmd = env.command(exe);
        cmd.args(["refinery_child_process", "--exact", "--ignored", "--quiet"])
            .env(CHILD_TOWN, s.town.root());
        cmd
    };
    let read = |name: &str| std::fs::read_to_string(s.state.join(name)).unwrap_or_default();

    let mut first = child().stdout(std::process::Stdio::null()).spawn().unwrap();
    testkit::wait_until(Duration::from_secs(60), || s.state.join("started").exists())
        .expect("the gate starts");
    let orphan: u32 = read("gate.pid").trim().parse().unwrap();
    let orphan_sleep: u32 = read("sleep.pid").trim().parse().unwrap();
    // The running gate is on record, by its process group.
    let record = town::refinery::gates::record_path(&s.town, RIG);
    let recorded = std::fs::read_to_string(&record).unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{orphan}/stat")).unwrap();
    let pgrp = stat.rsplit(')').next().unwrap().split_whitespace().nth(2);
    assert_eq!(recorded.split_whitespace().next(), pgrp, "{recorded}");
    first.kill().unwrap();
    first.wait().unwrap();

    let out = child().output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!record.exists(), "no gate runs, yet one is on record");
    let log = read("log");
    assert!(!log.contains("overlap"), "two gates ran at once:\n{log}");
    assert!(
        !log.contains(&format!("end {orphan}")),
        "the orphaned gate ran on:\n{log}"
    );
    // Gone, or a zombie its new parent (init, or whatever reaps orphans here) has yet to reap.
    for pid in [orphan, orphan_sleep] {
        assert!(
            !host::spawn::is_alive(pid),
            "process {pid} of the orphaned gate still runs"
        );
    }
    // Every gate after the orphan ran alone: each start is followed by its own end.
    let lines: Vec<&str> = log.lines().skip(1).collect();
    assert!(!lines.is_empty(), "{log}");
    for pair in lines.chunks(2) {
        let [start, end] = pair else {
            panic!("a gate did not finish:\n{log}")
        };
        assert_eq!(start.replace("start", "end"), *end, "{log}");
    }
    for (bead, mr) in &changes {
        assert_eq!(s.mr(mr).state, "merged");
        s.assert_merged(bead);
    }
}

#[test]
fn a_convoy_lands_once_when_every_tracked_bead_has_merged() {
    let env = TestEnv::new();
    let mut s = Scenario::new(&env);
    let (a_bead, _) = s.change();
    let (b_bead, b) = s.change_with("not yet: FAIL\n", 2);
    let convoy = s
        .store
        .create_convoy("ship both", &[a_bead.clone(), b_bead.clone()])
        .unwrap()
        .id;

    s.run();
    assert_eq!(s.mr(&b).state, "failed");
    let status = s.store.convoy_status(&convoy).unwrap();
    assert_eq!((status.status.as_str(), status.merged), ("open", 1));
    assert!(status.landed_at.is_none());

    // The polecat fixes its branch and submits again.
    let (branch, sha) = s.push_branch(&b_bead, &[("changes/1.txt", "fixed\n")], "change 1");
    let fixed = s.submit(&b_bead, &branch, &sha, 2);
    assert_eq!(s.mr(&b).state, "superseded");
    let reports = s.run();
    assert_eq!(reports[0].landed, [fixed.label()]);
    let status = s.store.convoy_status(&convoy).unwrap();
    assert_eq!((status.status.as_str(), status.merged), ("closed", 2));
    let landed_at = status.landed_at.clone().expect("landed");
    assert_eq!(s.store.get(&convoy).unwrap().close_reason, "landed");
    // Once: checking again (as a recovery would) records nothing new.
    assert!(!s.store.land_convoy_if_complete(&convoy).unwrap());
    s.advance(1);
    assert!(!s.store.land_convoy_if_complete(&convoy).unwrap());
    assert_eq!(
        s.store.convoy_status(&convoy).unwrap().landed_at,
        Some(landed_at)
    );
}

#[test]
fn a_runner_survives_failed_passes_with_growing_delays_and_recovers_before_the_next() {
    let env = TestEnv::new();
    let mut s = Scenario::new(&env);
    let (a_bead, a) = s.change();
    remote_hook(&s, "pre-receive", "#!/bin/sh\nexit 1\n");
    let mut runner = s.runner();
    let delays: Vec<Duration> = (0..2)
        .map(|_| match runner.step() {
            Step::Failed { retry_in, .. } => retry_in,
            other => panic!("expected a failed pass, got {other:?}"),
        })
        .collect();
    assert_eq!(delays, [FIRST_RETRY, FIRST_RETRY * 2]);
    // A second runner of the rig finds the first one holding the queue.
    assert!(matches!(s.runner().step(), Step::Elsewhere));

    std::fs::remove_file(s.fx.remote_path().join("hooks/pre-receive")).unwrap();
    match runner.step() {
        Step::Worked(report) => assert_eq!(report.landed, [a.label()]),
        other => panic!("expected a landing, got {other:?}"),
    }
    assert!(matches!(runner.step(), Step::Idle));
    s.assert_merged(&a_bead);
}
