//! One module per `gt` subcommand, and what they share: finding the town, opening its store,
//! layering its settings.

pub mod account;
pub mod agent;
pub mod agents;
pub mod config;
pub mod convoy;
pub mod costs;
pub mod crew;
pub mod daemon;
pub mod dashboard;
pub mod demo;
pub mod doctor;
pub mod done;
pub mod escalate;
pub mod events;
pub mod feed;
pub mod handoff;
pub mod install;
pub mod mail;
pub mod mayor;
pub mod mq;
pub mod namepool;
pub mod nudge;
pub mod polecat;
pub mod prime;
pub mod refinery;
pub mod rig;
pub mod roles;
pub mod root;
pub mod scheduler;
pub mod seance;
pub mod session;
pub mod sling;
pub mod status;
pub mod suggest;
pub mod updown;

use std::path::PathBuf;

use town::layout::{RigPaths, Town};
use town::settings::{self, Effective, Sourced};
pub use ui::text::{safe, table};

use crate::cli::{Cli, Command};

/// Runs the parsed command line.
pub fn run(cli: Cli, ui: &mut ui::Ui) -> anyhow::Result<()> {
    ui.set_json(cli.json);
    heartbeat();
    match cli.command {
        Command::Root(args) => root::run(&args, ui),
        Command::Install(args) => install::run(&args, ui),
        Command::Rig(cmd) => rig::run(cmd, ui),
        Command::Status(args) => status::run(&args, ui),
        Command::Events(args) => events::run(&args, ui),
        Command::StatusLine(args) => status::status_line(&args, ui),
        Command::Config(cmd) => config::run(cmd, ui),
        Command::Namepool(args) => namepool::run(args, ui),
        Command::Doctor(args) => doctor::run(&args, ui),
        Command::Sling(args) => sling::run(&args, ui),
        Command::Done(args) => done::run(&args, ui),
        Command::Escalate(args) => escalate::run(args, ui),
        Command::Prime(args) => prime::run(&args, ui),
        Command::Hook(args) => prime::hook(&args, ui),
        Command::SessionEnd(args) => prime::session_end(&args, ui),
        Command::Handoff(args) => handoff::run(&args, ui),
        Command::HandoffRespawn(args) => handoff::respawn(&args, ui),
        Command::Costs(args) => costs::run(&args, ui),
        Command::Seance(args) => seance::run(&args, ui),
        Command::Polecat(cmd) => polecat::run(cmd, ui),
        Command::Mayor(cmd) => mayor::run(cmd, ui),
        Command::Crew(cmd) => crew::run(cmd, ui),
        Command::Peek(args) => session::peek(&args, ui),
        Command::Session(cmd) => session::run(cmd, ui),
        Command::Agents(args) => agents::run(&args, ui),
        Command::Feed(args) => feed::run(&args, ui),
        Command::Convoy(cmd) => convoy::run(cmd, ui),
        Command::Scheduler(cmd) => scheduler::run(cmd, ui),
        Command::Account(cmd) => account::run(cmd, ui),
        Command::Refinery(cmd) => refinery::run(cmd, ui),
        Command::Mq(cmd) => mq::run(cmd, ui),
        Command::Mail(args) => mail::run(args, ui),
        Command::Demo(args) => demo::run(&args, ui),
        Command::Daemon(cmd) => daemon::run(cmd, ui),
        Command::Up(args) => updown::up(&args, ui),
        Command::Down(args) => updown::down(&args, ui),
        Command::Nudge(args) => nudge::run(&args, ui),
        Command::Dnd(args) => nudge::dnd(&args, ui),
        Command::Dashboard(args) => dashboard::run(&args, ui),
        Command::Estop => updown::freeze(true, ui),
        Command::Thaw => updown::freeze(false, ui),
    }
}

/// The town containing the current directory (or `GT_TOWN_ROOT`).
pub fn town() -> anyhow::Result<Town> {
    let cwd = host::env::current_dir()?;
    let explicit = host::env::var(host::env::GT_TOWN_ROOT).map(PathBuf::from);
    Ok(Town::at(town::discover(explicit.as_deref(), &cwd)?))
}

/// Who is acting (recorded on beads) and the clock.
pub fn context() -> beads::Context {
    let actor = host::env::var(host::env::BD_ACTOR)
        .or_else(|| host::env::var(host::env::USER))
        .or_else(host::git::user_name)
        .unwrap_or_else(|| "overseer".into());
    beads::Context {
        actor,
        clock: host::clock::from_env(),
    }
}

