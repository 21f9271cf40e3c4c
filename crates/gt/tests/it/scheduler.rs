//! The scheduler end to end: the real daemon dispatching queued slings to scripted agents in
//! tmux as capacity frees, a lowered cap that retires idle sessions and never working ones, a
//! rate-limit message that pauses dispatch for its window, and an epic's convoy landing wave
//! by wave. Nobody types after the slings; every wait polls an outcome.

use std::time::{Duration, SystemTime};

use serde_json::Value;
use testkit::wait_until;

use super::daemon::Factory;
use super::work_loop::{TIMEOUT, json, ok, script, stdout};

/// Time for several agents to run one after another on a busy machine.
const LONG: Duration = Duration::from_secs(180);

pub(super) fn set(f: &Factory, key: &str, value: &str) {
    ok(f.town.gt(&["config", "set", key, value]));
}

/// A rig bead with a priority and a script.
pub(super) fn bead(f: &Factory, title: &str, priority: &str, lines: &str) -> String {
    let out = ok(f.town.bd(&[
        "create",
        title,
        "-p",
        priority,
        "-d",
        &script(lines),
        "--silent",
    ]));
    stdout(&out).trim().to_owned()
}

/// The town's events of `kind`, oldest first.
pub(super) fn events(f: &Factory, kind: &str) -> Vec<Value> {
    let out = ok(f.town.gt(&["--json", "events", "--limit", "1000"]));
    let text = stdout(&out);
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .chain(
            serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default(),
        )
        .filter(|e| e["kind"] == kind)
        .collect()
}

/// The beads slung, in the order their slings were recorded.
fn sling_order(f: &Factory) -> Vec<String> {
    events(f, "sling")
        .into_iter()
        .filter_map(|e| e["bead"].as_str().map(str::to_owned))
        .collect()
}

pub(super) fn scheduler_status(f: &Factory) -> Value {
    json(&ok(f.town.gt(&["--json", "scheduler", "status"])))
}

