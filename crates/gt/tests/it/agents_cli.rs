//! `gt config agent …` and `gt namepool …` against a town made by hand in a [`TestEnv`].

use std::path::{Path, PathBuf};
use std::process::Output;

use testkit::TestEnv;

const GT: &str = env!("CARGO_BIN_EXE_gt");

/// A town at `<work>/town` with one registered rig `gastown`, named by `GT_TOWN_ROOT`.
fn town(env: &TestEnv) -> PathBuf {
    let root = env.work().join("town");
    std::fs::create_dir_all(root.join("mayor")).expect("create mayor/");
    std::fs::write(
        root.join("mayor/town.json"),
        r#"{"type":"town","version":2,"name":"t"}"#,
    )
    .expect("write mayor/town.json");
    std::fs::write(
        root.join("mayor/rigs.json"),
        r#"{"version":1,"rigs":{"gastown":{"git_url":"file:///x","beads":{"prefix":"gt"}}}}"#,
    )
    .expect("write mayor/rigs.json");
    env.set("GT_TOWN_ROOT", &root);
    root
}

fn gt(env: &TestEnv, args: &[&str]) -> Output {
    env.command(GT).args(args).output().expect("run gt")
}

fn ok(env: &TestEnv, args: &[&str]) -> String {
    let out = gt(env, args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

fn fails(env: &TestEnv, args: &[&str], code: i32) -> String {
    let out = gt(env, args);
    assert_eq!(out.status.code(), Some(code), "{args:?}");
    String::from_utf8(out.stderr).expect("stderr is UTF-8")
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn read(path: &Path) -> serde_json::Value {
    json(&std::fs::read_to_string(path).expect("read settings file"))
}

#[test]
fn agent_list_shows_the_builtins_and_marks_overrides() {
    let env = TestEnv::new();
    town(&env);
    let text = ok(&env, &["config", "agent", "list"]);
    assert!(text.starts_with("NAME"), "{text}");
    assert!(
        text.contains("claude    built-in  claude --dangerously-skip-permissions"),
        "{text}"
    );
    ok(
        &env,
        &["config", "agent", "set", "codex", "--arg", "--full-auto"],
    );
    ok(
        &env,
        &["config", "agent", "set", "mine", "--command", "mine-cli"],
    );
    let list = json(&ok(&env, &["--json", "config", "agent", "list"]));
    let rows = list.as_array().unwrap();
    assert_eq!(rows.len(), 11);
    let kind = |name: &str| {
        rows.iter().find(|r| r["name"] == name).unwrap()["kind"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(kind("claude"), "builtin");
    assert_eq!(kind("codex"), "override");
    assert_eq!(kind("mine"), "user");
}

#[test]
fn agent_set_writes_agents_json_and_get_resolves_it() {
    let env = TestEnv::new();
    let root = town(&env);
    let out = gt(
        &env,
        &[
            "config",
            "agent",
            "set",
            "claude",
            "--arg",
            "--dangerously-skip-permissions",
            "--arg",
            "--model=opus",
            "--env",
            "CLAUDE_CODE_EFFORT_LEVEL=low",
            "--ready-delay-ms",
            "20000",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty(), "confirmations go to stderr");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("Saved agent preset `claude`"),
        "{stderr}"
    );

    let file = read(&root.join("settings/agents.json"));
    assert_eq!(file["version"], 1);
    assert_eq!(file["agents"]["claude"]["ready_delay_ms"], 20000);
    assert!(
        file["agents"]["claude"].get("command").is_none(),
        "only what was set"
    );

    let got = json(&ok(&env, &["--json", "config", "agent", "get", "claude"]));
    assert_eq!(got["command"], "claude");
    assert_eq!(got["args"][1], "--model=opus");
    assert_eq!(got["env"]["CLAUDE_CODE_EFFORT_LEVEL"], "low");
    assert_eq!(got["ready_prompt_prefix"], "❯ ");
    assert_eq!(got["ready_delay_ms"], 20000);

    let text = ok(&env, &["config", "agent", "get", "claude"]);
    assert!(
        text.contains("readiness          prompt `❯ ` (fallback 20000 ms)"),
        "{text}"
    );
}

#[test]
fn agent_errors_are_classified_with_hints() {
    let env = TestEnv::new();
    town(&env);
    let err = fails(&env, &["config", "agent", "get", "clod"], 1);
    assert!(err.contains("unknown agent preset `clod`"), "{err}");
    assert!(err.contains("claude, codex"), "{err}");
    assert!(err.contains("hint: `gt config agent list`"), "{err}");

    let err = fails(&env, &["config", "agent", "set", "mine", "--arg", "-x"], 1);
    assert!(err.contains("has no `command`"), "{err}");
    let err = fails(
        &env,
        &["config", "agent", "set", "Bad", "--command", "x"],
        1,
    );
    assert!(err.contains("invalid agent preset name `Bad`"), "{err}");
    fails(&env, &["config", "agent", "set", "mine"], 2);
    fails(
        &env,
        &["config", "agent", "set", "mine", "--env", "NOEQUALS"],
        2,
    );
    fails(
        &env,
        &["config", "agent", "set", "amp", "--prompt-mode", "stdin"],
        2,
    );

    let err = fails(&env, &["--json", "config", "agent", "remove", "claude"], 1);
    let v = json(&err);
    assert_eq!(v["code"], "user_error");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("no agent preset `claude`")
    );
}

#[test]
fn agent_remove_drops_an_override_or_a_user_preset() {
    let env = TestEnv::new();
    let root = town(&env);
    ok(
        &env,
        &["config", "agent", "set", "gemini", "--arg", "--sandbox"],
    );
    ok(
        &env,
        &["config", "agent", "set", "mine", "--command", "mine-cli"],
    );
    let out = gt(&env, &["config", "agent", "rm", "gemini"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("override of built-in"));
    let got = json(&ok(&env, &["--json", "config", "agent", "get", "gemini"]));
    assert_eq!(got["args"][0], "--approval-mode", "back to the built-in");
    ok(&env, &["config", "agent", "remove", "mine"]);
    fails(&env, &["config", "agent", "get", "mine"], 1);
    let file = read(&root.join("settings/agents.json"));
    assert_eq!(file["agents"], serde_json::json!({}));
}

#[test]
fn settings_agents_and_agents_json_both_override() {
    let env = TestEnv::new();
    let root = town(&env);
    std::fs::create_dir_all(root.join("settings")).unwrap();
    std::fs::write(
        root.join("settings/config.json"),
        r#"{"type":"town-settings","version":1,"agents":{"codex":{"args":["--oss"]}}}"#,
    )
    .unwrap();
    ok(
        &env,
        &[
            "config",
            "agent",
            "set",
            "codex",
            "--instructions-file",
            "CODEX.md",
        ],
    );
    let got = json(&ok(&env, &["--json", "config", "agent", "get", "codex"]));
    assert_eq!(got["args"], serde_json::json!(["--oss"]));
    assert_eq!(got["instructions_file"], "CODEX.md");
    assert_eq!(got["prompt_mode"], "none");
}

#[test]
fn namepool_shows_the_pool_and_the_names_in_use() {
    let env = TestEnv::new();
    let root = town(&env);
    for name in ["furiosa", "slit", ".claude"] {
        std::fs::create_dir_all(root.join("gastown/polecats").join(name)).unwrap();
    }
    let text = ok(&env, &["namepool", "--rig", "gastown"]);
    assert!(
        text.starts_with("theme     mad-max\nnext      nux\n"),
        "{text}"
    );
    assert!(text.contains("in use    furiosa slit\n"), "{text}");

    let status = json(&ok(&env, &["--json", "namepool", "--rig", "gastown"]));
    assert_eq!(status["style"], "mad-max");
    assert_eq!(status["in_use"], serde_json::json!(["furiosa", "slit"]));
    assert_eq!(status["next"], "nux");
    assert!(status["names"].as_array().unwrap().len() >= 45);
    assert!(
        status["reserved"]
            .as_array()
            .unwrap()
            .contains(&"witness".into())
    );

    let town_only = json(&ok(&env, &["--json", "namepool"]));
    assert_eq!(town_only["in_use"], serde_json::json!([]));
    assert_eq!(town_only["next"], "furiosa");

    let err = fails(&env, &["namepool", "--rig", "nope"], 1);
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn namepool_set_writes_town_or_rig_settings() {
    let env = TestEnv::new();
    let root = town(&env);
    ok(&env, &["namepool", "set", "minerals"]);
    let town_settings = read(&root.join("settings/config.json"));
    assert_eq!(town_settings["type"], "town-settings");
    assert_eq!(town_settings["namepool"]["style"], "minerals");

    ok(
        &env,
        &[
            "namepool",
            "set",
            "custom",
            "--rig",
            "gastown",
            "--names",
            "alpha,beta",
        ],
    );
    let rig_settings = read(&root.join("gastown/settings/config.json"));
    assert_eq!(rig_settings["type"], "rig-settings");
    assert_eq!(rig_settings["namepool"]["style"], "custom");
    assert_eq!(
        rig_settings["namepool"]["names"],
        serde_json::json!(["alpha", "beta"])
    );

    let rig = json(&ok(&env, &["--json", "namepool", "--rig", "gastown"]));
    assert_eq!(rig["next"], "alpha");
    let town_pool = json(&ok(&env, &["--json", "namepool"]));
    assert_eq!(town_pool["style"], "minerals");
    assert_eq!(town_pool["next"], "quartz");

    // `--rig` before the subcommand still targets the rig.
    ok(&env, &["namepool", "--rig", "gastown", "set", "wasteland"]);
    let rig_settings = read(&root.join("gastown/settings/config.json"));
    assert_eq!(rig_settings["namepool"]["style"], "wasteland");
}

#[test]
fn namepool_set_rejects_bad_input_without_writing() {
    let env = TestEnv::new();
    let root = town(&env);
    let err = fails(&env, &["namepool", "set", "custom"], 1);
    assert!(err.contains("needs names"), "{err}");
    assert!(
        err.contains("hint: run `gt namepool set custom --names a,b,c`"),
        "{err}"
    );
    fails(
        &env,
        &["namepool", "set", "custom", "--names", "ok,Not-Ok"],
        1,
    );
    fails(&env, &["namepool", "set", "custom", "--names", "mayor"], 1);
    fails(&env, &["namepool", "set", "muppets"], 2);
    fails(&env, &["namepool", "set", "minerals", "--names", "a"], 2);
    assert!(!root.join("settings/config.json").exists());
}

#[test]
fn upstreams_positional_command_line_round_trips_with_quotes_and_flags() {
    let env = TestEnv::new();
    let root = town(&env);
    let line = r#"claude --model haiku --append-system-prompt 'be brief; say "done"' --max-turns=3 -- "two words""#;
    ok(&env, &["config", "agent", "set", "myagent", line]);
    let file = read(&root.join("settings/agents.json"));
    assert_eq!(file["agents"]["myagent"]["command"], "claude");
    let got = json(&ok(&env, &["--json", "config", "agent", "get", "myagent"]));
    assert_eq!(got["command"], "claude");
    assert_eq!(
        got["args"],
        serde_json::json!([
            "--model",
            "haiku",
            "--append-system-prompt",
            "be brief; say \"done\"",
            "--max-turns=3",
            "--",
            "two words"
        ])
    );
    // It runs Claude Code's program, so it is started and checked as Claude Code is.
    assert_eq!(got["ready_prompt_prefix"], "❯ ");
    assert_eq!(got["credential_env"][0], "ANTHROPIC_API_KEY");
    // Set again: the new line replaces program and arguments; other fields stay.
    ok(
        &env,
        &[
            "config",
            "agent",
            "set",
            "myagent",
            "--ready-delay-ms",
            "7000",
        ],
    );
    ok(
        &env,
        &["config", "agent", "set", "myagent", "/opt/bin/claude -p"],
    );
    let got = json(&ok(&env, &["--json", "config", "agent", "get", "myagent"]));
    assert_eq!(got["command"], "/opt/bin/claude");
    assert_eq!(got["args"], serde_json::json!(["-p"]));
    assert_eq!(got["ready_delay_ms"], 7000);
    // A built-in's command line is replaced the same way.
    ok(
        &env,
        &["config", "agent", "set", "codex", "codex --full-auto"],
    );
    let got = json(&ok(&env, &["--json", "config", "agent", "get", "codex"]));
    assert_eq!(got["args"], serde_json::json!(["--full-auto"]));
}

#[test]
fn a_command_with_spaces_or_a_broken_line_is_refused_with_the_positional_form() {
    let env = TestEnv::new();
    let root = town(&env);
    let mut errors = String::new();
    for args in [
        &["config", "agent", "set", "mine", "--command", "prog --flag"][..],
        &["config", "agent", "set", "mine", "prog 'unclosed"],
        &["config", "agent", "set", "mine", "  "],
    ] {
        errors += &format!("$ gt {}\n", args.join(" "));
        errors += &fails(&env, args, 2);
    }
    insta::assert_snapshot!(errors, @r#"
    $ gt config agent set mine --command prog --flag
    error: `--command "prog --flag"` is a whole command line, but `--command` takes the program alone

    hint: give the command line positionally, split like a shell does: `gt config agent set NAME 'prog --flag'`
    $ gt config agent set mine prog 'unclosed
    error: cannot split the command line `prog 'unclosed`

    hint: close every quote: `gt config agent set NAME "prog --flag 'two words'"`
    $ gt config agent set mine   
    error: the command line is empty

    hint: give the program first: `gt config agent set NAME "prog --flag"`
    "#);
    // Both forms at once is a usage error too.
    fails(
        &env,
        &["config", "agent", "set", "mine", "prog", "--command", "x"],
        2,
    );
    assert!(
        !root.join("settings/agents.json").exists(),
        "nothing was written"
    );
}

#[test]
fn default_agent_prints_sets_and_validates_the_name() {
    let env = TestEnv::new();
    let root = town(&env);
    assert_eq!(
        ok(&env, &["config", "default-agent"]),
        "claude  (default)\n"
    );
    ok(&env, &["config", "agent", "set", "mine", "mine-cli --fast"]);
    let out = gt(&env, &["config", "default-agent", "mine"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Default agent is now `mine`"));
    let settings = read(&root.join("settings/config.json"));
    assert_eq!(settings["default_agent"], "mine");
    let shown = ok(&env, &["config", "default-agent"]);
    assert!(shown.starts_with("mine  (town ("), "{shown}");
    let err = fails(&env, &["config", "default-agent", "clod"], 1);
    insta::assert_snapshot!(err, @r#"
    error: unknown agent preset `clod`; known presets: claude, codex, gemini, cursor, amp, opencode, copilot, auggie, pi, scripted, mine

    hint: `gt config agent list` shows the presets; `gt config agent set <name> "<program> <args…>"` adds one
    "#);
    assert_eq!(
        read(&root.join("settings/config.json"))["default_agent"],
        "mine",
        "unchanged"
    );
    // `config set` checks every key that names an agent the same way, before writing.
    for key in ["default_agent", "role_agents.polecat", "crew_agents.dave"] {
        let err = fails(&env, &["config", "set", key, "clod"], 1);
        assert!(err.contains("unknown agent preset `clod`"), "{key}: {err}");
    }
    let settings = read(&root.join("settings/config.json"));
    assert_eq!(settings["default_agent"], "mine", "unchanged");
    assert!(settings.get("role_agents").is_none(), "{settings}");
    ok(&env, &["config", "set", "role_agents.polecat", "\"mine\""]);
    assert_eq!(
        read(&root.join("settings/config.json"))["role_agents"]["polecat"],
        "mine"
    );
    // A preset's field set through `config set` is checked as the preset resolves.
    let before = std::fs::read_to_string(root.join("settings/config.json")).unwrap();
    let err = fails(
        &env,
        &["config", "set", "agents.claude.prompt_mode", "stdin"],
        1,
    );
    assert!(err.contains("prompt_mode"), "{err}");
    let err = fails(
        &env,
        &["config", "set", "agents.mine.rate_limit_exit_codes", "[0]"],
        1,
    );
    assert!(err.contains("rate_limit_exit_codes"), "{err}");
    assert_eq!(
        std::fs::read_to_string(root.join("settings/config.json")).unwrap(),
        before,
        "nothing written"
    );
    ok(
        &env,
        &["config", "set", "agents.mine.rate_limit_exit_codes", "[75]"],
    );
    assert_eq!(
        read(&root.join("settings/config.json"))["agents"]["mine"]["rate_limit_exit_codes"],
        serde_json::json!([75])
    );
}

#[test]
fn agent_list_shows_where_each_preset_comes_from_town_and_rig() {
    let env = TestEnv::new();
    let root = town(&env);
    ok(&env, &["config", "agent", "set", "mine", "mine-cli --fast"]);
    ok(
        &env,
        &["config", "agent", "set", "codex", "codex --full-auto"],
    );
    std::fs::create_dir_all(root.join("settings")).unwrap();
    std::fs::write(
        root.join("settings/config.json"),
        r#"{"type":"town-settings","version":1,"agents":{"codex":{"ready_delay_ms":9000}}}"#,
    )
    .unwrap();
    std::fs::create_dir_all(root.join("gastown/settings")).unwrap();
    std::fs::write(
        root.join("gastown/settings/config.json"),
        r#"{"type":"rig-settings","version":1,"agents":{"rigonly":{"command":"rig-cli"},"gemini":{"args":["--sandbox"]}}}"#,
    )
    .unwrap();
    insta::assert_snapshot!(ok(&env, &["config", "agent", "list"]), @r"
    NAME                   KIND      COMMAND                                FROM
    claude                 built-in  claude --dangerously-skip-permissions  built-in
    codex                  override  codex --full-auto                      settings/agents.json < settings/config.json
    gemini                 built-in  gemini --approval-mode yolo            built-in
    cursor                 built-in  cursor-agent -f                        built-in
    amp                    built-in  amp --dangerously-allow-all --no-ide   built-in
    opencode               built-in  opencode                               built-in
    copilot                built-in  copilot --yolo                         built-in
    auggie                 built-in  auggie --allow-indexing                built-in
    pi                     built-in  pi -e .pi/extensions/gastown-hooks.js  built-in
    scripted               built-in  gt-scripted-agent                      built-in
    mine                   user      mine-cli --fast                        settings/agents.json
    gemini (rig gastown)   override  gemini --sandbox                       gastown/settings/config.json
    rigonly (rig gastown)  user      rig-cli                                gastown/settings/config.json
    ");
    let rows = json(&ok(&env, &["--json", "config", "agent", "list"]));
    let rig_only = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "rigonly")
        .unwrap();
    assert_eq!(rig_only["rig"], "gastown");
    assert_eq!(
        rig_only["from"],
        serde_json::json!(["gastown/settings/config.json"])
    );
}

#[test]
fn ready_dialogs_are_declared_in_agents_json_and_shown() {
    let env = TestEnv::new();
    let root = town(&env);
    let text = ok(&env, &["config", "agent", "get", "claude"]);
    assert!(
        text.contains("workspace trust: choose \"Yes, I trust this folder\""),
        "{text}"
    );

    let presets = root.join("settings/agents.json");
    std::fs::create_dir_all(presets.parent().unwrap()).unwrap();
    let mine = serde_json::json!({"version": 1, "agents": {"mine": {
        "command": "mine-cli",
        "ready_prompt_prefix": "> ",
        "ready_dialogs": [
            {"name": "update", "when": ["Update available"], "keys": ["Escape"]},
            {"name": "trust", "when": ["Trust this folder?"], "choose": "Trust"},
        ],
    }}});
    std::fs::write(&presets, mine.to_string()).unwrap();
    let got = json(&ok(&env, &["--json", "config", "agent", "get", "mine"]));
    assert_eq!(
        got["ready_dialogs"],
        mine["agents"]["mine"]["ready_dialogs"]
    );
    let text = ok(&env, &["config", "agent", "get", "mine"]);
    assert!(
        text.contains("update: keys Escape") && text.contains("trust: choose \"Trust\""),
        "{text}"
    );

    // A dialog with nothing to recognise it by is refused, naming the field.
    let bad = serde_json::json!({"version": 1, "agents": {"mine": {
        "command": "mine-cli",
        "ready_prompt_prefix": "> ",
        "ready_dialogs": [{"name": "blank", "when": [""], "keys": ["Enter"]}],
    }}});
    std::fs::write(&presets, bad.to_string()).unwrap();
    let err = fails(&env, &["config", "agent", "get", "mine"], 1);
    assert!(
        err.contains("ready_dialogs") && err.contains("blank"),
        "{err}"
    );
}
