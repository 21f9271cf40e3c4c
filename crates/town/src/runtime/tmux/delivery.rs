//! The one way text reaches an agent in tmux: [`TmuxRuntime::deliver`], behind
//! [`Runtime::send`](super::Runtime::send), used by sling's first prompt, the witness's nudges
//! and `gt nudge`.
//!
//! Upstream typed text line by line with `send-keys`, which made a multi-line message several
//! messages, merged nudges into a person's half-typed input, and sometimes never pressed Enter
//! while reporting success (gastown.md §2.i, §6.4). Here, under a per-session flock (so two
//! deliveries never interleave):
//!
//! 1. the pane must run its program (else `NotFound`/`Exited`), and is taken out of copy-mode
//!    or any other tmux mode first, since keys sent in a mode go to tmux;
//! 2. the screen is read with the session's ready prefix ([`host::tmux::READY_OPTION`]): a menu
//!    or half-typed input is refused (nothing typed); with [`SendWhen::Idle`] a busy agent is
//!    waited for, up to the bound, and then refused;
//! 3. the whole text is pasted once (`paste-buffer -p`: one bracketed paste, so an agent TUI
//!    reads it as one input) and must show in the input line, or the change of the pane for a
//!    program without a known prompt; it is never pasted again, so it cannot arrive twice;
//! 4. Enter is pressed and the input line must empty (the agent took it), pressing Enter again
//!    with a growing pause if it did not — but never while the agent has not read the last
//!    press (its screen unchanged), for up to a second: a busy TUI reading two presses at once
//!    may submit the text twice.

use std::path::PathBuf;
use std::time::Duration;

use super::{TmuxRuntime, tmux_error};
use crate::nudge::screen::{self, Screen};
use crate::runtime::{RuntimeError, SendWhen, poll, tail_for_error};

/// The prompt assumed for a session started without a recorded one (Claude Code's).
pub const DEFAULT_PROMPT: &str = "❯ ";
/// How long a delivery waits for another delivery to the same session to finish.
const LOCK_WAIT: Duration = Duration::from_secs(30);
/// How long leaving a tmux mode may take to show.
const MODE_WAIT: Duration = Duration::from_secs(2);
/// How many times Enter is pressed before [`RuntimeError::NotSubmitted`].
const ENTER_ATTEMPTS: u32 = 4;
/// The pause after the first Enter before it is judged; doubled after each further press.
const ENTER_SETTLE: Duration = Duration::from_millis(150);
/// How long an Enter the program has not read yet is waited for before it is pressed again.
const UNREAD_ENTER_WAIT: Duration = Duration::from_secs(1);
/// Two idle reads this far apart count as idle: an agent between two steps of a turn may show
/// its prompt for an instant (upstream requires the same).
const IDLE_CONFIRM: Duration = Duration::from_millis(60);

impl TmuxRuntime {
    /// The lock that serialises deliveries to session `name`, across processes.
    fn delivery_lock_path(&self, name: &str) -> PathBuf {
        std::path::Path::new(&self.town)
            .join(".runtime/locks")
            .join(format!("deliver-{name}.lock"))
    }

    /// See the module docs.
    pub(super) fn deliver(
        &self,
        name: &str,
        text: &str,
        when: SendWhen,
    ) -> Result<(), RuntimeError> {
        let text = host::tmux::sanitize_text(text);
        let text = text.trim_end_matches('\n');
        let lock_path = self.delivery_lock_path(name);
        let io = |source| RuntimeError::Io {
            session: name.to_owned(),
            action: "create the lock directory",
            path: lock_path.clone(),
            source,
        };
        if let Some(dir) = lock_path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let _lock = host::lock::lock_timeout(&lock_path, LOCK_WAIT).map_err(|source| {
            RuntimeError::Lock {
                session: name.to_owned(),
                source,
            }
        })?;
        let pane = self.leave_mode(name)?;
        let prefix = ready_prefix(pane);
        let before = self.settled_screen(name, &prefix, when)?;
        if text.trim().is_empty() {
            // Nothing to paste: an empty message is just Enter (a bare "go on").
            return self.keys(name, &["Enter"]);
        }
        self.tmux
            .paste(&self.tmux_name(name), text)
            .map_err(|e| tmux_error(name, e))?;
        let needle = screen::needle(text);
        let seen_before = before.matches(needle.as_str()).count();
        let mut last = before.clone();
        let shown = poll(self.send_timeout, || {
            self.running_pane(name)?;
            last = self.screen(name)?;
            let shown = screen::input_holds(&last, &prefix, &needle)
                || last.matches(needle.as_str()).count() > seen_before;
            Ok(shown.then_some(()))
        })?;
        if shown.is_none() {
            return Err(RuntimeError::NotDelivered {
                session: name.to_owned(),
                output: tail_for_error(&last),
            });
        }
        self.submit(name, &prefix, &needle)
    }

