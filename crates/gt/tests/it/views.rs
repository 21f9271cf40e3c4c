//! What people see: the human output of `gt status`, `gt mq list`, `gt refinery status` and
//! `gt convoy status`, snapshot-tested (the JSON of the same views is asserted elsewhere).
//!
//! The town is set up without tmux: a queued merge request submitted by hand, a polecat row
//! written directly that says `working` on a session that does not exist (so it is dead), an
//! open escalation, a convoy, and no daemon. The fixed clock, fixed git dates and the filters
//! make every run print the same.

use std::path::PathBuf;
use std::process::Output;

use testkit::{GitFixture, TestEnv, assert_cmd_snapshot};

use super::GT;
use super::work_loop::{bd_bin, json, ok, stdout};

struct Fixture<'a> {
    env: &'a TestEnv,
    root: PathBuf,
    fx: GitFixture<'a>,
}

impl Fixture<'_> {
    fn gt(&self, args: &[&str]) -> Output {
        self.env.command(GT).args(args).output().expect("run gt")
    }

    fn bd(&self, args: &[&str]) -> Output {
        self.env
            .command(bd_bin())
            .current_dir(self.root.join("gastown"))
            .args(args)
            .output()
            .expect("run bd")
    }

    fn create(&self, title: &str) -> String {
        stdout(&ok(self.bd(&["create", title, "--silent"])))
            .trim()
            .to_owned()
    }
}

fn fixture(env: &TestEnv) -> Option<Fixture<'_>> {
    if !testkit::require_cmd("git") {
        return None;
    }
    // Sessions would start headless; none is started here.
    env.set("GT_RUNTIME", "subprocess");
    let fx = GitFixture::with_commits(env, 1);
    let root = env.work().join("town");
    let f = Fixture { env, root, fx };
    ok(f.gt(&["install", "town"]));
    env.set("GT_TOWN_ROOT", &f.root);
    ok(f.gt(&["rig", "add", "gastown", &f.fx.remote_url()]));
    Some(f)
}

/// A town with work in every state `gt status` shows.
fn busy_town(f: &Fixture<'_>) -> (String, String, String) {
    // A bead a polecat works on, whose session is gone.
    let widget = f.create("Fix the widget");
    ok(f.bd(&[
        "update",
        &widget,
        "--status",
        "in_progress",
        "--assignee",
        "gastown/polecats/nux",
    ]));
    ok(f.bd(&[
        "sql",
        &format!(
            "INSERT INTO polecats (rig, name, state, generation, bead_id, branch, session, agent, \
             runtime, created_at, updated_at) VALUES ('gastown', 'nux', 'working', 1, '{widget}', \
             'polecat/nux', 'gt-nux', 'scripted', 'subprocess', '2026-01-01T00:00:00Z', \
             '2026-01-01T00:00:00Z')"
        ),
    ]));
    // A change waiting in the merge queue.
    let gadget = f.create("Land the gadget");
    let clone = f.fx.clone_path();
    f.fx.git(clone, ["checkout", "-q", "-b", "feature/gadget"]);
    std::fs::write(clone.join("gadget.txt"), "gadget\n").expect("write a file");
    f.fx.git(clone, ["add", "."]);
    f.fx.git(clone, ["commit", "-q", "-m", "gadget"]);
    f.fx.git(clone, ["push", "-q", "origin", "feature/gadget"]);
    ok(f.gt(&[
        "mq",
        "submit",
        "gastown",
        "feature/gadget",
        "--bead",
        &gadget,
    ]));
    // Someone asked for help.
    ok(f.bd(&["create", "Agent nux needs help", "--label", "gt:escalation"]));
    let convoy =
        json(&ok(f.gt(&[
            "--json", "convoy", "create", "Widgets", &widget, &gadget,
        ])))["id"]
            .as_str()
            .expect("a convoy id")
            .to_owned();
    (widget, gadget, convoy)
}

