//! Recording a session's costs: who it was (agent, role, rig), what it worked on (the
//! polecat's hooked bead at the time, and that bead's convoy), and its totals.

use std::path::Path;

use beads::{CostSource, NewSessionCost, Recorded};

use super::{CostError, Reading};
use crate::work::prime::Role;

/// Who a session belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attribution {
    pub address: String,
    /// `polecat`, `mayor`, `crew` or `town`.
    pub role: String,
    pub rig: String,
    pub bead: String,
    pub convoy: String,
}

impl Attribution {
    /// The agent at `address` in `role`, with the bead a polecat has hooked now and the
    /// first open convoy tracking it.
    pub fn of(store: &beads::Store, role: &Role, address: &str) -> Result<Self, beads::Error> {
        let (kind, rig, bead) = match role {
            Role::Polecat(id) => {
                let bead = store
                    .polecat(&id.rig, &id.name)?
                    .map(|p| p.bead_id)
                    .unwrap_or_default();
                ("polecat", id.rig.clone(), bead)
            }
            Role::Mayor => ("mayor", String::new(), String::new()),
            Role::Crew { rig, .. } => ("crew", rig.clone(), String::new()),
            Role::Town => ("town", String::new(), String::new()),
        };
        Ok(Self {
            address: address.to_owned(),
            role: kind.to_owned(),
            rig,
            convoy: convoy_of(store, &bead)?,
            bead,
        })
    }
}

/// The first open convoy tracking `bead` (empty: none, or no bead).
pub fn convoy_of(store: &beads::Store, bead: &str) -> Result<String, beads::Error> {
    if bead.is_empty() {
        return Ok(String::new());
    }
    Ok(store
        .convoys_tracking(bead)?
        .into_iter()
        .next()
        .unwrap_or_default())
}

/// Which reader a preset's transcripts need (`None`: a CLI whose transcripts are not read).
pub fn source_of_preset(preset: &str) -> Option<CostSource> {
    match preset {
        "claude" => Some(CostSource::Claude),
        "codex" => Some(CostSource::Codex),
        _ => None,
    }
}

/// Reads the transcript at `path` with `source`'s reader.
pub fn read(source: CostSource, path: &Path) -> Result<Reading, CostError> {
    match source {
        CostSource::Claude => super::claude::read(path),
        CostSource::Codex => super::codex::read(path),
    }
}

/// Stores `reading` for `who`. A reading with no times (no line carried one) is dated `now`.
pub fn record(
    store: &mut beads::Store,
    reading: &Reading,
    who: &Attribution,
    now: jiff::Timestamp,
) -> Result<Recorded, CostError> {
    let started = reading.started_at.unwrap_or(now).to_string();
    let ended = reading.ended_at.unwrap_or(now).to_string();
    let transcript = reading.transcript.to_string_lossy();
    let usage = reading.model_tokens();
    Ok(store.record_session_cost(&NewSessionCost {
        source: reading.source,
        session_id: &reading.session_id,
        address: &who.address,
        role: &who.role,
        rig: &who.rig,
        bead: &who.bead,
        convoy: &who.convoy,
        transcript: &transcript,
        started_at: &started,
        ended_at: &ended,
        usage: &usage,
    })?)
}
