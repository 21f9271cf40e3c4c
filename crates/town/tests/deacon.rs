//! The deacon against a real town: a rig on a local bare remote, a real store on a clock the
//! test moves, headless (subprocess) sessions, and real processes carrying the town's agent
//! environment.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test by panicking"
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use beads::{NewIssue, PolecatUpdate, Store};
use testkit::{GitFixture, TestEnv, wait_until};
use town::deacon::{Deacon, Intervals, town_agent_processes};
use town::layout::{RigPaths, Town};
use town::runtime::{Runtime, Runtimes, SessionSpec, SubprocessRuntime, TmuxRuntime};
use town::service::{Next, Service};

const RIG: &str = "app";
/// 2026-01-01T00:00:00Z.
const EPOCH: i64 = 1_767_225_600;
/// The idle threshold the scenario configures.
const IDLE_SECS: i64 = 600;
const T: Duration = Duration::from_secs(10);

/// A clock the test moves by hand.
#[derive(Clone)]
struct TestClock(Arc<AtomicI64>);

impl host::clock::Clock for TestClock {
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::from_second(self.0.load(Ordering::SeqCst)).expect("in range")
    }
}

struct Scenario<'e> {
    env: &'e TestEnv,
    _fx: GitFixture<'e>,
    town: Town,
    clock: Arc<AtomicI64>,
    deacon: Deacon,
    /// A second handle on the store, for the test's own writes.
    store: Store,
    /// The runtime the sessions run in (the deacon has its own over the same directory).
    sessions: SubprocessRuntime,
    /// Processes started outside any session, stopped at the end.
    strays: Vec<u32>,
}

fn runtimes(state: &Path) -> Runtimes {
    Runtimes::new(
        TmuxRuntime::new(host::tmux::Tmux::new("gt-deacon-test-unused"), state),
        SubprocessRuntime::new(state).with_kill_grace(Duration::from_secs(2)),
        "subprocess",
    )
}

impl<'e> Scenario<'e> {
    fn new(env: &'e TestEnv) -> Self {
        let fx = GitFixture::with_commits(env, 2);
        let root = env.root().join("town");
        town::install::install(
            &root,
            &town::install::InstallOptions {
                owner: "test@example.com".into(),
                ..Default::default()
            },
            beads::Context {
                actor: "test".into(),
                clock: Box::new(host::clock::SystemClock),
            },
        )
        .expect("install the town");
        let town = Town::at(root);
        town::rig::add(
            &town,
            RIG,
            &fx.remote_url(),
            &town::rig::AddOptions::default(),
            "2026-01-01T00:00:00Z",
        )
        .expect("add the rig");
        let clock = Arc::new(AtomicI64::new(EPOCH));
        let open = |actor: &str| {
            Store::open(
                &town.beads_dir(),
                beads::Context {
                    actor: actor.into(),
                    clock: Box::new(TestClock(clock.clone())),
                },
            )
            .expect("open the store")
        };
        let state = town.runtime_dir().join("sessions");
        let mut settings = town::settings::Settings::default();
        settings.daemon.idle_reap_after_secs = IDLE_SECS.unsigned_abs();
        let deacon = Deacon::new(
            town.clone(),
            open("deacon"),
            runtimes(&state),
            settings,
            Box::new(TestClock(clock.clone())),
        )
        .with_kill_grace(Duration::from_secs(2))
        .with_cost_homes(town::costs::locate::Homes::new(
            None,
            Some(codex_home(env)),
            Some(env.home().to_owned()),
        ));
        Self {
            env,
            _fx: fx,
            store: open("test"),
            town,
            clock,
            deacon,
            sessions: SubprocessRuntime::new(&state).with_kill_grace(Duration::from_secs(2)),
            strays: Vec::new(),
        }
    }

    fn advance(&self, secs: i64) {
        self.clock.fetch_add(secs, Ordering::SeqCst);
    }

    /// Steps the deacon once, then moves the clock past every interval so the next step runs
    /// every duty again.
    fn step(&mut self) -> Next {
        let next = self.deacon.step().expect("step");
        self.advance(3601);
        next
    }

