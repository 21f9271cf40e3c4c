//! Read models: what `gt status`, `gt refinery status`, `gt convoy status`, `gt mq list`,
//! `gt polecat list`, `gt agents` ([`roster`]) and `gt session list` ([`sessions`]) show, as
//! serialisable data, so the CLI, the daemon and a dashboard show the same thing.
//!
//! Each view is built by one function from the town, its store and what else it needs (the
//! runtimes for liveness, the daemon's status); building one reads, never writes, and never
//! takes a lock another process may want. Rendering (tables, colours, wording) is the caller's.
//! `--json` prints a view as it is: the list views serialise as a plain array of their items,
//! and items flatten the store's rows (`beads::MergeRequest`, `beads::Polecat`,
//! `beads::ConvoyStatus`) and add fields, so JSON consumers of the rows keep working.

use std::collections::BTreeMap;
use std::path::PathBuf;

use beads::{MergeRequest, MrState, Polecat, PolecatState};
use serde::Serialize;

use crate::daemon::DaemonStatus;
use crate::layout::Town;
use crate::rig::RigSummary;
use crate::runtime::{Runtime, Runtimes};

mod roster;
mod sessions;
mod statusline;

pub use roster::{RosterEntry, RosterView, roster};
pub use sessions::{SessionEntry, SessionsView, sessions};
pub use statusline::{StatusLine, status_line};

