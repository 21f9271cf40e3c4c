//! Cooking: resolving a formula into its final steps.
//!
//! Order: `extends` (a child replaces a parent's step of the same id), convoy legs into steps,
//! expansions (`expand` on a step, `compose.expand`, `compose.map`) and loops (unrolled),
//! conditions (runtime mode), `compose.branch` and `compose.gate`, aspects and advice,
//! the overlay, then validation and `{{var}}` substitution.
//!
//! Replacing a step with a subgraph keeps the graph connected: the subgraph's entry steps
//! inherit what the replaced step needed, and whatever needed the replaced step now needs the
//! subgraph's exit steps. Dropping a step hands its needs to its dependents.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;

use serde::Serialize;

use super::load::{Loaded, Loader};
use super::model::{self, Advice, Compose, FormulaType, Gate, OnComplete, Squash, Step, VarDef};
use super::overlay::{Overlay, OverrideMode};
use super::{FormulaError, Result, expr, vars};

/// Issue types a step may have; anything else becomes `task`.
const STEP_TYPES: &[&str] = &["task", "bug", "feature", "epic", "chore"];
/// The most steps a cooked formula may have.
pub const MAX_STEPS: usize = 20_000;
/// How deeply expansions may nest.
const MAX_EXPANSION_DEPTH: usize = 16;

/// Whether `{{vars}}` are substituted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CookMode {
    /// Keep `{{vars}}` and conditions as written (a proto); required variables may be absent.
    #[default]
    Compile,
    /// Substitute variables, enforce required ones and evaluate conditions.
    Runtime,
}

/// What to cook with.
#[derive(Debug, Clone, Default)]
pub struct CookOptions {
    /// Variable values (`--var k=v`).
    pub vars: BTreeMap<String, String>,
    pub mode: CookMode,
    /// An overlay to apply last.
    pub overlay: Option<Overlay>,
}

/// A resolved formula.
#[derive(Debug, Clone, Serialize)]
pub struct Cooked {
    pub formula: String,
    #[serde(rename = "type")]
    pub kind: FormulaType,
    pub version: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Where the formula came from.
    pub source: String,
    pub mode: CookMode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pour: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub review_only: bool,
    /// Declared variables (and convoy inputs).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, VarDef>,
    /// The values used: given ones and defaults.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, String>,
    pub steps: Vec<CookedStep>,
    /// Run-time composition left for the executor (hooks, bond points).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compose: Option<Compose>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub squash: Option<Squash>,
}

/// A gate as cooked.
pub type CookedGate = Gate;

/// One resolved step.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CookedStep {
    pub id: String,
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub notes: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub acceptance: String,
    #[serde(rename = "type")]
    pub issue_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, serde_json::Value>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub assignee: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waits_for: Option<String>,
    /// Kept in compile mode; evaluated away in runtime mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<CookedGate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_complete: Option<OnComplete>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<CookedStep>,
}

impl Cooked {
    /// Every step, depth first, parents before children, with its parent's id.
    pub fn flat(&self) -> Vec<(&CookedStep, Option<&str>)> {
        fn walk<'a>(
            steps: &'a [CookedStep],
            parent: Option<&'a str>,
            out: &mut Vec<(&'a CookedStep, Option<&'a str>)>,
        ) {
            for s in steps {
                out.push((s, parent));
                walk(&s.children, Some(&s.id), out);
            }
        }
        let mut out = Vec::new();
        walk(&self.steps, None, &mut out);
        out
    }

    /// How many steps, children included.
    pub fn step_count(&self) -> usize {
        self.flat().len()
    }
}

/// A step while cooking: the parsed step (children moved out) and where it came from.
#[derive(Debug, Clone)]
struct Node {
    step: Step,
    children: Vec<Node>,
    file: Rc<str>,
    line: Option<usize>,
}

impl Node {
    fn id(&self) -> &str {
        &self.step.id
    }
}

fn nodes_from(steps: &[Step], loaded: &Loaded) -> Vec<Node> {
    let file: Rc<str> = Rc::from(loaded.file.as_str());
    nodes_in(steps, &file, &model::id_lines(&loaded.text))
}

fn nodes_in(steps: &[Step], file: &Rc<str>, lines: &HashMap<String, usize>) -> Vec<Node> {
    steps
        .iter()
        .map(|s| {
            let mut step = s.clone();
            step.needs = s.all_needs();
            step.depends_on.clear();
            let children = std::mem::take(&mut step.children);
            Node {
                line: lines.get(&s.id).copied(),
                children: nodes_in(&children, file, lines),
                step,
                file: Rc::clone(file),
            }
        })
        .collect()
}

fn walk_mut(nodes: &mut [Node], f: &mut impl FnMut(&mut Node)) {
    for n in nodes {
        f(n);
        walk_mut(&mut n.children, f);
    }
}

