//! Reading: show, list, ready, blocked, search, count, stats.

use std::collections::HashMap;

use rusqlite::params_from_iter;
use rusqlite::types::Value as SqlValue;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::ids::escape_like;
use crate::model::{
    BlockedIssue, EpicProgress, INFRA_TYPES, Issue, IssueDetails, IssueView, Related,
    StatusCategory,
};
use crate::ops::deps::{comments_of, dep_from_row, labels_of};
use crate::ops::fetch;
use crate::ops::update::claim_in_tx;
use crate::readiness::{self, sql_list};
use crate::row::{
    ISSUE_COLUMNS, LISTING_COLUMNS, VIEW_COLUMNS, issue_from_row, read_listing_view, view_from_row,
};
use crate::store::Store;

/// Orders for `ready` and `list`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    /// `priority ASC, created_at DESC, id` (upstream's CLI default for `ready`).
    #[default]
    Priority,
    /// Issues from the last 48 hours by priority first, then older ones oldest first.
    Hybrid,
    /// `created_at ASC, id`.
    Oldest,
    /// `created_at DESC, id`.
    Newest,
    /// `updated_at DESC, id`.
    Updated,
    /// `id`.
    Id,
    /// `title`.
    Title,
}

impl Sort {
    /// Parses a sort name.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "priority" => Self::Priority,
            "hybrid" => Self::Hybrid,
            "oldest" | "created" => Self::Oldest,
            "newest" => Self::Newest,
            "updated" => Self::Updated,
            "id" => Self::Id,
            "title" => Self::Title,
            _ => {
                return Err(Error::invalid(
                    "sort",
                    format!(
                        "unknown sort `{s}` (priority, hybrid, oldest, newest, updated, id, title)"
                    ),
                ));
            }
        })
    }
}

/// Which issues a query selects. Empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Statuses to include; empty means the query's default.
    pub statuses: Vec<String>,
    /// Include every status (still not tombstones unless listed).
    pub all: bool,
    pub types: Vec<String>,
    pub exclude_types: Vec<String>,
    pub assignee: Option<String>,
    pub unassigned: bool,
    /// All of these labels.
    pub labels: Vec<String>,
    /// At least one of these labels.
    pub labels_any: Vec<String>,
    pub exclude_labels: Vec<String>,
    pub label_pattern: Option<String>,
    pub no_labels: bool,
    pub title_contains: Option<String>,
    pub desc_contains: Option<String>,
    pub notes_contains: Option<String>,
    /// Matches id, title, description or notes.
    pub text: Option<String>,
    /// A `bd query` expression (`status=open AND priority<2`, …). Without `all` or a status
    /// in it, closed issues are left out.
    pub query: Option<String>,
    pub ids: Vec<String>,
    /// Only ids with this prefix (`gt` matches `gt-…`).
    pub id_prefix: Option<String>,
    /// Descendants of this issue (parent-child, transitively).
    pub parent: Option<String>,
    pub no_parent: bool,
    pub priority: Option<i64>,
    pub priority_min: Option<i64>,
    pub priority_max: Option<i64>,
    pub created_after: Option<String>,
    pub created_before: Option<String>,
    pub updated_after: Option<String>,
    pub updated_before: Option<String>,
    pub closed_after: Option<String>,
    pub closed_before: Option<String>,
    pub due_after: Option<String>,
    pub due_before: Option<String>,
    /// Only issues with a `defer_until` date.
    pub deferred_only: bool,
    pub pinned: Option<bool>,
    pub include_templates: bool,
    pub include_ephemeral: bool,
    /// Only wisps (ephemeral issues).
    pub only_ephemeral: bool,
    pub include_deferred: bool,
    pub include_infra: bool,
    pub metadata_fields: Vec<(String, String)>,
    pub has_metadata_key: Option<String>,
    pub mol_type: Option<String>,
    pub wisp_type: Option<String>,
    pub overdue: bool,
    /// Only issues `ready` would return.
    pub ready: bool,
    /// Direct children of this molecule (`ready --mol`).
    pub mol: Option<String>,
    pub sort: Sort,
    pub reverse: bool,
    /// 0 means no limit.
    pub limit: usize,
}

