//! `gt refinery run/status/resume`: the rig's merge queue.

use std::time::Duration;

use clap::{Args, Subcommand};

use town::refinery::runner::{Runner, Step};
use town::refinery::{self, Refinery};

#[derive(Debug, Subcommand)]
pub enum RefineryCommand {
    /// Run the merge queue in the foreground (one per rig).
    Run(RunArgs),
    /// The queue of each rig: waiting, paused, last pass.
    Status(StatusArgs),
    /// Resume a queue paused because its target failed on its own.
    Resume(RigArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    pub rig: String,
    /// Process what is queued now, then exit.
    #[arg(long)]
    pub once: bool,
    /// Seconds between passes when the queue is empty.
    #[arg(long, default_value_t = 5)]
    pub interval: u64,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only this rig.
    pub rig: Option<String>,
}

#[derive(Debug, Args)]
pub struct RigArgs {
    pub rig: String,
}

pub fn run(cmd: RefineryCommand, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    let mut store = super::store(&town)?;
    match cmd {
        RefineryCommand::Run(a) => run_queue(&town, &a, ui)?,
        RefineryCommand::Status(a) => {
            let rigs: Vec<String> = match a.rig {
                Some(r) => {
                    town::rig::entry(&town, &r)?;
                    vec![r]
                }
                None => town.rigs()?.rigs.into_keys().collect(),
            };
            let mut rows = Vec::new();
            for rig in rigs {
                let running = Refinery::lock(&town, &rig).is_err();
                let queued = store.mrs(Some(&rig), &[beads::MrState::Queued])?.len();
                let testing = store.mrs(Some(&rig), &[beads::MrState::Testing])?.len();
                let paused = store.kv_get(&refinery::pause_key(&rig))?;
                rows.push(serde_json::json!({"rig": rig, "running": running, "queued": queued, "testing": testing, "paused": paused}));
            }
            if ui.is_json() {
                ui.json(&rows)?;
            } else {
                let mut table = vec![vec![
                    "RIG".to_owned(),
                    "RUNNING".into(),
                    "QUEUED".into(),
                    "TESTING".into(),
                    "PAUSED".into(),
                ]];
                for r in &rows {
                    table.push(vec![
                        r["rig"].as_str().unwrap_or_default().to_owned(),
                        if r["running"] == true {
                            "yes".into()
                        } else {
                            "no".into()
                        },
                        r["queued"].to_string(),
                        r["testing"].to_string(),
                        r["paused"].as_str().map_or("-".to_owned(), super::safe),
                    ]);
                }
                super::table(ui, &table)?;
            }
        }
        RefineryCommand::Resume(a) => {
            town::rig::entry(&town, &a.rig)?;
            let was = refinery::resume(&mut store, &a.rig)?;
            if ui.is_json() {
                ui.json(&serde_json::json!({"rig": a.rig, "resumed": was}))?;
            } else {
                ui.status(if was {
                    format!("Resumed the queue of `{}`", a.rig)
                } else {
                    format!("The queue of `{}` was not paused", a.rig)
                });
            }
        }
    }
    Ok(())
}

/// `gt refinery run`: the rig's runner in the foreground. A failed pass is reported and retried
/// after its backoff (with `--once`, it is the command's error); an empty queue waits
/// `--interval` seconds.
fn run_queue(town: &town::layout::Town, a: &RunArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let mut runner = Runner::new(
        town.clone(),
        super::rig_ctx(town, &a.rig)?,
        super::store(town)?,
    );
    runner.acquire()?;
    let mut all = Vec::new();
    let mut warned_paused = false;
    loop {
        let wait = match runner.step() {
            Step::Worked(report) => {
                if !ui.is_json() {
                    describe(ui, &a.rig, &report);
                }
                all.push(report);
                continue;
            }
            Step::Idle => Duration::from_secs(a.interval.max(1)),
            Step::Paused(reason) => {
                if !warned_paused {
                    ui.warn(format!("the queue of `{}` is paused: {reason}; `gt refinery resume {}` after fixing it", a.rig, a.rig));
                    warned_paused = true;
                }
                Duration::from_secs(a.interval.max(1))
            }
            Step::Elsewhere => unreachable!("the runner holds the lock"),
            Step::Failed { error, retry_in } => {
                if a.once {
                    return Err(error.into());
                }
                ui.warn(format!(
                    "a pass of `{}` failed: {:#}; retrying in {} s",
                    a.rig,
                    anyhow::Error::from(error),
                    retry_in.as_secs()
                ));
                retry_in
            }
        };
        if a.once {
            break;
        }
        std::thread::sleep(wait);
    }
    if ui.is_json() {
        ui.json(&all)?;
    }
    Ok(())
}

fn describe(ui: &ui::Ui, rig: &str, r: &refinery::PassReport) {
    let mut parts = Vec::new();
    if !r.landed.is_empty() {
        let sha = r
            .landed_sha
            .as_deref()
            .map(|s| &s[..s.len().min(12)])
            .unwrap_or("");
        parts.push(format!("landed {} at {sha}", r.landed.join(", ")));
    }
    if !r.failed.is_empty() {
        parts.push(format!("failed {}", r.failed.join(", ")));
    }
    if !r.conflicted.is_empty() {
        parts.push(format!("conflicted {}", r.conflicted.join(", ")));
    }
    if !r.rejected.is_empty() {
        parts.push(format!("rejected {}", r.rejected.join(", ")));
    }
    if !r.requeued.is_empty() {
        parts.push(format!("requeued {}", r.requeued.join(", ")));
    }
    if !r.waiting.is_empty() {
        parts.push(format!("waiting on blocked {}", r.waiting.join(", ")));
    }
    if r.remote_moved {
        parts.push("the target moved; rebuilding".into());
    }
    ui.status(format!(
        "refinery {rig}: batch of {}, {} gate run(s){}: {}",
        r.batch_size,
        r.gate_runs,
        if r.bisect_depth > 0 {
            format!(", bisected in {}", r.bisect_depth)
        } else {
            String::new()
        },
        if parts.is_empty() {
            "nothing to do".into()
        } else {
            parts.join("; ")
        }
    ));
}
