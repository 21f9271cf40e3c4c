//! `gt install`, `gt rig …`, `gt status`, `gt config` and `gt doctor` against real git
//! repositories, including the failure paths that must leave nothing half-made.

use std::path::{Path, PathBuf};
use std::process::Output;

use testkit::{GitFixture, TestEnv};

use super::{GT, gt, stderr};

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ok(out: Output) -> Output {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    out
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)))
}

/// `bd`, built beside `gt` by the workspace test run.
fn bd_bin() -> PathBuf {
    let bd = Path::new(GT).with_file_name("bd");
    assert!(
        bd.exists(),
        "`{}` is missing: run the tests with `cargo test --workspace`",
        bd.display()
    );
    bd
}

/// A town at `<work>/town` with the current directory inside it.
fn town(env: &TestEnv) -> PathBuf {
    ok(gt(env, &["install", "town"]));
    let root = env.work().join("town");
    env.set("GT_TOWN_ROOT", &root);
    root
}

fn in_dir(
    env: &TestEnv,
    dir: &Path,
    program: impl AsRef<std::ffi::OsStr>,
    args: &[&str],
) -> Output {
    env.command(program)
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run")
}

#[test]
fn install_creates_the_town_layout_and_refuses_to_nest() {
    let env = TestEnv::new();
    let root = town(&env);
    for rel in [
        "mayor/town.json",
        "mayor/rigs.json",
        "settings/config.json",
        "CLAUDE.md",
        "AGENTS.md",
        ".beads/beads.db",
        ".beads/routes.jsonl",
        ".runtime",
        "logs",
    ] {
        assert!(root.join(rel).exists(), "{rel} missing");
    }
    let town_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("mayor/town.json")).unwrap()).unwrap();
    assert_eq!(town_json["type"], "town");
    assert_eq!(town_json["name"], "town");
    let nested = gt(&env, &["install", "town/inner"]);
    assert_eq!(nested.status.code(), Some(1));
    assert!(
        stderr(&nested).contains("is inside the town"),
        "{}",
        stderr(&nested)
    );
    assert!(!root.join("inner").exists());
    let again = gt(&env, &["install", "town"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));
}

#[test]
fn install_force_repairs_without_losing_data() {
    let env = TestEnv::new();
    let root = town(&env);
    let id = stdout(&ok(in_dir(
        &env,
        &root,
        bd_bin(),
        &["create", "keep me", "--silent"],
    )))
    .trim()
    .to_owned();
    assert!(id.starts_with("hq-"), "{id}");
    std::fs::remove_file(root.join("CLAUDE.md")).unwrap();
    std::fs::remove_dir_all(root.join("logs")).unwrap();
    let out = json(&ok(gt(&env, &["--json", "install", "town", "--force"])));
    assert_eq!(out["repaired"], true);
    let created: Vec<&str> = out["created"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        created.contains(&"CLAUDE.md") && created.contains(&"logs"),
        "{created:?}"
    );
    let shown = json(&ok(in_dir(&env, &root, bd_bin(), &["show", &id, "--json"])));
    assert_eq!(shown[0]["title"], "keep me");
}

