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
        let newest = store
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last_event_id();
        match newest {
            Ok(id) => {
                tx.send_if_modified(|seen| {
                    let moved = id != *seen;
                    *seen = id;
                    moved
                });
            }
            Err(error) => tracing::warn!(%error, "dashboard: reading the newest event failed"),
        }
    }
}
