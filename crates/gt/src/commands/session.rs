//! `gt session list|at|capture|restart` and `gt peek`: finding, attaching to, reading and
//! restarting any agent's session by its address.

use std::time::Duration;

use clap::{Args, Subcommand};

use town::address::Address;
use town::layout::Town;
use town::roster::{self, Member};
use town::runtime::{Runtime, Runtimes};
use town::work::sling::{self, SlingOptions};

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Every session of the town: its agent, runtime, and whether the agent runs.
    List,
    /// Put this terminal on an agent's session (detach with `C-b d`).
    At(AddressArgs),
    /// Print the last lines of an agent's session.
    Capture(CaptureArgs),
    /// Start an agent's session again: a polecat on its bead, through `gt sling`'s path.
    Restart(AddressArgs),
}

#[derive(Debug, Args)]
pub struct AddressArgs {
    /// mayor/, deacon/, <rig>/crew/<name>, <rig>/polecats/<name> (or <rig>/<name>).
    pub address: String,
}

#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// mayor/, deacon/, <rig>/crew/<name>, <rig>/polecats/<name> (or <rig>/<name>).
    pub address: String,
    /// How many lines of output to show (blank padding is not counted).
    #[arg(short = 'n', long, default_value_t = 40)]
    pub lines: usize,
}

pub fn run(cmd: SessionCommand, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    match cmd {
        SessionCommand::List => list(&town, ui),
        SessionCommand::At(a) => attach(&town, &Address::parse(&a.address)?),
        SessionCommand::Capture(a) => capture(&town, &a, ui),
        SessionCommand::Restart(a) => restart(&town, &Address::parse(&a.address)?, ui),
    }
}

/// `gt peek`: the same as `gt session capture`.
pub fn peek(args: &CaptureArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    capture(&super::town()?, args, ui)
}

fn list(town: &Town, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let store = super::store(town)?;
    let view = town::views::sessions(town, &store, &super::runtimes(town))?;
    if ui.is_json() {
        ui.json(&view)?;
        return Ok(());
    }
    if view.sessions.is_empty() {
        ui.status("No sessions");
        return Ok(());
    }
    let mut rows = vec![vec![
        "ADDRESS".to_owned(),
        "SESSION".into(),
        "RUNTIME".into(),
        "ALIVE".into(),
    ]];
    rows.extend(view.sessions.iter().map(|s| {
        vec![
            s.address.clone().unwrap_or_else(|| "-".into()),
            s.session.clone(),
            s.runtime.clone(),
            (if s.alive { "yes" } else { "no" }).into(),
        ]
    }));
    Ok(super::table(ui, &rows)?)
}

/// The agent `address` names and the runtime its session lives in. An address that is no
/// agent, or a polecat never started, is the user's error.
fn locate<'r>(
    town: &Town,
    runtimes: &'r Runtimes,
    address: &Address,
) -> anyhow::Result<(Member, &'r dyn Runtime)> {
    let store = match address {
        Address::Polecat { .. } => Some(super::store(town)?),
        _ => None,
    };
    let member = roster::locate(town, store.as_ref(), address)?;
    if member.session.is_empty() {
        return Err(ui::CliError::user(format!(
            "`{}` has never been started, so it has no session",
            member.address
        ))
        .hint(format!("`gt sling <bead> {}` starts it", member.address))
        .into());
    }
    let runtime = runtimes.find(&member.runtime, &member.session);
    Ok((member, runtime))
}

/// Puts the user's terminal on `address`'s session until they detach or the session ends:
/// `tmux attach-session` on the town's private server, or `switch-client` when the caller
/// already runs inside a client of that server. Used by `gt session at` and `gt mayor attach`.
/// A headless (subprocess) session has no terminal to attach; that is a user error pointing at
/// `gt session capture`.
pub fn attach(town: &Town, address: &Address) -> anyhow::Result<()> {
    let runtimes = super::runtimes(town);
    let (member, runtime) = locate(town, &runtimes, address)?;
    if runtime.kind() != runtimes.tmux().kind() {
        // Missing altogether is the clearer error.
        runtime.capture(&member.session)?;
        return Err(ui::CliError::user(format!(
            "`{}` runs headless (session `{}` in the {} runtime): there is no terminal to attach",
            member.address,
            member.session,
            runtime.kind()
        ))
        .hint(format!(
            "`gt session capture {}` shows its output",
            member.address
        ))
        .into());
    }
    let caller = host::env::var(host::env::TMUX);
    let command = runtimes
        .tmux()
        .attach_command(&member.session, caller.as_deref())?;
    let status = command.run()?;
    if !status.success() {
        return Err(ui::CliError::user(format!(
            "tmux could not attach to `{}` (session `{}`): {status}",
            member.address, member.session
        ))
        .into());
    }
    Ok(())
}

/// The last `n` lines of output of `address`'s session (blank padding not counted), and the
/// agent found there. Used by `gt session capture`, `gt peek` and `gt feed`'s peek.
pub fn tail(town: &Town, address: &Address, n: usize) -> anyhow::Result<(Member, Vec<String>)> {
    let runtimes = super::runtimes(town);
    let (member, runtime) = locate(town, &runtimes, address)?;
    let text = runtime.capture(&member.session)?;
    let lines = town::runtime::output_tail(&text, n)
        .into_iter()
        .map(str::to_owned)
        .collect();
    Ok((member, lines))
}