    /// The environment `gt sling` gives polecat `name`'s session of `generation`.
    fn agent_env(&self, name: &str, generation: i64) -> Vec<(String, String)> {
        vec![
            (
                "PATH".to_owned(),
                host::env::var("PATH").unwrap_or_default(),
            ),
            (
                "GT_TOWN_ROOT".to_owned(),
                self.town.root().display().to_string(),
            ),
            ("GT_ROLE".to_owned(), format!("{RIG}/polecats/{name}")),
            ("GT_SESSION".to_owned(), session(name)),
            ("GT_GENERATION".to_owned(), generation.to_string()),
        ]
    }

    /// Polecat `name` in `state` (holding `bead`), whose session runs `script` with the agent
    /// environment. Returns the session's pid.
    fn polecat(&mut self, name: &str, state: &str, bead: &str, script: &str) -> u32 {
        let row = self
            .store
            .upsert_polecat(
                RIG,
                name,
                &PolecatUpdate {
                    bead_id: Some(bead.into()),
                    session: Some(session(name)),
                    runtime: Some("subprocess".into()),
                    new_generation: true,
                    ..Default::default()
                },
            )
            .unwrap();
        // Through the named transitions, as sling, done and the witness move a polecat.
        match state {
            "spawning" => {}
            "working" => drop(self.store.mark_polecat_working(RIG, name).unwrap()),
            "stuck" => {
                self.store.mark_polecat_working(RIG, name).unwrap();
                self.store.mark_polecat_stuck(RIG, name).unwrap();
            }
            "idle" => {
                self.store.finish_polecat(RIG, name).unwrap();
                // Idle but holding a bead: what the refinery's send-back leaves.
                if !bead.is_empty() {
                    self.store
                        .upsert_polecat(
                            RIG,
                            name,
                            &PolecatUpdate {
                                bead_id: Some(bead.into()),
                                ..Default::default()
                            },
                        )
                        .unwrap();
                }
            }
            other => panic!("no way to put a polecat in state {other}"),
        }
        let spec = SessionSpec {
            name: session(name),
            cwd: self.env.root().to_owned(),
            env: self.agent_env(name, row.generation),
            argv: ["sh", "-c", script].map(str::to_owned).to_vec(),
            readiness: town::agents::Readiness::Delay { ms: 0 },
            process_names: Vec::new(),
        };
        self.sessions.start(&spec).unwrap().pid
    }

    fn alive(&self, name: &str) -> bool {
        self.sessions.is_alive(&session(name), &[]).unwrap()
    }

    /// A process outside any session running `script` with `env` (plus `PATH`).
    fn stray(&mut self, script: &str, env: &[(String, String)]) -> u32 {
        let mut all = vec![(
            "PATH".to_owned(),
            host::env::var("PATH").unwrap_or_default(),
        )];
        all.extend(env.iter().cloned());
        let pid = host::spawn::spawn_detached(
            "sh",
            &["-c".to_owned(), script.to_owned()],
            &all,
            self.env.root(),
            &self.env.root().join("stray.log"),
        )
        .unwrap();
        wait_until(T, || {
            host::spawn::process_name(pid).as_deref() == Some("sleep")
        })
        .unwrap();
        self.strays.push(pid);
        pid
    }

    fn bare(&self) -> PathBuf {
        RigPaths::new(&self.town, RIG).bare_repo()
    }

    fn git(&self, args: &[&str]) -> String {
        testkit::git::run(self.env, self.bare(), args)
    }

    fn branches(&self) -> Vec<String> {
        self.git(&[
            "for-each-ref",
            "--format=%(refname:short)",
            "refs/heads/polecat/",
        ])
        .lines()
        .map(str::to_owned)
        .collect()
    }
}

impl Drop for Scenario<'_> {
    fn drop(&mut self) {
        for name in ["nux", "slit", "toast", "max"] {
            let _ = self.sessions.stop(&session(name));
        }
        for &pid in &self.strays {
            let _ = host::spawn::kill_group(pid, Duration::from_secs(1));
        }
        // What `gt down` does last: no agent process of the town is left behind.
        let _ = host::procs::kill_all(
            &town_agent_processes(self.town.root()),
            Duration::from_secs(1),
        );
    }
}

