//! The `bd` command line. Doc comments here are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::commands::*;

/// bd: a dependency-aware issue tracker for humans and coding agents.
#[derive(Debug, Parser)]
#[command(name = "bd", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Print data as JSON (errors go to stderr as JSON too).
    #[arg(long, global = true)]
    pub json: bool,
    /// Who is acting, recorded on every change [default: $BD_ACTOR, $BEADS_ACTOR, $USER].
    #[arg(long, global = true, value_name = "NAME")]
    pub actor: Option<String>,
    /// The beads directory (or its `beads.db`) to use [default: $BEADS_DIR, else the nearest `.beads/`].
    #[arg(long, global = true, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Print less: no confirmations on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Accepted for compatibility with upstream bd; does nothing.
    #[arg(long, global = true, hide = true)]
    pub allow_stale: bool,
    /// Accepted for compatibility with upstream bd; does nothing.
    #[arg(long, global = true, hide = true)]
    pub no_daemon: bool,
    /// Accepted for compatibility with upstream bd; does nothing.
    #[arg(long, global = true, hide = true)]
    pub sandbox: bool,
    /// Refuse every command that would change the store (for agents that may only read).
    #[arg(long, global = true)]
    pub readonly: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a beads store in the current directory.
    Init(init::InitArgs),
    /// Create an issue.
    #[command(visible_alias = "new")]
    Create(create::CreateArgs),
    /// Create an issue and print only its id.
    Q(create::CreateArgs),
    /// Show issues in full.
    Show(show::ShowArgs),
    /// Change issues.
    Update(update::UpdateArgs),
    /// Close issues.
    #[command(visible_alias = "done")]
    Close(close::CloseArgs),
    /// Reopen closed issues.
    Reopen(close::ReopenArgs),
    /// Delete issues for good (previews unless `--force`).
    Delete(delete::DeleteArgs),
    /// List issues.
    List(list::ListArgs),
    /// Issues ready to work on: open, unblocked, not deferred.
    Ready(ready::ReadyArgs),
    /// Blocked issues and what blocks them.
    Blocked(ready::BlockedArgs),
    /// Dependencies between issues.
    Dep(dep::DepArgs),
    /// The direct children of an issue.
    Children(show::ChildrenArgs),
    /// Labels on issues.
    #[command(subcommand)]
    Label(label::LabelCommand),
    /// Add a comment to an issue.
    Comment(comment::CommentArgs),
    /// Show or add comments.
    Comments(comment::CommentsArgs),
    /// Find issues by text in id, title, description or notes.
    Search(list::SearchArgs),
    /// Count issues, optionally grouped.
    Count(list::CountArgs),
    /// Summary counts.
    Stats(stats::StatsArgs),
    /// An issue's audit history.
    History(show::HistoryArgs),
    /// Store settings.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// A key-value store for agents and scripts.
    #[command(subcommand)]
    Kv(config::KvCommand),
    /// Run raw SQL against the store.
    Sql(sql::SqlArgs),
    /// Write issues as JSONL.
    Export(transfer::ExportArgs),
    /// Read issues from JSONL (upstream's classic and 1.0 shapes).
    Import(transfer::ImportArgs),
    /// Print workflow context for an agent.
    Prime(prime::PrimeArgs),
    /// Print the version.
    Version(prime::VersionArgs),
    /// Check the store's integrity.
    Doctor(doctor::DoctorArgs),
    /// Ephemeral molecules (wisps): create one from a formula, list them, collect old ones.
    Wisp(wisp::WispArgs),
    /// Resolve a formula into its steps (JSON), or write it as a proto with `--persist`.
    Cook(cook::CookArgs),
    /// Molecules: formulas instantiated as issues.
    #[command(subcommand)]
    Mol(mol::MolCommand),
    /// Formulas on the search path.
    #[command(subcommand)]
    Formula(formula::FormulaCommand),
    /// The rig's merge slot: a mutex for whoever resolves merge conflicts.
    #[command(subcommand)]
    MergeSlot(slot::SlotCommand),
    /// Issues matching an expression: `bd query "status=open AND priority<2"`.
    Query(list::QueryArgs),
    /// Gates: issues that hold work back until a timer, a bead, a GitHub run or PR, or a person.
    #[command(subcommand)]
    Gate(gate::GateCommand),
    /// Instantiate a formula or proto as a persistent molecule (`mol pour`).
    Pour(mol::PourArgs),
    /// Bring the store's schema up to date (opening it does this too; upstream's `--yes` is accepted).
    Migrate(prime::MigrateArgs),
    /// Assign an issue to someone.
    Assign(sugar::AssignArgs),
    /// Set an issue's priority.
    Priority(sugar::PriorityArgs),
    /// Append a note to an issue.
    Note(sugar::NoteArgs),
    /// Defer issues (status `deferred`), optionally until a time.
    Defer(sugar::DeferArgs),
    /// Put deferred issues back to `open`.
    Undefer(sugar::IdsArgs),
    /// Keep a wisp: make it a durable issue.
    Promote(sugar::PromoteArgs),
    /// Add a dependency: the first issue depends on the second (`dep add`).
    Link(sugar::LinkArgs),
    /// Relate two issues both ways (`relates-to`).
    Relate(sugar::PairArgs),
    /// Remove a `relates-to` link both ways.
    Unrelate(sugar::PairArgs),
    /// Close an issue as a duplicate of another.
    Duplicate(sugar::DuplicateArgs),
    /// Close an issue as superseded by another.
    Supersede(sugar::SupersedeArgs),
    /// Store a memory that `bd prime` shows to every session.
    Remember(sugar::RememberArgs),
    /// List memories, or those matching a word.
    Memories(sugar::MemoriesArgs),
    /// Print one memory.
    Recall(sugar::KeyArgs),
    /// Delete a memory.
    Forget(sugar::KeyArgs),
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
