//! `gt handoff`: a scripted agent in a real tmux pane (private socket) hands off; a fresh agent
//! of the next generation runs in the same pane, its prime says it is post-handoff and the
//! HANDOFF mail waits in its inbox. A handoff inside the cooldown is refused (exit 4) and
//! changes nothing; outside a session it is an error. Also escalation's `mail:` route.
#![expect(clippy::unwrap_used, reason = "test steps fail the test by panicking")]

use std::process::Output;

use serde_json::Value;
use testkit::{TestEnv, assert_cmd_snapshot, wait_until};

use super::GT;
use super::work_loop::{TIMEOUT, Town, json, ok, stdout};

/// A town whose agents run `script` (through `GT_AGENT_SCRIPT`), with one bead slung to a
/// polecat; returns the town and the polecat's row. Scripts start with `once sleep 2000`, so
/// the first agent's pane is seen before it hands off.
fn slung(script: &str) -> Option<(Town, Value)> {
    let town = Town::new()?;
    let path = town.env.root().join("agent-script");
    std::fs::write(&path, script).unwrap();
    town.env.set("GT_AGENT_SCRIPT", &path);
    let bead = town.create("Refactor the parser", "Split it in two.");
    town.sling(&[&bead, "gastown"]);
    let row = polecat(&town);
    Some((town, row))
}

/// The one polecat's row, from the store.
fn polecat(town: &Town) -> Value {
    let out = ok(town.bd(&[
        "sql",
        "SELECT name, generation, session, bead_id FROM polecats",
        "--json",
    ]));
    json(&out)[0].clone()
}

/// The pane id and pid of `session`'s pane.
fn pane(town: &Town, session: &str) -> (String, u32) {
    let tmux = format!("{session}-{}", ::town::runtime::town_tag(&town.root));
    let line = town
        .server
        .run(["list-panes", "-t", &tmux, "-F", "#{pane_id} #{pane_pid}"]);
    let (id, pid) = line.trim().split_once(' ').unwrap();
    (id.to_owned(), pid.parse().unwrap())
}

fn screen(town: &Town, session: &str) -> String {
    let tmux = format!("{session}-{}", ::town::runtime::town_tag(&town.root));
    town.server
        .run(["capture-pane", "-p", "-S", "-200", "-t", &tmux])
}

/// Waits for the polecat's next generation to show `needle` in its pane.
fn wait_successor(town: &Town, session: &str, generation: i64, needle: &str) {
    wait_until(TIMEOUT, || {
        polecat(town)["generation"] == generation + 1 && screen(town, session).contains(needle)
    })
    .unwrap_or_else(|e| {
        let log = std::fs::read_to_string(town.root.join("logs/handoff.log")).unwrap_or_default();
        panic!("no successor: {e}\n{}\nhandoff.log:\n{log}", town.panes())
    });
}

/// `gt <args>` as the agent of `row` (generation `generation`) would run it.
fn as_agent(town: &Town, row: &Value, generation: i64, args: &[&str]) -> std::process::Command {
    let mut cmd = town.env.command(GT);
    cmd.current_dir(
        town.root
            .join("gastown/polecats")
            .join(row["name"].as_str().unwrap()),
    )
    .env(
        "GT_ROLE",
        format!("gastown/polecats/{}", row["name"].as_str().unwrap()),
    )
    .env("GT_SESSION", row["session"].as_str().unwrap())
    .env("GT_GENERATION", generation.to_string())
    .args(args);
    cmd
}

