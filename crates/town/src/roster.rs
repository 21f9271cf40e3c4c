//! The town's agents and where their sessions are.
//!
//! Every agent is an [`Address`] with a session name (upstream's, see [`Address::session`]):
//! the mayor `hq-mayor` and the deacon `hq-deacon`; a crew member `<prefix>-crew-<name>`, one
//! per `<rig>/crew/<name>` directory; a polecat whatever its store row records (with the
//! runtime it was started in). The witness and refinery are services inside the daemon and the
//! overseer is a person, so they have none. `gt agents`, `gt session`, `gt peek` and
//! `gt nudge` find sessions here.

use std::fmt;

use serde::Serialize;

use beads::Store;

use crate::address::Address;
use crate::layout::{RigPaths, Town};

/// What kind of agent a member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Mayor,
    Deacon,
    Crew,
    Polecat,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Mayor => "mayor",
            Self::Deacon => "deacon",
            Self::Crew => "crew",
            Self::Polecat => "polecat",
        })
    }
}

/// One agent of the town and its session.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub address: Address,
    pub role: Role,
    /// The town's name for its session (`hq-mayor`, `gt-furiosa`).
    pub session: String,
    /// The runtime its session was started in, as its polecat row records it; empty when
    /// nothing records it (the mayor, the deacon, crew): see [`crate::runtime::Runtimes::find`].
    pub runtime: String,
    /// A polecat's row.
    pub polecat: Option<beads::Polecat>,
}

