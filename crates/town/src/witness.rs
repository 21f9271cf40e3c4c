//! The witness: one per rig, a deterministic supervisor of its polecats.
//!
//! Each step looks at every polecat row of the rig that holds a bead and judges it from real
//! signals — its session (and the agent process in it) through the runtime the row records,
//! the bead's status and owner, the bead's latest merge request, and progress (the pane's
//! output changing, or a heartbeat file every `gt` command of that generation refreshes).
//! Then it acts ([`Verdict`]):
//!
//! - a dead agent whose bead is still its own and not yet submitted is restarted in the same
//!   worktree and branch through `gt sling`'s own path (so the admission lock, the respawn
//!   breaker and the new generation all apply); when the breaker trips, it is escalated;
//! - a change the refinery sent back (failed gate or conflict) wakes its polecat: a message
//!   through the runtime's verified send if the session lives, a restart if not (`gt prime`
//!   then shows the refinery's output);
//! - agents holding work are looked at every `daemon.liveness_secs` (a death writes nothing
//!   that could wake the witness); with none, it sleeps until woken or the safety tick;
//! - a working agent with no progress for `daemon.stall_after_secs` is nudged once, and
//!   escalated when as long again passes without progress;
//! - `HELP` mail to `<rig>/witness` is forwarded up the chain: to the mayor when its session
//!   runs, else to the overseer; the witness's other mail is archived once read;
//! - nothing is ever restarted onto a bead that is closed, submitted or owned by another
//!   polecat, and nothing at all happens while the shutdown or emergency-stop sentinel exists.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::time::Duration;

use jiff::Timestamp;

use beads::{MrState, PolecatState};

use crate::address::Address;
use crate::layout::Town;
use crate::rigctx::RigCtx;
use crate::runtime::{Runtime, Runtimes, SendWhen};
use crate::service::{Next, Service, ServiceError};
use crate::work::identity::PolecatId;
use crate::work::sling::{self, SlingContext, SlingOptions};

/// What the witness needs to start agents, besides the store (what `gt sling` gets).
pub struct Starter {
    pub runtimes: Runtimes,
    pub gt_bin: PathBuf,
    pub inherited_env: Vec<(String, String)>,
    pub ready_timeout: Duration,
}

impl Starter {
    /// What a daemon service's start in `town` passes to sling's path (and the role starts):
    /// this process's `GT_*` settings layer included.
    pub fn sling_context<'a>(&'a self, town: &'a Town) -> SlingContext<'a> {
        SlingContext {
            town,
            runtimes: &self.runtimes,
            gt_bin: self.gt_bin.clone(),
            inherited_env: self.inherited_env.clone(),
            ready_timeout: self.ready_timeout,
            env: Some(&crate::rigctx::process_env),
        }
    }
}

/// What the witness decided about one polecat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to do.
    Fine,
    /// The agent is dead and its work unfinished: start it again on its bead.
    Restart,
    /// The refinery sent change `mr` back: tell the agent (or restart it if its session is gone).
    Wake { mr: i64 },
    /// The agent died with nothing left to redo (its bead closed, submitted or taken): free it.
    Release,
    /// Working with no progress for the stall time.
    Nudge,
    /// Nudged, and still no progress; or stalled at a menu, where a nudge would pick an option.
    Escalate,
}

/// The signals about one polecat that [`judge`] decides on.
#[derive(Debug, Clone)]
pub struct Signals<'a> {
    pub polecat: &'a beads::Polecat,
    /// The hooked bead, if it still exists.
    pub bead: Option<&'a beads::Issue>,
    /// The bead's latest merge request.
    pub latest_mr: Option<&'a beads::MergeRequest>,
    pub alive: bool,
    /// How long the agent has shown no progress.
    pub quiet_for: Duration,
    /// Whether it was nudged since its last progress.
    pub nudged: bool,
    /// Its screen ends in a menu waiting for a choice (a dialog at startup, a permission
    /// prompt).
    pub at_menu: bool,
    /// The merge request this polecat was last woken for.
    pub woken_for: Option<i64>,
    pub stall_after: Duration,
}