fn capture(town: &Town, args: &CaptureArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let address = Address::parse(&args.address).map_err(|e| {
        // A polecat's bare name (`nux`) is the usual slip: point at its address.
        let near = super::store(town)
            .ok()
            .and_then(|store| super::suggest::polecat_near(&store, &args.address));
        let forms = format!("addresses: {}", town::address::ADDRESS_FORMS);
        let hint = match near {
            Some(near) => format!("did you mean `{near}`? {forms}"),
            None => forms,
        };
        anyhow::Error::from(ui::CliError::user(e.to_string()).hint(hint))
    })?;
    let (member, lines) = tail(town, &address, args.lines).map_err(|e| {
        let unknown_polecat = matches!(address, Address::Polecat { .. })
            && e.downcast_ref::<town::roster::RosterError>()
                .is_some_and(|r| matches!(r, town::roster::RosterError::NoSession { .. }));
        match super::store(town) {
            Ok(store) if unknown_polecat => ui::CliError::user(e.to_string())
                .hint(super::suggest::polecat_hint(&store, &address.canonical()))
                .into(),
            _ => e,
        }
    })?;
    if ui.is_json() {
        ui.json(&serde_json::json!({
            "address": member.address.canonical(),
            "session": member.session,
            "lines": lines,
        }))?;
    } else {
        for line in &lines {
            ui.line(super::safe(line))?;
        }
    }
    Ok(())
}

/// One arm per kind of agent, since each restarts through its own path: a polecat through
/// sling's, the mayor and crew through `town::roles`.
fn restart(town: &Town, address: &Address, ui: &mut ui::Ui) -> anyhow::Result<()> {
    match address {
        Address::Polecat { rig, name } => restart_polecat(town, address, rig, name, ui),
        Address::Mayor | Address::Crew { .. } => {
            super::roles::start_role(&town::roles::RoleId::from_address(address)?, None, true, ui)
        }
        Address::Deacon => Err(ui::CliError::user(
            "the deacon runs inside the daemon here, not in an agent session",
        )
        .hint("`gt daemon stop` then `gt daemon start` restarts it")
        .into()),
        // Services, the overseer and groups: the roster says why they have no session.
        _ => {
            let member = roster::locate(town, None, address)?;
            Err(ui::CliError::user(format!("`{}` cannot be restarted", member.address)).into())
        }
    }
}

/// Stops the polecat's session and slings its bead to it again, as the witness restarts a dead
/// one: the admission lock, the respawn limit and a new generation all apply, and the agent
/// goes on in its own worktree and branch. Everything that would refuse is checked before the
/// session is stopped.
fn restart_polecat(
    town: &Town,
    address: &Address,
    rig: &str,
    name: &str,
    ui: &mut ui::Ui,
) -> anyhow::Result<()> {
    let mut store = super::store(town)?;
    let row = store.polecat(rig, name)?.ok_or_else(|| {
        ui::CliError::user(format!("the town has no polecat `{address}`"))
            .hint("`gt agents` lists the town's agents")
    })?;
    let user = |message: String| anyhow::Error::from(ui::CliError::user(message));
    if row.bead_id.is_empty() {
        return Err(ui::CliError::user(format!(
            "`{address}` holds no bead, so there is no work to restart it on"
        ))
        .hint(format!("`gt sling <bead> {address}` gives it work"))
        .into());
    }
    if !matches!(
        row.state,
        beads::PolecatState::Working | beads::PolecatState::Stuck
    ) {
        return Err(user(format!(
            "`{address}` is {}; only a working or stuck polecat is restarted",
            row.state
        )));
    }
    let bead = store.get(&row.bead_id)?;
    if !matches!(bead.status.as_str(), "hooked" | "in_progress")
        || bead.assignee != address.canonical()
    {
        return Err(user(format!(
            "`{}` is {} (assignee `{}`), no longer `{address}`'s work in progress",
            bead.id, bead.status, bead.assignee
        )));
    }
    let limit = super::rig_ctx(town, rig)?
        .settings
        .scheduler
        .max_bead_respawns;
    let spawns = store.respawns(&bead.id)?;
    if spawns >= i64::from(limit) {
        return Err(ui::CliError::user(format!(
            "`{}` has been started {spawns} times, the limit (`scheduler.max_bead_respawns`)",
            bead.id
        ))
        .hint("look at the bead and the worktree first; the session was left as it is")
        .into());
    }
    let runtimes = super::runtimes(town);
    if !row.session.is_empty() {
        runtimes.get(&row.runtime).stop(&row.session)?;
    }
    let cx = super::sling::context(town, &runtimes, Duration::from_secs(60))?;
    let slung = sling::sling(
        &mut store,
        &cx,
        std::slice::from_ref(&bead.id),
        &address.canonical(),
        &SlingOptions {
            no_convoy: true,
            starter: town::scheduler::admission::Starter::Dispatcher,
            ..SlingOptions::default()
        },
    )?
    .into_result()?;
    if ui.is_json() {
        ui.json(&slung)?;
    } else {
        for s in &slung {
            ui.status(format!(
                "Restarted {} on {} (session {}, agent {})",
                s.polecat, s.bead, s.session, s.agent
            ));
        }
    }
    Ok(())
}
