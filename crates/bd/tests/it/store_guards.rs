//! What keeps the store usable: `bd sql` cannot change the schema or settings, its errors are
//! the user's when the SQL is wrong, and writes refuse on a store `bd doctor` found broken.

use crate::{count, create, fails, json, ok, stderr, store};

#[test]
fn sql_cannot_change_the_schema_version_or_settings() {
    let env = store();
    let id = create(&env, "Survivor", &[]);
    for statement in [
        "PRAGMA user_version=999",
        "PRAGMA user_version = 0",
        "PRAGMA journal_mode=DELETE",
        "PRAGMA writable_schema=ON",
        "PRAGMA foreign_keys=OFF",
        "DROP TABLE labels",
        "DROP TRIGGER relation_summaries_new_issue",
        "ALTER TABLE issues ADD COLUMN extra TEXT",
        "CREATE TABLE mine (x)",
        "CREATE INDEX mine ON issues (title)",
        "BEGIN",
        "ATTACH 'elsewhere.db' AS other",
    ] {
        let out = fails(&env, &["sql", statement], 1);
        let err = stderr(&out);
        assert!(
            err.starts_with("error: SQL error: ") && err.contains("may not change"),
            "{statement}: {err}"
        );
    }
    assert!(
        !env.work().join("elsewhere.db").exists(),
        "ATTACH created no file"
    );
    // Still the same, still usable.
    let version = json(&env, &["sql", "PRAGMA user_version"]);
    assert_eq!(version[0]["user_version"], beads::schema::LATEST_VERSION);
    assert_eq!(
        json(&env, &["sql", "PRAGMA journal_mode"])[0]["journal_mode"],
        "wal"
    );
    assert_eq!(json(&env, &["show", &id])[0]["title"], "Survivor");
    create(&env, "Still writable", &[]);
    assert_eq!(count(&env), 2);
    // Reading pragmas, row writes and temporary tables stay allowed.
    let cols = json(&env, &["sql", "PRAGMA table_info(issues)"]);
    assert_eq!(cols[0]["name"], "id");
    ok(&env, &["sql", "CREATE TEMP TABLE scratch (x)"]);
    ok(
        &env,
        &[
            "sql",
            &format!("UPDATE issues SET notes = 'n' WHERE id = '{id}'"),
        ],
    );
    assert_eq!(json(&env, &["show", &id])[0]["notes"], "n");
}

#[test]
fn wrong_sql_is_a_user_error_naming_the_sql_error() {
    let env = store();
    let id = create(&env, "A", &[]);
    for (statement, says) in [
        ("SELEC 1", "syntax error"),
        (
            "SELECT * FROM no_such_table",
            "no such table: no_such_table",
        ),
        (
            "INSERT INTO issues (id, title) VALUES (NULL, NULL)",
            "NOT NULL constraint failed",
        ),
        (
            "INSERT INTO labels (issue_id, label) VALUES ('t-none', 'x')",
            "FOREIGN KEY constraint failed",
        ),
        ("SELECT 1; SELECT 2", "Multiple statements"),
        ("", "no SQL statement given"),
    ] {
        let out = fails(&env, &["sql", statement], 1);
        let err = stderr(&out);
        assert!(
            err.starts_with("error: SQL error: ") && err.contains(says),
            "{statement}: {err}"
        );
        let out = fails(&env, &["sql", statement, "--json"], 1);
        let v: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
        assert_eq!(v["code"], "user_error", "{statement}");
    }
    assert_eq!(count(&env), 1);
    assert_eq!(json(&env, &["show", &id])[0]["title"], "A");
}

/// Changes the store behind bd's back, as another tool (or a disk) might.
fn tamper(env: &testkit::TestEnv, sql: &str) {
    let conn = rusqlite::Connection::open(env.work().join(".beads/beads.db"))
        .expect("open the store with SQLite");
    conn.execute_batch(sql).expect("tamper with the store");
}

#[test]
fn writes_refuse_on_a_store_doctor_found_broken_until_doctor_fix() {
    let env = store();
    let id = create(&env, "Blocked for no reason", &[]);
    tamper(
        &env,
        &format!("UPDATE issues SET is_blocked = 1 WHERE id = '{id}'"),
    );
    let out = fails(&env, &["doctor"], 1);
    assert!(
        stderr(&out).contains("1 check(s) failed"),
        "{}",
        stderr(&out)
    );

    for args in [
        &["create", "Refused"][..],
        &["update", &id, "--title", "Renamed"],
        &["close", &id],
        &["label", "add", &id, "x"],
        &["import", "-"],
    ] {
        let out = fails(&env, args, 3);
        let err = stderr(&out);
        assert!(
            err.contains("beads.db") && err.contains("blocked_state"),
            "{args:?}: {err}"
        );
        assert!(
            err.contains("hint: run `bd doctor --fix`"),
            "{args:?}: {err}"
        );
    }
    // Nothing changed, and reads still work.
    assert_eq!(count(&env), 1);
    let shown = json(&env, &["show", &id]);
    assert_eq!(shown[0]["title"], "Blocked for no reason");
    assert!(shown[0]["labels"].is_null());

    ok(&env, &["doctor", "--fix"]);
    ok(&env, &["doctor"]);
    create(&env, "Accepted again", &[]);
    assert_eq!(count(&env), 2);
}

#[test]
fn what_doctor_cannot_fix_keeps_writes_refused_until_repaired_by_hand() {
    let env = store();
    let id = create(&env, "A", &[]);
    tamper(
        &env,
        "PRAGMA foreign_keys = OFF; INSERT INTO labels (issue_id, label) VALUES ('t-gone', 'orphan');",
    );
    fails(&env, &["doctor", "--fix"], 1);
    let out = fails(&env, &["update", &id, "-p", "1"], 3);
    assert!(stderr(&out).contains("foreign_keys"), "{}", stderr(&out));
    // Raw SQL is the way to repair by hand; `bd doctor` then lifts the refusal.
    ok(
        &env,
        &["sql", "DELETE FROM labels WHERE issue_id = 't-gone'"],
    );
    ok(&env, &["doctor"]);
    ok(&env, &["update", &id, "-p", "1"]);
    assert_eq!(json(&env, &["show", &id])[0]["priority"], 1);
}

#[test]
fn writes_refuse_when_the_schema_was_changed_behind_our_back() {
    let env = store();
    let id = create(&env, "A", &[]);
    tamper(&env, "DROP TRIGGER relation_summaries_label_added;");
    let out = fails(&env, &["label", "add", &id, "x"], 3);
    let err = stderr(&out);
    assert!(
        err.contains("relation_summaries_label_added") && err.contains("beads.db"),
        "{err}"
    );
    assert!(json(&env, &["show", &id])[0]["labels"].is_null());
}
