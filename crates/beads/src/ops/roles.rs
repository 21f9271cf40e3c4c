//! The town's long-lived agents, the mayor and crew: one `role_agents` row each, saying what
//! the human wants (`desired`), which start is current (`generation`) and what the last start
//! found. Every change is one transaction with its `role_*` event under `role:<address>`.

use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::ops::event;
use crate::state::{Desired, RoleKind};
use crate::store::Store;

const COLUMNS: &str = "address, role, rig, session, runtime, agent, desired, generation, pid, \
                       started_at, restarts, last_error, updated_at";

/// One long-lived agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleAgent {
    /// `mayor/` or `<rig>/crew/<name>`.
    pub address: String,
    pub role: RoleKind,
    /// Empty for the mayor.
    pub rig: String,
    /// The logical session name (`hq-mayor`, `gt-crew-max`).
    pub session: String,
    /// The runtime its current session was started in (empty: never started).
    pub runtime: String,
    /// The preset its current session runs.
    pub agent: String,
    pub desired: Desired,
    /// How many starts there have been; the current session is the latest.
    pub generation: i64,
    pub pid: Option<i64>,
    pub started_at: Option<String>,
    /// Restarts by the daemon since the agent last ran long enough to count as healthy.
    pub restarts: i64,
    /// Why the latest start failed (empty when it did not).
    pub last_error: String,
    pub updated_at: String,
}

/// Who a new row is for.
#[derive(Debug, Clone, Copy)]
pub struct NewRoleAgent<'a> {
    pub address: &'a str,
    pub role: RoleKind,
    pub rig: &'a str,
    pub session: &'a str,
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<RoleAgent> {
    Ok(RoleAgent {
        address: r.get(0)?,
        role: r.get(1)?,
        rig: r.get(2)?,
        session: r.get(3)?,
        runtime: r.get(4)?,
        agent: r.get(5)?,
        desired: r.get(6)?,
        generation: r.get(7)?,
        pid: r.get(8)?,
        started_at: r.get(9)?,
        restarts: r.get(10)?,
        last_error: r.get(11)?,
        updated_at: r.get(12)?,
    })
}

/// The `events.issue_id` of a long-lived agent's events.
pub fn role_key(address: &str) -> String {
    format!("role:{address}")
}

fn fetch(conn: &rusqlite::Connection, address: &str) -> Result<Option<RoleAgent>> {
    let sql = format!("SELECT {COLUMNS} FROM role_agents WHERE address = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([address], from_row)
        .optional()?)
}

fn not_found(address: &str) -> Error {
    Error::NotFound {
        id: role_key(address),
    }
}

impl Store {
    /// The row of `address`, if it was ever registered.
    pub fn role_agent(&self, address: &str) -> Result<Option<RoleAgent>> {
        fetch(self.conn(), address)
    }

