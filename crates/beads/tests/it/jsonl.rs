//! JSONL interchange (spec §5.5): upstream's classic shape in, a deterministic export out,
//! all-or-nothing and idempotent imports.

use std::io::{BufReader, Cursor};

use beads::{Error, ExportOptions, Filter, ImportReport, Store};

use crate::{assert_no_drift, count, fresh};

/// Upstream classic-era lines: offsets in timestamps, `deleted` status, numeric comment ids,
/// dependency metadata as strings, embedded relations, a wisp and a memory line.
const FIXTURE: &str = r#"{"id":"bd-a1b2","title":"Fix login","description":"Users cannot log in","status":"open","priority":1,"issue_type":"bug","assignee":"bob","created_at":"2025-11-02T21:58:07.295058-08:00","created_by":"matt","updated_at":"2025-11-03T08:00:00.5-08:00","labels":["urgent","auth"],"dependencies":[{"issue_id":"bd-a1b2","depends_on_id":"bd-c3d4","type":"blocks","created_at":"2025-11-02T22:00:00-08:00","created_by":"matt","metadata":"{}"}],"comments":[{"id":1,"issue_id":"bd-a1b2","author":"matt","text":"repro attached","created_at":"2025-11-02T23:00:00-08:00"}],"dependency_count":1,"dependent_count":0,"comment_count":1}
{"id":"bd-c3d4","title":"Upgrade auth lib","status":"in_progress","priority":2,"issue_type":"task","created_at":"2025-11-01T10:00:00Z","updated_at":"2025-11-01T10:00:00Z","started_at":"2025-11-01T10:00:00Z"}
{"id":"bd-dead","title":"Removed","status":"deleted","priority":3,"issue_type":"task","created_at":"2025-10-01T00:00:00+02:00","updated_at":"2025-10-02T00:00:00+02:00","deleted_at":"2025-10-02T00:00:00+02:00","deleted_by":"matt","delete_reason":"duplicate"}
{"id":"bd-wisp","title":"patrol","status":"open","priority":2,"issue_type":"task","ephemeral":true,"wisp_type":"patrol","created_at":"2025-11-05T00:00:00Z","updated_at":"2025-11-05T00:00:00Z"}

{"_type":"memory","key":"style","value":"terse"}
{"_type":"issue","id":"bd-e5f6","title":"SSO","status":"closed","priority":2,"issue_type":"feature","created_at":"2025-09-01T00:00:00Z","updated_at":"2025-09-02T00:00:00Z","closed_at":"2025-09-02T01:02:03.123-07:00","close_reason":"done","metadata":"{\"points\": 3}","labels":["provides:sso"]}
{"id":"bd-e5f6.1","title":"Sub task","status":"open","priority":2,"issue_type":"task","created_at":"2025-09-01T00:00:00Z","dependencies":[{"depends_on_id":"bd-e5f6","type":"parent-child","metadata":""},{"depends_on_id":"external:idp:sso","type":"blocks"},{"depends_on_id":"bd-a1b2","type":"waits-for","metadata":"{\"gate\": \"any-children\"}"}],"comments":[{"id":"c-2","author":"ann","text":"on it","created_at":"2025-09-03T00:00:00Z"}]}
"#;

const ISSUES: usize = 6;

fn import_str(s: &mut Store, text: &str, dry_run: bool) -> beads::Result<ImportReport> {
    s.import(
        BufReader::new(Cursor::new(text.as_bytes().to_vec())),
        std::path::Path::new("test.jsonl"),
        dry_run,
    )
}

fn export_all(s: &Store) -> String {
    let mut out = s
        .export_lines(ExportOptions {
            all: true,
            ..ExportOptions::default()
        })
        .unwrap()
        .join("\n");
    out.push('\n');
    out
}

