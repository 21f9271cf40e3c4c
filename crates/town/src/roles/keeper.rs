//! The daemon's keeper: restarts the mayor and crew members whose humans want them running
//! when their agents die.
//!
//! While no long-lived agent is wanted it sleeps until woken; otherwise it looks every
//! `daemon.liveness_secs` (reading the recorded pid and the session, no pane capture). A dead
//! agent is started again through [`super::start`] (the same lock and path as `gt mayor
//! start`), continuing its conversation where the CLI can. An agent that dies again and again
//! is given up on: after [`MAX_RESTARTS`] restarts without a healthy run it is escalated once
//! and left for its human (`gt mayor restart`, `gt crew restart`), who resets the count. A
//! restart refused by the admission point (every account of its provider rate-limited) is
//! deferred, not counted: it is tried again each look until the window resets.
//!
//! Each look also passes the agent through the rate-limit check the witness uses for polecats
//! ([`crate::scheduler::watch`]): a limit in its pane (a capture per look of a running agent)
//! or a rate-limit exit status records a hold on the account it runs as, so the mayor or a
//! crew member hitting its limit pauses its provider account like a polecat does, and its
//! restart waits for the window (or rotates to a free account). A running one is left to its
//! human: only its dead session is restarted.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use beads::{Desired, RoleAgent};

use super::{RoleId, StartOptions};
use crate::address::Address;
use crate::layout::Town;
use crate::service::{Next, Service, ServiceError};
use crate::witness::Starter;

/// Restarts without a healthy run before the keeper gives up on an agent.
pub const MAX_RESTARTS: i64 = 5;
/// How long an agent must run for its restart count to start over.
const HEALTHY_AFTER: Duration = Duration::from_secs(600);
/// The wait before the next restart of an agent restarted `n` times already: 2 s, 4 s, 8 s, …
/// capped at a minute, so a crash loop costs little while it lasts.
fn backoff(restarts: i64) -> Duration {
    let exp = u32::try_from(restarts.clamp(0, 5)).unwrap_or(5);
    Duration::from_secs(2u64.pow(exp)).min(Duration::from_secs(60))
}

/// The keeper service.
pub struct Keeper {
    town: Town,
    store: beads::Store,
    starter: Starter,
    clock: Box<dyn host::clock::Clock>,
    /// Agents given up on and escalated, by address and generation (escalated once each).
    given_up: HashSet<(String, i64)>,
    /// When each dead agent was first seen dead, for the backoff.
    dead_since: HashMap<String, jiff::Timestamp>,
    /// The rate-limit check, which remembers the limit last recorded per agent.
    limits: crate::scheduler::watch::Watcher,
}

