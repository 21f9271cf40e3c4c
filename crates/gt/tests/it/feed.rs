//! `gt feed`: `--plain` prints the town's events as they are committed (a scripted agent's
//! whole loop, end to end on a private tmux server), and the TUI refuses to start without a
//! terminal. The TUI's frames and keys are tested beside its code (`commands::feed::tests`).

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Instant;

use testkit::assert_cmd_snapshot;

use super::work_loop::{TIMEOUT, Town, script};

/// A child process killed when the test ends, however it ends (a failed assertion included).
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The word after the timestamp: the event's kind.
fn kind(line: &str) -> &str {
    line.split_whitespace().nth(1).unwrap_or_default()
}

#[test]
fn plain_prints_each_event_of_a_loop_as_it_happens() {
    let Some(t) = Town::new() else { return };
    let mut child = Killed(
        t.env
            .command(super::GT)
            .args(["feed", "--plain", "--last", "0"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let out = child.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Nothing happened yet, so nothing is printed (it waits; it does not tick).
    assert!(
        rx.recv_timeout(std::time::Duration::from_millis(700))
            .is_err(),
        "printed with nothing committed"
    );
    let bead = t.create(
        "add a greeting",
        &script("write hello.txt hello\ncommit add a greeting\ndone COMPLETED"),
    );
    t.sling(&[&bead, "gastown"]);
    let deadline = Instant::now() + TIMEOUT;
    let mut lines = Vec::new();
    while !lines.iter().any(|l: &String| kind(l) == "mr_queued") {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => lines.push(line),
            Err(_) => panic!(
                "no mr_queued within {TIMEOUT:?}; printed:\n{}",
                lines.join("\n")
            ),
        }
    }
    drop(child);
    let kinds: Vec<&str> = lines.iter().map(|l| kind(l)).collect();
    let mut rest = kinds.iter();
    // (No `polecat_working`: an agent this quick may run `gt done` before sling marks it so.)
    for want in ["bead_created", "sling", "spawn", "mr_queued"] {
        assert!(
            rest.any(|k| *k == want),
            "{want} missing or out of order: {kinds:?}"
        );
    }
    for line in &lines {
        let at = line.split_whitespace().next().unwrap();
        assert!(
            at.parse::<jiff::Timestamp>().is_ok(),
            "no time first: {line}"
        );
    }
    let created = lines.iter().find(|l| kind(l) == "bead_created").unwrap();
    assert!(created.contains("gastown"), "the rig is named: {created}");
}

#[test]
fn the_tui_needs_a_terminal_and_last_needs_plain() {
    let Some(t) = Town::new() else { return };
    assert_cmd_snapshot!(t.env, t.env.command(super::GT).arg("feed").stdin(Stdio::null()), @r"
    exit_code: 1
    ----- stdout -----
    ----- stderr -----
    error: `gt feed` needs a terminal

    hint: `gt feed --plain` prints the events as lines instead
    ");
    let out = t.gt(&["feed", "--last", "3"]);
    assert_eq!(out.status.code(), Some(2), "{}", super::stderr(&out));
}
