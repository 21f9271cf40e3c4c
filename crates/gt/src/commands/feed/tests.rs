//! The feed without a terminal or a town: key handling on [`FeedState`], the problem rules,
//! and frames drawn on ratatui's `TestBackend`, snapshot-tested.

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use jiff::Timestamp;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use town::events::{EventKind, TownEvent};
use town::roster::Role;
use town::views::{ConvoyItem, MrView, RosterEntry};

use super::input::{self, Action};
use super::problems::{ProblemKind, problems};
use super::render::render;
use super::snapshot::{HelpMail, Snapshot};
use super::state::{EVENTS_KEPT, FeedState, Mode};

const NOW: &str = "2026-01-01T12:00:00Z";

fn at(offset_secs: i64) -> Timestamp {
    Timestamp::from_second(NOW.parse::<Timestamp>().unwrap().as_second() + offset_secs).unwrap()
}

fn agent(address: &str, role: Role, bead: Option<&str>, state: &str, alive: bool) -> RosterEntry {
    let rig = match role {
        Role::Mayor | Role::Deacon => None,
        _ => address.split('/').next().map(str::to_owned),
    };
    RosterEntry {
        address: address.into(),
        role,
        rig,
        bead: bead.map(str::to_owned),
        state: state.into(),
        session: String::new(),
        runtime: "tmux".into(),
        alive,
        last_activity: alive.then(|| at(-42)),
    }
}

fn empty_town() -> Snapshot {
    Snapshot {
        town: "hq".into(),
        agents: vec![agent("mayor/", Role::Mayor, None, "stopped", false)],
        stall_after_secs: 1800,
        now: at(0),
        ..Snapshot::default()
    }
}

fn mr(id: i64, bead: &str, state: beads::MrState, reason: &str) -> MrView {
    let mr = beads::MergeRequest {
        id,
        rig: "gastown".into(),
        bead_id: bead.into(),
        branch: format!("polecat/{bead}"),
        sha: "abc".into(),
        target: "main".into(),
        polecat: "nux".into(),
        state,
        priority: 2,
        retries: 0,
        merged_sha: String::new(),
        reason: reason.into(),
        created_at: "2026-01-01T11:55:00Z".into(),
        updated_at: "2026-01-01T11:58:00Z".into(),
    };
    MrView {
        label: mr.label(),
        age_seconds: 300,
        forge_refusal: None,
        mr,
    }
}

fn convoy(id: &str, title: &str, beads: &[(&str, &str)], merged: usize) -> ConvoyItem {
    ConvoyItem {
        convoy: beads::ConvoyStatus {
            id: id.into(),
            title: title.into(),
            status: "open".into(),
            tracked: beads
                .iter()
                .map(|(id, status)| beads::Tracked {
                    id: (*id).into(),
                    title: format!("work {id}"),
                    status: (*status).into(),
                    assignee: String::new(),
                    close_reason: String::new(),
                })
                .collect(),
            merged,
            landed_at: None,
            created_by: "overseer".into(),
        },
        state: "open".into(),
        merge_requests: BTreeMap::new(),
    }
}

/// A working town: the mayor, a crew member, three polecats (one working, one stuck, one
/// idle), a convoy half merged and two merge requests.
fn busy_town() -> Snapshot {
    Snapshot {
        agents: vec![
            agent("mayor/", Role::Mayor, None, "running", true),
            agent("gastown/crew/joe", Role::Crew, None, "running", true),
            agent(
                "gastown/polecats/furiosa",
                Role::Polecat,
                Some("gt-a1"),
                "working",
                true,
            ),
            agent(
                "gastown/polecats/nux",
                Role::Polecat,
                Some("gt-b2"),
                "stuck",
                true,
            ),
            agent("gastown/polecats/slit", Role::Polecat, None, "idle", false),
        ],
        convoys: vec![convoy(
            "hq-cv-x1",
            "Widgets",
            &[("gt-a1", "in_progress"), ("gt-b2", "closed")],
            1,
        )],
        merge_queue: vec![
            mr(1, "gt-c3", beads::MrState::Testing, ""),
            mr(2, "gt-d4", beads::MrState::Queued, ""),
        ],
        wanted: vec!["mayor/".into(), "gastown/crew/joe".into()],
        ..empty_town()
    }
}