/// The witness's rules, as a pure function of the signals.
pub fn judge(s: &Signals<'_>) -> Verdict {
    let p = s.polecat;
    let Some(bead) = s.bead else {
        return Verdict::Fine;
    };
    let address = format!("{}/polecats/{}", p.rig, p.name);
    // A `spawning` polecat belongs to the `gt sling` starting it; only a started one is judged.
    let working = p.state == PolecatState::Working;
    let ours = bead.assignee == address && matches!(bead.status.as_str(), "hooked" | "in_progress");
    if !ours {
        // Closed, submitted, or re-slung to someone else: never redo it here.
        return if working && !s.alive {
            Verdict::Release
        } else {
            Verdict::Fine
        };
    }
    if let Some(mr) = s.latest_mr
        && matches!(mr.state, MrState::Failed | MrState::Conflict)
        && p.state == PolecatState::Idle
        && s.woken_for != Some(mr.id)
    {
        return Verdict::Wake { mr: mr.id };
    }
    if !working {
        return Verdict::Fine;
    }
    if !s.alive {
        return Verdict::Restart;
    }
    // At a menu a nudge would pick an option, so it is escalated without one.
    let at_menu_too_long = s.quiet_for >= s.stall_after && s.at_menu;
    if at_menu_too_long || (s.quiet_for >= s.stall_after * 2 && s.nudged) {
        Verdict::Escalate
    } else if s.quiet_for >= s.stall_after && !s.nudged {
        Verdict::Nudge
    } else {
        Verdict::Fine
    }
}

/// What the witness remembers about a polecat between steps (lost on restart, which only
/// delays a nudge).
#[derive(Debug, Clone)]
struct Watch {
    generation: i64,
    pane: u64,
    heartbeat: Option<std::time::SystemTime>,
    progress_at: Timestamp,
    nudged: bool,
    escalated: bool,
}

/// The witness of one rig.
pub struct Witness {
    town: Town,
    ctx: RigCtx,
    store: beads::Store,
    starter: Starter,
    clock: Box<dyn host::clock::Clock>,
    watches: HashMap<String, Watch>,
    /// The rate-limit check, which remembers the limit last recorded per polecat.
    limits: crate::scheduler::watch::Watcher,
}

/// The message a woken agent gets when the refinery sent its change back.
pub const SENT_BACK_MESSAGE: &str = "The refinery sent your change back (FIX_NEEDED in `gt mail inbox`). Run `gt prime` to see why, fix it on your branch, commit, and run `gt done` again.";

/// The nudge a stalled agent gets.
pub const STALL_MESSAGE: &str = "You have shown no progress for a while. If you are stuck, run `gt prime` to see your work again, or `gt done --status ESCALATED` to ask for help.";

impl Witness {
    /// Raises a HIGH escalation about `bead` from this rig's witness, along the town's routes.
    fn escalate(
        &mut self,
        title: String,
        description: String,
        bead: &str,
    ) -> Result<(), beads::Error> {
        let rig = &self.ctx.name;
        crate::escalation::raise_for_service(
            &self.town,
            &mut self.store,
            &crate::escalation::NewEscalation {
                title,
                description,
                severity: Some(crate::escalation::Severity::High),
                source: Some(format!("witness:{rig}")),
                from: format!("{rig}/witness"),
                related: vec![bead.to_owned()],
            },
        )?;
        Ok(())
    }

    pub fn new(
        town: Town,
        ctx: RigCtx,
        store: beads::Store,
        starter: Starter,
        clock: Box<dyn host::clock::Clock>,
    ) -> Self {
        Self {
            town,
            ctx,
            store,
            starter,
            clock,
            watches: HashMap::new(),
            limits: crate::scheduler::watch::Watcher::default(),
        }
    }

