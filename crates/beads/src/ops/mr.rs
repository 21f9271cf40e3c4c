//! Merge requests: what `gt done` submits and the refinery lands.
//!
//! Lifecycle: queued → testing → merged | conflict | failed; any open one becomes superseded
//! when a newer one for the same bead arrives, or rejected by hand. A request is unique on
//! (branch, SHA): submitting the same commit twice returns the first.
//!
//! Every state change is one of the named transitions of [`MrTransition`], a compare-and-set
//! (`UPDATE … WHERE id = ? AND state IN (…)`) that writes one `mr_*` event on the request's
//! bead and fails with [`Error::InvalidTransition`] when another writer moved the request
//! first. The CLI, the refinery and anything else that moves requests share these rules.

use rusqlite::{Connection, OptionalExtension, Row};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::ops::update::CloseOptions;
pub use crate::state::MrState;
use crate::store::{Store, WriteCtx};

/// A named change of a merge request's state: where it may start and where it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MrTransition {
    /// The refinery put a queued request in a batch: queued → testing.
    StartTesting,
    /// A tested request goes back to the queue without counting a retry (behind a failing
    /// change, the target moved, the refinery restarted): testing → queued.
    Requeue,
    /// A failed or conflicted request goes back to the queue (by hand): → queued, `retries + 1`.
    Retry,
    /// Taken out of the queue, by hand or because it cannot be merged at all. A request being
    /// tested cannot be rejected: the refinery may be pushing it right now.
    Reject,
    /// A newer submission (or the bead's closing) replaced it.
    Supersede,
    /// It failed a gate: testing → failed.
    Fail,
    /// Its pre-check found conflicts with the target: queued → conflict.
    Conflict,
    /// It reached the target: testing → merged (only through [`Store::land_mrs`]).
    Land,
}

impl MrTransition {
    /// The states this transition starts from.
    pub fn allowed_from(self) -> &'static [MrState] {
        use MrState as S;
        match self {
            Self::StartTesting | Self::Conflict => &[S::Queued],
            Self::Requeue | Self::Fail | Self::Land => &[S::Testing],
            Self::Retry => &[S::Failed, S::Conflict],
            Self::Reject | Self::Supersede => &[S::Queued, S::Conflict, S::Failed],
        }
    }

    /// The state it moves to.
    pub fn to(self) -> MrState {
        match self {
            Self::StartTesting => MrState::Testing,
            Self::Requeue | Self::Retry => MrState::Queued,
            Self::Reject => MrState::Rejected,
            Self::Supersede => MrState::Superseded,
            Self::Fail => MrState::Failed,
            Self::Conflict => MrState::Conflict,
            Self::Land => MrState::Merged,
        }
    }

    /// Whether a request in `state` may take this transition.
    pub fn applies_to(self, state: MrState) -> bool {
        self.allowed_from().contains(&state)
    }

    /// The verb, for errors (`cannot retry merge request mr-3`).
    pub fn action(self) -> &'static str {
        match self {
            Self::StartTesting => "start testing",
            Self::Requeue => "requeue",
            Self::Retry => "retry",
            Self::Reject => "reject",
            Self::Supersede => "supersede",
            Self::Fail => "fail",
            Self::Conflict => "mark as conflicting",
            Self::Land => "land",
        }
    }

    /// The `events` row's type.
    pub fn event_type(self) -> &'static str {
        match self {
            Self::StartTesting => "mr_testing",
            Self::Requeue => "mr_requeued",
            Self::Retry => "mr_retried",
            Self::Reject => "mr_rejected",
            Self::Supersede => "mr_superseded",
            Self::Fail => "mr_failed",
            Self::Conflict => "mr_conflict",
            Self::Land => "mr_merged",
        }
    }

    fn counts_as_retry(self) -> bool {
        self == Self::Retry
    }
}

/// Every merge-request state, as stored.
pub const MR_STATES: &[MrState] = MrState::ALL;
/// States still waiting to land.
pub const MR_OPEN_STATES: &[MrState] = MrState::OPEN;

