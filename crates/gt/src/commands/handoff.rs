//! `gt handoff`: hand this agent's session to a fresh agent of itself, and the hidden helper
//! that does the respawn from outside the pane.

use std::io::Read as _;
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;

use town::address::Address;
use town::work::handoff::{self, Caller, Request};
use town::work::sling::SlingContext;

/// Hand this agent's session to a fresh agent: its notes mailed to itself, then a new agent
/// (a new context) in the same tmux pane.
///
/// Run inside an agent's session (it reads `GT_ROLE`, `GT_SESSION` and `GT_GENERATION`). In
/// order, each step safe to run again: refuse if this agent handed off less than two minutes
/// ago (exit 4, nothing changed); mail `🤝 HANDOFF: <subject>` to itself (the hooked bead,
/// Context from `-m`/`--stdin`, Status, Next); leave a marker so the successor's `gt prime`
/// says it is post-handoff; then a detached helper waits for this command to exit and respawns
/// the pane with the same agent preset and environment, as the polecat's next generation (a
/// `gt done` from this agent is refused from then on). The new agent's session-start hook
/// primes it and `gt mail check --inject` shows the HANDOFF mail.
///
/// Polecats hand off in place: the bead, branch and worktree stay theirs and only the agent is
/// new. (Upstream ends a polecat with `gt done --status DEFERRED` instead; here DEFERRED still
/// means "give the bead back, it is blocked".) Only polecats have sessions the town starts, so
/// other roles cannot hand off yet.
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct HandoffArgs {
    /// The subject, after `🤝 HANDOFF: ` (default `session handoff`).
    #[arg(short = 's', long)]
    pub subject: Option<String>,
    /// Notes for the successor: the mail's Context.
    #[arg(short = 'm', long, conflicts_with = "stdin")]
    pub message: Option<String>,
    /// Read the notes from stdin.
    #[arg(long)]
    pub stdin: bool,
    /// As the `PreCompact` hook runs it: a fresh agent instead of a compaction, with the status
    /// collected (subject `context cycle`, reason `compaction` unless given). Stdin is the
    /// hook's and is not read. The cooldown still applies: a refused cycle leaves the agent to
    /// compact as usual.
    #[arg(long, conflicts_with = "stdin")]
    pub cycle: bool,
    /// Why the agent hands off (in the mail and the successor's note).
    #[arg(long)]
    pub reason: Option<String>,
    /// Add the inbox, beads in progress and ready beads to the mail's Status.
    #[arg(short = 'c', long)]
    pub collect: bool,
}

#[derive(Debug, Args)]
pub struct RespawnArgs {
    /// The polecat handing off.
    #[arg(long)]
    pub address: String,
    #[arg(long)]
    pub session: String,
    /// The generation handing off.
    #[arg(long)]
    pub generation: i64,
    /// Wait for this process (the `gt handoff` that started the helper) to exit first.
    #[arg(long)]
    pub after_pid: u32,
}

/// How long the helper waits for `gt handoff` to exit before respawning anyway.
const PARENT_WAIT: Duration = Duration::from_secs(30);
/// How long the fresh agent may take to show its prompt.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Serialize)]
struct Report<'a> {
    #[serde(flatten)]
    handoff: &'a handoff::Handoff,
    successor_generation: i64,
    respawn_log: String,
}

pub fn run(args: &HandoffArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let message = if args.stdin {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        Some(text)
    } else {
        args.message.clone()
    };
    let town = super::town()?;
    let mut store = super::store(&town)?;
    let var = |k| host::env::var(k).filter(|v| !v.trim().is_empty());
    let caller = Caller {
        address: Address::current()?,
        session: var(host::env::GT_SESSION),
        generation: var(host::env::GT_GENERATION).and_then(|g| g.trim().parse().ok()),
    };
    let req = Request {
        subject: args
            .subject
            .clone()
            .or_else(|| args.cycle.then(|| handoff::CYCLE_SUBJECT.to_owned())),
        message,
        reason: args
            .reason
            .clone()
            .or_else(|| args.cycle.then(|| handoff::CYCLE_REASON.to_owned())),
        collect: args.collect || args.cycle,
    };
    let prepared = handoff::prepare(&town, &mut store, &caller, &req)?;
    // The helper outlives this command and the pane's processes: it waits for this process to
    // exit, so what is printed below reaches the agent before the pane is replaced.
    let log = town.logs_dir().join("handoff.log");
    std::fs::create_dir_all(town.logs_dir())?;
    let mut env = super::caller_env();
    env.push(("GT_TOWN_ROOT".into(), town.root().display().to_string()));
    env.push(("BD_ACTOR".into(), prepared.address.clone()));
    if let Some(filter) = host::env::var(host::env::GT_LOG) {
        env.push((host::env::GT_LOG.into(), filter));
    }
    let helper_args: Vec<String> = vec![
        "handoff-respawn".into(),
        "--address".into(),
        prepared.address.clone(),
        "--session".into(),
        prepared.session.clone(),
        "--generation".into(),
        prepared.generation.to_string(),
        "--after-pid".into(),
        std::process::id().to_string(),
    ];
    let gt = host::env::current_exe()?;
    host::spawn::spawn_detached(&gt.to_string_lossy(), &helper_args, &env, town.root(), &log)?;
    if ui.is_json() {
        ui.json(&Report {
            handoff: &prepared,
            successor_generation: prepared.generation + 1,
            respawn_log: log.display().to_string(),
        })?;
        return Ok(());
    }
    ui.status(format!(
        "Handed off: {} \"{}\" to {}{}",
        prepared.mail,
        super::safe(&prepared.subject),
        prepared.address,
        if prepared.mail_reused {
            " (sent by an earlier try)"
        } else {
            ""
        }
    ));
    ui.status(format!(
        "A fresh agent (generation {}) takes over session {} once this command exits (log: {})",
        prepared.generation + 1,
        prepared.session,
        log.display()
    ));
    ui.line(&prepared.mail)?;
    Ok(())
}

/// `gt handoff-respawn`: waits for `gt handoff` to exit, then respawns the pane.
pub fn respawn(args: &RespawnArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let start = Instant::now();
    while host::spawn::is_alive(args.after_pid) && start.elapsed() < PARENT_WAIT {
        std::thread::sleep(Duration::from_millis(20));
    }
    let town = super::town()?;
    let mut store = super::store(&town)?;
    let address = Address::parse(&args.address)?;
    let runtimes = super::runtimes(&town);
    let cx = SlingContext {
        town: &town,
        runtimes: &runtimes,
        gt_bin: host::env::current_exe()?,
        inherited_env: super::caller_env(),
        ready_timeout: READY_TIMEOUT,
        env: Some(&town::rigctx::process_env),
    };
    let done = handoff::respawn(&mut store, &cx, &address, &args.session, args.generation)?;
    ui.status(format!(
        "{} {}: generation {} started in session {} (pane {}, pid {})",
        store.now(),
        done.address,
        done.generation,
        done.session,
        done.pane_id.as_deref().unwrap_or("-"),
        done.pid
    ));
    Ok(())
}
