//! [`FeedState`]: everything the feed draws, changed only by its methods (a new snapshot, an
//! event, a key), so rendering is a pure function of it and key handling is tested without a
//! terminal.

use std::collections::VecDeque;

use town::events::TownEvent;
use town::views::RosterEntry;

use super::problems::{self, Problem};
use super::snapshot::Snapshot;

/// How many events the feed keeps (more than any terminal shows).
pub const EVENTS_KEPT: usize = 500;

/// What the bottom of the screen is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Browsing: keys move the selection and act on it.
    Browse,
    /// Showing an agent's last lines instead of the event stream.
    Peek { address: String, lines: Vec<String> },
    /// Typing a nudge for `address`.
    Nudge { address: String, input: String },
}

/// The feed's whole state.
#[derive(Debug, Clone)]
pub struct FeedState {
    snapshot: Snapshot,
    problems: Vec<Problem>,
    events: VecDeque<TownEvent>,
    /// The id of the newest event applied: where the next read starts.
    cursor: i64,
    /// Index into the snapshot's agents.
    selected: usize,
    mode: Mode,
    /// The outcome of the last action (a nudge sent, an attach refused), until the next.
    status: Option<String>,
}

impl FeedState {
    /// A feed of `snapshot` that has seen no events yet.
    pub fn new(snapshot: Snapshot) -> Self {
        Self {
            problems: problems::problems(&snapshot),
            snapshot,
            events: VecDeque::new(),
            cursor: 0,
            selected: 0,
            mode: Mode::Browse,
            status: None,
        }
    }

    /// Takes a fresh read of the town, keeping the selected agent selected when it is still
    /// there (agents come and go as polecats are slung and nuked).
    pub fn set_snapshot(&mut self, snapshot: Snapshot) {
        let keep = self.selected_agent().map(|a| a.address.clone());
        self.problems = problems::problems(&snapshot);
        self.snapshot = snapshot;
        self.selected = keep
            .and_then(|k| self.snapshot.agents.iter().position(|a| a.address == k))
            .unwrap_or(0)
            .min(self.snapshot.agents.len().saturating_sub(1));
    }

    /// Adds one event of the stream; one already seen (an id at or before the cursor) is
    /// ignored, so a reader that overlaps its last read shows nothing twice.
    pub fn apply(&mut self, event: TownEvent) {
        if event.id <= self.cursor {
            return;
        }
        self.cursor = self.cursor.max(event.id);
        if self.events.len() == EVENTS_KEPT {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    pub fn select_next(&mut self) {
        if self.selected + 1 < self.snapshot.agents.len() {
            self.selected += 1;
        }
    }

    pub fn select_prev(&mut self) {
        self.selected = self.selected.saturating_sub(1);
    }

    pub fn select_first(&mut self) {
        self.selected = 0;
    }

    pub fn select_last(&mut self) {
        self.selected = self.snapshot.agents.len().saturating_sub(1);
    }

    /// Starts typing a nudge to the selected agent; false when none is selected.
    pub fn begin_nudge(&mut self) -> bool {
        let Some(address) = self.selected_agent().map(|a| a.address.clone()) else {
            return false;
        };
        self.mode = Mode::Nudge {
            address,
            input: String::new(),
        };
        true
    }

    /// Shows `lines` of `address`'s session in place of the event stream.
    pub fn show_peek(&mut self, address: String, lines: Vec<String>) {
        self.mode = Mode::Peek { address, lines };
    }

    /// Back to browsing (closes a peek, abandons a nudge being typed).
    pub fn browse(&mut self) {
        self.mode = Mode::Browse;
    }

    pub fn mode_mut(&mut self) -> &mut Mode {
        &mut self.mode
    }

    pub fn set_status(&mut self, status: impl Into<String>) {
        self.status = Some(status.into());
    }

    pub fn clear_status(&mut self) {
        self.status = None;
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    pub fn events(&self) -> &VecDeque<TownEvent> {
        &self.events
    }

    pub fn cursor(&self) -> i64 {
        self.cursor
    }

    pub fn selected(&self) -> usize {
        self.selected
    }

    pub fn selected_agent(&self) -> Option<&RosterEntry> {
        self.snapshot.agents.get(self.selected)
    }

    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    pub fn status(&self) -> Option<&str> {
        self.status.as_deref()
    }
}
