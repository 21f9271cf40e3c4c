//! `bd export` and `bd import` through the CLI: a canonical fixture survives import → export
//! byte for byte, re-importing changes nothing, and a fresh store reproduces it.

use crate::{count, fails, ids, json, ok, run, run_stdin, stderr, store};

/// Three issues in export's canonical form: an epic, its child (labels, a parent-child and a
/// blocking dependency, a comment with quotes), and a closed bug with metadata.
const FIXTURE: &str = concat!(
    r#"{"_type":"issue","id":"t-aaa","title":"Epic","status":"open","priority":1,"issue_type":"epic","created_at":"2026-01-01T00:00:00.000000Z","created_by":"alice","updated_at":"2026-01-01T00:00:00.000000Z","dependency_count":0,"dependent_count":1,"comment_count":0}"#,
    "\n",
    r#"{"_type":"issue","id":"t-aaa.1","title":"Child","description":"Do it","status":"in_progress","priority":0,"issue_type":"task","assignee":"bob","created_at":"2026-01-01T00:00:00.000000Z","updated_at":"2026-01-02T00:00:00.000000Z","labels":["x","y"],"dependencies":[{"issue_id":"t-aaa.1","depends_on_id":"t-aaa","type":"parent-child","created_at":"2026-01-01T00:00:00.000000Z","created_by":"alice"},{"issue_id":"t-aaa.1","depends_on_id":"t-bbb","type":"blocks","created_at":"2026-01-01T00:00:00.000000Z","created_by":"alice"}],"comments":[{"id":"c1","issue_id":"t-aaa.1","author":"carol","text":"hello \"quoted\"","created_at":"2026-01-01T00:00:00.000000Z"}],"dependency_count":2,"dependent_count":0,"comment_count":1}"#,
    "\n",
    r#"{"_type":"issue","id":"t-bbb","title":"Done thing","status":"closed","priority":2,"issue_type":"bug","created_at":"2026-01-01T00:00:00.000000Z","updated_at":"2026-01-01T00:00:00.000000Z","closed_at":"2026-01-03T00:00:00.000000Z","close_reason":"fixed","metadata":{"k":[1,2]},"dependency_count":0,"dependent_count":1,"comment_count":0}"#,
    "\n",
);

#[test]
fn import_then_export_is_a_fixed_point() {
    let env = store();
    std::fs::write(env.work().join("fixture.jsonl"), FIXTURE).unwrap();
    let report = json(&env, &["import", "fixture.jsonl"]);
    assert_eq!(report["lines"], 3);
    assert_eq!(report["created"], 3);
    assert_eq!(report["comments_added"], 1);
    assert_eq!(ok(&env, &["export"]), FIXTURE);

    // Re-importing the export changes nothing.
    let again = json(&env, &["import", "fixture.jsonl"]);
    assert_eq!(again["unchanged"], 3, "{again:#}");
    assert_eq!(again["created"], 0);
    assert_eq!(again["updated"], 0);
    assert_eq!(ok(&env, &["export"]), FIXTURE);

    // A fresh store reproduces it from standard input.
    let fresh = store();
    let out = run_stdin(&fresh, &["import", "-"], FIXTURE);
    crate::assert_code(&out, 0);
    assert!(
        stderr(&out).contains("3 line(s): 3 created"),
        "{}",
        stderr(&out)
    );
    assert_eq!(ok(&fresh, &["export"]), FIXTURE);
}

#[test]
fn imported_issues_behave_like_created_ones() {
    let env = store();
    let out = run_stdin(&env, &["import", "-"], FIXTURE);
    crate::assert_code(&out, 0);
    assert_eq!(ids(&json(&env, &["children", "t-aaa"])), ["t-aaa.1"]);
    assert_eq!(ids(&json(&env, &["ready"])), ["t-aaa"]);
    assert_eq!(
        json(&env, &["blocked"]),
        serde_json::json!([]),
        "its blocker is closed"
    );
    let child = &json(&env, &["show", "t-aaa.1"])[0];
    assert_eq!(child["labels"], serde_json::json!(["x", "y"]));
    assert_eq!(child["comments"][0]["text"], "hello \"quoted\"");
    let bug = &json(&env, &["show", "t-bbb"])[0];
    assert_eq!(bug["metadata"], serde_json::json!({"k": [1, 2]}));
    assert_eq!(bug["close_reason"], "fixed");
    // New children continue the numbering.
    let next = crate::create(&env, "Second child", &["--parent", "t-aaa"]);
    assert_eq!(next, "t-aaa.2");
}

