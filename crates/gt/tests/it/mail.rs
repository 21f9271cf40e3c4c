//! `gt mail` end to end: the command surface by snapshots and `--json`, threads, cc, lists
//! and broadcasts, racing queue claims, hostile text, bad input that changes nothing, and the
//! session hook that never fails.

use std::path::PathBuf;
use std::process::{Output, Stdio};

use serde_json::Value;
use testkit::{GitFixture, TestEnv, assert_cmd_snapshot, require_cmd};

use super::{GT, stderr};

/// A town with rig `gastown`, polecat worktree `nux` and crew member `max`, at a fixed time.
struct Town {
    env: TestEnv,
    root: PathBuf,
}

impl Town {
    /// `None` (the test is skipped) without git.
    fn new() -> Option<Self> {
        if !require_cmd("git") {
            return None;
        }
        let env = TestEnv::new();
        env.set("GT_TEST_NOW", "2026-01-15T12:00:00Z");
        let remote = GitFixture::with_commits(&env, 1).remote_path().to_owned();
        let root = env.work().join("town");
        let t = Self { env, root };
        t.ok(&["install", "town"]);
        t.env.set("GT_TOWN_ROOT", &t.root);
        t.ok(&[
            "rig",
            "add",
            "gastown",
            &format!("file://{}", remote.display()),
        ]);
        for dir in ["gastown/polecats/nux", "gastown/crew/max"] {
            std::fs::create_dir_all(t.root.join(dir)).expect("make an agent directory");
        }
        Some(t)
    }

    fn cmd(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = self.env.command(GT);
        cmd.current_dir(self.env.work()).args(args);
        cmd
    }

    fn gt(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run gt")
    }

