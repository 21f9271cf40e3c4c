//! The git steps of the work loop, all through `host::git`: fetch the rig's bare repository,
//! make or reset a polecat's worktree on its own branch, commit, push and verify the push.

use std::path::{Path, PathBuf};

use host::git::{Git, GitError};

/// A polecat branch: `polecat/<name>/<bead>@<base36 milliseconds>`.
pub fn branch_name(polecat: &str, bead: &str, millis: i64) -> String {
    format!("polecat/{polecat}/{bead}@{}", base36(millis.unsigned_abs()))
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ascii digits")
}

/// Brings the bare repository's `origin/*` up to date.
pub fn fetch(bare: &Path) -> Result<(), GitError> {
    Git::new(bare)
        .run(&["fetch", "--quiet", "--prune", "origin"])
        .map(drop)
}

/// Checks a `--base-branch` before anything is made: `base` must be a valid branch name
/// (`git check-ref-format --branch`, and printed back unchanged, so `@{-1}` and friends are
/// refused) that the rig's remote has, as `origin/<base>` after a fetch of the bare repository.
/// A bad name or a missing branch is the user's error, naming the branch.
pub fn check_base_branch(bare: &Path, base: &str) -> crate::work::Result<()> {
    let git = Git::new(bare);
    let format = git.output(&["check-ref-format", "--branch", base])?;
    if !format.status.success() || String::from_utf8_lossy(&format.stdout).trim() != base {
        return Err(crate::work::refused(format!(
            "`{base}` is not a valid branch name for `--base-branch`"
        )));
    }
    fetch(bare)?;
    let found = git
        .output(&[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("refs/remotes/origin/{base}^{{commit}}"),
        ])?
        .status
        .success();
    if !found {
        return Err(crate::work::refused(format!(
            "the rig's remote has no branch `{base}` to start from (`--base-branch`)"
        )));
    }
    Ok(())
}

/// Creates a worktree at `path` on a new `branch` starting at `start` (`origin/main`).
pub fn add_worktree(bare: &Path, path: &Path, branch: &str, start: &str) -> Result<(), GitError> {
    Git::new(bare)
        .run(&[
            "worktree",
            "add",
            "--quiet",
            "-b",
            branch,
            &path.to_string_lossy(),
            start,
        ])
        .map(drop)
}

/// Points an existing, clean worktree at a new `branch` starting at `start`.
pub fn reset_worktree(worktree: &Path, branch: &str, start: &str) -> Result<(), GitError> {
    Git::new(worktree)
        .run(&["checkout", "--quiet", "-B", branch, start])
        .map(drop)
}

/// Removes a worktree and its branch (forcefully: the polecat is being nuked).
pub fn remove_worktree(bare: &Path, path: &Path, branch: &str) -> Result<(), GitError> {
    let git = Git::new(bare);
    if path.exists() {
        git.run(&["worktree", "remove", "--force", &path.to_string_lossy()])?;
    }
    let _ = git.run(&["worktree", "prune"]);
    if !branch.is_empty()
        && git
            .output(&[
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("refs/heads/{branch}"),
            ])?
            .status
            .success()
    {
        git.run(&["branch", "-D", branch])?;
    }
    Ok(())
}

/// Leaves `branch` in `worktree` and deletes it, if it still points where it was made
/// (`made_at`): nothing was committed to it, so it holds nothing to keep. The worktree is left
/// detached at the same commit, clean, for the next sling to put on a branch of its own.
pub fn drop_unused_branch(worktree: &Path, branch: &str, made_at: &str) -> Result<(), GitError> {
    if current_branch(worktree)? != branch || head(worktree)? != made_at {
        return Ok(());
    }
    let git = Git::new(worktree);
    git.run(&["checkout", "--quiet", "--detach"])?;
    git.run(&["branch", "--quiet", "-D", branch]).map(drop)
}

/// The bare repository's `polecat/*` branches that no worktree has checked out and that hold
/// no commit `origin/<base>` lacks: left by slings killed before they finished, or by
/// polecats that moved on to another branch. Deleting them loses nothing.
pub fn leftover_branches(bare: &Path, base: &str) -> Result<Vec<String>, GitError> {
    let out = Git::new(bare).run(&[
        "for-each-ref",
        &format!("--merged=refs/remotes/origin/{base}"),
        "--format=%(worktreepath)%00%(refname:short)",
        "refs/heads/polecat/",
    ])?;
    Ok(out
        .lines()
        .filter_map(|line| line.split_once('\0'))
        .filter(|(worktree, _)| worktree.is_empty())
        .map(|(_, branch)| branch.to_owned())
        .collect())
}

