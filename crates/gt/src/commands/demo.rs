//! `gt demo`: the whole loop in a throwaway directory, with scripted agents.
//!
//! It builds a town around a small sample repository whose gate is a real test command,
//! files a handful of beads (one of them breaks the tests on purpose), slings them to
//! scripted agents — programs that follow a script, not AI models — runs the refinery until
//! the queue is empty, and tells what happened: the batch, the bisection that found the broken
//! change, the failing test output sent back, the convoy (in the order the beads were filed)
//! and the new history of `main`; then where the town was and that it is removed (`--keep`
//! keeps it).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;

use town::layout::Town;
use town::work::sling::{self, SlingOptions};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo directory instead of deleting it at the end.
    #[arg(long)]
    pub keep: bool,
    /// Seconds to wait for the scripted agents to finish.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
}

const TEST_SH: &str = r#"#!/bin/sh
# The sample project's test suite: every greeting is one non-empty line, and none says FAIL.
status=0
for f in greetings/*.txt; do
  [ -e "$f" ] || continue
  if [ "$(wc -l < "$f")" -ne 1 ] || [ ! -s "$f" ]; then echo "FAIL $f: a greeting is exactly one line"; status=1; fi
  if grep -q FAIL "$f"; then echo "FAIL $f: says FAIL"; status=1; fi
done
[ $status -eq 0 ] && echo "ok: $(ls greetings | wc -l) greetings pass"
exit $status
"#;

/// The beads: a title and the scripted agent's script.
const BEADS: &[(&str, &str)] = &[
    (
        "Add an English greeting",
        "write greetings/en.txt Hello, world\ncommit Add an English greeting\ndone",
    ),
    (
        "Add a French greeting",
        "write greetings/fr.txt Bonjour, le monde\ncommit Add a French greeting\ndone",
    ),
    (
        "Add a German greeting",
        "write greetings/de.txt Hallo, Welt\ncommit Add a German greeting\ndone",
    ),
    (
        "Add a broken greeting (fails the tests on purpose)",
        "write greetings/xx.txt FAIL\ncommit Add a broken greeting\ndone",
    ),
    (
        "Add a Spanish greeting",
        "write greetings/es.txt Hola, mundo\ncommit Add a Spanish greeting\ndone",
    ),
];

pub fn run(args: &DemoArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("gt-demo-")
        .tempdir()
        .context("creating the demo directory")?;
    let root = dir.path().canonicalize()?;
    let result = demo(&root, args, ui);
    let town = root.join("town");
    if args.keep {
        let _kept = dir.keep();
        ui.line(format!(
            "\nKept the demo town at {}: `cd {}` and look around (`gt status`, `bd list --all`, `gt convoy list --all`).",
            town.display(),
            town.display()
        ))?;
    } else {
        drop(dir);
        ui.line(format!(
            "\nRemoved the demo town at {}; `gt demo --keep` keeps it to look around.",
            town.display()
        ))?;
    }
    result
}

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    Ok(host::git::Git::new(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Demo")
        .env("GIT_AUTHOR_EMAIL", "demo@gastown.local")
        .env("GIT_COMMITTER_NAME", "Demo")
        .env("GIT_COMMITTER_EMAIL", "demo@gastown.local")
        .run(args)?)
}

fn demo(root: &Path, args: &DemoArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let gt_bin = host::env::current_exe()?;
    let agent_bin = gt_bin.with_file_name("gt-scripted-agent");
    if !agent_bin.exists() {
        return Err(ui::CliError::user(format!("the scripted agent is not installed beside gt (`{}`)", agent_bin.display()))
            .hint("build both: `cargo build --release -p gt`, or install with `cargo install --path crates/gt`")
            .into());
    }
    ui.line(format!(
        "Demo town: {} (a temporary directory, removed at the end unless `--keep`)",
        root.join("town").display()
    ))?;
    // A sample repository on a local "remote", with a test suite as its gate.
    let remote = root.join("greetings.git");
    git(
        root,
        &[
            "init",
            "--quiet",
            "--bare",
            "-b",
            "main",
            &remote.to_string_lossy(),
        ],
    )?;
    let seed = root.join("seed");
    git(
        root,
        &[
            "clone",
            "--quiet",
            &remote.to_string_lossy(),
            &seed.to_string_lossy(),
        ],
    )?;
    std::fs::create_dir_all(seed.join("greetings"))?;
    std::fs::write(seed.join("test.sh"), TEST_SH)?;
    std::fs::write(
        seed.join("greetings/README"),
        "One greeting per file, one line each.\n",
    )?;
    git(&seed, &["add", "."])?;
    git(
        &seed,
        &["commit", "--quiet", "-m", "Start the greetings project"],
    )?;
    git(&seed, &["push", "--quiet", "origin", "HEAD:main"])?;
    // The town, the rig, scripted agents, the gate.
    let town_root = root.join("town");
    let ctx = super::context();
    town::install::install(
        &town_root,
        &town::install::InstallOptions {
            name: Some("demo".into()),
            ..Default::default()
        },
        ctx,
    )?;
    let town = Town::at(&town_root);
    let now = beads::store::format_ts(host::clock::from_env().now());
    town::rig::add(
        &town,
        "greetings",
        &remote.to_string_lossy(),
        &town::rig::AddOptions::default(),
        &now,
    )?;
    let rig_settings = town::layout::RigPaths::new(&town, "greetings").settings_json();
    town::settings::set_in_file(
        &town.settings_json(),
        "town-settings",
        "default_agent",
        "scripted",
    )?;
    town::settings::set_in_file(
        &rig_settings,
        "rig-settings",
        "merge_queue.test_command",
        "sh test.sh",
    )?;
    ui.line("Built a town with rig `greetings`, a sample repository whose gate is its test suite (`sh test.sh`); its agents are scripted agents, programs following a script, not AI models.")?;
    // The beads.
    let mut store = beads::Store::open(&town.beads_dir(), super::context())?;
    let mut ids = Vec::new();
    for (title, script) in BEADS {
        let issue = store.create(beads::NewIssue {
            title: (*title).to_owned(),
            description: format!(
                "A change to the greetings project.\n\n```gt-script\n{script}\n```\n"
            ),
            prefix: Some("gr".into()),
            ..Default::default()
        })?;
        ids.push(issue.id);
    }
    // Sling them, headless.
    let runtime_dir = town.runtime_dir().join("sessions");
    let runtimes = town::runtime::Runtimes::new(
        town::runtime::TmuxRuntime::for_town(town.root(), None),
        town::runtime::SubprocessRuntime::new(runtime_dir),
        "subprocess",
    );
    let mut env = super::caller_env();
    env.retain(|(k, _)| k != "GT_TMUX_SOCKET" && k != "GT_RUNTIME");
    env.push(("GT_SCRIPTED_AGENT_READY_DELAY_MS".into(), "20".into()));
    let cx = sling::SlingContext {
        town: &town,
        runtimes: &runtimes,
        gt_bin: gt_bin.clone(),
        inherited_env: env,
        ready_timeout: Duration::from_secs(30),
        env: Some(&town::rigctx::process_env),
    };
    let slung = sling::sling(&mut store, &cx, &ids, "greetings", &SlingOptions::default())?
        .into_result()?;
    let convoy = slung.iter().find_map(|s| s.convoy.clone());
    ui.line(format!(
        "\nFiled {} beads (one breaks the tests on purpose) and slung them to rig `greetings`{}; each gets a polecat, its own worktree and a scripted agent:",
        ids.len(),
        convoy
            .as_deref()
            .map(|c| format!(" as convoy {c}"))
            .unwrap_or_default()
    ))?;
    for (s, (title, _)) in slung.iter().zip(BEADS) {
        ui.line(format!("  {}  {:<26}  {title}", s.bead, s.polecat))?;
    }
    // Wait for every agent to submit its work.
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    loop {
        let pending: Vec<String> = ids
            .iter()
            .filter(|id| {
                store
                    .get(id)
                    .map(|i| i.status != "submitted" && i.status != "closed")
                    .unwrap_or(true)
            })
            .cloned()
            .collect();
        if pending.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            return Err(ui::CliError::internal(format!(
                "the scripted agents did not finish in time: {} still open",
                pending.join(", ")
            ))
            .into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    ui.line(format!(
        "\nEvery agent committed its change and ran `gt done`: {} merge requests wait in the queue. The refinery runs:",
        ids.len()
    ))?;
    // Land what passes.
    let mut runner = town::refinery::runner::Runner::new(
        town.clone(),
        super::rig_ctx(&town, "greetings")?,
        super::store(&town)?,
    );
    runner.acquire()?;
    let mrs: Vec<beads::MergeRequest> = store.mrs(Some("greetings"), &[])?;
    for report in runner.run_until_idle()? {
        narrate_pass(ui, &report, &mrs, &store)?;
    }
    // The outcome.
    if let Some(c) = &convoy {
        let status = store.convoy_status(c)?;
        ui.line(format!(
            "\nConvoy {}: {} ({}/{} merged)",
            status.id,
            status.title,
            status.merged,
            status.tracked.len()
        ))?;
        // In the order the beads were filed, not the order of their random ids.
        let mut tracked = status.tracked;
        tracked.sort_by_key(|t| ids.iter().position(|id| *id == t.id));
        for t in &tracked {
            ui.line(format!("  {:<10} {:<10} {}", t.id, t.status, t.title))?;
        }
    }
    let out = ui.out();
    use std::io::Write as _;
    writeln!(out, "\nmain after the refinery:")?;
    let log = git(
        &seed,
        &[
            "--git-dir",
            &remote.to_string_lossy(),
            "log",
            "--format=  %h %s (%an)",
            "main",
        ],
    )?;
    write!(out, "{log}")?;
    Ok(())
}

/// Tells what one refinery pass did: the batch it tested, the bisection when the gate failed,
/// what landed, and what was sent back with which test output.
fn narrate_pass(
    ui: &mut ui::Ui,
    report: &town::refinery::PassReport,
    mrs: &[beads::MergeRequest],
    store: &beads::Store,
) -> anyhow::Result<()> {
    let describe = |label: &str| {
        mrs.iter().find(|m| m.label() == label).map_or_else(
            || label.to_owned(),
            |m| {
                let title = store.get(&m.bead_id).map(|i| i.title).unwrap_or_default();
                format!("{label} ({}, \"{title}\")", m.bead_id)
            },
        )
    };
    let changes = |n: usize| if n == 1 { "change" } else { "changes" };
    if report.failed.is_empty() {
        let what = if report.batch_size == 1 {
            "Tested the one change left".to_owned()
        } else {
            format!("Tested a batch of {} changes together", report.batch_size)
        };
        ui.line(format!("  {what}: the gate passed."))?;
    } else {
        ui.line(format!(
            "  Tested a batch of {} {} together: the gate failed, so the refinery bisected the batch ({} gate runs) and found the change that breaks it: {}.",
            report.batch_size,
            changes(report.batch_size),
            report.gate_runs,
            report.failed.iter().map(|l| describe(l)).collect::<Vec<_>>().join(", ")
        ))?;
    }
    if !report.landed.is_empty() {
        let sha = report
            .landed_sha
            .as_deref()
            .map_or("", |s| &s[..s.len().min(7)]);
        ui.line(format!(
            "  Landed {} on main in one fast-forward ({sha}).",
            report.landed.join(", ")
        ))?;
    }
    for label in &report.failed {
        let Some(mr) = mrs.iter().find(|m| m.label() == *label) else {
            continue;
        };
        // What the polecat was told: its `FIX_NEEDED` mail, with the gate's output.
        let all = beads::InboxQuery {
            unread_only: false,
            include_archived: true,
            limit: 0,
        };
        let subject = format!("FIX_NEEDED: {}", mr.bead_id);
        let mail = store
            .mail_inbox(&mr.polecat, &all)?
            .into_iter()
            .find(|m| m.message.subject.starts_with(&subject));
        ui.line(format!(
            "  Sent {label} back to its polecat ({}) with the failing test output, in this mail:",
            mr.polecat
        ))?;
        let body = mail.map_or_else(|| mr.reason.clone(), |m| m.message.body);
        for line in body.lines().filter(|l| !l.trim().is_empty()) {
            ui.line(format!("    | {line}"))?;
        }
    }
    for label in &report.requeued {
        ui.line(format!("  Requeued {label} for the next pass."))?;
    }
    Ok(())
}
