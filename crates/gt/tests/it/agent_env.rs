//! An agent's environment is exactly the town's variables plus what its preset declares:
//! never what the shell that happened to start the tmux server carried. And a preset whose
//! start would fail at once (its program missing, no credential) is refused before anything
//! is made, with a message naming the preset, what is missing and how to fix it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use testkit::wait_until;

use super::stderr;
use super::work_loop::{TIMEOUT, Town, ok, script};

/// The agent's environment as it printed it, once it has.
fn agent_env(file: &Path) -> Vec<(String, String)> {
    wait_until(TIMEOUT, || {
        std::fs::read_to_string(file).is_ok_and(|t| t.contains("GT_ROLE="))
    })
    .unwrap_or_else(|e| panic!("the agent never printed its environment: {e}"));
    std::fs::read_to_string(file)
        .expect("read the agent's environment")
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn a_tmux_server_started_from_a_shell_passes_none_of_its_variables_to_agents() {
    let Some(town) = Town::new() else { return };
    // The server starts with the next `gt` that needs it, run from a shell with variables
    // of its own: one nobody declared, one the preset passes through, one it does not.
    town.server.run(["kill-server"]);
    town.env.set("GT_TEST_LEAK", "secret");
    town.env.set("MY_TOOL_TOKEN", "declared");
    town.env.set("MY_OTHER", "undeclared");
    ok(town.gt(&[
        "config",
        "agent",
        "set",
        "scripted",
        "--env-passthrough",
        "GT_AGENT_SCRIPT",
        "--env-passthrough",
        "GT_SCRIPTED_AGENT_*",
        "--env-passthrough",
        "MY_TOOL_*",
    ]));
    let out_file = town.env.root().join("agent-env.txt");
    let bead = town.create(
        "print the environment",
        &script(&format!("run env > '{}'\nstay", out_file.display())),
    );
    town.sling(&[&bead, "gastown"]);

    let env = agent_env(&out_file);
    let get = |k: &str| {
        env.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("GT_TEST_LEAK"), None, "{env:?}");
    assert_eq!(get("MY_OTHER"), None, "{env:?}");
    assert_eq!(get("MY_TOOL_TOKEN"), Some("declared"), "{env:?}");
    assert_eq!(get("GT_AGENT"), Some("scripted"));
    assert!(get("HOME").is_some_and(|h| h == town.env.home().to_str().unwrap()));
    assert!(
        get("PATH").is_some_and(
            |p| p.starts_with(Path::new(super::GT).parent().unwrap().to_str().unwrap())
        ),
        "gt's directory is first on the agent's PATH: {env:?}"
    );
    // The tmux server itself has nothing of that shell either.
    let global = town.server.run(["show-environment", "-g"]);
    assert!(!global.contains("GT_TEST_LEAK"), "{global}");
    assert!(!global.contains("MY_TOOL_TOKEN"), "{global}");
    let update = town
        .server
        .run(["show-options", "-g", "update-environment"]);
    assert_eq!(update.trim(), "update-environment", "emptied: {update}");
}

/// A stand-in for an agent CLI named `name` (only its presence matters: the refusals come
/// before it runs).
fn fake_cli(town: &Town, name: &str) {
    let dir = town.env.root().join("fake-clis");
    std::fs::create_dir_all(&dir).expect("create the fake CLIs' directory");
    let bin = dir.join(name);
    std::fs::write(&bin, "#!/bin/sh\necho fake\n").expect("write the fake CLI");
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755))
        .expect("make the fake CLI executable");
    town.env.prepend_path(&dir);
}

