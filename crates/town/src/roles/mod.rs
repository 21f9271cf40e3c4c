//! The town's long-lived agents: the mayor (the human's coordinator, at the town root) and crew
//! (a human's persistent workspaces, full clones at `<rig>/crew/<name>`).
//!
//! Unlike polecats they hold no bead and are never reaped: each has a `role_agents` row saying
//! whether its human wants it running, and the daemon's [`keeper`] restarts one that dies while
//! wanted. [`start`] is the one way either starts — `gt mayor start`, `gt crew start`, `gt up`
//! and the keeper all call it — under a per-agent lock, so two starts at once make one session.
//! Every step is safe to repeat: a start finds a live session and keeps it, and a start killed
//! half-way leaves a row whose generation the next start supersedes.
//!
//! - [`crew`]: the workspaces themselves (clone, list, remove refusing to lose work).
//! - [`keeper`]: the daemon service that keeps wanted agents alive.
//! - [`prompt`]: what `gt prime` tells the mayor and a crew member.

pub mod crew;
pub mod keeper;
pub mod prompt;

use std::path::PathBuf;
use std::time::Duration;

use beads::{Desired, NewRoleAgent, RoleAgent, RoleKind};
use serde::Serialize;

use crate::address::Address;
use crate::agent_env::{AgentIdentity, agent_env};
use crate::agents::{self, AgentPreset, AgentRequest, PromptMode};
use crate::layout::{RigPaths, Town};
use crate::rigctx::RigCtx;
use crate::runtime::{Runtime, Runtimes, SendWhen, SessionSpec};
use crate::scheduler::{accounts, admission};
use crate::work::provision::{self, Seat};
use crate::work::sling::SlingContext;
use crate::work::{Result, WorkError, refused};

/// How long a start waits for another start of the same agent.
const START_WAIT: Duration = Duration::from_secs(120);

/// One long-lived agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleId {
    Mayor,
    Crew { rig: String, name: String },
}

impl RoleId {
    /// The mayor or crew member `address` names; anything else is refused with what to use.
    pub fn from_address(address: &Address) -> Result<Self> {
        match address {
            Address::Mayor => Ok(Self::Mayor),
            Address::Crew { rig, name } => Ok(Self::Crew {
                rig: rig.clone(),
                name: name.clone(),
            }),
            other => Err(refused(format!(
                "`{other}` is not the mayor or a crew member: only they run as long-lived agents"
            ))),
        }
    }

    pub fn address(&self) -> Address {
        match self {
            Self::Mayor => Address::Mayor,
            Self::Crew { rig, name } => Address::Crew {
                rig: rig.clone(),
                name: name.clone(),
            },
        }
    }

    pub fn kind(&self) -> RoleKind {
        match self {
            Self::Mayor => RoleKind::Mayor,
            Self::Crew { .. } => RoleKind::Crew,
        }
    }

    fn seat(&self) -> Seat {
        match self {
            Self::Mayor => Seat::Mayor,
            Self::Crew { .. } => Seat::Crew,
        }
    }

    /// The rig, for a crew member.
    pub fn rig(&self) -> Option<&str> {
        match self {
            Self::Mayor => None,
            Self::Crew { rig, .. } => Some(rig),
        }
    }

    /// Where its agent runs: the town root, or the crew member's clone.
    pub fn dir(&self, town: &Town) -> PathBuf {
        match self {
            Self::Mayor => town.root().to_owned(),
            Self::Crew { rig, name } => RigPaths::new(town, rig).crew_dir().join(name),
        }
    }

    /// Its session name (upstream's: `hq-mayor`, `<rig prefix>-crew-<name>`).
    pub fn session(&self, town: &Town) -> Result<String> {
        let prefix = match self.rig() {
            Some(rig) => Some(RigCtx::load(town, rig, None)?.prefix().to_owned()),
            None => None,
        };
        self.address()
            .session(prefix.as_deref())
            .ok_or_else(|| refused(format!("`{}` has no session name", self.address())))
    }

    /// `GT_ROLE`: upstream's values, `mayor` and `<rig>/crew/<name>`.
    fn gt_role(&self) -> String {
        match self {
            Self::Mayor => "mayor".to_owned(),
            Self::Crew { .. } => self.address().canonical(),
        }
    }

