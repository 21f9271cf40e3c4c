//! Stand-in for the `events` branch's `town::events` (issue 16's contract), so `web` builds
//! before that branch lands; merging `events` replaces this file whole.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::layout::Town;

#[derive(Debug, Clone, Serialize)]
pub struct TownEvent {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub kind: EventKind,
    pub rig: Option<String>,
    pub bead: Option<String>,
    pub summary: String,
    pub payload: serde_json::Value,
}

#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum EventKind {
    Stored(String),
}

fn convert(e: beads::model::Event) -> TownEvent {
    TownEvent {
        id: e.id,
        at: e.created_at,
        actor: e.actor,
        summary: format!("{} {}", e.event_type, e.comment.unwrap_or_default()),
        kind: EventKind::Stored(e.event_type),
        rig: None,
        bead: Some(e.issue_id),
        payload: serde_json::Value::Null,
    }
}

pub fn after(
    store: &beads::Store,
    cursor: i64,
    limit: usize,
) -> Result<Vec<TownEvent>, beads::Error> {
    Ok(store
        .events_after(cursor, limit)?
        .into_iter()
        .map(convert)
        .collect())
}

pub fn latest(store: &beads::Store, n: usize) -> Result<Vec<TownEvent>, beads::Error> {
    let last = store.last_event_id()?;
    let start = last.saturating_sub(i64::try_from(n).unwrap_or(i64::MAX));
    after(store, start, n)
}

#[derive(Debug, thiserror::Error)]
#[error("cannot watch the store")]
pub struct WatchError;

pub struct Watcher {
    files: Vec<PathBuf>,
    seen: Vec<Option<SystemTime>>,
}

impl Watcher {
    pub fn new(town: &Town) -> Result<Self, WatchError> {
        let dir = town.beads_dir();
        let files = vec![dir.join("beads.db"), dir.join("beads.db-wal")];
        let seen = stamps(&files);
        Ok(Self { files, seen })
    }

    pub fn wait(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let now = stamps(&self.files);
            if now != self.seen {
                self.seen = now;
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn stamps(files: &[PathBuf]) -> Vec<Option<SystemTime>> {
    files
        .iter()
        .map(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
        .collect()
}
