//! `gt session list`: every session of the town that exists, with the agent it belongs to.

use beads::Store;
use serde::Serialize;

use super::Result;
use crate::address::Address;
use crate::layout::Town;
use crate::roster::{self, Role};
use crate::runtime::Runtimes;

/// Serialises as an array of [`SessionEntry`].
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct SessionsView {
    pub sessions: Vec<SessionEntry>,
}

/// One session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionEntry {
    /// The town's name for it (`gt-furiosa`; in tmux it carries the town's tag).
    pub session: String,
    /// The agent it belongs to; `null` for a session of the town no agent claims (a polecat
    /// forgotten by `gt polecat nuke` whose session was left behind).
    pub address: Option<String>,
    pub role: Option<Role>,
    /// `tmux` or `subprocess`.
    pub runtime: String,
    /// Its agent runs (a session whose agent exited stays until stopped or replaced).
    pub alive: bool,
}

/// Builds [`SessionsView`], sorted by session name.
pub fn sessions(town: &Town, store: &Store, runtimes: &Runtimes) -> Result<SessionsView> {
    let mut members = roster::members(town, store)?;
    members.push(roster::locate(town, None, &Address::Deacon)?);
    let mut sessions: Vec<SessionEntry> = runtimes
        .sessions()?
        .into_iter()
        .map(|(session, kind)| {
            let member = members
                .iter()
                .find(|m| m.session == session && (m.runtime.is_empty() || m.runtime == kind));
            SessionEntry {
                address: member.map(|m| m.address.canonical()),
                role: member.map(|m| m.role),
                runtime: kind.to_owned(),
                alive: runtimes.get(kind).is_alive(&session, &[]).unwrap_or(false),
                session,
            }
        })
        .collect();
    sessions.sort_by(|a, b| (&a.session, &a.runtime).cmp(&(&b.session, &b.runtime)));
    Ok(SessionsView { sessions })
}
