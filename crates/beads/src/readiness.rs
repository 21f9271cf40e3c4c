//! Readiness: the materialized `is_blocked` flag, kept exact inside every write's own
//! transaction, and a from-scratch recompute that checks it.
//!
//! An issue that is not done (closed, pinned, tombstone or a custom `done` status) is blocked
//! when any of these holds:
//! 1. a `blocks` edge to an issue that is not done;
//! 2. a `conditional-blocks` edge to an issue that has not *failed* (closed with a failure
//!    reason, see [`FAILURE_KEYWORDS`]) — the dependent runs only if its blocker fails. Upstream
//!    documents this but its code treats it as `blocks`; we do what the docs say;
//! 3. a `parent-child` edge to a blocked parent (blocking propagates down the hierarchy; an
//!    open parent does not block its children);
//! 4. a `waits-for` edge to a spawner that has a child not done (gate `all-children`, the
//!    default), or whose children include none closed (gate `any-children`);
//! 5. a dependency on `external:<project>:<capability>` until a closed issue carries the label
//!    `provides:<capability>` (documented upstream, ignored by its code).
//!
//! After a write, [`refresh`] recomputes the seeds the write names and walks down to the
//! children of every issue whose flag changed, to a fixed point.

use std::borrow::Cow;
use std::collections::{HashSet, VecDeque};

use foldhash::{HashMap, HashMapExt, HashSet as FastSet, HashSetExt};

use rusqlite::{Connection, params_from_iter};

use crate::error::Result;
use crate::model::FAILURE_KEYWORDS;
use crate::store::Settings;

/// `('closed','pinned',…)` for the statuses that no longer block.
pub(crate) fn done_list(settings: &Settings) -> String {
    sql_list(&settings.done_statuses())
}

/// A quoted SQL list of words. Words are validated `[a-z0-9_-]`; quotes are doubled anyway.
pub(crate) fn sql_list(words: &[String]) -> String {
    let quoted: Vec<String> = words
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', "''")))
        .collect();
    format!("({})", quoted.join(","))
}

fn failure_predicate(col: &str) -> String {
    let likes: Vec<String> = FAILURE_KEYWORDS
        .iter()
        .map(|k| format!("lower({col}) LIKE '%{}%'", k.replace('\'', "''")))
        .collect();
    format!("({})", likes.join(" OR "))
}

/// SQL computing `is_blocked` for the issue `i` (alias), given the done list.
///
/// Every subquery over `d` (the issue's own edges) names `+d.type`: the unary plus keeps
/// SQLite from planning it through any index led by `type` (schema version 9 had one, which
/// without statistics it preferred and which walks every edge of that type in the store), so
/// the primary key (`issue_id`, …) is used and each evaluation reads only the issue's own
/// edges (`plans::hot_paths_find_their_rows_by_key` checks).
fn blocked_expr(done: &str) -> String {
    let failed = failure_predicate("t.close_reason");
    format!(
        "CASE WHEN i.status IN {done} THEN 0 ELSE (
           EXISTS (SELECT 1 FROM dependencies d JOIN issues t ON t.id = d.depends_on_id
                   WHERE d.issue_id = i.id AND +d.type = 'blocks' AND t.status NOT IN {done})
        OR EXISTS (SELECT 1 FROM dependencies d JOIN issues t ON t.id = d.depends_on_id
                   WHERE d.issue_id = i.id AND +d.type = 'conditional-blocks'
                     AND NOT (t.status = 'closed' AND {failed}))
        OR EXISTS (SELECT 1 FROM dependencies d JOIN issues p ON p.id = d.depends_on_id
                   WHERE d.issue_id = i.id AND +d.type = 'parent-child' AND p.is_blocked = 1)
        OR EXISTS (SELECT 1 FROM dependencies d
                   WHERE d.issue_id = i.id AND +d.type = 'waits-for' AND CASE
                     WHEN json_extract(d.metadata, '$.gate') = 'any-children' THEN
                       EXISTS (SELECT 1 FROM dependencies c WHERE c.depends_on_id = d.depends_on_id AND c.type = 'parent-child')
                       AND NOT EXISTS (SELECT 1 FROM dependencies c JOIN issues ci ON ci.id = c.issue_id
                                       WHERE c.depends_on_id = d.depends_on_id AND c.type = 'parent-child' AND ci.status = 'closed')
                     ELSE EXISTS (SELECT 1 FROM dependencies c JOIN issues ci ON ci.id = c.issue_id
                                  WHERE c.depends_on_id = d.depends_on_id AND c.type = 'parent-child'
                                    AND ci.status NOT IN {done})
                   END)
        OR EXISTS (SELECT 1 FROM dependencies d
                   WHERE d.issue_id = i.id AND d.depends_on_id LIKE 'external:%'
                     AND NOT EXISTS (SELECT 1 FROM labels l JOIN issues p ON p.id = l.issue_id
                                     WHERE p.status = 'closed'
                                       AND l.label = 'provides:' || substr(d.depends_on_id, 10 + instr(substr(d.depends_on_id, 10), ':'))))
        ) END"
    )
}

