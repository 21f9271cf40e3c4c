//! `bd delete`.

use clap::Args;

use crate::cli::Global;

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Issue ids.
    #[arg(required_unless_present = "from_file")]
    pub ids: Vec<String>,
    /// Also delete the ids listed in this file, one a line (`#` starts a comment; `-` for
    /// standard input).
    #[arg(long, value_name = "PATH")]
    pub from_file: Option<String>,
    /// Delete for real; without it, only show what would go.
    #[arg(short, long)]
    pub force: bool,
    /// Also delete everything that depends on these issues, and their children.
    #[arg(long)]
    pub cascade: bool,
    /// Show what would be deleted (the default without `--force`).
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(g: &Global, args: &DeleteArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let mut ids = args.ids.clone();
    if let Some(path) = &args.from_file {
        let text = super::read_text_source(path)?;
        ids.extend(
            text.lines()
                .map(|l| l.split('#').next().unwrap_or_default().trim())
                .filter(|l| !l.is_empty())
                .map(str::to_owned),
        );
    }
    if ids.is_empty() {
        return Err(ui::CliError::usage("no issue ids given").into());
    }
    let mut store = super::open(g)?;
    let plan = store.delete_plan(&ids, args.cascade)?;
    let apply = args.force && !args.dry_run;
    if apply {
        store.delete(&plan)?;
    }
    if ui.is_json() {
        ui.json(&serde_json::json!({"deleted": if apply { &plan } else { &[][..] }, "would_delete": if apply { &[][..] } else { &plan }}))?;
    } else if apply {
        ui.status(format!(
            "Deleted {} issue(s): {}",
            plan.len(),
            plan.join(", ")
        ));
    } else {
        for id in &plan {
            ui.line(id)?;
        }
        ui.status(format!(
            "Would delete {} issue(s); run again with `--force` to delete",
            plan.len()
        ));
    }
    Ok(())
}
