//! Session costs (schema v9): a session's reading replaces the last, attribution survives an
//! idle re-read, bad readings write nothing.

use beads::{CostSource, Error, ModelTokens, NewSessionCost, Recorded, Tokens};

use crate::fresh;

fn tokens(input: u64, output: u64, cache_write: u64, cache_read: u64) -> Tokens {
    Tokens {
        input,
        output,
        cache_write,
        cache_read,
    }
}

fn usage(model: &str, t: Tokens) -> ModelTokens {
    ModelTokens {
        model: model.to_owned(),
        tokens: t,
    }
}

fn reading<'a>(bead: &'a str, convoy: &'a str, usage: &'a [ModelTokens]) -> NewSessionCost<'a> {
    NewSessionCost {
        source: CostSource::Claude,
        session_id: "3f1c9a2e-5b7d-4e8f-9a0b-1c2d3e4f5a6b",
        address: "gastown/polecats/nux",
        role: "polecat",
        rig: "gastown",
        bead,
        convoy,
        transcript: "/home/u/.claude/projects/-town-gastown-polecats-nux/3f1c.jsonl",
        started_at: "2026-01-15T10:00:00Z",
        ended_at: "2026-01-15T11:30:00.250+01:00",
        usage,
    }
}

fn cost_events(store: &beads::Store) -> usize {
    store
        .events_after(0, 1000)
        .unwrap()
        .iter()
        .filter(|e| e.event_type == "cost_recorded")
        .count()
}

#[test]
fn recording_a_session_again_replaces_its_totals() {
    let (_dir, mut store) = fresh();
    let first = [
        usage("claude-sonnet-4-5", tokens(10, 200, 3000, 40000)),
        usage("claude-haiku-4-5", tokens(5, 6, 0, 0)),
    ];
    let r = store
        .record_session_cost(&reading("gt-1", "hq-c1", &first))
        .unwrap();
    assert_eq!(r, Recorded::Written);
    // The same reading again changes nothing and writes no event.
    let r = store
        .record_session_cost(&reading("gt-1", "hq-c1", &first))
        .unwrap();
    assert_eq!(r, Recorded::Unchanged);
    assert_eq!(cost_events(&store), 1);

    // The session went on: the new totals replace the old, a model it no longer shows goes.
    let later = [usage("claude-sonnet-4-5", tokens(12, 900, 3500, 90000))];
    store
        .record_session_cost(&reading("gt-1", "hq-c1", &later))
        .unwrap();
    let rows = store.session_costs(None).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].model, "claude-sonnet-4-5");
    assert_eq!(rows[0].tokens, tokens(12, 900, 3500, 90000));
    // Stored instants are normalized (the offset and fraction given became UTC).
    assert_eq!(rows[0].ended_at, "2026-01-15T10:30:00.250000Z");
    assert_eq!(cost_events(&store), 2);
}

#[test]
fn a_session_belongs_to_the_bead_it_grew_on() {
    let (_dir, mut store) = fresh();
    let u = [usage("gpt-5-codex", tokens(100, 20, 0, 50))];
    store
        .record_session_cost(&reading("gt-7", "hq-c2", &u))
        .unwrap();
    // The finished session read again while its polecat works on another bead stays its own.
    let r = store.record_session_cost(&reading("gt-8", "", &u)).unwrap();
    assert_eq!(r, Recorded::Unchanged);
    // Read by the daemon after the polecat went idle, having grown: no bead now, so it keeps
    // the one it had.
    let more = [usage("gpt-5-codex", tokens(150, 30, 0, 70))];
    store.record_session_cost(&reading("", "", &more)).unwrap();
    let rows = store.session_costs(None).unwrap();
    assert_eq!(
        (rows[0].bead.as_str(), rows[0].convoy.as_str()),
        ("gt-7", "hq-c2")
    );
    assert_eq!(rows[0].tokens, tokens(150, 30, 0, 70));
    // Growing while another bead is hooked moves it there.
    let most = [usage("gpt-5-codex", tokens(200, 40, 0, 90))];
    store
        .record_session_cost(&reading("gt-8", "", &most))
        .unwrap();
    let rows = store.session_costs(None).unwrap();
    assert_eq!(
        (rows[0].bead.as_str(), rows[0].convoy.as_str()),
        ("gt-8", "")
    );
}

#[test]
fn since_selects_sessions_by_their_last_activity() {
    let (_dir, mut store) = fresh();
    let u = [usage("claude-opus-4-5", tokens(1, 1, 1, 1))];
    store.record_session_cost(&reading("gt-1", "", &u)).unwrap();
    assert_eq!(
        store
            .session_costs(Some("2026-01-15T10:30:00Z"))
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .session_costs(Some("2026-01-15T10:30:01Z"))
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store.session_costs(Some("yesterday-ish")),
        Err(Error::Invalid {
            field: "timestamp",
            ..
        })
    ));
}

#[test]
fn bad_readings_name_the_field_and_write_nothing() {
    let (_dir, mut store) = fresh();
    let u = [usage("claude-opus-4-5", tokens(1, 1, 1, 1))];
    let twice = [u[0].clone(), u[0].clone()];
    let cases: Vec<(NewSessionCost<'_>, &str)> = vec![
        (
            NewSessionCost {
                session_id: " ",
                ..reading("", "", &u)
            },
            "session_id",
        ),
        (
            NewSessionCost {
                address: "",
                ..reading("", "", &u)
            },
            "address",
        ),
        (
            NewSessionCost {
                bead: "gt-1\u{1b}[2J",
                ..reading("", "", &u)
            },
            "bead",
        ),
        (
            NewSessionCost {
                ended_at: "last tuesday",
                ..reading("", "", &u)
            },
            "timestamp",
        ),
        (reading("", "", &twice), "model"),
    ];
    for (bad, field) in cases {
        match store.record_session_cost(&bad) {
            Err(Error::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected a bad {field}, got {other:?}"),
        }
    }
    assert!(store.session_costs(None).unwrap().is_empty());
    assert_eq!(cost_events(&store), 0);
}
