//! The factory running by itself: `gt up`, then `gt sling`, then nobody types anything — the
//! daemon's witness restarts what dies and wakes what the refinery sends back, its refinery
//! lands what passes, and `gt down` leaves nothing of the town running. Scripted agents in
//! tmux on a private socket; every wait polls an outcome.

use std::time::Duration;

use serde_json::Value;
use testkit::wait_until;

use super::work_loop::{TIMEOUT, Town, json, ok, script, stdout};

/// A town whose daemon runs for the test and is stopped (or killed) when it ends.
pub(super) struct Factory {
    pub(super) town: Town,
}

impl Factory {
    /// `None` (skipped) without tmux. The daemon's safety tick is one second, so a lost poke
    /// costs a test a second, not thirty.
    pub(super) fn new() -> Option<Self> {
        let town = Town::new()?;
        ok(town.gt(&["config", "set", "daemon.safety_tick_secs", "1"]));
        Some(Self { town })
    }

    /// `gt up` without the mayor (the mayor's own tests start it).
    pub(super) fn up(&self, args: &[&str]) -> Value {
        let mut full = vec!["--json", "up", "--no-mayor"];
        full.extend_from_slice(args);
        json(&ok(self.town.gt(&full)))
    }

    /// The daemon's log, for failure messages.
    pub(super) fn log(&self) -> String {
        std::fs::read_to_string(self.town.root.join("daemon/daemon.log")).unwrap_or_default()
    }

    fn daemon_status(&self) -> Value {
        json(&ok(self.town.gt(&["--json", "daemon", "status"])))
    }

    fn daemon_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.town.root.join("daemon/daemon.pid"))
            .ok()?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// The polecat's row as `gt polecat list` shows it.
    fn polecat(&self, bead: &str) -> Value {
        self.town
            .polecats()
            .into_iter()
            .find(|p| p["bead_id"] == bead || p["name"] == bead)
            .unwrap_or_else(|| panic!("no polecat for {bead}: {:?}", self.town.polecats()))
    }

    pub(super) fn escalations(&self) -> Vec<Value> {
        let out = ok(self
            .town
            .bd(&["list", "--label", "gt:escalation", "--json", "--all"]));
        json(&out).as_array().cloned().unwrap_or_default()
    }

    /// Processes whose environment names this town and an agent session.
    pub(super) fn agent_processes(&self) -> Vec<u32> {
        let root = format!("GT_TOWN_ROOT={}", self.town.root.display());
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        dir.flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                    let vars: Vec<&[u8]> = env.split(|b| *b == 0).collect();
                    vars.contains(&root.as_bytes())
                        && vars.iter().any(|v| v.starts_with(b"GT_SESSION="))
                })
            })
            .collect()
    }
}

impl Drop for Factory {
    fn drop(&mut self) {
        let _ = self.town.gt(&["down"]);
        if let Some(pid) = self.daemon_pid() {
            testkit::sigkill(pid);
        }
    }
}