    /// Mail to this rig's witness: a polecat's `HELP` goes up the chain — to the mayor when
    /// its session runs, else to the overseer (the human) — since the witness is a state
    /// machine and cannot answer it. Everything read is archived, so each message is handled
    /// once; a forward that fails leaves the message unread for the next pass.
    fn forward_help(&mut self) -> Result<(), crate::work::WorkError> {
        let me = Address::Witness {
            rig: self.ctx.name.clone(),
        };
        let unread = self
            .store
            .mail_inbox(&me.canonical(), &beads::InboxQuery::unread())?;
        for item in unread {
            let m = &item.message;
            if crate::mail::protocol::is_kind(&m.subject, "HELP") {
                let mayor_runs = self
                    .starter
                    .runtimes
                    .default_runtime()
                    .is_alive(&Address::Mayor.session(None).unwrap_or_default(), &[])
                    .unwrap_or(false);
                let to = if mayor_runs {
                    Address::Mayor
                } else {
                    Address::Overseer
                };
                let out = crate::mail::Outgoing {
                    to: vec![to.clone()],
                    cc: Vec::new(),
                    subject: m.subject.clone(),
                    body: format!(
                        "From: {}\nForwarded by: {}\n\n{}",
                        m.from,
                        me.canonical(),
                        m.body
                    ),
                    priority: m.priority,
                    msg_type: beads::MessageType::Task,
                    reply_to: None,
                    // A person's mail is kept; the forward is not protocol noise.
                    ephemeral: Some(to != Address::Overseer),
                };
                if let Err(e) = crate::mail::send(&self.town, &mut self.store, &me, &out) {
                    tracing::warn!(id = m.id, error = %e, "witness: cannot forward HELP");
                    continue;
                }
                tracing::info!(id = m.id, from = %m.from, to = %to, "witness: forwarded HELP");
            }
            let ids = [m.id];
            self.store.mail_mark_read(&me.canonical(), &ids, true)?;
            self.store
                .mail_set_state(&me.canonical(), &ids, beads::MailState::Archived)?;
        }
        Ok(())
    }

    fn stall_after(&self) -> Duration {
        Duration::from_secs(self.ctx.settings.daemon.stall_after_secs.max(1))
    }