/// Whether the filter tests only what `issue_counts` groups issues by (status, type, the
/// wisp, template and pinned flags), so a count can add up kept group counts.
fn counted_by_group(f: &Filter) -> bool {
    let Filter {
        statuses: _,
        all: _,
        types: _,
        exclude_types: _,
        assignee,
        unassigned,
        labels,
        labels_any,
        exclude_labels,
        label_pattern,
        no_labels,
        title_contains,
        desc_contains,
        notes_contains,
        text,
        query,
        ids,
        id_prefix,
        parent,
        no_parent,
        priority,
        priority_min,
        priority_max,
        created_after,
        created_before,
        updated_after,
        updated_before,
        closed_after,
        closed_before,
        due_after,
        due_before,
        deferred_only,
        pinned: _,
        include_templates: _,
        include_ephemeral: _,
        only_ephemeral: _,
        include_deferred: _,
        include_infra: _,
        metadata_fields,
        has_metadata_key,
        mol_type,
        wisp_type,
        overdue,
        ready,
        mol,
        sort: _,
        reverse: _,
        limit: _,
    } = f;
    assignee.is_none()
        && !unassigned
        && labels.is_empty()
        && labels_any.is_empty()
        && exclude_labels.is_empty()
        && label_pattern.is_none()
        && !no_labels
        && title_contains.is_none()
        && desc_contains.is_none()
        && notes_contains.is_none()
        && text.is_none()
        && query.is_none()
        && ids.is_empty()
        && id_prefix.is_none()
        && parent.is_none()
        && !no_parent
        && priority.is_none()
        && priority_min.is_none()
        && priority_max.is_none()
        && created_after.is_none()
        && created_before.is_none()
        && updated_after.is_none()
        && updated_before.is_none()
        && closed_after.is_none()
        && closed_before.is_none()
        && due_after.is_none()
        && due_before.is_none()
        && !deferred_only
        && metadata_fields.is_empty()
        && has_metadata_key.is_none()
        && mol_type.is_none()
        && wisp_type.is_none()
        && !overdue
        && !ready
        && mol.is_none()
}

/// Counts for `bd stats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    pub total_issues: i64,
    pub open_issues: i64,
    pub in_progress_issues: i64,
    pub closed_issues: i64,
    pub blocked_issues: i64,
    pub deferred_issues: i64,
    pub ready_issues: i64,
    pub pinned_issues: i64,
    pub hooked_issues: i64,
    pub tombstone_issues: i64,
    pub ephemeral_issues: i64,
    pub by_status: std::collections::BTreeMap<String, i64>,
    pub by_type: std::collections::BTreeMap<String, i64>,
    pub by_priority: std::collections::BTreeMap<String, i64>,
    pub average_lead_time_hours: f64,
}

struct Sql {
    clauses: Vec<String>,
    params: Vec<SqlValue>,
}

impl Sql {
    fn push(&mut self, clause: impl Into<String>, params: impl IntoIterator<Item = SqlValue>) {
        self.clauses.push(clause.into());
        self.params.extend(params);
    }
    fn placeholders(&mut self, values: &[String]) -> String {
        let marks: Vec<&str> = values.iter().map(|_| "?").collect();
        self.params
            .extend(values.iter().map(|v| SqlValue::Text(v.clone())));
        marks.join(",")
    }
}

fn text(s: &str) -> SqlValue {
    SqlValue::Text(s.to_owned())
}

