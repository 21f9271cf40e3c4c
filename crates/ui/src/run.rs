//! The shared `main`: parse argv, set up logging, run the command, turn the outcome into an
//! exit code.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind as ClapKind;

use crate::error::{self, Classifier};
use crate::output::Ui;

/// What differs between `gt` and `bd`.
#[derive(Debug, Clone, Copy)]
pub struct App {
    /// The environment variable holding the log filter.
    pub log_env: &'static str,
    /// The binary's classifier for library errors.
    pub classifier: Classifier,
}

/// Runs a binary: parses `C` from argv, then `command(cli, ui)`, and maps the result to an
/// exit code (0, or 1/2/3 by [`error::ErrorKind`]). A closed stdout exits 0 quietly.
pub fn main<C, F>(app: App, command: F) -> ExitCode
where
    C: Parser,
    F: FnOnce(C, &mut Ui) -> anyhow::Result<()>,
{
    let mut ui = Ui::new();
    let cli = match C::try_parse() {
        Ok(cli) => cli,
        Err(err) => return clap_exit(&mut ui, &err),
    };
    crate::logging::init(app.log_env);
    let result = command(cli, &mut ui).and_then(|()| ui.flush().map_err(anyhow::Error::from));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if error::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let classified = error::classify(&err, app.classifier);
            // Data already written stays valid; flush it before the report.
            let _ = ui.flush();
            if ui.is_json() {
                ui.stderr_raw(&error::render_json(&err, &classified));
            } else {
                ui.error_report(&error::render(&err, &classified));
            }
            ExitCode::from(classified.kind.exit_code())
        }
    }
}

/// Help and version go to stdout and exit 0; every other clap error is a usage error (2).
fn clap_exit(ui: &mut Ui, err: &clap::Error) -> ExitCode {
    match err.kind() {
        ClapKind::DisplayHelp | ClapKind::DisplayVersion => {
            let text = err.render().to_string();
            // A closed pipe (`gt --version | head -c1`) is not an error.
            let _ = ui
                .out()
                .write_all(text.as_bytes())
                .and_then(|()| ui.flush());
            ExitCode::SUCCESS
        }
        _ => {
            let rendered = if ui.color() {
                err.render().ansi().to_string()
            } else {
                err.render().to_string()
            };
            ui.stderr_raw(&rendered);
            ExitCode::from(error::ErrorKind::Usage.exit_code())
        }
    }
}
