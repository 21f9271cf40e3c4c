//! `gt sling <bead>... <target>`: from bead to a running agent, as a resumable step log.
//!
//! For each bead: validate (exists, not closed, prefix matches the rig), take the bead's lock,
//! and then — each step checkpointed under `sling:<bead>` so a killed run picks up where it
//! stopped — choose a polecat (an idle one, or a new name from the pool), make its worktree on
//! a fresh branch from `origin/<base>`, track the bead in a convoy, hook the bead, provision
//! the worktree and start the agent through its preset, waiting for readiness and verifying
//! the first prompt arrived. Re-slinging to where the bead already runs is a no-op. Any
//! failure undoes what this run made.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use beads::PolecatState;

use crate::agent_env::{AgentIdentity, agent_env};
use crate::agents::{self, AgentRequest, PromptMode};
use crate::layout::{RigPaths, Town};
use crate::rigctx::RigCtx;
use crate::runtime::{Runtime, Runtimes, SessionSpec};
use crate::scheduler::{accounts, admission};
use crate::work::identity::PolecatId;
use crate::work::{Result, WorkError, gitops, provision, refused};

/// How long a sling waits for another command working on the same bead.
const BEAD_LOCK_WAIT: Duration = Duration::from_secs(10);

/// Flags of `gt sling`.
#[derive(Debug, Clone, Default)]
pub struct SlingOptions {
    /// The agent preset, instead of the configured one.
    pub agent: Option<String>,
    /// Start the branch from this branch instead of the rig's default.
    pub base_branch: Option<String>,
    /// Take the bead from wherever it is hooked.
    pub force: bool,
    /// Do not track the beads in a convoy.
    pub no_convoy: bool,
    /// Say what would happen; change nothing.
    pub dry_run: bool,
    /// Create the named polecat if it does not exist (`<rig>/polecats/<name>` targets).
    pub create: bool,
    /// A formula to attach to each bead: its steps become the agent's checklist.
    pub formula: Option<String>,
    /// Formula variables (`--var k=v`), over those the rig provides.
    pub vars: Vec<(String, String)>,
    /// Who starts it: a new sling queues behind the scheduler's queue when the town is full;
    /// the dispatcher (the scheduler, a restart) never queues.
    pub starter: admission::Starter,
    /// The witness restarts the bead's dead agent: a `witness_restart` is recorded with the
    /// restart's new generation, in its transaction (and nothing when no restart happens).
    pub witness_restart: bool,
}

/// What the caller provides besides the store.
pub struct SlingContext<'a> {
    pub town: &'a Town,
    /// Where new sessions start, and where each existing one was started.
    pub runtimes: &'a Runtimes,
    /// The `gt` binary: put first on the agent's `PATH` and run by its hooks.
    pub gt_bin: PathBuf,
    /// The caller's environment, of which [`crate::agent_env`] keeps what agents get.
    pub inherited_env: Vec<(String, String)>,
    /// How long to wait for the agent to be ready.
    pub ready_timeout: Duration,
    /// The `GT_*` settings layer (what `gt config get` shows), or `None`.
    pub env: Option<crate::settings::EnvLookup<'a>>,
}

/// What happened to one bead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A session was started.
    Started,
    /// The bead already runs there; nothing was done.
    AlreadyRunning,
    /// The bead's session had died and was started again.
    Restarted,
    /// `--dry-run`: this is what would happen.
    WouldStart,
    /// The town is at its cap: the bead waits in the scheduler's queue at this place.
    Queued { position: i64 },
}

/// The outcome for one bead.
#[derive(Debug, Clone, Serialize)]
pub struct Slung {
    pub bead: String,
    pub polecat: String,
    pub session: String,
    pub branch: String,
    pub agent: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub convoy: Option<String>,
    pub action: Action,
}

/// Where beads go: a rig (a polecat is chosen) or a named polecat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Rig(String),
    Polecat(PolecatId),
}

impl Target {
    /// Parses `<rig>`, `<rig>/polecats/<name>` or `<rig>/<name>`.
    pub fn parse(s: &str) -> Result<Self> {
        if !s.contains('/') {
            crate::rig::validate_name(s)?;
            return Ok(Self::Rig(s.to_owned()));
        }
        PolecatId::parse(s).map(Self::Polecat).ok_or_else(|| {
            refused(format!(
                "`{s}` is not a target: use `<rig>` or `<rig>/polecats/<name>`"
            ))
        })
    }

    fn rig(&self) -> &str {
        match self {
            Self::Rig(r) => r,
            Self::Polecat(p) => &p.rig,
        }
    }
}

/// Undo steps, run newest first when a sling fails. Each undoes only what its own run made,
/// and the session and git steps only while the polecat still holds the run's bead.
enum Undo {
    /// Stop the session this run started, in the runtime it started in.
    Session {
        name: String,
        runtime: &'static str,
    },
    /// Remove the worktree (and its branch) this run created.
    Worktree {
        bare: PathBuf,
        path: PathBuf,
        branch: String,
    },
    /// Drop the branch this run put a reused worktree on, if nothing was committed to it.
    Branch {
        worktree: PathBuf,
        branch: String,
        made_at: String,
    },
    /// Put the polecat back as it was before this run reserved it.
    Polecat {
        id: PolecatId,
        before: Option<Box<beads::Polecat>>,
    },
    /// Give the bead back its status and assignee, if it is still hooked to `holder`.
    Unhook {
        bead: String,
        status: String,
        assignee: String,
        holder: String,
    },
    Molecule(String),
}

