//! `bd doctor`.

use clap::Args;

use crate::cli::Global;

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Repair what is safe to repair.
    #[arg(long)]
    pub fix: bool,
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
