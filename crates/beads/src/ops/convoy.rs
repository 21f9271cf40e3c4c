//! Convoys: a tracked batch of beads, possibly across rigs. A convoy is a bead of type
//! `convoy` (id `hq-cv-…`) with a `tracks` edge to each bead it follows; it *lands* when every
//! tracked bead has closed as merged, and that landing is recorded once.

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::Issue;
use crate::ops::{event, fetch, rehash};
use crate::store::{Store, WriteCtx};

/// The id prefix of convoys (in the town's namespace).
pub const CONVOY_PREFIX: &str = "hq-cv";

/// One tracked bead as a convoy shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tracked {
    pub id: String,
    pub title: String,
    pub status: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub assignee: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub close_reason: String,
}

/// A convoy and the state of what it tracks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConvoyStatus {
    pub id: String,
    pub title: String,
    pub status: String,
    pub tracked: Vec<Tracked>,
    /// How many tracked beads have merged (closed).
    pub merged: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub landed_at: Option<String>,
    /// Who created the convoy (whom its landing is announced to). Not in the JSON, whose
    /// shape `gt convoy status --json` keeps.
    #[serde(skip)]
    pub created_by: String,
}

impl Store {
    /// Creates a convoy tracking `beads` (resolved; any prefix).
    pub fn create_convoy(&mut self, title: &str, beads: &[String]) -> Result<Issue> {
        crate::model::validate_title(title)?;
        let ids = self.resolve_all(beads)?;
        let nanos = self.ctx.clock.now().as_nanosecond();
        self.write(|tx, w| {
            let id = crate::ids::mint(tx, CONVOY_PREFIX, title, "", w.actor, nanos)?;
            let issue = Issue {
                id: id.clone(),
                title: title.to_owned(),
                status: "open".into(),
                priority: 2,
                issue_type: "convoy".into(),
                created_at: w.now.to_owned(),
                created_by: w.actor.to_owned(),
                updated_at: w.now.to_owned(),
                ..Issue::default()
            };
            crate::row::upsert_issue(tx, &issue, "")?;
            event(tx, w, &id, "created", None, Some(title), None)?;
            for bead in &ids {
                crate::ops::deps::insert_edge(tx, w, &id, bead, "tracks", None)?;
            }
            rehash(tx, &id)
        })
    }

    /// Adds beads to a convoy; returns those that were new.
    pub fn convoy_add(&mut self, convoy: &str, beads: &[String]) -> Result<Vec<String>> {
        let convoy = self.convoy_id(convoy)?;
        let ids = self.resolve_all(beads)?;
        self.write(|tx, w| {
            let mut added = Vec::new();
            for bead in ids {
                if crate::ops::deps::insert_edge(tx, w, &convoy, &bead, "tracks", None)? {
                    added.push(bead);
                }
            }
            Ok(added)
        })
    }

    /// Resolves a convoy id, checking it is one.
    pub fn convoy_id(&self, input: &str) -> Result<String> {
        let id = self.resolve(input)?;
        let issue = fetch(self.conn(), &id)?;
        if issue.issue_type != "convoy" {
            return Err(Error::invalid(
                "convoy",
                format!("`{id}` is a {}, not a convoy", issue.issue_type),
            ));
        }
        Ok(id)
    }

