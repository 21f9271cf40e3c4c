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
    /// The binary's name and version, as `--version` prints them.
    pub name: &'static str,
    pub version: &'static str,
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
    // `--version` alone answers before clap builds the whole command tree, which costs more
    // than everything else a version check does (the tree grows with every subcommand).
    if is_bare_version_request() {
        let line = format!("{} {}\n", app.name, app.version);
        // A closed pipe (`bd --version | head -c1`) is not an error.
        let _ = ui
            .out()
            .write_all(line.as_bytes())
            .and_then(|()| ui.flush());
        return ExitCode::SUCCESS;
    }
    let cli = match parse::<C>() {
        Ok(cli) => cli,
        Err(err) => return clap_exit(&mut ui, &err),
    };
    crate::logging::init(app.log_env);
    let result = command(cli, &mut ui).and_then(|()| ui.flush().map_err(anyhow::Error::from));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if error::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) if err.downcast_ref::<error::Finished>().is_some() => {
            let _ = ui.flush();
            ExitCode::from(err.downcast_ref::<error::Finished>().map_or(1, |f| f.code))
        }
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
        _ if argv_wants_json() => {
            ui.stderr_raw(&usage_json(err));
            ExitCode::from(error::ErrorKind::Usage.exit_code())
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

/// `C::try_parse()`, without dropping clap's command tree afterwards: with every subcommand
/// and its arguments, freeing the tree costs as much as a quick command's own work, and the
/// process ends soon anyway.
fn parse<C: Parser>() -> Result<C, clap::Error> {
    let mut command = C::command();
    let parsed = command
        .try_get_matches_from_mut(std::env::args_os())
        .and_then(|mut matches| C::from_arg_matches_mut(&mut matches))
        .map_err(|e| e.format(&mut command));
    std::mem::forget(command);
    parsed
}

/// Whether the command line is exactly `--version` or `-V`.
fn is_bare_version_request() -> bool {
    let mut args = std::env::args_os().skip(1);
    matches!((args.next(), args.next()), (Some(a), None) if a == "--version" || a == "-V")
}

/// Whether the command line asks for `--json` (before any `--`). Parsing failed, so this is all
/// we know; a script that passed `--json` gets its usage errors as JSON too.
fn argv_wants_json() -> bool {
    std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json")
}

/// A clap error in the JSON error shape: its first line is the error, the rest are hints.
fn usage_json(err: &clap::Error) -> String {
    let text = err.render().to_string();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let message = lines.next().unwrap_or("invalid command line");
    let message = message
        .strip_prefix("error: ")
        .unwrap_or(message)
        .to_owned();
    let classified = lines.fold(
        error::Classified::new(error::ErrorKind::Usage),
        error::Classified::hint,
    );
    error::render_json(&anyhow::Error::msg(message), &classified)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[derive(Debug, Parser)]
    #[command(name = "demo")]
    struct Demo {
        #[arg(long)]
        level: u8,
    }

    #[test]
    fn usage_errors_render_as_json() {
        let err = Demo::try_parse_from(["demo", "--level", "x"]).unwrap_err();
        let v: serde_json::Value = serde_json::from_str(&super::usage_json(&err)).unwrap();
        assert_eq!(v["code"], "usage_error");
        assert_eq!(v["exit_code"], 2);
        assert_eq!(v["schema_version"], 1);
        let message = v["error"].as_str().unwrap();
        assert!(
            message.starts_with("invalid value 'x' for '--level"),
            "{message}"
        );
        assert!(
            v["hints"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h.as_str().unwrap().contains("--help")),
            "{v}"
        );
    }
}
