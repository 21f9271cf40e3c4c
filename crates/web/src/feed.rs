//! The one thread that watches the town: it sleeps on the store's change watcher
//! (`town::events::Watcher`: woken by committed writes, not by a timer) and, when the newest
//! event id moved, raises the change signal every open page's event stream listens to. Pages
//! never poll; nothing runs while the town is idle.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use town::events::Watcher;
use town::layout::Town;

use crate::error::Error;

/// How long one wait lasts before the thread looks whether anyone still listens: the only
/// wake-up an idle town causes, and how long the thread outlives its dashboard.
const LISTENER_CHECK: Duration = Duration::from_secs(5);

/// Pauses before looking again when a wake-up showed no new event. inotify reports a write's
/// first WAL frame, and can do so before SQLite has committed the transaction; the frames
/// that follow are consumed by the same wake-up, so without another look that commit would
/// show only at the town's next write. A wake-up that really carried nothing (a checkpoint)
/// costs these few reads.
const SETTLE: [Duration; 5] = [
    Duration::ZERO,
    Duration::from_millis(10),
    Duration::from_millis(40),
    Duration::from_millis(150),
    Duration::from_millis(500),
];

/// Starts the feed thread; the receiver's value is the newest event id seen, from `cursor`.
pub(crate) fn start(
    town: &Town,
    store: Arc<Mutex<beads::Store>>,
    cursor: i64,
) -> Result<watch::Receiver<i64>, Error> {
    let watcher = Watcher::new(town).map_err(|e| Error::Watch(e.to_string()))?;
    let (tx, rx) = watch::channel(cursor);
    std::thread::Builder::new()
        .name("dashboard-feed".into())
        .spawn(move || run(watcher, &store, &tx))
        .map_err(|e| Error::Watch(e.to_string()))?;
    Ok(rx)
}

fn run(mut watcher: Watcher, store: &Mutex<beads::Store>, tx: &watch::Sender<i64>) {
    while !tx.is_closed() {
        if !watcher.wait(LISTENER_CHECK) {
            continue;
        }
        for pause in SETTLE {
            std::thread::sleep(pause);
            if publish(store, tx) {
                break;
            }
        }
    }
}

/// Raises the signal if the newest event id moved; whether it did.
fn publish(store: &Mutex<beads::Store>, tx: &watch::Sender<i64>) -> bool {
    let newest = store
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .last_event_id();
    match newest {
        Ok(id) => tx.send_if_modified(|seen| {
            let moved = id != *seen;
            *seen = id;
            moved
        }),
        Err(error) => {
            tracing::warn!(%error, "dashboard: reading the newest event failed");
            false
        }
    }
}
