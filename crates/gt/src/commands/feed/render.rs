//! Drawing a [`FeedState`] into a ratatui frame: a pure function of the state (nothing here
//! reads the town or the clock), so frames are snapshot-tested with ratatui's `TestBackend`.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize as _};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph};
use town::events::TownEvent;
use town::views::RosterEntry;

use super::input;
use super::problems::ProblemKind;
use super::state::{FeedState, Mode};
use crate::commands::safe;

/// Below this width the panes are stacked and the convoys and queue shrink to one line.
pub const NARROW: u16 = 100;

/// Most problem lines shown before the rest is counted.
const PROBLEM_ROWS: usize = 6;

/// Draws the whole feed.
pub fn render(state: &FeedState, frame: &mut Frame<'_>) {
    let area = frame.area();
    let problems = state.problems().len().clamp(1, PROBLEM_ROWS);
    let problems_height = u16::try_from(problems).unwrap_or(1) + 2;
    if area.width < NARROW {
        let [agents, problems, summary, events, help] = Layout::vertical([
            Constraint::Min(4),
            Constraint::Length(problems_height),
            Constraint::Length(2),
            Constraint::Percentage(30),
            Constraint::Length(1),
        ])
        .areas(area);
        render_agents(state, frame, agents);
        render_problems(state, frame, problems);
        render_summary(state, frame, summary);
        render_bottom(state, frame, events);
        render_help(state, frame, help);
    } else {
        let [top, problems, events, help] = Layout::vertical([
            Constraint::Min(6),
            Constraint::Length(problems_height),
            Constraint::Percentage(35),
            Constraint::Length(1),
        ])
        .areas(area);
        let [agents, right] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(top);
        let [convoys, queue] =
            Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(right);
        render_agents(state, frame, agents);
        render_convoys(state, frame, convoys);
        render_queue(state, frame, queue);
        render_problems(state, frame, problems);
        render_bottom(state, frame, events);
        render_help(state, frame, help);
    }
}

/// Whole units of a duration in seconds: `45s`, `12m`, `3h`, `2d`.
pub fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// One event as the feed and `--plain` print it: time, kind, rig, summary.
pub fn event_line(e: &TownEvent, full_time: bool) -> String {
    let at = e.at.parse::<jiff::Timestamp>().map_or_else(
        |_| safe(&e.at),
        |t| {
            if full_time {
                t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
            } else {
                t.strftime("%H:%M:%S").to_string()
            }
        },
    );
    let rig = e.rig.as_deref().map_or("-".to_owned(), safe);
    format!("{at}  {:<17} {rig:<10} {}", e.kind.as_str(), e.summary)
}

fn block(title: String) -> Block<'static> {
    Block::bordered().title(title)
}

/// The state word shown for an agent: `dead` for a working polecat whose session is gone.
fn shown_state(a: &RosterEntry) -> &str {
    if a.role == town::roster::Role::Polecat && a.state == "working" && !a.alive {
        "dead"
    } else {
        &a.state
    }
}

fn state_style(state: &str) -> Style {
    match state {
        "dead" => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        "stuck" => Style::new().fg(Color::Yellow),
        "working" | "running" | "spawning" => Style::new().fg(Color::Green),
        _ => Style::new().fg(Color::DarkGray),
    }
}