fn inbox(town: &Town, row: &Value) -> Vec<Value> {
    let me = format!("gastown/polecats/{}", row["name"].as_str().unwrap());
    json(&ok(town.gt(&[
        "--json",
        "mail",
        "inbox",
        "--identity",
        &me,
    ])))["messages"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn handoff_starts_a_fresh_agent_in_the_same_pane_and_the_cooldown_refuses_a_second() {
    let Some((town, row)) = slung("once sleep 2000\nonce handoff parser half done\nprime\nstay\n")
    else {
        return;
    };
    let session = row["session"].as_str().unwrap().to_owned();
    let generation = row["generation"].as_i64().unwrap();
    let (pane_before, pid_before) = pane(&town, &session);
    wait_successor(&town, &session, generation, "You are post-handoff");
    let (pane_after, pid_after) = pane(&town, &session);
    assert_eq!(pane_after, pane_before, "the same pane");
    assert_ne!(pid_after, pid_before, "a new agent");
    let text = screen(&town, &session);
    assert!(text.contains("gt mail read msg-"), "{text}");
    // The helper logs once the respawn returns, which may be after the new agent's first output.
    let mut log = String::new();
    wait_until(TIMEOUT, || {
        log = std::fs::read_to_string(town.root.join("logs/handoff.log")).unwrap_or_default();
        log.contains("generation 2 started in session")
    })
    .unwrap_or_else(|e| panic!("{e}: {log}"));
    // The note shows once: the marker is gone.
    assert!(!town.root.join(".runtime/handoff").join(&session).exists());
    // One handoff in the stream, written with the generation it made, naming the mail.
    let handoffs: Vec<Value> = super::events::events(&town, &[])
        .into_iter()
        .filter(|e| e["kind"] == "handoff")
        .collect();
    assert_eq!(handoffs.len(), 1, "{handoffs:?}");
    let payload = &handoffs[0]["payload"];
    assert_eq!(
        (&payload["from_generation"], &payload["generation"]),
        (&Value::from(generation), &Value::from(generation + 1)),
        "{payload}"
    );
    assert!(
        payload["mail"]
            .as_str()
            .is_some_and(|m| m.starts_with("msg-")),
        "{payload}"
    );

    let mail = inbox(&town, &row);
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0]["subject"], "🤝 HANDOFF: parser half done");
    let body = mail[0]["body"].as_str().unwrap();
    assert!(
        body.contains(&format!(
            "hooked_bead: {}",
            row["bead_id"].as_str().unwrap()
        )),
        "{body}"
    );
    assert!(
        body.contains("## Context\n\nHanded off by the scripted agent."),
        "{body}"
    );
    assert!(body.contains("## Next"), "{body}");
    // The session hook's reminder shows it to the new agent.
    let injected = stdout(&ok(as_agent(
        &town,
        &row,
        generation + 1,
        &["mail", "check", "--inject"],
    )
    .output()
    .unwrap()));
    assert!(
        injected.contains("🤝 HANDOFF: parser half done"),
        "{injected}"
    );

    // The old generation can no longer finish the work.
    let late = as_agent(&town, &row, generation, &["done"])
        .output()
        .unwrap();
    assert_eq!(
        late.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&late.stderr)
    );

    // Inside the cooldown: refused with exit 4, and nothing changes.
    insta::with_settings!({filters => vec![(r"gastown/polecats/\w+", "gastown/polecats/[NAME]")]}, {
        assert_cmd_snapshot!(town.env, as_agent(&town, &row, generation + 1, &["handoff", "-s", "again"]), @r"
        exit_code: 4
        ----- stdout -----
        ----- stderr -----
        error: `gastown/polecats/[NAME]` handed off [DURATION] ago; handoffs are at least two minutes apart: try again in [DURATION]

        hint: nothing was sent or changed; carry on, or run the same `gt handoff` once the time is up
        ");
    });
    assert_eq!(inbox(&town, &row).len(), 1);
    assert_eq!(polecat(&town)["generation"], generation + 1);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(pane(&town, &session), (pane_after, pid_after));
}

#[test]
fn cycle_respawns_with_the_status_collected() {
    let Some((town, row)) = slung("once sleep 2000\nonce handoff --cycle\nprime\nstay\n") else {
        return;
    };
    let session = row["session"].as_str().unwrap().to_owned();
    let generation = row["generation"].as_i64().unwrap();
    let (pane_before, pid_before) = pane(&town, &session);
    wait_successor(&town, &session, generation, "(compaction)");
    let (pane_after, pid_after) = pane(&town, &session);
    assert_eq!(pane_after, pane_before);
    assert_ne!(pid_after, pid_before);
    let mail = inbox(&town, &row);
    assert_eq!(mail[0]["subject"], "🤝 HANDOFF: context cycle");
    let body = mail[0]["body"].as_str().unwrap();
    for want in [
        "reason: compaction",
        "Inbox: 0 unread",
        "In progress:",
        "Ready:",
    ] {
        assert!(body.contains(want), "{want}: {body}");
    }
}

fn gt(env: &TestEnv, args: &[&str]) -> Output {
    env.command(GT).args(args).output().expect("run gt")
}

