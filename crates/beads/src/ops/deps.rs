//! Dependencies, labels and comments.

use std::collections::{HashMap, HashSet, VecDeque};

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::{Comment, Dependency};
use crate::ops::{event, fetch, rehash};
use crate::readiness;
use crate::store::{Store, WriteCtx};

/// Kinds that must not form cycles, checked together.
pub(crate) const ORDERING_KINDS: &[&str] = &["blocks", "conditional-blocks"];

/// Checks a dependency kind: any word of 1–50 chars (well-known kinds and custom ones).
pub(crate) fn validate_kind(kind: &str) -> Result<String> {
    let kind = kind.trim().to_ascii_lowercase();
    let ok = !kind.is_empty()
        && kind.len() <= 50
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(kind)
    } else {
        Err(Error::invalid(
            "dependency type",
            format!("`{kind}` must be 1-50 characters of a-z, 0-9, `-`"),
        ))
    }
}

/// Checks a label: 1–255 printable characters without whitespace or commas.
pub(crate) fn validate_label(label: &str) -> Result<()> {
    let n = label.chars().count();
    if n > 255 {
        // Not echoed: a label this long is not something to print back whole.
        return Err(Error::invalid(
            "label",
            format!("a label of {n} characters is over the limit of 255"),
        ));
    }
    let ok = !label.is_empty()
        && !label
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ',');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "label",
            format!("`{label}` must be 1-255 characters without spaces or commas"),
        ))
    }
}

/// Checks an external dependency target: `external:<project>:<capability>`.
pub(crate) fn validate_external(target: &str) -> Result<()> {
    let valid = target
        .strip_prefix("external:")
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(p, c)| !p.is_empty() && !c.is_empty() && !c.contains(char::is_whitespace));
    if valid {
        Ok(())
    } else {
        Err(Error::invalid(
            "dependency",
            format!("`{target}` must look like `external:<project>:<capability>`"),
        ))
    }
}

pub(crate) fn insert_label(
    tx: &Connection,
    id: &str,
    label: &str,
    w: &WriteCtx<'_>,
) -> Result<bool> {
    let added = tx
        .prepare_cached("INSERT OR IGNORE INTO labels (issue_id, label) VALUES (?1, ?2)")?
        .execute([id, label])?
        > 0;
    if added {
        event(tx, w, id, "label_added", None, Some(label), None)?;
    }
    Ok(added)
}

pub(crate) fn delete_label(
    tx: &Connection,
    id: &str,
    label: &str,
    w: &WriteCtx<'_>,
) -> Result<bool> {
    let removed = tx
        .prepare_cached("DELETE FROM labels WHERE issue_id = ?1 AND label = ?2")?
        .execute([id, label])?
        > 0;
    if removed {
        event(tx, w, id, "label_removed", Some(label), None, None)?;
    }
    Ok(removed)
}

/// The blocking-path from `start` to `goal` over `kinds` edges, if any.
fn path_between(
    conn: &Connection,
    start: &str,
    goal: &str,
    kinds: &[&str],
) -> Result<Option<Vec<String>>> {
    let list = readiness::sql_list(&kinds.iter().map(|k| (*k).to_owned()).collect::<Vec<_>>());
    let mut next = conn.prepare_cached(&format!(
        "SELECT depends_on_id FROM dependencies WHERE issue_id = ?1 AND +type IN {list}"
    ))?;
    let mut came_from: HashMap<String, String> = HashMap::new();
    let mut queue = VecDeque::from([start.to_owned()]);
    let mut seen = HashSet::from([start.to_owned()]);
    while let Some(id) = queue.pop_front() {
        if id == goal {
            let mut path = vec![id.clone()];
            let mut cur = id;
            while let Some(prev) = came_from.get(&cur) {
                path.push(prev.clone());
                cur = prev.clone();
            }
            path.reverse();
            return Ok(Some(path));
        }
        for n in next.query_map([&id], |r| r.get::<_, String>(0))? {
            let n = n?;
            if seen.insert(n.clone()) {
                came_from.insert(n.clone(), id.clone());
                queue.push_back(n);
            }
        }
    }
    Ok(None)
}

