//! Gas Town orchestration.
//!
//! - [`address`]: who an agent or the human is, as mail, nudges and escalations name them.
//! - [`discover`]: find the town that contains a directory.
//! - [`files`]: typed JSON files, validated at load, written atomically.
//! - [`settings`]: layered settings (defaults < town < rig < env < flags) with sources.
//! - [`layout`]: where things live in a town; its typed files.
//! - [`install`]: `gt install`, creating or repairing a town.
//! - [`rig`]: adding, listing, removing and parking rigs.
//! - [`rigctx`]: a rig resolved once (registration, config, paths, settings) and passed down.
//! - [`doctor`]: `gt doctor`, checks and safe repairs.
//! - [`refinery`]: the merge queue as a state machine (batching, bisection, landing).
//! - [`work`]: the work loop — sling, prime, done.
//! - [`daemon`]: the town daemon hosting the refinery runners, witnesses and deacon.
//! - [`mail`]: durable mail: addresses resolved and checked, lists, queues, broadcasts,
//!   protocol mail and its collection.
//! - [`lifecycle`]: `gt down`/`gt up`/`gt estop`/`gt thaw`: the one shutdown authority.
//! - [`witness`]: per-rig supervision of polecats (restart, wake, nudge, escalate).
//! - [`agents`]: agent presets and the one resolver every agent start goes through.
//! - [`namepool`]: polecat name pools and name allocation.
//! - [`service`]: long-running services on supervised threads, woken by events (the daemon).
//! - [`notices`]: the protocol mail the refinery sends (MERGED, FIX_NEEDED, convoy landed).
//! - [`deacon`]: the daemon's housekeeping: idle sessions, orphan processes, merged branches,
//!   old wisps.
//! - [`roster`]: the town's agents (mayor, deacon, crew, polecats) and their sessions.
//! - [`runtime`]: agent sessions in tmux or as headless subprocesses (the `Runtime` trait).
//! - [`views`]: what status commands show, as serialisable read models (CLI, daemon, dashboard).
//!
//! A town is a directory holding `mayor/town.json`; everything else (rigs, agents, the
//! merge queue) lives under it.

pub mod address;
pub mod agent_env;
pub mod agents;
pub mod costs;
pub mod daemon;
pub mod deacon;
pub mod doctor;
pub mod escalation;
pub mod events;
pub mod files;
pub mod forge;
pub mod install;
pub mod layout;
pub mod lifecycle;
pub mod mail;
pub mod namepool;
pub mod notices;
pub mod nudge;
pub mod refinery;
pub mod rig;
pub mod rigctx;
pub mod roles;
pub mod roster;
pub mod runtime;
pub mod scheduler;
pub mod service;
pub mod settings;
pub mod views;
pub mod witness;
pub mod work;

use std::path::{Path, PathBuf};

/// The file whose presence marks a town root.
pub const TOWN_MARKER: &str = "mayor/town.json";

/// Errors finding or reading a town.
#[derive(Debug, thiserror::Error)]
pub enum TownError {
    /// No town contains the directory.
    #[error("not inside a Gas Town: no `{TOWN_MARKER}` in `{}` or any parent", start.display())]
    NotInTown { start: PathBuf },
    /// An explicitly named town root is not a town.
    #[error("`{}` is not a town root: `{TOWN_MARKER}` is missing", path.display())]
    NotATown { path: PathBuf },
}

/// The town root: `explicit` (from `GT_TOWN_ROOT`) if given, which must be a town, else the
/// nearest ancestor of `start` (inclusive) holding [`TOWN_MARKER`].
pub fn discover(explicit: Option<&Path>, start: &Path) -> Result<PathBuf, TownError> {
    if let Some(path) = explicit {
        return if path.join(TOWN_MARKER).is_file() {
            Ok(path.to_owned())
        } else {
            Err(TownError::NotATown {
                path: path.to_owned(),
            })
        };
    }
    start
        .ancestors()
        .find(|dir| dir.join(TOWN_MARKER).is_file())
        .map(Path::to_owned)
        .ok_or_else(|| TownError::NotInTown {
            start: start.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make_town(root: &Path) {
        std::fs::create_dir_all(root.join("mayor")).unwrap();
        std::fs::write(root.join(TOWN_MARKER), "{}").unwrap();
    }

    #[test]
    fn finds_the_town_from_a_nested_directory() {
        let dir = tempfile::tempdir().unwrap();
        make_town(dir.path());
        let nested = dir.path().join("rig/polecats/nux");
        std::fs::create_dir_all(&nested).unwrap();
        assert_eq!(discover(None, &nested).unwrap(), dir.path());
    }

    #[test]
    fn outside_a_town_is_an_error_naming_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let err = discover(None, dir.path()).unwrap_err();
        assert!(err.to_string().contains(&dir.path().display().to_string()));
    }

    #[test]
    fn explicit_root_must_be_a_town() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            discover(Some(dir.path()), dir.path()),
            Err(TownError::NotATown { .. })
        ));
        make_town(dir.path());
        assert_eq!(
            discover(Some(dir.path()), Path::new("/")).unwrap(),
            dir.path()
        );
    }
}
