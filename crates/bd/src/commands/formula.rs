//! `bd formula`: list and show the formulas on the search path.

use beads::formula::{CookMode, FormulaType};
use clap::{Args, Subcommand};

use super::cook::{cook_with, loader, user_error};
use crate::cli::Global;
use crate::render;

#[derive(Debug, Subcommand)]
pub enum FormulaCommand {
    /// Every formula on the search path (`.beads/formulas`, the town's, the built-ins).
    List(ListArgs),
    /// A formula's description, variables and steps.
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Include formulas hidden by one of the same name earlier on the path.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A formula name or path.
    pub name: String,
}

pub fn run(g: &Global, cmd: FormulaCommand, ui: &mut ui::Ui) -> anyhow::Result<()> {
    match cmd {
        FormulaCommand::List(a) => list(g, &a, ui),
        FormulaCommand::Show(a) => show(g, &a, ui),
    }
}

fn list(g: &Global, args: &ListArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let loader = loader(g);
    let infos: Vec<_> = loader
        .list()
        .map_err(user_error)?
        .into_iter()
        .filter(|i| args.all || !i.shadowed)
        .collect();
    if ui.is_json() {
        ui.json(&infos)?;
    } else if infos.is_empty() {
        ui.status("No formulas found");
    } else {
        let rows: Vec<Vec<String>> = infos
            .iter()
            .map(|i| {
                vec![
                    i.name.clone(),
                    i.kind.clone(),
                    i.source.clone(),
                    render::safe(&i.description),
                ]
            })
            .collect();
        render::table(ui, &rows)?;
    }
    Ok(())
}

fn show(g: &Global, args: &ShowArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let mut loader = loader(g);
    let cooked = cook_with(
        &mut loader,
        &args.name,
        Default::default(),
        CookMode::Compile,
        &[],
    )?;
    if ui.is_json() {
        ui.json(&cooked)?;
        return Ok(());
    }
    ui.line(format!(
        "{}  ({}, version {})  {}",
        cooked.formula,
        cooked.kind.as_str(),
        cooked.version,
        cooked.source
    ))?;
    if !cooked.description.trim().is_empty() {
        ui.line("")?;
        for line in cooked.description.trim().lines() {
            ui.line(format!("  {}", render::safe(line)))?;
        }
    }
    if !cooked.vars.is_empty() {
        ui.line("")?;
        ui.line("Variables:")?;
        let rows: Vec<Vec<String>> = cooked
            .vars
            .iter()
            .map(|(name, v)| {
                let state = if v.required {
                    "required".to_owned()
                } else {
                    match &v.default {
                        Some(d) if d.is_empty() => "default \"\"".to_owned(),
                        Some(d) => format!("default {}", render::safe(d)),
                        None => "optional".to_owned(),
                    }
                };
                vec![format!("  {name}"), state, render::safe(&v.description)]
            })
            .collect();
        render::table(ui, &rows)?;
    }
    ui.line("")?;
    if cooked.kind == FormulaType::Aspect && cooked.steps.is_empty() {
        ui.line("Steps: none (an aspect adds steps to the formulas that use it)")?;
        return Ok(());
    }
    ui.line("Steps:")?;
    for (s, parent) in cooked.flat() {
        let indent = if parent.is_some() { "    " } else { "  " };
        let needs = if s.needs.is_empty() {
            String::new()
        } else {
            format!("  (needs {})", s.needs.join(", "))
        };
        ui.line(format!(
            "{indent}{}  {}{needs}",
            s.id,
            render::safe(&s.title)
        ))?;
    }
    Ok(())
}
