//! [`Ui`]: the one owner of the process's stdout and stderr.
//!
//! Stdout carries data only (what a script would pipe); messages, progress, warnings and
//! errors go to stderr. Writes to stdout return `io::Error` so a closed pipe travels up as an
//! error and ends the program quietly (see [`crate::run`]).
#![expect(
    clippy::print_stderr,
    reason = "the output module is where the binaries write to the terminal"
)]

use std::io::{self, BufWriter, IsTerminal, Stdout, Write};

use anstyle::{AnsiColor, Style};

/// The version of the JSON shapes, as upstream numbers it.
pub const SCHEMA_VERSION: u32 = 1;

/// What a streamed JSON payload is preceded by in an envelope (it is followed by `}`).
pub const ENVELOPE_OPEN: &str = "{\n  \"schema_version\": 1,\n  \"data\": ";

#[derive(serde::Serialize)]
struct Envelope<'a, T: ?Sized> {
    schema_version: u32,
    data: &'a T,
}

/// Output for one command run.
pub struct Ui {
    out: BufWriter<Stdout>,
    json: bool,
    /// Wrap JSON data as `{"schema_version": 1, "data": …}`.
    envelope: bool,
    quiet: bool,
    color: bool,
}

impl Ui {
    /// A Ui on the process's stdout and stderr; color only on a terminal without `NO_COLOR`.
    pub fn new() -> Self {
        Self {
            // Large listings are megabytes of JSON; stdout's line buffering would pass each
            // 8 KiB chunk on in two writes. 64 KiB chunks make a tenth of the system calls.
            out: BufWriter::with_capacity(64 * 1024, io::stdout()),
            json: false,
            envelope: false,
            quiet: false,
            color: io::stderr().is_terminal() && !host::env::no_color(),
        }
    }

    /// Switches to JSON mode: data as JSON on stdout, errors as JSON on stderr.
    pub fn set_json(&mut self, json: bool) {
        self.json = json;
    }

    /// Wraps all JSON data in an envelope with the schema version (`BD_JSON_ENVELOPE=1`).
    pub fn set_envelope(&mut self, envelope: bool) {
        self.envelope = envelope;
    }

    /// Whether JSON data is wrapped in an envelope; writers that stream JSON themselves
    /// write [`ENVELOPE_OPEN`] before and `}` after.
    pub fn is_enveloped(&self) -> bool {
        self.envelope
    }

    /// Whether `--json` was asked for.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Whether stderr gets color.
    pub fn color(&self) -> bool {
        self.color
    }

    /// Silences status messages (not data, not errors).
    pub fn set_quiet(&mut self, quiet: bool) {
        self.quiet = quiet;
    }

    /// The data stream.
    pub fn out(&mut self) -> &mut impl Write {
        &mut self.out
    }

    /// Writes one line of data to stdout.
    pub fn line(&mut self, line: impl std::fmt::Display) -> io::Result<()> {
        writeln!(self.out, "{line}")
    }

    /// Writes `value` as pretty JSON to stdout (in the envelope when asked for).
    pub fn json<T: serde::Serialize + ?Sized>(&mut self, value: &T) -> io::Result<()> {
        if self.envelope {
            let wrapped = Envelope {
                schema_version: SCHEMA_VERSION,
                data: value,
            };
            serde_json::to_writer_pretty(&mut self.out, &wrapped).map_err(io::Error::from)?;
        } else {
            serde_json::to_writer_pretty(&mut self.out, value).map_err(io::Error::from)?;
        }
        writeln!(self.out)
    }

    /// Flushes stdout; call before exiting.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// A progress or confirmation message on stderr (silenced by `--quiet`).
    pub fn status(&self, message: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("{message}");
        }
    }

    /// A warning on stderr.
    pub fn warn(&self, message: impl std::fmt::Display) {
        eprintln!(
            "{}warning:{} {message}",
            self.paint(AnsiColor::Yellow),
            self.reset()
        );
    }

    /// Writes an already rendered error report to stderr, coloring its labels.
    pub fn error_report(&self, report: &str) {
        if !self.color {
            eprint!("{report}");
            return;
        }
        for line in report.lines() {
            if let Some(rest) = line.strip_prefix("error:") {
                eprintln!("{}error:{}{rest}", self.paint(AnsiColor::Red), self.reset());
            } else if let Some(rest) = line.strip_prefix("hint:") {
                eprintln!("{}hint:{}{rest}", self.paint(AnsiColor::Cyan), self.reset());
            } else {
                eprintln!("{line}");
            }
        }
    }

    /// Writes raw text to stderr (clap's own messages).
    pub fn stderr_raw(&self, text: &str) {
        eprint!("{text}");
    }

    fn paint(&self, color: AnsiColor) -> String {
        if self.color {
            Style::new()
                .fg_color(Some(color.into()))
                .bold()
                .render()
                .to_string()
        } else {
            String::new()
        }
    }

    fn reset(&self) -> String {
        if self.color {
            Style::new().render_reset().to_string()
        } else {
            String::new()
        }
    }
}

impl Default for Ui {
    fn default() -> Self {
        Self::new()
    }
}
