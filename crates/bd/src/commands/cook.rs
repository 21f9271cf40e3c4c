//! `bd cook`: resolve a formula and print it, or write it as a proto.

use std::collections::BTreeMap;
use std::path::PathBuf;

use beads::formula::{self, CookMode, CookOptions, Cooked, FormulaError, Loader};
use beads::ops::molecule::InstanceKind;
use clap::{Args, ValueEnum};

use crate::cli::Global;
use crate::render;

#[derive(Debug, Args)]
pub struct CookArgs {
    /// A formula name (searched in `.beads/formulas`, the town's, then the built-ins) or a
    /// path to a `.formula.toml` / `.formula.json` file.
    pub formula: String,
    /// Set a variable (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// `compile` keeps `{{vars}}` and conditions; `runtime` substitutes them [default:
    /// runtime when a `--var` is given, else compile].
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// With `--persist`, show what would be written without writing it.
    #[arg(long)]
    pub dry_run: bool,
    /// Write the result to the store as a proto (root id = the formula name).
    #[arg(long)]
    pub persist: bool,
    /// With `--persist`, replace an existing proto of the same name.
    #[arg(long)]
    pub force: bool,
    /// A town or rig directory whose `formula-overlays/<formula>.toml` applies (repeatable;
    /// the first that has one wins, so list the rig before the town).
    #[arg(long = "overlays", value_name = "DIR")]
    pub overlay_dirs: Vec<PathBuf>,
}

/// Whether variables are substituted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    Compile,
    Runtime,
}

/// The formula search path: this store's `formulas/`, then the town's `.beads/formulas/`.
pub fn search_dirs(g: &Global) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Ok(beads_dir) = super::beads_dir(g) {
        dirs.push(beads_dir.join("formulas"));
    }
    if let Some(town) = host::env::var(host::env::GT_TOWN_ROOT) {
        let town_dir = PathBuf::from(town).join(".beads").join("formulas");
        if !dirs.contains(&town_dir) {
            dirs.push(town_dir);
        }
    }
    dirs
}

/// A loader over [`search_dirs`] and the built-ins.
pub fn loader(g: &Global) -> Loader {
    Loader::new(search_dirs(g))
}

/// Parses `--var name=value` pairs.
pub fn parse_vars(pairs: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    formula::vars::parse_assignments(pairs).map_err(|e| ui::CliError::usage(e).into())
}

/// A formula error as the user's problem, with a hint where one helps.
pub fn user_error(e: FormulaError) -> anyhow::Error {
    match e {
        FormulaError::Io { .. } => e.into(),
        FormulaError::NotFound { .. } => ui::CliError::user(e.to_string())
            .hint("`bd formula list` shows the formulas on the search path")
            .into(),
        FormulaError::Invalid { .. } => ui::CliError::user(e.to_string()).into(),
    }
}

/// Cooks `name` with the given variables in `mode`.
pub fn cook_with(
    loader: &mut Loader,
    name: &str,
    vars: BTreeMap<String, String>,
    mode: CookMode,
    overlay_dirs: &[PathBuf],
) -> anyhow::Result<Cooked> {
    let loaded = loader.load(name).map_err(user_error)?;
    let overlay =
        formula::load_overlay(overlay_dirs, &loaded.formula.formula).map_err(user_error)?;
    formula::cook(
        loader,
        name,
        &CookOptions {
            vars,
            mode,
            overlay,
        },
    )
    .map_err(user_error)
}

pub fn run(g: &Global, args: &CookArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let vars = parse_vars(&args.vars)?;
    let mode = match args.mode {
        Some(ModeArg::Compile) => CookMode::Compile,
        Some(ModeArg::Runtime) => CookMode::Runtime,
        None if vars.is_empty() => CookMode::Compile,
        None => CookMode::Runtime,
    };
    let mut loader = loader(g);
    let cooked = cook_with(&mut loader, &args.formula, vars, mode, &args.overlay_dirs)?;
    if !args.persist {
        ui.json(&cooked)?;
        return Ok(());
    }
    let mut store = super::open(g)?;
    if args.dry_run {
        let plan = store.plan_ids(&cooked, InstanceKind::Proto)?;
        if ui.is_json() {
            ui.json(&serde_json::json!({"would_create": plan}))?;
        } else {
            for id in &plan {
                ui.line(id)?;
            }
            ui.status(format!(
                "Would create {} issue(s); run again without `--dry-run` to write them",
                plan.len()
            ));
        }
        return Ok(());
    }
    let made = store.instantiate(&cooked, InstanceKind::Proto, args.force)?;
    if ui.is_json() {
        ui.json(&made)?;
    } else {
        ui.line(&made.root.id)?;
        ui.status(format!(
            "Cooked proto {}: {} ({} step(s))",
            made.root.id,
            render::safe(&made.root.title),
            made.steps
        ));
    }
    Ok(())
}
