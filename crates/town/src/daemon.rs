//! The town daemon: one process per town hosting the factory's long-running duties as
//! supervised threads ([`crate::service`]) — each rig's refinery runner and witness, the
//! deacon's town-wide duties, and the scheduler that dispatches slings queued for capacity.
//!
//! It wakes on pokes, not polls: every command that changes the store pokes the daemon's Unix
//! socket (`<town>/daemon/daemon.sock`) after committing ([`poke`], installed as the store's
//! after-commit hook by the binaries), and the daemon wakes its services. A slow safety tick
//! (`daemon.safety_tick_secs`) catches a lost poke; idle, it sleeps.
//!
//! Files under `<town>/daemon/`: `daemon.lock` (held by the running daemon for its whole life,
//! so "already running" is a lock answer, never a guess from a pid), `daemon.pid`, the socket,
//! `daemon.log` (rotated at start), and two sentinels. `shutdown` is written by `gt down`
//! before it stops anything: while it exists no service starts or restarts an agent (there is
//! one shutdown authority), and `gt down` stops the daemon last. `estop` freezes supervision while every
//! agent is stopped with SIGSTOP (`gt estop`, lifted by `gt thaw`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::layout::Town;
use crate::refinery::runner::{Runner, Step};
use crate::rigctx::RigCtx;
use crate::scheduler::service::SchedulerService;
use crate::service::{
    Factory, Next, RestartPolicy, Service, ServiceError, ServiceStatus, Supervisor, Wake,
};
use crate::witness::{Starter, Witness};

/// Daemon failures.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("the daemon of this town is already running (pid {pid})")]
    AlreadyRunning { pid: String },
    #[error("cannot use `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Lock(#[from] host::lock::LockError),
    #[error(transparent)]
    Rig(#[from] crate::rig::RigError),
    #[error(transparent)]
    File(#[from] crate::files::FileError),
}

/// The daemon's files.
#[derive(Debug, Clone)]
pub struct DaemonFiles {
    pub dir: PathBuf,
}

impl DaemonFiles {
    pub fn of(town: &Town) -> Self {
        Self {
            dir: town.daemon_dir(),
        }
    }
    pub fn lock(&self) -> PathBuf {
        self.dir.join("daemon.lock")
    }
    pub fn pid(&self) -> PathBuf {
        self.dir.join("daemon.pid")
    }
    pub fn socket(&self) -> PathBuf {
        host::wake::town_socket(self.dir.parent().unwrap_or(&self.dir))
    }
    pub fn log(&self) -> PathBuf {
        self.dir.join("daemon.log")
    }
    pub fn estop(&self) -> PathBuf {
        self.dir.join("estop")
    }
}

/// Whether supervision is held off: `gt down` is shutting the town down, or `gt estop` froze it.
pub fn held(town: &Town) -> bool {
    town.shutdown_sentinel().exists() || DaemonFiles::of(town).estop().exists()
}

/// Wakes the town's daemon, if one runs. Never fails and never blocks for long.
pub fn poke(town: &Town) {
    host::wake::send(&DaemonFiles::of(town).socket(), "poke");
}

/// What `gt daemon status` shows.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DaemonStatus {
    pub running: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// Each service and its state, as the supervisor reports it.
    #[serde(default)]
    pub services: Vec<serde_json::Value>,
    /// `gt down` is in progress or done (the shutdown sentinel exists).
    pub shutdown: bool,
    /// `gt estop` froze the agents.
    pub estop: bool,
}

/// Asks the running daemon for its state; a daemon that holds its lock but does not answer is
/// reported running without services.
pub fn status(town: &Town) -> DaemonStatus {
    let files = DaemonFiles::of(town);
    let shutdown = town.shutdown_sentinel().exists();
    let estop = files.estop().exists();
    if let Ok(answer) = host::wake::request(&files.socket(), "status", Duration::from_secs(2))
        && let Ok(mut s) = serde_json::from_str::<DaemonStatus>(&answer)
    {
        s.shutdown = shutdown;
        s.estop = estop;
        return s;
    }
    // Not by taking the lock: that would turn away a daemon starting at this instant.
    let pid = live_pid(&files);
    DaemonStatus {
        running: pid.is_some(),
        pid,
        started_at: None,
        services: Vec::new(),
        shutdown,
        estop,
    }
}