    /// The row this agent is registered under.
    fn registration<'a>(&'a self, address: &'a str, session: &'a str) -> NewRoleAgent<'a> {
        NewRoleAgent {
            address,
            role: self.kind(),
            rig: self.rig().unwrap_or(""),
            session,
        }
    }

    /// Checks that the agent can exist: a crew member needs its workspace.
    fn check_exists(&self, town: &Town) -> Result<()> {
        if let Self::Crew { rig, name } = self {
            crate::rig::entry(town, rig)?;
            if !self.dir(town).is_dir() {
                return Err(refused(format!(
                    "rig `{rig}` has no crew member `{name}` (add one with `gt crew add {name} --rig {rig}`)"
                )));
            }
        }
        Ok(())
    }

    /// The preset for a start: the `--agent` flag, else what the settings say for this role
    /// (`role_agents.mayor`; a crew member's `worker_agents`/`crew_agents`, then
    /// `role_agents.crew`), else the defaults.
    fn preset(&self, cx: &SlingContext<'_>, flag: Option<&str>) -> Result<AgentPreset> {
        let settings = match self.rig() {
            Some(rig) => RigCtx::load(cx.town, rig, cx.env)?.settings,
            None => {
                crate::settings::resolve(&crate::settings::Sources {
                    town: Some(&cx.town.settings_json()),
                    rig: None,
                    env: cx.env,
                    flags: &[],
                })?
                .settings
            }
        };
        let user = agents::load_user_presets(&agents::user_presets_path(cx.town.root()))?;
        let crew = match self {
            Self::Crew { name, .. } => Some(name.as_str()),
            Self::Mayor => None,
        };
        Ok(agents::resolve_agent(
            &AgentRequest {
                role: self.kind().as_str(),
                settings: &settings,
                crew,
                flag,
            },
            &user,
        )?)
    }
}

/// How to start.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// The preset, instead of the configured one (`--agent`).
    pub agent: Option<String>,
    /// A restart by the daemon: it counts towards the crash-loop breaker, keeps the preset the
    /// agent ran, and continues its conversation where the agent CLI can.
    pub by_keeper: bool,
}

/// What a start did.
#[derive(Debug, Clone, Serialize)]
pub struct Started {
    pub address: String,
    pub session: String,
    pub agent: String,
    pub generation: i64,
    pub pid: Option<u32>,
    /// It was running already: nothing was started.
    pub already_running: bool,
}

/// Starts `role`'s agent (or finds it running) and marks it wanted, so the daemon keeps it.
pub fn start(
    store: &mut beads::Store,
    cx: &SlingContext<'_>,
    role: &RoleId,
    opts: &StartOptions,
) -> Result<Started> {
    role.check_exists(cx.town)?;
    let session = role.session(cx.town)?;
    let _lock = lock(cx.town, role, &session)?;
    start_locked(store, cx, role, &session, opts)
}

/// Stops `role`'s agent if it runs, then starts a fresh one (not continuing its conversation),
/// as one step under its lock: the daemon never sees it unwanted in between.
pub fn restart(
    store: &mut beads::Store,
    cx: &SlingContext<'_>,
    role: &RoleId,
    opts: &StartOptions,
) -> Result<Started> {
    role.check_exists(cx.town)?;
    let session = role.session(cx.town)?;
    let _lock = lock(cx.town, role, &session)?;
    if let Some(row) = store.role_agent(&role.address().canonical())? {
        stop_session(cx.runtimes, &row);
    }
    start_locked(store, cx, role, &session, opts)
}

/// The per-agent lock every start and stop holds.
fn lock(town: &Town, role: &RoleId, session: &str) -> Result<host::lock::LockGuard> {
    crate::work::lock_waiting(town, &format!("role-{session}.lock"), START_WAIT, || {
        format!("`{}`", role.address())
    })
}

