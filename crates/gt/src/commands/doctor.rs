//! `gt doctor`: check the town; `--fix` repairs what is safe to repair.

use std::collections::BTreeSet;

use clap::Args;

use town::doctor::{self, Severity};

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Repair what is safe to repair, and say what was done.
    #[arg(long)]
    pub fix: bool,
}

pub fn run(args: &DoctorArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    let agents = configured_agents(&town);
    let caller_env = super::caller_env();
    let gt_bin = host::env::current_exe().unwrap_or_else(|_| "gt".into());
    let checks = doctor::run(
        &town,
        doctor::DoctorInput {
            agents: &agents,
            caller_env: &caller_env,
            gt_bin: &gt_bin,
            ctx: super::context(),
            fix: args.fix,
        },
    );
    let failing = checks
        .iter()
        .filter(|c| c.status == Severity::Error && !c.fixed)
        .count();
    if ui.is_json() {
        ui.json(&serde_json::json!({"ok": failing == 0, "checks": checks}))?;
    } else {
        let rows: Vec<Vec<String>> = checks
            .iter()
            .map(|c| {
                let status = match (c.status, c.fixed) {
                    (_, true) => "fixed",
                    (Severity::Ok, _) => "ok",
                    (Severity::Warning, _) => "warning",
                    (Severity::Error, _) => "error",
                };
                vec![status.to_owned(), c.check.clone(), super::safe(&c.message)]
            })
            .collect();
        super::table(ui, &rows)?;
    }
    if failing > 0 {
        let mut err = ui::CliError::user(format!("{failing} check(s) failed"));
        if !args.fix {
            err = err.hint("run `gt doctor --fix` to repair what can be repaired");
        }
        return Err(err.into());
    }
    Ok(())
}

/// Every preset the town and its rigs name, resolved through the one preset resolver (or the
/// reason it does not resolve).
fn configured_agents(
    town: &town::layout::Town,
) -> Vec<(String, Result<town::agents::AgentPreset, String>)> {
    let user = match town::agents::load_user_presets(&town::agents::user_presets_path(town.root()))
    {
        Ok(u) => u,
        Err(e) => return vec![("settings/agents.json".into(), Err(e.to_string()))],
    };
    let mut layers = vec![None];
    if let Ok(rigs) = town.rigs() {
        layers.extend(rigs.rigs.into_keys().map(Some));
    }
    let mut names = BTreeSet::new();
    let mut settings_for_name = Vec::new();
    for rig in layers {
        let Ok(eff) = super::effective_settings(town, rig.as_deref(), &[]) else {
            continue;
        };
        let s = &eff.settings;
        let used = std::iter::once(&s.default_agent)
            .chain(s.agent.iter())
            .chain(s.role_agents.values())
            .chain(s.crew_agents.values())
            .chain(s.worker_agents.values());
        for name in used {
            if names.insert(name.clone()) {
                settings_for_name.push((name.clone(), s.clone()));
            }
        }
    }
    settings_for_name
        .into_iter()
        .map(|(name, settings)| {
            let preset = town::agents::preset(&name, &user, &settings).map_err(|e| e.to_string());
            (name, preset)
        })
        .collect()
}
