//! `gt mayor`: the town's coordinator agent, in session `hq-mayor` at the town root.

use clap::{Args, Subcommand};
use town::roles::RoleId;

#[derive(Debug, Subcommand)]
pub enum MayorCommand {
    /// Start the mayor (nothing happens if it runs); the daemon keeps it running.
    Start(StartArgs),
    /// Put your terminal on the mayor's session, starting the mayor first if it is not running.
    #[command(visible_alias = "at")]
    Attach(StartArgs),
    /// Stop the mayor; the daemon leaves it stopped.
    Stop,
    /// Whether the mayor runs, and what it runs.
    Status,
    /// Stop the mayor and start a fresh one.
    Restart(StartArgs),
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// The agent preset to run, instead of `role_agents.mayor` or the default.
    #[arg(long)]
    pub agent: Option<String>,
}

pub fn run(cmd: MayorCommand, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let role = RoleId::Mayor;
    match cmd {
        MayorCommand::Start(args) => super::roles::start_role(&role, args.agent, false, ui),
        MayorCommand::Restart(args) => super::roles::start_role(&role, args.agent, true, ui),
        MayorCommand::Attach(args) => super::roles::attach_role(&role, args.agent, ui),
        MayorCommand::Stop => super::roles::stop_role(&role, ui),
        MayorCommand::Status => super::roles::status_role(&role, ui),
    }
}
