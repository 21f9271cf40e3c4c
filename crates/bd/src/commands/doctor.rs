//! `bd doctor` and `bd wisp gc`.

use clap::{Args, Subcommand};

use crate::cli::Global;

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Repair what is safe to repair.
    #[arg(long)]
    pub fix: bool,
}

#[derive(Debug, Subcommand)]
pub enum WispCommand {
    /// Delete wisps past their type's time to live.
    Gc(GcArgs),
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Show what would be deleted.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(g: &Global, args: &DoctorArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let mut store = super::open(g)?;
    let findings = store.doctor(args.fix)?;
    let failing = findings
        .iter()
        .filter(|f| f.status == "error" && !f.fixed)
        .count();
    if ui.is_json() {
        ui.json(
            &serde_json::json!({"ok": failing == 0, "path": store.path(), "checks": findings}),
        )?;
    } else {
        let rows: Vec<Vec<String>> = findings
            .iter()
            .map(|f| {
                vec![
                    f.status.to_owned(),
                    f.check.to_owned(),
                    format!("{}{}", f.message, if f.fixed { " (fixed)" } else { "" }),
                ]
            })
            .collect();
        crate::render::table(ui, &rows)?;
    }
    if failing > 0 {
        let mut err = ui::CliError::user(format!("{failing} check(s) failed"));
        if !args.fix {
            err = err.hint("run `bd doctor --fix` to repair what can be repaired");
        }
        return Err(err.into());
    }
    Ok(())
}

pub fn wisp(g: &Global, cmd: WispCommand, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let WispCommand::Gc(args) = cmd;
    let mut store = super::open(g)?;
    let ids = store.wisp_gc(args.dry_run)?;
    if ui.is_json() {
        ui.json(&serde_json::json!({"deleted": ids, "dry_run": args.dry_run}))?;
    } else {
        for id in &ids {
            ui.line(id)?;
        }
        ui.status(format!(
            "{} {} wisp(s)",
            if args.dry_run {
                "Would delete"
            } else {
                "Deleted"
            },
            ids.len()
        ));
    }
    Ok(())
}