fn start_locked(
    store: &mut beads::Store,
    cx: &SlingContext<'_>,
    role: &RoleId,
    session: &str,
    opts: &StartOptions,
) -> Result<Started> {
    let address = role.address().canonical();
    let session = session.to_owned();
    // The keeper read the row before taking the lock: a human's stop since then wins.
    if opts.by_keeper
        && store
            .role_agent(&address)?
            .is_none_or(|r| r.desired != Desired::Running)
    {
        return Err(refused(format!(
            "`{address}` was stopped meanwhile; the daemon leaves it stopped"
        )));
    }
    // A human's start of an agent that would fail at once, or whose provider is rate-limited
    // on every account, is refused before it is wanted (a running agent is kept either way).
    if !opts.by_keeper {
        let preset = role.preset(cx, opts.agent.as_deref())?;
        crate::agent_env::check_start(cx, &preset)?;
        let running = match store.role_agent(&address)? {
            Some(row) => live_pid(cx.town, cx.runtimes, &row)?.is_some(),
            None => false,
        };
        if !running {
            account(store, &preset)?;
        }
    }
    let row = store.set_role_desired(&role.registration(&address, &session), Desired::Running)?;
    if let Some(pid) = live_pid(cx.town, cx.runtimes, &row)? {
        return Ok(Started {
            address,
            session,
            agent: row.agent,
            generation: row.generation,
            pid: Some(pid),
            already_running: true,
        });
    }
    let kept = (opts.by_keeper && !row.agent.is_empty()).then_some(row.agent.as_str());
    let preset = role.preset(cx, opts.agent.as_deref().or(kept))?;
    let runtime = cx.runtimes.default_runtime();
    launch(
        store,
        cx,
        role,
        &preset,
        runtime,
        &Launch {
            by_keeper: opts.by_keeper,
            in_place: false,
            happenings: Vec::new(),
        },
    )
}

/// Replaces generation `from` of `role`'s agent with a fresh one in the same pane (a
/// handoff's last step; an attached human stays attached). `handoff` is recorded with the new
/// generation, in its transaction. `Ok(None)`: another start came first, and nothing was
/// changed.
pub fn respawn(
    store: &mut beads::Store,
    cx: &SlingContext<'_>,
    role: &RoleId,
    from: i64,
    handoff: beads::GenerationHappening,
) -> Result<Option<Started>> {
    let session = role.session(cx.town)?;
    let _lock = lock(cx.town, role, &session)?;
    let Some(row) = store
        .role_agent(&role.address().canonical())?
        .filter(|r| r.generation == from && r.session == session && !r.runtime.is_empty())
    else {
        return Ok(None);
    };
    let preset = role.preset(cx, Some(row.agent.as_str()).filter(|a| !a.is_empty()))?;
    let runtime = cx.runtimes.get(&row.runtime);
    launch(
        store,
        cx,
        role,
        &preset,
        runtime,
        &Launch {
            by_keeper: false,
            in_place: true,
            happenings: vec![handoff],
        },
    )
    .map(Some)
}

/// How [`launch`] starts the agent.
struct Launch {
    /// A keeper's restart: counted, and continuing the conversation where the CLI can.
    by_keeper: bool,
    /// Respawn the existing pane instead of starting a session.
    in_place: bool,
    /// Recorded with the new generation, in its transaction.
    happenings: Vec<beads::GenerationHappening>,
}

