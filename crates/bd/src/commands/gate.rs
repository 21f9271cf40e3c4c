//! `bd gate`: list, show, create, resolve and check gates (issues that hold work back until
//! something outside happens: a timer, another bead, a GitHub run or PR, a person).

use beads::ops::gate::GateCheck;
use beads::{CloseOptions, Filter, Issue, Sort};
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::cli::Global;
use crate::render;

#[derive(Debug, Subcommand)]
pub enum GateCommand {
    /// Open gates (with `--all`, closed ones too).
    List(ListArgs),
    /// One gate in full.
    Show(IdArgs),
    /// Create a gate that an issue must wait for.
    Create(CreateArgs),
    /// Resolve (close) a gate by hand.
    Resolve(ResolveArgs),
    /// Check timer, bead and GitHub gates and close the ones whose condition is met.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(short, long)]
    pub all: bool,
    #[arg(short = 'n', long, default_value_t = 50)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct IdArgs {
    pub id: String,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The issue that waits for the gate.
    #[arg(long, value_name = "ID")]
    pub blocks: String,
    /// What the gate waits for: human, timer, bead, gh:run, gh:pr, mail.
    #[arg(short = 't', long = "type", default_value = "human")]
    pub kind: String,
    /// What exactly: a run id, a PR number, `rig:bead-id`.
    #[arg(long, default_value = "")]
    pub await_id: String,
    /// For timer gates, how long (30m, 2h, 1d).
    #[arg(long, default_value = "")]
    pub timeout: String,
    /// Why the gate is there.
    #[arg(short, long, default_value = "")]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct ResolveArgs {
    pub id: String,
    #[arg(short, long)]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Only gates of this kind: timer, bead, gh (both GitHub kinds), gh:run, gh:pr, all.
    #[arg(short = 't', long = "type")]
    pub kind: Option<String>,
    /// Say what would be resolved without closing anything.
    #[arg(long)]
    pub dry_run: bool,
}

/// One gate as `gate check --json` reports it.
#[derive(Debug, Serialize)]
struct Checked {
    id: String,
    await_type: String,
    await_id: String,
    outcome: &'static str,
    reason: String,
}

pub fn run(g: &Global, cmd: GateCommand, ui: &mut ui::Ui) -> anyhow::Result<()> {
    match cmd {
        GateCommand::List(a) => {
            let store = super::open(g)?;
            let gates = store.list(&gate_filter(a.all, a.limit))?;
            render::issues(ui, &gates, "No gates")?;
        }
        GateCommand::Show(a) => {
            let store = super::open(g)?;
            let d = store.show(&a.id)?;
            if d.issue.issue_type != "gate" {
                return Err(ui::CliError::user(format!("`{}` is not a gate", d.issue.id)).into());
            }
            if ui.is_json() {
                ui.json(&[d])?;
            } else {
                render::details(ui, &d)?;
            }
        }
        GateCommand::Create(a) => {
            let timeout = beads::ops::molecule::parse_timeout(&a.timeout)?;
            let mut store = super::open(g)?;
            let gate = store.create_gate(&a.blocks, &a.kind, &a.await_id, timeout, &a.reason)?;
            if ui.is_json() {
                ui.json(&gate)?;
            } else {
                ui.line(&gate.id)?;
                ui.status(format!(
                    "Created gate {}: {}",
                    gate.id,
                    render::safe(&gate.title)
                ));
            }
        }
        GateCommand::Resolve(a) => {
            let mut store = super::open(g)?;
            if store.get(&a.id)?.issue_type != "gate" {
                return Err(ui::CliError::user(format!("`{}` is not a gate", a.id)).into());
            }
            let closed = close_gate(&mut store, &a.id, a.reason.as_deref().unwrap_or("resolved"))?;
            render::changed(ui, &store, "Resolved", std::slice::from_ref(&closed))?;
        }
        GateCommand::Check(a) => check(g, &a, ui)?,
    }
    Ok(())
}

fn gate_filter(all: bool, limit: usize) -> Filter {
    Filter {
        types: vec!["gate".into()],
        all,
        include_ephemeral: true,
        sort: Sort::Oldest,
        limit,
        ..Filter::default()
    }
}