    /// One look at every polecat of the rig; acts on what it finds.
    pub fn check(&mut self) -> Result<Vec<(String, Verdict)>, crate::work::WorkError> {
        let mut acted = Vec::new();
        if crate::daemon::held(&self.town) {
            return Ok(acted);
        }
        let rig = self.ctx.name.clone();
        self.forward_help()?;
        let holds = crate::lifecycle::holds(&self.store).unwrap_or_default();
        let polecats = self.store.polecats(Some(&rig))?;
        // One tmux call for every session's liveness, and one read of the rig's merge
        // requests, for the whole pass: not one of each per polecat.
        let live_tmux = self.starter.runtimes.tmux().live_sessions().ok();
        let mut latest_mrs: HashMap<String, beads::MergeRequest> = HashMap::new();
        for m in self.store.mrs(Some(&rig), &[])? {
            match latest_mrs.get(&m.bead_id) {
                Some(have) if have.id >= m.id => {}
                _ => {
                    latest_mrs.insert(m.bead_id.clone(), m);
                }
            }
        }
        self.watches
            .retain(|name, _| polecats.iter().any(|p| &p.name == name));
        self.limits.retain(|address| {
            polecats
                .iter()
                .any(|p| PolecatId::new(&p.rig, &p.name).is_some_and(|id| id.address() == address))
        });
        for p in polecats {
            if p.bead_id.is_empty()
                || p.state == PolecatState::Nuked
                || crate::lifecycle::is_held(&holds, &p)
            {
                self.watches.remove(&p.name);
                continue;
            }
            let bead = match self.store.get(&p.bead_id) {
                Ok(issue) => Some(issue),
                Err(beads::Error::NotFound { .. }) => None,
                Err(e) => return Err(e.into()),
            };
            let latest_mr = latest_mrs.get(&p.bead_id).cloned();
            let alive = self.alive(&p, live_tmux.as_ref());
            // A dead agent's pane stays (`remain-on-exit`) with how it exited: a rate-limit
            // exit status, or its last words, may say why.
            let exit_status = if alive { None } else { self.exit_status(&p) };
            let screen = if alive || exit_status.is_some() {
                self.screen(&p)
            } else {
                String::new()
            };
            // A `spawning` polecat is its `gt sling`'s until started (see `judge`): a limit it
            // shows is seen at the next look, once it is working — rotating it now would stop
            // the session under the sling waiting for its prompt.
            if p.state != PolecatState::Spawning
                && (alive || p.state == PolecatState::Working)
                && self.rate_limited(&p, &screen, exit_status)?
            {
                continue;
            }
            let (quiet_for, nudged) = self.progress(&p, hash(&screen));
            let woken_key = format!("witness.woke.{rig}.{}", p.name);
            let woken_for = self.store.kv_get(&woken_key)?.and_then(|v| v.parse().ok());
            let verdict = judge(&Signals {
                polecat: &p,
                bead: bead.as_ref(),
                latest_mr: latest_mr.as_ref(),
                alive,
                quiet_for,
                nudged,
                at_menu: crate::runtime::shows_menu(&screen),
                woken_for,
                stall_after: self.stall_after(),
            });
            if verdict == Verdict::Fine {
                continue;
            }
            tracing::info!(rig = %rig, polecat = %p.name, bead = %p.bead_id, ?verdict, "witness acts");
            match &verdict {
                Verdict::Restart => {
                    self.record_costs(&p);
                    self.restart(&p)?;
                }
                Verdict::Wake { mr } => {
                    // Recorded first: a wake that fails is escalated, not retried in a loop.
                    self.store.kv_set(&woken_key, &mr.to_string())?;
                    let delivered = alive
                        && self
                            .starter
                            .runtimes
                            .get(&p.runtime)
                            .send(&p.session, SENT_BACK_MESSAGE, SendWhen::Now)
                            .is_ok();
                    // An agent that was still finishing (its `gt done` holding the bead) takes
                    // neither the text nor a restart yet: forget the wake, so the next round
                    // tries again rather than never.
                    if !delivered && self.restart(&p)? == Restarted::Busy {
                        self.store.kv_clear(&woken_key)?;
                    }
                }
                Verdict::Release => {
                    self.record_costs(&p);
                    // Under the rig's admission lock, and only if no sling took the polecat
                    // since it was read; a busy lock means a sling is at work: next round.
                    let Ok(_admission) = crate::work::try_admission_lock(&self.town, &rig) else {
                        continue;
                    };
                    let now = self.store.polecat(&rig, &p.name)?;
                    if now.is_some_and(|n| n.generation == p.generation && n.bead_id == p.bead_id) {
                        self.store.finish_polecat(&rig, &p.name)?;
                    }
                }
                Verdict::Nudge => {
                    let sent = self.starter.runtimes.get(&p.runtime).send(
                        &p.session,
                        STALL_MESSAGE,
                        SendWhen::Now,
                    );
                    if let Err(e) = sent {
                        tracing::warn!(polecat = %p.name, error = %e, "could not nudge");
                    }
                    // The nudge shows in the pane; that is not the agent's progress.
                    let pane = hash(&self.screen(&p));
                    if let Some(w) = self.watches.get_mut(&p.name) {
                        w.nudged = true;
                        w.pane = pane;
                    }
                }
                Verdict::Escalate => {
                    let first = self
                        .watches
                        .get_mut(&p.name)
                        .is_some_and(|w| !std::mem::replace(&mut w.escalated, true));
                    if first {
                        let minutes = quiet_for.as_secs() / 60;
                        let why = if crate::runtime::shows_menu(&screen) {
                            "and waits at a menu (a nudge would choose an option)"
                        } else {
                            "and did not respond to a nudge"
                        };
                        self.escalate(
                            format!(
                                "{rig}/polecats/{} shows no progress on {}",
                                p.name, p.bead_id
                            ),
                            format!(
                                "The agent of `{rig}/polecats/{}` has shown no progress on `{}` for {minutes} min {why}.\n\nLook at it with `gt polecat peek {rig}/{}`; re-sling with `gt sling {} {rig} --force`, or nuke it.",
                                p.name, p.bead_id, p.name, p.bead_id
                            ),
                            &p.bead_id,
                        )?;
                        self.store.mark_polecat_stuck(&rig, &p.name)?;
                    }
                }
                Verdict::Fine => {}
            }
            acted.push((p.name.clone(), verdict));
        }
        Ok(acted)
    }

    fn alive(&self, p: &beads::Polecat, live_tmux: Option<&HashSet<String>>) -> bool {
        let runtime = self.starter.runtimes.get(&p.runtime);
        !p.session.is_empty()
            && match live_tmux {
                Some(live) if runtime.kind() == self.starter.runtimes.tmux().kind() => {
                    live.contains(&p.session)
                }
                _ => runtime.is_alive(&p.session, &[]).unwrap_or(false),
            }
    }

