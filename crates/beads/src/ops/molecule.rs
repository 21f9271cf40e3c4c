//! Molecules: cooked formulas written as issues, and what agents do with them.
//!
//! A molecule is an epic (the root) with one child per step, named `<root>.<step-id>`, and a
//! gate issue `<root>.gate-<step-id>` in front of every gated step. `needs` become `blocks`
//! edges, nesting becomes `parent-child`, `waits_for` a `waits-for` edge plus a `gate:` label.
//! A proto (`cook --persist`) has the formula's name as its root id and is a template; a
//! poured molecule gets `<prefix>-mol-<hash>`, a wisp `<prefix>-wisp-<hash>` and is ephemeral.
//! Each instantiation is one transaction.

use std::collections::{BTreeMap, HashSet};

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::formula::cook::{CookMode, Cooked};
use crate::formula::model::VarDef;
use crate::formula::vars;
use crate::model::Issue;
use crate::ops::{deps, event, fetch, rehash};
use crate::readiness;
use crate::row::{ISSUE_COLUMN_COUNT, ISSUE_COLUMNS, content_hash, issue_from_row, upsert_issue};
use crate::store::{Store, WriteCtx};

/// The label every proto root carries.
pub const TEMPLATE_LABEL: &str = "template";
/// The close reason squash writes on steps it closes.
pub const SQUASH_REASON: &str = "squashed";

/// What to instantiate a cooked formula as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceKind {
    /// A template subgraph whose root id is the formula name.
    Proto,
    /// A persistent molecule (`<prefix>-mol-…`).
    Mol,
    /// An ephemeral molecule (`<prefix>-wisp-…`); `root_only` writes no step issues.
    Wisp { root_only: bool },
}

/// How a bonded molecule relates to the one it is bonded to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BondKind {
    /// Runs after the other completes (`blocks`).
    Sequential,
    /// Runs alongside it, as one of its children (`parent-child`).
    Parallel,
    /// Runs only if the other fails (`conditional-blocks`).
    Conditional,
}

impl BondKind {
    /// The dependency type the bond is written as.
    pub fn edge(self) -> &'static str {
        match self {
            Self::Sequential => "blocks",
            Self::Parallel => "parent-child",
            Self::Conditional => "conditional-blocks",
        }
    }
}

/// What to spawn and attach with [`Store::bond_spawn`]: a cooked formula or a stored proto.
pub enum BondSource<'a> {
    Formula(&'a Cooked),
    Proto {
        id: &'a str,
        vars: &'a BTreeMap<String, String>,
    },
}

/// An epic or molecule whose children are all done while it is still open (`mol stale`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaleMolecule {
    pub id: String,
    pub title: String,
    pub total_children: i64,
    pub closed_children: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub assignee: String,
    /// Open issues waiting on it through a blocking edge.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocking_issues: Vec<String>,
    pub blocking_count: usize,
}

/// What an instantiation wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Instantiated {
    pub root: Issue,
    /// Every issue created, root first.
    pub ids: Vec<String>,
    /// Step issues created (gates not counted).
    pub steps: usize,
    /// Gate issues created.
    pub gates: usize,
}

/// One step of a molecule as `mol show` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct MolStep {
    #[serde(flatten)]
    pub issue: Issue,
    pub is_blocked: bool,
    /// Whether this is the step to work on now.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub current: bool,
}

/// How far a molecule is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub id: String,
    pub total: usize,
    pub done: usize,
    pub in_progress: usize,
    pub ready: usize,
    pub blocked: usize,
    pub percent: u32,
}

/// A molecule: its root, its steps in formula order, and the current one.
#[derive(Debug, Clone, Serialize)]
pub struct Molecule {
    pub root: Issue,
    pub steps: Vec<MolStep>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    pub progress: Progress,
}

/// What `mol squash` did.
#[derive(Debug, Clone, Serialize)]
pub struct SquashReport {
    pub root: Issue,
    /// Steps that were still open and were closed by the squash.
    pub closed: Vec<String>,
    /// Step issues deleted (empty with `keep_children`).
    pub deleted: Vec<String>,
}

/// An issue to create, keyed by its suffix under the root (`""` is the root).
struct Planned {
    key: String,
    issue: Issue,
    labels: Vec<String>,
    parent: Option<String>,
}

