//! Crash points: a process run with `GT_TEST_KILL_AT=<name>` sends itself `SIGKILL` when it
//! reaches the point of that name. A test can so kill a command exactly between two of its
//! steps (a change and its record, say), where a kill on a timer lands there only by luck.
//! Unset, as it is outside tests, a point costs one environment lookup.

use rustix::process::{Signal, getpid, kill_process};

/// Dies here, as a `SIGKILL` from outside would kill it, if `GT_TEST_KILL_AT` names `name`.
pub fn point(name: &str) {
    if crate::env::var(crate::env::GT_TEST_KILL_AT).as_deref() == Some(name) {
        // Nothing after this line runs: no destructor, no flush, no lock released by us.
        let _ = kill_process(getpid(), Signal::KILL);
    }
}