/// Failures reading what a view shows.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error(transparent)]
    Store(#[from] beads::Error),
    #[error(transparent)]
    Rig(#[from] crate::rig::RigError),
    #[error(transparent)]
    File(#[from] crate::files::FileError),
    #[error(transparent)]
    Roster(#[from] crate::roster::RosterError),
    #[error(transparent)]
    Runtime(#[from] crate::runtime::RuntimeError),
}

type Result<T> = std::result::Result<T, ViewError>;

/// `gt status`: the town at a glance.
#[derive(Debug, Clone, Serialize)]
pub struct StatusView {
    pub name: String,
    pub root: PathBuf,
    pub rigs: Vec<RigSummary>,
    /// Beads hooked or in progress.
    pub in_flight: Vec<WorkItem>,
    /// Merge requests waiting for (queued) or in (testing) a refinery pass, oldest first.
    pub merge_queue: Vec<MrView>,
    /// Polecats with something to show: busy (spawning, working), stuck, or dead.
    pub agents: Vec<AgentView>,
    /// Polecats whose row says working but whose session is gone.
    pub dead_agents: usize,
    /// Polecats that asked for help.
    pub stuck_agents: usize,
    /// Open beads labelled [`crate::escalation::ESCALATION_LABEL`].
    pub open_escalations: usize,
    pub daemon: DaemonStatus,
}

/// A bead being worked on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkItem {
    pub id: String,
    pub title: String,
    pub status: String,
    pub assignee: String,
}

/// Builds [`StatusView`]; `daemon` is [`crate::daemon::status`] of the town.
pub fn status(
    town: &Town,
    store: &beads::Store,
    runtimes: &Runtimes,
    daemon: DaemonStatus,
) -> Result<StatusView> {
    let config = town.config()?;
    let rigs = crate::rig::summaries(town, store)?;
    let in_flight = store
        .issues(&beads::Filter {
            statuses: vec!["hooked".into(), "in_progress".into()],
            limit: 0,
            ..beads::Filter::default()
        })?
        .into_iter()
        .map(|i| WorkItem {
            id: i.id,
            title: i.title,
            status: i.status,
            assignee: i.assignee,
        })
        .collect();
    let merge_queue = mq(store, None, &[MrState::Queued, MrState::Testing])?.requests;
    let agents: Vec<AgentView> = self::agents(store, runtimes, None)?
        .agents
        .into_iter()
        .filter(|a| a.dead || !matches!(a.polecat.state, PolecatState::Idle | PolecatState::Nuked))
        .collect();
    let open_escalations = store
        .issues(&beads::Filter {
            labels: vec![crate::escalation::ESCALATION_LABEL.into()],
            limit: 0,
            ..beads::Filter::default()
        })?
        .iter()
        .filter(|i| i.status != "closed")
        .count();
    Ok(StatusView {
        name: config.name,
        root: town.root().to_owned(),
        rigs,
        in_flight,
        merge_queue,
        dead_agents: agents.iter().filter(|a| a.dead).count(),
        stuck_agents: agents
            .iter()
            .filter(|a| a.polecat.state == PolecatState::Stuck)
            .count(),
        agents,
        open_escalations,
        daemon,
    })
}

/// `gt polecat list`: every polecat with its liveness. Serialises as an array.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct AgentsView {
    pub agents: Vec<AgentView>,
}

/// One polecat: its row (rig, name, state, bead, session, runtime, …) and whether its session
/// runs.
#[derive(Debug, Clone, Serialize)]
pub struct AgentView {
    #[serde(flatten)]
    pub polecat: Polecat,
    /// `<rig>/polecats/<name>`.
    pub address: String,
    /// Its session exists and its agent process runs.
    pub alive: bool,
    /// Its row says working but its session is gone: the witness restarts it, if a daemon
    /// runs.
    pub dead: bool,
}

/// Builds [`AgentsView`] for one rig or all. Each session is asked of the runtime its polecat
/// was started in ([`Runtimes::get`]); a nuked polecat is not asked.
pub fn agents(store: &beads::Store, runtimes: &Runtimes, rig: Option<&str>) -> Result<AgentsView> {
    // One tmux call for every tmux session, not one per polecat (fifty agents, one `gt
    // status`); a subprocess session is asked on its own (a pid file).
    let live_tmux = runtimes.tmux().live_sessions().ok();
    let agents = store
        .polecats(rig)?
        .into_iter()
        .map(|p| {
            let runtime = runtimes.get(&p.runtime);
            let alive = p.state != PolecatState::Nuked
                && !p.session.is_empty()
                && match &live_tmux {
                    Some(live) if runtime.kind() == runtimes.tmux().kind() => {
                        live.contains(&p.session)
                    }
                    _ => runtime.is_alive(&p.session, &[]).unwrap_or(false),
                };
            AgentView {
                address: format!("{}/polecats/{}", p.rig, p.name),
                dead: p.state == PolecatState::Working && !alive,
                alive,
                polecat: p,
            }
        })
        .collect();
    Ok(AgentsView { agents })
}

/// `gt mq list`: merge requests. Serialises as an array.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct MqView {
    pub requests: Vec<MrView>,
}

/// One merge request (its row: state, bead, polecat, branch, …) and its age.
#[derive(Debug, Clone, Serialize)]
pub struct MrView {
    #[serde(flatten)]
    pub mr: MergeRequest,
    /// `mr-12`.
    pub label: String,
    /// Seconds since it was submitted, by the store's clock.
    pub age_seconds: i64,
    /// The forge refused to merge its pull request (`merge_queue.strategy = pr`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forge_refusal: Option<crate::refinery::refusal::Refusal>,
}

/// Builds [`MqView`]: the requests of one rig or all, in `states` (all states if empty),
/// oldest first.
pub fn mq(store: &beads::Store, rig: Option<&str>, states: &[MrState]) -> Result<MqView> {
    let now = store.now_ts();
    let requests = store
        .mrs(rig, states)?
        .into_iter()
        .map(|mr| {
            Ok(MrView {
                label: mr.label(),
                age_seconds: age_seconds(now, &mr.created_at),
                forge_refusal: crate::refinery::refusal::refusal(store, &mr.rig, mr.id)?,
                mr,
            })
        })
        .collect::<Result<_>>()?;
    Ok(MqView { requests })
}

fn age_seconds(now: jiff::Timestamp, then: &str) -> i64 {
    then.parse::<jiff::Timestamp>()
        .map_or(0, |t| (now.as_second() - t.as_second()).max(0))
}

/// `gt refinery status`: each rig's merge queue. Serialises as an array.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct RefineryView {
    pub rigs: Vec<RigRefinery>,
}

/// One rig's refinery.
#[derive(Debug, Clone, Serialize)]
pub struct RigRefinery {
    pub rig: String,
    /// A process holds the rig's refinery lock (see [`crate::refinery::holder`]).
    pub running: bool,
    /// That process: the daemon, a `gt refinery run`, a `gt demo`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// The state the daemon reports for its `refinery:<rig>` service (`running`, `backoff`,
    /// `quarantined`, …), when a daemon answers and hosts it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub queued: usize,
    pub testing: usize,
    /// Why the queue is paused (`gt refinery resume` lifts it); `null` when it is not.
    pub paused: Option<String>,
    /// The last recorded pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_run: Option<beads::RecordedRun>,
}

