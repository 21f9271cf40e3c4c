//! `gt nudge`: text into an agent's session, delivered whole or queued, and an exit status that
//! says which; `gt nudge --drain` for an agent's turn-boundary hook; `gt dnd`.

use std::io::Read as _;

use clap::{Args, Subcommand, ValueEnum};
use town::address::Address;
use town::layout::Town;
use town::nudge::{self, Mode, Nudge, Outcome, Priority};

/// The exit code of a nudge that was queued, not delivered (EX_TEMPFAIL: try again later;
/// not 1, 2 or 3, which mean user, usage and internal errors).
pub const EXIT_QUEUED: u8 = 75;

#[derive(Debug, Args)]
#[command(after_help = "\
Exit status: 0 delivered (pasted whole, seen in the pane, submitted); 75 queued (the agent was \
busy, had half-typed input or do-not-disturb on: it gets the nudge at its next turn boundary, \
or from the daemon once idle, until it expires); 1 failed (a dead or missing session, a full \
queue), 2 usage, 3 internal.")]
pub struct NudgeArgs {
    /// Who: mayor/, deacon/, <rig>/<polecat>, <rig>/crew/<name>, or the session's name
    /// (hq-mayor, gt-furiosa).
    #[arg(required_unless_present = "drain")]
    pub target: Option<String>,
    /// The text (several lines arrive as one message).
    #[arg(conflicts_with = "stdin")]
    pub message: Option<String>,
    /// How to deliver: wait for an idle prompt (else queue), queue, or now even if busy.
    #[arg(long, value_enum, default_value_t = ModeArg::WaitIdle)]
    pub mode: ModeArg,
    /// Urgent nudges stay queued 2 h instead of 30 min.
    #[arg(long, value_enum, default_value_t = PriorityArg::Normal)]
    pub priority: PriorityArg,
    /// Read the message from stdin.
    #[arg(long)]
    pub stdin: bool,
    /// Deliver past the target's do-not-disturb and past a rate-limit hold on its account.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Print and remove this session's queued nudges (for an agent's hook); the session is
    /// `--session` or `GT_SESSION`.
    #[arg(long, conflicts_with_all = ["target", "message", "stdin", "force"])]
    pub drain: bool,
    /// With `--drain`: print Claude's Stop-hook JSON (`{"decision":"block","reason":…}`),
    /// so the nudges become the agent's next prompt; nothing when none wait.
    #[arg(long, requires = "drain")]
    pub hook: bool,
    /// With `--drain`: the session whose queue to drain.
    #[arg(long, requires = "drain")]
    pub session: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeArg {
    WaitIdle,
    Queue,
    Immediate,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PriorityArg {
    Normal,
    Urgent,
}

#[derive(Debug, Args)]
pub struct DndArgs {
    #[command(subcommand)]
    pub command: DndCommand,
}

#[derive(Debug, Subcommand)]
pub enum DndCommand {
    /// Queue nudges to you instead of delivering them (unless forced).
    On(DndWho),
    /// Take nudges again.
    Off(DndWho),
    /// Whether do-not-disturb is on.
    Status(DndWho),
}

#[derive(Debug, Args)]
pub struct DndWho {
    /// Whose (default: you, from `GT_ROLE`, else overseer).
    pub address: Option<String>,
}

pub fn run(args: &NudgeArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    if args.drain {
        return drain(&town, args, ui);
    }
    let target_text = args.target.as_deref().unwrap_or_default();
    let message = match (&args.message, args.stdin) {
        (Some(m), false) => m.clone(),
        (None, true) => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text)?;
            text
        }
        _ => {
            return Err(
                ui::CliError::usage("give the message as an argument or with `--stdin`").into(),
            );
        }
    };
    let priority = match args.priority {
        PriorityArg::Normal => Priority::Normal,
        PriorityArg::Urgent => Priority::Urgent,
    };
    let mode = match args.mode {
        ModeArg::WaitIdle => Mode::WaitIdle,
        ModeArg::Queue => Mode::Queue,
        ModeArg::Immediate => Mode::Immediate,
    };
    let (target, session, outcome) = send(&town, target_text, message, mode, priority, args.force)?;
    let target = target.canonical();
    match outcome {
        Outcome::Delivered => {
            if ui.is_json() {
                ui.json(&serde_json::json!({
                    "outcome": "delivered", "target": target, "session": session,
                }))?;
            } else {
                ui.line(format!("delivered to {target} (session {session})"))?;
            }
            Ok(())
        }
        Outcome::Queued {
            reason,
            queued,
            expires_at,
        } => {
            if ui.is_json() {
                ui.json(&serde_json::json!({
                    "outcome": "queued", "target": target, "session": session,
                    "reason": reason.as_str(), "depth": queued.depth,
                    "expires_at": expires_at.to_string(),
                }))?;
            } else {
                let why = queued_why(&reason);
                ui.line(format!(
                    "queued for {target} (session {session}), not delivered yet: {why}; it is \
                     delivered at the agent's next turn boundary, or by the daemon once the \
                     agent is idle, until {expires_at} ({} waiting)",
                    queued.depth
                ))?;
            }
            Err(ui::ExitStatus(EXIT_QUEUED).into())
        }
    }
}