fn walk<'a>(nodes: &'a [Node], out: &mut Vec<&'a Node>) {
    for n in nodes {
        out.push(n);
        walk(&n.children, out);
    }
}

fn all_nodes(nodes: &[Node]) -> Vec<&Node> {
    let mut out = Vec::new();
    walk(nodes, &mut out);
    out
}

/// The sibling list holding `id` and its index there.
fn find_mut<'a>(nodes: &'a mut Vec<Node>, id: &str) -> Option<(&'a mut Vec<Node>, usize)> {
    if let Some(i) = nodes.iter().position(|n| n.id() == id) {
        return Some((nodes, i));
    }
    for n in nodes.iter_mut() {
        if let Some(hit) = find_mut(&mut n.children, id) {
            return Some(hit);
        }
    }
    None
}

fn push_unique(list: &mut Vec<String>, items: &[String]) {
    for i in items {
        if !list.contains(i) {
            list.push(i.clone());
        }
    }
}

/// Everything needing `old` (except `except`) now needs `new` instead.
fn rewire(nodes: &mut [Node], old: &str, new: &[String], except: &HashSet<String>) {
    walk_mut(nodes, &mut |n| {
        if except.contains(n.id()) {
            return;
        }
        if let Some(pos) = n.step.needs.iter().position(|x| x == old) {
            n.step.needs.remove(pos);
            let mut rest = n.step.needs.split_off(pos);
            let fresh: Vec<String> = new.iter().filter(|x| !rest.contains(x)).cloned().collect();
            push_unique(&mut n.step.needs, &fresh);
            rest.retain(|x| !n.step.needs.contains(x));
            n.step.needs.extend(rest);
        }
    });
}

/// Replaces step `id` with `replacement` (which may be empty: a drop), wiring as described in
/// the module docs. Returns false if there is no such step.
fn splice(tree: &mut Vec<Node>, id: &str, mut replacement: Vec<Node>) -> bool {
    let Some((list, idx)) = find_mut(tree, id) else {
        return false;
    };
    let old = list.remove(idx);
    let inner: HashSet<String> = all_nodes(&replacement)
        .iter()
        .map(|n| n.id().to_owned())
        .collect();
    let top: Vec<String> = replacement.iter().map(|n| n.id().to_owned()).collect();
    let needed: HashSet<String> = replacement
        .iter()
        .flat_map(|n| n.step.needs.iter().filter(|x| top.contains(x)).cloned())
        .collect();
    let exits: Vec<String> = top
        .iter()
        .filter(|t| !needed.contains(*t))
        .cloned()
        .collect();
    for n in &mut replacement {
        if !n.step.needs.iter().any(|x| inner.contains(x)) {
            let mut needs = old.step.needs.clone();
            push_unique(&mut needs, &n.step.needs);
            n.step.needs = needs;
        }
    }
    for (k, n) in replacement.into_iter().enumerate() {
        list.insert(idx + k, n);
    }
    let exits = if exits.is_empty() {
        old.step.needs.clone()
    } else {
        exits
    };
    rewire(tree, id, &exits, &HashSet::new());
    true
}

/// Matches `*` (any run of characters) and `?` (one character).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The formula after `extends`, before anything else.
struct Merged {
    root: Rc<Loaded>,
    vars: BTreeMap<String, VarDef>,
    nodes: Vec<Node>,
    template: Vec<Node>,
    compose: Compose,
    advice: Vec<(Advice, Rc<str>)>,
    description: String,
    phase: Option<String>,
    pour: Option<bool>,
    review_only: Option<bool>,
    squash: Option<Squash>,
}

fn overlay_nodes(base: &mut Vec<Node>, mine: Vec<Node>) {
    for n in mine {
        match base.iter_mut().find(|b| b.id() == n.id()) {
            Some(slot) => *slot = n,
            None => base.push(n),
        }
    }
}

fn merge_compose(into: &mut Compose, from: &Compose) {
    into.bond_points.extend(from.bond_points.iter().cloned());
    into.hooks.extend(from.hooks.iter().cloned());
    into.expand.extend(from.expand.iter().cloned());
    into.map.extend(from.map.iter().cloned());
    into.branch.extend(from.branch.iter().cloned());
    into.gate.extend(from.gate.iter().cloned());
    for a in &from.aspects {
        if !into.aspects.contains(a) {
            into.aspects.push(a.clone());
        }
    }
}

