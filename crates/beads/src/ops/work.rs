//! Typed state of workers: polecats, the respawn breaker, and checkpoints of resumable
//! commands (`gt sling`, `gt done`).

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, Row};
use serde::Serialize;

use crate::error::{Error, Result};
pub use crate::state::PolecatState;
use crate::store::{Store, WriteCtx};

/// A polecat's lifecycle: spawning → working → idle (→ spawning again) → nuked; stuck when it
/// asked for help.
pub const POLECAT_STATES: &[PolecatState] = PolecatState::ALL;

/// A named change of a polecat's state, besides admission ([`Store::admit_polecat`]) and the
/// undo of one ([`Store::restore_polecat`]): where it may start and where it goes. Each is a
/// compare-and-set that writes one `polecat_*` event and fails with
/// [`Error::InvalidTransition`] when the polecat is elsewhere (or gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolecatTransition {
    /// Its agent started: spawning → working.
    MarkWorking,
    /// Its agent finished (`gt done`: submitted, no change, deferred): → idle with no bead.
    /// Idle already is allowed, so a resumed `gt done` can run it again.
    Finish,
    /// Its agent asked for help (`gt done --status escalated`): → stuck.
    MarkStuck,
}

impl PolecatTransition {
    /// The states this transition starts from.
    pub fn allowed_from(self) -> &'static [PolecatState] {
        use PolecatState as S;
        match self {
            Self::MarkWorking => &[S::Spawning],
            Self::Finish => &[S::Spawning, S::Working, S::Stuck, S::Idle],
            Self::MarkStuck => &[S::Spawning, S::Working, S::Stuck],
        }
    }

    /// The state it moves to.
    pub fn to(self) -> PolecatState {
        match self {
            Self::MarkWorking => PolecatState::Working,
            Self::Finish => PolecatState::Idle,
            Self::MarkStuck => PolecatState::Stuck,
        }
    }

    /// The verb, for errors.
    pub fn action(self) -> &'static str {
        match self {
            Self::MarkWorking => "mark working",
            Self::Finish => "finish",
            Self::MarkStuck => "mark stuck",
        }
    }

    /// The `events` row's type.
    pub fn event_type(self) -> &'static str {
        match self {
            Self::MarkWorking => "polecat_working",
            Self::Finish => "polecat_idle",
            Self::MarkStuck => "polecat_stuck",
        }
    }
}

/// A polecat: one worker with its worktree, branch and agent session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Polecat {
    pub rig: String,
    pub name: String,
    pub state: PolecatState,
    /// Bumped on every spawn, so messages from an older session can be told apart.
    pub generation: i64,
    /// The hooked bead (empty when idle).
    pub bead_id: String,
    pub branch: String,
    pub worktree: String,
    pub session: String,
    pub agent: String,
    pub runtime: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
}

const POLECAT_COLUMNS: &str = "rig, name, state, generation, bead_id, branch, worktree, session, agent, runtime, pid, created_at, updated_at";

fn polecat_from_row(r: &Row<'_>) -> rusqlite::Result<Polecat> {
    Ok(Polecat {
        rig: r.get(0)?,
        name: r.get(1)?,
        state: r.get(2)?,
        generation: r.get(3)?,
        bead_id: r.get(4)?,
        branch: r.get(5)?,
        worktree: r.get(6)?,
        session: r.get(7)?,
        agent: r.get(8)?,
        runtime: r.get(9)?,
        pid: r.get(10)?,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
    })
}

/// Fields to set on a polecat; `None` keeps the stored value. The state is not among them:
/// it changes only through the named transitions.
#[derive(Debug, Clone, Default)]
pub struct PolecatUpdate {
    pub bead_id: Option<String>,
    pub branch: Option<String>,
    pub worktree: Option<String>,
    pub session: Option<String>,
    pub agent: Option<String>,
    pub runtime: Option<String>,
    pub pid: Option<Option<i64>>,
    /// Start a new generation (a new session).
    pub new_generation: bool,
    /// Happenings written in the update's own transaction (the sling that made a new
    /// generation, a witness restart, a handoff): the stream records them exactly when the row
    /// changed.
    pub happenings: Vec<crate::GenerationHappening>,
}

/// The outcome of [`Store::admit_polecat`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// The polecat is now `spawning` on the bead. `before` is its row as it was (`None`: it
    /// was created now), for undoing exactly this admission.
    Admitted { before: Option<Polecat> },
    /// The polecat holds another bead (or is busy without one).
    Taken(Polecat),
    /// Starting one more would pass a cap: this many polecats are working (or waiting ahead in
    /// the scheduler's queue) where it counts.
    AtCap { working: i64, scope: CapScope },
}

/// Which cap an admission met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapScope {
    Town,
    Rig,
}