/// Deletes `branches` from the bare repository; git itself refuses any checked out meanwhile.
pub fn delete_branches(bare: &Path, branches: &[String]) -> Result<(), GitError> {
    if branches.is_empty() {
        return Ok(());
    }
    let mut args = vec!["branch", "--quiet", "-D"];
    args.extend(branches.iter().map(String::as_str));
    Git::new(bare).run(&args).map(drop)
}

/// Deletes rig `rig`'s [`leftover_branches`] under its admission lock (so no sling is making
/// or adopting one meanwhile), listing them again once the lock is held. Returns those deleted.
pub fn prune_leftover_branches(
    town: &crate::layout::Town,
    rig: &str,
    bare: &Path,
    base: &str,
) -> crate::work::Result<Vec<String>> {
    let _lock = crate::work::admission_lock(town, rig)?;
    let branches = leftover_branches(bare, base)?;
    delete_branches(bare, &branches)?;
    Ok(branches)
}

/// Whether a worktree has no uncommitted changes (untracked files count).
pub fn is_clean(worktree: &Path) -> Result<bool, GitError> {
    Ok(Git::new(worktree)
        .run(&["status", "--porcelain"])?
        .trim()
        .is_empty())
}

/// The top of the worktree containing `dir`.
pub fn toplevel(dir: &Path) -> Result<PathBuf, GitError> {
    Ok(PathBuf::from(
        Git::new(dir).run(&["rev-parse", "--show-toplevel"])?.trim(),
    ))
}

/// The branch checked out in `dir` (empty when detached).
pub fn current_branch(dir: &Path) -> Result<String, GitError> {
    let out = Git::new(dir).output(&["symbolic-ref", "--quiet", "--short", "HEAD"])?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The commit checked out in `dir`.
pub fn head(dir: &Path) -> Result<String, GitError> {
    Ok(Git::new(dir).run(&["rev-parse", "HEAD"])?.trim().to_owned())
}

/// How many commits `dir`'s HEAD has that `base` (`origin/main`) does not.
pub fn commits_ahead(dir: &Path, base: &str) -> Result<u64, GitError> {
    let out = Git::new(dir).run(&["rev-list", "--count", &format!("{base}..HEAD")])?;
    out.trim().parse().map_err(|_| GitError::Parse {
        args: "rev-list --count".into(),
        output: out,
    })
}

/// Commits everything in `dir` with `message` (`git add -A`, then commit). Returns false if
/// there was nothing to commit.
pub fn commit_all(dir: &Path, message: &str) -> Result<bool, GitError> {
    let git = Git::new(dir);
    git.run(&["add", "-A"])?;
    if git
        .output(&["diff", "--cached", "--quiet"])?
        .status
        .success()
    {
        return Ok(false);
    }
    git.run(&["commit", "--quiet", "--no-verify", "-m", message])?;
    Ok(true)
}

/// Pushes `branch` from `dir` to `origin`, then returns the SHA the remote now holds for it.
pub fn push(dir: &Path, branch: &str) -> Result<String, GitError> {
    Git::new(dir).run(&[
        "push",
        "--quiet",
        "origin",
        &format!("HEAD:refs/heads/{branch}"),
    ])?;
    remote_sha(dir, branch)
}

/// The SHA `origin` holds for `branch` (empty when it has none).
pub fn remote_sha(dir: &Path, branch: &str) -> Result<String, GitError> {
    let out = Git::new(dir).run(&["ls-remote", "origin", &format!("refs/heads/{branch}")])?;
    Ok(out.split_whitespace().next().unwrap_or_default().to_owned())
}

/// Keeps `patterns` out of git in this worktree (`info/exclude`), without touching tracked
/// files such as the repository's `.gitignore`.
pub fn exclude(worktree: &Path, patterns: &[&str]) -> Result<(), GitError> {
    let git = Git::new(worktree);
    let rel = git.run(&["rev-parse", "--git-path", "info/exclude"])?;
    let path = worktree.join(rel.trim());
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    let mut changed = false;
    for p in patterns {
        if !text.lines().any(|l| l == *p) {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(p);
            text.push('\n');
            changed = true;
        }
    }
    if changed {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(GitError::Spawn)?;
        }
        std::fs::write(&path, text).map_err(GitError::Spawn)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names_follow_upstream() {
        assert_eq!(branch_name("nux", "gt-abc", 0), "polecat/nux/gt-abc@0");
        assert_eq!(
            branch_name("nux", "gt-abc", 36 * 36),
            "polecat/nux/gt-abc@100"
        );
    }
}
