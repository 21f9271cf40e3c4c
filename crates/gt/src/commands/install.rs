//! `gt install`: create a town.

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Where to create the town [default: the current directory].
    pub path: Option<PathBuf>,
    /// The town's name [default: the directory's name].
    #[arg(long)]
    pub name: Option<String>,
    /// The owner recorded in `mayor/town.json` (usually an email).
    #[arg(long, default_value = "")]
    pub owner: String,
    /// Repair an existing town: create what is missing, keep what exists.
    #[arg(long)]
    pub force: bool,
    /// Make the town a git repository with a fitting `.gitignore`.
    #[arg(long)]
    pub git: bool,
}

pub fn run(args: &InstallArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let path = match &args.path {
        Some(p) => p.clone(),
        None => host::env::current_dir()?,
    };
    let opts = town::install::InstallOptions {
        name: args.name.clone(),
        owner: args.owner.clone(),
        force: args.force,
        git: args.git,
    };
    let report = town::install::install(&path, &opts, super::context())?;
    if ui.is_json() {
        ui.json(&report)?;
    } else if report.repaired {
        ui.status(format!(
            "Repaired the town `{}` at `{}`: created {}",
            report.name,
            report.root.display(),
            if report.created.is_empty() {
                "nothing, it was whole".to_owned()
            } else {
                report.created.join(", ")
            }
        ));
    } else {
        ui.status(format!(
            "Created the town `{}` at `{}`",
            report.name,
            report.root.display()
        ));
        ui.status("Next: `gt rig add <name> <git-url>` to add a repository");
    }
    Ok(())
}