    fn ok(&self, args: &[&str]) -> Output {
        let out = self.gt(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        out
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.ok(&all);
        serde_json::from_slice(&out.stdout).expect("JSON on stdout")
    }

    /// Sends as `from`; returns the new message's id (`msg-N`).
    fn send(&self, from: &str, args: &[&str]) -> String {
        let mut all = vec!["mail", "send", "--identity", from];
        all.extend_from_slice(args);
        self.json(&all)["message"]["id"]
            .as_str()
            .expect("an id")
            .to_owned()
    }

    /// The ids in a mailbox (archived ones too), newest first.
    fn ids(&self, mailbox: &str) -> Vec<String> {
        self.json(&["mail", "inbox", mailbox, "--all", "--limit", "0"])["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| m["id"].as_str().expect("an id").to_owned())
            .collect()
    }
}

#[test]
fn the_command_surface_reads_as_a_mail_client() {
    let Some(t) = Town::new() else { return };
    let first = t.send(
        "overseer",
        &[
            "mayor/",
            "gastown/nux",
            "-s",
            "Ship the parser",
            "-m",
            "Details:\n- tests\n- docs",
            "--cc",
            "gastown/crew/max",
            "--type",
            "task",
            "--priority",
            "high",
        ],
    );
    assert_eq!(first, "msg-1");
    assert_cmd_snapshot!(t.env, t.cmd(&["mail", "send", "mayor/", "-s", "Fire in the build", "--urgent"]), @r"
    exit_code: 0
    ----- stdout -----
    Sent msg-2 to mayor/
    ----- stderr -----
    ");
    assert_cmd_snapshot!(t.env, t.cmd(&["mail", "send", "mayor/", "-s", "MERGED nux"]), @r"
    exit_code: 0
    ----- stdout -----
    Sent msg-3 to mayor/ (ephemeral)
    ----- stderr -----
    ");
    assert_cmd_snapshot!(t.env, t.cmd(&["mail", "inbox", "mayor/"]), @r"
    exit_code: 0
    ----- stdout -----
    ●  msg-3  2026-01-15 12:00  overseer  MERGED nux
    ●  msg-2  2026-01-15 12:00  overseer  [urgent] Fire in the build
    ●  msg-1  2026-01-15 12:00  overseer  [high] Ship the parser
    ----- stderr -----
    ");
    assert_cmd_snapshot!(t.env, t.cmd(&["mail", "check", "--inject", "--identity", "mayor/"]), @r"
    exit_code: 0
    ----- stdout -----
    <system-reminder>
    URGENT: 1 unread message requires immediate attention. Stop and read it now.

    - msg-2 from overseer: Fire in the build (read it: gt mail read msg-2 --identity mayor/)
    </system-reminder>
    <system-reminder>
    1 high-priority unread message: process it before going idle.

    - msg-1 from overseer: Ship the parser (read it: gt mail read msg-1 --identity mayor/)
    </system-reminder>
    <system-reminder>
    1 unread message in your inbox: check it after your current task.

    - msg-3 from overseer: MERGED nux (read it: gt mail read msg-3 --identity mayor/)
    </system-reminder>
    ----- stderr -----
    ");
    t.env.set("GT_ROLE", "mayor/");
    assert_cmd_snapshot!(t.env, t.cmd(&["mail", "check"]), @r"
    exit_code: 1
    ----- stdout -----
    3 unread messages in `mayor/` (1 urgent, 1 high)
    ----- stderr -----
    ");
    // Peeking leaves it unread; reading marks it read.
    t.ok(&["mail", "peek", "msg-1"]);
    assert_cmd_snapshot!(t.env, t.cmd(&["mail", "read", "msg-1"]), @r"
    exit_code: 0
    ----- stdout -----
    msg-1
    From:     overseer
    To:       mayor/, gastown/polecats/nux
    Cc:       gastown/crew/max
    Date:     2026-01-15 12:00
    Priority: high
    Type:     task
    Subject:  Ship the parser

    Details:
    - tests
    - docs
    ----- stderr -----
    ");
    assert_cmd_snapshot!(t.env, t.cmd(&["mail", "reply", "msg-1", "-m", "On it."]), @r"
    exit_code: 0
    ----- stdout -----
    Sent msg-4 to overseer
    ----- stderr -----
    ");
    t.env.set("GT_ROLE", "overseer");
    t.ok(&["mail", "reply", "msg-4", "-m", "Thanks."]);
    assert_cmd_snapshot!(t.env, t.cmd(&["mail", "thread", "msg-4"]), @r"
    exit_code: 0
    ----- stdout -----
    ── msg-1 ──
    From:     overseer
    To:       mayor/, gastown/polecats/nux
    Cc:       gastown/crew/max
    Date:     2026-01-15 12:00
    Priority: high
    Type:     task
    Subject:  Ship the parser

    Details:
    - tests
    - docs

    ── msg-4 ──
    From:     mayor/
    To:       overseer
    Date:     2026-01-15 12:00
    Priority: high
    Type:     reply
    Thread:   msg-1
    Reply to: msg-1
    Subject:  Re: Ship the parser

    On it.

    ── msg-5 ──
    From:     overseer
    To:       mayor/
    Date:     2026-01-15 12:00
    Priority: high
    Type:     reply
    Thread:   msg-1
    Reply to: msg-4
    Subject:  Re: Ship the parser

    Thanks.
    ----- stderr -----
    ");
    // The copied crew member sees the first message of the thread only.
    let thread = t.json(&["mail", "thread", "msg-1", "--identity", "gastown/crew/max"]);
    assert_eq!(thread["messages"].as_array().unwrap().len(), 1, "{thread}");

    t.env.set("GT_ROLE", "mayor/");
    assert_cmd_snapshot!(t.env, t.cmd(&["mail", "archive", "msg-2", "msg-3"]), @r"
    exit_code: 0
    ----- stdout -----
    Marked msg-2, msg-3 archived
    ----- stderr -----
    ");
    t.ok(&["mail", "mark-unread", "msg-1"]);
    assert_cmd_snapshot!(t.env, t.cmd(&["mail", "inbox", "--all"]), @r"
    exit_code: 0
    ----- stdout -----
    ●  msg-5  2026-01-15 12:00  overseer  [high] Re: Ship the parser
       msg-3  2026-01-15 12:00  overseer  MERGED nux
       msg-2  2026-01-15 12:00  overseer  [urgent] Fire in the build
    ●  msg-1  2026-01-15 12:00  overseer  [high] Ship the parser
    ----- stderr -----
    ");
    t.ok(&["mail", "mark-read", "msg-1", "msg-5"]);
    assert_cmd_snapshot!(t.env, t.cmd(&["mail", "check"]), @r"
    exit_code: 0
    ----- stdout -----
    No unread mail in `mayor/`
    ----- stderr -----
    ");
    assert_cmd_snapshot!(t.env, t.cmd(&["mail", "check", "--inject"]), @r"
    exit_code: 0
    ----- stdout -----
    ----- stderr -----
    ");
    assert_cmd_snapshot!(t.env, t.cmd(&["mail", "search", "PARSER"]), @r"
    exit_code: 0
    ----- stdout -----
       msg-5  2026-01-15 12:00  overseer  [high] Re: Ship the parser
       msg-1  2026-01-15 12:00  overseer  [high] Ship the parser
    ----- stderr -----
    ");
    t.ok(&["mail", "delete", "msg-5"]);
    assert_eq!(t.ids("mayor/"), ["msg-3", "msg-2", "msg-1"]);
    assert_cmd_snapshot!(t.env, t.cmd(&["mail", "read", "msg-5"]), @r"
    exit_code: 1
    ----- stdout -----
    ----- stderr -----
    error: no message `msg-5` in the mailbox `mayor/`

    hint: `gt mail inbox --all` lists the messages in the mailbox
    ");
    assert_cmd_snapshot!(t.env, t.cmd(&["mail", "inbox", "deacon/"]), @r"
    exit_code: 0
    ----- stdout -----
    ----- stderr -----
    No mail in `deacon/`
    ");
}

#[test]
fn json_output_is_the_stored_values() {
    let Some(t) = Town::new() else { return };
    let sent = t.json(&[
        "mail",
        "send",
        "gastown/nux",
        "mayor",
        "-s",
        "POLECAT_DONE nux",
        "--cc",
        "mayor/",
        "--stdin",
    ]);
    assert_eq!(
        sent["mailboxes"],
        serde_json::json!(["gastown/polecats/nux", "mayor/"])
    );
    let m = &sent["message"];
    assert_eq!(
        m["to"],
        serde_json::json!(["gastown/polecats/nux", "mayor/"])
    );
    assert_eq!(m["cc"], serde_json::json!(["mayor/"]));
    assert_eq!(m["ephemeral"], true, "protocol subjects are ephemeral");
    assert_eq!(m["from"], "overseer");
    assert_eq!(m["created_at"], "2026-01-15T12:00:00.000000Z");
    let kept = t.json(&["mail", "send", "mayor/", "-s", "MERGED x", "--permanent"]);
    assert_eq!(kept["message"]["ephemeral"], false);

    let inbox = t.json(&["mail", "inbox", "--identity", "mayor/"]);
    assert_eq!(inbox["mailbox"], "mayor/");
    let first = &inbox["messages"][1];
    assert_eq!(first["id"], "msg-1");
    assert_eq!(first["role"], "to", "to wins over cc for the same mailbox");
    assert_eq!(first["state"], "inbox");
    assert_eq!(first["read"], false);
    assert_eq!(first["type"], "notification");
    assert_eq!(first["thread_id"], "msg-1");
    let read = t.json(&["mail", "read", "1", "--identity", "mayor/"]);
    assert_eq!(
        (&read["read"], &read["read_at"]),
        (
            &Value::from(true),
            &Value::from("2026-01-15T12:00:00.000000Z")
        )
    );
    let changed = t.json(&["mail", "archive", "msg-1", "--identity", "mayor/"]);
    assert_eq!(
        changed,
        serde_json::json!({"ids": ["msg-1"], "now": "archived"})
    );
    // Unread mail: exit 1, and the counts on stdout.
    let out = t.gt(&["--json", "mail", "check", "--identity", "gastown/nux"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let check: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        check,
        serde_json::json!({"mailbox": "gastown/polecats/nux", "unread": 1, "urgent": 0, "high": 0})
    );
}

#[test]
fn lists_and_broadcasts_expand_to_the_agents_known_when_sent() {
    let Some(t) = Town::new() else { return };
    std::fs::write(
        t.root.join("settings/messaging.json"),
        r#"{"version": 1, "lists": {"oncall": ["mayor/", "gastown/witness", "gastown/nux"]}, "queues": {"triage": {}}}"#,
    )
    .unwrap();
    let sent = t.json(&[
        "mail",
        "send",
        "list:oncall",
        "-s",
        "Page",
        "--cc",
        "overseer",
    ]);
    assert_eq!(
        sent["mailboxes"],
        serde_json::json!([
            "mayor/",
            "gastown/witness",
            "gastown/polecats/nux",
            "overseer"
        ])
    );
    assert_eq!(sent["message"]["to"], serde_json::json!(["list:oncall"]));

    let rig = t.json(&[
        "mail",
        "send",
        "@rig/gastown",
        "-s",
        "Rig news",
        "--identity",
        "gastown/witness",
    ]);
    assert_eq!(
        rig["mailboxes"],
        serde_json::json!([
            "gastown/refinery",
            "gastown/polecats/nux",
            "gastown/crew/max"
        ]),
        "every agent of the rig but the sender"
    );
    let town = t.json(&[
        "mail",
        "send",
        "@town",
        "-s",
        "Town news",
        "--identity",
        "mayor/",
    ]);
    assert_eq!(
        town["mailboxes"],
        serde_json::json!([
            "deacon/",
            "gastown/witness",
            "gastown/refinery",
            "gastown/polecats/nux",
            "gastown/crew/max"
        ])
    );
    // A member that no longer exists stops the whole send: nothing is delivered.
    std::fs::remove_dir(t.root.join("gastown/polecats/nux")).unwrap();
    let before = t.ids("mayor/");
    assert_cmd_snapshot!(t.env, t.cmd(&["mail", "send", "list:oncall", "-s", "Page again"]), @r"
    exit_code: 1
    ----- stdout -----
    ----- stderr -----
    error: cannot deliver to `gastown/polecats/nux`: rig `gastown` has no polecat `nux` (neither the store nor a worktree knows it)

    hint: `gt polecat list` shows the polecats
    ");
    assert_eq!(t.ids("mayor/"), before);
}

#[test]
fn of_two_racing_claims_on_a_queue_message_exactly_one_wins() {
    let Some(t) = Town::new() else { return };
    std::fs::write(
        t.root.join("settings/messaging.json"),
        r#"{"version": 1, "queues": {"triage": {"description": "unowned bugs"}}}"#,
    )
    .unwrap();
    let id = t.send("overseer", &["queue:triage", "-s", "Flaky test in CI"]);
    let claimers = ["gastown/crew/max", "gastown/polecats/nux"];
    let children: Vec<_> = claimers
        .iter()
        .map(|who| {
            t.cmd(&["mail", "claim", &id, "--identity", who])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn gt")
        })
        .collect();
    let outs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait"))
        .collect();
    let winners: Vec<usize> = (0..2)
        .filter(|i| outs[*i].status.code() == Some(0))
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "{:?}",
        outs.iter().map(stderr).collect::<Vec<_>>()
    );
    let (winner, loser) = (claimers[winners[0]], &outs[1 - winners[0]]);
    assert_eq!(loser.status.code(), Some(1));
    assert!(
        stderr(loser).contains(&format!("`{id}` is already claimed by `{winner}`")),
        "{}",
        stderr(loser)
    );
    // The winner holds it; only the winner can give it back; then anybody can take it.
    let inbox = t.json(&["mail", "inbox", winner]);
    assert_eq!(inbox["messages"][0]["claimed_by"], winner);
    let other = claimers[1 - winners[0]];
    let out = t.gt(&["mail", "release", &id, "--identity", other]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("only its claimant can release it"),
        "{}",
        stderr(&out)
    );
    t.ok(&["mail", "release", &id, "--identity", winner]);
    let claimed = t.json(&["mail", "claim", "queue:triage", "--identity", other]);
    assert_eq!(claimed["claimed_by"], other);
    assert_cmd_snapshot!(t.env, t.cmd(&["mail", "claim", "queue:triage", "--identity", winner]), @r"
    exit_code: 1
    ----- stdout -----
    ----- stderr -----
    error: the queue `queue:triage` has no unclaimed message
    ");
}

#[test]
fn hostile_text_is_stored_whole_and_printed_safely() {
    let Some(t) = Town::new() else { return };
    let subject = "\u{1b}[2J\u{1b}[31mPWNED\u{7}\r";
    let body = format!("line\u{1b}]0;title\u{7}\n{}", "x".repeat(200_000));
    let mut child = t
        .cmd(&["--json", "mail", "send", "mayor/", "-s", subject, "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn gt");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), body.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    // The hook first: it lists unread mail only.
    for args in [
        &["mail", "check", "--inject", "--identity", "mayor/"][..],
        &["mail", "inbox", "mayor/"],
        &["mail", "read", "msg-1", "--identity", "mayor/"],
    ] {
        let out = t.gt(args);
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}') && !text.contains('\r'),
            "{args:?} printed a control character"
        );
        assert!(
            text.contains("\\u{1b}[31mPWNED"),
            "{args:?}: {}",
            &text[..text.len().min(300)]
        );
    }
}

#[test]
fn bad_input_fails_cleanly_and_changes_nothing() {
    let Some(t) = Town::new() else { return };
    t.send("overseer", &["mayor/", "-s", "keep"]);
    for (args, says) in [
        (
            &["mail", "send", "nowhere/x/y/z", "-s", "x"][..],
            "is not an address",
        ),
        (
            &["mail", "send", "atlantis/witness", "-s", "x"],
            "the town has no rig `atlantis`",
        ),
        (
            &["mail", "send", "gastown/crew/bob", "-s", "x"],
            "has no crew member `bob`",
        ),
        (
            &["mail", "send", "queue:nope", "-s", "x"],
            "defines no queue `nope`",
        ),
        (
            &["mail", "send", "mayor/", "-s", "  "],
            "a message needs a subject",
        ),
        (
            &["mail", "send", "mayor/", "-s", "x", "--priority", "9"],
            "is not 0-4",
        ),
        (
            &["mail", "send", "mayor/", "-s", "x", "--type", "memo"],
            "`memo` is not one of",
        ),
        (
            &["mail", "send", "mayor/", "-s", "x", "--identity", "@town"],
            "is not one mailbox",
        ),
        (
            &["mail", "send", "mayor/", "-s", "x", "--reply-to", "msg-42"],
            "no message `msg-42`",
        ),
        (
            &["mail", "read", "msg-42", "--identity", "mayor/"],
            "no message `msg-42` in the mailbox `mayor/`",
        ),
        (
            &["mail", "read", "msg-1"],
            "no message `msg-1` in the mailbox `overseer`",
        ),
        (&["mail", "read", "bd-abc"], "is not a message id"),
        (
            &["mail", "archive", "msg-1", "msg-42", "--identity", "mayor/"],
            "no message `msg-42`",
        ),
        (
            &["mail", "claim", "msg-1", "--identity", "mayor/"],
            "not a message in a queue",
        ),
        (
            &["mail", "release", "msg-1", "--identity", "mayor/"],
            "not a message in a queue",
        ),
    ] {
        let out = t.gt(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{args:?}");
    }
    // The one message is still there, unread and in the inbox; nothing else was sent.
    let inbox = t.json(&["mail", "inbox", "mayor/", "--all"]);
    assert_eq!(inbox["messages"].as_array().unwrap().len(), 1);
    assert_eq!(inbox["messages"][0]["state"], "inbox");
    assert_eq!(inbox["messages"][0]["read"], false);
    assert!(t.ids("overseer").is_empty());
}

#[test]
fn the_session_hook_never_fails() {
    let Some(t) = Town::new() else { return };
    t.send("overseer", &["mayor/", "-s", "hello"]);
    // A bad identity, then a store that is not a database: nothing on stdout, a line on
    // stderr, success.
    let out = t.gt(&["mail", "check", "--inject", "--identity", "a/b/c/d"]);
    assert_eq!((out.status.code(), out.stdout.len()), (Some(0), 0));
    assert!(
        stderr(&out).contains("is not an address"),
        "{}",
        stderr(&out)
    );
    let db = t.root.join(".beads/beads.db");
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(t.root.join(format!(".beads/beads.db{suffix}")));
    }
    std::fs::write(&db, "not a database").unwrap();
    let out = t.gt(&["mail", "check", "--inject", "--identity", "mayor/"]);
    assert_eq!(
        (out.status.code(), out.stdout.len()),
        (Some(0), 0),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).starts_with("gt mail check --inject: "),
        "{}",
        stderr(&out)
    );
    // Outside any town too.
    let out = t
        .cmd(&["mail", "check", "--inject"])
        .env_remove("GT_TOWN_ROOT")
        .current_dir(t.env.root())
        .output()
        .unwrap();
    assert_eq!((out.status.code(), out.stdout.len()), (Some(0), 0));
    // Plain `check` is not a hook: a broken store is an error.
    let out = t.gt(&["mail", "check", "--identity", "mayor/"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
}

#[test]
fn gemini_hooks_get_one_json_object_with_the_reminders_and_nudges() {
    let Some(t) = Town::new() else { return };
    t.send(
        "overseer",
        &[
            "gastown/nux",
            "-s",
            "urgent <b>thing</b>",
            "--priority",
            "0",
        ],
    );
    t.send("mayor/", &["gastown/nux", "-s", "later"]);
    let run = |stdin: &str| {
        let mut child = t
            .cmd(&["mail", "check", "--inject", "--hook-format", "gemini"])
            .env("GT_ROLE", "gastown/polecats/nux")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let out = run(r#"{"session_id":"s1","hook_event_name":"BeforeAgent","prompt":"go on"}"#);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Stdout is exactly one JSON object: Gemini reads anything else as a message for the
    // person, not context.
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["hookSpecificOutput"]["hookEventName"], "BeforeAgent");
    let context = v["hookSpecificOutput"]["additionalContext"]
        .as_str()
        .unwrap();
    assert!(!context.contains("<system-reminder>"), "{context}");
    assert!(
        context.starts_with("URGENT: 1 unread message requires immediate attention."),
        "{context}"
    );
    assert!(context.contains("from mayor/: later"), "{context}");
    // Claude's format is unchanged: tagged blocks.
    let claude = t
        .cmd(&["mail", "check", "--inject"])
        .env("GT_ROLE", "gastown/polecats/nux")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&claude.stdout);
    assert_eq!(text.matches("<system-reminder>").count(), 2, "{text}");
    // Nothing unread: nothing at all on stdout (Gemini treats empty output as none).
    let out = t.gt(&[
        "mail",
        "check",
        "--inject",
        "--hook-format",
        "gemini",
        "--identity",
        "deacon/",
    ]);
    assert_eq!(
        (out.status.code(), out.stdout.len()),
        (Some(0), 0),
        "{}",
        stderr(&out)
    );
    // The flag belongs to `--inject`.
    let out = t.gt(&["mail", "check", "--hook-format", "gemini"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