/// The steps every start shares, under the agent's lock: provision its directory, begin the
/// next generation, start (or respawn) the session, record the pid, wait for the prompt and
/// type the first prompt where the preset takes it typed. A failure is recorded on the row.
fn launch(
    store: &mut beads::Store,
    cx: &SlingContext<'_>,
    role: &RoleId,
    preset: &AgentPreset,
    runtime: &dyn Runtime,
    how: &Launch,
) -> Result<Started> {
    let address = role.address().canonical();
    let session = role.session(cx.town)?;
    crate::agent_env::check_start(cx, preset)?;
    // Before the generation begins: a start held back by a rate limit is no failed restart.
    let account = account(store, preset)?;
    provision::provision(&role.dir(cx.town), preset, &cx.gt_bin, role.seat())?;
    let row = store.begin_role_start(
        &address,
        &preset.name,
        runtime.kind(),
        how.by_keeper,
        &how.happenings,
    )?;
    let generation = row.generation;
    let beacon = beacon(role, store);
    let mut spec = session_spec(
        cx,
        role,
        preset,
        &session,
        generation,
        how.by_keeper,
        &beacon,
    );
    spec.env.extend(accounts::env_for(preset, account.as_ref()));
    let provider_account = account.as_ref().map_or(accounts::IMPLICIT, |a| &a.name);
    store.assign_account(&address, &preset.name, provider_account)?;
    let started = (|| -> Result<u32> {
        let handle = if how.in_place {
            runtime.respawn(&spec)
        } else {
            runtime.start(&spec)
        }
        .map_err(|e| session_err(&session, e))?;
        store.record_role_pid(&address, generation, i64::from(handle.pid))?;
        runtime
            .wait_ready(&session, &preset.readiness, cx.ready_timeout)
            .map_err(|e| session_err(&session, e))?;
        if preset.prompt_mode == PromptMode::None {
            runtime
                .send(&session, &beacon, SendWhen::Now)
                .map_err(|e| session_err(&session, e))?;
        }
        Ok(handle.pid)
    })();
    if started.is_ok() && !provision::installs_hooks(preset) {
        crate::mail::remind::remind_or_log(cx.town, store, &role.address(), &session);
    }
    match started {
        Ok(pid) => Ok(Started {
            address,
            session,
            agent: preset.name.clone(),
            generation,
            pid: Some(pid),
            already_running: false,
        }),
        Err(e) => {
            if let Err(note) = store.record_role_error(&address, generation, &e.to_string()) {
                tracing::warn!(%address, error = %note, "cannot record the failed start");
            }
            Err(e)
        }
    }
}

/// The provider account `preset` starts on, through the one admission point; refused while
/// every account of its provider is rate-limited.
fn account(store: &beads::Store, preset: &AgentPreset) -> Result<Option<beads::Account>> {
    admission::account_for(store, &preset.name, store.now_ts())?
        .map_err(|held| WorkError::RateLimited(held.to_string()))
}

fn session_err(session: &str, e: crate::runtime::RuntimeError) -> WorkError {
    WorkError::Session {
        session: session.to_owned(),
        reason: e.to_string(),
    }
}

/// The pid of `row`'s agent if its session is alive (session and agent process both).
pub fn live_pid(town: &Town, runtimes: &Runtimes, row: &RoleAgent) -> Result<Option<u32>> {
    if row.runtime.is_empty() {
        return Ok(None);
    }
    let runtime = runtimes.get(&row.runtime);
    let names = process_names(town, &row.agent);
    match runtime.is_alive(&row.session, &names) {
        Ok(true) => Ok(runtime.pid(&row.session).ok().flatten()),
        Ok(false) => Ok(None),
        Err(crate::runtime::RuntimeError::Foreign { .. }) => Err(refused(format!(
            "the session `{}` belongs to another town; stop it there first",
            row.session
        ))),
        Err(_) => Ok(None),
    }
}

/// The process names that mean preset `agent` runs (a preset no longer defined: any live
/// pane counts).
fn process_names(town: &Town, agent: &str) -> Vec<String> {
    preset_of(town, agent)
        .map(|p| p.process_names)
        .unwrap_or_default()
}

/// Preset `agent` as the town defines it now; `None` when it no longer does.
pub fn preset_of(town: &Town, agent: &str) -> Option<AgentPreset> {
    let user =
        agents::load_user_presets(&agents::user_presets_path(town.root())).unwrap_or_default();
    let settings = crate::settings::resolve(&crate::settings::Sources {
        town: Some(&town.settings_json()),
        ..Default::default()
    })
    .map(|e| e.settings)
    .unwrap_or_default();
    agents::preset(agent, &user, &settings).ok()
}

/// The first prompt a fresh agent gets: who it is and to prime.
pub fn beacon(role: &RoleId, store: &beads::Store) -> String {
    let what = match role {
        RoleId::Mayor => {
            "Run `gt prime` to see the town and your mail, then wait for the overseer."
        }
        RoleId::Crew { .. } => "Run `gt prime` to see who you are and your mail, then carry on.",
    };
    format!("[GAS TOWN] {} • {}\n\n{what}", role.address(), store.now())
}