/// The agent tree: town-level agents, then each rig's under its name.
fn render_agents(state: &FeedState, frame: &mut Frame<'_>, area: Rect) {
    let snapshot = state.snapshot();
    let name = |a: &RosterEntry| match &a.rig {
        Some(rig) => format!(
            "  {}",
            a.address
                .strip_prefix(rig.as_str())
                .and_then(|r| r.strip_prefix('/'))
                .unwrap_or(&a.address)
        ),
        None => a.address.clone(),
    };
    let width = snapshot
        .agents
        .iter()
        .map(|a| name(a).chars().count())
        .max()
        .unwrap_or(0);
    let mut items = Vec::new();
    let mut selected_row = None;
    let mut rig: Option<&str> = None;
    for (i, a) in snapshot.agents.iter().enumerate() {
        if a.rig.as_deref() != rig {
            rig = a.rig.as_deref();
            if let Some(r) = rig {
                items.push(ListItem::new(Line::from(safe(r).bold())));
            }
        }
        if i == state.selected() {
            selected_row = Some(items.len());
        }
        let shown = shown_state(a);
        let activity = a.last_activity.map_or("-".to_owned(), |t| {
            age(snapshot.now.as_second() - t.as_second())
        });
        items.push(ListItem::new(Line::from(vec![
            Span::raw(format!("{:<width$}  {:<8} ", name(a), a.role.to_string())),
            Span::raw(format!("{:<12} ", a.bead.as_deref().unwrap_or("-"))),
            Span::styled(format!("{shown:<9}"), state_style(shown)),
            Span::raw(format!(" {activity:>4}")),
        ])));
    }
    let title = format!(" Agents · {} ", safe(&snapshot.town));
    if items.is_empty() {
        frame.render_widget(Paragraph::new("no agents").block(block(title)), area);
        return;
    }
    let list = List::new(items)
        .block(block(title))
        .highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .highlight_symbol("› ");
    let mut list_state = ListState::default().with_selected(selected_row);
    frame.render_stateful_widget(list, area, &mut list_state);
}

/// `[████░░░░]`: `done` of `total` in `width` cells.
fn bar(done: usize, total: usize, width: usize) -> String {
    let filled = (done * width).checked_div(total).unwrap_or(0).min(width);
    format!("[{}{}]", "█".repeat(filled), "░".repeat(width - filled))
}

fn render_convoys(state: &FeedState, frame: &mut Frame<'_>, area: Rect) {
    let convoys = &state.snapshot().convoys;
    let lines = convoys.iter().map(|c| {
        let total = c.convoy.tracked.len();
        Line::from(vec![
            Span::raw(format!("{} ", c.convoy.id)),
            Span::raw(bar(c.convoy.merged, total, 10)),
            Span::raw(format!(" {}/{total} ", c.convoy.merged)),
            Span::raw(safe(&c.convoy.title)),
        ])
    });
    let title = format!(" Convoys ({}) ", convoys.len());
    pane(frame, area, title, lines, "no open convoys");
}

/// A bordered pane of `lines`, or of `empty` (dimmed) when there are none.
fn pane<'a>(
    frame: &mut Frame<'_>,
    area: Rect,
    title: String,
    lines: impl Iterator<Item = Line<'a>>,
    empty: &'static str,
) {
    let mut lines: Vec<Line<'a>> = lines.collect();
    if lines.is_empty() {
        lines.push(Line::from(empty.dark_gray()));
    }
    frame.render_widget(Paragraph::new(lines).block(block(title)), area);
}

fn render_queue(state: &FeedState, frame: &mut Frame<'_>, area: Rect) {
    let queue = &state.snapshot().merge_queue;
    let lines = queue.iter().map(|m| {
        let word = m.mr.state.to_string();
        let style = match m.mr.state {
            beads::MrState::Failed | beads::MrState::Conflict => Style::new().fg(Color::Red),
            beads::MrState::Testing => Style::new().fg(Color::Cyan),
            _ => Style::new(),
        };
        Line::from(vec![
            Span::raw(format!("{:<6} ", m.label)),
            Span::styled(format!("{word:<9}"), style),
            Span::raw(format!(
                " {:<10} {:<12} {:>4}",
                safe(&m.mr.rig),
                m.mr.bead_id,
                age(m.age_seconds)
            )),
        ])
    });
    let title = format!(" Merge queue ({}) ", queue.len());
    pane(frame, area, title, lines, "empty");
}