/// Slings `beads` to `target`. A request that cannot be done at all (no such rig, a closed
/// bead…) is an error; otherwise each bead is slung or fails on its own, in the report.
pub fn sling(
    store: &mut beads::Store,
    cx: &SlingContext<'_>,
    beads: &[String],
    target: &str,
    opts: &SlingOptions,
) -> Result<SlingReport> {
    if beads.is_empty() {
        return Err(refused("no bead given: `gt sling <bead>... <rig>`"));
    }
    let target = Target::parse(target)?;
    let rig = target.rig().to_owned();
    let entry = crate::rig::entry(cx.town, &rig)?;
    if entry.parked {
        return Err(refused(format!(
            "rig `{rig}` is parked; `gt rig unpark {rig}` first"
        )));
    }
    if let Some(base) = &opts.base_branch {
        gitops::check_base_branch(&RigPaths::new(cx.town, &rig).bare_repo(), base)?;
    }
    if beads.len() > 1 && matches!(target, Target::Polecat(_)) {
        return Err(refused("a named polecat takes one bead at a time"));
    }
    let ids = store.resolve_all(beads)?;
    for id in &ids {
        let issue = store.get(id)?;
        if matches!(issue.status.as_str(), "closed" | "tombstone" | "submitted") {
            return Err(refused(format!(
                "`{id}` is {}; there is nothing to sling",
                issue.status
            )));
        }
        let prefix = id.split('-').next().unwrap_or_default();
        if prefix != entry.beads.prefix {
            return Err(refused(format!(
                "`{id}` belongs to prefix `{prefix}`, but rig `{rig}` works on `{}-` beads",
                entry.beads.prefix
            )));
        }
    }
    // Before anything is made: an agent that would fail at once is refused here.
    let settings = RigCtx::load(cx.town, &rig, cx.env)?.settings;
    crate::agent_env::check_start(cx, &polecat_preset(cx, &settings, opts)?)?;
    let convoy = if opts.no_convoy || opts.dry_run {
        None
    } else {
        batch_convoy(store, &ids, &rig)?
    };
    // One bead's failure does not stop the others: each is slung or undone on its own.
    let mut report = SlingReport::default();
    for id in &ids {
        match sling_one(store, cx, id, &target, opts, convoy.as_deref()) {
            Ok(slung) => report.slung.push(slung),
            Err(e) => {
                // The convoy does not track a bead that failed.
                if let Some(c) = &convoy {
                    let _ = store.remove_dependency(c, id);
                }
                report.failed.push((id.clone(), e));
            }
        }
    }
    // A convoy nothing in it started goes with the failure.
    if report.slung.is_empty()
        && let Some(c) = &convoy
    {
        let _ = store.delete(std::slice::from_ref(c));
    }
    Ok(report)
}

/// What a `gt sling` did: the beads that run (or would), and those that failed, each undone.
#[derive(Debug, Default)]
pub struct SlingReport {
    pub slung: Vec<Slung>,
    pub failed: Vec<(String, WorkError)>,
}

impl SlingReport {
    /// The failure to report, if any: a single bead's own error, or one naming each bead that
    /// failed out of several.
    pub fn into_error(self) -> Option<WorkError> {
        let total = self.slung.len() + self.failed.len();
        failure(self.failed, total)
    }

    /// Every bead slung, or the failure.
    pub fn into_result(self) -> Result<Vec<Slung>> {
        let total = self.slung.len() + self.failed.len();
        match failure(self.failed, total) {
            None => Ok(self.slung),
            Some(e) => Err(e),
        }
    }
}

fn failure(mut failed: Vec<(String, WorkError)>, total: usize) -> Option<WorkError> {
    match failed.len() {
        0 => None,
        1 if total == 1 => failed.pop().map(|(_, e)| e),
        _ => Some(WorkError::NotAllSlung {
            total,
            failed: failed
                .into_iter()
                .map(|(bead, e)| (bead, e.to_string()))
                .collect(),
        }),
    }
}

/// One convoy for the batch, unless every bead is already tracked by an open convoy.
fn batch_convoy(store: &mut beads::Store, ids: &[String], rig: &str) -> Result<Option<String>> {
    let mut untracked = Vec::new();
    for id in ids {
        let open = store
            .convoys_tracking(id)?
            .into_iter()
            .any(|c| store.get(&c).is_ok_and(|i| i.status != "closed"));
        if !open {
            untracked.push(id.clone());
        }
    }
    if untracked.is_empty() {
        return Ok(None);
    }
    let title = if ids.len() == 1 {
        format!("Work: {}", store.get(&ids[0])?.title)
    } else {
        format!("Batch: {} beads to {rig}", ids.len())
    };
    let title: String = title
        .chars()
        .filter(|c| !c.is_control())
        .take(beads::model::MAX_TITLE_CHARS)
        .collect();
    Ok(Some(store.create_convoy(&title, &untracked)?.id))
}

/// The preset a polecat of a rig with `settings` runs: `--agent`, else the configured one.
fn polecat_preset(
    cx: &SlingContext<'_>,
    settings: &crate::settings::Settings,
    opts: &SlingOptions,
) -> Result<agents::AgentPreset> {
    let user_presets = agents::load_user_presets(&agents::user_presets_path(cx.town.root()))?;
    Ok(agents::resolve_agent(
        &AgentRequest {
            role: "polecat",
            settings,
            crew: None,
            flag: opts.agent.as_deref(),
        },
        &user_presets,
    )?)
}

