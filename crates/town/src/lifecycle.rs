//! Bringing a town's factory down and up, and freezing it: `gt down`, `gt up`, `gt estop`,
//! `gt thaw`.
//!
//! `down` is the one shutdown authority. It writes the shutdown sentinel before anything else
//! (from then on nothing restarts an agent: the witness checks it before every restart and the
//! daemon exits on it), stops every agent session with its whole process tree, then stops the
//! daemon last. The polecats it stopped keep their rows, worktrees and hooks, and are held: the
//! witness leaves them alone until `gt up --restore` releases them (or they are slung again).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::daemon::{self, DaemonFiles};
use crate::layout::Town;
use crate::runtime::{Runtime, Runtimes};

/// The kv key of the polecats `gt down` stopped: `rig/name` → the generation it stopped.
const HOLDS_KEY: &str = "witness.holds";

/// How long an agent gets to exit after SIGTERM before SIGKILL.
const AGENT_GRACE: Duration = Duration::from_secs(3);

/// How long `down` waits for the daemon to exit after asking it to.
const DAEMON_GRACE: Duration = Duration::from_secs(10);

/// Lifecycle failures.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("cannot write `{}`", path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] beads::Error),
    #[error("the daemon (pid {pid}) did not stop")]
    DaemonSurvived { pid: u32 },
    #[error(transparent)]
    Spawn(#[from] host::spawn::SpawnError),
}

type Result<T, E = LifecycleError> = std::result::Result<T, E>;

/// The polecats `gt down` stopped and the witness must not restart, by `rig/name`.
pub fn holds(store: &beads::Store) -> Result<BTreeMap<String, i64>> {
    Ok(store
        .kv_get(HOLDS_KEY)?
        .and_then(|v| serde_json::from_str(&v).ok())
        .unwrap_or_default())
}

/// Whether `polecat`'s current generation is held by `gt down`.
pub fn is_held(holds: &BTreeMap<String, i64>, polecat: &beads::Polecat) -> bool {
    holds.get(&format!("{}/{}", polecat.rig, polecat.name)) == Some(&polecat.generation)
}

/// What `gt down` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DownReport {
    /// Sessions stopped, by polecat address.
    pub stopped: Vec<String>,
    /// Whether a daemon was running and was stopped.
    pub daemon_stopped: bool,
}

fn write_file(path: &std::path::Path, text: &str) -> Result<()> {
    let io = |source| LifecycleError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    std::fs::write(path, text).map_err(io)
}

/// `gt down`: sentinel first, then every agent (whole process trees), then the daemon.
pub fn down(town: &Town, store: &mut beads::Store, runtimes: &Runtimes) -> Result<DownReport> {
    write_file(&town.shutdown_sentinel(), "gt down\n")?;
    let mut report = DownReport::default();
    let mut held = holds(store)?;
    for p in store.polecats(None)? {
        if p.session.is_empty() {
            continue;
        }
        let runtime = runtimes.get(&p.runtime);
        let Ok(Some(pid)) = runtime.pid(&p.session) else {
            continue;
        };
        if !p.bead_id.is_empty() {
            held.insert(format!("{}/{}", p.rig, p.name), p.generation);
        }
        // The tree first: tool processes an agent detached from its group die with it.
        if let Err(e) = host::spawn::kill_tree(pid, AGENT_GRACE) {
            tracing::warn!(session = %p.session, error = %e, "could not kill the agent's processes");
        }
        if let Err(e) = runtime.stop(&p.session) {
            tracing::warn!(session = %p.session, error = %e, "could not stop the session");
        }
        report
            .stopped
            .push(format!("{}/polecats/{}", p.rig, p.name));
    }
    store.kv_set(HOLDS_KEY, &serde_json::to_string(&held).unwrap_or_default())?;
    // The mayor and crew members that were wanted are held, so `gt up` knows whom to bring
    // back, and the keeper (stopping with the daemon) never races the sweep below.
    store.move_role_agents(None, beads::Desired::Running, beads::Desired::Held)?;
    for row in store.role_agents()? {
        if crate::roles::stop_session(runtimes, &row) {
            report.stopped.push(row.address.clone());
        }
    }
    // Sessions of this town no polecat row names (a nuke cut short): none stays behind.
    let tmux = runtimes.tmux();
    for name in tmux.town_sessions().unwrap_or_default() {
        if let Ok(Some(pid)) = tmux.pid(&name) {
            let _ = host::spawn::kill_tree(pid, AGENT_GRACE);
        }
        if tmux.stop(&name).is_ok() {
            report.stopped.push(name);
        }
    }
    // Whatever an agent left running outside its session (a tool it detached) goes too.
    let strays = crate::deacon::town_agent_processes(town.root());
    if !strays.is_empty() {
        tracing::info!(
            count = strays.len(),
            "stopping agent processes left outside sessions"
        );
        host::procs::kill_all(&strays, AGENT_GRACE)?;
    }
    report.daemon_stopped = stop_daemon(town)?;
    Ok(report)
}

