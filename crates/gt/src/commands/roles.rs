//! What `gt mayor` and `gt crew` share: starting, stopping and showing a long-lived agent.

use town::roles::{self, RoleId, StartOptions};

/// Starts `role` (or restarts it, fresh) and says what happened.
pub fn start_role(
    role: &RoleId,
    agent: Option<String>,
    restart: bool,
    ui: &mut ui::Ui,
) -> anyhow::Result<()> {
    let started = start(role, agent, restart)?;
    if ui.is_json() {
        return Ok(ui.json(&started)?);
    }
    if started.already_running {
        ui.status(format!(
            "{} is already running in session {} (agent {}, pid {})",
            started.address,
            started.session,
            super::safe(&started.agent),
            started
                .pid
                .map_or_else(|| "-".to_owned(), |p| p.to_string())
        ));
    } else {
        ui.status(format!(
            "Started {} in session {} (agent {}, generation {})",
            started.address,
            started.session,
            super::safe(&started.agent),
            started.generation
        ));
    }
    Ok(())
}

/// Starts `role` unless it runs (restarts it fresh with `restart`).
pub fn start(
    role: &RoleId,
    agent: Option<String>,
    restart: bool,
) -> anyhow::Result<roles::Started> {
    let town = super::town()?;
    let mut store = super::store(&town)?;
    let runtimes = super::runtimes(&town);
    let cx = super::start_context(&town, &runtimes);
    let opts = StartOptions {
        agent,
        by_keeper: false,
    };
    Ok(if restart {
        roles::restart(&mut store, &cx, role, &opts)?
    } else {
        roles::start(&mut store, &cx, role, &opts)?
    })
}

/// Starts `role` unless it runs, then puts the user's terminal on its session.
pub fn attach_role(role: &RoleId, agent: Option<String>, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let started = start(role, agent, false)?;
    if !started.already_running {
        ui.status(format!(
            "Started {} in session {} (agent {})",
            started.address,
            started.session,
            super::safe(&started.agent)
        ));
    }
    let town = super::town()?;
    super::session::attach(&town, &role.address())
}

/// Stops `role`; the daemon leaves it stopped.
pub fn stop_role(role: &RoleId, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    let mut store = super::store(&town)?;
    let runtimes = super::runtimes(&town);
    let was_running = roles::stop(&mut store, &town, &runtimes, role, beads::Desired::Stopped)?;
    if ui.is_json() {
        ui.json(&serde_json::json!({
            "address": role.address().canonical(),
            "stopped": was_running,
        }))?;
        return Ok(());
    }
    ui.status(if was_running {
        format!("Stopped {}", role.address())
    } else {
        format!("{} was not running; it stays stopped", role.address())
    });
    Ok(())
}

/// Shows `role`'s status.
pub fn status_role(role: &RoleId, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    let store = super::store(&town)?;
    let runtimes = super::runtimes(&town);
    let status = roles::status(&store, &town, &runtimes, role)?;
    if ui.is_json() {
        return Ok(ui.json(&status)?);
    }
    render_status(&status, ui)
}

/// A status as `key: value` lines.
pub fn render_status(s: &roles::Status, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let state = match (s.alive, s.desired.as_str()) {
        (true, _) => "running".to_owned(),
        (false, "running") => "dead (the daemon restarts it)".to_owned(),
        (false, "held") => "stopped by `gt down`".to_owned(),
        (false, _) => "stopped".to_owned(),
    };
    let mut rows = vec![
        vec!["address".to_owned(), s.address.clone()],
        vec!["state".to_owned(), state],
        vec!["session".to_owned(), s.session.clone()],
        vec![
            "directory".to_owned(),
            super::safe(&s.dir.display().to_string()),
        ],
    ];
    if !s.agent.is_empty() {
        rows.push(vec!["agent".to_owned(), super::safe(&s.agent)]);
        rows.push(vec!["generation".to_owned(), s.generation.to_string()]);
    }
    if let Some(pid) = s.pid {
        rows.push(vec!["pid".to_owned(), pid.to_string()]);
    }
    if let Some(at) = &s.started_at {
        rows.push(vec!["started".to_owned(), at.clone()]);
    }
    if s.restarts > 0 {
        rows.push(vec!["restarts".to_owned(), s.restarts.to_string()]);
    }
    if !s.last_error.is_empty() {
        rows.push(vec![
            "last error".to_owned(),
            super::safe(s.last_error.lines().next().unwrap_or("")),
        ]);
    }
    for row in rows {
        ui.line(format!("{:<11} {}", format!("{}:", row[0]), row[1]))?;
    }
    Ok(())
}
