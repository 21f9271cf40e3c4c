//! One module per `gt` subcommand.

pub mod root;

use crate::cli::{Cli, Command};

/// Runs the parsed command line.
pub fn run(cli: Cli, ui: &mut ui::Ui) -> anyhow::Result<()> {
    match cli.command {
        Command::Root(args) => root::run(&args, ui),
    }
}