/// A merge request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MergeRequest {
    pub id: i64,
    pub rig: String,
    pub bead_id: String,
    pub branch: String,
    pub sha: String,
    pub target: String,
    pub polecat: String,
    pub state: MrState,
    pub priority: i64,
    pub retries: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub merged_sha: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    pub created_at: String,
    pub updated_at: String,
}

impl MergeRequest {
    /// The display id (`mr-12`).
    pub fn label(&self) -> String {
        format!("mr-{}", self.id)
    }
}

/// What `gt done` submits.
#[derive(Debug, Clone, Default)]
pub struct NewMergeRequest {
    pub rig: String,
    pub bead_id: String,
    pub branch: String,
    pub sha: String,
    pub target: String,
    pub polecat: String,
    pub priority: i64,
}

const MR_COLUMNS: &str = "id, rig, bead_id, branch, sha, target, polecat, state, priority, retries, merged_sha, reason, created_at, updated_at";

fn mr_from_row(r: &Row<'_>) -> rusqlite::Result<MergeRequest> {
    Ok(MergeRequest {
        id: r.get(0)?,
        rig: r.get(1)?,
        bead_id: r.get(2)?,
        branch: r.get(3)?,
        sha: r.get(4)?,
        target: r.get(5)?,
        polecat: r.get(6)?,
        state: r.get(7)?,
        priority: r.get(8)?,
        retries: r.get(9)?,
        merged_sha: r.get(10)?,
        reason: r.get(11)?,
        created_at: r.get(12)?,
        updated_at: r.get(13)?,
    })
}

/// Parses `mr-12` or `12`.
pub fn parse_mr_id(s: &str) -> Result<i64> {
    s.trim().trim_start_matches("mr-").parse().map_err(|_| {
        Error::invalid(
            "merge request",
            format!("`{s}` is not a merge request id (mr-12)"),
        )
    })
}

