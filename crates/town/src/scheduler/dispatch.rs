//! One dispatch round: start queued slings while there is room, best first.
//!
//! A round runs under the town's scheduler lock, so the daemon's service and a `gt scheduler
//! run` never dispatch at once; each context ends (dispatched, cleared, circuit-broken) by a
//! compare-and-set, so even a dispatcher that raced one still ends it once. A context whose
//! dispatch fails counts the failure; at [`MAX_DISPATCH_FAILURES`] it is circuit-broken and
//! escalated.

use beads::{CapScope, ContextEnd};
use serde::Serialize;

use crate::layout::Town;
use crate::scheduler::queue::{self, QueuedOptions};
use crate::settings::Settings;
use crate::work::sling::{self, SlingContext};
use crate::work::{Result, WorkError};

/// After this many failed dispatches a queued sling is circuit-broken.
pub const MAX_DISPATCH_FAILURES: i64 = 3;

/// What a round did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Round {
    /// Beads started.
    pub dispatched: Vec<String>,
    /// Beads whose dispatch failed this round, with why.
    pub failed: Vec<(String, String)>,
    /// Beads circuit-broken this round (escalated).
    pub broken: Vec<String>,
    /// Beads taken out of the queue because they can never start.
    pub cleared: Vec<String>,
    /// Ready beads still waiting after the round.
    pub waiting: usize,
    /// The round stopped at a cap.
    pub full: bool,
    /// Another dispatcher holds the scheduler lock.
    pub busy: bool,
    /// Ready beads that wait for a rate-limited account.
    pub held: usize,
}

/// Dispatches up to `limit` queued slings.
pub fn run_round(
    store: &mut beads::Store,
    cx: &SlingContext<'_>,
    settings: &Settings,
    now: jiff::Timestamp,
    limit: usize,
) -> Result<Round> {
    let mut round = Round::default();
    let _lock = match crate::work::lock(cx.town, "scheduler.lock", || "the scheduler".into()) {
        Ok(lock) => lock,
        Err(WorkError::Busy { .. }) => {
            round.busy = true;
            return Ok(round);
        }
        Err(e) => return Err(e),
    };
    let contexts = store.sling_contexts(false)?;
    for c in &contexts {
        if let Some(why) = queue::gone(c)
            && store.end_context(c.id, ContextEnd::Cleared, why)?
        {
            round.cleared.push(c.bead_id.clone());
        }
    }
    let aging = std::time::Duration::from_secs(settings.scheduler.aging_secs);
    let ordered = queue::order(&contexts, now, aging);
    let mut full_rigs: Vec<&str> = Vec::new();
    for c in &ordered {
        if round.full || round.dispatched.len() >= limit || full_rigs.contains(&c.rig.as_str()) {
            round.waiting += 1;
            continue;
        }
        let options = match QueuedOptions::from_json(&c.options) {
            Ok(o) => o,
            Err(e) => {
                fail(
                    store,
                    cx.town,
                    &mut round,
                    c,
                    &format!("its options are unreadable: {e}"),
                )?;
                continue;
            }
        };
        if crate::scheduler::ratelimit::held_for(
            store,
            cx.town,
            settings,
            options.agent.as_deref(),
            now,
        )?
        .is_some()
        {
            round.held += 1;
            round.waiting += 1;
            continue;
        }
        let outcome = sling::sling(
            store,
            cx,
            std::slice::from_ref(&c.bead_id),
            &c.rig,
            &options.sling_options(),
        )
        .and_then(|report| match report.into_error() {
            None => Ok(()),
            Some(e) => Err(e),
        });
        match outcome {
            Ok(()) => {
                store.end_context(c.id, ContextEnd::Dispatched, "")?;
                round.dispatched.push(c.bead_id.clone());
            }
            Err(WorkError::Full(full)) => {
                round.waiting += 1;
                match full.scope {
                    CapScope::Town => round.full = true,
                    CapScope::Rig => full_rigs.push(&c.rig),
                }
            }
            Err(WorkError::Busy { .. }) => round.waiting += 1,
            Err(e) => fail(store, cx.town, &mut round, c, &e.to_string())?,
        }
    }
    Ok(round)
}

/// Counts a failed dispatch; at the limit the context is circuit-broken and escalated.
fn fail(
    store: &mut beads::Store,
    town: &Town,
    round: &mut Round,
    c: &beads::ScheduledSling,
    why: &str,
) -> Result<()> {
    tracing::warn!(bead = %c.bead_id, error = %why, "dispatch failed");
    round.failed.push((c.bead_id.clone(), why.to_owned()));
    if let Some(failures) = store.context_failed(c.id, why, MAX_DISPATCH_FAILURES)?
        && failures >= MAX_DISPATCH_FAILURES
    {
        round.broken.push(c.bead_id.clone());
        crate::escalation::raise_for_service(
            town,
            store,
            &crate::escalation::NewEscalation {
                title: format!("Dispatch of {} keeps failing", c.bead_id),
                description: format!(
                    "The scheduler tried to start `{}` in rig `{}` {failures} times and stopped (circuit-broken).\n\nLast failure: {why}\n\nFix the cause, then `gt sling {} {}` again.",
                    c.bead_id, c.rig, c.bead_id, c.rig
                ),
                severity: Some(crate::escalation::Severity::High),
                source: Some("scheduler".into()),
                from: "deacon/".into(),
                related: vec![c.bead_id.clone()],
            },
        )?;
    }
    Ok(())
}
