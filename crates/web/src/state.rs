//! What every request shares: the town, one store connection, the runtimes, the access rules,
//! and the receiving end of the change signal the feed thread raises.
//!
//! The libraries are synchronous; handlers reach them through [`Dashboard::read`] and
//! [`Dashboard::write`], which run on tokio's blocking pool, never on the async workers.

use std::sync::{Arc, Mutex, PoisonError};

use host::clock::Clock;
use tokio::sync::watch;
use town::layout::Town;
use town::runtime::Runtimes;

use crate::auth::Access;
use crate::error::Error;
use crate::feed;

/// The state behind the router.
pub type Shared = Arc<Dashboard>;

pub struct Dashboard {
    pub(crate) town: Town,
    pub(crate) store: Arc<Mutex<beads::Store>>,
    pub(crate) runtimes: Runtimes,
    pub(crate) access: Access,
    pub(crate) clock: Box<dyn Clock>,
    /// The newest event id the feed thread has seen; changes when the town changes.
    pub(crate) changes: watch::Receiver<i64>,
}

impl std::fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dashboard")
            .field("town", &self.town.root())
            .field("access", &self.access)
            .finish_non_exhaustive()
    }
}

impl Dashboard {
    /// The dashboard of `town`, reading and acting through `store` (opened by the caller, with
    /// the after-commit poke the CLI's stores have). Starts the feed thread, which ends when
    /// the dashboard and every event stream it serves are gone.
    pub fn new(
        town: Town,
        store: beads::Store,
        runtimes: Runtimes,
        access: Access,
        clock: Box<dyn Clock>,
    ) -> Result<Shared, Error> {
        let cursor = store.last_event_id()?;
        let store = Arc::new(Mutex::new(store));
        let changes = feed::start(&town, Arc::clone(&store), cursor)?;
        Ok(Arc::new(Self {
            town,
            store,
            runtimes,
            access,
            clock,
            changes,
        }))
    }

    /// Runs `f` over the store on the blocking pool.
    pub(crate) async fn read<T, F>(self: &Arc<Self>, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Self, &beads::Store) -> Result<T, Error> + Send + 'static,
    {
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let store = this.store.lock().unwrap_or_else(PoisonError::into_inner);
            f(&this, &store)
        })
        .await
        .map_err(|e| Error::Join(e.to_string()))?
    }

    /// Runs `f` with the store writable on the blocking pool.
    pub(crate) async fn write<T, F>(self: &Arc<Self>, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Self, &mut beads::Store) -> Result<T, Error> + Send + 'static,
    {
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut store = this.store.lock().unwrap_or_else(PoisonError::into_inner);
            f(&this, &mut store)
        })
        .await
        .map_err(|e| Error::Join(e.to_string()))?
    }
}