/// Issues and edges (by key) to create.
#[derive(Default)]
struct Plan {
    items: Vec<Planned>,
    edges: Vec<(String, String, &'static str, Option<String>)>,
}

impl Plan {
    /// How many step issues (the root not counted) and gate issues the plan creates.
    fn counts(&self) -> (usize, usize) {
        let gate = |p: &&Planned| p.issue.issue_type == "gate";
        let steps = self
            .items
            .iter()
            .filter(|p| !p.key.is_empty() && !gate(p))
            .count();
        (steps, self.items.iter().filter(gate).count())
    }
}

fn id_for(root: &str, key: &str) -> String {
    if key.is_empty() {
        root.to_owned()
    } else {
        format!("{root}.{key}")
    }
}

/// Parses a gate timeout such as `90s`, `30m`, `24h`, `2d` or `1w` into nanoseconds.
pub fn parse_timeout(s: &str) -> Result<i64> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(0);
    }
    let bad = || {
        Error::invalid(
            "gate timeout",
            format!("`{s}` is not a duration like 30m, 24h or 2d"),
        )
    };
    let unit = s.chars().last().ok_or_else(bad)?;
    let secs: i64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        'w' => 604_800,
        _ => return Err(bad()),
    };
    let n: i64 = s[..s.len() - 1].trim().parse().map_err(|_| bad())?;
    n.checked_mul(secs)
        .and_then(|v| v.checked_mul(1_000_000_000))
        .ok_or_else(bad)
}