#[test]
fn install_on_a_file_fails_and_git_option_makes_a_repo() {
    let env = TestEnv::new();
    std::fs::write(env.work().join("afile"), "x").unwrap();
    let out = gt(&env, &["install", "afile"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is a file"), "{}", stderr(&out));
    ok(gt(&env, &["install", "gitown", "--git"]));
    assert!(env.work().join("gitown/.git").is_dir());
    let ignore = std::fs::read_to_string(env.work().join("gitown/.gitignore")).unwrap();
    assert!(ignore.contains(".beads/beads.db"), "{ignore}");
}

#[test]
fn rig_add_builds_the_rig_and_routes_bd_by_directory() {
    let env = TestEnv::new();
    let remote = GitFixture::with_commits(&env, 2);
    let root = town(&env);
    let out = json(&ok(gt(
        &env,
        &["--json", "rig", "add", "gastown", &remote.remote_url()],
    )));
    assert_eq!(out["rig"]["beads"]["prefix"], "gt");
    let rig = root.join("gastown");
    for rel in [
        ".repo.git",
        "refinery/rig/.git",
        "polecats",
        "crew",
        "witness",
        "config.json",
        "settings/config.json",
    ] {
        assert!(rig.join(rel).exists(), "{rel} missing");
    }
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(rig.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["default_branch"], "main");
    assert_eq!(
        testkit::git::run(&env, rig.join("refinery/rig"), ["rev-parse", "HEAD"]),
        remote.head(),
        "the refinery worktree is on the remote's main"
    );
    // bd inside the rig creates gt- beads; at the root, hq- beads; any id resolves anywhere.
    let nested = rig.join("polecats/nux/src");
    std::fs::create_dir_all(&nested).unwrap();
    let rig_bead = stdout(&ok(in_dir(
        &env,
        &nested,
        bd_bin(),
        &["create", "rig work", "--silent"],
    )))
    .trim()
    .to_owned();
    let town_bead = stdout(&ok(in_dir(
        &env,
        &root,
        bd_bin(),
        &["create", "town work", "--silent"],
    )))
    .trim()
    .to_owned();
    assert!(rig_bead.starts_with("gt-"), "{rig_bead}");
    assert!(town_bead.starts_with("hq-"), "{town_bead}");
    ok(in_dir(&env, &nested, bd_bin(), &["show", &town_bead]));
    ok(in_dir(&env, &root, bd_bin(), &["show", &rig_bead]));
    // Status and list see the rig and its work.
    let status = json(&ok(gt(&env, &["--json", "status"])));
    assert_eq!(status["rigs"][0]["name"], "gastown");
    assert_eq!(status["rigs"][0]["open"], 1);
    assert_eq!(status["rigs"][0]["polecats"][0], "nux");
    let list = json(&ok(gt(&env, &["--json", "rig", "list"])));
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[test]
fn failed_rig_adds_leave_nothing_behind() {
    let env = TestEnv::new();
    let remote = GitFixture::with_commits(&env, 1);
    let root = town(&env);
    let rigs_before = std::fs::read(root.join("mayor/rigs.json")).unwrap();
    let routes_before = std::fs::read(root.join(".beads/routes.jsonl")).unwrap();
    let url = remote.remote_url();
    for (name, url, needle) in [
        ("my_rig.", url.as_str(), "invalid rig name"),
        ("a.b", url.as_str(), "invalid rig name"),
        ("..", url.as_str(), "invalid rig name"),
        ("two words", url.as_str(), "invalid rig name"),
        ("hq", url.as_str(), "reserved"),
        ("a/b", url.as_str(), "invalid rig name"),
        ("nowhere", "/no/such/repo", "cannot clone"),
    ] {
        let out = gt(&env, &["rig", "add", name, url]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{name}: {}", stderr(&out));
    }
    let empty = env.work().join("empty.git");
    testkit::git::run(&env, env.work(), ["init", "-q", "--bare", "empty.git"]);
    let out = gt(&env, &["rig", "add", "empty", &empty.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("has no commits"), "{}", stderr(&out));
    let mut left: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            ".beads",
            ".runtime",
            "AGENTS.md",
            "CLAUDE.md",
            "logs",
            "mayor",
            "settings"
        ]
    );
    assert_eq!(
        std::fs::read(root.join("mayor/rigs.json")).unwrap(),
        rigs_before
    );
    assert_eq!(
        std::fs::read(root.join(".beads/routes.jsonl")).unwrap(),
        routes_before
    );
    // Same name twice, and a prefix collision.
    ok(gt(&env, &["rig", "add", "gastown", &url]));
    let out = gt(&env, &["rig", "add", "gastown", &url]);
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    let out = gt(&env, &["rig", "add", "other", &url, "--prefix", "gt"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("already used"), "{}", stderr(&out));
    assert!(!root.join("other").exists());
}

/// A repository's name often has a `-`: such a rig is added and works (its prefix from the
/// words' initials); hostile names stay refused; and a duplicate is refused before anything is
/// cloned (or said to be), even with a URL that cannot be cloned.
#[test]
fn rig_names_may_have_dashes_and_a_duplicate_is_refused_before_cloning() {
    let env = TestEnv::new();
    let remote = GitFixture::with_commits(&env, 1);
    let root = town(&env);
    let url = remote.remote_url();
    let added = json(&ok(gt(&env, &["--json", "rig", "add", "my-project", &url])));
    assert_eq!(added["rig"]["beads"]["prefix"], "mp");
    let rig = root.join("my-project");
    let bead = stdout(&ok(in_dir(
        &env,
        &rig,
        bd_bin(),
        &["create", "works", "--silent"],
    )));
    assert!(bead.starts_with("mp-"), "{bead}");
    assert!(stdout(&ok(gt(&env, &["rig", "list"]))).contains("my-project"));

    let rigs_before = std::fs::read(root.join("mayor/rigs.json")).unwrap();
    let out = gt(
        &env,
        &["rig", "add", "my-project", "file:///nowhere/at/all.git"],
    );
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!(stderr(&out), @"error: a rig named `my-project` already exists");
    for hostile in ["-rf", "../x", "a/b", "a..b", "a b"] {
        let out = gt(&env, &["rig", "add", "--", hostile, &url]);
        assert_eq!(out.status.code(), Some(1), "{hostile}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("invalid rig name"),
            "{hostile}: {}",
            stderr(&out)
        );
    }
    assert_eq!(
        std::fs::read(root.join("mayor/rigs.json")).unwrap(),
        rigs_before
    );
}

#[test]
fn rig_remove_refuses_work_in_flight_and_park_toggles() {
    let env = TestEnv::new();
    let remote = GitFixture::with_commits(&env, 1);
    let root = town(&env);
    ok(gt(&env, &["rig", "add", "gastown", &remote.remote_url()]));
    let rig = root.join("gastown");
    let bead = stdout(&ok(in_dir(
        &env,
        &rig,
        bd_bin(),
        &["create", "busy", "--silent"],
    )))
    .trim()
    .to_owned();
    ok(in_dir(&env, &rig, bd_bin(), &["update", &bead, "--claim"]));
    let out = gt(&env, &["rig", "remove", "gastown"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("work in flight"), "{}", stderr(&out));
    assert!(rig.exists());
    ok(gt(&env, &["rig", "park", "gastown"]));
    assert_eq!(
        json(&ok(gt(&env, &["--json", "rig", "status", "gastown"])))["parked"],
        true
    );
    ok(gt(&env, &["rig", "unpark", "gastown"]));
    ok(gt(&env, &["rig", "remove", "gastown", "--force"]));
    assert!(!rig.exists());
    let routes = std::fs::read_to_string(root.join(".beads/routes.jsonl")).unwrap();
    assert!(!routes.contains("gastown"), "{routes}");
    let out = gt(&env, &["rig", "status", "gastown"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn settings_layer_and_bad_config_names_the_file_and_key() {
    let env = TestEnv::new();
    let remote = GitFixture::with_commits(&env, 1);
    let root = town(&env);
    ok(gt(&env, &["rig", "add", "gastown", &remote.remote_url()]));
    ok(gt(
        &env,
        &["config", "set", "merge_queue.test_command", "make test"],
    ));
    ok(gt(
        &env,
        &[
            "config",
            "set",
            "merge_queue.test_command",
            "cargo test",
            "--rig",
            "gastown",
        ],
    ));
    env.set("GT_MERGE_QUEUE__RETRY_FLAKY_TESTS", "2");
    let shown = json(&ok(gt(
        &env,
        &["--json", "rig", "config", "show", "gastown"],
    )));
    let find = |key: &str| {
        shown
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["key"] == key)
            .unwrap()
            .clone()
    };
    assert_eq!(find("merge_queue.test_command")["value"], "cargo test");
    assert_eq!(find("merge_queue.test_command")["layer"], "rig");
    assert_eq!(find("merge_queue.retry_flaky_tests")["layer"], "env");
    assert_eq!(find("scheduler.max_polecats")["layer"], "default");
    let town_value = json(&ok(gt(
        &env,
        &["--json", "config", "get", "merge_queue.test_command"],
    )));
    assert_eq!(town_value[0]["value"], "make test");
    let out = gt(&env, &["config", "set", "scheduler.max_polecats", "many"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("scheduler.max_polecats"),
        "{}",
        stderr(&out)
    );
    let out = gt(&env, &["config", "set", "no.such.key", "1"]);
    assert!(stderr(&out).contains("unknown setting"), "{}", stderr(&out));
    std::fs::write(
        root.join("gastown/settings/config.json"),
        r#"{"type":"rig-settings","merge_queue":{"retry_flaky_tests":"often"}}"#,
    )
    .unwrap();
    let out = gt(&env, &["rig", "config", "show", "gastown"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("gastown/settings/config.json")
            && err.contains("merge_queue.retry_flaky_tests"),
        "{err}"
    );
    let doctor = gt(&env, &["doctor"]);
    assert_eq!(doctor.status.code(), Some(1));
    assert!(
        stdout(&doctor).contains("settings:gastown"),
        "{}",
        stdout(&doctor)
    );
}

#[test]
fn doctor_fixes_what_is_safe() {
    let env = TestEnv::new();
    let remote = GitFixture::with_commits(&env, 1);
    let root = town(&env);
    ok(gt(&env, &["rig", "add", "gastown", &remote.remote_url()]));
    std::fs::remove_dir_all(root.join("gastown/crew")).unwrap();
    std::fs::remove_dir_all(root.join("logs")).unwrap();
    // A lock file nobody holds is free, not stale: doctor leaves it alone.
    std::fs::write(root.join(".runtime/locks/free.lock"), "").unwrap();
    let before = gt(&env, &["--json", "doctor"]);
    assert_eq!(before.status.code(), Some(1));
    let fixed = json(&ok(gt(&env, &["--json", "doctor", "--fix"])));
    let fixed_checks: Vec<&str> = fixed["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["fixed"] == true)
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert!(
        fixed_checks.contains(&"town_layout") && fixed_checks.contains(&"rig:gastown"),
        "{fixed_checks:?}"
    );
    assert!(root.join("gastown/crew").is_dir() && root.join("logs").is_dir());
    assert!(root.join(".runtime/locks/free.lock").exists());
    ok(gt(&env, &["doctor"]));
    let _ = GT;
}

/// A rig entry in `rigs.json` whose name leads outside the town (`..`, an absolute path, or a
/// valid name whose directory is a symlink elsewhere) is refused by every command that reads
/// the file, with an error naming the file and the entry; nothing outside is touched, and
/// doctor reports the entry without suggesting a destructive command.
#[test]
fn rig_names_read_from_rigs_json_are_validated_and_nothing_outside_is_touched() {
    let env = TestEnv::new();
    let remote = GitFixture::with_commits(&env, 1);
    let root = town(&env);
    ok(gt(&env, &["rig", "add", "gastown", &remote.remote_url()]));
    let bead = stdout(&ok(in_dir(
        &env,
        &root.join("gastown"),
        bd_bin(),
        &["create", "work", "--silent"],
    )))
    .trim()
    .to_owned();
    let victim = env.work().join("victim");
    std::fs::create_dir_all(&victim).unwrap();
    std::fs::write(victim.join("precious.txt"), "keep me\n").unwrap();
    let rigs_json = root.join("mayor/rigs.json");
    let original: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&rigs_json).unwrap()).unwrap();
    let with_entry = |name: &str| {
        let mut rigs = original.clone();
        let entry = rigs["rigs"]["gastown"].clone();
        rigs["rigs"][name] = entry;
        std::fs::write(&rigs_json, serde_json::to_string_pretty(&rigs).unwrap()).unwrap();
    };
    let absolute = victim.display().to_string();
    let cases = [
        ("../victim", None),
        (absolute.as_str(), None),
        ("victim", Some(())),
    ];
    for (name, symlink) in cases {
        with_entry(name);
        if symlink.is_some() {
            std::os::unix::fs::symlink(&victim, root.join(name)).unwrap();
        }
        for args in [
            vec!["rig", "list"],
            vec!["rig", "remove", name, "--force"],
            vec!["rig", "remove", "gastown", "--force"],
            vec!["rig", "status", "gastown"],
            vec!["status"],
            vec!["sling", &bead, "gastown"],
        ] {
            let out = gt(&env, &args);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(1), "{args:?} with `{name}`: {err}");
            // A bad name typed on the command line is refused as typed; every other command
            // is refused when it reads the file.
            let typed = args.contains(&name);
            assert!(
                err.contains(name)
                    && (typed
                        || err.contains("rigs.json") && err.contains(&format!("rigs.{name}"))),
                "{args:?} with `{name}`: {err}"
            );
        }
        let out = gt(&env, &["--json", "doctor"]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let report = json(&out);
        let checks = report["checks"].as_array().unwrap();
        let rigs_check = checks
            .iter()
            .find(|c| c["check"] == "config:rigs.json")
            .unwrap();
        assert_eq!(rigs_check["status"], "error", "{rigs_check}");
        assert!(
            rigs_check["message"].as_str().unwrap().contains(name),
            "{rigs_check}"
        );
        let text = report.to_string();
        assert!(
            !text.contains("rig remove"),
            "doctor suggests a delete: {text}"
        );
        let out = gt(&env, &["doctor", "--fix"]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert_eq!(
            std::fs::read_to_string(victim.join("precious.txt")).unwrap(),
            "keep me\n",
            "with `{name}`"
        );
        assert!(root.join("gastown/.repo.git").is_dir(), "with `{name}`");
        if symlink.is_some() {
            std::fs::remove_file(root.join(name)).unwrap();
        }
    }
    std::fs::write(&rigs_json, serde_json::to_string_pretty(&original).unwrap()).unwrap();
    ok(gt(&env, &["rig", "list"]));
    assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 1);
}