/// Issues whose readiness may change when `id`'s status changes: itself, its blocking
/// dependents, the waiters on its parents, and issues waiting on a capability it provides.
pub(crate) fn seeds_for_status_change(conn: &Connection, id: &str) -> Result<Vec<String>> {
    // `CROSS JOIN` fixes the loop order: the issue's own rows (its parent edges, its labels)
    // outside, found by key, and only then the edges they lead to. An external dependency's
    // target is `external:<project>:<capability>`, so the capability lookup reads the
    // `external:` range of `idx_deps_target` (only external edges), never all of
    // `dependencies`.
    let mut stmt = conn.prepare_cached(
        "SELECT issue_id FROM dependencies WHERE depends_on_id = ?1 AND type IN ('blocks', 'conditional-blocks')
         UNION SELECT w.issue_id FROM dependencies p CROSS JOIN dependencies w
               WHERE p.issue_id = ?1 AND +p.type = 'parent-child'
                 AND w.depends_on_id = p.depends_on_id AND w.type = 'waits-for'
         UNION SELECT d.issue_id FROM labels l CROSS JOIN dependencies d
               WHERE l.issue_id = ?1 AND l.label >= 'provides:' AND l.label < 'provides;'
                 AND d.depends_on_id >= 'external:' AND d.depends_on_id < 'external;'
                 AND d.depends_on_id LIKE 'external:%:' || substr(l.label, 10)",
    )?;
    let mut out = vec![id.to_owned()];
    for row in stmt.query_map([id], |r| r.get::<_, String>(0))? {
        out.push(row?);
    }
    Ok(out)
}

/// Issues whose readiness may change when an edge `from → to` of `kind` appears or goes.
pub(crate) fn seeds_for_edge(
    conn: &Connection,
    from: &str,
    to: &str,
    kind: &str,
) -> Result<Vec<String>> {
    let mut out = vec![from.to_owned()];
    if kind == "parent-child" {
        let mut stmt = conn.prepare_cached(
            "SELECT issue_id FROM dependencies WHERE depends_on_id = ?1 AND type = 'waits-for'",
        )?;
        for row in stmt.query_map([to], |r| r.get::<_, String>(0))? {
            out.push(row?);
        }
    }
    Ok(out)
}

/// Recomputes `is_blocked` for `seeds` and, transitively, for the children of every issue
/// whose flag changed. Returns how many flags changed.
pub(crate) fn refresh(conn: &Connection, settings: &Settings, seeds: Vec<String>) -> Result<usize> {
    let done = done_list(settings);
    let compute_sql = format!(
        "SELECT i.is_blocked, {} FROM issues i WHERE i.id = ?1",
        blocked_expr(&done)
    );
    let mut compute = conn.prepare_cached(&compute_sql)?;
    let mut set = conn.prepare_cached("UPDATE issues SET is_blocked = ?2 WHERE id = ?1")?;
    let mut children = conn.prepare_cached(
        "SELECT issue_id FROM dependencies WHERE depends_on_id = ?1 AND type = 'parent-child'",
    )?;
    let mut queue: VecDeque<String> = seeds.into();
    let mut changed = 0usize;
    let mut visits = 0usize;
    let mut queued: HashSet<String> = queue.iter().cloned().collect();
    while let Some(id) = queue.pop_front() {
        queued.remove(&id);
        visits += 1;
        if visits > 1_000_000 {
            break; // A hierarchy cycle slipped in; the from-scratch check (doctor) reports it.
        }
        let row: Option<(bool, bool)> = compute
            .query_row([&id], |r| Ok((r.get::<_, bool>(0)?, r.get::<_, bool>(1)?)))
            .map(Some)
            .or_else(|e| {
                if e == rusqlite::Error::QueryReturnedNoRows {
                    Ok(None)
                } else {
                    Err(e)
                }
            })?;
        let Some((old, new)) = row else { continue };
        if old != new {
            set.execute(rusqlite::params![id, new])?;
            changed += 1;
            for child in children.query_map([&id], |r| r.get::<_, String>(0))? {
                let child = child?;
                if queued.insert(child.clone()) {
                    queue.push_back(child);
                }
            }
        }
    }
    Ok(changed)
}