    /// Whether the agent hit a rate or usage limit ([`crate::scheduler::watch`]: its pane, or
    /// its exit status once dead). A new limit records a hold on the agent's account until the
    /// window resets (the scheduler stops starting agents on it meanwhile), and when another
    /// account of the provider is free the session is rotated to it: stopped and restarted
    /// through sling's path, which picks that account. Otherwise a rate-limited agent is left
    /// alone while the hold lasts: not nudged as stalled, and a dead one not restarted until
    /// the window resets.
    fn rate_limited(
        &mut self,
        p: &beads::Polecat,
        screen: &str,
        exit_status: Option<i32>,
    ) -> Result<bool, crate::work::WorkError> {
        let user =
            crate::agents::load_user_presets(&crate::agents::user_presets_path(self.town.root()))?;
        let Ok(preset) = crate::agents::preset(&p.agent, &user, &self.ctx.settings) else {
            return Ok(false);
        };
        let Some(id) = PolecatId::new(&p.rig, &p.name) else {
            return Ok(false);
        };
        let address = id.address();
        let now = self.clock.now();
        let look = crate::scheduler::watch::Look {
            address: &address,
            generation: p.generation,
            screen,
            exit_status,
        };
        let window = self.ctx.settings.scheduler.rate_limit_window.0;
        let Some(limited) = self
            .limits
            .look(&mut self.store, &preset, &look, now, window)?
        else {
            return Ok(false);
        };
        if limited.new
            && let Ok(Some(other)) =
                crate::scheduler::accounts::choose(&self.store, &limited.provider, now)?
            && other.key() != limited.account
        {
            tracing::info!(polecat = %address, to = %other.key(), "rotating a rate-limited session to another account");
            let _ = self.starter.runtimes.get(&p.runtime).stop(&p.session);
            self.restart(p)?;
        }
        Ok(true)
    }

    /// The status the polecat's agent exited with, while its dead session still shows it.
    fn exit_status(&self, p: &beads::Polecat) -> Option<i32> {
        self.starter
            .runtimes
            .get(&p.runtime)
            .exit_status(&p.session)
            .ok()
            .flatten()
    }

    /// The session's screen; empty when it cannot be captured.
    fn screen(&self, p: &beads::Polecat) -> String {
        self.starter
            .runtimes
            .get(&p.runtime)
            .capture(&p.session)
            .unwrap_or_default()
    }

    /// How long the agent has been quiet, and whether it was nudged since: progress is its
    /// pane's output changing or a heartbeat of its generation.
    fn progress(&mut self, p: &beads::Polecat, pane: u64) -> (Duration, bool) {
        let now = self.clock.now();
        let heartbeat = heartbeat_of(&self.town, &p.session, p.generation);
        let watch = self.watches.entry(p.name.clone()).or_insert(Watch {
            generation: p.generation,
            pane,
            heartbeat,
            progress_at: now,
            nudged: false,
            escalated: false,
        });
        if watch.generation != p.generation || watch.pane != pane || watch.heartbeat != heartbeat {
            *watch = Watch {
                generation: p.generation,
                pane,
                heartbeat,
                progress_at: now,
                nudged: false,
                escalated: false,
            };
        }
        let quiet = now
            .duration_since(watch.progress_at)
            .unsigned_abs()
            .min(Duration::from_secs(u64::MAX / 4));
        (quiet, watch.nudged)
    }

