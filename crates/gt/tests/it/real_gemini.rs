//! The real Gemini CLI (`@google/gemini-cli`, pinned by `scripts/install-agent-clis`) drives
//! the whole loop against a loopback Gemini API endpoint ([`ModelServer::gemini`]): `gt sling`
//! → Gemini's own sign-in walk answered by readiness → primed by its
//! `SessionStart` hook (`gt prime --hook`), then given sling's first prompt → an edit through
//! `write_file` and a commit through `run_shell_command` → a `gt nudge` starts a turn → the
//! agent is killed and the daemon's witness restarts it with `--resume=latest`, which sends the
//! earlier conversation → `gt done` → the refinery lands it → `gt costs` shows the tokens of
//! Gemini's own session file.
//!
//! Skipped without the CLI (see `testkit::require_agent_cli`). The test's home is the
//! `TestEnv`'s, never the real `~/.gemini`. Pre-seeded in `~/.gemini/settings.json`, because a
//! user writes it once and no screen asks for it: the model (else Gemini routes each prompt
//! through a classifier model first) and usage statistics off. The endpoint is the preset's
//! `GOOGLE_GEMINI_BASE_URL`. Everything Gemini asks at start is answered by `gt`'s readiness:
//! its auth menu and its API key form, filled from `GEMINI_API_KEY`. Its folder-trust dialog
//! does not show: the preset trusts the town's worktrees (`GEMINI_CLI_TRUST_WORKSPACE`), since
//! Gemini 0.61 saves a trust choice made while it re-reads its settings without applying it
//! (readiness recognises the dialog all the same; see `runtime::tmux`'s tests). Whatever Gemini still fetches from the
//! internet (its update check, telemetry) goes to a refusing loopback proxy.

use std::path::Path;
use std::time::Duration;

use testkit::{ModelServer, Scenario, Turn, wait_until};

use super::daemon::Factory;
use super::real_cli::{
    assert_costs_recorded, assert_landed, kill_and_wait_for_resume, nudge_mid_session,
    polecat_name, refused_sling, refusing_proxy, tool_outputs, wait_for_end_of_turn,
};
use super::work_loop::{TIMEOUT, Town, ok, stdout};

/// Gemini's model here: one `gt costs` has a price for.
const MODEL: &str = "gemini-2.5-flash";
const KEY: &str = "AIza-loopback-test";

/// Gemini CLI's user settings: what a user writes once.
fn write_gemini_settings(town: &Town) {
    let dir = town.env.home().join(".gemini");
    std::fs::create_dir_all(&dir).expect("create ~/.gemini");
    let settings = serde_json::json!({
        "model": {"name": MODEL},
        "privacy": {"usageStatisticsEnabled": false},
    });
    std::fs::write(dir.join("settings.json"), settings.to_string())
        .expect("write ~/.gemini/settings.json");
}

/// Makes `town` run Gemini CLI from `cli`'s directory against `server`, with `key` (if any) as
/// its API key and its internet traffic sent to a loopback port nothing listens on.
fn use_gemini(town: &Town, cli: &Path, server: &ModelServer, key: Option<&str>) {
    town.env
        .prepend_path(cli.parent().expect("the CLI has a directory"));
    if let Some(key) = key {
        town.env.set("GEMINI_API_KEY", key);
    }
    let refused = refusing_proxy();
    let env = [
        format!("GOOGLE_GEMINI_BASE_URL={}", server.url()),
        format!("HTTPS_PROXY={refused}"),
        format!("HTTP_PROXY={refused}"),
        "NO_PROXY=127.0.0.1,localhost".to_owned(),
    ];
    let mut args = vec!["config", "agent", "set", "gemini"];
    for var in &env {
        args.extend(["--env", var]);
    }
    ok(town.gt(&args));
    ok(town.gt(&["config", "set", "default_agent", "gemini"]));
}

/// Gemini CLI's session files and the project each belongs to, for failure messages.
fn gemini_sessions(town: &Town) -> String {
    let tmp = town.env.home().join(".gemini/tmp");
    let mut out = String::new();
    for project in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
        let root =
            std::fs::read_to_string(project.path().join(".project_root")).unwrap_or_default();
        out.push_str(&format!("{} -> {root}\n", project.path().display()));
        for chat in std::fs::read_dir(project.path().join("chats"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let lines = std::fs::read_to_string(chat.path())
                .unwrap_or_default()
                .lines()
                .count();
            out.push_str(&format!("  {} ({lines} lines)\n", chat.path().display()));
        }
    }
    out
}