#[test]
fn after_gt_up_and_gt_sling_the_work_lands_with_nobody_typing() {
    let Some(f) = Factory::new() else { return };
    let up = f.up(&[]);
    let services: Vec<&str> = up["daemon"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(
        services,
        [
            "refinery:gastown",
            "witness:gastown",
            "deacon",
            "nudges",
            "keeper",
            "scheduler"
        ]
    );
    // Twice is an answer, not an error.
    assert_eq!(f.up(&[])["started"], false);

    let bead = f.town.create(
        "add a greeting",
        &script("write hello.txt hello\ncommit add a greeting\ndone COMPLETED"),
    );
    f.town.sling(&[&bead, "gastown"]);
    f.town.wait_status(&bead, "closed");
    assert_eq!(f.town.merge_requests(), [("merged".to_owned(), 1)]);
    let main = f.town.git(&f.town.remote, &["show", "main:hello.txt"]);
    assert_eq!(main.trim(), "hello");
}

#[test]
fn a_dead_agent_whose_bead_was_closed_meanwhile_is_not_restarted() {
    let Some(f) = Factory::new() else { return };
    // It crashes once sling has seen it start (a crash before its prompt fails the sling).
    let bead = f.town.create("doomed", &script("sleep 1000\ncrash"));
    let slung = f.town.sling(&[&bead, "gastown"]);
    let name = slung[0]["polecat"]
        .as_str()
        .and_then(|p| p.rsplit('/').next())
        .unwrap()
        .to_owned();
    wait_until(TIMEOUT, || {
        f.town.sessions().is_empty() || !alive(&f, &name)
    })
    .unwrap();
    ok(f.town
        .bd(&["close", &bead, "--reason", "not needed after all"]));
    let before = f.polecat(&name);
    assert_eq!(before["state"], "working", "dead, but nobody noticed yet");
    let generation = before["generation"].clone();

    f.up(&[]);
    wait_until(TIMEOUT, || f.polecat(&name)["state"] == "idle").unwrap_or_else(|e| {
        panic!(
            "the witness never freed the polecat: {e}\n{:?}",
            f.polecat(&name)
        )
    });
    assert_eq!(f.polecat(&name)["generation"], generation, "not restarted");
    assert_eq!(f.town.status(&bead), "closed");
}

fn alive(f: &Factory, name: &str) -> bool {
    f.town
        .polecats()
        .into_iter()
        .find(|p| p["name"] == name)
        .is_some_and(|p| p["alive"] == true)
}

#[test]
fn a_hung_agent_is_nudged_then_escalated() {
    let Some(f) = Factory::new() else { return };
    ok(f.town
        .gt(&["config", "set", "daemon.stall_after_secs", "2"]));
    let bead = f.town.create("hangs", &script("hang"));
    f.up(&[]);
    let slung = f.town.sling(&[&bead, "gastown"]);
    let name = slung[0]["polecat"]
        .as_str()
        .and_then(|p| p.rsplit('/').next())
        .unwrap()
        .to_owned();
    wait_until(TIMEOUT, || {
        f.town.panes().contains("no progress for a while")
    })
    .unwrap_or_else(|e| panic!("never nudged: {e}\n{}", f.town.panes()));
    wait_until(TIMEOUT, || !f.escalations().is_empty())
        .unwrap_or_else(|e| panic!("never escalated: {e}\n{}", f.log()));
    let escalation = &f.escalations()[0];
    assert!(
        escalation["title"].as_str().unwrap().contains(&format!(
            "gastown/polecats/{name} shows no progress on {bead}"
        )),
        "{escalation}"
    );
    wait_until(TIMEOUT, || f.polecat(&name)["state"] == "stuck").unwrap();
    // Escalated once, not on every tick.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(f.escalations().len(), 1);
}

#[test]
fn a_daemon_killed_with_sigkill_and_started_again_adopts_the_running_agents() {
    let Some(f) = Factory::new() else { return };
    let bead = f.town.create("long", &script("sleep 600000\nwork"));
    f.up(&[]);
    f.town.sling(&[&bead, "gastown"]);
    let before = f.polecat(&bead);
    let sessions = f.town.sessions();
    let pid = f.daemon_pid().expect("a pid file");
    testkit::sigkill(pid);
    wait_until(TIMEOUT, || f.daemon_status()["running"] == false).unwrap();

    let up = f.up(&[]);
    assert_eq!(up["started"], true);
    assert_ne!(f.daemon_pid(), Some(pid));
    // Give the new witness a few ticks to (wrongly) act.
    std::thread::sleep(Duration::from_secs(3));
    let after = f.polecat(&bead);
    assert_eq!(after["generation"], before["generation"], "not restarted");
    assert_eq!(after["alive"], true);
    assert_eq!(f.town.sessions(), sessions, "no duplicate session");
}

#[test]
fn gt_down_leaves_no_process_or_session_of_the_town_and_up_restore_resumes() {
    let Some(f) = Factory::new() else { return };
    let bead = f.town.create("long", &script("sleep 600000\nwork"));
    f.up(&[]);
    let slung = f.town.sling(&[&bead, "gastown"]);
    let name = slung[0]["polecat"]
        .as_str()
        .and_then(|p| p.rsplit('/').next())
        .unwrap()
        .to_owned();
    let generation = f.polecat(&bead)["generation"].as_i64().unwrap();
    assert!(!f.agent_processes().is_empty());

    let out = ok(f.town.gt(&["--json", "down"]));
    let report = json(&out);
    assert_eq!(report["daemon_stopped"], true, "{}", stdout(&out));
    assert_eq!(f.daemon_status()["running"], false);
    assert!(f.town.sessions().is_empty(), "{:?}", f.town.sessions());
    assert_eq!(f.agent_processes(), Vec::<u32>::new());
    // Nothing restarts while the town is down, and a plain `gt up` leaves it stopped.
    f.up(&[]);
    std::thread::sleep(Duration::from_secs(3));
    assert!(!alive(&f, &name));

    let up = f.up(&["--restore"]);
    assert_eq!(
        up["restored"],
        serde_json::json!([format!("gastown/{name}")])
    );
    // The daemon was running; --restore released the hold and the witness restarts it.
    wait_until(TIMEOUT, || alive(&f, &name)).unwrap();
    assert_eq!(
        f.polecat(&name)["generation"].as_i64().unwrap(),
        generation + 1
    );
}

#[test]
fn an_agent_that_crashes_is_restarted_on_its_branch_and_its_change_lands() {
    let Some(f) = Factory::new() else { return };
    let bead = f.town.create(
        "crash once",
        &script("once write a.txt hi\nonce commit add a\nonce crash\ndone COMPLETED"),
    );
    f.up(&[]);
    f.town.sling(&[&bead, "gastown"]);
    let first = f.polecat(&bead);
    f.town.wait_status(&bead, "closed");
    let name = first["name"].as_str().unwrap();
    let after = f.polecat(name);
    assert_eq!(
        after["generation"].as_i64().unwrap(),
        first["generation"].as_i64().unwrap() + 1,
        "restarted once"
    );
    assert_eq!(after["branch"], first["branch"], "on the same branch");
    // The first run's commit is what landed: the second run only ran `gt done`.
    let main = f.town.git(&f.town.remote, &["show", "main:a.txt"]);
    assert_eq!(main.trim(), "hi");
    assert_eq!(f.town.merge_requests(), [("merged".to_owned(), 1)]);
}

#[test]
fn a_change_that_fails_its_gate_is_fixed_by_the_same_polecat_after_the_witness_wakes_it() {
    let Some(f) = Factory::new() else { return };
    ok(f.town.gt(&[
        "config",
        "set",
        "merge_queue.test_command",
        "if grep -q FAIL gate-input.txt; then echo 'error: gate-input.txt says FAIL'; exit 1; fi",
    ]));
    let bead = f.town.create(
        "fix after a send-back",
        &script(
            "once write gate-input.txt FAIL\nonce commit break it\nonce done COMPLETED\n\
             prime\nwrite gate-input.txt ok\ncommit fix it\ndone COMPLETED",
        ),
    );
    f.up(&[]);
    // By name from sling's answer: the agent may be done before the polecat is looked up.
    let slung = f.town.sling(&[&bead, "gastown"]);
    let address = slung[0]["polecat"].as_str().unwrap();
    let name = address.rsplit('/').next().unwrap();
    let first = f.polecat(name);
    f.town.wait_status(&bead, "closed");
    assert_eq!(f.polecat(name)["branch"], first["branch"]);
    // The failed request is superseded by the fixed one, which landed.
    assert_eq!(
        f.town.merge_requests(),
        [("merged".to_owned(), 1), ("superseded".to_owned(), 1)]
    );
    let main = f.town.git(&f.town.remote, &["show", "main:gate-input.txt"]);
    assert_eq!(main.trim(), "ok");
    // What woke it: the restarted agent's `gt prime` showed the refinery's output.
    let comments = ok(f.town.bd(&["comments", &bead, "--json"]));
    assert!(
        stdout(&comments).contains("gate-input.txt says FAIL"),
        "{}",
        stdout(&comments)
    );
    // And its mailbox holds why (FIX_NEEDED, with the gate's output) and the landing (MERGED),
    // both from the rig's refinery.
    let inbox = json(&ok(f.town.gt(&[
        "--json",
        "mail",
        "inbox",
        &format!("gastown/polecats/{name}"),
        "--all",
    ])));
    let mail: Vec<(&str, &str, &str)> = inbox["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["from"].as_str().unwrap(),
                m["subject"].as_str().unwrap(),
                m["body"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(mail.len(), 2, "{mail:?}");
    let (from, subject, body) = mail[1];
    assert_eq!(from, "gastown/refinery");
    assert!(
        subject.starts_with(&format!("FIX_NEEDED: {bead}")),
        "{subject}"
    );
    assert!(body.contains("gate-input.txt says FAIL"), "{body}");
    assert!(
        mail[0].1.starts_with(&format!("MERGED: {bead}")),
        "{mail:?}"
    );
}

#[test]
fn a_polecats_help_goes_from_the_witness_to_the_overseer_when_no_mayor_runs() {
    let Some(f) = Factory::new() else { return };
    f.up(&[]);
    let bead = f.town.create("help", &script("work"));
    let slung = f.town.sling(&[&bead, "gastown"]);
    let name = slung[0]["polecat"]
        .as_str()
        .and_then(|p| p.rsplit('/').next())
        .unwrap()
        .to_owned();
    let me = format!("gastown/polecats/{name}");
    ok(f.town.gt(&[
        "mail",
        "send",
        "gastown/witness",
        "--identity",
        &me,
        "-s",
        "HELP: the tests need a database",
        "-m",
        "which one?",
    ]));
    let forwarded = testkit::wait_for(TIMEOUT, || {
        let inbox = json(&ok(f.town.gt(&["--json", "mail", "inbox", "overseer"])));
        // The overseer may also hear of the sling's convoy landing; look for the HELP.
        inbox["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["subject"].as_str().is_some_and(|s| s.starts_with("HELP")))
            .cloned()
    });
    let m = forwarded.unwrap_or_else(|_| panic!("nothing reached the overseer; log:\n{}", f.log()));
    assert_eq!(m["from"], "gastown/witness");
    assert_eq!(m["subject"], "HELP: the tests need a database");
    let body = m["body"].as_str().unwrap();
    assert!(body.contains(&format!("From: {me}")), "{body}");
    assert!(body.contains("which one?"), "{body}");
    // The witness handled it once: its own inbox is empty, the original archived.
    let witness = json(&ok(f.town.gt(&[
        "--json",
        "mail",
        "inbox",
        "gastown/witness",
    ])));
    assert_eq!(
        witness["messages"].as_array().unwrap().len(),
        0,
        "{witness}"
    );
}

/// The state letter of process `pid` (`T` when stopped), from `/proc/<pid>/stat`.
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

#[test]
fn estop_freezes_every_agent_process_and_thaw_resumes_them() {
    let Some(f) = Factory::new() else { return };
    let bead = f.town.create("long", &script("sleep 600000\nwork"));
    f.up(&[]);
    f.town.sling(&[&bead, "gastown"]);
    // The agent and what it runs; the pane's own shell only waits for it.
    let pids: Vec<u32> = f
        .agent_processes()
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() != "sh")
        })
        .collect();
    assert!(!pids.is_empty());

    let frozen = json(&ok(f.town.gt(&["--json", "estop"])));
    assert_eq!(frozen["sessions"].as_array().unwrap().len(), 1, "{frozen}");
    // A stop is acted on when the process is next scheduled, which on a busy machine is not
    // at once.
    for &pid in &pids {
        // (A short-lived helper of the agent, such as a `gt prime`, may be gone by now.)
        wait_until(TIMEOUT, || matches!(process_state(pid), Some('T') | None))
            .unwrap_or_else(|e| panic!("process {pid} never stopped: {e}"));
    }
    assert_eq!(f.daemon_status()["estop"], true);

    ok(f.town.gt(&["thaw"]));
    for &pid in &pids {
        wait_until(TIMEOUT, || process_state(pid) != Some('T'))
            .unwrap_or_else(|e| panic!("process {pid} never resumed: {e}"));
    }
    assert_eq!(f.daemon_status()["estop"], false);
    assert_eq!(f.polecat(&bead)["alive"], true);
}

#[test]
fn an_agent_that_keeps_dying_trips_the_respawn_breaker_and_is_escalated_once() {
    let Some(f) = Factory::new() else { return };
    ok(f.town
        .gt(&["config", "set", "scheduler.max_bead_respawns", "3"]));
    let bead = f.town.create("always crashes", &script("sleep 500\ncrash"));
    f.up(&[]);
    let slung = f.town.sling(&[&bead, "gastown"]);
    let name = slung[0]["polecat"]
        .as_str()
        .and_then(|p| p.rsplit('/').next())
        .unwrap()
        .to_owned();
    wait_until(TIMEOUT, || f.polecat(&name)["state"] == "stuck")
        .unwrap_or_else(|e| panic!("never stuck: {e}\n{}", f.log()));
    let escalations = f.escalations();
    assert_eq!(escalations.len(), 1, "{escalations:?}");
    assert!(
        escalations[0]["title"]
            .as_str()
            .unwrap()
            .contains(&format!("keeps dying on {bead}")),
        "{escalations:?}"
    );
    // Started three times in all (the sling and two restarts), then left alone.
    assert_eq!(f.polecat(&name)["generation"], 3);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(f.polecat(&name)["generation"], 3);
    assert_eq!(f.escalations().len(), 1);
}

#[test]
fn mail_sent_to_an_agent_that_dies_is_injected_into_its_successor() {
    let Some(f) = Factory::new() else { return };
    // The scripted agent with Claude's hooks provisioned, as a real Claude Code gets them.
    std::fs::write(
        f.town.root.join("settings/agents.json"),
        r#"{"version": 1, "agents": {"scripted": {"hooks_provider": "claude", "hooks_dir": ".claude", "hooks_settings_file": "settings.json"}}}"#,
    )
    .unwrap();
    // Every command, agent and the daemon on the wall clock: the queued nudge's age and
    // expiry, and its claims, are then read on one clock by all who touch the queue.
    f.town.env.set("GT_TEST_NOW", "wall clock");
    f.up(&[]);
    let bead = f.town.create(
        "dies with mail unread",
        &script("once sleep 5000\nonce crash\nsleep 500\nstay"),
    );
    let slung = f.town.sling(&[&bead, "gastown"]);
    let address = slung[0]["polecat"].as_str().unwrap().to_owned();
    let name = address.rsplit('/').next().unwrap().to_owned();
    let generation = f.polecat(&name)["generation"].as_i64().unwrap();
    // Sent while the agent is busy in its turn: the mail is kept and a nudge queued. Only once
    // its turn is under way: sent earlier, its prompt's `UserPromptSubmit` hook may still be
    // starting, and would hand the nudge to this first session (rightly: a turn boundary),
    // which then dies with it.
    wait_until(TIMEOUT, || f.town.panes().contains("step: once sleep 5000"))
        .unwrap_or_else(|_| panic!("its turn did not start; panes:\n{}", f.town.panes()));
    let send = f
        .town
        .env
        .command(super::GT)
        .current_dir(f.town.env.work())
        .args([
            "--json",
            "mail",
            "send",
            &address,
            "-s",
            "the schema moved to v7",
        ])
        .args(["-m", "re-read crates/beads/src/schema.rs"])
        .output()
        .unwrap();
    let sent = json(&ok(send));
    assert_eq!(sent["notified"][0]["outcome"], "queued", "{sent}");
    // It crashes before its turn ends; the witness starts its successor, whose session-start
    // hook shows the unread mail, and the queued nudge reaches it at its turn's end (its Stop
    // hook, or the daemon once it idles).
    wait_until(TIMEOUT, || {
        let p = f.polecat(&name);
        p["generation"].as_i64().unwrap() > generation && p["alive"] == true
    })
    .unwrap_or_else(|_| panic!("not restarted; log:\n{}", f.log()));
    let mut panes = String::new();
    wait_until(TIMEOUT, || {
        panes = f.town.panes();
        panes.contains("the schema moved to v7") && panes.contains("New mail from overseer")
    })
    .unwrap_or_else(|_| {
        let queue = std::fs::read_dir(f.town.root.join(".runtime/nudge_queue/gt-furiosa"))
            .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>());
        panic!(
            "not injected; queue {queue:?}; log:\n{}\npanes:\n{panes}",
            f.log()
        )
    });
    let inbox = json(&ok(f
        .town
        .gt(&["--json", "mail", "inbox", &address, "--unread"])));
    assert_eq!(inbox["messages"].as_array().unwrap().len(), 1, "{inbox}");
}

