//! The refinery as a long-running loop: what `gt refinery run`, `gt demo`, the daemon and the
//! tests all drive.
//!
//! A [`Runner`] owns its rig's store handle and the state a refinery learns across passes (the
//! trees it saw pass), takes the rig's refinery lock once and keeps it, recovers once before its
//! first pass, and turns a failed pass into a logged [`Step::Failed`] with a growing retry
//! delay instead of an exit. After a failure it recovers again before the next pass, exactly as
//! a restarted process would, so requests left `testing` by the failure go back to the queue.

use std::collections::BTreeSet;
use std::time::Duration;

use super::{PassReport, Refinery, RefineryError};
use crate::layout::Town;
use crate::rigctx::RigCtx;
use crate::service::Backoff;

/// The first retry delay after a failed pass; it doubles up to [`MAX_RETRY`].
pub const FIRST_RETRY: Duration = Duration::from_secs(5);
pub const MAX_RETRY: Duration = Duration::from_secs(300);

/// What one step of the runner did.
#[derive(Debug)]
pub enum Step {
    /// A pass ran and changed something (landed, failed, conflicted, requeued…): step again.
    Worked(PassReport),
    /// Nothing to do: the queue is empty or holds only requests of blocked beads.
    Idle,
    /// Nothing to do but wait on the forge: look again after this long (`forge_poll_secs`).
    Waiting(Duration),
    /// The queue is paused; why. `gt refinery resume` lifts it.
    Paused(String),
    /// Another process runs this rig's refinery.
    Elsewhere,
    /// The pass failed (logged); the runner recovers and tries again after `retry_in`.
    Failed {
        error: RefineryError,
        retry_in: Duration,
    },
}

/// One rig's refinery, run pass after pass.
pub struct Runner {
    town: Town,
    ctx: RigCtx,
    store: beads::Store,
    green: BTreeSet<String>,
    lock: Option<super::RefineryLock>,
    recovered: bool,
    retry: Backoff,
}

impl Runner {
    pub fn new(town: Town, ctx: RigCtx, store: beads::Store) -> Self {
        Self {
            town,
            ctx,
            store,
            green: BTreeSet::new(),
            lock: None,
            recovered: false,
            retry: Backoff::new(FIRST_RETRY, MAX_RETRY),
        }
    }

    pub fn rig(&self) -> &str {
        &self.ctx.name
    }

    /// Takes the rig's refinery lock now, failing with [`RefineryError::Busy`] if another
    /// process holds it (a foreground `gt refinery run` wants that answer at once).
    pub fn acquire(&mut self) -> Result<(), RefineryError> {
        if self.lock.is_none() {
            self.lock = Some(Refinery::lock(&self.town, &self.ctx.name)?);
        }
        Ok(())
    }

    /// One step: recover if needed, then one pass.
    pub fn step(&mut self) -> Step {
        match self.acquire() {
            Ok(()) => {}
            Err(RefineryError::Busy { .. }) => return Step::Elsewhere,
            Err(error) => return self.failed(error),
        }
        match self.try_step() {
            Ok(step) => {
                self.retry.reset();
                step
            }
            Err(error) => self.failed(error),
        }
    }

    fn try_step(&mut self) -> Result<Step, RefineryError> {
        let green = std::mem::take(&mut self.green);
        let mut refinery = Refinery::open(&self.town, &self.ctx, &mut self.store).with_green(green);
        let outcome = (|| {
            if !self.recovered {
                refinery.recover()?;
                self.recovered = true;
            }
            if let Some(reason) = refinery.paused()? {
                return Ok(Step::Paused(reason));
            }
            Ok(match refinery.pass()? {
                Some(report) if did_something(&report) => Step::Worked(report),
                Some(report) if !report.awaiting.is_empty() => Step::Waiting(Duration::from_secs(
                    self.ctx.settings.merge_queue.forge_poll_secs.max(1),
                )),
                _ => Step::Idle,
            })
        })();
        self.green = refinery.into_green();
        outcome
    }

    fn failed(&mut self, error: RefineryError) -> Step {
        let retry_in = self.retry.next_delay();
        tracing::warn!(rig = %self.ctx.name, %error, retry_in = ?retry_in, "refinery pass failed");
        // Whatever the failed pass left `testing` goes back to the queue first.
        self.recovered = false;
        Step::Failed { error, retry_in }
    }

    /// Steps until the queue is idle or paused; a failure ends it with the error.
    pub fn run_until_idle(&mut self) -> Result<Vec<PassReport>, RefineryError> {
        let mut reports = Vec::new();
        loop {
            match self.step() {
                Step::Worked(report) => {
                    let paused = report.paused.is_some();
                    reports.push(report);
                    if paused {
                        return Ok(reports);
                    }
                }
                Step::Idle | Step::Waiting(_) | Step::Paused(_) => return Ok(reports),
                Step::Elsewhere => {
                    return Err(RefineryError::Busy {
                        rig: self.ctx.name.clone(),
                    });
                }
                Step::Failed { error, .. } => return Err(error),
            }
        }
    }
}

/// Whether a pass changed anything; one that only found blocked requests did not.
fn did_something(r: &PassReport) -> bool {
    !(r.landed.is_empty()
        && r.failed.is_empty()
        && r.conflicted.is_empty()
        && r.rejected.is_empty()
        && r.opened.is_empty()
        && r.closed_prs.is_empty()
        && r.paused.is_none()
        && !r.remote_moved)
}
