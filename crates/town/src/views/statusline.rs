//! `gt status-line`: the few numbers tmux's `status-right` shows, read cheaply (the polecat
//! rows, one listing of the town's sessions, the open merge requests).

use std::collections::HashSet;

use beads::{MrState, PolecatState};
use serde::Serialize;

use super::{Result, age_seconds};
use crate::runtime::Runtimes;

/// The town in one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusLine {
    /// Polecats spawning or working whose session runs.
    pub working: usize,
    pub idle: usize,
    /// Polecats spawning or working whose session is gone.
    pub dead: usize,
    pub stuck: usize,
    /// Merge requests queued or testing.
    pub queue: usize,
    /// When the newest merge request landed (RFC 3339), if any has.
    pub last_landing: Option<String>,
    /// Seconds since then.
    pub last_landing_secs: Option<i64>,
}

/// Builds [`StatusLine`] as of `now`.
pub fn status_line(
    store: &beads::Store,
    runtimes: &Runtimes,
    now: jiff::Timestamp,
) -> Result<StatusLine> {
    let live: HashSet<String> = runtimes
        .sessions()?
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let mut line = StatusLine {
        working: 0,
        idle: 0,
        dead: 0,
        stuck: 0,
        queue: store.mrs(None, &[MrState::Queued, MrState::Testing])?.len(),
        last_landing: None,
        last_landing_secs: None,
    };
    for p in store.polecats(None)? {
        match p.state {
            PolecatState::Spawning | PolecatState::Working if live.contains(&p.session) => {
                line.working += 1;
            }
            PolecatState::Spawning | PolecatState::Working => line.dead += 1,
            PolecatState::Idle => line.idle += 1,
            PolecatState::Stuck => line.stuck += 1,
            PolecatState::Nuked => {}
        }
    }
    line.last_landing = store
        .mrs(None, &[MrState::Merged])?
        .into_iter()
        .map(|m| m.updated_at)
        .max();
    line.last_landing_secs = line.last_landing.as_deref().map(|at| age_seconds(now, at));
    Ok(line)
}
