//! Crew workspaces: full clones of a rig's repository at `<rig>/crew/<name>`, each for one
//! long-lived agent and its human.
//!
//! [`add`] clones into a hidden directory beside the final one and renames it into place, so a
//! killed add leaves nothing a listing shows (the next add of that name clears the leftover).
//! [`remove`] refuses while the clone holds work that exists nowhere else — uncommitted
//! changes, stashes, commits on no remote branch — unless forced.

use std::path::PathBuf;

use serde::Serialize;

use super::RoleId;
use crate::layout::{RigPaths, Town};
use crate::rigctx::RigCtx;
use crate::runtime::Runtimes;
use crate::work::{Result, refused};

/// How long an add or remove waits for another of the same crew member.
const CREW_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// A new workspace.
#[derive(Debug, Clone, Serialize)]
pub struct Added {
    pub address: String,
    pub dir: PathBuf,
    pub branch: String,
}

/// What a workspace holds that exists nowhere else.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WorkState {
    /// The checked-out branch (empty when detached).
    pub branch: String,
    /// Changed or untracked paths (`git status --porcelain`).
    pub uncommitted: Vec<String>,
    /// Commits on local branches that no remote branch has.
    pub unpushed: usize,
    pub stashes: usize,
}

impl WorkState {
    /// Whether removing the clone would lose work.
    pub fn has_work(&self) -> bool {
        !self.uncommitted.is_empty() || self.unpushed > 0 || self.stashes > 0
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.uncommitted.is_empty() {
            parts.push(format!(
                "{} uncommitted change(s) ({})",
                self.uncommitted.len(),
                self.uncommitted
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if self.unpushed > 0 {
            parts.push(format!("{} commit(s) on no remote branch", self.unpushed));
        }
        if self.stashes > 0 {
            parts.push(format!("{} stash(es)", self.stashes));
        }
        parts.join(", ")
    }
}

fn crew_lock(town: &Town, rig: &str, name: &str) -> Result<host::lock::LockGuard> {
    // `.` cannot be in a rig name, so a rig `a-b` and a rig `a` never share a crew lock.
    crate::work::lock_waiting(town, &format!("crew-{rig}.{name}.lock"), CREW_WAIT, || {
        format!("crew member `{rig}/crew/{name}`")
    })
}

/// Checks a crew name the way an address part is checked.
fn check_name(name: &str) -> Result<()> {
    if crate::address::valid_part(name) && !matches!(name, "crew" | "polecats") {
        Ok(())
    } else {
        Err(refused(format!(
            "`{}` cannot name a crew member: use letters, digits, `_` and `-` (not `crew` or `polecats`)",
            name.escape_debug()
        )))
    }
}

/// Clones rig `rig`'s repository into `<rig>/crew/<name>`; with `branch`, on a new branch
/// `crew/<name>` from the default branch, else on the default branch itself.
pub fn add(town: &Town, rig: &str, name: &str, branch: bool) -> Result<Added> {
    check_name(name)?;
    let ctx = RigCtx::load(town, rig, None)?;
    let _lock = crew_lock(town, rig, name)?;
    let crew_dir = ctx.paths.crew_dir();
    let dir = crew_dir.join(name);
    if dir.exists() {
        return Err(refused(format!(
            "rig `{rig}` already has a crew member `{name}` (at `{}`)",
            dir.display()
        )));
    }
    std::fs::create_dir_all(&crew_dir).map_err(|source| crate::work::WorkError::Io {
        path: crew_dir.clone(),
        source,
    })?;
    let staging = crew_dir.join(format!(".adding-{name}"));
    if staging.exists() {
        crate::files::remove_tree(town.root(), &staging)?;
    }
    let git = host::git::Git::new(&crew_dir);
    let staging_arg = staging.display().to_string();
    let mut args = vec!["clone", "--quiet", "--no-hardlinks"];
    let bare = ctx.paths.bare_repo().display().to_string();
    if ctx.paths.bare_repo().is_dir() {
        // Objects come from the rig's own copy where they can; the clone keeps none of its links.
        args.extend(["--reference-if-able", &bare, "--dissociate"]);
    }
    args.extend([
        "--branch",
        ctx.target(),
        "--",
        &ctx.config.git_url,
        &staging_arg,
    ]);
    git.run(&args)?;
    let clone = host::git::Git::new(&staging);
    if !ctx.config.push_url.is_empty() {
        clone.run(&[
            "remote",
            "set-url",
            "--push",
            "origin",
            &ctx.config.push_url,
        ])?;
    }
    let branch_name = if branch {
        let b = format!("crew/{name}");
        clone.run(&["checkout", "--quiet", "-b", &b])?;
        b
    } else {
        ctx.target().to_owned()
    };
    std::fs::rename(&staging, &dir).map_err(|source| crate::work::WorkError::Io {
        path: dir.clone(),
        source,
    })?;
    Ok(Added {
        address: format!("{rig}/crew/{name}"),
        dir,
        branch: branch_name,
    })
}

/// What `dir`'s clone holds that exists nowhere else.
pub fn work_state(dir: &std::path::Path) -> Result<WorkState> {
    let git = host::git::Git::new(dir);
    let branch = git
        .output(&["symbolic-ref", "--quiet", "--short", "HEAD"])
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let uncommitted = git
        .run(&["status", "--porcelain", "--untracked-files=all"])?
        .lines()
        .map(|l| l.get(3..).unwrap_or(l).to_owned())
        .collect();
    let unpushed = git
        .run(&["rev-list", "--count", "--branches", "--not", "--remotes"])?
        .trim()
        .parse()
        .unwrap_or(0);
    let stashes = git.run(&["stash", "list"])?.lines().count();
    Ok(WorkState {
        branch,
        uncommitted,
        unpushed,
        stashes,
    })
}

/// What a removal did.
#[derive(Debug, Clone, Serialize)]
pub struct Removed {
    pub address: String,
    pub dir: PathBuf,
    /// Its agent was running and was stopped.
    pub stopped: bool,
    /// The work that was thrown away (`--force`).
    pub discarded: WorkState,
}

/// Stops the crew member's agent and deletes its clone. Refuses, changing nothing, while the
/// clone holds work that exists nowhere else, unless `force`.
pub fn remove(
    town: &Town,
    store: &mut beads::Store,
    runtimes: &Runtimes,
    rig: &str,
    name: &str,
    force: bool,
) -> Result<Removed> {
    check_name(name)?;
    crate::rig::entry(town, rig)?;
    let _lock = crew_lock(town, rig, name)?;
    let dir = RigPaths::new(town, rig).crew_dir().join(name);
    if !dir.is_dir() {
        return Err(refused(format!("rig `{rig}` has no crew member `{name}`")));
    }
    let state = work_state(&dir)?;
    if state.has_work() && !force {
        return Err(refused(format!(
            "crew member `{rig}/crew/{name}` has work that exists nowhere else: {}; commit and push it, or remove with `--force` to throw it away",
            state.describe()
        )));
    }
    let role = RoleId::Crew {
        rig: rig.to_owned(),
        name: name.to_owned(),
    };
    let stopped = super::stop(store, town, runtimes, &role, beads::Desired::Stopped)?;
    crate::files::remove_tree(town.root(), &dir)?;
    store.delete_role_agent(&role.address().canonical())?;
    Ok(Removed {
        address: role.address().canonical(),
        dir,
        stopped,
        discarded: state,
    })
}

/// One workspace in a listing.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub rig: String,
    pub name: String,
    #[serde(flatten)]
    pub status: super::Status,
    #[serde(flatten)]
    pub work: WorkState,
}

/// Every crew member of `rig` (of every rig when `None`), by rig and name.
pub fn list(
    town: &Town,
    store: &beads::Store,
    runtimes: &Runtimes,
    rig: Option<&str>,
) -> Result<Vec<Member>> {
    let rigs: Vec<String> = match rig {
        Some(r) => {
            crate::rig::entry(town, r)?;
            vec![r.to_owned()]
        }
        None => town.rigs()?.rigs.into_keys().collect(),
    };
    let mut out = Vec::new();
    for rig in rigs {
        for name in RigPaths::new(town, &rig).crew_names()? {
            out.push(member(town, store, runtimes, &rig, &name)?);
        }
    }
    Ok(out)
}

/// One crew member's status and work.
pub fn member(
    town: &Town,
    store: &beads::Store,
    runtimes: &Runtimes,
    rig: &str,
    name: &str,
) -> Result<Member> {
    let role = RoleId::Crew {
        rig: rig.to_owned(),
        name: name.to_owned(),
    };
    role.check_exists(town)?;
    Ok(Member {
        rig: rig.to_owned(),
        name: name.to_owned(),
        status: super::status(store, town, runtimes, &role)?,
        work: work_state(&role.dir(town))?,
    })
}
