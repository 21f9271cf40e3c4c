//! `gt mq list/status/submit/retry/reject/stats`: the merge requests.

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum MqCommand {
    /// Merge requests (open ones unless `--all`).
    List(ListArgs),
    /// One merge request.
    Status(OneArgs),
    /// Queue a branch by hand: `gt mq submit <rig> <branch> --bead <id>`.
    Submit(SubmitArgs),
    /// Send a failed or conflicted request back to the queue.
    Retry(OneArgs),
    /// Take a request out of the queue for good.
    Reject(RejectArgs),
    /// Queue wait, gate runs per landed change, bisection depth.
    Stats(StatsArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this rig.
    pub rig: Option<String>,
    /// Include merged, superseded and rejected requests.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct OneArgs {
    /// `mr-12` or `12`.
    pub mr: String,
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    pub rig: String,
    /// A branch on the rig's remote.
    pub branch: String,
    /// The bead the branch works on.
    #[arg(long)]
    pub bead: String,
}

#[derive(Debug, Args)]
pub struct RejectArgs {
    pub mr: String,
    #[arg(long, default_value = "rejected by hand")]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    pub rig: Option<String>,
}

fn parse(s: &str) -> anyhow::Result<i64> {
    Ok(beads::ops::mr::parse_mr_id(s)?)
}

pub fn run(cmd: MqCommand, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    let mut store = super::store(&town)?;
    match cmd {
        MqCommand::List(a) => {
            if let Some(rig) = &a.rig {
                town::rig::entry(&town, rig)?;
            }
            let states: &[beads::MrState] = if a.all { &[] } else { beads::MrState::OPEN };
            let view = town::views::mq(&store, a.rig.as_deref(), states)?;
            if ui.is_json() {
                ui.json(&view)?;
            } else if view.requests.is_empty() {
                ui.status("No merge requests");
            } else {
                table(ui, &view.requests, "")?;
            }
        }
        MqCommand::Status(a) => {
            let mr = store.mr(parse(&a.mr)?)?;
            if ui.is_json() {
                ui.json(&mr)?;
            } else {
                for (k, v) in [
                    ("mr", mr.label()),
                    ("state", mr.state.to_string()),
                    ("rig", mr.rig.clone()),
                    ("bead", mr.bead_id.clone()),
                    ("branch", mr.branch.clone()),
                    ("sha", mr.sha.clone()),
                    ("target", mr.target.clone()),
                    ("polecat", mr.polecat.clone()),
                    ("retries", mr.retries.to_string()),
                    ("merged as", mr.merged_sha.clone()),
                    ("reason", super::safe(&mr.reason)),
                ] {
                    if !v.is_empty() {
                        ui.line(format!("{k:<9}  {v}"))?;
                    }
                }
            }
        }
        MqCommand::Submit(a) => {
            let entry = town::rig::entry(&town, &a.rig)?;
            let bead = store.resolve(&a.bead)?;
            let worktree = town::layout::RigPaths::new(&town, &a.rig).refinery_worktree();
            let sha = town::refinery::git::remote_sha(&worktree, &a.branch)?;
            if sha.is_empty() {
                return Err(ui::CliError::user(format!(
                    "the remote of `{}` has no branch `{}`",
                    a.rig, a.branch
                ))
                .into());
            }
            let config = town::layout::RigPaths::new(&town, &a.rig).config()?;
            let issue = store.get(&bead)?;
            let (mr, created) = store.submit_mr(&beads::NewMergeRequest {
                rig: a.rig.clone(),
                bead_id: bead.clone(),
                branch: a.branch.clone(),
                sha,
                target: config.default_branch,
                polecat: String::new(),
                priority: issue.priority,
            })?;
            let _ = entry;
            if ui.is_json() {
                ui.json(&serde_json::json!({"mr": mr, "created": created}))?;
            } else {
                ui.line(mr.label())?;
                ui.status(if created {
                    format!("Queued {} for {}", mr.label(), mr.branch)
                } else {
                    format!("{} already queued that commit", mr.label())
                });
            }
        }
        MqCommand::Retry(a) => {
            let mr = store.retry_mr(parse(&a.mr)?, "retried by hand")?;
            report(ui, &mr)?;
        }
        MqCommand::Reject(a) => {
            let mr = store.reject_mr(parse(&a.mr)?, &a.reason)?;
            report(ui, &mr)?;
        }
        MqCommand::Stats(a) => {
            if let Some(rig) = &a.rig {
                town::rig::entry(&town, rig)?;
            }
            let s = store.queue_stats(a.rig.as_deref())?;
            if ui.is_json() {
                ui.json(&s)?;
            } else {
                let rows = vec![
                    vec!["passes".to_owned(), s.runs.to_string()],
                    vec!["landed".to_owned(), s.landed.to_string()],
                    vec!["failed".to_owned(), s.failed.to_string()],
                    vec!["conflicted".to_owned(), s.conflicted.to_string()],
                    vec!["queued now".to_owned(), s.queued.to_string()],
                    vec!["gate runs".to_owned(), s.gate_runs.to_string()],
                    vec![
                        "gate runs per landed change".to_owned(),
                        format!("{:.2}", s.gate_runs_per_landed),
                    ],
                    vec!["flakes".to_owned(), s.flakes.to_string()],
                    vec![
                        "deepest bisection".to_owned(),
                        s.max_bisect_depth.to_string(),
                    ],
                    vec![
                        "mean queue wait".to_owned(),
                        format!("{:.2} h", s.mean_queue_wait_hours),
                    ],
                ];
                super::table(ui, &rows)?;
            }
        }
    }
    Ok(())
}

/// Merge requests as a table, each row indented by `indent`.
pub fn table(ui: &mut ui::Ui, mrs: &[town::views::MrView], indent: &str) -> anyhow::Result<()> {
    let mut rows = vec![vec![
        format!("{indent}MR"),
        "RIG".into(),
        "STATE".into(),
        "BEAD".into(),
        "POLECAT".into(),
        "BRANCH".into(),
        "SHA".into(),
        "AGE".into(),
    ]];
    for m in mrs {
        rows.push(vec![
            format!("{indent}{}", m.label),
            m.mr.rig.clone(),
            m.mr.state.to_string(),
            m.mr.bead_id.clone(),
            if m.mr.polecat.is_empty() {
                "-".into()
            } else {
                m.mr.polecat.clone()
            },
            super::safe(&m.mr.branch),
            m.mr.sha.chars().take(12).collect(),
            age(m.age_seconds),
        ]);
    }
    Ok(super::table(ui, &rows)?)
}

/// `42s`, `7m`, `3h`, `2d`: the largest whole unit.
pub fn age(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

fn report(ui: &mut ui::Ui, mr: &beads::MergeRequest) -> anyhow::Result<()> {
    if ui.is_json() {
        ui.json(mr)?;
    } else {
        ui.status(format!("{} is {}", mr.label(), mr.state));
    }
    Ok(())
}
