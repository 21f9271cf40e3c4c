//! `gt feed`: the town live in the terminal. A ratatui TUI (agent tree, convoys, merge queue,
//! problems, event stream; attach, peek and nudge the selected agent), or with `--plain` a log
//! of the event stream for pipes. Both wake on the store's commits (`town::events::Watcher`),
//! so an idle town costs nothing.
//!
//! [`snapshot`] reads the town, [`problems`] says what needs a person, [`state`] is all the
//! TUI shows, [`render`] draws it, [`input`] maps keys, [`run`] drives the terminal, and
//! [`plain`] is the log.

pub mod input;
pub mod plain;
pub mod problems;
pub mod render;
pub mod run;
pub mod snapshot;
pub mod state;

use std::io::IsTerminal as _;

use clap::Args;

#[derive(Debug, Args)]
pub struct FeedArgs {
    /// Print one line per event as it happens instead of the TUI (for pipes and logs).
    #[arg(long)]
    pub plain: bool,
    /// With `--plain`: how many past events to print first.
    #[arg(long, default_value_t = 20, requires = "plain")]
    pub last: usize,
}

pub fn run(args: &FeedArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    if args.plain {
        return plain::run(&town, args.last, ui);
    }
    if ui.is_json() {
        return Err(ui::CliError::usage("the feed has no JSON form")
            .hint("`gt events --follow --json` streams the events as JSON lines")
            .into());
    }
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(ui::CliError::user("`gt feed` needs a terminal")
            .hint("`gt feed --plain` prints the events as lines instead")
            .into());
    }
    run::run(&town)
}

#[cfg(test)]
mod tests;