/// The graph as the from-scratch recompute needs it: each issue's status and close reason,
/// every edge `(from, to, kind, waits-for gate)`, and the capabilities closed issues provide.
/// Its text is borrowed where the caller holds it already (an import's parsed records) and
/// owned where it is read from the store.
#[derive(Default)]
pub(crate) struct Graph<'a> {
    pub status: HashMap<Cow<'a, str>, (Cow<'a, str>, Cow<'a, str>)>,
    pub edges: Vec<GraphEdge<'a>>,
    pub provided: FastSet<Cow<'a, str>>,
}

/// An edge of a [`Graph`]: from, to, kind, and a `waits-for` edge's gate.
pub(crate) type GraphEdge<'a> = (
    Cow<'a, str>,
    Cow<'a, str>,
    Cow<'a, str>,
    Option<Cow<'a, str>>,
);

/// The capability a `provides:<capability>` label names, if it is one.
pub(crate) fn provided_capability(label: &str) -> Option<&str> {
    label.strip_prefix("provides:")
}

fn load_graph(conn: &Connection) -> Result<Graph<'static>> {
    let mut status = HashMap::new();
    let mut stmt = conn.prepare("SELECT id, status, close_reason FROM issues")?;
    for row in stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })? {
        let (id, st, reason): (String, String, String) = row?;
        status.insert(Cow::Owned(id), (Cow::Owned(st), Cow::Owned(reason)));
    }
    let mut edges = Vec::new();
    let mut stmt = conn.prepare(
        "SELECT issue_id, depends_on_id, type, json_extract(metadata, '$.gate') FROM dependencies",
    )?;
    for row in stmt.query_map([], |r| {
        Ok((
            Cow::Owned(r.get(0)?),
            Cow::Owned(r.get(1)?),
            Cow::Owned(r.get(2)?),
            r.get::<_, Option<String>>(3)?.map(Cow::Owned),
        ))
    })? {
        edges.push(row?);
    }
    let mut provided = FastSet::new();
    let mut stmt = conn.prepare(
        "SELECT substr(l.label, 10) FROM labels l JOIN issues i ON i.id = l.issue_id
         WHERE l.label >= 'provides:' AND l.label < 'provides;' AND i.status = 'closed'",
    )?;
    for row in stmt.query_map([], |r| r.get::<_, String>(0))? {
        provided.insert(Cow::Owned(row?));
    }
    Ok(Graph {
        status,
        edges,
        provided,
    })
}

/// Every issue's blocked flag in `g`, by the rules above, computed from scratch in memory.
/// This is deliberately independent of the SQL in [`refresh`], so each checks the other.
pub(crate) fn compute<'g>(g: &'g Graph<'_>, settings: &Settings) -> HashMap<&'g str, bool> {
    let done: FastSet<String> = settings.done_statuses().into_iter().collect();
    let is_done = |id: &str| {
        g.status
            .get(id)
            .is_some_and(|(s, _)| done.contains(s.as_ref()))
    };
    let failed = |id: &str| {
        g.status.get(id).is_some_and(|(s, r)| {
            let r = r.to_lowercase();
            s == "closed" && FAILURE_KEYWORDS.iter().any(|k| r.contains(k))
        })
    };
    let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
    for (from, to, kind, _) in &g.edges {
        if kind == "parent-child" && g.status.contains_key(from.as_ref()) {
            children.entry(to.as_ref()).or_default().push(from.as_ref());
        }
    }
    // Direct reasons (everything except propagation from a blocked parent).
    let mut direct: Vec<&str> = Vec::new();
    for (from, to, kind, gate) in &g.edges {
        if is_done(from) || !g.status.contains_key(from.as_ref()) {
            continue;
        }
        let blocks = if let Some(cap) = to.strip_prefix("external:") {
            let cap = cap.split_once(':').map_or("", |(_, c)| c);
            !g.provided.contains(cap)
        } else {
            match kind.as_ref() {
                "blocks" => g.status.contains_key(to.as_ref()) && !is_done(to),
                "conditional-blocks" => g.status.contains_key(to.as_ref()) && !failed(to),
                "waits-for" => {
                    let kids = children.get(to.as_ref()).map(Vec::as_slice).unwrap_or(&[]);
                    if gate.as_deref() == Some("any-children") {
                        !kids.is_empty()
                            && !kids
                                .iter()
                                .any(|k| g.status.get(*k).is_some_and(|(s, _)| s == "closed"))
                    } else {
                        kids.iter().any(|k| !is_done(k))
                    }
                }
                _ => false,
            }
        };
        if blocks {
            direct.push(from);
        }
    }
    // Propagate down parent-child edges from every blocked issue.
    let mut blocked: HashMap<&str, bool> = HashMap::with_capacity(g.status.len());
    blocked.extend(g.status.keys().map(|id| (id.as_ref(), false)));
    let mut queue: VecDeque<&str> = direct.into();
    while let Some(id) = queue.pop_front() {
        if blocked.get(id).copied().unwrap_or(true) {
            continue;
        }
        blocked.insert(id, true);
        for child in children.get(id).map(Vec::as_slice).unwrap_or(&[]) {
            if !is_done(child) && !blocked.get(*child).copied().unwrap_or(true) {
                queue.push_back(child);
            }
        }
    }
    blocked
}

