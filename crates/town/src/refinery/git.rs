//! The refinery's git steps, in its own worktree (`<rig>/refinery/rig`): start a candidate
//! from the target, check a branch merges with `git merge-tree`, stack a change onto the
//! candidate, land by pushing the candidate to the target, and verify the remote has it.

use std::path::Path;

use host::git::{Git, GitError};

/// The marker the refinery's pushes carry in their environment: the hooks guarding
/// integration branches ([`super::integration`]) let only these through.
pub const REFINERY_PUSH: &str = "GT_REFINERY_PUSH";

/// The committer the refinery writes as (authors are kept), and its push marker.
const COMMITTER: [(&str, &str); 3] = [
    ("GIT_COMMITTER_NAME", "Gas Town refinery"),
    ("GIT_COMMITTER_EMAIL", "refinery@gastown.local"),
    (REFINERY_PUSH, "1"),
];

fn git(dir: &Path) -> Git {
    COMMITTER
        .iter()
        .fold(Git::new(dir), |g, (k, v)| g.env(*k, *v))
}

/// How stacking a change went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stacked {
    /// The change is on the candidate; here is the new tip.
    Applied(String),
    /// It does not apply; these paths conflict.
    Conflict(Vec<String>),
}

/// How a landing went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Landing {
    /// The remote's target now is the candidate.
    Landed,
    /// The remote's target moved since the candidate was built.
    RemoteMoved,
}

/// Fetches and puts the worktree, detached and clean, on `origin/<target>`. Returns its SHA.
pub fn start_candidate(worktree: &Path, target: &str) -> Result<String, GitError> {
    let g = git(worktree);
    g.run(&["fetch", "--quiet", "--prune", "origin"])?;
    let _ = g.run(&["cherry-pick", "--abort"]);
    g.run(&[
        "checkout",
        "--quiet",
        "--force",
        "--detach",
        &format!("origin/{target}"),
    ])?;
    g.run(&["clean", "--quiet", "-fdx"])?;
    Ok(g.run(&["rev-parse", "HEAD"])?.trim().to_owned())
}

/// Moves the worktree to `sha` (a candidate tip from earlier), clean.
pub fn checkout(worktree: &Path, sha: &str) -> Result<(), GitError> {
    let g = git(worktree);
    g.run(&["checkout", "--quiet", "--force", "--detach", sha])?;
    g.run(&["clean", "--quiet", "-fdx"]).map(drop)
}

/// Whether `branch` (on the remote) merges cleanly into `origin/<target>`, without touching
/// any worktree: `None` when clean, else the conflicting paths.
pub fn precheck(
    worktree: &Path,
    target: &str,
    branch_sha: &str,
) -> Result<Option<Vec<String>>, GitError> {
    let out = git(worktree).output(&[
        "merge-tree",
        "--write-tree",
        "--name-only",
        "--no-messages",
        &format!("origin/{target}"),
        branch_sha,
    ])?;
    match out.status.code() {
        Some(0) => Ok(None),
        Some(1) => {
            let text = String::from_utf8_lossy(&out.stdout);
            Ok(Some(
                text.lines()
                    .skip(1)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ))
        }
        _ => Err(GitError::Failed {
            args: vec!["merge-tree".into()],
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }),
    }
}

/// Whether the worktree's repository has the commit `sha` (after a fetch of the remote).
pub fn has_commit(worktree: &Path, sha: &str) -> Result<bool, GitError> {
    Ok(git(worktree)
        .output(&["cat-file", "-e", &format!("{sha}^{{commit}}")])?
        .status
        .success())
}

/// Replays the change's commits (those of `branch_sha` not on `origin/<target>`) onto the
/// candidate in the worktree, keeping their authors.
pub fn stack(worktree: &Path, target: &str, branch_sha: &str) -> Result<Stacked, GitError> {
    let g = git(worktree);
    let commits = g.run(&[
        "rev-list",
        "--reverse",
        "--no-merges",
        &format!("origin/{target}..{branch_sha}"),
    ])?;
    let commits: Vec<&str> = commits.lines().filter(|l| !l.is_empty()).collect();
    if !commits.is_empty() {
        let mut args = vec!["cherry-pick", "--allow-empty", "--keep-redundant-commits"];
        args.extend(commits.iter().copied());
        let out = g.output(&args)?;
        if !out.status.success() {
            let paths = g
                .run(&["diff", "--name-only", "--diff-filter=U"])
                .unwrap_or_default();
            let _ = g.run(&["cherry-pick", "--abort"]);
            return Ok(Stacked::Conflict(
                paths.lines().map(str::to_owned).collect(),
            ));
        }
    }
    Ok(Stacked::Applied(
        g.run(&["rev-parse", "HEAD"])?.trim().to_owned(),
    ))
}