/// What starting an agent needs besides the store: the town, its runtimes, this `gt` binary,
/// the environment agents inherit, and the `GT_*` settings layer.
pub fn start_context<'a>(
    town: &'a Town,
    runtimes: &'a town::runtime::Runtimes,
) -> town::work::sling::SlingContext<'a> {
    town::work::sling::SlingContext {
        town,
        runtimes,
        gt_bin: host::env::current_exe().unwrap_or_else(|_| "gt".into()),
        inherited_env: caller_env(),
        ready_timeout: std::time::Duration::from_secs(60),
        env: Some(&town::rigctx::process_env),
    }
}

/// The town's store, opened in-process. Every write it commits pokes the town's daemon.
pub fn store(town: &Town) -> anyhow::Result<beads::Store> {
    let mut store = beads::Store::open(&town.beads_dir(), context())?;
    let town = town.clone();
    store.after_commit(move || town::daemon::poke(&town));
    Ok(store)
}

/// Inside an agent's session, every `gt` command refreshes that agent's heartbeat, which the
/// witness reads as a sign of progress.
fn heartbeat() {
    let var = host::env::var;
    if let (Some(session), Some(generation), Some(root)) = (
        var(host::env::GT_SESSION),
        var(host::env::GT_GENERATION).and_then(|g| g.parse().ok()),
        var(host::env::GT_TOWN_ROOT),
    ) {
        town::witness::beat(&Town::at(root), &session, generation);
    }
}

/// A rig resolved once for this command: the settings it acts on are the ones `gt config get`
/// shows (the same layers, the process's `GT_*` variables included).
pub fn rig_ctx(town: &Town, rig: &str) -> anyhow::Result<town::rigctx::RigCtx> {
    Ok(town::rigctx::RigCtx::load(
        town,
        rig,
        Some(&town::rigctx::process_env),
    )?)
}

/// Settings layered for the town, or for one rig, with `key=value` flag overrides.
pub fn effective_settings(
    town: &Town,
    rig: Option<&str>,
    flags: &[(String, String)],
) -> anyhow::Result<Effective> {
    let rig_path = rig.map(|r| RigPaths::new(town, r).settings_json());
    let town_path = town.settings_json();
    let env = |name: &str| host::env::var(name);
    let sources = settings::Sources {
        town: Some(&town_path),
        rig: rig_path.as_deref(),
        env: Some(&env),
        flags,
    };
    Ok(settings::resolve(&sources)?)
}

/// Prints `key  value  layer` rows.
pub fn print_sourced(ui: &mut ui::Ui, values: &[&Sourced]) -> anyhow::Result<()> {
    let rows: Vec<Vec<String>> = values
        .iter()
        .map(|v| {
            let value = match &v.value {
                serde_json::Value::String(s) => safe(s),
                other => other.to_string(),
            };
            vec![v.key.clone(), value, v.layer.to_string()]
        })
        .collect();
    table(ui, &rows)?;
    Ok(())
}

/// The town's runtimes: new sessions start in tmux on the town's own socket
/// (`GT_TMUX_SOCKET` overrides its name), or as plain subprocesses with
/// `GT_RUNTIME=subprocess`; an existing session is found in the runtime its polecat records.
pub fn runtimes(town: &Town) -> town::runtime::Runtimes {
    let socket = host::env::var(host::env::GT_TMUX_SOCKET);
    town::runtime::Runtimes::new(
        town::runtime::TmuxRuntime::for_town(town.root(), socket.as_deref()),
        town::runtime::SubprocessRuntime::new(town.runtime_dir().join("sessions")),
        host::env::var("GT_RUNTIME").as_deref().unwrap_or("tmux"),
    )
}

/// This process's environment, handed to the agents it starts: `town::agent_env` keeps of it
/// only the town's variables and what each agent's preset declares.
pub fn caller_env() -> Vec<(String, String)> {
    // Inside an agent session, what its own preset added is that agent's, not the town's: an
    // agent started from here (a polecat the mayor slings) gets its own preset's instead.
    let own_preset: Vec<String> = host::env::var(host::env::GT_PRESET_ENV)
        .map(|keys| keys.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    host::env::vars_matching(|k| !own_preset.iter().any(|o| o == k))
}
