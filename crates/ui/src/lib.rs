//! The front end shared by the `gt` and `bd` binaries.
//!
//! Both binaries parse argv with clap, print data to stdout and everything else to stderr,
//! and classify failures the same way. This crate holds that shared shell so the two stay
//! consistent (see STYLE.md):
//!
//! - [`error`]: [`ErrorKind`] (user, usage, internal → exit 1, 2, 3), [`CliError`] for
//!   errors a command raises itself, and rendering as `error:` / `caused by:` / `hint:`.
//! - [`output`]: [`Ui`], the one owner of stdout and stderr.
//! - [`logging`]: `tracing` set up from `GT_LOG` / `BD_LOG`.
//! - [`text`]: aligned tables; store text escaped for the terminal.
//! - [`run`]: the `main` of both binaries: parse, run, classify, exit.

pub mod error;
pub mod logging;
pub mod output;
pub mod run;
pub mod text;

pub use error::{Classified, CliError, ErrorKind, Finished};
pub use output::{ENVELOPE_OPEN, Ui};
pub use run::{App, main};
