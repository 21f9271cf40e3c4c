//! The work loop end to end: `gt sling` → a scripted agent in a real tmux pane on a private
//! socket → its commits → `gt done` → a pushed branch and a queued merge request, with real git
//! against a local bare remote. Also the failure paths: a crashing agent, a missing rig, a
//! `gt sling` or `gt done` killed with SIGKILL and run again, hostile bead titles, and `gt done`
//! run where it must refuse.
//!
//! Every wait polls an outcome (`bd show`, `gt polecat list`, the tmux server); only the kill
//! points of the SIGKILL tests are timed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::{GitFixture, TestEnv, TmuxServer, require_cmd, wait_until};

use super::{GT, stderr};

/// How long any one outcome may take to show (agents run in a debug build on a busy machine).
pub(super) const TIMEOUT: Duration = Duration::from_secs(60);

/// A gt-script block for a bead's description.
pub(super) fn script(lines: &str) -> String {
    format!("```gt-script\n{lines}\n```")
}

pub(super) fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(super) fn ok(out: Output) -> Output {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    out
}

pub(super) fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", stdout(out), stderr(out)))
}

/// A town with rig `gastown` on a local bare remote, sessions on a private tmux server, and
/// the scripted agent as the default agent.
pub(super) struct Town {
    // Dropped first: the tmux server (and every agent in it) goes before the temp dir. Shared
    // when two towns run on one socket (`Town::beside`).
    pub(super) server: Rc<TmuxServer>,
    pub(super) env: TestEnv,
    pub(super) root: PathBuf,
    pub(super) remote: PathBuf,
}

impl Town {
    /// `None` (the test is skipped) without tmux.
    pub(super) fn new() -> Option<Self> {
        if !require_cmd("tmux") || !require_cmd("git") {
            return None;
        }
        Some(Self::on(Rc::new(TmuxServer::start())))
    }

    /// A second town in a temp dir of its own, with its sessions on `self`'s tmux server (both
    /// towns set `GT_TMUX_SOCKET` to the same socket).
    fn beside(&self) -> Self {
        Self::on(Rc::clone(&self.server))
    }

    fn on(server: Rc<TmuxServer>) -> Self {
        let env = TestEnv::new();
        env.set("GT_TMUX_SOCKET", server.socket_name());
        // Sessions find `gt`, `bd` and `gt-scripted-agent` here.
        env.prepend_path(Path::new(GT).parent().expect("gt has a directory"));
        env.set("GT_SCRIPTED_AGENT_READY_DELAY_MS", "50");
        let remote = GitFixture::with_commits(&env, 1).remote_path().to_owned();
        let root = env.work().join("town");
        let town = Self {
            server,
            env,
            root,
            remote,
        };
        ok(town.gt(&["install", "town"]));
        town.env.set("GT_TOWN_ROOT", &town.root);
        let url = format!("file://{}", town.remote.display());
        ok(town.gt(&["rig", "add", "gastown", &url]));
        ok(town.gt(&["config", "set", "default_agent", "scripted"]));
        town
    }

    pub(super) fn rig(&self) -> PathBuf {
        self.root.join("gastown")
    }

    pub(super) fn gt(&self, args: &[&str]) -> Output {
        self.gt_in(self.env.work(), args)
    }

    /// `gt` on the system clock (no `GT_TEST_NOW`), as the daemon's nudge drain reads queued
    /// nudges: for what queues a nudge the daemon must deliver, not expire.
    pub(super) fn gt_on_wall_clock(&self, args: &[&str]) -> Output {
        self.env
            .command(GT)
            .current_dir(self.env.work())
            .env_remove("GT_TEST_NOW")
            .args(args)
            .output()
            .expect("run gt")
    }

    pub(super) fn gt_in(&self, dir: &Path, args: &[&str]) -> Output {
        self.env
            .command(GT)
            .current_dir(dir)
            .args(args)
            .output()
            .expect("run gt")
    }

    pub(super) fn bd(&self, args: &[&str]) -> Output {
        self.env
            .command(bd_bin())
            .current_dir(self.rig())
            .env("BEADS_DIR", self.root.join(".beads"))
            .args(args)
            .output()
            .expect("run bd")
    }

    /// A `gt-` bead of the rig; its description may carry a gt-script block.
    pub(super) fn create(&self, title: &str, description: &str) -> String {
        let out = ok(self.bd(&["create", title, "-d", description, "--silent"]));
        stdout(&out).trim().to_owned()
    }

    pub(super) fn show(&self, id: &str) -> Value {
        json(&ok(self.bd(&["show", id, "--json"])))[0].clone()
    }