/// Ids whose stored flag differs from the from-scratch value, with the correct value.
pub(crate) fn drift(conn: &Connection, settings: &Settings) -> Result<Vec<(String, bool)>> {
    let graph = load_graph(conn)?;
    let truth = compute(&graph, settings);
    let mut out = Vec::new();
    let mut stmt = conn.prepare("SELECT id, is_blocked FROM issues")?;
    for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)))? {
        let (id, stored) = row?;
        let want = truth.get(id.as_str()).copied().unwrap_or(false);
        if stored != want {
            out.push((id, want));
        }
    }
    out.sort();
    Ok(out)
}

/// Writes the from-scratch values wherever they differ (after a bulk import, or `doctor --fix`).
pub(crate) fn rebuild(conn: &Connection, settings: &Settings) -> Result<usize> {
    let fixes = drift(conn, settings)?;
    let mut set = conn.prepare_cached("UPDATE issues SET is_blocked = ?2 WHERE id = ?1")?;
    for (id, value) in &fixes {
        set.execute(rusqlite::params![id, value])?;
    }
    Ok(fixes.len())
}

/// Ids of the issues currently blocking `id` (for `bd blocked` and error messages).
pub(crate) fn blockers(conn: &Connection, settings: &Settings, id: &str) -> Result<Vec<String>> {
    let done = done_list(settings);
    let failed = failure_predicate("t.close_reason");
    let sql = format!(
        "SELECT d.depends_on_id FROM dependencies d LEFT JOIN issues t ON t.id = d.depends_on_id
         WHERE d.issue_id = ?1 AND (
              (d.type = 'blocks' AND t.status NOT IN {done})
           OR (d.type = 'conditional-blocks' AND t.id IS NOT NULL AND NOT (t.status = 'closed' AND {failed}))
           OR (d.type = 'parent-child' AND t.is_blocked = 1)
           OR (d.type = 'waits-for' AND CASE
                WHEN json_extract(d.metadata, '$.gate') = 'any-children' THEN
                  EXISTS (SELECT 1 FROM dependencies c WHERE c.depends_on_id = d.depends_on_id AND c.type = 'parent-child')
                  AND NOT EXISTS (SELECT 1 FROM dependencies c JOIN issues ci ON ci.id = c.issue_id
                                  WHERE c.depends_on_id = d.depends_on_id AND c.type = 'parent-child' AND ci.status = 'closed')
                ELSE EXISTS (SELECT 1 FROM dependencies c JOIN issues ci ON ci.id = c.issue_id
                             WHERE c.depends_on_id = d.depends_on_id AND c.type = 'parent-child' AND ci.status NOT IN {done})
              END)
           OR (d.depends_on_id LIKE 'external:%'
               AND NOT EXISTS (SELECT 1 FROM labels l JOIN issues p ON p.id = l.issue_id
                               WHERE p.status = 'closed'
                                 AND l.label = 'provides:' || substr(d.depends_on_id, 10 + instr(substr(d.depends_on_id, 10), ':')))))
         ORDER BY d.depends_on_id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let ids = stmt
        .query_map(params_from_iter([id]), |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ids)
}
