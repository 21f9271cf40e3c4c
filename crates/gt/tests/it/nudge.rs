//! `gt nudge` against the scripted agent as a TUI in real tmux (a private server): an idle
//! prompt, a busy agent, a person's half-typed input, copy-mode, do-not-disturb, a dead
//! session, and several nudges at once. Every outcome is read back from the pane.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use testkit::{TestEnv, TmuxServer, require_cmd, wait_until};
use town::agents::Readiness;
use town::runtime::{Runtime, SessionSpec, TmuxRuntime};

use super::{GT, make_town};

const AGENT: &str = env!("CARGO_BIN_EXE_gt-scripted-agent");
const T: Duration = Duration::from_secs(20);
/// `gt nudge`'s documented exit code for "queued, not delivered yet".
const QUEUED: i32 = 75;

struct Fixture {
    env: TestEnv,
    server: TmuxServer,
    town: PathBuf,
    runtime: TmuxRuntime,
}

impl Fixture {
    fn new() -> Option<Self> {
        Self::with_town(make_town)
    }

    /// A fixture whose town is installed by `gt install`, with its store: for what records
    /// events.
    fn installed() -> Option<Self> {
        Self::with_town(|town| {
            let env = TestEnv::new();
            let o = env
                .command(GT)
                .args(["install"])
                .arg(town)
                .output()
                .expect("run gt install");
            assert!(o.status.success(), "{}", out(&o));
        })
    }

    fn with_town(make: impl FnOnce(&Path)) -> Option<Self> {
        if !require_cmd("tmux") {
            return None;
        }
        let env = TestEnv::new();
        let town = env.work().join("town");
        make(&town);
        let server = TmuxServer::start();
        env.set("GT_TMUX_SOCKET", server.socket_name());
        let runtime = TmuxRuntime::for_town(&town, Some(server.socket_name()));
        Some(Self {
            env,
            server,
            town,
            runtime,
        })
    }

    /// Starts the mayor's session (`hq-mayor`) running the scripted agent with `script`, and
    /// with `stop_hook`, a Claude `Stop` hook draining its nudges.
    fn agent(&self, script: &str, stop_hook: bool) {
        let dir = self.env.work().join("mayor-agent");
        std::fs::create_dir_all(dir.join(".claude")).expect("fixture step");
        let script_path = dir.join("script.gt");
        std::fs::write(&script_path, script).expect("fixture step");
        if stop_hook {
            let command = format!("'{GT}' nudge --drain --hook");
            let settings = serde_json::json!({"hooks": {"Stop": [
                {"matcher": "", "hooks": [{"type": "command", "command": command}]}
            ]}});
            std::fs::write(dir.join(".claude/settings.json"), settings.to_string())
                .expect("fixture step");
        }
        let env = [
            ("GT_AGENT_SCRIPT", script_path.display().to_string()),
            ("GT_SCRIPTED_AGENT_READY_DELAY_MS", "50".to_owned()),
            ("GT_TOWN_ROOT", self.town.display().to_string()),
            ("GT_SESSION", "hq-mayor".to_owned()),
            // The hooks' `gt` reads the queue at the test's time, as `gt nudge` wrote it.
            ("GT_TEST_NOW", "2026-01-01T00:01:00Z".to_owned()),
        ];
        let spec = SessionSpec {
            name: "hq-mayor".into(),
            cwd: dir,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            argv: vec![AGENT.to_owned(), "the beacon".to_owned()],
            readiness: Readiness::Prompt {
                prefix: "❯ ".into(),
                fallback_ms: 10_000,
                dialogs: Vec::new(),
            },
            process_names: Vec::new(),
        };
        self.runtime.start(&spec).expect("fixture step");
    }

    /// The pane, each line's trailing blanks dropped (tmux keeps those up to the cursor).
    fn pane(&self) -> String {
        self.runtime
            .capture("hq-mayor")
            .expect("fixture step")
            .lines()
            .map(|l| format!("{}\n", l.trim_end()))
            .collect()
    }

    fn wait_pane(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        wait_until(T, || ok(&self.pane()))
            .unwrap_or_else(|e| panic!("{e}: {what}:\n{}", self.pane()));
        self.pane()
    }

    fn idle(&self) {
        self.wait_pane("an idle prompt", |p| {
            town::nudge::screen::classify(p, "❯ ") == town::nudge::screen::Screen::Idle
        });
    }

    fn nudge(&self, args: &[&str]) -> Output {
        self.env
            .command(GT)
            .args(["nudge"])
            .args(args)
            .current_dir(&self.town)
            .output()
            .expect("fixture step")
    }

