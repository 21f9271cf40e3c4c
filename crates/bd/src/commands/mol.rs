//! `bd mol`: pour, wisp, show, current, progress, squash and burn molecules.

use std::collections::BTreeMap;

use beads::Store;
use beads::formula::CookMode;
use beads::ops::molecule::{BondKind, BondSource, InstanceKind, Instantiated, Molecule};
use clap::{Args, Subcommand};
use serde::Serialize;

use super::cook::{cook_with, loader, parse_vars};
use super::wisp::WispArgs;
use crate::cli::Global;
use crate::render;

#[derive(Debug, Subcommand)]
pub enum MolCommand {
    /// Instantiate a formula or proto as a persistent molecule (`<prefix>-mol-…`).
    Pour(PourArgs),
    /// Instantiate a formula or proto as an ephemeral molecule (`<prefix>-wisp-…`), or list
    /// and collect wisps (`mol wisp list`, `mol wisp gc`).
    Wisp(WispArgs),
    /// A molecule's steps with their status; the current step is marked.
    Show(MolIdArgs),
    /// The step to work on now: in a molecule, or the one you have in progress.
    Current(CurrentArgs),
    /// How many of a molecule's steps are done.
    Progress(MolIdArgs),
    /// Close every step, write a digest on the root and remove the steps.
    Squash(SquashArgs),
    /// Delete a molecule: its root and all its steps.
    Burn(BurnArgs),
    /// Check that a formula is on the search path and cooks, before work is spawned from it.
    Seed(SeedArgs),
    /// Bond two molecules: spawn a formula or proto attached to a molecule, or link two
    /// molecules.
    Bond(BondArgs),
    /// Epics and molecules whose children are all done but which are still open.
    Stale(StaleArgs),
}

#[derive(Debug, Args)]
pub struct StaleArgs {
    /// Only those other open issues wait on.
    #[arg(long)]
    pub blocking: bool,
    /// Only those assigned to nobody.
    #[arg(long)]
    pub unassigned: bool,
}