/// The session of `role` as [`start`] runs it: the preset (continued where the CLI can, for a
/// keeper's restart) in the role's directory, with the town's agent environment.
fn session_spec(
    cx: &SlingContext<'_>,
    role: &RoleId,
    preset: &AgentPreset,
    session: &str,
    generation: i64,
    resume: bool,
    beacon: &str,
) -> SessionSpec {
    let gt_role = role.gt_role();
    let email = match role {
        RoleId::Mayor => "mayor@gastown.local".to_owned(),
        RoleId::Crew { rig, name } => format!("{rig}.crew.{name}@gastown.local"),
    };
    let vars = match role {
        RoleId::Crew { rig, name } => vec![
            ("GT_RIG".to_owned(), rig.clone()),
            ("GT_CREW".to_owned(), name.clone()),
        ],
        RoleId::Mayor => Vec::new(),
    };
    let env = agent_env(
        cx,
        preset,
        &AgentIdentity {
            role: &gt_role,
            session,
            generation,
            git_email: &email,
            vars,
        },
    );
    let mut argv = resume
        .then(|| preset.continue_argv())
        .flatten()
        .unwrap_or_else(|| preset.start_argv());
    if preset.prompt_mode == PromptMode::Arg {
        argv.push(beacon.to_owned());
    }
    SessionSpec {
        name: session.to_owned(),
        cwd: role.dir(cx.town),
        env,
        argv,
        readiness: preset.readiness.clone(),
        process_names: preset.process_names.clone(),
    }
}

/// Stops `role`'s agent (its process tree, then its session) and records that its human wants
/// it `desired` (stopped, or held by `gt down`). Returns whether a session was running.
pub fn stop(
    store: &mut beads::Store,
    town: &Town,
    runtimes: &Runtimes,
    role: &RoleId,
    desired: Desired,
) -> Result<bool> {
    let address = role.address().canonical();
    let session = role.session(town)?;
    let _lock = lock(town, role, &session)?;
    let row = store.set_role_desired(&role.registration(&address, &session), desired)?;
    Ok(stop_session(runtimes, &row))
}

/// Kills the agent's process tree and its session; whether there was one.
pub(crate) fn stop_session(runtimes: &Runtimes, row: &RoleAgent) -> bool {
    if row.runtime.is_empty() {
        return false;
    }
    let runtime: &dyn Runtime = runtimes.get(&row.runtime);
    let pid = runtime.pid(&row.session).ok().flatten();
    if let Some(pid) = pid
        && let Err(e) = host::spawn::kill_tree(pid, crate::runtime::DEFAULT_KILL_GRACE)
    {
        tracing::warn!(session = %row.session, error = %e, "cannot kill the agent's processes");
    }
    let stopped = runtime.stop(&row.session).is_ok();
    pid.is_some() || stopped
}

/// What `gt mayor status` and `gt crew status` show.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub address: String,
    pub session: String,
    /// `running`, `stopped` or `held`: what its human asked for.
    pub desired: String,
    /// Whether its agent runs now.
    pub alive: bool,
    pub pid: Option<u32>,
    pub agent: String,
    pub runtime: String,
    pub generation: i64,
    pub started_at: Option<String>,
    pub restarts: i64,
    /// Why the latest start failed.
    pub last_error: String,
    pub dir: PathBuf,
}

/// The status of `role` (never started: stopped, no session).
pub fn status(
    store: &beads::Store,
    town: &Town,
    runtimes: &Runtimes,
    role: &RoleId,
) -> Result<Status> {
    let address = role.address().canonical();
    let session = role.session(town)?;
    let row = store.role_agent(&address)?;
    let pid = match &row {
        Some(row) => live_pid(town, runtimes, row)?,
        None => None,
    };
    let row = row.unwrap_or_else(|| RoleAgent {
        address: address.clone(),
        role: role.kind(),
        rig: role.rig().unwrap_or("").to_owned(),
        session: session.clone(),
        runtime: String::new(),
        agent: String::new(),
        desired: Desired::Stopped,
        generation: 0,
        pid: None,
        started_at: None,
        restarts: 0,
        last_error: String::new(),
        updated_at: String::new(),
    });
    Ok(Status {
        address,
        session,
        desired: row.desired.to_string(),
        alive: pid.is_some(),
        pid,
        agent: row.agent,
        runtime: row.runtime,
        generation: row.generation,
        started_at: row.started_at,
        restarts: row.restarts,
        last_error: row.last_error,
        dir: role.dir(town),
    })
}
