//! `bd merge-slot`: the rig's merge slot, a mutex bead for whoever resolves conflicts.

use beads::ops::slot::Acquired;
use clap::{Args, Subcommand};

use crate::cli::Global;

#[derive(Debug, Subcommand)]
pub enum SlotCommand {
    /// Create the rig's merge slot (does nothing if it exists).
    Create,
    /// Whether the slot is free, who holds it and who waits.
    Check,
    /// Take the slot; exits 1 if someone else holds it.
    Acquire(AcquireArgs),
    /// Free the slot.
    Release(ReleaseArgs),
}

#[derive(Debug, Args)]
pub struct AcquireArgs {
    /// Who takes it [default: the actor].
    #[arg(long)]
    pub holder: Option<String>,
    /// If it is held, queue up as a waiter.
    #[arg(long)]
    pub wait: bool,
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// Release only if this is who holds it.
    #[arg(long)]
    pub holder: Option<String>,
}

pub fn run(g: &Global, cmd: SlotCommand, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let mut store = super::open(g)?;
    let id = store.merge_slot_id();
    match cmd {
        SlotCommand::Create => {
            let slot = store.merge_slot_create()?;
            if ui.is_json() {
                ui.json(&serde_json::json!({"id": slot.id, "status": slot.status}))?;
            } else {
                ui.status(format!("Merge slot: {}", slot.id));
            }
        }
        SlotCommand::Check => match store.merge_slot_check() {
            Ok(state) if ui.is_json() => ui.json(&state)?,
            Ok(state) => match &state.holder {
                None => ui.line(format!("{id}: available"))?,
                Some(h) => {
                    ui.line(format!("{id}: held by {h}"))?;
                    for (n, w) in state.waiters.iter().enumerate() {
                        ui.line(format!("  waiting {}: {w}", n + 1))?;
                    }
                }
            },
            Err(beads::Error::NotFound { .. }) => {
                return Err(ui::CliError::user(format!("there is no merge slot `{id}`"))
                    .hint("create it with `bd merge-slot create`")
                    .into());
            }
            Err(e) => return Err(e.into()),
        },
        SlotCommand::Acquire(a) => {
            let holder = a.holder.clone().unwrap_or_else(|| store.actor().to_owned());
            let got = store.merge_slot_acquire(&holder, a.wait)?;
            let (out, held_by) = match &got {
                Acquired::Held => (
                    serde_json::json!({"id": id, "acquired": true, "holder": holder}),
                    None,
                ),
                Acquired::Waiting {
                    holder: h,
                    position,
                } => (
                    serde_json::json!({"id": id, "acquired": false, "waiting": true, "holder": h, "position": position}),
                    Some(h),
                ),
                Acquired::Busy { holder: h } => (
                    serde_json::json!({"id": id, "acquired": false, "holder": h}),
                    Some(h),
                ),
            };
            if ui.is_json() {
                ui.json(&out)?;
            } else if held_by.is_none() {
                ui.status(format!("Acquired {id} for {holder}"));
            }
            if let Some(h) = held_by {
                let queued = matches!(got, Acquired::Waiting { .. });
                return Err(ui::CliError::user(format!(
                    "the merge slot is held by `{h}`{}",
                    if queued { "; you are queued" } else { "" }
                ))
                .hint("`--wait` queues you; `bd merge-slot check` shows the queue")
                .into());
            }
        }
        SlotCommand::Release(a) => {
            store.merge_slot_release(a.holder.as_deref())?;
            if ui.is_json() {
                ui.json(&serde_json::json!({"id": id, "released": true}))?;
            } else {
                ui.status(format!("Released {id}"));
            }
        }
    }
    Ok(())
}