/// Builds [`RefineryView`] for one rig (which must be registered) or every rig. Whether a
/// refinery runs comes from its holder record, never from taking its lock.
pub fn refinery(
    town: &Town,
    store: &beads::Store,
    daemon: &DaemonStatus,
    rig: Option<&str>,
) -> Result<RefineryView> {
    let names: Vec<String> = match rig {
        Some(r) => {
            crate::rig::entry(town, r)?;
            vec![r.to_owned()]
        }
        None => town.rigs()?.rigs.into_keys().collect(),
    };
    let mut rigs = Vec::new();
    for rig in names {
        let pid = crate::refinery::holder(town, &rig);
        let service_name = format!("refinery:{rig}");
        let service = daemon
            .services
            .iter()
            .find(|s| s["name"] == service_name.as_str())
            .and_then(|s| s["state"].as_str())
            .map(str::to_owned);
        rigs.push(RigRefinery {
            running: pid.is_some(),
            pid,
            service,
            queued: store.mrs(Some(&rig), &[MrState::Queued])?.len(),
            testing: store.mrs(Some(&rig), &[MrState::Testing])?.len(),
            paused: store.kv_get(&crate::refinery::pause_key(&rig))?,
            last_run: store.last_refinery_run(&rig)?,
            rig,
        });
    }
    Ok(RefineryView { rigs })
}

/// `gt convoy status`: convoys and what they track. Serialises as an array.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct ConvoyView {
    pub convoys: Vec<ConvoyItem>,
}

/// One convoy: its status row (title, tracked beads, merged count, landing) and the latest
/// merge request of each tracked bead.
#[derive(Debug, Clone, Serialize)]
pub struct ConvoyItem {
    #[serde(flatten)]
    pub convoy: beads::ConvoyStatus,
    /// `landed` once it landed, else the convoy bead's status.
    pub state: String,
    /// Tracked bead id → its latest merge request; beads never submitted are absent.
    pub merge_requests: BTreeMap<String, MrRef>,
}

/// A merge request, by label and state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MrRef {
    pub mr: String,
    pub state: MrState,
}

