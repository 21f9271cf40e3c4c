//! `gt up`, `gt down`, `gt estop`, `gt thaw`: the whole factory on, off, frozen, thawed.

use clap::Args;

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Also restart the polecats `gt down` stopped while they held work, and the crew members
    /// it stopped.
    #[arg(long)]
    pub restore: bool,
    /// Leave the mayor stopped (you drive the town from the command line yourself).
    #[arg(long)]
    pub no_mayor: bool,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Also stop the town's tmux server once none of its sessions are left.
    #[arg(long)]
    pub all: bool,
}

/// `gt up`: lift the shutdown sentinel, start the daemon (whose services are each rig's
/// refinery and witness, the deacon, and the keeper of the mayor and crew), then the mayor.
pub fn up(args: &UpArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    let mut store = super::store(&town)?;
    let released = town::lifecycle::lift(&town, &mut store, args.restore, !args.no_mayor)?;
    let (status, started) = super::daemon::start(&town)?;
    let mayor = (!args.no_mayor).then(|| {
        let runtimes = super::runtimes(&town);
        let cx = super::start_context(&town, &runtimes);
        town::roles::start(
            &mut store,
            &cx,
            &town::roles::RoleId::Mayor,
            &town::roles::StartOptions::default(),
        )
    });
    if ui.is_json() {
        let mayor_json = match &mayor {
            Some(Ok(m)) => serde_json::to_value(m)?,
            Some(Err(e)) => serde_json::json!({"error": e.to_string()}),
            None => serde_json::Value::Null,
        };
        ui.json(&serde_json::json!({
            "started": started,
            "restored": released,
            "daemon": status,
            "mayor": mayor_json,
        }))?;
        return mayor_result(mayor);
    }
    super::daemon::report_start(ui, &status, started)?;
    for p in &released {
        ui.status(format!(
            "Restoring {p}: the witness restarts it on its hooked work"
        ));
    }
    let services: Vec<String> = status
        .services
        .iter()
        .filter_map(|s| s["name"].as_str().map(super::safe))
        .collect();
    ui.status(format!("Services: {}", services.join(", ")));
    if let Some(Ok(m)) = &mayor {
        ui.status(format!(
            "Mayor: {} in session {} (`gt mayor attach` to talk to it)",
            if m.already_running {
                "running"
            } else {
                "started"
            },
            m.session
        ));
    }
    mayor_result(mayor)
}

/// `gt up` fails when the mayor it was asked to start did not start (the rest of the factory
/// runs: the daemon keeps trying).
fn mayor_result(
    mayor: Option<Result<town::roles::Started, town::work::WorkError>>,
) -> anyhow::Result<()> {
    match mayor {
        Some(Err(e)) => Err(anyhow::Error::new(e).context(
            "the factory is up, but the mayor did not start (the daemon will retry; `gt up --no-mayor` leaves it off)",
        )),
        _ => Ok(()),
    }
}

/// `gt down`: the shutdown sentinel first, then every agent (process trees included), the
/// daemon last.
pub fn down(args: &DownArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    let mut store = super::store(&town)?;
    let runtimes = super::runtimes(&town);
    let report = town::lifecycle::down(&town, &mut store, &runtimes)?;
    let server_stopped = args.all && runtimes.tmux().stop_server_if_empty()?;
    if ui.is_json() {
        ui.json(&serde_json::json!({
            "stopped": report.stopped,
            "daemon_stopped": report.daemon_stopped,
            "tmux_server_stopped": server_stopped,
        }))?;
        return Ok(());
    }
    for p in &report.stopped {
        ui.status(format!("Stopped {p}"));
    }
    ui.status(if report.daemon_stopped {
        "Stopped the daemon"
    } else {
        "The daemon was not running"
    });
    if server_stopped {
        ui.status("Stopped the town's tmux server");
    }
    ui.status("The town is down: nothing restarts until `gt up` (`--restore` restarts the stopped polecats)");
    Ok(())
}

/// `gt estop` (`freeze`) and `gt thaw`.
pub fn freeze(freeze: bool, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    let store = super::store(&town)?;
    let runtimes = super::runtimes(&town);
    let sessions = town::lifecycle::freeze(&town, &store, &runtimes, freeze)?;
    if ui.is_json() {
        ui.json(&serde_json::json!({"frozen": freeze, "sessions": sessions}))?;
        return Ok(());
    }
    let verb = if freeze { "Froze" } else { "Thawed" };
    ui.status(format!("{verb} {} agent session(s)", sessions.len()));
    if freeze {
        ui.status("Nothing restarts or nudges a frozen agent; `gt thaw` resumes them");
    }
    Ok(())
}
