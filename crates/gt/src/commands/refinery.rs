//! `gt refinery run/status/resume`: the rig's merge queue.

use std::time::Duration;

use clap::{Args, Subcommand};

use town::refinery;
use town::refinery::runner::{Runner, Step};

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
            let daemon = town::daemon::status(&town);
            let view = town::views::refinery(&town, &store, &daemon, a.rig.as_deref())?;
            if ui.is_json() {
                ui.json(&view)?;
            } else {
                status_table(ui, &view)?;
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

fn status_table(ui: &mut ui::Ui, view: &town::views::RefineryView) -> anyhow::Result<()> {
    let mut table = vec![vec![
        "RIG".to_owned(),
        "RUNNING".into(),
        "QUEUED".into(),
        "TESTING".into(),
        "PAUSED".into(),
        "LAST PASS".into(),
    ]];
    for r in &view.rigs {
        let running = match (r.pid, &r.service) {
            (Some(pid), Some(service)) => format!("yes (daemon pid {pid}, {service})"),
            (Some(pid), None) => format!("yes (pid {pid})"),
            (None, Some(service)) => format!("no (daemon service {service})"),
            (None, None) => "no".into(),
        };
        let last = r.last_run.as_ref().map_or("-".to_owned(), |l| {
            format!(
                "{} at {}: batch {}, landed {}, failed {}, conflicted {}",
                super::safe(&l.run.outcome),
                l.finished_at,
                l.run.batch_size,
                l.run.landed,
                l.run.failed,
                l.run.conflicted
            )
        });
        table.push(vec![
            r.rig.clone(),
            running,
            r.queued.to_string(),
            r.testing.to_string(),
            r.paused.as_deref().map_or("-".to_owned(), super::safe),
            last,
        ]);
    }
    Ok(super::table(ui, &table)?)
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
            Step::Waiting(poll) => poll.min(Duration::from_secs(a.interval.max(1))),
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
    if !r.opened.is_empty() {
        parts.push(format!("pull requests {}", r.opened.join(", ")));
    }
    if !r.awaiting.is_empty() {
        parts.push(format!(
            "waiting on the forge for {}",
            r.awaiting.join(", ")
        ));
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
