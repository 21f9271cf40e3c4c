//! Integration branches for epics: `gt mq integration create|status|land <epic>`.
//!
//! `create` starts `integration/<epic>` on the remote from the rig's target and records it
//! (kv `integration.<epic>` = `<rig> <branch>`); from then on a change whose bead descends
//! from the epic is submitted against that branch ([`target_for`]) and lands there through the
//! same queue, gates and strategy as any other. `land` submits the integration branch itself as
//! one merge request of the epic against the target: the refinery gates it like any change, and
//! landing it closes the epic, once (a request is unique on branch and commit).
//!
//! Pushes to `integration/*` from anywhere but the refinery are refused by hooks `create`
//! installs: `pre-push` in the rig's shared repository (every polecat's worktree pushes
//! through it) and, when the remote is a local repository, `pre-receive` there. The refinery's
//! own pushes carry [`git::REFINERY_PUSH`]. A hosted remote needs the forge's own branch rule
//! for `integration/*`.

use std::path::Path;

use serde::Serialize;

use super::{RefineryError, Result, git};
use crate::rigctx::RigCtx;

/// The branch of an epic's integration.
pub fn branch_name(epic: &str) -> String {
    format!("integration/{epic}")
}

fn key(epic: &str) -> String {
    format!("integration.{epic}")
}

/// The integration branch a change of `bead` lands on: that of the nearest ancestor epic that
/// has one, if any.
pub fn target_for(store: &beads::Store, bead: &str) -> beads::Result<Option<String>> {
    let mut next = store.show(bead)?.parent;
    // A parent chain is short; the bound only guards against a cycle in hand-edited data.
    for _ in 0..32 {
        let Some(parent) = next else { break };
        if let Some(record) = store.kv_get(&key(&parent))? {
            return Ok(record.split_whitespace().nth(1).map(str::to_owned));
        }
        next = store.show(&parent)?.parent;
    }
    Ok(None)
}

/// What `create` did.
#[derive(Debug, Clone, Serialize)]
pub struct Created {
    pub epic: String,
    pub rig: String,
    pub branch: String,
    /// The target commit it starts from.
    pub sha: String,
    /// `false` when it existed already (creating is idempotent).
    pub created: bool,
}

/// Starts the epic's integration branch from the rig's target (or finds it started).
pub fn create(ctx: &RigCtx, store: &mut beads::Store, epic: &str) -> Result<Created> {
    store.get(epic)?;
    let branch = branch_name(epic);
    let worktree = ctx.paths.refinery_worktree();
    install_hooks(ctx)?;
    let existing = git::remote_sha(&worktree, &branch)?;
    let (sha, created) = if existing.is_empty() {
        let target = git::remote_sha(&worktree, ctx.target())?;
        git::push_branch(&worktree, &target, &branch)?;
        (target, true)
    } else {
        (existing, false)
    };
    store.kv_set(&key(epic), &format!("{} {branch}", ctx.name))?;
    Ok(Created {
        epic: epic.to_owned(),
        rig: ctx.name.clone(),
        branch,
        sha,
        created,
    })
}

/// The rig an epic's integration branch belongs to, if it has one.
pub fn rig_of(store: &beads::Store, epic: &str) -> Result<Option<String>> {
    Ok(store
        .kv_get(&key(epic))?
        .and_then(|r| r.split_whitespace().next().map(str::to_owned)))
}

/// One child of the epic, for `status`.
#[derive(Debug, Clone, Serialize)]
pub struct Child {
    pub id: String,
    pub title: String,
    pub status: String,
}

/// `gt mq integration status`.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub epic: String,
    pub rig: String,
    pub branch: String,
    /// The branch's commit on the remote (empty once it is gone).
    pub sha: String,
    /// Commits on it the target does not have.
    pub ahead: usize,
    pub children: Vec<Child>,
    /// The request landing the branch on the target, once `land` submitted it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub landing: Option<beads::MergeRequest>,
}

pub fn status(ctx: &RigCtx, store: &beads::Store, epic: &str) -> Result<Status> {
    let branch = branch_name(epic);
    let worktree = ctx.paths.refinery_worktree();
    let sha = git::remote_sha(&worktree, &branch)?;
    let ahead = if sha.is_empty() {
        0
    } else {
        git::count_ahead(&worktree, ctx.target(), &sha)?
    };
    let children = store
        .children(epic)?
        .into_iter()
        .map(|c| Child {
            id: c.issue.id.clone(),
            title: c.issue.title.clone(),
            status: c.issue.status.clone(),
        })
        .collect();
    let landing = store
        .mrs(Some(&ctx.name), &[])?
        .into_iter()
        .rfind(|mr| mr.bead_id == epic && mr.branch == branch);
    Ok(Status {
        epic: epic.to_owned(),
        rig: ctx.name.clone(),
        branch,
        sha,
        ahead,
        children,
        landing,
    })
}