fn resolve_extends(
    loader: &mut Loader,
    loaded: Rc<Loaded>,
    stack: &mut Vec<String>,
) -> Result<Merged> {
    let f = &loaded.formula;
    if stack.contains(&f.formula) {
        stack.push(f.formula.clone());
        return Err(FormulaError::invalid(
            &loaded.file,
            extends_line(&loaded.text),
            format!("`extends` forms a cycle: {}", stack.join(" → ")),
        ));
    }
    stack.push(f.formula.clone());
    let mut m = Merged {
        root: Rc::clone(&loaded),
        vars: BTreeMap::new(),
        nodes: Vec::new(),
        template: Vec::new(),
        compose: Compose::default(),
        advice: Vec::new(),
        description: String::new(),
        phase: None,
        pour: None,
        review_only: None,
        squash: None,
    };
    for parent in &f.extends {
        let p = loader.load_name(parent).map_err(|e| match e {
            FormulaError::NotFound { .. } => FormulaError::invalid(
                &loaded.file,
                extends_line(&loaded.text),
                format!("extends `{parent}`, which cannot be found ({e})"),
            ),
            other => other,
        })?;
        let pm = resolve_extends(loader, p, stack)?;
        m.vars.extend(pm.vars);
        overlay_nodes(&mut m.nodes, pm.nodes);
        overlay_nodes(&mut m.template, pm.template);
        merge_compose(&mut m.compose, &pm.compose);
        m.advice.extend(pm.advice);
        if !pm.description.is_empty() {
            m.description = pm.description;
        }
        m.phase = pm.phase.or(m.phase);
        m.pour = pm.pour.or(m.pour);
        m.review_only = pm.review_only.or(m.review_only);
        m.squash = pm.squash.or(m.squash);
    }
    stack.pop();
    m.vars.extend(f.inputs.clone());
    m.vars.extend(f.vars.clone());
    let mut own = nodes_from(&f.steps, &loaded);
    own.extend(convoy_nodes(&loaded));
    overlay_nodes(&mut m.nodes, own);
    overlay_nodes(&mut m.template, nodes_from(&f.template, &loaded));
    if let Some(c) = &f.compose {
        merge_compose(&mut m.compose, c);
    }
    let file: Rc<str> = Rc::from(loaded.file.as_str());
    m.advice
        .extend(f.advice.iter().map(|a| (a.clone(), Rc::clone(&file))));
    if !f.description.is_empty() {
        m.description = f.description.clone();
    }
    m.phase = f.phase.clone().or(m.phase);
    m.pour = f.pour.or(m.pour);
    m.review_only = f.review_only.or(m.review_only);
    m.squash = f.squash.clone().or(m.squash);
    Ok(m)
}

fn extends_line(text: &str) -> Option<usize> {
    text.lines()
        .position(|l| l.trim_start().starts_with("extends"))
        .map(|i| i + 1)
}

/// A convoy's legs become parallel steps and its synthesis a step needing them.
fn convoy_nodes(loaded: &Loaded) -> Vec<Node> {
    let f = &loaded.formula;
    let mut steps: Vec<Step> = f
        .legs
        .iter()
        .map(|leg| {
            let mut description = leg.description.clone();
            if !leg.focus.is_empty() {
                description = format!("Focus: {}\n\n{description}", leg.focus);
            }
            Step {
                id: leg.id.clone(),
                title: if leg.title.is_empty() {
                    leg.id.clone()
                } else {
                    leg.title.clone()
                },
                description: description.trim().to_owned(),
                metadata: BTreeMap::from([(
                    "convoy_leg".to_owned(),
                    serde_json::Value::Bool(true),
                )]),
                ..Step::default()
            }
        })
        .collect();
    if let Some(s) = &f.synthesis {
        let needs = if s.depends_on.is_empty() {
            f.legs.iter().map(|l| l.id.clone()).collect()
        } else {
            s.depends_on.clone()
        };
        steps.push(Step {
            id: "synthesis".into(),
            title: if s.title.is_empty() {
                "Synthesis".into()
            } else {
                s.title.clone()
            },
            description: s.description.clone(),
            needs,
            ..Step::default()
        });
    }
    let file: Rc<str> = Rc::from(loaded.file.as_str());
    let mut nodes = nodes_in(&steps, &file, &model::id_lines(&loaded.text));
    for n in &mut nodes {
        if n.line.is_none() && n.id() == "synthesis" {
            n.line = loaded
                .text
                .lines()
                .position(|l| l.trim() == "[synthesis]")
                .map(|i| i + 1);
        }
    }
    nodes
}

/// Replaces `{target}`, `{target.title}`, `{target.description}` and `{{k}}` expand vars.
fn target_text(text: &str, target: &Step, extra: &BTreeMap<String, String>) -> String {
    let t = text
        .replace("{target.description}", &target.description)
        .replace("{target.title}", &target.title)
        .replace("{target.id}", &target.id)
        .replace("{target}", &target.id);
    vars::substitute(&t, extra)
}