/// Slings a bead with preset `preset`, which must be refused; returns the error, after
/// checking that nothing was made.
fn refused_sling(town: &Town, preset: &str) -> String {
    let bead = town.create(&format!("needs {preset}"), "anything");
    let out = town.gt(&["sling", &bead, "gastown", "--agent", preset]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(town.status(&bead), "open");
    assert!(town.polecats().is_empty(), "no polecat was made");
    assert!(
        !town
            .rig()
            .join("polecats")
            .read_dir()
            .is_ok_and(|mut d| d.next().is_some()),
        "no worktree was made"
    );
    let convoys = super::work_loop::stdout(&ok(town.gt(&["convoy", "list", "--all"])));
    assert!(!convoys.contains("Work:"), "no convoy was made: {convoys}");
    stderr(&out)
}

#[test]
fn each_builtin_ai_preset_is_refused_without_its_program_or_its_credential() {
    let Some(town) = Town::new() else { return };
    // The message depends on nothing of the machine: no real CLI, no key.
    let mut messages = String::new();
    for preset in ["claude", "codex", "gemini"] {
        messages += &format!("$ gt sling <bead> gastown --agent {preset}   # no `{preset}`\n");
        messages += &refused_sling(&town, preset);
        fake_cli(&town, preset);
        messages += &format!("$ gt sling <bead> gastown --agent {preset}   # no credential\n");
        messages += &refused_sling(&town, preset);
    }
    insta::assert_snapshot!(messages, @r#"
    $ gt sling <bead> gastown --agent claude   # no `claude`
    error: agent preset `claude` cannot start: its program `claude` is not on PATH

    hint: install `claude` where `gt` can find it (the agent's PATH is gt's), or point the preset at it: `gt config agent set claude "/path/to/claude …"`
    $ gt sling <bead> gastown --agent claude   # no credential
    error: agent preset `claude` cannot start: no credential found (none of `ANTHROPIC_API_KEY`, `ANTHROPIC_AUTH_TOKEN`, `CLAUDE_CODE_OAUTH_TOKEN` is set, and none of `$CLAUDE_CONFIG_DIR/.credentials.json`, `~/.claude/.credentials.json` exists)

    hint: export ANTHROPIC_API_KEY=… where `gt` runs (the agent gets it through the preset's `env_passthrough`), or sign in once with `claude auth login`
    $ gt sling <bead> gastown --agent codex   # no `codex`
    error: agent preset `codex` cannot start: its program `codex` is not on PATH

    hint: install `codex` where `gt` can find it (the agent's PATH is gt's), or point the preset at it: `gt config agent set codex "/path/to/codex …"`
    $ gt sling <bead> gastown --agent codex   # no credential
    error: agent preset `codex` cannot start: no credential found (none of `OPENAI_API_KEY` is set, and none of `$CODEX_HOME/auth.json`, `~/.codex/auth.json` exists)

    hint: export OPENAI_API_KEY=… where `gt` runs (the agent gets it through the preset's `env_passthrough`), or sign in once with `codex login`
    $ gt sling <bead> gastown --agent gemini   # no `gemini`
    error: agent preset `gemini` cannot start: its program `gemini` is not on PATH

    hint: install `gemini` where `gt` can find it (the agent's PATH is gt's), or point the preset at it: `gt config agent set gemini "/path/to/gemini …"`
    $ gt sling <bead> gastown --agent gemini   # no credential
    error: agent preset `gemini` cannot start: no credential found (none of `GEMINI_API_KEY`, `GOOGLE_API_KEY`, `GOOGLE_APPLICATION_CREDENTIALS` is set, and none of `~/.gemini/oauth_creds.json`, `~/.gemini/gemini-credentials.json` exists)

    hint: export GEMINI_API_KEY=… where `gt` runs (the agent gets it through the preset's `env_passthrough`), or sign in once with `gemini`
    "#);

    // A credential in the environment, or the CLI's own sign-in file, lets the start through
    // the checks (the fake CLI then fails its readiness, which is not what this test is about).
    town.env.set("OPENAI_API_KEY", "sk-test");
    let bead = town.create("codex with a key", "anything");
    let out = town.gt(&["sling", &bead, "gastown", "--agent", "codex"]);
    assert!(!stderr(&out).contains("no credential"), "{}", stderr(&out));
    let gemini = town.env.home().join(".gemini");
    std::fs::create_dir_all(&gemini).expect("create ~/.gemini");
    std::fs::write(gemini.join("oauth_creds.json"), "{}").expect("write the sign-in file");
    let bead = town.create("gemini signed in", "anything");
    let out = town.gt(&["sling", &bead, "gastown", "--agent", "gemini"]);
    assert!(!stderr(&out).contains("no credential"), "{}", stderr(&out));
}

/// A stand-in CLI whose `--version` runs `body` (a shell script).
fn fake_cli_with(town: &Town, name: &str, body: &str) {
    fake_cli(town, name);
    let bin = town.env.root().join("fake-clis").join(name);
    std::fs::write(&bin, format!("#!/bin/sh\n{body}\n")).expect("write the fake CLI");
}

#[test]
fn doctor_checks_each_configured_presets_real_start() {
    let Some(town) = Town::new() else { return };
    // codex: found, answers, has its key; gemini: found, answers, no credential; claude: not
    // installed; `broken`: its `--version` fails.
    fake_cli_with(&town, "codex", "echo 'codex-cli 0.169.0'");
    fake_cli_with(&town, "gemini", "echo 0.61.0");
    fake_cli_with(
        &town,
        "broken-cli",
        "echo 'broken: missing library' >&2; exit 3",
    );
    town.env.set("OPENAI_API_KEY", "sk-test");
    ok(town.gt(&["config", "agent", "set", "broken", "broken-cli --fast"]));
    ok(town.gt(&["config", "default-agent", "codex"]));
    ok(town.gt(&["config", "set", "role_agents.mayor", "gemini"]));
    ok(town.gt(&["config", "set", "role_agents.crew", "claude"]));
    ok(town.gt(&["config", "set", "agent", "broken", "--rig", "gastown"]));
    let out = town.gt(&["doctor"]);
    let report = super::work_loop::stdout(&out);
    let agents: String = report
        .lines()
        .filter(|l| l.contains("agent:"))
        .map(|l| format!("{}\n", l.trim_end()))
        .collect();
    let root = town.env.root().display().to_string();
    insta::assert_snapshot!(agents.replace(&root, "[ROOT]"), @r#"
    ok       agent:codex                  codex-cli 0.169.0 at `[ROOT]/fake-clis/codex`; credential: `OPENAI_API_KEY`
    warning  agent:claude                 agent preset `claude` cannot start: its program `claude` is not on PATH; install `claude` where `gt` can find it (the agent's PATH is gt's), or point the preset at it: `gt config agent set claude "/path/to/claude …"`
    warning  agent:gemini                 0.61.0 at `[ROOT]/fake-clis/gemini`, but agent preset `gemini` cannot start: no credential found (none of `GEMINI_API_KEY`, `GOOGLE_API_KEY`, `GOOGLE_APPLICATION_CREDENTIALS` is set, and none of `~/.gemini/oauth_creds.json`, `~/.gemini/gemini-credentials.json` exists); export GEMINI_API_KEY=… where `gt` runs (the agent gets it through the preset's `env_passthrough`), or sign in once with `gemini`
    warning  agent:broken                 `[ROOT]/fake-clis/broken-cli --version` failed (exit status 3): broken: missing library
    "#);
}

#[test]
fn a_mayor_whose_agent_cannot_start_is_refused_and_not_wanted() {
    let Some(town) = Town::new() else { return };
    let out = town.gt(&["mayor", "start", "--agent", "codex"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("agent preset `codex` cannot start"),
        "{}",
        stderr(&out)
    );
    let status = super::work_loop::json(&ok(town.gt(&["--json", "mayor", "status"])));
    assert_eq!(
        status["desired"], "stopped",
        "the daemon will not keep retrying it"
    );
    assert_eq!(status["generation"], 0, "nothing was started");
}
