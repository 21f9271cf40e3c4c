//! `gt sling <bead>... <target>`: start polecats on beads.

use std::time::Duration;

use clap::Args;

use town::work::sling::{self, Action, SlingOptions};

#[derive(Debug, Args)]
pub struct SlingArgs {
    /// Beads, then the target: a rig, or `<rig>/polecats/<name>`.
    #[arg(required = true, value_name = "BEAD... TARGET")]
    pub args: Vec<String>,
    /// The agent preset to run, instead of the configured one.
    #[arg(long)]
    pub agent: Option<String>,
    /// Start the polecat's branch from this branch instead of the rig's default.
    #[arg(long)]
    pub base_branch: Option<String>,
    /// Take the bead even if it is hooked elsewhere (stops that session).
    #[arg(long)]
    pub force: bool,
    /// Do not track the beads in a convoy.
    #[arg(long)]
    pub no_convoy: bool,
    /// Show what would happen; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Create the named polecat if it does not exist.
    #[arg(long)]
    pub create: bool,
    /// Attach this formula to each bead: its steps become the agent's checklist in `gt prime`.
    #[arg(long)]
    pub formula: Option<String>,
    /// `gt sling <formula> --on <bead> <rig>`: the first argument is a formula to attach to
    /// this bead.
    #[arg(long, value_name = "BEAD")]
    pub on: Option<String>,
    /// Formula variables (`--var key=value`).
    #[arg(long = "var", value_name = "KEY=VALUE")]
    pub vars: Vec<String>,
    /// Seconds to wait for the agent to be ready.
    #[arg(long, default_value_t = 60)]
    pub ready_timeout: u64,
}

