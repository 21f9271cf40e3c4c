//! `gt done`: finish a polecat's work and queue it for merge.

use clap::Args;

use town::work::done::{self, DoneStatus};

#[derive(Debug, Args)]
pub struct DoneArgs {
    /// How the work ended: COMPLETED (queue it for merge), ESCALATED (need help), DEFERRED
    /// (return the bead to the queue).
    #[arg(long, default_value = "COMPLETED")]
    pub status: String,
}

pub fn run(args: &DoneArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let status = DoneStatus::parse(&args.status).map_err(|e| ui::CliError::usage(e.to_string()))?;
    let town = super::town()?;
    let mut store = super::store(&town)?;
    let env = done::EnvIdentity {
        role: host::env::var(host::env::GT_ROLE),
        rig: host::env::var(host::env::GT_RIG),
        polecat: host::env::var(host::env::GT_POLECAT),
        polecat_path: host::env::var_os(host::env::GT_POLECAT_PATH)
            .filter(|p| !p.is_empty())
            .map(Into::into),
        generation: host::env::var(host::env::GT_GENERATION).and_then(|g| g.parse().ok()),
    };
    record_hookless_costs(ui, &mut store, &town, &env);
    let out = done::done(&mut store, &town, &host::env::current_dir()?, &env, status)?;
    if ui.is_json() {
        ui.json(&out)?;
        return Ok(());
    }
    if out.already_done {
        ui.status(format!("{}: already done for {}", out.polecat, out.bead));
    }
    if out.safety_commit {
        ui.status("Committed leftover changes (safety net)");
    }
    if let Some(sha) = &out.pushed {
        ui.status(format!(
            "Pushed {} at {}",
            out.branch,
            &sha[..sha.len().min(12)]
        ));
    }
    match (&out.merge_request, out.status) {
        (Some(mr), _) => ui.status(format!(
            "Queued {} for {} → {}: {} is submitted and closes when it lands",
            mr.label(),
            mr.branch,
            mr.target,
            out.bead
        )),
        (None, DoneStatus::Escalated) => ui.status(format!(
            "Escalated {}: {} is marked stuck",
            out.bead, out.polecat
        )),
        (None, DoneStatus::Deferred) => ui.status(format!(
            "Deferred {}: it is back in the ready queue",
            out.bead
        )),
        (None, DoneStatus::Completed) if out.no_change => {
            ui.status(format!("{} closed without changes", out.bead));
        }
        (None, DoneStatus::Completed) => {}
    }
    Ok(())
}

/// An agent without a `Stop` hook (Codex) records what its session has used when it finishes:
/// its transcripts so far, attributed to the bead it still holds. Best effort: a failure is a
/// warning, never a failed `gt done`.
fn record_hookless_costs(
    ui: &ui::Ui,
    store: &mut beads::Store,
    town: &town::layout::Town,
    env: &done::EnvIdentity,
) {
    let (Some(rig), Some(name)) = (&env.rig, &env.polecat) else {
        return;
    };
    let Some(homes) =
        town::costs::locate::Homes::from_env(|k| host::env::var_os(k).map(Into::into))
    else {
        return;
    };
    let result = store
        .polecat(rig, name)
        .map_err(town::costs::CostError::from)
        .and_then(|p| match p {
            Some(p) => town::costs::record::record_polecat(store, town, &homes, &p),
            None => Ok(0),
        });
    if let Err(e) = result {
        ui.warn(format!("cannot record this session's costs: {e:#}"));
    }
}