fn event(id: i64, kind: EventKind, summary: &str) -> TownEvent {
    TownEvent {
        id,
        at: at(id - 100).to_string(),
        actor: "overseer".into(),
        kind,
        rig: Some("gastown".into()),
        bead: Some("gt-a1".into()),
        summary: summary.into(),
        payload: serde_json::json!({}),
    }
}

fn with_events(snapshot: Snapshot) -> FeedState {
    let mut state = FeedState::new(snapshot);
    state.apply(event(
        1,
        EventKind::Sling,
        "gt-a1 slung to gastown/polecats/furiosa",
    ));
    state.apply(event(
        2,
        EventKind::Spawn,
        "gastown/polecats/furiosa spawned",
    ));
    state.apply(event(
        3,
        EventKind::MrQueued,
        "gastown/polecats/furiosa queued as mr-1",
    ));
    state
}

fn frame(state: &FeedState, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| render(state, f)).unwrap();
    terminal.backend().to_string()
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn type_text(state: &mut FeedState, text: &str) {
    for c in text.chars() {
        assert_eq!(input::handle(state, key(KeyCode::Char(c))), None);
    }
}

#[test]
fn frame_of_an_empty_town() {
    insta::assert_snapshot!(frame(&FeedState::new(empty_town()), 110, 24));
}

#[test]
fn frame_of_agents_working() {
    let mut state = with_events(busy_town());
    state.select_next();
    state.select_next();
    insta::assert_snapshot!(frame(&state, 110, 26));
}

#[test]
fn frame_with_a_dead_agent_in_problems() {
    let mut s = busy_town();
    s.agents[2].alive = false;
    s.agents[2].last_activity = None;
    s.agents[0].alive = false;
    s.agents[0].last_activity = None;
    s.agents[0].state = "stopped".into();
    s.help.push(HelpMail {
        id: 7,
        from: "gastown/polecats/nux".into(),
        subject: "HELP: the build\u{1b}[31m is red".into(),
    });
    insta::assert_snapshot!(frame(&with_events(s), 110, 26));
}

#[test]
fn frame_with_a_merge_request_failing() {
    let mut s = busy_town();
    s.merge_queue[0] = mr(
        1,
        "gt-c3",
        beads::MrState::Failed,
        "gate `test` failed (exit 1)",
    );
    insta::assert_snapshot!(frame(&with_events(s), 110, 26));
}

#[test]
fn frame_of_a_narrow_terminal() {
    let mut s = busy_town();
    s.merge_queue[1] = mr(2, "gt-d4", beads::MrState::Conflict, "");
    insta::assert_snapshot!(frame(&with_events(s), 60, 30));
}

#[test]
fn frame_while_peeking_and_nudging() {
    let mut state = with_events(busy_town());
    state.select_next();
    state.show_peek(
        "gastown/crew/joe".into(),
        vec![
            "running the tests".into(),
            "\u{7}all green".into(),
            "❯".into(),
        ],
    );
    insta::assert_snapshot!("peek", frame(&state, 110, 26));
    assert!(state.begin_nudge());
    type_text(&mut state, "look at gt-a1");
    insta::assert_snapshot!("nudge", frame(&state, 110, 26));
}

#[test]
fn arrows_and_vi_keys_move_the_selection_within_the_agents() {
    let mut state = FeedState::new(busy_town());
    assert_eq!(state.selected_agent().unwrap().address, "mayor/");
    input::handle(&mut state, key(KeyCode::Up));
    assert_eq!(state.selected(), 0, "stays at the top");
    input::handle(&mut state, key(KeyCode::Down));
    input::handle(&mut state, key(KeyCode::Char('j')));
    assert_eq!(
        state.selected_agent().unwrap().address,
        "gastown/polecats/furiosa"
    );
    input::handle(&mut state, key(KeyCode::Char('k')));
    assert_eq!(state.selected(), 1);
    input::handle(&mut state, key(KeyCode::End));
    assert_eq!(state.selected(), 4);
    input::handle(&mut state, key(KeyCode::Down));
    assert_eq!(state.selected(), 4, "stays at the bottom");
    input::handle(&mut state, key(KeyCode::Char('g')));
    assert_eq!(state.selected(), 0);
}

