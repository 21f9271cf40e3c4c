//! `gt crew`: a human's persistent workspaces (full clones at `<rig>/crew/<name>`), each with a
//! long-lived agent the daemon keeps running while wanted.

use clap::{Args, Subcommand};
use town::layout::Town;
use town::roles::{RoleId, crew};

use super::roles::{render_status, start_role, stop_role};
use super::{safe, table};

#[derive(Debug, Subcommand)]
pub enum CrewCommand {
    /// Create workspaces: a full clone of the rig's repository for each name.
    Add(AddArgs),
    /// The crew of a rig (of every rig without `--rig`), with their agents and unsaved work.
    List(RigArgs),
    /// Put your terminal on a crew member's session, starting its agent first if needed.
    #[command(visible_alias = "attach")]
    At(AtArgs),
    /// Start crew members' agents (nothing happens to one that runs).
    Start(StartArgs),
    /// Stop crew members' agents; the daemon leaves them stopped.
    Stop(NamesArgs),
    /// Stop crew members' agents and start fresh ones.
    Restart(StartArgs),
    /// A crew member's agent and workspace in detail.
    Status(NameArgs),
    /// Delete workspaces; refused while one holds uncommitted, stashed or unpushed work.
    Remove(RemoveArgs),
    /// Cycle a crew member's context: a handoff mail to itself, then a fresh agent in its pane.
    Refresh(RefreshArgs),
}

#[derive(Debug, Args)]
pub struct RigArgs {
    /// The rig (default: the rig holding the current directory, or the town's only rig).
    #[arg(long)]
    pub rig: Option<String>,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Crew names (`<name>` or `<rig>/<name>`).
    #[arg(required = true)]
    pub names: Vec<String>,
    #[command(flatten)]
    pub rig: RigArgs,
    /// Work on a new branch `crew/<name>` instead of the rig's default branch.
    #[arg(long)]
    pub branch: bool,
}

#[derive(Debug, Args)]
pub struct NamesArgs {
    /// Crew names (`<name>` or `<rig>/<name>`).
    #[arg(required = true)]
    pub names: Vec<String>,
    #[command(flatten)]
    pub rig: RigArgs,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    #[command(flatten)]
    pub who: NamesArgs,
    /// The agent preset, instead of `worker_agents`/`crew_agents`/`role_agents.crew`.
    #[arg(long)]
    pub agent: Option<String>,
}

#[derive(Debug, Args)]
pub struct NameArgs {
    /// The crew name (`<name>` or `<rig>/<name>`).
    pub name: String,
    #[command(flatten)]
    pub rig: RigArgs,
}

#[derive(Debug, Args)]
pub struct AtArgs {
    #[command(flatten)]
    pub who: NameArgs,
    /// The agent preset, if it has to be started.
    #[arg(long)]
    pub agent: Option<String>,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    #[command(flatten)]
    pub who: NamesArgs,
    /// Remove even if the workspace holds work that exists nowhere else (it is lost).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct RefreshArgs {
    #[command(flatten)]
    pub who: NameArgs,
    /// Notes for the fresh agent (the handoff mail's Context).
    #[arg(short, long)]
    pub message: Option<String>,
}

pub fn run(cmd: CrewCommand, ui: &mut ui::Ui) -> anyhow::Result<()> {
    match cmd {
        CrewCommand::Add(args) => add(&args, ui),
        CrewCommand::List(args) => list(&args, ui),
        CrewCommand::Start(args) => each(&args.who, ui, |role, ui| {
            start_role(role, args.agent.clone(), false, ui)
        }),
        CrewCommand::Restart(args) => each(&args.who, ui, |role, ui| {
            start_role(role, args.agent.clone(), true, ui)
        }),
        CrewCommand::Stop(args) => each(&args, ui, stop_role),
        CrewCommand::Status(args) => status(&args, ui),
        CrewCommand::At(args) => {
            let town = super::town()?;
            let role = role_of(&town, &args.who.name, args.who.rig.rig.as_deref())?;
            super::roles::attach_role(&role, args.agent, ui)
        }
        CrewCommand::Remove(args) => remove(&args, ui),
        CrewCommand::Refresh(args) => refresh(&args, ui),
    }
}

