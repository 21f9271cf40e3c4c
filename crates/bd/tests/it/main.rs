//! End-to-end tests of the `bd` binary: each test runs the real executable in a hermetic
//! [`TestEnv`] and checks what a user or a script sees (stdout, stderr, exit code, JSON).
//!
//! One test binary for the whole crate (as jj does), with one module per area; the helpers
//! below are shared by all of them.

mod basics;
mod concurrency;
mod errors;
mod gates;
mod json_contract;
mod molecules;
mod readiness_cli;
mod store_guards;
mod sugar;
mod transfer;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use testkit::TestEnv;

/// The binary under test.
pub const BD: &str = env!("CARGO_BIN_EXE_bd");

/// A hermetic `bd` command (cwd = the env's `work/`), one clock tick per call.
pub fn bd(env: &TestEnv) -> Command {
    env.command(BD)
}

/// A fresh env acting as `alice`, with a store initialised in `work/` with prefix `t`.
pub fn store() -> TestEnv {
    let env = TestEnv::new();
    env.set("BD_ACTOR", "alice");
    ok(&env, &["init", "--prefix", "t"]);
    env
}

/// Runs `bd args…` and returns its output, whatever the outcome.
pub fn run(env: &TestEnv, args: &[&str]) -> Output {
    bd(env).args(args).output().expect("run bd")
}

/// Runs `bd args…` with `input` on standard input.
pub fn run_stdin(env: &TestEnv, args: &[&str], input: &str) -> Output {
    run_stdin_bytes(env, args, input.as_bytes())
}

/// Runs `bd args…` with `input` (any bytes) on standard input.
pub fn run_stdin_bytes(env: &TestEnv, args: &[&str], input: &[u8]) -> Output {
    let mut child = bd(env)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn bd");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin.write_all(input).expect("write bd's stdin");
    drop(stdin);
    child.wait_with_output().expect("wait for bd")
}

/// Stdout as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

/// Stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("stderr is UTF-8")
}

/// Asserts the exit code, showing both streams when it differs.
#[track_caller]
pub fn assert_code(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "expected exit {code}\n{}",
        testkit::filters::render_output(out)
    );
}

/// Runs `bd args…`, asserts success and returns stdout.
#[track_caller]
pub fn ok(env: &TestEnv, args: &[&str]) -> String {
    let out = run(env, args);
    assert_code(&out, 0);
    stdout(&out)
}

/// Runs `bd args… --json`, asserts success and parses stdout.
#[track_caller]
pub fn json(env: &TestEnv, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let text = ok(env, &all);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{text}"))
}

/// Runs `bd args…`, asserts exit `code` and returns the output.
#[track_caller]
pub fn fails(env: &TestEnv, args: &[&str], code: i32) -> Output {
    let out = run(env, args);
    assert_code(&out, code);
    out
}

/// `bd q TITLE extra…`: creates an issue and returns its id.
#[track_caller]
pub fn create(env: &TestEnv, title: &str, extra: &[&str]) -> String {
    let mut args = vec!["q", title];
    args.extend_from_slice(extra);
    let id = ok(env, &args).trim().to_owned();
    assert!(!id.is_empty(), "`bd q` printed no id");
    id
}

/// How many issues `bd count --all` sees.
#[track_caller]
pub fn count(env: &TestEnv) -> u64 {
    json(env, &["count", "--all"])["count"]
        .as_u64()
        .expect("count is a number")
}

/// The ids in a JSON array of issues, in order.
pub fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a JSON array")
        .iter()
        .map(|v| v["id"].as_str().expect("an id").to_owned())
        .collect()
}

/// Every `.rs` file in this directory is declared as a module in this file, so no test file is
/// silently left out of the build (as jj checks).
#[test]
fn no_forgotten_test_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it");
    let main = std::fs::read_to_string(dir.join("main.rs")).expect("read main.rs");
    let mut forgotten = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("read tests/it") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("a UTF-8 file name");
        if stem != "main" && !main.lines().any(|l| l.trim() == format!("mod {stem};")) {
            forgotten.push(stem.to_owned());
        }
    }
    assert!(
        forgotten.is_empty(),
        "declare these in tests/it/main.rs: {forgotten:?}"
    );
}
