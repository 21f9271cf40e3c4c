//! `gt daemon run|start|stop|status|logs`: the town's one long-running process.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use town::daemon::{self, DaemonFiles, DaemonStatus};
use town::layout::Town;

#[derive(Debug, Subcommand)]
pub enum DaemonCommand {
    /// Run the daemon in the foreground (what `start` runs in the background).
    Run,
    /// Start the daemon in the background; "already running" is not an error.
    Start,
    /// Stop the daemon (agents keep running; `gt down` stops everything).
    Stop,
    /// Whether the daemon runs, and each of its services.
    Status,
    /// The daemon's log.
    Logs(LogsArgs),
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// How many lines from the end.
    #[arg(short = 'n', long, default_value_t = 50)]
    pub lines: usize,
}

/// The log is moved aside at start once it is this large.
const LOG_ROTATE_BYTES: u64 = 5 * 1024 * 1024;

/// How long `start` waits for the new daemon to answer.
const START_WAIT: Duration = Duration::from_secs(15);

pub fn run(cmd: DaemonCommand, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    match cmd {
        DaemonCommand::Run => {
            daemon::run(&town, &options(&town))?;
        }
        DaemonCommand::Start => {
            let (status, started) = start(&town)?;
            report_start(ui, &status, started)?;
        }
        DaemonCommand::Stop => {
            let was = town::lifecycle::stop_daemon(&town)?;
            if ui.is_json() {
                ui.json(&serde_json::json!({"stopped": was}))?;
            } else {
                ui.status(if was {
                    "Stopped the daemon"
                } else {
                    "The daemon was not running"
                });
            }
        }
        DaemonCommand::Status => {
            let status = daemon::status(&town);
            if ui.is_json() {
                ui.json(&status)?;
            } else {
                print_status(ui, &status)?;
            }
        }
        DaemonCommand::Logs(a) => {
            let log = DaemonFiles::of(&town).log();
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            for line in &lines[lines.len().saturating_sub(a.lines)..] {
                ui.line(super::safe(line))?;
            }
        }
    }
    Ok(())
}