/// The rig a crew command means: `--rig`, else the rig whose directory holds the current
/// directory, else the town's only rig.
fn rig_of(town: &Town, flag: Option<&str>) -> anyhow::Result<String> {
    if let Some(rig) = flag {
        return Ok(rig.to_owned());
    }
    let rigs = town.rigs()?.rigs;
    let cwd = host::env::current_dir()?;
    let cwd = cwd.canonicalize().unwrap_or(cwd);
    for rig in rigs.keys() {
        let dir = town.rig_dir(rig);
        if cwd.starts_with(dir.canonicalize().unwrap_or(dir)) {
            return Ok(rig.clone());
        }
    }
    match rigs.keys().collect::<Vec<_>>().as_slice() {
        [only] => Ok((*only).clone()),
        [] => Err(ui::CliError::user("the town has no rigs yet")
            .hint("add one with `gt rig add <name> <git-url>`")
            .into()),
        _ => Err(ui::CliError::user("which rig? the town has several")
            .hint("name it with `--rig <rig>`, or run this inside the rig's directory")
            .into()),
    }
}

/// The crew member `name` (`<name>` or `<rig>/<name>`) means.
fn role_of(town: &Town, name: &str, rig: Option<&str>) -> anyhow::Result<RoleId> {
    let (rig, name) = match name.split_once('/') {
        Some((r, n)) => (r.to_owned(), n.to_owned()),
        None => (rig_of(town, rig)?, name.to_owned()),
    };
    Ok(RoleId::Crew { rig, name })
}

