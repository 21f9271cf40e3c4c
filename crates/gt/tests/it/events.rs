//! `gt events`, `gt status --watch` and `gt status-line`: the town's event stream as people
//! and scripts read it, and that it holds every transition of a whole loop.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::GT;
use super::daemon::Factory;
use super::work_loop::{TIMEOUT, Town, json, ok, script, stdout};

/// Every line of `gt events --json` (JSONL) with these extra arguments.
pub(super) fn events(town: &Town, args: &[&str]) -> Vec<Value> {
    let mut full = vec!["--json", "events"];
    if !args.contains(&"--limit") {
        full.extend_from_slice(&["--limit", "10000"]);
    }
    full.extend_from_slice(args);
    stdout(&ok(town.gt(&full)))
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not one JSON object: {l}: {e}"))
        })
        .collect()
}

fn kinds(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            e["kind"]
                .as_str()
                .expect("every event has a kind")
                .to_owned()
        })
        .collect()
}

/// Whether `want` appears in `have` in this order (other kinds between them allowed).
fn in_order(have: &[String], want: &[&str]) -> bool {
    let mut rest = have.iter();
    want.iter().all(|w| rest.any(|h| h == w))
}

/// How many events of `kind` the stream holds for this polecat's generation.
fn count_of(events: &[Value], kind: &str, polecat: &str, generation: &Value) -> usize {
    events
        .iter()
        .filter(|e| {
            e["kind"] == kind
                && e["payload"]["polecat"] == polecat
                && e["payload"]["generation"] == *generation
        })
        .count()
}

/// `gt sling` killed after starting the agent's session and before recording it (crash point
/// `sling:session-started`): its sling is in the stream (written with the generation), its
/// spawn is not. Run again, it finds the session running and records the spawn; a third run
/// records nothing more. The stream ends with exactly one sling and one spawn for it.
#[test]
fn a_sling_killed_before_recording_its_spawn_is_recorded_once_by_the_rerun() {
    let Some(t) = Town::new() else { return };
    // An agent that stays, so every rerun finds its session running.
    let bead = t.create("Killed before its spawn was recorded", &script("hang"));
    let killed = t
        .env
        .command(GT)
        .current_dir(t.env.work())
        .env("GT_TEST_KILL_AT", "sling:session-started")
        .args(["sling", &bead, "gastown"])
        .output()
        .expect("run gt sling");
    assert_eq!(killed.status.signal(), Some(9), "{killed:?}");
    let row = t
        .polecat_of(&bead)
        .expect("the killed sling admitted a polecat");
    let polecat = format!("gastown/polecats/{}", row["name"].as_str().unwrap());
    let generation = row["generation"].clone();
    let all = events(&t, &[]);
    assert_eq!(count_of(&all, "sling", &polecat, &generation), 1, "{all:?}");
    assert_eq!(count_of(&all, "spawn", &polecat, &generation), 0, "{all:?}");

    for _ in 0..2 {
        let again = json(&ok(t.gt(&["--json", "sling", &bead, "gastown"])));
        assert_eq!(again[0]["action"], "already_running", "{again}");
        let all = events(&t, &[]);
        assert_eq!(count_of(&all, "sling", &polecat, &generation), 1, "{all:?}");
        assert_eq!(count_of(&all, "spawn", &polecat, &generation), 1, "{all:?}");
    }
    let spawn = events(&t, &[])
        .into_iter()
        .find(|e| e["kind"] == "spawn" && e["payload"]["polecat"] == polecat.as_str())
        .unwrap();
    assert_eq!(spawn["payload"]["session"], row["session"], "{spawn}");
    let sling = events(&t, &[])
        .into_iter()
        .find(|e| e["kind"] == "sling" && e["payload"]["bead"] == bead.as_str())
        .unwrap();
    assert_eq!(
        spawn["payload"]["sling"], sling["id"],
        "the spawn names its start"
    );
    // The rerun finished the start the killed run left.
    let row = t.polecat_of(&bead).unwrap();
    assert_eq!(
        (&row["state"], &row["generation"]),
        (&Value::from("working"), &generation),
        "{row}"
    );
    assert_eq!(t.status(&bead), "in_progress");

    // Nuked, its name comes back at the same generation for the next bead: that start is
    // another, and its spawn is recorded too.
    ok(t.gt(&["polecat", "nuke", &polecat, "--force"]));
    let next = t.create("After the nuke", &script("hang"));
    let slung = t.sling(&[&next, &polecat, "--create"]);
    assert_eq!(slung[0]["polecat"], polecat.as_str(), "{slung:?}");
    let all = events(&t, &[]);
    assert_eq!(count_of(&all, "spawn", &polecat, &generation), 2, "{all:?}");
}

