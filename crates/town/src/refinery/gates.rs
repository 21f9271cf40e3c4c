//! Running the rig's gates (`merge_queue` setup, typecheck, lint, build, test) on a candidate,
//! each with its timeout, retrying a failure once to tell a flake from a real failure.
//!
//! Each gate runs in a process group of its own that dies with the runner, recorded in the
//! rig's gate record ([`record_path`]) while it runs; a gate a killed runner left behind is
//! stopped by [`reap_orphan`] before the next run touches the worktree.

use std::path::Path;
use std::time::Duration;

use crate::layout::Town;
use crate::settings::MergeQueue;

/// The record of the rig's running gate, beside the refinery's lock:
/// `.runtime/locks/refinery-<rig>.gate`.
pub fn record_path(town: &Town, rig: &str) -> std::path::PathBuf {
    town.locks_dir().join(format!("refinery-{rig}.gate"))
}

/// Stops the gate a killed runner of `rig` left running (its whole process group) and waits
/// until it is gone; returns its pgid if there was one. Call it holding the refinery lock.
pub fn reap_orphan(town: &Town, rig: &str) -> std::io::Result<Option<u32>> {
    host::shell::reap_recorded(&record_path(town, rig))
}

/// The gates to run, in order: `(name, command)` for each configured, non-empty command.
pub fn configured(mq: &MergeQueue) -> Vec<(&'static str, String)> {
    let mut gates = vec![
        ("setup", mq.setup_command.clone()),
        ("typecheck", mq.typecheck_command.clone()),
        ("lint", mq.lint_command.clone()),
        ("build", mq.build_command.clone()),
    ];
    if mq.run_tests {
        gates.push(("test", mq.test_command.clone()));
    }
    gates
        .into_iter()
        .filter(|(_, c)| !c.trim().is_empty())
        .collect()
}

/// The result of running every gate once on one tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GateResult {
    /// The first gate that failed (after its retries), with the end of its output.
    pub failed: Option<(String, String)>,
    /// Gate commands run (retries included).
    pub runs: u32,
    /// Gates that failed and then passed on retry.
    pub flakes: u32,
}

impl GateResult {
    pub fn passed(&self) -> bool {
        self.failed.is_none()
    }
}

/// Runs `gates` in `worktree`, each recorded in `record` while it runs. A failing gate is
/// retried up to `retries` times; passing on a retry counts as a flake, not a failure.
pub fn run(
    gates: &[(&'static str, String)],
    worktree: &Path,
    timeout: Duration,
    retries: u32,
    record: &Path,
) -> std::io::Result<GateResult> {
    let mut result = GateResult::default();
    for (name, command) in gates {
        let mut attempt = 0;
        loop {
            let out = host::shell::run(
                command,
                worktree,
                &[("GT_GATE".to_owned(), (*name).to_owned())],
                timeout,
                Some(record),
            )?;
            result.runs += 1;
            if out.success {
                if attempt > 0 {
                    result.flakes += 1;
                }
                break;
            }
            if attempt >= retries {
                let why = if out.timed_out {
                    format!("timed out after {}s\n", timeout.as_secs())
                } else {
                    String::new()
                };
                result.failed = Some(((*name).to_owned(), format!("{why}{}", out.output)));
                return Ok(result);
            }
            attempt += 1;
        }
    }
    Ok(result)
}
