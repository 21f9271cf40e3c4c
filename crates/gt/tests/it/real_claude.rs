//! The real Claude Code (`@anthropic-ai/claude-code`, pinned by `scripts/install-agent-clis`)
//! drives the whole loop against a loopback Anthropic Messages endpoint
//! ([`ModelServer::anthropic`]): `gt sling` → Claude's own startup screens (folder trust, the
//! API key found in its environment, the bypass-permissions warning) answered by readiness from
//! the preset's declared dialogs → primed by its `SessionStart` hook → an edit and a commit
//! through its `Write` and `Bash` tools → a `gt nudge` starts a turn → the agent is killed and
//! the daemon's witness restarts it with `claude --continue`, which sends the earlier
//! conversation → `gt done` → the refinery lands it → `gt costs` shows the tokens of Claude's
//! own session transcript.
//!
//! Skipped without the CLI (see `testkit::require_agent_cli`). Claude's config directory is
//! `CLAUDE_CONFIG_DIR` inside the `TestEnv`'s home, never the real `~/.claude`. Pre-seeded
//! there, as a user's is after Claude's first run: `hasCompletedOnboarding` (the onboarding
//! checks `api.anthropic.com` itself, which a loopback test cannot answer). The endpoint and
//! key are the documented `ANTHROPIC_BASE_URL` and `ANTHROPIC_API_KEY`; everything Claude still
//! fetches from the internet (feature flags, telemetry, update checks) goes to a refusing
//! loopback proxy.

use std::path::{Path, PathBuf};

use testkit::{ModelServer, Scenario, Turn, wait_until};

use super::daemon::Factory;
use super::real_cli::{
    assert_costs_recorded, assert_landed, kill_and_wait_for_resume, nudge_mid_session,
    polecat_name, refused_sling, refusing_proxy, tool_outputs, wait_for_end_of_turn,
};
use super::work_loop::{TIMEOUT, Town, ok, stdout};

/// Claude's model here: one `gt costs` has a price for.
const MODEL: &str = "claude-sonnet-4-5";
const KEY: &str = "sk-ant-loopback-test-0123456789abcdef";

/// Claude Code's config directory inside the test's home, seeded as after a first run.
fn claude_config_dir(town: &Town) -> PathBuf {
    let dir = town.env.home().join(".claude-loopback");
    std::fs::create_dir_all(&dir).expect("create the Claude config directory");
    let state = serde_json::json!({ "hasCompletedOnboarding": true });
    std::fs::write(dir.join(".claude.json"), state.to_string()).expect("write .claude.json");
    dir
}

/// Makes `town` run Claude from `cli`'s directory against `server`, with `key` (if any) as its
/// API key, its internet traffic sent to a loopback port nothing listens on.
fn use_claude(town: &Town, cli: &Path, server: &ModelServer, key: Option<&str>) {
    town.env
        .prepend_path(cli.parent().expect("the CLI has a directory"));
    let config = claude_config_dir(town);
    town.env
        .set("CLAUDE_CONFIG_DIR", config.to_str().expect("a UTF-8 path"));
    town.env.set("ANTHROPIC_BASE_URL", server.url());
    if let Some(key) = key {
        town.env.set("ANTHROPIC_API_KEY", key);
    }
    let refused = refusing_proxy();
    ok(town.gt(&[
        "config",
        "agent",
        "set",
        "claude",
        "--env",
        &format!("ANTHROPIC_MODEL={MODEL}"),
        "--env",
        &format!("HTTPS_PROXY={refused}"),
        "--env",
        &format!("HTTP_PROXY={refused}"),
        "--env",
        "NO_PROXY=127.0.0.1,localhost",
    ]));
    ok(town.gt(&["config", "set", "default_agent", "claude"]));
}