    /// Every long-lived agent, by address.
    pub fn role_agents(&self) -> Result<Vec<RoleAgent>> {
        let sql = format!("SELECT {COLUMNS} FROM role_agents ORDER BY address");
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt.query_map([], from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Registers the agent if it is new, then sets what its human wants. Returns the row.
    pub fn set_role_desired(
        &mut self,
        agent: &NewRoleAgent<'_>,
        desired: Desired,
    ) -> Result<RoleAgent> {
        if agent.address.is_empty() || agent.session.is_empty() {
            return Err(Error::invalid(
                "address",
                "a long-lived agent needs an address and a session",
            ));
        }
        self.write(|tx, w| {
            tx.prepare_cached(
                "INSERT INTO role_agents (address, role, rig, session, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (address) DO NOTHING",
            )?
            .execute(params![
                agent.address,
                agent.role,
                agent.rig,
                agent.session,
                w.now
            ])?;
            let before = fetch(tx, agent.address)?.ok_or_else(|| not_found(agent.address))?;
            if before.desired != desired {
                tx.prepare_cached(
                    "UPDATE role_agents SET desired = ?2, updated_at = ?3 WHERE address = ?1",
                )?
                .execute(params![agent.address, desired, w.now])?;
                event(
                    tx,
                    w,
                    &role_key(agent.address),
                    "role_desired",
                    Some(before.desired.as_str()),
                    Some(desired.as_str()),
                    None,
                )?;
            }
            fetch(tx, agent.address)?.ok_or_else(|| not_found(agent.address))
        })
    }

    /// A start of `address` begins: the next generation, with its preset and runtime, no pid
    /// yet. A `restart` (by the daemon) counts towards the crash-loop breaker; any other start
    /// resets the count. `happenings` (a handoff) are written in the same transaction, with the
    /// new generation. Returns the row with the new generation.
    pub fn begin_role_start(
        &mut self,
        address: &str,
        agent: &str,
        runtime: &str,
        restart: bool,
        happenings: &[crate::GenerationHappening],
    ) -> Result<RoleAgent> {
        crate::ops::happenings::check_all(happenings)?;
        self.write(|tx, w| {
            let changed = tx
                .prepare_cached(
                    "UPDATE role_agents SET generation = generation + 1, agent = ?2, runtime = ?3,
                        pid = NULL, started_at = ?4, last_error = '',
                        restarts = CASE WHEN ?5 THEN restarts + 1 ELSE 0 END, updated_at = ?4
                     WHERE address = ?1",
                )?
                .execute(params![address, agent, runtime, w.now, restart])?;
            if changed == 0 {
                return Err(not_found(address));
            }
            let row = fetch(tx, address)?.ok_or_else(|| not_found(address))?;
            let generation = row.generation.to_string();
            let kind = if restart {
                "role_restarted"
            } else {
                "role_started"
            };
            event(
                tx,
                w,
                &role_key(address),
                kind,
                None,
                Some(&generation),
                Some(agent),
            )?;
            crate::ops::happenings::write_with_generation(tx, w, happenings, row.generation)?;
            Ok(row)
        })
    }

    /// Records the agent's pid, if `generation` is still the current start (a slow start
    /// never overwrites a newer one's). Returns whether it did.
    pub fn record_role_pid(&mut self, address: &str, generation: i64, pid: i64) -> Result<bool> {
        self.write(|tx, w| {
            Ok(tx
                .prepare_cached(
                    "UPDATE role_agents SET pid = ?3, updated_at = ?4
                     WHERE address = ?1 AND generation = ?2",
                )?
                .execute(params![address, generation, pid, w.now])?
                == 1)
        })
    }

    /// Records why start `generation` failed (if it is still the current one).
    pub fn record_role_error(
        &mut self,
        address: &str,
        generation: i64,
        error: &str,
    ) -> Result<bool> {
        self.write(|tx, w| {
            let changed = tx
                .prepare_cached(
                    "UPDATE role_agents SET last_error = ?3, pid = NULL, updated_at = ?4
                     WHERE address = ?1 AND generation = ?2",
                )?
                .execute(params![address, generation, error, w.now])?;
            if changed == 1 {
                event(
                    tx,
                    w,
                    &role_key(address),
                    "role_failed",
                    None,
                    None,
                    Some(error),
                )?;
            }
            Ok(changed == 1)
        })
    }

    /// The agent ran long enough to count as healthy: its restart count starts over.
    pub fn reset_role_restarts(&mut self, address: &str) -> Result<()> {
        self.write(|tx, w| {
            tx.prepare_cached(
                "UPDATE role_agents SET restarts = 0, updated_at = ?2
                 WHERE address = ?1 AND restarts != 0",
            )?
            .execute(params![address, w.now])?;
            Ok(())
        })
    }

    /// Moves every agent of `role` (every role when `None`) desired `from` to `to`, in one
    /// transaction, with an event each. Returns their addresses. `gt down` holds the running
    /// ones; `gt up` releases the held ones.
    pub fn move_role_agents(
        &mut self,
        role: Option<RoleKind>,
        from: Desired,
        to: Desired,
    ) -> Result<Vec<String>> {
        self.write(|tx, w| {
            let addresses: Vec<String> = tx
                .prepare_cached(
                    "SELECT address FROM role_agents
                     WHERE desired = ?1 AND (?2 IS NULL OR role = ?2) ORDER BY address",
                )?
                .query_map(params![from, role], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for address in &addresses {
                tx.prepare_cached(
                    "UPDATE role_agents SET desired = ?2, updated_at = ?3 WHERE address = ?1",
                )?
                .execute(params![address, to, w.now])?;
                event(
                    tx,
                    w,
                    &role_key(address),
                    "role_desired",
                    Some(from.as_str()),
                    Some(to.as_str()),
                    None,
                )?;
            }
            Ok(addresses)
        })
    }

    /// Forgets a long-lived agent (a removed crew member). Returns whether it existed.
    pub fn delete_role_agent(&mut self, address: &str) -> Result<bool> {
        self.write(|tx, w| {
            let gone = tx
                .prepare_cached("DELETE FROM role_agents WHERE address = ?1")?
                .execute([address])?
                == 1;
            if gone {
                event(tx, w, &role_key(address), "role_deleted", None, None, None)?;
            }
            Ok(gone)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        crate::store::test_store("gt", "2026-01-01T00:00:00Z")
    }

    const MAYOR: NewRoleAgent<'static> = NewRoleAgent {
        address: "mayor/",
        role: RoleKind::Mayor,
        rig: "",
        session: "hq-mayor",
    };

    #[test]
    fn a_start_is_a_new_generation_and_a_stale_start_cannot_record_its_pid() {
        let (_d, mut s) = store();
        let row = s.set_role_desired(&MAYOR, Desired::Running).unwrap();
        assert_eq!((row.generation, row.desired), (0, Desired::Running));
        let first = s
            .begin_role_start("mayor/", "claude", "tmux", false, &[])
            .unwrap();
        let second = s
            .begin_role_start("mayor/", "claude", "tmux", true, &[])
            .unwrap();
        assert_eq!((first.generation, second.generation), (1, 2));
        assert_eq!(second.restarts, 1);
        assert!(!s.record_role_pid("mayor/", 1, 41).unwrap());
        assert!(s.record_role_pid("mayor/", 2, 42).unwrap());
        assert!(!s.record_role_error("mayor/", 1, "late").unwrap());
        let row = s.role_agent("mayor/").unwrap().unwrap();
        assert_eq!((row.pid, row.last_error.as_str()), (Some(42), ""));
        s.begin_role_start("mayor/", "claude", "tmux", false, &[])
            .unwrap();
        assert_eq!(s.role_agent("mayor/").unwrap().unwrap().restarts, 0);
    }

    #[test]
    fn down_holds_the_running_and_up_releases_them() {
        let (_d, mut s) = store();
        s.set_role_desired(&MAYOR, Desired::Running).unwrap();
        let crew = NewRoleAgent {
            address: "gastown/crew/max",
            role: RoleKind::Crew,
            rig: "gastown",
            session: "gt-crew-max",
        };
        s.set_role_desired(&crew, Desired::Running).unwrap();
        let held = s
            .move_role_agents(None, Desired::Running, Desired::Held)
            .unwrap();
        assert_eq!(held, ["gastown/crew/max", "mayor/"]);
        let back = s
            .move_role_agents(Some(RoleKind::Mayor), Desired::Held, Desired::Running)
            .unwrap();
        assert_eq!(back, ["mayor/"]);
        assert_eq!(
            s.role_agent("gastown/crew/max").unwrap().unwrap().desired,
            Desired::Held
        );
        assert!(s.delete_role_agent("gastown/crew/max").unwrap());
        assert!(!s.delete_role_agent("gastown/crew/max").unwrap());
        assert!(matches!(
            s.begin_role_start("gastown/crew/max", "claude", "tmux", false, &[]),
            Err(Error::NotFound { .. })
        ));
    }
}