/// The `sleep`s among the town's agent processes of session `session`.
fn sleeps_of(town_root: &Path, session: &str) -> Vec<u32> {
    town_agent_processes(town_root)
        .into_iter()
        .filter(|p| p.session.as_deref() == Some(session) && p.comm == "sleep")
        .map(|p| p.pid)
        .collect()
}

/// Where the deacon looks for Codex's rollouts.
fn codex_home(env: &TestEnv) -> PathBuf {
    env.root().join("codex-home")
}

fn session(name: &str) -> String {
    format!("ap-{name}")
}

#[test]
fn an_idle_session_is_reaped_after_the_threshold_and_a_busy_one_never() {
    let env = TestEnv::new();
    let mut s = Scenario::new(&env);
    s.polecat("nux", "idle", "", "exec sleep 300");
    s.polecat("slit", "working", "ap-1", "exec sleep 300");
    s.polecat("toast", "stuck", "ap-2", "exec sleep 300");
    // Idle, yet its row holds a bead: not ours to judge.
    s.polecat("max", "idle", "ap-3", "exec sleep 300");

    s.advance(IDLE_SECS);
    s.deacon.step().unwrap();
    assert!(s.alive("nux"), "not before the threshold");

    s.advance(3600);
    s.deacon.step().unwrap();
    wait_until(T, || !s.alive("nux")).unwrap();
    let row = s.store.polecat(RIG, "nux").unwrap().unwrap();
    assert_eq!(row.state, "idle", "the row stays");
    for name in ["slit", "toast", "max"] {
        assert!(s.alive(name), "{name}");
    }

    s.advance(100 * 3600);
    s.deacon.step().unwrap();
    for name in ["slit", "toast", "max"] {
        assert!(s.alive(name), "{name}, much later");
    }
}

#[test]
fn a_codex_polecat_s_transcript_is_recorded_before_its_idle_session_is_reaped() {
    let env = TestEnv::new();
    let mut s = Scenario::new(&env);
    // Codex wrote the polecat's last turn when the turn ended, after its `gt done`.
    let codex = codex_home(&env);
    let worktree = town::work::identity::PolecatId::new(RIG, "nux")
        .unwrap()
        .worktree(&s.town);
    let day = codex.join("sessions/2026/12/06");
    std::fs::create_dir_all(&day).unwrap();
    let id = "01a24a0e-667c-7f93-b898-77cc97d5d419";
    let rollout = [
        serde_json::json!({"timestamp": "2026-12-06T06:33:07.000Z", "type": "session_meta",
            "payload": {"id": id, "cwd": worktree, "originator": "codex-tui", "cli_version": "0.169.0"}}),
        serde_json::json!({"timestamp": "2026-12-06T06:33:08.000Z", "type": "turn_context",
            "payload": {"cwd": worktree, "model": "gpt-5.1-codex-mini"}}),
        serde_json::json!({"timestamp": "2026-12-06T06:33:09.000Z", "type": "event_msg",
            "payload": {"type": "token_count", "info": {"total_token_usage": {"input_tokens": 92492,
            "cached_input_tokens": 0, "output_tokens": 307, "reasoning_output_tokens": 0,
            "total_tokens": 92799}}}}),
    ];
    let lines: String = rollout.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(
        day.join(format!("rollout-2026-12-06T06-33-07-{id}.jsonl")),
        lines,
    )
    .unwrap();
    s.polecat("nux", "idle", "", "exec sleep 300");
    s.store
        .upsert_polecat(
            RIG,
            "nux",
            &PolecatUpdate {
                agent: Some("codex".into()),
                ..Default::default()
            },
        )
        .unwrap();

    s.advance(IDLE_SECS + 3600);
    s.deacon.step().unwrap();
    wait_until(T, || !s.alive("nux")).unwrap();
    let costs = s.store.session_costs(None).unwrap();
    assert_eq!(costs.len(), 1, "{costs:?}");
    let row = &costs[0];
    assert_eq!(
        (
            row.session_id.as_str(),
            row.address.as_str(),
            row.model.as_str()
        ),
        (id, "app/polecats/nux", "gpt-5.1-codex-mini")
    );
    assert_eq!((row.tokens.input, row.tokens.output), (92492, 307));
}