/// An address that names no agent session, or a town that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum RosterError {
    /// The address is not an agent with a session (a service, a person, a group, a polecat
    /// the town does not have).
    #[error("`{target}` has no agent session: {why}")]
    NoSession { target: String, why: String },
    #[error(transparent)]
    Store(#[from] beads::Error),
    #[error(transparent)]
    Rig(#[from] crate::rig::RigError),
    #[error(transparent)]
    File(#[from] crate::files::FileError),
}

/// The member `target` names. `store` is read only for a polecat, so a town without one can
/// still find its mayor.
pub fn locate(town: &Town, store: Option<&Store>, target: &Address) -> Result<Member, RosterError> {
    let no_session = |why: &str| RosterError::NoSession {
        target: target.canonical(),
        why: why.to_owned(),
    };
    let fixed = |role, session: &str| Member {
        address: target.clone(),
        role,
        session: session.to_owned(),
        runtime: String::new(),
        polecat: None,
    };
    match target {
        Address::Witness { .. } | Address::Refinery { .. } => Err(no_session(
            "the witness and the refinery are services inside the daemon; send them mail",
        )),
        Address::Overseer => Err(no_session("the overseer is a person")),
        Address::List { .. } | Address::Queue { .. } | Address::Town | Address::Rig { .. } => {
            Err(no_session("it names a group, not one agent"))
        }
        Address::Mayor => Ok(fixed(Role::Mayor, MAYOR_SESSION)),
        Address::Deacon => Ok(fixed(Role::Deacon, DEACON_SESSION)),
        Address::Crew { rig, name } => {
            let prefix = crate::rig::entry(town, rig)?.beads.prefix;
            Ok(Member {
                session: crew_session(&prefix, name),
                ..fixed(Role::Crew, "")
            })
        }
        Address::Polecat { rig, name } => {
            let store = store.ok_or_else(|| no_session("the town has no store"))?;
            let row = store.polecat(rig, name)?.ok_or_else(|| {
                no_session("the town has no polecat of that name (`gt polecat list`)")
            })?;
            Ok(polecat(row))
        }
    }
}

/// Every agent the town has: the mayor, then each rig's crew (a directory each), then the
/// polecats (store rows), by rig and name. The deacon runs inside the daemon here, so it is
/// not listed; a session it has anyway shows in [`crate::runtime::Runtimes::sessions`].
pub fn members(town: &Town, store: &Store) -> Result<Vec<Member>, RosterError> {
    let mut members = vec![locate(town, None, &Address::Mayor)?];
    for (rig, entry) in town.rigs()?.rigs {
        for name in RigPaths::new(town, &rig).crew_names()? {
            members.push(Member {
                session: crew_session(&entry.beads.prefix, &name),
                address: Address::Crew {
                    rig: rig.clone(),
                    name,
                },
                role: Role::Crew,
                runtime: String::new(),
                polecat: None,
            });
        }
    }
    members.extend(store.polecats(None)?.into_iter().map(polecat));
    Ok(members)
}

/// The mayor's session.
pub const MAYOR_SESSION: &str = "hq-mayor";
/// The deacon's session, when it runs as an agent.
pub const DEACON_SESSION: &str = "hq-deacon";

fn crew_session(prefix: &str, name: &str) -> String {
    format!("{prefix}-crew-{name}")
}

fn polecat(row: beads::Polecat) -> Member {
    Member {
        address: Address::Polecat {
            rig: row.rig.clone(),
            name: row.name.clone(),
        },
        role: Role::Polecat,
        session: row.session.clone(),
        runtime: row.runtime.clone(),
        polecat: Some(row),
    }
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

    /// A town with rig `app` (prefix `ap`), crew `max` and polecat `nux`.
    fn town(dir: &std::path::Path) -> (Town, Store) {
        let town = crate::install::test_town(dir, ctx());
        let mut rigs = town.rigs().unwrap();
        rigs.rigs.insert(
            "app".into(),
            serde_json::from_value(serde_json::json!({
                "git_url": "file:///nowhere", "added_at": "2026-01-01T00:00:00Z",
                "beads": {"prefix": "ap"}
            }))
            .unwrap(),
        );
        crate::files::write_json(&town.rigs_json(), &rigs).unwrap();
        std::fs::create_dir_all(RigPaths::new(&town, "app").crew_dir().join("max")).unwrap();
        let mut store = Store::open(&town.beads_dir(), ctx()).unwrap();
        store
            .upsert_polecat(
                "app",
                "nux",
                &beads::PolecatUpdate {
                    session: Some("ap-nux".into()),
                    runtime: Some("subprocess".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        (town, store)
    }

    #[test]
    fn every_agent_with_its_session() {
        let dir = tempfile::tempdir().unwrap();
        let (town, store) = town(dir.path());
        let found: Vec<(String, Role, String, String)> = members(&town, &store)
            .unwrap()
            .into_iter()
            .map(|m| (m.address.canonical(), m.role, m.session, m.runtime))
            .collect();
        let row = |a: &str, r, s: &str, k: &str| (a.to_owned(), r, s.to_owned(), k.to_owned());
        assert_eq!(
            found,
            [
                row("mayor/", Role::Mayor, "hq-mayor", ""),
                row("app/crew/max", Role::Crew, "ap-crew-max", ""),
                row("app/polecats/nux", Role::Polecat, "ap-nux", "subprocess"),
            ]
        );
        let nux = locate(&town, Some(&store), &Address::parse("app/nux").unwrap()).unwrap();
        assert_eq!(nux.polecat.unwrap().name, "nux");
        let deacon = locate(&town, None, &Address::Deacon).unwrap();
        assert_eq!(
            (deacon.role, deacon.session.as_str()),
            (Role::Deacon, "hq-deacon")
        );
    }

    #[test]
    fn addresses_without_a_session_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let (town, store) = town(dir.path());
        for (text, why) in [
            ("app/witness", "services inside the daemon"),
            ("overseer", "a person"),
            ("@town", "a group"),
            ("list:oncall", "a group"),
            ("app/polecats/ghost", "no polecat of that name"),
        ] {
            let err = locate(&town, Some(&store), &Address::parse(text).unwrap()).unwrap_err();
            let msg = err.to_string();
            assert!(
                matches!(err, RosterError::NoSession { .. }),
                "{text}: {err:?}"
            );
            assert!(
                msg.contains(why) && msg.contains("has no agent session"),
                "{text}: {msg}"
            );
        }
        let err = locate(&town, None, &Address::parse("nowhere/crew/max").unwrap()).unwrap_err();
        assert!(
            matches!(err, RosterError::Rig(crate::rig::RigError::NotFound(_))),
            "{err:?}"
        );
    }
}
