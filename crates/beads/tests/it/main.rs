//! Integration tests for the beads store: readiness, ids, claims, mutations and JSONL.
//!
//! Every scenario ends with [`assert_no_drift`]: the SQL-maintained `is_blocked` flags must
//! equal the from-scratch recompute, and the trigger-kept relation summaries and issue counts
//! a recount.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test by panicking"
)]

mod backup;
mod claim;
mod costs;
mod formula;
mod ids;
mod jsonl;
mod mutations;
mod readiness;
mod scheduler;
mod work;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use beads::{Context, Filter, NewIssue, Store};
use host::clock::{Clock, FixedClock};
use jiff::{SignedDuration, Timestamp};
use tempfile::TempDir;

/// The instant every test starts at.
pub const START: &str = "2026-01-15T12:00:00Z";

pub fn start() -> Timestamp {
    START.parse().unwrap()
}

/// A clock the test can move forward; clones share the same time.
#[derive(Debug, Clone)]
pub struct StepClock(Arc<AtomicI64>);

impl Default for StepClock {
    fn default() -> Self {
        Self(Arc::new(AtomicI64::new(start().as_second())))
    }
}

impl StepClock {
    /// Moves the clock forward.
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for StepClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_second(self.0.load(Ordering::SeqCst)).unwrap()
    }
}

/// A fresh store in a temp dir, with actor `alice` on a fixed clock.
pub fn fresh() -> (TempDir, Store) {
    let dir = TempDir::new().unwrap();
    let ctx = Context {
        actor: "alice".into(),
        clock: Box::new(FixedClock(start())),
    };
    let store = Store::init(&dir.path().join(".beads"), "bd", ctx).unwrap();
    (dir, store)
}

/// A fresh store whose clock the test controls.
pub fn stepped() -> (TempDir, Store, StepClock) {
    let dir = TempDir::new().unwrap();
    let clock = StepClock::default();
    let ctx = Context {
        actor: "alice".into(),
        clock: Box::new(clock.clone()),
    };
    let store = Store::init(&dir.path().join(".beads"), "bd", ctx).unwrap();
    (dir, store, clock)
}

/// A second connection to the same store, acting as `actor`.
pub fn open_as(dir: &TempDir, actor: &str) -> Store {
    let ctx = Context {
        actor: actor.into(),
        clock: Box::new(FixedClock(start())),
    };
    Store::open(&dir.path().join(".beads"), ctx).unwrap()
}

/// An instant relative to [`START`], in the stored form.
pub fn at(offset_hours: i64) -> String {
    beads::store::format_ts(
        start()
            .checked_add(SignedDuration::from_hours(offset_hours))
            .unwrap(),
    )
}

/// Creates an issue and returns its id.
pub fn create(store: &mut Store, new: NewIssue) -> String {
    store.create(new).unwrap().id
}

/// Creates a task with `title` and returns its id.
pub fn task(store: &mut Store, title: &str) -> String {
    create(
        store,
        NewIssue {
            title: title.into(),
            ..NewIssue::default()
        },
    )
}

/// Creates an issue of `issue_type` with `title` and returns its id.
pub fn typed(store: &mut Store, title: &str, issue_type: &str) -> String {
    create(
        store,
        NewIssue {
            title: title.into(),
            issue_type: Some(issue_type.into()),
            ..NewIssue::default()
        },
    )
}

/// Creates a child of `parent` and returns its id.
pub fn child(store: &mut Store, parent: &str, title: &str) -> String {
    create(
        store,
        NewIssue {
            title: title.into(),
            parent: Some(parent.into()),
            ..NewIssue::default()
        },
    )
}

/// Ids `ready` returns with `filter`, in order.
pub fn ready_with(store: &Store, filter: &Filter) -> Vec<String> {
    store
        .ready(filter)
        .unwrap()
        .into_iter()
        .map(|v| v.issue.id)
        .collect()
}

/// Ids `ready` returns by default, in order.
pub fn ready(store: &Store) -> Vec<String> {
    ready_with(store, &Filter::default())
}

/// Whether `id` is currently in the default `ready` set.
pub fn is_ready(store: &Store, id: &str) -> bool {
    ready(store).iter().any(|r| r == id)
}

/// The stored `is_blocked` flag.
pub fn is_blocked(store: &Store, id: &str) -> bool {
    store.show(id).unwrap().is_blocked
}

/// The invariants: stored flags equal the from-scratch recompute, and the labels and counts
/// kept on each row equal a recount.
#[track_caller]
pub fn assert_no_drift(store: &Store) {
    let drift = store.blocked_drift().unwrap();
    assert!(
        drift.is_empty(),
        "is_blocked drifted from the recompute: {drift:?}"
    );
    let stale = store.stale_summaries().unwrap();
    assert!(stale.is_empty(), "stale relation summaries: {stale:?}");
    let stale = store.stale_issue_counts().unwrap();
    assert!(stale.is_empty(), "stale kept issue counts: {stale:?}");
}

/// One integer from a read-only SQL query.
pub fn count(store: &mut Store, sql: &str) -> i64 {
    let out = store.sql(sql).unwrap();
    out.rows[0][0].as_i64().unwrap()
}
