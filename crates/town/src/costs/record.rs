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
        "gemini" => Some(CostSource::Gemini),
        _ => None,
    }
}

/// Whether the town finds `source`'s transcripts by where the agent ran, for whoever sees it
/// finish or die: Codex has no hook that could name them; Gemini CLI's `AfterAgent` hook
/// records each finished turn, but an agent killed mid-turn, or running `gt done` in its last
/// turn, never reaches it. Claude Code's `Stop` and `SessionEnd` hooks record all of it.
fn found_by_where_it_ran(source: Option<CostSource>) -> bool {
    matches!(source, Some(CostSource::Codex | CostSource::Gemini))
}

/// Records the sessions an agent CLI ran in `cwd` since `since`, for CLIs whose hooks cannot
/// have recorded all of it ([`found_by_where_it_ran`]): Codex's rollouts whose recorded working
/// directory is `cwd`, Gemini CLI's session files of the project at `cwd`. Returns how many
/// sessions were written. Bad lines are skipped as the readers skip them; a transcript that
/// cannot be read is logged and passed over.
pub fn record_ended(
    store: &mut beads::Store,
    homes: &super::locate::Homes,
    preset: &str,
    who: &Attribution,
    cwd: &Path,
    since: std::time::SystemTime,
) -> Result<usize, CostError> {
    let source = source_of_preset(preset);
    let want = cwd.to_string_lossy();
    let found = match source {
        Some(CostSource::Codex) => super::locate::codex_rollouts(homes, since),
        Some(CostSource::Gemini) => super::locate::gemini_sessions(homes, cwd, since),
        _ => return Ok(0),
    };
    let mut written = 0;
    for path in found {
        let reading = match source.map(|s| read(s, &path)) {
            Some(Ok(r)) => r,
            Some(Err(e)) => {
                tracing::warn!(transcript = %path.display(), error = %e, "cannot read a transcript");
                continue;
            }
            None => continue,
        };
        // A rollout says where it ran; a Gemini session file was found by its project.
        let elsewhere = reading.cwd.as_deref().is_some_and(|c| c != want);
        if elsewhere
            || (source == Some(CostSource::Codex) && reading.cwd.is_none())
            || reading.session_id.is_empty()
        {
            continue;
        }
        if record(store, &reading, who, store.now_ts())? == Recorded::Written {
            written += 1;
        }
    }
    Ok(written)
}

/// How far back such a polecat's transcripts are looked for: a day covers any session.
pub const HOOKLESS_LOOKBACK: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Records what polecat `p`'s agent CLI (Codex, Gemini CLI: [`found_by_where_it_ran`]) has used
/// so far, from the transcripts it wrote in the polecat's worktree, attributed to the polecat and the bead it holds now. For
/// whoever sees such an agent finish or die: `gt done` (it has no `Stop` hook to record its
/// own), the witness when it is dead, the deacon before it stops it idle. Returns how many
/// sessions were written.
pub fn record_polecat(
    store: &mut beads::Store,
    town: &crate::layout::Town,
    homes: &super::locate::Homes,
    p: &beads::Polecat,
) -> Result<usize, CostError> {
    let by_place = found_by_where_it_ran(source_of_preset(&p.agent));
    let Some(id) = crate::work::identity::PolecatId::new(&p.rig, &p.name).filter(|_| by_place)
    else {
        return Ok(0);
    };
    let who = Attribution::of(store, &Role::Polecat(id.clone()), &id.address())?;
    let since = std::time::SystemTime::now() - HOOKLESS_LOOKBACK;
    record_ended(store, homes, &p.agent, &who, &id.worktree(town), since)
}