/// The narrow layout's stand-in for the convoy and queue panes.
fn render_summary(state: &FeedState, frame: &mut Frame<'_>, area: Rect) {
    let s = state.snapshot();
    let merged: usize = s.convoys.iter().map(|c| c.convoy.merged).sum();
    let tracked: usize = s.convoys.iter().map(|c| c.convoy.tracked.len()).sum();
    let count = |pred: fn(beads::MrState) -> bool| {
        s.merge_queue.iter().filter(|m| pred(m.mr.state)).count()
    };
    let lines = vec![
        Line::from(format!(
            " convoys: {} open, {merged}/{tracked} merged",
            s.convoys.len()
        )),
        Line::from(format!(
            " queue: {} queued, {} testing, {} failing",
            count(|st| st == beads::MrState::Queued),
            count(|st| st == beads::MrState::Testing),
            count(|st| matches!(st, beads::MrState::Failed | beads::MrState::Conflict)),
        )),
    ];
    frame.render_widget(Paragraph::new(lines), area);
}

fn render_problems(state: &FeedState, frame: &mut Frame<'_>, area: Rect) {
    let problems = state.problems();
    let mut lines: Vec<Line<'_>> = problems
        .iter()
        .take(PROBLEM_ROWS)
        .map(|p| {
            let style = match p.kind {
                ProblemKind::Dead | ProblemKind::MrFailing => Style::new().fg(Color::Red),
                _ => Style::new().fg(Color::Yellow),
            };
            Line::from(vec![
                Span::styled(format!("{:<10} ", p.kind.label()), style),
                Span::raw(format!("{}  {}", safe(&p.subject), safe(&p.detail))),
            ])
        })
        .collect();
    if problems.len() > PROBLEM_ROWS {
        let more = problems.len() - PROBLEM_ROWS + 1;
        lines.truncate(PROBLEM_ROWS - 1);
        lines.push(Line::from(format!("… and {more} more").dark_gray()));
    }
    if lines.is_empty() {
        lines.push(Line::from("nothing needs you".dark_gray()));
    }
    let title = format!(" Problems ({}) ", problems.len());
    frame.render_widget(Paragraph::new(lines).block(block(title)), area);
}

/// The event stream, newest at the bottom, or the peeked session.
fn render_bottom(state: &FeedState, frame: &mut Frame<'_>, area: Rect) {
    let rows = usize::from(area.height.saturating_sub(2));
    match state.mode() {
        Mode::Peek { address, lines } => {
            let skip = lines.len().saturating_sub(rows);
            let text: Vec<Line<'_>> = lines[skip..].iter().map(|l| Line::from(safe(l))).collect();
            let title = format!(" Peek · {} (esc closes) ", safe(address));
            frame.render_widget(Paragraph::new(text).block(block(title)), area);
        }
        _ => {
            let events = state.events();
            let skip = events.len().saturating_sub(rows);
            let text: Vec<Line<'_>> = if events.is_empty() {
                vec![Line::from("no events yet".dark_gray())]
            } else {
                events
                    .iter()
                    .skip(skip)
                    .map(|e| Line::from(event_line(e, false)))
                    .collect()
            };
            frame.render_widget(Paragraph::new(text).block(block(" Events ".into())), area);
        }
    }
}

fn render_help(state: &FeedState, frame: &mut Frame<'_>, area: Rect) {
    let line = match state.mode() {
        Mode::Nudge { address, input } => Line::from(vec![
            Span::styled(format!("nudge {}> ", safe(address)), Style::new().bold()),
            Span::raw(safe(input)),
            Span::raw("█"),
            Span::raw(format!("   {}", input::help(state.mode()))).dark_gray(),
        ]),
        mode => {
            let mut spans = vec![Span::raw(input::help(mode)).dark_gray()];
            if let Some(status) = state.status() {
                spans.push(Span::raw(format!("   {}", safe(status))));
            }
            Line::from(spans)
        }
    };
    frame.render_widget(Paragraph::new(line), area);
}
