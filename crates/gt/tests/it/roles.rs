//! The mayor and crew: long-lived agents in real tmux sessions (private socket), played by the
//! scripted agent. They start primed for their role with their environment, the daemon's
//! keeper restarts them when they die, `gt down` stops them and `gt up` brings them back, a
//! crew workspace is never removed with work in it, and the mayor runs the whole factory from
//! one prompt.
#![expect(clippy::unwrap_used, reason = "test steps fail the test by panicking")]

use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use testkit::wait_until;

use super::daemon::Factory;
use super::work_loop::{TIMEOUT, Town, json, ok, stdout};

/// Makes preset `name` the scripted agent running `script` (and `on_prompt` at each typed
/// prompt), and the agent of `role` (`role_agents.<role>`).
fn scripted_role(town: &Town, role: &str, name: &str, script: &str, on_prompt: Option<&str>) {
    let dir = town.env.root();
    let script_path = dir.join(format!("{name}.script"));
    std::fs::write(&script_path, script).unwrap();
    let mut env = serde_json::json!({"GT_AGENT_SCRIPT": script_path});
    if let Some(text) = on_prompt {
        let path = dir.join(format!("{name}.on-prompt"));
        std::fs::write(&path, text).unwrap();
        env["GT_AGENT_ON_PROMPT"] = serde_json::json!(path);
    }
    let presets = serde_json::json!({"version": 1, "agents": {name: {
        "command": "gt-scripted-agent",
        "process_names": ["gt-scripted-age"],
        "prompt_mode": "arg",
        "ready_prompt_prefix": "❯ ",
        "ready_delay_ms": 10000,
        "env": env,
    }}});
    std::fs::write(
        town.root.join("settings/agents.json"),
        serde_json::to_string_pretty(&presets).unwrap(),
    )
    .unwrap();
    ok(town.gt(&["config", "set", &format!("role_agents.{role}"), name]));
}

fn screen(town: &Town, session: &str) -> String {
    let tmux = format!("{session}-{}", ::town::runtime::town_tag(&town.root));
    town.server
        .run(["capture-pane", "-p", "-S", "-300", "-t", &tmux])
}

fn status(town: &Town, args: &[&str]) -> Value {
    let mut full = vec!["--json"];
    full.extend_from_slice(args);
    json(&ok(town.gt(&full)))
}

/// The environment of process `pid`, as `KEY=value` strings.
fn environ(pid: u64) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/environ"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect()
}

/// Waits until `args` (a status command) reports a live agent of a later generation than
/// `after`; returns its status.
fn wait_alive(town: &Town, args: &[&str], after: i64) -> Value {
    let mut last = Value::Null;
    wait_until(TIMEOUT, || {
        last = status(town, args);
        last["alive"] == true && last["generation"].as_i64().unwrap() > after
    })
    .unwrap_or_else(|e| {
        panic!(
            "not alive after generation {after}: {e}\n{last}\n{}",
            town.panes()
        )
    });
    last
}

