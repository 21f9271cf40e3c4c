//! The deacon: the daemon's housekeeping service.
//!
//! [`Deacon`] is a [`Service`] with five duties, each run at most once per its own interval
//! ([`Intervals`]):
//!
//! - **reap idle sessions** ([`Deacon::reap_idle`]): a polecat that is `idle` with no hooked
//!   bead, whose row has not changed for longer than `daemon.idle_reap_after_secs` and whose
//!   session still runs, has its session stopped in the runtime its row records. Its row and
//!   worktree stay; the next sling starts a fresh session there.
//! - **kill orphan processes** ([`Deacon::kill_orphans`]): a process carrying this town's
//!   `GT_TOWN_ROOT` and a polecat's `GT_ROLE` and `GT_SESSION` ([`town_agent_processes`]) whose
//!   polecat row is gone or nuked, names another session, has moved to a later generation, or
//!   whose session is dead, is stopped — with its process group when it leads one. (Session
//!   names are stable per polecat, so the generation is what tells a tool left by an earlier
//!   session from one of the session running now under the same name.) These are tools an
//!   agent detached (`setsid`, double forks) that outlived its session. A process is killed
//!   only when seen orphaned by two consecutive sweeps (same pid and start time), so a session
//!   being started between our reads is never taken for dead.
//! - **prune merged branches** ([`Deacon::prune_branches`]): each rig's polecat branches with no
//!   worktree whose commits are all on `origin/<default branch>`
//!   ([`crate::work::gitops::prune_leftover_branches`], the doctor's `branches:<rig>` fix).
//! - **collect wisps** ([`Deacon::gc_wisps`]): `bd wisp gc`, with each wisp type's default age;
//!   and protocol mail ([`crate::mail::gc`]) that no recipient holds in an inbox any more or
//!   that is older than `daemon.mail_ttl_secs`. Human mail is kept.
//! - **re-escalate** ([`Deacon::reescalate`]): escalations left unacknowledged past
//!   `settings/escalation.json`'s `stale_threshold` are bumped one severity and delivered again,
//!   up to `max_reescalations` times ([`crate::escalation::stale`]).
//!
//! A duty's failure is logged and does not stop the others; [`Service::step`] fails only when
//! the store cannot even be read (the supervisor then rebuilds the deacon, reopening it).
//! While the town's shutdown sentinel ([`Town::shutdown_sentinel`]) exists, the deacon does
//! nothing at all.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use beads::{Polecat, Store};
use host::clock::Clock;
use host::procs::Proc;
use jiff::Timestamp;

use crate::layout::{RigPaths, Town};
use crate::runtime::{DEFAULT_KILL_GRACE, Runtimes};
use crate::service::{Next, Service, ServiceError};
use crate::settings::Settings;
use crate::work::identity::PolecatId;

/// How often each duty runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intervals {
    pub reap_idle: Duration,
    pub orphans: Duration,
    pub branches: Duration,
    pub wisps: Duration,
    pub escalations: Duration,
}

impl Default for Intervals {
    /// Idle sessions, orphans and stale escalations every minute; branches and wisps every
    /// hour.
    fn default() -> Self {
        Self {
            reap_idle: Duration::from_secs(60),
            orphans: Duration::from_secs(60),
            branches: Duration::from_secs(3600),
            wisps: Duration::from_secs(3600),
            escalations: Duration::from_secs(60),
        }
    }
}

/// The deacon's duties, in the order a step runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Duty {
    ReapIdle,
    Orphans,
    Branches,
    Wisps,
    Escalations,
}

const DUTIES: [Duty; 5] = [
    Duty::ReapIdle,
    Duty::Orphans,
    Duty::Branches,
    Duty::Wisps,
    Duty::Escalations,
];

/// The housekeeping service. See the module docs.
pub struct Deacon {
    town: Town,
    store: Store,
    runtimes: Runtimes,
    settings: Settings,
    clock: Box<dyn Clock>,
    intervals: Intervals,
    kill_grace: Duration,
    /// When each duty is next due; a missing one is due now.
    due: BTreeMap<Duty, Timestamp>,
    /// Orphans seen by the last sweep, by pid and start time: killed if seen again.
    suspects: BTreeSet<(u32, u64)>,
    /// Where the agent CLIs write their transcripts, to record what a hookless agent (Codex)
    /// used before its idle session is stopped; `None` records nothing.
    cost_homes: Option<crate::costs::locate::Homes>,
}