/// The pid the pid file records (`<pid> <start time>`).
fn read_pid(files: &DaemonFiles) -> Option<u32> {
    std::fs::read_to_string(files.pid())
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The recorded daemon's pid, if that process still runs (same pid, same start time).
fn live_pid(files: &DaemonFiles) -> Option<u32> {
    let text = std::fs::read_to_string(files.pid()).ok()?;
    let mut words = text.split_whitespace();
    let pid: u32 = words.next()?.parse().ok()?;
    let start: u64 = words.next()?.parse().ok()?;
    (host::spawn::is_alive(pid) && host::spawn::start_time(pid) == Some(start)).then_some(pid)
}

/// Opens the town's store for a service, acting as the given actor.
pub type StoreOpener = Arc<dyn Fn(&str) -> Result<beads::Store, beads::Error> + Send + Sync>;

/// Builds a town-wide service (the deacon) for the town.
pub type TownService = Arc<dyn Fn(&Town) -> Result<Box<dyn Service>, ServiceError> + Send + Sync>;

/// What the daemon needs from its host binary: how to open the store and start agents.
#[derive(Clone)]
pub struct Options {
    /// Opens the town's store for a service, acting as `actor`.
    pub open_store: StoreOpener,
    /// Builds what a witness needs to start agents.
    pub starter: Arc<dyn Fn() -> Starter + Send + Sync>,
    /// Extra services (the deacon), built with the town.
    pub extra: Vec<(String, TownService)>,
    /// How failing services are restarted; its `tick` is replaced by the safety tick setting.
    pub policy: RestartPolicy,
    /// When the daemon started (shown by `status`).
    pub started_at: String,
}

/// A message to the daemon's main loop.
enum Msg {
    /// Something changed; `from` is the service whose own write it was (not woken by it).
    Poke {
        from: Option<String>,
    },
    Status(host::wake::Message),
    Stop,
}

/// Runs the daemon in this process until `stop`, the shutdown sentinel, or a fatal error.
pub fn run(town: &Town, opts: &Options) -> Result<(), DaemonError> {
    let files = DaemonFiles::of(town);
    std::fs::create_dir_all(&files.dir).map_err(|source| DaemonError::Io {
        path: files.dir.clone(),
        source,
    })?;
    let _lock = match host::lock::try_lock(&files.lock()) {
        Ok(lock) => lock,
        Err(host::lock::LockError::Busy { .. }) => {
            return Err(DaemonError::AlreadyRunning {
                pid: read_pid(&files).map_or_else(|| "unknown".into(), |p| p.to_string()),
            });
        }
        Err(e) => return Err(e.into()),
    };
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| DaemonError::Io { path, source }
    };
    let me = std::process::id();
    let start = host::spawn::start_time(me).unwrap_or(0);
    std::fs::write(files.pid(), format!("{me} {start}\n")).map_err(io(&files.pid()))?;
    let listener = host::wake::Listener::bind(&files.socket()).map_err(io(&files.socket()))?;
    let (tx, rx) = mpsc::channel::<Msg>();
    std::thread::Builder::new()
        .name("listener".into())
        .spawn({
            let tx = tx.clone();
            move || listen(&listener, &tx)
        })
        .map_err(io(&files.socket()))?;

    tracing::info!(town = %town.root().display(), pid = std::process::id(), "daemon started");
    let mut fingerprint = settings_fingerprint(town);
    let tick = safety_tick(town);
    let mut services = start_services(town, opts, &tx, tick)?;
    let mut events = (opts.open_store)("dispatcher").map_err(|e| DaemonError::Io {
        path: town.beads_dir(),
        source: std::io::Error::other(e),
    })?;
    let announce = |store: &mut beads::Store, kind| {
        let detail = serde_json::json!({ "pid": me, "started_at": opts.started_at });
        crate::events::emit(store, kind, beads::ops::happenings::DAEMON_KEY, &detail);
    };
    announce(&mut events, beads::Happening::DaemonStarted);
    let mut cursor = EventCursor::at_end(&events);
    // The shutdown sentinel does not stop the daemon: its services stand still while it exists
    // (nothing restarts an agent), and `gt down` stops the daemon last, by asking.
    loop {
        match rx.recv_timeout(tick) {
            // A command's poke wakes everyone (it may have changed files, not only rows); a
            // service's own commit wakes the others only if it recorded events.
            Ok(Msg::Poke { from: None }) => {
                cursor.advance(&events);
                services.notify_except(None);
            }
            Ok(Msg::Poke { from: Some(from) }) => {
                if cursor.advance(&events) {
                    services.notify_except(Some(&from));
                }
            }
            Ok(Msg::Status(message)) => {
                let state = DaemonStatus {
                    running: true,
                    pid: Some(std::process::id()),
                    started_at: Some(opts.started_at.clone()),
                    services: services
                        .statuses()
                        .iter()
                        .map(|s: &ServiceStatus| serde_json::to_value(s).unwrap_or_default())
                        .collect(),
                    shutdown: town.shutdown_sentinel().exists(),
                    estop: files.estop().exists(),
                };
                message.reply(&serde_json::to_string(&state).unwrap_or_default());
            }
            Ok(Msg::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // Changes whose poke was lost (or that came from a writer that cannot poke).
                if cursor.advance(&events) {
                    services.notify_except(None);
                }
                let now = settings_fingerprint(town);
                if now != fingerprint {
                    tracing::info!("settings or rigs changed; restarting the services");
                    fingerprint = now;
                    services.stop();
                    services = start_services(town, opts, &tx, safety_tick(town))?;
                }
            }
        }
    }
    services.stop();
    announce(&mut events, beads::Happening::DaemonStopped);
    let _ = std::fs::remove_file(files.pid());
    tracing::info!("daemon stopped");
    Ok(())
}