#[test]
fn the_event_stream_is_complete_for_a_whole_loop() {
    let Some(f) = Factory::new() else { return };
    f.up(&[]);
    let bead = f.town.create(
        "add a greeting",
        &script("write hello.txt hello\ncommit add a greeting\ndone COMPLETED"),
    );
    f.town.sling(&[&bead, "gastown"]);
    f.town.wait_status(&bead, "closed");
    let deadline = Instant::now() + TIMEOUT;
    let all = loop {
        let all = events(&f.town, &[]);
        if kinds(&all).iter().any(|k| k == "convoy_landed") || Instant::now() > deadline {
            break all;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // The loop's events: the bead's, its convoy's, its polecat's, and the mail they sent.
    let spawn = all.iter().find(|e| e["kind"] == "spawn").unwrap();
    let polecat = spawn["payload"]["polecat"].as_str().unwrap().to_owned();
    let convoy = all
        .iter()
        .find(|e| e["kind"] == "convoy_landed")
        .and_then(|e| e["bead"].as_str())
        .unwrap_or_default()
        .to_owned();
    let of_loop: Vec<Value> = all
        .iter()
        .filter(|e| {
            e["bead"] == bead.as_str()
                || (!convoy.is_empty() && e["bead"] == convoy.as_str())
                || e["summary"]
                    .as_str()
                    .is_some_and(|s| s.starts_with(&format!("{polecat} ")))
                || e["kind"] == "daemon_started"
        })
        .cloned()
        .collect();
    let loop_kinds = kinds(&of_loop);
    let why = || format!("{loop_kinds:?}\n{}", f.log());
    // Every transition, in the order the loop makes them. Writers that race (the agent's
    // prime and sling's bookkeeping, `gt done` and the refinery) are ordered only where one
    // causes the other.
    for chain in [
        &[
            "daemon_started",
            "bead_created",
            "polecat_admitted",
            "sling",
            "spawn",
            "mr_queued",
            "done",
        ][..],
        &["spawn", "prime", "mr_queued"],
        &[
            "mr_queued",
            "mr_testing",
            "mr_merged",
            "bead_closed",
            "convoy_landed",
        ],
    ] {
        assert!(in_order(&loop_kinds, chain), "{chain:?} in {}", why());
    }
    // Sling marks the polecat working and its bead in progress once its agent is ready —
    // unless the agent was quicker and already ran `gt done` (then there is nothing to mark,
    // and no event).
    let marked_working = loop_kinds.iter().any(|k| k == "polecat_working");
    if marked_working {
        let chain = ["spawn", "polecat_working", "done"];
        assert!(in_order(&loop_kinds, &chain), "{chain:?} in {}", why());
    }
    // The bead's own status walks its states once each, in order.
    let statuses: Vec<&str> = of_loop
        .iter()
        .filter(|e| e["kind"] == "bead_status" && e["bead"] == bead.as_str())
        .filter_map(|e| e["summary"].as_str())
        .collect();
    let walk = if marked_working {
        vec![
            format!("{bead} open → hooked"),
            format!("{bead} hooked → in_progress"),
            format!("{bead} in_progress → submitted"),
        ]
    } else {
        vec![
            format!("{bead} open → hooked"),
            format!("{bead} hooked → submitted"),
        ]
    };
    assert_eq!(statuses, walk, "{}", why());
    // The refinery tells the polecat and the overseer, after the landing.
    let after_landing: Vec<&str> = all
        .iter()
        .skip_while(|e| e["kind"] != "convoy_landed")
        .filter(|e| e["kind"] == "mail_sent")
        .filter_map(|e| e["summary"].as_str())
        .collect();
    assert!(
        after_landing
            .iter()
            .any(|s| s.contains(&format!("to {polecat}: MERGED: {bead}"))),
        "{after_landing:?}"
    );
    assert!(
        after_landing
            .iter()
            .any(|s| s.contains("to overseer: 🚚 Convoy landed")),
        "{after_landing:?}"
    );
    // Every event of the loop names its rig, and the spawn its session.
    for e in all.iter().filter(|e| e["bead"] == bead.as_str()) {
        assert_eq!(e["rig"], "gastown", "{e}");
    }
    assert!(spawn["payload"]["session"].as_str().is_some(), "{spawn}");
    // `--rig` keeps the rig's; ids only grow; `--since` starts after one.
    let rig = events(&f.town, &["--rig", "gastown"]);
    assert!(rig.iter().all(|e| e["rig"] == "gastown"));
    let ids: Vec<i64> = all.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    let since = events(&f.town, &["--since", &ids[ids.len() - 3].to_string()]);
    assert_eq!(since, all[all.len() - 2..]);
    ok(f.town.gt(&["down"]));
    let after = events(&f.town, &["--since", &ids[ids.len() - 1].to_string()]);
    assert!(
        kinds(&after).iter().any(|k| k == "daemon_stopped"),
        "{after:?}"
    );
}

#[test]
fn mail_and_a_restart_are_events_and_a_refused_nudge_is_not() {
    let Some(f) = Factory::new() else { return };
    let bead = f.town.create(
        "crash once",
        &script("once write a.txt hi\nonce commit add a\nonce crash\ndone COMPLETED"),
    );
    f.up(&[]);
    f.town.sling(&[&bead, "gastown"]);
    f.town.wait_status(&bead, "closed");
    ok(f.town
        .gt(&["mail", "send", "mayor/", "-s", "hello\nthere", "-m", "body"]));
    let before = events(&f.town, &[]);
    let spawn = before.iter().find(|e| e["kind"] == "spawn").unwrap();
    let address = spawn["payload"]["polecat"].as_str().unwrap().to_owned();
    // Its agent has exited: the nudge is refused and records nothing. (The refinery's MERGED
    // mail may have queued a nudge of its own to the polecat, depending on when it came.)
    let refused = f.town.gt(&["nudge", &address, "--mode", "queue", "look"]);
    assert!(!refused.status.success());
    let all = events(&f.town, &[]);
    let k = kinds(&all);
    assert!(k.iter().any(|k| k == "restart"), "{k:?}");
    let ours: Vec<&Value> = all
        .iter()
        .filter(|e| e["kind"].as_str().is_some_and(|k| k.starts_with("nudge_")))
        .filter(|e| e["payload"]["to"] == address.as_str() && e["payload"]["from"] == "overseer")
        .collect();
    assert!(ours.is_empty(), "{ours:?}");
    let mail = all
        .iter()
        .find(|e| e["kind"] == "mail_sent" && e["payload"]["to"][0] == "mayor/")
        .unwrap();
    assert_eq!(
        mail["summary"],
        r"mail from overseer to mayor/: hello\nthere"
    );
    assert_eq!(mail["payload"]["to"][0], "mayor/");
    assert!(in_order(&k, &["restart", "sling", "spawn"]), "{k:?}");
}

#[test]
fn nudges_queued_delivered_and_expired_and_mail_read_are_events() {
    let Some(f) = Factory::new() else { return };
    // The scripted preset has no hooks: the daemon delivers its queue once it idles. The
    // daemon's drain reads queued nudges on the wall clock, so the commands here do too.
    let wall_clock = |args: &[&str]| f.town.gt_on_wall_clock(args);
    let bead = f.town.create("waits", &script("stay"));
    ok(wall_clock(&["up", "--no-mayor"]));
    let slung = f.town.sling(&[&bead, "gastown"]);
    let address = slung[0]["polecat"].as_str().unwrap().to_owned();
    let start = events(&f.town, &[]).last().unwrap()["id"].as_i64().unwrap();
    let sent = json(&ok(wall_clock(&[
        "--json", "mail", "send", &address, "-s", "v7", "-m", "read it",
    ])));
    assert_eq!(sent["notified"][0]["outcome"], "queued", "{sent}");
    // A nudge queued on a clock eleven months behind is long expired when the daemon reads it.
    let stale = f
        .town
        .env
        .command(super::GT)
        .current_dir(f.town.env.work())
        .args(["nudge", "--mode", "queue", &address, "stale news"])
        .output()
        .unwrap();
    assert_eq!(stale.status.code(), Some(75), "queued: {stale:?}");
    let wanted = ["nudge_queued", "nudge_delivered", "nudge_expired"];
    let deadline = Instant::now() + TIMEOUT;
    let seen = loop {
        let seen = events(&f.town, &["--since", &start.to_string()]);
        if wanted.iter().all(|w| kinds(&seen).iter().any(|k| k == w)) || Instant::now() > deadline {
            break seen;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let summaries: Vec<String> = seen
        .iter()
        .filter(|e| e["kind"].as_str().is_some_and(|k| k.starts_with("nudge_")))
        .map(|e| {
            format!(
                "{} {}",
                e["kind"].as_str().unwrap(),
                e["summary"].as_str().unwrap()
            )
        })
        .collect();
    let queued_for_mail = format!("nudge_queued nudge queued for {address}: mail");
    let delivered = format!("nudge_delivered queued nudge delivered to {address} by the daemon");
    let expired = format!("nudge_expired nudge from overseer to {address} expired undelivered");
    for want in [&queued_for_mail, &delivered, &expired] {
        assert!(
            summaries.contains(want),
            "{want}\nin {summaries:#?}\nlog:\n{}",
            f.log()
        );
    }
    let at = |s: &str| summaries.iter().position(|x| x == s).unwrap();
    assert!(at(&queued_for_mail) < at(&delivered), "{summaries:#?}");
    for e in seen.iter().filter(|e| e["kind"] == "nudge_delivered") {
        assert_eq!(e["rig"], "gastown", "{e}");
        assert_eq!(e["payload"]["by"], "daemon", "{e}");
    }
    // Reading the message is one event, the first time only.
    ok(f.town
        .gt(&["mail", "read", "msg-1", "--identity", &address]));
    ok(f.town
        .gt(&["mail", "read", "msg-1", "--identity", &address]));
    let reads: Vec<Value> = events(&f.town, &["--since", &start.to_string()])
        .into_iter()
        .filter(|e| e["kind"] == "mail_read")
        .collect();
    assert_eq!(reads.len(), 1, "{reads:?}");
    assert_eq!(reads[0]["summary"], format!("msg-1 read by {address}"));
    assert_eq!(reads[0]["rig"], "gastown");
}

#[test]
fn follow_prints_what_another_process_commits_and_waits_otherwise() {
    let Some(town) = Town::new() else { return };
    let mut child = town
        .env
        .command(super::GT)
        .args(["--json", "events", "--follow", "--limit", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Give it time to start watching; anything it printed would be read below.
    std::thread::sleep(Duration::from_millis(500));
    ok(town.gt(&["mail", "send", "mayor/", "-s", "ping", "-m", "x"]));
    let line = lines.next().unwrap().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let e: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(e["kind"], "mail_sent");
    assert_eq!(e["summary"], "mail from overseer to mayor/: ping");
}

#[test]
fn the_json_shape_of_an_event() {
    let Some(town) = Town::new() else { return };
    ok(town.gt(&["mail", "send", "mayor/", "-s", "shape", "-m", "x"]));
    let raw = stdout(&ok(town.gt(&["--json", "events", "--limit", "1"])));
    assert_eq!(raw.lines().count(), 1, "one object per line: {raw}");
    // The documented shape, keys in this order.
    let at: Vec<usize> = [
        "id", "at", "actor", "kind", "rig", "bead", "summary", "payload",
    ]
    .iter()
    .map(|k| {
        raw.find(&format!("\"{k}\":"))
            .unwrap_or_else(|| panic!("no {k}: {raw}"))
    })
    .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{raw}");
    let last = events(&town, &["--limit", "1"]);
    assert_eq!(last[0]["kind"], "mail_sent");
    assert!(last[0]["id"].as_i64().unwrap() > 0);
    assert_eq!(last[0]["rig"], Value::Null);
    assert_eq!(last[0]["payload"]["subject"], "shape");
}

#[test]
fn bad_arguments_are_refused() {
    let Some(town) = Town::new() else { return };
    let out = town.gt(&["events", "--rig", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no rig named `nope`"));
    let out = town.gt(&["events", "--since", "-4"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn events_status_watch_and_status_line_for_people() {
    let Some(town) = Town::new() else { return };
    ok(town.gt(&["mail", "send", "mayor/", "-s", "hi", "-m", "x"]));
    let out = stdout(&ok(town.gt(&["events", "--limit", "1"])));
    assert!(out.contains("mail_sent"), "{out}");
    assert!(out.contains("mail from overseer to mayor/: hi"), "{out}");
    let line = stdout(&ok(town.gt(&["status-line"])));
    assert_eq!(line, "0 working, 0 idle | mq 0 | nothing landed\n");
    // Not a terminal: no screen clearing; the first view comes, then it waits for changes.
    let mut child = town
        .env
        .command(super::GT)
        .args(["status", "--watch"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("Town "), "{first}");
    assert!(!first.contains('\u{1b}'));
    let mut views = 1;
    let deadline = Instant::now() + Duration::from_secs(3);
    ok(town.gt(&["mail", "send", "mayor/", "-s", "wake", "-m", "x"]));
    for l in lines.by_ref() {
        if l.unwrap().starts_with("Town ") {
            views += 1;
            break;
        }
        assert!(Instant::now() < deadline, "no second view");
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(views, 2, "a commit shows the view again");
}