/// Builds [`ConvoyView`] for one convoy (a partial id is resolved) or every open one.
pub fn convoys(store: &beads::Store, convoy: Option<&str>) -> Result<ConvoyView> {
    let statuses = match convoy {
        Some(c) => vec![store.convoy_status(c)?],
        None => store.convoys(false)?,
    };
    let mut latest: BTreeMap<String, MergeRequest> = BTreeMap::new();
    if statuses.iter().any(|c| !c.tracked.is_empty()) {
        // Oldest first, so the last one kept per bead is its latest.
        for mr in store.mrs(None, &[])? {
            latest.insert(mr.bead_id.clone(), mr);
        }
    }
    let convoys = statuses
        .into_iter()
        .map(|c| ConvoyItem {
            state: if c.landed_at.is_some() {
                "landed".to_owned()
            } else {
                c.status.clone()
            },
            merge_requests: c
                .tracked
                .iter()
                .filter_map(|t| {
                    latest.get(&t.id).map(|m| {
                        (
                            t.id.clone(),
                            MrRef {
                                mr: m.label(),
                                state: m.state,
                            },
                        )
                    })
                })
                .collect(),
            convoy: c,
        })
        .collect();
    Ok(ConvoyView { convoys })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{SubprocessRuntime, TmuxRuntime};

    /// 2026-01-01T00:00:00Z.
    const EPOCH: &str = "2026-01-01T00:00:00Z";

    fn ctx(now: &str) -> beads::Context {
        beads::Context {
            actor: "test".into(),
            clock: Box::new(host::clock::FixedClock(now.parse().unwrap())),
        }
    }

    fn town(dir: &std::path::Path) -> Town {
        crate::install::test_town(dir, ctx(EPOCH))
    }

    fn runtimes(town: &Town) -> Runtimes {
        let sessions = town.runtime_dir().join("sessions");
        Runtimes::new(
            TmuxRuntime::new(host::tmux::Tmux::new("gt-views-test-unused"), town.root()),
            SubprocessRuntime::new(&sessions),
            "subprocess",
        )
    }

    fn no_daemon() -> DaemonStatus {
        DaemonStatus {
            running: false,
            pid: None,
            started_at: None,
            services: Vec::new(),
            shutdown: false,
            estop: false,
        }
    }

    /// A polecat of rig `app` on `bead`, in session `gt-<name>` (which never runs here).
    fn polecat(store: &mut beads::Store, name: &str, bead: &str) {
        store
            .upsert_polecat(
                "app",
                name,
                &beads::PolecatUpdate {
                    bead_id: Some(bead.into()),
                    session: Some(format!("gt-{name}")),
                    runtime: Some("subprocess".into()),
                    ..Default::default()
                },
            )
            .unwrap();
    }

    #[test]
    fn status_counts_dead_and_stuck_agents_open_escalations_and_the_queue() {
        let dir = tempfile::tempdir().unwrap();
        let town = town(dir.path());
        let mut store = beads::Store::open(&town.beads_dir(), ctx(EPOCH)).unwrap();
        polecat(&mut store, "nux", "hq-1");
        store.mark_polecat_working("app", "nux").unwrap();
        polecat(&mut store, "max", "hq-2");
        store.mark_polecat_stuck("app", "max").unwrap();
        polecat(&mut store, "ace", "");
        store.finish_polecat("app", "ace").unwrap();
        let help = |title: &str| crate::escalation::NewEscalation {
            title: title.into(),
            ..Default::default()
        };
        crate::escalation::record(&mut store, &help("help")).unwrap();
        let closed = crate::escalation::record(&mut store, &help("old help")).unwrap();
        store
            .close(&closed.id, &beads::CloseOptions::default())
            .unwrap();
        for (bead, branch) in [("hq-1", "a"), ("hq-2", "b"), ("hq-3", "c")] {
            store
                .submit_mr(&beads::NewMergeRequest {
                    rig: "app".into(),
                    bead_id: bead.into(),
                    branch: branch.into(),
                    sha: format!("{branch}{branch}"),
                    target: "main".into(),
                    ..Default::default()
                })
                .unwrap();
        }
        store.start_testing_mr(2).unwrap();
        store.start_testing_mr(3).unwrap();
        store.fail_mr(3, "red").unwrap();

        let later = beads::Store::open(&town.beads_dir(), ctx("2026-01-01T00:01:30Z")).unwrap();
        let view = status(&town, &later, &runtimes(&town), no_daemon()).unwrap();
        let addresses: Vec<(&str, bool)> = view
            .agents
            .iter()
            .map(|a| (a.address.as_str(), a.dead))
            .collect();
        // Idle `ace` is left out; working `nux` has no session, so it is dead; stuck `max` is
        // shown but not dead (the witness leaves a stuck polecat to a human).
        assert_eq!(
            addresses,
            [("app/polecats/max", false), ("app/polecats/nux", true)]
        );
        assert_eq!((view.dead_agents, view.stuck_agents), (1, 1));
        assert_eq!(view.open_escalations, 1);
        let queue: Vec<(&str, MrState, i64)> = view
            .merge_queue
            .iter()
            .map(|m| (m.label.as_str(), m.mr.state, m.age_seconds))
            .collect();
        assert_eq!(
            queue,
            [
                ("mr-1", MrState::Queued, 90),
                ("mr-2", MrState::Testing, 90)
            ]
        );
        assert!(!view.daemon.running);
        // The JSON keeps the rows' field names and adds the view's.
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["merge_queue"][0]["bead_id"], "hq-1");
        assert_eq!(json["merge_queue"][0]["age_seconds"], 90);
        assert_eq!(json["agents"][1]["session"], "gt-nux");
        assert_eq!(json["agents"][1]["dead"], true);
    }

    #[test]
    fn the_refinery_holder_is_whoever_holds_the_lock_and_only_while_it_does() {
        let dir = tempfile::tempdir().unwrap();
        let town = town(dir.path());
        assert_eq!(crate::refinery::holder(&town, "app"), None);
        let lock = crate::refinery::Refinery::lock(&town, "app").unwrap();
        assert_eq!(
            crate::refinery::holder(&town, "app"),
            Some(std::process::id())
        );
        drop(lock);
        assert_eq!(crate::refinery::holder(&town, "app"), None);
        // A record a killed holder left: its pid is gone, or recycled with another start time.
        let record = crate::refinery::holder_path(&town, "app");
        std::fs::write(&record, format!("{} 1\n", std::process::id())).unwrap();
        assert_eq!(crate::refinery::holder(&town, "app"), None);
        std::fs::write(&record, "999999999 1\n").unwrap();
        assert_eq!(crate::refinery::holder(&town, "app"), None);
    }

    #[test]
    fn age_is_whole_seconds_since_submission_and_never_negative() {
        let now: jiff::Timestamp = "2026-01-01T00:01:05Z".parse().unwrap();
        assert_eq!(age_seconds(now, "2026-01-01T00:00:00Z"), 65);
        assert_eq!(age_seconds(now, "2026-01-01T00:02:00Z"), 0);
        assert_eq!(age_seconds(now, "not a time"), 0);
    }
}
