//! Waiting for files to change: inotify (through `notify`) on one directory, filtered to the
//! names asked for. A reader that must act when another process commits to a SQLite store
//! watches the database and its WAL instead of polling them.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use notify::{EventKind, RecursiveMode, Watcher as _};

/// Why a directory could not be watched (no inotify, its watch limit reached, no directory).
#[derive(Debug, thiserror::Error)]
#[error("cannot watch {}: {source}", path.display())]
pub struct WatchError {
    pub path: PathBuf,
    #[source]
    pub source: notify::Error,
}

/// Watches some files of one directory for writes, creation, removal and renames.
pub struct FileWatcher {
    /// Kept alive: dropping it stops the watch.
    _inner: notify::RecommendedWatcher,
    changes: mpsc::Receiver<()>,
}

impl std::fmt::Debug for FileWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileWatcher").finish_non_exhaustive()
    }
}

impl FileWatcher {
    /// Watches `names` in `dir` (the directory, not the files: SQLite creates and removes
    /// its WAL as connections come and go, and a watch on a removed file is lost).
    pub fn new(dir: &Path, names: &[&str]) -> Result<Self, WatchError> {
        let names: Vec<OsString> = names.iter().map(OsString::from).collect();
        let (tx, changes) = mpsc::channel();
        let mut inner = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            let Ok(event) = res else {
                // The watch itself failed (queue overflow): say "maybe changed", the safe side.
                let _ = tx.send(());
                return;
            };
            let relevant = matches!(
                event.kind,
                EventKind::Modify(_) | EventKind::Create(_) | EventKind::Remove(_) | EventKind::Any
            ) && event
                .paths
                .iter()
                .any(|p| p.file_name().is_some_and(|n| names.iter().any(|w| w == n)));
            if relevant {
                let _ = tx.send(());
            }
        })
        .map_err(|source| WatchError {
            path: dir.to_owned(),
            source,
        })?;
        inner
            .watch(dir, RecursiveMode::NonRecursive)
            .map_err(|source| WatchError {
                path: dir.to_owned(),
                source,
            })?;
        Ok(Self {
            _inner: inner,
            changes,
        })
    }

    /// Blocks until a watched file changed or `timeout` passed; true when a change woke it.
    /// Changes that arrived meanwhile are all consumed by one wake.
    pub fn wait(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let woke = match self.changes.recv_timeout(timeout) {
            Ok(()) => true,
            Err(mpsc::RecvTimeoutError::Timeout) => false,
            // The watcher's thread is gone: nothing will ever arrive; sleep out the timeout.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
                false
            }
        };
        while self.changes.try_recv().is_ok() {}
        woke
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wakes_on_a_watched_file_and_sleeps_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let watched = dir.path().join("beads.db-wal");
        let w = FileWatcher::new(dir.path(), &["beads.db", "beads.db-wal"]).unwrap();
        std::fs::write(dir.path().join("other"), "x").unwrap();
        assert!(
            !w.wait(Duration::from_millis(200)),
            "an unwatched file woke it"
        );
        std::fs::write(&watched, "x").unwrap();
        assert!(
            w.wait(Duration::from_secs(5)),
            "a write to a watched file did not wake it"
        );
        assert!(
            !w.wait(Duration::from_millis(200)),
            "one write woke it twice"
        );
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("nope");
        let e = FileWatcher::new(&gone, &["x"]).unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
    }
}
