//! The terminal on stdin: whether there is one, and a character-at-a-time mode for programs
//! that draw their own input line (the scripted agent imitating a TUI agent).

use std::io;

use rustix::termios::{self, LocalModes, OptionalActions, Termios};

/// Whether stdin is a terminal.
pub fn stdin_is_tty() -> bool {
    termios::isatty(io::stdin())
}

/// Stdin's terminal without line editing or echo, until dropped: each key is read as it is
/// pressed and the program echoes what it wants. Signals (`C-c`) and output processing
/// (`\n` as `\r\n`) stay as they were, so the program still dies on `C-c` and prints lines.
pub struct CharMode {
    saved: Termios,
}

impl CharMode {
    /// Switches stdin's terminal to character mode.
    pub fn enter() -> io::Result<Self> {
        let stdin = io::stdin();
        let saved = termios::tcgetattr(&stdin)?;
        let mut raw = saved.clone();
        raw.local_modes
            .remove(LocalModes::ICANON | LocalModes::ECHO | LocalModes::IEXTEN);
        termios::tcsetattr(&stdin, OptionalActions::Now, &raw)?;
        Ok(Self { saved })
    }
}

impl Drop for CharMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(io::stdin(), OptionalActions::Now, &self.saved);
    }
}
