//! Every everyday command through the binary: human output of the key views as inline
//! snapshots, the rest checked through `--json`.

use testkit::{TestEnv, assert_cmd_snapshot};

use crate::{bd, count, create, fails, ids, json, ok, run, stderr, store};

/// Three issues with fixed ids: `t-login` (P1 bug, label `auth`) is blocked by `t-db` (P0
/// feature); `t-docs` (P3) is assigned to bob.
fn fixture() -> TestEnv {
    let env = store();
    ok(
        &env,
        &[
            "create",
            "Migrate the database",
            "--id",
            "t-db",
            "-p",
            "0",
            "-t",
            "feature",
        ],
    );
    ok(
        &env,
        &[
            "create",
            "Fix the login bug",
            "--id",
            "t-login",
            "-p",
            "1",
            "-t",
            "bug",
            "-l",
            "auth",
        ],
    );
    ok(
        &env,
        &[
            "create",
            "Write the docs",
            "--id",
            "t-docs",
            "-p",
            "3",
            "-a",
            "bob",
        ],
    );
    ok(&env, &["dep", "add", "t-login", "t-db"]);
    env
}

#[test]
fn init_reports_the_store_and_its_prefix() {
    let env = TestEnv::new();
    assert_cmd_snapshot!(env, bd(&env).args(["init", "--prefix", "demo"]), @r"
    exit_code: 0
    ----- stdout -----
    ----- stderr -----
    Created a beads store at `[ROOT]/work/.beads` with prefix `demo`
    ");
    assert!(env.work().join(".beads/beads.db").is_file());
    let gitignore = std::fs::read_to_string(env.work().join(".beads/.gitignore")).unwrap();
    assert!(gitignore.contains("beads.db*"), "{gitignore}");
}

#[test]
fn init_accepts_the_server_options_gas_town_passes() {
    let env = TestEnv::new();
    ok(
        &env,
        &[
            "init",
            "--prefix",
            "gt",
            "--server",
            "--server-port",
            "3307",
            "--skip-hooks",
        ],
    );
    assert_eq!(
        json(&env, &["config", "get", "issue_prefix"])["value"],
        "gt"
    );
}

#[test]
fn create_prints_the_id_on_stdout_and_a_confirmation_on_stderr() {
    let env = store();
    assert_cmd_snapshot!(env, bd(&env).args(["create", "Fix the login bug", "--id", "t-login"]), @r"
    exit_code: 0
    ----- stdout -----
    t-login
    ----- stderr -----
    Created t-login: Fix the login bug
    ");
    let id = create(&env, "Generated id", &[]);
    assert!(id.starts_with("t-"), "{id}");
    let quiet = run(&env, &["create", "Quiet", "-q"]);
    assert!(quiet.stderr.is_empty(), "{}", stderr(&quiet));
    assert_eq!(count(&env), 3);
}

#[test]
fn list_shows_open_issues_by_priority() {
    let env = fixture();
    assert_cmd_snapshot!(env, bd(&env).arg("list"), @r"
    exit_code: 0
    ----- stdout -----
    t-db     P0  open  feature  -    Migrate the database
    t-login  P1  open  bug      -    Fix the login bug [auth]
    t-docs   P3  open  task     bob  Write the docs
    ----- stderr -----
    ");
}

#[test]
fn list_of_an_empty_store_says_so_on_stderr() {
    let env = store();
    assert_cmd_snapshot!(env, bd(&env).arg("list"), @r"
    exit_code: 0
    ----- stdout -----
    ----- stderr -----
    No issues
    ");
}

#[test]
fn show_prints_the_details() {
    let env = fixture();
    ok(
        &env,
        &[
            "update",
            "t-login",
            "-d",
            "Users cannot log in.\nSince Tuesday.",
        ],
    );
    ok(&env, &["comment", "t-login", "Reproduced", "on", "staging"]);
    assert_cmd_snapshot!(env, bd(&env).args(["show", "t-login"]), @r"
    exit_code: 0
    ----- stdout -----
    t-login  Fix the login bug
      status      open (blocked)
      priority    P1
      type        bug
      created     [TIMESTAMP]
      created by  alice
      updated     [TIMESTAMP]
      labels      auth

    Description:
      Users cannot log in.
      Since Tuesday.

    Depends on:
      t-db  blocks  open  Migrate the database

    Comments:
      [TIMESTAMP] alice:
        Reproduced on staging
    ----- stderr -----
    ");
}

#[test]
fn ready_leaves_out_blocked_issues() {
    let env = fixture();
    assert_cmd_snapshot!(env, bd(&env).arg("ready"), @r"
    exit_code: 0
    ----- stdout -----
    t-db    P0  open  feature  -    Migrate the database
    t-docs  P3  open  task     bob  Write the docs
    ----- stderr -----
    ");
}

#[test]
fn blocked_names_the_blockers() {
    let env = fixture();
    assert_cmd_snapshot!(env, bd(&env).arg("blocked"), @r"
    exit_code: 0
    ----- stdout -----
    t-login  P1  Fix the login bug  blocked by t-db
    ----- stderr -----
    ");
    ok(&env, &["close", "t-db"]);
    assert_cmd_snapshot!(env, bd(&env).arg("blocked"), @r"
    exit_code: 0
    ----- stdout -----
    ----- stderr -----
    Nothing is blocked
    ");
}

#[test]
fn close_and_reopen_move_the_status() {
    let env = fixture();
    let closed = json(&env, &["close", "t-db", "-r", "migrated"]);
    assert_eq!(closed[0]["status"], "closed");
    assert_eq!(closed[0]["close_reason"], "migrated");
    assert!(closed[0]["closed_at"].is_string());
    assert_eq!(ids(&json(&env, &["ready"])), ["t-login", "t-docs"]);
    assert!(!ids(&json(&env, &["list"])).contains(&"t-db".to_owned()));
    assert!(ids(&json(&env, &["list", "--all"])).contains(&"t-db".to_owned()));

    let reopened = json(&env, &["reopen", "t-db"]);
    assert_eq!(reopened[0]["status"], "open");
    assert!(reopened[0].get("closed_at").is_none());
    assert_eq!(ids(&json(&env, &["blocked"])), ["t-login"]);
}

#[test]
fn close_refuses_a_blocked_issue_without_force() {
    let env = fixture();
    let out = fails(&env, &["close", "t-login"], 1);
    assert!(stderr(&out).starts_with("error: "), "{}", stderr(&out));
    assert_eq!(json(&env, &["show", "t-login"])[0]["status"], "open");
    assert_eq!(
        json(&env, &["close", "t-login", "--force"])[0]["status"],
        "closed"
    );
}

#[test]
fn update_changes_fields() {
    let env = fixture();
    let updated = json(
        &env,
        &[
            "update",
            "t-docs",
            "--title",
            "Write the user docs",
            "-p",
            "2",
            "-s",
            "in_progress",
            "--notes",
            "start with install",
            "--add-label",
            "docs",
        ],
    );
    let issue = &updated[0];
    assert_eq!(issue["title"], "Write the user docs");
    assert_eq!(issue["priority"], 2);
    assert_eq!(issue["status"], "in_progress");
    assert_eq!(issue["notes"], "start with install");
    let shown = &json(&env, &["show", "t-docs"])[0];
    assert_eq!(shown["labels"], serde_json::json!(["docs"]));

    json(&env, &["update", "t-docs", "--append-notes", "then usage"]);
    let notes = json(&env, &["show", "t-docs"])[0]["notes"].clone();
    let notes = notes.as_str().unwrap();
    assert!(
        notes.starts_with("start with install") && notes.ends_with("then usage"),
        "{notes}"
    );
}

#[test]
fn dependencies_can_be_listed_drawn_and_removed() {
    let env = fixture();
    // Upstream's shape: the issue at the other end, with the edge's type.
    let deps = json(&env, &["dep", "list", "t-login"]);
    assert_eq!(deps[0]["id"], "t-db");
    assert_eq!(deps[0]["title"], "Migrate the database");
    assert_eq!(deps[0]["priority"], 0);
    assert_eq!(deps[0]["dependency_type"], "blocks");
    let up = json(&env, &["dep", "list", "t-db", "--direction", "up"]);
    assert_eq!(up[0]["id"], "t-login");
    assert_eq!(up[0]["dependency_type"], "blocks");
    assert_eq!(
        json(&env, &["dep", "list", "t-login", "--type", "related"]),
        serde_json::json!([])
    );

    assert_cmd_snapshot!(env, bd(&env).args(["dep", "tree", "t-login"]), @r"
    exit_code: 0
    ----- stdout -----
    t-login  P1  open          Fix the login bug
      t-db   P0  open  blocks  Migrate the database
    ----- stderr -----
    ");
    assert_eq!(json(&env, &["dep", "cycles"]), serde_json::json!([]));

    let removed = json(&env, &["dep", "remove", "t-login", "t-db"]);
    assert_eq!(removed["status"], "removed");
    assert_eq!(json(&env, &["blocked"]), serde_json::json!([]));
    assert_eq!(
        json(&env, &["dep", "list", "t-login"]),
        serde_json::json!([])
    );
}

#[test]
fn labels_are_added_listed_and_removed() {
    let env = fixture();
    // Upstream's order: ids first, the label last (a comma list here).
    let added = json(&env, &["label", "add", "t-docs", "docs,writing,easy"]);
    assert_eq!(
        added,
        serde_json::json!([
            {"status": "added", "issue_id": "t-docs", "label": "docs"},
            {"status": "added", "issue_id": "t-docs", "label": "writing"},
            {"status": "added", "issue_id": "t-docs", "label": "easy"},
        ])
    );
    let both = json(&env, &["label", "add", "t-docs", "t-db", "shared"]);
    assert_eq!(both.as_array().map(Vec::len), Some(2));
    json(&env, &["label", "remove", "t-docs", "t-db", "shared"]);
    // One unknown id and nothing changes.
    fails(&env, &["label", "add", "t-docs", "t-nope", "x"], 1);
    assert!(
        !json(&env, &["label", "list", "t-docs"])
            .to_string()
            .contains("\"x\"")
    );
    assert_eq!(
        json(&env, &["label", "list", "t-docs"]),
        serde_json::json!(["docs", "easy", "writing"])
    );
    json(&env, &["label", "remove", "t-docs", "easy"]);
    assert_eq!(
        json(&env, &["label", "list", "t-docs"]),
        serde_json::json!(["docs", "writing"])
    );
    let all = json(&env, &["label", "list-all"]);
    assert_eq!(
        all,
        serde_json::json!([
            {"label": "auth", "count": 1},
            {"label": "docs", "count": 1},
            {"label": "writing", "count": 1},
        ])
    );
    assert_eq!(ids(&json(&env, &["list", "-l", "auth"])), ["t-login"]);
}

#[test]
fn comments_are_added_and_shown() {
    let env = fixture();
    let c = json(&env, &["comment", "t-db", "first", "words"]);
    assert_eq!(c["issue_id"], "t-db");
    assert_eq!(c["text"], "first words");
    assert_eq!(c["author"], "alice");
    json(&env, &["comments", "add", "t-db", "second"]);
    let all = json(&env, &["comments", "t-db"]);
    let texts: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["first words", "second"]);
    assert_cmd_snapshot!(env, bd(&env).args(["comments", "t-docs"]), @r"
    exit_code: 0
    ----- stdout -----
    ----- stderr -----
    No comments
    ");
}

#[test]
fn search_count_and_stats() {
    let env = fixture();
    assert_eq!(ids(&json(&env, &["search", "login"])), ["t-login"]);
    assert_eq!(
        ids(&json(&env, &["search", "nothing-like-this"])),
        Vec::<String>::new()
    );
    ok(&env, &["close", "t-docs"]);
    assert_eq!(json(&env, &["count"])["count"], 2);
    assert_eq!(json(&env, &["count", "--all"])["count"], 3);
    assert_eq!(ok(&env, &["count"]).trim(), "2");
    let by_status = json(&env, &["count", "--all", "--by", "status"]);
    assert_eq!(
        by_status,
        serde_json::json!([{"group": "closed", "count": 1}, {"group": "open", "count": 2}])
    );
    let stats = json(&env, &["stats"]);
    assert_eq!(stats["total_issues"], 3);
    assert_eq!(stats["open_issues"], 2);
    assert_eq!(stats["closed_issues"], 1);
    assert_eq!(stats["blocked_issues"], 1);
    assert_eq!(stats["ready_issues"], 1);
    assert!(ok(&env, &["stats"]).contains("Total"));
}

#[test]
fn config_and_kv_round_trip() {
    let env = store();
    ok(&env, &["config", "set", "team", "core"]);
    assert_eq!(ok(&env, &["config", "get", "team"]), "core\n");
    let all = json(&env, &["config", "list"]);
    assert_eq!(all["team"], "core");
    assert_eq!(all["issue_prefix"], "t");
    assert_eq!(json(&env, &["config", "unset", "team"])["removed"], true);
    // As upstream: an unset config key is an answer, an unset kv key a failure.
    assert_eq!(ok(&env, &["config", "get", "team"]), "team (not set)\n");
    assert_eq!(
        json(&env, &["config", "get", "team"]),
        serde_json::json!({"key": "team", "value": ""})
    );

    let many = json(&env, &["config", "set-many", "a.one=1", "a.two=x=y"]);
    assert_eq!(many, serde_json::json!({"a.one": "1", "a.two": "x=y"}));
    assert_eq!(ok(&env, &["config", "get", "a.two"]), "x=y\n");
    // One bad pair and nothing is set.
    fails(
        &env,
        &["config", "set-many", "a.three=3", "issue_prefix=BAD PREFIX"],
        1,
    );
    assert_eq!(
        ok(&env, &["config", "get", "a.three"]),
        "a.three (not set)\n"
    );
    fails(&env, &["config", "set-many", "novalue"], 2);

    ok(&env, &["kv", "set", "last-run", "42"]);
    assert_eq!(
        json(&env, &["kv", "get", "last-run"]),
        serde_json::json!({"key": "last-run", "value": "42", "found": true})
    );
    assert_eq!(json(&env, &["kv", "list"])["last-run"], "42");
    assert_eq!(json(&env, &["kv", "clear", "last-run"])["removed"], true);
    let out = fails(&env, &["kv", "get", "last-run"], 1);
    assert!(
        stderr(&out).contains("`last-run` is not set"),
        "{}",
        stderr(&out)
    );
    let out = fails(&env, &["kv", "get", "last-run", "--json"], 1);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(),
        serde_json::json!({"key": "last-run", "value": "", "found": false})
    );
}

#[test]
fn sql_reads_as_table_csv_and_json() {
    let env = fixture();
    let query = "SELECT id, priority FROM issues ORDER BY id";
    assert_eq!(
        json(&env, &["sql", query]),
        serde_json::json!([
            {"id": "t-db", "priority": 0},
            {"id": "t-docs", "priority": 3},
            {"id": "t-login", "priority": 1},
        ])
    );
    assert_eq!(
        ok(&env, &["sql", query, "--csv"]),
        "id,priority\nt-db,0\nt-docs,3\nt-login,1\n"
    );
    assert_cmd_snapshot!(env, bd(&env).args(["sql", query]), @r"
    exit_code: 0
    ----- stdout -----
    id       priority
    t-db     0
    t-docs   3
    t-login  1
    ----- stderr -----
    ");
    let out = fails(&env, &["sql", "SELEC nonsense"], 1);
    assert!(stderr(&out).contains("SQL error"), "{}", stderr(&out));
    // Keys keep the SELECT's order.
    let ordered = ok(
        &env,
        &["sql", "SELECT priority, id FROM issues LIMIT 1", "--json"],
    );
    assert!(
        ordered.find("\"priority\"") < ordered.find("\"id\""),
        "{ordered}"
    );
    // Upstream's MySQL-isms that Gas Town uses: NOW() is the store's clock.
    let recent = "SELECT count(*) AS n FROM issues WHERE created_at < NOW()";
    assert_eq!(json(&env, &["sql", recent])[0]["n"], 3);
}

#[test]
fn prime_lists_ready_work_for_the_actor() {
    let env = fixture();
    ok(&env, &["update", "t-db", "--claim"]);
    let text = ok(&env, &["prime"]);
    assert!(text.starts_with("# Working with beads (bd)"), "{text}");
    assert!(
        text.contains("## In progress for alice\n\n- t-db [P0] Migrate the database\n"),
        "{text}"
    );
    assert!(
        text.contains("## Ready to start\n\n- t-docs [P3] Write the docs\n"),
        "{text}"
    );
    assert_eq!(json(&env, &["prime"])["prime"], text);
}

#[test]
fn version_prints_name_and_version() {
    let env = TestEnv::new();
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(ok(&env, &["version"]), format!("bd {version}\n"));
    assert_eq!(ok(&env, &["--version"]), format!("bd {version}\n"));
    assert_eq!(json(&env, &["version"])["version"], version);
}

#[test]
fn doctor_passes_on_a_healthy_store() {
    let env = fixture();
    let report = json(&env, &["doctor"]);
    assert_eq!(report["ok"], true);
    let checks = report["checks"].as_array().unwrap();
    assert!(!checks.is_empty());
    assert!(checks.iter().all(|c| c["status"] != "error"), "{report:#}");
    ok(&env, &["doctor"]);
}

#[test]
fn wisp_gc_keeps_fresh_wisps_and_durable_issues() {
    let env = fixture();
    let wisp = create(
        &env,
        "heartbeat",
        &["--ephemeral", "--wisp-type", "heartbeat"],
    );
    let dry = json(&env, &["wisp", "gc", "--dry-run"]);
    assert_eq!(dry["dry_run"], true);
    let done = json(&env, &["wisp", "gc"]);
    assert_eq!(done["dry_run"], false);
    assert_eq!(done["deleted"], serde_json::json!([]));
    assert!(ids(&json(&env, &["list", "--include-ephemeral"])).contains(&wisp));
    assert!(
        !ids(&json(&env, &["list"])).contains(&wisp),
        "wisps are hidden by default"
    );
    assert_eq!(json(&env, &["count"])["count"], 3);
}

#[test]
fn delete_previews_unless_forced() {
    let env = fixture();
    let preview = run(&env, &["delete", "t-docs"]);
    assert_eq!(preview.status.code(), Some(0));
    assert_eq!(crate::stdout(&preview), "t-docs\n");
    assert!(stderr(&preview).contains("--force"), "{}", stderr(&preview));
    assert_eq!(count(&env), 3);

    let done = json(&env, &["delete", "t-docs", "--force"]);
    assert_eq!(done["deleted"], serde_json::json!(["t-docs"]));
    assert_eq!(count(&env), 2);
    fails(&env, &["show", "t-docs"], 1);

    let list = env.work().join("doomed.txt");
    std::fs::write(&list, "# cleanup\nt-db\n\nt-login  # the last one\n").unwrap();
    let from_file = json(
        &env,
        &["delete", "--from-file", list.to_str().unwrap(), "--force"],
    );
    assert_eq!(from_file["deleted"].as_array().map(Vec::len), Some(2));
    assert_eq!(count(&env), 0);
}

#[test]
fn history_records_each_change() {
    let env = fixture();
    ok(&env, &["update", "t-docs", "-p", "1"]);
    ok(&env, &["close", "t-docs"]);
    let events = json(&env, &["history", "t-docs"]);
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"created"), "{kinds:?}");
    assert!(kinds.contains(&"closed"), "{kinds:?}");
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["actor"] == "alice")
    );
    let human = ok(&env, &["history", "t-docs"]);
    assert!(human.lines().count() >= 3, "{human}");
}

#[test]
fn children_of_a_parent() {
    let env = store();
    let epic = create(&env, "Epic", &["-t", "epic"]);
    let child = create(&env, "Step one", &["--parent", &epic]);
    assert_eq!(child, format!("{epic}.1"));
    assert_eq!(ids(&json(&env, &["children", &epic])), [child.as_str()]);
    assert_eq!(json(&env, &["show", &child])[0]["parent"], epic);
}

#[test]
fn actor_comes_from_flag_or_environment() {
    let env = store();
    let by_env = json(&env, &["create", "From env"]);
    assert_eq!(by_env["created_by"], "alice");
    let by_flag = json(&env, &["create", "From flag", "--actor", "carol"]);
    assert_eq!(by_flag["created_by"], "carol");
}

/// Without `--actor`, `BD_ACTOR`, `BEADS_ACTOR` or `USER` (a container, a cron job), the actor
/// is git's `user.name`, as upstream's bd does; with none of those either, `unknown`.
#[test]
fn without_user_the_actor_is_gits_user_name() {
    let env = TestEnv::new();
    let git = |args: &[&str]| {
        let out = env.command("git").args(args).output().expect("run git");
        assert!(out.status.success(), "git {args:?}");
    };
    git(&["init", "--quiet"]);
    crate::ok(&env, &["init", "--prefix", "t"]);
    let unknown = json(&env, &["create", "Before git knows me"]);
    assert_eq!(unknown["created_by"], "unknown");
    git(&["config", "user.name", "Dana Git"]);
    let issue = json(&env, &["create", "From git"]);
    assert_eq!(issue["created_by"], "Dana Git");
    let id = issue["id"].as_str().unwrap().to_owned();
    let shown = crate::run(&env, &["show", &id]);
    crate::assert_code(&shown, 0);
    env.set("USER", "erin");
    assert_eq!(json(&env, &["create", "From USER"])["created_by"], "erin");
}

#[test]
fn description_from_stdin_and_from_a_file() {
    let env = store();
    let out = crate::run_stdin(
        &env,
        &["create", "From stdin", "-d", "-", "--json"],
        "line one\nline two\n",
    );
    crate::assert_code(&out, 0);
    let issue: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(issue["description"], "line one\nline two\n");

    std::fs::write(env.work().join("body.md"), "# Body\n\nFrom a file.").unwrap();
    let issue = json(&env, &["create", "From file", "--body-file", "body.md"]);
    assert_eq!(issue["description"], "# Body\n\nFrom a file.");

    let out = crate::run_stdin(
        &env,
        &["create", "Stdin body file", "--body-file", "-", "--json"],
        "piped",
    );
    crate::assert_code(&out, 0);
    let issue: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(issue["description"], "piped");

    let id = issue["id"].as_str().unwrap().to_owned();
    let out = crate::run_stdin(&env, &["update", &id, "-d", "-"], "replaced");
    crate::assert_code(&out, 0);
    assert_eq!(json(&env, &["show", &id])[0]["description"], "replaced");

    let out = crate::run_stdin(&env, &["comment", &id, "-"], "a comment from stdin");
    crate::assert_code(&out, 0);
    assert_eq!(
        json(&env, &["comments", &id])[0]["text"],
        "a comment from stdin"
    );

    fails(
        &env,
        &["create", "Both", "-d", "x", "--body-file", "body.md"],
        2,
    );
}

#[test]
fn the_store_is_found_from_a_subdirectory_and_through_beads_dir() {
    let env = store();
    create(&env, "Findable", &[]);
    let nested = env.work().join("src/deep");
    std::fs::create_dir_all(&nested).unwrap();
    let out = bd(&env)
        .current_dir(&nested)
        .args(["count"])
        .output()
        .unwrap();
    crate::assert_code(&out, 0);
    assert_eq!(crate::stdout(&out), "1\n");

    let elsewhere = TestEnv::new();
    elsewhere.set("BEADS_DIR", env.work().join(".beads"));
    assert_eq!(ok(&elsewhere, &["count"]), "1\n");
    let db = env.work().join(".beads/beads.db");
    let other = TestEnv::new();
    assert_eq!(ok(&other, &["count", "--db", db.to_str().unwrap()]), "1\n");
}

#[test]
fn list_leaves_pinned_issues_out_unless_asked() {
    let env = store();
    let work = create(&env, "work", &[]);
    let pinned = create(&env, "standing reference", &[]);
    ok(&env, &["update", &pinned, "--status", "pinned"]);
    let only = |id: &String| vec![id.clone()];
    assert_eq!(ids(&json(&env, &["list"])), only(&work));
    assert_eq!(ids(&json(&env, &["list", "--pinned"])), only(&pinned));
    assert_eq!(
        ids(&json(&env, &["list", "--status", "pinned"])),
        only(&pinned)
    );
    let mut all = ids(&json(&env, &["list", "--all"]));
    all.sort();
    let mut both = vec![work.clone(), pinned.clone()];
    both.sort();
    assert_eq!(all, both);
    assert_eq!(ids(&json(&env, &["list", "--all", "--no-pinned"])), [work]);
    fails(&env, &["list", "--pinned", "--no-pinned"], 2);
}

#[test]
fn dep_blocks_and_blocked_by_say_which_way_the_edge_points() {
    let env = store();
    let (a, b, c) = (
        create(&env, "a", &[]),
        create(&env, "b", &[]),
        create(&env, "c", &[]),
    );
    // Upstream's shorthand: `bd dep A --blocks B` makes B wait for A.
    ok(&env, &["dep", &a, "--blocks", &b]);
    assert_eq!(json(&env, &["dep", "list", &b])[0]["id"], a.as_str());
    let added = json(&env, &["dep", "add", &c, "--blocked-by", &a]);
    assert_eq!(
        (added["blocked_id"].as_str(), added["blocker_id"].as_str()),
        (Some(c.as_str()), Some(a.as_str()))
    );
    ok(&env, &["dep", "add", &c, "--blocks", &b]);
    let mut waits: Vec<String> = ids(&json(&env, &["dep", "list", &b]));
    waits.sort();
    let mut want = vec![a.clone(), c.clone()];
    want.sort();
    assert_eq!(waits, want);
    fails(&env, &["dep", &a], 2);
    fails(&env, &["dep", "add", &a, &b, "--blocks", &c], 2);
}

#[test]
fn list_hides_gates_and_infrastructure_and_filters_by_due_and_deferral() {
    let env = store();
    let work = create(&env, "work", &["--due", "2030-01-01"]);
    let gate = create(&env, "gate", &["-t", "gate"]);
    let agent = create(&env, "agent bead", &["-t", "agent"]);
    let later = create(&env, "later", &["--defer", "2030-06-01"]);
    let mut listed = ids(&json(&env, &["list"]));
    listed.sort();
    let mut want = vec![work.clone(), later.clone()];
    want.sort();
    assert_eq!(listed, want);
    assert!(ids(&json(&env, &["list", "--include-gates"])).contains(&gate));
    assert!(ids(&json(&env, &["list", "--include-infra"])).contains(&agent));
    assert_eq!(ids(&json(&env, &["list", "-t", "agent"])), vec![agent]);
    assert_eq!(ids(&json(&env, &["list", "--deferred"])), vec![later]);
    assert_eq!(
        ids(&json(&env, &["list", "--due-before", "2031-01-01"])),
        vec![work.clone()]
    );
    assert!(ids(&json(&env, &["list", "--due-after", "2031-01-01"])).is_empty());
}

#[test]
fn show_children_maps_each_issue_to_its_children() {
    let env = store();
    let epic = create(&env, "epic", &["-t", "epic"]);
    let kid = create(&env, "kid", &["--parent", &epic]);
    let shown = json(&env, &["show", &epic, "--children"]);
    assert_eq!(shown[&epic][0]["id"], kid.as_str());
    assert_eq!(shown[&epic][0]["dependency_type"], "parent-child");
    assert!(ok(&env, &["show", &epic, "--children"]).contains(&kid));
    let other = create(&env, "related", &["--deps", &format!("related:{epic}")]);
    let refs = json(&env, &["show", &epic, "--refs"]);
    let mut referring: Vec<&str> = refs[&epic]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    referring.sort_unstable();
    let mut want = vec![kid.as_str(), other.as_str()];
    want.sort_unstable();
    assert_eq!(referring, want);
    // Upstream's switches for what `show` includes are accepted; ours includes them always.
    let full = json(
        &env,
        &["show", &epic, "--include-dependents", "--include-comments"],
    );
    assert_eq!(full[0]["dependents"][0]["id"], kid.as_str());
}

#[test]
fn create_from_a_markdown_plan_makes_every_issue_or_none() {
    let env = store();
    let db = create(&env, "database", &[]);
    let plan = env.work().join("plan.md");
    std::fs::write(
        &plan,
        format!("## Login\nSign in.\n### Priority\n1\n### Labels\nauth\n### Dependencies\n{db}\n\n## Docs\n"),
    )
    .unwrap();
    let made = json(&env, &["create", "-f", plan.to_str().unwrap()]);
    assert_eq!(made.as_array().map(Vec::len), Some(2));
    assert_eq!(
        (made[0]["title"].as_str(), made[0]["priority"].as_i64()),
        (Some("Login"), Some(1))
    );
    let login = made[0]["id"].as_str().unwrap();
    assert_eq!(json(&env, &["dep", "list", login])[0]["id"], db.as_str());
    assert_eq!(
        json(&env, &["label", "list", login]),
        serde_json::json!(["auth"])
    );

    std::fs::write(&plan, "## Fine\n\n## Broken\n### Dependencies\nt-nope\n").unwrap();
    fails(&env, &["create", "-f", plan.to_str().unwrap()], 1);
    assert_eq!(count(&env), 3, "nothing from the broken plan was created");
}

#[test]
fn query_selects_with_an_expression() {
    let env = store();
    let bug = create(&env, "login bug", &["-t", "bug", "-p", "0", "-l", "urgent"]);
    let task = create(&env, "write docs", &["-p", "3"]);
    let done = create(&env, "old bug", &["-t", "bug"]);
    ok(&env, &["close", &done]);
    let q = |expr: &str| {
        let mut got = ids(&json(&env, &["query", expr]));
        got.sort();
        got
    };
    assert_eq!(
        q("type=bug"),
        vec![bug.clone()],
        "closed issues are left out"
    );
    let mut both_bugs = vec![bug.clone(), done.clone()];
    both_bugs.sort();
    assert_eq!(q("type=bug AND (status=open OR status=closed)"), both_bugs);
    assert_eq!(q("label=urgent OR priority>2").len(), 2);
    assert_eq!(q("NOT label=urgent"), vec![task.clone()]);
    assert_eq!(q("title=docs AND assignee=none"), vec![task.clone()]);
    assert_eq!(q("created>1d"), {
        let mut open = vec![bug.clone(), task.clone()];
        open.sort();
        open
    });
    assert!(q("created<1d").is_empty());
    assert_eq!(ids(&json(&env, &["query", "type=bug", "--all"])).len(), 2);
    let out = fails(&env, &["query", "priority=high"], 1);
    assert!(stderr(&out).contains("invalid"), "{}", stderr(&out));
    fails(&env, &["query", "(type=bug"], 1);
}

#[test]
fn show_update_and_close_default_to_your_last_issue() {
    let env = store();
    let first = create(&env, "first", &[]);
    let second = create(&env, "second", &[]);
    assert_eq!(json(&env, &["show"])[0]["id"], second.as_str());
    ok(&env, &["show", &first]);
    assert_eq!(json(&env, &["update", "-p", "0"])[0]["id"], first.as_str());
    assert_eq!(json(&env, &["close"])[0]["id"], first.as_str());
    assert_eq!(json(&env, &["show", &second])[0]["status"], "open");
    // Another agent sharing the store has no last issue of its own.
    let out = bd(&env)
        .env("BD_ACTOR", "bob")
        .args(["close"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&env, &["show", &second])[0]["status"], "open");
}
