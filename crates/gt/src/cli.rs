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
    /// Town settings and agent presets.
    #[command(subcommand)]
    Config(commands::config::ConfigCommand),
    /// Polecat names: show a pool and the names in use, or choose its theme.
    Namepool(commands::namepool::NamepoolArgs),
    /// Check the town: tools, layout, settings, store, agents, locks.
    Doctor(commands::doctor::DoctorArgs),
    /// Show where this town is: the town root found from the current directory.
    Root(commands::root::RootArgs),
}