/// Starts the daemon in the background unless one runs; waits until it answers. Returns its
/// status and whether this call started it.
pub fn start(town: &Town) -> anyhow::Result<(DaemonStatus, bool)> {
    let status = daemon::status(town);
    if status.running {
        return Ok((status, false));
    }
    let files = DaemonFiles::of(town);
    std::fs::create_dir_all(&files.dir)?;
    daemon::rotate_log(&files.log(), LOG_ROTATE_BYTES)?;
    // The caller's environment, less an agent's identity: a daemon started from inside an
    // agent's session must not pass for that agent's process (the deacon and `gt down` find
    // agents' processes by these variables).
    const AGENT_IDENTITY: &[&str] = &[
        host::env::GT_SESSION,
        host::env::GT_GENERATION,
        host::env::GT_ROLE,
        host::env::GT_RIG,
        host::env::GT_POLECAT,
        host::env::GT_POLECAT_PATH,
        "GT_HOOK_BEAD",
        "GT_BRANCH",
        "GT_AGENT",
    ];
    let mut env = host::env::vars_matching(|k| !AGENT_IDENTITY.contains(&k));
    if !env.iter().any(|(k, _)| k == host::env::GT_LOG) {
        env.push((host::env::GT_LOG.into(), "info".into()));
    }
    env.push((
        host::env::GT_TOWN_ROOT.into(),
        town.root().display().to_string(),
    ));
    let exe = host::env::current_exe()?;
    host::spawn::spawn_detached(
        &exe.to_string_lossy(),
        &["daemon".into(), "run".into()],
        &env,
        town.root(),
        &files.log(),
    )?;
    let deadline = Instant::now() + START_WAIT;
    loop {
        let status = daemon::status(town);
        if status.running && !status.services.is_empty() {
            return Ok((status, true));
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(files.log()).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(10).collect();
            return Err(ui::CliError::internal(format!(
                "the daemon did not come up within {} s; the end of `{}`:\n{}",
                START_WAIT.as_secs(),
                files.log().display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ))
            .into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn report_start(ui: &mut ui::Ui, status: &DaemonStatus, started: bool) -> anyhow::Result<()> {
    if ui.is_json() {
        ui.json(&serde_json::json!({"started": started, "status": status}))?;
    } else {
        let pid = status.pid.map_or_else(|| "?".into(), |p| p.to_string());
        ui.status(if started {
            format!("Started the daemon (pid {pid})")
        } else {
            format!("The daemon is already running (pid {pid})")
        });
    }
    Ok(())
}

fn print_status(ui: &mut ui::Ui, status: &DaemonStatus) -> anyhow::Result<()> {
    let state = match (status.running, status.pid) {
        (true, Some(pid)) => format!("running (pid {pid})"),
        (true, None) => "running".into(),
        (false, _) => "not running".into(),
    };
    ui.line(format!("Daemon: {state}"))?;
    if status.shutdown {
        ui.line("Shut down by `gt down`: nothing restarts until `gt up`")?;
    }
    if status.estop {
        ui.line("Emergency stop: agents are frozen until `gt thaw`")?;
    }
    if status.services.is_empty() {
        return Ok(());
    }
    let mut rows = vec![vec![
        "SERVICE".to_owned(),
        "STATE".into(),
        "RESTARTS".into(),
        "LAST ERROR".into(),
    ]];
    for s in &status.services {
        let text = |k: &str| s[k].as_str().unwrap_or_default().to_owned();
        let mut state = text("state");
        if let Some(secs) = s["seconds"].as_u64() {
            state = format!("{state} ({secs} s)");
        }
        rows.push(vec![
            super::safe(&text("name")),
            state,
            s["restarts"].to_string(),
            super::safe(&text("last_error")),
        ]);
    }
    super::table(ui, &rows)?;
    Ok(())
}

/// The deacon, with the town's settings and this binary's runtimes.
fn deacon(town: &Town) -> Result<Box<dyn town::service::Service>, town::service::ServiceError> {
    let settings = super::effective_settings(town, None, &[])
        .map_err(|e| format!("{e:#}"))?
        .settings;
    let mut cx = super::context();
    cx.actor = "daemon/deacon".into();
    let cost_homes = town::costs::locate::Homes::from_vars(&super::caller_env());
    Ok(Box::new(
        town::deacon::Deacon::new(
            town.clone(),
            beads::Store::open(&town.beads_dir(), cx)?,
            super::runtimes(town),
            settings,
            Box::new(host::clock::SystemClock),
        )
        .with_cost_homes(cost_homes),
    ))
}

/// What a service that starts agents needs: this binary's runtimes and agent environment.
fn starter(town: &Town) -> town::witness::Starter {
    town::witness::Starter {
        runtimes: super::runtimes(town),
        gt_bin: host::env::current_exe().unwrap_or_else(|_| "gt".into()),
        inherited_env: super::caller_env(),
        ready_timeout: Duration::from_secs(60),
    }
}

/// The keeper of the mayor and crew.
fn keeper(town: &Town) -> Result<Box<dyn town::service::Service>, town::service::ServiceError> {
    let mut cx = super::context();
    cx.actor = "daemon/keeper".into();
    Ok(Box::new(town::roles::keeper::Keeper::new(
        town.clone(),
        beads::Store::open(&town.beads_dir(), cx)?,
        starter(town),
        Box::new(host::clock::SystemClock),
    )))
}

/// The daemon's delivery of queued nudges to idle agents.
fn nudges(town: &Town) -> Result<Box<dyn town::service::Service>, town::service::ServiceError> {
    let mut cx = super::context();
    cx.actor = "daemon/nudges".into();
    Ok(Box::new(town::nudge::DrainService::new(
        town.clone(),
        beads::Store::open(&town.beads_dir(), cx)?,
        super::runtimes(town),
        Box::new(host::clock::SystemClock),
    )))
}

/// What the daemon is built with: this binary's store, runtimes and agent environment.
fn options(town: &Town) -> daemon::Options {
    let store_town = town.clone();
    let starter_town = town.clone();
    daemon::Options {
        open_store: Arc::new(move |actor| {
            let mut cx = super::context();
            cx.actor = format!("daemon/{actor}");
            beads::Store::open(&store_town.beads_dir(), cx)
        }),
        starter: Arc::new(move || starter(&starter_town)),
        extra: vec![
            ("deacon".to_owned(), Arc::new(deacon)),
            ("nudges".to_owned(), Arc::new(nudges)),
            ("keeper".to_owned(), Arc::new(keeper)),
        ],
        policy: town::service::RestartPolicy::default(),
        started_at: beads::store::format_ts(host::clock::from_env().now()),
    }
}
