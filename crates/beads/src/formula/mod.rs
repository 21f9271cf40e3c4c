//! Formulas: workflow templates in TOML (or JSON) that cook into a flat list of steps and
//! instantiate as molecules.
//!
//! - [`model`]: the file format, parsed with serde; unknown keys are errors with a line.
//! - [`load`]: finding formulas by name (rig dir, town dir, then the built-ins).
//! - [`cook`]: resolving `extends`, expansions, aspects, advice, loops, conditions and
//!   overlays, substituting `{{vars}}` and validating the result.
//! - [`vars`]: variable declarations, checks and substitution.
//! - [`expr`]: the tiny integer and condition languages used by loops and `condition`.
//! - [`pattern`]: the small regular-expression subset `pattern` checks use.
//! - [`overlay`]: per-rig formula overlays and role directives.
//!
//! Nothing here touches the store; `ops::molecule` writes cooked formulas as issues.

pub mod cook;
pub mod expr;
pub mod load;
pub mod model;
pub mod overlay;
pub mod pattern;
pub mod vars;

use std::path::PathBuf;

pub use cook::{CookMode, CookOptions, Cooked, CookedGate, CookedStep, cook};
pub use load::{FormulaInfo, Loaded, Loader};
pub use model::{Formula, FormulaType};
pub use overlay::{Overlay, directives, load_overlay};

/// A formula that cannot be found, parsed, resolved or instantiated.
#[derive(Debug, thiserror::Error)]
pub enum FormulaError {
    /// No formula of this name on the search path.
    #[error("no formula named `{name}` (searched {searched})")]
    NotFound { name: String, searched: String },
    /// The formula is wrong: a bad key, a bad reference, a cycle, a missing variable.
    #[error("{}: {message}", location(file, *line))]
    Invalid {
        file: String,
        line: Option<usize>,
        message: String,
    },
    /// A formula file could not be read.
    #[error("cannot read `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl FormulaError {
    /// An error in `file`, at `line` when known.
    pub fn invalid(file: &str, line: Option<usize>, message: impl Into<String>) -> Self {
        Self::Invalid {
            file: file.to_owned(),
            line,
            message: message.into(),
        }
    }
}

/// Reads a formula (or overlay) file as text. Bytes that are not UTF-8 are the file's fault,
/// not the system's: an [`FormulaError::Invalid`] naming the file and the line.
pub(crate) fn read_text(path: &std::path::Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|source| FormulaError::Io {
        path: path.to_owned(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let good = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let line = bytes[..good].iter().filter(|b| **b == b'\n').count() + 1;
        let column = good
            - bytes[..good]
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |p| p + 1)
            + 1;
        FormulaError::invalid(
            &path.display().to_string(),
            Some(line),
            format!(
                "the file is not valid UTF-8 (byte 0x{:02x} at column {column}); save it as UTF-8",
                bytes[good]
            ),
        )
    })
}

fn location(file: &str, line: Option<usize>) -> String {
    match line {
        Some(l) => format!("{file}:{l}"),
        None => file.to_owned(),
    }
}

/// The result type of formula operations.
pub type Result<T, E = FormulaError> = std::result::Result<T, E>;

impl From<FormulaError> for crate::Error {
    fn from(e: FormulaError) -> Self {
        match e {
            FormulaError::Io { path, source } => crate::Error::Io { path, source },
            other => crate::Error::Invalid {
                field: "formula",
                reason: other.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod read_tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_utf8_is_invalid_naming_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("latin.formula.toml");
        std::fs::write(&path, b"formula = \"latin\"\ndescription = \"caf\xe9\"\n").unwrap();
        let err = load::read_file(&path).unwrap_err();
        assert!(
            matches!(err, FormulaError::Invalid { line: Some(2), .. }),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("latin.formula.toml:2")
                && msg.contains("UTF-8")
                && msg.contains("column 19"),
            "{msg}"
        );
        let overlay_dir = dir.path().join(overlay::OVERLAY_DIR);
        std::fs::create_dir_all(&overlay_dir).unwrap();
        std::fs::write(overlay_dir.join("x.toml"), b"\xff").unwrap();
        let err = load_overlay(&[dir.path().to_owned()], "x").unwrap_err();
        assert!(
            matches!(err, FormulaError::Invalid { line: Some(1), .. }),
            "{err:?}"
        );
    }
}
