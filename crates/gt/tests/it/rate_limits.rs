//! Rate limits end to end, with the real daemon and scripted agents in tmux: a polecat whose
//! CLI exits with its preset's rate-limit status, a crew member whose pane shows a limit (and
//! the mail nudges that wait for its window), and a rate-limited polecat rotated to another
//! account of its provider until every account is held and dispatch waits. Nobody types after
//! the slings; every wait polls an outcome.

use std::time::{Duration, SystemTime};

use serde_json::Value;
use testkit::wait_until;

use super::daemon::Factory;
use super::scheduler::{bead, events, scheduler_status, set, waits_for_the_window};
use super::work_loop::{TIMEOUT, json, ok, stdout};

/// Time for several agents to run one after another on a busy machine.
const LONG: Duration = Duration::from_secs(180);

fn now() -> jiff::Timestamp {
    jiff::Timestamp::try_from(SystemTime::now()).expect("the wall clock is a timestamp")
}

/// A factory whose witness and keeper look every second and whose limits without a printed
/// reset hold for `window`; every command, agent and the daemon on the wall clock, as the
/// holds' windows, the daemon's events and queued nudges' expiry are compared across them.
fn factory(window: &str) -> Option<Factory> {
    let f = Factory::new()?;
    f.town.env.set("GT_TEST_NOW", "wall clock");
    set(&f, "daemon.liveness_secs", "1");
    set(&f, "scheduler.rate_limit_window", window);
    Some(f)
}

/// Overrides of the built-in presets in the user layer (`settings/agents.json`).
fn presets(f: &Factory, agents: Value) {
    let file = serde_json::json!({"version": 1, "agents": agents});
    std::fs::write(f.town.root.join("settings/agents.json"), file.to_string())
        .expect("write settings/agents.json");
}

/// The holds in force once at least `n` are, soonest reset first.
fn holds(f: &Factory, n: usize) -> Vec<Value> {
    let mut holds = Vec::new();
    wait_until(TIMEOUT, || {
        holds = scheduler_status(f)["holds"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        holds.len() >= n
    })
    .unwrap_or_else(|e| panic!("no {n} holds ({holds:?}): {e}\n{}", f.log()));
    holds
}

/// Waits for the first hold and checks its account and one more field (`reason`, `seen_in`);
/// returns when its window resets.
fn the_hold(f: &Factory, (account, field, value): (&str, &str, &str)) -> jiff::Timestamp {
    let hold = holds(f, 1).remove(0);
    assert_eq!(
        (hold["account"].as_str(), hold[field].as_str()),
        (Some(account), Some(value)),
        "{hold}"
    );
    until(&hold)
}

fn until(hold: &Value) -> jiff::Timestamp {
    hold["until"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("a hold without its reset time: {hold}"))
}

/// When events of `kind` about `bead` were recorded.
fn times(f: &Factory, kind: &str, bead: &str) -> Vec<jiff::Timestamp> {
    events(f, kind)
        .iter()
        .filter(|e| e.to_string().contains(bead))
        .filter_map(|e| e["at"].as_str()?.parse().ok())
        .collect()
}

#[test]
fn a_polecat_exiting_with_its_presets_limit_status_is_restarted_only_after_the_window() {
    let Some(f) = factory("20s") else { return };
    presets(
        &f,
        serde_json::json!({"scripted": {"rate_limit_exit_codes": [75]}}),
    );
    let shown = stdout(&ok(f.town.gt(&["config", "agent", "get", "scripted"])));
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("limit_exit_codes") && l.ends_with(" 75")),
        "{shown}"
    );
    f.up(&[]);
    // It exits with 75 once sling has seen it start; its successor finishes the bead.
    let quota = bead(&f, "quota", "2", "once sleep 1500\nonce exit 75\nwork");
    f.town.sling(&[&quota, "gastown"]);
    let until = the_hold(&f, ("scripted/default", "reason", "exited with status 75"));
    let text = stdout(&ok(f.town.gt(&["scheduler", "status"])));
    assert!(
        text.contains("scripted/default rate-limited until"),
        "{text}"
    );
    // Dead and held: not restarted while the window lasts, however often the witness looks.
    while now() + Duration::from_secs(2) < until {
        assert!(
            times(&f, "restart", &quota).is_empty(),
            "restarted while held\n{}",
            f.log()
        );
        assert_ne!(f.town.status(&quota), "closed");
        std::thread::sleep(Duration::from_secs(1));
    }
    // Then restarted, and the bead lands.
    wait_until(LONG, || f.town.status(&quota) == "closed")
        .unwrap_or_else(|e| panic!("never restarted after the window: {e}\n{}", f.log()));
    let restarts = times(&f, "restart", &quota);
    assert_eq!(restarts.len(), 1, "{}", f.log());
    assert!(
        restarts[0] >= until,
        "restarted at {}, before the window reset at {until}",
        restarts[0]
    );
}