fn line_of<'a>(export: &'a str, id: &str) -> serde_json::Value {
    let needle = format!("\"id\":\"{id}\"");
    let line: &'a str = export.lines().find(|l| l.contains(&needle)).unwrap();
    serde_json::from_str(line).unwrap()
}

#[test]
fn upstream_classic_lines_import_with_their_relations() {
    let (_d, mut s) = fresh();
    let report = import_str(&mut s, FIXTURE, false).unwrap();
    assert_eq!(
        report,
        ImportReport {
            lines: ISSUES + 1,
            created: ISSUES,
            memories: 1,
            labels_changed: 3,
            dependencies_changed: 4,
            comments_added: 2,
            ..ImportReport::default()
        }
    );
    let a = s.show("bd-a1b2").unwrap();
    assert_eq!(
        a.issue.created_at, "2025-11-03T05:58:07.295058Z",
        "offsets normalize to UTC"
    );
    assert_eq!(a.issue.updated_at, "2025-11-03T16:00:00.500000Z");
    assert_eq!(a.labels, vec!["auth".to_owned(), "urgent".into()]);
    assert_eq!(a.comments.len(), 1);
    assert_eq!(a.comments[0].id, "1", "numeric comment ids become strings");
    assert_eq!(a.comments[0].created_at, "2025-11-03T07:00:00.000000Z");
    assert!(a.is_blocked, "bd-c3d4 is still in progress");

    let dead = s.get("bd-dead").unwrap();
    assert_eq!(dead.status, "tombstone");
    assert_eq!(
        dead.deleted_at.as_deref(),
        Some("2025-10-01T22:00:00.000000Z")
    );

    let done = s.get("bd-e5f6").unwrap();
    assert_eq!(
        done.closed_at.as_deref(),
        Some("2025-09-02T08:02:03.123000Z")
    );
    assert_eq!(done.metadata, Some(serde_json::json!({"points": 3})));

    let deps = s
        .dependencies("bd-e5f6.1", beads::Direction::Down, None)
        .unwrap();
    let summary: Vec<(String, String, String)> = deps
        .iter()
        .map(|d| (d.kind.clone(), d.depends_on_id.clone(), d.metadata.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("blocks".into(), "external:idp:sso".into(), "{}".into()),
            ("parent-child".into(), "bd-e5f6".into(), "{}".into()),
            (
                "waits-for".into(),
                "bd-a1b2".into(),
                r#"{"gate":"any-children"}"#.into()
            ),
        ]
    );
    assert_eq!(
        deps[0].created_at, "2025-09-01T00:00:00.000000Z",
        "a missing edge time falls back to the issue's"
    );

    assert!(s.get("bd-wisp").unwrap().ephemeral);
    assert_eq!(s.kv_get("memory.style").unwrap().as_deref(), Some("terse"));

    // The provider is closed, the parent is closed, the spawner has no children: ready.
    let ready: Vec<String> = s
        .ready(&Filter::default())
        .unwrap()
        .into_iter()
        .map(|v| v.issue.id)
        .collect();
    assert_eq!(ready, vec!["bd-e5f6.1".to_owned()]);
    assert_no_drift(&s);
}

