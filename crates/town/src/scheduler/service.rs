//! The daemon's dispatcher: woken by store events (a polecat finishing, a bead landing and
//! unblocking the next wave, a new sling queued, a pause lifted), it releases rate-limit holds
//! whose window ended (nudging the sessions they paused, one `spawn_delay` apart), retires idle
//! polecats' sessions beyond a lowered cap, dispatches a round of the queue, and escalates a
//! convoy found stranded. Between rounds it sleeps until woken, until the next dispatch may
//! start (`scheduler.spawn_delay`), or until the soonest hold ends.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::layout::Town;
use crate::nudge::Priority;
use crate::nudge::queue::{Queue, QueuedNudge};
use crate::scheduler::{accounts, admission, convoy, dispatch};
use crate::service::{Next, Service, ServiceError};
use crate::witness::Starter;
use crate::work::sling::SlingContext;

pub struct SchedulerService {
    town: Town,
    store: beads::Store,
    starter: Starter,
    clock: Box<dyn host::clock::Clock>,
    /// Stranded convoys already escalated (by convoy and reason), so each is raised once.
    escalated: BTreeSet<(String, &'static str)>,
    /// Convoys found stranded at the last scan, and when that scan ran: a convoy is escalated
    /// only when two scans [`STRANDED_SCAN`] apart both find it (a sling between making its
    /// convoy and hooking its bead is not stranded).
    suspects: BTreeSet<(String, &'static str)>,
    scanned_at: Option<std::time::Instant>,
}

/// How often stranded convoys are looked for (upstream's interval).
const STRANDED_SCAN: Duration = Duration::from_secs(30);

impl SchedulerService {
    pub fn new(
        town: Town,
        store: beads::Store,
        starter: Starter,
        clock: Box<dyn host::clock::Clock>,
    ) -> Self {
        Self {
            town,
            store,
            starter,
            clock,
            escalated: BTreeSet::new(),
            suspects: BTreeSet::new(),
            scanned_at: None,
        }
    }

    /// Ends the holds whose window is over and nudges the working agents they paused.
    fn release_holds(&mut self, spawn_delay: Duration) -> Result<(), ServiceError> {
        let now = self.clock.now();
        let released = self
            .store
            .release_holds(None, &beads::store::format_ts(now))?;
        if released.is_empty() {
            return Ok(());
        }
        tracing::info!(accounts = ?released, "rate-limit windows ended; resuming");
        let mut delay = Duration::ZERO;
        for p in self.store.polecats(None)? {
            if p.state != beads::PolecatState::Working || p.session.is_empty() {
                continue;
            }
            let address = crate::work::identity::PolecatId::new(&p.rig, &p.name)
                .map(|id| id.address())
                .unwrap_or_default();
            let Some((provider, account)) = self.store.assigned_account(&address)? else {
                continue;
            };
            if !released.contains(&format!("{provider}/{account}")) {
                continue;
            }
            let mut nudge = QueuedNudge::new(
                "scheduler",
                &address,
                "Your provider's usage window has reset: continue your work where you stopped.",
                Priority::Normal,
                now,
            );
            nudge.deliver_after = Some(now + delay);
            delay += spawn_delay;
            if let Err(e) = Queue::new(&self.town, &p.session).and_then(|q| q.enqueue(&nudge, now))
            {
                tracing::warn!(polecat = %address, error = %e, "cannot queue the resume nudge");
            }
        }
        Ok(())
    }

    /// Stops idle polecats' sessions while more polecat sessions run than the cap allows.
    /// Working polecats are never touched: they finish, and the queue waits for them.
    fn retire_idle(&mut self, cap: i64) -> Result<(), ServiceError> {
        let polecats = self.store.polecats(None)?;
        let working = polecats
            .iter()
            .filter(|p| {
                matches!(
                    p.state,
                    beads::PolecatState::Spawning | beads::PolecatState::Working
                )
            })
            .count() as i64;
        let mut idle: Vec<&beads::Polecat> = polecats
            .iter()
            .filter(|p| p.state == beads::PolecatState::Idle && !p.session.is_empty())
            .collect();
        // Longest idle first.
        idle.sort_by(|a, b| a.updated_at.cmp(&b.updated_at));
        let mut live = working;
        let mut idle_live = Vec::new();
        for p in idle {
            if self
                .starter
                .runtimes
                .get(&p.runtime)
                .is_alive(&p.session, &[])
                .unwrap_or(false)
            {
                live += 1;
                idle_live.push(p);
            }
        }
        for p in idle_live {
            if live <= cap {
                break;
            }
            let Ok(_lock) = crate::work::admission_lock(&self.town, &p.rig) else {
                continue;
            };
            // Still the very row we judged: no sling took the polecat meanwhile.
            if self.store.polecat(&p.rig, &p.name)?.as_ref() != Some(p) {
                continue;
            }
            match self.starter.runtimes.get(&p.runtime).stop(&p.session) {
                Ok(()) => {
                    tracing::info!(rig = %p.rig, polecat = %p.name, cap, "retired an idle polecat's session (over the cap)");
                    live -= 1;
                }
                Err(e) => {
                    tracing::warn!(rig = %p.rig, polecat = %p.name, error = %e, "cannot retire an idle session");
                }
            }
        }
        Ok(())
    }

    /// Escalates each convoy stranded across two scans, once.
    fn check_stranded(&mut self) -> Result<(), ServiceError> {
        if self
            .scanned_at
            .is_some_and(|at| at.elapsed() < STRANDED_SCAN)
        {
            return Ok(());
        }
        self.scanned_at = Some(std::time::Instant::now());
        let stranded = convoy::stranded(&self.store)?;
        let now: BTreeSet<(String, &'static str)> = stranded
            .iter()
            .map(|s| (s.convoy.clone(), s.reason))
            .collect();
        let suspects = std::mem::replace(&mut self.suspects, now.clone());
        for s in stranded {
            let key = (s.convoy.clone(), s.reason);
            if self.escalated.contains(&key) || !suspects.contains(&key) {
                continue;
            }
            let what = match s.reason {
                "ready_unassigned" => "has ready work that nobody is on and nothing queued",
                _ => "has only blocked beads left and nothing running that could unblock them",
            };
            crate::escalation::raise_for_service(
                &self.town,
                &mut self.store,
                &crate::escalation::NewEscalation {
                    title: format!("Convoy {} is stranded", s.convoy),
                    description: format!(
                        "Convoy `{}` ({}) {what}: {}.\n\n`gt convoy stranded` lists it; `gt sling {} <rig>` queues its beads.",
                        s.convoy,
                        s.title,
                        s.beads.join(", "),
                        s.convoy
                    ),
                    severity: Some(crate::escalation::Severity::Medium),
                    source: Some("scheduler".into()),
                    from: "deacon/".into(),
                    related: std::iter::once(s.convoy.clone()).chain(s.beads).collect(),
                },
            )?;
        }
        // A convoy that moved again may strand again later, and is told again then.
        self.escalated = now.intersection(&suspects).cloned().collect();
        Ok(())
    }
}

impl Service for SchedulerService {
    fn step(&mut self) -> Result<Next, ServiceError> {
        if crate::daemon::held(&self.town) {
            return Ok(Next::Idle);
        }
        let settings = super::town_settings(&self.town)?;
        let spawn_delay = settings.scheduler.spawn_delay.0;
        self.release_holds(spawn_delay)?;
        self.check_stranded()?;
        if super::paused(&self.store)?.is_some() {
            return Ok(Next::Idle);
        }
        if let admission::Mode::Deferred(cap) = admission::Mode::of(&settings.scheduler) {
            self.retire_idle(cap)?;
        }
        let cx = SlingContext {
            town: &self.town,
            runtimes: &self.starter.runtimes,
            gt_bin: self.starter.gt_bin.clone(),
            inherited_env: self.starter.inherited_env.clone(),
            ready_timeout: self.starter.ready_timeout,
            env: Some(&crate::rigctx::process_env),
        };
        let now = self.clock.now();
        let batch = settings.scheduler.batch_size.max(1) as usize;
        let round = dispatch::run_round(&mut self.store, &cx, &settings, now, batch)?;
        if !round.dispatched.is_empty() || !round.failed.is_empty() {
            tracing::info!(dispatched = ?round.dispatched, failed = round.failed.len(), waiting = round.waiting, "scheduler round");
        }
        if round.busy {
            return Ok(Next::After(Duration::from_secs(1)));
        }
        if round.waiting > round.held && !round.full && !round.dispatched.is_empty() {
            return Ok(Next::After(spawn_delay));
        }
        // Wake when the soonest hold ends (its release resumes dispatch).
        let soonest = self
            .store
            .holds()?
            .iter()
            .filter(|h| accounts::holds(h, now))
            .filter_map(|h| h.until.parse::<jiff::Timestamp>().ok())
            .min();
        Ok(match soonest {
            Some(until) => Next::After(
                Duration::try_from(until.duration_since(now))
                    .unwrap_or_default()
                    .max(Duration::from_millis(100)),
            ),
            None => Next::Idle,
        })
    }
}
