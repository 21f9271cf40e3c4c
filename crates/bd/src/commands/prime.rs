//! `bd prime` and `bd version`.

use std::io::Write as _;

use clap::Args;

use crate::cli::Global;

#[derive(Debug, Args)]
pub struct PrimeArgs {}

#[derive(Debug, Args)]
pub struct VersionArgs {}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Accepted for compatibility with upstream bd (migrating never asks).
    #[arg(long, short)]
    pub yes: bool,
}

const WORKFLOW: &str = "\
# Working with beads (bd)

This project tracks its work as beads: issues with priorities and dependencies in a local store.

- `bd ready` lists work you can start now (open, unblocked, not deferred); `bd show <id>` gives details.
- `bd update <id> --claim` takes an issue atomically; if someone else holds it, pick another.
- Found more work on the way? `bd create \"Title\" --deps discovered-from:<id>`.
- Done? `bd close <id> --reason \"what you did\"`. Blocked? `bd dep add <id> <blocker>`.
- Add `--json` to any command for machine-readable output.
";

pub fn run(g: &Global, _args: &PrimeArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let store = super::open(g)?;
    let ready = store.ready(&beads::Filter {
        limit: 10,
        ..Default::default()
    })?;
    let mine = store.list(&beads::Filter {
        statuses: vec!["in_progress".into(), "hooked".into()],
        assignee: Some(store.actor().to_owned()),
        limit: 10,
        ..Default::default()
    })?;
    let mut text = WORKFLOW.to_owned();
    let section = |title: &str, views: &[beads::IssueView]| {
        let mut s = format!("\n## {title}\n\n");
        if views.is_empty() {
            s.push_str("(none)\n");
        }
        for v in views {
            s.push_str(&format!(
                "- {} [P{}] {}\n",
                v.issue.id,
                v.issue.priority,
                crate::render::safe(&v.issue.title)
            ));
        }
        s
    };
    text.push_str(&section(
        &format!("In progress for {}", store.actor()),
        &mine,
    ));
    text.push_str(&section("Ready to start", &ready));
    let memories = store.memories()?;
    if !memories.is_empty() {
        text.push_str("\n## Memories (`bd remember`)\n\n");
        for (key, value) in &memories {
            text.push_str(&format!(
                "- [{}] {}\n",
                crate::render::safe(key),
                crate::render::safe(value)
            ));
        }
    }
    if ui.is_json() {
        ui.json(&serde_json::json!({"prime": text}))?;
    } else {
        ui.out().write_all(text.as_bytes())?;
    }
    Ok(())
}

/// Opening a store migrates it to the latest schema (in one transaction, under a lock), so
/// this reports the version it is at.
pub fn migrate(g: &Global, _args: &MigrateArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let store = super::open(g)?;
    let version = beads::schema::LATEST_VERSION;
    if ui.is_json() {
        ui.json(
            &serde_json::json!({"status": "ok", "schema_version": version, "path": store.path()}),
        )?;
    } else {
        ui.status(format!("The store is at schema version {version}"));
    }
    Ok(())
}

pub fn version(_args: &VersionArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let version = env!("CARGO_PKG_VERSION");
    if ui.is_json() {
        ui.json(&serde_json::json!({"version": version, "schema_version": beads::schema::LATEST_VERSION}))?;
    } else {
        ui.line(format!("bd {version}"))?;
    }
    Ok(())
}
