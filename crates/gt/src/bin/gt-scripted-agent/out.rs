//! Everything the scripted agent shows: one place writes to stdout and stderr.
//!
//! Like an interactive coding agent, it writes for a person watching its pane (`gt peek`), so
//! its progress goes to stdout. Each write is flushed at once, and a failed write (the pane is
//! gone) is ignored: the agent's job is its script, not its audience.
//!
//! The ready prompt `❯ ` is left open at the end of a line, as Claude Code leaves it; the next
//! line printed starts on a fresh line. A lock keeps the script's lines and the echo of typed
//! input from interleaving.

use std::io::{self, Write};
use std::sync::{Mutex, PoisonError};

/// The ready prompt, the same prefix as Claude Code's, so readiness detection by prompt works.
pub const PROMPT: &str = "❯ ";

/// Whether the last thing written to stdout was an open prompt.
static PROMPT_OPEN: Mutex<bool> = Mutex::new(false);

fn with_stdout(f: impl FnOnce(&mut io::StdoutLock<'_>, &mut bool) -> io::Result<()>) {
    let mut open = PROMPT_OPEN.lock().unwrap_or_else(PoisonError::into_inner);
    let mut stdout = io::stdout().lock();
    let _ = f(&mut stdout, &mut open).and_then(|()| stdout.flush());
}

/// Ends an open prompt's line.
fn close_prompt(w: &mut impl Write, open: &mut bool) -> io::Result<()> {
    if *open {
        *open = false;
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// One line on stdout.
pub fn line(text: &str) {
    with_stdout(|w, open| {
        close_prompt(w, open)?;
        writeln!(w, "{text}")
    });
}

/// Text of several lines on stdout (a helper's output), ending in a newline.
pub fn block(text: &str) {
    with_stdout(|w, open| {
        close_prompt(w, open)?;
        w.write_all(text.as_bytes())?;
        if !text.is_empty() && !text.ends_with('\n') {
            w.write_all(b"\n")?;
        }
        Ok(())
    });
}

/// The ready prompt, left open at the end of the line.
pub fn prompt() {
    with_stdout(|w, open| {
        close_prompt(w, open)?;
        w.write_all(PROMPT.as_bytes())?;
        *open = true;
        Ok(())
    });
}

/// Ends an open prompt's line and flushes stdout, before a helper writes to the same terminal.
pub fn settle() {
    with_stdout(|w, open| close_prompt(w, open));
}

/// A rendered error report (`error: …` lines) on stderr.
pub fn error_report(report: &str) {
    settle();
    let mut stderr = io::stderr().lock();
    let _ = stderr
        .write_all(report.as_bytes())
        .and_then(|()| stderr.flush());
}