#[test]
fn export_import_export_is_a_fixed_point() {
    let (dir, mut s) = fresh();
    import_str(&mut s, FIXTURE, false).unwrap();
    let first = export_all(&s);
    let ids: Vec<String> = first
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        ids,
        vec![
            "bd-a1b2",
            "bd-c3d4",
            "bd-dead",
            "bd-e5f6",
            "bd-e5f6.1",
            "bd-wisp"
        ]
    );

    let a = line_of(&first, "bd-a1b2");
    assert_eq!(a["_type"], "issue");
    assert_eq!(a["dependency_count"], 1);
    assert_eq!(a["comment_count"], 1);
    assert_eq!(a["labels"], serde_json::json!(["auth", "urgent"]));
    assert_eq!(a["dependencies"][0]["type"], "blocks");
    assert!(a.get("is_blocked").is_none() && a.get("parent").is_none());
    assert_eq!(line_of(&first, "bd-c3d4")["dependent_count"], 1);

    // Through a file, into a fresh store.
    let path = dir.path().join("issues.jsonl");
    assert_eq!(
        s.export_to(
            &path,
            ExportOptions {
                all: true,
                ..ExportOptions::default()
            }
        )
        .unwrap(),
        ISSUES
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), first);
    let (_d2, mut fresh_store) = fresh();
    let report = fresh_store
        .import(
            BufReader::new(std::fs::File::open(&path).unwrap()),
            &path,
            false,
        )
        .unwrap();
    assert_eq!(report.created, ISSUES);
    let second = export_all(&fresh_store);
    assert_eq!(
        first, second,
        "export → import → export must be byte-identical"
    );
    assert_no_drift(&fresh_store);

    // The readiness of each issue survives the trip.
    for id in ["bd-a1b2", "bd-e5f6.1", "bd-c3d4"] {
        assert_eq!(
            s.show(id).unwrap().is_blocked,
            fresh_store.show(id).unwrap().is_blocked,
            "{id}"
        );
    }

    // Re-importing an export into its own store changes nothing.
    let report = import_str(&mut s, &first, false).unwrap();
    assert_eq!(report.unchanged, ISSUES);
    assert_eq!(
        report.created + report.updated + report.labels_changed + report.dependencies_changed,
        0
    );
}

#[test]
fn default_export_leaves_out_wisps_templates_and_infrastructure() {
    let (_d, mut s) = fresh();
    import_str(&mut s, FIXTURE, false).unwrap();
    s.create(beads::NewIssue {
        title: "tpl".into(),
        id: Some("bd-tpl".into()),
        is_template: true,
        ..Default::default()
    })
    .unwrap();
    s.create(beads::NewIssue {
        title: "agent".into(),
        id: Some("bd-agent".into()),
        issue_type: Some("agent".into()),
        ..Default::default()
    })
    .unwrap();
    let lines = s.export_lines(ExportOptions::default()).unwrap();
    assert_eq!(lines.len(), ISSUES - 1);
    assert!(
        lines
            .iter()
            .all(|l| !l.contains("bd-wisp") && !l.contains("bd-tpl") && !l.contains("bd-agent"))
    );
    let all = s
        .export_lines(ExportOptions {
            all: true,
            include_infra: false,
            memories: true,
        })
        .unwrap();
    assert_eq!(all.len(), ISSUES + 2 + 1);
    assert_eq!(
        all.last().unwrap(),
        r#"{"_type":"memory","key":"style","value":"terse"}"#
    );
}

#[test]
fn importing_the_same_file_twice_changes_nothing_the_second_time() {
    let (_d, mut s) = fresh();
    import_str(&mut s, FIXTURE, false).unwrap();
    let events = count(&mut s, "SELECT count(*) FROM events");
    let before = export_all(&s);
    let report = import_str(&mut s, FIXTURE, false).unwrap();
    assert_eq!(
        report,
        ImportReport {
            lines: ISSUES + 1,
            unchanged: ISSUES,
            memories: 1,
            ..ImportReport::default()
        }
    );
    assert_eq!(
        count(&mut s, "SELECT count(*) FROM events"),
        events,
        "no new events"
    );
    assert_eq!(export_all(&s), before);
    assert_no_drift(&s);
}

