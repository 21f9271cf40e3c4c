//! Which session a nudge for an address goes to.

use beads::Store;

use super::NudgeError;
use crate::address::Address;
use crate::layout::Town;
use crate::roster::{self, RosterError};

/// The session `target` runs in and the runtime it was started in (empty: not recorded), as
/// [`roster::locate`] finds it. `store` is read only for a polecat (a town without one can
/// still nudge its mayor).
pub fn session_of(
    town: &Town,
    store: Option<&Store>,
    target: &Address,
) -> Result<(String, String), NudgeError> {
    match roster::locate(town, store, target) {
        Ok(member) => Ok((member.session, member.runtime)),
        Err(RosterError::NoSession { target, why }) => Err(NudgeError::NoSession { target, why }),
        Err(e) => Err(NudgeError::NoSession {
            target: target.canonical(),
            why: e.to_string(),
        }),
    }
}
