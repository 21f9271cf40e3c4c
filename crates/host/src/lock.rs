//! Advisory file locks: exclusive, released when the guard drops (or the process dies).
//! A lock is held on the file its path names once it is taken: a lock file deleted or replaced
//! between open and lock is opened and locked again, so removing an unheld lock file is safe.
#![expect(
    clippy::disallowed_methods,
    reason = "this module is the one place that takes file locks"
)]

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Failure to take a lock.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds the lock.
    #[error("`{}` is locked by another process", path.display())]
    Busy { path: PathBuf },
    /// The lock file could not be opened or locked.
    #[error("cannot lock `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A held exclusive lock on a file. Dropping it releases the lock.
#[derive(Debug)]
pub struct LockGuard {
    _file: File,
    path: PathBuf,
}

impl LockGuard {
    /// The locked file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn open(path: &Path) -> Result<File, LockError> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|source| LockError::Io {
            path: path.to_owned(),
            source,
        })
}

/// Whether `path` still names the file `file` has open. Someone may have deleted or replaced
/// the lock file between our open and our lock (`gt doctor --fix` removing an unheld one, say):
/// a lock on that orphan excludes nobody, since the next locker opens the new file. Checked
/// after every lock; while we hold the old file open its inode cannot be reused, so equal
/// device and inode numbers mean the same file.
fn still_named(file: &File, path: &Path) -> Result<bool, LockError> {
    use std::os::unix::fs::MetadataExt as _;
    let io = |source| LockError::Io {
        path: path.to_owned(),
        source,
    };
    let held = file.metadata().map_err(io)?;
    match std::fs::metadata(path) {
        Ok(named) => Ok(named.dev() == held.dev() && named.ino() == held.ino()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io(e)),
    }
}

/// Takes the lock on `path` (created if missing) without waiting.
pub fn try_lock(path: &Path) -> Result<LockGuard, LockError> {
    loop {
        let file = open(path)?;
        match file.try_lock() {
            Ok(()) => {
                if still_named(&file, path)? {
                    return Ok(LockGuard {
                        _file: file,
                        path: path.to_owned(),
                    });
                }
                // Locked an orphan: drop it and lock what the path names now.
            }
            Err(TryLockError::WouldBlock) => {
                return Err(LockError::Busy {
                    path: path.to_owned(),
                });
            }
            Err(TryLockError::Error(source)) => {
                return Err(LockError::Io {
                    path: path.to_owned(),
                    source,
                });
            }
        }
    }
}

/// Takes the lock on `path` (created if missing), waiting for the holder to release it.
pub fn lock(path: &Path) -> Result<LockGuard, LockError> {
    loop {
        let file = open(path)?;
        file.lock().map_err(|source| LockError::Io {
            path: path.to_owned(),
            source,
        })?;
        if still_named(&file, path)? {
            return Ok(LockGuard {
                _file: file,
                path: path.to_owned(),
            });
        }
        // The file was deleted or replaced while we waited: the lock that counts is on the
        // file the path names now.
    }
}

/// Takes the lock on `path` (created if missing), waiting at most `timeout` for the holder to
/// release it; [`LockError::Busy`] after that. A holder that hangs cannot stall its waiters for
/// ever; with a zero timeout it is [`try_lock`]. Polls with a growing pause (1 ms to 50 ms):
/// `flock` has no timed wait.
pub fn lock_timeout(path: &Path, timeout: Duration) -> Result<LockGuard, LockError> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        match try_lock(path) {
            Err(LockError::Busy { .. }) if Instant::now() < deadline => {
                std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_try_lock_is_busy_until_the_first_drops() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let first = try_lock(&path).unwrap();
        assert!(matches!(try_lock(&path), Err(LockError::Busy { .. })));
        drop(first);
        // Other tests spawn processes meanwhile: a fork taken while `first` was open holds a
        // copy of its descriptor, and so the lock, until the child's exec closes it (the file
        // is close-on-exec). Give that window time to pass; the lock must come free.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let relocked = loop {
            match try_lock(&path) {
                Ok(guard) => break Some(guard),
                Err(LockError::Busy { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(_) => break None,
            }
        };
        assert!(relocked.is_some(), "the lock never came free");
    }

    #[test]
    fn timed_lock_gives_up_when_busy_and_succeeds_when_free() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.lock");
        let held = try_lock(&path).unwrap();
        let start = Instant::now();
        let err = lock_timeout(&path, Duration::from_millis(100)).unwrap_err();
        assert!(matches!(err, LockError::Busy { .. }), "{err:?}");
        assert!(start.elapsed() >= Duration::from_millis(100));
        let waiter = std::thread::spawn({
            let path = path.clone();
            move || lock_timeout(&path, Duration::from_secs(10)).map(drop)
        });
        std::thread::sleep(Duration::from_millis(50));
        drop(held);
        waiter.join().unwrap().unwrap();
    }

    fn ino(path: &Path) -> u64 {
        use std::os::unix::fs::MetadataExt as _;
        std::fs::metadata(path).unwrap().ino()
    }

    fn held_ino(guard: &LockGuard) -> u64 {
        use std::os::unix::fs::MetadataExt as _;
        guard._file.metadata().unwrap().ino()
    }

    #[test]
    fn a_lock_file_deleted_while_a_waiter_waits_is_locked_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.lock");
        let held = try_lock(&path).unwrap();
        let (opened_tx, opened_rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn({
            let path = path.clone();
            move || {
                opened_tx.send(()).unwrap();
                lock(&path)
            }
        });
        opened_rx.recv().unwrap();
        // Let the waiter open the file and block in `flock` on it.
        std::thread::sleep(Duration::from_millis(200));
        // The file goes (as `gt doctor --fix` removing an "unheld" lock file would), then its
        // holder lets go: the waiter wakes holding a lock on a file no path names.
        std::fs::remove_file(&path).unwrap();
        drop(held);
        let guard = waiter.join().unwrap().unwrap();
        assert_eq!(
            held_ino(&guard),
            ino(&path),
            "the waiter holds the file the path names"
        );
        // So it excludes the next locker, who opens the path afresh.
        assert!(matches!(try_lock(&path), Err(LockError::Busy { .. })));
    }

    #[test]
    fn a_lock_on_a_replaced_file_is_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.lock");
        let file = open(&path).unwrap();
        assert!(still_named(&file, &path).unwrap());
        std::fs::remove_file(&path).unwrap();
        assert!(!still_named(&file, &path).unwrap(), "deleted");
        std::fs::write(&path, "").unwrap();
        assert!(!still_named(&file, &path).unwrap(), "replaced");
        let guard = try_lock(&path).unwrap();
        assert_eq!(held_ino(&guard), ino(&path));
    }

    #[test]
    fn lock_in_missing_directory_names_the_path() {
        let err = lock(Path::new("/nonexistent-dir/x.lock")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent-dir/x.lock"), "{err}");
    }
}
