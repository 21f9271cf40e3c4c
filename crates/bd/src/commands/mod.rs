//! One module per `bd` subcommand, and what they share: opening the store.

pub mod close;
pub mod comment;
pub mod config;
pub mod cook;
pub mod create;
pub mod delete;
pub mod dep;
pub mod doctor;
pub mod filter;
pub mod formula;
pub mod gate;
pub mod init;
pub mod label;
pub mod list;
pub mod mol;
pub mod plan;
pub mod prime;
pub mod ready;
pub mod show;
pub mod slot;
pub mod sql;
pub mod stats;
pub mod sugar;
pub mod touched;
pub mod transfer;
pub mod update;
pub mod wisp;

use std::path::PathBuf;

use beads::{Context, Store};
use ui::Ui;

use crate::cli::{Cli, Command, Global};

/// Runs the parsed command line.
pub fn run(cli: Cli, ui: &mut Ui) -> anyhow::Result<()> {
    ui.set_json(cli.global.json);
    ui.set_envelope(host::env::var(host::env::BD_JSON_ENVELOPE).as_deref() == Some("1"));
    ui.set_quiet(cli.global.quiet);
    let g = &cli.global;
    match cli.command {
        Command::Init(a) => init::run(g, &a, ui),
        Command::Create(a) => create::run(g, a, ui),
        Command::Q(a) => create::quick(g, a, ui),
        Command::Show(a) => show::run(g, &a, ui),
        Command::Update(a) => update::run(g, a, ui),
        Command::Close(a) => close::run(g, &a, ui),
        Command::Reopen(a) => close::reopen(g, &a, ui),
        Command::Delete(a) => delete::run(g, &a, ui),
        Command::List(a) => list::run(g, a, ui),
        Command::Ready(a) => ready::run(g, a, ui),
        Command::Blocked(a) => ready::blocked(g, &a, ui),
        Command::Dep(c) => dep::run(g, c, ui),
        Command::Children(a) => show::children(g, &a, ui),
        Command::Label(c) => label::run(g, c, ui),
        Command::Comment(a) => comment::add(g, &a, ui),
        Command::Comments(a) => comment::run(g, a, ui),
        Command::Search(a) => list::search(g, a, ui),
        Command::Count(a) => list::count(g, a, ui),
        Command::Stats(a) => stats::run(g, &a, ui),
        Command::History(a) => show::history(g, &a, ui),
        Command::Config(c) => config::run(g, c, ui),
        Command::Kv(c) => config::kv(g, c, ui),
        Command::Sql(a) => sql::run(g, &a, ui),
        Command::Export(a) => transfer::export(g, &a, ui),
        Command::Import(a) => transfer::import(g, &a, ui),
        Command::Prime(a) => prime::run(g, &a, ui),
        Command::Version(a) => prime::version(&a, ui),
        Command::Doctor(a) => doctor::run(g, &a, ui),
        Command::Wisp(a) => wisp::run(g, a, ui),
        Command::Cook(a) => cook::run(g, &a, ui),
        Command::Mol(c) => mol::run(g, c, ui),
        Command::Formula(c) => formula::run(g, c, ui),
        Command::Gate(c) => gate::run(g, c, ui),
        Command::MergeSlot(c) => slot::run(g, c, ui),
        Command::Query(a) => list::query(g, a, ui),
        Command::Pour(a) => mol::pour(g, &a, beads::ops::molecule::InstanceKind::Mol, ui),
        Command::Migrate(a) => prime::migrate(g, &a, ui),
        Command::Assign(a) => sugar::assign(g, &a, ui),
        Command::Priority(a) => sugar::priority(g, &a, ui),
        Command::Note(a) => sugar::note(g, &a, ui),
        Command::Defer(a) => sugar::defer(g, &a, ui),
        Command::Undefer(a) => sugar::undefer(g, &a, ui),
        Command::Promote(a) => sugar::promote(g, &a, ui),
        Command::Link(a) => sugar::link(g, &a, ui),
        Command::Relate(a) => sugar::relate(g, &a, ui),
        Command::Unrelate(a) => sugar::unrelate(g, &a, ui),
        Command::Duplicate(a) => sugar::duplicate(g, &a, ui),
        Command::Supersede(a) => sugar::supersede(g, &a, ui),
        Command::Remember(a) => sugar::remember(g, &a, ui),
        Command::Memories(a) => sugar::memories(g, &a, ui),
        Command::Recall(a) => sugar::recall(g, &a, ui),
        Command::Forget(a) => sugar::forget(g, &a, ui),
    }
}