/// One process the orphan sweep stopped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    pub process: Proc,
    pub reason: String,
}

impl Deacon {
    /// A deacon for `town`: `store` is the town's store, `runtimes` its runtimes (each
    /// polecat's session is looked up in the one its row records), `settings` the town's
    /// effective settings (`daemon.idle_reap_after_secs`), `clock` what "now" is for the idle
    /// threshold and the duties' intervals (the store's own clock stamps `updated_at`).
    pub fn new(
        town: Town,
        store: Store,
        runtimes: Runtimes,
        settings: Settings,
        clock: Box<dyn Clock>,
    ) -> Self {
        Self {
            town,
            store,
            runtimes,
            settings,
            clock,
            intervals: Intervals::default(),
            kill_grace: DEFAULT_KILL_GRACE,
            due: BTreeMap::new(),
            suspects: BTreeSet::new(),
            cost_homes: None,
        }
    }

    /// Records a hookless agent's costs from the transcripts under `homes` before reaping its
    /// idle session: it has no `Stop` hook, and its last turn reached its transcript only when
    /// that turn ended, after its `gt done`.
    pub fn with_cost_homes(mut self, homes: Option<crate::costs::locate::Homes>) -> Self {
        self.cost_homes = homes;
        self
    }

    /// Runs the duties at these intervals instead of [`Intervals::default`].
    pub fn with_intervals(mut self, intervals: Intervals) -> Self {
        self.intervals = intervals;
        self
    }

    /// How long orphans get between `SIGTERM` and `SIGKILL` (default
    /// [`DEFAULT_KILL_GRACE`]).
    pub fn with_kill_grace(mut self, grace: Duration) -> Self {
        self.kill_grace = grace;
        self
    }

    fn interval(&self, duty: Duty) -> Duration {
        match duty {
            Duty::ReapIdle => self.intervals.reap_idle,
            Duty::Orphans => self.intervals.orphans,
            Duty::Branches => self.intervals.branches,
            Duty::Wisps => self.intervals.wisps,
            Duty::Escalations => self.intervals.escalations,
        }
    }

