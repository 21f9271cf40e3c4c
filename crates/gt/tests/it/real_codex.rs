//! The real Codex CLI (`@openai/codex`, pinned by `scripts/install-agent-clis`) drives the
//! whole loop against a loopback OpenAI Responses endpoint ([`ModelServer::openai`]): `gt sling`
//! → Codex's own sign-in and trust screens answered by readiness → primed by its first prompt
//! (`gt prime`) → an edit through `apply_patch` and a commit → a `gt nudge` starts a turn → the
//! agent is killed and the daemon's witness restarts it with `codex resume --last`, which sends
//! the earlier conversation → `gt done` → the refinery lands it → `gt costs` shows the tokens
//! of Codex's own rollout.
//!
//! Skipped without the CLI (see `testkit::require_agent_cli`). The test's home is the
//! `TestEnv`'s, never the real `~/.codex`. Pre-seeded in `~/.codex/config.toml`, because a
//! user writes it once and no screen asks for it: the endpoint (`openai_base_url`; Codex 0.169
//! ignores the `OPENAI_BASE_URL` variable), the model, and analytics off; and `version.json`,
//! Codex's record of a newer release, so its update screen shows too. Everything Codex asks at
//! start (update, sign-in with the environment's key, trust) is answered by `gt`'s readiness.
//! Whatever Codex still fetches from the internet (plugin sync, announcement tips, an update
//! check) goes to a refusing loopback proxy.

use std::path::Path;

use testkit::{ModelServer, Scenario, Turn, wait_until};

use super::daemon::Factory;
use super::real_cli::{
    assert_costs_recorded, assert_landed, kill_and_wait_for_resume, nudge_mid_session,
    polecat_name, refused_sling, refusing_proxy, tool_outputs, wait_for_end_of_turn,
};
use super::work_loop::{TIMEOUT, Town, ok, stdout};

/// Codex's model here: one `gt costs` has a price for, and one Codex 0.169 gives plain
/// function tools (`exec_command`), not its JavaScript code mode.
const MODEL: &str = "gpt-5.1-codex-mini";

/// Codex's `config.toml` pointing at `server`: what a user writes once.
fn codex_config(server: &ModelServer) -> String {
    format!(
        "model = \"{MODEL}\"\n\
         openai_base_url = \"{}/v1\"\n\
         \n\
         [analytics]\n\
         enabled = false\n",
        server.url()
    )
}

/// Makes `town` run Codex from `cli`'s directory with `key` (if any) as its API key, its
/// internet traffic sent to a loopback port nothing listens on.
fn use_codex(town: &Town, cli: &Path, key: Option<&str>) {
    town.env
        .prepend_path(cli.parent().expect("the CLI has a directory"));
    if let Some(key) = key {
        town.env.set("OPENAI_API_KEY", key);
    }
    let refused = refusing_proxy();
    ok(town.gt(&[
        "config",
        "agent",
        "set",
        "codex",
        "--env",
        &format!("HTTPS_PROXY={refused}"),
        "--env",
        &format!("HTTP_PROXY={refused}"),
        "--env",
        "NO_PROXY=127.0.0.1,localhost",
    ]));
    ok(town.gt(&["config", "set", "default_agent", "codex"]));
}

/// Writes Codex's `config.toml`, and its record of a newer release found by a check a moment
/// ago (`version.json`): Codex shows its "Update available" screen at start without looking
/// again, as it does the day a release is out.
fn write_codex_config(town: &Town, text: &str) {
    let dir = town.env.home().join(".codex");
    std::fs::create_dir_all(&dir).expect("create ~/.codex");
    std::fs::write(dir.join("config.toml"), text).expect("write ~/.codex/config.toml");
    // Codex compares it with the real clock, not the town's test clock.
    let now = jiff::Timestamp::try_from(std::time::SystemTime::now()).expect("a time after 1970");
    let version = serde_json::json!({
        "latest_version": "99.0.0",
        "last_checked_at": now.to_string(),
        "dismissed_version": null,
    });
    std::fs::write(dir.join("version.json"), version.to_string())
        .expect("write ~/.codex/version.json");
}

