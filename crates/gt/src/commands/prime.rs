//! `gt prime` and `gt hook`: what an agent reads first, and what is on its hook.

use std::io::Write as _;

use clap::Args;

use town::work::identity::PolecatId;
use town::work::prime::{self, Role};

#[derive(Debug, Args)]
pub struct PrimeArgs {
    /// Run as a session-start hook (reads and ignores the hook's JSON on stdin).
    #[arg(long)]
    pub hook: bool,
}

#[derive(Debug, Args)]
pub struct HookArgs {}

/// The caller's role: `GT_ROLE` when it names a polecat, else the polecat whose worktree holds
/// the current directory, else the town.
fn role(town: &town::layout::Town) -> anyhow::Result<Role> {
    if let Some(id) = host::env::var(host::env::GT_ROLE).and_then(|r| PolecatId::parse(&r)) {
        return Ok(Role::Polecat(id));
    }
    let cwd = host::env::current_dir()?;
    let cwd = cwd.canonicalize().unwrap_or(cwd);
    let root = town
        .root()
        .canonicalize()
        .unwrap_or_else(|_| town.root().to_owned());
    Ok(PolecatId::from_path(&town::layout::Town::at(root), &cwd).map_or(Role::Town, Role::Polecat))
}

pub fn run(args: &PrimeArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    if args.hook {
        // Hooks pass a JSON object on stdin; drain it so the hook's writer never blocks.
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
    }
    let town = super::town()?;
    let store = super::store(&town)?;
    let text = prime::render(&town, &store, &role(&town)?)?;
    if ui.is_json() {
        ui.json(&serde_json::json!({"prime": text}))?;
    } else {
        ui.out().write_all(text.as_bytes())?;
    }
    Ok(())
}

pub fn hook(_args: &HookArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    let store = super::store(&town)?;
    let Role::Polecat(id) = role(&town)? else {
        return Err(ui::CliError::user(
            "`gt hook` shows a polecat's work; run it inside a polecat's worktree",
        )
        .into());
    };
    let row = store.polecat(&id.rig, &id.name)?;
    let bead = row
        .as_ref()
        .map(|r| r.bead_id.clone())
        .filter(|b| !b.is_empty());
    if ui.is_json() {
        ui.json(&serde_json::json!({"polecat": id.address(), "bead": bead}))?;
        return Ok(());
    }
    match bead {
        Some(b) => {
            let issue = store.get(&b)?;
            ui.line(format!(
                "{}  {}  {}",
                issue.id,
                issue.status,
                super::safe(&issue.title)
            ))?;
        }
        None => ui.status(format!("Nothing is hooked to {}", id.address())),
    }
    Ok(())
}