    /// Stops the sessions of polecats idle for longer than `daemon.idle_reap_after_secs`
    /// (see the module docs). Returns the addresses of the polecats whose session was stopped.
    /// Each is checked again under its rig's admission lock before its session is stopped, so
    /// a sling that just took the polecat keeps its new session.
    pub fn reap_idle(&mut self) -> Result<Vec<String>, beads::Error> {
        let now = self.clock.now();
        let threshold = self.settings.daemon.idle_reap_after_secs;
        let mut reaped = Vec::new();
        for p in self.store.polecats(None)? {
            if !idle_for_longer_than(&p, now, threshold) {
                continue;
            }
            let runtime = self.runtimes.get(&p.runtime);
            match runtime.is_alive(&p.session, &[]) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(polecat = %address(&p), error = %e, "deacon: cannot tell whether an idle session runs");
                    continue;
                }
            }
            let _lock = match crate::work::admission_lock(&self.town, &p.rig) {
                Ok(lock) => lock,
                Err(e) => {
                    tracing::warn!(polecat = %address(&p), error = %e, "deacon: cannot reap an idle session");
                    continue;
                }
            };
            // Still the very row we judged: no sling took the polecat meanwhile.
            if self.store.polecat(&p.rig, &p.name)?.as_ref() != Some(&p) {
                continue;
            }
            if let Some(homes) = &self.cost_homes
                && let Err(e) =
                    crate::costs::record::record_polecat(&mut self.store, &self.town, homes, &p)
            {
                tracing::warn!(polecat = %address(&p), error = %e, "deacon: cannot record an idle agent's costs");
            }
            match runtime.stop(&p.session) {
                Ok(()) => {
                    tracing::info!(polecat = %address(&p), session = %p.session, idle_since = %p.updated_at, "deacon: stopped an idle polecat's session");
                    reaped.push(address(&p));
                }
                Err(e) => {
                    tracing::warn!(polecat = %address(&p), error = %e, "deacon: cannot stop an idle session");
                }
            }
        }
        Ok(reaped)
    }

    /// Finds this town's agent processes whose polecat session is gone (see the module docs)
    /// and stops those the previous sweep found orphaned too. Returns those it signalled (a
    /// failure to stop some is logged, not returned).
    pub fn kill_orphans(&mut self) -> Result<Vec<Orphan>, beads::Error> {
        // Processes first, rows second: a row is written before its session starts, so every
        // process found here already has its row.
        let procs = town_agent_processes(self.town.root());
        if procs.is_empty() {
            self.suspects.clear();
            return Ok(Vec::new());
        }
        let rows: HashMap<(String, String), Polecat> = self
            .store
            .polecats(None)?
            .into_iter()
            .map(|p| ((p.rig.clone(), p.name.clone()), p))
            .collect();
        let mut alive: HashMap<String, bool> = HashMap::new();
        let mut suspects = BTreeSet::new();
        let mut orphans = Vec::new();
        for process in procs {
            let Some(reason) = self.orphan_reason(&process, &rows, &mut alive) else {
                continue;
            };
            let key = (process.pid, process.start_time);
            suspects.insert(key);
            if self.suspects.contains(&key) {
                orphans.push(Orphan { process, reason });
            }
        }
        self.suspects = suspects;
        if orphans.is_empty() {
            return Ok(orphans);
        }
        for o in &orphans {
            tracing::info!(pid = o.process.pid, comm = %o.process.comm, session = ?o.process.session, reason = %o.reason, "deacon: stopping an orphaned agent process");
        }
        let procs: Vec<Proc> = orphans.iter().map(|o| o.process.clone()).collect();
        if let Err(e) = host::procs::kill_all(&procs, self.kill_grace) {
            tracing::warn!(error = %e, "deacon: cannot stop every orphaned agent process");
        }
        for o in &orphans {
            self.suspects.remove(&(o.process.pid, o.process.start_time));
        }
        Ok(orphans)
    }

    /// Why `process` belongs to no live polecat session, or `None` if it may (or it is not a
    /// polecat's at all, or its session's state cannot be told).
    fn orphan_reason(
        &self,
        process: &Proc,
        rows: &HashMap<(String, String), Polecat>,
        alive: &mut HashMap<String, bool>,
    ) -> Option<String> {
        let id = PolecatId::parse(process.role.as_deref()?)?;
        let session = process.session.as_deref()?;
        let Some(row) = rows.get(&(id.rig.clone(), id.name.clone())) else {
            return Some(format!("polecat `{}` no longer exists", id.address()));
        };
        if is_nuked(row) {
            return Some(format!("polecat `{}` was nuked", id.address()));
        }
        if row.session != session {
            return Some(format!(
                "polecat `{}` now runs in session `{}`",
                id.address(),
                row.session
            ));
        }
        if let Some(generation) = process.generation.as_deref()
            && let Ok(generation) = generation.parse::<i64>()
            && generation < row.generation
        {
            return Some(format!(
                "it is of generation {generation}; polecat `{}` is at {}",
                id.address(),
                row.generation
            ));
        }
        let key = format!("{}\0{}", row.runtime, row.session);
        let live = match alive.get(&key) {
            Some(&live) => live,
            None => match self.runtimes.get(&row.runtime).is_alive(&row.session, &[]) {
                Ok(live) => *alive.entry(key).or_insert(live),
                Err(e) => {
                    tracing::warn!(session = %row.session, error = %e, "deacon: cannot tell whether a session runs");
                    return None;
                }
            },
        };
        (!live).then(|| format!("session `{session}` is dead"))
    }

    /// Deletes every rig's merged polecat branches that no worktree uses. Returns
    /// `(rig, branch)` for each deleted. A rig that fails is logged and skipped.
    pub fn prune_branches(&self) -> Vec<(String, String)> {
        let rigs = match self.town.rigs() {
            Ok(rigs) => rigs,
            Err(e) => {
                tracing::warn!(error = %e, "deacon: cannot read the rigs to prune branches");
                return Vec::new();
            }
        };
        let mut pruned = Vec::new();
        for rig in rigs.rigs.keys() {
            let paths = RigPaths::new(&self.town, rig);
            let result = paths
                .config()
                .map_err(crate::work::WorkError::from)
                .and_then(|config| {
                    crate::work::gitops::prune_leftover_branches(
                        &self.town,
                        rig,
                        &paths.bare_repo(),
                        &config.default_branch,
                    )
                });
            match result {
                Ok(branches) => {
                    if !branches.is_empty() {
                        tracing::info!(rig = %rig, ?branches, "deacon: deleted merged polecat branches");
                    }
                    pruned.extend(branches.into_iter().map(|b| (rig.clone(), b)));
                }
                Err(e) => {
                    tracing::warn!(rig = %rig, error = %e, "deacon: cannot prune polecat branches");
                }
            }
        }
        pruned
    }

    /// Deletes wisps past their type's time to live (`bd wisp gc`). Returns their ids.
    pub fn gc_wisps(&mut self) -> Result<Vec<String>, beads::Error> {
        let ids = self.store.wisp_gc(false)?;
        if !ids.is_empty() {
            tracing::info!(count = ids.len(), "deacon: collected wisps");
        }
        Ok(ids)
    }

    /// Escalates again the escalations left unacknowledged too long, with the town's
    /// `settings/escalation.json` (an unreadable one is logged and the pass skipped, so a typo
    /// never re-escalates by the defaults). Returns the ids bumped.
    pub fn reescalate(&mut self) -> Result<Vec<String>, beads::Error> {
        let config = match crate::escalation::EscalationConfig::load(&self.town) {
            Ok(config) => config,
            Err(e) => {
                tracing::warn!(error = %e, "deacon: cannot read the escalation settings");
                return Ok(Vec::new());
            }
        };
        match crate::escalation::stale(&self.town, &mut self.store, &config, false) {
            Ok(bumped) => {
                for b in &bumped {
                    tracing::info!(id = %b.id, from = %b.from, to = %b.to, count = b.reescalations, "deacon: re-escalated");
                }
                Ok(bumped.into_iter().map(|b| b.id).collect())
            }
            Err(crate::escalation::EscalationError::Store(e)) => Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "deacon: cannot re-escalate");
                Ok(Vec::new())
            }
        }
    }

    /// Deletes protocol mail that is archived or deleted by every recipient, or older than
    /// `daemon.mail_ttl_secs`. Returns the message ids.
    pub fn gc_mail(&mut self) -> Result<Vec<i64>, beads::Error> {
        let ttl = Duration::from_secs(self.settings.daemon.mail_ttl_secs);
        let ids = crate::mail::gc(&mut self.store, self.clock.now(), ttl)?;
        if !ids.is_empty() {
            tracing::info!(count = ids.len(), "deacon: collected protocol mail");
        }
        Ok(ids)
    }

    /// Runs one duty, logging its outcome. Returns whether it failed on the store.
    fn run(&mut self, duty: Duty) -> bool {
        let failed = match duty {
            Duty::ReapIdle => self.reap_idle().err(),
            Duty::Orphans => self.kill_orphans().err(),
            Duty::Branches => {
                self.prune_branches();
                None
            }
            // Both collections run even when one fails.
            Duty::Wisps => {
                let wisps = self.gc_wisps().err();
                let mail = self.gc_mail().err();
                wisps.or(mail)
            }
            Duty::Escalations => self.reescalate().err(),
        };
        if let Some(e) = &failed {
            tracing::warn!(duty = ?duty, error = %e, "deacon: duty failed");
        }
        failed.is_some()
    }
}

