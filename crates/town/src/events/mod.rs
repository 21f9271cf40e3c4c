//! The town's event stream: every state transition, typed.
//!
//! The store's `events` table is the stream: bead changes, polecat and merge-request
//! transitions, role and session records are written by the writes that make them, and the
//! town's other happenings (a sling, a session spawned, nudges, mail, handoffs, the daemon,
//! escalations, witness restarts) by small typed writers (`beads::Happening`). This module
//! reads that table as [`TownEvent`]s ([`after`] a cursor, the [`latest`] few) and
//! [`Watcher`] waits for new ones without polling. `gt events`, `gt status --watch`, the
//! feed and the dashboard read it.

mod kind;
mod map;
mod watch;

use serde::Serialize;

pub use kind::EventKind;
pub use watch::Watcher;

/// One transition, as `gt events --json` prints it (one object per line).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TownEvent {
    /// The store's event id: the cursor (`--since`).
    pub id: i64,
    /// When it was recorded (RFC 3339).
    pub at: String,
    /// Who made it (the writer's `GT_ROLE` address, `BD_ACTOR` or the user).
    pub actor: String,
    pub kind: EventKind,
    pub rig: Option<String>,
    pub bead: Option<String>,
    /// One line a person reads, control characters escaped.
    pub summary: String,
    /// The rest: a happening's detail, or the row's raw values.
    pub payload: serde_json::Value,
}

/// Events after `cursor`, oldest first, at most `limit`.
pub fn after(
    store: &beads::Store,
    cursor: i64,
    limit: usize,
) -> Result<Vec<TownEvent>, beads::Error> {
    let routes = map::Routes::of(store)?;
    Ok(store
        .events_after(cursor, limit)?
        .into_iter()
        .map(|e| map::map(e, &routes))
        .collect())
}

/// The newest `n`, oldest first.
pub fn latest(store: &beads::Store, n: usize) -> Result<Vec<TownEvent>, beads::Error> {
    let routes = map::Routes::of(store)?;
    Ok(store
        .events_latest(n)?
        .into_iter()
        .map(|e| map::map(e, &routes))
        .collect())
}

/// Records one happening about `subject`. A failure is logged, never returned: the transition
/// it describes has already happened, and the stream missing a line must not undo it.
pub fn emit(
    store: &mut beads::Store,
    kind: beads::Happening,
    subject: &str,
    detail: &serde_json::Value,
) {
    if let Err(e) = store.record_happening(kind, subject, detail) {
        tracing::warn!(error = %e, kind = kind.as_str(), subject, "event not recorded");
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::layout::Town;

    fn ctx() -> beads::Context {
        beads::Context {
            actor: "test".into(),
            clock: Box::new(host::clock::FixedClock(
                "2026-01-01T00:00:00Z".parse().unwrap(),
            )),
        }
    }

    fn town(dir: &std::path::Path) -> Town {
        crate::install::test_town(dir, ctx())
    }

    fn open(town: &Town) -> beads::Store {
        beads::Store::open(&town.beads_dir(), ctx()).unwrap()
    }

    fn daemon(store: &mut beads::Store, kind: beads::Happening, pid: u32) {
        store
            .record_happening(
                kind,
                beads::ops::happenings::DAEMON_KEY,
                &serde_json::json!({ "pid": pid }),
            )
            .unwrap();
    }

    #[test]
    fn after_and_latest_read_the_stream_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let town = town(dir.path());
        let mut store = open(&town);
        let start = store.last_event_id().unwrap();
        daemon(&mut store, beads::Happening::DaemonStarted, 1);
        daemon(&mut store, beads::Happening::DaemonStopped, 1);
        daemon(&mut store, beads::Happening::DaemonStarted, 2);
        let all = after(&store, start, 10).unwrap();
        let kinds: Vec<_> = all.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                EventKind::DaemonStarted,
                EventKind::DaemonStopped,
                EventKind::DaemonStarted
            ]
        );
        assert_eq!(after(&store, start, 2).unwrap(), all[..2]);
        assert_eq!(after(&store, all[0].id, 10).unwrap(), all[1..]);
        assert_eq!(latest(&store, 2).unwrap(), all[1..]);
        assert_eq!(all[2].summary, "daemon started (pid 2)");
        assert!(after(&store, all[2].id, 10).unwrap().is_empty());
    }

    #[test]
    fn a_happening_needs_a_subject_and_an_object() {
        let dir = tempfile::tempdir().unwrap();
        let town = town(dir.path());
        let mut store = open(&town);
        let before = store.last_event_id().unwrap();
        let e = store
            .record_happening(beads::Happening::Handoff, "a\nb", &serde_json::json!({}))
            .unwrap_err();
        assert!(e.to_string().contains("subject"), "{e}");
        let e = store
            .record_happening(beads::Happening::Handoff, "x", &serde_json::json!([1]))
            .unwrap_err();
        assert!(e.to_string().contains("JSON object"), "{e}");
        assert_eq!(
            store.last_event_id().unwrap(),
            before,
            "nothing was written"
        );
    }

    #[test]
    fn the_watcher_wakes_on_a_commit_and_sleeps_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let town = town(dir.path());
        let reader = open(&town);
        let mut watcher = Watcher::new(&town).unwrap();
        // Opening a store may create its WAL: let that settle.
        watcher.wait(Duration::from_millis(100));
        assert!(
            !watcher.wait(Duration::from_millis(300)),
            "woke with nothing written"
        );
        let cursor = reader.last_event_id().unwrap();
        let writer_town = town.clone();
        std::thread::spawn(move || {
            let mut writer = open(&writer_town);
            daemon(&mut writer, beads::Happening::DaemonStarted, 9);
        })
        .join()
        .unwrap();
        assert!(
            watcher.wait(Duration::from_secs(5)),
            "a commit did not wake it"
        );
        assert_eq!(after(&reader, cursor, 10).unwrap().len(), 1);
    }

    #[test]
    fn a_town_without_a_store_cannot_be_watched() {
        let dir = tempfile::tempdir().unwrap();
        let e = Watcher::new(&Town::at(dir.path().join("none"))).unwrap_err();
        assert!(e.to_string().contains(".beads"), "{e}");
    }
}