#[test]
fn two_start_three_queue_and_all_five_land_in_priority_order() {
    let Some(f) = Factory::new() else { return };
    set(&f, "scheduler.max_polecats", "2");
    set(&f, "scheduler.spawn_delay", "0");
    f.up(&[]);
    let work = |file: &str, ms: u32| {
        format!("sleep {ms}\nwrite {file}.txt {file}\ncommit add {file}\ndone COMPLETED")
    };
    // The first two work long enough for the other slings to find the town full.
    let first = bead(&f, "first", "2", &work("first", 10_000));
    let second = bead(&f, "second", "2", &work("second", 10_000));
    let low = bead(&f, "low", "3", &work("low", 500));
    let urgent = bead(&f, "urgent", "1", &work("urgent", 500));
    let middle = bead(&f, "middle", "2", &work("middle", 500));
    for b in [&first, &second] {
        assert_eq!(f.town.sling(&[b, "gastown"])[0]["action"], "started");
    }
    for (b, position) in [(&low, 1), (&urgent, 2), (&middle, 3)] {
        let out = ok(f.town.gt(&["sling", b, "gastown"]));
        let said = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            said.contains(&format!("queued, position {position}")),
            "{b}: {said}"
        );
    }
    let status = scheduler_status(&f);
    assert_eq!(
        (status["mode"].as_str(), status["ready"].as_u64()),
        (Some("deferred"), Some(3))
    );
    // Nobody types from here on: the daemon dispatches as polecats finish.
    for b in [&first, &second, &low, &urgent, &middle] {
        let mut last = String::new();
        wait_until(LONG, || {
            last = f.town.status(b);
            last == "closed"
        })
        .unwrap_or_else(|e| panic!("{b} did not land ({last}): {e}\n{}", f.log()));
    }
    // The queued three started best first: urgent, then middle, then low.
    let order = sling_order(&f);
    let queued: Vec<&String> = order
        .iter()
        .filter(|b| [&low, &urgent, &middle].contains(b))
        .collect();
    assert_eq!(queued, [&urgent, &middle, &low], "{order:?}");
    assert_eq!(
        f.town.merge_requests(),
        [("merged".to_owned(), 5)],
        "{}",
        f.log()
    );
    assert!(
        json(&ok(f.town.gt(&["--json", "scheduler", "list"])))
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn lowering_the_cap_retires_idle_sessions_and_never_kills_a_working_polecat() {
    let Some(f) = Factory::new() else { return };
    set(&f, "scheduler.max_polecats", "3");
    f.up(&[]);
    // Two work for a while; one finishes and idles at its prompt (slung last, so neither
    // working one reuses its polecat).
    let slow_a = bead(&f, "slow a", "2", "sleep 10000\nwork");
    let slow_b = bead(&f, "slow b", "2", "sleep 10000\nwork");
    let idle = bead(&f, "idle", "2", "work\nstay");
    let slung_a = f.town.sling(&[&slow_a, "gastown"]);
    let slung_b = f.town.sling(&[&slow_b, "gastown"]);
    f.town.sling(&[&idle, "gastown"]);
    wait_until(TIMEOUT, || f.town.status(&idle) == "closed").unwrap();
    let session_of = |slung: &[Value]| slung[0]["session"].as_str().unwrap().to_owned();
    let (session_a, session_b) = (session_of(&slung_a), session_of(&slung_b));
    let idle_polecat = f
        .town
        .polecats()
        .into_iter()
        .find(|p| p["state"] == "idle" && p["alive"] == true)
        .unwrap_or_else(|| panic!("no idle polecat at its prompt: {:?}", f.town.polecats()));

    set(&f, "scheduler.max_polecats", "1");
    // The idle session goes; both working ones go on.
    wait_until(TIMEOUT, || {
        f.town
            .polecats()
            .iter()
            .any(|p| p["name"] == idle_polecat["name"] && p["alive"] == false)
    })
    .unwrap_or_else(|e| panic!("the idle session was not retired: {e}\n{}", f.log()));
    let sessions = f.town.sessions();
    assert!(
        sessions.contains(&session_a) && sessions.contains(&session_b),
        "{sessions:?}"
    );
    // A new sling waits: two work, the cap is one.
    let later = bead(&f, "later", "2", "work");
    let out = ok(f.town.gt(&["sling", &later, "gastown"]));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("queued, position 1"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for b in [&slow_a, &slow_b, &later] {
        wait_until(LONG, || f.town.status(b) == "closed")
            .unwrap_or_else(|e| panic!("{b} did not land: {e}\n{}", f.log()));
    }
    // Neither working polecat was stopped and restarted: one generation each.
    let restarts = events(&f, "restart");
    assert!(
        restarts.is_empty(),
        "a working polecat was restarted: {restarts:?}"
    );
    // The later bead started only once both had finished.
    let order = sling_order(&f);
    assert_eq!(order.last(), Some(&later), "{order:?}");
}

/// Slings a bead whose polecat prints Claude Code's limit message with its window's reset as
/// epoch seconds, `secs` from now; returns the bead and the hold the witness recorded.
fn limit_reached(f: &Factory, secs: u32) -> (String, Value) {
    limit_says(f, "|%s", &format!("$(( $(date +%s) + {secs} ))"))
}

/// Slings a bead whose polecat prints "Claude AI usage limit reached" and then `reset` (a
/// printf format of the reset, filled with the shell word `arg`): the command line, which the
/// agent shows, does not match, only its output does. Returns the bead and the hold the
/// witness recorded.
fn limit_says(f: &Factory, reset: &str, arg: &str) -> (String, Value) {
    let limited = bead(
        f,
        "limited",
        "2",
        &format!("run printf 'Claude AI usage %s reached{reset}\\n' limit {arg}\nsleep 5000\nwork"),
    );
    f.town.sling(&[&limited, "gastown"]);
    let mut status = Value::Null;
    wait_until(TIMEOUT, || {
        status = scheduler_status(f);
        status["holds"].as_array().is_some_and(|h| !h.is_empty())
    })
    .unwrap_or_else(|e| panic!("no hold recorded: {e}\n{}", f.log()));
    (limited, status["holds"][0].clone())
}

/// Slings `bead` while every account of its provider is held: it waits in the queue, and
/// starts once the window has reset at `until`, without anyone typing.
pub(super) fn waits_for_the_window(f: &Factory, bead: &str, until: jiff::Timestamp) {
    let slung = f.town.sling(&[bead, "gastown"]);
    assert_eq!(slung[0]["action"]["queued"]["position"], 1, "{slung:?}");
    wait_until(LONG, || f.town.status(bead) != "open")
        .unwrap_or_else(|e| panic!("never dispatched after the window: {e}\n{}", f.log()));
    let now = jiff::Timestamp::try_from(SystemTime::now()).expect("the wall clock is a timestamp");
    assert!(
        now >= until,
        "started at {now}, before the window reset at {until}"
    );
}

#[test]
fn a_rate_limit_message_pauses_dispatch_until_its_window_resets() {
    let Some(f) = Factory::new() else { return };
    set(&f, "scheduler.max_polecats", "5");
    set(&f, "daemon.liveness_secs", "1");
    f.up(&[]);
    let (limited, hold) = limit_reached(&f, 15);
    assert_eq!(hold["account"], "scripted/default");
    let until: jiff::Timestamp = hold["until"].as_str().unwrap().parse().unwrap();
    let text = stdout(&ok(f.town.gt(&["scheduler", "status"])));
    assert!(
        text.contains("scripted/default rate-limited until"),
        "{text}"
    );

    // Nothing starts on the held account meanwhile: the sling waits in the queue.
    let waiting = bead(&f, "waiting", "2", "work");
    waits_for_the_window(&f, &waiting, until);
    for b in [&limited, &waiting] {
        wait_until(LONG, || f.town.status(b) == "closed")
            .unwrap_or_else(|e| panic!("{b} did not land: {e}\n{}", f.log()));
    }
    assert!(
        scheduler_status(&f)["holds"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );
}

#[test]
fn a_printed_reset_clock_time_is_read_in_the_users_time_zone() {
    let Some(f) = Factory::new() else { return };
    // The user (and so the daemon's witness) is in Kolkata, UTC+05:30.
    f.town.env.set("TZ", "Asia/Kolkata");
    f.up(&[]);
    let kolkata = jiff::tz::TimeZone::get("Asia/Kolkata").unwrap();
    let now = jiff::Timestamp::try_from(SystemTime::now()).unwrap();
    let reset = (now + Duration::from_secs(180))
        .to_zoned(kolkata)
        .round(jiff::Unit::Minute)
        .unwrap();
    let clock = reset.strftime("%-I:%M %p").to_string();
    let (_, hold) = limit_says(&f, " · resets %s", &format!("'{clock}'"));
    let until: jiff::Timestamp = hold["until"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        until,
        reset.timestamp(),
        "resets {clock} in Kolkata: {hold}"
    );
}

#[test]
fn the_mayor_and_crew_pass_the_same_admission_and_wait_out_a_rate_limit() {
    let Some(f) = Factory::new() else { return };
    set(&f, "daemon.liveness_secs", "1");
    ok(f.town.gt(&["crew", "add", "max", "--rig", "gastown"]));
    f.up(&[]);
    // A polecat of the scripted preset hits its limit: a hold on `scripted/default`, 30 s long.
    let (_, hold) = limit_reached(&f, 30);
    let until_text = hold["until"].as_str().unwrap().to_owned();
    let until: jiff::Timestamp = until_text.parse().unwrap();

    // The mayor and a crew member run the same preset on the same account: refused, naming
    // the held account and when its window resets, and not wanted (the daemon starts nothing).
    let starts: [(&[&str], &[&str]); 2] = [
        (&["mayor", "start"], &["--json", "mayor", "status"]),
        (
            &["crew", "start", "max"],
            &["--json", "crew", "status", "gastown/max"],
        ),
    ];
    for (start, state) in starts {
        let out = f.town.gt(start);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{start:?} started while held: {err}");
        assert!(
            err.contains(&format!(
                "the `scripted/default` account is rate-limited until {until_text}"
            )),
            "{start:?}: {err}"
        );
        let s = json(&ok(f.town.gt(state)));
        assert_eq!(
            (s["desired"].as_str(), s["alive"].as_bool()),
            (Some("stopped"), Some(false)),
            "{s}"
        );
    }

    // Once the window has reset, both start (the same preset, now staying at its prompt).
    let stay = f.town.env.root().join("stay.script");
    std::fs::write(&stay, "stay\n").unwrap();
    let presets = serde_json::json!({"version": 1, "agents": {"scripted": {
        "command": "gt-scripted-agent",
        "process_names": ["gt-scripted-age"],
        "prompt_mode": "arg",
        "ready_prompt_prefix": "❯ ",
        "ready_delay_ms": 10000,
        "env": {"GT_AGENT_SCRIPT": stay},
    }}});
    std::fs::write(
        f.town.root.join("settings/agents.json"),
        serde_json::to_string_pretty(&presets).unwrap(),
    )
    .unwrap();
    wait_until(LONG, || {
        jiff::Timestamp::try_from(SystemTime::now()).is_ok_and(|now| now >= until)
    })
    .unwrap();
    for (start, state) in starts {
        ok(f.town.gt(start));
        let s = json(&ok(f.town.gt(state)));
        assert_eq!(
            (s["desired"].as_str(), s["alive"].as_bool()),
            (Some("running"), Some(true)),
            "{s}"
        );
    }
}

#[test]
fn a_convoy_of_an_epic_lands_wave_by_wave() {
    let Some(f) = Factory::new() else { return };
    set(&f, "scheduler.spawn_delay", "0");
    let epic = stdout(&ok(f.town.bd(&[
        "create",
        "greetings",
        "-t",
        "epic",
        "--silent",
    ])))
    .trim()
    .to_owned();
    let child = |title: &str, file: &str| {
        let out = ok(f.town.bd(&[
            "create",
            title,
            "--parent",
            &epic,
            "-d",
            &script(&format!(
                "write {file}.txt {file}\ncommit add {file}\ndone COMPLETED"
            )),
            "--silent",
        ]));
        stdout(&out).trim().to_owned()
    };
    let hello = child("hello", "hello");
    let hola = child("hola", "hola");
    let both = child("both", "both");
    ok(f.town.bd(&["dep", "add", &both, &hello]));
    ok(f.town.bd(&["dep", "add", &both, &hola]));
    let stage = stdout(&ok(f.town.gt(&["convoy", "stage", &epic])));
    let mut first = [hello.clone(), hola.clone()];
    first.sort();
    assert_eq!(
        stage.trim(),
        format!("Wave 1: {}\nWave 2: {both}", first.join(" "))
    );

    f.up(&[]);
    let out = ok(f.town.gt(&["sling", &epic, "gastown"]));
    let convoy = stdout(&out).trim().to_owned();
    assert!(convoy.starts_with("hq-cv-"), "{convoy}");
    // The second wave starts only after the first has landed.
    wait_until(LONG, || {
        if f.town.status(&both) == "open" {
            return false;
        }
        assert_eq!(
            (f.town.status(&hello), f.town.status(&hola)),
            ("closed".to_owned(), "closed".to_owned()),
            "the second wave started early"
        );
        true
    })
    .unwrap_or_else(|e| panic!("the second wave never started: {e}\n{}", f.log()));
    f.town.wait_status(&both, "closed");
    let landed = json(&ok(f.town.gt(&["--json", "convoy", "list", "--all"])));
    let c = landed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == convoy.as_str())
        .unwrap_or_else(|| panic!("{landed}"));
    assert!(c["landed_at"].is_string(), "{c}");
    let stranded = json(&ok(f.town.gt(&["--json", "convoy", "stranded"])));
    assert_eq!(stranded, serde_json::json!([]));
}

#[test]
fn a_dry_run_sling_of_an_epic_shows_its_waves_and_changes_nothing() {
    let Some(town) = super::work_loop::Town::new() else {
        return;
    };
    let created = |args: &[&str]| stdout(&ok(town.bd(args))).trim().to_owned();
    let epic = created(&["create", "greetings", "-t", "epic", "--silent"]);
    let child = |title: &str| created(&["create", title, "--parent", &epic, "--silent"]);
    let hello = child("hello");
    let hola = child("hola");
    let both = child("both");
    let done = child("done already");
    let waits = child("waits outside");
    let elsewhere = created(&["create", "not in the epic", "--silent"]);
    ok(town.bd(&["dep", "add", &both, &hello]));
    ok(town.bd(&["dep", "add", &both, &hola]));
    ok(town.bd(&["dep", "add", &waits, &elsewhere]));
    ok(town.bd(&["close", &done]));
    let everything = || {
        [
            stdout(&ok(town.bd(&["list", "--all", "--json"]))),
            stdout(&ok(town.gt(&["--json", "convoy", "list", "--all"]))),
            stdout(&ok(town.gt(&["--json", "scheduler", "list"]))),
            stdout(&ok(town.gt(&["--json", "polecat", "list"]))),
        ]
    };
    let before = everything();

    let out = ok(town.gt(&["sling", &epic, "gastown", "--dry-run"]));
    let mut shown = format!("{}{}", stdout(&out), super::stderr(&out));
    for (id, name) in [
        (&hello, "HELLO"),
        (&hola, "HOLA"),
        (&both, "BOTH"),
        (&done, "DONE"),
        (&waits, "WAITS"),
        (&epic, "EPIC"),
    ] {
        shown = shown.replace(id.as_str(), name);
    }
    insta::assert_snapshot!(shown, @r"
    Would queue 4 bead(s) of EPIC for gastown, tracked in a new convoy
      ready now: HELLO HOLA
      wave 1: HELLO HOLA
      wave 2: BOTH
      in no wave (blocked from outside the epic): WAITS
      left alone (closed, running or in review): DONE
    Dry run: nothing was queued or changed.
    ");
    assert_eq!(everything(), before, "a dry run changed the town");
    let plan = json(&ok(town.gt(&[
        "--json",
        "sling",
        &epic,
        "gastown",
        "--dry-run",
    ])));
    assert_eq!(
        (
            plan["convoy"].clone(),
            plan["queued"].as_array().map(Vec::len)
        ),
        (Value::Null, Some(4)),
        "{plan}"
    );
    assert_eq!(plan["stuck"], serde_json::json!([waits]), "{plan}");
    assert_eq!(everything(), before, "a dry run changed the town");

    // A rig that does not exist is named, and still nothing changes.
    let out = town.gt(&["sling", &epic, "nowhere", "--dry-run"]);
    assert!(!out.status.success());
    assert!(
        super::stderr(&out).contains("nowhere"),
        "{}",
        super::stderr(&out)
    );
    assert_eq!(everything(), before);
}

fn stranded_scan() -> Duration {
    ::town::scheduler::stranded::SCAN_EVERY
}

#[test]
fn a_stranded_convoy_is_escalated_once_across_daemon_restarts() {
    let Some(f) = Factory::new() else { return };
    let idle = bead(&f, "nobody takes this", "2", "work");
    let convoy = stdout(&ok(f.town.gt(&["convoy", "create", "stuck", &idle])))
        .trim()
        .to_owned();
    f.up(&[]);
    // The daemon's first scan finds it stranded (remembered in the store), and tells no one yet.
    let memory = || stdout(&f.town.bd(&["kv", "get", "scheduler.stranded"]));
    wait_until(TIMEOUT, || memory().contains(&convoy))
        .unwrap_or_else(|e| panic!("never suspected: {e}\n{}", f.log()));
    let first_seen = SystemTime::now();
    let restart = || {
        ok(f.town.gt(&["daemon", "stop"]));
        ok(f.town.gt(&["daemon", "start"]));
    };
    // Restarted between that scan and the next: told once it has been stranded 30 s, not
    // 30 s after the restart (a daemon that forgot would take until about 45 s).
    std::thread::sleep(Duration::from_secs(15));
    restart();
    wait_until(LONG, || !f.escalations().is_empty())
        .unwrap_or_else(|e| panic!("never escalated: {e}\n{}", f.log()));
    let after = first_seen.elapsed().unwrap();
    assert!(
        after >= Duration::from_secs(25) && after < Duration::from_secs(42),
        "escalated {after:?} after it was first seen"
    );
    assert!(memory().contains(r#""told":true"#), "{}", memory());
    // Restarted again: its scans over the next 30 s and more do not tell it a second time.
    restart();
    std::thread::sleep(stranded_scan() + Duration::from_secs(5));
    let told = f.escalations();
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(
        told[0]["title"],
        format!("Convoy {convoy} is stranded").as_str()
    );
}