#[derive(Debug, Args)]
pub struct BondArgs {
    /// A formula, proto or molecule.
    pub a: String,
    /// A formula, proto or molecule (at least one of the two must be a molecule).
    pub b: String,
    /// sequential (after the molecule), parallel (as its child) or conditional (if it fails).
    #[arg(long = "type", value_enum, default_value = "sequential")]
    pub kind: BondArg,
    /// Readable ids for what is spawned: `<molecule>.<ref>` (`{{var}}` allowed).
    #[arg(long = "ref", value_name = "REF")]
    pub child_ref: Option<String>,
    /// Set a variable (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Spawn as a wisp whatever the molecule is.
    #[arg(long, conflicts_with = "pour")]
    pub ephemeral: bool,
    /// Spawn as a persistent molecule whatever the molecule is.
    #[arg(long)]
    pub pour: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum BondArg {
    Sequential,
    Parallel,
    Conditional,
}

impl From<BondArg> for BondKind {
    fn from(b: BondArg) -> Self {
        match b {
            BondArg::Sequential => Self::Sequential,
            BondArg::Parallel => Self::Parallel,
            BondArg::Conditional => Self::Conditional,
        }
    }
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// The formula's name or path.
    pub formula: String,
    /// Set a variable (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PourArgs {
    /// A formula name or path, or the id of a proto made with `bd cook --persist`.
    pub formula: String,
    /// Set a variable (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
}

#[derive(Debug, Args)]
pub struct MolIdArgs {
    /// The molecule's root id.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct CurrentArgs {
    /// The molecule's root id [default: the molecule step you have in progress].
    pub id: Option<String>,
}

#[derive(Debug, Args)]
pub struct SquashArgs {
    /// The molecule's root id.
    pub id: String,
    /// A summary to put at the top of the digest.
    #[arg(long)]
    pub summary: Option<String>,
    /// Keep the (closed) step issues instead of deleting them.
    #[arg(long)]
    pub keep_children: bool,
}

#[derive(Debug, Args)]
pub struct BurnArgs {
    /// The molecule's root id.
    pub id: String,
    /// Accepted for compatibility; burning never asks.
    #[arg(short, long, hide = true)]
    pub force: bool,
}

pub fn run(g: &Global, cmd: MolCommand, ui: &mut ui::Ui) -> anyhow::Result<()> {
    match cmd {
        MolCommand::Pour(a) => pour(g, &a, InstanceKind::Mol, ui),
        MolCommand::Wisp(a) => super::wisp::run(g, a, ui),
        MolCommand::Show(a) => show(g, &a, ui),
        MolCommand::Current(a) => current(g, &a, ui),
        MolCommand::Progress(a) => progress(g, &a, ui),
        MolCommand::Squash(a) => squash(g, &a, ui),
        MolCommand::Burn(a) => burn(g, &a, ui),
        MolCommand::Seed(a) => seed(g, &a, ui),
        MolCommand::Bond(a) => bond(g, &a, ui),
        MolCommand::Stale(a) => stale(g, &a, ui),
    }
}

/// Whether `name` is a proto in this store (an exact id of a template).
fn is_proto(store: &Store, name: &str) -> anyhow::Result<bool> {
    Ok(store.exists(name)? && store.get(name)?.is_template)
}

pub fn pour(
    g: &Global,
    args: &PourArgs,
    kind: InstanceKind,
    ui: &mut ui::Ui,
) -> anyhow::Result<()> {
    let vars: BTreeMap<String, String> = parse_vars(&args.vars)?;
    let mut store = super::open(g)?;
    let (made, source) = if is_proto(&store, &args.formula)? {
        (
            store.pour_proto(&args.formula, &vars, kind)?,
            args.formula.clone(),
        )
    } else {
        let mut loader = loader(g);
        let cooked = cook_with(&mut loader, &args.formula, vars, CookMode::Runtime, &[])?;
        if kind == InstanceKind::Mol && cooked.phase.as_deref() == Some("vapor") {
            ui.warn(format!(
                "`{}` is a vapor-phase formula; `bd mol wisp` is the usual way to run it",
                cooked.formula
            ));
        }
        (store.instantiate(&cooked, kind, false)?, cooked.formula)
    };
    report(ui, &made, &source, kind)
}

fn stale(g: &Global, args: &StaleArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let store = super::open(g)?;
    let stale: Vec<_> = store
        .stale_molecules()?
        .into_iter()
        .filter(|m| !args.blocking || m.blocking_count > 0)
        .filter(|m| !args.unassigned || m.assignee.is_empty())
        .collect();
    let blocking = stale.iter().filter(|m| m.blocking_count > 0).count();
    if ui.is_json() {
        ui.json(&serde_json::json!({
            "stale_molecules": stale, "total_count": stale.len(), "blocking_count": blocking,
        }))?;
    } else if stale.is_empty() {
        ui.status("Nothing is stale: every open epic or molecule has open children");
    } else {
        let rows: Vec<Vec<String>> = stale
            .iter()
            .map(|m| {
                vec![
                    m.id.clone(),
                    format!("{}/{} done", m.closed_children, m.total_children),
                    if m.blocking_count > 0 {
                        format!("blocks {}", m.blocking_count)
                    } else {
                        String::new()
                    },
                    render::safe(&m.title),
                ]
            })
            .collect();
        render::table(ui, &rows)?;
        ui.status("Close them with `bd close`, or `bd mol squash` a molecule");
    }
    Ok(())
}

/// What a `mol bond` operand is.
enum Operand {
    Formula,
    Proto,
    Molecule,
}

fn operand(store: &Store, name: &str) -> anyhow::Result<Operand> {
    Ok(match store.resolve(name) {
        Ok(id) if store.get(&id)?.is_template => Operand::Proto,
        Ok(_) => Operand::Molecule,
        Err(beads::Error::NotFound { .. }) => Operand::Formula,
        Err(e) => return Err(e.into()),
    })
}

fn bond(g: &Global, args: &BondArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let vars = parse_vars(&args.vars)?;
    let mut store = super::open(g)?;
    let kinds = (operand(&store, &args.a)?, operand(&store, &args.b)?);
    let (source, source_kind, target) = match kinds {
        (Operand::Molecule, Operand::Molecule) => {
            // Two molecules: B follows (or joins, or backs up) A.
            let kind = BondKind::from(args.kind);
            store.add_dependency(&args.b, &args.a, kind.edge(), None)?;
            let a = store.resolve(&args.a)?;
            let out = serde_json::json!({
                "result_id": a, "result_type": "compound_molecule", "bond_type": bond_name(args.kind),
            });
            return if ui.is_json() {
                Ok(ui.json(&out)?)
            } else {
                ui.status(format!(
                    "Bonded {} to {a} ({})",
                    args.b,
                    bond_name(args.kind)
                ));
                Ok(())
            };
        }
        (Operand::Molecule, k) => (&args.b, k, &args.a),
        (k, Operand::Molecule) => (&args.a, k, &args.b),
        _ => {
            return Err(ui::CliError::user(
                "one side of a bond must be a molecule; pour one of the two first (`bd mol pour`)",
            )
            .into());
        }
    };
    let child_ref = args
        .child_ref
        .as_deref()
        .map(|r| beads::formula::vars::substitute(r, &vars));
    let ephemeral = match (args.ephemeral, args.pour) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    };
    let (proto_id, cooked);
    let src = match source_kind {
        Operand::Proto => {
            proto_id = store.resolve(source)?;
            BondSource::Proto {
                id: &proto_id,
                vars: &vars,
            }
        }
        _ => {
            cooked = cook_with(&mut loader(g), source, vars.clone(), CookMode::Runtime, &[])?;
            BondSource::Formula(&cooked)
        }
    };
    let made = store.bond_spawn(
        src,
        target,
        args.kind.into(),
        child_ref.as_deref(),
        ephemeral,
    )?;
    let target = store.resolve(target)?;
    if ui.is_json() {
        ui.json(&serde_json::json!({
            "result_id": target,
            "result_type": "compound_molecule",
            "bond_type": bond_name(args.kind),
            "spawned": made.ids.len(),
            "id_mapping": id_mapping(&made, source),
        }))?;
    } else {
        ui.line(&made.root.id)?;
        ui.status(format!(
            "Bonded {} ({} issue(s)) to {target} ({})",
            made.root.id,
            made.ids.len(),
            bond_name(args.kind)
        ));
    }
    Ok(())
}