fn text_map(m: &BTreeMap<String, Value>) -> Option<Map<String, Value>> {
    (!m.is_empty()).then(|| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

fn plan_from_cooked(c: &Cooked, kind: InstanceKind) -> Result<Plan> {
    let mut plan = Plan::default();
    let mut root_meta = Map::new();
    root_meta.insert("formula".into(), Value::from(c.formula.clone()));
    if kind == InstanceKind::Proto {
        if !c.vars.is_empty() {
            root_meta.insert(
                "vars".into(),
                serde_json::to_value(&c.vars)
                    .map_err(|e| Error::invalid("formula", e.to_string()))?,
            );
        }
    } else if !c.values.is_empty() {
        root_meta.insert(
            "vars".into(),
            serde_json::to_value(&c.values)
                .map_err(|e| Error::invalid("formula", e.to_string()))?,
        );
    }
    plan.items.push(Planned {
        key: String::new(),
        issue: Issue {
            title: c.formula.clone(),
            description: c.description.trim().to_owned(),
            issue_type: "epic".into(),
            priority: 2,
            metadata: Some(Value::Object(root_meta)),
            wisp_type: c.values.get("wisp_type").cloned().unwrap_or_default(),
            source_formula: c.formula.clone(),
            source_location: c.source.clone(),
            ..Issue::default()
        },
        labels: if kind == InstanceKind::Proto {
            vec![TEMPLATE_LABEL.to_owned()]
        } else {
            Vec::new()
        },
        parent: None,
    });
    if kind == (InstanceKind::Wisp { root_only: true }) {
        return Ok(plan);
    }
    for (s, parent) in c.flat() {
        let mut labels = s.labels.clone();
        let mut metadata = s.metadata.clone();
        if let Some(cond) = &s.condition {
            metadata.insert("condition".into(), Value::from(cond.clone()));
        }
        if let Some(oc) = &s.on_complete {
            metadata.insert(
                "on_complete".into(),
                serde_json::to_value(oc).map_err(|e| Error::invalid("formula", e.to_string()))?,
            );
        }
        if let Some(w) = &s.waits_for {
            let (gate, spawner) = match w.as_str() {
                "all-children" | "any-children" => (w.clone(), s.needs.first().cloned()),
                other => ("all-children".to_owned(), Some(other.to_owned())),
            };
            labels.push(format!("gate:{gate}"));
            if let Some(spawner) = spawner {
                plan.edges.push((
                    s.id.clone(),
                    spawner,
                    "waits-for",
                    Some(serde_json::json!({ "gate": gate }).to_string()),
                ));
            }
        }
        plan.items.push(Planned {
            key: s.id.clone(),
            issue: Issue {
                title: s.title.clone(),
                description: s.description.clone(),
                notes: s.notes.clone(),
                acceptance_criteria: s.acceptance.clone(),
                issue_type: s.issue_type.clone(),
                priority: s.priority.unwrap_or(2),
                assignee: s.assignee.clone(),
                metadata: text_map(&metadata).map(Value::Object),
                source_formula: c.formula.clone(),
                ..Issue::default()
            },
            labels,
            parent: Some(parent.unwrap_or_default().to_owned()),
        });
        for need in &s.needs {
            let waits = s.waits_for.is_some() && s.needs.first() == Some(need);
            if !waits {
                plan.edges
                    .push((s.id.clone(), need.clone(), "blocks", None));
            }
        }
        if let Some(g) = &s.gate {
            let key = format!("gate-{}", s.id);
            let mut meta = Map::new();
            if !g.condition.is_empty() {
                meta.insert("condition".into(), Value::from(g.condition.clone()));
            }
            let what = if g.await_id.is_empty() {
                g.kind.clone()
            } else {
                format!("{} {}", g.kind, g.await_id)
            };
            plan.items.push(Planned {
                key: key.clone(),
                issue: Issue {
                    title: format!("Gate ({what}) before: {}", s.title),
                    issue_type: "gate".into(),
                    priority: s.priority.unwrap_or(2),
                    await_type: g.kind.clone(),
                    await_id: g.await_id.clone(),
                    timeout: parse_timeout(&g.timeout)?,
                    metadata: (!meta.is_empty()).then_some(Value::Object(meta)),
                    source_formula: c.formula.clone(),
                    ..Issue::default()
                },
                labels: Vec::new(),
                parent: Some(String::new()),
            });
            plan.edges.push((s.id.clone(), key, "blocks", None));
        }
    }
    for p in &plan.items[1..] {
        if let Some(parent) = &p.parent {
            plan.edges
                .push((p.key.clone(), parent.clone(), "parent-child", None));
        }
    }
    Ok(plan)
}

/// The parent (through `parent-child`) of issue `id` if it was poured from a formula: a
/// molecule root or a step with steps of its own.
pub(crate) fn formula_parent(conn: &Connection, id: &str) -> Result<Option<Issue>> {
    let parent: Option<String> = conn
        .query_row(
            "SELECT p.id FROM dependencies d JOIN issues p ON p.id = d.depends_on_id
             WHERE d.issue_id = ?1 AND +d.type = 'parent-child' AND p.source_formula != ''",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    parent.map(|p| fetch(conn, &p)).transpose()
}

/// How deep molecule steps may nest when looking for a step's root.
const MAX_NESTING: usize = 64;

/// Descendants of `root` through `parent-child`, in creation order, with `is_blocked`.
fn descendants(conn: &Connection, root: &str) -> Result<Vec<(Issue, bool)>> {
    let sql = format!(
        "WITH RECURSIVE sub(id) AS (
            SELECT issue_id FROM dependencies WHERE depends_on_id = ?1 AND type = 'parent-child'
            UNION SELECT d.issue_id FROM dependencies d JOIN sub ON d.depends_on_id = sub.id
                  WHERE d.type = 'parent-child')
         SELECT {ISSUE_COLUMNS}, i.is_blocked FROM issues i WHERE i.id IN (SELECT id FROM sub)
         ORDER BY i.rowid"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([root], |r| {
        Ok((issue_from_row(r)?, r.get::<_, bool>(ISSUE_COLUMN_COUNT)?))
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Rebuilds the plan a proto was written from, substituting `vars`.
fn plan_from_proto(
    conn: &Connection,
    root: &Issue,
    given: &BTreeMap<String, String>,
) -> Result<Plan> {
    let decls: BTreeMap<String, VarDef> = root
        .metadata
        .as_ref()
        .and_then(|m| m.get("vars"))
        .map(|v| serde_json::from_value(v.clone()))
        .transpose()
        .map_err(|e| Error::invalid("proto", format!("`{}` has unreadable vars: {e}", root.id)))?
        .unwrap_or_default();
    let values = vars::bind(&decls, given, &format!("proto `{}`", root.id), "")?;
    let sub = |s: &str| vars::substitute(s, &values);
    let prefix = format!("{}.", root.id);
    let mut plan = Plan::default();
    let mut root_issue = root.clone();
    let mut meta = match root.metadata.clone() {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    meta.insert(
        "vars".into(),
        serde_json::to_value(&values).map_err(|e| Error::invalid("proto", e.to_string()))?,
    );
    meta.insert("proto".into(), Value::from(root.id.clone()));
    root_issue.metadata = Some(Value::Object(meta));
    root_issue.title = sub(&root.title);
    root_issue.description = sub(&root.description);
    plan.items.push(Planned {
        key: String::new(),
        issue: root_issue,
        labels: deps::labels_of(conn, &root.id)?
            .into_iter()
            .filter(|l| l != TEMPLATE_LABEL)
            .collect(),
        parent: None,
    });
    let steps = descendants(conn, &root.id)?;
    let members: HashSet<String> = steps
        .iter()
        .map(|(i, _)| i.id.clone())
        .chain([root.id.clone()])
        .collect();
    let key_of = |id: &str| id.strip_prefix(&prefix).unwrap_or_default().to_owned();
    for (issue, _) in &steps {
        if !issue.id.starts_with(&prefix) {
            return Err(Error::invalid(
                "proto",
                format!(
                    "`{}` under `{}` is not named `<root>.<step>`",
                    issue.id, root.id
                ),
            ));
        }
        let mut i = issue.clone();
        i.title = sub(&i.title);
        i.description = sub(&i.description);
        i.notes = sub(&i.notes);
        i.acceptance_criteria = sub(&i.acceptance_criteria);
        i.assignee = sub(&i.assignee);
        i.await_id = sub(&i.await_id);
        plan.items.push(Planned {
            key: key_of(&issue.id),
            issue: i,
            labels: deps::labels_of(conn, &issue.id)?
                .iter()
                .map(|l| sub(l))
                .collect(),
            parent: None,
        });
    }
    let mut stmt = conn.prepare_cached(
        "SELECT depends_on_id, type, metadata FROM dependencies WHERE issue_id = ?1",
    )?;
    for (issue, _) in &steps {
        let rows = stmt.query_map([&issue.id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for row in rows {
            let (to, kind, meta) = row?;
            if !members.contains(&to) {
                continue;
            }
            let kind: &'static str = match kind.as_str() {
                "blocks" => "blocks",
                "parent-child" => "parent-child",
                "waits-for" => "waits-for",
                "conditional-blocks" => "conditional-blocks",
                _ => "related",
            };
            let to_key = if to == root.id {
                String::new()
            } else {
                key_of(&to)
            };
            plan.edges.push((
                key_of(&issue.id),
                to_key,
                kind,
                (meta != "{}").then_some(meta),
            ));
        }
    }
    Ok(plan)
}

/// Creates every planned issue and edge under `root`, then refreshes readiness once.
fn write_plan(
    tx: &Connection,
    w: &WriteCtx<'_>,
    plan: &Plan,
    root: &str,
    ephemeral: bool,
    is_template: bool,
) -> Result<Vec<String>> {
    let mut ids = Vec::with_capacity(plan.items.len());
    let mut exists = tx.prepare_cached("SELECT 1 FROM issues WHERE id = ?1")?;
    for p in &plan.items {
        let id = id_for(root, &p.key);
        crate::model::validate_title(&p.issue.title)
            .map_err(|e| Error::invalid("step", format!("`{id}`: {e}")))?;
        crate::model::validate_priority(p.issue.priority)?;
        if exists.exists([&id])? {
            return Err(Error::Conflict(format!(
                "an issue with id `{id}` already exists"
            )));
        }
        let issue = Issue {
            id: id.clone(),
            status: "open".into(),
            created_at: w.now.to_owned(),
            created_by: w.actor.to_owned(),
            updated_at: w.now.to_owned(),
            ephemeral,
            is_template,
            started_at: None,
            closed_at: None,
            close_reason: String::new(),
            ..p.issue.clone()
        };
        upsert_issue(tx, &issue, &content_hash(&issue))?;
        event(tx, w, &id, "created", None, Some(&issue.title), None)?;
        for label in &p.labels {
            deps::validate_label(label)?;
            deps::insert_label(tx, &id, label, w)?;
        }
        ids.push(id);
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO dependencies (issue_id, depends_on_id, type, created_at, created_by, metadata)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (from, to, kind, meta) in &plan.edges {
        let (from, to) = (id_for(root, from), id_for(root, to));
        insert.execute([
            from.as_str(),
            to.as_str(),
            kind,
            w.now,
            w.actor,
            meta.as_deref().unwrap_or("{}"),
        ])?;
        event(
            tx,
            w,
            &from,
            "dependency_added",
            None,
            Some(&format!("{kind}:{to}")),
            None,
        )?;
    }
    readiness::refresh(tx, w.settings, ids.clone())?;
    Ok(ids)
}

/// Deletes issues with their edges both ways, recording events; refreshes what they blocked.
fn delete_all(tx: &Connection, w: &WriteCtx<'_>, ids: &[String]) -> Result<()> {
    let doomed: HashSet<&String> = ids.iter().collect();
    let mut seeds = Vec::new();
    let mut dependents =
        tx.prepare_cached("SELECT issue_id FROM dependencies WHERE depends_on_id = ?1")?;
    for id in ids {
        for d in dependents.query_map([id], |r| r.get::<_, String>(0))? {
            let d = d?;
            if !doomed.contains(&d) {
                seeds.push(d);
            }
        }
    }
    for id in ids {
        let title: String = tx
            .prepare_cached("SELECT title FROM issues WHERE id = ?1")?
            .query_row([id], |r| r.get(0))?;
        tx.prepare_cached("DELETE FROM dependencies WHERE depends_on_id = ?1")?
            .execute([id])?;
        tx.prepare_cached("DELETE FROM issues WHERE id = ?1")?
            .execute([id])?;
        event(tx, w, id, "deleted", Some(&title), None, None)?;
    }
    readiness::refresh(tx, w.settings, seeds)?;
    Ok(())
}

impl Store {
    /// The id prefix a minted root gets, and the clock reading that seeds the hash.
    fn mint_seed(&self, kind: InstanceKind) -> (String, i128) {
        let prefix = match kind {
            InstanceKind::Wisp { .. } => format!("{}-wisp", self.prefix()),
            InstanceKind::Proto | InstanceKind::Mol => format!("{}-mol", self.prefix()),
        };
        (prefix, self.ctx.clock.now().as_nanosecond())
    }

    /// What an instantiation wrote, with its root as stored now.
    fn instantiated(
        &self,
        root: &str,
        ids: Vec<String>,
        steps: usize,
        gates: usize,
    ) -> Result<Instantiated> {
        Ok(Instantiated {
            root: fetch(self.conn(), root)?,
            ids,
            steps,
            gates,
        })
    }

    /// The ids an instantiation would create (`<prefix>-mol-?` stands for a minted root).
    pub fn plan_ids(&self, cooked: &Cooked, kind: InstanceKind) -> Result<Vec<String>> {
        let plan = plan_from_cooked(cooked, kind)?;
        let root = match kind {
            InstanceKind::Proto => cooked.formula.clone(),
            InstanceKind::Mol => format!("{}-mol-?", self.prefix()),
            InstanceKind::Wisp { .. } => format!("{}-wisp-?", self.prefix()),
        };
        Ok(plan.items.iter().map(|p| id_for(&root, &p.key)).collect())
    }

    /// Writes a cooked formula as a proto, molecule or wisp, in one transaction. `force`
    /// replaces an existing proto of the same name.
    pub fn instantiate(
        &mut self,
        cooked: &Cooked,
        kind: InstanceKind,
        force: bool,
    ) -> Result<Instantiated> {
        if kind != InstanceKind::Proto && cooked.mode != CookMode::Runtime {
            return Err(Error::invalid(
                "formula",
                "only a formula cooked in runtime mode (variables substituted) can be poured",
            ));
        }
        let plan = plan_from_cooked(cooked, kind)?;
        let proto_root = cooked.formula.clone();
        if kind == InstanceKind::Proto {
            let ok = !proto_root.is_empty()
                && proto_root
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
            if !ok {
                return Err(Error::invalid(
                    "formula",
                    format!("`{proto_root}` cannot be an issue id"),
                ));
            }
        }
        let ephemeral = matches!(kind, InstanceKind::Wisp { .. });
        let (steps, gates) = plan.counts();
        let (mint_prefix, nanos) = self.mint_seed(kind);
        let (root_id, ids) = self.write(|tx, w| {
            let prefix_root = if kind == InstanceKind::Proto {
                proto_root.clone()
            } else {
                crate::ids::mint(tx, &mint_prefix, &cooked.formula, w.now, w.actor, nanos)?
            };
            if kind == InstanceKind::Proto && crate::ops::fetch(tx, &prefix_root).is_ok() {
                if !force {
                    return Err(Error::Conflict(format!(
                        "a proto `{prefix_root}` already exists (use `--force` to replace it)"
                    )));
                }
                let mut old: Vec<String> = descendants(tx, &prefix_root)?
                    .into_iter()
                    .map(|(i, _)| i.id)
                    .collect();
                old.push(prefix_root.clone());
                delete_all(tx, w, &old)?;
            }
            let ids = write_plan(
                tx,
                w,
                &plan,
                &prefix_root,
                ephemeral,
                kind == InstanceKind::Proto,
            )?;
            Ok((prefix_root, ids))
        })?;
        self.instantiated(&root_id, ids, steps, gates)
    }

    /// Pours a stored proto as a molecule or wisp, substituting `vars`.
    pub fn pour_proto(
        &mut self,
        proto: &str,
        given: &BTreeMap<String, String>,
        kind: InstanceKind,
    ) -> Result<Instantiated> {
        let root = self.get(proto)?;
        if !root.is_template {
            return Err(Error::invalid(
                "proto",
                format!("`{}` is not a proto (not a template)", root.id),
            ));
        }
        let mut plan = plan_from_proto(self.conn(), &root, given)?;
        if kind == (InstanceKind::Wisp { root_only: true }) {
            plan.items.truncate(1);
            plan.edges.clear();
        }
        let (steps, gates) = plan.counts();
        let (mint_prefix, nanos) = self.mint_seed(kind);
        let ephemeral = matches!(kind, InstanceKind::Wisp { .. });
        let (new_root, ids) = self.write(|tx, w| {
            let new_root = crate::ids::mint(tx, &mint_prefix, &root.title, w.now, w.actor, nanos)?;
            let ids = write_plan(tx, w, &plan, &new_root, ephemeral, false)?;
            Ok((new_root, ids))
        })?;
        self.instantiated(&new_root, ids, steps, gates)
    }

    /// Spawns `source` and attaches it to the molecule `target` in one transaction: the new
    /// root depends on `target` with `bond`'s edge. It takes `target`'s phase (a wisp under a
    /// wisp) unless `ephemeral` says otherwise. With `child_ref`, the new ids are readable
    /// children of the target (`<target>.<child_ref>`, `<target>.<child_ref>.<step>`) instead
    /// of minted ones.
    pub fn bond_spawn(
        &mut self,
        source: BondSource<'_>,
        target: &str,
        bond: BondKind,
        child_ref: Option<&str>,
        ephemeral: Option<bool>,
    ) -> Result<Instantiated> {
        let target = self.get(target)?;
        let ephemeral = ephemeral.unwrap_or(target.ephemeral);
        let kind = if ephemeral {
            InstanceKind::Wisp { root_only: false }
        } else {
            InstanceKind::Mol
        };
        let (plan, title) = match source {
            BondSource::Formula(cooked) => {
                if cooked.mode != CookMode::Runtime {
                    return Err(Error::invalid(
                        "formula",
                        "only a formula cooked in runtime mode can be bonded",
                    ));
                }
                (plan_from_cooked(cooked, kind)?, cooked.formula.clone())
            }
            BondSource::Proto { id, vars } => {
                let proto = self.get(id)?;
                if !proto.is_template {
                    return Err(Error::invalid(
                        "proto",
                        format!("`{}` is not a proto (not a template)", proto.id),
                    ));
                }
                (plan_from_proto(self.conn(), &proto, vars)?, proto.title)
            }
        };
        if let Some(r) = child_ref {
            let ok = !r.is_empty()
                && r.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
            if !ok {
                return Err(Error::invalid(
                    "child ref",
                    format!("`{r}` must be letters, digits, `-` and `_`"),
                ));
            }
        }
        let (steps, gates) = plan.counts();
        let (mint_prefix, nanos) = self.mint_seed(kind);
        let (new_root, ids) = self.write(|tx, w| {
            let new_root = match child_ref {
                Some(r) => format!("{}.{r}", target.id),
                None => crate::ids::mint(tx, &mint_prefix, &title, w.now, w.actor, nanos)?,
            };
            let ids = write_plan(tx, w, &plan, &new_root, ephemeral, false)?;
            deps::insert_edge(tx, w, &new_root, &target.id, bond.edge(), None)?;
            readiness::refresh(tx, w.settings, vec![new_root.clone()])?;
            Ok((new_root, ids))
        })?;
        self.instantiated(&new_root, ids, steps, gates)
    }

    /// Open epics and molecule roots whose children are all done: finished work nobody
    /// closed, oldest first.
    pub fn stale_molecules(&self) -> Result<Vec<StaleMolecule>> {
        let done = readiness::sql_list(&self.settings.done_statuses());
        let mut stmt = self.conn().prepare(&format!(
            "SELECT p.id, p.title, p.assignee, count(*),
                    count(*) FILTER (WHERE c.status IN {done})
             FROM issues p
             JOIN dependencies d ON d.depends_on_id = p.id AND d.type = 'parent-child'
             JOIN issues c ON c.id = d.issue_id AND c.status != 'tombstone'
             WHERE p.status NOT IN {done} AND p.is_template = 0
               AND (p.issue_type = 'epic' OR p.source_formula != '')
             GROUP BY p.id HAVING count(*) = count(*) FILTER (WHERE c.status IN {done})
             ORDER BY p.created_at, p.id"
        ))?;
        let rows = stmt.query_map([], |r| {
            Ok(StaleMolecule {
                id: r.get(0)?,
                title: r.get(1)?,
                assignee: r.get(2)?,
                total_children: r.get(3)?,
                closed_children: r.get(4)?,
                blocking_issues: Vec::new(),
                blocking_count: 0,
            })
        })?;
        let mut stale = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        let mut waiting = self.conn().prepare(&format!(
            "SELECT d.issue_id FROM dependencies d JOIN issues w ON w.id = d.issue_id
             WHERE d.depends_on_id = ?1 AND d.type IN ('blocks', 'conditional-blocks')
               AND w.status NOT IN {done} ORDER BY d.issue_id"
        ))?;
        for m in &mut stale {
            m.blocking_issues = waiting
                .query_map([&m.id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            m.blocking_count = m.blocking_issues.len();
        }
        Ok(stale)
    }

    /// A molecule's root, steps in formula order (gates included), the current step and
    /// progress. The current step is the first one hooked or in progress, else the first ready.
    pub fn molecule(&self, input: &str) -> Result<Molecule> {
        let root = self.get(input)?;
        let done = self.settings.done_statuses();
        let rows = descendants(self.conn(), &root.id)?;
        let current = rows
            .iter()
            .find(|(i, _)| i.status == "hooked" || i.status == "in_progress")
            .or_else(|| {
                rows.iter()
                    .find(|(i, b)| i.status == "open" && !b && i.issue_type != "gate")
            })
            .map(|(i, _)| i.id.clone());
        let mut p = Progress {
            id: root.id.clone(),
            ..Progress::default()
        };
        for (i, blocked) in rows.iter().filter(|(i, _)| i.issue_type != "gate") {
            p.total += 1;
            if done.contains(&i.status) {
                p.done += 1;
            } else if i.status == "in_progress" || i.status == "hooked" {
                p.in_progress += 1;
            } else if *blocked {
                p.blocked += 1;
            } else if i.status == "open" {
                p.ready += 1;
            }
        }
        p.percent = (p.done * 100)
            .checked_div(p.total)
            .map_or(0, |v| u32::try_from(v).unwrap_or(100));
        let steps = rows
            .into_iter()
            .map(|(issue, is_blocked)| MolStep {
                current: current.as_deref() == Some(issue.id.as_str()),
                issue,
                is_blocked,
            })
            .collect();
        Ok(Molecule {
            root,
            steps,
            current,
            progress: p,
        })
    }

    /// The root of the molecule `input` is a step of (the topmost ancestor poured from a
    /// formula), or `None` when it is not in a molecule.
    pub fn molecule_root_of(&self, input: &str) -> Result<Option<String>> {
        let mut id = self.resolve(input)?;
        let mut root = None;
        // Bounded: parent-child edges form no cycles, but a hand-edited store could.
        for _ in 0..MAX_NESTING {
            let Some(parent) = formula_parent(self.conn(), &id)? else {
                break;
            };
            let parent = parent.id;
            root = Some(parent.clone());
            id = parent;
        }
        Ok(root)
    }

    /// The step `actor` is working on (hooked or in progress) in any molecule, with its root;
    /// an unassigned step in progress counts when the actor has none of its own.
    pub fn current_step_of(&self, actor: &str) -> Result<Option<(Issue, String)>> {
        let sql = format!(
            "SELECT {ISSUE_COLUMNS}, d.depends_on_id FROM issues i
             JOIN dependencies d ON d.issue_id = i.id AND d.type = 'parent-child'
             JOIN issues r ON r.id = d.depends_on_id
             WHERE i.status IN ('hooked', 'in_progress') AND (i.assignee = ?1 OR i.assignee = '')
               AND r.source_formula != ''
             ORDER BY i.assignee = ?1 DESC, i.updated_at DESC, i.rowid LIMIT 1"
        );
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let mut rows = stmt.query_map([actor], |r| {
            Ok((issue_from_row(r)?, r.get::<_, String>(ISSUE_COLUMN_COUNT)?))
        })?;
        Ok(rows.next().transpose()?)
    }

    /// Closes every open step, appends a digest to the root's notes and closes it (keeping it
    /// for good even if it was a wisp), and deletes the steps unless `keep_children`.
    pub fn mol_squash(
        &mut self,
        input: &str,
        summary: Option<&str>,
        keep_children: bool,
    ) -> Result<SquashReport> {
        let root_id = self.resolve(input)?;
        let done = self.settings.done_statuses();
        let (closed, deleted) = self.write(|tx, w| {
            let root = fetch(tx, &root_id)?;
            let steps = descendants(tx, &root_id)?;
            let mut closed = Vec::new();
            let mut lines = Vec::new();
            for (s, _) in &steps {
                let was_done = done.contains(&s.status);
                if s.issue_type != "gate" {
                    lines.push(format!("- [{}] {}", if was_done { "x" } else { " " }, s.title));
                }
                if !was_done {
                    tx.prepare_cached(
                        "UPDATE issues SET status = 'closed', closed_at = ?2, updated_at = ?2, close_reason = ?3 WHERE id = ?1",
                    )?
                    .execute([&s.id, w.now, SQUASH_REASON])?;
                    event(tx, w, &s.id, "closed", Some(&s.status), Some("closed"), Some(SQUASH_REASON))?;
                    closed.push(s.id.clone());
                }
            }
            let finished = steps.len() - closed.len();
            let mut digest = format!(
                "Digest of {} ({}): {finished} of {} step(s) were done; {} closed by squash.",
                root.id,
                if root.source_formula.is_empty() { &root.title } else { &root.source_formula },
                steps.len(),
                closed.len()
            );
            if let Some(s) = summary.map(str::trim).filter(|s| !s.is_empty()) {
                digest = format!("{s}\n\n{digest}");
            }
            if !lines.is_empty() {
                digest.push('\n');
                digest.push_str(&lines.join("\n"));
            }
            let notes = if root.notes.trim().is_empty() {
                digest
            } else {
                format!("{}\n\n{digest}", root.notes.trim_end())
            };
            tx.prepare_cached(
                "UPDATE issues SET notes = ?2, ephemeral = 0, updated_at = ?3,
                   status = 'closed', closed_at = COALESCE(closed_at, ?3), close_reason = ?4
                 WHERE id = ?1",
            )?
            .execute([&root_id, &notes, w.now, SQUASH_REASON])?;
            if root.status != "closed" {
                event(tx, w, &root_id, "closed", Some(&root.status), Some("closed"), Some(SQUASH_REASON))?;
            }
            let mut seeds: Vec<String> = closed.clone();
            seeds.extend(readiness::seeds_for_status_change(tx, &root_id)?);
            readiness::refresh(tx, w.settings, seeds)?;
            let deleted: Vec<String> = if keep_children {
                for id in &closed {
                    rehash(tx, id)?;
                }
                Vec::new()
            } else {
                let ids: Vec<String> = steps.into_iter().map(|(i, _)| i.id).collect();
                delete_all(tx, w, &ids)?;
                ids
            };
            rehash(tx, &root_id)?;
            Ok((closed, deleted))
        })?;
        Ok(SquashReport {
            root: fetch(self.conn(), &root_id)?,
            closed,
            deleted,
        })
    }

    /// Deletes a molecule: its root and every step and gate under it. Returns the ids.
    pub fn mol_burn(&mut self, input: &str) -> Result<Vec<String>> {
        let root_id = self.resolve(input)?;
        self.write(|tx, w| {
            let mut ids = vec![root_id.clone()];
            ids.extend(descendants(tx, &root_id)?.into_iter().map(|(i, _)| i.id));
            delete_all(tx, w, &ids)?;
            Ok(ids)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::parse_timeout;

    #[test]
    fn timeouts_parse_to_nanoseconds() {
        assert_eq!(parse_timeout("").unwrap(), 0);
        assert_eq!(parse_timeout("30s").unwrap(), 30_000_000_000);
        assert_eq!(parse_timeout("24h").unwrap(), 86_400_000_000_000);
        assert!(parse_timeout("soon").is_err());
        assert!(parse_timeout("5y").is_err());
    }
}
