//! `gt root`: print the town root.

use clap::Args;

#[derive(Debug, Args)]
pub struct RootArgs {}

pub fn run(_args: &RootArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let cwd = host::env::current_dir()?;
    let explicit = host::env::var(host::env::GT_TOWN_ROOT).map(std::path::PathBuf::from);
    let root = town::discover(explicit.as_deref(), &cwd)?;
    ui.line(root.display())?;
    Ok(())
}