#[test]
fn dry_run_writes_nothing() {
    let env = store();
    std::fs::write(env.work().join("fixture.jsonl"), FIXTURE).unwrap();
    let report = json(&env, &["import", "fixture.jsonl", "--dry-run"]);
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["created"], 3);
    assert_eq!(count(&env), 0);
    let out = run(&env, &["import", "fixture.jsonl", "--dry-run"]);
    assert!(
        stderr(&out).starts_with("Dry run, nothing written."),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_bad_line_is_a_user_error_and_imports_nothing() {
    let env = store();
    let text = format!("{FIXTURE}{{\"id\":\"t-ccc\",\"title\":\n");
    std::fs::write(env.work().join("broken.jsonl"), text).unwrap();
    let out = fails(&env, &["import", "broken.jsonl"], 1);
    let err = stderr(&out);
    assert!(err.contains("broken.jsonl"), "{err}");
    assert!(err.contains("caused by: line 4"), "{err}");
    assert_eq!(count(&env), 0);
}

#[test]
fn export_to_a_file_and_what_it_leaves_out() {
    let env = store();
    let kept = crate::create(&env, "Durable", &[]);
    crate::create(&env, "Wisp", &["--ephemeral"]);
    ok(&env, &["kv", "set", "memory.tip", "remember me"]);
    let out = run(&env, &["export", "-o", "out.jsonl"]);
    crate::assert_code(&out, 0);
    assert!(out.stdout.is_empty());
    assert!(
        stderr(&out).contains("Exported 1 line(s)"),
        "{}",
        stderr(&out)
    );
    let written = std::fs::read_to_string(env.work().join("out.jsonl")).unwrap();
    assert_eq!(written, ok(&env, &["export"]));
    let lines: Vec<serde_json::Value> = written
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["id"], kept);
    assert_eq!(lines[0]["_type"], "issue");

    let all = ok(&env, &["export", "--all"]);
    assert_eq!(all.lines().count(), 2, "{all}");
    let with_memories = ok(&env, &["export", "--include-memories"]);
    assert!(
        with_memories
            .lines()
            .any(|l| l.contains(r#""_type":"memory""#)),
        "{with_memories}"
    );
}

#[test]
fn export_keeps_work_records_and_leaves_out_agents_wisps_and_templates() {
    let env = store();
    let gate = crate::create(&env, "a gate", &["-t", "gate"]);
    let convoy = crate::create(&env, "a convoy", &["-t", "convoy"]);
    let agent = crate::create(&env, "an agent", &["-t", "agent"]);
    let wisp = crate::create(&env, "a wisp", &["--ephemeral"]);
    let exported = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["export"];
        args.extend_from_slice(extra);
        ok(&env, &args)
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let plain = exported(&[]);
    assert!(
        plain.contains(&gate) && plain.contains(&convoy),
        "{plain:?}"
    );
    assert!(
        !plain.contains(&agent) && !plain.contains(&wisp),
        "{plain:?}"
    );
    let infra = exported(&["--include-infra"]);
    assert!(
        infra.contains(&agent) && !infra.contains(&wisp),
        "{infra:?}"
    );
    assert!(exported(&["--all"]).contains(&wisp));
}

/// One upstream-shaped JSONL line for `id` with `extra` fields (a JSON object's inside).
fn line(id: &str, extra: &str) -> String {
    let sep = if extra.is_empty() { "" } else { "," };
    format!(
        r#"{{"id":"{id}","title":"Issue {id}","status":"open","priority":2,"issue_type":"task","created_at":"2026-01-01T00:00:00Z"{sep}{extra}}}"#
    )
}

/// Imports `lines` as a file, expects exit 1 with every one of `says` in stderr, and checks
/// that nothing was written.
#[track_caller]
fn import_refused(env: &testkit::TestEnv, lines: &[String], says: &[&str]) {
    let before = crate::ok(env, &["export", "--all"]);
    std::fs::write(env.work().join("in.jsonl"), lines.join("\n") + "\n")
        .expect("write the import file");
    let out = crate::fails(env, &["import", "in.jsonl"], 1);
    let err = crate::stderr(&out);
    for s in says {
        assert!(err.contains(s), "missing {s:?} in:\n{err}");
    }
    assert_eq!(
        crate::ok(env, &["export", "--all"]),
        before,
        "the store is unchanged"
    );
}

#[test]
fn import_refuses_a_status_that_is_not_a_string() {
    let env = crate::store();
    import_refused(
        &env,
        &[
            r#"{"id":"t-s","title":"Issue t-s","status":5,"created_at":"2026-01-01T00:00:00Z"}"#
                .to_owned(),
        ],
        &[
            "line 1: `t-s`",
            "field `status` has the wrong type: invalid type: integer `5`, expected a string",
        ],
    );
    assert_eq!(crate::count(&env), 0);
}

#[test]
fn import_refuses_a_dependency_cycle_within_the_file() {
    let env = crate::store();
    import_refused(
        &env,
        &[
            line(
                "t-a",
                r#""dependencies":[{"depends_on_id":"t-b","type":"blocks"}]"#,
            ),
            line(
                "t-b",
                r#""dependencies":[{"depends_on_id":"t-c","type":"conditional-blocks"}]"#,
            ),
            line(
                "t-c",
                r#""dependencies":[{"depends_on_id":"t-a","type":"blocks"}]"#,
            ),
        ],
        &[
            "line 1: `t-a`",
            "would create a cycle: t-a → t-b → t-c → t-a",
        ],
    );
    // A parent-child loop too; `related` edges may loop.
    import_refused(
        &env,
        &[
            line(
                "t-a",
                r#""dependencies":[{"depends_on_id":"t-b","type":"parent-child"}]"#,
            ),
            line(
                "t-b",
                r#""dependencies":[{"depends_on_id":"t-a","type":"parent-child"}]"#,
            ),
        ],
        &["`t-a`", "(parent-child) would create a cycle"],
    );
    std::fs::write(
        env.work().join("ok.jsonl"),
        [
            line(
                "t-a",
                r#""dependencies":[{"depends_on_id":"t-b","type":"related"}]"#,
            ),
            line(
                "t-b",
                r#""dependencies":[{"depends_on_id":"t-a","type":"related"}]"#,
            ),
        ]
        .join("\n"),
    )
    .unwrap();
    crate::ok(&env, &["import", "ok.jsonl"]);
}

#[test]
fn import_refuses_a_cycle_closed_with_an_edge_already_in_the_store() {
    let env = crate::store();
    crate::ok(&env, &["create", "A", "--id", "t-a"]);
    crate::ok(&env, &["create", "B", "--id", "t-b"]);
    crate::ok(&env, &["dep", "add", "t-a", "t-b"]);
    import_refused(
        &env,
        &[
            line("t-x", ""),
            line("t-b", r#""dependencies":[{"depends_on_id":"t-a"}]"#),
        ],
        &["line 2: `t-b`", "t-b → t-a → t-b"],
    );
    assert_eq!(crate::count(&env), 2, "not even the good line went in");
    // Importing `t-a` without its edge replaces the store's edge: no cycle is left.
    std::fs::write(
        env.work().join("ok.jsonl"),
        [
            line("t-a", ""),
            line("t-b", r#""dependencies":[{"depends_on_id":"t-a"}]"#),
        ]
        .join("\n"),
    )
    .unwrap();
    crate::ok(&env, &["import", "ok.jsonl"]);
    assert_eq!(crate::json(&env, &["ready"])[0]["id"], "t-a");
}

#[test]
fn import_checks_titles_and_labels_as_the_cli_does() {
    let env = crate::store();
    import_refused(
        &env,
        &[
            line("t-a", ""),
            r#"{"id":"t-nul","title":"nul\u0000here","created_at":"2026-01-01T00:00:00Z"}"#.into(),
        ],
        &["line 2: `t-nul`", "invalid title: control characters"],
    );
    import_refused(
        &env,
        &[r#"{"id":"t-esc","title":"red \u001b[31m","created_at":"2026-01-01T00:00:00Z"}"#.into()],
        &["line 1: `t-esc`", "control characters"],
    );
    let long = "x".repeat(100_000);
    let out_line = line("t-l", &format!(r#""labels":["{long}"]"#));
    import_refused(
        &env,
        &[out_line],
        &[
            "line 1: `t-l`",
            "a label of 100000 characters is over the limit of 255",
        ],
    );
    import_refused(
        &env,
        &[line("t-s", r#""labels":["two words"]"#)],
        &["`t-s`", "invalid label"],
    );
    import_refused(
        &env,
        &[line("t-st", r#""status":"weird""#)],
        &["`t-st`", "unknown status `weird`"],
    );
    import_refused(
        &env,
        &[line(
            "t-k",
            r#""dependencies":[{"depends_on_id":"t-a","type":"bad kind"}]"#,
        )],
        &["`t-k`", "invalid dependency type"],
    );
    // Whitespace around a title (upstream exported a trailing newline) is trimmed, not refused.
    std::fs::write(
        env.work().join("ok.jsonl"),
        r#"{"id":"t-nl","title":"Trailing newline\n","created_at":"2026-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    crate::ok(&env, &["import", "ok.jsonl"]);
    assert_eq!(
        crate::json(&env, &["show", "t-nl"])[0]["title"],
        "Trailing newline"
    );
}

#[test]
fn import_refuses_known_fields_of_the_wrong_json_type() {
    let env = crate::store();
    for (extra, says) in [
        (
            r#""dependencies":"t-b""#,
            "field `dependencies` must be an array, not a string",
        ),
        (
            r#""labels":5"#,
            "field `labels` must be an array, not a number",
        ),
        (
            r#""comments":{}"#,
            "field `comments` must be an array, not an object",
        ),
        (
            r#""labels":[5]"#,
            "field `labels` must hold strings, not a number",
        ),
        (
            r#""priority":"high""#,
            "field `priority` has the wrong type",
        ),
        (
            r#""assignee":["bob"]"#,
            "field `assignee` has the wrong type",
        ),
        (
            r#""dependencies":[{"depends_on_id":5}]"#,
            "field `dependencies.depends_on_id` must be a string, not a number",
        ),
        (
            r#""waiters":["a",1]"#,
            "field `waiters[1]` has the wrong type",
        ),
        (
            r#""ephemeral":2"#,
            "`ephemeral` must be a boolean (or 0 or 1), not 2",
        ),
    ] {
        import_refused(
            &env,
            &[line("t-a", ""), line("t-w", extra)],
            &["line 2: `t-w`", says],
        );
    }
    assert_eq!(crate::count(&env), 0);
}

/// The real upstream backup sample the store's tests use (see its README).
fn backup_sample() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../beads/tests/it/fixtures/upstream-backup")
}

#[test]
fn a_backup_directory_or_its_issues_file_imports_the_whole_set() {
    let env = store();
    let dir = env.work().join("backup");
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(backup_sample()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    let report = json(&env, &["import", "backup"]);
    assert_eq!(report["created"], 7, "{report:#}");
    assert_eq!(report["events_added"], 25);
    assert_eq!(report["orphans"]["dependencies"], 2);
    let shown = json(&env, &["show", "gt-430oy"]);
    assert_eq!(shown[0]["parent"], "gt-pbb5c");
    // Naming its issues.jsonl reads the files beside it too; nothing new the second time.
    let again = json(&env, &["import", "backup/issues.jsonl"]);
    assert_eq!(again["unchanged"], 7, "{again:#}");
    assert_eq!(again["events_added"], 0);

    // A bad row anywhere: exit 1, the file, line and field named, nothing written.
    let fresh = store();
    let bad = fresh.work().join("backup");
    std::fs::create_dir_all(&bad).unwrap();
    for entry in std::fs::read_dir(backup_sample()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, bad.join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        bad.join("labels.jsonl"),
        "{\"issue_id\":\"gt-3hki\",\"label\":null}\n",
    )
    .unwrap();
    let out = fails(&fresh, &["import", "backup"], 1);
    let err = stderr(&out);
    assert!(
        err.contains("`labels.jsonl` line 1") && err.contains("label"),
        "{err}"
    );
    assert_eq!(count(&fresh), 0);
}

/// `n` issue lines: every third with a label, each but the first blocked by an earlier one.
fn corpus(n: usize) -> String {
    let mut out = String::new();
    for k in 0..n {
        let labels = if k % 3 == 0 {
            r#","labels":["big"]"#
        } else {
            ""
        };
        let deps = if k == 0 {
            String::new()
        } else {
            format!(
                r#","dependencies":[{{"depends_on_id":"t-{:05}","type":"blocks"}}]"#,
                k / 2
            )
        };
        out.push_str(&format!(
            r#"{{"id":"t-{k:05}","title":"Issue {k}","description":"{}","status":"open","priority":2,"issue_type":"task","created_at":"2026-01-01T00:00:00Z"{labels}{deps}}}"#,
            "words ".repeat(20)
        ));
        out.push('\n');
    }
    out
}

/// A large import into an empty store writes through SQLite's rollback journal. Killed mid-write
/// (SIGKILL while its journal is on disk), it leaves nothing: the next command rolls the
/// journal back and puts the store back in WAL mode, and the same file then imports whole,
/// once.
#[test]
fn an_import_killed_midway_leaves_nothing_and_the_store_usable() {
    use std::os::unix::process::ExitStatusExt as _;
    use std::time::{Duration, Instant};

    let env = store();
    let n = beads::ROLLBACK_JOURNAL_FROM;
    std::fs::write(env.work().join("big.jsonl"), corpus(n)).unwrap();
    let journal = env.work().join(".beads/beads.db-journal");
    let mut child = crate::bd(&env)
        .args(["import", "big.jsonl"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The switches into and out of rollback mode are transactions of their own, each with a
    // journal of one page; the import's journal holds the schema pages it changed, more.
    let importing = || std::fs::metadata(&journal).is_ok_and(|m| m.len() > 16 * 1024);
    let started = Instant::now();
    while !importing() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import ended before its journal was seen"
        );
        assert!(started.elapsed() < Duration::from_secs(60), "no journal");
        std::thread::sleep(Duration::from_micros(200));
    }
    child.kill().unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(9));
    assert!(journal.exists(), "the killed import left its journal");

    assert_eq!(count(&env), 0, "the half-written import was rolled back");
    assert!(!journal.exists());
    assert_eq!(
        json(&env, &["sql", "PRAGMA journal_mode"])[0]["journal_mode"],
        "wal"
    );
    ok(&env, &["doctor"]);
    let report = json(&env, &["import", "big.jsonl"]);
    assert_eq!(report["created"], n, "{report:#}");
    assert_eq!(json(&env, &["blocked"]).as_array().unwrap().len(), n - 1);
    let again = json(&env, &["import", "big.jsonl"]);
    assert_eq!(again["unchanged"], n, "{again:#}");
    ok(&env, &["doctor"]);
}

/// The bulk path checks a large file for cycles on a second thread while it writes the edges:
/// a cycle closed by the file's last line is refused as the small path refuses it (naming the
/// first line whose edge is on the cycle, and the path), and leaves nothing written and the
/// store in WAL mode.
#[test]
fn a_large_import_into_an_empty_store_refuses_a_cycle_and_writes_nothing() {
    let env = store();
    let n = beads::ROLLBACK_JOURNAL_FROM;
    // `t-00001` is blocked by `t-00000` in the corpus; the last line closes the loop.
    let closing = r#"{"id":"t-00000","title":"Issue 0","status":"open","priority":2,"issue_type":"task","created_at":"2026-01-01T00:00:00Z","dependencies":[{"depends_on_id":"t-00001","type":"blocks"}]}"#;
    std::fs::write(env.work().join("big.jsonl"), corpus(n) + closing + "\n").unwrap();
    let out = fails(&env, &["import", "big.jsonl"], 1);
    let err = stderr(&out);
    assert!(
        err.contains("line 2: `t-00001`") && err.contains("t-00001 → t-00000 → t-00001"),
        "{err}"
    );
    assert_eq!(count(&env), 0);
    assert_eq!(
        json(&env, &["sql", "PRAGMA journal_mode"])[0]["journal_mode"],
        "wal"
    );
    ok(&env, &["doctor"]);
}

/// With the store open in another process, SQLite will not leave WAL mode: the import writes
/// through the WAL like any write, and the other process sees all of it once it commits.
#[test]
fn an_import_with_the_store_open_elsewhere_still_imports_whole() {
    let env = store();
    let n = beads::ROLLBACK_JOURNAL_FROM;
    std::fs::write(env.work().join("big.jsonl"), corpus(n)).unwrap();
    let other = rusqlite::Connection::open(env.work().join(".beads/beads.db")).unwrap();
    let issues = |c: &rusqlite::Connection| {
        c.query_row("SELECT count(*) FROM issues", [], |r| r.get::<_, i64>(0))
            .unwrap()
    };
    assert_eq!(issues(&other), 0);
    let report = json(&env, &["import", "big.jsonl"]);
    assert_eq!(report["created"], n, "{report:#}");
    assert_eq!(issues(&other), i64::try_from(n).unwrap());
    let mode: String = other
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    drop(other);
    ok(&env, &["doctor"]);
}
