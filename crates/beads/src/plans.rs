//! The query plans of the hot paths: every statement a single-issue write or a small read
//! runs must find its rows by key, never walk a table or every edge of a type. SQLite plans
//! without statistics (the store never runs `ANALYZE`), and a plan that scans costs a write
//! time in proportion to the store (at 100 000 issues, 2.9 ms per readiness evaluation through
//! schema 9's `idx_deps_type` against 0.005 ms through the key). So this test records the statements
//! the operations run (SQLite's trace) and checks each one's `EXPLAIN QUERY PLAN`.

use std::sync::Mutex;

use crate::ops::create::NewIssue;
use crate::ops::query::Filter;
use crate::ops::update::{Changes, CloseOptions};
use crate::store::Store;

static TRACED: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// Held by each test for its whole run: the trace is one buffer, and two tests tracing at
/// once would take each other's statements.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Keeps each statement as it starts, with its parameters bound (for `EXPLAIN`).
fn record(event: rusqlite::trace::TraceEvent<'_>) {
    if let rusqlite::trace::TraceEvent::Stmt(stmt, sql) = event {
        let sql = stmt.expanded_sql().unwrap_or_else(|| sql.to_owned());
        TRACED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(sql);
    }
}

fn store() -> (tempfile::TempDir, Store) {
    crate::store::test_store("bd", "2026-01-15T12:00:00Z")
}

/// Why a plan step reads more than the rows asked for, if it does.
fn scan(detail: &str) -> Option<&'static str> {
    const TABLES: &[&str] = &[
        "issues",
        "dependencies",
        "labels",
        "comments",
        "events",
        "mail_messages",
        "mail_deliveries",
    ];
    let words: Vec<&str> = detail.split_whitespace().collect();
    if words.first() == Some(&"SCAN") {
        let table = words.get(1).copied().unwrap_or_default();
        // A scan of a subquery's own result or of a handful of kept counts is fine.
        let is_store_table = TABLES.contains(&table)
            || ["i", "d", "t", "p", "c", "l", "w", "ci", "m"].contains(&table);
        if is_store_table && !detail.contains("idx_issues_default_order") {
            return Some("walks a whole table");
        }
    }
    None
}

#[test]
fn hot_paths_find_their_rows_by_key() {
    let _serial = serial();
    let (_dir, mut s) = store();
    // A store with each kind of edge, so every branch of readiness has rows to plan for.
    let parent = s
        .create(NewIssue {
            title: "epic".into(),
            issue_type: Some("epic".into()),
            ..NewIssue::default()
        })
        .unwrap()
        .id;
    let a = s
        .create(NewIssue {
            title: "a".into(),
            parent: Some(parent.clone()),
            labels: vec!["provides:cap".into()],
            ..NewIssue::default()
        })
        .unwrap()
        .id;
    let b = s
        .create(NewIssue {
            title: "b".into(),
            deps: vec![
                ("blocks".into(), a.clone()),
                ("waits-for".into(), parent.clone()),
                ("blocks".into(), "external:other:cap".into()),
            ],
            ..NewIssue::default()
        })
        .unwrap()
        .id;

    s.conn.trace_v2(
        rusqlite::trace::TraceEventCodes::SQLITE_TRACE_STMT,
        Some(record),
    );
    let c = s
        .create(NewIssue {
            title: "c".into(),
            ..NewIssue::default()
        })
        .unwrap()
        .id;
    s.update(
        &b,
        &Changes {
            status: Some("in_progress".into()),
            ..Changes::default()
        },
    )
    .unwrap();
    s.close(&a, &CloseOptions::default()).unwrap();
    s.reopen(&a, "again").unwrap();
    s.add_dependency(&c, &b, "blocks", None).unwrap();
    s.show(&b).unwrap();
    s.list(&Filter {
        limit: 1,
        ..Filter::default()
    })
    .unwrap();
    s.count(&Filter::default(), None).unwrap();
    s.conn
        .trace_v2(rusqlite::trace::TraceEventCodes::empty(), None);

    let (checked, bad) = check_traced(&s, &[]);
    assert!(
        checked > 20,
        "the operations ran their statements ({checked})"
    );
    assert!(bad.is_empty(), "plans that scan:\n{}", bad.join("\n"));
}

