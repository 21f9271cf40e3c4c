//! `gt done`: from finished work to a queued merge request, as a resumable step log.
//!
//! It runs only inside a polecat's own worktree, on its own branch (both checked), and, when
//! the environment names a polecat (an agent's session), only when that is the same one. Steps,
//! each checkpointed under `done:<rig>/<name>:<generation>:<branch>` so a run killed anywhere
//! and run again ends in the same state without duplicates: a safety-net commit of leftover changes
//! (only here, on this branch), the push of the branch with a check that the remote holds it,
//! the merge request (unique on branch and SHA), the bead marked `submitted` — it closes only
//! when the refinery lands it — and the polecat marked idle.
//!
//! When the refinery sends the request back (a gate failed, or it conflicts: state `failed` or
//! `conflict`) and hooks the bead to the polecat again, the next `gt done` starts a new round:
//! the finished step log is dropped and a new request, for the fixed commit, supersedes the old
//! one. The commit that was sent back is refused. A request still `queued`, `testing` or
//! `merged` keeps `gt done` a no-op.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::layout::{RigConfig, RigPaths, Town};
use crate::work::identity::PolecatId;
use crate::work::{Result, WorkError, gitops, refused};

/// How the polecat finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DoneStatus {
    /// The work is done: push it and queue it for merge.
    Completed,
    /// The polecat needs help: save and push the work, keep the bead, mark the polecat stuck.
    Escalated,
    /// The work must wait: save and push it, return the bead to the ready queue.
    Deferred,
}

impl DoneStatus {
    /// Parses `COMPLETED`, `ESCALATED` or `DEFERRED` (any case).
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_uppercase().as_str() {
            "COMPLETED" => Ok(Self::Completed),
            "ESCALATED" => Ok(Self::Escalated),
            "DEFERRED" => Ok(Self::Deferred),
            _ => Err(refused(format!(
                "`{s}` is not a status: use COMPLETED, ESCALATED or DEFERRED"
            ))),
        }
    }
}

/// What `gt done` did.
#[derive(Debug, Clone, Serialize)]
pub struct DoneOutcome {
    pub polecat: String,
    pub bead: String,
    pub status: DoneStatus,
    pub branch: String,
    /// True when leftover changes were committed by the safety net.
    pub safety_commit: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pushed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merge_request: Option<beads::MergeRequest>,
    /// The bead was closed as needing no change; nothing was pushed.
    pub no_change: bool,
    /// An earlier run had already finished; nothing changed now.
    pub already_done: bool,
}

/// Who the environment says is running `gt done`: what `gt sling` sets in a polecat's session
/// (`GT_ROLE`, `GT_RIG`, `GT_POLECAT`, `GT_POLECAT_PATH`). All empty in a person's shell.
#[derive(Debug, Clone, Default)]
pub struct EnvIdentity {
    pub role: Option<String>,
    pub rig: Option<String>,
    pub polecat: Option<String>,
    pub polecat_path: Option<PathBuf>,
    /// `GT_GENERATION`: which spawn of the polecat's agent this session is.
    pub generation: Option<i64>,
}

impl EnvIdentity {
    /// Each polecat the environment names, with the variable that names it; `None` for a
    /// variable whose value is no polecat at all. `GT_ROLE` counts only when it is a polecat
    /// address (other roles name no polecat).
    fn claims(&self, town: &Town) -> Vec<(&'static str, Option<PolecatId>)> {
        let mut out = Vec::new();
        if let Some(id) = self.role.as_deref().and_then(PolecatId::parse) {
            out.push(("GT_ROLE", Some(id)));
        }
        if let Some(name) = &self.polecat {
            let rig = self.rig.clone().unwrap_or_default();
            out.push(("GT_RIG/GT_POLECAT", PolecatId::new(&rig, name)));
        }
        if let Some(path) = &self.polecat_path {
            let path = path.canonicalize().unwrap_or_else(|_| path.clone());
            out.push(("GT_POLECAT_PATH", PolecatId::from_path(town, &path)));
        }
        out
    }
}

