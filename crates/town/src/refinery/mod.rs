//! The refinery: each rig's merge queue, a deterministic state machine.
//!
//! A pass takes the queued merge requests whose beads are not blocked, orders them by score
//! ([`policy::score`]), takes a batch sized by the recent failure rate
//! ([`policy::batch_size`]), pre-checks each against the target with `git merge-tree`
//! (a conflict becomes a conflict-resolution bead and the branch is kept), stacks the rest
//! onto the target in the refinery's worktree and runs the gates on the tip. Green: land them
//! all with one fast-forward push. Red: bisect by prefix, land the passing prefix, send the
//! first culprit back with the failing gate's output and requeue the rest. Each tree is tested
//! once: a failure counts when a larger prefix failed the same gate too, and only an
//! unreproduced one (the full batch's) is retried to tell a flake. When not even the first
//! change passes and the target is not known green (landed by this refinery), the target is
//! tested alone: if it fails, pause the queue and raise an escalation (the queue is not to
//! blame).
//!
//! Crash safety: a landing is checkpointed (candidate SHA and requests) after its gates pass
//! and before the push; a restart finishes the bookkeeping of a push that happened and
//! requeues everything else, so nothing is lost, nothing untested lands, and nothing lands
//! twice. The [`runner::Runner`] (behind `gt refinery run`, `gt demo` and the daemon) holds a
//! per-rig lock around passes. A gate never
//! outlives its runner for long: it dies when the runner does, and is recorded so that the
//! next runner's [`Refinery::recover`] stops it (the whole process group) before touching the
//! worktree, should it still run.

pub mod gates;
pub mod git;
pub mod integration;
mod parked;
pub mod policy;
pub mod pull;
pub mod refusal;
mod review;
pub mod runner;
mod unanswered;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::layout::{RigPaths, Town};
use crate::rigctx::RigCtx;
use crate::settings::Settings;

