//! Merge requests: what `gt done` submits and the refinery lands.
//!
//! Lifecycle: queued → testing → merged | conflict | failed; any open one becomes superseded
//! when a newer one for the same bead arrives, or rejected by hand. A request is unique on
//! (branch, SHA): submitting the same commit twice returns the first.

use rusqlite::{OptionalExtension, Row};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::store::Store;

/// Every merge-request state.
pub const MR_STATES: &[&str] = &[
    "queued",
    "testing",
    "merged",
    "conflict",
    "failed",
    "superseded",
    "rejected",
];
/// States still waiting to land.
pub const MR_OPEN_STATES: &[&str] = &["queued", "testing", "conflict", "failed"];

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
    pub state: String,
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
            tx.prepare_cached(
                "UPDATE merge_requests SET state = 'superseded', reason = 'superseded by a newer submission', updated_at = ?2
                 WHERE bead_id = ?1 AND state IN ('queued', 'conflict', 'failed')",
            )?
            .execute([&new.bead_id, w.now])?;
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
    pub fn mrs(&self, rig: Option<&str>, states: &[&str]) -> Result<Vec<MergeRequest>> {
        let states_json = serde_json::to_string(states).expect("strings serialize");
        let sql = format!(
            "SELECT {MR_COLUMNS} FROM merge_requests WHERE (?1 IS NULL OR rig = ?1)
             AND (?2 = '[]' OR state IN (SELECT value FROM json_each(?2))) ORDER BY id"
        );
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params![rig, states_json], mr_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Moves a merge request to `state`, recording why (and the landed SHA when merged). Sending
    /// a failed or conflicted request back to the queue counts as a retry; requeueing one that
    /// was only waiting in a batch does not.
    pub fn set_mr_state(
        &mut self,
        id: i64,
        state: &str,
        reason: &str,
        merged_sha: &str,
    ) -> Result<MergeRequest> {
        if !MR_STATES.contains(&state) {
            return Err(Error::invalid(
                "merge request state",
                format!("`{state}` is not one of {}", MR_STATES.join(", ")),
            ));
        }
        self.write(|tx, w| {
            let n = tx
                .prepare_cached(
                    "UPDATE merge_requests SET state = ?2, reason = ?3, merged_sha = CASE WHEN ?4 = '' THEN merged_sha ELSE ?4 END,
                     retries = retries + (CASE WHEN ?2 = 'queued' AND state IN ('failed', 'conflict') THEN 1 ELSE 0 END), updated_at = ?5
                     WHERE id = ?1",
                )?
                .execute(rusqlite::params![id, state, reason, merged_sha, w.now])?;
            if n == 0 {
                return Err(Error::NotFound { id: format!("mr-{id}") });
            }
            let sql = format!("SELECT {MR_COLUMNS} FROM merge_requests WHERE id = ?1");
            let mr = tx.prepare_cached(&sql)?.query_row([id], mr_from_row)?;
            crate::ops::event(tx, w, &mr.bead_id, "mr_state", None, Some(state), Some(&format!("mr-{id}: {reason}")))?;
            Ok(mr)
        })
    }
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