/// Reads the transcript at `path` with `source`'s reader.
pub fn read(source: CostSource, path: &Path) -> Result<Reading, CostError> {
    match source {
        CostSource::Claude => super::claude::read(path),
        CostSource::Codex => super::codex::read(path),
        CostSource::Gemini => super::gemini::read(path),
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use beads::{Context, NewIssue, Store};
    use host::clock::FixedClock;

    use super::{Attribution, read, record};
    use crate::work::identity::PolecatId;
    use crate::work::prime::Role;

    fn store(dir: &Path) -> Store {
        let ctx = Context {
            actor: "test".into(),
            clock: Box::new(FixedClock("2026-12-05T12:00:00Z".parse().unwrap())),
        };
        Store::init(dir, "gt", ctx).unwrap()
    }

    #[test]
    fn a_polecat_session_is_its_hooked_bead_s_and_that_bead_s_convoy_s() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = store(dir.path());
        let bead = store
            .create(NewIssue {
                title: "Fix the flaky retry test".into(),
                ..NewIssue::default()
            })
            .unwrap()
            .id;
        let convoy = store
            .create_convoy("Retries", std::slice::from_ref(&bead))
            .unwrap()
            .id;
        store
            .admit_polecat("gastown", "nux", &bead, beads::Caps::town(4))
            .unwrap();
        let role = Role::Polecat(PolecatId::new("gastown", "nux").unwrap());
        let who = Attribution::of(&store, &role, "gastown/polecats/nux").unwrap();
        assert_eq!(
            who,
            Attribution {
                address: "gastown/polecats/nux".into(),
                role: "polecat".into(),
                rig: "gastown".into(),
                bead: bead.clone(),
                convoy: convoy.clone(),
            }
        );
        let transcript = Path::new(env!("CARGO_MANIFEST_DIR")).join(
            "tests/fixtures/transcripts/claude/-town-gastown-polecats-nux/5d3a9c1e-7f21-4b8e-a0c4-2e6f8b9d1a37.jsonl",
        );
        let reading = read(beads::CostSource::Claude, &transcript).unwrap();
        let now = store.now_ts();
        assert_eq!(
            record(&mut store, &reading, &who, now).unwrap(),
            beads::Recorded::Written
        );
        // The Stop hook runs at every turn's end: the same transcript again counts once.
        assert_eq!(
            record(&mut store, &reading, &who, now).unwrap(),
            beads::Recorded::Unchanged
        );
        let rows = store.session_costs(None).unwrap();
        assert_eq!(rows.len(), 2, "one row per model: {rows:?}");
        assert!(
            rows.iter()
                .all(|r| r.bead == bead && r.convoy == convoy && r.rig == "gastown")
        );
        // The mayor has no bead.
        let mayor = Attribution::of(&store, &Role::Mayor, "mayor/").unwrap();
        assert_eq!((mayor.role.as_str(), mayor.bead.as_str()), ("mayor", ""));
    }

    /// A dead Codex agent's rollouts are found by the directory it ran in and recorded once;
    /// a Claude Code agent records its own through its hook.
    #[test]
    fn a_hookless_agent_s_rollouts_are_recorded_by_where_it_ran() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = store(dir.path());
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/transcripts");
        let homes = crate::costs::locate::Homes {
            claude: fixtures.join("claude"),
            codex: fixtures.join("codex"),
            gemini: fixtures.join("gemini"),
        };
        let who = Attribution {
            address: "gastown/polecats/rust".into(),
            role: "polecat".into(),
            rig: "gastown".into(),
            ..Attribution::default()
        };
        let since = std::time::SystemTime::UNIX_EPOCH;
        let here = Path::new("/town/gastown/polecats/rust");
        let ended = |store: &mut Store, preset: &str, cwd: &Path| {
            super::record_ended(store, &homes, preset, &who, cwd, since).unwrap()
        };
        assert_eq!(ended(&mut store, "claude", here), 0);
        assert_eq!(
            ended(&mut store, "codex", Path::new("/town/gastown/polecats/nux")),
            0
        );
        assert_eq!(ended(&mut store, "codex", here), 1);
        assert_eq!(ended(&mut store, "codex", here), 0, "recorded once");
        assert_eq!(ended(&mut store, "gemini", here), 1);
        assert_eq!(ended(&mut store, "gemini", here), 0, "recorded once");
        let sources: Vec<_> = store
            .session_costs(None)
            .unwrap()
            .into_iter()
            .map(|r| r.source)
            .collect();
        assert!(sources.contains(&beads::CostSource::Gemini), "{sources:?}");
        let rows = store.session_costs(None).unwrap();
        assert!(!rows.is_empty());
        assert!(rows.iter().all(|r| r.address == "gastown/polecats/rust"));
    }
}