impl Service for Deacon {
    /// Runs every duty that is due, and asks to be stepped again when the next one is. Does
    /// nothing while the shutdown sentinel exists.
    fn step(&mut self) -> Result<Next, ServiceError> {
        if self.town.shutdown_sentinel().exists() {
            // Whatever was seen before the shutdown began is stale by its end.
            self.suspects.clear();
            return Ok(Next::Idle);
        }
        let now = self.clock.now();
        let mut store_failed = false;
        for duty in DUTIES {
            if self.due.get(&duty).is_some_and(|&at| at > now) {
                continue;
            }
            store_failed |= self.run(duty);
            let next = now
                .checked_add(self.interval(duty))
                .unwrap_or(Timestamp::MAX);
            self.due.insert(duty, next);
        }
        if store_failed {
            // A duty's store error may be passing (a busy lock); one that a plain read
            // repeats means the store is unusable: fail, and be rebuilt with a fresh one.
            self.store.polecats(None)?;
        }
        let wait = self
            .due
            .values()
            .min()
            .map_or(Duration::ZERO, |&at| until(now, at));
        Ok(Next::After(wait.max(Duration::from_secs(1))))
    }
}

/// How long from `now` until `at` (zero if it has passed).
fn until(now: Timestamp, at: Timestamp) -> Duration {
    Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO)
}