fn sling_one(
    store: &mut beads::Store,
    cx: &SlingContext<'_>,
    bead: &str,
    target: &Target,
    opts: &SlingOptions,
    convoy: Option<&str>,
) -> Result<Slung> {
    let town = cx.town;
    let rig = target.rig();
    // A short wait, not a refusal: a sling killed a moment ago may still have a child between
    // fork and exec holding a copy of the lock's descriptor; and a second sling of the bead
    // should find the first one's result rather than fail.
    let _lock = super::lock_waiting(town, &format!("sling-{bead}.lock"), BEAD_LOCK_WAIT, || {
        format!("bead `{bead}`")
    })?;
    let rig_ctx = RigCtx::load(town, rig, cx.env)?;
    let (entry, paths, rig_config) = (&rig_ctx.entry, &rig_ctx.paths, &rig_ctx.config);
    let settings = &rig_ctx.settings;
    let preset = polecat_preset(cx, settings, opts)?;
    let scope = format!("sling:{bead}");
    let cps = store.checkpoints(&scope)?;
    let issue = store.get(bead)?;

    // Already hooked somewhere? A live agent on it is left alone; a dead one is restarted.
    let mut restart = None;
    if matches!(issue.status.as_str(), "hooked" | "in_progress") && !issue.assignee.is_empty() {
        let holder = PolecatId::parse(&issue.assignee);
        let same = holder.as_ref().is_some_and(|h| {
            h.rig == rig
                && match target {
                    Target::Polecat(p) => p == h,
                    Target::Rig(_) => true,
                }
        });
        match (same, holder) {
            (true, Some(h)) if !opts.force => {
                let row = store.polecat(&h.rig, &h.name)?;
                if let Some(row) = row.filter(|r| session_alive(cx, r)) {
                    if !cps.is_empty() {
                        // A `gt sling` of this bead was killed after starting the session:
                        // finish what it left (the spawn's record, readiness, the first
                        // prompt, the states).
                        let started = Started {
                            polecat: &h,
                            session: &row.session,
                            generation: row.generation,
                            pid: None,
                        };
                        let runtime = cx.runtimes.get(&row.runtime);
                        if cps.get("generation") == Some(&row.generation.to_string()) {
                            record_spawn(store, runtime.kind(), bead, &started)?;
                        }
                        finish_start(store, runtime, cx, &preset, bead, &scope, &started)?;
                    }
                    return Ok(Slung {
                        bead: bead.to_owned(),
                        polecat: h.address(),
                        session: row.session,
                        branch: row.branch,
                        agent: preset.name.clone(),
                        convoy: convoy.map(str::to_owned),
                        action: Action::AlreadyRunning,
                    });
                }
                restart = Some(h);
            }
            (_, holder) if opts.force => {
                if let Some(h) = holder {
                    release(store, cx, &h, bead)?;
                }
            }
            _ => {
                return Err(refused(format!(
                    "`{bead}` is already {} by `{}`; use `--force` to take it",
                    issue.status, issue.assignee
                )));
            }
        }
    }
    // Waiting in the queue already: a new sling says where, the scheduler's own dispatch goes on.
    if opts.starter == admission::Starter::Sling
        && let Some(queued) = store.queued_context(bead)?
    {
        let position = store
            .sling_contexts(false)?
            .iter()
            .position(|c| c.id == queued.id)
            .map_or(1, |i| i as i64 + 1);
        return Ok(queued_slung(bead, &preset.name, convoy, position));
    }
    // Which provider account it runs as; while every one is rate-limited nothing starts.
    let account = match admission::account_for(store, &preset.name, store.now_ts())? {
        Ok(account) => account,
        Err(held) if opts.dry_run => {
            tracing::debug!(account = %held.0.account, "rate-limited");
            None
        }
        Err(held) => {
            let why = held.to_string();
            if opts.starter == admission::Starter::Sling {
                let options = crate::scheduler::queue::QueuedOptions::of(opts, convoy);
                let queued = store.enqueue_sling(bead, rig, &options.to_json())?;
                tracing::info!(bead, "{why}; queued");
                return Ok(queued_slung(bead, &preset.name, convoy, queued.position));
            }
            return Err(WorkError::RateLimited(why));
        }
    };
    if !opts.dry_run {
        let spawns = store.respawns(bead)?;
        if spawns >= i64::from(settings.scheduler.max_bead_respawns) {
            return Err(WorkError::Limit(format!(
                "`{bead}` has been started {spawns} times, the limit (`scheduler.max_bead_respawns`); look at it before slinging again"
            )));
        }
    }
    let base = opts
        .base_branch
        .clone()
        .unwrap_or_else(|| rig_config.default_branch.clone());
    let request = AdmitRequest {
        paths,
        settings,
        target,
        bead,
        restart: restart.as_ref(),
        opts,
        base: &base,
        scope: &scope,
        prefix: &entry.beads.prefix,
        agent: &preset.name,
        convoy,
    };
    if opts.dry_run {
        let polecat = choose_polecat(store, town, &request)?;
        let branch = cps.get("branch").cloned().unwrap_or_else(|| {
            gitops::branch_name(&polecat.name, bead, store.now_ts().as_millisecond())
        });
        return Ok(Slung {
            bead: bead.to_owned(),
            polecat: polecat.address(),
            session: polecat.session(&entry.beads.prefix),
            branch,
            agent: preset.name.clone(),
            convoy: convoy.map(str::to_owned),
            action: Action::WouldStart,
        });
    }
    let mut undo: Vec<Undo> = Vec::new();
    let result = (|| -> Result<Slung> {
        let admitted = admit(store, cx, &request, &mut undo)?;
        let Admitted {
            polecat,
            before,
            branch,
            session,
            worktree,
            generation,
        } = &admitted;
        // Which generation a session found alive by a rerun belongs to: only this run's
        // has its spawn left to record.
        store.checkpoint(&scope, "generation", &generation.to_string())?;
        if let Some(c) = convoy {
            store.checkpoint(&scope, "convoy", c)?;
        }
        if let Some(formula) = &opts.formula
            && let Some(root) = attach_formula(
                store, town, paths, settings, bead, formula, &opts.vars, &base,
            )?
        {
            undo.push(Undo::Molecule(root));
        }
        provision::provision(worktree, &preset, &cx.gt_bin, provision::Seat::Polecat)?;
        store.bump_respawns(bead)?;
        let mut spec = session_spec(
            cx,
            store,
            polecat,
            &preset,
            session,
            worktree,
            branch,
            bead,
            *generation,
            restart.is_some(),
        )?;
        spec.env
            .extend(accounts::env_for(&preset, account.as_ref()));
        let provider_account = account.as_ref().map_or(accounts::IMPLICIT, |a| &a.name);
        store.assign_account(&polecat.address(), &preset.name, provider_account)?;
        // A reused idle polecat's old agent may still be in its session (it ran `gt done` and
        // has not exited, or stays at its prompt): its work is finished, so it goes. It is
        // looked for in the runtime it was started in.
        if let Some(old) = before.as_ref().filter(|r| !r.session.is_empty()) {
            let old_runtime = cx.runtimes.get(&old.runtime);
            if old_runtime.is_alive(&old.session, &[]).unwrap_or(false) {
                old_runtime
                    .stop(&old.session)
                    .map_err(|e| session_err(&old.session, e))?;
            }
        }
        let runtime = cx.runtimes.default_runtime();
        undo.push(Undo::Session {
            name: session.clone(),
            runtime: runtime.kind(),
        });
        let handle = runtime.start(&spec).map_err(|e| session_err(session, e))?;
        // Killed here, the session runs unrecorded: the rerun records its spawn.
        host::crash::point("sling:session-started");
        let started = Started {
            polecat,
            session,
            generation: *generation,
            pid: Some(handle.pid),
        };
        record_spawn(store, runtime.kind(), bead, &started)?;
        finish_start(store, runtime, cx, &preset, bead, &scope, &started)?;
        Ok(Slung {
            bead: bead.to_owned(),
            polecat: polecat.address(),
            session: session.clone(),
            branch: branch.clone(),
            agent: preset.name.clone(),
            convoy: convoy.map(str::to_owned),
            action: if restart.is_some() {
                Action::Restarted
            } else {
                Action::Started
            },
        })
    })();
    if result.is_err() {
        rollback(store, cx, bead, undo);
        let _ = store.clear_checkpoints(&scope);
    }
    match result {
        Err(WorkError::Full(full))
            if full.queues() && opts.starter == admission::Starter::Sling =>
        {
            let options = crate::scheduler::queue::QueuedOptions::of(opts, convoy);
            let queued = store.enqueue_sling(bead, rig, &options.to_json())?;
            Ok(queued_slung(bead, &preset.name, convoy, queued.position))
        }
        other => other,
    }
}