#[test]
fn a_changed_line_updates_that_issue_only() {
    let (_d, mut s) = fresh();
    import_str(&mut s, FIXTURE, false).unwrap();
    let changed = FIXTURE.replace(
        r#""title":"Upgrade auth lib","status":"in_progress""#,
        r#""title":"Upgrade auth lib","status":"closed""#,
    );
    let report = import_str(&mut s, &changed, false).unwrap();
    assert_eq!(
        (report.updated, report.unchanged, report.created),
        (1, ISSUES - 1, 0)
    );
    let c = s.get("bd-c3d4").unwrap();
    assert_eq!(c.status, "closed");
    assert_eq!(
        c.closed_at.as_deref(),
        Some("2025-11-01T10:00:00.000000Z"),
        "closed_at falls back to updated_at"
    );
    assert!(
        !s.show("bd-a1b2").unwrap().is_blocked,
        "closing the blocker by import unblocks the dependent"
    );
    let last = s.history("bd-c3d4").unwrap().pop().unwrap();
    assert_eq!(
        (last.event_type.as_str(), last.comment.as_deref()),
        ("imported", Some("updated"))
    );
    assert_no_drift(&s);
}

#[test]
fn a_malformed_line_fails_the_whole_import() {
    let (_d, mut s) = fresh();
    let mut lines: Vec<&str> = FIXTURE.lines().collect();
    lines[2] = r#"{"id":"bd-bad","title":"#;
    let broken = lines.join("\n");
    match import_str(&mut s, &broken, false) {
        Err(Error::BadLine { line, reason }) => {
            assert_eq!(line, 3);
            assert!(reason.contains("JSON"), "{reason}");
        }
        other => panic!("expected a bad line, got {other:?}"),
    }
    assert_eq!(count(&mut s, "SELECT count(*) FROM issues"), 0);
    assert_eq!(count(&mut s, "SELECT count(*) FROM events"), 0);
    assert_eq!(s.kv_get("memory.style").unwrap(), None);

    // A line that parses but breaks a rule is reported with its number too.
    let mut lines: Vec<&str> = FIXTURE.lines().collect();
    lines[1] = r#"{"id":"bd-c3d4","title":"x","priority":9,"created_at":"2025-11-01T10:00:00Z"}"#;
    assert!(matches!(
        import_str(&mut s, &lines.join("\n"), false),
        Err(Error::BadLine { line: 2, .. })
    ));
    lines[1] = r#"{"id":"bd-c3d4","title":"x","created_at":"yesterday"}"#;
    assert!(matches!(
        import_str(&mut s, &lines.join("\n"), false),
        Err(Error::BadLine { line: 2, .. })
    ));
    lines[1] = r#"{"_type":"nonsense"}"#;
    assert!(matches!(
        import_str(&mut s, &lines.join("\n"), false),
        Err(Error::BadLine { line: 2, .. })
    ));
    assert_eq!(count(&mut s, "SELECT count(*) FROM issues"), 0);
}

/// A large import into an empty store writes in rollback-journal mode and puts the store back
/// in WAL mode on the same connection whatever the outcome: refused inside its transaction (a
/// cycle), a dry run, or written.
#[test]
fn a_large_import_into_an_empty_store_leaves_it_in_wal_mode_whatever_happens() {
    let (_d, mut s) = fresh();
    let mode = |s: &mut Store| s.sql("PRAGMA journal_mode").unwrap().rows[0][0].clone();
    let n = beads::ROLLBACK_JOURNAL_FROM;
    let line = |k: usize, on: usize| {
        format!(
            r#"{{"id":"bd-{k}","title":"t","created_at":"2025-01-01T00:00:00Z","dependencies":[{{"depends_on_id":"bd-{on}","type":"blocks"}}]}}"#
        )
    };
    // Each issue blocked by the next; the last one, by the first: a cycle.
    let cycle: Vec<String> = (0..n).map(|k| line(k, (k + 1) % n)).collect();
    assert!(matches!(
        import_str(&mut s, &cycle.join("\n"), false),
        Err(Error::BadLine { .. })
    ));
    assert_eq!(mode(&mut s), "wal");
    assert_eq!(count(&mut s, "SELECT count(*) FROM issues"), 0);
    let chain: Vec<String> = (0..n).map(|k| line(k, k + 1)).collect();
    let chain = chain.join("\n");
    assert!(import_str(&mut s, &chain, true).unwrap().dry_run);
    assert_eq!(mode(&mut s), "wal");
    assert_eq!(count(&mut s, "SELECT count(*) FROM issues"), 0);
    assert_eq!(import_str(&mut s, &chain, false).unwrap().created, n);
    assert_eq!(mode(&mut s), "wal");
    assert_eq!(
        count(&mut s, "SELECT count(*) FROM issues WHERE is_blocked = 1"),
        i64::try_from(n - 1).unwrap()
    );
    assert_no_drift(&s);
}