/// Refinery failures.
#[derive(Debug, thiserror::Error)]
pub enum RefineryError {
    #[error("the refinery of `{rig}` is already running")]
    Busy { rig: String },
    #[error(transparent)]
    Git(#[from] host::git::GitError),
    #[error(transparent)]
    Store(#[from] beads::Error),
    #[error(transparent)]
    Rig(#[from] crate::rig::RigError),
    #[error(transparent)]
    Settings(#[from] crate::settings::SettingsError),
    #[error(transparent)]
    File(#[from] crate::files::FileError),
    #[error(transparent)]
    Lock(#[from] host::lock::LockError),
    #[error("cannot run a gate")]
    Gate(#[from] std::io::Error),
    #[error(transparent)]
    Forge(#[from] crate::forge::ForgeError),
}

type Result<T, E = RefineryError> = std::result::Result<T, E>;

/// What one pass did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PassReport {
    pub batch_size: usize,
    /// `mr-N` of each landed request, in landing order.
    pub landed: Vec<String>,
    pub failed: Vec<String>,
    pub conflicted: Vec<String>,
    /// Requests taken out of the queue because their commit is not on the remote.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<String>,
    pub requeued: Vec<String>,
    /// Beads whose requests wait because the bead is blocked.
    pub waiting: Vec<String>,
    pub gate_runs: u32,
    pub flakes: u32,
    pub bisect_depth: u32,
    /// The SHA the target moved to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub landed_sha: Option<String>,
    /// Why the queue is paused, if this pass paused it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused: Option<String>,
    /// The remote target moved during landing; the batch was requeued to be rebuilt.
    pub remote_moved: bool,
    /// Pull requests opened or updated for changes that passed (`mr-N #P`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub opened: Vec<String>,
    /// Requests whose pull requests wait on the forge (checks, reviews, the merge queue).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub awaiting: Vec<String>,
    /// Pull requests closed because the town no longer pursues their change (`#P`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub closed_prs: Vec<String>,
}

/// The kv key that pauses a rig's queue, with the reason as its value.
pub fn pause_key(rig: &str) -> String {
    format!("refinery.paused.{rig}")
}

/// One rig's refinery over the town's store.
pub struct Refinery<'a> {
    town: &'a Town,
    rig: String,
    prefix: String,
    /// The branch this pass lands on: the rig's target, or an epic's integration branch
    /// when the pass's batch is of changes submitted against it.
    target: String,
    /// The rig's target.
    default_target: String,
    /// The rig's remote, which names its forge.
    remote_url: String,
    paths: RigPaths,
    settings: Settings,
    store: &'a mut beads::Store,
    /// Trees (commit SHAs) that passed every gate in this refinery's lifetime: the target it
    /// landed need not be tested alone again.
    green: BTreeSet<String>,
}

impl<'a> Refinery<'a> {
    /// Raises an escalation from this rig's refinery, about the beads `related`.
    fn escalate(
        &mut self,
        title: String,
        description: String,
        severity: crate::escalation::Severity,
        related: Vec<String>,
    ) -> Result<()> {
        crate::escalation::raise_for_service(
            self.town,
            self.store,
            &crate::escalation::NewEscalation {
                title,
                description,
                severity: Some(severity),
                source: Some(format!("refinery:{}", self.rig)),
                from: format!("{}/refinery", self.rig),
                related,
            },
        )?;
        Ok(())
    }

    /// The refinery of the rig `ctx` resolved, acting on its settings.
    pub fn open(town: &'a Town, ctx: &RigCtx, store: &'a mut beads::Store) -> Self {
        Self {
            town,
            rig: ctx.name.clone(),
            prefix: ctx.prefix().to_owned(),
            target: ctx.target().to_owned(),
            default_target: ctx.target().to_owned(),
            remote_url: ctx.entry.git_url.clone(),
            paths: ctx.paths.clone(),
            settings: ctx.settings.clone(),
            store,
            green: BTreeSet::new(),
        }
    }

    /// Carries over the trees a previous refinery of this rig saw pass (see `green`), so a
    /// long-running runner does not test the target it landed alone again.
    pub fn with_green(mut self, green: BTreeSet<String>) -> Self {
        self.green = green;
        self
    }

    /// The trees this refinery saw pass, to hand to the next one.
    pub fn into_green(self) -> BTreeSet<String> {
        self.green
    }

    /// Takes the rig's refinery lock (one refinery per rig) and records this process as its
    /// holder ([`holder`]) until the lock is dropped.
    pub fn lock(town: &Town, rig: &str) -> Result<RefineryLock> {
        std::fs::create_dir_all(town.locks_dir())?;
        let guard = host::lock::try_lock(&town.locks_dir().join(format!("refinery-{rig}.lock")))
            .map_err(|e| match e {
                host::lock::LockError::Busy { .. } => RefineryError::Busy {
                    rig: rig.to_owned(),
                },
                other => other.into(),
            })?;
        let record = holder_path(town, rig);
        let pid = std::process::id();
        let started = host::spawn::start_time(pid).unwrap_or(0);
        crate::files::write_atomic(&record, format!("{pid} {started}\n").as_bytes())?;
        Ok(RefineryLock {
            record,
            _guard: guard,
        })
    }

    fn landing_scope(&self) -> String {
        format!("refinery:{}:landing", self.rig)
    }

    /// After a crash: finish the bookkeeping of a landing that reached the remote, and put every
    /// request that was being tested back in the queue, except those whose pull request the
    /// forge holds (they are waited on again, [`pull`]).
    pub fn recover(&mut self) -> Result<()> {
        // First, before any git in the worktree: a gate a killed runner left there.
        if let Some(pgid) = gates::reap_orphan(self.town, &self.rig)? {
            tracing::warn!(rig = %self.rig, pgid, "stopped the gate a killed refinery left running");
        }
        let scope = self.landing_scope();
        let cps = self.store.checkpoints(&scope)?;
        if let (Some(sha), Some(ids)) = (cps.get("sha"), cps.get("mrs")) {
            let worktree = self.paths.refinery_worktree();
            self.target = cps
                .get("target")
                .cloned()
                .unwrap_or_else(|| self.default_target.clone());
            if git::target_contains(&worktree, &self.target, sha)? {
                let ids: Vec<i64> = ids.split(',').filter_map(|i| i.parse().ok()).collect();
                let mut report = PassReport::default();
                self.after_landing(&ids, sha, &mut report)?;
            }
        }
        self.store.clear_checkpoints(&scope)?;
        for mr in self
            .store
            .mrs(Some(&self.rig), &[beads::MrState::Testing])?
        {
            if self.waiting_on_forge(mr.id)?.is_some() {
                if self.uses_forge() {
                    continue;
                }
                // The rig went back to direct landing: its pull request is no longer followed.
                self.forget_waiting(mr.id)?;
            }
            self.store
                .requeue_mr(mr.id, "requeued after a refinery restart")?;
        }
        Ok(())
    }

    /// Why the queue is paused, if it is.
    pub fn paused(&self) -> Result<Option<String>> {
        Ok(self.store.kv_get(&pause_key(&self.rig))?)
    }

    /// One pass over the queue; `None` when there is nothing to do (or the queue is paused).
    pub fn pass(&mut self) -> Result<Option<PassReport>> {
        if self.paused()?.is_some() {
            return Ok(None);
        }
        self.target = self.default_target.clone();
        let mut report = PassReport::default();
        if self.uses_forge() {
            self.poll_forge(&mut report)?;
        }
        let mut ready = Vec::new();
        for mr in self.store.mrs(Some(&self.rig), &[beads::MrState::Queued])? {
            let bead = self.store.show(&mr.bead_id);
            match bead {
                Ok(d) if d.is_blocked => report.waiting.push(mr.bead_id.clone()),
                Ok(d) if d.issue.status == "closed" => {
                    unless_moved(self.store.supersede_mr(mr.id, "the bead was closed"))?;
                }
                Ok(_) => ready.push(mr),
                Err(beads::Error::NotFound { .. }) => {
                    unless_moved(self.store.reject_mr(mr.id, "the bead no longer exists"))?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        if ready.is_empty() {
            let quiet = report.waiting.is_empty()
                && report.awaiting.is_empty()
                && report.closed_prs.is_empty()
                && report.landed.is_empty()
                && report.failed.is_empty();
            return Ok(if quiet { None } else { Some(report) });
        }
        let started_at = self.store.now();
        let now = self.store.now_ts();
        let mut scored = Vec::new();
        for mr in ready {
            let convoy_created = self
                .store
                .convoys_tracking(&mr.bead_id)?
                .iter()
                .filter_map(|c| self.store.get(c).ok())
                .filter_map(|c| c.created_at.parse::<jiff::Timestamp>().ok())
                .min();
            let score = policy::score(&mr, now, convoy_created);
            scored.push((mr, score));
        }
        let ordered = policy::order(scored);
        // One target a pass: that of the most urgent request (the rig's, or an integration
        // branch's); the others wait for a later pass.
        self.target = ordered
            .first()
            .map(|mr| mr.target.clone())
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| self.default_target.clone());
        let ordered: Vec<beads::MergeRequest> = ordered
            .into_iter()
            .filter(|mr| mr.target == self.target || mr.target.is_empty())
            .collect();
        let size = policy::batch_size(
            &self.store.recent_mr_failures(&self.rig, 20)?,
            self.settings.merge_queue.max_batch_size,
        );
        report.batch_size = size.min(ordered.len());
        let worktree = self.paths.refinery_worktree();
        let base = git::start_candidate(&worktree, &self.target)?;
        // Stack the batch: (request, candidate tip after it).
        let mut stacked: Vec<(beads::MergeRequest, String)> = Vec::new();
        for mr in ordered.into_iter().take(size) {
            // A commit the remote never had (or no longer has): nothing to merge, and not a
            // conflict either.
            if !git::has_commit(&worktree, &mr.sha)? {
                if unless_moved(
                    self.store
                        .reject_mr(mr.id, "the commit is not on the remote"),
                )?
                .is_none()
                {
                    continue;
                }
                self.return_bead(
                    &mr,
                    &format!(
                        "Refinery: {} names commit {} of `{}`, which is not on the remote; push the branch and submit again.",
                        mr.label(),
                        mr.sha,
                        mr.branch
                    ),
                )?;
                report.rejected.push(mr.label());
                continue;
            }
            if let Some(paths) = git::precheck(&worktree, &self.target, &mr.sha)? {
                if self.conflict(&mr, &base, &paths)? {
                    report.conflicted.push(mr.label());
                }
                continue;
            }
            // Into the batch before onto the candidate: a request rejected or superseded since
            // this pass read the queue is skipped, and never tested.
            if unless_moved(self.store.start_testing_mr(mr.id))?.is_none() {
                continue;
            }
            match git::stack(&worktree, &self.target, &mr.sha)? {
                git::Stacked::Applied(tip) => stacked.push((mr, tip)),
                // It merges with the target but not with the changes ahead of it: try again
                // after they land.
                git::Stacked::Conflict(_) => {
                    self.store
                        .requeue_mr(mr.id, "requeued: it conflicts with a change ahead of it")?;
                    report.requeued.push(mr.label());
                }
            }
        }
        if stacked.is_empty() {
            self.record(&started_at, &report, "nothing to test")?;
            return Ok(Some(report));
        }
        let gates = gates::configured(&self.settings.merge_queue);
        let timeout = Duration::from_secs(self.settings.merge_queue.gate_timeout_secs.max(1));
        let retries = self.settings.merge_queue.retry_flaky_tests;
        let record = gates::record_path(self.town, &self.rig);
        let n = stacked.len();
        // Each tree is tested once; a failure is believed when bisection reproduces it, and
        // retried (`retry_flaky_tests`) only when nothing else does. Retrying every failing run
        // would pay twice for every real failure.
        let full = gates::run(&gates, &worktree, timeout, 0, &record)?;
        report.gate_runs += full.runs;
        let (landable, culprit) = match full.failed {
            None => {
                self.green.insert(stacked[n - 1].1.clone());
                (n, None)
            }
            Some(failure) => {
                let mut failures: BTreeMap<usize, (String, String)> = BTreeMap::new();
                failures.insert(n, failure);
                let mut runs = 0;
                let green = &mut self.green;
                let (good, depth) = policy::bisect(n, |k| -> Result<bool> {
                    let tip = &stacked[k - 1].1;
                    git::checkout(&worktree, tip)?;
                    let r = gates::run(&gates, &worktree, timeout, 0, &record)?;
                    runs += r.runs;
                    match r.failed {
                        Some(f) => {
                            failures.insert(k, f);
                            Ok(false)
                        }
                        None => {
                            green.insert(tip.clone());
                            Ok(true)
                        }
                    }
                })?;
                report.gate_runs += runs;
                report.bisect_depth = depth;
                // The culprit is the change after the passing prefix; the failure to report is
                // that of the smallest failing prefix. A second failing run of the same gate on
                // a larger prefix (which holds the culprit too) reproduces it; otherwise (the
                // full batch was the only failing run) retry before blaming anyone.
                let bad = good + 1;
                let failure = failures[&bad].clone();
                let reproduced = failures
                    .range(bad..)
                    .filter(|(_, (gate, _))| *gate == failure.0)
                    .count()
                    >= 2;
                let mut flaked = false;
                if !reproduced && retries > 0 {
                    let tip = &stacked[bad - 1].1;
                    git::checkout(&worktree, tip)?;
                    for _ in 0..retries {
                        let r = gates::run(&gates, &worktree, timeout, 0, &record)?;
                        report.gate_runs += r.runs;
                        if r.passed() {
                            report.flakes += 1;
                            self.green.insert(tip.clone());
                            flaked = true;
                            break;
                        }
                    }
                }
                if flaked {
                    // Prefix `bad` passes after all: land it; whatever follows is tried again.
                    (bad, None)
                } else {
                    // Not even the first change passes: the target itself may be what fails. A
                    // target that passed before (the last tip this refinery landed) is not retested.
                    if good == 0 && !self.green.contains(&base) {
                        git::checkout(&worktree, &base)?;
                        let alone = gates::run(&gates, &worktree, timeout, retries, &record)?;
                        report.gate_runs += alone.runs;
                        report.flakes += alone.flakes;
                        if let Some((gate, output)) = alone.failed {
                            self.pause(&gate, &output, &base, &mut report)?;
                            for (mr, _) in &stacked {
                                self.store.requeue_mr(
                                    mr.id,
                                    "requeued: the target fails its gates on its own",
                                )?;
                                report.requeued.push(mr.label());
                            }
                            self.record(&started_at, &report, "paused")?;
                            return Ok(Some(report));
                        }
                        self.green.insert(base.clone());
                    }
                    (good, Some((good, failure)))
                }
            }
        };
        if let Some((index, (gate, output))) = &culprit {
            let mr = &stacked[*index].0;
            self.send_back(mr, gate, output)?;
            report.failed.push(mr.label());
        }
        let behind = landable + usize::from(culprit.is_some());
        for (mr, _) in stacked.iter().skip(behind) {
            self.store
                .requeue_mr(mr.id, "requeued behind a failing change")?;
            report.requeued.push(mr.label());
        }
        if landable > 0 && self.uses_forge() {
            let changes: Vec<beads::MergeRequest> =
                stacked[..landable].iter().map(|(m, _)| m.clone()).collect();
            self.open_pull_requests(&base, &changes, &mut report)?;
        } else if landable > 0 {
            let sha = stacked[landable - 1].1.clone();
            let ids: Vec<i64> = stacked[..landable].iter().map(|(m, _)| m.id).collect();
            let scope = self.landing_scope();
            self.store.checkpoint(&scope, "sha", &sha)?;
            self.store.checkpoint(&scope, "target", &self.target)?;
            self.store.checkpoint(
                &scope,
                "mrs",
                &ids.iter().map(i64::to_string).collect::<Vec<_>>().join(","),
            )?;
            match git::land(&worktree, &sha, &self.target)? {
                git::Landing::Landed => {
                    self.after_landing(&ids, &sha, &mut report)?;
                    report.landed_sha = Some(sha);
                }
                git::Landing::RemoteMoved => {
                    report.remote_moved = true;
                    for (mr, _) in &stacked[..landable] {
                        self.store
                            .requeue_mr(mr.id, "requeued: the target moved during landing")?;
                        report.requeued.push(mr.label());
                    }
                }
            }
            self.store.clear_checkpoints(&scope)?;
        }
        let outcome = if report.remote_moved {
            "remote moved"
        } else if !report.opened.is_empty() {
            "pull requests"
        } else if culprit.is_some() {
            "bisected"
        } else {
            "landed"
        };
        self.record(&started_at, &report, outcome)?;
        Ok(Some(report))
    }

    /// Bookkeeping after `sha` reached the target: requests merged, beads closed with their
    /// comments and convoys landed in one transaction ([`beads::Store::land_mrs`]), then
    /// branches deleted. Idempotent, so a restart may run it again.
    fn after_landing(&mut self, ids: &[i64], sha: &str, report: &mut PassReport) -> Result<()> {
        let worktree = self.paths.refinery_worktree();
        // Who to tell: only about what this call lands (a restart re-running the bookkeeping
        // announces nothing twice): requests not merged before, and the convoys the landing
        // itself landed.
        let mut fresh = Vec::new();
        for &id in ids {
            if self.store.mr(id)?.state != beads::MrState::Merged {
                fresh.push(id);
            }
        }
        let landed = self.store.land_mrs(&beads::Landing {
            ids,
            sha,
            target: &self.target,
        })?;
        let newly: Vec<beads::MergeRequest> = landed
            .requests
            .iter()
            .filter(|mr| fresh.contains(&mr.id))
            .cloned()
            .collect();
        crate::notices::merged(self.town, self.store, &self.rig, &newly, sha);
        crate::notices::convoys_landed(self.town, self.store, &self.rig, &landed.convoys);
        for mr in landed.requests {
            report.landed.push(mr.label());
            // Best effort: the change has landed, and a remote that refuses the deletion must
            // not fail the bookkeeping (a restart would retry it, and fail, forever).
            if self.settings.merge_queue.delete_merged_branches
                && let Err(e) = git::delete_remote_branch(&worktree, &mr.branch)
            {
                tracing::warn!(branch = %mr.branch, error = %e, "cannot delete a merged branch");
            }
        }
        Ok(())
    }

    /// A request that does not merge: a conflict-resolution bead that can be slung like any
    /// other, the request marked conflicted, the branch kept. `false` when the request left
    /// the queue meanwhile (rejected or superseded): nothing is done.
    fn conflict(
        &mut self,
        mr: &beads::MergeRequest,
        target_sha: &str,
        paths: &[String],
    ) -> Result<bool> {
        if self.store.mr(mr.id)?.state != beads::MrState::Queued {
            return Ok(false);
        }
        let bead = self.store.get(&mr.bead_id)?;
        let title: String = format!("Resolve merge conflicts: {}", bead.title)
            .chars()
            .take(beads::model::MAX_TITLE_CHARS)
            .collect();
        let description = format!(
            "`{}` ({}) no longer merges into `{}`.\n\nBranch: {}\nBranch SHA: {}\nTarget SHA: {}\nConflicting paths:\n{}\n\nRebase the branch onto `origin/{}`, resolve the conflicts, and finish with `gt done`.",
            mr.branch,
            mr.label(),
            self.target,
            mr.branch,
            mr.sha,
            target_sha,
            paths
                .iter()
                .map(|p| format!("- {p}"))
                .collect::<Vec<_>>()
                .join("\n"),
            self.target
        );
        let conflict = self.store.create(beads::NewIssue {
            title,
            description,
            priority: Some(1),
            labels: vec!["gt:conflict".into()],
            deps: vec![("related".into(), mr.bead_id.clone())],
            prefix: Some(self.prefix.clone()),
            ..Default::default()
        })?;
        let reason = format!(
            "conflicts on {}; resolution bead {}",
            paths.join(", "),
            conflict.id
        );
        if unless_moved(self.store.conflict_mr(mr.id, &reason))?.is_none() {
            return Ok(false);
        }
        crate::notices::fix_needed(
            self.town,
            self.store,
            &self.rig,
            mr,
            &format!("conflicts with `{}`", self.target),
            &format!(
                "Conflicting paths:\n{}\n\nRebase onto `origin/{}` and resolve them; the \
                 resolution bead {} tracks it.",
                paths
                    .iter()
                    .map(|p| format!("- {p}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
                self.target,
                conflict.id
            ),
        );
        self.return_bead(
            mr,
            &format!(
                "Refinery: {} conflicts with `{}` on {}; see {}.",
                mr.label(),
                self.target,
                paths.join(", "),
                conflict.id
            ),
        )?;
        Ok(true)
    }

    /// A change that fails the gates: the request failed, the bead back to its polecat (or to
    /// the ready queue), with the failing gate's output.
    fn send_back(&mut self, mr: &beads::MergeRequest, gate: &str, output: &str) -> Result<()> {
        self.store
            .fail_mr(mr.id, &format!("gate `{gate}` failed"))?;
        let tail = last_lines(output, GATE_OUTPUT_LINES);
        crate::notices::fix_needed(
            self.town,
            self.store,
            &self.rig,
            mr,
            &format!("gate `{gate}` failed"),
            &format!("The gate's output (last lines):\n\n```\n{tail}\n```"),
        );
        self.return_bead(
            mr,
            &format!(
                "Refinery: gate `{gate}` failed on {}:\n\n```\n{tail}\n```",
                mr.label()
            ),
        )
    }

    fn return_bead(&mut self, mr: &beads::MergeRequest, note: &str) -> Result<()> {
        self.store.add_comment(&mr.bead_id, note)?;
        let to_polecat = self.settings.merge_queue.on_conflict != "ready" && !mr.polecat.is_empty();
        let changes = if to_polecat {
            beads::Changes {
                status: Some("hooked".into()),
                assignee: Some(mr.polecat.clone()),
                ..Default::default()
            }
        } else {
            beads::Changes {
                status: Some("open".into()),
                assignee: Some(String::new()),
                ..Default::default()
            }
        };
        self.store.update(&mr.bead_id, &changes)?;
        if to_polecat && let Some(id) = crate::work::identity::PolecatId::parse(&mr.polecat) {
            self.store.upsert_polecat(
                &id.rig,
                &id.name,
                &beads::PolecatUpdate {
                    bead_id: Some(mr.bead_id.clone()),
                    ..Default::default()
                },
            )?;
        }
        Ok(())
    }

    /// The target fails on its own: pause the queue and raise an escalation; no change is blamed.
    fn pause(
        &mut self,
        gate: &str,
        output: &str,
        target_sha: &str,
        report: &mut PassReport,
    ) -> Result<()> {
        let reason = format!(
            "`{}` at {} fails gate `{gate}` on its own",
            self.target,
            &target_sha[..target_sha.len().min(12)]
        );
        self.store.kv_set(&pause_key(&self.rig), &reason)?;
        let tail = last_lines(output, GATE_OUTPUT_LINES);
        self.escalate(
format!("Refinery of {} paused: {reason}", self.rig),
format!(
                    "The merge queue stopped because the target branch itself fails.\n\n```\n{tail}\n```\n\nFix `{}`, then `gt refinery resume {}`.",
                    self.target, self.rig
                ),
crate::escalation::Severity::Critical,
Vec::new(),
)?;
        report.paused = Some(reason);
        Ok(())
    }

    fn record(&mut self, started_at: &str, report: &PassReport, outcome: &str) -> Result<()> {
        let n = |v: &Vec<String>| v.len() as i64;
        self.store.record_refinery_run(&beads::RefineryRun {
            rig: self.rig.clone(),
            started_at: started_at.to_owned(),
            batch_size: report.batch_size as i64,
            landed: n(&report.landed),
            failed: n(&report.failed),
            conflicted: n(&report.conflicted),
            gate_runs: i64::from(report.gate_runs),
            bisect_depth: i64::from(report.bisect_depth),
            flakes: i64::from(report.flakes),
            outcome: outcome.to_owned(),
        })?;
        Ok(())
    }

    /// The town this refinery belongs to.
    pub fn town(&self) -> &Town {
        self.town
    }
}

/// A held refinery lock. Dropping it removes the holder record, then releases the lock (in that
/// order, so the record of the next holder is never the one removed).
#[derive(Debug)]
pub struct RefineryLock {
    record: PathBuf,
    _guard: host::lock::LockGuard,
}

impl Drop for RefineryLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.record);
    }
}

/// The holder record of the rig's refinery lock: `.runtime/locks/refinery-<rig>.holder`, the
/// pid and start time of the process holding it.
pub fn holder_path(town: &Town, rig: &str) -> PathBuf {
    town.locks_dir().join(format!("refinery-{rig}.holder"))
}

/// The pid of the process running the rig's refinery (a `gt refinery run`, the daemon, a
/// `gt demo`), read from its holder record without touching the lock: a status check that
/// took the lock, however briefly, would make a runner starting at that instant fail as busy.
/// A record left by a killed holder names a process that is gone, or a recycled pid with
/// another start time, and reads as `None`. Between a runner taking the lock and writing the
/// record this reads `None` too; a status is a snapshot.
pub fn holder(town: &Town, rig: &str) -> Option<u32> {
    let text = std::fs::read_to_string(holder_path(town, rig)).ok()?;
    let mut words = text.split_whitespace();
    let pid: u32 = words.next()?.parse().ok()?;
    let started: u64 = words.next()?.parse().ok()?;
    let alive = host::spawn::is_alive(pid)
        && host::spawn::start_time(pid).map_or(started == 0, |s| s == started);
    alive.then_some(pid)
}

/// The outcome of a transition of a request the pass read as queued: `None` when another writer
/// moved it meanwhile (rejected by hand, superseded by a newer submission), which the pass then
/// leaves alone.
fn unless_moved<T>(r: beads::Result<T>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e @ beads::Error::InvalidTransition { .. }) => {
            tracing::info!(error = %e, "a request left the queue during the pass");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// How much of a failing gate's output a bead comment or escalation carries.
const GATE_OUTPUT_LINES: usize = 40;

/// The last `n` lines of `text`.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Resumes a paused queue.
pub fn resume(store: &mut beads::Store, rig: &str) -> Result<bool> {
    Ok(store.kv_clear(&pause_key(rig))?)
}
