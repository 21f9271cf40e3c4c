//! Keys: what each does to the [`FeedState`], and the actions that need the town (attach,
//! peek, nudge), which the caller carries out.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::state::{FeedState, Mode};

/// The longest nudge the one-line input takes (the rest of a paste is dropped).
pub const NUDGE_MAX: usize = 2000;

/// What a key asks of the world outside the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Quit,
    /// Put the terminal on this agent's session until the user detaches.
    Attach(String),
    /// Show this agent's last lines.
    Peek(String),
    /// Send this text to this agent, as `gt nudge` does.
    Nudge {
        address: String,
        message: String,
    },
}

/// The help line for the current mode.
pub fn help(mode: &Mode) -> &'static str {
    match mode {
        Mode::Browse => "q quit  ↑/↓ select  a attach  p peek  n nudge",
        Mode::Peek { .. } => "esc close  p refresh  ↑/↓ select  a attach  n nudge  q quit",
        Mode::Nudge { .. } => "enter send  esc cancel",
    }
}

/// Applies `key` to `state`; returns what the caller must do, if anything.
pub fn handle(state: &mut FeedState, key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Some(Action::Quit);
    }
    if let Mode::Nudge { address, input } = state.mode_mut() {
        match key.code {
            KeyCode::Esc => state.browse(),
            KeyCode::Enter => {
                let message = input.trim().to_owned();
                let address = address.clone();
                state.browse();
                if message.is_empty() {
                    state.set_status("nothing to send: the nudge was empty");
                    return None;
                }
                return Some(Action::Nudge { address, message });
            }
            KeyCode::Backspace => {
                input.pop();
            }
            KeyCode::Char(c) if !c.is_control() && input.chars().count() < NUDGE_MAX => {
                input.push(c);
            }
            _ => {}
        }
        return None;
    }
    let selected = state.selected_agent().map(|a| a.address.clone());
    match key.code {
        KeyCode::Char('q') => return Some(Action::Quit),
        KeyCode::Esc => state.browse(),
        KeyCode::Down | KeyCode::Char('j') => state.select_next(),
        KeyCode::Up | KeyCode::Char('k') => state.select_prev(),
        KeyCode::Home | KeyCode::Char('g') => state.select_first(),
        KeyCode::End | KeyCode::Char('G') => state.select_last(),
        KeyCode::Char('a') | KeyCode::Enter => return selected.map(Action::Attach),
        KeyCode::Char('p') => return selected.map(Action::Peek),
        KeyCode::Char('n') => {
            state.begin_nudge();
        }
        _ => {}
    }
    None
}
