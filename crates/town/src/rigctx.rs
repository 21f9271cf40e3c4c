//! A rig resolved once: its registration, configuration, paths and effective settings.
//!
//! Every command and service that works in a rig builds one [`RigCtx`] and passes it down, so
//! the settings a refinery or a sling acts on are exactly the ones `gt config get` shows:
//! the same layers (defaults < town < rig < `GT_*` environment), read once.

use crate::layout::{RigConfig, RigEntry, RigPaths, Town};
use crate::settings::{self, EnvLookup, Settings};

/// Failure to resolve a rig.
#[derive(Debug, thiserror::Error)]
pub enum RigCtxError {
    #[error(transparent)]
    Rig(#[from] crate::rig::RigError),
    #[error(transparent)]
    File(#[from] crate::files::FileError),
    #[error(transparent)]
    Settings(#[from] settings::SettingsError),
}

/// One rig, resolved.
#[derive(Debug, Clone)]
pub struct RigCtx {
    pub name: String,
    /// Its registration in `mayor/rigs.json`.
    pub entry: RigEntry,
    /// `<rig>/config.json`.
    pub config: RigConfig,
    pub paths: RigPaths,
    /// Defaults < town < rig < `env`.
    pub settings: Settings,
}

impl RigCtx {
    /// Resolves `rig` of `town`; `env` is the `GT_*` override layer (`None` for none).
    pub fn load(town: &Town, rig: &str, env: Option<EnvLookup<'_>>) -> Result<Self, RigCtxError> {
        let entry = crate::rig::entry(town, rig)?;
        let paths = RigPaths::new(town, rig);
        let config = paths.config()?;
        let effective = settings::resolve(&settings::Sources {
            town: Some(&town.settings_json()),
            rig: Some(&paths.settings_json()),
            env,
            flags: &[],
        })?;
        Ok(Self {
            name: rig.to_owned(),
            entry,
            config,
            paths,
            settings: effective.settings,
        })
    }

    /// The rig's bead id prefix.
    pub fn prefix(&self) -> &str {
        &self.entry.beads.prefix
    }

    /// The branch changes land on.
    pub fn target(&self) -> &str {
        &self.config.default_branch
    }
}

/// The `GT_*` override layer from the process environment: what the binaries pass.
pub fn process_env(name: &str) -> Option<String> {
    host::env::var(name)
}
