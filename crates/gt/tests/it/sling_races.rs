//! `gt sling` run many times at once in one rig, as the daemon and a busy user will: every
//! sling admitted gets its own polecat, worktree and live agent; one that fails undoes only
//! its own work; an agent that finishes before its readiness is seen counts as started; and a
//! polecat's session is always looked for in the runtime it was started in.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Output, Stdio};

use serde_json::Value;
use testkit::wait_until;

use super::GT;
use super::stderr;
use super::work_loop::{TIMEOUT, Town, json, ok, script, stdout};

/// Runs `gt --json sling <bead> gastown <extra…>` for every bead at once, and waits for all.
fn sling_all_at_once(t: &Town, beads: &[(String, Vec<&str>)]) -> Vec<Output> {
    let children: Vec<_> = beads
        .iter()
        .map(|(bead, extra)| {
            t.env
                .command(GT)
                .current_dir(t.env.work())
                .args(["--json", "sling", bead, "gastown"])
                .args(extra)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn gt sling")
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait for gt sling"))
        .collect()
}

/// `gt polecat status <address> --json`.
fn polecat_status(t: &Town, address: &str) -> Value {
    json(&ok(t.gt(&["--json", "polecat", "status", address])))
}

/// The `polecat/…` branches of the rig's bare repository.
fn local_branches(t: &Town) -> BTreeSet<String> {
    t.polecat_branches(&t.rig().join(".repo.git"))
        .into_iter()
        .collect()
}

/// Each bead's request for [`sling_all_at_once`], with no extra flags.
fn plain(beads: &[String]) -> Vec<(String, Vec<&'static str>)> {
    beads.iter().map(|b| (b.clone(), Vec::new())).collect()
}

/// Checks that each of `beads` runs on its own polecat: slung (exit 0), hooked to it and in
/// progress, its worktree on the polecat's branch, its agent alive. Returns bead → polecat.
fn assert_each_runs_on_its_own_polecat(
    t: &Town,
    beads: &[String],
    outs: &[Output],
) -> BTreeMap<String, String> {
    let mut polecat_of = BTreeMap::new();
    for (bead, out) in beads.iter().zip(outs) {
        assert_eq!(
            out.status.code(),
            Some(0),
            "sling {bead}: {}\n{}",
            stderr(out),
            t.panes()
        );
        let slung = json(out);
        assert_eq!(slung[0]["action"], "started", "{slung}");
        polecat_of.insert(
            bead.clone(),
            slung[0]["polecat"].as_str().expect("a polecat").to_owned(),
        );
    }
    let distinct: BTreeSet<&String> = polecat_of.values().collect();
    assert_eq!(distinct.len(), beads.len(), "{polecat_of:?}");
    for (bead, address) in &polecat_of {
        let issue = t.show(bead);
        assert_eq!(issue["assignee"], address.as_str(), "{issue}");
        let status = polecat_status(t, address);
        let row = &status["polecat"];
        assert_eq!(row["bead_id"], bead.as_str(), "{status}");
        assert_eq!(status["alive"], true, "{address} is not alive: {status}");
        let worktree = row["worktree"].as_str().expect("a worktree");
        let head = t.git(
            std::path::Path::new(worktree),
            &["symbolic-ref", "--short", "HEAD"],
        );
        assert_eq!(head.trim(), row["branch"].as_str().expect("a branch"));
    }
    // The agent may still be starting when `gt sling` returns the last state change; wait.
    for bead in polecat_of.keys() {
        t.wait_status(bead, "in_progress");
    }
    polecat_of
}

/// Nukes every polecat at once and checks they are gone.
fn nuke_all_at_once(t: &Town, polecats: &[String]) {
    let children: Vec<_> = polecats
        .iter()
        .map(|p| {
            t.env
                .command(GT)
                .current_dir(t.env.work())
                .args(["polecat", "nuke", p, "--force"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn gt polecat nuke")
        })
        .collect();
    for child in children {
        ok(child.wait_with_output().expect("wait for nuke"));
    }
    assert_eq!(t.polecats(), Vec::<Value>::new());
}

/// Ten slings of ten beads in one rig, started together, twenty times over: every one
/// succeeds, on ten distinct polecats, worktrees and live agents. (Before admission held its
/// lock until the polecat's row, worktree and hook existed, 0–3 of 10 succeeded.)
#[test]
fn ten_parallel_slings_in_one_rig_all_start_on_distinct_polecats() {
    let Some(t) = Town::new() else { return };
    for round in 0..20 {
        let beads: Vec<String> = (0..10)
            .map(|i| t.create(&format!("Round {round} bead {i}"), &script("hang")))
            .collect();
        let outs = sling_all_at_once(&t, &plain(&beads));
        let polecat_of = assert_each_runs_on_its_own_polecat(&t, &beads, &outs);
        let polecats: Vec<String> = polecat_of.into_values().collect();
        nuke_all_at_once(&t, &polecats);
    }
}

/// Three idle polecats, ten slings at once: each idle polecat is taken by exactly one sling,
/// seven new ones are named, and all ten agents run.
#[test]
fn ten_parallel_slings_race_for_three_idle_polecats() {
    let Some(t) = Town::new() else { return };
    let first: Vec<String> = (0..3)
        // Busy long enough that the three do not reuse each other.
        .map(|i| t.create(&format!("Warm-up {i}"), &script("sleep 2000\nwork")))
        .collect();
    let mut args: Vec<&str> = first.iter().map(String::as_str).collect();
    args.push("gastown");
    t.sling(&args);
    for bead in &first {
        t.wait_status(bead, "submitted");
    }
    let idle: BTreeSet<String> = t
        .polecats()
        .iter()
        .filter(|p| p["state"] == "idle")
        .map(|p| format!("gastown/polecats/{}", p["name"].as_str().expect("a name")))
        .collect();
    assert_eq!(idle.len(), 3, "{:?}", t.polecats());

    let beads: Vec<String> = (0..10)
        .map(|i| t.create(&format!("Race {i}"), &script("hang")))
        .collect();
    let outs = sling_all_at_once(&t, &plain(&beads));
    let polecat_of = assert_each_runs_on_its_own_polecat(&t, &beads, &outs);
    let used: BTreeSet<String> = polecat_of.into_values().collect();
    assert!(
        idle.is_subset(&used),
        "idle {idle:?} not all reused: {used:?}"
    );
    assert_eq!(t.polecats().len(), 10);
}

/// Slings that fail (the agent never gets ready in time) run beside slings that succeed:
/// each failure undoes its own polecat, worktree, branch and hook, and nothing of the others.
#[test]
fn failed_slings_undo_only_their_own_work() {
    let Some(t) = Town::new() else { return };
    t.env.set("GT_SCRIPTED_AGENT_READY_DELAY_MS", "1500");
    let branches_before = local_branches(&t);
    let beads: Vec<String> = (0..10)
        .map(|i| t.create(&format!("Mixed {i}"), &script("hang")))
        .collect();
    // Every other sling gives up on its agent at once.
    let requests: Vec<(String, Vec<&str>)> = beads
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let extra = if i % 2 == 0 {
                vec!["--ready-timeout", "0"]
            } else {
                Vec::new()
            };
            (b.clone(), extra)
        })
        .collect();
    let outs = sling_all_at_once(&t, &requests);
    let (failed, started): (Vec<_>, Vec<_>) = beads
        .iter()
        .cloned()
        .zip(outs)
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    for (_, (bead, out)) in &failed {
        assert_eq!(out.status.code(), Some(1), "{bead}: {}", stdout(out));
        assert!(stderr(out).contains("prompt"), "{}", stderr(out));
        let issue = t.show(bead);
        assert_eq!(issue["status"], "open", "{issue}");
        assert!(issue.get("assignee").is_none(), "{issue}");
        assert!(t.polecat_of(bead).is_none(), "{:?}", t.polecats());
    }
    let (beads, outs): (Vec<String>, Vec<Output>) = started.into_iter().map(|(_, p)| p).unzip();
    let polecat_of = assert_each_runs_on_its_own_polecat(&t, &beads, &outs);
    // Exactly the five live polecats remain, with their worktrees and branches.
    let rows = t.polecats();
    assert_eq!(rows.len(), 5, "{rows:?}");
    let worktrees: BTreeSet<String> = std::fs::read_dir(t.rig().join("polecats"))
        .expect("polecats/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    let names: BTreeSet<String> = rows
        .iter()
        .map(|p| p["name"].as_str().expect("a name").to_owned())
        .collect();
    assert_eq!(worktrees, names);
    let mut branches: BTreeSet<String> = rows
        .iter()
        .map(|p| p["branch"].as_str().expect("a branch").to_owned())
        .collect();
    branches.extend(branches_before);
    assert_eq!(
        local_branches(&t),
        branches,
        "no branch left by a failed sling"
    );
    assert_eq!(polecat_of.len(), 5);
}

/// An agent that does its work and runs `gt done` before its readiness is confirmed has been
/// started, not failed: `gt sling` exits 0 and the work stays queued. (Before, such a sling
/// exited 1 saying everything was undone, with the merge request still queued.) The `quick`
/// preset is ready by delay, 5 s, which the agent never outlives; the others by prompt, which
/// a headless agent may print and exit after between two polls.
#[test]
fn an_agent_that_submits_before_readiness_is_seen_counts_as_started() {
    let Some(t) = Town::new() else { return };
    t.env.set("GT_SCRIPTED_AGENT_READY_DELAY_MS", "0");
    ok(t.gt(&[
        "config",
        "agent",
        "set",
        "quick",
        "--command",
        "gt-scripted-agent",
        "--prompt-mode",
        "arg",
        "--ready-delay-ms",
        "5000",
    ]));
    let mut queued = 0;
    for (runtime, agent) in [
        ("subprocess", "scripted"),
        ("tmux", "scripted"),
        ("subprocess", "quick"),
        ("tmux", "quick"),
    ] {
        let beads: Vec<String> = (0..4)
            .map(|i| t.create(&format!("Quick {runtime} {agent} {i}"), &script("work")))
            .collect();
        let mut args = vec!["--json", "sling", "--agent", agent];
        args.extend(beads.iter().map(String::as_str));
        args.push("gastown");
        let out = t
            .env
            .command(GT)
            .current_dir(t.env.work())
            .env("GT_RUNTIME", runtime)
            .args(&args)
            .output()
            .expect("run gt sling");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{runtime} {agent}: {}\n{}",
            stderr(&out),
            stdout(&out)
        );
        let slung = json(&out);
        assert_eq!(slung.as_array().map(Vec::len), Some(4), "{slung}");
        for bead in &beads {
            t.wait_status(bead, "submitted");
        }
        queued += 4;
        assert_eq!(t.merge_requests(), [("queued".to_owned(), queued)]);
    }
}

/// A polecat started headless is alive to every later command, whatever `GT_RUNTIME` says
/// then; slinging its bead again leaves the one agent alone.
#[test]
fn liveness_follows_the_runtime_the_polecat_was_started_in() {
    let Some(t) = Town::new() else { return };
    let bead = t.create("Headless", &script("hang"));
    let out = t
        .env
        .command(GT)
        .current_dir(t.env.work())
        .env("GT_RUNTIME", "subprocess")
        .args(["--json", "sling", &bead, "gastown"])
        .output()
        .expect("run gt sling");
    let polecat = json(&ok(out))[0]["polecat"]
        .as_str()
        .expect("a polecat")
        .to_owned();
    let status = polecat_status(&t, &polecat);
    assert_eq!(status["alive"], true, "{status}");
    assert_eq!(status["polecat"]["runtime"], "subprocess");
    let pid = status["polecat"]["pid"].as_i64().expect("a pid");
    let list = stdout(&ok(t.gt(&["polecat", "list"])));
    assert!(
        list.lines()
            .any(|l| l.contains(&polecat) && l.ends_with("yes")),
        "{list}"
    );

    let again = t.sling(&[&bead, "gastown"]);
    assert_eq!(again[0]["action"], "already_running", "{again:?}");
    let status = polecat_status(&t, &polecat);
    assert_eq!(status["polecat"]["pid"].as_i64(), Some(pid), "{status}");
    assert!(
        t.sessions().is_empty(),
        "no tmux session: {:?}",
        t.sessions()
    );
    ok(t.gt(&["polecat", "nuke", &polecat, "--force"]));
    wait_until(TIMEOUT, || {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    })
    .expect("the headless agent stops with its polecat");
}

/// Branches a killed sling leaves at the base commit are found by `gt doctor` and deleted by
/// `gt doctor --fix`; a branch checked out by a polecat, or holding its own commit, is kept.
#[test]
fn doctor_deletes_leftover_polecat_branches_and_nothing_else() {
    let Some(t) = Town::new() else { return };
    let bead = t.create("Busy", &script("hang"));
    let polecat = t.sling(&[&bead, "gastown"])[0]["polecat"]
        .as_str()
        .expect("a polecat")
        .to_owned();
    let bare = t.rig().join(".repo.git");
    t.git(&bare, &["branch", "polecat/ghost/gt-zzz@1", "origin/main"]);
    // A branch with a commit of its own (work that was never pushed) is not a leftover.
    let worktree = t.root.join(format!(
        "gastown/polecats/{}",
        polecat.rsplit('/').next().unwrap_or_default()
    ));
    t.git(
        &worktree,
        &["commit", "--allow-empty", "-q", "-m", "own work"],
    );
    let own = t.git(&worktree, &["rev-parse", "HEAD"]);
    t.git(&bare, &["branch", "polecat/kept/gt-yyy@1", own.trim()]);

    let report = stdout(&t.gt(&["doctor"]));
    assert!(
        report.contains("polecat/ghost/gt-zzz@1") && !report.contains("polecat/kept"),
        "{report}"
    );
    let before = local_branches(&t);
    ok(t.gt(&["doctor", "--fix"]));
    let after = local_branches(&t);
    let removed: Vec<&String> = before.difference(&after).collect();
    assert_eq!(removed, [&"polecat/ghost/gt-zzz@1".to_owned()]);
    assert!(after.contains("polecat/kept/gt-yyy@1"), "{after:?}");
    assert_eq!(polecat_status(&t, &polecat)["alive"], true);
}