    /// The pane, out of any tmux mode; its program must run.
    fn leave_mode(&self, name: &str) -> Result<host::tmux::PaneInfo, RuntimeError> {
        let pane = self.running_pane(name)?;
        if !pane.in_mode {
            return Ok(pane);
        }
        tracing::info!(session = name, "leaving copy-mode before delivering");
        self.tmux
            .cancel_mode(&self.tmux_name(name))
            .map_err(|e| tmux_error(name, e))?;
        let left = poll(MODE_WAIT, || {
            let pane = self.running_pane(name)?;
            Ok((!pane.in_mode).then_some(pane))
        })?;
        left.ok_or_else(|| RuntimeError::Refused {
            session: name.to_owned(),
            screen: Screen::Menu,
        })
    }

    /// The screen once it may take text, by `when`; a refusal otherwise.
    fn settled_screen(
        &self,
        name: &str,
        prefix: &str,
        when: SendWhen,
    ) -> Result<String, RuntimeError> {
        let refuse = |screen| RuntimeError::Refused {
            session: name.to_owned(),
            screen,
        };
        let first = self.screen(name)?;
        match (screen::classify(&first, prefix), when) {
            (state @ (Screen::Partial(_) | Screen::Menu), _) => Err(refuse(state)),
            (_, SendWhen::Now) => Ok(first),
            (_, SendWhen::Idle(within)) => {
                let mut state = Screen::Unknown;
                let mut idle_once = false;
                let idle = poll(within, || {
                    self.running_pane(name)?;
                    let text = self.screen(name)?;
                    state = screen::classify(&text, prefix);
                    match &state {
                        Screen::Partial(_) | Screen::Menu => Ok(Some(None)),
                        Screen::Idle if idle_once => Ok(Some(Some(text))),
                        Screen::Idle => {
                            idle_once = true;
                            std::thread::sleep(IDLE_CONFIRM);
                            Ok(None)
                        }
                        _ => {
                            idle_once = false;
                            Ok(None)
                        }
                    }
                })?;
                match idle {
                    Some(Some(text)) => Ok(text),
                    _ => Err(refuse(state)),
                }
            }
        }
    }

    /// Presses Enter until the input line shows and no longer holds the text (a prompt hidden
    /// when the wait ends counts as taken). An Enter the program has
    /// not read yet (its screen unchanged since the press) is waited for, up to
    /// [`UNREAD_ENTER_WAIT`], before Enter is pressed again: a busy TUI reads two quick presses
    /// at once and may submit the text twice (Gemini CLI then sends it again as a hint to the
    /// turn the first started).
    fn submit(&self, name: &str, prefix: &str, needle: &str) -> Result<(), RuntimeError> {
        let mut pause = ENTER_SETTLE;
        let mut last = String::new();
        for attempt in 1..=ENTER_ATTEMPTS {
            let before = self.screen(name)?;
            self.keys(name, &["Enter"])?;
            let pressed = std::time::Instant::now();
            let taken = poll(pause.max(UNREAD_ENTER_WAIT), || {
                last = self.screen(name)?;
                if screen::prompt_input(&last, prefix).is_none() {
                    // No prompt shows: the agent took the text, or it is redrawing (Gemini CLI
                    // repaints its whole screen while resuming a session, and the text may
                    // still sit in its input after). Judged at the end of the wait.
                    return Ok(None);
                }
                if !screen::input_holds(&last, prefix, needle) {
                    return Ok(Some(true));
                }
                let read = last != before;
                Ok((read && pressed.elapsed() >= pause).then_some(false))
            })?;
            let prompt_hidden = screen::prompt_input(&last, prefix).is_none();
            if taken == Some(true) || (taken.is_none() && prompt_hidden) {
                return Ok(());
            }
            tracing::warn!(
                session = name,
                attempt,
                "Enter did not submit the pasted text"
            );
            pause *= 2;
        }
        Err(RuntimeError::NotSubmitted {
            session: name.to_owned(),
            attempts: ENTER_ATTEMPTS,
            output: tail_for_error(&last),
        })
    }
}

/// The prompt the session recorded when it started, else Claude Code's.
fn ready_prefix(pane: host::tmux::PaneInfo) -> String {
    if pane.ready_prefix.trim().is_empty() {
        DEFAULT_PROMPT.to_owned()
    } else {
        pane.ready_prefix
    }
}

impl TmuxRuntime {
    /// What session `name`'s pane shows now (idle, half-typed input, busy, …), for a caller
    /// that must not act unless the agent idles (the daemon's nudge drain); nothing is typed.
    pub fn screen_now(&self, name: &str) -> Result<Screen, RuntimeError> {
        let pane = self.running_pane(name)?;
        Ok(screen::classify(&self.screen(name)?, &ready_prefix(pane)))
    }
}
