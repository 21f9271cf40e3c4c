//! Where things live in a town, and the typed files that describe it.
//!
//! ```text
//! <town>/mayor/town.json           TownConfig
//! <town>/mayor/rigs.json           RigsConfig: the registered rigs
//! <town>/settings/config.json      town settings (see `settings`)
//! <town>/settings/agents.json      user agent presets
//! <town>/.beads/beads.db           the one store (prefix `hq` at the root) + routes.jsonl
//! <town>/CLAUDE.md, AGENTS.md      identity anchor: "your role comes from `gt prime`"
//! <town>/.runtime/locks/           lock files
//! <town>/logs/
//! <town>/<rig>/config.json         RigConfig
//! <town>/<rig>/settings/config.json  rig settings
//! <town>/<rig>/.repo.git           bare clone shared by every worktree of the rig
//! <town>/<rig>/refinery/rig        the refinery's worktree on the default branch
//! <town>/<rig>/{polecats,crew,witness}/
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::files::{self, FileError};

/// The town's id prefix.
pub const TOWN_PREFIX: &str = "hq";

/// `mayor/town.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TownConfig {
    #[serde(rename = "type")]
    pub kind: String,
    pub version: u32,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub owner: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub public_name: String,
    #[serde(default)]
    pub created_at: String,
    /// Keys written by other tools, kept as they are.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// `mayor/rigs.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RigsConfig {
    pub version: u32,
    #[serde(default)]
    pub rigs: BTreeMap<String, RigEntry>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// One registered rig.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RigEntry {
    pub git_url: String,
    #[serde(default)]
    pub push_url: String,
    #[serde(default)]
    pub upstream_url: String,
    #[serde(default)]
    pub local_repo: String,
    #[serde(default)]
    pub added_at: String,
    pub beads: RigBeads,
    /// A parked rig takes no new work.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub parked: bool,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A rig's beads settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RigBeads {
    #[serde(default)]
    pub repo: String,
    pub prefix: String,
}

/// `<rig>/config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RigConfig {
    #[serde(rename = "type")]
    pub kind: String,
    pub version: u32,
    pub name: String,
    pub git_url: String,
    #[serde(default)]
    pub push_url: String,
    #[serde(default)]
    pub upstream_url: String,
    #[serde(default)]
    pub local_repo: String,
    pub default_branch: String,
    #[serde(default)]
    pub created_at: String,
    pub beads: RigBeads,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A town on disk.
#[derive(Debug, Clone)]
pub struct Town {
    root: PathBuf,
}

impl Town {
    /// The town rooted at `root` (not checked; see [`crate::discover`]).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn town_json(&self) -> PathBuf {
        self.root.join("mayor/town.json")
    }
    pub fn rigs_json(&self) -> PathBuf {
        self.root.join("mayor/rigs.json")
    }
    pub fn settings_json(&self) -> PathBuf {
        self.root.join("settings/config.json")
    }
    pub fn agents_json(&self) -> PathBuf {
        self.root.join("settings/agents.json")
    }
    pub fn beads_dir(&self) -> PathBuf {
        self.root.join(beads::store::BEADS_DIR)
    }
    pub fn runtime_dir(&self) -> PathBuf {
        self.root.join(".runtime")
    }
    /// `<town>/daemon`: the daemon's lock, pid, socket, log and sentinels.
    pub fn daemon_dir(&self) -> PathBuf {
        self.root.join("daemon")
    }
    /// Written by `gt down` first: while it exists nothing starts or restarts an agent.
    pub fn shutdown_sentinel(&self) -> PathBuf {
        self.daemon_dir().join("shutdown")
    }
    pub fn locks_dir(&self) -> PathBuf {
        self.root.join(".runtime/locks")
    }
    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }
    pub fn rig_dir(&self, rig: &str) -> PathBuf {
        self.root.join(rig)
    }

    /// `mayor/town.json`.
    pub fn config(&self) -> Result<TownConfig, FileError> {
        files::read_json(&self.town_json())
    }

    /// `mayor/rigs.json` (empty if missing). Every rig name is checked as `gt rig add` checks
    /// a typed one, and a rig directory must not lead outside the town (a symlink elsewhere):
    /// a bad entry is an error naming the file and the entry, before anything uses the name.
    pub fn rigs(&self) -> Result<RigsConfig, FileError> {
        let path = self.rigs_json();
        let rigs = files::read_json_opt(&path)?.unwrap_or(RigsConfig {
            version: 1,
            ..RigsConfig::default()
        });
        for name in rigs.rigs.keys() {
            let bad = |message: String| FileError::Invalid {
                path: path.clone(),
                key: format!("rigs.{}", name.escape_debug()),
                message,
            };
            crate::rig::validate_name(name).map_err(|e| bad(e.to_string()))?;
            let dir = self.rig_dir(name);
            if std::fs::symlink_metadata(&dir).is_ok() {
                files::inside(&self.root, &dir).map_err(|e| match e {
                    FileError::Outside { .. } => bad(format!(
                        "the rig directory `{}` leads outside the town (to `{}`)",
                        dir.display(),
                        dir.canonicalize().unwrap_or_else(|_| dir.clone()).display()
                    )),
                    other => other,
                })?;
            }
        }
        Ok(rigs)
    }

    /// Writes `mayor/rigs.json` atomically.
    pub fn save_rigs(&self, rigs: &RigsConfig) -> Result<(), FileError> {
        files::write_json(&self.rigs_json(), rigs)
    }
}