#[test]
fn attach_and_peek_name_the_selected_agent_and_q_quits() {
    let mut state = FeedState::new(busy_town());
    state.select_next();
    assert_eq!(
        input::handle(&mut state, key(KeyCode::Char('a'))),
        Some(Action::Attach("gastown/crew/joe".into()))
    );
    assert_eq!(
        input::handle(&mut state, key(KeyCode::Enter)),
        Some(Action::Attach("gastown/crew/joe".into()))
    );
    assert_eq!(
        input::handle(&mut state, key(KeyCode::Char('p'))),
        Some(Action::Peek("gastown/crew/joe".into()))
    );
    state.show_peek("gastown/crew/joe".into(), vec!["hi".into()]);
    input::handle(&mut state, key(KeyCode::Esc));
    assert_eq!(state.mode(), &Mode::Browse);
    assert_eq!(
        input::handle(&mut state, key(KeyCode::Char('q'))),
        Some(Action::Quit)
    );
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(input::handle(&mut state, ctrl_c), Some(Action::Quit));
}

#[test]
fn nudge_input_collects_a_line_and_sends_it_on_enter() {
    let mut state = FeedState::new(busy_town());
    state.select_last();
    input::handle(&mut state, key(KeyCode::Char('n')));
    // Typed keys are text now, `q` included.
    type_text(&mut state, "quit sulking!x");
    input::handle(&mut state, key(KeyCode::Backspace));
    assert_eq!(
        input::handle(&mut state, key(KeyCode::Enter)),
        Some(Action::Nudge {
            address: "gastown/polecats/slit".into(),
            message: "quit sulking!".into()
        })
    );
    assert_eq!(state.mode(), &Mode::Browse);
}

#[test]
fn an_empty_or_abandoned_nudge_sends_nothing() {
    let mut state = FeedState::new(busy_town());
    input::handle(&mut state, key(KeyCode::Char('n')));
    type_text(&mut state, "   ");
    assert_eq!(input::handle(&mut state, key(KeyCode::Enter)), None);
    assert_eq!(state.status(), Some("nothing to send: the nudge was empty"));
    input::handle(&mut state, key(KeyCode::Char('n')));
    type_text(&mut state, "never mind");
    assert_eq!(input::handle(&mut state, key(KeyCode::Esc)), None);
    assert_eq!(state.mode(), &Mode::Browse);
}

#[test]
fn with_no_agents_the_keys_that_need_one_do_nothing() {
    let mut state = FeedState::new(Snapshot {
        agents: Vec::new(),
        ..empty_town()
    });
    for k in [
        KeyCode::Char('a'),
        KeyCode::Char('p'),
        KeyCode::Char('n'),
        KeyCode::Down,
    ] {
        assert_eq!(input::handle(&mut state, key(k)), None);
    }
    assert_eq!(state.mode(), &Mode::Browse);
    assert!(frame(&state, 110, 20).contains("no agents"));
}

#[test]
fn events_are_applied_once_in_order_and_the_oldest_dropped_past_the_cap() {
    let mut state = with_events(empty_town());
    // A read that overlaps the last one shows nothing twice.
    state.apply(event(2, EventKind::Spawn, "again"));
    state.apply(event(4, EventKind::MrMerged, "mr-1 merged"));
    let ids: Vec<i64> = state.events().iter().map(|e| e.id).collect();
    assert_eq!(ids, [1, 2, 3, 4]);
    assert_eq!(state.cursor(), 4);
    let many = i64::try_from(EVENTS_KEPT).unwrap() + 10;
    for id in 5..=many {
        state.apply(event(id, EventKind::BeadUpdated, "x"));
    }
    assert_eq!(state.events().len(), EVENTS_KEPT);
    assert_eq!(state.events().back().unwrap().id, many);
    assert_eq!(
        state.events().front().unwrap().id,
        many - i64::try_from(EVENTS_KEPT).unwrap() + 1
    );
}