fn instantiate_template(
    template: &[Node],
    target: &Step,
    extra: &BTreeMap<String, String>,
) -> Vec<Node> {
    template
        .iter()
        .map(|n| {
            let mut c = n.clone();
            retext(&mut c, &|s| target_text(s, target, extra));
            c
        })
        .collect()
}

/// Applies `f` to a node's ids, needs and text, recursively.
fn retext(n: &mut Node, f: &dyn Fn(&str) -> String) {
    let s = &mut n.step;
    s.id = f(&s.id);
    s.title = f(&s.title);
    s.description = f(&s.description);
    s.notes = f(&s.notes);
    s.acceptance = f(&s.acceptance);
    s.assignee = f(&s.assignee);
    s.needs = s.needs.iter().map(|x| f(x)).collect();
    if let Some(c) = &s.condition {
        s.condition = Some(f(c));
    }
    if let Some(w) = &s.waits_for {
        s.waits_for = Some(f(w));
    }
    if let Some(g) = &mut s.gate {
        g.await_id = f(&g.await_id);
    }
    for c in &mut n.children {
        retext(c, f);
    }
}

struct Cook<'a> {
    loader: &'a mut Loader,
    file: String,
    values: BTreeMap<String, String>,
    mode: CookMode,
}

impl Cook<'_> {
    fn err(&self, line: Option<usize>, message: impl Into<String>) -> FormulaError {
        FormulaError::invalid(&self.file, line, message)
    }

    fn node_err(&self, n: &Node, message: impl Into<String>) -> FormulaError {
        FormulaError::invalid(&n.file, n.line, message)
    }

    /// Loads an expansion formula's template.
    fn template_of(
        &mut self,
        name: &str,
        at: &Node,
    ) -> Result<(Vec<Node>, BTreeMap<String, String>)> {
        let loaded = self.loader.load_name(name).map_err(|e| match e {
            FormulaError::NotFound { .. } => self.node_err(
                at,
                format!(
                    "step `{}` expands `{name}`, which cannot be found ({e})",
                    at.id()
                ),
            ),
            other => other,
        })?;
        let mut stack = Vec::new();
        let merged = resolve_extends(self.loader, Rc::clone(&loaded), &mut stack)?;
        if merged.template.is_empty() {
            return Err(self.node_err(
                at,
                format!(
                    "`{name}` has no `[[template]]` steps to expand `{}` with",
                    at.id()
                ),
            ));
        }
        let defaults = merged
            .vars
            .iter()
            .filter_map(|(k, v)| v.default.clone().map(|d| (k.clone(), d)))
            .collect();
        Ok((merged.template, defaults))
    }

    fn expand_into(
        &mut self,
        tree: &mut Vec<Node>,
        target_id: &str,
        with: &str,
        extra: &BTreeMap<String, String>,
    ) -> Result<()> {
        let Some(target) = all_nodes(tree)
            .into_iter()
            .find(|n| n.id() == target_id)
            .cloned()
        else {
            return Err(self.err(
                None,
                format!("`compose` expands step `{target_id}`, which does not exist"),
            ));
        };
        let (template, defaults) = self.template_of(with, &target)?;
        let mut values = defaults;
        values.extend(extra.clone());
        let mut new = instantiate_template(&template, &target.step, &values);
        for n in &mut new {
            n.step.needs.retain(|x| x != target_id);
        }
        splice(tree, target_id, new);
        Ok(())
    }

    /// One pass of inline `expand` and loop unrolling. Returns whether anything changed.
    fn expand_pass(&mut self, tree: &mut Vec<Node>) -> Result<bool> {
        let pending: Vec<Node> = all_nodes(tree)
            .into_iter()
            .filter(|n| n.step.expand.is_some() || n.step.repeat.is_some())
            .cloned()
            .collect();
        for n in &pending {
            if let Some(with) = n.step.expand.clone() {
                let (template, defaults) = self.template_of(&with, n)?;
                let mut values = defaults;
                values.extend(n.step.expand_vars.clone());
                let new = instantiate_template(&template, &n.step, &values);
                splice(tree, n.id(), new);
            } else {
                let iterations = self.unroll(n)?;
                splice(tree, n.id(), iterations);
            }
        }
        Ok(!pending.is_empty())
    }

    /// The iterations of a loop step, chained one after another.
    fn unroll(&self, n: &Node) -> Result<Vec<Node>> {
        let Some(lp) = &n.step.repeat else {
            return Ok(Vec::new());
        };
        let id = n.id();
        if lp.body.is_empty() {
            return Err(self.node_err(n, format!("the loop of step `{id}` has an empty `body`")));
        }
        let (first, last) = if let Some(c) = lp.count {
            (1, c)
        } else if let Some(r) = &lp.range {
            expr::eval_range(r, &self.values)
                .map_err(|e| self.node_err(n, format!("the loop of step `{id}`: {e}")))?
        } else if let Some(m) = lp.max {
            if lp.until.is_none() {
                return Err(self.node_err(
                    n,
                    format!("the loop of step `{id}` has `max` without `until`"),
                ));
            }
            (1, m)
        } else {
            return Err(self.node_err(
                n,
                format!(
                    "the loop of step `{id}` has no bound: give `count`, `range`, or `until` with `max`"
                ),
            ));
        };
        let count = usize::try_from(last.saturating_sub(first).saturating_add(1)).unwrap_or(0);
        if count.saturating_mul(lp.body.len()) > MAX_STEPS {
            return Err(self.node_err(
                n,
                format!("the loop of step `{id}` would make more than {MAX_STEPS} steps"),
            ));
        }
        let body = nodes_in(&lp.body, &n.file, &HashMap::new());
        let body_ids: Vec<String> = all_nodes(&body).iter().map(|b| b.id().to_owned()).collect();
        let var = lp.var.clone().unwrap_or_else(|| "iteration".into());
        let mut out: Vec<Node> = Vec::new();
        let mut prev_exits: Vec<String> = Vec::new();
        for i in first..=last {
            let prefix = format!("{id}.{i}");
            let iv = i.to_string();
            let mut iter: Vec<Node> = body.clone();
            for b in &mut iter {
                let map = |s: &str| {
                    s.replace(&format!("{{{{{var}}}}}"), &iv)
                        .replace(&format!("{{{var}}}"), &iv)
                };
                retext(b, &map);
                walk_mut(std::slice::from_mut(b), &mut |x| {
                    x.line = n.line;
                    x.step.id = format!("{prefix}.{}", x.step.id);
                    x.step.needs = x
                        .step
                        .needs
                        .iter()
                        .map(|need| {
                            if body_ids.contains(need) {
                                format!("{prefix}.{need}")
                            } else {
                                need.clone()
                            }
                        })
                        .collect();
                    x.step
                        .metadata
                        .insert("loop_iteration".into(), serde_json::Value::from(i));
                    if let Some(u) = &lp.until {
                        x.step
                            .metadata
                            .insert("loop_until".into(), serde_json::Value::from(u.clone()));
                    }
                });
            }
            let inner: Vec<String> = iter.iter().map(|b| b.id().to_owned()).collect();
            let needed: HashSet<&String> = iter
                .iter()
                .flat_map(|b| b.step.needs.iter().filter(|x| inner.contains(x)))
                .collect();
            let exits: Vec<String> = inner
                .iter()
                .filter(|x| !needed.contains(x))
                .cloned()
                .collect();
            for b in &mut iter {
                if !b.step.needs.iter().any(|x| inner.contains(x)) {
                    push_unique(&mut b.step.needs, &prev_exits);
                }
            }
            prev_exits = exits;
            out.extend(iter);
        }
        Ok(out)
    }

    fn apply_conditions(&self, tree: &mut Vec<Node>) -> Result<()> {
        let conds: Vec<(String, String, Node)> = all_nodes(tree)
            .into_iter()
            .filter_map(|n| {
                n.step
                    .condition
                    .clone()
                    .map(|c| (n.id().to_owned(), c, n.clone()))
            })
            .collect();
        for (id, cond, node) in conds {
            let keep = expr::eval_condition(&cond, &self.values)
                .map_err(|e| self.node_err(&node, format!("the condition of step `{id}`: {e}")))?;
            if keep {
                if let Some((list, i)) = find_mut(tree, &id) {
                    list[i].step.condition = None;
                }
            } else {
                splice(tree, &id, Vec::new());
            }
        }
        Ok(())
    }

    fn apply_compose_order(&self, tree: &mut Vec<Node>, compose: &Compose) -> Result<()> {
        let exists = |tree: &Vec<Node>, id: &str| all_nodes(tree).iter().any(|n| n.id() == id);
        for b in &compose.branch {
            for id in std::iter::once(&b.from)
                .chain(&b.steps)
                .chain(std::iter::once(&b.join))
            {
                if !exists(tree, id) {
                    return Err(self.err(
                        None,
                        format!("`compose.branch` names step `{id}`, which does not exist"),
                    ));
                }
            }
            for s in &b.steps {
                if let Some((list, i)) = find_mut(tree, s) {
                    push_unique(&mut list[i].step.needs, std::slice::from_ref(&b.from));
                }
            }
            if let Some((list, i)) = find_mut(tree, &b.join) {
                push_unique(&mut list[i].step.needs, &b.steps);
            }
        }
        for g in &compose.gate {
            let Some((list, i)) = find_mut(tree, &g.before) else {
                return Err(self.err(
                    None,
                    format!(
                        "`compose.gate` names step `{}`, which does not exist",
                        g.before
                    ),
                ));
            };
            list[i].step.gate = Some(Gate {
                kind: "conditional".into(),
                condition: g.condition.clone(),
                ..Gate::default()
            });
        }
        Ok(())
    }

    fn apply_advice(
        &self,
        tree: &mut Vec<Node>,
        advice: &[(Advice, Rc<str>, Vec<model::Pointcut>)],
    ) -> Result<()> {
        let original: Vec<Node> = all_nodes(tree).into_iter().cloned().collect();
        for (a, file, pointcuts) in advice {
            let befores: Vec<&Step> = a
                .before
                .iter()
                .chain(a.around.iter().flat_map(|r| &r.before))
                .collect();
            let afters: Vec<&Step> = a
                .after
                .iter()
                .chain(a.around.iter().flat_map(|r| &r.after))
                .collect();
            for target in &original {
                if !glob_match(&a.target, target.id()) {
                    continue;
                }
                let cut = pointcuts.is_empty()
                    || pointcuts.iter().any(|p| {
                        p.glob.as_ref().is_none_or(|g| glob_match(g, target.id()))
                            && p.kind
                                .as_ref()
                                .is_none_or(|k| target.step.kind.as_ref() == Some(k))
                            && p.label
                                .as_ref()
                                .is_none_or(|l| target.step.labels.contains(l))
                    });
                if !cut {
                    continue;
                }
                let tid = target.id().to_owned();
                let subst = |s: &str| {
                    s.replace("{step.id}", &tid)
                        .replace("{step.title}", &target.step.title)
                        .replace("{step.description}", &target.step.description)
                };
                let make = |s: &Step| {
                    let mut step = s.clone();
                    step.children.clear();
                    let mut n = Node {
                        step,
                        children: Vec::new(),
                        file: Rc::clone(file),
                        line: None,
                    };
                    retext(&mut n, &subst);
                    n.step.needs.clear();
                    n
                };
                let before: Vec<Node> = befores.iter().map(|s| make(s)).collect();
                let after: Vec<Node> = afters.iter().map(|s| make(s)).collect();
                let Some((list, idx)) = find_mut(tree, &tid) else {
                    continue;
                };
                // Before: a chain in front of the target, taking over its needs.
                let mut prev = list[idx].step.needs.clone();
                let mut idx = idx;
                for mut b in before {
                    b.step.needs = prev.clone();
                    prev = vec![b.id().to_owned()];
                    list.insert(idx, b);
                    idx += 1;
                }
                list[idx].step.needs = prev;
                // After: a chain behind the target; its dependents move to the chain's end.
                if after.is_empty() {
                    continue;
                }
                let mut chain = Vec::new();
                let mut prev = vec![tid.clone()];
                for mut n in after {
                    n.step.needs = prev.clone();
                    prev = vec![n.id().to_owned()];
                    chain.push(n);
                }
                let chain_ids: HashSet<String> = chain.iter().map(|n| n.id().to_owned()).collect();
                for (k, n) in chain.into_iter().enumerate() {
                    list.insert(idx + 1 + k, n);
                }
                rewire(tree, &tid, &prev, &chain_ids);
            }
        }
        Ok(())
    }

    fn apply_overlay(&self, tree: &mut Vec<Node>, overlay: &Overlay) -> Result<()> {
        for o in &overlay.step_overrides {
            let Some((list, i)) = find_mut(tree, &o.step_id) else {
                return Err(FormulaError::invalid(
                    &overlay.file,
                    overlay.line_of(&o.step_id),
                    format!(
                        "overlay names step `{}`, which formula `{}` does not have",
                        o.step_id, self.file
                    ),
                ));
            };
            let step = &mut list[i].step;
            match o.mode {
                OverrideMode::Replace => {
                    if let Some(d) = &o.description {
                        step.description = d.clone();
                    }
                    if let Some(t) = &o.title {
                        step.title = t.clone();
                    }
                }
                OverrideMode::Append => {
                    if let Some(d) = &o.description {
                        step.description = if step.description.is_empty() {
                            d.clone()
                        } else {
                            format!("{}\n\n{d}", step.description.trim_end())
                        };
                    }
                    if let Some(t) = &o.title {
                        step.title = t.clone();
                    }
                }
                OverrideMode::Skip => {
                    splice(tree, &o.step_id, Vec::new());
                }
            }
        }
        Ok(())
    }

    fn validate(&self, tree: &[Node]) -> Result<()> {
        let nodes = all_nodes(tree);
        if nodes.len() > MAX_STEPS {
            return Err(self.err(
                None,
                format!("{} steps is over the limit of {MAX_STEPS}", nodes.len()),
            ));
        }
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(nodes.len());
        for (i, n) in nodes.iter().enumerate() {
            let id = n.id();
            let ok = !id.is_empty()
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
            if !ok {
                return Err(self.node_err(
                    n,
                    format!("step id `{id}` must be letters, digits, `-`, `_` or `.`"),
                ));
            }
            if index.insert(id, i).is_some() {
                return Err(self.node_err(n, format!("two steps have the id `{id}`")));
            }
            if n.step.title.trim().is_empty() {
                return Err(self.node_err(n, format!("step `{id}` has no title")));
            }
            if let Some(p) = n.step.priority
                && !(0..=4).contains(&p)
            {
                return Err(self.node_err(n, format!("step `{id}` has priority {p}, outside 0-4")));
            }
        }
        for n in &nodes {
            for need in &n.step.needs {
                if !index.contains_key(need.as_str()) {
                    return Err(self.node_err(
                        n,
                        format!(
                            "step `{}` needs `{need}`, which is not a step of this formula",
                            n.id()
                        ),
                    ));
                }
                if need == n.id() {
                    return Err(self.node_err(n, format!("step `{need}` needs itself")));
                }
            }
            if let Some(w) = &n.step.waits_for {
                let spawner_ok = match w.as_str() {
                    "all-children" | "any-children" => !n.step.needs.is_empty(),
                    other => index.contains_key(other),
                };
                if !spawner_ok {
                    return Err(self.node_err(
                        n,
                        format!("step `{}` waits for `{w}`: name a step, or use `all-children`/`any-children` with a step in `needs`", n.id()),
                    ));
                }
            }
        }
        // Kahn's algorithm; whatever is left over sits on a cycle or behind one.
        let mut indegree: Vec<usize> = nodes.iter().map(|n| n.step.needs.len()).collect();
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
        for (i, n) in nodes.iter().enumerate() {
            for need in &n.step.needs {
                dependents[index[need.as_str()]].push(i);
            }
        }
        let mut queue: Vec<usize> = (0..nodes.len()).filter(|i| indegree[*i] == 0).collect();
        let mut done = 0;
        while let Some(i) = queue.pop() {
            done += 1;
            for &d in &dependents[i] {
                indegree[d] -= 1;
                if indegree[d] == 0 {
                    queue.push(d);
                }
            }
        }
        if done < nodes.len() {
            let start = (0..nodes.len()).find(|i| indegree[*i] > 0).unwrap_or(0);
            // Walk needs among the leftover steps until one repeats.
            let mut path = vec![start];
            let mut seen: HashMap<usize, usize> = HashMap::from([(start, 0)]);
            let mut cur = start;
            loop {
                let next = nodes[cur]
                    .step
                    .needs
                    .iter()
                    .map(|x| index[x.as_str()])
                    .find(|j| indegree[*j] > 0);
                let Some(next) = next else { break };
                if let Some(&at) = seen.get(&next) {
                    path = path[at..].to_vec();
                    path.push(next);
                    break;
                }
                seen.insert(next, path.len());
                path.push(next);
                cur = next;
            }
            let names: Vec<&str> = path.iter().map(|i| nodes[*i].id()).collect();
            return Err(self.node_err(
                nodes[path[0]],
                format!("steps form a cycle through `needs`: {}", names.join(" → ")),
            ));
        }
        Ok(())
    }

    fn finish(&self, nodes: Vec<Node>) -> Vec<CookedStep> {
        let runtime = self.mode == CookMode::Runtime;
        let sub = |s: &str| {
            if runtime {
                vars::substitute(s, &self.values)
            } else {
                s.to_owned()
            }
        };
        nodes
            .into_iter()
            .map(|n| {
                let s = n.step;
                let kind = s.kind.as_deref().map(crate::model::normalize_type);
                let issue_type = match kind {
                    Some(k) if STEP_TYPES.contains(&k.as_str()) => k,
                    _ => "task".to_owned(),
                };
                let mut metadata = s.metadata;
                if let Some(k) = &s.kind
                    && !STEP_TYPES.contains(&k.as_str())
                {
                    metadata.insert("step_type".into(), serde_json::Value::from(k.clone()));
                }
                CookedStep {
                    title: sub(&s.title),
                    description: sub(&s.description),
                    notes: sub(&s.notes),
                    acceptance: sub(&s.acceptance),
                    issue_type,
                    priority: s.priority,
                    labels: s.labels.iter().map(|l| sub(l)).collect(),
                    metadata,
                    assignee: sub(&s.assignee),
                    needs: s.needs,
                    waits_for: s.waits_for,
                    condition: s.condition,
                    gate: s.gate.map(|g| Gate {
                        await_id: sub(&g.await_id),
                        ..g
                    }),
                    on_complete: s.on_complete,
                    children: self.finish(n.children),
                    id: s.id,
                }
            })
            .collect()
    }
}

