//! `gt status`: the town at a glance ([`town::views::StatusView`], rendered).

use clap::Args;
use town::views::StatusView;

#[derive(Debug, Args)]
pub struct StatusArgs {}

pub fn run(_args: &StatusArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    let store = super::store(&town)?;
    let view = town::views::status(
        &town,
        &store,
        &super::runtimes(&town),
        town::daemon::status(&town),
    )?;
    if ui.is_json() {
        ui.json(&view)?;
        return Ok(());
    }
    render(ui, &view)
}

fn render(ui: &mut ui::Ui, s: &StatusView) -> anyhow::Result<()> {
    ui.line(format!("Town {}  ({})", s.name, s.root.display()))?;
    ui.line(format!("Daemon: {}", daemon_line(&s.daemon)))?;
    ui.line("")?;
    if s.rigs.is_empty() {
        ui.line("No rigs yet: `gt rig add <name> <git-url>`")?;
    } else {
        super::rig::table(ui, &s.rigs)?;
    }
    if s.in_flight.is_empty() && s.merge_queue.is_empty() && s.agents.is_empty() {
        ui.line("")?;
        ui.line("No work in flight")?;
    }
    if !s.in_flight.is_empty() {
        ui.line("")?;
        ui.line("Work in flight:")?;
        let rows: Vec<Vec<String>> = s
            .in_flight
            .iter()
            .map(|w| {
                vec![
                    format!("  {}", w.id),
                    w.status.clone(),
                    dash(&w.assignee),
                    super::safe(&w.title),
                ]
            })
            .collect();
        super::table(ui, &rows)?;
    }
    if !s.merge_queue.is_empty() {
        ui.line("")?;
        ui.line("Merge queue:")?;
        super::mq::table(ui, &s.merge_queue, "  ")?;
    }
    if !s.agents.is_empty() {
        ui.line("")?;
        ui.line("Agents:")?;
        super::polecat::table(ui, &s.agents, "  ")?;
    }
    let mut attention = Vec::new();
    if s.dead_agents > 0 {
        attention.push(format!(
            "{} dead agent(s) (working, session gone)",
            s.dead_agents
        ));
    }
    if s.stuck_agents > 0 {
        attention.push(format!("{} stuck agent(s)", s.stuck_agents));
    }
    if s.open_escalations > 0 {
        attention.push(format!(
            "{} open escalation(s): `bd list --label {}`",
            s.open_escalations,
            town::escalation::ESCALATION_LABEL
        ));
    }
    if !attention.is_empty() {
        ui.line("")?;
        ui.line(format!("Needs attention: {}", attention.join("; ")))?;
    }
    Ok(())
}

/// The daemon in a few words: running (pid), not running, shut down, frozen.
pub fn daemon_line(d: &town::daemon::DaemonStatus) -> String {
    let mut line = match (d.running, d.pid) {
        (true, Some(pid)) => format!("running (pid {pid})"),
        (true, None) => "running".to_owned(),
        (false, _) => "not running: `gt daemon start`".to_owned(),
    };
    if d.shutdown {
        line = format!(
            "{}; shut down by `gt down` (`gt up` to start again)",
            line.split(':').next().unwrap_or_default()
        );
    }
    if d.estop {
        line.push_str("; EMERGENCY STOP: agents frozen (`gt thaw`)");
    }
    line
}

fn dash(s: &str) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s.to_owned()
    }
}