impl Store {
    /// Submits a merge request. The same (branch, SHA) returns the existing request (`false`);
    /// a new one supersedes every older open request for the same bead (`true`).
    pub fn submit_mr(&mut self, new: &NewMergeRequest) -> Result<(MergeRequest, bool)> {
        self.write(|tx, w| {
            let find = format!("SELECT {MR_COLUMNS} FROM merge_requests WHERE branch = ?1 AND sha = ?2");
            if let Some(existing) = tx.prepare_cached(&find)?.query_row([&new.branch, &new.sha], mr_from_row).optional()? {
                return Ok((existing, false));
            }
            let older: Vec<i64> = tx
                .prepare_cached(&format!(
                    "SELECT id FROM merge_requests WHERE bead_id = ?1 AND state IN ({}) ORDER BY id",
                    crate::state::sql_list(MrTransition::Supersede.allowed_from())
                ))?
                .query_map([&new.bead_id], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for id in older {
                move_in_tx(tx, w, id, MrTransition::Supersede, "superseded by a newer submission", "")?;
            }
            tx.prepare_cached(
                "INSERT INTO merge_requests (rig, bead_id, branch, sha, target, polecat, state, priority, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', ?7, ?8, ?8)",
            )?
            .execute(rusqlite::params![new.rig, new.bead_id, new.branch, new.sha, new.target, new.polecat, new.priority, w.now])?;
            let id = tx.last_insert_rowid();
            crate::ops::event(tx, w, &new.bead_id, "mr_submitted", None, Some(&format!("mr-{id}")), Some(&new.branch))?;
            let get = format!("SELECT {MR_COLUMNS} FROM merge_requests WHERE id = ?1");
            Ok((tx.prepare_cached(&get)?.query_row([id], mr_from_row)?, true))
        })
    }

    /// One merge request.
    pub fn mr(&self, id: i64) -> Result<MergeRequest> {
        let sql = format!("SELECT {MR_COLUMNS} FROM merge_requests WHERE id = ?1");
        self.conn()
            .prepare_cached(&sql)?
            .query_row([id], mr_from_row)
            .optional()?
            .ok_or_else(|| Error::NotFound {
                id: format!("mr-{id}"),
            })
    }

    /// Merge requests of a rig (or all), optionally in some states, oldest first.
    pub fn mrs(&self, rig: Option<&str>, states: &[MrState]) -> Result<Vec<MergeRequest>> {
        let states_json = serde_json::to_string(states).expect("states serialize");
        let sql = format!(
            "SELECT {MR_COLUMNS} FROM merge_requests WHERE (?1 IS NULL OR rig = ?1)
             AND (?2 = '[]' OR state IN (SELECT value FROM json_each(?2))) ORDER BY id"
        );
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params![rig, states_json], mr_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Puts a queued request in the batch being tested (queued → testing).
    pub fn start_testing_mr(&mut self, id: i64) -> Result<MergeRequest> {
        self.move_mr(id, MrTransition::StartTesting, "in a batch")
    }

    /// Sends a request being tested back to the queue, not counting a retry
    /// (testing → queued).
    pub fn requeue_mr(&mut self, id: i64, reason: &str) -> Result<MergeRequest> {
        self.move_mr(id, MrTransition::Requeue, reason)
    }

    /// Sends a failed or conflicted request back to the queue, counting a retry.
    pub fn retry_mr(&mut self, id: i64, reason: &str) -> Result<MergeRequest> {
        self.move_mr(id, MrTransition::Retry, reason)
    }

    /// Takes a queued, conflicted or failed request out of the queue for good.
    pub fn reject_mr(&mut self, id: i64, reason: &str) -> Result<MergeRequest> {
        self.move_mr(id, MrTransition::Reject, reason)
    }

    /// Marks a queued, conflicted or failed request replaced (its bead closed, say).
    pub fn supersede_mr(&mut self, id: i64, reason: &str) -> Result<MergeRequest> {
        self.move_mr(id, MrTransition::Supersede, reason)
    }

    /// Records that a request being tested failed a gate (testing → failed).
    pub fn fail_mr(&mut self, id: i64, reason: &str) -> Result<MergeRequest> {
        self.move_mr(id, MrTransition::Fail, reason)
    }

    /// Records that a queued request conflicts with the target (queued → conflict).
    pub fn conflict_mr(&mut self, id: i64, reason: &str) -> Result<MergeRequest> {
        self.move_mr(id, MrTransition::Conflict, reason)
    }

    fn move_mr(&mut self, id: i64, t: MrTransition, reason: &str) -> Result<MergeRequest> {
        debug_assert!(t != MrTransition::Land, "landing goes through land_mrs");
        self.write(|tx, w| move_in_tx(tx, w, id, t, reason, ""))
    }

    /// Records that `landing.sha` reached `landing.target` with the requests `landing.ids`, in
    /// one transaction: each request merged (testing → merged; one already merged is left as
    /// it is, so a restart may run this again), its bead closed as `merged` with a comment
    /// saying where it landed (unless it is closed already, or gone), and every convoy tracking
    /// one of the beads landed if it is now complete. If any request is in another state,
    /// nothing is written ([`Error::InvalidTransition`]). Returns the requests as they are now,
    /// in `ids` order, and the convoys this call landed (none when run again).
    pub fn land_mrs(&mut self, landing: &Landing<'_>) -> Result<Landed> {
        self.write(|tx, w| {
            let mut landed = Vec::with_capacity(landing.ids.len());
            let mut convoys = Vec::new();
            for &id in landing.ids {
                let mr = match get_in_tx(tx, id)? {
                    Some(mr) if mr.state == MrState::Merged => mr,
                    _ => {
                        let reason = format!("landed on {}", landing.target);
                        move_in_tx(tx, w, id, MrTransition::Land, &reason, landing.sha)?
                    }
                };
                let open = tx
                    .prepare_cached("SELECT status != 'closed' FROM issues WHERE id = ?1")?
                    .query_row([&mr.bead_id], |r| r.get::<_, bool>(0))
                    .optional()?;
                if open == Some(true) {
                    let close = CloseOptions {
                        reason: "merged".into(),
                        force: true,
                        ..Default::default()
                    };
                    crate::ops::update::close_in_tx(tx, w, &mr.bead_id, &close)?;
                    let short = &landing.sha[..landing.sha.len().min(12)];
                    let note = format!(
                        "Landed on `{}` as {short} ({}).",
                        landing.target,
                        mr.label()
                    );
                    crate::ops::deps::comment_in_tx(tx, w, &mr.bead_id, &note)?;
                }
                for convoy in crate::ops::convoy::tracking_in_tx(tx, &mr.bead_id)? {
                    if !convoys.contains(&convoy) {
                        convoys.push(convoy);
                    }
                }
                landed.push(mr);
            }
            let mut newly = Vec::new();
            for convoy in convoys {
                if crate::ops::convoy::land_if_complete_in_tx(tx, w, &convoy)? {
                    newly.push(convoy);
                }
            }
            Ok(Landed {
                requests: landed,
                convoys: newly,
            })
        })
    }
}

/// What one [`Store::land_mrs`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Landed {
    /// The requests, merged, in the order they were given.
    pub requests: Vec<MergeRequest>,
    /// The convoys that landed with them (each lands once: a repeated call lands none).
    pub convoys: Vec<String>,
}

/// What reached the target: [`Store::land_mrs`].
#[derive(Debug, Clone, Copy)]
pub struct Landing<'a> {
    /// The requests, in landing order.
    pub ids: &'a [i64],
    /// The SHA the target moved to.
    pub sha: &'a str,
    /// The target branch.
    pub target: &'a str,
}

