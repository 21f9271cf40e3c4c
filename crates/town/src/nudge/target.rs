//! Which session a nudge for an address goes to.

use beads::Store;

use super::NudgeError;
use crate::address::Address;
use crate::layout::Town;
use crate::rigctx::RigCtx;

/// The session `target` runs in and the runtime it was started in (empty: the town's
/// default): a polecat's from its row; the mayor, deacon and crew by upstream's names. The
/// witness and refinery (daemon services), the overseer (a person) and groups have none.
/// `store` is read only for a polecat (a town without one can still nudge its mayor).
pub fn session_of(
    town: &Town,
    store: Option<&Store>,
    target: &Address,
) -> Result<(String, String), NudgeError> {
    let no_session = |why: String| NudgeError::NoSession {
        target: target.canonical(),
        why,
    };
    match target {
        Address::Witness { .. } | Address::Refinery { .. } => Err(no_session(
            "the witness and the refinery are services inside the daemon; send them mail".into(),
        )),
        Address::Overseer => Err(no_session("the overseer is a person; send mail".into())),
        Address::List { .. } | Address::Queue { .. } | Address::Town | Address::Rig { .. } => Err(
            no_session("nudge one agent at a time; mail reaches groups".into()),
        ),
        Address::Polecat { rig, name } => {
            let store = store.ok_or_else(|| no_session("the town has no store".into()))?;
            let row = store
                .polecat(rig, name)
                .map_err(|e| no_session(e.to_string()))?
                .ok_or_else(|| {
                    no_session("the town has no polecat of that name (`gt polecat list`)".into())
                })?;
            Ok((row.session, row.runtime))
        }
        Address::Mayor | Address::Deacon | Address::Crew { .. } => {
            let prefix = match target.rig() {
                Some(rig) => Some(
                    RigCtx::load(town, rig, None)
                        .map_err(|e| no_session(e.to_string()))?
                        .prefix()
                        .to_owned(),
                ),
                None => None,
            };
            let session = target
                .session(prefix.as_deref())
                .ok_or_else(|| no_session("it has no session name".into()))?;
            Ok((session, String::new()))
        }
    }
}