#[test]
fn mail_sent_before_a_hookless_agent_starts_reaches_it_as_a_nudge_once_it_idles() {
    let Some(f) = Factory::new() else { return };
    // The scripted preset has no hooks: no session-start hook shows it its inbox.
    let bead = f
        .town
        .create("works, then waits", &script("sleep 300\nstay"));
    f.up(&[]);
    let slung = f.town.sling(&[&bead, "gastown"]);
    let address = slung[0]["polecat"].as_str().unwrap().to_owned();
    let name = address.rsplit('/').next().unwrap().to_owned();
    ok(f.town.gt(&["down"]));
    assert!(!alive(&f, &name));
    // Sent while its agent is stopped: kept, and nobody is told now. This and the daemon
    // run on the wall clock, as the daemon's drain reads queued nudges (not the test's).
    let wall_clock = |args: &[&str]| f.town.gt_on_wall_clock(args);
    let sent = json(&ok(wall_clock(&[
        "--json",
        "mail",
        "send",
        &address,
        "-s",
        "use the v7 schema",
        "-m",
        "re-read crates/beads/src/schema.rs first",
    ])));
    assert!(sent.get("notified").is_none(), "{sent}");
    // The witness starts its next session through sling, which queues the reminder; the
    // daemon types it once the agent's first turn is over.
    ok(wall_clock(&["up", "--no-mayor", "--restore"]));
    let mut panes = String::new();
    wait_until(TIMEOUT, || {
        panes = f.town.panes();
        panes.contains("received: [nudge from mail] 📬 You have 1 unread message")
    })
    .unwrap_or_else(|_| panic!("no reminder; log:\n{}\npanes:\n{panes}", f.log()));
    assert!(
        panes.contains("msg-1 from overseer: use the v7 schema. Run `gt mail read msg-1`."),
        "{panes}"
    );
    assert_eq!(panes.matches("[nudge from mail]").count(), 1, "{panes}");
    let session = f.polecat(&name)["session"].as_str().unwrap().to_owned();
    let queue = f.town.root.join(".runtime/nudge_queue").join(session);
    let left = std::fs::read_dir(&queue)
        .map(|d| {
            d.flatten()
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(left, 0, "the reminder was delivered, not left queued");
}
