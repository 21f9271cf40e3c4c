//! `gt`: the Gas Town orchestrator.

mod cli;
mod commands;
mod error;

use std::process::ExitCode;

fn main() -> ExitCode {
    ui::main(
        ui::App {
            name: env!("CARGO_BIN_NAME"),
            version: env!("CARGO_PKG_VERSION"),
            log_env: host::env::GT_LOG,
            classifier: error::classify,
        },
        commands::run,
    )
}
