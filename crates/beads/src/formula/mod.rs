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
