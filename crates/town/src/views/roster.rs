//! `gt agents`: every agent of the town — the mayor, crew, polecats (and the deacon when it
//! has a session) — with its role, rig, bead, state, liveness and last activity.

use beads::Store;
use jiff::Timestamp;
use serde::Serialize;

use super::Result;
use crate::address::Address;
use crate::layout::Town;
use crate::roster::{self, Member, Role};
use crate::runtime::Runtimes;

/// Serialises as an array of [`RosterEntry`].
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct RosterView {
    pub agents: Vec<RosterEntry>,
}

/// One agent.
#[derive(Debug, Clone, Serialize)]
pub struct RosterEntry {
    /// `mayor/`, `<rig>/crew/<name>`, `<rig>/polecats/<name>`.
    pub address: String,
    pub role: Role,
    /// `null` for the town-level agents.
    pub rig: Option<String>,
    /// The bead on a polecat's hook; `null` when none.
    pub bead: Option<String>,
    /// A polecat's state (its row: `working`, `idle`, …); for the others `running` while
    /// their agent runs, else `stopped`.
    pub state: String,
    pub session: String,
    /// The runtime its session is in (`tmux`, `subprocess`): the one a polecat's row records,
    /// the one the others run in; empty when nothing runs or was recorded.
    pub runtime: String,
    /// The session exists and its agent runs (a tmux pane's process is the shell waiting on
    /// the agent, so it ends with it).
    pub alive: bool,
    /// When the agent last wrote to its terminal: tmux's `#{window_activity}` (output, not
    /// keys typed at it), or the subprocess log's modification time; `null` when it has no
    /// session.
    pub last_activity: Option<Timestamp>,
}

/// Builds [`RosterView`]: [`roster::members`], plus the deacon while a session of its name
/// exists, each session asked of the runtime it lives in ([`Runtimes::find`]).
pub fn roster(town: &Town, store: &Store, runtimes: &Runtimes) -> Result<RosterView> {
    let mut members = roster::members(town, store)?;
    let deacon = roster::locate(town, None, &Address::Deacon)?;
    if runtimes
        .sessions()?
        .iter()
        .any(|(name, _)| *name == deacon.session)
    {
        members.insert(1, deacon);
    }
    let agents = members.into_iter().map(|m| entry(m, runtimes)).collect();
    Ok(RosterView { agents })
}

fn entry(member: Member, runtimes: &Runtimes) -> RosterEntry {
    let Member {
        address,
        role,
        session,
        runtime: recorded,
        polecat,
    } = member;
    let runtime = runtimes.find(&recorded, &session);
    let has_session = !session.is_empty();
    let alive = has_session && runtime.is_alive(&session, &[]).unwrap_or(false);
    let last_activity = if has_session {
        // Whole seconds: tmux reports no finer, and a log's nanoseconds are noise here.
        runtime
            .last_output(&session)
            .ok()
            .flatten()
            .and_then(|t| Timestamp::from_second(t.as_second()).ok())
    } else {
        None
    };
    let runtime = if !recorded.is_empty() {
        recorded
    } else if alive {
        runtime.kind().to_owned()
    } else {
        String::new()
    };
    let (state, bead) = match &polecat {
        Some(p) => (
            p.state.to_string(),
            Some(p.bead_id.clone()).filter(|b| !b.is_empty()),
        ),
        None => ((if alive { "running" } else { "stopped" }).to_owned(), None),
    };
    RosterEntry {
        rig: address.rig().map(str::to_owned),
        address: address.canonical(),
        role,
        bead,
        state,
        session,
        runtime,
        alive,
        last_activity,
    }
}
