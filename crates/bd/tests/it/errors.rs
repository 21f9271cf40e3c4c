//! Failures: exit codes (user 1, usage 2, internal 3), messages with hints, refusing bad input
//! without side effects, a corrupt database, hostile input, and a closed stdout.

use std::io::Read as _;
use std::process::Stdio;

use testkit::{TestEnv, assert_cmd_snapshot};

use crate::{bd, count, create, fails, json, ok, run, stderr, stdout, store};

#[test]
fn unknown_id_exits_1_with_a_hint() {
    let env = store();
    assert_cmd_snapshot!(env, bd(&env).args(["show", "t-nope"]), @r"
    exit_code: 1
    ----- stdout -----
    ----- stderr -----
    error: no issue found matching `t-nope`

    hint: `bd list --all` shows the ids in this store
    ");
    for args in [
        &["update", "t-nope", "-p", "1"][..],
        &["close", "t-nope"],
        &["reopen", "t-nope"],
        &["comment", "t-nope", "hi"],
        &["label", "add", "t-nope", "x"],
        &["dep", "add", "t-nope", "t-other"],
        &["history", "t-nope"],
        &["delete", "t-nope", "--force"],
    ] {
        let out = fails(&env, args, 1);
        assert!(
            stderr(&out).contains("hint: "),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn unknown_command_is_a_usage_error() {
    let env = store();
    let out = fails(&env, &["no-such-command"], 2);
    let err = stderr(&out);
    assert!(
        err.contains("unrecognized subcommand 'no-such-command'"),
        "{err}"
    );
    assert!(err.contains("Usage:") && err.contains("--help"), "{err}");
    assert!(out.stdout.is_empty());
    fails(&env, &["list", "--no-such-flag"], 2);
    fails(&env, &["show"], 2);
}

#[test]
fn missing_store_exits_1_and_suggests_bd_init() {
    let env = TestEnv::new();
    assert_cmd_snapshot!(env, bd(&env).arg("list"), @r"
    exit_code: 1
    ----- stdout -----
    ----- stderr -----
    error: no beads database found from `[ROOT]/work` upward

    hint: run `bd init` to create a store here, or set `BEADS_DIR`
    ");
    let out = fails(&env, &["create", "Nowhere to go"], 1);
    assert!(stderr(&out).contains("bd init"));
    assert!(!env.work().join(".beads").exists(), "nothing was created");
}

#[test]
fn init_twice_is_refused() {
    let env = store();
    create(&env, "Keep me", &[]);
    let out = fails(&env, &["init", "--prefix", "other"], 1);
    let err = stderr(&out);
    assert!(err.contains("already exists"), "{err}");
    assert!(err.contains("hint: "), "{err}");
    assert_eq!(count(&env), 1, "the existing store is untouched");
    assert_eq!(json(&env, &["config", "get", "issue_prefix"])["value"], "t");
}

#[test]
fn overlong_title_is_refused_and_nothing_is_created() {
    let env = store();
    let title = "x".repeat(501);
    let out = fails(&env, &["create", &title], 1);
    assert!(stderr(&out).contains("501 characters"), "{}", stderr(&out));
    assert_eq!(count(&env), 0);
    create(&env, &"x".repeat(500), &[]);
    assert_eq!(count(&env), 1);
}

#[test]
fn priority_out_of_range_is_a_usage_error_and_nothing_is_created() {
    let env = store();
    let out = fails(&env, &["create", "Too urgent", "-p", "9"], 2);
    assert!(stderr(&out).contains("'9'"), "{}", stderr(&out));
    assert_eq!(count(&env), 0);
    let id = create(&env, "Fine", &[]);
    fails(&env, &["update", &id, "-p", "9"], 2);
    assert_eq!(json(&env, &["show", &id])[0]["priority"], 2);
}

#[test]
fn missing_title_is_a_usage_error() {
    let env = store();
    let out = fails(&env, &["create"], 2);
    assert!(stderr(&out).contains("hint: "), "{}", stderr(&out));
    fails(&env, &["create", ""], 1);
    assert_eq!(count(&env), 0);
}

#[test]
fn self_dependency_is_refused() {
    let env = store();
    let a = create(&env, "A", &[]);
    let out = fails(&env, &["dep", "add", &a, &a], 1);
    assert!(stderr(&out).contains("itself"), "{}", stderr(&out));
    assert_eq!(json(&env, &["dep", "list", &a]), serde_json::json!([]));
}

#[test]
fn cycle_is_refused_naming_the_path() {
    let env = store();
    ok(&env, &["create", "A", "--id", "t-a"]);
    ok(&env, &["create", "B", "--id", "t-b"]);
    ok(&env, &["create", "C", "--id", "t-c"]);
    ok(&env, &["dep", "add", "t-a", "t-b"]);
    ok(&env, &["dep", "add", "t-b", "t-c"]);
    assert_cmd_snapshot!(env, bd(&env).args(["dep", "add", "t-c", "t-a"]), @r"
    exit_code: 1
    ----- stdout -----
    ----- stderr -----
    error: adding `t-c` → `t-a` (blocks) would create a cycle: t-c → t-a → t-b → t-c

    hint: remove one of the dependencies on the path first (`bd dep remove`)
    ");
    assert_eq!(json(&env, &["dep", "list", "t-c"]), serde_json::json!([]));
    assert_eq!(json(&env, &["dep", "cycles"]), serde_json::json!([]));
}

#[test]
fn invalid_metadata_changes_nothing() {
    let env = store();
    let id = create(&env, "With metadata", &["--metadata", r#"{"k":1}"#]);
    let before = json(&env, &["show", &id]);
    for bad in ["{not json", "[1,2]", "\"string\""] {
        let out = run(
            &env,
            &["update", &id, "--metadata", bad, "--title", "Changed"],
        );
        let code = out.status.code();
        assert!(matches!(code, Some(1 | 2)), "{bad}: {code:?}");
        assert!(stderr(&out).contains("metadata"), "{}", stderr(&out));
    }
    assert_eq!(json(&env, &["show", &id]), before);
    let out = run(&env, &["create", "Bad", "--metadata", "{nope"]);
    assert!(matches!(out.status.code(), Some(1 | 2)));
    assert_eq!(count(&env), 1);
}

#[test]
fn invalid_values_are_user_errors() {
    let env = store();
    let id = create(&env, "Valid", &[]);
    for args in [
        &["create", "Bad date", "--due", "someday"][..],
        &["list", "--sort", "sideways"],
        &["count", "--by", "mood"],
        &["update", &id, "--status", "sleeping"],
    ] {
        let out = fails(&env, args, 1);
        assert!(
            stderr(&out).starts_with("error: "),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    assert_eq!(count(&env), 1);
}

#[test]
fn missing_input_files_are_user_errors() {
    let env = store();
    let out = fails(&env, &["import", "no-such.jsonl"], 1);
    assert!(stderr(&out).contains("no-such.jsonl"), "{}", stderr(&out));
    let out = fails(
        &env,
        &["create", "From nowhere", "--body-file", "no-such.md"],
        1,
    );
    assert!(stderr(&out).contains("no-such.md"), "{}", stderr(&out));
    assert_eq!(count(&env), 0);
}

#[test]
fn corrupt_database_exits_3_naming_the_file_and_leaves_it_alone() {
    let env = store();
    create(&env, "Soon lost", &[]);
    let db = env.work().join(".beads/beads.db");
    let garbage: Vec<u8> = (0..8192u32)
        .map(|i| u8::try_from(i.wrapping_mul(2_654_435_761) >> 24).unwrap())
        .collect();
    for suffix in ["-wal", "-shm"] {
        let side = env.work().join(format!(".beads/beads.db{suffix}"));
        if side.exists() {
            std::fs::remove_file(side).unwrap();
        }
    }
    std::fs::write(&db, &garbage).unwrap();

    let out = fails(&env, &["list"], 3);
    let err = stderr(&out);
    assert!(err.contains(&format!("`{}`", db.display())), "{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("\nhint: "), "{err}");
    assert!(out.stdout.is_empty());

    let out = fails(&env, &["create", "Into the void"], 3);
    assert!(stderr(&out).contains("beads.db"));
    let out = fails(&env, &["list", "--json"], 3);
    let v: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(v["code"], "internal_error");
    assert_eq!(v["exit_code"], 3);
    fails(&env, &["doctor"], 3);

    assert_eq!(
        std::fs::read(&db).unwrap(),
        garbage,
        "the file is unchanged"
    );
}

#[test]
fn hostile_titles_are_stored_verbatim_and_never_run() {
    let env = store();
    let titles = [
        r#"He said "hi" and it's fine"#,
        "$(touch pwned)",
        "`touch pwned-too`",
        "; rm -rf / #",
        "'single' \\ backslash",
    ];
    for title in titles {
        let issue = json(&env, &["create", "--title", title]);
        assert_eq!(issue["title"], title);
        let id = issue["id"].as_str().unwrap();
        assert_eq!(json(&env, &["show", id])[0]["title"], title);
    }
    let listing = ok(&env, &["list"]);
    for title in titles {
        assert!(listing.contains(title), "{title} in\n{listing}");
    }
    for dir in [env.work(), env.root(), env.home()] {
        let names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            !names
                .iter()
                .any(|n| n.to_string_lossy().starts_with("pwned")),
            "{}: {names:?}",
            dir.display()
        );
    }
}

#[test]
fn control_characters_in_titles_are_refused() {
    let env = store();
    for title in [
        "red \u{1b}[31mALERT",
        "two\nlines",
        "bell\u{7}",
        "cr\rreturn",
    ] {
        let out = fails(&env, &["create", "--title", title], 1);
        assert!(
            stderr(&out).contains("control characters"),
            "{}",
            stderr(&out)
        );
    }
    let id = create(&env, "Clean", &[]);
    fails(
        &env,
        &["update", &id, "--title", "dirty\u{1b}]0;pwned\u{7}"],
        1,
    );
    assert_eq!(json(&env, &["show", &id])[0]["title"], "Clean");
    assert_eq!(count(&env), 1);
}

#[test]
fn imported_escape_sequences_are_shown_escaped() {
    let env = store();
    let line = r#"{"id":"t-esc","title":"red \u001b[31mALERT\u001b[2K","description":"bell\u0007 here","status":"open","priority":2,"issue_type":"task","labels":["x\u001b[2J"],"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}"#;
    std::fs::write(env.work().join("evil.jsonl"), format!("{line}\n")).unwrap();
    // Import checks titles and labels as `bd create` does…
    let out = fails(&env, &["import", "evil.jsonl"], 1);
    assert!(
        stderr(&out).contains("line 1: `t-esc`: invalid title: control characters"),
        "{}",
        stderr(&out)
    );
    assert_eq!(count(&env), 0);
    // …but raw SQL can still put them there, and a description may hold them: the display
    // escapes whatever the store holds.
    let clean = line
        .replace(r"red \u001b[31mALERT\u001b[2K", "placeholder")
        .replace(r#""labels":["x\u001b[2J"],"#, "");
    std::fs::write(env.work().join("evil.jsonl"), format!("{clean}\n")).unwrap();
    ok(&env, &["import", "evil.jsonl"]);
    ok(
        &env,
        &[
            "sql",
            "UPDATE issues SET title = 'red ' || char(27) || '[31mALERT' || char(27) || '[2K' WHERE id = 't-esc'",
        ],
    );
    ok(
        &env,
        &[
            "sql",
            "INSERT INTO labels (issue_id, label) VALUES ('t-esc', 'x' || char(27) || '[2J')",
        ],
    );

    // JSON keeps the data exact (escaped by JSON itself).
    assert_eq!(
        json(&env, &["show", "t-esc"])[0]["title"],
        "red \u{1b}[31mALERT\u{1b}[2K"
    );

    for args in [
        &["list"][..],
        &["show", "t-esc"],
        &["ready"],
        &["search", "ALERT"],
        &["prime"],
    ] {
        let out = ok(&env, args);
        assert!(
            !out.contains('\u{1b}') && !out.contains('\u{7}'),
            "{args:?}: raw control byte in {out:?}"
        );
        assert!(out.contains(r"red \u{1b}[31mALERT"), "{args:?}: {out}");
    }
    assert_cmd_snapshot!(env, bd(&env).arg("list"), @r"
    exit_code: 0
    ----- stdout -----
    t-esc  P2  open  task  -  red \u{1b}[31mALERT\u{1b}[2K [x\u{1b}[2J]
    ----- stderr -----
    ");
}

/// Spawns `bd args…` with piped stdout and stderr, reads one byte of stdout, closes it, and
/// returns the exit status and stderr.
fn read_one_byte_then_close(env: &TestEnv, args: &[&str]) -> (std::process::ExitStatus, String) {
    let mut child = bd(env)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn bd");
    let mut out = child.stdout.take().expect("stdout is piped");
    let mut byte = [0u8; 1];
    out.read_exact(&mut byte).expect("bd writes something");
    drop(out);
    let output = child.wait_with_output().expect("wait for bd");
    (
        output.status,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn closed_stdout_ends_quietly_with_success() {
    let env = store();
    // Well over a pipe buffer (64 KiB) of output, so the writer really hits the closed pipe.
    let body = "lorem ipsum ".repeat(20);
    let lines: String = (0..1500)
        .map(|n| {
            format!(
                r#"{{"id":"t-n{n}","title":"Issue number {n} with a longish title","description":"{body}","status":"open","priority":2,"issue_type":"task","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}}"#
            ) + "\n"
        })
        .collect();
    std::fs::write(env.work().join("many.jsonl"), lines).unwrap();
    ok(&env, &["import", "many.jsonl", "-q"]);
    assert!(ok(&env, &["list", "-n", "0"]).len() > 64 * 1024);

    for args in [
        &["list", "-n", "0"][..],
        &["export"],
        &["list", "-n", "0", "--json"],
        &["--version"],
    ] {
        let (status, err) = read_one_byte_then_close(&env, args);
        assert_eq!(status.code(), Some(0), "{args:?}: {status}, stderr: {err}");
        assert_eq!(err, "", "{args:?}");
    }
}

#[test]
fn json_errors_carry_the_hint() {
    let env = store();
    let out = fails(&env, &["show", "t-nope", "--json"], 1);
    assert!(out.stdout.is_empty(), "{}", stdout(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(v["hints"][0], "`bd list --all` shows the ids in this store");
}

#[test]
fn unknown_status_filters_and_missing_keys_are_errors() {
    let env = testkit::TestEnv::new();
    let bd = env!("CARGO_BIN_EXE_bd");
    assert!(
        env.command(bd)
            .args(["init", "--prefix", "t"])
            .output()
            .unwrap()
            .status
            .success()
    );
    let out = env
        .command(bd)
        .args(["list", "--status", "bogus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown status `bogus`"));
    for args in [
        &["kv", "get", "missing"][..],
        &["kv", "get", "missing", "--json"][..],
    ] {
        let out = env.command(bd).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("is not set"),
            "{args:?}"
        );
    }
}

/// A command given several ids changes all of them or none: the first refusal rolls back
/// the ids before it.
#[test]
fn several_ids_change_together_or_not_at_all() {
    let env = store();
    let a = create(&env, "a", &[]);
    let blocker = create(&env, "blocker", &[]);
    let b = create(&env, "b", &["--deps", &blocker]);
    let status = |id: &str| json(&env, &["show", id])[0]["status"].clone();

    let out = fails(&env, &["close", &a, &b], 1);
    assert!(stderr(&out).contains(&b), "{}", stderr(&out));
    assert_eq!(status(&a), "open", "closing {a} was rolled back");

    ok(&env, &["close", &a]);
    let out = fails(&env, &["reopen", &a, &b], 1);
    assert!(stderr(&out).contains("is not closed"), "{}", stderr(&out));
    assert_eq!(status(&a), "closed", "reopening {a} was rolled back");

    ok(&env, &["reopen", &a]);
    let taken = bd(&env)
        .env("BD_ACTOR", "bob")
        .args(["update", &b, "--claim"])
        .output()
        .unwrap();
    assert!(taken.status.success());
    let out = fails(&env, &["update", &a, &b, "--claim"], 1);
    assert!(stderr(&out).contains(&b), "{}", stderr(&out));
    assert_eq!(status(&a), "open", "claiming {a} was rolled back");
    assert_eq!(
        json(&env, &["show", &a])[0]["assignee"],
        serde_json::Value::Null
    );

    let out = fails(&env, &["update", &a, &b, "--title", &"x".repeat(501)], 1);
    assert!(stderr(&out).contains("title"), "{}", stderr(&out));
    ok(&env, &["update", &a, &b, "-p", "0"]);
    assert_eq!(json(&env, &["show", &a])[0]["priority"], 0);
    assert_eq!(json(&env, &["show", &b])[0]["priority"], 0);
}

/// `show` with several ids shows what it finds and warns about the rest, as upstream does;
/// only when nothing matches is it an error.
#[test]
fn show_warns_about_a_missing_id_among_several() {
    let env = store();
    let a = create(&env, "a", &[]);
    let out = run(&env, &["show", &a, "t-nope", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown.as_array().map(Vec::len), Some(1));
    assert_eq!(shown[0]["id"], a.as_str());
    assert!(stderr(&out).contains("t-nope"), "{}", stderr(&out));
    fails(&env, &["show", "t-nope", "t-other"], 1);
}

#[test]
fn readonly_refuses_every_write_and_allows_reads() {
    let env = store();
    let a = create(&env, "a", &[]);
    for args in [
        &["create", "b"][..],
        &["update", &a, "-p", "0"],
        &["close", &a],
        &["label", "add", &a, "x"],
        &["comment", &a, "hi"],
        &["dep", "add", &a, &a],
        &["config", "set", "k", "v"],
        &["sql", "DELETE FROM issues"],
        &["delete", &a, "--force"],
        &["init", "--prefix", "z"],
    ] {
        let mut with_flag = args.to_vec();
        with_flag.push("--readonly");
        let out = fails(&env, &with_flag, 1);
        assert!(
            stderr(&out).contains("read-only"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    assert_eq!(count(&env), 1);
    let shown = json(&env, &["show", &a, "--readonly"]);
    assert_eq!(shown[0]["priority"], 2, "nothing changed");
    ok(&env, &["list", "--readonly"]);
    ok(&env, &["sql", "SELECT count(*) FROM issues", "--readonly"]);
}

#[test]
fn invalid_utf8_on_stdin_is_a_user_error_and_changes_nothing() {
    let env = store();
    let id = create(&env, "A", &[]);
    let bad: &[u8] = b"caf\xe9 \xff\xfe\n";
    for args in [
        &["create", "-f", "-"][..],
        &["create", "Body from stdin", "--body-file", "-"],
        &["update", &id, "--body-file", "-"],
        &["comment", &id, "-"],
        &["note", &id, "--stdin"],
        &["delete", "--from-file", "-", "--force"],
    ] {
        let out = crate::run_stdin_bytes(&env, args, bad);
        crate::assert_code(&out, 1);
        let err = stderr(&out);
        assert!(
            err.contains("standard input is not valid UTF-8"),
            "{args:?}: {err}"
        );
    }
    let out = crate::run_stdin_bytes(&env, &["import", "-"], bad);
    crate::assert_code(&out, 1);
    assert!(
        stderr(&out).contains("line 1: not valid UTF-8"),
        "{}",
        stderr(&out)
    );
    assert_eq!(count(&env), 1);
    assert!(json(&env, &["show", &id])[0]["description"].is_null());
    assert!(
        json(&env, &["comments", &id])
            .as_array()
            .unwrap()
            .is_empty()
    );
}