/// The statements traced since the last call, checked: how many, and the plan steps that scan
/// (or, for statements containing one of `ordered`, that sort instead of reading in order).
fn check_traced(s: &Store, ordered: &[&str]) -> (usize, Vec<String>) {
    let traced = std::mem::take(&mut *TRACED.lock().unwrap());
    let mut bad = Vec::new();
    let mut checked = 0;
    for sql in &traced {
        let sql = sql.trim();
        let first = sql
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_uppercase();
        if !["SELECT", "UPDATE", "DELETE", "INSERT", "WITH"].contains(&first.as_str()) {
            continue; // Transaction control, pragmas, trigger markers (`-- TRIGGER …`).
        }
        // The kept counts are a handful of rows per prefix: reading them all is the point.
        if sql.contains("FROM issue_counts") {
            continue;
        }
        let mut stmt = s
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        let details: Vec<String> = stmt
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        checked += 1;
        let must_be_ordered = ordered.iter().any(|o| sql.contains(o));
        for d in details {
            if let Some(why) = scan(&d) {
                bad.push(format!("{why}: {d}\n    in: {sql}"));
            } else if must_be_ordered && d.contains("TEMP B-TREE") {
                bad.push(format!(
                    "sorts instead of reading in order: {d}\n    in: {sql}"
                ));
            }
        }
    }
    (checked, bad)
}

/// `gt mail inbox` and the session hook's unread check read one range of an index in order
/// and stop at the limit; reading, marking and claiming one message find it by key.
#[test]
fn mail_reads_its_rows_by_key_and_in_order() {
    let _serial = serial();
    use crate::ops::mail::{InboxQuery, MailState, MessageType, NewMessage};
    use crate::state::DeliveryRole;
    let (_dir, mut s) = store();
    let new = |to: &str| NewMessage {
        from: "overseer".into(),
        to: vec![to.into()],
        cc: vec![],
        subject: "s".into(),
        body: "b".into(),
        priority: 2,
        msg_type: MessageType::Notification,
        reply_to: None,
        ephemeral: false,
    };
    for to in ["mayor/", "deacon/", "gastown/witness"] {
        for _ in 0..3 {
            s.send_mail(&new(to), &[(to.into(), DeliveryRole::To)])
                .unwrap();
        }
    }
    let queued = s
        .send_mail(&new("queue:q"), &[("queue:q".into(), DeliveryRole::Queue)])
        .unwrap()
        .id;

    s.conn.trace_v2(
        rusqlite::trace::TraceEventCodes::SQLITE_TRACE_STMT,
        Some(record),
    );
    let sent = s
        .send_mail(&new("mayor/"), &[("mayor/".into(), DeliveryRole::To)])
        .unwrap()
        .id;
    for unread_only in [false, true] {
        s.mail_inbox(
            "mayor/",
            &InboxQuery {
                unread_only,
                include_archived: false,
                limit: 50,
            },
        )
        .unwrap();
    }
    s.mail_read("mayor/", sent).unwrap();
    s.mail_mark_read("mayor/", &[sent], false).unwrap();
    s.mail_set_state("mayor/", &[sent], MailState::Archived)
        .unwrap();
    s.mail_claim("deacon/", queued).unwrap();
    s.mail_item("deacon/", queued).unwrap();
    s.mail_release("deacon/", queued).unwrap();
    s.mail_thread("mayor/", 1).unwrap();
    s.conn
        .trace_v2(rusqlite::trace::TraceEventCodes::empty(), None);

    let (checked, bad) = check_traced(&s, &["ORDER BY d.message_id DESC"]);
    assert!(
        checked > 10,
        "the operations ran their statements ({checked})"
    );
    assert!(
        bad.is_empty(),
        "plans that scan or sort:\n{}",
        bad.join("\n")
    );
}
