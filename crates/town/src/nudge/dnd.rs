//! Do not disturb, per identity: `<town>/.runtime/dnd.json` lists the addresses that asked not
//! to be nudged. A nudge to one of them is queued (drained at its own turn boundary) unless
//! forced; the daemon never pushes a queue into it.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::NudgeError;
use crate::address::Address;
use crate::layout::Town;

#[derive(Debug, Default, Serialize, Deserialize)]
struct DndFile {
    /// Canonical addresses with do-not-disturb on.
    on: BTreeSet<String>,
}

fn path(town: &Town) -> PathBuf {
    town.runtime_dir().join("dnd.json")
}

/// Whether `who` has do-not-disturb on.
pub fn is_on(town: &Town, who: &Address) -> Result<bool, NudgeError> {
    let file: Option<DndFile> = crate::files::read_json_opt(&path(town))?;
    Ok(file.is_some_and(|f| f.on.contains(&who.canonical())))
}

/// Turns do-not-disturb on or off for `who`; returns whether it changed.
pub fn set(town: &Town, who: &Address, on: bool) -> Result<bool, NudgeError> {
    let lock = town.locks_dir().join("dnd.lock");
    std::fs::create_dir_all(town.locks_dir()).map_err(|source| NudgeError::Io {
        path: town.locks_dir(),
        source,
    })?;
    let _guard = host::lock::lock_timeout(&lock, Duration::from_secs(10)).map_err(|source| {
        NudgeError::Lock {
            session: "dnd".to_owned(),
            source,
        }
    })?;
    let mut file: DndFile = crate::files::read_json_opt(&path(town))?.unwrap_or_default();
    let changed = if on {
        file.on.insert(who.canonical())
    } else {
        file.on.remove(&who.canonical())
    };
    if changed {
        crate::files::write_json(&path(town), &file)?;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dnd_is_per_identity_and_survives_rereads() {
        let dir = tempfile::tempdir().unwrap();
        let town = Town::at(dir.path());
        let nux = Address::parse("gastown/nux").unwrap();
        let max = Address::parse("gastown/crew/max").unwrap();
        assert!(!is_on(&town, &nux).unwrap());
        assert!(set(&town, &nux, true).unwrap());
        assert!(!set(&town, &nux, true).unwrap(), "already on");
        assert!(is_on(&town, &Address::parse("gastown/polecats/nux").unwrap()).unwrap());
        assert!(!is_on(&town, &max).unwrap());
        assert!(set(&town, &nux, false).unwrap());
        assert!(!is_on(&town, &nux).unwrap());
    }
}
