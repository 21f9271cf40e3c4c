//! Many `bd` processes against one store at once: 16 workers (threads), each running 100
//! sequential `bd` processes of mixed writes, with 20 claim targets raced by every worker.
//!
//! Afterwards the store must be whole: no process saw "database is locked" or "busy", every
//! failure is an expected user error (a lost claim race, a rejected cycle), the issue count and
//! ids add up, `bd doctor` agrees with a from-scratch readiness recompute, no cycle slipped in,
//! and every claim target has exactly one winner — in the exit codes, the assignee and the
//! `claimed` events.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::process::Output;

use serde_json::Value;
use testkit::TestEnv;

const BD: &str = env!("CARGO_BIN_EXE_bd");
const WORKERS: usize = 16;
const OPS_PER_WORKER: usize = 100;
/// Base issues every worker shares: `SHARED` edited freely, `TARGETS` only ever claimed.
const SHARED: usize = 20;
const TARGETS: usize = 20;

/// A deterministic generator (Knuth's MMIX LCG), seeded per worker.
struct Lcg(u64);

impl Lcg {
    fn new(seed: u64) -> Self {
        let mut rng = Self(seed ^ 0x9E37_79B9_7F4A_7C15);
        rng.next();
        rng
    }

    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    /// Uniform-enough in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next()).expect("31-bit values fit in usize") % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    Status,
    Priority,
    DepAdd,
    Close,
    Reopen,
    Label,
    Claim,
}

/// One finished `bd` process.
struct Run {
    worker: usize,
    op: Op,
    args: Vec<String>,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn describe(&self) -> String {
        format!(
            "worker-{} `bd {}` exited {:?}\n--- stdout\n{}--- stderr\n{}",
            self.worker,
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        )
    }
}

fn bd(env: &TestEnv, args: &[&str]) -> Output {
    env.command(BD).args(args).output().expect("run bd")
}