/// The report for a bead that waits in the queue.
fn queued_slung(bead: &str, agent: &str, convoy: Option<&str>, position: i64) -> Slung {
    Slung {
        bead: bead.to_owned(),
        polecat: String::new(),
        session: String::new(),
        branch: String::new(),
        agent: agent.to_owned(),
        convoy: convoy.map(str::to_owned),
        action: Action::Queued { position },
    }
}

/// Whether a polecat's session runs, asked of the runtime it was started in.
fn session_alive(cx: &SlingContext<'_>, row: &beads::Polecat) -> bool {
    !row.session.is_empty()
        && cx
            .runtimes
            .get(&row.runtime)
            .is_alive(&row.session, &[])
            .unwrap_or(false)
}

/// What [`admit`] needs besides the store.
struct AdmitRequest<'a> {
    paths: &'a RigPaths,
    settings: &'a crate::settings::Settings,
    target: &'a Target,
    bead: &'a str,
    /// The polecat holding the bead whose agent died.
    restart: Option<&'a PolecatId>,
    opts: &'a SlingOptions,
    base: &'a str,
    scope: &'a str,
    prefix: &'a str,
    agent: &'a str,
    convoy: Option<&'a str>,
}

/// A polecat reserved for a bead, with its worktree on its branch and the bead hooked to it.
struct Admitted {
    polecat: PolecatId,
    /// Its row before this run reserved it (`None`: created by this run).
    before: Option<beads::Polecat>,
    branch: String,
    session: String,
    worktree: PathBuf,
    generation: i64,
}