#[test]
fn dry_run_reports_counts_and_writes_nothing() {
    let (_d, mut s) = fresh();
    let report = import_str(&mut s, FIXTURE, true).unwrap();
    assert!(report.dry_run);
    assert_eq!(report.created, ISSUES);
    assert_eq!(report.memories, 1);
    assert_eq!(report.comments_added, 2);
    assert_eq!(count(&mut s, "SELECT count(*) FROM issues"), 0);
    assert_eq!(count(&mut s, "SELECT count(*) FROM events"), 0);
    assert_eq!(
        count(&mut s, "SELECT count(*) FROM config WHERE key LIKE 'kv.%'"),
        0
    );

    // A dry run over existing data predicts "unchanged".
    import_str(&mut s, FIXTURE, false).unwrap();
    let events = count(&mut s, "SELECT count(*) FROM events");
    let report = import_str(&mut s, FIXTURE, true).unwrap();
    assert_eq!(report.unchanged, ISSUES);
    assert_eq!(count(&mut s, "SELECT count(*) FROM events"), events);
}

#[test]
fn a_closed_line_with_only_created_at_gets_a_closed_at() {
    let (_d, mut s) = fresh();
    let line = r#"{"id":"bd-old","title":"old and done","status":"closed","created_at":"2024-01-01T00:00:00+01:00"}"#;
    let report = import_str(&mut s, line, false).unwrap();
    assert_eq!(report.created, 1);
    let issue = s.get("bd-old").unwrap();
    assert_eq!(issue.updated_at, "2023-12-31T23:00:00.000000Z");
    assert_eq!(
        issue.closed_at.as_deref(),
        Some("2023-12-31T23:00:00.000000Z")
    );
    assert_no_drift(&s);
}

/// An import into an empty store takes the bulk path (rows, summaries, readiness, labels and
/// events written from the records); into a store that has issues, each line goes in one by
/// one through the same upserts and triggers as any write. Both leave the same rows.
#[test]
fn the_bulk_path_writes_what_the_row_by_row_path_does() {
    let (_d1, mut bulk) = fresh();
    import_str(&mut bulk, FIXTURE, false).unwrap();
    let (_d2, mut rows) = fresh();
    let other = r#"{"id":"bd-zzzz","title":"Already here","created_at":"2025-01-01T00:00:00Z"}"#;
    import_str(&mut rows, other, false).unwrap();
    import_str(&mut rows, FIXTURE, false).unwrap();
    assert_no_drift(&bulk);
    assert_no_drift(&rows);
    let fixture_rows = |s: &mut Store, table: &str, key: &str| {
        s.sql(&format!(
            "SELECT * FROM {table} WHERE {key} != 'bd-zzzz' ORDER BY 1, 2"
        ))
        .unwrap()
        .rows
    };
    for (table, key) in [
        ("issues", "id"),
        ("labels", "issue_id"),
        ("dependencies", "issue_id"),
        ("comments", "issue_id"),
    ] {
        assert_eq!(
            fixture_rows(&mut bulk, table, key),
            fixture_rows(&mut rows, table, key),
            "{table}"
        );
    }
    // Each issue's `imported` event (the row-by-row path also records each label it adds).
    let events = |s: &mut Store| {
        s.sql(
            "SELECT issue_id, actor, comment FROM events
             WHERE issue_id != 'bd-zzzz' AND event_type = 'imported' ORDER BY issue_id",
        )
        .unwrap()
        .rows
    };
    assert_eq!(events(&mut bulk), events(&mut rows));
    assert_eq!(events(&mut bulk).len(), ISSUES);
}