fn get_in_tx(tx: &Connection, id: i64) -> Result<Option<MergeRequest>> {
    let sql = format!("SELECT {MR_COLUMNS} FROM merge_requests WHERE id = ?1");
    Ok(tx
        .prepare_cached(&sql)?
        .query_row([id], mr_from_row)
        .optional()?)
}

/// One transition as a compare-and-set: moves request `id` if it is in one of the
/// transition's starting states, recording why (and the landed SHA when merged) and one event
/// on its bead; otherwise fails naming the state it is in.
fn move_in_tx(
    tx: &Connection,
    w: &WriteCtx<'_>,
    id: i64,
    t: MrTransition,
    reason: &str,
    merged_sha: &str,
) -> Result<MergeRequest> {
    let to = t.to();
    let sql = format!(
        "UPDATE merge_requests SET state = ?2, reason = ?3, merged_sha = CASE WHEN ?4 = '' THEN merged_sha ELSE ?4 END,
         retries = retries + ?5, updated_at = ?6
         WHERE id = ?1 AND state IN ({}) RETURNING {MR_COLUMNS}",
        crate::state::sql_list(t.allowed_from())
    );
    // The state it leaves, read under the same write lock as the update.
    let from = get_in_tx(tx, id)?.map(|mr| mr.state);
    let moved = tx
        .prepare_cached(&sql)?
        .query_row(
            rusqlite::params![
                id,
                to,
                reason,
                merged_sha,
                i64::from(t.counts_as_retry()),
                w.now
            ],
            mr_from_row,
        )
        .optional()?;
    let Some(mr) = moved else {
        return Err(Error::InvalidTransition {
            what: "merge request",
            id: format!("mr-{id}"),
            action: t.action(),
            from: from.map(MrState::as_str),
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
        &mr.bead_id,
        t.event_type(),
        from.map(MrState::as_str),
        Some(to.as_str()),
        Some(&format!("mr-{id}: {reason}")),
    )?;
    Ok(mr)
}

#[cfg(test)]
mod tests {
    #[test]
    fn mr_ids_parse() {
        assert_eq!(super::parse_mr_id("mr-12").unwrap(), 12);
        assert_eq!(super::parse_mr_id("7").unwrap(), 7);
        assert!(super::parse_mr_id("x").is_err());
    }
}

/// One refinery pass, as recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RefineryRun {
    pub rig: String,
    pub started_at: String,
    pub batch_size: i64,
    pub landed: i64,
    pub failed: i64,
    pub conflicted: i64,
    pub gate_runs: i64,
    pub bisect_depth: i64,
    pub flakes: i64,
    pub outcome: String,
}

/// A recorded refinery pass and when it finished.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RecordedRun {
    #[serde(flatten)]
    pub run: RefineryRun,
    pub finished_at: String,
}