    pub(super) fn status(&self, id: &str) -> String {
        self.show(id)["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub(super) fn polecats(&self) -> Vec<Value> {
        json(&ok(self.gt(&["--json", "polecat", "list"])))
            .as_array()
            .expect("a list")
            .clone()
    }

    /// The polecat row holding `bead`, if any.
    pub(super) fn polecat_of(&self, bead: &str) -> Option<Value> {
        self.polecats().into_iter().find(|p| p["bead_id"] == bead)
    }

    /// `gt sling … --json`: one object per bead.
    pub(super) fn sling(&self, args: &[&str]) -> Vec<Value> {
        let mut full = vec!["--json", "sling"];
        full.extend_from_slice(args);
        json(&ok(self.gt(&full)))
            .as_array()
            .expect("a list")
            .clone()
    }

    pub(super) fn wait_status(&self, id: &str, want: &str) {
        let mut last = String::new();
        wait_until(TIMEOUT, || {
            last = self.status(id);
            last == want
        })
        .unwrap_or_else(|e| {
            panic!(
                "{id} never became {want} (last {last}): {e}\n{}",
                self.panes()
            )
        });
    }

    /// This town's sessions on the tmux server, by the names the store and `gt` use: the tmux
    /// sessions whose names end in the town's tag, with the tag cut off.
    pub(super) fn sessions(&self) -> BTreeSet<String> {
        let suffix = self.tmux_name("");
        self.server
            .run(["list-sessions", "-F", "#{session_name}"])
            .lines()
            .filter_map(|s| s.strip_suffix(&suffix))
            .map(str::to_owned)
            .collect()
    }

    /// The tmux session behind this town's session `name` (`gt-furiosa-1a2b3c4d`).
    fn tmux_name(&self, name: &str) -> String {
        format!("{name}-{}", ::town::runtime::town_tag(&self.root))
    }

    /// Every session's pane, for failure messages.
    pub(super) fn panes(&self) -> String {
        self.sessions()
            .iter()
            .map(|s| {
                let text =
                    self.server
                        .run(["capture-pane", "-p", "-S", "-200", "-t", &self.tmux_name(s)]);
                format!("--- {s} ---\n{}", text.trim_end())
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The merge requests by state, from the town's store.
    pub(super) fn merge_requests(&self) -> Vec<(String, i64)> {
        let out = ok(self.bd(&[
            "sql",
            "SELECT state, count(*) AS n FROM merge_requests GROUP BY 1 ORDER BY 1",
            "--json",
        ]));
        json(&out)
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| {
                (
                    r["state"].as_str().expect("a state").to_owned(),
                    r["n"].as_i64().expect("a count"),
                )
            })
            .collect()
    }

    /// The remote's `polecat/…` branches.
    pub(super) fn remote_branches(&self) -> Vec<String> {
        self.polecat_branches(&self.remote)
    }

    /// The `polecat/…` branches of the repository at `repo`.
    pub(super) fn polecat_branches(&self, repo: &Path) -> Vec<String> {
        testkit::git::run(
            &self.env,
            repo,
            [
                "for-each-ref",
                "--format=%(refname:short)",
                "refs/heads/polecat",
            ],
        )
        .lines()
        .map(str::to_owned)
        .collect()
    }

    /// The convoys (open and closed) tracking `bead`.
    pub(super) fn convoys_tracking(&self, bead: &str) -> Vec<String> {
        json(&ok(self.gt(&["--json", "convoy", "list", "--all"])))
            .as_array()
            .expect("a list")
            .iter()
            .filter(|c| {
                c["tracked"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|b| b["id"] == bead))
            })
            .map(|c| c["id"].as_str().expect("an id").to_owned())
            .collect()
    }

    pub(super) fn git(&self, dir: &Path, args: &[&str]) -> String {
        testkit::git::run(&self.env, dir, args)
    }
}

/// `bd`, built beside `gt` by the workspace test run.
pub(super) fn bd_bin() -> PathBuf {
    let bd = Path::new(GT).with_file_name("bd");
    assert!(
        bd.exists(),
        "`{}` is missing: run the tests with `cargo test --workspace`",
        bd.display()
    );
    bd
}

/// Three beads slung in one command run on three polecats, each commits and runs `gt done`:
/// three branches pushed, three merge requests queued, the convoy shows three submitted beads.
#[test]
fn three_beads_three_polecats_three_merge_requests() {
    let Some(t) = Town::new() else { return };
    // Busy for a while, so no polecat is idle (and reused) when the next bead is slung.
    let busy = script("sleep 1500\nwork");
    let beads: Vec<String> = ["Add the parser", "Fix the lexer", "Write the docs"]
        .iter()
        .map(|title| t.create(title, &busy))
        .collect();
    let mut args: Vec<&str> = beads.iter().map(String::as_str).collect();
    args.push("gastown");
    let slung = t.sling(&args);
    assert_eq!(slung.len(), 3, "{slung:?}");
    let polecats: BTreeSet<&str> = slung
        .iter()
        .map(|s| s["polecat"].as_str().unwrap())
        .collect();
    assert_eq!(polecats.len(), 3, "three distinct polecats: {slung:?}");
    let convoys: BTreeSet<&str> = slung
        .iter()
        .map(|s| s["convoy"].as_str().unwrap())
        .collect();
    assert_eq!(convoys.len(), 1, "one convoy for the batch: {slung:?}");
    for s in &slung {
        assert_eq!(s["action"], "started", "{s}");
        assert_eq!(s["agent"], "scripted", "{s}");
    }
    assert_eq!(t.sessions().len(), 3, "{:?}", t.sessions());

    for b in &beads {
        t.wait_status(b, "submitted");
    }
    // Three branches on the remote, each a polecat's own for its bead.
    let branches = t.remote_branches();
    assert_eq!(branches.len(), 3, "{branches:?}");
    for s in &slung {
        let branch = s["branch"].as_str().unwrap();
        let name = s["polecat"].as_str().unwrap().rsplit('/').next().unwrap();
        let bead = s["bead"].as_str().unwrap();
        assert!(
            branch.starts_with(&format!("polecat/{name}/{bead}@")),
            "{branch}"
        );
        assert!(branches.iter().any(|b| b == branch), "{branch} not pushed");
        // The agent's note is on the pushed branch, and `main` is untouched.
        let files = t.git(&t.remote, &["ls-tree", "-r", "--name-only", branch]);
        assert!(files.contains(&format!("gt-work/{bead}.md")), "{files}");
    }
    assert_eq!(
        t.git(&t.remote, &["rev-list", "--count", "main"]),
        "1",
        "nothing lands on main before the refinery"
    );
    assert_eq!(t.merge_requests(), [("queued".to_owned(), 3)]);
    // The convoy shows all three submitted; the polecats are idle again.
    let convoy = json(&ok(t.gt(&[
        "--json",
        "convoy",
        "status",
        convoys.iter().next().unwrap(),
    ])))[0]
        .clone();
    let tracked = convoy["tracked"].as_array().unwrap();
    assert_eq!(tracked.len(), 3, "{convoy}");
    assert!(
        tracked.iter().all(|b| b["status"] == "submitted"),
        "{convoy}"
    );
    wait_until(TIMEOUT, || {
        t.polecats()
            .iter()
            .all(|p| p["state"] == "idle" && p["bead_id"] == "")
    })
    .unwrap_or_else(|e| panic!("{e}: {:?}", t.polecats()));
}

/// Polecats come and go: a nuked polecat's name is given out again and its new life pushes
/// and queues its own work (nothing of the old one's `gt done` carries over), and an idle
/// polecat whose agent still sits at its prompt after `gt done` is reused for the next bead.
#[test]
fn recycled_names_and_reused_idle_polecats_do_fresh_work() {
    let Some(t) = Town::new() else { return };
    let first = t.create("First life", &script("work"));
    let slung = t.sling(&[&first, "gastown"]);
    let polecat = slung[0]["polecat"].as_str().unwrap().to_owned();
    t.wait_status(&first, "submitted");
    wait_until(TIMEOUT, || t.polecats()[0]["state"] == "idle").unwrap();
    ok(t.gt(&["polecat", "nuke", &polecat]));
    assert!(t.polecats().is_empty());

    // The same name again, generation 1 again; its agent stays at its prompt after `gt done`.
    let second = t.create("Second life", &script("work\nstay"));
    let slung = t.sling(&[&second, "gastown"]);
    assert_eq!(
        slung[0]["polecat"],
        polecat.as_str(),
        "the name is recycled"
    );
    t.wait_status(&second, "submitted");
    assert_eq!(t.merge_requests(), [("queued".to_owned(), 2)]);
    let branch = slung[0]["branch"].as_str().unwrap();
    assert!(t.remote_branches().iter().any(|b| b == branch), "{branch}");

    // Idle, but its agent is alive: the next bead reuses it, replacing that session.
    wait_until(TIMEOUT, || t.polecats()[0]["state"] == "idle").unwrap();
    let third = t.create("Third bead", &script("work"));
    let slung = t.sling(&[&third, "gastown"]);
    assert_eq!(
        slung[0]["polecat"],
        polecat.as_str(),
        "the idle polecat is reused"
    );
    assert_eq!(slung[0]["action"], "started");
    t.wait_status(&third, "submitted");
    assert_eq!(t.merge_requests(), [("queued".to_owned(), 3)]);
    assert_eq!(t.remote_branches().len(), 3);
    assert_eq!(t.sessions().len(), 1);
}

/// An agent that crashes before `gt done` leaves its bead hooked to its polecat and its
/// worktree as it was; slung again, the bead restarts on the same branch with the work kept.
#[test]
fn a_crashed_agent_leaves_its_bead_hooked_and_its_worktree_intact() {
    let Some(t) = Town::new() else { return };
    let bead = t.create(
        "Crash midway",
        &script(
            "write notes.txt half done\ncommit wip: half done\nwrite scratch.txt unsaved\ncrash",
        ),
    );
    let slung = t.sling(&[&bead, "gastown"]);
    let polecat = slung[0]["polecat"].as_str().unwrap().to_owned();
    let branch = slung[0]["branch"].as_str().unwrap().to_owned();
    let status = || json(&ok(t.gt(&["--json", "polecat", "status", &polecat])));
    wait_until(TIMEOUT, || status()["alive"] == false)
        .unwrap_or_else(|e| panic!("{e}\n{}", t.panes()));
    let shown = status();
    assert_eq!(shown["polecat"]["bead_id"], bead.as_str(), "{shown}");
    assert_eq!(shown["polecat"]["state"], "working", "{shown}");
    let text = stdout(&ok(t.gt(&["polecat", "status", &polecat])));
    assert!(text.contains("not running"), "{text}");
    let issue = t.show(&bead);
    assert_eq!(issue["status"], "in_progress", "{issue}");
    assert_eq!(issue["assignee"], polecat.as_str(), "{issue}");
    let worktree = PathBuf::from(shown["polecat"]["worktree"].as_str().unwrap());
    assert_eq!(
        std::fs::read_to_string(worktree.join("notes.txt")).unwrap(),
        "half done\n"
    );
    assert_eq!(
        std::fs::read_to_string(worktree.join("scratch.txt")).unwrap(),
        "unsaved\n"
    );
    assert_eq!(
        t.git(&worktree, &["symbolic-ref", "--short", "HEAD"]),
        branch
    );
    assert!(
        t.git(&worktree, &["log", "-1", "--format=%s"])
            .contains("wip")
    );
    assert!(t.remote_branches().is_empty(), "nothing was pushed");
    assert!(t.merge_requests().is_empty());

    // Slung again, with a script that finishes: the same polecat and branch, the crashed
    // agent's commit and its uncommitted file both reach the remote.
    let finish = t.env.root().join("finish.gt");
    std::fs::write(&finish, "work\n").unwrap();
    t.env.set("GT_AGENT_SCRIPT", &finish);
    let again = t.sling(&[&bead, "gastown"]);
    assert_eq!(again[0]["action"], "restarted", "{again:?}");
    assert_eq!(again[0]["polecat"], polecat.as_str());
    assert_eq!(again[0]["branch"], branch.as_str());
    t.wait_status(&bead, "submitted");
    let files = t.git(&t.remote, &["ls-tree", "-r", "--name-only", &branch]);
    for f in ["notes.txt", "scratch.txt", &format!("gt-work/{bead}.md")] {
        assert!(files.lines().any(|l| l == f), "{f} missing: {files}");
    }
    assert_eq!(t.merge_requests(), [("queued".to_owned(), 1)]);
}

/// Slinging to a rig that does not exist fails before anything changes.
#[test]
fn sling_to_a_missing_rig_changes_nothing() {
    let Some(t) = Town::new() else { return };
    let bead = t.create("Nowhere to go", "");
    let before = t.show(&bead);
    let convoys_before = ok(t.gt(&["--json", "convoy", "list", "--all"])).stdout;
    for target in ["nosuchrig", "nosuchrig/polecats/nux"] {
        let out = t.gt(&["sling", &bead, target]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains("nosuchrig"), "{}", stderr(&out));
    }
    assert_eq!(t.show(&bead), before);
    assert_eq!(
        ok(t.gt(&["--json", "convoy", "list", "--all"])).stdout,
        convoys_before
    );
    assert!(t.polecats().is_empty());
    assert!(t.sessions().is_empty());
    assert!(!t.root.join("nosuchrig").exists());
    let polecats_dir: Vec<_> = std::fs::read_dir(t.rig().join("polecats"))
        .unwrap()
        .collect();
    assert!(polecats_dir.is_empty(), "{polecats_dir:?}");
}

/// Where `gt sling` was killed.
#[derive(Debug, Clone, Copy)]
enum KillPoint {
    /// As soon as the process runs.
    AtOnce,
    /// Once the polecat row exists (a worktree is being made).
    PolecatChosen,
    /// Once the agent's session exists (waiting for its prompt).
    SessionStarted,
}

/// `gt sling` killed with SIGKILL at several points and run again (plainly) converges: one
/// polecat and one session for the bead, one convoy tracking it, its worktree on one branch,
/// and the agent finishing the work.
#[test]
fn sling_killed_with_sigkill_and_run_again_converges() {
    let Some(t) = Town::new() else { return };
    // A slow prompt, so a kill can land while `gt sling` waits for it.
    t.env.set("GT_SCRIPTED_AGENT_READY_DELAY_MS", "2000");
    for point in [
        KillPoint::AtOnce,
        KillPoint::PolecatChosen,
        KillPoint::SessionStarted,
    ] {
        let bead = t.create(&format!("Killed sling {point:?}"), &script("work"));
        let mut child = t
            .env
            .command(GT)
            .args(["sling", &bead, "gastown"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn gt sling");
        match point {
            KillPoint::AtOnce => {}
            KillPoint::PolecatChosen => {
                wait_until(TIMEOUT, || t.polecat_of(&bead).is_some()).unwrap();
            }
            KillPoint::SessionStarted => {
                // The agent runs (a reused polecat's old session is there, but dead).
                wait_until(TIMEOUT, || {
                    t.polecat_of(&bead).is_some_and(|p| {
                        let name = format!("gastown/{}", p["name"].as_str().unwrap());
                        json(&ok(t.gt(&["--json", "polecat", "status", &name])))["alive"] == true
                    })
                })
                .unwrap();
            }
        }
        child.kill().expect("SIGKILL gt sling");
        let _ = child.wait();

        let again = t.gt(&["--json", "sling", &bead, "gastown"]);
        assert_eq!(
            again.status.code(),
            Some(0),
            "{point:?}: {}\n{}",
            stderr(&again),
            t.panes()
        );
        let slung = json(&again)[0].clone();
        if matches!(point, KillPoint::SessionStarted) {
            assert_eq!(slung["action"], "already_running", "{slung}");
        }
        let polecat = slung["polecat"].as_str().unwrap().to_owned();
        let issue = t.show(&bead);
        assert!(
            ["in_progress", "submitted"].contains(&issue["status"].as_str().unwrap()),
            "{point:?}: {issue}"
        );
        assert_eq!(issue["assignee"], polecat.as_str(), "{point:?}: {issue}");
        let holders: Vec<Value> = t
            .polecats()
            .into_iter()
            .filter(|p| p["bead_id"] == bead.as_str())
            .collect();
        assert!(holders.len() <= 1, "{point:?}: {holders:?}");
        if let Some(p) = holders.first() {
            assert_eq!(p["state"], "working", "{point:?}: {p}");
        }
        assert_eq!(
            t.convoys_tracking(&bead).len(),
            1,
            "{point:?}: one convoy tracks the bead"
        );
        t.wait_status(&bead, "submitted");
        let name = polecat.rsplit('/').next().unwrap();
        let pushed: Vec<String> = t
            .remote_branches()
            .into_iter()
            .filter(|b| b.contains(&format!("/{bead}@")))
            .collect();
        assert_eq!(pushed.len(), 1, "{point:?}: {pushed:?}");
        assert!(
            pushed[0].starts_with(&format!("polecat/{name}/")),
            "{pushed:?}"
        );
        let worktree = t.rig().join("polecats").join(name);
        assert_eq!(
            t.git(&worktree, &["symbolic-ref", "--short", "HEAD"]),
            pushed[0]
        );
    }
    // One session per polecat; no polecat left spawning; one merge request per bead.
    let polecats = t.polecats();
    let sessions: BTreeSet<String> = polecats
        .iter()
        .map(|p| p["session"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(sessions.len(), polecats.len(), "{polecats:?}");
    assert!(t.sessions().is_subset(&sessions), "{:?}", t.sessions());
    wait_until(TIMEOUT, || {
        t.polecats().iter().all(|p| p["state"] == "idle")
    })
    .unwrap_or_else(|e| panic!("{e}: {:?}", t.polecats()));
    assert_eq!(t.merge_requests(), [("queued".to_owned(), 3)]);
}

/// Titles built to break a shell or a terminal reach neither: nothing they name runs, no
/// raw escape reaches a pane, and the beacon arrives as sent.
#[test]
fn hostile_titles_never_reach_a_shell_or_a_pane_unescaped() {
    let Some(t) = Town::new() else { return };
    // `bd create` refuses control characters in titles.
    for bad in ["two\nlines", "red \u{1b}[31mtext", "bell\u{7}"] {
        let out = t.bd(&["create", bad, "--silent"]);
        assert_eq!(out.status.code(), Some(1), "{bad:?}: {}", stdout(&out));
        assert!(
            stderr(&out).contains("control characters"),
            "{}",
            stderr(&out)
        );
    }
    let pwned = t.env.root().join("pwned");
    let shell_titles = [
        "say \"quoted\" and 'single' it's fine".to_owned(),
        format!("$(touch {})", pwned.display()),
        format!("`touch {}`; touch {}", pwned.display(), pwned.display()),
        "#{session_name} #(touch pwned) %s %n ; tmux kill-server".to_owned(),
    ];
    let prime_then_work = script("prime\nsleep 300\nwork");
    let mut beads: Vec<String> = shell_titles
        .iter()
        .map(|title| t.create(title, &prime_then_work))
        .collect();
    // Control characters come in only through an import: escapes, a bell and newlines in the
    // description; and in a title, which `bd import` takes today (a title it refuses is fine
    // too — then that bead is simply not slung).
    let import = |n: usize, title: &str, description: String| -> bool {
        let id = format!("gt-hostile{n}");
        let record = serde_json::json!({
            "id": id,
            "title": title,
            "description": description,
            "status": "open",
            "priority": 2,
            "issue_type": "task",
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
        });
        let file = t.env.root().join(format!("hostile{n}.jsonl"));
        std::fs::write(&file, format!("{record}\n")).unwrap();
        t.bd(&["import", &file.to_string_lossy()]).status.success()
    };
    let description = format!(
        "first line\n\u{1b}[2J\u{1b}[31mred\u{1b}]0;title\u{7} $(touch {})\r\n{}",
        pwned.display(),
        prime_then_work
    );
    assert!(import(
        1,
        "imported with a hostile description",
        description
    ));
    beads.push("gt-hostile1".to_owned());
    if import(
        2,
        "imported \u{1b}[31mred\u{1b}[0m \u{7}bell",
        prime_then_work.clone(),
    ) {
        beads.push("gt-hostile2".to_owned());
    }

    let mut args: Vec<&str> = beads.iter().map(String::as_str).collect();
    args.push("gastown");
    let slung = t.sling(&args);
    assert_eq!(slung.len(), beads.len());
    for b in &beads {
        t.wait_status(b, "submitted");
    }
    // Nothing any title or description names ran, anywhere.
    let mut found = Vec::new();
    find_named(t.env.root(), "pwned", &mut found);
    assert!(found.is_empty(), "{found:?}");
    // The tmux server lives, with a session for each polecat (an idle one may be reused).
    let polecats: BTreeSet<&str> = slung
        .iter()
        .map(|s| s["session"].as_str().unwrap())
        .collect();
    assert_eq!(t.sessions().len(), polecats.len());
    // Each polecat's pane shows its latest bead.
    let mut seen = BTreeSet::new();
    for s in slung
        .iter()
        .rev()
        .filter(|s| seen.insert(s["polecat"].to_string()))
    {
        let polecat = s["polecat"].as_str().unwrap();
        let bead = s["bead"].as_str().unwrap();
        let out = ok(t.gt(&["peek", "-n", "200", polecat]));
        let text = stdout(&out);
        assert!(
            !text.contains(['\u{1b}', '\u{7}']),
            "raw control characters in `gt peek`: {text:?}"
        );
        // The beacon arrived literally.
        let beacon = format!("received: [GAS TOWN] {polecat} • ");
        let line = text
            .lines()
            .find(|l| l.starts_with(&beacon))
            .unwrap_or_else(|| panic!("no beacon in {text}"));
        assert!(line.ends_with(&format!(" • assigned:{bead}")), "{line}");
        // The pane itself (with its escape sequences) holds none from the bead.
        let raw = t.server.run([
            "capture-pane",
            "-p",
            "-e",
            "-S",
            "-200",
            "-t",
            &t.tmux_name(s["session"].as_str().unwrap()),
        ]);
        assert!(!raw.contains("\u{1b}[31m"), "{raw:?}");
        assert!(!raw.contains("\u{1b}[2J"), "{raw:?}");
        assert!(!raw.contains('\u{7}'), "{raw:?}");
        let json = json(&ok(t.gt(&["--json", "peek", polecat])));
        assert!(!json.to_string().contains("\\u001b"), "{json}");
    }
    // The titles are stored exactly as given.
    for (b, title) in beads.iter().zip(&shell_titles) {
        assert_eq!(t.show(b)["title"], title.as_str());
    }
}

fn find_named(dir: &Path, needle: &str, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if e.file_name().to_string_lossy().starts_with(needle) {
            found.push(path.clone());
        }
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            find_named(&path, needle, found);
        }
    }
}

/// `gt done` refuses outside a polecat's worktree, on another branch, and with nothing to
/// push (unless the bead was closed as needing no change); run twice, it queues one merge
/// request; killed at any point and run again, it ends the same.
#[test]
fn gt_done_checks_where_it_runs_and_is_idempotent() {
    let Some(t) = Town::new() else { return };
    // The agents hang: the test drives `gt done` in their worktrees.
    let hang = script("hang");
    let nochange = t.create("Needs no change", &hang);
    let real = t.create("Real work", &hang);
    let killed = t.create("Done killed midway", &hang);
    let slung = t.sling(&[&nochange, &real, &killed, "gastown"]);
    let worktree = |i: usize| {
        let name = slung[i]["polecat"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap();
        t.rig().join("polecats").join(name)
    };
    let branch = |i: usize| slung[i]["branch"].as_str().unwrap().to_owned();

    // Outside any polecat's worktree.
    for dir in [
        t.env.work().to_owned(),
        t.root.clone(),
        t.rig(),
        t.rig().join("refinery/rig"),
    ] {
        let out = t.gt_in(&dir, &["done"]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}: {}",
            dir.display(),
            stderr(&out)
        );
        assert!(
            stderr(&out).contains("runs only inside a polecat's worktree"),
            "{}",
            stderr(&out)
        );
    }
    // On another branch.
    let wt = worktree(0);
    t.git(&wt, &["checkout", "-q", "-b", "elsewhere"]);
    let out = t.gt_in(&wt, &["done"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not the polecat's own"),
        "{}",
        stderr(&out)
    );
    t.git(&wt, &["checkout", "-q", &branch(0)]);
    // Nothing ahead of main: refused, until the bead is closed as needing no change.
    let out = t.gt_in(&wt, &["done"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no commits ahead"),
        "{}",
        stderr(&out)
    );
    assert_eq!(t.status(&nochange), "in_progress");
    ok(t.bd(&["close", &nochange, "--reason", "no-changes"]));
    let out = json(&ok(t.gt_in(&wt, &["--json", "done"])));
    assert_eq!(out["no_change"], true, "{out}");
    assert!(out.get("merge_request").is_none(), "{out}");
    assert_eq!(t.status(&nochange), "closed");
    assert!(t.merge_requests().is_empty());

    // Real work: committed, done twice — one merge request, the second run says so.
    let wt = worktree(1);
    std::fs::write(wt.join("feature.txt"), "feature\n").unwrap();
    t.git(&wt, &["add", "feature.txt"]);
    t.git(&wt, &["commit", "-q", "-m", "the feature"]);
    let first = json(&ok(t.gt_in(&wt, &["--json", "done"])));
    assert_eq!(first["already_done"], false, "{first}");
    assert_eq!(t.status(&real), "submitted");
    let second = ok(t.gt_in(&wt, &["done"]));
    assert!(
        stderr(&second).contains("already done"),
        "{}",
        stderr(&second)
    );
    assert_eq!(t.merge_requests(), [("queued".to_owned(), 1)]);
    // From a directory inside the worktree, too.
    let deep = wt.join("src/deep");
    std::fs::create_dir_all(&deep).unwrap();
    assert_eq!(
        json(&ok(t.gt_in(&deep, &["--json", "done"])))["already_done"],
        true
    );

    // Killed at several points (uncommitted work: the safety net commits it), then run to
    // the end: one push, one merge request, the bead submitted.
    let wt = worktree(2);
    std::fs::write(wt.join("unsaved.txt"), "left over\n").unwrap();
    for delay in [0, 15, 30, 60, 120, 250] {
        let mut child = t
            .env
            .command(GT)
            .current_dir(&wt)
            .arg("done")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn gt done");
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
    }
    let out = json(&ok(t.gt_in(&wt, &["--json", "done"])));
    assert_eq!(t.status(&killed), "submitted", "{out}");
    assert_eq!(t.merge_requests(), [("queued".to_owned(), 2)]);
    let head = t.git(&wt, &["rev-parse", "HEAD"]);
    assert_eq!(
        t.git(&t.remote, &["rev-parse", &branch(2)]),
        head,
        "the remote holds the safety-net commit"
    );
    assert_eq!(
        t.git(&wt, &["rev-list", "--count", "origin/main..HEAD"]),
        "1"
    );
    assert_eq!(t.git(&wt, &["status", "--porcelain"]), "");

    // After slings, dones (some killed) and a refinery pass, the lock files those commands
    // left are free, not stale: doctor has nothing to say about them.
    ok(t.gt(&["refinery", "run", "gastown", "--once"]));
    let lock_files = std::fs::read_dir(t.root.join(".runtime/locks"))
        .unwrap()
        .count();
    assert!(lock_files > 0, "the commands above take locks");
    let report = json(&t.gt(&["--json", "doctor"]));
    let checks = report["checks"].as_array().expect("checks");
    let locks: Vec<&Value> = checks
        .iter()
        .filter(|c| c["check"] == "locks" || c["message"].as_str().unwrap_or("").contains("lock"))
        .collect();
    assert!(
        locks.iter().all(|c| c["status"] == "ok"),
        "doctor reports a lock problem after ordinary use: {locks:?}"
    );
    assert!(!report.to_string().contains("stale"), "{report}");
}

/// `gt done` run with polecat A's session environment inside polecat B's worktree refuses,
/// naming both, and pushes and queues nothing; without an agent's environment (a person) it
/// works from the directory, and A's own environment works in A's own worktree.
#[test]
fn gt_done_refuses_another_polecats_worktree() {
    let Some(t) = Town::new() else { return };
    let hang = script("hang");
    let bead_a = t.create("A's work", &hang);
    let bead_b = t.create("B's unfinished work", &hang);
    let slung = t.sling(&[&bead_a, &bead_b, "gastown"]);
    let address = |i: usize| slung[i]["polecat"].as_str().unwrap().to_owned();
    let name = |i: usize| address(i).rsplit('/').next().unwrap().to_owned();
    let worktree = |i: usize| t.rig().join("polecats").join(name(i));
    let branch = |i: usize| slung[i]["branch"].as_str().unwrap().to_owned();
    // What `gt sling` gives polecat `i`'s session.
    let done_as = |i: usize, dir: &Path, vars: &[&str]| {
        let all = [
            ("GT_ROLE", address(i)),
            ("GT_RIG", "gastown".to_owned()),
            ("GT_POLECAT", name(i)),
            ("GT_POLECAT_PATH", worktree(i).display().to_string()),
            (
                "GT_HOOK_BEAD",
                slung[i]["bead"].as_str().unwrap().to_owned(),
            ),
            (
                "GT_SESSION",
                slung[i]["session"].as_str().unwrap().to_owned(),
            ),
        ];
        let mut cmd = t.env.command(GT);
        cmd.current_dir(dir).arg("done");
        for (k, v) in all.iter().filter(|(k, _)| vars.contains(k)) {
            cmd.env(k, v);
        }
        cmd.output().expect("run gt done")
    };
    for i in [0, 1] {
        let wt = worktree(i);
        std::fs::write(wt.join(format!("work{i}.txt")), "work\n").unwrap();
        t.git(&wt, &["add", "-A"]);
        t.git(&wt, &["commit", "-q", "-m", "work in progress"]);
    }
    std::fs::write(worktree(1).join("unsaved.txt"), "not yet\n").unwrap();
    let everything = [
        "GT_ROLE",
        "GT_RIG",
        "GT_POLECAT",
        "GT_POLECAT_PATH",
        "GT_HOOK_BEAD",
        "GT_SESSION",
    ];
    // A's session in B's worktree: with everything set, or any one naming variable alone.
    for vars in [
        &everything[..],
        &["GT_ROLE"][..],
        &["GT_RIG", "GT_POLECAT"][..],
        &["GT_POLECAT_PATH"][..],
    ] {
        let out = done_as(0, &worktree(1), vars);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{vars:?}: {err}");
        assert!(
            err.contains(&address(0)) && err.contains(&address(1)),
            "{vars:?}: {err}"
        );
    }
    assert!(t.remote_branches().is_empty(), "nothing was pushed");
    assert!(t.merge_requests().is_empty(), "nothing was queued");
    assert_eq!(t.status(&bead_b), "in_progress");
    assert!(worktree(1).join("unsaved.txt").exists());
    assert_eq!(
        t.git(&worktree(1), &["status", "--porcelain"]),
        "?? unsaved.txt",
        "no safety-net commit in B's worktree"
    );
    // A in its own worktree; a person (no agent environment) in B's.
    ok(done_as(0, &worktree(0), &everything));
    assert_eq!(t.status(&bead_a), "submitted");
    ok(done_as(1, &worktree(1), &[]));
    assert_eq!(t.status(&bead_b), "submitted");
    assert_eq!(t.remote_branches(), {
        let mut b = vec![branch(0), branch(1)];
        b.sort();
        b
    });
    assert_eq!(t.merge_requests(), [("queued".to_owned(), 2)]);
}

/// Bad input to `gt sling` is the user's error (exit 1) naming the input, found before anything
/// is made: a formula file that is not UTF-8, a `--base-branch` that is no valid branch name,
/// and one the rig's remote does not have.
#[test]
fn sling_bad_formula_file_and_base_branch_are_user_errors_that_change_nothing() {
    let Some(t) = Town::new() else { return };
    let bead = t.create("Some work", &script("hang"));
    let formulas = t.rig().join("formulas");
    std::fs::create_dir_all(&formulas).unwrap();
    let mut bytes = b"formula = \"latin\"\ndescription = \"caf".to_vec();
    bytes.extend_from_slice(&[0xe9, b'"', b'\n']);
    std::fs::write(formulas.join("latin.formula.toml"), bytes).unwrap();
    let cases: [(&[&str], &str); 4] = [
        (&["--formula", "latin"], "latin.formula.toml"),
        (&["--base-branch", "bad..name"], "bad..name"),
        (&["--base-branch=-oops"], "-oops"),
        (&["--base-branch", "no-such-branch"], "no-such-branch"),
    ];
    for (flags, named) in cases {
        let mut args = vec!["sling", bead.as_str(), "gastown"];
        args.extend_from_slice(flags);
        let out = t.gt(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{flags:?}: {err}");
        assert!(err.contains(named), "{flags:?}: {err}");
        assert_eq!(t.status(&bead), "open", "{flags:?}");
        assert!(t.polecats().is_empty(), "{flags:?}: a polecat was made");
        let worktrees = std::fs::read_dir(t.rig().join("polecats")).unwrap().count();
        assert_eq!(worktrees, 0, "{flags:?}: a worktree was made");
        assert!(t.sessions().is_empty(), "{flags:?}: a session was started");
    }
    // A branch the remote does have works.
    t.git(&t.remote, &["branch", "release", "main"]);
    let slung = t.sling(&[&bead, "gastown", "--base-branch", "release"]);
    assert_eq!(slung[0]["action"], "started", "{slung:?}");
}

/// A budget probe, not a timed assertion: prints how long `gt sling` takes until the agent is
/// ready (`--nocapture` shows it), and checks that 25 polecats (the default cap) all start and
/// finish. About 5 s in a debug build on 2 cores.
#[test]
fn budget_probe_sling_wall_time_and_twenty_five_polecats() {
    let Some(t) = Town::new() else { return };
    t.env.set("GT_SCRIPTED_AGENT_READY_DELAY_MS", "0");
    // Every agent works until the test lets them finish: one that finished while the batch was
    // still being slung (a slow machine) would free its polecat for a later bead of the batch.
    let go = t.env.root().join("go");
    let busy = script(&format!(
        "run until [ -e '{}' ]; do sleep 1; done\nwork",
        go.display()
    ));
    let first = t.create("Probe 0", &busy);
    let start = Instant::now();
    let slung = t.sling(&[&first, "gastown"]);
    let one = start.elapsed();
    assert_eq!(slung[0]["action"], "started");
    eprintln!("budget: `gt sling` of one bead until its agent is ready: {one:?}");

    let mut beads: Vec<String> = (1..=24)
        .map(|i| t.create(&format!("Probe {i}"), &busy))
        .collect();
    let mut args: Vec<&str> = beads.iter().map(String::as_str).collect();
    args.push("gastown");
    let start = Instant::now();
    let slung = t.sling(&args);
    let started = start.elapsed();
    assert_eq!(slung.len(), 24);
    assert!(slung.iter().all(|s| s["action"] == "started"), "{slung:?}");
    let names: BTreeSet<&str> = slung
        .iter()
        .map(|s| s["polecat"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 24, "{names:?}");
    assert_eq!(t.sessions().len(), 25);
    eprintln!(
        "budget: 24 more beads slung in one command: {started:?} ({:?} a bead)",
        started / 24
    );
    beads.push(first);
    std::fs::write(&go, "").unwrap();
    for b in &beads {
        t.wait_status(b, "submitted");
    }
    eprintln!("budget: 24 agents done: {:?}", start.elapsed());
    assert_eq!(t.merge_requests(), [("queued".to_owned(), 25)]);
}

/// Two towns whose sessions share one tmux socket (`GT_TMUX_SOCKET`) each sling a bead to a
/// polecat of the same name (`gastown/polecats/furiosa`, session `gt-furiosa` in both): both
/// agents run, each town sees and peeks at its own, and nuking one leaves the other running.
#[test]
fn two_towns_on_one_socket_keep_their_own_sessions() {
    let Some(a) = Town::new() else { return };
    let b = a.beside();
    // Agents that stay at their prompt: a slow machine never sees one finish mid-test.
    let work = script("prime\nstay");
    let bead_a = a.create("Town A's work", &work);
    let bead_b = b.create("Town B's work", &work);
    assert_ne!(bead_a, bead_b, "the test needs the two beads told apart");
    let polecat = "gastown/polecats/furiosa";
    for (t, bead) in [(&a, &bead_a), (&b, &bead_b)] {
        let slung = t.sling(&[bead, polecat, "--create"]);
        assert_eq!(slung[0]["action"], "started", "{slung:?}");
        assert_eq!(slung[0]["session"], "gt-furiosa", "{slung:?}");
    }
    let alive =
        |t: &Town| json(&ok(t.gt(&["--json", "polecat", "status", polecat])))["alive"] == true;
    let peek = |t: &Town| stdout(&ok(t.gt(&["peek", "-n", "200", polecat])));
    let beacon = |bead: &str| format!("assigned:{bead}");
    for (t, mine, theirs) in [(&a, &bead_a, &bead_b), (&b, &bead_b, &bead_a)] {
        assert!(alive(t), "{}", t.panes());
        let row = t
            .polecat_of(mine)
            .unwrap_or_else(|| panic!("{:?}", t.polecats()));
        assert_eq!(row["session"], "gt-furiosa");
        let text = peek(t);
        assert!(text.contains(&beacon(mine)), "{text}");
        assert!(!text.contains(&beacon(theirs)), "{text}");
    }
    // Each town's own session, and only its own, on the shared server.
    assert_eq!(a.sessions(), BTreeSet::from(["gt-furiosa".to_owned()]));
    assert_eq!(b.sessions(), BTreeSet::from(["gt-furiosa".to_owned()]));
    assert_ne!(a.tmux_name("gt-furiosa"), b.tmux_name("gt-furiosa"));

    ok(b.gt(&["polecat", "nuke", polecat, "--force"]));
    assert!(b.sessions().is_empty(), "{:?}", b.sessions());
    assert!(alive(&a), "nuking B's polecat stopped A's:\n{}", a.panes());
    assert!(peek(&a).contains(&beacon(&bead_a)));
    assert_eq!(a.status(&bead_a), "in_progress");
}

/// A session the polecat has outlived (it was restarted since) cannot finish the work.
#[test]
fn gt_done_from_an_older_generation_is_refused_and_changes_nothing() {
    let Some(t) = Town::new() else { return };
    let bead = t.create("work", &script("hang"));
    let slung = t.sling(&[&bead, "gastown"]);
    let name = slung[0]["polecat"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let worktree = t.rig().join("polecats").join(&name);
    std::fs::write(worktree.join("work.txt"), "work\n").unwrap();
    t.git(&worktree, &["add", "-A"]);
    t.git(&worktree, &["commit", "-q", "-m", "work"]);
    let generation = t.polecat_of(&bead).unwrap()["generation"].as_i64().unwrap();
    let out = t
        .env
        .command(GT)
        .current_dir(&worktree)
        .arg("done")
        .env("GT_GENERATION", (generation - 1).to_string())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("generation {}", generation - 1)),
        "{}",
        stderr(&out)
    );
    assert_eq!(t.merge_requests(), []);
    assert_eq!(t.status(&bead), "in_progress");
}