pub fn run(args: &SlingArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    let mut store = super::store(&town)?;
    let Some((target, rest)) = args.args.split_last().filter(|(_, rest)| !rest.is_empty()) else {
        return Err(ui::CliError::usage(
            "give the beads, then the target: `gt sling <bead>... <rig>`",
        )
        .into());
    };
    let (beads, formula) = match &args.on {
        Some(bead) => match rest {
            [formula] => (vec![bead.clone()], Some(formula.clone())),
            _ => return Err(ui::CliError::usage("with `--on <bead>`, give the formula and the target: `gt sling <formula> --on <bead> <rig>`").into()),
        },
        None => (rest.to_vec(), args.formula.clone()),
    };
    let vars = args
        .vars
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| ui::CliError::usage(format!("`--var {kv}` must be KEY=VALUE")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let runtimes = super::runtimes(&town);
    let cx = context(&town, &runtimes, Duration::from_secs(args.ready_timeout))?;
    let opts = SlingOptions {
        agent: args.agent.clone(),
        base_branch: args.base_branch.clone(),
        force: args.force,
        no_convoy: args.no_convoy,
        dry_run: args.dry_run,
        create: args.create,
        formula,
        vars,
        ..SlingOptions::default()
    };
    // A convoy or an epic: queue every open bead; the scheduler starts what is ready now and
    // the rest as their blockers land.
    if let [one] = beads.as_slice()
        && town::scheduler::convoy::is_batch(
            &store,
            &store.resolve(one).map_err(|e| unknown_bead(&store, e))?,
        )
    {
        if args.dry_run {
            return show_plan(ui, &town, &store, one, target);
        }
        return launch(ui, &town, &mut store, &cx, one, target, &opts);
    }
    let report = sling::sling(&mut store, &cx, &beads, target, &opts).map_err(|e| match e {
        town::work::WorkError::Store(e) => unknown_bead(&store, e),
        other => other.into(),
    })?;
    if !report.slung.is_empty() || report.failed.is_empty() {
        print(ui, &report.slung)?;
    }
    match report.into_error() {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// Queues a convoy's or epic's beads for `rig`, then (when no daemon runs to do it) starts a
/// round of what is ready.
pub fn launch(
    ui: &mut ui::Ui,
    town: &town::layout::Town,
    store: &mut beads::Store,
    cx: &sling::SlingContext<'_>,
    id: &str,
    rig: &str,
    opts: &SlingOptions,
) -> anyhow::Result<()> {
    town::rig::entry(town, rig)?;
    let launch = town::scheduler::convoy::launch(store, id, rig, opts)?;
    let mut round = None;
    if !town::daemon::status(town).running {
        let settings = town::scheduler::town_settings(town)?;
        let now = store.now_ts();
        let batch = settings.scheduler.batch_size.max(1) as usize;
        round = Some(town::scheduler::dispatch::run_round(
            store, cx, &settings, now, batch,
        )?);
    }
    if ui.is_json() {
        ui.json(&serde_json::json!({ "launch": launch, "round": round }))?;
        return Ok(());
    }
    for (bead, position) in &launch.queued {
        ui.status(format!("Queued {bead}, position {position}"));
    }
    if let Some(round) = &round {
        for bead in &round.dispatched {
            ui.status(format!("Slung {bead} to {rig}"));
        }
    } else {
        ui.status(
            "The daemon's scheduler starts the ready beads and each next wave as beads land.",
        );
    }
    ui.status(format!(
        "Tracking in convoy {}: `gt convoy status {}`",
        launch.convoy, launch.convoy
    ));
    ui.line(&launch.convoy)?;
    Ok(())
}

/// What slinging convoy or epic `id` to `rig` would queue, wave by wave; changes nothing.
fn show_plan(
    ui: &mut ui::Ui,
    town: &town::layout::Town,
    store: &beads::Store,
    id: &str,
    rig: &str,
) -> anyhow::Result<()> {
    town::rig::entry(town, rig)?;
    let plan = town::scheduler::convoy::plan(store, id)?;
    if ui.is_json() {
        ui.json(&plan)?;
        return Ok(());
    }
    let tracking = match &plan.convoy {
        Some(c) => format!("tracked in convoy {c}"),
        None => "tracked in a new convoy".to_owned(),
    };
    ui.line(format!(
        "Would queue {} bead(s) of {} for {rig}, {tracking}",
        plan.queued.len(),
        plan.id
    ))?;
    let list = |label: &str, beads: &[String]| format!("  {label}: {}", beads.join(" "));
    if !plan.ready.is_empty() {
        ui.line(list("ready now", &plan.ready))?;
    }
    for (i, wave) in plan.waves.iter().enumerate() {
        ui.line(list(&format!("wave {}", i + 1), wave))?;
    }
    if !plan.stuck.is_empty() {
        ui.line(list(
            "in no wave (blocked from outside the epic)",
            &plan.stuck,
        ))?;
    }
    if !plan.skipped.is_empty() {
        ui.line(list(
            "left alone (closed, running or in review)",
            &plan.skipped,
        ))?;
    }
    ui.status("Dry run: nothing was queued or changed.");
    Ok(())
}

/// A bead that does not exist gets a hint naming the one probably meant; any other store error
/// is passed on as it is.
fn unknown_bead(store: &beads::Store, e: beads::Error) -> anyhow::Error {
    match e {
        beads::Error::NotFound { id } => ui::CliError::user(format!("no bead `{id}`"))
            .hint(super::suggest::bead_hint(store, &id))
            .into(),
        other => town::work::WorkError::Store(other).into(),
    }
}

/// What a sling started from this command needs: this `gt` for the agent's hooks, the
/// caller's environment an agent inherits, the process's `GT_*` settings layer.
pub fn context<'a>(
    town: &'a town::layout::Town,
    runtimes: &'a town::runtime::Runtimes,
    ready_timeout: Duration,
) -> anyhow::Result<sling::SlingContext<'a>> {
    Ok(sling::SlingContext {
        town,
        runtimes,
        gt_bin: host::env::current_exe()?,
        inherited_env: super::caller_env(),
        ready_timeout,
        env: Some(&town::rigctx::process_env),
    })
}

/// The beads that run (or would): JSON, or a line each on stderr and the polecats on stdout.
fn print(ui: &mut ui::Ui, slung: &[sling::Slung]) -> anyhow::Result<()> {
    if ui.is_json() {
        ui.json(&slung)?;
        return Ok(());
    }
    for s in slung {
        let verb = match s.action {
            Action::Started => "Slung",
            Action::Restarted => "Restarted",
            Action::AlreadyRunning => "Already running:",
            Action::WouldStart => "Would sling",
            Action::Queued { position } => {
                ui.status(format!(
                    "Queued {}: the town is at its cap; queued, position {position} (`gt scheduler list`)",
                    s.bead
                ));
                continue;
            }
        };
        ui.status(format!(
            "{verb} {} to {} (session {}, agent {}, branch {})",
            s.bead, s.polecat, s.session, s.agent, s.branch
        ));
    }
    if let Some(c) = slung.iter().find_map(|s| s.convoy.clone()) {
        ui.status(format!("Tracking in convoy {c}: `gt convoy status {c}`"));
    }
    for s in slung.iter().filter(|s| !s.polecat.is_empty()) {
        ui.line(&s.polecat)?;
    }
    Ok(())
}
