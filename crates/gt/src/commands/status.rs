//! `gt status`: the town at a glance ([`town::views::StatusView`], rendered), again on every
//! change with `--watch`; `gt status-line`, the same in one line for tmux.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use clap::Args;
use town::events::Watcher;
use town::views::StatusView;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Show it again whenever the town changes (until interrupted); the screen is cleared
    /// between views only on a terminal.
    #[arg(long)]
    watch: bool,
}

/// How long `--watch` waits for a change before it shows the view anyway (sessions can die
/// without a store write).
const WATCH_REFRESH: Duration = Duration::from_secs(30);

pub fn run(args: &StatusArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    let store = super::store(&town)?;
    let runtimes = super::runtimes(&town);
    let mut watcher = args.watch.then(|| Watcher::new(&town)).transpose()?;
    let clear = args.watch && !ui.is_json() && std::io::stdout().is_terminal();
    loop {
        let view = town::views::status(&town, &store, &runtimes, town::daemon::status(&town))?;
        if clear {
            // Home and erase the screen: the view replaces the last one.
            write!(ui.out(), "\x1b[H\x1b[2J")?;
        }
        if ui.is_json() {
            // One object per line, so a reader can take each view as it comes.
            serde_json::to_writer(&mut *ui.out(), &view)?;
            writeln!(ui.out())?;
        } else {
            render(ui, &view)?;
        }
        let Some(watcher) = watcher.as_mut() else {
            return Ok(());
        };
        if !clear && !ui.is_json() {
            ui.line("")?;
        }
        ui.flush()?;
        watcher.wait(WATCH_REFRESH);
    }
}

#[derive(Debug, Args)]
pub struct StatusLineArgs {}

/// `gt status-line`: `3 working · 1 idle · 1 dead │ mq 2 │ landed 4m ago`.
pub fn status_line(_args: &StatusLineArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    let store = super::store(&town)?;
    let now = host::clock::from_env().now();
    let line = town::views::status_line(&store, &super::runtimes(&town), now)?;
    if ui.is_json() {
        ui.json(&line)?;
        return Ok(());
    }
    let mut agents = vec![
        format!("{} working", line.working),
        format!("{} idle", line.idle),
    ];
    if line.dead > 0 {
        agents.push(format!("{} dead", line.dead));
    }
    if line.stuck > 0 {
        agents.push(format!("{} stuck", line.stuck));
    }
    let landed = line.last_landing_secs.map_or_else(
        || "nothing landed".to_owned(),
        |s| format!("landed {} ago", super::mq::age(s)),
    );
    ui.line(format!(
        "{} | mq {} | {landed}",
        agents.join(", "),
        line.queue
    ))?;
    Ok(())
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
