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

    /// `mayor/rigs.json` (empty if missing).
    pub fn rigs(&self) -> Result<RigsConfig, FileError> {
        Ok(
            files::read_json_opt(&self.rigs_json())?.unwrap_or(RigsConfig {
                version: 1,
                ..RigsConfig::default()
            }),
        )
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

    /// Names of the polecats that have a directory.
    pub fn polecat_names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.polecats_dir())
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}