fn close_gate(store: &mut beads::Store, id: &str, reason: &str) -> anyhow::Result<Issue> {
    let opts = CloseOptions {
        reason: reason.to_owned(),
        force: true,
        session: String::new(),
    };
    Ok(store.close(id, &opts)?)
}

fn wanted(kind: Option<&str>, gate: &Issue) -> bool {
    match kind {
        None | Some("all") => true,
        Some("gh") => gate.await_type.starts_with("gh:"),
        Some(k) => gate.await_type == k,
    }
}

fn check(g: &Global, a: &CheckArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let mut store = super::open(g)?;
    let gates: Vec<Issue> = store
        .list(&gate_filter(false, 0))?
        .into_iter()
        .map(|v| v.issue)
        .filter(|gate| wanted(a.kind.as_deref(), gate))
        .collect();
    let mut report = Vec::new();
    for gate in gates {
        let decided = match store.check_gate(&gate) {
            Ok(Some(c)) => Ok(c),
            Ok(None) if gate.await_type.starts_with("gh:") => github(&gate),
            Ok(None) => continue, // Human and mail gates wait for `bd gate resolve`.
            Err(e) => Err(anyhow::Error::from(e)),
        };
        let (outcome, reason) = match decided {
            Ok(GateCheck::Resolved(why)) => {
                if !a.dry_run {
                    close_gate(&mut store, &gate.id, &why)?;
                }
                ("resolved", why)
            }
            Ok(GateCheck::Pending(why)) => ("pending", why),
            Ok(GateCheck::Escalate(why)) => ("escalate", why),
            Err(e) => ("error", format!("{e:#}")),
        };
        report.push(Checked {
            id: gate.id,
            await_type: gate.await_type,
            await_id: gate.await_id,
            outcome,
            reason,
        });
    }
    let count = |o: &str| report.iter().filter(|c| c.outcome == o).count();
    if ui.is_json() {
        ui.json(&serde_json::json!({
            "checked": report.len(),
            "resolved": count("resolved"),
            "escalated": count("escalate"),
            "errors": count("error"),
            "dry_run": a.dry_run,
            "gates": report,
        }))?;
        return Ok(());
    }
    for c in &report {
        let verb = match (c.outcome, a.dry_run) {
            ("resolved", true) => "would resolve",
            (o, _) => o,
        };
        ui.line(format!("{}  {verb}: {}", c.id, render::safe(&c.reason)))?;
    }
    ui.status(format!(
        "Checked {} gate(s): {} resolved, {} to escalate, {} error(s)",
        report.len(),
        count("resolved"),
        count("escalate"),
        count("error")
    ));
    Ok(())
}

/// Asks GitHub's CLI about a `gh:pr` or `gh:run` gate.
fn github(gate: &Issue) -> anyhow::Result<GateCheck> {
    #[derive(serde::Deserialize)]
    struct Pr {
        state: String,
    }
    #[derive(serde::Deserialize)]
    struct Run {
        status: String,
        conclusion: String,
    }
    if gate.await_id.is_empty() {
        return Ok(GateCheck::Pending("no PR number or run id to check".into()));
    }
    let id = gate.await_id.as_str();
    if gate.await_type.starts_with("gh:pr") {
        let out = host::process::output("gh", &["pr", "view", id, "--json", "state"])?;
        let pr: Pr = serde_json::from_str(&out)?;
        return Ok(match pr.state.as_str() {
            "MERGED" => GateCheck::Resolved(format!("PR {id} was merged")),
            "CLOSED" => GateCheck::Escalate(format!("PR {id} was closed without merging")),
            other => GateCheck::Pending(format!("PR {id} is {}", other.to_lowercase())),
        });
    }
    let out = host::process::output("gh", &["run", "view", id, "--json", "status,conclusion"])?;
    let run: Run = serde_json::from_str(&out)?;
    Ok(match (run.status.as_str(), run.conclusion.as_str()) {
        ("completed", "success") => GateCheck::Resolved(format!("run {id} succeeded")),
        ("completed", other) => GateCheck::Escalate(format!("run {id} ended: {other}")),
        (status, _) => GateCheck::Pending(format!("run {id} is {status}")),
    })
}
