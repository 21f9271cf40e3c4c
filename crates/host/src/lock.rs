//! Advisory file locks: exclusive, released when the guard drops (or the process dies).
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

/// Takes the lock on `path` (created if missing) without waiting.
pub fn try_lock(path: &Path) -> Result<LockGuard, LockError> {
    let file = open(path)?;
    match file.try_lock() {
        Ok(()) => Ok(LockGuard {
            _file: file,
            path: path.to_owned(),
        }),
        Err(TryLockError::WouldBlock) => Err(LockError::Busy {
            path: path.to_owned(),
        }),
        Err(TryLockError::Error(source)) => Err(LockError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Takes the lock on `path` (created if missing), waiting for the holder to release it.
pub fn lock(path: &Path) -> Result<LockGuard, LockError> {
    let file = open(path)?;
    file.lock().map_err(|source| LockError::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(LockGuard {
        _file: file,
        path: path.to_owned(),
    })
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

    #[test]
    fn lock_in_missing_directory_names_the_path() {
        let err = lock(Path::new("/nonexistent-dir/x.lock")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent-dir/x.lock"), "{err}");
    }
}