/// Runs `f` for each named crew member, all of them even when one fails; fails if any did.
fn each(
    args: &NamesArgs,
    ui: &mut ui::Ui,
    mut f: impl FnMut(&RoleId, &mut ui::Ui) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let town = super::town()?;
    let mut failed = Vec::new();
    for name in &args.names {
        let result = role_of(&town, name, args.rig.rig.as_deref()).and_then(|role| f(&role, ui));
        if let Err(e) = result {
            if args.names.len() == 1 {
                return Err(e);
            }
            ui.warn(format!("{}: {e:#}", safe(name)));
            failed.push(name.clone());
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(ui::CliError::user(format!(
            "{} of {} crew members failed: {}",
            failed.len(),
            args.names.len(),
            failed
                .iter()
                .map(|n| safe(n))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into())
    }
}

fn add(args: &AddArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    let mut added = Vec::new();
    for name in &args.names {
        let RoleId::Crew { rig, name } = role_of(&town, name, args.rig.rig.as_deref())? else {
            unreachable!("role_of names crew members only");
        };
        let a = crew::add(&town, &rig, &name, args.branch)?;
        if !ui.is_json() {
            ui.status(format!(
                "Added {} at {} on branch {} (`gt crew start {name} --rig {rig}` starts its agent)",
                a.address,
                safe(&a.dir.display().to_string()),
                safe(&a.branch)
            ));
        }
        added.push(a);
    }
    if ui.is_json() {
        ui.json(&added)?;
    }
    Ok(())
}

fn list(args: &RigArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    let store = super::store(&town)?;
    let runtimes = super::runtimes(&town);
    let members = crew::list(&town, &store, &runtimes, args.rig.as_deref())?;
    if ui.is_json() {
        return Ok(ui.json(&members)?);
    }
    if members.is_empty() {
        ui.status("No crew yet: `gt crew add <name> --rig <rig>` makes a workspace");
        return Ok(());
    }
    let mut rows = vec![vec![
        "CREW".to_owned(),
        "AGENT".to_owned(),
        "STATE".to_owned(),
        "BRANCH".to_owned(),
        "UNSAVED".to_owned(),
    ]];
    for m in &members {
        let state = if m.status.alive {
            "running"
        } else if m.status.desired == "running" {
            "dead"
        } else {
            "stopped"
        };
        let unsaved = if m.work.has_work() {
            format!(
                "{} changed, {} unpushed, {} stashed",
                m.work.uncommitted.len(),
                m.work.unpushed,
                m.work.stashes
            )
        } else {
            "-".to_owned()
        };
        rows.push(vec![
            format!("{}/crew/{}", m.rig, m.name),
            if m.status.agent.is_empty() {
                "-".to_owned()
            } else {
                safe(&m.status.agent)
            },
            state.to_owned(),
            safe(&m.work.branch),
            unsaved,
        ]);
    }
    table(ui, &rows)?;
    Ok(())
}

fn remove(args: &RemoveArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    let mut store = super::store(&town)?;
    let runtimes = super::runtimes(&town);
    let mut removed = Vec::new();
    each(&args.who, ui, |role, ui| {
        let RoleId::Crew { rig, name } = role else {
            unreachable!("role_of names crew members only");
        };
        let r = crew::remove(&town, &mut store, &runtimes, rig, name, args.force)?;
        if !ui.is_json() {
            ui.status(format!(
                "Removed {} ({})",
                r.address,
                safe(&r.dir.display().to_string())
            ));
        }
        removed.push(r);
        Ok(())
    })?;
    if ui.is_json() {
        ui.json(&removed)?;
    }
    Ok(())
}

/// A handoff mail to the crew member's own inbox, then a fresh agent in its pane.
fn refresh(args: &RefreshArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    use town::work::handoff::{self, Caller, Request};
    let town = super::town()?;
    let mut store = super::store(&town)?;
    let role = role_of(&town, &args.who.name, args.who.rig.rig.as_deref())?;
    let address = role.address();
    let row = store
        .role_agent(&address.canonical())?
        .filter(|r| !r.runtime.is_empty())
        .ok_or_else(|| {
            ui::CliError::user(format!("{address} has never been started"))
                .hint(format!("start it with `gt crew start {}`", args.who.name))
        })?;
    let prepared = handoff::prepare(
        &town,
        &mut store,
        &Caller {
            address: address.clone(),
            session: Some(row.session.clone()),
            generation: Some(row.generation),
        },
        &Request {
            subject: Some("refresh".to_owned()),
            message: args.message.clone(),
            reason: Some("gt crew refresh".to_owned()),
            collect: true,
        },
    )?;
    let runtimes = super::runtimes(&town);
    let cx = super::start_context(&town, &runtimes);
    let done = handoff::respawn(&mut store, &cx, &address, &row.session, row.generation)?;
    if ui.is_json() {
        return Ok(ui.json(&serde_json::json!({"handoff": prepared, "respawned": done}))?);
    }
    ui.status(format!(
        "Refreshed {}: handoff mail {} sent, generation {} started in session {}",
        address, prepared.mail, done.generation, done.session
    ));
    Ok(())
}

/// `gt crew status`: the agent and the workspace's unsaved work.
fn status(args: &NameArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    let store = super::store(&town)?;
    let runtimes = super::runtimes(&town);
    let RoleId::Crew { rig, name } = role_of(&town, &args.name, args.rig.rig.as_deref())? else {
        unreachable!("role_of names crew members only");
    };
    let m = crew::member(&town, &store, &runtimes, &rig, &name)?;
    if ui.is_json() {
        return Ok(ui.json(&m)?);
    }
    render_status(&m.status, ui)?;
    ui.line(format!("{:<11} {}", "branch:", safe(&m.work.branch)))?;
    ui.line(format!(
        "{:<11} {} uncommitted, {} unpushed commit(s), {} stash(es)",
        "unsaved:",
        m.work.uncommitted.len(),
        m.work.unpushed,
        m.work.stashes
    ))?;
    Ok(())
}