/// Admission, the one way into a rig: under the rig's admission lock, choose the polecat,
/// reserve it for the bead (the town's cap is checked in the same transaction), make its
/// worktree on its branch, hook the bead and record the new generation. Concurrent slings of
/// a rig pass here one at a time, so none can take a polecat or a name another has chosen, or
/// find a half-made worktree; git's own steps on the rig's shared bare repository (fetch,
/// `worktree add`) never run two at once either. The lock is released before the slow part:
/// starting the agent and waiting for it.
fn admit(
    store: &mut beads::Store,
    cx: &SlingContext<'_>,
    req: &AdmitRequest<'_>,
    undo: &mut Vec<Undo>,
) -> Result<Admitted> {
    let town = cx.town;
    let bead = req.bead;
    let _admission = super::admission_lock(town, req.target.rig())?;
    let polecat = choose_polecat(store, town, req)?;
    let admitted = admission::admit(
        store,
        &req.settings.scheduler,
        req.opts.starter,
        &polecat.rig,
        &polecat.name,
        bead,
    )?;
    let before = match admitted {
        admission::Outcome::Admitted { before } => before,
        admission::Outcome::Full(full) => return Err(WorkError::Full(full)),
        admission::Outcome::Taken(row) => {
            return Err(refused(format!(
                "polecat `{}` is {} on `{}`",
                polecat.address(),
                row.state,
                row.bead_id
            )));
        }
    };
    undo.push(Undo::Polecat {
        id: polecat.clone(),
        before: before.clone().map(Box::new),
    });
    let session = polecat.session(req.prefix);
    let worktree = polecat.worktree(town);
    // A restarted polecat goes on with its branch, commits and uncommitted work included —
    // only where the worktree still is: `checkout -B` would reset that branch.
    let restart_branch = req
        .restart
        .and(before.as_ref())
        .map(|row| row.branch.clone())
        .filter(|b| !b.is_empty() && gitops::current_branch(&worktree).is_ok_and(|c| c == *b));
    let branch = store
        .checkpoints(req.scope)?
        .get("branch")
        .cloned()
        .or(restart_branch)
        .unwrap_or_else(|| {
            gitops::branch_name(&polecat.name, bead, store.now_ts().as_millisecond())
        });
    // The worktree, on its own branch.
    let has_worktree = worktree.join(".git").exists();
    if !(has_worktree && gitops::current_branch(&worktree)? == branch) {
        let bare = req.paths.bare_repo();
        gitops::fetch(&bare)?;
        let start = format!("origin/{}", req.base);
        if has_worktree {
            if !gitops::is_clean(&worktree)? {
                return Err(refused(format!(
                    "polecat `{}` has uncommitted changes in `{}`",
                    polecat.address(),
                    worktree.display()
                )));
            }
            gitops::reset_worktree(&worktree, &branch, &start)?;
            undo.push(Undo::Branch {
                worktree: worktree.clone(),
                branch: branch.clone(),
                made_at: gitops::head(&worktree)?,
            });
        } else {
            gitops::add_worktree(&bare, &worktree, &branch, &start)?;
            undo.push(Undo::Worktree {
                bare,
                path: worktree.clone(),
                branch: branch.clone(),
            });
        }
        store.checkpoint(req.scope, "branch", &branch)?;
    }
    // Hook the bead to the polecat.
    let issue = store.get(bead)?;
    if issue.status != "hooked" || issue.assignee != polecat.address() {
        store.update(
            bead,
            &beads::Changes {
                status: Some("hooked".into()),
                assignee: Some(polecat.address()),
                ..Default::default()
            },
        )?;
        undo.push(Undo::Unhook {
            bead: bead.to_owned(),
            status: issue.status,
            assignee: issue.assignee,
            holder: polecat.address(),
        });
    }
    let generation = store
        .upsert_polecat(
            &polecat.rig,
            &polecat.name,
            &beads::PolecatUpdate {
                branch: Some(branch.clone()),
                worktree: Some(worktree.display().to_string()),
                session: Some(session.clone()),
                agent: Some(req.agent.to_owned()),
                runtime: Some(cx.runtimes.default_runtime().kind().to_owned()),
                new_generation: true,
                happenings: admitted_happenings(req, &polecat),
                ..Default::default()
            },
        )?
        .generation;
    Ok(Admitted {
        polecat,
        before,
        branch,
        session,
        worktree,
        generation,
    })
}

/// What the stream records with the new generation, in its transaction: the witness's restart
/// when it is one (first: the cause), and the sling.
fn admitted_happenings(
    req: &AdmitRequest<'_>,
    polecat: &PolecatId,
) -> Vec<beads::GenerationHappening> {
    let mut happenings = Vec::new();
    if req.opts.witness_restart && req.restart.is_some() {
        happenings.push(beads::GenerationHappening {
            kind: beads::Happening::WitnessRestart,
            subject: beads::ops::work::polecat_key(&polecat.rig, &polecat.name),
            detail: serde_json::json!({
                "rig": polecat.rig,
                "bead": req.bead,
                "polecat": polecat.address(),
            }),
        });
    }
    happenings.push(beads::GenerationHappening {
        kind: beads::Happening::Sling,
        subject: req.bead.to_owned(),
        detail: serde_json::json!({
            "rig": polecat.rig,
            "bead": req.bead,
            "polecat": polecat.address(),
            "agent": req.agent,
            "restart": req.restart.is_some(),
            "convoy": req.convoy,
        }),
    });
    happenings
}