/// Asks the daemon to stop and waits for it to release its lock; kills it if it will not.
/// Returns whether one was running.
pub fn stop_daemon(town: &Town) -> Result<bool> {
    let files = DaemonFiles::of(town);
    let status = daemon::status(town);
    if !status.running {
        return Ok(false);
    }
    let _ = host::wake::request(&files.socket(), "stop", Duration::from_secs(2));
    let deadline = Instant::now() + DAEMON_GRACE;
    while Instant::now() < deadline {
        if !daemon::status(town).running {
            return Ok(true);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let Some(pid) = status.pid else {
        return Ok(true);
    };
    tracing::warn!(pid, "the daemon did not stop when asked; killing it");
    host::spawn::kill_group(pid, Duration::from_secs(2))?;
    if daemon::status(town).running {
        return Err(LifecycleError::DaemonSurvived { pid });
    }
    Ok(true)
}

/// `gt up`'s part before the daemon starts: lift the shutdown sentinel and, with `mayor`,
/// want the mayor running again if `gt down` held it; with `restore`, also release the polecats and crew
/// members `gt down` stopped, so the witness and the keeper restart them. Returns the released
/// polecats and crew members.
pub fn lift(
    town: &Town,
    store: &mut beads::Store,
    restore: bool,
    mayor: bool,
) -> Result<Vec<String>> {
    match std::fs::remove_file(town.shutdown_sentinel()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(LifecycleError::Io {
                path: town.shutdown_sentinel(),
                source,
            });
        }
    }
    if mayor {
        store.move_role_agents(
            Some(beads::RoleKind::Mayor),
            beads::Desired::Held,
            beads::Desired::Running,
        )?;
    }
    if !restore {
        return Ok(Vec::new());
    }
    let mut released: Vec<String> = holds(store)?.into_keys().collect();
    store.kv_clear(HOLDS_KEY)?;
    released.extend(store.move_role_agents(
        Some(beads::RoleKind::Crew),
        beads::Desired::Held,
        beads::Desired::Running,
    )?);
    Ok(released)
}

/// `gt estop` (`freeze`) and `gt thaw`: stop or continue every agent's process tree; the
/// sentinel keeps the witness from judging frozen agents while it exists. Returns the
/// sessions signalled.
pub fn freeze(
    town: &Town,
    store: &beads::Store,
    runtimes: &Runtimes,
    freeze: bool,
) -> Result<Vec<String>> {
    let sentinel = DaemonFiles::of(town).estop();
    if freeze {
        write_file(&sentinel, "gt estop\n")?;
    }
    let mut signalled = Vec::new();
    for p in store.polecats(None)? {
        if p.session.is_empty() {
            continue;
        }
        match runtimes.get(&p.runtime).freeze(&p.session, freeze) {
            Ok(true) => signalled.push(p.session.clone()),
            Ok(false) => {}
            Err(e) => tracing::warn!(session = %p.session, error = %e, "could not freeze or thaw"),
        }
    }
    if !freeze {
        match std::fs::remove_file(&sentinel) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(LifecycleError::Io {
                    path: sentinel,
                    source,
                });
            }
        }
    }
    Ok(signalled)
}