#[test]
fn a_crew_member_showing_a_limit_holds_its_account_and_its_nudges_wait_for_the_window() {
    let Some(f) = factory("15m") else { return };
    ok(f.town.gt(&["account", "add", "scripted", "home"]));
    ok(f.town.gt(&["crew", "add", "max", "--rig", "gastown"]));
    // The crew member's CLI says its limit resets in 30 s, then waits at its prompt.
    let limited = f.town.root.join("limited.script");
    std::fs::write(
        &limited,
        "run printf 'Claude AI usage %s reached|%s\\n' limit $(( $(date +%s) + 30 ))\nstay\n",
    )
    .unwrap();
    presets(
        &f,
        serde_json::json!({"scripted": {"env": {"GT_AGENT_SCRIPT": limited}}}),
    );
    f.up(&[]);
    ok(f.town.gt(&["crew", "start", "max"]));
    // The keeper reads its pane: a hold on the account it was started on.
    let until = the_hold(&f, ("scripted/home", "seen_in", "gastown/crew/max"));

    // Mail to it is queued as a nudge, and not delivered while the hold lasts.
    ok(f.town.gt(&[
        "mail",
        "send",
        "gastown/crew/max",
        "-s",
        "while-held",
        "-m",
        "look at this",
    ]));
    let to_max = |kind: &str| -> Vec<jiff::Timestamp> {
        events(&f, kind)
            .iter()
            .filter(|e| e["payload"]["to"] == "gastown/crew/max")
            .filter_map(|e| e["at"].as_str()?.parse().ok())
            .collect()
    };
    wait_until(TIMEOUT, || !to_max("nudge_queued").is_empty())
        .unwrap_or_else(|e| panic!("the mail was not nudged: {e}\n{}", f.log()));
    // A human's nudge waits as well, and says why (exit 75: queued).
    let out = f.town.gt(&["nudge", "gastown/crew/max", "poke-while-held"]);
    let said = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(75), "{said}");
    assert!(
        said.contains("account `scripted/home` is rate-limited until"),
        "{said}"
    );
    while now() + Duration::from_secs(2) < until {
        assert!(
            to_max("nudge_delivered").is_empty(),
            "delivered while held\n{}",
            f.town.panes()
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    // After the window it is delivered, not lost.
    wait_until(LONG, || !to_max("nudge_delivered").is_empty())
        .unwrap_or_else(|e| panic!("never delivered: {e}\n{}\n{}", f.log(), f.town.panes()));
    let delivered = to_max("nudge_delivered")[0];
    assert!(
        delivered >= until,
        "delivered at {delivered}, held until {until}"
    );
    wait_until(TIMEOUT, || {
        let panes = f.town.panes();
        panes.contains("while-held") && panes.contains("poke-while-held")
    })
    .unwrap_or_else(|e| panic!("not in its pane: {e}\n{}", f.town.panes()));
}

#[test]
fn a_crew_member_whose_cli_exits_with_its_limit_status_is_restarted_only_after_the_window() {
    let Some(f) = factory("15s") else { return };
    ok(f.town.gt(&["crew", "add", "max", "--rig", "gastown"]));
    let quits = f.town.root.join("quits.script");
    std::fs::write(&quits, "sleep 1500\nexit 75\n").unwrap();
    presets(
        &f,
        serde_json::json!({"scripted": {
            "env": {"GT_AGENT_SCRIPT": quits},
            "rate_limit_exit_codes": [75],
        }}),
    );
    f.up(&[]);
    ok(f.town.gt(&["crew", "start", "max"]));
    let generation = || {
        let s = json(&ok(f.town.gt(&["--json", "crew", "status", "gastown/max"])));
        s["generation"].as_i64().unwrap_or_default()
    };
    let first = generation();
    // The keeper sees its exit status: a hold on the account it ran as.
    let until = the_hold(&f, ("scripted/default", "seen_in", "gastown/crew/max"));
    // Not restarted while the hold lasts, then restarted without anyone typing.
    while now() + Duration::from_secs(2) < until {
        assert_eq!(generation(), first, "restarted while held\n{}", f.log());
        std::thread::sleep(Duration::from_secs(1));
    }
    wait_until(LONG, || generation() > first)
        .unwrap_or_else(|e| panic!("never restarted after the window: {e}\n{}", f.log()));
    assert!(
        now() >= until,
        "restarted before the window reset at {until}"
    );
}

#[test]
fn a_limited_polecat_rotates_to_a_free_account_and_dispatch_waits_when_all_are_held() {
    let Some(f) = factory("15m") else { return };
    set(&f, "scheduler.max_polecats", "5");
    set(&f, "scheduler.spawn_delay", "0");
    for name in ["a", "b"] {
        ok(f.town.gt(&["account", "add", "scripted", name]));
    }
    f.up(&[]);
    // On account `a` (the default) its CLI hits its limit for two minutes; on `b` it works.
    let which = "run echo \"account=$(basename \"$GT_SCRIPTED_AGENT_CONFIG_DIR\")\"";
    let rotating = bead(
        &f,
        "rotating",
        "2",
        &format!(
            "{which}\nrun [ \"$(basename \"$GT_SCRIPTED_AGENT_CONFIG_DIR\")\" != a ] || printf 'Claude AI usage %s reached|%s\\n' limit $(( $(date +%s) + 120 ))\nsleep 10000\nwork\nstay"
        ),
    );
    let first = f.town.sling(&[&rotating, "gastown"]);
    let session = first[0]["session"].as_str().unwrap().to_owned();
    let hold = holds(&f, 1).remove(0);
    assert_eq!(hold["account"], "scripted/a", "{hold}");
    // The witness stopped it and started it again on `b`, where it finishes.
    wait_until(LONG, || f.town.status(&rotating) == "closed")
        .unwrap_or_else(|e| panic!("never finished on `b`: {e}\n{}", f.log()));
    let panes = f.town.panes();
    let own = panes
        .split("--- ")
        .find(|p| p.starts_with(&session))
        .unwrap_or_else(|| panic!("no pane of {session}: {panes}"));
    assert!(own.contains("account=b"), "{own}");
    assert!(!own.contains("account=a"), "{own}");

    // Now `b` hits its limit too: every account is held, and a sling waits.
    let on_b = bead(
        &f,
        "limited on b",
        "2",
        "run printf 'Claude AI usage %s reached|%s\\n' limit $(( $(date +%s) + 20 ))\nsleep 5000\nwork",
    );
    f.town.sling(&[&on_b, "gastown"]);
    let both = holds(&f, 2);
    let soonest = both.iter().map(until).min().unwrap();
    // It starts once the first window resets.
    let waiting = bead(&f, "waiting", "2", &format!("{which}\nwork"));
    waits_for_the_window(&f, &waiting, soonest);
    for b in [&on_b, &waiting] {
        wait_until(LONG, || f.town.status(b) == "closed")
            .unwrap_or_else(|e| panic!("{b} did not land: {e}\n{}", f.log()));
    }
}
