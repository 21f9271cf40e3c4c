//! The interactive feed: the terminal, the two threads that wake it (the store's watcher and
//! the keyboard), and the actions keys ask for. Nothing here polls: the loop sleeps until a
//! commit, a key, a nudge's outcome or the slow tick that ages "last activity".

use std::io::Write as _;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use crossterm::event::Event;
use ratatui::DefaultTerminal;
use town::address::Address;
use town::layout::Town;
use town::nudge::{Mode, Outcome, Priority};
use town::runtime::Runtimes;

use super::input::{self, Action};
use super::state::{FeedState, Mode as FeedMode};
use super::{render, snapshot};
use crate::commands::{nudge, session};

/// How often the feed re-reads the town with nothing committed: for the agents' "last
/// activity" (terminal output is not a store write) and their ages.
const TICK: Duration = Duration::from_secs(10);

/// How many past events the feed starts with.
const EVENTS_LOADED: usize = 200;

/// How many lines a peek captures (the pane shows the last that fit).
const PEEK_LINES: usize = 200;

/// How many events one read takes.
const BATCH: usize = 500;

/// What wakes the loop.
enum Msg {
    /// A key, a resize, a paste. The keyboard thread waits for [`Msg`]'s handling to finish
    /// before it reads again, so an attach gets the terminal to itself.
    Input(Event),
    /// The store committed something.
    Store,
    /// A nudge sent in the background ended: what to tell the user.
    Nudged(String),
}

/// Runs the feed until `q`. The terminal is restored however the loop ends.
pub fn run(town: &Town) -> anyhow::Result<()> {
    // Made before the first read, so a commit between that read and the first wait wakes it.
    let mut watcher = town::events::Watcher::new(town)?;
    let store = super::super::store(town)?;
    let runtimes = super::super::runtimes(town);
    let mut state = FeedState::new(snapshot::load(town, &store, &runtimes)?);
    for e in town::events::latest(&store, EVENTS_LOADED)? {
        state.apply(e);
    }
    let (tx, rx) = mpsc::channel();
    let store_tx = tx.clone();
    std::thread::spawn(move || {
        loop {
            if watcher.wait(Duration::from_secs(3600)) && store_tx.send(Msg::Store).is_err() {
                break;
            }
        }
    });
    let (resume_tx, resume_rx) = mpsc::channel::<()>();
    let keys_tx = tx.clone();
    std::thread::spawn(move || {
        while let Ok(event) = crossterm::event::read() {
            if keys_tx.send(Msg::Input(event)).is_err() || resume_rx.recv().is_err() {
                break;
            }
        }
    });
    let mut terminal = ratatui::try_init()?;
    let mut feed = Feed {
        town,
        store,
        runtimes,
        state,
        tx,
    };
    let result = feed.event_loop(&mut terminal, &rx, &resume_tx);
    ratatui::try_restore()?;
    result
}

struct Feed<'a> {
    town: &'a Town,
    store: beads::Store,
    runtimes: Runtimes,
    state: FeedState,
    /// For the background nudges' outcomes.
    tx: Sender<Msg>,
}

