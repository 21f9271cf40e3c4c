//! `gt session`, `gt agents` and `gt peek` for every role, on a real town with its sessions on
//! a private tmux server: the mayor's and a crew member's sessions started directly (their own
//! commands are another module's), polecats by `gt sling` with the scripted agent.

use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use testkit::{TmuxServer, assert_cmd_snapshot, wait_until};
use town::agents::Readiness;
use town::runtime::{Runtime, SessionSpec, SubprocessRuntime, TmuxRuntime};

use super::GT;
use super::work_loop::{Town, json, ok, script, stdout};

const T: Duration = Duration::from_secs(20);

impl Town {
    /// The town's runtime on its private server, as `gt` builds it.
    fn tmux_runtime(&self) -> TmuxRuntime {
        TmuxRuntime::for_town(&self.root, Some(self.server.socket_name()))
    }

    /// Starts the town's session `name` running `shell` (through `sh -c`), with what a `gt`
    /// inside it needs to find the town (it names `gt` by its path).
    fn start_session(&self, name: &str, shell: &str) {
        self.tmux_runtime()
            .start(&session_spec(self, name, shell))
            .expect("fixture step");
    }

    /// A polecat working on a bead whose agent stays at its prompt: its address.
    fn working_polecat(&self) -> String {
        let bead = self.create("stay a while", &script("stay"));
        let slung = self.sling(&[&bead, "gastown"]);
        slung[0]["polecat"].as_str().expect("a polecat").to_owned()
    }

    fn agents(&self) -> Vec<Value> {
        json(&ok(self.gt(&["--json", "agents"])))
            .as_array()
            .expect("a list")
            .clone()
    }

    /// The tmux sessions that clients of the town's server show.
    fn client_sessions(&self) -> String {
        self.server
            .run(["list-clients", "-F", "#{client_session}"])
            .trim_end()
            .to_owned()
    }
}

fn session_spec(town: &Town, name: &str, shell: &str) -> SessionSpec {
    // No `PATH`: tmux gives a new pane the PATH of the client that made it.
    let env = [
        ("GT_TOWN_ROOT", town.root.display().to_string()),
        ("GT_TMUX_SOCKET", town.server.socket_name().to_owned()),
    ];
    SessionSpec {
        name: name.to_owned(),
        cwd: town.root.clone(),
        env: env.map(|(k, v)| (k.to_owned(), v)).to_vec(),
        argv: vec!["sh".into(), "-c".into(), shell.to_owned()],
        readiness: Readiness::Delay { ms: 0 },
        process_names: Vec::new(),
    }
}