#[test]
fn orphaned_agent_processes_are_killed_and_live_sessions_are_not() {
    let env = TestEnv::new();
    let mut s = Scenario::new(&env);
    // A live session that has detached a tool of its own: both stay.
    let live = s.polecat(
        "nux",
        "working",
        "ap-1",
        "(setsid sleep 300 &); exec sleep 300",
    );
    // A session that died and left a detached tool behind (a double fork escapes its tree).
    s.polecat(
        "slit",
        "working",
        "ap-2",
        "(setsid sleep 300 &); exec sleep 300",
    );
    let root = s.town.root().to_owned();
    let by_session = |name: &str| sleeps_of(&root, &session(name));
    let nux = testkit::wait_for(T, || Some(by_session("nux")).filter(|p| p.len() == 2)).unwrap();
    assert!(nux.contains(&live));
    let slit = testkit::wait_for(T, || Some(by_session("slit")).filter(|p| p.len() == 2)).unwrap();
    s.sessions.stop(&session("slit")).unwrap();
    let escaped =
        testkit::wait_for(T, || Some(by_session("slit")).filter(|p| p.len() == 1)).unwrap()[0];
    assert!(slit.contains(&escaped));

    // A polecat that no longer exists, reached through a non-canonical town path.
    let mut ghost = s.agent_env("ghost", 1);
    ghost[1].1 = format!("{}/../town/.", s.town.root().display());
    let ghost = s.stray("exec sleep 300", &ghost);
    // The town's root without a session (a person's own shell), and another town's agent.
    let mut shell = s.agent_env("ghost", 1);
    shell.retain(|(k, _)| k != "GT_SESSION");
    let shell = s.stray("exec sleep 300", &shell);
    let mut other = s.agent_env("ghost", 1);
    other[1].1 = env.root().display().to_string();
    let other = s.stray("exec sleep 300", &other);

    // A tool left by an earlier generation of a polecat whose session now runs again.
    let toast = s.polecat("toast", "working", "ap-3", "exec sleep 300");
    let generation = s.store.polecat(RIG, "toast").unwrap().unwrap().generation;
    let stale = s.agent_env("toast", generation - 1);
    let stale = s.stray("exec sleep 300", &stale);

    let found: Vec<u32> = town_agent_processes(s.town.root())
        .iter()
        .map(|p| p.pid)
        .collect();
    assert!(
        found.contains(&ghost) && found.contains(&escaped),
        "{found:?}"
    );
    assert!(
        !found.contains(&shell) && !found.contains(&other),
        "{found:?}"
    );

    // The first sweep only notes the suspects; the next one kills them.
    let orphans = [ghost, escaped, stale];
    s.step();
    assert!(orphans.iter().all(|&p| host::spawn::is_alive(p)));
    s.step();
    wait_until(T, || !orphans.iter().any(|&p| host::spawn::is_alive(p))).unwrap();
    for pid in nux.into_iter().chain([toast, shell, other]) {
        assert!(host::spawn::is_alive(pid), "{pid} must survive");
    }
    assert!(s.alive("nux") && s.alive("toast"));
}

#[test]
fn merged_leftover_branches_are_pruned_and_unmerged_ones_kept() {
    let env = TestEnv::new();
    let mut s = Scenario::new(&env);
    let main = s.git(&["rev-parse", "refs/remotes/origin/main"]);
    let main = main.trim();
    s.git(&["branch", "polecat/nux/ap-1@merged", main]);
    s.git(&["branch", "polecat/nux/ap-2@older", &format!("{main}~1")]);
    let tree = format!("{main}^{{tree}}");
    let unmerged = s.git(&["commit-tree", &tree, "-p", main, "-m", "work not landed"]);
    s.git(&["branch", "polecat/slit/ap-3@work", unmerged.trim()]);

    s.step();
    assert_eq!(s.branches(), ["polecat/slit/ap-3@work"]);
}