    /// A convoy with each tracked bead's state.
    pub fn convoy_status(&self, input: &str) -> Result<ConvoyStatus> {
        let id = self.convoy_id(input)?;
        let convoy = fetch(self.conn(), &id)?;
        let mut stmt = self.conn().prepare_cached(
            "SELECT d.depends_on_id, COALESCE(i.title, ''), COALESCE(i.status, 'missing'), COALESCE(i.assignee, ''),
                    COALESCE(i.close_reason, '')
             FROM dependencies d LEFT JOIN issues i ON i.id = d.depends_on_id
             WHERE d.issue_id = ?1 AND d.type = 'tracks' ORDER BY d.depends_on_id",
        )?;
        let tracked = stmt
            .query_map([&id], |r| {
                Ok(Tracked {
                    id: r.get(0)?,
                    title: r.get(1)?,
                    status: r.get(2)?,
                    assignee: r.get(3)?,
                    close_reason: r.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let landed_at: Option<String> = self
            .conn()
            .prepare_cached("SELECT landed_at FROM convoy_landings WHERE convoy_id = ?1")?
            .query_row([&id], |r| r.get(0))
            .optional()?;
        Ok(ConvoyStatus {
            merged: tracked.iter().filter(|t| t.status == "closed").count(),
            id,
            title: convoy.title,
            status: convoy.status,
            tracked,
            landed_at,
            created_by: convoy.created_by,
        })
    }

    /// Convoys, newest first; closed ones only with `all`.
    pub fn convoys(&self, all: bool) -> Result<Vec<ConvoyStatus>> {
        let ids: Vec<String> = self
            .conn()
            .prepare_cached(
                "SELECT id FROM issues WHERE issue_type = 'convoy' AND (?1 OR status != 'closed')
                 ORDER BY created_at DESC, id",
            )?
            .query_map([all], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        ids.iter().map(|id| self.convoy_status(id)).collect()
    }

    /// The open convoys that track a bead.
    pub fn convoys_tracking(&self, bead: &str) -> Result<Vec<String>> {
        tracking_in_tx(self.conn(), bead)
    }

    /// Lands a convoy if every tracked bead has merged (closed as `merged`, or as needing no
    /// change) and it has not landed yet: records the landing and closes the convoy, once.
    /// A bead closed for another reason (`wontfix`) keeps the convoy open until it is closed
    /// by hand. Returns whether this call landed it.
    pub fn land_convoy_if_complete(&mut self, convoy: &str) -> Result<bool> {
        let id = self.convoy_id(convoy)?;
        self.write(|tx, w| land_if_complete_in_tx(tx, w, &id))
    }
}

/// The convoys that track a bead.
pub(crate) fn tracking_in_tx(conn: &Connection, bead: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.issue_id FROM dependencies d JOIN issues c ON c.id = d.issue_id
         WHERE d.depends_on_id = ?1 AND d.type = 'tracks' AND c.issue_type = 'convoy' ORDER BY 1",
    )?;
    let rows = stmt.query_map([bead], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// [`Store::land_convoy_if_complete`] inside a caller's transaction (`id` is a convoy's).
pub(crate) fn land_if_complete_in_tx(tx: &Connection, w: &WriteCtx<'_>, id: &str) -> Result<bool> {
    let open: i64 = tx
        .prepare_cached(
            "SELECT count(*) FROM dependencies d LEFT JOIN issues i ON i.id = d.depends_on_id
             WHERE d.issue_id = ?1 AND d.type = 'tracks' AND NOT (COALESCE(i.status, '') = 'closed' AND i.close_reason IN ('merged', 'no-changes', 'no-change'))",
        )?
        .query_row([id], |r| r.get(0))?;
    let total: i64 = tx
        .prepare_cached(
            "SELECT count(*) FROM dependencies WHERE issue_id = ?1 AND type = 'tracks'",
        )?
        .query_row([id], |r| r.get(0))?;
    if open > 0 || total == 0 {
        return Ok(false);
    }
    let inserted = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO convoy_landings (convoy_id, landed_at) VALUES (?1, ?2)",
        )?
        .execute([id, w.now])?;
    if inserted == 0 {
        return Ok(false);
    }
    tx.prepare_cached(
        "UPDATE issues SET status = 'closed', closed_at = ?2, close_reason = 'landed', updated_at = ?2
         WHERE id = ?1 AND status != 'closed'",
    )?
    .execute([id, w.now])?;
    event(tx, w, id, "convoy_landed", None, Some("closed"), None)?;
    crate::readiness::refresh(
        tx,
        w.settings,
        crate::readiness::seeds_for_status_change(tx, id)?,
    )?;
    rehash(tx, id)?;
    Ok(true)
}