    fn gt(&self, args: &[&str]) -> Output {
        self.env
            .command(GT)
            .args(args)
            .current_dir(&self.town)
            .output()
            .expect("fixture step")
    }

    fn queued_files(&self) -> usize {
        std::fs::read_dir(self.town.join(".runtime/nudge_queue/hq-mayor"))
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                    .count()
            })
            .unwrap_or(0)
    }
}

fn out(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_multi_line_nudge_to_an_idle_agent_arrives_once_and_whole() {
    let Some(f) = Fixture::new() else { return };
    f.agent("stay\n", false);
    f.idle();
    let o = f.nudge(&["mayor/", "first line\nsecond line\nthird line"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "delivered to mayor/ (session hq-mayor)\n"
    );
    let pane = f.wait_pane("the nudge", |p| p.contains("third line"));
    assert_eq!(
        pane.matches("received: first line\n  second line\n  third line\n❯\n")
            .count(),
        1,
        "{pane}"
    );
    assert_eq!(pane.matches("second line").count(), 1, "{pane}");
}

#[test]
fn a_nudge_to_a_busy_agent_is_queued_and_arrives_at_its_turn_boundary() {
    let Some(f) = Fixture::new() else { return };
    f.agent("sleep 6000\nstay\n", true);
    f.wait_pane("the busy line", |p| p.contains("esc to interrupt"));
    let o = f.nudge(&["--json", "mayor/", "check your mail"]);
    assert_eq!(o.status.code(), Some(QUEUED), "{}", out(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["outcome"], "queued");
    assert_eq!(v["reason"], "busy");
    assert_eq!(v["depth"], 1);
    assert!(!f.pane().contains("check your mail"), "{}", f.pane());
    assert_eq!(f.queued_files(), 1);
    // The script's turn ends; its Stop hook drains the queue into the next prompt.
    let pane = f.wait_pane("the drained nudge", |p| {
        p.contains("received: [nudge from overseer] check your mail")
    });
    assert_eq!(pane.matches("check your mail").count(), 1, "{pane}");
    f.idle();
    assert_eq!(f.queued_files(), 0);
}

#[test]
fn half_typed_input_is_never_merged_with_a_nudge() {
    let Some(f) = Fixture::new() else { return };
    f.agent("stay\n", false);
    f.idle();
    f.server.run([
        "send-keys",
        "-t",
        &f.runtime.tmux_name("hq-mayor"),
        "-l",
        "my half typ",
    ]);
    f.wait_pane("the typed text", |p| p.ends_with("❯ my half typ\n"));
    for mode in ["wait-idle", "immediate"] {
        let o = f.nudge(&["--mode", mode, "mayor/", "from the witness"]);
        assert_eq!(o.status.code(), Some(QUEUED), "{mode}: {}", out(&o));
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            text.contains("queued for mayor/") && text.contains("half-typed input"),
            "{text}"
        );
    }
    let pane = f.pane();
    assert!(pane.ends_with("❯ my half typ\n"), "{pane}");
    assert!(!pane.contains("from the witness"), "{pane}");
    assert_eq!(f.queued_files(), 2);
}

#[test]
fn a_nudge_to_a_dead_or_missing_session_fails_and_names_it() {
    let Some(f) = Fixture::new() else { return };
    let o = f.nudge(&["mayor/", "anyone?"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("`mayor/`") && err.contains("`hq-mayor`"),
        "{err}"
    );
    assert!(o.stdout.is_empty(), "{}", out(&o));
    f.agent("exit 0\n", false);
    wait_until(T, || !f.runtime.is_alive("hq-mayor", &[]).unwrap()).unwrap();
    let o = f.nudge(&["mayor/", "anyone?"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("`hq-mayor`") && err.contains("not running"),
        "{err}"
    );
    assert_eq!(f.queued_files(), 0, "nothing queued for a dead agent");
    // Services and people have no session.
    let o = f.nudge(&["gastown/witness", "hi"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("send them mail"),
        "{}",
        out(&o)
    );
    let o = f.nudge(&["no/such/address/x", "hi"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
}

#[test]
fn copy_mode_is_left_before_delivering() {
    let Some(f) = Fixture::new() else { return };
    f.agent("stay\n", false);
    f.idle();
    let tmux_name = f.runtime.tmux_name("hq-mayor");
    f.runtime.tmux().copy_mode(&tmux_name).unwrap();
    assert!(f.runtime.tmux().pane(&tmux_name).unwrap().unwrap().in_mode);
    let o = f.nudge(&["mayor/", "out of copy mode"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    f.wait_pane("the nudge", |p| p.contains("received: out of copy mode\n❯"));
    assert!(!f.runtime.tmux().pane(&tmux_name).unwrap().unwrap().in_mode);
}

#[test]
fn do_not_disturb_queues_unless_forced() {
    let Some(f) = Fixture::new() else { return };
    f.agent("stay\n", false);
    f.idle();
    let o = f.gt(&["dnd", "on", "mayor/"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let o = f.nudge(&["--json", "mayor/", "later please"]);
    assert_eq!(o.status.code(), Some(QUEUED), "{}", out(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["reason"], "dnd");
    let o = f.nudge(&["-f", "mayor/", "now anyway"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let pane = f.wait_pane("the forced nudge", |p| p.contains("received: now anyway"));
    assert!(!pane.contains("later please"), "{pane}");
    // The queued one is there for the agent's own drain.
    let o = f.gt(&["nudge", "--drain", "--session", "hq-mayor"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "[nudge from overseer] later please\n"
    );
    assert_eq!(f.queued_files(), 0);
}

#[test]
fn concurrent_nudges_arrive_whole_and_not_interleaved() {
    let Some(f) = Fixture::new() else { return };
    f.agent("stay\n", false);
    f.idle();
    let children: Vec<_> = (0..4)
        .map(|i| {
            f.env
                .command(GT)
                .args(["nudge", "--mode", "immediate", "mayor/"])
                .arg(format!("msg{i} a\nmsg{i} b\nmsg{i} c"))
                .current_dir(&f.town)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert_eq!(child.wait().unwrap().code(), Some(0));
    }
    let pane = f.wait_pane("every nudge", |p| {
        (0..4).all(|i| p.contains(&format!("msg{i} c")))
    });
    for i in 0..4 {
        let block = format!("received: msg{i} a\n  msg{i} b\n  msg{i} c\n");
        assert_eq!(pane.matches(&block).count(), 1, "{i}: {pane}");
    }
}

/// `gt nudge` with no town-wide session helper: the queue directory stays where the docs say.
#[test]
fn queued_nudges_are_files_under_the_runtime_dir() {
    let Some(f) = Fixture::new() else { return };
    f.agent("stay\n", false);
    f.idle();
    let o = f.nudge(&[
        "--mode",
        "queue",
        "--priority",
        "urgent",
        "mayor/",
        "queued by hand",
    ]);
    assert_eq!(o.status.code(), Some(QUEUED), "{}", out(&o));
    let dir: &Path = &f.town.join(".runtime/nudge_queue/hq-mayor");
    let entry = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .unwrap();
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(entry.path()).unwrap()).unwrap();
    assert_eq!(v["message"], "queued by hand");
    assert_eq!(v["priority"], "urgent");
    assert_eq!(v["sender"], "overseer");
    assert!(!f.pane().contains("queued by hand"));
}

/// The `nudge_*` events of the town's stream, as (kind, entry) pairs, oldest first.
fn nudge_events(f: &Fixture) -> Vec<(String, String)> {
    let o = f.gt(&["--json", "events", "--limit", "1000"]);
    assert!(o.status.success(), "{}", out(&o));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("one JSON object a line"))
        .filter(|e| e["kind"].as_str().is_some_and(|k| k.starts_with("nudge_")))
        .map(|e| {
            let field = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
            (field(&e["kind"]), field(&e["payload"]["entry"]))
        })
        .collect()
}

/// `gt nudge --mode queue` killed between queueing and recording (crash point
/// `nudge:queued`): the nudge waits, unrecorded. The hook's drain that delivers it completes
/// its `nudge_queued` before its `nudge_delivered`; killed after recording that and before
/// removing the entry (`nudge:delivery-recorded`), the entry returns once its claim times out
/// and is delivered again, and the stream still holds one of each for it.
#[test]
fn a_nudge_killed_before_its_record_is_recorded_once_by_its_delivery() {
    let Some(f) = Fixture::installed() else {
        return;
    };
    f.agent("stay\n", false);
    f.idle();
    let killed = f
        .env
        .command(GT)
        .args([
            "nudge",
            "--mode",
            "queue",
            "mayor/",
            "killed before its record",
        ])
        .env("GT_TEST_KILL_AT", "nudge:queued")
        .current_dir(&f.town)
        .output()
        .expect("run gt nudge");
    assert_eq!(killed.status.signal(), Some(9), "{}", out(&killed));
    assert_eq!(f.queued_files(), 1);
    assert_eq!(nudge_events(&f), []);

    let drain = |now: &str, kill_at: Option<&str>| {
        let mut command = f.env.command(GT);
        command
            .args(["nudge", "--drain", "--session", "hq-mayor"])
            .env("GT_TEST_NOW", now)
            .current_dir(&f.town);
        if let Some(point) = kill_at {
            command.env("GT_TEST_KILL_AT", point);
        }
        command.output().expect("run gt nudge --drain")
    };
    let first = drain("2026-01-01T00:01:00Z", Some("nudge:delivery-recorded"));
    assert_eq!(first.status.signal(), Some(9), "{}", out(&first));
    assert!(
        String::from_utf8_lossy(&first.stdout).contains("killed before its record"),
        "{}",
        out(&first)
    );
    let events = nudge_events(&f);
    let entry = events.first().map(|(_, e)| e.clone()).unwrap_or_default();
    assert!(!entry.is_empty(), "{events:?}");
    let want = [
        ("nudge_queued".to_owned(), entry.clone()),
        ("nudge_delivered".to_owned(), entry),
    ];
    assert_eq!(events, want);
    // Its claim left by the killed drain: hidden until it times out, then delivered again.
    let hidden = drain("2026-01-01T00:02:00Z", None);
    assert!(hidden.status.success(), "{}", out(&hidden));
    assert_eq!(String::from_utf8_lossy(&hidden.stdout), "");
    let again = drain("2026-01-01T00:06:00Z", None);
    assert!(again.status.success(), "{}", out(&again));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("killed before its record"),
        "{}",
        out(&again)
    );
    assert_eq!(f.queued_files(), 0);
    assert_eq!(nudge_events(&f), want);

    // A nudge queued and recorded by a whole run is not recorded again by its delivery.
    let o = f.nudge(&["--mode", "queue", "mayor/", "recorded at once"]);
    assert_eq!(o.status.code(), Some(QUEUED), "{}", out(&o));
    let delivered = drain("2026-01-01T00:07:00Z", None);
    assert!(delivered.status.success(), "{}", out(&delivered));
    let events = nudge_events(&f);
    assert_eq!(events.len(), 4, "{events:?}");
    assert_eq!(events[..2], want);
    assert_eq!(
        (events[2].0.as_str(), events[3].0.as_str()),
        ("nudge_queued", "nudge_delivered"),
        "{events:?}"
    );
    assert_eq!(events[2].1, events[3].1, "{events:?}");
    assert_ne!(events[2].1, want[0].1, "{events:?}");
}

#[test]
fn a_session_name_reaches_the_same_agent_as_its_address() {
    let Some(f) = Fixture::new() else { return };
    f.agent("stay\n", false);
    f.idle();
    let o = f.nudge(&["hq-mayor", "by session name"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "delivered to mayor/ (session hq-mayor)\n"
    );
    f.wait_pane("the nudge", |p| p.contains("received: by session name"));
}

#[test]
fn an_unknown_session_name_is_a_clear_error_that_changes_nothing() {
    if !require_cmd("git") {
        return;
    }
    let env = TestEnv::new();
    let remote = testkit::GitFixture::with_commits(&env, 1)
        .remote_path()
        .to_owned();
    let root = env.work().join("town");
    let run = |args: &[&str]| {
        env.command(GT)
            .current_dir(env.work())
            .env("GT_TOWN_ROOT", &root)
            .args(args)
            .output()
            .expect("run gt")
    };
    assert_eq!(run(&["install", "town"]).status.code(), Some(0));
    let url = format!("file://{}", remote.display());
    let added = run(&["rig", "add", "gastown", &url]);
    assert_eq!(added.status.code(), Some(0), "{}", out(&added));
    let o = run(&["nudge", "gt-nobody", "hi"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    insta::assert_snapshot!(err, @r"
    error: no agent of this town runs in a session named `gt-nobody`

    hint: name an address (mayor/, <rig>/<polecat>, <rig>/crew/<name>) or a running agent's session; `gt polecat list` shows each polecat's session
    ");
    assert!(!root.join(".runtime/nudge_queue/gt-nobody").exists());
    // A crew member's session name resolves to its address; it does not run, so nothing is
    // delivered or queued, and the error names the address.
    let o = run(&["nudge", "gt-crew-max", "hi"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("`gastown/crew/max`") && err.contains("not running"),
        "{err}"
    );
}
