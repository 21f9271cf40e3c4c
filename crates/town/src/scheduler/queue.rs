//! The queue's order: which waiting slings go next.
//!
//! A context can go when its bead is open and unblocked (a convoy's later waves wait behind
//! their blockers in the queue). Lower priority numbers go first; a context that has waited
//! moves up one level per `scheduler.aging_secs`, so a low-priority bead is not starved by a
//! stream of urgent ones; ties go in queueing order.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::work::sling::SlingOptions;

/// A sling's options as its queued context keeps them (`sling_contexts.options`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct QueuedOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_branch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub formula: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vars: Vec<(String, String)>,
    /// The convoy tracking the bead (already made when it was queued).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub convoy: Option<String>,
}

impl QueuedOptions {
    pub fn of(opts: &SlingOptions, convoy: Option<&str>) -> Self {
        Self {
            agent: opts.agent.clone(),
            base_branch: opts.base_branch.clone(),
            formula: opts.formula.clone(),
            vars: opts.vars.clone(),
            convoy: convoy.map(str::to_owned),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The options the dispatcher slings with: the convoy exists already, and the dispatch
    /// itself never queues.
    pub fn sling_options(&self) -> SlingOptions {
        SlingOptions {
            agent: self.agent.clone(),
            base_branch: self.base_branch.clone(),
            formula: self.formula.clone(),
            vars: self.vars.clone(),
            no_convoy: true,
            starter: crate::scheduler::admission::Starter::Dispatcher,
            ..SlingOptions::default()
        }
    }
}

/// Whether a queued context's bead can start now.
pub fn ready(c: &beads::ScheduledSling) -> bool {
    c.state == "queued" && !c.blocked && c.bead_status == "open"
}

/// Whether a queued context can never start: its bead closed, went away, or was started by
/// someone else meanwhile.
pub fn gone(c: &beads::ScheduledSling) -> Option<&'static str> {
    match c.bead_status.as_str() {
        "closed" | "tombstone" | "submitted" => Some("its bead is closed"),
        "missing" => Some("its bead is gone"),
        "hooked" | "in_progress" => Some("its bead was started elsewhere"),
        _ => None,
    }
}

/// The priority a context competes with after waiting `waited`.
pub fn effective_priority(priority: i64, waited: Duration, aging: Duration) -> i64 {
    if aging.is_zero() {
        return priority;
    }
    let levels = (waited.as_secs() / aging.as_secs().max(1)) as i64;
    priority - levels
}

/// The ready contexts in dispatch order.
pub fn order(
    contexts: &[beads::ScheduledSling],
    now: jiff::Timestamp,
    aging: Duration,
) -> Vec<&beads::ScheduledSling> {
    let waited = |c: &beads::ScheduledSling| {
        c.enqueued_at
            .parse::<jiff::Timestamp>()
            .ok()
            .and_then(|t| Duration::try_from(now.duration_since(t)).ok())
            .unwrap_or_default()
    };
    let mut ready: Vec<_> = contexts.iter().filter(|c| ready(c)).collect();
    ready.sort_by_key(|c| (effective_priority(c.priority, waited(c), aging), c.id));
    ready
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(id: i64, priority: i64, enqueued_at: &str) -> beads::ScheduledSling {
        beads::ScheduledSling {
            id,
            bead_id: format!("gt-{id}"),
            rig: "gastown".into(),
            priority,
            options: "{}".into(),
            state: "queued".into(),
            failures: 0,
            last_failure: String::new(),
            enqueued_at: enqueued_at.into(),
            updated_at: enqueued_at.into(),
            blocked: false,
            bead_status: "open".into(),
        }
    }

    #[test]
    fn urgent_first_then_queue_order_and_blocked_beads_wait() {
        let t = "2026-01-01T00:00:00Z";
        let mut blocked = context(4, 0, t);
        blocked.blocked = true;
        let contexts = vec![
            context(1, 3, t),
            context(2, 1, t),
            context(3, 1, t),
            blocked,
        ];
        let now: jiff::Timestamp = t.parse().unwrap();
        let ids: Vec<i64> = order(&contexts, now, Duration::from_secs(600))
            .iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(ids, [2, 3, 1]);
    }

    #[test]
    fn a_waiting_bead_ages_past_newer_urgent_ones() {
        let old = context(1, 3, "2026-01-01T00:00:00Z");
        let new = context(2, 1, "2026-01-01T00:29:00Z");
        let now: jiff::Timestamp = "2026-01-01T00:30:00Z".parse().unwrap();
        // 30 minutes at one level per 10: priority 3 competes as 0.
        let ids: Vec<i64> = order(&[old, new], now, Duration::from_secs(600))
            .iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(ids, [1, 2]);
    }

    #[test]
    fn options_round_trip_and_dispatch_never_queues() {
        let opts = SlingOptions {
            agent: Some("codex".into()),
            vars: vec![("k".into(), "v".into())],
            ..SlingOptions::default()
        };
        let q = QueuedOptions::of(&opts, Some("hq-cv-1"));
        let back = QueuedOptions::from_json(&q.to_json()).unwrap();
        assert_eq!(back, q);
        let s = back.sling_options();
        assert_eq!(s.agent.as_deref(), Some("codex"));
        assert!(s.no_convoy);
        assert_eq!(s.starter, crate::scheduler::admission::Starter::Dispatcher);
    }
}