#[test]
fn outside_a_session_handoff_is_refused_and_changes_nothing() {
    let env = TestEnv::new();
    ok(gt(&env, &["install", "town"]));
    env.set("GT_TOWN_ROOT", env.work().join("town"));
    env.set("GT_ROLE", "gastown/polecats/nux");
    assert_cmd_snapshot!(env, env.command(GT).args(["handoff", "-s", "bye"]), @r"
    exit_code: 1
    ----- stdout -----
    ----- stderr -----
    error: `gt handoff` replaces the agent of a town session, but `GT_SESSION` is not set: this shell is not one

    hint: run `gt handoff` from inside the session of a polecat, the mayor or a crew member
    ");
    env.set("GT_SESSION", "gt-nux");
    assert_cmd_snapshot!(env, env.command(GT).args(["handoff", "-s", "bye"]), @r"
    exit_code: 1
    ----- stdout -----
    ----- stderr -----
    error: session `gt-nux` is not the session of `gastown/polecats/nux` (the store has no such polecat)

    hint: `gt agents` shows each agent's session
    ");
    env.set("GT_ROLE", "mayor/");
    assert_cmd_snapshot!(env, env.command(GT).args(["handoff"]), @r"
    exit_code: 1
    ----- stdout -----
    ----- stderr -----
    error: session `gt-nux` is not the session of `mayor/` (it was never started by the town)

    hint: `gt agents` shows each agent's session
    ");
    env.set("GT_ROLE", "gastown/witness");
    assert_cmd_snapshot!(env, env.command(GT).args(["handoff"]), @r"
    exit_code: 1
    ----- stdout -----
    ----- stderr -----
    error: `gastown/witness` cannot hand off: only polecats, the mayor and crew run in sessions the town starts and can restart

    hint: run `gt handoff` from inside the session of a polecat, the mayor or a crew member
    ");
    let all = json(&ok(gt(
        &env,
        &[
            "--json",
            "mail",
            "inbox",
            "--identity",
            "gastown/polecats/nux",
        ],
    )));
    assert_eq!(all["messages"], serde_json::json!([]));
}

#[test]
fn an_escalation_with_a_mail_route_puts_one_message_in_the_mayors_inbox() {
    let env = TestEnv::new();
    ok(gt(&env, &["install", "town"]));
    let root = env.work().join("town");
    env.set("GT_TOWN_ROOT", &root);
    let config = root.join("settings/escalation.json");
    std::fs::write(&config, r#"{"routes": {"high": ["bead", "mail:mayor/"]}}"#).unwrap();
    env.set("GT_ROLE", "gastown/witness");
    let raised = json(&ok(gt(
        &env,
        &[
            "--json",
            "escalate",
            "Refinery stuck on a gate",
            "-s",
            "high",
            "-r",
            "The gate hung for an hour.",
        ],
    )));
    let routes: Vec<(&str, bool)> = raised["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["route"].as_str().unwrap(), d["ok"].as_bool().unwrap()))
        .collect();
    assert_eq!(routes, [("bead", true), ("mail:mayor/", true)]);
    env.set("GT_ROLE", "mayor/");
    assert_cmd_snapshot!(env, env.command(GT).args(["mail", "inbox"]), @r"
    exit_code: 0
    ----- stdout -----
    ●  msg-1  2026-01-01 00:00  gastown/witness  [high] [HIGH] Refinery stuck on a gate
    ----- stderr -----
    ");
    assert_cmd_snapshot!(env, env.command(GT).args(["mail", "read", "msg-1"]), @r"
    exit_code: 0
    ----- stdout -----
    msg-1
    From:     gastown/witness
    To:       mayor/
    Date:     2026-01-01 00:00
    Priority: high
    Subject:  [HIGH] Refinery stuck on a gate

    Escalation [ID] (HIGH) raised.

    id: [ID]
    severity: HIGH
    from: gastown/witness
    source: -

    Reason:
    The gate hung for an hour.

    Acknowledge with `gt escalate ack [ID]`; details: `gt escalate show [ID]`.
    ----- stderr -----
    ");

    // An address the town does not have fails at load, naming the field, and raises nothing.
    std::fs::write(
        &config,
        r#"{"routes": {"low": ["log", "mail:ghost/witness"]}}"#,
    )
    .unwrap();
    assert_cmd_snapshot!(env, env.command(GT).args(["escalate", "x", "-s", "low"]), @r"
    exit_code: 1
    ----- stdout -----
    ----- stderr -----
    error: `[ROOT]/work/town/settings/escalation.json`: `routes.low[1]`: cannot deliver to `ghost/witness`: the town has no rig `ghost`

    hint: fix `settings/escalation.json` (routes: bead, log, mail:<address>, command:<program> <args>)
    ");
    std::fs::write(&config, r#"{"routes": {"low": ["mail:gastown/../x"]}}"#).unwrap();
    assert_cmd_snapshot!(env, env.command(GT).args(["escalate", "x", "-s", "low"]), @r"
    exit_code: 1
    ----- stdout -----
    ----- stderr -----
    error: `[ROOT]/work/town/settings/escalation.json`: `routes.low[0]`: `gastown/../x` is not an address: it matches none of the address forms

    hint: fix `settings/escalation.json` (routes: bead, log, mail:<address>, command:<program> <args>)
    ");
    assert_eq!(
        json(&ok(gt(&env, &["--json", "escalate", "list", "--all"])))
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
