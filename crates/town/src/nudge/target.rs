//! Which session a nudge for an address goes to, and which address a session name means.

use beads::Store;

use super::NudgeError;
use crate::address::Address;
use crate::layout::Town;
use crate::rigctx::RigCtx;
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

/// The town-level agent whose session is `session` (`hq-mayor`, `hq-deacon`): known without
/// the store or any rig.
pub fn town_session(session: &str) -> Option<Address> {
    [Address::Mayor, Address::Deacon]
        .into_iter()
        .find(|a| a.session(None).as_deref() == Some(session))
}

/// The agent whose session is `session`, for `gt nudge gt-furiosa` (upstream's raw session
/// names): `hq-mayor`, `hq-deacon`, a polecat by its row's session (`<prefix>-<name>`), or a
/// crew member's `<prefix>-crew-<name>` in a registered rig. `store` is read only when the name
/// is not the mayor's or the deacon's. The address then resolves back to the same session
/// through [`session_of`], so both spellings take one path.
pub fn address_of_session(
    town: &Town,
    store: Option<&Store>,
    session: &str,
) -> Result<Address, NudgeError> {
    crate::runtime::check_session_name(session).map_err(|_| NudgeError::InvalidSession {
        session: session.to_owned(),
    })?;
    if let Some(fixed) = town_session(session) {
        return Ok(fixed);
    }
    // A polecat's row names its session: exact, whatever its name looks like.
    if let Some(store) = store
        && let Some(row) = store
            .polecats(None)?
            .into_iter()
            .find(|p| p.session == session)
    {
        return Ok(Address::Polecat {
            rig: row.rig,
            name: row.name,
        });
    }
    for rig in town.rigs()?.rigs.keys() {
        let ctx = RigCtx::load(town, rig, None)?;
        let crew_prefix = format!("{}-crew-", ctx.prefix());
        if let Some(name) = session.strip_prefix(&crew_prefix)
            && crate::address::valid_part(name)
        {
            return Ok(Address::Crew {
                rig: rig.clone(),
                name: name.to_owned(),
            });
        }
    }
    Err(NudgeError::UnknownSession {
        session: session.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> beads::Context {
        beads::Context {
            actor: "test".into(),
            clock: Box::new(host::clock::FixedClock(
                "2026-01-01T00:00:00Z".parse().unwrap(),
            )),
        }
    }

    /// A town with rig `gastown` (bead prefix `gt`), written as `gt rig add` leaves its files.
    fn town_with_rig(dir: &std::path::Path) -> (Town, Store) {
        let root = dir.join("town");
        let options = crate::install::InstallOptions {
            owner: "test@example.com".into(),
            ..Default::default()
        };
        crate::install::install(&root, &options, ctx()).unwrap();
        let town = Town::at(root);
        let beads = crate::layout::RigBeads {
            repo: String::new(),
            prefix: "gt".into(),
        };
        let mut rigs = town.rigs().unwrap();
        rigs.rigs.insert(
            "gastown".into(),
            crate::layout::RigEntry {
                git_url: "https://example.com/g.git".into(),
                beads: beads.clone(),
                ..Default::default()
            },
        );
        town.save_rigs(&rigs).unwrap();
        let config = serde_json::json!({"type": "rig", "version": 1, "name": "gastown",
            "git_url": "https://example.com/g.git", "default_branch": "main", "beads": beads});
        crate::files::write_json(&town.root().join("gastown/config.json"), &config).unwrap();
        let store = Store::open(&town.beads_dir(), ctx()).unwrap();
        (town, store)
    }

    #[test]
    fn session_names_resolve_to_the_agents_that_run_in_them() {
        let dir = tempfile::tempdir().unwrap();
        let (town, mut store) = town_with_rig(dir.path());
        let session = beads::PolecatUpdate {
            session: Some("gt-furiosa".into()),
            ..Default::default()
        };
        store
            .upsert_polecat("gastown", "furiosa", &session)
            .unwrap();
        let of = |s: &str| address_of_session(&town, Some(&store), s);
        assert_eq!(of("hq-mayor").unwrap(), Address::Mayor);
        assert_eq!(of("hq-deacon").unwrap(), Address::Deacon);
        assert_eq!(
            of("gt-furiosa").unwrap().canonical(),
            "gastown/polecats/furiosa"
        );
        assert_eq!(of("gt-crew-max").unwrap().canonical(), "gastown/crew/max");
        // And back: the address names the same session.
        let back = session_of(&town, Some(&store), &of("gt-furiosa").unwrap()).unwrap();
        assert_eq!(back.0, "gt-furiosa");
        let crew = session_of(&town, Some(&store), &of("gt-crew-max").unwrap()).unwrap();
        assert_eq!(crew.0, "gt-crew-max");
        assert!(matches!(
            of("gt-nobody"),
            Err(NudgeError::UnknownSession { session }) if session == "gt-nobody"
        ));
        assert!(matches!(
            of("gt furiosa"),
            Err(NudgeError::InvalidSession { .. })
        ));
    }
}
