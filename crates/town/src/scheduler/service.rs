//! The daemon's dispatcher: woken by store events (a polecat finishing, a bead landing and
//! unblocking the next wave, a new sling queued, a pause lifted), it releases rate-limit holds
//! whose window ended (nudging the sessions they paused, one `spawn_delay` apart), retires idle
//! polecats' sessions beyond a lowered cap, dispatches a round of the queue, and escalates a
//! convoy found stranded (`stranded`, whose memory is in the store). Between rounds it sleeps
//! until woken, until the next dispatch may start (`scheduler.spawn_delay`), or until the
//! soonest hold ends.

use std::time::Duration;

use crate::layout::Town;
use crate::nudge::Priority;
use crate::nudge::queue::{Queue, QueuedNudge};
use crate::scheduler::{accounts, admission, dispatch, stranded};
use crate::service::{Next, Service, ServiceError};
use crate::witness::Starter;

pub struct SchedulerService {
    town: Town,
    store: beads::Store,
    starter: Starter,
    clock: Box<dyn host::clock::Clock>,
    /// When this run looks for stranded convoys next (what it found is in the store).
    next_scan: Option<jiff::Timestamp>,
    /// When the soonest untold stranded convoy falls due, as the last scan found.
    suspect_due: Option<jiff::Timestamp>,
}

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
            next_scan: None,
            suspect_due: None,
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

    /// Looks for stranded convoys when a scan is due (every [`stranded::SCAN_EVERY`], and as
    /// soon as a suspect has been stranded that long); returns how soon a suspect falls due,
    /// the wake it needs to be told on time.
    fn watch_stranded(&mut self) -> Result<Option<Duration>, ServiceError> {
        let now = self.clock.now();
        // Due, or the clock went back past the last scan.
        let due = self
            .next_scan
            .is_none_or(|at| now >= at || at > now + stranded::SCAN_EVERY);
        if due {
            let scan = stranded::check(&self.town, &mut self.store, now)?;
            let regular = now + stranded::SCAN_EVERY;
            self.next_scan = Some(scan.due.map_or(regular, |d| d.min(regular)));
            self.suspect_due = scan.due;
        }
        Ok(self.suspect_due.and(self.next_scan).map(|at| {
            Duration::try_from(at.duration_since(now))
                .unwrap_or_default()
                .max(Duration::from_millis(100))
        }))
    }

    /// Releases ended holds, retires idle sessions over the cap and dispatches a round;
    /// returns when it wants the next step.
    fn dispatch(&mut self) -> Result<Next, ServiceError> {
        let settings = super::town_settings(&self.town)?;
        let spawn_delay = settings.scheduler.spawn_delay.0;
        self.release_holds(spawn_delay)?;
        if super::paused(&self.store)?.is_some() {
            return Ok(Next::Idle);
        }
        if let admission::Mode::Deferred(cap) = admission::Mode::of(&settings.scheduler) {
            self.retire_idle(cap)?;
        }
        let cx = self.starter.sling_context(&self.town);
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

impl Service for SchedulerService {
    fn step(&mut self) -> Result<Next, ServiceError> {
        if crate::daemon::held(&self.town) {
            return Ok(Next::Idle);
        }
        let stranded = self.watch_stranded()?;
        let next = self.dispatch()?;
        Ok(match (next, stranded) {
            (next, None) | (next @ Next::Busy, _) => next,
            (Next::Idle, Some(soon)) => Next::After(soon),
            (Next::After(after), Some(soon)) => Next::After(after.min(soon)),
        })
    }
}