    /// A dead agent without a `Stop` hook (Codex) could not record what its session used: read
    /// its transcripts now. Best effort: a failure is logged, never a failed pass.
    fn record_costs(&mut self, p: &beads::Polecat) {
        let Some(homes) = crate::costs::locate::Homes::from_vars(&self.starter.inherited_env)
        else {
            return;
        };
        match crate::costs::record::record_polecat(&mut self.store, &self.town, &homes, p) {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(rig = %p.rig, polecat = %p.name, sessions = n, "recorded the costs of a dead agent");
            }
            Err(e) => {
                tracing::warn!(rig = %p.rig, polecat = %p.name, error = %e, "cannot record a dead agent's costs");
            }
        }
    }

    /// Starts the polecat's agent again on its bead, through `gt sling`'s path.
    fn restart(&mut self, p: &beads::Polecat) -> Result<Restarted, crate::work::WorkError> {
        if crate::daemon::held(&self.town) {
            return Ok(Restarted::Done);
        }
        let cx = self.starter.sling_context(&self.town);
        let Some(id) = PolecatId::new(&p.rig, &p.name) else {
            return Ok(Restarted::Done);
        };
        let target = id.address();
        let report = sling::sling(
            &mut self.store,
            &cx,
            std::slice::from_ref(&p.bead_id),
            &target,
            &SlingOptions {
                no_convoy: true,
                starter: crate::scheduler::admission::Starter::Dispatcher,
                witness_restart: true,
                ..Default::default()
            },
        )?;
        if let Some((bead, error)) = report.failed.first() {
            tracing::warn!(polecat = %p.name, bead = %bead, error = %error, "restart failed");
            // Another command on the bead, or every account rate-limited: try again later.
            if matches!(
                error,
                crate::work::WorkError::Busy { .. } | crate::work::WorkError::RateLimited(_)
            ) {
                return Ok(Restarted::Busy);
            }
            if matches!(error, crate::work::WorkError::Limit(_)) {
                self.escalate(
                    format!("{} keeps dying on {}", target, p.bead_id),
                    format!(
                        "The agent of `{target}` died on `{}` too many times; the witness stopped restarting it.\n\n{error}\n\nLook at the bead and the worktree, then re-sling it or nuke the polecat.",
                        p.bead_id
                    ),
                    &p.bead_id,
                )?;
                self.store.mark_polecat_stuck(&p.rig, &p.name)?;
            }
        }
        Ok(Restarted::Done)
    }
}

/// How a restart went, for a wake that may have to be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Restarted {
    /// Started, held back by a shutdown, or failed for good (logged, escalated if repeated).
    Done,
    /// Another `gt` command held the bead (the agent's own `gt done` still running).
    Busy,
}

impl Service for Witness {
    fn step(&mut self) -> Result<Next, ServiceError> {
        self.check()?;
        // Polecats holding work are watched: look again soon, since a death writes nothing.
        Ok(if self.watches.is_empty() {
            Next::Idle
        } else {
            Next::After(Duration::from_secs(
                self.ctx.settings.daemon.liveness_secs.max(1),
            ))
        })
    }
}

