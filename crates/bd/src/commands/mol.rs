//! `bd mol`: pour, wisp, show, current, progress, squash and burn molecules.

use std::collections::BTreeMap;

use beads::Store;
use beads::formula::CookMode;
use beads::ops::molecule::{InstanceKind, Instantiated, Molecule};
use clap::{Args, Subcommand};

use super::cook::{cook_with, loader, parse_vars};
use crate::cli::Global;
use crate::render;

#[derive(Debug, Subcommand)]
pub enum MolCommand {
    /// Instantiate a formula or proto as a persistent molecule (`<prefix>-mol-…`).
    Pour(PourArgs),
    /// Instantiate a formula or proto as an ephemeral molecule (`<prefix>-wisp-…`).
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
pub struct WispArgs {
    #[command(flatten)]
    pub pour: PourArgs,
    /// Create only the root; the steps are read from the formula when needed.
    #[arg(long)]
    pub root_only: bool,
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
        MolCommand::Wisp(a) => pour(
            g,
            &a.pour,
            InstanceKind::Wisp {
                root_only: a.root_only,
            },
            ui,
        ),
        MolCommand::Show(a) => show(g, &a, ui),
        MolCommand::Current(a) => current(g, &a, ui),
        MolCommand::Progress(a) => progress(g, &a, ui),
        MolCommand::Squash(a) => squash(g, &a, ui),
        MolCommand::Burn(a) => burn(g, &a, ui),
    }
}

/// Whether `name` is a proto in this store (an exact id of a template).
fn is_proto(store: &Store, name: &str) -> anyhow::Result<bool> {
    Ok(store.exists(name)? && store.get(name)?.is_template)
}

fn pour(g: &Global, args: &PourArgs, kind: InstanceKind, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let vars: BTreeMap<String, String> = parse_vars(&args.vars)?;
    let mut store = super::open(g)?;
    let made = if is_proto(&store, &args.formula)? {
        store.pour_proto(&args.formula, &vars, kind)?
    } else {
        let mut loader = loader(g);
        let cooked = cook_with(&mut loader, &args.formula, vars, CookMode::Runtime, &[])?;
        if kind == InstanceKind::Mol && cooked.phase.as_deref() == Some("vapor") {
            ui.warn(format!(
                "`{}` is a vapor-phase formula; `bd mol wisp` is the usual way to run it",
                cooked.formula
            ));
        }
        store.instantiate(&cooked, kind, false)?
    };
    report(ui, &made, kind)
}

fn report(ui: &mut ui::Ui, made: &Instantiated, kind: InstanceKind) -> anyhow::Result<()> {
    if ui.is_json() {
        ui.json(made)?;
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