/// The last store event the daemon has woken its services for.
struct EventCursor(i64);

impl EventCursor {
    fn at_end(store: &beads::Store) -> Self {
        Self(store.last_event_id().unwrap_or(0))
    }

    /// Moves to the newest event; whether there were events past the cursor.
    fn advance(&mut self, store: &beads::Store) -> bool {
        match store.events_after(self.0, 1) {
            Ok(newer) if !newer.is_empty() => {
                self.0 = store.last_event_id().unwrap_or(self.0);
                true
            }
            Ok(_) => false,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the store's events; waking everyone");
                true
            }
        }
    }
}

fn listen(listener: &host::wake::Listener, tx: &mpsc::Sender<Msg>) {
    while let Ok(message) = listener.next() {
        let msg = match message.text.as_str() {
            "poke" => Msg::Poke { from: None },
            "status" => Msg::Status(message),
            "stop" => {
                message.reply("stopping");
                Msg::Stop
            }
            other => {
                tracing::debug!(message = other, "unknown message ignored");
                continue;
            }
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
}

fn safety_tick(town: &Town) -> Duration {
    let secs = crate::settings::resolve(&crate::settings::Sources {
        town: Some(&town.settings_json()),
        env: Some(&crate::rigctx::process_env),
        ..Default::default()
    })
    .map_or(30, |e| e.settings.daemon.safety_tick_secs);
    Duration::from_secs(secs.max(1))
}

/// The named, supervised services, woken together or all but one.
struct Services {
    supervisor: Supervisor,
    names: Vec<String>,
}

impl Services {
    fn notify_except(&self, from: Option<&str>) {
        self.supervisor.notify_where(|name| Some(name) != from);
    }
    fn statuses(&self) -> Vec<ServiceStatus> {
        self.supervisor.statuses()
    }
    fn stop(self) {
        tracing::debug!(services = ?self.names, "stopping services");
        self.supervisor.stop();
    }
}

fn start_services(
    town: &Town,
    opts: &Options,
    tx: &mpsc::Sender<Msg>,
    tick: Duration,
) -> Result<Services, DaemonError> {
    let policy = RestartPolicy {
        tick,
        ..opts.policy.clone()
    };
    let mut supervisor = Supervisor::new();
    let mut names = Vec::new();
    let rigs = town.rigs()?;
    let mut spawn = |name: String, factory: Factory| -> Result<(), DaemonError> {
        supervisor
            .spawn(&name, factory, Wake::new(), policy.clone())
            .map_err(|source| DaemonError::Io {
                path: town.daemon_dir(),
                source,
            })?;
        names.push(name);
        Ok(())
    };
    for (rig, entry) in &rigs.rigs {
        if entry.parked {
            continue;
        }
        let name = format!("refinery:{rig}");
        spawn(name.clone(), {
            let (town, rig, opts, tx) = (town.clone(), rig.clone(), opts.clone(), tx.clone());
            Box::new(move || {
                let ctx = RigCtx::load(&town, &rig, Some(&crate::rigctx::process_env))?;
                let store = service_store(&opts, "refinery", &name, &tx)?;
                Ok(
                    Box::new(RefineryService(Runner::new(town.clone(), ctx, store)))
                        as Box<dyn Service>,
                )
            })
        })?;
        let name = format!("witness:{rig}");
        spawn(name.clone(), {
            let (town, rig, opts, tx) = (town.clone(), rig.clone(), opts.clone(), tx.clone());
            Box::new(move || {
                let ctx = RigCtx::load(&town, &rig, Some(&crate::rigctx::process_env))?;
                let store = service_store(&opts, "witness", &name, &tx)?;
                Ok(Box::new(Witness::new(
                    town.clone(),
                    ctx,
                    store,
                    (opts.starter)(),
                    Box::new(host::clock::SystemClock),
                )) as Box<dyn Service>)
            })
        })?;
    }
    for (name, build) in &opts.extra {
        let (town, build) = (town.clone(), Arc::clone(build));
        spawn(name.clone(), Box::new(move || build(&town)))?;
    }
    // The dispatcher of the sling queue; its commits (each dispatch) wake the witnesses.
    let name = "scheduler".to_owned();
    spawn(name.clone(), {
        let (town, opts, tx) = (town.clone(), opts.clone(), tx.clone());
        Box::new(move || {
            let store = service_store(&opts, "scheduler", &name, &tx)?;
            Ok(Box::new(SchedulerService::new(
                town.clone(),
                store,
                (opts.starter)(),
                Box::new(host::clock::SystemClock),
            )) as Box<dyn Service>)
        })
    })?;
    Ok(Services { supervisor, names })
}

/// A service's own store handle: its commits wake the other services, not itself.
fn service_store(
    opts: &Options,
    actor: &str,
    name: &str,
    tx: &mpsc::Sender<Msg>,
) -> Result<beads::Store, beads::Error> {
    let mut store = (opts.open_store)(actor)?;
    let (tx, from) = (std::sync::Mutex::new(tx.clone()), name.to_owned());
    store.after_commit(move || {
        if let Ok(tx) = tx.lock() {
            let _ = tx.send(Msg::Poke {
                from: Some(from.clone()),
            });
        }
    });
    Ok(store)
}

/// The refinery runner as a daemon service.
struct RefineryService(Runner);

impl Service for RefineryService {
    fn step(&mut self) -> Result<Next, ServiceError> {
        Ok(match self.0.step() {
            Step::Worked(_) => Next::Busy,
            Step::Idle | Step::Paused(_) => Next::Idle,
            Step::Waiting(poll) => Next::After(poll),
            // A `gt refinery run` in a terminal has the queue; look again at the tick.
            Step::Elsewhere => Next::Idle,
            Step::Failed { retry_in, .. } => Next::After(retry_in),
        })
    }
}

/// What the daemon's services are built from: a change restarts them (config drift).
fn settings_fingerprint(town: &Town) -> BTreeMap<PathBuf, Option<(SystemTime, u64)>> {
    let mut paths = vec![town.settings_json(), town.root().join("mayor/rigs.json")];
    if let Ok(rigs) = town.rigs() {
        for rig in rigs.rigs.keys() {
            let rp = crate::layout::RigPaths::new(town, rig);
            paths.push(rp.settings_json());
            paths.push(rp.config_json());
        }
    }
    paths
        .into_iter()
        .map(|p| {
            let meta = std::fs::metadata(&p)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())));
            (p, meta)
        })
        .collect()
}

/// Moves `log` to `log.1` (dropping the older one) when it has grown past `max_bytes`.
pub fn rotate_log(log: &Path, max_bytes: u64) -> std::io::Result<()> {
    match std::fs::metadata(log) {
        Ok(m) if m.len() > max_bytes => std::fs::rename(log, log.with_extension("log.1")),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_is_rotated_only_past_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("daemon.log");
        rotate_log(&log, 10).unwrap();
        std::fs::write(&log, "short").unwrap();
        rotate_log(&log, 10).unwrap();
        assert!(log.exists());
        std::fs::write(&log, "a longer line of log").unwrap();
        rotate_log(&log, 10).unwrap();
        assert!(!log.exists());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("daemon.log.1")).unwrap(),
            "a longer line of log"
        );
    }
}
