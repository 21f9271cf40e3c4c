//! `bd`: the beads issue tracker.

mod cli;
mod commands;
mod error;
mod render;

use std::process::ExitCode;

fn main() -> ExitCode {
    ui::main(
        ui::App {
            name: env!("CARGO_BIN_NAME"),
            version: env!("CARGO_PKG_VERSION"),
            log_env: host::env::BD_LOG,
            classifier: error::classify,
        },
        commands::run,
    )
}