/// The limits an admission is checked against, in its own transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Polecats spawning or working in the whole town.
    pub town: i64,
    /// Polecats spawning or working in the polecat's rig; 0 is no limit.
    pub rig: i64,
    /// Beads waiting in the scheduler's queue (ready to run) go first: they count against the
    /// town cap. Set for a new `gt sling`, not for the scheduler dispatching the queue.
    pub behind_queue: bool,
}

impl Caps {
    /// Only a town cap.
    pub fn town(cap: i64) -> Self {
        Self {
            town: cap,
            rig: 0,
            behind_queue: false,
        }
    }
}

impl Store {
    /// Reserves polecat `rig/name` for `bead` in one transaction: it must be missing, idle or
    /// nuked with no bead, or already hold `bead` (a restart, or a resumed `gt sling`); and,
    /// unless it already holds the bead, the caps must leave room for one more. Concurrent
    /// admissions are serialized by the write lock, so the caps are exact and no polecat is
    /// ever given two beads.
    pub fn admit_polecat(
        &mut self,
        rig: &str,
        name: &str,
        bead: &str,
        caps: Caps,
    ) -> Result<Admission> {
        self.write(|tx, w| {
            let sql =
                format!("SELECT {POLECAT_COLUMNS} FROM polecats WHERE rig = ?1 AND name = ?2");
            let before = tx
                .prepare_cached(&sql)?
                .query_row([rig, name], polecat_from_row)
                .optional()?;
            let holds_bead = before.as_ref().is_some_and(|p| p.bead_id == bead);
            if let Some(p) = &before
                && !holds_bead
                && !(matches!(p.state, PolecatState::Idle | PolecatState::Nuked)
                    && p.bead_id.is_empty())
            {
                return Ok(Admission::Taken(p.clone()));
            }
            if !holds_bead && let Some(at_cap) = at_cap(tx, rig, bead, caps)? {
                return Ok(at_cap);
            }
            tx.prepare_cached(
                "INSERT INTO polecats (rig, name, state, bead_id, created_at, updated_at)
                 VALUES (?1, ?2, 'spawning', ?3, ?4, ?4)
                 ON CONFLICT (rig, name) DO UPDATE SET state = 'spawning', bead_id = ?3, updated_at = ?4",
            )?
            .execute([rig, name, bead, w.now])?;
            let from = before.as_ref().map(|p| p.state.as_str());
            crate::ops::event(tx, w, &polecat_key(rig, name), "polecat_spawning", from, Some("spawning"), None)?;
            Ok(Admission::Admitted { before })
        })
    }

    /// Puts a polecat back as `before` was (or forgets it when `before` is `None`), but only
    /// while it still holds `bead`: an admission's undo never touches a polecat that has
    /// since moved on (its agent finished, or it was nuked and reused). Returns whether it did.
    pub fn restore_polecat(
        &mut self,
        rig: &str,
        name: &str,
        bead: &str,
        before: Option<&Polecat>,
    ) -> Result<bool> {
        self.write(|tx, w| {
            let n = match before {
                None => tx
                    .prepare_cached(
                        "DELETE FROM polecats WHERE rig = ?1 AND name = ?2 AND bead_id = ?3",
                    )?
                    .execute([rig, name, bead])?,
                Some(p) => tx
                    .prepare_cached(
                        "UPDATE polecats SET state = ?4, bead_id = ?5, branch = ?6, worktree = ?7,
                            session = ?8, agent = ?9, runtime = ?10, pid = ?11, updated_at = ?12
                         WHERE rig = ?1 AND name = ?2 AND bead_id = ?3",
                    )?
                    .execute(rusqlite::params![
                        rig, name, bead, p.state, p.bead_id, p.branch, p.worktree, p.session,
                        p.agent, p.runtime, p.pid, w.now
                    ])?,
            };
            if n > 0 {
                let to = before.map(|p| p.state.as_str());
                let kind = if before.is_some() {
                    "polecat_restored"
                } else {
                    "polecat_removed"
                };
                crate::ops::event(tx, w, &polecat_key(rig, name), kind, None, to, None)?;
            }
            Ok(n > 0)
        })
    }

    /// One polecat.
    pub fn polecat(&self, rig: &str, name: &str) -> Result<Option<Polecat>> {
        let sql = format!("SELECT {POLECAT_COLUMNS} FROM polecats WHERE rig = ?1 AND name = ?2");
        Ok(self
            .conn()
            .prepare_cached(&sql)?
            .query_row([rig, name], polecat_from_row)
            .optional()?)
    }