/// The processes of this town's agent sessions: those whose `GT_TOWN_ROOT` is this town's root
/// (compared canonically) and that carry a `GT_SESSION`, so a person's own `gt` commands (which
/// may set `GT_TOWN_ROOT`) are never among them. The calling process is never included.
pub fn town_agent_processes(town_root: &Path) -> Vec<Proc> {
    let ours = canonical(town_root);
    let mut same_town: HashMap<String, bool> = HashMap::new();
    host::procs::find(|env| {
        if env
            .get(host::procs::GT_SESSION)
            .is_none_or(|s| s.trim().is_empty())
        {
            return false;
        }
        let Some(root) = env.get(host::procs::GT_TOWN_ROOT).filter(|r| !r.is_empty()) else {
            return false;
        };
        *same_town
            .entry(root.to_owned())
            .or_insert_with(|| canonical(Path::new(root)) == ours)
    })
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_owned())
}

fn address(p: &Polecat) -> String {
    format!("{}/polecats/{}", p.rig, p.name)
}

// The polecat states the deacon reads, in one place.

/// Idle with no hooked bead and a session recorded: what an idle reap may stop.
fn is_idle_without_work(p: &Polecat) -> bool {
    p.state == beads::PolecatState::Idle && p.bead_id.is_empty() && !p.session.is_empty()
}

fn is_nuked(p: &Polecat) -> bool {
    p.state == beads::PolecatState::Nuked
}

/// Whether `p` is idle without work and its row has not changed for more than `secs` seconds
/// before `now` (every transition moves `updated_at`).
fn idle_for_longer_than(p: &Polecat, now: Timestamp, secs: u64) -> bool {
    if !is_idle_without_work(p) {
        return false;
    }
    let Ok(since) = p.updated_at.parse::<Timestamp>() else {
        tracing::warn!(polecat = %address(p), updated_at = %p.updated_at, "deacon: unreadable updated_at");
        return false;
    };
    let idle = now.as_second().saturating_sub(since.as_second());
    u64::try_from(idle).is_ok_and(|idle| idle > secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn polecat(state: &str, bead: &str, updated_at: &str) -> Polecat {
        Polecat {
            rig: "app".into(),
            name: "nux".into(),
            state: state.parse().unwrap(),
            generation: 1,
            bead_id: bead.into(),
            branch: String::new(),
            worktree: String::new(),
            session: "ap-nux".into(),
            agent: "scripted".into(),
            runtime: "subprocess".into(),
            pid: None,
            created_at: updated_at.into(),
            updated_at: updated_at.into(),
        }
    }

    #[test]
    fn only_idle_polecats_without_work_past_the_threshold_are_reapable() {
        let now: Timestamp = "2026-01-01T01:00:00Z".parse().unwrap();
        let at = |s: &str| polecat("idle", "", s);
        assert!(idle_for_longer_than(&at("2026-01-01T00:44:59Z"), now, 900));
        assert!(!idle_for_longer_than(&at("2026-01-01T00:45:00Z"), now, 900));
        assert!(!idle_for_longer_than(&at("garbage"), now, 900));
        for state in ["working", "spawning", "stuck", "nuked"] {
            assert!(!idle_for_longer_than(
                &polecat(state, "", "2026-01-01T00:00:00Z"),
                now,
                900
            ));
        }
        assert!(!idle_for_longer_than(
            &polecat("idle", "ap-1", "2026-01-01T00:00:00Z"),
            now,
            900
        ));
    }

    #[test]
    fn waits_are_never_negative() {
        let a: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let b: Timestamp = "2026-01-01T00:01:00Z".parse().unwrap();
        assert_eq!(until(a, b), Duration::from_secs(60));
        assert_eq!(until(b, a), Duration::ZERO);
    }
}
