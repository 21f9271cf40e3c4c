//! Waiting for the store to change: inotify on its database and WAL, or a slow tick where
//! inotify is unavailable.

use std::time::Duration;

use crate::layout::Town;

/// How often a watcher without inotify says "look again".
const FALLBACK_TICK: Duration = Duration::from_secs(2);

/// Wakes when another process (or this one) commits to the town's store. Make it before
/// reading the cursor, so a commit between the read and the first [`Watcher::wait`] still
/// wakes it.
#[derive(Debug)]
pub struct Watcher {
    /// `None` when the files cannot be watched: then every wait is a tick.
    files: Option<host::watch::FileWatcher>,
}

impl Watcher {
    /// Watches the store of `town`. Fails only when the store's directory is missing; where
    /// inotify cannot be had (its limits reached) it falls back to a tick, and says so in the
    /// log.
    pub fn new(town: &Town) -> Result<Self, host::watch::WatchError> {
        let dir = town.beads_dir();
        let wal = format!("{}-wal", beads::store::DB_FILE);
        match host::watch::FileWatcher::new(&dir, &[beads::store::DB_FILE, &wal]) {
            Ok(w) => Ok(Self { files: Some(w) }),
            Err(e) if !dir.is_dir() => Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "no inotify for the store; looking every {FALLBACK_TICK:?}");
                Ok(Self { files: None })
            }
        }
    }

    /// Blocks until the store may have new events or `timeout` passed; true when woken by a
    /// change (or, without inotify, by the tick).
    pub fn wait(&mut self, timeout: Duration) -> bool {
        match &self.files {
            Some(w) => w.wait(timeout),
            None => {
                let tick = timeout.min(FALLBACK_TICK);
                std::thread::sleep(tick);
                tick < timeout
            }
        }
    }
}
