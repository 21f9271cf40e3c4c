//! `gt prime` and `gt hook`: what an agent reads first, and what is on its hook.

use std::io::Write as _;

use clap::{Args, ValueEnum};

use town::work::hookfmt::HookFormat;
use town::work::identity::PolecatId;
use town::work::prime::{self, Role};
use town::work::session::{self, HookInput};

#[derive(Debug, Args)]
pub struct PrimeArgs {
    /// Run as a session-start hook: record the session (from the hook's JSON on stdin, when
    /// stdin is not a terminal) for `gt seance`, then print the context.
    #[arg(long)]
    pub hook: bool,
    /// With `--hook`: the agent CLI whose hook runs it (gemini: one JSON object with
    /// `hookSpecificOutput.additionalContext`).
    #[arg(long, value_enum, default_value_t, requires = "hook")]
    pub hook_format: HookFormatArg,
}

/// `--hook-format`: how a context hook prints for its agent CLI (`town::work::hookfmt`).
#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum HookFormatArg {
    /// Plain text (Claude Code).
    #[default]
    Claude,
    /// One JSON object (Gemini CLI).
    Gemini,
}

impl From<HookFormatArg> for HookFormat {
    fn from(arg: HookFormatArg) -> Self {
        match arg {
            HookFormatArg::Claude => Self::Claude,
            HookFormatArg::Gemini => Self::Gemini,
        }
    }
}

#[derive(Debug, Args)]
pub struct SessionEndArgs {}

#[derive(Debug, Args)]
pub struct HookArgs {}