/// The actor for this run: `--actor`, then `BD_ACTOR`, `BEADS_ACTOR`, `USER`, git's
/// `user.name`.
pub fn actor(g: &Global) -> String {
    g.actor
        .clone()
        .or_else(|| host::env::var(host::env::BD_ACTOR))
        .or_else(|| host::env::var(host::env::BEADS_ACTOR))
        .or_else(|| host::env::var(host::env::USER))
        .or_else(host::git::user_name)
        .unwrap_or_else(|| "unknown".into())
}

/// The store context: the actor and the clock (fixed under `GT_TEST_NOW`).
pub fn context(g: &Global) -> Context {
    Context {
        actor: actor(g),
        clock: host::clock::from_env(),
    }
}

/// The beads directory: `--db`, then `BEADS_DIR`, then the nearest `.beads/` upward.
pub fn beads_dir(g: &Global) -> anyhow::Result<PathBuf> {
    let explicit =
        g.db.clone()
            .or_else(|| host::env::var(host::env::BEADS_DIR).map(PathBuf::from));
    if let Some(path) = explicit {
        // `--db path/to/beads.db` names the file; the store is its directory.
        let is_db_file = path.extension().is_some_and(|e| e == "db");
        return Ok(if is_db_file {
            path.parent().map(PathBuf::from).unwrap_or_default()
        } else {
            path
        });
    }
    Ok(beads::store::discover(&host::env::current_dir()?)?)
}

/// Opens the store this run works on. Inside a town, new issues take the prefix of the rig
/// whose directory we are in (`routes.jsonl` beside the database).
pub fn open(g: &Global) -> anyhow::Result<Store> {
    let dir = beads_dir(g)?;
    let mut store = Store::open(&dir, context(g))?;
    if g.readonly {
        store.set_read_only();
    }
    // Inside a town, every committed write wakes the town's daemon, if one runs.
    if let Some(town) = dir.parent() {
        let socket = host::wake::town_socket(town);
        store.after_commit(move || host::wake::send(&socket, "poke"));
    }
    let routes = beads::routes::read(&dir)?;
    if !routes.is_empty() {
        let dir = dir.canonicalize().unwrap_or(dir);
        let cwd = host::env::current_dir()?;
        let cwd = cwd.canonicalize().unwrap_or(cwd);
        if let Some(prefix) = dir
            .parent()
            .and_then(|town| beads::routes::prefix_for(&routes, town, &cwd))
        {
            store.use_prefix(&prefix)?;
        }
    }
    Ok(store)
}

/// Splits comma-separated and repeated values into one list.
pub fn split_list(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Reads text given as `-` (stdin) or `@path`/a file path option. Input that is not UTF-8 is
/// the user's to fix (exit 1), wherever it comes from.
pub fn read_text_source(source: &str) -> anyhow::Result<String> {
    use anyhow::Context as _;
    if source == "-" {
        let mut s = String::new();
        match std::io::Read::read_to_string(&mut std::io::stdin(), &mut s) {
            Ok(_) => Ok(s),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => Err(ui::CliError::user(
                format!("standard input is not valid UTF-8 text: {e}"),
            )
            .into()),
            Err(e) => Err(e).context("reading standard input"),
        }
    } else {
        std::fs::read_to_string(source).map_err(|e| named_file_error(source, e))
    }
}

/// A file the user named cannot be read. A missing, unreadable or non-text file is the user's
/// to fix (exit 1, not an internal error); any other I/O failure stays internal.
pub fn named_file_error(path: &str, err: std::io::Error) -> anyhow::Error {
    use std::io::ErrorKind as K;
    match err.kind() {
        K::NotFound | K::PermissionDenied | K::IsADirectory | K::InvalidData => {
            ui::CliError::user(format!("cannot read `{path}`: {err}")).into()
        }
        _ => anyhow::Error::new(err).context(format!("reading `{path}`")),
    }
}

/// clap value parser for priorities (`2`, `P2`), with the store's own validation message.
pub fn priority_arg(s: &str) -> Result<i64, String> {
    beads::model::parse_priority(s).map_err(|e| e.to_string())
}