#[track_caller]
fn ok(env: &TestEnv, args: &[&str]) -> String {
    let out = bd(env, args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "`bd {}` failed\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

#[track_caller]
fn json(env: &TestEnv, args: &[&str]) -> Value {
    let text = ok(env, args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// The op sequence of one worker: a claim attempt on every target, in the same order for
/// everyone (so workers collide on the same target), mixed at random positions into random
/// other operations.
fn plan(rng: &mut Lcg) -> Vec<Op> {
    const MIX: &[(Op, usize)] = &[
        (Op::Create, 20),
        (Op::Status, 12),
        (Op::Priority, 13),
        (Op::DepAdd, 20),
        (Op::Close, 12),
        (Op::Reopen, 8),
        (Op::Label, 15),
    ];
    let total: usize = MIX.iter().map(|(_, w)| w).sum();
    let mut ops: Vec<Op> = (0..OPS_PER_WORKER - TARGETS)
        .map(|_| {
            let mut roll = rng.below(total);
            MIX.iter()
                .find(|(_, w)| {
                    if roll < *w {
                        true
                    } else {
                        roll -= w;
                        false
                    }
                })
                .map_or(Op::Create, |(op, _)| *op)
        })
        .collect();
    for _ in 0..TARGETS {
        let at = rng.below(ops.len() + 1);
        ops.insert(at, Op::Claim);
    }
    ops
}

/// Runs one worker's 100 processes. Worker-created issues have no dependencies of their own
/// and only their creator changes their status, so its close/reopen never fail; shared issues
/// take status, priority, label and dependency changes from everyone.
fn worker(
    env: &TestEnv,
    n: usize,
    shared: &[String],
    targets: &[String],
) -> (Vec<Run>, Vec<String>) {
    let actor = format!("worker-{n}");
    let mut rng = Lcg::new(n as u64 + 1);
    let mut runs = Vec::with_capacity(OPS_PER_WORKER);
    let mut created: Vec<String> = Vec::new();
    let mut open_own: Vec<String> = Vec::new();
    let mut closed_own: Vec<String> = Vec::new();
    let mut next_target = 0;
    for (step, planned) in plan(&mut rng).into_iter().enumerate() {
        // Close/reopen need an issue in the right state; otherwise create one.
        let op = match planned {
            Op::Close if open_own.is_empty() => Op::Create,
            Op::Reopen if closed_own.is_empty() => Op::Create,
            other => other,
        };
        let any: Vec<&String> = shared.iter().chain(created.iter()).collect();
        let args: Vec<String> = match op {
            Op::Create => vec![
                "create".into(),
                format!("{actor} step {step}"),
                "-p".into(),
                rng.below(5).to_string(),
                "--silent".into(),
            ],
            Op::Status => {
                let status = if rng.below(2) == 0 {
                    "in_progress"
                } else {
                    "open"
                };
                vec![
                    "update".into(),
                    rng.pick(shared).clone(),
                    "--status".into(),
                    status.into(),
                    "--json".into(),
                ]
            }
            Op::Priority => vec![
                "update".into(),
                (*rng.pick(&any)).clone(),
                "--priority".into(),
                rng.below(5).to_string(),
                "--json".into(),
            ],
            Op::DepAdd => {
                let from = rng.pick(shared).clone();
                let to = loop {
                    let t = (*rng.pick(&any)).clone();
                    if t != from {
                        break t;
                    }
                };
                vec!["dep".into(), "add".into(), from, to, "--json".into()]
            }
            Op::Close => {
                let id = open_own.swap_remove(rng.below(open_own.len()));
                vec!["close".into(), id, "--json".into()]
            }
            Op::Reopen => {
                let id = closed_own.swap_remove(rng.below(closed_own.len()));
                vec!["reopen".into(), id, "--json".into()]
            }
            Op::Label => vec![
                "label".into(),
                "add".into(),
                (*rng.pick(&any)).clone(),
                format!("l{}", rng.below(8)),
                "--json".into(),
            ],
            Op::Claim => {
                let t = targets[next_target].clone();
                next_target += 1;
                vec!["update".into(), t, "--claim".into(), "--json".into()]
            }
        };
        let out = env
            .command(BD)
            .args(&args)
            .args(["--actor", actor.as_str()])
            .output()
            .expect("run bd");
        let run = Run {
            worker: n,
            op,
            args,
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        if run.code == Some(0) {
            match op {
                Op::Create => {
                    let id = run.stdout.trim().to_owned();
                    created.push(id.clone());
                    open_own.push(id);
                }
                Op::Close => closed_own.push(run.args[1].clone()),
                Op::Reopen => open_own.push(run.args[1].clone()),
                _ => {}
            }
        } else if matches!(op, Op::Close | Op::Reopen) {
            // Unexpected (reported later); keep the bookkeeping honest.
            let id = run.args[1].clone();
            match op {
                Op::Close => open_own.push(id),
                _ => closed_own.push(id),
            }
        }
        runs.push(run);
    }
    (runs, created)
}

#[test]
fn concurrent_processes_keep_the_store_consistent() {
    let started = std::time::Instant::now();
    let env = TestEnv::new();
    env.set("BD_ACTOR", "setup");
    ok(&env, &["init", "--prefix", "st"]);

    let create = |title: String| ok(&env, &["create", &title, "--silent"]).trim().to_owned();
    let shared: Vec<String> = (0..SHARED).map(|i| create(format!("shared {i}"))).collect();
    let targets: Vec<String> = (0..TARGETS)
        .map(|i| create(format!("target {i}")))
        .collect();
    // Some blocking chains among the shared issues, and some targets blocked by them, so
    // readiness has work to do while everything else changes.
    for i in (1..SHARED).step_by(2) {
        ok(&env, &["dep", "add", &shared[i], &shared[i - 1]]);
    }
    for i in (0..TARGETS).step_by(3) {
        ok(&env, &["dep", "add", &targets[i], &shared[i % SHARED]]);
    }
    let base = SHARED + TARGETS;

    let results: Vec<(Vec<Run>, Vec<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..WORKERS)
            .map(|n| {
                let (env, shared, targets) = (&env, &shared, &targets);
                s.spawn(move || worker(env, n, shared, targets))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker thread"))
            .collect()
    });
    let runs: Vec<&Run> = results.iter().flat_map(|(r, _)| r.iter()).collect();
    let created: Vec<&String> = results.iter().flat_map(|(_, c)| c.iter()).collect();
    assert_eq!(runs.len(), WORKERS * OPS_PER_WORKER);

    // Every process: no lock errors; success, or an expected user error.
    let mut unexpected = Vec::new();
    let mut winners: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let (mut lost_claims, mut cycles) = (0, 0);
    for r in &runs {
        let err = r.stderr.to_lowercase();
        if err.contains("database is locked") || err.contains("busy") {
            unexpected.push(format!("lock contention surfaced:\n{}", r.describe()));
            continue;
        }
        match (r.op, r.code) {
            (Op::Claim, Some(0)) => {
                let v: Value = serde_json::from_str(&r.stdout).expect("claim JSON");
                assert_eq!(
                    v[0]["assignee"],
                    format!("worker-{}", r.worker),
                    "{}",
                    r.describe()
                );
                winners
                    .entry(r.args[1].as_str())
                    .or_default()
                    .push(r.worker);
            }
            (Op::Claim, Some(1)) if r.stderr.contains("already claimed by") => lost_claims += 1,
            (Op::DepAdd, Some(1)) if r.stderr.contains("would create a cycle") => cycles += 1,
            (_, Some(0)) => {}
            _ => unexpected.push(r.describe()),
        }
    }
    assert!(
        unexpected.is_empty(),
        "{} unexpected failure(s):\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );

    // Counts and ids add up.
    let unique: HashSet<&String> = created.iter().copied().collect();
    assert_eq!(
        unique.len(),
        created.len(),
        "a create returned a duplicate id"
    );
    let stored: BTreeSet<String> = json(&env, &["sql", "SELECT id FROM issues", "--json"])
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect();
    let expected: BTreeSet<String> = shared
        .iter()
        .chain(&targets)
        .chain(created.iter().copied())
        .cloned()
        .collect();
    assert_eq!(stored.len(), base + created.len(), "issue count");
    assert_eq!(
        stored, expected,
        "the stored ids are the base ones plus the created ones"
    );

    // Readiness matches a from-scratch recompute; no cycle got in through a race.
    let doctor = bd(&env, &["doctor", "--json"]);
    let report = String::from_utf8_lossy(&doctor.stdout);
    assert_eq!(doctor.status.code(), Some(0), "bd doctor failed:\n{report}");
    assert_eq!(
        serde_json::from_str::<Value>(&report).expect("doctor JSON")["ok"],
        true,
        "{report}"
    );
    assert_eq!(
        json(&env, &["dep", "cycles", "--json"]),
        serde_json::json!([])
    );

    // Exactly one winner per target, and the store agrees.
    assert_eq!(winners.len(), TARGETS, "targets with a winner: {winners:?}");
    for t in &targets {
        let w = &winners[t.as_str()];
        assert_eq!(w.len(), 1, "{t} was won by workers {w:?}");
        let issue = &json(&env, &["show", t, "--json"])[0];
        assert_eq!(issue["assignee"], format!("worker-{}", w[0]), "{issue:#}");
        assert_eq!(issue["status"], "in_progress", "{issue:#}");
    }
    assert_eq!(
        lost_claims,
        TARGETS * (WORKERS - 1),
        "every other attempt lost"
    );
    let events = json(
        &env,
        &[
            "sql",
            "SELECT issue_id, count(*) AS n FROM events WHERE event_type='claimed' GROUP BY issue_id",
            "--json",
        ],
    );
    let claimed: BTreeMap<String, i64> = events
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["issue_id"].as_str().expect("issue_id").to_owned(),
                r["n"].as_i64().expect("count"),
            )
        })
        .collect();
    let want: BTreeMap<String, i64> = targets.iter().map(|t| (t.clone(), 1)).collect();
    assert_eq!(
        claimed, want,
        "one `claimed` event per target, none elsewhere"
    );

    eprintln!(
        "{} processes by {WORKERS} workers in {:.1?}: {} creates, {} lost claims, {} cycles rejected",
        runs.len(),
        started.elapsed(),
        created.len(),
        lost_claims,
        cycles
    );
}