#[test]
fn gemini_runs_the_loop_from_sling_to_landing_through_a_nudge_and_a_restart() {
    let Some(cli) = testkit::require_agent_cli("gemini") else {
        return;
    };
    let Some(f) = Factory::new() else { return };
    let scenario = Scenario::new()
        // Sling's first prompt: edit, commit.
        .turn(
            Turn::new()
                .write("hello.txt", "hello from gemini")
                .shell("git add hello.txt && git commit -q -m 'add a greeting'")
                .end("Committed the greeting."),
        )
        // The nudge.
        .turn(Turn::new().end("Yes: the greeting is committed."))
        // The prompt the restarted agent gets: finish.
        .turn(Turn::new().shell("gt done").end("Submitted."))
        .fallback("Nothing more to do.");
    let server = ModelServer::gemini(scenario);
    write_gemini_settings(&f.town);
    use_gemini(&f.town, &cli, &server, Some(KEY));
    f.up(&[]);

    let bead = f
        .town
        .create("add a greeting", "Write hello.txt and commit it.");
    let slung = f.town.sling(&[&bead, "gastown"]);
    let name = polecat_name(&slung);
    // Readiness chose the API key, which Gemini saved as its method.
    let home = f.town.env.home().join(".gemini");
    let settings = std::fs::read_to_string(home.join("settings.json")).unwrap_or_default();
    assert!(settings.contains("gemini-api-key"), "{settings}");
    let debug = || format!("{}\n--- model ---\n{}", f.town.panes(), server.describe());

    // Primed by its hook, then edited and committed: the first turn ended with its closing words.
    wait_for_end_of_turn(&server, 0)
        .unwrap_or_else(|e| panic!("the first turn never ended: {e}\n{}", debug()));
    let first = server.conversations()[0].conversation().unwrap().clone();
    let prompt = first.prompts().next().unwrap().to_owned();
    assert!(
        prompt.contains("[GAS TOWN]") && prompt.contains(&bead),
        "the first prompt is sling's beacon: {prompt}"
    );
    assert!(
        first.user_text().contains("<hook_context>"),
        "the SessionStart hook's prime reached the model: {:#?}",
        first.messages
    );
    let events = stdout(&ok(f.town.gt(&["events", "--json"])));
    assert!(
        events.contains(&format!("gastown/polecats/{name} primed (startup)")),
        "{events}\n{}",
        tool_outputs(&server)
    );

    // A nudge mid-session starts a new turn that carries its text.
    wait_until(TIMEOUT, || {
        f.town.panes().contains("Committed the greeting")
    })
    .unwrap_or_else(|e| panic!("never idle after the first turn: {e}\n{}", debug()));
    nudge_mid_session(&f, &server, &name, "Yes: the greeting is committed", &debug);

    // Killed; the witness restarts it, and `--resume=latest` sends what came before.
    kill_and_wait_for_resume(&f, &server, &["gemini", "node"], &debug);
    let log = f.log();
    assert!(log.contains("witness acts"), "{log}");

    // `gt done` in the resumed session; the refinery lands the greeting.
    assert_landed(&f, &server, &bead, "hello from gemini");

    // Gemini's `AfterAgent` hook recorded its session file at each turn's end, and `gt done`
    // and the witness read it too: every response the endpoint gave before `gt done` ran is in
    // it, in the first session and in the resumed one (Gemini appends to the same file), once,
    // and nothing the endpoint did not give (the log is read after `gt costs`).
    assert_costs_recorded(&f, &server, 1, MODEL, &|| {
        format!(
            "{}\n--- Gemini's sessions ---\n{}\n--- daemon ---\n{}",
            server.describe(),
            gemini_sessions(&f.town),
            f.log()
        )
    });
}

#[test]
fn gemini_is_refused_with_a_clear_message_without_its_binary_or_its_key() {
    let Some(cli) = testkit::require_agent_cli("gemini") else {
        return;
    };
    let Some(town) = Town::new() else { return };
    let server = ModelServer::gemini(Scenario::new());
    write_gemini_settings(&town);
    ok(town.gt(&["config", "set", "default_agent", "gemini"]));

    // No `gemini` on PATH.
    let bead = town.create("needs gemini", "anything");
    let err = refused_sling(&town, &bead);
    assert!(err.contains("gemini"), "{err}");
    assert_eq!(town.status(&bead), "open", "{err}");

    // Gemini, but no key: refused before anything is made.
    use_gemini(&town, &cli, &server, None);
    let err = refused_sling(&town, &bead);
    assert!(err.contains("GEMINI_API_KEY"), "{err}");
    assert_eq!(town.status(&bead), "open", "{err}");

    // A key Gemini does not sign in with by itself (Vertex AI's): its auth menu has no key to
    // choose, and readiness says so at once, not after the ready timeout.
    town.env.set("GOOGLE_API_KEY", KEY);
    let started = std::time::Instant::now();
    let err = refused_sling(&town, &bead);
    assert!(
        err.contains("GEMINI_API_KEY") && err.contains("How would you like to authenticate"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "refused at once, not after the ready timeout: {:?}",
        started.elapsed()
    );
    assert!(server.conversations().is_empty(), "{}", server.describe());
}