#[test]
fn claude_runs_the_loop_from_sling_to_landing_through_a_nudge_and_a_restart() {
    let Some(cli) = testkit::require_agent_cli("claude") else {
        return;
    };
    let Some(f) = Factory::new() else { return };
    let scenario = Scenario::new()
        // The first prompt (sling's beacon, an argument): write, edit, commit.
        .turn(
            Turn::new()
                .write("hello.txt", "hello from claude")
                .edit("hello.txt", "from claude", "from claude code")
                .shell("git add hello.txt && git commit -q -m 'add a greeting'")
                .end("Committed the greeting."),
        )
        // The nudge.
        .turn(Turn::new().end("Yes: the greeting is committed."))
        // The prompt the restarted agent gets: finish.
        .turn(Turn::new().shell("gt done").end("Submitted."))
        .fallback("Nothing more to do.");
    let server = ModelServer::anthropic(scenario);
    use_claude(&f.town, &cli, &server, Some(KEY));
    f.up(&[]);

    let bead = f
        .town
        .create("add a greeting", "Write hello.txt and commit it.");
    let slung = f.town.sling(&[&bead, "gastown"]);
    let name = polecat_name(&slung);
    let debug = || format!("{}\n--- model ---\n{}", f.town.panes(), server.describe());

    // Primed by its hook, edited and committed: the first turn ended with its closing words.
    wait_for_end_of_turn(&server, 0)
        .unwrap_or_else(|e| panic!("the first turn never ended: {e}\n{}", debug()));
    let first = server.conversations()[0].conversation().unwrap().clone();
    let prompt = first.prompts().next().unwrap().to_owned();
    assert!(
        prompt.contains("[GAS TOWN]") && prompt.contains(&bead),
        "the first prompt is sling's beacon: {prompt}"
    );
    // Its `SessionStart` hook ran `gt prime`, whose work instructions (the bead's title; the
    // beacon has only its id) reached the model as context, not as a prompt.
    let primed = first.messages.iter().any(
        |m| matches!(m, testkit::model::Message::Context(text) if text.contains("add a greeting")),
    );
    assert!(primed, "no prime context: {:#?}", first.messages);
    let events = stdout(&ok(f.town.gt(&["events", "--json"])));
    assert!(
        events.contains(&format!("gastown/polecats/{name} primed (startup)")),
        "{events}\n{}",
        tool_outputs(&server)
    );
    // Readiness trusted the rig's repository (Claude keys a worktree's trust by the repository
    // it belongs to) and approved the key Claude found in its
    // environment, which Claude saved.
    let state = std::fs::read_to_string(f.town.env.home().join(".claude-loopback/.claude.json"))
        .unwrap_or_default();
    let state: serde_json::Value = serde_json::from_str(&state).unwrap_or_default();
    let approved = &state["customApiKeyResponses"]["approved"];
    assert_eq!(
        approved,
        &serde_json::json!([&KEY[KEY.len() - 20..]]),
        "{state:#}"
    );
    let trusted: Vec<&String> = state["projects"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, p)| p["hasTrustDialogAccepted"] == true)
        .map(|(dir, _)| dir)
        .collect();
    assert!(trusted.iter().any(|d| d.contains("/gastown/")), "{state:#}");

    // A nudge mid-session starts a new turn that carries its text.
    nudge_mid_session(&f, &server, &name, "Yes: the greeting is committed", &debug);
    // Claude writes its transcript a moment after it shows a turn: killed before, it would
    // resume without it.
    wait_until(TIMEOUT, || {
        transcripts(&f.town).contains("Yes: the greeting is committed")
    })
    .unwrap_or_else(|e| panic!("Claude never wrote the answer down: {e}\n{}", debug()));

    // Killed; the witness restarts it, and `claude --continue` sends what came before.
    kill_and_wait_for_resume(&f, &server, &["claude", "node"], &debug);
    assert!(f.log().contains("witness acts"), "{}", f.log());

    // `gt done` in the resumed session; the refinery lands the greeting.
    assert_landed(&f, &server, &bead, "hello from claude code");

    // Costs from Claude's own transcript, recorded by its `Stop` hook at the end of a turn and
    // by `gt done`: at least the turns before the restart; then the response that ran `gt
    // done` if Claude had written it down by then (it writes its transcript a moment after a
    // response), and the answer after it if the last turn's `Stop` hook ran before the session
    // was reaped. Each response counted once (`--continue` goes on in the same session); side
    // requests are not in it. The endpoint's usage is four bytes a token of the body it
    // received; the log keeps the body as parsed JSON, whose text may differ by an escape or
    // two.
    assert_costs_recorded(&f, &server, 1, MODEL, &|| tool_outputs(&server));
}

/// Every session transcript Claude wrote in its config directory, concatenated.
fn transcripts(town: &Town) -> String {
    let projects = town.env.home().join(".claude-loopback/projects");
    let dirs = std::fs::read_dir(projects).into_iter().flatten().flatten();
    dirs.flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten().flatten())
        .filter(|f| f.path().extension().is_some_and(|e| e == "jsonl"))
        .filter_map(|f| std::fs::read_to_string(f.path()).ok())
        .collect()
}

#[test]
fn claude_is_refused_with_a_clear_message_without_its_binary_or_its_key() {
    let Some(cli) = testkit::require_agent_cli("claude") else {
        return;
    };
    let Some(town) = Town::new() else { return };
    let server = ModelServer::anthropic(Scenario::new());
    ok(town.gt(&["config", "set", "default_agent", "claude"]));

    // No `claude` on PATH.
    let bead = town.create("needs claude", "anything");
    let err = refused_sling(&town, &bead);
    assert!(err.contains("claude"), "{err}");
    assert_eq!(town.status(&bead), "open", "{err}");

    // Claude, but no key nor a login: refused before anything starts.
    use_claude(&town, &cli, &server, None);
    let err = refused_sling(&town, &bead);
    assert!(
        err.contains("ANTHROPIC_API_KEY") && err.contains("claude auth login"),
        "{err}"
    );
    assert_eq!(town.status(&bead), "open", "{err}");

    // A login Claude cannot use (an empty sign-in file): Claude starts, says it is not logged
    // in, and readiness fails the start with what to do.
    let config = town.env.home().join(".claude-loopback");
    std::fs::write(config.join(".credentials.json"), "{}").expect("write .credentials.json");
    let err = refused_sling(&town, &bead);
    assert!(
        err.contains("Not logged in")
            && err.contains("ANTHROPIC_API_KEY")
            && err.contains("claude auth login"),
        "{err}"
    );
    assert_eq!(town.status(&bead), "open", "{err}");
    assert!(server.conversations().is_empty(), "{}", server.describe());
}
