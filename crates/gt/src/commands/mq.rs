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
    /// An epic's integration branch: its children land there, then it lands once.
    #[command(subcommand)]
    Integration(IntegrationCommand),
}

#[derive(Debug, Subcommand)]
pub enum IntegrationCommand {
    /// Start `integration/<epic>` from the rig's target; the epic's children land there.
    Create(EpicArgs),
    /// The branch, its children and its landing.
    Status(EpicArgs),
    /// Queue the whole branch to land on the target once every child has landed on it.
    Land(EpicArgs),
}

#[derive(Debug, Args)]
pub struct EpicArgs {
    /// The epic bead.
    pub epic: String,
    /// The rig [default: the one whose prefix the epic's id has].
    #[arg(long)]
    pub rig: Option<String>,
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
            let pr = town::refinery::pull::waiting_pr(&store, &mr.rig, mr.id)?;
            let refusal = town::refinery::refusal::refusal(&store, &mr.rig, mr.id)?;
            if ui.is_json() {
                let mut v = serde_json::to_value(&mr)?;
                if let Some(obj) = v.as_object_mut() {
                    if let Some(n) = pr {
                        obj.insert("pull_request".into(), n.into());
                    }
                    if let Some(r) = &refusal {
                        obj.insert("forge_refusal".into(), serde_json::to_value(r)?);
                    }
                }
                ui.json(&v)?;
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
                    (
                        "waits on",
                        pr.map(|n| format!("pull request #{n}")).unwrap_or_default(),
                    ),
                    ("reason", super::safe(&mr.reason)),
                    (
                        "refused",
                        refusal.as_ref().map(refusal_line).unwrap_or_default(),
                    ),
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
                target: town::refinery::integration::target_for(&store, &bead)?
                    .unwrap_or(config.default_branch),
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
            let id = parse(&a.mr)?;
            // Waiting on a pull request the forge kept refusing: retrying is asking it again.
            // Anything else (a missing request too) is the queue's retry, with its errors.
            let held = match store.mr(id) {
                Ok(mr) if mr.state == beads::MrState::Testing => {
                    town::refinery::refusal::release(&mut store, &mr.rig, id)?.then_some(mr)
                }
                _ => None,
            };
            if let Some(mr) = held {
                if ui.is_json() {
                    ui.json(&serde_json::json!({"mr": mr, "released": true}))?;
                } else {
                    ui.status(format!(
                        "{} waits on its pull request again: the refinery asks the forge to merge it on its next pass",
                        mr.label()
                    ));
                }
            } else {
                let mr = store.retry_mr(id, "retried by hand")?;
                report(ui, &mr)?;
            }
        }
        MqCommand::Reject(a) => {
            let mr = store.reject_mr(parse(&a.mr)?, &a.reason)?;
            report(ui, &mr)?;
        }
        MqCommand::Integration(c) => integration(&town, &mut store, c, ui)?,
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

fn integration(
    town: &town::layout::Town,
    store: &mut beads::Store,
    cmd: IntegrationCommand,
    ui: &mut ui::Ui,
) -> anyhow::Result<()> {
    use town::refinery::integration as int;
    let (IntegrationCommand::Create(a)
    | IntegrationCommand::Status(a)
    | IntegrationCommand::Land(a)) = &cmd;
    let epic = store.resolve(&a.epic)?;
    let rig = match &a.rig {
        Some(rig) => rig.clone(),
        None => match int::rig_of(store, &epic)? {
            Some(rig) => rig,
            None => rig_by_prefix(town, &epic)?,
        },
    };
    let ctx = super::rig_ctx(town, &rig)?;
    match cmd {
        IntegrationCommand::Create(_) => {
            let c = int::create(&ctx, store, &epic)?;
            if ui.is_json() {
                ui.json(&c)?;
            } else {
                ui.status(format!(
                    "{} `{}` at {} for the children of {epic}",
                    if c.created {
                        "Started"
                    } else {
                        "Already started:"
                    },
                    c.branch,
                    &c.sha[..c.sha.len().min(12)]
                ));
            }
        }
        IntegrationCommand::Status(_) => {
            let st = int::status(&ctx, store, &epic)?;
            if ui.is_json() {
                ui.json(&st)?;
            } else {
                ui.line(format!(
                    "{}  {}",
                    st.branch,
                    if st.sha.is_empty() {
                        "not on the remote".to_owned()
                    } else {
                        format!("{} commit(s) ahead of `{}`", st.ahead, ctx.target())
                    }
                ))?;
                for c in &st.children {
                    ui.line(format!(
                        "  {:<12} {:<10} {}",
                        c.id,
                        c.status,
                        super::safe(&c.title)
                    ))?;
                }
                if let Some(mr) = &st.landing {
                    ui.line(format!("landing: {} {}", mr.label(), mr.state))?;
                }
            }
        }
        IntegrationCommand::Land(_) => {
            let (mr, created) = int::land(&ctx, store, &epic)?;
            if ui.is_json() {
                ui.json(&serde_json::json!({"mr": mr, "created": created}))?;
            } else {
                ui.line(mr.label())?;
                ui.status(if created {
                    format!(
                        "Queued {} to land `{}` on `{}`",
                        mr.label(),
                        mr.branch,
                        mr.target
                    )
                } else {
                    format!("{} already lands that commit ({})", mr.label(), mr.state)
                });
            }
        }
    }
    Ok(())
}

/// The rig whose bead prefix `id` carries.
fn rig_by_prefix(town: &town::layout::Town, id: &str) -> anyhow::Result<String> {
    town.rigs()?
        .rigs
        .into_iter()
        .find(|(_, e)| id.starts_with(&format!("{}-", e.beads.prefix)))
        .map(|(name, _)| name)
        .ok_or_else(|| {
            ui::CliError::user(format!(
                "no rig has the prefix of `{id}`; name one with `--rig`"
            ))
            .into()
        })
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
            match &m.forge_refusal {
                Some(r) if r.held => format!("{} (merge refused, held)", m.mr.state),
                Some(r) => format!("{} (merge refused {}×)", m.mr.state, r.count),
                None => m.mr.state.to_string(),
            },
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

/// `gt mq status`'s line for a pull request the forge refused to merge.
fn refusal_line(r: &town::refinery::refusal::Refusal) -> String {
    format!(
        "{} time{} by the forge{}: {}",
        r.count,
        if r.count == 1 { "" } else { "s" },
        if r.held {
            " (escalated; asked again once the pull request changes, or after `gt mq retry`)"
        } else {
            ""
        },
        super::safe(&r.message)
    )
}

fn report(ui: &mut ui::Ui, mr: &beads::MergeRequest) -> anyhow::Result<()> {
    if ui.is_json() {
        ui.json(mr)?;
    } else {
        ui.status(format!("{} is {}", mr.label(), mr.state));
    }
    Ok(())
}