#[test]
fn a_new_snapshot_keeps_the_selected_agent_selected() {
    let mut state = FeedState::new(busy_town());
    state.select_last();
    assert_eq!(
        state.selected_agent().unwrap().address,
        "gastown/polecats/slit"
    );
    let mut s = busy_town();
    s.agents.remove(1);
    state.set_snapshot(s);
    assert_eq!(
        state.selected_agent().unwrap().address,
        "gastown/polecats/slit"
    );
    // Gone: the selection falls back to the first agent.
    let mut s = busy_town();
    s.agents.pop();
    state.set_snapshot(s);
    assert_eq!(state.selected(), 0);
}

#[test]
fn problems_are_dead_stuck_stalled_failing_escalated_and_help_worst_first() {
    let mut s = busy_town();
    s.agents[0].alive = false; // the mayor, wanted running
    s.agents[2].last_activity = Some(at(-3600)); // furiosa, silent an hour
    s.agents.push(agent(
        "gastown/polecats/max",
        Role::Polecat,
        Some("gt-e5"),
        "working",
        false,
    ));
    s.agents.push(agent(
        "gastown/crew/ann",
        Role::Crew,
        None,
        "stopped",
        false,
    )); // not wanted
    s.merge_queue.push(mr(
        3,
        "gt-f6",
        beads::MrState::Conflict,
        "conflicts with main",
    ));
    s.escalations.push(town::escalation::Escalation {
        id: "hq-e1".into(),
        title: "refinery quarantined".into(),
        description: String::new(),
        status: "open".into(),
        severity: town::escalation::Severity::High,
        original_severity: town::escalation::Severity::High,
        acknowledged: true,
        acked_by: Some("overseer".into()),
        acked_at: None,
        reescalations: 0,
        source: None,
        from: None,
        created_at: NOW.into(),
        escalated_at: NOW.into(),
        closed_at: None,
        close_reason: None,
    });
    s.help.push(HelpMail {
        id: 9,
        from: "gastown/polecats/nux".into(),
        subject: "HELP: stuck".into(),
    });
    let found: Vec<(ProblemKind, String, String)> = problems(&s)
        .into_iter()
        .map(|p| (p.kind, p.subject, p.detail))
        .collect();
    let expect = |k, s: &str, d: &str| (k, s.to_owned(), d.to_owned());
    assert_eq!(
        found,
        [
            expect(ProblemKind::Dead, "mayor/", "wanted running, not running"),
            expect(
                ProblemKind::Dead,
                "gastown/polecats/max",
                "working on gt-e5, session gone"
            ),
            expect(ProblemKind::Stuck, "gastown/polecats/nux", "stuck on gt-b2"),
            expect(
                ProblemKind::Stalled,
                "gastown/polecats/furiosa",
                "no output for 1h"
            ),
            expect(
                ProblemKind::MrFailing,
                "mr-3",
                "gt-f6 conflict (gastown): conflicts with main"
            ),
            expect(
                ProblemKind::Escalation,
                "hq-e1",
                "HIGH, acknowledged: refinery quarantined"
            ),
            expect(
                ProblemKind::Help,
                "gastown/polecats/nux",
                "mail msg-9: HELP: stuck"
            ),
        ]
    );
}

#[test]
fn ages_are_whole_units() {
    use super::render::age;
    assert_eq!(
        [
            age(-5),
            age(59),
            age(60),
            age(3599),
            age(3600),
            age(86_400 * 3)
        ],
        ["0s", "59s", "1m", "59m", "1h", "3d"].map(str::to_owned)
    );
}
