//! Upstream's backup (`bd backup`: one JSONL file per table) read by `import_backup`, on a
//! sample of real rows from Gas Town's and beads' own repositories (see the fixture's README).

use std::path::{Path, PathBuf};

use beads::{Error, Filter, Store};

use crate::{assert_no_drift, count, fresh};

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/upstream-backup")
}

/// A copy of the sample in a temp dir, with `file` replaced by `text`.
fn sample_with(file: &str, text: &str) -> tempfile::TempDir {
    let dir = tempfile::TempDir::new().unwrap();
    for entry in std::fs::read_dir(sample()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(dir.path().join(file), text).unwrap();
    dir
}

fn with_line(file: &str, extra: &str) -> String {
    let mut text = std::fs::read_to_string(sample().join(file)).unwrap();
    text.push_str(extra);
    text.push('\n');
    text
}

#[test]
fn upstream_backup_imports_every_table_and_accounts_for_every_row() {
    let (_d, mut s) = fresh();
    let report = s
        .import_backup(&sample().join("issues.jsonl"), false)
        .unwrap();
    assert_eq!(report.created, 7);
    assert_eq!(
        report.labels_changed, 8,
        "eight labels of the sample's issues"
    );
    assert_eq!(report.dependencies_changed, 3);
    assert_eq!(report.comments_added, 1);
    assert_eq!(report.events_added, 25);
    assert_eq!(report.config_set, 12);
    assert_eq!(
        report.config_skipped,
        vec![
            "issue_prefix (the store keeps its own)".to_owned(),
            "schema_version (upstream's own bookkeeping)".to_owned()
        ]
    );
    assert_eq!(
        (report.orphans.labels, report.orphans.dependencies),
        (2, 2),
        "rows of deleted wisps are counted, not written"
    );
    assert_eq!(report.ignored_fields.get("agent_state"), Some(&1));

    // Nulls are absent values, 0/1 are booleans, and the relations found their issues.
    let child = s.show("gt-430oy").unwrap();
    assert_eq!(child.parent.as_deref(), Some("gt-pbb5c"));
    assert_eq!(child.issue.status, "closed");
    assert_eq!(
        s.get("gt-08hf1").unwrap().assignee,
        "",
        "`assignee: null` is no assignee"
    );
    let agent = s.get("gt-gastown-crew-dennis").unwrap();
    assert!(agent.ephemeral, "`ephemeral: 1` is true");
    assert_eq!(
        s.show("gt-3hki").unwrap().labels,
        vec![
            "from:dog",
            "gt:message",
            "plugin:dolt-backup",
            "result:skip"
        ]
    );
    let commented = s.show("gt-f6mkz").unwrap();
    assert_eq!(commented.comments.len(), 1);
    assert_eq!(commented.comments[0].author, "gastown/crew/jack");
    let history = s.history("gt-f6mkz").unwrap();
    assert!(
        history
            .iter()
            .any(|e| e.event_type == "closed" && e.actor == "mayor"),
        "upstream's events are the issue's history: {history:?}"
    );
    assert_eq!(
        s.config_get("types.custom").unwrap().as_deref(),
        Some("molecule,gate,convoy,merge-request,slot,agent,role,rig,message")
    );
    assert_eq!(s.config_get("issue_prefix").unwrap().as_deref(), Some("bd"));
    assert_no_drift(&s);

    // A second import of the same backup changes nothing.
    let again = s
        .import_backup(&sample().join("issues.jsonl"), false)
        .unwrap();
    assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 7));
    assert_eq!(
        (
            again.labels_changed,
            again.dependencies_changed,
            again.comments_added
        ),
        (0, 0, 0)
    );
    assert_eq!((again.events_added, again.events_unchanged), (0, 25));
    assert_eq!(again.config_set, 0);
    assert_eq!(
        count(
            &mut s,
            "SELECT count(*) FROM events WHERE event_type != 'imported'"
        ),
        25
    );
    assert_no_drift(&s);
}

#[test]
fn a_bad_row_in_any_table_names_file_field_and_line_and_writes_nothing() {
    let cases = [
        (
            "labels.jsonl",
            with_line(
                "labels.jsonl",
                r#"{"issue_id":"gt-3hki","label":"two words"}"#,
            ),
            ("labels.jsonl", 11, "label"),
        ),
        (
            "dependencies.jsonl",
            with_line(
                "dependencies.jsonl",
                r#"{"created_at":"2026-01-13T02:10:52Z","created_by":"mayor","depends_on_id":null,"issue_id":"gt-430oy","type":"blocks"}"#,
            ),
            ("dependencies.jsonl", 6, "depends_on_id"),
        ),
        (
            "events.jsonl",
            with_line(
                "events.jsonl",
                r#"{"actor":"mayor","comment":null,"created_at":"yesterday","event_type":"closed","id":99,"issue_id":"gt-3hki","new_value":"","old_value":""}"#,
            ),
            ("events.jsonl", 26, "created_at"),
        ),
        (
            "config.jsonl",
            with_line(
                "config.jsonl",
                r#"{"key":"types.custom","value":"bad type!"}"#,
            ),
            ("config.jsonl", 15, "types.custom"),
        ),
        (
            "comments.jsonl",
            with_line(
                "comments.jsonl",
                r#"{"author":"x","created_at":"2026-01-14T02:15:49Z","id":7,"issue_id":"gt-3hki","text":42}"#,
            ),
            ("comments.jsonl", 2, "text"),
        ),
    ];
    for (file, text, (named, line, field)) in cases {
        let dir = sample_with(file, &text);
        let (_d, mut s) = fresh();
        let err = s
            .import_backup(&dir.path().join("issues.jsonl"), false)
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(&err, Error::BadRow { file: f, line: l, .. } if f == named && *l == line),
            "{file}: {msg}"
        );
        assert!(msg.contains(field), "{file}: `{msg}` names `{field}`");
        assert_eq!(
            s.issues(&Filter {
                all: true,
                ..Filter::default()
            })
            .unwrap()
            .len(),
            0,
            "{file}: nothing written"
        );
        assert_eq!(count(&mut s, "SELECT count(*) FROM events"), 0);
    }
}

#[test]
fn a_null_or_mistyped_issue_column_is_named_with_its_line() {
    let issues = std::fs::read_to_string(sample().join("issues.jsonl")).unwrap();
    let second = issues.lines().nth(1).unwrap();
    let bad = second.replacen(r#""priority":"#, r#""priority":"high","was":"#, 1);
    let text = issues.replacen(second, &bad, 1);
    let dir = sample_with("issues.jsonl", &text);
    let (_d, mut s) = fresh();
    let err = s
        .import_backup(&dir.path().join("issues.jsonl"), false)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("`issues.jsonl` line 2: `gt-3hki`:") && err.contains("priority"),
        "{err}"
    );
    let stored: Store = s;
    assert!(!stored.exists("gt-08hf1").unwrap());
}
