//! `bd close` and `bd reopen`.

use std::collections::HashSet;

use clap::Args;
use serde::Serialize;

use beads::{CloseOptions, IssueView};

use crate::cli::Global;
use crate::render;

#[derive(Debug, Args)]
pub struct CloseArgs {
    /// Issue ids [default: the last issue you created, showed or changed].
    pub ids: Vec<String>,
    /// Why it is closed (a failure word such as `failed` frees `conditional-blocks` dependents).
    #[arg(short, long, visible_alias = "resolution")]
    pub reason: Option<String>,
    /// Close even if blocked, pinned, or an epic with open children.
    #[arg(short, long)]
    pub force: bool,
    /// The session closing it.
    #[arg(long)]
    pub session: Option<String>,
    /// After closing one issue, print the issues that became ready.
    #[arg(long)]
    pub suggest_next: bool,
    /// After closing, claim the top ready issue.
    #[arg(long, conflicts_with = "continue_")]
    pub claim_next: bool,
    /// After closing a molecule step, move to the molecule's next ready step and claim it.
    #[arg(long = "continue")]
    pub continue_: bool,
    /// With `--continue`, show the next step without claiming it.
    #[arg(long, requires = "continue_")]
    pub no_auto: bool,
}

/// What `close --continue` found after the step (upstream's shape).
#[derive(Debug, Serialize)]
struct Continued {
    closed_step: beads::Issue,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_step: Option<beads::Issue>,
    auto_advanced: bool,
    molecule_complete: bool,
    molecule_id: String,
}

#[derive(Debug, Args)]
pub struct ReopenArgs {
    /// Issue ids.
    #[arg(required = true)]
    pub ids: Vec<String>,
    /// Why it is reopened.
    #[arg(short, long)]
    pub reason: Option<String>,
}

pub fn run(g: &Global, args: &CloseArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let mut store = super::open(g)?;
    let ids = store.resolve_all(&super::touched::ids_or_last(&store, &args.ids)?)?;
    if (args.suggest_next || args.continue_) && ids.len() > 1 {
        return Err(ui::CliError::usage(
            "--suggest-next and --continue work when closing one issue",
        )
        .into());
    }
    let ready_ids = |store: &beads::Store| -> anyhow::Result<HashSet<String>> {
        let all = beads::Filter {
            limit: 0,
            ..Default::default()
        };
        Ok(store.ready(&all)?.into_iter().map(|v| v.issue.id).collect())
    };
    let before = if args.suggest_next {
        ready_ids(&store)?
    } else {
        HashSet::new()
    };
    let opts = CloseOptions {
        reason: args.reason.clone().unwrap_or_default(),
        force: args.force,
        session: args.session.clone().unwrap_or_default(),
    };
    let closed = store.close_all(&ids, &opts)?;
    if let Some(first) = closed.first() {
        super::touched::remember(&store, &first.id);
    }
    let unblocked: Vec<IssueView> = if args.suggest_next {
        let all = beads::Filter {
            limit: 0,
            ..Default::default()
        };
        store
            .ready(&all)?
            .into_iter()
            .filter(|v| !before.contains(&v.issue.id))
            .collect()
    } else {
        Vec::new()
    };
    let continued = if args.continue_ {
        advance(&mut store, &closed[0], !args.no_auto)?
    } else {
        None
    };
    let claimed = if args.claim_next {
        match store.claim_ready(&beads::Filter::default()) {
            Ok(issue) => Some(issue),
            Err(beads::Error::NothingReady) => None,
            Err(e) => return Err(e.into()),
        }
    } else {
        None
    };

    if ui.is_json() {
        // Upstream's shapes: the closed array alone, or with what the flag found.
        let ids: Vec<String> = closed.iter().map(|i| i.id.clone()).collect();
        let closed = store.views_of(&ids)?;
        let out = match (&continued, unblocked.is_empty(), &claimed) {
            (Some(c), _, _) => serde_json::json!({"closed": closed, "continue": c}),
            (None, false, _) => serde_json::json!({"closed": closed, "unblocked": unblocked}),
            (None, true, Some(c)) => serde_json::json!({"closed": closed, "claimed": c}),
            (None, true, None) => serde_json::to_value(&closed)?,
        };
        ui.json(&out)?;
        return Ok(());
    }
    render::changed(ui, &store, "Closed", &closed)?;
    if args.suggest_next {
        render::issues(ui, &unblocked, "Nothing new is ready")?;
    }
    if let Some(c) = &continued {
        report_continued(ui, c);
    } else if args.continue_ {
        ui.status(format!("{} is not a molecule step", closed[0].id));
    }
    if args.claim_next {
        match &claimed {
            Some(c) => ui.status(format!(
                "Claimed next ready issue {}: {}",
                c.id,
                render::safe(&c.title)
            )),
            None => ui.status("No ready issue to claim"),
        }
    }
    Ok(())
}

/// After a molecule step closed: whether the molecule is done, else its next ready step,
/// claimed for the actor when `claim` (trying the next one if another agent got there first).
fn advance(
    store: &mut beads::Store,
    step: &beads::Issue,
    claim: bool,
) -> anyhow::Result<Option<Continued>> {
    let Some(root) = store.molecule_root_of(&step.id)? else {
        return Ok(None);
    };
    let m = store.molecule(&root)?;
    let mut out = Continued {
        closed_step: store.get(&step.id)?,
        next_step: None,
        auto_advanced: false,
        molecule_complete: m.progress.done >= m.progress.total,
        molecule_id: root,
    };
    if out.molecule_complete {
        return Ok(Some(out));
    }
    let ready: Vec<&beads::Issue> = m
        .steps
        .iter()
        .filter(|s| s.issue.status == "open" && !s.is_blocked && s.issue.issue_type != "gate")
        .map(|s| &s.issue)
        .collect();
    out.next_step = ready.first().map(|i| (*i).clone());
    if claim {
        for candidate in ready {
            match store.claim(&candidate.id) {
                Ok(issue) => {
                    out.next_step = Some(issue);
                    out.auto_advanced = true;
                    break;
                }
                Err(beads::Error::AlreadyClaimed { .. } | beads::Error::NotClaimable { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(Some(out))
}

fn report_continued(ui: &ui::Ui, c: &Continued) {
    if c.molecule_complete {
        ui.status(format!(
            "Molecule {} is complete: every step is closed",
            c.molecule_id
        ));
    } else if let Some(next) = &c.next_step {
        ui.status(format!(
            "Next step: {}: {}",
            next.id,
            render::safe(&next.title)
        ));
        ui.status(if c.auto_advanced {
            "Claimed it (in progress)".to_owned()
        } else {
            format!("Start it with: bd update {} --claim", next.id)
        });
    } else {
        ui.status(format!(
            "No step of {} is ready (the rest are blocked)",
            c.molecule_id
        ));
    }
}

pub fn reopen(g: &Global, args: &ReopenArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let mut store = super::open(g)?;
    let reason = args.reason.clone().unwrap_or_default();
    let reopened = store.reopen_all(&args.ids, &reason)?;
    render::changed(ui, &store, "Reopened", &reopened)?;
    Ok(())
}
