//! Formula overlays (`formula-overlays/<formula>.toml`: replace, append to or skip steps by
//! id) and role directives (`directives/<role>.md`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::model::line_at;
use super::{FormulaError, Result};

/// The folder, under a town or rig directory, that holds overlays.
pub const OVERLAY_DIR: &str = "formula-overlays";
/// The folder, under a town or rig directory, that holds role directives.
pub const DIRECTIVES_DIR: &str = "directives";

/// Local changes to a formula's steps.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overlay {
    #[serde(default, rename = "step-overrides")]
    pub step_overrides: Vec<StepOverride>,
    /// The file it came from, for errors.
    #[serde(skip)]
    pub file: String,
    /// Its text, for line numbers.
    #[serde(skip)]
    pub text: String,
}

/// How an override changes its step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OverrideMode {
    /// Replace the description (and the title, when given).
    #[default]
    Replace,
    /// Add the description after the step's own.
    Append,
    /// Drop the step; its dependents inherit what it needed.
    Skip,
}

/// One step override.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepOverride {
    pub step_id: String,
    #[serde(default)]
    pub mode: OverrideMode,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
}

impl Overlay {
    /// Parses overlay TOML; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self> {
        let mut o: Overlay = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_at(text, s.start));
            FormulaError::invalid(
                file,
                line,
                e.message().replace("unknown field", "unknown key"),
            )
        })?;
        o.file = file.to_owned();
        o.text = text.to_owned();
        Ok(o)
    }

    /// The line overriding `step_id`, if found.
    pub fn line_of(&self, step_id: &str) -> Option<usize> {
        super::model::line_of(&self.text, "step_id", step_id)
    }
}

/// The overlay for `formula` from the first of `dirs` (rig before town) that has one: a rig
/// overlay replaces the town's entirely. Each dir is a town or rig root.
pub fn load_overlay(dirs: &[PathBuf], formula: &str) -> Result<Option<Overlay>> {
    for dir in dirs {
        let path = dir.join(OVERLAY_DIR).join(format!("{formula}.toml"));
        if path.is_file() {
            let text = read(&path)?;
            return Overlay::parse(&text, &path.display().to_string()).map(Some);
        }
    }
    Ok(None)
}

/// The directives for `role`: every `directives/<role>.md` among `dirs` (rig before town),
/// concatenated town first so the rig's words come last and win.
pub fn directives(dirs: &[PathBuf], role: &str) -> Result<String> {
    let mut parts = Vec::new();
    for dir in dirs.iter().rev() {
        let path = dir.join(DIRECTIVES_DIR).join(format!("{role}.md"));
        if path.is_file() {
            let text = read(&path)?;
            let text = text.trim();
            if !text.is_empty() {
                parts.push(text.to_owned());
            }
        }
    }
    Ok(parts.join("\n\n"))
}

fn read(path: &Path) -> Result<String> {
    super::read_text(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlays_parse_modes_and_reject_unknown_keys() {
        let o = Overlay::parse(
            "[[step-overrides]]\nstep_id = \"build\"\nmode = \"append\"\ndescription = \"x\"\n",
            "o.toml",
        )
        .unwrap();
        assert_eq!(o.step_overrides[0].mode, OverrideMode::Append);
        assert_eq!(o.line_of("build"), Some(2));
        let err = Overlay::parse("[[step-overrides]]\nstep = \"b\"\n", "o.toml")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("o.toml:2: unknown key `step`"), "{err}");
    }

    #[test]
    fn rig_overlay_wins_and_directives_concatenate_rig_last() {
        let town = tempfile::TempDir::new().unwrap();
        let rig = tempfile::TempDir::new().unwrap();
        for (dir, word) in [(&town, "town"), (&rig, "rig")] {
            std::fs::create_dir_all(dir.path().join(OVERLAY_DIR)).unwrap();
            std::fs::write(
                dir.path().join(OVERLAY_DIR).join("f.toml"),
                format!("[[step-overrides]]\nstep_id = \"{word}\"\nmode = \"skip\"\n"),
            )
            .unwrap();
            std::fs::create_dir_all(dir.path().join(DIRECTIVES_DIR)).unwrap();
            std::fs::write(
                dir.path().join(DIRECTIVES_DIR).join("polecat.md"),
                format!("from {word}\n"),
            )
            .unwrap();
        }
        let dirs = vec![rig.path().to_owned(), town.path().to_owned()];
        let o = load_overlay(&dirs, "f").unwrap().unwrap();
        assert_eq!(o.step_overrides[0].step_id, "rig");
        assert!(load_overlay(&dirs, "other").unwrap().is_none());
        assert_eq!(
            directives(&dirs, "polecat").unwrap(),
            "from town\n\nfrom rig"
        );
        assert_eq!(directives(&dirs, "mayor").unwrap(), "");
    }
}