#[test]
fn old_wisps_are_collected() {
    let env = TestEnv::new();
    let mut s = Scenario::new(&env);
    let wisp = s
        .store
        .create(NewIssue {
            title: "heartbeat".into(),
            ephemeral: true,
            wisp_type: "heartbeat".into(),
            ..Default::default()
        })
        .unwrap()
        .id;
    s.step();
    assert!(s.store.show(&wisp).is_ok(), "young wisps stay");
    s.advance(7 * 3600);
    s.step();
    assert!(s.store.show(&wisp).is_err(), "a heartbeat lives six hours");
}

/// Protocol mail goes once no recipient holds it in an inbox, or after `daemon.mail_ttl_secs`
/// (a day) unread; mail between people and agents stays, archived or not.
#[test]
fn protocol_mail_is_collected_and_human_mail_kept() {
    use town::address::Address;
    use town::mail::{Outgoing, send};
    let env = TestEnv::new();
    let mut s = Scenario::new(&env);
    let mail = |s: &mut Scenario<'_>, subject: &str| {
        send(
            &s.town,
            &mut s.store,
            &Address::Witness { rig: RIG.into() },
            &Outgoing {
                to: vec![Address::Mayor],
                cc: vec![],
                subject: subject.into(),
                body: String::new(),
                priority: 2,
                msg_type: beads::MessageType::Notification,
                reply_to: None,
                ephemeral: None,
            },
        )
        .expect("send")
        .message
        .id
    };
    let merged = mail(&mut s, "MERGED nux");
    let done = mail(&mut s, "POLECAT_DONE toast");
    let human = mail(&mut s, "How is the rig doing?");
    let human_archived = mail(&mut s, "Archive me but keep me");
    s.store
        .mail_set_state(
            "mayor/",
            &[done, human_archived],
            beads::MailState::Archived,
        )
        .unwrap();
    let held = |s: &Scenario<'_>, id: i64| s.store.mail_item("mayor/", id).is_ok();
    s.step();
    assert!(
        held(&s, merged),
        "unread protocol mail younger than a day stays"
    );
    assert!(
        !held(&s, done),
        "archived protocol mail goes at the next pass"
    );
    s.advance(25 * 3600);
    s.step();
    assert!(!held(&s, merged), "protocol mail lives a day");
    assert!(
        held(&s, human) && held(&s, human_archived),
        "human mail is kept"
    );
}

#[test]
fn nothing_happens_while_the_shutdown_sentinel_exists() {
    let env = TestEnv::new();
    let mut s = Scenario::new(&env);
    s.polecat("nux", "idle", "", "exec sleep 300");
    let ghost = s.agent_env("ghost", 1);
    let ghost = s.stray("exec sleep 300", &ghost);
    let main = s.git(&["rev-parse", "refs/remotes/origin/main"]);
    s.git(&["branch", "polecat/nux/ap-1@merged", main.trim()]);

    let sentinel = s.town.shutdown_sentinel();
    assert_eq!(sentinel, s.town.root().join("daemon/shutdown"));
    std::fs::create_dir_all(s.town.daemon_dir()).unwrap();
    std::fs::write(&sentinel, "").unwrap();
    s.advance(IDLE_SECS * 10);
    for _ in 0..3 {
        assert_eq!(s.step(), Next::Idle);
    }
    assert!(s.alive("nux"));
    assert!(host::spawn::is_alive(ghost));
    assert_eq!(s.branches(), ["polecat/nux/ap-1@merged"]);

    // Once it is gone, the deacon catches up (the orphan after two sweeps).
    std::fs::remove_file(&sentinel).unwrap();
    assert!(matches!(s.step(), Next::After(_)));
    s.step();
    wait_until(T, || !s.alive("nux") && !host::spawn::is_alive(ghost)).unwrap();
    assert!(s.branches().is_empty());
}

