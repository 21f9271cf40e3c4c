//! `gt seance`: the sessions that came before (recorded by `gt prime --hook`), and `--talk`
//! to ask one of them a question by forking it.

use clap::Args;
use town::address::Address;
use town::work::session::{self, SessionRecord};

use super::{safe, table};

#[derive(Debug, Args)]
pub struct SeanceArgs {
    /// Whose sessions (an address) [default: the caller's; everyone's for a person].
    #[arg(long)]
    pub role: Option<String>,
    /// Only sessions of agents in this rig.
    #[arg(long)]
    pub rig: Option<String>,
    /// How many to show, newest first.
    #[arg(long, default_value_t = 20)]
    pub recent: usize,
    /// Fork session <ID> into a new agent session and talk to it (the old one is untouched).
    #[arg(short = 't', long, value_name = "ID")]
    pub talk: Option<String>,
    /// With `--talk`: ask this one question non-interactively instead.
    #[arg(short = 'p', long, requires = "talk")]
    pub prompt: Option<String>,
}

pub fn run(args: &SeanceArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    let store = super::store(&town)?;
    if let Some(id) = &args.talk {
        return talk(&town, &store, id, args.prompt.as_deref());
    }
    let whose = match &args.role {
        Some(text) => Some(Address::parse(text)?),
        None => match Address::current()? {
            Address::Overseer => None,
            me => Some(me),
        },
    };
    if let Some(rig) = &args.rig
        && !town::address::valid_part(rig)
    {
        return Err(ui::CliError::user(format!("`{}` is not a rig name", safe(rig))).into());
    }
    let address = whose.as_ref().map(Address::canonical);
    // With a rig filter, read everyone's and keep that rig's, up to `--recent`.
    let fetch = if args.rig.is_some() { 0 } else { args.recent };
    let starts: Vec<SessionRecord> = session::list(&store, address.as_deref(), fetch)?
        .into_iter()
        .filter(|r| r.event == "session_start")
        .filter(|r| {
            args.rig
                .as_deref()
                .is_none_or(|rig| Address::parse(&r.address).is_ok_and(|a| a.rig() == Some(rig)))
        })
        .take(args.recent)
        .collect();
    if ui.is_json() {
        ui.json(&starts)?;
        return Ok(());
    }
    if starts.is_empty() {
        ui.status(match &address {
            Some(a) => format!("No sessions recorded for {}", safe(a)),
            None => "No sessions recorded".to_owned(),
        });
        return Ok(());
    }
    let mut rows = vec![
        ["STARTED", "ADDRESS", "SESSION ID", "AGENT", "SOURCE", "CWD"]
            .map(str::to_owned)
            .to_vec(),
    ];
    let dash = |v: &Option<String>| safe(v.as_deref().unwrap_or("-"));
    rows.extend(starts.iter().map(|r| {
        vec![
            r.at.clone(),
            safe(&r.address),
            dash(&r.session_id),
            dash(&r.agent),
            dash(&r.source),
            dash(&r.cwd),
        ]
    }));
    table(ui, &rows)?;
    Ok(())
}

/// Runs the agent's fork-and-resume command for recorded session `id`, attached to this
/// terminal, in the directory the session ran in.
fn talk(
    town: &town::layout::Town,
    store: &beads::Store,
    id: &str,
    prompt: Option<&str>,
) -> anyhow::Result<()> {
    let record = session::list(store, None, 0)?
        .into_iter()
        .find(|r| r.session_id.as_deref() == Some(id))
        .ok_or_else(|| {
            ui::CliError::user(format!("no recorded session has the id `{}`", safe(id)))
                .hint("`gt seance` lists the recorded sessions and their ids")
        })?;
    let (user, settings) = super::agent::sources(town)?;
    let name = record.agent.clone().unwrap_or_else(|| "claude".to_owned());
    let preset = town::agents::preset(&name, &user, &settings)?;
    let Some(argv) = preset.fork_argv(id, prompt) else {
        let what = if prompt.is_some() && preset.fork_argv(id, None).is_some() {
            "cannot take a one-shot prompt (it has no non-interactive prompt flag)"
        } else {
            "cannot fork a past session (only presets with `supports_fork_session`, such as claude, can)"
        };
        return Err(ui::CliError::user(format!(
            "session `{}` ran agent `{}`, which {what}",
            safe(id),
            safe(&name)
        ))
        .into());
    };
    let cwd = record
        .cwd
        .as_deref()
        .map(std::path::PathBuf::from)
        .filter(|d| d.is_dir())
        .unwrap_or_else(|| town.root().to_owned());
    let (program, rest) = argv.split_first().expect("an argv has a program");
    let status = host::process::run_interactive(program, rest, &cwd)?;
    if !status.success() {
        return Err(ui::CliError::user(format!("`{}` ended with {status}", safe(program))).into());
    }
    Ok(())
}
