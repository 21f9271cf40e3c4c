//! Capacity-controlled dispatch (upstream's scheduler): the one admission point every agent
//! start passes, the queue of slings waiting for room, the daemon service that dispatches it
//! as room frees, convoys that feed themselves, and fleet-wide rate-limit holds.
//!
//! `admission` checks the caps in the reservation's own transaction; `queue` orders waiting
//! slings (priority with aging); `dispatch` runs one round under the scheduler lock;
//! `service` is the daemon's dispatcher, woken by store events; `ratelimit` recognises a CLI's
//! limit message and its reset time; `watch` is the one check of an agent for a limit (its
//! pane or its exit status) that the witness and the keeper share and that records holds;
//! `accounts` chooses the provider account a start runs as; `stranded` is the daemon's watch
//! for convoys that cannot move on their own.

pub mod accounts;
pub mod admission;
pub mod convoy;
pub mod dispatch;
pub mod queue;
pub mod ratelimit;
pub mod service;
pub mod stranded;
pub mod watch;

use crate::layout::Town;

/// The store key that pauses dispatch (`gt scheduler pause`); its value says who and when.
pub const PAUSED_KEY: &str = "scheduler.paused";

/// Whether dispatch is paused, and by whom/when.
pub fn paused(store: &beads::Store) -> beads::Result<Option<String>> {
    store.kv_get(PAUSED_KEY)
}

/// The town's settings (town layer and `GT_*` variables), as the scheduler reads them.
pub fn town_settings(
    town: &Town,
) -> Result<crate::settings::Settings, crate::settings::SettingsError> {
    crate::settings::resolve(&crate::settings::Sources {
        town: Some(&town.settings_json()),
        env: Some(&crate::rigctx::process_env),
        ..Default::default()
    })
    .map(|e| e.settings)
}

/// What `gt scheduler status` shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    /// `direct` or `deferred`.
    pub mode: &'static str,
    /// The town cap in force (the safety cap under direct dispatch).
    pub max_polecats: i64,
    /// 0: none.
    pub max_polecats_per_rig: u32,
    pub batch_size: u32,
    pub spawn_delay: crate::settings::Delay,
    /// Who paused dispatch and when, if it is paused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused: Option<String>,
    /// Polecats spawning or working.
    pub working: i64,
    /// Queued beads that can start now.
    pub ready: usize,
    /// Queued beads waiting on a blocker.
    pub blocked: usize,
    /// Rate-limit holds still in force.
    pub holds: Vec<beads::RateHold>,
}

/// The scheduler's state now.
pub fn status(
    store: &beads::Store,
    settings: &crate::settings::Settings,
    now: jiff::Timestamp,
) -> beads::Result<Status> {
    let s = &settings.scheduler;
    let mode = admission::Mode::of(s);
    let queued = store.sling_contexts(false)?;
    Ok(Status {
        mode: match mode {
            admission::Mode::Direct => "direct",
            admission::Mode::Deferred(_) => "deferred",
        },
        max_polecats: mode.cap(),
        max_polecats_per_rig: s.max_polecats_per_rig,
        batch_size: s.batch_size,
        spawn_delay: s.spawn_delay,
        paused: paused(store)?,
        working: store.working_polecats()?,
        ready: queued.iter().filter(|c| queue::ready(c)).count(),
        blocked: queued.iter().filter(|c| c.blocked).count(),
        holds: store
            .holds()?
            .into_iter()
            .filter(|h| accounts::holds(h, now))
            .collect(),
    })
}