/// `gt mq stats`: how the queue has done.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QueueStats {
    pub runs: i64,
    pub landed: i64,
    pub failed: i64,
    pub conflicted: i64,
    pub gate_runs: i64,
    pub flakes: i64,
    /// Gate runs divided by landed changes.
    pub gate_runs_per_landed: f64,
    pub max_bisect_depth: i64,
    /// Mean hours from submission to merge.
    pub mean_queue_wait_hours: f64,
    pub queued: i64,
}

impl Store {
    /// Records one refinery pass.
    pub fn record_refinery_run(&mut self, run: &RefineryRun) -> Result<()> {
        self.write(|tx, w| {
            tx.prepare_cached(
                "INSERT INTO refinery_runs (rig, started_at, finished_at, batch_size, landed, failed, conflicted, gate_runs,
                 bisect_depth, flakes, outcome) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(rusqlite::params![
                run.rig, run.started_at, w.now, run.batch_size, run.landed, run.failed, run.conflicted, run.gate_runs,
                run.bisect_depth, run.flakes, run.outcome
            ])?;
            Ok(())
        })
    }

    /// The rig's most recent refinery pass, if it ever ran one.
    pub fn last_refinery_run(&self, rig: &str) -> Result<Option<RecordedRun>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT rig, started_at, finished_at, batch_size, landed, failed, conflicted, gate_runs,
                        bisect_depth, flakes, outcome
                 FROM refinery_runs WHERE rig = ?1 ORDER BY id DESC LIMIT 1",
            )?
            .query_row([rig], |r| {
                Ok(RecordedRun {
                    run: RefineryRun {
                        rig: r.get(0)?,
                        started_at: r.get(1)?,
                        batch_size: r.get(3)?,
                        landed: r.get(4)?,
                        failed: r.get(5)?,
                        conflicted: r.get(6)?,
                        gate_runs: r.get(7)?,
                        bisect_depth: r.get(8)?,
                        flakes: r.get(9)?,
                        outcome: r.get(10)?,
                    },
                    finished_at: r.get(2)?,
                })
            })
            .optional()?)
    }

    /// Outcomes of the rig's most recent finished merge requests, newest first: `true` for a
    /// change that failed its gates (what sizes the next batch).
    pub fn recent_mr_failures(&self, rig: &str, limit: usize) -> Result<Vec<bool>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT state = 'failed' FROM merge_requests WHERE rig = ?1 AND state IN ('merged', 'failed')
             ORDER BY updated_at DESC, id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(rusqlite::params![rig, limit as i64], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Queue statistics for a rig (or all rigs).
    pub fn queue_stats(&self, rig: Option<&str>) -> Result<QueueStats> {
        let conn = self.conn();
        let mut s: QueueStats = conn.query_row(
            "SELECT count(*), COALESCE(sum(landed), 0), COALESCE(sum(failed), 0), COALESCE(sum(conflicted), 0),
                    COALESCE(sum(gate_runs), 0), COALESCE(sum(flakes), 0), COALESCE(max(bisect_depth), 0)
             FROM refinery_runs WHERE ?1 IS NULL OR rig = ?1",
            [rig],
            |r| {
                Ok(QueueStats {
                    runs: r.get(0)?,
                    landed: r.get(1)?,
                    failed: r.get(2)?,
                    conflicted: r.get(3)?,
                    gate_runs: r.get(4)?,
                    flakes: r.get(5)?,
                    max_bisect_depth: r.get(6)?,
                    ..QueueStats::default()
                })
            },
        )?;
        if s.landed > 0 {
            s.gate_runs_per_landed = s.gate_runs as f64 / s.landed as f64;
        }
        s.mean_queue_wait_hours = conn.query_row(
            "SELECT COALESCE(avg((julianday(updated_at) - julianday(created_at)) * 24.0), 0) FROM merge_requests
             WHERE state = 'merged' AND (?1 IS NULL OR rig = ?1)",
            [rig],
            |r| r.get(0),
        )?;
        s.queued = conn.query_row(
            "SELECT count(*) FROM merge_requests WHERE state = 'queued' AND (?1 IS NULL OR rig = ?1)",
            [rig],
            |r| r.get(0),
        )?;
        Ok(s)
    }
}