/// Adds `from → to` of `kind`, enforcing the edge rules, and refreshes readiness.
pub(crate) fn insert_edge(
    tx: &Connection,
    w: &WriteCtx<'_>,
    from: &str,
    to: &str,
    kind: &str,
    metadata: Option<&str>,
) -> Result<bool> {
    if from == to {
        return Err(Error::invalid(
            "dependency",
            format!("`{from}` cannot depend on itself"),
        ));
    }
    let metadata = metadata.unwrap_or("{}");
    crate::model::parse_metadata(metadata)?;
    let existing: Option<(String, String)> = tx
        .prepare_cached(
            "SELECT type, metadata FROM dependencies WHERE issue_id = ?1 AND depends_on_id = ?2",
        )?
        .query_row([from, to], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((old_kind, old_meta)) = existing {
        if old_kind != kind {
            return Err(Error::Conflict(format!(
                "`{from}` already depends on `{to}` as `{old_kind}`; remove that dependency first"
            )));
        }
        if old_meta != metadata {
            tx.prepare_cached(
                "UPDATE dependencies SET metadata = ?3 WHERE issue_id = ?1 AND depends_on_id = ?2",
            )?
            .execute([from, to, metadata])?;
            // The metadata carries the waits-for gate, which readiness reads.
            readiness::refresh(
                tx,
                w.settings,
                readiness::seeds_for_edge(tx, from, to, kind)?,
            )?;
        }
        return Ok(false);
    }
    if !to.starts_with("external:") {
        let hierarchy = ["parent-child"];
        let kinds: &[&str] = if ORDERING_KINDS.contains(&kind) {
            ORDERING_KINDS
        } else if kind == "parent-child" {
            &hierarchy
        } else {
            &[]
        };
        if !kinds.is_empty()
            && let Some(mut path) = path_between(tx, to, from, kinds)?
        {
            path.insert(0, from.to_owned());
            return Err(Error::Cycle {
                from: from.into(),
                to: to.into(),
                kind: kind.into(),
                path,
            });
        }
        if kind == "blocks" {
            let t_from = fetch(tx, from)?.issue_type;
            let t_to = fetch(tx, to)?.issue_type;
            if (t_from == "epic") != (t_to == "epic") {
                return Err(Error::invalid(
                    "dependency",
                    format!(
                        "a `{t_to}` cannot block a `{t_from}`: `blocks` links epics to epics and other issues to each other (use `parent-child` to put work under an epic)"
                    ),
                ));
            }
        }
    }
    tx.prepare_cached(
        "INSERT INTO dependencies (issue_id, depends_on_id, type, created_at, created_by, metadata)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute([from, to, kind, w.now, w.actor, metadata])?;
    event(
        tx,
        w,
        from,
        "dependency_added",
        None,
        Some(&format!("{kind}:{to}")),
        None,
    )?;
    readiness::refresh(
        tx,
        w.settings,
        readiness::seeds_for_edge(tx, from, to, kind)?,
    )?;
    Ok(true)
}

/// Removes the edge `from → to` of `kind`, records it and refreshes readiness.
pub(crate) fn delete_edge(
    tx: &Connection,
    w: &WriteCtx<'_>,
    from: &str,
    to: &str,
    kind: &str,
) -> Result<()> {
    tx.prepare_cached("DELETE FROM dependencies WHERE issue_id = ?1 AND depends_on_id = ?2")?
        .execute([from, to])?;
    event(
        tx,
        w,
        from,
        "dependency_removed",
        Some(&format!("{kind}:{to}")),
        None,
        None,
    )?;
    readiness::refresh(
        tx,
        w.settings,
        readiness::seeds_for_edge(tx, from, to, kind)?,
    )?;
    Ok(())
}

/// An issue at the other end of an edge, with the edge's type (`dep list --json`, upstream's
/// `IssueWithDependencyMetadata`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkedIssue {
    #[serde(flatten)]
    pub issue: crate::model::Issue,
    pub dependency_type: String,
}

/// One node of `dep tree`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TreeNode {
    pub id: String,
    pub title: String,
    pub status: String,
    pub priority: i64,
    pub issue_type: String,
    pub depth: usize,
    pub dependency_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
}

/// Which way `dep tree` and `dep list` walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// What the issue depends on.
    Down,
    /// What depends on the issue.
    Up,
}

impl Store {
    /// Resolves a dependency target: an issue id, or `external:<project>:<capability>`.
    pub fn resolve_target(&self, target: &str) -> Result<String> {
        if target.starts_with("external:") {
            validate_external(target)?;
            return Ok(target.to_owned());
        }
        self.resolve(target)
    }

    /// Adds a dependency: `issue` depends on `target` with `kind`. Returns false if it existed.
    pub fn add_dependency(
        &mut self,
        issue: &str,
        target: &str,
        kind: &str,
        metadata: Option<&str>,
    ) -> Result<bool> {
        let from = self.resolve(issue)?;
        let to = self.resolve_target(target)?;
        let kind = validate_kind(kind)?;
        self.write(|tx, w| {
            let added = insert_edge(tx, w, &from, &to, &kind, metadata)?;
            if added {
                touch(tx, &from, w)?;
            }
            Ok(added)
        })
    }

