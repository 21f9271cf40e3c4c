//! The last step of a handoff: a fresh agent in the polecat's pane, run from a detached helper
//! (see the module docs of [`super`]).

use serde::Serialize;

use super::{HandoffError, scope};
use crate::address::Address;
use crate::agents::{self, AgentRequest, PromptMode};
use crate::rigctx::RigCtx;
use crate::work::sling::{self, SlingContext};

/// The fresh agent.
#[derive(Debug, Clone, Serialize)]
pub struct Respawned {
    pub address: String,
    pub session: String,
    pub generation: i64,
    pub pane_id: Option<String>,
    pub pid: u32,
}

/// The mayor's or a crew member's next generation, in the same pane.
fn respawn_role(
    store: &mut beads::Store,
    cx: &SlingContext<'_>,
    address: &Address,
    generation: i64,
) -> Result<Respawned, HandoffError> {
    let role = crate::roles::RoleId::from_address(address)?;
    let session = role.session(cx.town)?;
    let handoff = super::happening(cx.town, address, &session, generation, "");
    // Recorded first, as for a polecat: the fresh agent's own handoff is in the cooldown.
    store.checkpoint(&scope(address), "at", &store.now())?;
    let started =
        crate::roles::respawn(store, cx, &role, generation, handoff)?.ok_or_else(|| {
            HandoffError::Superseded {
                address: address.canonical(),
                why: "it was restarted while the handoff waited".into(),
            }
        })?;
    store.checkpoint(
        &scope(address),
        "generation",
        &started.generation.to_string(),
    )?;
    Ok(Respawned {
        address: started.address,
        session: started.session,
        generation: started.generation,
        pane_id: None,
        pid: started.pid.unwrap_or_default(),
    })
}

/// Replaces the agent of generation `generation` in `session` with a fresh one of the next
/// generation, in the same pane. Refused ([`HandoffError::Superseded`]) when the polecat has
/// moved on meanwhile; then nothing is changed.
pub fn respawn(
    store: &mut beads::Store,
    cx: &SlingContext<'_>,
    address: &Address,
    session: &str,
    generation: i64,
) -> Result<Respawned, HandoffError> {
    if matches!(address, Address::Mayor | Address::Crew { .. }) {
        return respawn_role(store, cx, address, generation);
    }
    let (id, row) =
        super::caller_polecat(store, address, session, Some(generation)).map_err(|e| match e {
            HandoffError::WrongSession { .. } | HandoffError::OldGeneration { .. } => {
                HandoffError::Superseded {
                    address: address.canonical(),
                    why: e.to_string(),
                }
            }
            e => e,
        })?;
    let superseded = |why: String| HandoffError::Superseded {
        address: address.canonical(),
        why,
    };
    if row.bead_id.is_empty() {
        return Err(superseded("it holds no bead any more".into()));
    }
    let rig_ctx = RigCtx::load(cx.town, &id.rig, cx.env).map_err(crate::work::WorkError::from)?;
    let user_presets = agents::load_user_presets(&agents::user_presets_path(cx.town.root()))
        .map_err(crate::work::WorkError::from)?;
    let preset = agents::resolve_agent(
        &AgentRequest {
            role: "polecat",
            settings: &rig_ctx.settings,
            crew: None,
            flag: Some(row.agent.as_str()).filter(|a| !a.is_empty()),
        },
        &user_presets,
    )
    .map_err(crate::work::WorkError::from)?;
    let runtime = cx.runtimes.get(&row.runtime);
    let (handle, next) = {
        // Sling's admissions and the witness's restarts of this rig wait while the generation
        // changes hands, and nobody else can start the polecat meanwhile.
        let _admission = crate::work::admission_lock(cx.town, &id.rig)?;
        let row = store
            .polecat(&id.rig, &id.name)?
            .filter(|r| r.generation == generation && r.session == session)
            .ok_or_else(|| superseded("it was restarted while the handoff waited".into()))?;
        let next = store
            .upsert_polecat(
                &id.rig,
                &id.name,
                &beads::PolecatUpdate {
                    new_generation: true,
                    happenings: vec![super::happening(
                        cx.town,
                        address,
                        session,
                        generation,
                        &row.bead_id,
                    )],
                    ..Default::default()
                },
            )?
            .generation;
        store.checkpoint(&scope(address), "at", &store.now())?;
        store.checkpoint(&scope(address), "generation", &next.to_string())?;
        let spec = sling::session_spec(
            cx,
            store,
            &id,
            &preset,
            session,
            &id.worktree(cx.town),
            &row.branch,
            &row.bead_id,
            next,
            false,
        )?;
        let handle = runtime
            .respawn(&spec)
            .map_err(|source| HandoffError::Respawn {
                session: session.to_owned(),
                source: Box::new(source),
            })?;
        store.upsert_polecat(
            &id.rig,
            &id.name,
            &beads::PolecatUpdate {
                pid: Some(Some(i64::from(handle.pid))),
                ..Default::default()
            },
        )?;
        (handle, next)
    };
    // As after a sling: wait for the prompt, and type the first prompt where the preset does
    // not take it as an argument.
    runtime
        .wait_ready(session, &preset.readiness, cx.ready_timeout)
        .map_err(|source| HandoffError::Respawn {
            session: session.to_owned(),
            source: Box::new(source),
        })?;
    if preset.prompt_mode == PromptMode::None {
        runtime
            .send(
                session,
                &sling::beacon(&id, &row.bead_id, store),
                crate::runtime::SendWhen::Now,
            )
            .map_err(|source| HandoffError::Respawn {
                session: session.to_owned(),
                source: Box::new(source),
            })?;
    }
    if !crate::work::provision::installs_hooks(&preset) {
        crate::mail::remind::remind_or_log(cx.town, store, address, session);
    }
    Ok(Respawned {
        address: id.address(),
        session: session.to_owned(),
        generation: next,
        pane_id: handle.pane_id,
        pid: handle.pid,
    })
}