#[test]
fn status_shows_the_queue_dead_agents_escalations_and_the_daemon() {
    let env = TestEnv::new();
    let Some(f) = fixture(&env) else { return };
    busy_town(&f);
    assert_cmd_snapshot!(env, env.command(GT).arg("status"), @r"
    exit_code: 0
    ----- stdout -----
    Town town  ([ROOT]/work/town)
    Daemon: not running: `gt daemon start`

    RIG      PREFIX  BRANCH  POLECATS  OPEN  ACTIVE  STATE
    gastown  gt      main    0         2     1       active

    Work in flight:
      gt-wnhe  in_progress  gastown/polecats/nux  Fix the widget

    Merge queue:
      MR    RIG      STATE   BEAD     POLECAT  BRANCH          SHA           AGE
      mr-1  gastown  queued  gt-uelx  -        feature/gadget  [SHA]  [DURATION]

    Agents:
      POLECAT               STATE    BEAD     SESSION  RUNTIME     ALIVE
      gastown/polecats/nux  working  gt-wnhe  gt-nux   subprocess  DEAD

    Needs attention: 1 dead agent(s) (working, session gone); 1 open escalation(s): `bd list --label gt:escalation`
    ----- stderr -----
    ");
}

#[test]
fn mq_list_refinery_status_and_convoy_status() {
    let env = TestEnv::new();
    let Some(f) = fixture(&env) else { return };
    let (_, _, convoy) = busy_town(&f);
    assert_cmd_snapshot!(env, env.command(GT).args(["mq", "list"]), @r"
    exit_code: 0
    ----- stdout -----
    MR    RIG      STATE   BEAD     POLECAT  BRANCH          SHA           AGE
    mr-1  gastown  queued  gt-uelx  -        feature/gadget  [SHA]  [DURATION]
    ----- stderr -----
    ");
    assert_cmd_snapshot!(env, env.command(GT).args(["refinery", "status"]), @r"
    exit_code: 0
    ----- stdout -----
    RIG      RUNNING  QUEUED  TESTING  PAUSED  LAST PASS
    gastown  no       1       0        -       -
    ----- stderr -----
    ");
    assert_cmd_snapshot!(env, env.command(GT).args(["convoy", "status", &convoy]), @r"
    exit_code: 0
    ----- stdout -----
    hq-[ID]  Widgets  [open, 0/2 merged]
      gt-uelx  open         -                     mr-1 queued  Land the gadget
      gt-wnhe  in_progress  gastown/polecats/nux  -            Fix the widget
    ----- stderr -----
    ");
    // After a pass: the change landed, the refinery shows its last pass.
    ok(f.gt(&["refinery", "run", "gastown", "--once"]));
    assert_cmd_snapshot!(env, env.command(GT).args(["refinery", "status"]), @r"
    exit_code: 0
    ----- stdout -----
    RIG      RUNNING  QUEUED  TESTING  PAUSED  LAST PASS
    gastown  no       0       0        -       landed at [TIMESTAMP]: batch 1, landed 1, failed 0, conflicted 0
    ----- stderr -----
    ");
    assert_cmd_snapshot!(env, env.command(GT).args(["convoy", "status", &convoy]), @r"
    exit_code: 0
    ----- stdout -----
    hq-[ID]  Widgets  [open, 1/2 merged]
      gt-uelx  closed       -                     mr-1 merged  Land the gadget
      gt-wnhe  in_progress  gastown/polecats/nux  -            Fix the widget
    ----- stderr -----
    ");
}

#[test]
fn json_views_keep_the_row_fields_and_add_their_own() {
    let env = TestEnv::new();
    let Some(f) = fixture(&env) else { return };
    let (widget, gadget, convoy) = busy_town(&f);
    let status = json(&ok(f.gt(&["--json", "status"])));
    assert_eq!(status["rigs"][0]["name"], "gastown", "{status}");
    assert_eq!(status["in_flight"][0]["id"], widget.as_str(), "{status}");
    assert_eq!(status["merge_queue"][0]["state"], "queued", "{status}");
    assert_eq!(status["merge_queue"][0]["bead_id"], gadget.as_str());
    assert_eq!(status["agents"][0]["dead"], true, "{status}");
    assert_eq!(status["agents"][0]["alive"], false);
    assert_eq!(status["dead_agents"], 1);
    assert_eq!(status["open_escalations"], 1);
    assert_eq!(status["daemon"]["running"], false);

    let mrs = json(&ok(f.gt(&["--json", "mq", "list"])));
    assert_eq!(mrs[0]["id"], 1, "{mrs}");
    assert_eq!(mrs[0]["label"], "mr-1");
    assert!(mrs[0]["age_seconds"].as_i64().unwrap() > 0, "{mrs}");

    let refinery = json(&ok(f.gt(&["--json", "refinery", "status"])));
    assert_eq!(refinery[0]["rig"], "gastown", "{refinery}");
    assert_eq!(refinery[0]["running"], false);
    assert_eq!(refinery[0]["queued"], 1);
    assert_eq!(refinery[0]["paused"], serde_json::Value::Null);

    let convoys = json(&ok(f.gt(&["--json", "convoy", "status", &convoy])));
    assert_eq!(convoys[0]["tracked"].as_array().unwrap().len(), 2);
    assert_eq!(convoys[0]["state"], "open");
    assert_eq!(convoys[0]["merge_requests"][&gadget]["state"], "queued");

    let polecats = json(&ok(f.gt(&["--json", "polecat", "list"])));
    assert_eq!(polecats[0]["bead_id"], widget.as_str(), "{polecats}");
    assert_eq!(polecats[0]["dead"], true);
}

/// A runner holding the lock shows as running, one killed shows as not running, and
/// `gt refinery status` never opens the lock (taking it, however briefly, would turn a runner
/// starting at that instant away as busy).
#[test]
fn refinery_status_sees_a_runner_without_taking_its_lock() {
    let env = TestEnv::new();
    let Some(f) = fixture(&env) else { return };
    let lock = f.root.join(".runtime/locks/refinery-gastown.lock");
    let status = json(&ok(f.gt(&["--json", "refinery", "status", "gastown"])));
    assert_eq!(status[0]["running"], false, "{status}");
    assert!(!lock.exists(), "status created the refinery's lock file");
    let mut runner = env
        .command(GT)
        .args(["refinery", "run", "gastown", "--interval", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start a runner");
    let pid = runner.id();
    testkit::wait_until(std::time::Duration::from_secs(30), || {
        json(&ok(f.gt(&["--json", "refinery", "status", "gastown"])))[0]["pid"] == pid
    })
    .expect("the runner shows as running");
    let status = json(&ok(f.gt(&["--json", "refinery", "status", "gastown"])));
    assert_eq!(status[0]["running"], true, "{status}");
    runner.kill().expect("kill the runner");
    runner.wait().expect("reap the runner");
    // Killed: its record names a process that is gone.
    let status = json(&ok(f.gt(&["--json", "refinery", "status", "gastown"])));
    assert_eq!(status[0]["running"], false, "{status}");
}