impl Store {
    fn where_clause(&self, f: &Filter, ready: bool, now: &str) -> Result<Sql> {
        let mut q = Sql {
            clauses: Vec::new(),
            params: Vec::new(),
        };
        let settings = &self.settings;
        if ready || f.ready {
            let mut active = vec!["open".to_owned()];
            active.extend(settings.custom_with(StatusCategory::Active));
            q.push(
                format!(
                    "i.status IN {} AND i.is_blocked = 0 AND i.pinned = 0 AND i.is_template = 0",
                    sql_list(&active)
                ),
                [],
            );
            if !f.include_deferred {
                q.push("(i.defer_until IS NULL OR i.defer_until <= ?)", [text(now)]);
                q.push(
                    "i.id NOT IN (WITH RECURSIVE deferred(id) AS (
                        SELECT id FROM issues WHERE defer_until > ? OR status = 'deferred'
                        UNION SELECT d.issue_id FROM dependencies d JOIN deferred ON d.depends_on_id = deferred.id
                        WHERE d.type = 'parent-child')
                     SELECT id FROM deferred)",
                    [text(now)],
                );
            }
            if f.types.is_empty() {
                let infra: Vec<String> = INFRA_TYPES.iter().map(|s| (*s).to_owned()).collect();
                q.push(format!("i.issue_type NOT IN {}", sql_list(&infra)), []);
            }
        } else if !f.statuses.is_empty() {
            for status in &f.statuses {
                self.check_status(status)?;
            }
            let marks = q.placeholders(&f.statuses);
            q.push(format!("i.status IN ({marks})"), []);
        } else if f.all || f.pinned == Some(true) || f.query.is_some() {
            // A query expression decides about statuses itself (see below).
            q.push("i.status != 'tombstone'", []);
        } else {
            // Exactly the condition of `idx_issues_default_order` (term for term, or SQLite does
            // not use it); custom statuses that hide an issue are a term of their own.
            q.push("i.status NOT IN ('closed', 'pinned', 'tombstone')", []);
            let mut hidden = settings.custom_with(StatusCategory::Done);
            hidden.extend(settings.custom_with(StatusCategory::Frozen));
            if !hidden.is_empty() {
                q.push(format!("i.status NOT IN {}", sql_list(&hidden)), []);
            }
        }
        if f.only_ephemeral {
            q.push("i.ephemeral = 1", []);
        } else if !f.include_ephemeral
            && f.ids.is_empty()
            && f.mol.is_none()
            && f.wisp_type.is_none()
        {
            q.push("i.ephemeral = 0", []);
        }
        if !f.include_templates && !ready && !f.ready && f.ids.is_empty() {
            q.push("i.is_template = 0", []);
        }
        if !f.types.is_empty() {
            let types: Vec<String> = f
                .types
                .iter()
                .map(|t| crate::model::normalize_type(t))
                .collect();
            let marks = q.placeholders(&types);
            q.push(format!("i.issue_type IN ({marks})"), []);
        }
        if !f.exclude_types.is_empty() {
            let marks = q.placeholders(&f.exclude_types);
            q.push(format!("i.issue_type NOT IN ({marks})"), []);
        }
        if let Some(a) = &f.assignee {
            q.push("i.assignee = ?", [text(a)]);
        }
        if f.unassigned {
            q.push("i.assignee = ''", []);
        }
        for l in &f.labels {
            q.push(
                "EXISTS (SELECT 1 FROM labels l WHERE l.issue_id = i.id AND l.label = ?)",
                [text(l)],
            );
        }
        if !f.labels_any.is_empty() {
            let marks = q.placeholders(&f.labels_any);
            q.push(format!("EXISTS (SELECT 1 FROM labels l WHERE l.issue_id = i.id AND l.label IN ({marks}))"), []);
        }
        if !f.exclude_labels.is_empty() {
            let marks = q.placeholders(&f.exclude_labels);
            q.push(format!("NOT EXISTS (SELECT 1 FROM labels l WHERE l.issue_id = i.id AND l.label IN ({marks}))"), []);
        }
        if let Some(p) = &f.label_pattern {
            q.push(
                "EXISTS (SELECT 1 FROM labels l WHERE l.issue_id = i.id AND l.label GLOB ?)",
                [text(p)],
            );
        }
        if f.no_labels {
            q.push(
                "NOT EXISTS (SELECT 1 FROM labels l WHERE l.issue_id = i.id)",
                [],
            );
        }
        let like = |s: &str| text(&format!("%{}%", escape_like(s)));
        if let Some(t) = &f.title_contains {
            q.push("i.title LIKE ? ESCAPE '\\'", [like(t)]);
        }
        if let Some(t) = &f.desc_contains {
            q.push("i.description LIKE ? ESCAPE '\\'", [like(t)]);
        }
        if let Some(t) = &f.notes_contains {
            q.push("i.notes LIKE ? ESCAPE '\\'", [like(t)]);
        }
        if let Some(t) = &f.text {
            q.push(
                "(i.id LIKE ?1x ESCAPE '\\' OR i.title LIKE ?1x ESCAPE '\\' OR i.description LIKE ?1x ESCAPE '\\' OR i.notes LIKE ?1x ESCAPE '\\')"
                    .replace("?1x", "?"),
                [like(t), like(t), like(t), like(t)],
            );
        }
        if !f.ids.is_empty() {
            let ids = self.resolve_all(&f.ids)?;
            let marks = q.placeholders(&ids);
            q.push(format!("i.id IN ({marks})"), []);
        }
        if let Some(p) = &f.id_prefix {
            // `p-` … `p.` is the key range of one prefix: an index range, not a scan.
            q.push(
                "i.id >= ? AND i.id < ?",
                [text(&format!("{p}-")), text(&format!("{p}."))],
            );
        }
        if let Some(p) = &f.parent {
            let p = self.resolve(p)?;
            q.push(
                "i.id IN (WITH RECURSIVE sub(id) AS (
                    SELECT issue_id FROM dependencies WHERE depends_on_id = ? AND type = 'parent-child'
                    UNION SELECT d.issue_id FROM dependencies d JOIN sub ON d.depends_on_id = sub.id WHERE d.type = 'parent-child')
                 SELECT id FROM sub)",
                [text(&p)],
            );
        }
        if let Some(m) = &f.mol {
            let m = self.resolve(m)?;
            q.push("i.id IN (SELECT issue_id FROM dependencies WHERE depends_on_id = ? AND type = 'parent-child')", [text(&m)]);
        }
        if f.no_parent {
            q.push("NOT EXISTS (SELECT 1 FROM dependencies d WHERE d.issue_id = i.id AND d.type = 'parent-child')", []);
        }
        if let Some(p) = f.priority {
            q.push("i.priority = ?", [SqlValue::Integer(p)]);
        }
        if let Some(p) = f.priority_min {
            q.push("i.priority >= ?", [SqlValue::Integer(p)]);
        }
        if let Some(p) = f.priority_max {
            q.push("i.priority <= ?", [SqlValue::Integer(p)]);
        }
        let ranges = [
            ("i.created_at >= ?", &f.created_after),
            ("i.created_at < ?", &f.created_before),
            ("i.updated_at >= ?", &f.updated_after),
            ("i.updated_at < ?", &f.updated_before),
            ("i.closed_at >= ?", &f.closed_after),
            ("i.closed_at < ?", &f.closed_before),
        ];
        for (clause, value) in ranges {
            if let Some(v) = value {
                q.push(clause, [text(v)]);
            }
        }
        // Pinned means the `pinned` status or the legacy flag (still set on issues that went
        // from pinned to hooked).
        match f.pinned {
            Some(true) => q.push("(i.pinned = 1 OR i.status = 'pinned')", []),
            Some(false) => q.push("(i.pinned = 0 AND i.status != 'pinned')", []),
            None => {}
        }
        for (k, v) in &f.metadata_fields {
            q.push(
                "json_extract(i.metadata, ?) = ?",
                [text(&format!("$.{k}")), text(v)],
            );
        }
        if let Some(k) = &f.has_metadata_key {
            q.push(
                "json_type(i.metadata, ?) IS NOT NULL",
                [text(&format!("$.{k}"))],
            );
        }
        if let Some(m) = &f.mol_type {
            q.push("i.mol_type = ?", [text(m)]);
        }
        if let Some(w) = &f.wisp_type {
            q.push("i.wisp_type = ?", [text(w)]);
        }
        if let Some(t) = &f.due_after {
            q.push("i.due_at > ?", [text(t)]);
        }
        if let Some(t) = &f.due_before {
            q.push("i.due_at < ?", [text(t)]);
        }
        if f.deferred_only {
            q.push("i.defer_until IS NOT NULL", []);
        }
        if let Some(text) = &f.query {
            let now_ts: jiff::Timestamp = now
                .parse()
                .map_err(|e: jiff::Error| Error::invalid("clock", e.to_string()))?;
            let compiled = crate::querylang::compile(text, now_ts)?;
            if !compiled.mentions_status && !f.all {
                q.push("i.status != 'closed'", []);
            }
            q.push(format!("({})", compiled.sql), compiled.params);
        }
        if f.overdue {
            q.push(
                "i.due_at IS NOT NULL AND i.due_at < ? AND i.status != 'closed'",
                [text(now)],
            );
        }
        Ok(q)
    }

    fn order_by(sort: Sort, reverse: bool, now: &str) -> String {
        let base = match sort {
            Sort::Priority => "i.priority ASC, i.created_at DESC, i.id ASC".to_owned(),
            Sort::Hybrid => {
                let cutoff = jiff::Timestamp::strptime("%Y-%m-%dT%H:%M:%S%.fZ", now)
                    .ok()
                    .and_then(|t| t.checked_sub(jiff::SignedDuration::from_hours(48)).ok())
                    .map(crate::store::format_ts)
                    .unwrap_or_default();
                format!(
                    "CASE WHEN i.created_at >= '{cutoff}' THEN 0 ELSE 1 END, CASE WHEN i.created_at >= '{cutoff}' THEN i.priority ELSE 0 END, i.created_at ASC, i.id ASC"
                )
            }
            Sort::Oldest => "i.created_at ASC, i.id ASC".to_owned(),
            Sort::Newest => "i.created_at DESC, i.id ASC".to_owned(),
            Sort::Updated => "i.updated_at DESC, i.id ASC".to_owned(),
            Sort::Id => "i.id ASC".to_owned(),
            Sort::Title => "i.title ASC, i.id ASC".to_owned(),
        };
        if reverse {
            base.split(", ")
                .map(|part| {
                    if let Some(p) = part.strip_suffix(" ASC") {
                        format!("{p} DESC")
                    } else if let Some(p) = part.strip_suffix(" DESC") {
                        format!("{p} ASC")
                    } else {
                        format!("{part} DESC")
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            base
        }
    }

    /// The query for [`Self::issues`], [`Self::list`] and [`Self::for_each`] (selecting
    /// `columns`), with its parameters.
    fn select_sql(
        &self,
        f: &Filter,
        ready: bool,
        columns: &str,
    ) -> Result<(String, Vec<SqlValue>)> {
        let now = self.now();
        let q = self.where_clause(f, ready, &now)?;
        let where_sql = if q.clauses.is_empty() {
            "1".to_owned()
        } else {
            q.clauses.join(" AND ")
        };
        let limit = if f.limit == 0 {
            String::new()
        } else {
            format!(" LIMIT {}", f.limit)
        };
        let sql = format!(
            "SELECT {columns} FROM issues i WHERE {where_sql} ORDER BY {}{limit}",
            Self::order_by(f.sort, f.reverse, &now)
        );
        Ok((sql, q.params))
    }

    /// Issues matching the filter, without labels or counts (cheaper than [`Self::list`]).
    pub fn issues(&self, f: &Filter) -> Result<Vec<Issue>> {
        let (sql, params) = self.select_sql(f, false, ISSUE_COLUMNS)?;
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt.query_map(params_from_iter(params.iter()), issue_from_row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Issue counts per id prefix and status, wisps and templates left out, in one scan:
    /// what a town overview needs for every rig at once.
    pub fn counts_by_prefix(&self) -> Result<Vec<(String, String, i64)>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT substr(id, 1, instr(id, '-') - 1), status, count(*) FROM issues
             WHERE ephemeral = 0 AND is_template = 0 GROUP BY 1, 2 ORDER BY 1, 2",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Issues matching the filter (`bd list`, `bd search`).
    pub fn list(&self, f: &Filter) -> Result<Vec<IssueView>> {
        self.collect_views(f, false)
    }

    /// Ready work: open, not blocked, not deferred (`bd ready`).
    pub fn ready(&self, f: &Filter) -> Result<Vec<IssueView>> {
        self.collect_views(f, true)
    }

    fn collect_views(&self, f: &Filter, ready: bool) -> Result<Vec<IssueView>> {
        let mut views = Vec::new();
        self.for_each(f, ready, |v| -> Result<()> {
            views.push(v.clone());
            Ok(())
        })?;
        Ok(views)
    }

    /// How many issues match the filter, optionally grouped by a field.
    pub fn count(&self, f: &Filter, group_by: Option<&str>) -> Result<Vec<(String, i64)>> {
        let now = self.now();
        let q = self.where_clause(f, f.ready, &now)?;
        let where_sql = if q.clauses.is_empty() {
            "1".to_owned()
        } else {
            q.clauses.join(" AND ")
        };
        if counted_by_group(f) && matches!(group_by, None | Some("status" | "type")) {
            // The filter tests only columns `issue_counts` groups by, under the same names:
            // add up the kept counts of the matching groups instead of counting issues.
            let key = match group_by {
                Some("status") => "i.status",
                Some("type") => "i.issue_type",
                _ => "'total'",
            };
            let sql = format!(
                "SELECT {key}, sum(i.n) FROM issue_counts i WHERE {where_sql}
                 GROUP BY 1 HAVING sum(i.n) > 0 ORDER BY 1"
            );
            let mut stmt = self.conn().prepare_cached(&sql)?;
            let rows = stmt.query_map(params_from_iter(q.params.iter()), |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
            let mut out: Vec<(String, i64)> = rows.collect::<Result<_, _>>()?;
            if group_by.is_none() && out.is_empty() {
                out.push(("total".into(), 0));
            }
            return Ok(out);
        }
        let (key, from) = match group_by {
            None => ("'total'", "issues i"),
            Some("status") => ("i.status", "issues i"),
            Some("type") => ("i.issue_type", "issues i"),
            Some("priority") => ("CAST(i.priority AS TEXT)", "issues i"),
            Some("assignee") => ("i.assignee", "issues i"),
            Some("label") => ("l.label", "issues i JOIN labels l ON l.issue_id = i.id"),
            Some(other) => {
                return Err(Error::invalid(
                    "group",
                    format!("cannot group by `{other}` (status, type, priority, assignee, label)"),
                ));
            }
        };
        let sql =
            format!("SELECT {key}, count(*) FROM {from} WHERE {where_sql} GROUP BY 1 ORDER BY 1");
        let mut stmt = self.conn().prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(q.params.iter()), |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        let mut out: Vec<(String, i64)> = rows.collect::<Result<_, _>>()?;
        if group_by.is_none() && out.is_empty() {
            out.push(("total".into(), 0));
        }
        Ok(out)
    }

    /// Claims the first ready, unassigned issue for the actor (`bd ready --claim`).
    pub fn claim_ready(&mut self, f: &Filter) -> Result<Issue> {
        let mut f = f.clone();
        f.unassigned = true;
        f.limit = 0;
        let now = self.now();
        let q = self.where_clause(&f, true, &now)?;
        let sql = format!(
            "SELECT i.id FROM issues i WHERE {} ORDER BY {}",
            q.clauses.join(" AND "),
            Self::order_by(f.sort, f.reverse, &now)
        );
        self.write(|tx, w| {
            let ids: Vec<String> = tx
                .prepare_cached(&sql)?
                .query_map(params_from_iter(q.params.iter()), |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for id in ids {
                match claim_in_tx(tx, &id, w) {
                    Ok(issue) => return Ok(issue),
                    Err(Error::AlreadyClaimed { .. } | Error::NotClaimable { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            Err(Error::NothingReady)
        })
    }

    /// Blocked issues with what blocks each (`bd blocked`).
    pub fn blocked(&self, parent: Option<&str>) -> Result<Vec<BlockedIssue>> {
        let f = Filter {
            parent: parent.map(str::to_owned),
            ..Filter::default()
        };
        let now = self.now();
        let mut q = self.where_clause(&f, false, &now)?;
        q.push("i.is_blocked = 1", []);
        let sql = format!(
            "SELECT {ISSUE_COLUMNS} FROM issues i WHERE {} ORDER BY i.priority, i.created_at, i.id",
            q.clauses.join(" AND ")
        );
        let mut stmt = self.conn().prepare(&sql)?;
        let issues = stmt
            .query_map(params_from_iter(q.params.iter()), issue_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        issues
            .into_iter()
            .map(|issue| {
                let blocked_by = readiness::blockers(self.conn(), &self.settings, &issue.id)?;
                Ok(BlockedIssue {
                    blocked_by_count: blocked_by.len(),
                    blocked_by,
                    issue,
                })
            })
            .collect()
    }

    /// Full details of one issue (`bd show`).
    pub fn show(&self, input: &str) -> Result<IssueDetails> {
        let id = self.resolve(input)?;
        let conn = self.conn();
        let issue = fetch(conn, &id)?;
        let related = |sql: &str| -> Result<Vec<Related>> {
            let mut stmt = conn.prepare_cached(sql)?;
            let rows = stmt.query_map([&id], |r| {
                Ok(Related {
                    id: r.get(0)?,
                    title: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    status: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    priority: r.get::<_, Option<i64>>(3)?.unwrap_or(2),
                    issue_type: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                    dependency_type: r.get(5)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        };
        let dependencies = related(
            "SELECT d.depends_on_id, t.title, t.status, t.priority, t.issue_type, d.type FROM dependencies d
             LEFT JOIN issues t ON t.id = d.depends_on_id WHERE d.issue_id = ?1 ORDER BY d.type, d.depends_on_id",
        )?;
        let dependents = related(
            "SELECT d.issue_id, t.title, t.status, t.priority, t.issue_type, d.type FROM dependencies d
             JOIN issues t ON t.id = d.issue_id WHERE d.depends_on_id = ?1 ORDER BY d.type, d.issue_id",
        )?;
        let parent = dependencies
            .iter()
            .find(|d| d.dependency_type == "parent-child")
            .map(|d| d.id.clone());
        let is_blocked: bool =
            conn.query_row("SELECT is_blocked FROM issues WHERE id = ?1", [&id], |r| {
                r.get(0)
            })?;
        let epic = if issue.issue_type == "epic" {
            self.epic_progress(&id)?
        } else {
            None
        };
        Ok(IssueDetails {
            epic,
            labels: labels_of(conn, &id)?,
            comments: comments_of(conn, &id)?,
            parent,
            dependencies,
            dependents,
            is_blocked,
            issue,
        })
    }

    /// How many of an epic's children there are and how many are done; `None` without any.
    fn epic_progress(&self, id: &str) -> Result<Option<EpicProgress>> {
        let mut done = vec!["closed".to_owned()];
        done.extend(self.settings.custom_with(StatusCategory::Done));
        let (total, closed): (i64, i64) = self.conn().query_row(
            &format!(
                "SELECT count(*), count(*) FILTER (WHERE c.status IN {})
                 FROM dependencies d JOIN issues c ON c.id = d.issue_id
                 WHERE d.depends_on_id = ?1 AND d.type = 'parent-child' AND c.status != 'tombstone'",
                sql_list(&done)
            ),
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((total > 0).then_some(EpicProgress {
            epic_total_children: total,
            epic_closed_children: closed,
            epic_closeable: closed == total,
        }))
    }

    /// Direct children of an issue.
    pub fn children(&self, input: &str) -> Result<Vec<IssueView>> {
        let id = self.resolve(input)?;
        let sql = format!(
            "SELECT {VIEW_COLUMNS} FROM issues i JOIN dependencies d ON d.issue_id = i.id
             WHERE d.depends_on_id = ?1 AND d.type = 'parent-child' ORDER BY i.id"
        );
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let views = stmt
            .query_map([&id], view_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(views)
    }

    /// Summary counts (`bd stats`).
    pub fn stats(&self) -> Result<Stats> {
        let conn = self.conn();
        let mut s = Stats::default();
        let group = |sql: &str| -> Result<std::collections::BTreeMap<String, i64>> {
            let mut stmt = conn.prepare(sql)?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        };
        s.by_status = group("SELECT status, count(*) FROM issues WHERE ephemeral = 0 GROUP BY 1")?;
        s.by_type = group(
            "SELECT issue_type, count(*) FROM issues WHERE ephemeral = 0 AND status != 'tombstone' GROUP BY 1",
        )?;
        s.by_priority = group(
            "SELECT 'P' || priority, count(*) FROM issues WHERE ephemeral = 0 AND status != 'tombstone' GROUP BY 1",
        )?;
        let st = |k: &str| s.by_status.get(k).copied().unwrap_or(0);
        s.open_issues = st("open");
        s.in_progress_issues = st("in_progress");
        s.closed_issues = st("closed");
        s.deferred_issues = st("deferred");
        s.pinned_issues = st("pinned");
        s.hooked_issues = st("hooked");
        s.tombstone_issues = st("tombstone");
        s.total_issues = s.by_status.values().sum::<i64>() - s.tombstone_issues;
        s.blocked_issues = conn.query_row(
            "SELECT count(*) FROM issues WHERE is_blocked = 1 AND ephemeral = 0",
            [],
            |r| r.get(0),
        )?;
        s.ephemeral_issues =
            conn.query_row("SELECT count(*) FROM issues WHERE ephemeral = 1", [], |r| {
                r.get(0)
            })?;
        s.ready_issues = self
            .count(
                &Filter {
                    ready: true,
                    ..Filter::default()
                },
                None,
            )?
            .first()
            .map_or(0, |(_, n)| *n);
        s.average_lead_time_hours = conn.query_row(
            "SELECT COALESCE(avg((julianday(closed_at) - julianday(created_at)) * 24.0), 0) FROM issues WHERE status = 'closed' AND ephemeral = 0",
            [],
            |r| r.get(0),
        )?;
        Ok(s)
    }

    /// Calls `each` with every issue the filter selects (`ready` rules when `ready`), in
    /// order, without holding them all: large listings stream from one query, labels and
    /// counts included (the schema keeps them on each row). Every row is read into the same
    /// view, so `each` borrows it; one that keeps rows clones them.
    pub fn for_each<E: From<Error>>(
        &self,
        f: &Filter,
        ready: bool,
        mut each: impl FnMut(&IssueView) -> std::result::Result<(), E>,
    ) -> std::result::Result<usize, E> {
        let (sql, params) = self.select_sql(f, ready, LISTING_COLUMNS)?;
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&sql).map_err(Error::from)?;
        let mut rows = stmt
            .query(params_from_iter(params.iter()))
            .map_err(Error::from)?;
        let mut n = 0;
        let mut view = IssueView::default();
        while let Some(row) = rows.next().map_err(Error::from)? {
            read_listing_view(row, conn, &mut view).map_err(Error::from)?;
            each(&view)?;
            n += 1;
        }
        Ok(n)
    }

    /// The issues with these exact ids, with labels and counts, in the order given (ids that
    /// no longer exist are left out).
    pub fn views_of(&self, ids: &[String]) -> Result<Vec<IssueView>> {
        let list = serde_json::to_string(ids).map_err(|e| Error::invalid("ids", e.to_string()))?;
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT {VIEW_COLUMNS} FROM issues i WHERE i.id IN (SELECT value FROM json_each(?1))"
        ))?;
        let mut found: HashMap<String, IssueView> = stmt
            .query_map([list], view_from_row)?
            .map(|v| v.map(|v| (v.issue.id.clone(), v)))
            .collect::<Result<_, _>>()?;
        Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
    }

    /// Every edge in the store by the issue it starts from, for export.
    pub(crate) fn all_edges(&self) -> Result<HashMap<String, Vec<crate::model::Dependency>>> {
        let mut out: HashMap<String, Vec<crate::model::Dependency>> = HashMap::new();
        let mut stmt = self.conn().prepare_cached(
            "SELECT d.issue_id, d.depends_on_id, d.type, d.created_at, d.created_by, d.metadata
             FROM dependencies d ORDER BY d.issue_id, d.depends_on_id",
        )?;
        for dep in stmt.query_map([], dep_from_row)? {
            let dep = dep?;
            out.entry(dep.issue_id.clone()).or_default().push(dep);
        }
        Ok(out)
    }

    /// Every comment in the store by issue, oldest first, for export.
    pub(crate) fn all_comments(&self) -> Result<HashMap<String, Vec<crate::model::Comment>>> {
        let mut out: HashMap<String, Vec<crate::model::Comment>> = HashMap::new();
        let mut stmt = self.conn().prepare_cached(
            "SELECT c.id, c.issue_id, c.author, c.text, c.created_at FROM comments c
             ORDER BY c.issue_id, c.created_at, c.id",
        )?;
        for c in stmt.query_map([], crate::ops::deps::comment_from_row)? {
            let c = c?;
            out.entry(c.issue_id.clone()).or_default().push(c);
        }
        Ok(out)
    }
}