/// Records that `started`'s session was spawned, once per start: by the run that started it,
/// or by the rerun of a run killed before it could. A start is named by its sling's event id
/// (written with the generation), not by the generation alone: a nuked polecat's name comes
/// back at generation 1.
fn record_spawn(
    store: &mut beads::Store,
    runtime: &str,
    bead: &str,
    started: &Started<'_>,
) -> Result<()> {
    let polecat = started.polecat;
    let address = polecat.address();
    let sling = store
        .last_happening_id(
            beads::Happening::Sling,
            bead,
            &serde_json::json!({"polecat": address, "generation": started.generation}),
        )?
        .ok_or_else(|| beads::Error::NotFound {
            id: format!(
                "the sling of `{bead}` to `{address}` (generation {})",
                started.generation
            ),
        })?;
    store.record_happening_once(
        beads::Happening::Spawn,
        &beads::ops::work::polecat_key(&polecat.rig, &polecat.name),
        &serde_json::json!({
            "rig": polecat.rig,
            "bead": bead,
            "polecat": address,
            "session": started.session,
            "generation": started.generation,
            "sling": sling,
            "pid": started.pid,
            "runtime": runtime,
        }),
        "sling",
    )?;
    Ok(())
}

/// A session just started (or found started by a killed `gt sling`).
struct Started<'a> {
    polecat: &'a PolecatId,
    session: &'a str,
    /// The polecat's generation the session belongs to.
    generation: i64,
    /// The agent's pid, when this run started it.
    pid: Option<u32>,
}