/// Paths inside one rig.
#[derive(Debug, Clone)]
pub struct RigPaths {
    pub dir: PathBuf,
}

impl RigPaths {
    pub fn new(town: &Town, rig: &str) -> Self {
        Self {
            dir: town.rig_dir(rig),
        }
    }
    pub fn config_json(&self) -> PathBuf {
        self.dir.join("config.json")
    }
    pub fn settings_json(&self) -> PathBuf {
        self.dir.join("settings/config.json")
    }
    pub fn bare_repo(&self) -> PathBuf {
        self.dir.join(".repo.git")
    }
    pub fn refinery_worktree(&self) -> PathBuf {
        self.dir.join("refinery/rig")
    }
    pub fn polecats_dir(&self) -> PathBuf {
        self.dir.join("polecats")
    }
    pub fn crew_dir(&self) -> PathBuf {
        self.dir.join("crew")
    }
    pub fn witness_dir(&self) -> PathBuf {
        self.dir.join("witness")
    }

    /// `<rig>/config.json`, its `name` checked like a typed rig name.
    pub fn config(&self) -> Result<RigConfig, FileError> {
        self.config_opt()?.ok_or_else(|| FileError::Io {
            path: self.config_json(),
            source: std::io::ErrorKind::NotFound.into(),
        })
    }

    /// `<rig>/config.json` if it exists, its `name` checked like a typed rig name.
    pub fn config_opt(&self) -> Result<Option<RigConfig>, FileError> {
        let path = self.config_json();
        let Some(config) = files::read_json_opt::<RigConfig>(&path)? else {
            return Ok(None);
        };
        crate::rig::validate_name(&config.name).map_err(|e| FileError::Invalid {
            path,
            key: "name".into(),
            message: e.to_string(),
        })?;
        Ok(Some(config))
    }

    /// Names of the polecats that have a directory (hidden ones skipped), each checked like a
    /// typed polecat name: a directory that is no polecat name is an error naming it.
    pub fn polecat_names(&self) -> Result<Vec<String>, FileError> {
        named_dirs(
            &self.polecats_dir(),
            crate::work::identity::PolecatId::valid_part,
            "not a polecat name: use letters, digits and `_` only",
        )
    }

    /// Names of the crew members that have a directory under `crew/` (hidden ones skipped),
    /// each checked like an address part.
    pub fn crew_names(&self) -> Result<Vec<String>, FileError> {
        named_dirs(
            &self.crew_dir(),
            crate::address::valid_part,
            "not a crew name: use letters, digits, `_` and `-` only",
        )
    }
}

/// The sorted names of the directories in `dir` (none if it does not exist), hidden ones
/// skipped; a name `valid` refuses is an error naming the directory, with `refusal`.
fn named_dirs(
    dir: &Path,
    valid: fn(&str) -> bool,
    refusal: &str,
) -> Result<Vec<String>, FileError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(FileError::Io {
                path: dir.to_owned(),
                source,
            });
        }
    };
    let mut names = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        if !entry.path().is_dir() {
            continue;
        }
        let raw = entry.file_name();
        let name = raw.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        if raw.to_str().is_none() || !valid(&name) {
            return Err(FileError::Invalid {
                path: entry.path(),
                key: String::new(),
                message: refusal.to_owned(),
            });
        }
        names.push(name.into_owned());
    }
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_from_town_files_are_checked_like_typed_ones() {
        let dir = tempfile::tempdir().unwrap();
        let town = Town::at(dir.path());
        let entry = RigEntry {
            git_url: "file:///x".into(),
            beads: RigBeads {
                repo: String::new(),
                prefix: "gt".into(),
            },
            ..RigEntry::default()
        };
        for bad in ["../victim", "/abs/victim", "-rf", "a.b", ""] {
            let mut rigs = RigsConfig {
                version: 1,
                ..RigsConfig::default()
            };
            rigs.rigs.insert(bad.to_owned(), entry.clone());
            town.save_rigs(&rigs).unwrap();
            let msg = town.rigs().unwrap_err().to_string();
            assert!(
                msg.contains("rigs.json") && msg.contains(&format!("`rigs.{bad}`")),
                "{msg}"
            );
        }

        let paths = RigPaths::new(&town, "gastown");
        std::fs::create_dir_all(paths.polecats_dir().join("nux")).unwrap();
        std::fs::create_dir_all(paths.polecats_dir().join(".hidden")).unwrap();
        assert_eq!(paths.polecat_names().unwrap(), ["nux"]);
        std::fs::create_dir_all(paths.polecats_dir().join("$(rm -rf x)")).unwrap();
        let msg = paths.polecat_names().unwrap_err().to_string();
        assert!(msg.contains("$(rm -rf x)"), "{msg}");

        let config = serde_json::json!({
            "type": "rig", "version": 1, "name": "../x", "git_url": "u",
            "default_branch": "main", "beads": {"prefix": "gt"}
        });
        files::write_json(&paths.config_json(), &config).unwrap();
        let msg = paths.config().unwrap_err().to_string();
        assert!(
            msg.contains("config.json") && msg.contains("`name`"),
            "{msg}"
        );
    }
}