impl Keeper {
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
            given_up: HashSet::new(),
            dead_since: HashMap::new(),
            limits: crate::scheduler::watch::Watcher::default(),
        }
    }

    fn liveness(&self) -> Duration {
        let secs = crate::settings::resolve(&crate::settings::Sources {
            town: Some(&self.town.settings_json()),
            rig: None,
            env: Some(&crate::rigctx::process_env),
            flags: &[],
        })
        .map(|e| e.settings.daemon.liveness_secs)
        .unwrap_or(2);
        Duration::from_secs(secs.max(1))
    }

    /// Looks at one wanted agent: fine, restarted, waiting out its backoff, or given up on.
    /// Returns how soon it wants another look.
    /// `window`: how long a limit that gives no reset time holds (`scheduler.rate_limit_window`).
    fn keep(
        &mut self,
        row: &RoleAgent,
        window: Duration,
    ) -> Result<Option<Duration>, ServiceError> {
        let now = self.clock.now();
        let alive = super::live_pid(&self.town, &self.starter.runtimes, row)?.is_some();
        self.watch_limit(row, alive, now, window)?;
        if alive {
            self.dead_since.remove(&row.address);
            let healthy = row
                .started_at
                .as_deref()
                .and_then(|s| s.parse::<jiff::Timestamp>().ok())
                .is_some_and(|at| now.duration_since(at).unsigned_abs() >= HEALTHY_AFTER);
            if healthy && row.restarts > 0 {
                self.store.reset_role_restarts(&row.address)?;
            }
            return Ok(None);
        }
        if row.restarts >= MAX_RESTARTS {
            self.give_up(row)?;
            return Ok(None);
        }
        let since = *self.dead_since.entry(row.address.clone()).or_insert(now);
        let waited = now.duration_since(since).unsigned_abs();
        // The first restart is at once; a crash loop backs off.
        let wait = if row.restarts == 0 {
            Duration::ZERO
        } else {
            backoff(row.restarts)
        };
        if waited < wait {
            return Ok(Some(wait - waited));
        }
        let role = RoleId::from_address(&Address::parse(&row.address)?)?;
        let cx = self.starter.sling_context(&self.town);
        self.dead_since.remove(&row.address);
        match super::start(
            &mut self.store,
            &cx,
            &role,
            &StartOptions {
                agent: None,
                by_keeper: true,
            },
        ) {
            Ok(started) if started.already_running => Ok(None),
            Ok(started) => {
                tracing::info!(address = %row.address, generation = started.generation, "started");
                Ok(None)
            }
            // Held back by a rate limit: not a failed restart; tried again each look until the
            // window resets, as soon as it does (its wait so far still counts).
            Err(crate::work::WorkError::RateLimited(why)) => {
                tracing::debug!(address = %row.address, %why, "restart deferred");
                self.dead_since.insert(row.address.clone(), since);
                Ok(None)
            }
            Err(e) => {
                tracing::warn!(address = %row.address, error = %e, "restart failed");
                Ok(Some(backoff(row.restarts.max(1))))
            }
        }
    }

    /// Records a rate limit the agent of `row` shows, in its pane or (dead) by its exit
    /// status, as a hold on its account, before any restart chooses the account to run as.
    fn watch_limit(
        &mut self,
        row: &RoleAgent,
        alive: bool,
        now: jiff::Timestamp,
        window: Duration,
    ) -> Result<(), ServiceError> {
        if row.runtime.is_empty() {
            return Ok(());
        }
        let runtime = self.starter.runtimes.get(&row.runtime);
        let exit_status = if alive {
            None
        } else {
            runtime.exit_status(&row.session).ok().flatten()
        };
        if !alive && exit_status.is_none() {
            return Ok(());
        }
        let Some(preset) = super::preset_of(&self.town, &row.agent) else {
            return Ok(());
        };
        let screen = runtime.capture(&row.session).unwrap_or_default();
        let look = crate::scheduler::watch::Look {
            address: &row.address,
            generation: row.generation,
            screen: &screen,
            exit_status,
        };
        self.limits
            .look(&mut self.store, &preset, &look, now, window)?;
        Ok(())
    }

    /// Escalates an agent the keeper stopped restarting, once per generation.
    fn give_up(&mut self, row: &RoleAgent) -> Result<(), ServiceError> {
        if !self.given_up.insert((row.address.clone(), row.generation)) {
            return Ok(());
        }
        let last = if row.last_error.is_empty() {
            "it exited each time".to_owned()
        } else {
            row.last_error.clone()
        };
        crate::escalation::raise_for_service(
            &self.town,
            &mut self.store,
            &crate::escalation::NewEscalation {
                title: format!(
                    "{} keeps dying: not restarted after {} tries",
                    row.address, row.restarts
                ),
                description: format!(
                    "The daemon restarted {} {} times without a healthy run and stopped trying. Last: {last}\nStart it again by hand once fixed: `gt {} restart`.",
                    row.address,
                    row.restarts,
                    if row.role == beads::RoleKind::Mayor {
                        "mayor"
                    } else {
                        "crew"
                    }
                ),
                severity: Some(crate::escalation::Severity::High),
                source: Some("daemon:keeper".to_owned()),
                from: "deacon/".to_owned(),
                related: Vec::new(),
            },
        )?;
        Ok(())
    }
}

impl Service for Keeper {
    fn step(&mut self) -> Result<Next, ServiceError> {
        if crate::daemon::held(&self.town) {
            self.dead_since.clear();
            return Ok(Next::Idle);
        }
        let wanted: Vec<RoleAgent> = self
            .store
            .role_agents()?
            .into_iter()
            .filter(|r| r.desired == Desired::Running)
            .collect();
        self.limits
            .retain(|address| wanted.iter().any(|r| r.address == address));
        if wanted.is_empty() {
            return Ok(Next::Idle);
        }
        let mut next = self.liveness();
        let window = crate::scheduler::town_settings(&self.town)
            .map_or(crate::scheduler::ratelimit::DEFAULT_WINDOW, |s| {
                s.scheduler.rate_limit_window.0
            });
        for row in &wanted {
            if let Some(soon) = self.keep(row, window)? {
                next = next.min(soon);
            }
        }
        Ok(Next::After(next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restarts_back_off_to_a_minute() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(9), Duration::from_secs(32));
    }
}