#[test]
fn the_mayor_starts_primed_is_kept_alive_and_stops_with_gt_down() {
    let Some(f) = Factory::new() else { return };
    scripted_role(&f.town, "mayor", "mayor-scripted", "prime\nstay\n", None);
    let up = json(&ok(f.town.gt(&["--json", "up"])));
    assert_eq!(up["mayor"]["session"], "hq-mayor", "{up}");
    let s = wait_alive(&f.town, &["mayor", "status"], 0);
    assert_eq!(
        (s["desired"].as_str(), s["agent"].as_str()),
        (Some("running"), Some("mayor-scripted"))
    );
    wait_until(TIMEOUT, || {
        screen(&f.town, "hq-mayor").contains("you are the mayor")
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", screen(&f.town, "hq-mayor")));
    let text = screen(&f.town, "hq-mayor");
    assert!(
        text.contains("Code lands only through the refinery"),
        "{text}"
    );
    assert!(text.contains("gastown (prefix"), "{text}");
    let pid = s["pid"].as_u64().unwrap();
    let env = environ(pid);
    for want in ["GT_ROLE=mayor", "GT_SESSION=hq-mayor", "BD_ACTOR=mayor"] {
        assert!(env.iter().any(|v| v == want), "{want} not in {env:?}");
    }
    assert!(
        env.iter()
            .any(|v| v == &format!("GT_TOWN_ROOT={}", f.town.root.display())),
        "{env:?}"
    );
    // Starting it again finds it running.
    let again = status(&f.town, &["mayor", "start"]);
    assert_eq!(again["already_running"], true, "{again}");

    // Killed: the daemon's keeper starts the next generation.
    testkit::sigkill(u32::try_from(pid).unwrap());
    let s = wait_alive(
        &f.town,
        &["mayor", "status"],
        s["generation"].as_i64().unwrap(),
    );
    assert_ne!(s["pid"].as_u64(), Some(pid));

    // `gt down` stops it and holds it; a plain `gt up` brings it back.
    let down = json(&ok(f.town.gt(&["--json", "down"])));
    assert!(
        down["stopped"]
            .as_array()
            .unwrap()
            .contains(&"mayor/".into()),
        "{down}"
    );
    assert!(!f.town.sessions().contains("hq-mayor"));
    let s = status(&f.town, &["mayor", "status"]);
    assert_eq!(
        (s["desired"].as_str(), s["alive"].as_bool()),
        (Some("held"), Some(false))
    );
    let generation = s["generation"].as_i64().unwrap();
    ok(f.town.gt(&["up"]));
    wait_alive(&f.town, &["mayor", "status"], generation);

    // Stopped on purpose: the keeper leaves it stopped.
    ok(f.town.gt(&["mayor", "stop"]));
    std::thread::sleep(Duration::from_secs(3));
    let s = status(&f.town, &["mayor", "status"]);
    assert_eq!(
        (s["desired"].as_str(), s["alive"].as_bool()),
        (Some("stopped"), Some(false)),
        "{s}"
    );
}

/// Holds the `default` account of `provider` (the login of a preset with no registered
/// accounts) until `until`, as the witness records a rate limit it read in a pane.
fn hold(town: &Town, provider: &str, until: jiff::Timestamp) {
    let cx = beads::Context {
        actor: "test".into(),
        clock: Box::new(host::clock::SystemClock),
    };
    let mut store = beads::Store::open(&town.root.join(".beads"), cx).unwrap();
    store
        .set_hold(
            &format!("{provider}/default"),
            provider,
            &beads::store::format_ts(until),
            "You've hit your limit",
            "hq-mayor",
        )
        .unwrap();
}

#[test]
fn a_dead_mayor_whose_provider_is_held_is_restarted_when_the_window_ends_and_not_counted() {
    let Some(f) = Factory::new() else { return };
    ok(f.town.gt(&["config", "set", "daemon.liveness_secs", "1"]));
    scripted_role(&f.town, "mayor", "mayor-scripted", "stay\n", None);
    ok(f.town.gt(&["up"]));
    let first = wait_alive(&f.town, &["mayor", "status"], 0);
    let generation = first["generation"].as_i64().unwrap();

    // Every account of its provider is held for a while (longer than the keeper's five
    // counted restarts would last at one look a second), then the mayor dies.
    let until = jiff::Timestamp::try_from(SystemTime::now()).unwrap() + Duration::from_secs(12);
    hold(&f.town, "mayor-scripted", until);
    testkit::sigkill(u32::try_from(first["pid"].as_u64().unwrap()).unwrap());

    // While held, the keeper leaves it dead, still wanted, and counts nothing.
    let mut seen = Value::Null;
    while jiff::Timestamp::try_from(SystemTime::now()).unwrap() + Duration::from_secs(2) < until {
        seen = status(&f.town, &["mayor", "status"]);
        assert_eq!(
            (
                seen["alive"].as_bool(),
                seen["desired"].as_str(),
                seen["generation"].as_i64(),
                seen["restarts"].as_i64()
            ),
            (Some(false), Some("running"), Some(generation), Some(0)),
            "restarted while its provider was held: {seen}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(seen.is_object(), "the window ended before the first look");

    // Once the window ends it is started again: one restart, no escalation.
    let s = wait_alive(&f.town, &["mayor", "status"], generation);
    let now = jiff::Timestamp::try_from(SystemTime::now()).unwrap();
    assert!(
        now >= until,
        "restarted at {now}, before the window ended at {until}"
    );
    assert_eq!(
        (s["generation"].as_i64(), s["restarts"].as_i64()),
        (Some(generation + 1), Some(1)),
        "{s}"
    );
    assert_eq!(f.escalations(), Vec::<Value>::new(), "{}", f.log());
}

#[test]
fn crew_workspaces_start_primed_restart_and_are_never_removed_with_work_in_them() {
    let Some(f) = Factory::new() else { return };
    let town = &f.town;
    scripted_role(town, "crew", "crew-scripted", "prime\nstay\n", None);
    let added = status(
        town,
        &["crew", "add", "max", "--rig", "gastown", "--branch"],
    );
    let dir = town.root.join("gastown/crew/max");
    assert_eq!(added[0]["branch"], "crew/max", "{added}");
    assert_eq!(
        town.git(&dir, &["rev-parse", "--abbrev-ref", "HEAD"])
            .trim(),
        "crew/max"
    );
    // A second add of the same name changes nothing.
    let out = town.gt(&["crew", "add", "max", "--rig", "gastown"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already has a crew member"));

    f.up(&[]);
    let started = status(town, &["crew", "start", "max"]);
    assert_eq!(started["session"], "gt-crew-max", "{started}");
    let s = wait_alive(town, &["crew", "status", "gastown/max"], 0);
    wait_until(TIMEOUT, || {
        screen(town, "gt-crew-max").contains("crew member max of rig gastown")
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", screen(town, "gt-crew-max")));
    let env = environ(s["pid"].as_u64().unwrap());
    for want in [
        "GT_ROLE=gastown/crew/max",
        "GT_RIG=gastown",
        "GT_CREW=max",
        "GIT_AUTHOR_NAME=gastown/crew/max",
    ] {
        assert!(env.iter().any(|v| v == want), "{want} not in {env:?}");
    }
    // The agent's files never show up as work.
    let listed = status(town, &["crew", "list"]);
    assert_eq!(listed[0]["uncommitted"], serde_json::json!([]), "{listed}");

    // Killed: restarted by the keeper.
    testkit::sigkill(u32::try_from(s["pid"].as_u64().unwrap()).unwrap());
    let s = wait_alive(
        town,
        &["crew", "status", "gastown/max"],
        s["generation"].as_i64().unwrap(),
    );

    // A refresh: a handoff mail to itself, then a fresh agent (the next generation) in the same
    // session, told it is post-handoff.
    let refreshed = status(
        town,
        &["crew", "refresh", "max", "-m", "halfway through the parser"],
    );
    assert_eq!(
        refreshed["respawned"]["generation"].as_i64(),
        Some(s["generation"].as_i64().unwrap() + 1),
        "{refreshed}"
    );
    // Recorded once, with the generation it made.
    let handoffs: Vec<Value> = super::events::events(town, &[])
        .into_iter()
        .filter(|e| e["kind"] == "handoff")
        .collect();
    assert_eq!(handoffs.len(), 1, "{handoffs:?}");
    assert_eq!(
        handoffs[0]["payload"]["generation"], refreshed["respawned"]["generation"],
        "{handoffs:?}"
    );
    wait_until(TIMEOUT, || {
        screen(town, "gt-crew-max").contains("You are post-handoff")
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", screen(town, "gt-crew-max")));
    let inbox = status(town, &["mail", "inbox", "gastown/crew/max"]);
    assert!(
        inbox.to_string().contains("halfway through the parser"),
        "{inbox}"
    );
    let s = wait_alive(
        town,
        &["crew", "status", "max"],
        s["generation"].as_i64().unwrap(),
    );

    // `gt down` stops it; `gt up` leaves it stopped; `gt up --restore` brings it back.
    ok(town.gt(&["down"]));
    assert!(!town.sessions().contains("gt-crew-max"));
    f.up(&[]);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(status(town, &["crew", "status", "max"])["alive"], false);
    f.up(&["--restore"]);
    let s = wait_alive(
        town,
        &["crew", "status", "max"],
        s["generation"].as_i64().unwrap(),
    );

    // Work that exists nowhere else blocks removal: an uncommitted file, then a commit on no
    // remote branch.
    std::fs::write(dir.join("notes.txt"), "mine\n").unwrap();
    let refused = |why: &str| {
        let out = town.gt(&["crew", "remove", "max"]);
        assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(err.contains(why), "{err}");
        assert!(dir.is_dir());
        assert!(town.sessions().contains("gt-crew-max"));
    };
    refused("1 uncommitted change(s) (notes.txt)");
    town.git(&dir, &["add", "notes.txt"]);
    town.git(&dir, &["commit", "-qm", "notes"]);
    refused("1 commit(s) on no remote branch");
    let removed = status(town, &["crew", "remove", "max", "--force"]);
    assert_eq!(removed[0]["discarded"]["unpushed"], 1, "{removed}");
    assert!(!dir.exists());
    assert!(!town.sessions().contains("gt-crew-max"));
    assert!(!s["pid"].is_null());
    let out = town.gt(&["crew", "status", "max"]);
    assert_eq!(out.status.code(), Some(1));
}

/// The mayor turns one prompt into three beads with a dependency, a convoy and slings; the
/// polecats work, the refinery lands each change, the mayor slings the blocked bead once its
/// blocker lands, and hears that the convoy landed — nobody types anything but the intent.
#[test]
fn the_mayor_runs_the_factory_from_one_prompt() {
    let Some(f) = Factory::new() else { return };
    let town = &f.town;
    let intent = "\
run cd gastown && a=$(bd q 'Parse the config') && b=$(bd q 'Load the plugins') && \
c=$(bd q 'Wire plugins to config') && bd dep add $c $b && \
gt convoy create {prompt} $a $b $c && gt sling --no-convoy $a $b gastown && \
until bd show $b --json | grep -q '\"status\": *\"closed\"'; do sleep 0.2; done && \
gt sling --no-convoy $c gastown\n";
    scripted_role(
        town,
        "mayor",
        "mayor-scripted",
        "prime\nstay\n",
        Some(intent),
    );
    ok(town.gt(&["--json", "up"]));
    wait_alive(town, &["mayor", "status"], 0);
    ok(town.gt(&["nudge", "mayor/", "Build plugin support"]));
    let mut convoys = Value::Null;
    wait_until(Duration::from_secs(80), || {
        convoys = status(town, &["convoy", "list", "--all"]);
        convoys
            .as_array()
            .is_some_and(|c| c.len() == 1 && c[0]["status"] == "closed")
    })
    .unwrap_or_else(|e| {
        panic!(
            "the convoy did not land: {e}\n{convoys}\n{}\n{}",
            town.panes(),
            f.log()
        )
    });
    let convoy = &convoys[0];
    assert_eq!(convoy["title"], "Build plugin support", "{convoy}");
    let beads = json(&ok(town.bd(&["list", "--all", "--json"])));
    let titles: Vec<(&str, &str)> = beads
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["issue_type"] == "task")
        .map(|b| (b["title"].as_str().unwrap(), b["status"].as_str().unwrap()))
        .collect();
    for t in [
        "Parse the config",
        "Load the plugins",
        "Wire plugins to config",
    ] {
        assert!(titles.contains(&(t, "closed")), "{t}: {titles:?}");
    }
    let files = town.git(
        &town.remote,
        &["ls-tree", "-r", "--name-only", "main", "gt-work"],
    );
    assert_eq!(
        files.lines().count(),
        3,
        "three changes landed on main: {files}"
    );
    let mut inbox = Value::Null;
    wait_until(TIMEOUT, || {
        inbox = status(town, &["mail", "inbox", "mayor/"]);
        inbox.to_string().contains("Convoy landed")
    })
    .unwrap_or_else(|e| panic!("no landing mail for the mayor: {e}\n{inbox}"));
    assert!(Path::new(&town.root).join("AGENTS.md").exists());
}