fn fails(out: &Output, code: i32) -> String {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        stdout(out),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn peek_shows_the_last_lines_of_real_output_for_every_role() {
    let Some(t) = Town::new() else { return };
    // Three lines at the top of a 50-row pane: the rest is padding.
    t.start_session(
        "hq-mayor",
        "printf 'one\\n\\n\\ntwo\\nthree\\n'; exec sleep 300",
    );
    std::fs::create_dir_all(t.rig().join("crew/max")).expect("fixture step");
    t.start_session("gt-crew-max", "printf 'crew at work\\n'; exec sleep 300");
    wait_until(T, || stdout(&t.gt(&["peek", "mayor/"])).contains("three"))
        .expect("the mayor's output shows");
    assert_eq!(
        stdout(&ok(t.gt(&["peek", "mayor/"]))),
        "one\n\ntwo\nthree\n"
    );
    assert_eq!(
        stdout(&ok(t.gt(&["peek", "mayor", "-n", "2"]))),
        "two\nthree\n"
    );
    assert_eq!(
        stdout(&ok(t.gt(&["session", "capture", "mayor/", "-n", "1"]))),
        "three\n"
    );
    let peek = json(&ok(t.gt(&["--json", "peek", "mayor/", "-n", "3"])));
    assert_eq!(
        peek,
        serde_json::json!({"address": "mayor/", "session": "hq-mayor", "lines": ["", "two", "three"]})
    );
    wait_until(T, || {
        stdout(&t.gt(&["peek", "gastown/crew/max"])) == "crew at work\n"
    })
    .expect("the crew member's output shows");

    // A polecat's pane: the scripted agent's TUI; the last line shown is its prompt, not a
    // blank row of the 50.
    let polecat = t.working_polecat();
    let text = stdout(&ok(t.gt(&["peek", &polecat])));
    let last = text.lines().last().expect("some output");
    assert!(last.starts_with('❯'), "{text}");
    assert!(text.lines().count() < 40, "{text}");
    assert!(text.contains("received: [GAS TOWN]"), "{text}");
}

#[test]
fn session_at_attaches_from_another_tmux_and_switches_inside_the_towns_own() {
    let Some(t) = Town::new() else { return };
    std::fs::create_dir_all(t.rig().join("crew/max")).expect("fixture step");
    t.start_session("gt-crew-max", "echo crew; exec sleep 300");
    // The mayor's pane runs `gt session at` for the crew member once told to: inside the
    // town's server, so its client is switched, not nested.
    let go = t.env.work().join("go");
    t.start_session(
        "hq-mayor",
        &format!(
            "while [ ! -e '{}' ]; do sleep 0.1; done; '{GT}' session at gastown/crew/max; exec sleep 300",
            go.display()
        ),
    );
    // The user's own tmux: a second private server, whose pane runs `gt session at mayor/`.
    let user = TmuxServer::start();
    user.new_session(
        "desk",
        &format!(
            "env GT_TOWN_ROOT='{}' GT_TMUX_SOCKET='{}' '{GT}' session at mayor/; sleep 300",
            t.root.display(),
            t.server.socket_name()
        ),
    );
    let runtime = t.tmux_runtime();
    let (mayor, crew) = (
        runtime.tmux_name("hq-mayor"),
        runtime.tmux_name("gt-crew-max"),
    );
    wait_until(T, || t.client_sessions() == mayor).unwrap_or_else(|e| {
        panic!(
            "{e}: clients {:?}; desk:\n{}",
            t.client_sessions(),
            user.capture("desk")
        )
    });
    std::fs::write(&go, "").expect("fixture step");
    wait_until(T, || t.client_sessions() == crew).unwrap_or_else(|e| {
        panic!(
            "{e}: clients {:?}; desk:\n{}",
            t.client_sessions(),
            user.capture("desk")
        )
    });
    // The user's terminal shows the crew member's pane.
    wait_until(T, || user.capture("desk").contains("crew")).expect("the crew pane shows");
}

#[test]
fn agents_lists_mayor_crew_and_polecats_with_liveness() {
    let Some(t) = Town::new() else { return };
    std::fs::create_dir_all(t.rig().join("crew/max")).expect("fixture step");
    let polecat = t.working_polecat();
    let agents = t.agents();
    let by = |address: &str| {
        agents
            .iter()
            .find(|a| a["address"] == address)
            .unwrap_or_else(|| panic!("no {address} in {agents:?}"))
            .clone()
    };
    assert_eq!(agents.len(), 3, "{agents:?}");
    let mayor = by("mayor/");
    assert_eq!(
        (
            &mayor["role"],
            &mayor["state"],
            &mayor["alive"],
            &mayor["rig"]
        ),
        (
            &"mayor".into(),
            &"stopped".into(),
            &false.into(),
            &Value::Null
        )
    );
    let crew = by("gastown/crew/max");
    assert_eq!(crew["session"], "gt-crew-max");
    assert_eq!(crew["rig"], "gastown");
    assert_eq!(crew["last_activity"], Value::Null);
    let p = by(&polecat);
    assert_eq!(p["role"], "polecat");
    assert_eq!(p["state"], "working");
    assert_eq!(p["alive"], true);
    assert_eq!(p["runtime"], "tmux");
    assert!(
        p["bead"].as_str().is_some_and(|b| b.starts_with("gt-")),
        "{p}"
    );
    // RFC 3339 in whole seconds, UTC: `2026-01-01T00:00:00Z`.
    let at = p["last_activity"].as_str().expect("a last activity");
    assert!(
        at.len() == 20 && at.ends_with('Z') && at.as_bytes()[10] == b'T',
        "{at}"
    );

    // The crew member's session starts: it runs, and `gt session list` shows both sessions.
    t.start_session("gt-crew-max", "exec sleep 300");
    let crew = t
        .agents()
        .into_iter()
        .find(|a| a["address"] == "gastown/crew/max")
        .expect("crew");
    assert_eq!(
        (&crew["state"], &crew["alive"]),
        (&"running".into(), &true.into())
    );
    let sessions = json(&ok(t.gt(&["--json", "session", "list"])));
    let listed: Vec<(String, String, bool)> = sessions
        .as_array()
        .expect("a list")
        .iter()
        .map(|s| {
            (
                s["address"].as_str().unwrap_or("-").to_owned(),
                s["runtime"].as_str().unwrap_or_default().to_owned(),
                s["alive"] == true,
            )
        })
        .collect();
    assert!(
        listed.contains(&("gastown/crew/max".into(), "tmux".into(), true)),
        "{listed:?}"
    );
    assert!(
        listed.contains(&(polecat.clone(), "tmux".into(), true)),
        "{listed:?}"
    );
    assert_eq!(listed.len(), 2, "{listed:?}");
}

#[test]
fn agents_and_session_list_for_people() {
    let Some(t) = Town::new() else { return };
    std::fs::create_dir_all(t.rig().join("crew/max")).expect("fixture step");
    t.working_polecat();
    assert_cmd_snapshot!(t.env, t.env.command(GT).arg("agents"), @r"
    exit_code: 0
    ----- stdout -----
    ADDRESS                   ROLE     RIG      BEAD     STATE    SESSION      RUNTIME  ALIVE  LAST ACTIVITY
    mayor/                    mayor    -        -        stopped  hq-mayor     -        no     -
    gastown/crew/max          crew     gastown  -        stopped  gt-crew-max  -        no     -
    gastown/polecats/furiosa  polecat  gastown  [ID]  working  gt-furiosa   tmux     yes    [TIMESTAMP]
    ----- stderr -----
    ");
    assert_cmd_snapshot!(t.env, t.env.command(GT).args(["session", "list"]), @r"
    exit_code: 0
    ----- stdout -----
    ADDRESS                   SESSION     RUNTIME  ALIVE
    gastown/polecats/furiosa  gt-furiosa  tmux     yes
    ----- stderr -----
    ");
}

#[test]
fn session_restart_starts_a_polecat_again_on_its_bead() {
    let Some(t) = Town::new() else { return };
    let polecat = t.working_polecat();
    let before = t.polecats()[0].clone();
    let pid = |name: &str| {
        t.tmux_runtime()
            .pid(name)
            .expect("a pid")
            .expect("a running agent")
    };
    let session = before["session"].as_str().expect("a session").to_owned();
    let old_pid = pid(&session);
    let restarted = json(&ok(t.gt(&["--json", "session", "restart", &polecat])));
    assert_eq!(restarted[0]["action"], "restarted", "{restarted}");
    assert_eq!(restarted[0]["bead"], before["bead_id"]);
    let after = t.polecats()[0].clone();
    assert_eq!(after["state"], "working");
    assert_eq!(
        after["generation"].as_i64(),
        before["generation"].as_i64().map(|g| g + 1)
    );
    assert_ne!(pid(&session), old_pid);
    assert!(!host::spawn::is_alive(old_pid));
    // Its worktree and branch are the same: the agent goes on with its work.
    assert_eq!(after["branch"], before["branch"]);
}

#[test]
fn bad_addresses_and_sessionless_agents_fail_cleanly() {
    let Some(t) = Town::new() else { return };
    t.working_polecat();
    let cases: [(&[&str], i32, &str); 7] = [
        (&["peek", "x/../y"], 1, "is not an address"),
        (
            &["peek", "gastown/polecats/ghost"],
            1,
            "no polecat of that name",
        ),
        (
            &["peek", "gastown/witness"],
            1,
            "services inside the daemon",
        ),
        (&["session", "at", "overseer"], 1, "is a person"),
        (&["session", "capture", "@town"], 1, "names a group"),
        (&["session", "at", "mayor/"], 1, "no session `hq-mayor`"),
        (&["session", "capture", "nowhere/crew/max"], 1, "nowhere"),
    ];
    for (args, code, needle) in cases {
        let err = fails(&t.gt(args), code);
        assert!(
            err.starts_with("error: ") && err.contains(needle),
            "{args:?}: {err}"
        );
        assert!(err.contains("\nhint: "), "{args:?}: {err}");
    }
    // Nothing changed: the polecat still runs on its bead.
    let polecats = t.polecats();
    assert_eq!(polecats[0]["state"], "working");
    assert_eq!(polecats[0]["dead"], false);
}

#[test]
fn a_headless_session_cannot_be_attached_but_can_be_read() {
    let Some(t) = Town::new() else { return };
    let sessions = SubprocessRuntime::new(t.root.join(".runtime/sessions"));
    let mut spec = session_spec(&t, "hq-mayor", "echo headless mayor; exec sleep 300");
    spec.env.push((
        "HOME".into(),
        t.env.root().join("home").display().to_string(),
    ));
    sessions.start(&spec).expect("fixture step");
    let err = fails(&t.gt(&["session", "at", "mayor/"]), 1);
    assert!(
        err.contains("runs headless") && err.contains("subprocess"),
        "{err}"
    );
    assert!(err.contains("hint: `gt session capture mayor/`"), "{err}");
    wait_until(T, || {
        stdout(&t.gt(&["peek", "mayor/"])) == "headless mayor\n"
    })
    .expect("the log shows");
    let list = json(&ok(t.gt(&["--json", "session", "list"])));
    assert_eq!(list[0]["runtime"], "subprocess", "{list}");
    assert_eq!(list[0]["address"], "mayor/");
    sessions.stop("hq-mayor").expect("fixture step");
}