    /// Removes the dependency of `issue` on `target`. Errors if there is none.
    pub fn remove_dependency(&mut self, issue: &str, target: &str) -> Result<String> {
        let from = self.resolve(issue)?;
        let to = if target.starts_with("external:") {
            target.to_owned()
        } else {
            self.resolve(target).unwrap_or_else(|_| target.to_owned())
        };
        self.write(|tx, w| {
            let kind: Option<String> = tx
                .prepare_cached(
                    "SELECT type FROM dependencies WHERE issue_id = ?1 AND depends_on_id = ?2",
                )?
                .query_row([&from, &to], |r| r.get(0))
                .optional()?;
            let Some(kind) = kind else {
                return Err(Error::NotFound {
                    id: format!("dependency {from} → {to}"),
                });
            };
            delete_edge(tx, w, &from, &to, &kind)?;
            touch(tx, &from, w)?;
            Ok(kind)
        })
    }

    /// Edges of an issue: what it depends on (down) or what depends on it (up).
    pub fn dependencies(
        &self,
        issue: &str,
        direction: Direction,
        kind: Option<&str>,
    ) -> Result<Vec<Dependency>> {
        let id = self.resolve(issue)?;
        let col = match direction {
            Direction::Down => "issue_id",
            Direction::Up => "depends_on_id",
        };
        let sql = format!(
            "SELECT issue_id, depends_on_id, type, created_at, created_by, metadata FROM dependencies
             WHERE {col} = ?1 AND (?2 IS NULL OR type = ?2) ORDER BY type, issue_id, depends_on_id"
        );
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params![id, kind], dep_from_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The issues at the other end of `issue`'s edges in `direction`, with each edge's type.
    /// External targets, which are not issues, are left out.
    pub fn linked_issues(
        &self,
        issue: &str,
        direction: Direction,
        kind: Option<&str>,
    ) -> Result<Vec<LinkedIssue>> {
        let id = self.resolve(issue)?;
        let (mine, theirs) = match direction {
            Direction::Down => ("issue_id", "depends_on_id"),
            Direction::Up => ("depends_on_id", "issue_id"),
        };
        let sql = format!(
            "SELECT {}, d.type FROM dependencies d JOIN issues i ON i.id = d.{theirs}
             WHERE d.{mine} = ?1 AND (?2 IS NULL OR d.type = ?2) ORDER BY d.type, i.id",
            crate::row::ISSUE_COLUMNS
        );
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params![id, kind], |r| {
            Ok(LinkedIssue {
                issue: crate::row::issue_from_row(r)?,
                dependency_type: r.get(crate::row::ISSUE_COLUMN_COUNT)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The dependency tree of an issue, breadth first, each issue once.
    pub fn dependency_tree(
        &self,
        issue: &str,
        direction: Direction,
        max_depth: usize,
    ) -> Result<Vec<TreeNode>> {
        let root = self.get(issue)?;
        let mut out = vec![TreeNode {
            id: root.id.clone(),
            title: root.title,
            status: root.status,
            priority: root.priority,
            issue_type: root.issue_type,
            depth: 0,
            dependency_type: String::new(),
            parent_id: None,
        }];
        let sql = match direction {
            Direction::Down => {
                "SELECT d.depends_on_id, d.type, i.title, i.status, i.priority, i.issue_type FROM dependencies d LEFT JOIN issues i ON i.id = d.depends_on_id WHERE d.issue_id = ?1 ORDER BY d.depends_on_id"
            }
            Direction::Up => {
                "SELECT d.issue_id, d.type, i.title, i.status, i.priority, i.issue_type FROM dependencies d JOIN issues i ON i.id = d.issue_id WHERE d.depends_on_id = ?1 ORDER BY d.issue_id"
            }
        };
        let mut stmt = self.conn().prepare_cached(sql)?;
        let mut seen = HashSet::from([root.id.clone()]);
        let mut queue = VecDeque::from([(root.id, 0usize)]);
        while let Some((id, depth)) = queue.pop_front() {
            if depth >= max_depth {
                continue;
            }
            let rows = stmt.query_map([&id], |r| {
                Ok(TreeNode {
                    id: r.get(0)?,
                    dependency_type: r.get(1)?,
                    title: r
                        .get::<_, Option<String>>(2)?
                        .unwrap_or_else(|| "(not in this store)".into()),
                    status: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                    priority: r.get::<_, Option<i64>>(4)?.unwrap_or(2),
                    issue_type: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                    depth: depth + 1,
                    parent_id: Some(id.clone()),
                })
            })?;
            for node in rows {
                let node = node?;
                if seen.insert(node.id.clone()) {
                    queue.push_back((node.id.clone(), depth + 1));
                    out.push(node);
                }
            }
        }
        Ok(out)
    }

    /// Every cycle among blocking edges (`blocks`, `conditional-blocks`, `parent-child`), each
    /// as the list of ids around it. Edge rules prevent new cycles; imports can bring old ones.
    pub fn dependency_cycles(&self) -> Result<Vec<Vec<String>>> {
        let mut graph: HashMap<String, Vec<String>> = HashMap::new();
        let mut stmt = self.conn().prepare(
            "SELECT issue_id, depends_on_id FROM dependencies WHERE type IN ('blocks', 'conditional-blocks', 'parent-child') ORDER BY 1, 2",
        )?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
            let (a, b) = row?;
            graph.entry(a).or_default().push(b);
        }
        Ok(find_cycles(&graph))
    }

    /// Adds labels to an issue; returns those that were new.
    pub fn add_labels(&mut self, issue: &str, labels: &[String]) -> Result<Vec<String>> {
        let id = self.resolve(issue)?;
        labels.iter().try_for_each(|l| validate_label(l))?;
        self.write(|tx, w| {
            let mut added = Vec::new();
            for label in labels {
                if insert_label(tx, &id, label, w)? {
                    added.push(label.clone());
                }
            }
            if !added.is_empty() {
                if labels.iter().any(|l| l.starts_with("provides:")) {
                    readiness::refresh(
                        tx,
                        w.settings,
                        readiness::seeds_for_status_change(tx, &id)?,
                    )?;
                }
                touch(tx, &id, w)?;
            }
            Ok(added)
        })
    }

    /// Removes labels from an issue; returns those that were present.
    pub fn remove_labels(&mut self, issue: &str, labels: &[String]) -> Result<Vec<String>> {
        let id = self.resolve(issue)?;
        self.write(|tx, w| {
            let mut seeds = readiness::seeds_for_status_change(tx, &id)?;
            let mut removed = Vec::new();
            for label in labels {
                if delete_label(tx, &id, label, w)? {
                    removed.push(label.clone());
                }
            }
            if !removed.is_empty() {
                if labels.iter().any(|l| l.starts_with("provides:")) {
                    seeds.retain(|s| s != &id);
                    readiness::refresh(tx, w.settings, seeds)?;
                }
                touch(tx, &id, w)?;
            }
            Ok(removed)
        })
    }

    /// An issue's labels, sorted.
    pub fn labels(&self, issue: &str) -> Result<Vec<String>> {
        let id = self.resolve(issue)?;
        labels_of(self.conn(), &id)
    }

    /// Every label in use with its issue count.
    pub fn all_labels(&self) -> Result<Vec<(String, i64)>> {
        let mut stmt = self
            .conn()
            .prepare("SELECT label, count(*) FROM labels GROUP BY label ORDER BY label")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Adds a comment.
    pub fn add_comment(&mut self, issue: &str, text: &str) -> Result<Comment> {
        let id = self.resolve(issue)?;
        if text.trim().is_empty() {
            return Err(Error::invalid("comment", "the comment text is empty"));
        }
        self.write(|tx, w| comment_in_tx(tx, w, &id, text))
    }

    /// An issue's comments, oldest first.
    pub fn comments(&self, issue: &str) -> Result<Vec<Comment>> {
        let id = self.resolve(issue)?;
        comments_of(self.conn(), &id)
    }
}

/// Adds a comment to issue `id` (exact) inside a caller's transaction.
pub(crate) fn comment_in_tx(
    tx: &Connection,
    w: &WriteCtx<'_>,
    id: &str,
    text: &str,
) -> Result<Comment> {
    let n: i64 = tx.query_row(
        "SELECT count(*) FROM comments WHERE issue_id = ?1",
        [id],
        |r| r.get(0),
    )?;
    let comment = Comment {
        id: comment_id(id, w.now, w.actor, text, n),
        issue_id: id.to_owned(),
        author: w.actor.to_owned(),
        text: text.to_owned(),
        created_at: w.now.to_owned(),
    };
    insert_comment(tx, &comment)?;
    event(tx, w, id, "commented", None, None, Some(text))?;
    touch(tx, id, w)?;
    Ok(comment)
}

/// Bumps `updated_at` and the content hash after a change to an issue's relations.
pub(crate) fn touch(tx: &Connection, id: &str, w: &WriteCtx<'_>) -> Result<()> {
    tx.prepare_cached("UPDATE issues SET updated_at = ?2 WHERE id = ?1")?
        .execute([id, w.now])?;
    rehash(tx, id)?;
    Ok(())
}

pub(crate) fn insert_comment(tx: &Connection, c: &Comment) -> Result<bool> {
    Ok(tx
        .prepare_cached("INSERT OR IGNORE INTO comments (id, issue_id, author, text, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")?
        .execute([&c.id, &c.issue_id, &c.author, &c.text, &c.created_at])?
        > 0)
}

/// A stable UUID-shaped id for a new comment.
fn comment_id(issue: &str, now: &str, actor: &str, text: &str, n: i64) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("{issue}\0{now}\0{actor}\0{text}\0{n}").as_bytes());
    let h: String = d.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

pub(crate) fn dep_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Dependency> {
    Ok(Dependency {
        issue_id: r.get(0)?,
        depends_on_id: r.get(1)?,
        kind: r.get(2)?,
        created_at: r.get(3)?,
        created_by: r.get(4)?,
        metadata: r.get(5)?,
    })
}

/// Reads a comment selected as `id, issue_id, author, text, created_at`.
pub(crate) fn comment_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Comment> {
    Ok(Comment {
        id: r.get(0)?,
        issue_id: r.get(1)?,
        author: r.get(2)?,
        text: r.get(3)?,
        created_at: r.get(4)?,
    })
}

pub(crate) fn labels_of(conn: &Connection, id: &str) -> Result<Vec<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT label FROM labels WHERE issue_id = ?1 ORDER BY label")?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub(crate) fn comments_of(conn: &Connection, id: &str) -> Result<Vec<Comment>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, issue_id, author, text, created_at FROM comments WHERE issue_id = ?1 ORDER BY created_at, id",
    )?;
    let rows = stmt.query_map([id], comment_from_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Cycles of a directed graph, each reported once starting from its smallest id.
fn find_cycles(graph: &HashMap<String, Vec<String>>) -> Vec<Vec<String>> {
    let mut nodes: Vec<&String> = graph.keys().collect();
    nodes.sort();
    let mut state: HashMap<&str, u8> = HashMap::new(); // 1 = on stack, 2 = done
    let mut stack: Vec<&str> = Vec::new();
    let mut found: Vec<Vec<String>> = Vec::new();
    for start in nodes {
        if state.contains_key(start.as_str()) {
            continue;
        }
        // Iterative DFS: (node, next child index).
        let mut work: Vec<(&str, usize)> = vec![(start.as_str(), 0)];
        state.insert(start, 1);
        stack.push(start);
        while let Some((node, idx)) = work.pop() {
            let children = graph.get(node).map(Vec::as_slice).unwrap_or(&[]);
            if let Some(child) = children.get(idx) {
                work.push((node, idx + 1));
                match state.get(child.as_str()) {
                    Some(1) => {
                        let pos = stack.iter().position(|n| *n == child).expect("on stack");
                        let mut cycle: Vec<String> =
                            stack[pos..].iter().map(|s| (*s).to_owned()).collect();
                        let min = cycle
                            .iter()
                            .enumerate()
                            .min_by_key(|(_, s)| (*s).clone())
                            .map_or(0, |(i, _)| i);
                        cycle.rotate_left(min);
                        if !found.contains(&cycle) {
                            found.push(cycle);
                        }
                    }
                    Some(_) => {}
                    None => {
                        state.insert(child, 1);
                        stack.push(child);
                        work.push((child, 0));
                    }
                }
            } else {
                state.insert(node, 2);
                stack.pop();
            }
        }
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_each_cycle_once() {
        let g: HashMap<String, Vec<String>> = [
            ("a", vec!["b"]),
            ("b", vec!["c"]),
            ("c", vec!["a"]),
            ("d", vec!["d2"]),
            ("d2", vec![]),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
        .collect();
        assert_eq!(
            find_cycles(&g),
            vec![vec!["a".to_owned(), "b".into(), "c".into()]]
        );
    }

    #[test]
    fn labels_and_kinds_are_validated() {
        assert!(validate_label("gt:agent").is_ok());
        assert!(validate_label("two words").is_err());
        assert!(validate_label("").is_err());
        assert_eq!(validate_kind("Blocks").unwrap(), "blocks");
        assert!(validate_kind("bad kind").is_err());
    }
}