#[test]
fn codex_runs_the_loop_from_sling_to_landing_through_a_nudge_and_a_restart() {
    let Some(cli) = testkit::require_agent_cli("codex") else {
        return;
    };
    let Some(f) = Factory::new() else { return };
    let scenario = Scenario::new()
        // The first prompt (typed by sling): prime, edit, commit.
        .turn(
            Turn::new()
                .shell("gt prime")
                .write("hello.txt", "hello from codex")
                .shell("git add hello.txt && git commit -q -m 'add a greeting'")
                .end("Committed the greeting."),
        )
        // The nudge.
        .turn(Turn::new().end("Yes: the greeting is committed."))
        // The prompt the restarted agent gets: finish.
        .turn(Turn::new().shell("gt done").end("Submitted."))
        .fallback("Nothing more to do.");
    let server = ModelServer::openai(scenario);
    write_codex_config(&f.town, &codex_config(&server));
    use_codex(&f.town, &cli, Some("sk-loopback-test"));
    f.up(&[]);

    let bead = f
        .town
        .create("add a greeting", "Write hello.txt and commit it.");
    let slung = f.town.sling(&[&bead, "gastown"]);
    let name = polecat_name(&slung);
    // Readiness signed Codex in with the key from the environment, which Codex saved.
    let auth =
        std::fs::read_to_string(f.town.env.home().join(".codex/auth.json")).unwrap_or_default();
    assert!(auth.contains("apikey"), "{auth}");
    let debug = || format!("{}\n--- model ---\n{}", f.town.panes(), server.describe());

    // Primed, edited and committed: the first turn ended with its closing words.
    wait_for_end_of_turn(&server, 0)
        .unwrap_or_else(|e| panic!("the first turn never ended: {e}\n{}", debug()));
    let first = &server.conversations()[0];
    let prompt = first
        .conversation()
        .unwrap()
        .prompts()
        .next()
        .unwrap()
        .to_owned();
    assert!(
        prompt.contains("[GAS TOWN]") && prompt.contains(&bead),
        "the first prompt is sling's beacon: {prompt}"
    );
    let events = stdout(&ok(f.town.gt(&["events", "--json"])));
    assert!(
        events.contains(&format!("gastown/polecats/{name} primed (prompt)")),
        "{events}\n{}",
        tool_outputs(&server)
    );

    // A nudge mid-session starts a new turn that carries its text.
    wait_until(TIMEOUT, || {
        f.town.panes().contains("Ask Codex to do anything")
    })
    .unwrap_or_else(|e| panic!("never idle after the first turn: {e}\n{}", debug()));
    nudge_mid_session(&f, &server, &name, "Yes: the greeting is committed", &debug);

    // Killed; the witness restarts it, and `codex resume --last` sends what came before.
    kill_and_wait_for_resume(&f, &server, &["codex", "node"], &debug);
    // The daemon's witness restarted it, past Codex's update screen.
    let log = f.log();
    assert!(
        log.contains("witness acts") && log.contains("dialog=update notice"),
        "{log}"
    );

    // `gt done` in the resumed session; the refinery lands the greeting.
    assert_landed(&f, &server, &bead, "hello from codex");

    // `gt done` recorded Codex's rollout as far as Codex had written it: Codex writes a turn's
    // items when the turn ends, so the turns before the one that ran `gt done` (the deacon
    // records the rest before it reaps the idle session) — less what the SIGKILL cut off: the
    // kill comes as soon as the nudge's answer shows, and Codex may not have written that
    // response's usage yet (seen once in CI). One session, counted once: the witness recorded
    // it at the restart, `gt done` read it again.
    assert_costs_recorded(&f, &server, 0, MODEL, &|| tool_outputs(&server));
}

#[test]
fn codex_is_refused_with_a_clear_message_without_its_binary_or_its_key() {
    let Some(cli) = testkit::require_agent_cli("codex") else {
        return;
    };
    let Some(town) = Town::new() else { return };
    let server = ModelServer::openai(Scenario::new());
    write_codex_config(&town, &codex_config(&server));
    ok(town.gt(&["config", "set", "default_agent", "codex"]));

    // No `codex` on PATH.
    let bead = town.create("needs codex", "anything");
    let err = refused_sling(&town, &bead);
    assert!(err.contains("codex"), "{err}");
    assert_eq!(town.status(&bead), "open", "{err}");

    // Codex, but no key: its API key screen has nothing to fill in.
    use_codex(&town, &cli, None);
    let err = refused_sling(&town, &bead);
    assert!(
        err.contains("OPENAI_API_KEY") && err.contains("codex login"),
        "{err}"
    );
    assert!(server.conversations().is_empty(), "{}", server.describe());
}