/// Cooks a formula (by name or path) into its resolved steps.
pub fn cook(loader: &mut Loader, name_or_path: &str, opts: &CookOptions) -> Result<Cooked> {
    let loaded = loader.load(name_or_path)?;
    let mut stack = Vec::new();
    let merged = resolve_extends(loader, Rc::clone(&loaded), &mut stack)?;
    let f = &merged.root.formula;
    let values = match opts.mode {
        CookMode::Runtime => vars::bind(&merged.vars, &opts.vars, &loaded.file, &loaded.text)?,
        CookMode::Compile => {
            let mut v: BTreeMap<String, String> = merged
                .vars
                .iter()
                .filter_map(|(k, d)| d.default.clone().map(|x| (k.clone(), x)))
                .collect();
            v.extend(opts.vars.clone());
            v
        }
    };
    let mut c = Cook {
        loader,
        file: loaded.file.clone(),
        values,
        mode: opts.mode,
    };
    let mut tree = merged.nodes;
    if f.kind == FormulaType::Expansion && tree.is_empty() {
        // Cooked on its own, an expansion shows its template around a stand-in target.
        let target = Step {
            id: f.formula.clone(),
            title: f.formula.clone(),
            ..Step::default()
        };
        tree = instantiate_template(&merged.template, &target, &c.values);
    }
    for e in &merged.compose.expand {
        c.expand_into(&mut tree, &e.target, &e.with, &e.vars)?;
    }
    for m in &merged.compose.map {
        let targets: Vec<String> = all_nodes(&tree)
            .iter()
            .map(|n| n.id().to_owned())
            .filter(|id| glob_match(&m.select, id))
            .collect();
        for t in targets {
            c.expand_into(&mut tree, &t, &m.with, &m.vars)?;
        }
    }
    let mut rounds = 0;
    while c.expand_pass(&mut tree)? {
        rounds += 1;
        if rounds > MAX_EXPANSION_DEPTH {
            return Err(c.err(
                None,
                format!("expansions and loops nest deeper than {MAX_EXPANSION_DEPTH} levels"),
            ));
        }
    }
    if c.mode == CookMode::Runtime {
        c.apply_conditions(&mut tree)?;
    }
    c.apply_compose_order(&mut tree, &merged.compose)?;
    let mut advice: Vec<(Advice, Rc<str>, Vec<model::Pointcut>)> = merged
        .advice
        .iter()
        .map(|(a, file)| {
            (
                a.clone(),
                Rc::clone(file),
                merged.root.formula.pointcuts.clone(),
            )
        })
        .collect();
    if f.kind != FormulaType::Aspect {
        for name in &merged.compose.aspects {
            let aspect = c.loader.load_name(name).map_err(|e| match e {
                FormulaError::NotFound { .. } => FormulaError::invalid(
                    &loaded.file,
                    None,
                    format!("`compose.aspects` names `{name}`, which cannot be found ({e})"),
                ),
                other => other,
            })?;
            if aspect.formula.kind != FormulaType::Aspect {
                return Err(c.err(
                    None,
                    format!(
                        "`{name}` in `compose.aspects` is a {} formula, not an aspect",
                        aspect.formula.kind.as_str()
                    ),
                ));
            }
            let file: Rc<str> = Rc::from(aspect.file.as_str());
            advice.extend(aspect.formula.advice.iter().map(|a| {
                (
                    a.clone(),
                    Rc::clone(&file),
                    aspect.formula.pointcuts.clone(),
                )
            }));
        }
        c.apply_advice(&mut tree, &advice)?;
    }
    if let Some(o) = &opts.overlay {
        c.apply_overlay(&mut tree, o)?;
    }
    c.validate(&tree)?;
    let steps = c.finish(tree);
    let runtime = c.mode == CookMode::Runtime;
    let compose = merged.compose.clone();
    let leftover = Compose {
        bond_points: compose.bond_points,
        hooks: compose.hooks,
        ..Compose::default()
    };
    Ok(Cooked {
        formula: f.formula.clone(),
        kind: f.kind,
        version: f.version.unwrap_or(1),
        description: if runtime {
            vars::substitute(&merged.description, &c.values)
        } else {
            merged.description.clone()
        },
        source: loaded.file.clone(),
        mode: c.mode,
        phase: merged.phase,
        pour: merged.pour.unwrap_or(false),
        review_only: merged.review_only.unwrap_or(false),
        vars: merged.vars,
        values: c.values,
        steps,
        compose: (!leftover.bond_points.is_empty() || !leftover.hooks.is_empty())
            .then_some(leftover),
        squash: merged.squash,
    })
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs_match_stars_and_question_marks() {
        assert!(glob_match("*.implement", "feature.implement"));
        assert!(!glob_match("*.implement", "implement"));
        assert!(glob_match("implement", "implement"));
        assert!(glob_match("move-?", "move-3"));
        assert!(!glob_match("move-?", "move-10"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
    }
}
