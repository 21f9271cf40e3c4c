//! `bd ready` and `bd blocked`.

use clap::Args;
use serde::Serialize;

use beads::Sort;

use super::filter::FilterArgs;
use crate::cli::Global;
use crate::render;

#[derive(Debug, Args)]
pub struct ReadyArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// At most this many (0 for no limit).
    #[arg(short = 'n', long, default_value_t = 100)]
    pub limit: usize,
    /// Only steps of this molecule (its direct children).
    #[arg(long)]
    pub mol: Option<String>,
    /// Include issues deferred to a later date.
    #[arg(long)]
    pub include_deferred: bool,
    /// Claim the first ready, unassigned issue atomically and print it.
    #[arg(long, conflicts_with = "explain")]
    pub claim: bool,
    /// Why each open issue is ready or blocked: resolved blockers, what still blocks, cycles.
    #[arg(long, conflicts_with = "gated")]
    pub explain: bool,
    /// Molecules ready to resume: a gate closed, the step it held is ready, and nobody has the
    /// molecule hooked.
    #[arg(long, conflicts_with = "claim")]
    pub gated: bool,
}

/// A molecule whose gate has closed, with the step that can go on (`ready --gated`).
#[derive(Debug, Serialize)]
struct GatedMolecule {
    molecule_id: String,
    molecule_title: String,
    closed_gate: beads::Issue,
    ready_step: beads::Issue,
}

/// `ready --explain` (upstream's shape).
#[derive(Debug, Serialize)]
struct Explanation {
    ready: Vec<ReadyItem>,
    blocked: Vec<BlockedItem>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cycles: Vec<Vec<String>>,
    summary: Summary,
}

#[derive(Debug, Serialize)]
struct ReadyItem {
    #[serde(flatten)]
    view: beads::IssueView,
    reason: String,
    resolved_blockers: Vec<String>,
}

#[derive(Debug, Serialize)]
struct BlockedItem {
    #[serde(flatten)]
    issue: beads::Issue,
    blocked_by: Vec<Blocker>,
    blocked_by_count: usize,
}

#[derive(Debug, Serialize)]
struct Blocker {
    id: String,
    title: String,
    status: String,
    priority: i64,
}

#[derive(Debug, Serialize)]
struct Summary {
    total_ready: usize,
    total_blocked: usize,
    cycle_count: usize,
}

/// Edge types that hold an issue back until their target is done.
const BLOCKING: [&str; 3] = ["blocks", "conditional-blocks", "waits-for"];

#[derive(Debug, Args)]
pub struct BlockedArgs {
    /// Only descendants of this issue.
    #[arg(long)]
    pub parent: Option<String>,
}

pub fn run(g: &Global, args: ReadyArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let mut filter = args.filter.to_filter(Sort::Priority, args.limit)?;
    filter.mol = args.mol;
    filter.include_deferred = args.include_deferred;
    let mut store = super::open(g)?;
    if args.explain {
        return explain(&store, ui);
    }
    if args.gated {
        return gated(&store, ui);
    }
    if args.claim {
        let issue = store.claim_ready(&filter)?;
        if ui.is_json() {
            ui.json(&issue)?;
        } else {
            ui.line(&issue.id)?;
            ui.status(format!(
                "Claimed {}: {}",
                issue.id,
                render::safe(&issue.title)
            ));
        }
        return Ok(());
    }
    render::issue_query(ui, &store, &filter, true, "No ready work")
}

fn gated(store: &beads::Store, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let everything = |statuses: &[&str], types: &[&str]| beads::Filter {
        statuses: statuses.iter().map(|s| (*s).to_owned()).collect(),
        types: types.iter().map(|s| (*s).to_owned()).collect(),
        include_ephemeral: true,
        limit: 0,
        ..Default::default()
    };
    let ready: std::collections::HashSet<String> = store
        .ready(&everything(&[], &[]))?
        .into_iter()
        .map(|v| v.issue.id)
        .collect();
    // A molecule someone has hooked is being worked on; it needs no dispatch.
    let mut hooked = std::collections::HashSet::new();
    for v in store.list(&everything(&["hooked"], &[]))? {
        if let Some(root) = store.molecule_root_of(&v.issue.id)? {
            hooked.insert(root);
        }
        hooked.insert(v.issue.id);
    }
    let mut found: Vec<GatedMolecule> = Vec::new();
    for gate in store.list(&everything(&["closed"], &["gate"]))? {
        let held = store.linked_issues(&gate.issue.id, beads::Direction::Up, Some("blocks"))?;
        for step in held.into_iter().filter(|s| ready.contains(&s.issue.id)) {
            let Some(root) = store.molecule_root_of(&step.issue.id)? else {
                continue;
            };
            if hooked.contains(&root) || found.iter().any(|m| m.molecule_id == root) {
                continue;
            }
            found.push(GatedMolecule {
                molecule_title: store.get(&root)?.title,
                molecule_id: root,
                closed_gate: gate.issue.clone(),
                ready_step: step.issue,
            });
        }
    }
    if ui.is_json() {
        ui.json(&serde_json::json!({"count": found.len(), "molecules": found}))?;
    } else if found.is_empty() {
        ui.status("No molecule is waiting to resume after a gate");
    } else {
        let rows: Vec<Vec<String>> = found
            .iter()
            .map(|m| {
                vec![
                    m.molecule_id.clone(),
                    format!("gate {} closed", m.closed_gate.id),
                    format!("next: {}", m.ready_step.id),
                    render::safe(&m.molecule_title),
                ]
            })
            .collect();
        render::table(ui, &rows)?;
    }
    Ok(())
}

