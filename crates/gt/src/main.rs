//! `gt`: the Gas Town orchestrator.

mod cli;
mod commands;
mod error;

use std::process::ExitCode;

fn main() -> ExitCode {
    ui::main(
        ui::App {
            log_env: host::env::GT_LOG,
            classifier: error::classify,
        },
        commands::run,
    )
}
