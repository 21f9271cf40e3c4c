//! `gt costs`: session totals recorded by `gt session-end` (the `Stop` hook, with Claude
//! Code's hook JSON naming a transcript in its real format), summed per agent or role, priced
//! by the built-in table or `settings/costs.json`.
#![expect(clippy::unwrap_used, reason = "test steps fail the test by panicking")]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use testkit::{TestEnv, assert_cmd_snapshot};

use super::GT;
use super::work_loop::{json, ok};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../town/tests/fixtures/transcripts"
);
const SESSION: &str = "5d3a9c1e-7f21-4b8e-a0c4-2e6f8b9d1a37";

/// Copies the fixture tree `name` under the test's Claude config dir; returns its new path.
fn install_fixture(env: &TestEnv, name: &str) -> PathBuf {
    let from = Path::new(FIXTURES).join(name);
    let to = env.home().join(".claude/projects").join(name);
    copy(&from, &to);
    to
}

fn copy(from: &Path, to: &Path) {
    if from.is_dir() {
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            copy(&e.path(), &to.join(e.file_name()));
        }
    } else {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    }
}

/// Runs `gt session-end` as Claude Code's `Stop` hook of `role`'s session on `transcript`.
fn stop_hook(env: &TestEnv, role: &str, transcript: &Path) -> Output {
    let input = serde_json::json!({
        "session_id": SESSION,
        "transcript_path": transcript,
        "cwd": "/town/gastown/polecats/nux",
        "hook_event_name": "Stop",
        "stop_hook_active": false,
    })
    .to_string();
    let mut child = env
        .command(GT)
        .arg("session-end")
        .env("GT_ROLE", role)
        .env("GT_AGENT", "claude")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn session_end_records_a_transcript_once_and_gt_costs_sums_it() {
    let env = TestEnv::new();
    ok(env.command(GT).args(["install", "town"]).output().unwrap());
    env.set("GT_TOWN_ROOT", env.work().join("town"));
    let dir = install_fixture(&env, "claude/-town-gastown-polecats-nux");
    let transcript = dir.join(format!("{SESSION}.jsonl"));
    assert_cmd_snapshot!(env, env.command(GT).arg("costs"), @r"
    exit_code: 0
    ----- stdout -----
    No agent sessions recorded (all time).
    ----- stderr -----
    ");

    // Every turn's end reads the whole transcript again: the session counts once.
    ok(stop_hook(&env, "mayor/", &transcript));
    ok(stop_hook(&env, "mayor/", &transcript));
    assert_cmd_snapshot!(env, env.command(GT).arg("costs"), @r"
    exit_code: 0
    ----- stdout -----
    Agent sessions, all time:
    AGENT   SESSIONS  INPUT  OUTPUT  CACHE WRITE  CACHE READ  TOTAL  USD
    mayor/  1         1210   571     4820         31970       38571  $0.04
    TOTAL   1         1210   571     4820         31970       38571  $0.04
    ----- stderr -----
    ");
    assert_cmd_snapshot!(env, env.command(GT).args(["costs", "--by-role", "--json"]), @r#"
    exit_code: 0
    ----- stdout -----
    {
      "since": null,
      "group_by": "role",
      "groups": [
        {
          "key": "mayor",
          "sessions": 1,
          "tokens": {
            "input": 1210,
            "output": 571,
            "cache_write": 4820,
            "cache_read": 31970
          },
          "total_tokens": 38571,
          "usd": 0.036821,
          "unpriced_tokens": 0,
          "models": [
            "claude-haiku-4-5-20251001",
            "claude-sonnet-4-5-20250929"
          ],
          "unpriced_models": []
        }
      ],
      "total": {
        "key": "total",
        "sessions": 1,
        "tokens": {
          "input": 1210,
          "output": 571,
          "cache_write": 4820,
          "cache_read": 31970
        },
        "total_tokens": 38571,
        "usd": 0.036821,
        "unpriced_tokens": 0,
        "models": [
          "claude-haiku-4-5-20251001",
          "claude-sonnet-4-5-20250929"
        ],
        "unpriced_models": []
      }
    }
    ----- stderr -----
    "#);

    // The session was active on 2026-12-05 (its transcript's times): in that day and the
    // week after it, not in the next day or a week later.
    let sessions_at = |now: &str, period: &str| {
        let out = ok(env
            .command(GT)
            .env("GT_TEST_NOW", now)
            .args(["--json", "costs", period])
            .output()
            .unwrap());
        json(&out)["total"]["sessions"].as_u64().unwrap()
    };
    assert_eq!(sessions_at("2026-12-05T23:59:00Z", "--today"), 1);
    assert_eq!(sessions_at("2026-12-06T00:01:00Z", "--today"), 0);
    assert_eq!(sessions_at("2026-12-12T09:00:00Z", "--week"), 1);
    assert_eq!(sessions_at("2026-12-12T09:30:00Z", "--week"), 0);

    // A transcript with bad lines: each is named by file and line, the rest still counts; a
    // model the table has no price for shows tokens and no dollars.
    let bad = env.work().join("bad.jsonl");
    let bytes = std::fs::read(Path::new(FIXTURES).join("claude-malformed.jsonl")).unwrap();
    let text = String::from_utf8_lossy(&bytes).replace("claude-sonnet-4-5", "local-llama");
    std::fs::write(&bad, text).unwrap();
    let out = stop_hook(&env, "gastown/crew/max", &bad);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.jsonl:2: not a transcript entry"),
        "{stderr}"
    );
    assert_cmd_snapshot!(env, env.command(GT).args(["costs", "--by-rig"]), @r"
    exit_code: 0
    ----- stdout -----
    Agent sessions, all time:
    RIG      SESSIONS  INPUT  OUTPUT  CACHE WRITE  CACHE READ  TOTAL  USD
    (none)   1         1210   571     4820         31970       38571  $0.04
    gastown  1         4      20      0            0           24     -
    TOTAL    2         1214   591     4820         31970       38595  $0.04
    24 tokens of models without a price (local-llama) are not in USD; prices go in settings/costs.json.
    ----- stderr -----
    ");

    // The town's own prices win over the built-in ones.
    std::fs::write(
        env.work().join("town/settings/costs.json"),
        r#"{"prices": {"claude-sonnet-4-5": {"input": 1000, "output": 1000, "cache_write": 0, "cache_read": 0},
                      "local-llama": {"input": 0, "output": 0}}}"#,
    )
    .unwrap();
    let by_role = json(&ok(env
        .command(GT)
        .args(["--json", "costs", "--by-role"])
        .output()
        .unwrap()));
    let mayor = &by_role["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == "mayor")
        .unwrap();
    // (10 input + 507 output) × $1000 per million, plus Haiku's built-in price.
    let usd = mayor["usd"].as_f64().unwrap();
    assert!(
        (usd - (0.517 + 1200.0 / 1e6 + 64.0 * 5.0 / 1e6)).abs() < 1e-9,
        "{mayor}"
    );
    assert_eq!(by_role["total"]["unpriced_tokens"], 0);

    // Bad prices and bad periods are refused, naming what is wrong.
    std::fs::write(
        env.work().join("town/settings/costs.json"),
        r#"{"prices": {"claude-sonnet-4-5": {"input": -3, "output": 15}}}"#,
    )
    .unwrap();
    assert_cmd_snapshot!(env, env.command(GT).arg("costs"), @r"
    exit_code: 1
    ----- stdout -----
    ----- stderr -----
    error: `[ROOT]/work/town/settings/costs.json`: `prices.claude-sonnet-4-5.input`: -3 is not a price (USD per million tokens, 0 or more)
    ");
    std::fs::remove_file(env.work().join("town/settings/costs.json")).unwrap();
    assert_cmd_snapshot!(env, env.command(GT).args(["costs", "--since", "last week"]), @r"
    exit_code: 2
    ----- stdout -----
    ----- stderr -----
    error: `--since` takes a date (YYYY-MM-DD) or an RFC 3339 instant, not `last week`
    ");
    assert_cmd_snapshot!(env, env.command(GT).args(["costs", "--since", "2026-12-06"]), @r"
    exit_code: 0
    ----- stdout -----
    No agent sessions recorded (since [TIMESTAMP]).
    ----- stderr -----
    ");
    assert_cmd_snapshot!(env, env.command(GT).args(["costs", "--today", "--week"]), @r"
    exit_code: 2
    ----- stdout -----
    ----- stderr -----
    error: the argument '--today' cannot be used with '--week'

    Usage: gt costs --today

    For more information, try '--help'.
    ");
}