#[test]
fn a_step_asks_for_the_next_due_duty() {
    let env = TestEnv::new();
    let s = Scenario::new(&env);
    let intervals = Intervals {
        reap_idle: Duration::from_secs(30),
        orphans: Duration::from_secs(45),
        branches: Duration::from_secs(600),
        wisps: Duration::from_secs(900),
        escalations: Duration::from_secs(1200),
    };
    let state = s.town.runtime_dir().join("sessions");
    let clock = s.clock.clone();
    let mut deacon = Deacon::new(
        s.town.clone(),
        Store::open(
            &s.town.beads_dir(),
            beads::Context {
                actor: "deacon".into(),
                clock: Box::new(TestClock(clock.clone())),
            },
        )
        .unwrap(),
        runtimes(&state),
        town::settings::Settings::default(),
        Box::new(TestClock(clock)),
    )
    .with_intervals(intervals);
    assert_eq!(deacon.step().unwrap(), Next::After(Duration::from_secs(30)));
    s.advance(10);
    assert_eq!(deacon.step().unwrap(), Next::After(Duration::from_secs(20)));
    s.advance(20);
    // The idle reap ran again; orphans are due 15 s later.
    assert_eq!(deacon.step().unwrap(), Next::After(Duration::from_secs(15)));
}

#[test]
fn unacknowledged_escalations_are_bumped_once_per_threshold_up_to_the_max_and_ack_stops_it() {
    use town::escalation::{self, NewEscalation, Severity};
    let env = TestEnv::new();
    let mut s = Scenario::new(&env);
    std::fs::create_dir_all(s.town.root().join("settings")).unwrap();
    std::fs::write(
        escalation::config::path(&s.town),
        r#"{"routes":{"medium":["bead","log"],"high":["bead","log"],"critical":["bead","log"]},
            "stale_threshold":"2h","max_reescalations":2}"#,
    )
    .unwrap();
    let raise = |store: &mut Store, title: &str| {
        escalation::record(
            store,
            &NewEscalation {
                title: title.into(),
                severity: Some(Severity::Medium),
                from: "overseer".into(),
                ..Default::default()
            },
        )
        .unwrap()
        .id
    };
    let ignored = raise(&mut s.store, "nobody answers");
    let answered = raise(&mut s.store, "someone answers");
    let severity = |s: &Scenario<'_>, id: &str| {
        let e = escalation::show(&s.store, id).unwrap().escalation;
        (e.severity, e.reescalations)
    };

    // Within the threshold: nothing.
    s.advance(7199);
    assert!(s.deacon.reescalate().unwrap().is_empty());
    escalation::ack(&s.town, &mut s.store, &answered, "overseer").unwrap();
    // Past it: the unacknowledged one goes up one step, once.
    s.advance(1);
    assert_eq!(
        s.deacon.reescalate().unwrap(),
        std::slice::from_ref(&ignored)
    );
    assert!(s.deacon.reescalate().unwrap().is_empty());
    assert_eq!(severity(&s, &ignored), (Severity::High, 1));
    assert_eq!(severity(&s, &answered), (Severity::Medium, 0));
    // Another threshold: CRITICAL; then the maximum holds it there.
    s.advance(7200);
    assert_eq!(
        s.deacon.reescalate().unwrap(),
        std::slice::from_ref(&ignored)
    );
    assert_eq!(severity(&s, &ignored), (Severity::Critical, 2));
    s.advance(7200 * 5);
    assert!(s.deacon.reescalate().unwrap().is_empty());
    assert_eq!(severity(&s, &ignored), (Severity::Critical, 2));
    let shown = escalation::show(&s.store, &ignored).unwrap();
    let labels = s.store.labels(&ignored).unwrap();
    for label in [
        "reescalated:true",
        "original_severity:MEDIUM",
        "acknowledged:false",
    ] {
        assert!(labels.iter().any(|l| l == label), "{label} in {labels:?}");
    }
    assert_eq!(
        shown
            .notes
            .iter()
            .filter(|n| n.text.starts_with("Re-escalated"))
            .count(),
        2
    );
    // Each re-escalation went along the route again.
    let log = std::fs::read_to_string(escalation::routes::log_path(&s.town)).unwrap();
    assert_eq!(log.matches("re-escalated").count(), 2, "{log}");

    // A bad settings file stops the pass rather than re-escalating by the defaults.
    let other = raise(&mut s.store, "later");
    std::fs::write(
        escalation::config::path(&s.town),
        r#"{"stale_threshold":"soon"}"#,
    )
    .unwrap();
    s.advance(7200 * 5);
    assert!(s.deacon.reescalate().unwrap().is_empty());
    assert_eq!(severity(&s, &other), (Severity::Medium, 0));
}
