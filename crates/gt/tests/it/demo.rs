//! `gt demo` and `scripts/demo`: the first run a new user makes. The demo tells what happened
//! (the batch, the bisection, the failing test output sent back), lists the convoy in the order
//! the beads were filed, and says where its town was and that it is gone (or kept); the script
//! finds the binary wherever cargo put it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use testkit::{TestEnv, require_cmd};

use super::{GT, stderr};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The demo's convoy section, ids replaced, as the user reads it.
fn convoy_section(out: &str) -> String {
    let start = out.find("Convoy ").expect("the demo lists its convoy");
    let end = out[start..].find("\n\n").map_or(out.len(), |e| start + e);
    ids_replaced(&out[start..end])
}

/// `gr-xxxx` and `hq-cv-xxxx` ids as `[ID]` (their suffix is random).
fn ids_replaced(text: &str) -> String {
    text.split_inclusive(|c: char| c.is_whitespace() || c == ':')
        .map(|word| {
            let trimmed = word.trim_end_matches(|c: char| c.is_whitespace() || c == ':');
            let is_id = trimmed.starts_with("gr-") || trimmed.starts_with("hq-cv-");
            if is_id {
                word.replacen(trimmed, "[ID]", 1)
            } else {
                word.to_owned()
            }
        })
        .collect()
}

#[test]
fn the_demo_tells_the_batch_the_bisection_and_the_output_sent_back_then_removes_its_town() {
    if !require_cmd("git") {
        return;
    }
    let env = TestEnv::new();
    let out = env.command(GT).arg("demo").output().expect("run gt demo");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for needle in [
        "Demo town: ",
        "scripted agents, programs following a script, not AI models",
        "Filed 5 beads (one breaks the tests on purpose)",
        "Tested a batch of 5 changes together: the gate failed, so the refinery bisected the batch",
        "found the change that breaks it: mr-",
        "\"Add a broken greeting (fails the tests on purpose)\"",
        "with the failing test output, in this mail:",
        "    | FAIL greetings/xx.txt: says FAIL",
        "main after the refinery:",
        "Start the greetings project (Demo)",
        "; `gt demo --keep` keeps it to look around.",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    insta::assert_snapshot!(convoy_section(&text), @r"
    Convoy [ID]: Batch: 5 beads to greetings (4/5 merged)
      [ID]    closed     Add an English greeting
      [ID]    closed     Add a French greeting
      [ID]    closed     Add a German greeting
      [ID]    hooked     Add a broken greeting (fails the tests on purpose)
      [ID]    closed     Add a Spanish greeting
    ");
    // It was removed: nothing of it is left in the temp dir.
    let left: Vec<_> = std::fs::read_dir(env.tmp())
        .expect("read TMPDIR")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("gt-demo-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn the_demo_keeps_its_town_with_keep_and_says_where() {
    if !require_cmd("git") {
        return;
    }
    let env = TestEnv::new();
    let out = env
        .command(GT)
        .args(["demo", "--keep"])
        .output()
        .expect("run gt demo");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let kept = text
        .lines()
        .find_map(|l| l.strip_prefix("Kept the demo town at "))
        .and_then(|l| l.split(':').next())
        .unwrap_or_else(|| panic!("no `Kept` line in:\n{text}"));
    assert!(kept.starts_with(env.tmp().to_str().unwrap()), "{kept}");
    assert!(Path::new(kept).join("mayor/town.json").is_file(), "{kept}");
    let status = env
        .command(GT)
        .current_dir(kept)
        .args(["convoy", "list", "--all"])
        .output()
        .expect("run gt convoy list");
    assert_eq!(status.status.code(), Some(0), "{}", stderr(&status));
}

/// `scripts/demo` runs the binary from wherever cargo's target directory is
/// (`CARGO_TARGET_DIR`, a cargo config's `target-dir`): it asks `cargo metadata`. Here a
/// stand-in `cargo` answers as the real one does, with a target directory elsewhere holding
/// this build's binaries.
#[test]
fn scripts_demo_finds_the_binary_in_cargos_target_directory() {
    if !require_cmd("git") {
        return;
    }
    let env = TestEnv::new();
    let target = env.root().join("elsewhere/target");
    let release = target.join("release");
    std::fs::create_dir_all(&release).unwrap();
    for bin in ["gt", "gt-scripted-agent", "bd"] {
        std::os::unix::fs::symlink(Path::new(GT).with_file_name(bin), release.join(bin)).unwrap();
    }
    let fake = env.root().join("fake-cargo");
    std::fs::create_dir_all(&fake).unwrap();
    let cargo = fake.join("cargo");
    std::fs::write(
        &cargo,
        format!(
            "#!/bin/sh\ncase \"$1\" in\n  build) exit 0 ;;\n  metadata) printf '{{\"packages\":[],\"target_directory\":\"{}\",\"version\":1}}\\n' ;;\n  *) exit 2 ;;\nesac\n",
            target.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
    env.prepend_path(&fake);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/demo");
    let out = env.command(&script).output().expect("run scripts/demo");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("main after the refinery:"),
        "{}",
        stdout(&out)
    );
}