/// Pushes `sha` as the new `target` (a fast-forward, or nothing), then checks the remote holds
/// it. "Holds" means the target contains `sha`, not that it equals it: someone may push on top
/// between our push and the check, and the landing happened all the same (reporting it as
/// moved would requeue changes that already landed, and land them again).
pub fn land(worktree: &Path, sha: &str, target: &str) -> Result<Landing, GitError> {
    let g = git(worktree);
    let out = g.output(&[
        "push",
        "--quiet",
        "origin",
        &format!("{sha}:refs/heads/{target}"),
    ])?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Only a target that moved is worth a rebuild; a remote that refuses the push (a hook,
        // a protection rule: "[remote rejected]") would refuse the rebuilt one too, forever.
        if stderr.contains("non-fast-forward") || stderr.contains("fetch first") {
            return Ok(Landing::RemoteMoved);
        }
        return Err(GitError::Failed {
            args: vec!["push".into()],
            status: out.status.to_string(),
            stderr: stderr.into_owned(),
        });
    }
    if !target_contains(worktree, target, sha)? {
        return Ok(Landing::RemoteMoved);
    }
    Ok(Landing::Landed)
}

/// Pushes `sha` as the remote branch `branch`, replacing whatever it held (a pull request's
/// head, which the refinery alone writes).
pub fn push_branch(worktree: &Path, sha: &str, branch: &str) -> Result<(), GitError> {
    git(worktree)
        .run(&[
            "push",
            "--quiet",
            "--force",
            "origin",
            &format!("{sha}:refs/heads/{branch}"),
        ])
        .map(drop)
}

/// The SHA the remote holds for `branch` (empty when none).
pub fn remote_sha(worktree: &Path, branch: &str) -> Result<String, GitError> {
    let out = git(worktree).run(&["ls-remote", "origin", &format!("refs/heads/{branch}")])?;
    Ok(out.split_whitespace().next().unwrap_or_default().to_owned())
}

/// Whether the remote's `target` contains `sha` (after a fetch).
pub fn target_contains(worktree: &Path, target: &str, sha: &str) -> Result<bool, GitError> {
    let g = git(worktree);
    g.run(&["fetch", "--quiet", "origin"])?;
    Ok(g.output(&[
        "merge-base",
        "--is-ancestor",
        sha,
        &format!("origin/{target}"),
    ])?
    .status
    .success())
}

/// Whether commits `a` and `b` hold the same tree.
pub fn same_tree(worktree: &Path, a: &str, b: &str) -> Result<bool, GitError> {
    Ok(git(worktree)
        .output(&["diff", "--quiet", a, b])?
        .status
        .success())
}

/// How many commits `sha` has that the remote's `target` lacks (after a fetch).
pub fn count_ahead(worktree: &Path, target: &str, sha: &str) -> Result<usize, GitError> {
    let g = git(worktree);
    g.run(&["fetch", "--quiet", "origin"])?;
    let n = g.run(&["rev-list", "--count", &format!("origin/{target}..{sha}")])?;
    Ok(n.trim().parse().unwrap_or(0))
}

/// Deletes a merged branch on the remote (a branch already gone is fine).
pub fn delete_remote_branch(worktree: &Path, branch: &str) -> Result<(), GitError> {
    let out = git(worktree).output(&["push", "--quiet", "origin", "--delete", branch])?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() || stderr.contains("remote ref does not exist") {
        Ok(())
    } else {
        Err(GitError::Failed {
            args: vec!["push".into(), "--delete".into()],
            status: out.status.to_string(),
            stderr: stderr.into_owned(),
        })
    }
}
