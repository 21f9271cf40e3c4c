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

use crate::agents::{self, AgentRequest, PromptMode};
use crate::layout::{RigConfig, RigPaths, Town};
use crate::runtime::{Runtime, SessionSpec};
use crate::work::identity::PolecatId;
use crate::work::{Result, WorkError, gitops, provision, refused};

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
}

/// What the caller provides besides the store.
pub struct SlingContext<'a> {
    pub town: &'a Town,
    pub runtime: &'a dyn Runtime,
    /// The `gt` binary: put first on the agent's `PATH` and run by its hooks.
    pub gt_bin: PathBuf,
    /// Variables the agent inherits from the caller (HOME, TERM, API keys…).
    pub inherited_env: Vec<(String, String)>,
    /// How long to wait for the agent to be ready.
    pub ready_timeout: Duration,
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

/// Undo steps, run newest first when a sling fails.
enum Undo {
    Session(String),
    Worktree {
        bare: PathBuf,
        path: PathBuf,
        branch: String,
    },
    DeletePolecat(PolecatId),
    IdlePolecat(PolecatId),
    Unhook {
        bead: String,
        status: String,
        assignee: String,
    },
    Molecule(String),
}

/// Slings `beads` to `target`.
pub fn sling(
    store: &mut beads::Store,
    cx: &SlingContext<'_>,
    beads: &[String],
    target: &str,
    opts: &SlingOptions,
) -> Result<Vec<Slung>> {
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
    let convoy = if opts.no_convoy || opts.dry_run {
        None
    } else {
        batch_convoy(store, &ids, &rig)?
    };
    let mut out = Vec::new();
    for id in &ids {
        match sling_one(store, cx, id, &target, opts, convoy.as_deref()) {
            Ok(slung) => out.push(slung),
            Err(e) => {
                // This run's convoy goes with the failure: untrack the bead that failed, and
                // delete the convoy if nothing in it started.
                if let Some(c) = &convoy {
                    let _ = store.remove_dependency(c, id);
                    if out.is_empty() {
                        let _ = store.delete(std::slice::from_ref(c));
                    }
                }
                return Err(e);
            }
        }
    }
    Ok(out)
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
    let _lock = super::lock(town, &format!("sling-{bead}.lock"), || {
        format!("bead `{bead}`")
    })?;
    let entry = crate::rig::entry(town, rig)?;
    let paths = RigPaths::new(town, rig);
    let rig_config: RigConfig = paths.config()?;
    let eff = crate::settings::resolve(&crate::settings::Sources {
        town: Some(&town.settings_json()),
        rig: Some(&paths.settings_json()),
        ..Default::default()
    })?;
    let user_presets = agents::load_user_presets(&agents::user_presets_path(town.root()))?;
    let preset = agents::resolve_agent(
        &AgentRequest {
            role: "polecat",
            settings: &eff.settings,
            crew: None,
            flag: opts.agent.as_deref(),
        },
        &user_presets,
    )?;
    let scope = format!("sling:{bead}");
    let cps = store.checkpoints(&scope)?;
    let issue = store.get(bead)?;

    // Already hooked somewhere?
    let mut restart = false;
    // A restarted polecat goes on with its branch, commits and uncommitted work included.
    let mut restart_branch = None;
    if matches!(issue.status.as_str(), "hooked" | "in_progress") && !issue.assignee.is_empty() {
        let holder = PolecatId::parse(&issue.assignee);
        let same = holder.as_ref().is_some_and(|h| {
            h.rig == rig
                && matches!(target, Target::Rig(_) | Target::Polecat(_))
                && match target {
                    Target::Polecat(p) => p == h,
                    Target::Rig(_) => true,
                }
        });
        match (same, holder) {
            (true, Some(h)) if !opts.force => {
                let row = store.polecat(&h.rig, &h.name)?;
                let session = row.as_ref().map(|r| r.session.clone()).unwrap_or_default();
                if !session.is_empty()
                    && cx
                        .runtime
                        .is_alive(&session, &preset.process_names)
                        .unwrap_or(false)
                {
                    if !cps.is_empty() {
                        // A `gt sling` of this bead was killed after starting the session:
                        // finish what it left (readiness, the first prompt, the states).
                        let generation = row.as_ref().map_or(0, |r| r.generation);
                        let started = Started {
                            polecat: &h,
                            session: &session,
                            generation,
                            pid: None,
                        };
                        finish_start(store, cx, &preset, bead, &scope, &started)?;
                    }
                    return Ok(Slung {
                        bead: bead.to_owned(),
                        polecat: h.address(),
                        session,
                        branch: row.map(|r| r.branch).unwrap_or_default(),
                        agent: preset.name.clone(),
                        convoy: convoy.map(str::to_owned),
                        action: Action::AlreadyRunning,
                    });
                }
                restart = true;
                // Only where the worktree still is: `checkout -B` would reset that branch.
                restart_branch = row.map(|r| r.branch).filter(|b| {
                    !b.is_empty()
                        && gitops::current_branch(&h.worktree(town)).is_ok_and(|c| c == *b)
                });
            }
            (_, holder) if opts.force => {
                if let Some(h) = holder {
                    release(store, cx, &h)?;
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
    // Limits: the town-wide cap and the per-bead respawn breaker.
    if !opts.dry_run {
        let working = store.working_polecats()?;
        if !restart && working >= i64::from(eff.settings.scheduler.max_polecats) {
            return Err(WorkError::Limit(format!(
                "{working} polecats are working, the town's cap (`scheduler.max_polecats` = {})",
                eff.settings.scheduler.max_polecats
            )));
        }
        let spawns = store.respawns(bead)?;
        if spawns >= i64::from(eff.settings.scheduler.max_bead_respawns) {
            return Err(WorkError::Limit(format!(
                "`{bead}` has been started {spawns} times, the limit (`scheduler.max_bead_respawns`); look at it before slinging again"
            )));
        }
    }
    // Which polecat.
    let (polecat, fresh) = choose_polecat(
        store,
        town,
        &paths,
        &eff.settings,
        target,
        &cps,
        restart.then_some(&issue.assignee),
        opts,
    )?;
    let base = opts
        .base_branch
        .clone()
        .unwrap_or_else(|| rig_config.default_branch.clone());
    let session = polecat.session(&entry.beads.prefix);
    let worktree = polecat.worktree(town);
    let millis = store.now_ts().as_millisecond();
    let branch = cps
        .get("branch")
        .cloned()
        .or(restart_branch)
        .unwrap_or_else(|| gitops::branch_name(&polecat.name, bead, millis));
    if opts.dry_run {
        return Ok(Slung {
            bead: bead.to_owned(),
            polecat: polecat.address(),
            session,
            branch,
            agent: preset.name.clone(),
            convoy: convoy.map(str::to_owned),
            action: Action::WouldStart,
        });
    }
    let mut undo: Vec<Undo> = Vec::new();
    let result = (|| -> Result<Slung> {
        store.checkpoint(&scope, "polecat", &polecat.name)?;
        if fresh {
            undo.push(Undo::DeletePolecat(polecat.clone()));
        } else {
            undo.push(Undo::IdlePolecat(polecat.clone()));
        }
        store.upsert_polecat(
            &polecat.rig,
            &polecat.name,
            &beads::PolecatUpdate {
                state: Some("spawning".into()),
                bead_id: Some(bead.to_owned()),
                ..Default::default()
            },
        )?;
        // The worktree, on its own branch.
        let bare = paths.bare_repo();
        let on_branch =
            worktree.join(".git").exists() && gitops::current_branch(&worktree)? == branch;
        if !on_branch {
            gitops::fetch(&bare)?;
            let start = format!("origin/{base}");
            if worktree.join(".git").exists() {
                if !gitops::is_clean(&worktree)? {
                    return Err(refused(format!(
                        "polecat `{}` has uncommitted changes in `{}`",
                        polecat.address(),
                        worktree.display()
                    )));
                }
                gitops::reset_worktree(&worktree, &branch, &start)?;
            } else {
                gitops::add_worktree(&bare, &worktree, &branch, &start)?;
                undo.push(Undo::Worktree {
                    bare: bare.clone(),
                    path: worktree.clone(),
                    branch: branch.clone(),
                });
            }
            store.checkpoint(&scope, "branch", &branch)?;
        }
        if let Some(c) = convoy {
            store.checkpoint(&scope, "convoy", c)?;
        }
        // Hook the bead to the polecat.
        let before = store.get(bead)?;
        if before.status != "hooked" || before.assignee != polecat.address() {
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
                status: before.status,
                assignee: before.assignee,
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
                    agent: Some(preset.name.clone()),
                    runtime: Some(cx.runtime.kind().to_owned()),
                    new_generation: true,
                    ..Default::default()
                },
            )?
            .generation;
        if let Some(formula) = &opts.formula
            && let Some(root) = attach_formula(
                store,
                town,
                &paths,
                &eff.settings,
                bead,
                formula,
                &opts.vars,
                &base,
            )?
        {
            undo.push(Undo::Molecule(root));
        }
        provision::provision(&worktree, &preset, &cx.gt_bin)?;
        store.bump_respawns(bead)?;
        // Start the agent.
        let spec = session_spec(
            cx, store, &polecat, &preset, &session, &worktree, &branch, bead, generation,
        )?;
        // A reused idle polecat's old agent may still be in its session (it ran `gt done` and
        // has not exited, or stays at its prompt): its work is finished, so it goes.
        if cx.runtime.is_alive(&session, &[]).unwrap_or(false) {
            cx.runtime
                .stop(&session)
                .map_err(|e| session_err(&session, e))?;
        }
        undo.push(Undo::Session(session.clone()));
        let handle = cx
            .runtime
            .start(&spec)
            .map_err(|e| session_err(&session, e))?;
        let started = Started {
            polecat: &polecat,
            session: &session,
            generation,
            pid: Some(handle.pid),
        };
        finish_start(store, cx, &preset, bead, &scope, &started)?;
        Ok(Slung {
            bead: bead.to_owned(),
            polecat: polecat.address(),
            session: session.clone(),
            branch: branch.clone(),
            agent: preset.name.clone(),
            convoy: convoy.map(str::to_owned),
            action: if restart {
                Action::Restarted
            } else {
                Action::Started
            },
        })
    })();
    if result.is_err() {
        rollback(store, cx, undo);
        let _ = store.clear_checkpoints(&scope);
    }
    result
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
    cx: &SlingContext<'_>,
    preset: &agents::AgentPreset,
    bead: &str,
    scope: &str,
    started: &Started<'_>,
) -> Result<()> {
    let Started {
        polecat,
        session,
        generation,
        pid,
    } = *started;
    cx.runtime
        .wait_ready(session, &preset.readiness, cx.ready_timeout)
        .map_err(|e| session_err(session, e))?;
    let generation = generation.to_string();
    if preset.prompt_mode == PromptMode::None
        && store.checkpoints(scope)?.get("sent") != Some(&generation)
    {
        cx.runtime
            .send(session, &beacon(polecat, bead, store))
            .map_err(|e| session_err(session, e))?;
        store.checkpoint(scope, "sent", &generation)?;
    }
    // The agent may already be done (`gt done` moved the bead on): only a bead still
    // hooked becomes in progress, only a polecat still spawning becomes working.
    store.transition(bead, &["hooked"], "in_progress")?;
    store.polecat_transition(&polecat.rig, &polecat.name, "spawning", "working")?;
    if let Some(pid) = pid {
        store.upsert_polecat(
            &polecat.rig,
            &polecat.name,
            &beads::PolecatUpdate {
                pid: Some(Some(i64::from(pid))),
                ..Default::default()
            },
        )?;
    }
    store.clear_checkpoints(scope)?;
    Ok(())
}

fn session_err(session: &str, e: crate::runtime::RuntimeError) -> WorkError {
    WorkError::Session {
        session: session.to_owned(),
        reason: e.to_string(),
    }
}

/// Stops the polecat holding a bead and unhooks it (for `--force`).
fn release(store: &mut beads::Store, cx: &SlingContext<'_>, holder: &PolecatId) -> Result<()> {
    if let Some(row) = store.polecat(&holder.rig, &holder.name)? {
        if !row.session.is_empty() {
            let _ = cx.runtime.stop(&row.session);
        }
        store.upsert_polecat(
            &holder.rig,
            &holder.name,
            &beads::PolecatUpdate {
                state: Some("idle".into()),
                bead_id: Some(String::new()),
                ..Default::default()
            },
        )?;
    }
    Ok(())
}

#[expect(clippy::too_many_arguments, reason = "one private step of `sling_one`")]
fn choose_polecat(
    store: &mut beads::Store,
    town: &Town,
    paths: &RigPaths,
    settings: &crate::settings::Settings,
    target: &Target,
    cps: &std::collections::BTreeMap<String, String>,
    restart_holder: Option<&String>,
    opts: &SlingOptions,
) -> Result<(PolecatId, bool)> {
    let rig = target.rig();
    if let Some(holder) = restart_holder.and_then(|a| PolecatId::parse(a)) {
        return Ok((holder, false));
    }
    if let Some(name) = cps.get("polecat") {
        let id = PolecatId {
            rig: rig.to_owned(),
            name: name.clone(),
        };
        let fresh = store.polecat(rig, name)?.is_none_or(|p| p.generation == 0);
        return Ok((id, fresh));
    }
    if let Target::Polecat(p) = target {
        return match store.polecat(&p.rig, &p.name)? {
            Some(row) if row.state == "idle" || row.state == "nuked" => Ok((p.clone(), false)),
            Some(row) => Err(refused(format!(
                "polecat `{}` is {} on `{}`",
                p.address(),
                row.state,
                row.bead_id
            ))),
            None if opts.create || p.worktree(town).exists() => Ok((p.clone(), true)),
            None => Err(refused(format!(
                "no polecat `{}`; pass `--create` to make it",
                p.address()
            ))),
        };
    }
    // An idle polecat with a clean worktree is reused; otherwise a new name from the pool.
    for row in store.polecats(Some(rig))? {
        let Some(id) = PolecatId::new(rig, &row.name) else {
            return Err(refused(format!(
                "the store holds a polecat named `{}` in rig `{rig}`, which is not a polecat name",
                row.name.escape_debug()
            )));
        };
        if row.state == "idle"
            && id.worktree(town).join(".git").exists()
            && gitops::is_clean(&id.worktree(town)).unwrap_or(false)
        {
            return Ok((id, false));
        }
    }
    let _spawn_lock = host::lock::lock(&town.locks_dir().join(format!("spawn-{rig}.lock")))?;
    let mut in_use = paths.polecat_names()?;
    in_use.extend(store.polecats(Some(rig))?.into_iter().map(|p| p.name));
    let name = crate::namepool::NamePool::new(&settings.namepool)?.allocate(&in_use);
    Ok((
        PolecatId {
            rig: rig.to_owned(),
            name,
        },
        true,
    ))
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

#[expect(
    clippy::too_many_arguments,
    reason = "assembles one session from its parts"
)]
fn session_spec(
    cx: &SlingContext<'_>,
    store: &beads::Store,
    polecat: &PolecatId,
    preset: &agents::AgentPreset,
    session: &str,
    worktree: &Path,
    branch: &str,
    bead: &str,
    generation: i64,
) -> Result<SessionSpec> {
    let town = cx.town.root();
    let gt_dir = cx
        .gt_bin
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let caller_path = cx
        .inherited_env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let mut env: Vec<(String, String)> = cx
        .inherited_env
        .iter()
        .filter(|(k, _)| k != "PATH")
        .cloned()
        .collect();
    let address = polecat.address();
    let email = format!("{}.polecats.{}@gastown.local", polecat.rig, polecat.name);
    env.extend([
        (
            "PATH".to_owned(),
            format!("{}:{caller_path}", gt_dir.display()),
        ),
        ("GT_ROLE".into(), address.clone()),
        ("GT_RIG".into(), polecat.rig.clone()),
        ("GT_POLECAT".into(), polecat.name.clone()),
        ("GT_TOWN_ROOT".into(), town.display().to_string()),
        ("GT_ROOT".into(), town.display().to_string()),
        ("GT_AGENT".into(), preset.name.clone()),
        ("GT_PROCESS_NAMES".into(), preset.process_names.join(",")),
        ("GT_SESSION".into(), session.to_owned()),
        ("GT_GENERATION".into(), generation.to_string()),
        ("GT_HOOK_BEAD".into(), bead.to_owned()),
        ("GT_BRANCH".into(), branch.to_owned()),
        ("GT_POLECAT_PATH".into(), worktree.display().to_string()),
        (
            "BEADS_DIR".into(),
            cx.town.beads_dir().display().to_string(),
        ),
        ("BD_ACTOR".into(), address.clone()),
        ("GIT_AUTHOR_NAME".into(), address.clone()),
        ("GIT_AUTHOR_EMAIL".into(), email.clone()),
        ("GIT_COMMITTER_NAME".into(), address),
        ("GIT_COMMITTER_EMAIL".into(), email),
        ("GIT_CEILING_DIRECTORIES".into(), town.display().to_string()),
    ]);
    env.extend(preset.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut argv = preset.start_argv();
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

fn rollback(store: &mut beads::Store, cx: &SlingContext<'_>, undo: Vec<Undo>) {
    for step in undo.into_iter().rev() {
        let _ = match step {
            Undo::Session(name) => cx.runtime.stop(&name).map_err(|e| e.to_string()),
            Undo::Molecule(root) => store.mol_burn(&root).map(drop).map_err(|e| e.to_string()),
            Undo::Worktree { bare, path, branch } => {
                gitops::remove_worktree(&bare, &path, &branch).map_err(|e| e.to_string())
            }
            Undo::DeletePolecat(p) => store
                .delete_polecat(&p.rig, &p.name)
                .map(drop)
                .map_err(|e| e.to_string()),
            Undo::IdlePolecat(p) => store
                .upsert_polecat(
                    &p.rig,
                    &p.name,
                    &beads::PolecatUpdate {
                        state: Some("idle".into()),
                        bead_id: Some(String::new()),
                        ..Default::default()
                    },
                )
                .map(drop)
                .map_err(|e| e.to_string()),
            Undo::Unhook {
                bead,
                status,
                assignee,
            } => store
                .update(
                    &bead,
                    &beads::Changes {
                        status: Some(status),
                        assignee: Some(assignee),
                        ..Default::default()
                    },
                )
                .map(drop)
                .map_err(|e| e.to_string()),
        };
    }
}