/// Sends `message` to the agent `target_text` names (an address or a session name): the one
/// delivery path of `gt nudge` and `gt feed`'s nudge key. Returns the target, its session and
/// what became of the nudge.
pub fn send(
    town: &Town,
    target_text: &str,
    message: String,
    mode: Mode,
    priority: Priority,
    force: bool,
) -> anyhow::Result<(Address, String, Outcome)> {
    let (target, store) = target(town, target_text)?;
    let (session, runtime_kind) = nudge::session_of(town, store.as_ref(), &target)?;
    let nudge = Nudge {
        session: session.clone(),
        sender: Address::current()?.canonical(),
        message,
        priority,
        target: target.clone(),
    };
    let runtimes = super::runtimes(town);
    let now = host::clock::from_env().now();
    let mut store = match store.map_or_else(|| super::store(town), Ok) {
        Ok(store) => Some(store),
        Err(e) => {
            tracing::warn!(error = %e, "no store: a rate-limit hold is not checked and the nudge is not recorded");
            None
        }
    };
    let held = match &store {
        Some(store) => town::scheduler::accounts::hold_on(store, &target.canonical(), now)?,
        None => None,
    };
    let outcome = nudge::deliver(
        town,
        runtimes.get(&runtime_kind),
        &nudge,
        mode,
        force,
        held.as_ref(),
        now,
    )?;
    if matches!(outcome, Outcome::Queued { .. }) {
        host::crash::point("nudge:queued");
    }
    if let Some(store) = &mut store {
        nudge::record(store, &nudge, &outcome);
    }
    Ok((target, session, outcome))
}

/// Why a nudge was queued rather than delivered, in words.
pub fn queued_why(reason: &nudge::QueueReason) -> String {
    match reason {
        nudge::QueueReason::Asked => "as asked".to_owned(),
        nudge::QueueReason::Dnd => "its do-not-disturb is on".to_owned(),
        nudge::QueueReason::Screen(screen) => format!(
            "the agent is {}",
            match screen {
                nudge::screen::Screen::Partial(_) => "holding half-typed input",
                nudge::screen::Screen::Menu => "at a menu",
                nudge::screen::Screen::Busy => "busy",
                _ => "not at its prompt",
            }
        ),
        nudge::QueueReason::RateLimited { account, until } => {
            format!("its account `{account}` is rate-limited until {until}")
        }
    }
}

/// The address `text` names, and the store when resolving it needs one: an address
/// (`gastown/furiosa`), or, as upstream allows, the name of the agent's session
/// (`gt-furiosa`, `hq-mayor`). A word that is neither is reported as the address error, which
/// lists the forms.
fn target(town: &Town, text: &str) -> anyhow::Result<(Address, Option<beads::Store>)> {
    let address = match Address::parse(text) {
        Ok(address) => address,
        Err(not_an_address) => {
            let session = text.trim();
            if town::runtime::check_session_name(session).is_err() {
                return Err(not_an_address.into());
            }
            if let Some(address) = nudge::target::town_session(session) {
                return Ok((address, None));
            }
            let store = super::store(town)?;
            let address = nudge::address_of_session(town, Some(&store), session)?;
            return Ok((address, Some(store)));
        }
    };
    let store = match address {
        Address::Polecat { .. } => Some(super::store(town)?),
        _ => None,
    };
    Ok((address, store))
}

fn drain(town: &Town, args: &NudgeArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let session = args
        .session
        .clone()
        .or_else(|| host::env::var(host::env::GT_SESSION))
        .ok_or_else(|| {
            ui::CliError::usage(
                "no session to drain: pass `--session` or run inside an agent (GT_SESSION)",
            )
        })?;
    // The store is opened only when something is queued (most turns end with nothing).
    // Without it, nudges are not held back for a rate limit: delivered as ever.
    let store = if nudge::Queue::new(town, &session)?.has_waiting() {
        super::store(town).ok()
    } else {
        None
    };
    let claim = nudge::drain(
        town,
        store.as_ref(),
        &session,
        host::clock::from_env().now(),
    )?;
    let text = nudge::render(claim.entries());
    let printed = if claim.is_empty() {
        Ok(())
    } else if args.hook {
        ui.line(serde_json::json!({ "decision": "block", "reason": text }))
    } else if ui.is_json() {
        ui.json(claim.entries())
    } else {
        ui.line(&text)
    };
    // Removed only once printed: a hook that could not print them leaves them queued.
    match printed.and_then(|()| ui.flush()) {
        Ok(()) => settle_delivered(town, claim)?,
        Err(e) => {
            claim.release()?;
            return Err(e.into());
        }
    }
    Ok(())
}

/// Records the delivery of the nudges of `claim`, which reached the agent (printed by its
/// hook), in the town's event stream, then removes them: a kill in between leaves them
/// claimed, to return and be delivered again, their record written once.
pub fn settle_delivered(town: &Town, claim: nudge::Claim) -> anyhow::Result<()> {
    if claim.is_empty() {
        return Ok(());
    }
    match super::store(town) {
        Ok(mut store) => nudge::record::delivered(
            &mut store,
            claim.session(),
            &claim.named(),
            nudge::record::DeliveredBy::Hook,
        ),
        Err(e) => tracing::warn!(error = %e, "delivered nudges not recorded in the event stream"),
    }
    host::crash::point("nudge:delivery-recorded");
    claim.done()?;
    Ok(())
}

pub fn dnd(args: &DndArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    let (who, on) = match &args.command {
        DndCommand::On(w) => (w, Some(true)),
        DndCommand::Off(w) => (w, Some(false)),
        DndCommand::Status(w) => (w, None),
    };
    let address = match &who.address {
        Some(text) => Address::parse(text)?,
        None => Address::current()?,
    };
    if let Some(on) = on {
        nudge::dnd::set(&town, &address, on)?;
    }
    let state = nudge::dnd::is_on(&town, &address)?;
    if ui.is_json() {
        ui.json(&serde_json::json!({ "address": address.canonical(), "dnd": state }))?;
    } else {
        let word = if state { "on" } else { "off" };
        ui.line(format!(
            "do-not-disturb is {word} for {}",
            address.canonical()
        ))?;
    }
    Ok(())
}