fn bond_name(kind: BondArg) -> &'static str {
    match kind {
        BondArg::Sequential => "sequential",
        BondArg::Parallel => "parallel",
        BondArg::Conditional => "conditional",
    }
}

/// Template ids (the source's id — a formula's name or a proto's id — with the suffix the new
/// id has after the new root's) to the ids created.
fn id_mapping<'a>(made: &'a Instantiated, source: &str) -> BTreeMap<String, &'a str> {
    let root = made.root.id.as_str();
    made.ids
        .iter()
        .map(|id| {
            let template = id
                .strip_prefix(root)
                .map_or_else(|| id.clone(), |rest| format!("{source}{rest}"));
            (template, id.as_str())
        })
        .collect()
}

/// Cooks a formula without writing anything: it exists, parses, resolves and cooks. Variables
/// are checked too when given.
fn seed(g: &Global, args: &SeedArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let vars = parse_vars(&args.vars)?;
    let mode = if vars.is_empty() {
        CookMode::Compile
    } else {
        CookMode::Runtime
    };
    let cooked = cook_with(&mut loader(g), &args.formula, vars, mode, &[])?;
    if ui.is_json() {
        ui.json(&serde_json::json!({"status": "ok", "formula": cooked.formula}))?;
    } else {
        ui.line(format!(
            "Formula `{}` is usable ({} step(s))",
            cooked.formula,
            cooked.flat().len()
        ))?;
    }
    Ok(())
}

/// What `mol pour` and `mol wisp` print with `--json`: upstream's instantiation result
/// (`new_epic_id`, `id_mapping` from template ids to new ones, `created`, `attached`, `phase`)
/// plus the root issue and step counts.
#[derive(Serialize)]
struct PourReport<'a> {
    new_epic_id: &'a str,
    id_mapping: BTreeMap<String, &'a str>,
    created: usize,
    attached: usize,
    phase: &'static str,
    root: &'a beads::Issue,
    steps: usize,
    gates: usize,
}