/// Refuses when the environment names a polecat other than `id`, the one whose worktree
/// `gt done` runs in: an agent must never push and queue another polecat's work.
fn check_env_identity(env: &EnvIdentity, town: &Town, id: &PolecatId) -> Result<()> {
    for (var, claimed) in env.claims(town) {
        if claimed.as_ref() == Some(id) {
            continue;
        }
        let who = match &claimed {
            Some(c) => format!("polecat `{}`", c.address()),
            None => "something that is not a polecat".to_owned(),
        };
        return Err(refused(format!(
            "this session is {who} (`{var}`), but `gt done` runs in the worktree of polecat `{}`; a polecat finishes only its own work: run `gt done` in its own worktree",
            id.address()
        )));
    }
    Ok(())
}

/// Runs `gt done` for the polecat whose worktree contains `cwd`; `env` is who the caller's
/// environment says it is, and must agree when it names a polecat.
pub fn done(
    store: &mut beads::Store,
    town: &Town,
    cwd: &Path,
    env: &EnvIdentity,
    status: DoneStatus,
) -> Result<DoneOutcome> {
    let cwd = cwd.canonicalize().map_err(|source| WorkError::Io {
        path: cwd.to_owned(),
        source,
    })?;
    let town_root = town.root().canonicalize().map_err(|source| WorkError::Io {
        path: town.root().to_owned(),
        source,
    })?;
    let town = Town::at(town_root);
    let not_polecat = || {
        refused(format!(
            "`gt done` runs only inside a polecat's worktree, and `{}` is not in one",
            cwd.display()
        ))
    };
    let id = PolecatId::from_path(&town, &cwd).ok_or_else(not_polecat)?;
    check_env_identity(env, &town, &id)?;
    let row = store.polecat(&id.rig, &id.name)?.ok_or_else(not_polecat)?;
    // A session the witness has since replaced (its agent was thought dead) must not finish
    // the work the newer one now owns.
    if let Some(generation) = env.generation
        && generation != row.generation
    {
        return Err(refused(format!(
            "this session is generation {generation} of `{}`, but the polecat has been restarted since (generation {}); the newer session finishes the work",
            id.address(),
            row.generation
        )));
    }
    let worktree = id.worktree(&town);
    let top = gitops::toplevel(&cwd)?;
    if top.canonicalize().ok() != worktree.canonicalize().ok() {
        return Err(not_polecat());
    }
    let branch = gitops::current_branch(&worktree)?;
    if branch != row.branch {
        return Err(refused(format!(
            "`{}` is on branch `{branch}`, not the polecat's own `{}`; `gt done` only works on its own branch",
            worktree.display(),
            row.branch
        )));
    }
    let _lock = super::lock(&town, &format!("done-{}-{}.lock", id.rig, id.name), || {
        format!("polecat `{}`", id.address())
    })?;
    // The branch is part of the scope: generations start again at 1 when a nuked polecat's
    // name is reused, and a new polecat must not find the old one's `finished` step.
    let scope = format!("done:{}:{}:{branch}", id.address(), row.generation);
    let mut cps = store.checkpoints(&scope)?;
    if cps.contains_key("finished") && sent_back(store, &row, &cps)?.is_some() {
        // The refinery sent the change back and hooked the bead to this polecat again: this
        // run is a new round, not a repeat of the finished one.
        store.clear_checkpoints(&scope)?;
        cps.clear();
    }
    let bead = if row.bead_id.is_empty() {
        cps.get("bead").cloned().unwrap_or_default()
    } else {
        row.bead_id.clone()
    };
    let mut out = DoneOutcome {
        polecat: id.address(),
        bead: bead.clone(),
        status,
        branch: branch.clone(),
        safety_commit: false,
        pushed: cps.get("pushed").cloned(),
        merge_request: None,
        no_change: false,
        already_done: false,
    };
    if cps.contains_key("finished") {
        out.already_done = true;
        if let Some(mr) = cps.get("mr").and_then(|m| m.parse().ok()) {
            out.merge_request = Some(store.mr(mr)?);
        }
        return Ok(out);
    }
    if bead.is_empty() {
        return Err(refused(format!(
            "nothing is hooked to `{}`; `gt done` has nothing to finish",
            id.address()
        )));
    }
    store.checkpoint(&scope, "bead", &bead)?;
    // The safety net: leftover changes are committed here, in the polecat's own worktree.
    out.safety_commit = gitops::commit_all(
        &worktree,
        &format!("{bead}: save uncommitted work (gt done safety net)"),
    )?;
    let config: RigConfig = RigPaths::new(&town, &id.rig).config()?;
    let target = config.default_branch;
    let issue = store.get(&bead)?;
    let ahead = gitops::commits_ahead(&worktree, &format!("origin/{target}"))?;
    if ahead == 0 {
        if status == DoneStatus::Completed && issue.status != "closed" {
            return Err(refused(format!(
                "`{branch}` has no commits ahead of `origin/{target}`: commit your work first, or, if `{bead}` needs no change, run `bd close {bead} --reason no-changes` and then `gt done`"
            )));
        }
        out.no_change = issue.status == "closed";
    } else {
        let head = gitops::head(&worktree)?;
        if status == DoneStatus::Completed
            && let Some(mr) = store
                .mrs(
                    Some(&id.rig),
                    &[beads::MrState::Failed, beads::MrState::Conflict],
                )?
                .into_iter()
                .find(|m| m.branch == branch && m.sha == head)
        {
            return Err(refused(format!(
                "the refinery sent {} back ({}: {}) and `{branch}` still holds that commit; fix it on this branch (`gt prime` shows why), commit, then run `gt done` again",
                mr.label(),
                mr.state,
                mr.reason
            )));
        }
        if out.pushed.as_deref() != Some(head.as_str()) {
            let remote = gitops::push(&worktree, &branch)?;
            if remote != head {
                return Err(refused(format!(
                    "pushed `{branch}` but the remote holds `{remote}`, not `{head}`; run `gt done` again"
                )));
            }
            store.checkpoint(&scope, "pushed", &head)?;
            out.pushed = Some(head.clone());
        }
    }
    match status {
        DoneStatus::Completed if !out.no_change => {
            let (mr, _) = store.submit_mr(&beads::NewMergeRequest {
                rig: id.rig.clone(),
                bead_id: bead.clone(),
                branch: branch.clone(),
                sha: out.pushed.clone().unwrap_or_default(),
                // A child of an epic with an integration branch lands there.
                target: crate::refinery::integration::target_for(store, &bead)?
                    .unwrap_or_else(|| target.clone()),
                polecat: id.address(),
                priority: issue.priority,
            })?;
            store.checkpoint(&scope, "mr", &mr.id.to_string())?;
            if issue.status != "submitted" {
                store.update(
                    &bead,
                    &beads::Changes {
                        status: Some("submitted".into()),
                        ..Default::default()
                    },
                )?;
            }
            out.merge_request = Some(mr);
            store.finish_polecat(&id.rig, &id.name)?;
        }
        DoneStatus::Completed => {
            store.finish_polecat(&id.rig, &id.name)?;
        }
        DoneStatus::Escalated => {
            store.add_comment(
                &bead,
                &format!(
                    "{} escalated: it needs help to finish this bead",
                    id.address()
                ),
            )?;
            store.mark_polecat_stuck(&id.rig, &id.name)?;
        }
        DoneStatus::Deferred => {
            if issue.status != "closed" {
                store.update(
                    &bead,
                    &beads::Changes {
                        status: Some("open".into()),
                        assignee: Some(String::new()),
                        ..Default::default()
                    },
                )?;
            }
            store.finish_polecat(&id.rig, &id.name)?;
        }
    }
    store.checkpoint(&scope, "finished", "")?;
    Ok(out)
}

/// The merge request a finished `gt done` queued, when the refinery has since sent it back
/// (failed gate or conflict) and hooked its bead to this polecat again.
fn sent_back(
    store: &beads::Store,
    row: &beads::Polecat,
    cps: &std::collections::BTreeMap<String, String>,
) -> Result<Option<beads::MergeRequest>> {
    let Some(id) = cps.get("mr").and_then(|m| m.parse().ok()) else {
        return Ok(None);
    };
    if row.bead_id.is_empty() || cps.get("bead") != Some(&row.bead_id) {
        return Ok(None);
    }
    let mr = store.mr(id)?;
    Ok(matches!(mr.state, beads::MrState::Failed | beads::MrState::Conflict).then_some(mr))
}

#[cfg(test)]
mod tests {
    use super::DoneStatus;

    #[test]
    fn statuses_parse() {
        assert_eq!(
            DoneStatus::parse("completed").unwrap(),
            DoneStatus::Completed
        );
        assert_eq!(
            DoneStatus::parse("ESCALATED").unwrap(),
            DoneStatus::Escalated
        );
        assert!(DoneStatus::parse("finished").is_err());
    }
}
