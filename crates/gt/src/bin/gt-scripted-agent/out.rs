//! Everything the scripted agent shows: one place writes to stdout and stderr.
//!
//! Like an interactive coding agent, it writes for a person watching its pane (`gt peek`), so
//! its progress goes to stdout. Each write is flushed at once, and a failed write (the pane is
//! gone) is ignored: the agent's job is its script, not its audience.
//!
//! Two ways of drawing, chosen once ([`use_tui`]):
//!
//! - line mode (stdin is not a terminal): the ready prompt `❯ ` is left open at the end of a
//!   line, as Claude Code leaves it; the next line printed starts on a fresh line.
//! - TUI mode (a terminal): the bottom of the screen is the agent's own, redrawn after every
//!   line printed above it: while a turn runs, a busy line `✻ Working… (esc to interrupt)`
//!   (Claude's words, which idle detection reads), then the input line `❯ <typed text>`.
//!
//! A lock keeps the script's lines, key echo and redraws from interleaving.

use std::io::{self, Write};
use std::sync::{Mutex, PoisonError};

/// The ready prompt, the same prefix as Claude Code's, so readiness detection by prompt works.
pub const PROMPT: &str = "❯ ";
/// The busy line, with Claude Code's `esc to interrupt`.
pub const BUSY: &str = "✻ Working… (esc to interrupt)";
/// The longest part of the input shown on the input line, so it never wraps.
const INPUT_SHOWN: usize = 150;

#[derive(Debug, Default)]
struct Display {
    tui: bool,
    /// Line mode: the last thing written was an open prompt.
    prompt_open: bool,
    /// TUI mode: the prompt has been shown (readiness), so the bottom is drawn from now on.
    prompt_shown: bool,
    /// TUI mode: the bottom lines are on the screen now, the cursor at the end of the input.
    drawn: bool,
    busy: bool,
    input: String,
}

static DISPLAY: Mutex<Display> = Mutex::new(Display {
    tui: false,
    prompt_open: false,
    prompt_shown: false,
    drawn: false,
    busy: false,
    input: String::new(),
});

fn with_display(f: impl FnOnce(&mut io::StdoutLock<'_>, &mut Display) -> io::Result<()>) {
    let mut display = DISPLAY.lock().unwrap_or_else(PoisonError::into_inner);
    let mut stdout = io::stdout().lock();
    let _ = f(&mut stdout, &mut display).and_then(|()| stdout.flush());
}

/// Draws in TUI mode from now on.
pub fn use_tui() {
    with_display(|w, d| {
        d.tui = true;
        // Bracketed paste: a paste arrives between `ESC[200~` and `ESC[201~`, as one input.
        w.write_all(b"\x1b[?2004h")
    });
}

impl Display {
    /// Clears the bottom lines, leaving the cursor at the start of the first of them.
    fn erase(&mut self, w: &mut impl Write) -> io::Result<()> {
        if self.drawn {
            w.write_all(b"\r\x1b[K")?;
            if self.busy {
                w.write_all(b"\x1b[1A\r\x1b[K")?;
            }
            self.drawn = false;
        }
        Ok(())
    }

    fn draw(&mut self, w: &mut impl Write) -> io::Result<()> {
        if !self.prompt_shown || self.drawn {
            return Ok(());
        }
        if self.busy {
            writeln!(w, "{BUSY}")?;
        }
        w.write_all(PROMPT.as_bytes())?;
        w.write_all(shown_input(&self.input).as_bytes())?;
        self.drawn = true;
        Ok(())
    }

    /// Line mode: ends an open prompt's line.
    fn close_prompt(&mut self, w: &mut impl Write) -> io::Result<()> {
        if self.prompt_open {
            self.prompt_open = false;
            w.write_all(b"\n")?;
        }
        Ok(())
    }

    /// Writes `text` (whole lines) above the bottom lines.
    fn write_above(&mut self, w: &mut impl Write, text: &[u8]) -> io::Result<()> {
        if self.tui {
            self.erase(w)?;
            w.write_all(text)?;
            self.draw(w)
        } else {
            self.close_prompt(w)?;
            w.write_all(text)
        }
    }
}

/// The input as the input line shows it: its first line, cut short, with a count of the
/// lines that follow (a paste of several lines is one input).
fn shown_input(input: &str) -> String {
    let mut lines = input.split('\n');
    let first: String = lines
        .next()
        .unwrap_or("")
        .chars()
        .take(INPUT_SHOWN)
        .collect();
    let more = lines.count();
    let first = ui::text::safe(&first);
    if more == 0 {
        first
    } else {
        format!("{first} [+{more} lines]")
    }
}

/// One line on stdout.
pub fn line(text: &str) {
    with_display(|w, d| d.write_above(w, format!("{text}\n").as_bytes()));
}

/// Text of several lines on stdout (a helper's output), ending in a newline.
pub fn block(text: &str) {
    with_display(|w, d| {
        let mut bytes = text.as_bytes().to_vec();
        if !text.is_empty() && !text.ends_with('\n') {
            bytes.push(b'\n');
        }
        d.write_above(w, &bytes)
    });
}

/// The ready prompt: left open at the end of the line (line mode), or drawn at the bottom
/// from now on (TUI mode).
pub fn prompt() {
    with_display(|w, d| {
        if d.tui {
            d.prompt_shown = true;
            return d.draw(w);
        }
        d.close_prompt(w)?;
        w.write_all(PROMPT.as_bytes())?;
        d.prompt_open = true;
        Ok(())
    });
}

/// TUI mode: shows or hides the busy line.
pub fn set_busy(busy: bool) {
    with_display(|w, d| {
        if d.busy == busy {
            return Ok(());
        }
        d.erase(w)?;
        d.busy = busy;
        d.draw(w)
    });
}

/// TUI mode: whether a turn runs.
pub fn is_busy() -> bool {
    DISPLAY.lock().unwrap_or_else(PoisonError::into_inner).busy
}

/// TUI mode: changes the input line with `edit`; returns what `edit` returned.
pub fn edit_input<T>(edit: impl FnOnce(&mut String) -> T) -> Option<T> {
    let mut result = None;
    with_display(|w, d| {
        d.erase(w)?;
        result = Some(edit(&mut d.input));
        d.draw(w)
    });
    result
}

/// Clears the bottom lines (TUI) or ends an open prompt's line, and flushes stdout, before a
/// helper writes to the same terminal.
pub fn settle() {
    with_display(|w, d| if d.tui { d.erase(w) } else { d.close_prompt(w) });
}

/// A rendered error report (`error: …` lines) on stderr.
pub fn error_report(report: &str) {
    settle();
    let mut stderr = io::stderr().lock();
    let _ = stderr
        .write_all(report.as_bytes())
        .and_then(|()| stderr.flush());
}

#[cfg(test)]
mod tests {
    use super::shown_input;

    #[test]
    fn the_input_line_shows_the_first_line_and_a_count() {
        assert_eq!(shown_input(""), "");
        assert_eq!(shown_input("half typed"), "half typed");
        assert_eq!(shown_input("one\ntwo\nthree"), "one [+2 lines]");
        assert_eq!(shown_input(&"x".repeat(400)).len(), 150);
    }
}