/// A file that gives an id on two lines: the later line wins on the bulk path as it does
/// line by line, with its own edges and labels, and the lines around it keep theirs (the
/// bulk path drops the earlier record and renumbers the rest).
#[test]
fn a_later_line_for_the_same_id_wins_on_both_paths() {
    let text = [
        r#"{"id":"bd-m1","title":"Middle first","created_at":"2025-01-01T00:00:00Z","labels":["old"],"dependencies":[{"depends_on_id":"bd-z9"}]}"#,
        r#"{"id":"bd-z9","title":"Last","status":"closed","created_at":"2025-01-01T00:00:00Z","labels":["z"]}"#,
        r#"{"id":"bd-a0","title":"First","created_at":"2025-01-01T00:00:00Z","dependencies":[{"depends_on_id":"bd-m1"}]}"#,
        r#"{"id":"bd-m1","title":"Middle again","created_at":"2025-01-01T00:00:00Z","labels":["new"],"dependencies":[{"depends_on_id":"bd-a0","type":"related"}]}"#,
    ]
    .join("\n");
    let (_d1, mut bulk) = fresh();
    import_str(&mut bulk, &text, false).unwrap();
    let (_d2, mut rows) = fresh();
    let other = r#"{"id":"bd-zzzz","title":"Already here","created_at":"2025-01-01T00:00:00Z"}"#;
    import_str(&mut rows, other, false).unwrap();
    import_str(&mut rows, &text, false).unwrap();
    for s in [&bulk, &rows] {
        assert_no_drift(s);
    }
    let read = |s: &mut Store, sql: &str| s.sql(sql).unwrap().rows;
    for sql in [
        "SELECT id, title, is_blocked, cached_labels, cached_dependency_count, cached_dependent_count
         FROM issues WHERE id != 'bd-zzzz' ORDER BY id",
        "SELECT issue_id, label FROM labels ORDER BY 1, 2",
        "SELECT issue_id, depends_on_id, type FROM dependencies ORDER BY 1, 2",
    ] {
        assert_eq!(read(&mut bulk, sql), read(&mut rows, sql), "{sql}");
    }
    let titles = read(&mut bulk, "SELECT id, title FROM issues ORDER BY id");
    assert_eq!(
        serde_json::to_value(&titles).unwrap(),
        serde_json::json!([
            ["bd-a0", "First"],
            ["bd-m1", "Middle again"],
            ["bd-z9", "Last"]
        ])
    );
    let edges = read(
        &mut bulk,
        "SELECT issue_id, depends_on_id FROM dependencies ORDER BY 1",
    );
    assert_eq!(
        serde_json::to_value(&edges).unwrap(),
        serde_json::json!([["bd-a0", "bd-m1"], ["bd-m1", "bd-a0"]])
    );
}

/// A listing reads every row into one reused view: nothing of a row (labels, parent, rare
/// fields, counts) may stay behind in the next. It gives what reading each row afresh does.
#[test]
fn a_listing_reads_each_row_whole_into_its_reused_view() {
    let (_dir, mut s) = fresh();
    import_str(&mut s, FIXTURE, false).unwrap();
    for sort in [beads::Sort::Id, beads::Sort::Title] {
        for reverse in [false, true] {
            let listed = s
                .list(&Filter {
                    all: true,
                    include_ephemeral: true,
                    include_templates: true,
                    sort,
                    reverse,
                    ..Filter::default()
                })
                .unwrap();
            let ids: Vec<String> = listed.iter().map(|v| v.issue.id.clone()).collect();
            assert_eq!(ids.len(), ISSUES - 1, "{ids:?}"); // all but the tombstone
            assert_eq!(listed, s.views_of(&ids).unwrap(), "{sort:?} {reverse}");
        }
    }
}