fn explain(store: &beads::Store, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let all = beads::Filter {
        limit: 0,
        ..Default::default()
    };
    let mut ready = Vec::new();
    for view in store.ready(&all)? {
        let resolved: Vec<String> = store
            .dependencies(&view.issue.id, beads::Direction::Down, None)?
            .into_iter()
            .filter(|d| BLOCKING.contains(&d.kind.as_str()))
            .map(|d| d.depends_on_id)
            .collect();
        let reason = if resolved.is_empty() {
            "no blocking dependencies".to_owned()
        } else {
            format!("{} blocker(s) resolved", resolved.len())
        };
        ready.push(ReadyItem {
            view,
            reason,
            resolved_blockers: resolved,
        });
    }
    let mut blocked = Vec::new();
    for b in store.blocked(None)? {
        let blocked_by = b
            .blocked_by
            .iter()
            .map(|id| {
                // A blocker may be an external capability, which is not an issue.
                let found = store.get(id).ok();
                Blocker {
                    id: id.clone(),
                    title: found.as_ref().map(|i| i.title.clone()).unwrap_or_default(),
                    status: found.as_ref().map(|i| i.status.clone()).unwrap_or_default(),
                    priority: found.as_ref().map_or(2, |i| i.priority),
                }
            })
            .collect();
        blocked.push(BlockedItem {
            issue: b.issue,
            blocked_by,
            blocked_by_count: b.blocked_by_count,
        });
    }
    let cycles = store.dependency_cycles()?;
    let out = Explanation {
        summary: Summary {
            total_ready: ready.len(),
            total_blocked: blocked.len(),
            cycle_count: cycles.len(),
        },
        ready,
        blocked,
        cycles,
    };
    if ui.is_json() {
        ui.json(&out)?;
        return Ok(());
    }
    ui.line(format!("Ready ({}):", out.ready.len()))?;
    for r in &out.ready {
        ui.line(format!(
            "  {}  P{}  {}",
            r.view.issue.id,
            r.view.issue.priority,
            render::safe(&r.view.issue.title)
        ))?;
        ui.line(format!("    {}", r.reason))?;
    }
    ui.line(format!("Blocked ({}):", out.blocked.len()))?;
    for b in &out.blocked {
        ui.line(format!(
            "  {}  P{}  {}",
            b.issue.id,
            b.issue.priority,
            render::safe(&b.issue.title)
        ))?;
        for k in &b.blocked_by {
            ui.line(format!(
                "    blocked by {} [{}] {}",
                k.id,
                k.status,
                render::safe(&k.title)
            ))?;
        }
    }
    for c in &out.cycles {
        let back = c.first().map_or("", String::as_str);
        ui.line(format!("Cycle: {} → {back}", c.join(" → ")))?;
    }
    Ok(())
}

pub fn blocked(g: &Global, args: &BlockedArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let store = super::open(g)?;
    let blocked = store.blocked(args.parent.as_deref())?;
    if ui.is_json() {
        ui.json(&blocked)?;
    } else if blocked.is_empty() {
        ui.status("Nothing is blocked");
    } else {
        let rows: Vec<Vec<String>> = blocked
            .iter()
            .map(|b| {
                vec![
                    b.issue.id.clone(),
                    format!("P{}", b.issue.priority),
                    render::safe(&b.issue.title),
                    format!("blocked by {}", b.blocked_by.join(", ")),
                ]
            })
            .collect();
        render::table(ui, &rows)?;
    }
    Ok(())
}