fn report(
    ui: &mut ui::Ui,
    made: &Instantiated,
    source: &str,
    kind: InstanceKind,
) -> anyhow::Result<()> {
    if ui.is_json() {
        ui.json(&PourReport {
            new_epic_id: &made.root.id,
            id_mapping: id_mapping(made, source),
            created: made.ids.len(),
            attached: 0,
            phase: match kind {
                InstanceKind::Wisp { .. } => "vapor",
                InstanceKind::Mol | InstanceKind::Proto => "liquid",
            },
            root: &made.root,
            steps: made.steps,
            gates: made.gates,
        })?;
        return Ok(());
    }
    ui.line(&made.root.id)?;
    let what = match kind {
        InstanceKind::Wisp { .. } => "Created wisp",
        InstanceKind::Mol | InstanceKind::Proto => "Poured",
    };
    let gates = if made.gates > 0 {
        format!(", {} gate(s)", made.gates)
    } else {
        String::new()
    };
    ui.status(format!(
        "{what} {}: {} ({} step(s){gates})",
        made.root.id,
        render::safe(&made.root.title),
        made.steps
    ));
    Ok(())
}

fn step_rows(m: &Molecule) -> Vec<Vec<String>> {
    m.steps
        .iter()
        .map(|s| {
            let state = if s.issue.status == "open" && s.is_blocked {
                "blocked".to_owned()
            } else {
                s.issue.status.clone()
            };
            vec![
                if s.current { "→".into() } else { " ".into() },
                s.issue.id.clone(),
                state,
                render::safe(&s.issue.title),
            ]
        })
        .collect()
}

fn show(g: &Global, args: &MolIdArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let store = super::open(g)?;
    let m = store.molecule(&args.id)?;
    if ui.is_json() {
        ui.json(&m)?;
        return Ok(());
    }
    ui.line(format!(
        "{}  {}  [{}/{} done]",
        m.root.id,
        render::safe(&m.root.title),
        m.progress.done,
        m.progress.total
    ))?;
    if m.steps.is_empty() {
        ui.status("No step issues (a root-only wisp keeps its steps in the formula)");
    } else {
        render::table(ui, &step_rows(&m))?;
    }
    Ok(())
}

fn current(g: &Global, args: &CurrentArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let store = super::open(g)?;
    let step = match &args.id {
        Some(id) => {
            let m = store.molecule(id)?;
            m.steps
                .into_iter()
                .find(|s| s.current)
                .map(|s| (s.issue, m.root.id))
        }
        None => store.current_step_of(store.actor())?,
    };
    match step {
        Some((issue, root)) => {
            if ui.is_json() {
                ui.json(&serde_json::json!({"molecule": root, "step": issue}))?;
            } else {
                ui.line(format!("{}  {}", issue.id, render::safe(&issue.title)))?;
            }
        }
        None if ui.is_json() => ui.json(&serde_json::Value::Null)?,
        None => ui.status(match &args.id {
            Some(id) => format!("No current step in {id}: every step is done or blocked"),
            None => "No molecule step in progress for you (give a molecule id)".to_owned(),
        }),
    }
    Ok(())
}

fn progress(g: &Global, args: &MolIdArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let store = super::open(g)?;
    let p = store.molecule(&args.id)?.progress;
    if ui.is_json() {
        ui.json(&p)?;
    } else {
        ui.line(format!(
            "{}: {}/{} done ({}%), {} in progress, {} ready, {} blocked",
            p.id, p.done, p.total, p.percent, p.in_progress, p.ready, p.blocked
        ))?;
    }
    Ok(())
}

fn squash(g: &Global, args: &SquashArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let mut store = super::open(g)?;
    let r = store.mol_squash(&args.id, args.summary.as_deref(), args.keep_children)?;
    if ui.is_json() {
        ui.json(&r)?;
    } else {
        ui.status(format!(
            "Squashed {}: closed {} open step(s), removed {} step issue(s)",
            r.root.id,
            r.closed.len(),
            r.deleted.len()
        ));
    }
    Ok(())
}

fn burn(g: &Global, args: &BurnArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let mut store = super::open(g)?;
    let ids = store.mol_burn(&args.id)?;
    if ui.is_json() {
        ui.json(&serde_json::json!({ "deleted": ids }))?;
    } else {
        ui.status(format!(
            "Burned {}: deleted {} issue(s)",
            args.id,
            ids.len()
        ));
    }
    Ok(())
}