impl Feed<'_> {
    fn event_loop(
        &mut self,
        terminal: &mut DefaultTerminal,
        rx: &Receiver<Msg>,
        resume: &Sender<()>,
    ) -> anyhow::Result<()> {
        loop {
            terminal.draw(|frame| render::render(&self.state, frame))?;
            let first = match rx.recv_timeout(TICK) {
                Ok(msg) => Some(msg),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            };
            // A tick re-reads; so does any commit, once however many arrived together.
            let mut stale = first.is_none();
            let pending: Vec<Msg> = first.into_iter().chain(rx.try_iter()).collect();
            for msg in pending {
                match msg {
                    Msg::Store => stale = true,
                    Msg::Nudged(text) => self.state.set_status(text),
                    Msg::Input(event) => {
                        let action = match event {
                            Event::Key(key) => input::handle(&mut self.state, key),
                            _ => None,
                        };
                        match action {
                            Some(Action::Quit) => return Ok(()),
                            Some(action) => self.act(terminal, action)?,
                            None => {}
                        }
                        // The keyboard thread may read again (it ends once we are gone).
                        resume.send(()).ok();
                    }
                }
            }
            if stale {
                self.refresh();
            }
        }
    }

    /// Reads the new events and the town again; a failed read is shown, not fatal (the next
    /// commit or tick tries again).
    fn refresh(&mut self) {
        if let Err(e) = self.read_town() {
            self.state
                .set_status(format!("could not read the town: {e:#}"));
        }
        if let FeedMode::Peek { address, .. } = self.state.mode() {
            let address = address.clone();
            if let Ok(lines) = self.peek_lines(&address) {
                self.state.show_peek(address, lines);
            }
        }
    }

    fn read_town(&mut self) -> anyhow::Result<()> {
        loop {
            let batch = town::events::after(&self.store, self.state.cursor(), BATCH)?;
            let full = batch.len() == BATCH;
            for e in batch {
                self.state.apply(e);
            }
            if !full {
                break;
            }
        }
        let snapshot = snapshot::load(self.town, &self.store, &self.runtimes)?;
        self.state.set_snapshot(snapshot);
        Ok(())
    }

    fn peek_lines(&self, address: &str) -> anyhow::Result<Vec<String>> {
        Ok(session::tail(self.town, &Address::parse(address)?, PEEK_LINES)?.1)
    }

    /// Carries out what a key asked; what fails is told on the status line.
    fn act(&mut self, terminal: &mut DefaultTerminal, action: Action) -> anyhow::Result<()> {
        self.state.clear_status();
        match action {
            Action::Quit => {}
            Action::Attach(address) => {
                let attached = suspended(terminal, || {
                    session::attach(self.town, &Address::parse(&address)?)
                })?;
                match attached {
                    Ok(()) => self.state.set_status(format!("back from {address}")),
                    Err(e) => self.state.set_status(format!("cannot attach: {e:#}")),
                }
                self.refresh();
            }
            Action::Peek(address) => match self.peek_lines(&address) {
                Ok(lines) => self.state.show_peek(address, lines),
                Err(e) => self.state.set_status(format!("cannot peek: {e:#}")),
            },
            Action::Nudge { address, message } => {
                self.state.set_status(format!("nudging {address}…"));
                let town = self.town.clone();
                let tx = self.tx.clone();
                // A nudge waits for the agent's prompt (seconds at most): off the loop.
                std::thread::spawn(move || {
                    let told = match nudge::send(
                        &town,
                        &address,
                        message,
                        Mode::WaitIdle,
                        Priority::Normal,
                        false,
                    ) {
                        Ok((target, _, Outcome::Delivered)) => {
                            format!("nudge delivered to {}", target.canonical())
                        }
                        Ok((target, _, Outcome::Queued { reason, .. })) => format!(
                            "nudge queued for {}: {}",
                            target.canonical(),
                            nudge::queued_why(&reason)
                        ),
                        Err(e) => format!("nudge to {address} failed: {e:#}"),
                    };
                    tx.send(Msg::Nudged(told)).ok();
                });
            }
        }
        Ok(())
    }
}

/// Runs `f` with the terminal given back to the line discipline (raw mode off, main screen,
/// cursor shown), then takes it again and redraws from scratch. The outer result is the
/// terminal's; the inner is `f`'s.
fn suspended<T>(
    terminal: &mut DefaultTerminal,
    f: impl FnOnce() -> anyhow::Result<T>,
) -> anyhow::Result<anyhow::Result<T>> {
    let mut out = std::io::stdout();
    crossterm::execute!(
        out,
        crossterm::terminal::LeaveAlternateScreen,
        crossterm::cursor::Show
    )?;
    crossterm::terminal::disable_raw_mode()?;
    out.flush()?;
    let result = f();
    crossterm::terminal::enable_raw_mode()?;
    crossterm::execute!(
        out,
        crossterm::terminal::EnterAlternateScreen,
        crossterm::cursor::Hide
    )?;
    terminal.clear()?;
    Ok(result)
}