/// The caller's role: what `GT_ROLE` names (a polecat, the mayor, a crew member), else the
/// polecat or crew member whose directory holds the current directory, else the town.
fn role(town: &town::layout::Town) -> anyhow::Result<Role> {
    use town::address::Address;
    let from_address = |a: Address| match a {
        Address::Polecat { rig, name } => PolecatId::new(&rig, &name).map(Role::Polecat),
        Address::Mayor => Some(Role::Mayor),
        Address::Crew { rig, name } => Some(Role::Crew { rig, name }),
        _ => None,
    };
    if let Some(role) = host::env::var(host::env::GT_ROLE)
        .and_then(|r| Address::parse(&r).ok())
        .and_then(from_address)
    {
        return Ok(role);
    }
    let cwd = host::env::current_dir()?;
    let cwd = cwd.canonicalize().unwrap_or(cwd);
    let root = town
        .root()
        .canonicalize()
        .unwrap_or_else(|_| town.root().to_owned());
    let rel: Vec<String> = cwd
        .strip_prefix(&root)
        .map(|r| {
            r.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let role = match rel.as_slice() {
        [rig, kind, name, ..] if kind == "polecats" || kind == "crew" => {
            Address::parse(&format!("{rig}/{kind}/{name}"))
                .ok()
                .and_then(from_address)
        }
        _ => None,
    };
    Ok(role.unwrap_or(Role::Town))
}

/// The caller's address, for session records: its polecat, else `GT_ROLE`, else `overseer`.
fn address(role: &Role) -> anyhow::Result<String> {
    Ok(match role {
        Role::Polecat(id) => id.address(),
        Role::Mayor => town::address::Address::Mayor.canonical(),
        Role::Crew { rig, name } => format!("{rig}/crew/{name}"),
        Role::Town => town::address::Address::current()?.canonical(),
    })
}

/// Reads a hook's JSON from stdin, unless stdin is a terminal (a person typing `gt prime
/// --hook` by hand must not hang). Unreadable input is reported and treated as none: a hook
/// must never stop its agent from starting.
pub(crate) fn hook_input(ui: &ui::Ui) -> HookInput {
    use std::io::IsTerminal as _;
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return HookInput::default();
    }
    let mut text = String::new();
    if let Err(e) = std::io::Read::read_to_string(&mut stdin.lock(), &mut text) {
        ui.warn(format!("cannot read the hook input: {e}"));
        return HookInput::default();
    }
    HookInput::parse(&text)
        .unwrap_or_else(|e| {
            ui.warn(e);
            None
        })
        .unwrap_or_default()
}

/// Records a session event from a hook. A failure is reported, never fatal.
fn record_session(
    ui: &ui::Ui,
    store: &mut beads::Store,
    role: &Role,
    event: &str,
    input: &HookInput,
) {
    let cwd = host::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let result = address(role).and_then(|a| {
        Ok(session::record(
            store,
            &a,
            event,
            input,
            host::env::var(host::env::GT_SESSION),
            host::env::var("GT_AGENT"),
            &cwd,
        )?)
    });
    if let Err(e) = result {
        ui.warn(format!("cannot record the {event}: {e:#}"));
    }
}

/// The `primed` event of an agent that ran `gt prime` in its session without the hook.
fn record_primed(store: &mut beads::Store, role: &Role, session: &str) {
    let (subject, rig, who) = match role {
        Role::Polecat(id) => (
            beads::ops::work::polecat_key(&id.rig, &id.name),
            Some(id.rig.clone()),
            id.address(),
        ),
        Role::Mayor => ("role:mayor/".to_owned(), None, "mayor/".to_owned()),
        Role::Crew { rig, name } => {
            let address = format!("{rig}/crew/{name}");
            (format!("role:{address}"), Some(rig.clone()), address)
        }
        Role::Town => return,
    };
    let bead = match role {
        Role::Polecat(id) => store
            .polecat(&id.rig, &id.name)
            .ok()
            .flatten()
            .map(|p| p.bead_id)
            .filter(|b| !b.is_empty()),
        _ => None,
    };
    town::events::emit(
        store,
        beads::Happening::Primed,
        &subject,
        &serde_json::json!({
            "rig": rig,
            "bead": bead,
            "agent": who,
            "session": session,
            "source": "prompt",
        }),
    );
}

pub fn run(args: &PrimeArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let input = args.hook.then(|| hook_input(ui));
    let format = HookFormat::from(args.hook_format);
    let town = super::town()?;
    let mut store = super::store(&town)?;
    let role = role(&town)?;
    // The same hook runs before a compaction (PreCompact): only a start is a new session.
    if let Some(input) = &input
        && input
            .hook_event_name
            .as_deref()
            .is_none_or(|e| e == "SessionStart")
    {
        record_session(ui, &mut store, &role, "session_start", input);
    }
    // An agent without a start hook primes when its first prompt says so: that is its prime.
    if input.is_none()
        && let Some(session) = host::env::var(host::env::GT_SESSION)
    {
        record_primed(&mut store, &role, &session);
    }
    let mut text = prime::render(&town, &store, &role)?;
    // The agent before this one handed off: say so once, first.
    if let Some(session) = host::env::var(host::env::GT_SESSION) {
        let generation =
            host::env::var(host::env::GT_GENERATION).and_then(|g| g.trim().parse().ok());
        match town::work::handoff::successor_note(&town, &session, generation) {
            Ok(Some(note)) => text.insert_str(0, &note),
            Ok(None) => {}
            Err(e) => ui.warn(format!("cannot read the handoff marker: {e:#}")),
        }
    }
    if ui.is_json() {
        ui.json(&serde_json::json!({"prime": text}))?;
    } else {
        let event = input.and_then(|i| i.hook_event_name);
        ui.out()
            .write_all(format.prime(event.as_deref(), &text).as_bytes())?;
    }
    Ok(())
}

/// `gt session-end`: the hook run when an agent session ends (`SessionEnd` or `Stop`).
pub fn session_end(_args: &SessionEndArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let input = hook_input(ui);
    let town = super::town()?;
    let mut store = super::store(&town)?;
    let role = role(&town)?;
    record_session(ui, &mut store, &role, "session_end", &input);
    record_costs(ui, &mut store, &role, &input);
    Ok(())
}

/// How many of a transcript's bad lines a hook names (the rest are counted).
const PROBLEMS_SHOWN: usize = 5;

/// Records the session's token totals from the transcript the hook names, read whole each
/// time (the `Stop` hook runs at every turn's end; the latest reading replaces the last). A
/// preset whose transcripts are not read records nothing. A failure is reported, never fatal.
fn record_costs(ui: &ui::Ui, store: &mut beads::Store, role: &Role, input: &HookInput) {
    use town::costs::record;
    let Some(path) = input.transcript_path.as_deref().filter(|p| !p.is_empty()) else {
        return;
    };
    // The hook JSON naming a transcript is Claude Code's shape when no preset is named.
    let source = match host::env::var("GT_AGENT") {
        None => beads::CostSource::Claude,
        Some(preset) => match record::source_of_preset(&preset) {
            Some(source) => source,
            None => return,
        },
    };
    let result = (|| -> anyhow::Result<()> {
        let reading = record::read(source, std::path::Path::new(path))?;
        for p in reading.problems.iter().take(PROBLEMS_SHOWN) {
            ui.warn(format!("skipped a transcript line: {p}"));
        }
        if let Some(more) = reading
            .problems
            .len()
            .checked_sub(PROBLEMS_SHOWN)
            .filter(|n| *n > 0)
        {
            ui.warn(format!("skipped {more} more transcript lines"));
        }
        let who = record::Attribution::of(store, role, &address(role)?)?;
        let now = store.now_ts();
        record::record(store, &reading, &who, now)?;
        Ok(())
    })();
    if let Err(e) = result {
        ui.warn(format!("cannot record the session's costs: {e:#}"));
    }
}

pub fn hook(_args: &HookArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    let store = super::store(&town)?;
    let Role::Polecat(id) = role(&town)? else {
        return Err(ui::CliError::user(
            "`gt hook` shows a polecat's work; run it inside a polecat's worktree",
        )
        .into());
    };
    let row = store.polecat(&id.rig, &id.name)?;
    let bead = row
        .as_ref()
        .map(|r| r.bead_id.clone())
        .filter(|b| !b.is_empty());
    if ui.is_json() {
        ui.json(&serde_json::json!({"polecat": id.address(), "bead": bead}))?;
        return Ok(());
    }
    match bead {
        Some(b) => {
            let issue = store.get(&b)?;
            ui.line(format!(
                "{}  {}  {}",
                issue.id,
                issue.status,
                super::safe(&issue.title)
            ))?;
        }
        None => ui.status(format!("Nothing is hooked to {}", id.address())),
    }
    Ok(())
}
