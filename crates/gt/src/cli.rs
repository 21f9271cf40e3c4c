//! The `gt` command line. Doc comments here are the help text.

use clap::{Parser, Subcommand};

/// Gas Town: run a fleet of coding agents on your repositories.
#[derive(Debug, Parser)]
#[command(name = "gt", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show where this town is: the town root found from the current directory.
    Root(crate::commands::root::RootArgs),
}
