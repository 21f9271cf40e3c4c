//! `gt scheduler status|list|pause|resume|clear|run`: the queue of slings waiting for
//! capacity, and the daemon's dispatcher of it.

use std::time::Duration;

use clap::{Args, Subcommand};

use town::scheduler::{self, dispatch};

#[derive(Debug, Subcommand)]
pub enum SchedulerCommand {
    /// The mode and caps, what runs and waits, pauses and rate-limit holds.
    Status,
    /// The queued slings in dispatch order (`--all`: every context, with how it ended).
    List(ListArgs),
    /// Stop dispatching (running polecats go on; new slings queue).
    Pause,
    /// Dispatch again.
    Resume,
    /// Take beads out of the queue (`--all`: every queued bead).
    Clear(ClearArgs),
    /// Dispatch one round now, in this process (what the daemon does when capacity frees).
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Every context, also those dispatched, cleared or circuit-broken.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct ClearArgs {
    /// The beads to take out of the queue.
    pub beads: Vec<String>,
    /// Every queued bead.
    #[arg(long, conflicts_with = "beads")]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// At most this many beads [default: `scheduler.batch_size`].
    #[arg(long)]
    pub batch: Option<usize>,
    /// Seconds to wait for each agent to be ready.
    #[arg(long, default_value_t = 60)]
    pub ready_timeout: u64,
}

pub fn run(cmd: SchedulerCommand, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    let mut store = super::store(&town)?;
    let settings = scheduler::town_settings(&town)?;
    let now = store.now_ts();
    match cmd {
        SchedulerCommand::Status => {
            let status = scheduler::status(&store, &settings, now)?;
            if ui.is_json() {
                ui.json(&status)?;
                return Ok(());
            }
            let cap = match status.mode {
                "direct" => format!(
                    "direct dispatch (safety cap {}; `scheduler.max_polecats` N > 0 queues beyond N)",
                    status.max_polecats
                ),
                _ => format!(
                    "deferred dispatch, at most {} polecats",
                    status.max_polecats
                ),
            };
            ui.line(format!("Mode:     {cap}"))?;
            if status.max_polecats_per_rig > 0 {
                ui.line(format!(
                    "Per rig:  at most {} polecats",
                    status.max_polecats_per_rig
                ))?;
            }
            ui.line(format!(
                "Dispatch: {} per round, {} apart{}",
                status.batch_size,
                serde_json::to_value(status.spawn_delay)?
                    .as_str()
                    .unwrap_or_default(),
                status
                    .paused
                    .as_ref()
                    .map(|p| format!(" — PAUSED ({p})"))
                    .unwrap_or_default()
            ))?;
            ui.line(format!(
                "Working:  {}; queued: {} ready, {} blocked",
                status.working, status.ready, status.blocked
            ))?;
            if status.holds.is_empty() {
                ui.line("Holds:    none")?;
            }
            for h in &status.holds {
                ui.line(format!(
                    "Hold:     {} rate-limited until {} (seen in {}: {})",
                    h.account,
                    h.until,
                    h.seen_in,
                    ui::text::safe(&h.reason)
                ))?;
            }
        }
        SchedulerCommand::List(a) => {
            let contexts = store.sling_contexts(a.all)?;
            let aging = Duration::from_secs(settings.scheduler.aging_secs);
            // Ready ones in dispatch order first, then the rest in queueing order.
            let mut ordered: Vec<&beads::ScheduledSling> =
                scheduler::queue::order(&contexts, now, aging);
            ordered.extend(contexts.iter().filter(|c| !scheduler::queue::ready(c)));
            if ui.is_json() {
                ui.json(&ordered)?;
                return Ok(());
            }
            if ordered.is_empty() {
                ui.status("The queue is empty.");
                return Ok(());
            }
            let mut rows = vec![vec![
                "BEAD".into(),
                "RIG".into(),
                "PRI".into(),
                "STATE".into(),
                "FAILURES".into(),
                "QUEUED".into(),
            ]];
            for c in ordered {
                let state = if c.state == "queued" && c.blocked {
                    "blocked".to_owned()
                } else {
                    c.state.clone()
                };
                rows.push(vec![
                    c.bead_id.clone(),
                    c.rig.clone(),
                    format!("P{}", c.priority),
                    state,
                    c.failures.to_string(),
                    c.enqueued_at.clone(),
                ]);
            }
            ui::text::table(ui, &rows)?;
        }
        SchedulerCommand::Pause => {
            let by = format!("paused by {} at {}", store.actor(), store.now());
            store.kv_set(scheduler::PAUSED_KEY, &by)?;
            ui.status("Dispatch paused: running polecats go on, new slings queue. `gt scheduler resume` resumes.");
        }
        SchedulerCommand::Resume => {
            let was = store.kv_clear(scheduler::PAUSED_KEY)?;
            ui.status(if was {
                "Dispatch resumed."
            } else {
                "Dispatch was not paused."
            });
        }
        SchedulerCommand::Clear(a) => {
            if a.beads.is_empty() && !a.all {
                return Err(ui::CliError::usage(
                    "name the beads to take out of the queue, or pass `--all`",
                )
                .into());
            }
            let mut ids = Vec::new();
            for bead in &a.beads {
                let id = store.resolve(bead)?;
                let Some(c) = store.queued_context(&id)? else {
                    return Err(ui::CliError::user(format!("`{id}` is not queued")).into());
                };
                ids.push((c.id, id));
            }
            if a.all {
                ids = store
                    .sling_contexts(false)?
                    .into_iter()
                    .map(|c| (c.id, c.bead_id))
                    .collect();
            }
            let mut cleared = Vec::new();
            for (id, bead) in ids {
                if store.end_context(id, beads::ContextEnd::Cleared, "cleared by hand")? {
                    cleared.push(bead);
                }
            }
            if ui.is_json() {
                ui.json(&serde_json::json!({ "cleared": cleared }))?;
            } else {
                ui.status(format!("Cleared {} queued bead(s)", cleared.len()));
            }
        }
        SchedulerCommand::Run(a) => {
            if let Some(by) = scheduler::paused(&store)? {
                return Err(ui::CliError::user(format!("dispatch is {by}"))
                    .hint("`gt scheduler resume` first")
                    .into());
            }
            let runtimes = super::runtimes(&town);
            let cx = super::sling::context(&town, &runtimes, Duration::from_secs(a.ready_timeout))?;
            let batch = a
                .batch
                .unwrap_or(settings.scheduler.batch_size as usize)
                .max(1);
            let round = dispatch::run_round(&mut store, &cx, &settings, now, batch)?;
            if ui.is_json() {
                ui.json(&round)?;
                return Ok(());
            }
            if round.busy {
                ui.status("The daemon is dispatching right now; nothing to do here.");
                return Ok(());
            }
            for bead in &round.dispatched {
                ui.status(format!("Dispatched {bead}"));
            }
            for (bead, why) in &round.failed {
                ui.status(format!("Failed {bead}: {why}"));
            }
            for bead in &round.broken {
                ui.status(format!("Circuit-broken {bead} (escalated)"));
            }
            ui.status(format!(
                "{} dispatched, {} waiting{}",
                round.dispatched.len(),
                round.waiting,
                if round.full { " (at the cap)" } else { "" }
            ));
        }
    }
    Ok(())
}
