//! The `gt` command line. Doc comments here are the help text.

use clap::{Parser, Subcommand};

use crate::commands;

/// Gas Town: run a fleet of coding agents on your repositories.
#[derive(Debug, Parser)]
#[command(name = "gt", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// Print data as JSON (errors go to stderr as JSON too).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a town (or repair one with `--force`).
    Install(commands::install::InstallArgs),
    /// Manage rigs: the repositories the town works on.
    #[command(subcommand)]
    Rig(commands::rig::RigCommand),
    /// The town at a glance: rigs, agents, work in flight.
    Status(commands::status::StatusArgs),
    /// The town's event stream: every transition, oldest first; `--follow` keeps printing.
    Events(commands::events::EventsArgs),
    /// One compact line for tmux's `status-right`: agents, merge queue, last landing.
    StatusLine(commands::status::StatusLineArgs),
    /// Town settings and agent presets.
    #[command(subcommand)]
    Config(commands::config::ConfigCommand),
    /// Polecat names: show a pool and the names in use, or choose its theme.
    Namepool(commands::namepool::NamepoolArgs),
    /// Check the town: tools, layout, settings, store, agents, locks.
    Doctor(commands::doctor::DoctorArgs),
    /// Start polecats on beads: `gt sling <bead>... <rig>`.
    Sling(commands::sling::SlingArgs),
    /// Finish a polecat's work: push it and queue it for merge (run inside the polecat).
    Done(commands::done::DoneArgs),
    /// Raise an escalation for a human (or the mayor), routed by severity; list, ack, close.
    Escalate(commands::escalate::EscalateArgs),
    /// Print the context an agent needs: who it is and the work on its hook.
    Prime(commands::prime::PrimeArgs),
    /// Record the end of an agent session (a `SessionEnd`/`Stop` hook; reads the hook's JSON).
    #[command(hide = true)]
    SessionEnd(commands::prime::SessionEndArgs),
    /// Hand this agent's session to a fresh agent: notes mailed to itself, a new agent in the
    /// same pane.
    Handoff(commands::handoff::HandoffArgs),
    /// The detached helper `gt handoff` starts: respawns the pane once `gt handoff` has exited.
    #[command(hide = true)]
    HandoffRespawn(commands::handoff::RespawnArgs),
    /// What the agents' sessions used: tokens (and dollars where a price applies) by agent,
    /// rig, bead, convoy or role, read from their own transcripts.
    Costs(commands::costs::CostsArgs),
    /// List predecessor sessions (newest first); `--talk` asks one a question by forking it.
    Seance(commands::seance::SeanceArgs),
    /// Show the work hooked to this polecat.
    Hook(commands::prime::HookArgs),
    /// Polecats: the workers.
    #[command(subcommand)]
    Polecat(commands::polecat::PolecatCommand),
    /// The mayor: the town's coordinator agent, where a person starts.
    #[command(subcommand)]
    Mayor(commands::mayor::MayorCommand),
    /// Crew: your own persistent workspaces in a rig, each with a long-lived agent.
    #[command(subcommand)]
    Crew(commands::crew::CrewCommand),
    /// Show the last lines of output of an agent's session (any role).
    Peek(commands::session::CaptureArgs),
    /// Agent sessions by address: list, attach (`at`), capture, restart.
    #[command(subcommand)]
    Session(commands::session::SessionCommand),
    /// Every agent of the town: mayor, crew, polecats, with state, liveness, last activity.
    Agents(commands::agents::AgentsArgs),
    /// The town live: agents, convoys, merge queue, problems and events; attach, peek, nudge
    /// (`--plain`: the events as lines, for pipes).
    Feed(commands::feed::FeedArgs),
    /// Convoys: tracked batches of beads.
    #[command(subcommand)]
    Convoy(commands::convoy::ConvoyCommand),
    /// The queue of slings waiting for capacity and its dispatcher: status, list, pause,
    /// resume, clear, run.
    #[command(subcommand)]
    Scheduler(commands::scheduler::SchedulerCommand),
    /// Provider accounts agents run as (rotated when one is rate-limited).
    #[command(subcommand)]
    Account(commands::account::AccountCommand),
    /// The merge queue runner of a rig.
    #[command(subcommand)]
    Refinery(commands::refinery::RefineryCommand),
    /// Merge requests.
    #[command(subcommand)]
    Mq(commands::mq::MqCommand),
    /// Mail between agents and the human: durable, in the town's store.
    Mail(commands::mail::MailArgs),
    /// Run the whole loop in a throwaway town with scripted agents (not AI models).
    Demo(commands::demo::DemoArgs),
    /// Show where this town is: the town root found from the current directory.
    Root(commands::root::RootArgs),
    /// The town daemon: refineries, witnesses and the deacon in one background process.
    #[command(subcommand)]
    Daemon(commands::daemon::DaemonCommand),
    /// Start the factory: the daemon and each rig's services.
    Up(commands::updown::UpArgs),
    /// Stop the factory: every agent, then the daemon; nothing restarts until `gt up`.
    Down(commands::updown::DownArgs),
    /// Deliver text into an agent's session now, or queue it for its next turn.
    Nudge(commands::nudge::NudgeArgs),
    /// Do not disturb: queue nudges to you instead of delivering them.
    Dnd(commands::nudge::DndArgs),
    /// Serve the town in a browser: convoys, agents, the merge queue, events, mail.
    Dashboard(commands::dashboard::DashboardArgs),
    /// Emergency stop: freeze every agent where it is.
    Estop,
    /// Resume the agents `gt estop` froze.
    Thaw,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    /// clap's own consistency checks (conflicting names, bad defaults, missing values) over
    /// every subcommand, which otherwise run only when that subcommand is parsed.
    #[test]
    fn the_command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