/// Why an integration branch cannot land yet.
#[derive(Debug, thiserror::Error)]
pub enum LandRefused {
    #[error("`{epic}` has no integration branch; `gt mq integration create {epic}` starts one")]
    NoBranch { epic: String },
    #[error("`{epic}` has children not landed on `{branch}` yet: {open}")]
    OpenChildren {
        epic: String,
        branch: String,
        open: String,
    },
    #[error("`{branch}` has nothing the target lacks")]
    Empty { branch: String },
}

/// Submits the epic's integration branch as one merge request against the target, once every
/// child has landed on it. Submitting the same branch commit again returns the same request.
pub fn land(
    ctx: &RigCtx,
    store: &mut beads::Store,
    epic: &str,
) -> Result<(beads::MergeRequest, bool), LandError> {
    let st = status(ctx, store, epic)?;
    if st.sha.is_empty() || rig_of(store, epic)?.is_none() {
        return Err(LandRefused::NoBranch {
            epic: epic.to_owned(),
        }
        .into());
    }
    let open: Vec<String> = st
        .children
        .iter()
        .filter(|c| c.status != "closed")
        .map(|c| format!("{} ({})", c.id, c.status))
        .collect();
    if !open.is_empty() {
        return Err(LandRefused::OpenChildren {
            epic: epic.to_owned(),
            branch: st.branch,
            open: open.join(", "),
        }
        .into());
    }
    if st.ahead == 0 {
        return Err(LandRefused::Empty { branch: st.branch }.into());
    }
    let issue = store.get(epic)?;
    Ok(store
        .submit_mr(&beads::NewMergeRequest {
            rig: ctx.name.clone(),
            bead_id: epic.to_owned(),
            branch: st.branch,
            sha: st.sha,
            target: ctx.target().to_owned(),
            polecat: String::new(),
            priority: issue.priority,
        })
        .map_err(RefineryError::from)?)
}

/// `land`'s failures: refused (the user's to fix) or the refinery's.
#[derive(Debug, thiserror::Error)]
pub enum LandError {
    #[error(transparent)]
    Refused(#[from] LandRefused),
    #[error(transparent)]
    Refinery(#[from] RefineryError),
}

impl From<beads::Error> for LandError {
    fn from(e: beads::Error) -> Self {
        Self::Refinery(e.into())
    }
}

/// The client-side hook (every worktree of the rig pushes through the shared repository).
const PRE_PUSH: &str = r#"#!/bin/sh
# Installed by gt (`gt mq integration create`): integration branches take changes only
# through the refinery.
[ "$GT_REFINERY_PUSH" = 1 ] && exit 0
while read -r _local_ref _local_sha remote_ref _remote_sha; do
  case "$remote_ref" in
    refs/heads/integration/*)
      echo "gt: \`${remote_ref#refs/heads/}\` takes changes only through the refinery: finish with \`gt done\`" >&2
      exit 1 ;;
  esac
done
exit 0
"#;

/// The server-side hook, for a remote that is a local repository.
const PRE_RECEIVE: &str = r#"#!/bin/sh
# Installed by gt (`gt mq integration create`): integration branches take changes only
# through the refinery.
[ "$GT_REFINERY_PUSH" = 1 ] && exit 0
while read -r _old _new ref; do
  case "$ref" in
    refs/heads/integration/*)
      echo "gt: \`${ref#refs/heads/}\` takes changes only through the refinery: finish with \`gt done\`" >&2
      exit 1 ;;
  esac
done
exit 0
"#;

/// Installs both hooks (each only where no other hook of that name is: a user's own is kept,
/// with a warning).
fn install_hooks(ctx: &RigCtx) -> Result<()> {
    install_hook(&ctx.paths.bare_repo().join("hooks"), "pre-push", PRE_PUSH)?;
    let url = &ctx.entry.git_url;
    let local = url.strip_prefix("file://").unwrap_or(url);
    let remote = Path::new(local);
    if remote.is_absolute() && remote.join("HEAD").is_file() {
        install_hook(&remote.join("hooks"), "pre-receive", PRE_RECEIVE)?;
    }
    Ok(())
}

fn install_hook(dir: &Path, name: &str, body: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(existing) if existing == body => return Ok(()),
        Ok(_) => {
            tracing::warn!(hook = %path.display(), "a hook of that name exists; not replacing it");
            return Ok(());
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    std::fs::create_dir_all(dir)?;
    crate::files::write_atomic(&path, body.as_bytes())?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}