    /// Polecats of a rig (or of every rig), by rig and name.
    pub fn polecats(&self, rig: Option<&str>) -> Result<Vec<Polecat>> {
        let sql = format!(
            "SELECT {POLECAT_COLUMNS} FROM polecats WHERE ?1 IS NULL OR rig = ?1 ORDER BY rig, name"
        );
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt.query_map([rig], polecat_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Polecats in a working state across the town (spawning or working): the cap counts these.
    pub fn working_polecats(&self) -> Result<i64> {
        Ok(self
            .conn()
            .prepare_cached(&format!(
                "SELECT count(*) FROM polecats WHERE state IN ({})",
                crate::state::sql_list(PolecatState::BUSY)
            ))?
            .query_row([], |r| r.get(0))?)
    }

    /// Creates the polecat if missing, then applies `update`, in one transaction. Returns it.
    pub fn upsert_polecat(
        &mut self,
        rig: &str,
        name: &str,
        update: &PolecatUpdate,
    ) -> Result<Polecat> {
        crate::ops::happenings::check_all(&update.happenings)?;
        self.write(|tx, w| {
            tx.prepare_cached(
                "INSERT INTO polecats (rig, name, state, created_at, updated_at) VALUES (?1, ?2, 'spawning', ?3, ?3)
                 ON CONFLICT (rig, name) DO NOTHING",
            )?
            .execute([rig, name, w.now])?;
            tx.prepare_cached(
                "UPDATE polecats SET
                    bead_id = COALESCE(?3, bead_id), branch = COALESCE(?4, branch),
                    worktree = COALESCE(?5, worktree), session = COALESCE(?6, session), agent = COALESCE(?7, agent),
                    runtime = COALESCE(?8, runtime), pid = CASE WHEN ?9 THEN ?10 ELSE pid END,
                    generation = generation + ?11, updated_at = ?12
                 WHERE rig = ?1 AND name = ?2",
            )?
            .execute(rusqlite::params![
                rig,
                name,
                update.bead_id,
                update.branch,
                update.worktree,
                update.session,
                update.agent,
                update.runtime,
                update.pid.is_some(),
                update.pid.flatten(),
                i64::from(update.new_generation),
                w.now
            ])?;
            crate::ops::event(tx, w, &polecat_key(rig, name), "polecat_updated", None, None, None)?;
            let sql = format!("SELECT {POLECAT_COLUMNS} FROM polecats WHERE rig = ?1 AND name = ?2");
            let row = tx.prepare_cached(&sql)?.query_row([rig, name], polecat_from_row)?;
            crate::ops::happenings::write_with_generation(tx, w, &update.happenings, row.generation)?;
            Ok(row)
        })
    }

    /// Its agent started: spawning → working. Fails if the polecat is elsewhere (its agent
    /// already finished, say).
    pub fn mark_polecat_working(&mut self, rig: &str, name: &str) -> Result<Polecat> {
        self.write(|tx, w| move_polecat_in_tx(tx, w, rig, name, PolecatTransition::MarkWorking))
    }

    /// Its agent finished: → idle, holding no bead (from spawning, working, stuck, or idle
    /// already).
    pub fn finish_polecat(&mut self, rig: &str, name: &str) -> Result<Polecat> {
        self.write(|tx, w| move_polecat_in_tx(tx, w, rig, name, PolecatTransition::Finish))
    }

    /// Its agent asked for help: → stuck, keeping its bead.
    pub fn mark_polecat_stuck(&mut self, rig: &str, name: &str) -> Result<Polecat> {
        self.write(|tx, w| move_polecat_in_tx(tx, w, rig, name, PolecatTransition::MarkStuck))
    }

    /// Forgets a polecat (after its worktree and session are gone).
    pub fn delete_polecat(&mut self, rig: &str, name: &str) -> Result<bool> {
        self.write(|tx, w| {
            let n = tx
                .prepare_cached("DELETE FROM polecats WHERE rig = ?1 AND name = ?2")?
                .execute([rig, name])?;
            if n > 0 {
                crate::ops::event(
                    tx,
                    w,
                    &polecat_key(rig, name),
                    "polecat_removed",
                    None,
                    None,
                    None,
                )?;
            }
            Ok(n > 0)
        })
    }

    /// Counts one more spawn for a bead and returns the new count (the respawn breaker).
    pub fn bump_respawns(&mut self, bead: &str) -> Result<i64> {
        self.write(|tx, _| {
            tx.prepare_cached(
                "INSERT INTO respawns (bead_id, count) VALUES (?1, 1)
                 ON CONFLICT (bead_id) DO UPDATE SET count = count + 1",
            )?
            .execute([bead])?;
            Ok(tx
                .prepare_cached("SELECT count FROM respawns WHERE bead_id = ?1")?
                .query_row([bead], |r| r.get(0))?)
        })
    }

    /// How many times a bead has been spawned.
    pub fn respawns(&self, bead: &str) -> Result<i64> {
        Ok(self
            .conn()
            .prepare_cached("SELECT count FROM respawns WHERE bead_id = ?1")?
            .query_row([bead], |r| r.get(0))
            .optional()?
            .unwrap_or(0))
    }

    /// Records that `step` of the command identified by `scope` is done (idempotent).
    pub fn checkpoint(&mut self, scope: &str, step: &str, value: &str) -> Result<()> {
        self.write(|tx, w| {
            tx.prepare_cached(
                "INSERT INTO checkpoints (scope, step, value, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (scope, step) DO UPDATE SET value = excluded.value",
            )?
            .execute([scope, step, value, w.now])?;
            Ok(())
        })
    }

    /// The steps done so far for `scope`, with their values.
    pub fn checkpoints(&self, scope: &str) -> Result<BTreeMap<String, String>> {
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT step, value FROM checkpoints WHERE scope = ?1")?;
        let rows = stmt.query_map([scope], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Forgets the given `steps` of `scope`, keeping its others (one statement).
    pub fn clear_checkpoint_steps(&mut self, scope: &str, steps: &[&str]) -> Result<()> {
        self.write(|tx, _| {
            let mut stmt =
                tx.prepare_cached("DELETE FROM checkpoints WHERE scope = ?1 AND step = ?2")?;
            for step in steps {
                stmt.execute([scope, step])?;
            }
            Ok(())
        })
    }

    /// Forgets the checkpoints of `scope` (the command finished).
    pub fn clear_checkpoints(&mut self, scope: &str) -> Result<()> {
        self.write(|tx, _| {
            tx.prepare_cached("DELETE FROM checkpoints WHERE scope = ?1")?
                .execute([scope])?;
            Ok(())
        })
    }
}

/// The `events.issue_id` of a polecat's events.
/// The `events.issue_id` of a polecat's transitions.
pub fn polecat_key(rig: &str, name: &str) -> String {
    format!("polecat:{rig}/{name}")
}

/// One polecat transition as a compare-and-set, with its event.
fn move_polecat_in_tx(
    tx: &Connection,
    w: &WriteCtx<'_>,
    rig: &str,
    name: &str,
    t: PolecatTransition,
) -> Result<Polecat> {
    let get = format!("SELECT {POLECAT_COLUMNS} FROM polecats WHERE rig = ?1 AND name = ?2");
    let from = tx
        .prepare_cached(&get)?
        .query_row([rig, name], polecat_from_row)
        .optional()?
        .map(|p| p.state);
    let to = t.to();
    // Finishing lets go of the bead; the other transitions keep it.
    let sql = format!(
        "UPDATE polecats SET state = ?3, bead_id = CASE WHEN ?4 THEN '' ELSE bead_id END, updated_at = ?5
         WHERE rig = ?1 AND name = ?2 AND state IN ({}) RETURNING {POLECAT_COLUMNS}",
        crate::state::sql_list(t.allowed_from())
    );
    let moved = tx
        .prepare_cached(&sql)?
        .query_row(
            rusqlite::params![rig, name, to, t == PolecatTransition::Finish, w.now],
            polecat_from_row,
        )
        .optional()?;
    let Some(polecat) = moved else {
        return Err(Error::InvalidTransition {
            what: "polecat",
            id: format!("{rig}/{name}"),
            action: t.action(),
            from: from.map(PolecatState::as_str),
            to: to.as_str(),
            allowed: crate::error::either(
                &t.allowed_from()
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>(),
            ),
        });
    };
    crate::ops::event(
        tx,
        w,
        &polecat_key(rig, name),
        t.event_type(),
        from.map(PolecatState::as_str),
        Some(to.as_str()),
        None,
    )?;
    Ok(polecat)
}

/// Whether one more polecat for `bead` in `rig` would pass a cap (read inside the admission's
/// transaction).
fn at_cap(tx: &Connection, rig: &str, bead: &str, caps: Caps) -> Result<Option<Admission>> {
    let (town, in_rig): (i64, i64) = tx
        .prepare_cached(
            "SELECT count(*), count(*) FILTER (WHERE rig = ?1) FROM polecats
             WHERE state IN ('spawning', 'working')",
        )?
        .query_row([rig], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if caps.rig > 0 && in_rig >= caps.rig {
        return Ok(Some(Admission::AtCap {
            working: in_rig,
            scope: CapScope::Rig,
        }));
    }
    let waiting: i64 = if caps.behind_queue {
        tx.prepare_cached(
            "SELECT count(*) FROM sling_contexts c CROSS JOIN issues i ON i.id = c.bead_id
             WHERE c.state = 'queued' AND c.bead_id != ?1 AND i.is_blocked = 0
               AND i.status = 'open'",
        )?
        .query_row([bead], |r| r.get(0))?
    } else {
        0
    };
    Ok((town + waiting >= caps.town).then_some(Admission::AtCap {
        working: town + waiting,
        scope: CapScope::Town,
    }))
}