fn hash(text: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// The heartbeat file of a session: its generation, refreshed by every `gt` command the
/// agent of that generation runs.
pub fn heartbeat_path(town: &Town, session: &str) -> PathBuf {
    town.runtime_dir().join("heartbeats").join(session)
}

/// Refreshes the heartbeat of `session` for `generation` (best effort: a heartbeat that
/// cannot be written only makes the agent look quieter).
pub fn beat(town: &Town, session: &str, generation: i64) {
    if crate::runtime::check_session_name(session).is_err() {
        return;
    }
    let path = heartbeat_path(town, session);
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(&path, generation.to_string());
}

/// When the heartbeat of `session` was last refreshed by `generation`; an older generation's
/// heartbeat does not count.
fn heartbeat_of(town: &Town, session: &str, generation: i64) -> Option<std::time::SystemTime> {
    let path = heartbeat_path(town, session);
    let text = std::fs::read_to_string(&path).ok()?;
    if text.trim().parse::<i64>().ok()? != generation {
        return None;
    }
    std::fs::metadata(&path).ok()?.modified().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn polecat(state: &str) -> beads::Polecat {
        beads::Polecat {
            rig: "r".into(),
            name: "nux".into(),
            state: state.parse().unwrap(),
            generation: 1,
            bead_id: "r-1".into(),
            branch: "polecat/nux/r-1".into(),
            worktree: String::new(),
            session: "r-nux".into(),
            agent: "scripted".into(),
            runtime: "tmux".into(),
            pid: None,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    fn bead(status: &str, assignee: &str) -> beads::Issue {
        beads::Issue {
            id: "r-1".into(),
            status: status.into(),
            assignee: assignee.into(),
            ..Default::default()
        }
    }

    fn mr(id: i64, state: &str) -> beads::MergeRequest {
        beads::MergeRequest {
            id,
            rig: "r".into(),
            bead_id: "r-1".into(),
            branch: String::new(),
            sha: String::new(),
            target: "main".into(),
            polecat: "r/polecats/nux".into(),
            state: state.parse().unwrap(),
            priority: 2,
            retries: 0,
            merged_sha: String::new(),
            reason: String::new(),
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    const MINUTE: Duration = Duration::from_secs(60);

    fn verdict(
        state: &str,
        b: Option<&beads::Issue>,
        m: Option<&beads::MergeRequest>,
        alive: bool,
        quiet: Duration,
        nudged: bool,
    ) -> Verdict {
        let p = polecat(state);
        judge(&Signals {
            polecat: &p,
            bead: b,
            latest_mr: m,
            alive,
            quiet_for: quiet,
            nudged,
            at_menu: false,
            woken_for: None,
            stall_after: 30 * MINUTE,
        })
    }

    #[test]
    fn a_dead_agent_on_its_own_unfinished_bead_is_restarted() {
        let b = bead("in_progress", "r/polecats/nux");
        assert_eq!(
            verdict("working", Some(&b), None, false, Duration::ZERO, false),
            Verdict::Restart
        );
        assert_eq!(
            verdict("working", Some(&b), None, true, Duration::ZERO, false),
            Verdict::Fine
        );
    }

    #[test]
    fn nothing_is_redone_once_closed_submitted_or_taken() {
        for b in [
            bead("closed", "r/polecats/nux"),
            bead("submitted", "r/polecats/nux"),
            bead("in_progress", "r/polecats/furiosa"),
        ] {
            assert_eq!(
                verdict("working", Some(&b), None, false, Duration::ZERO, false),
                Verdict::Release,
                "{b:?}"
            );
            assert_eq!(
                verdict(
                    "idle",
                    Some(&b),
                    Some(&mr(3, "failed")),
                    false,
                    Duration::ZERO,
                    false
                ),
                Verdict::Fine,
                "{b:?}"
            );
        }
        assert_eq!(
            verdict("working", None, None, false, Duration::ZERO, false),
            Verdict::Fine
        );
    }

    #[test]
    fn a_change_sent_back_wakes_its_idle_polecat_once() {
        let b = bead("hooked", "r/polecats/nux");
        for state in ["failed", "conflict"] {
            assert_eq!(
                verdict(
                    "idle",
                    Some(&b),
                    Some(&mr(4, state)),
                    false,
                    Duration::ZERO,
                    false
                ),
                Verdict::Wake { mr: 4 }
            );
        }
        let p = polecat("idle");
        let m = mr(4, "failed");
        let again = judge(&Signals {
            polecat: &p,
            bead: Some(&b),
            latest_mr: Some(&m),
            alive: true,
            quiet_for: Duration::ZERO,
            nudged: false,
            at_menu: false,
            woken_for: Some(4),
            stall_after: MINUTE,
        });
        assert_eq!(again, Verdict::Fine);
        // Queued or merged again: nothing to wake.
        assert_eq!(
            verdict(
                "idle",
                Some(&b),
                Some(&mr(5, "queued")),
                true,
                Duration::ZERO,
                false
            ),
            Verdict::Fine
        );
    }

    #[test]
    fn a_quiet_agent_is_nudged_then_escalated() {
        let b = bead("in_progress", "r/polecats/nux");
        let v = |quiet, nudged| verdict("working", Some(&b), None, true, quiet, nudged);
        assert_eq!(v(29 * MINUTE, false), Verdict::Fine);
        assert_eq!(v(30 * MINUTE, false), Verdict::Nudge);
        assert_eq!(v(45 * MINUTE, true), Verdict::Fine);
        assert_eq!(v(60 * MINUTE, true), Verdict::Escalate);
        // At a menu, a nudge would pick an option: escalate at once.
        let p = polecat("working");
        let at_menu = |quiet| {
            judge(&Signals {
                polecat: &p,
                bead: Some(&b),
                latest_mr: None,
                alive: true,
                quiet_for: quiet,
                nudged: false,
                at_menu: true,
                woken_for: None,
                stall_after: 30 * MINUTE,
            })
        };
        assert_eq!(at_menu(29 * MINUTE), Verdict::Fine);
        assert_eq!(at_menu(30 * MINUTE), Verdict::Escalate);
        // A stuck polecat was already escalated.
        assert_eq!(
            verdict("stuck", Some(&b), None, true, 90 * MINUTE, true),
            Verdict::Fine
        );
    }
}