/// The steps after the agent's session started: wait for its prompt, send the first prompt
/// (once per generation, for agents that take it typed), mark the bead in progress and the
/// polecat working, and forget the step log.
fn finish_start(
    store: &mut beads::Store,
    runtime: &dyn Runtime,
    cx: &SlingContext<'_>,
    preset: &agents::AgentPreset,
    bead: &str,
    scope: &str,
    started: &Started<'_>,
) -> Result<()> {
    let Started {
        polecat,
        generation,
        pid,
        ..
    } = *started;
    if let Err(e) = wait_and_prompt(store, runtime, cx, preset, bead, scope, started) {
        // An agent quick enough to finish its work (`gt done`) before its readiness was seen
        // or its first prompt typed has exited by now: that is success, not a failure to undo.
        if !finished_already(store, polecat, generation)? {
            return Err(e);
        }
    }
    // The agent may already be done (`gt done` moved the bead on): only a bead still
    // hooked becomes in progress, only a polecat still spawning becomes working.
    store.transition(bead, &["hooked"], "in_progress")?;
    match store.mark_polecat_working(&polecat.rig, &polecat.name) {
        Ok(_) | Err(beads::Error::InvalidTransition { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    // A handoff may have started the next generation in this pane while this sling waited
    // for the prompt: its pid is the one to keep, not this (now replaced) agent's.
    let still_ours = store
        .polecat(&polecat.rig, &polecat.name)?
        .is_some_and(|row| row.generation == generation);
    if let Some(pid) = pid.filter(|_| still_ours) {
        store.upsert_polecat(
            &polecat.rig,
            &polecat.name,
            &beads::PolecatUpdate {
                pid: Some(Some(i64::from(pid))),
                ..Default::default()
            },
        )?;
    }
    if !provision::installs_hooks(preset) {
        let who = crate::address::Address::Polecat {
            rig: polecat.rig.clone(),
            name: polecat.name.clone(),
        };
        crate::mail::remind::remind_or_log(cx.town, store, &who, started.session);
    }
    store.clear_checkpoints(scope)?;
    Ok(())
}

/// Waits for the agent's prompt, then types the first prompt if its preset takes it typed.
fn wait_and_prompt(
    store: &mut beads::Store,
    runtime: &dyn Runtime,
    cx: &SlingContext<'_>,
    preset: &agents::AgentPreset,
    bead: &str,
    scope: &str,
    started: &Started<'_>,
) -> Result<()> {
    let session = started.session;
    runtime
        .wait_ready(session, &preset.readiness, cx.ready_timeout)
        .map_err(|e| session_err(session, e))?;
    let generation = started.generation.to_string();
    if preset.prompt_mode == PromptMode::None
        && store.checkpoints(scope)?.get("sent") != Some(&generation)
    {
        runtime
            .send(
                session,
                &beacon(started.polecat, bead, store),
                crate::runtime::SendWhen::Now,
            )
            .map_err(|e| session_err(session, e))?;
        store.checkpoint(scope, "sent", &generation)?;
    }
    Ok(())
}

/// Whether the agent of this generation already ran `gt done`: it moved its polecat out of
/// `spawning` to idle (submitted or deferred) or stuck (escalated).
fn finished_already(store: &beads::Store, polecat: &PolecatId, generation: i64) -> Result<bool> {
    Ok(store
        .polecat(&polecat.rig, &polecat.name)?
        .is_some_and(|row| {
            row.generation == generation
                && matches!(row.state, PolecatState::Idle | PolecatState::Stuck)
        }))
}

fn session_err(session: &str, e: crate::runtime::RuntimeError) -> WorkError {
    WorkError::Session {
        session: session.to_owned(),
        reason: e.to_string(),
    }
}

/// Stops the polecat holding `bead` and unhooks it (for `--force`), if it still holds it.
fn release(
    store: &mut beads::Store,
    cx: &SlingContext<'_>,
    holder: &PolecatId,
    bead: &str,
) -> Result<()> {
    if let Some(row) = store.polecat(&holder.rig, &holder.name)?
        && row.bead_id == bead
    {
        if !row.session.is_empty() {
            let _ = cx.runtimes.get(&row.runtime).stop(&row.session);
        }
        let idle = beads::Polecat {
            state: PolecatState::Idle,
            bead_id: String::new(),
            ..row
        };
        store.restore_polecat(&holder.rig, &holder.name, bead, Some(&idle))?;
    }
    Ok(())
}

/// Which polecat takes the bead: the restarted holder; a named target; the one a killed
/// `gt sling` of this bead reserved; an idle one with a clean worktree; else a new name from
/// the pool. Callers other than `--dry-run` hold the rig's admission lock, so the choice
/// cannot be taken by another sling before [`beads::Store::admit_polecat`] reserves it.
fn choose_polecat(store: &beads::Store, town: &Town, req: &AdmitRequest<'_>) -> Result<PolecatId> {
    let rig = req.target.rig();
    if let Some(holder) = req.restart {
        return Ok(holder.clone());
    }
    if let Target::Polecat(p) = req.target {
        return match store.polecat(&p.rig, &p.name)? {
            Some(row)
                if row.bead_id == req.bead
                    || (matches!(row.state, PolecatState::Idle | PolecatState::Nuked)
                        && row.bead_id.is_empty()) =>
            {
                Ok(p.clone())
            }
            Some(row) => Err(refused(format!(
                "polecat `{}` is {} on `{}`",
                p.address(),
                row.state,
                row.bead_id
            ))),
            None if req.opts.create || p.worktree(town).exists() => Ok(p.clone()),
            None => Err(refused(format!(
                "no polecat `{}`; pass `--create` to make it",
                p.address()
            ))),
        };
    }
    let rows = store.polecats(Some(rig))?;
    // Names from the store are checked like typed ones before they make a path.
    let mut ids = Vec::with_capacity(rows.len());
    for row in &rows {
        let Some(id) = PolecatId::new(rig, &row.name) else {
            return Err(refused(format!(
                "the store holds a polecat named `{}` in rig `{rig}`, which is not a polecat name",
                row.name.escape_debug()
            )));
        };
        ids.push(id);
    }
    if let Some((_, id)) = rows.iter().zip(&ids).find(|(r, _)| r.bead_id == req.bead) {
        return Ok(id.clone());
    }
    for (row, id) in rows.iter().zip(&ids) {
        let worktree = id.worktree(town);
        if row.state == PolecatState::Idle
            && row.bead_id.is_empty()
            && worktree.join(".git").exists()
            && gitops::is_clean(&worktree).unwrap_or(false)
        {
            return Ok(id.clone());
        }
    }
    let mut in_use = req.paths.polecat_names()?;
    in_use.extend(rows.into_iter().map(|p| p.name));
    let name = crate::namepool::NamePool::new(&req.settings.namepool)?.allocate(&in_use);
    Ok(PolecatId {
        rig: rig.to_owned(),
        name,
    })
}

/// Cooks `formula` for `bead` and pours it as a wisp whose steps the agent follows; the bead
/// records it in `metadata.attached_molecule`. The rig's merge-queue commands and the bead's
/// id and base branch are variables the formula may use. Returns the new molecule's root, or
/// `None` when one is attached already (a resumed sling).
#[expect(clippy::too_many_arguments, reason = "one private step of `sling_one`")]
fn attach_formula(
    store: &mut beads::Store,
    town: &Town,
    paths: &RigPaths,
    settings: &crate::settings::Settings,
    bead: &str,
    formula: &str,
    given: &[(String, String)],
    base: &str,
) -> Result<Option<String>> {
    let issue = store.get(bead)?;
    let attached = issue
        .metadata
        .as_ref()
        .and_then(|m| m.get("attached_molecule"))
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    if let Some(root) = attached
        && store.get(&root).is_ok()
    {
        return Ok(None);
    }
    let mq = &settings.merge_queue;
    let mut vars: std::collections::BTreeMap<String, String> = [
        ("issue", bead.to_owned()),
        ("base_branch", base.to_owned()),
        ("setup_command", mq.setup_command.clone()),
        ("typecheck_command", mq.typecheck_command.clone()),
        ("lint_command", mq.lint_command.clone()),
        ("build_command", mq.build_command.clone()),
        ("test_command", mq.test_command.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    vars.extend(given.iter().cloned());
    let dirs = vec![
        paths.dir.join("formulas"),
        town.beads_dir().join("formulas"),
    ];
    let overlay_dirs = vec![paths.dir.clone(), town.root().to_owned()];
    let overlay = beads::formula::load_overlay(&overlay_dirs, formula)?;
    let mut loader = beads::formula::Loader::new(dirs);
    let cooked = beads::formula::cook(
        &mut loader,
        formula,
        &beads::formula::CookOptions {
            vars,
            mode: beads::formula::CookMode::Runtime,
            overlay,
        },
    )?;
    // The molecule's ids take the rig's prefix, like the bead it serves.
    let town_prefix = store.prefix().to_owned();
    let rig_prefix = bead.split('-').next().unwrap_or(&town_prefix).to_owned();
    store.use_prefix(&rig_prefix)?;
    let made = store.instantiate(
        &cooked,
        beads::ops::molecule::InstanceKind::Wisp { root_only: false },
        false,
    );
    store.use_prefix(&town_prefix)?;
    let made = made?;
    store.update(
        bead,
        &beads::Changes {
            set_metadata: vec![
                (
                    "attached_molecule".into(),
                    serde_json::Value::String(made.root.id.clone()),
                ),
                (
                    "attached_formula".into(),
                    serde_json::Value::String(formula.to_owned()),
                ),
            ],
            ..Default::default()
        },
    )?;
    Ok(Some(made.root.id))
}

/// The first prompt: who the agent is and what to do first.
pub fn beacon(polecat: &PolecatId, bead: &str, store: &beads::Store) -> String {
    format!(
        "[GAS TOWN] {} • {} • assigned:{bead}\n\nRun `gt prime` to see your work, then begin.",
        polecat.address(),
        store.now()
    )
}

/// The session of polecat `polecat` as `gt sling` starts it: the preset's command (continued
/// with `resume`, where the agent CLI can), in the worktree, with every agent's environment.
#[expect(
    clippy::too_many_arguments,
    reason = "assembles one session from its parts"
)]
pub(crate) fn session_spec(
    cx: &SlingContext<'_>,
    store: &beads::Store,
    polecat: &PolecatId,
    preset: &agents::AgentPreset,
    session: &str,
    worktree: &Path,
    branch: &str,
    bead: &str,
    generation: i64,
    resume: bool,
) -> Result<SessionSpec> {
    let address = polecat.address();
    let env = agent_env(
        cx,
        preset,
        &AgentIdentity {
            role: &address,
            session,
            generation,
            git_email: &format!("{}.polecats.{}@gastown.local", polecat.rig, polecat.name),
            vars: vec![
                ("GT_RIG".into(), polecat.rig.clone()),
                ("GT_POLECAT".into(), polecat.name.clone()),
                ("GT_HOOK_BEAD".into(), bead.to_owned()),
                ("GT_BRANCH".into(), branch.to_owned()),
                ("GT_POLECAT_PATH".into(), worktree.display().to_string()),
            ],
        },
    );
    // A restarted agent picks up its conversation where the agent CLI can (`--continue`
    // resumes the latest one in the worktree), and is told to re-read its work either way.
    let mut argv = resume
        .then(|| preset.continue_argv())
        .flatten()
        .unwrap_or_else(|| preset.start_argv());
    if preset.prompt_mode == PromptMode::Arg {
        argv.push(beacon(polecat, bead, store));
    }
    Ok(SessionSpec {
        name: session.to_owned(),
        cwd: worktree.to_owned(),
        env,
        argv,
        readiness: preset.readiness.clone(),
        process_names: preset.process_names.clone(),
    })
}

fn rollback(store: &mut beads::Store, cx: &SlingContext<'_>, bead: &str, undo: Vec<Undo>) {
    let polecat = undo.iter().find_map(|step| match step {
        Undo::Polecat { id, .. } => Some(id.clone()),
        _ => None,
    });
    // Worktrees are removed under the admission lock, as they are made.
    let _admission = polecat
        .as_ref()
        .and_then(|p| super::admission_lock(cx.town, &p.rig).ok());
    // Still ours? If the polecat was nuked or moved on meanwhile, its session and worktree
    // are someone else's now.
    let ours = polecat.as_ref().is_some_and(|p| {
        store
            .polecat(&p.rig, &p.name)
            .ok()
            .flatten()
            .is_some_and(|row| row.bead_id == bead)
    });
    for step in undo.into_iter().rev() {
        let done = match step {
            Undo::Session { name, runtime } if ours => cx
                .runtimes
                .get(runtime)
                .stop(&name)
                .map_err(|e| e.to_string()),
            Undo::Worktree { bare, path, branch } if ours => {
                gitops::remove_worktree(&bare, &path, &branch).map_err(|e| e.to_string())
            }
            Undo::Branch {
                worktree,
                branch,
                made_at,
            } if ours => {
                gitops::drop_unused_branch(&worktree, &branch, &made_at).map_err(|e| e.to_string())
            }
            Undo::Session { .. } | Undo::Worktree { .. } | Undo::Branch { .. } => Ok(()),
            Undo::Molecule(root) => store.mol_burn(&root).map(drop).map_err(|e| e.to_string()),
            Undo::Polecat { id, before } => store
                .restore_polecat(&id.rig, &id.name, bead, before.as_deref())
                .map(drop)
                .map_err(|e| e.to_string()),
            Undo::Unhook {
                bead,
                status,
                assignee,
                holder,
            } => match store.get(&bead) {
                Ok(issue)
                    if matches!(issue.status.as_str(), "hooked" | "in_progress")
                        && issue.assignee == holder =>
                {
                    store
                        .update(
                            &bead,
                            &beads::Changes {
                                status: Some(status),
                                assignee: Some(assignee),
                                ..Default::default()
                            },
                        )
                        .map(drop)
                        .map_err(|e| e.to_string())
                }
                Ok(_) => Ok(()),
                Err(e) => Err(e.to_string()),
            },
        };
        if let Err(e) = done {
            tracing::warn!("undoing a failed `gt sling` of `{bead}`: {e}");
        }
    }
}
