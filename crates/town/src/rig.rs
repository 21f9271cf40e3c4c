//! Rigs: `gt rig add/list/status/remove/park/unpark`.
//!
//! `add` is atomic: it builds the rig directory (bare clone, refinery worktree, config), then
//! registers the route and the rig; any failure removes the directory and restores
//! `routes.jsonl` and `rigs.json` as they were.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::files::{self, FileError};
use crate::layout::{RigBeads, RigConfig, RigEntry, RigPaths, TOWN_PREFIX, Town};

/// Directory names a rig may not take.
const RESERVED: &[&str] = &[
    "hq",
    "mayor",
    "deacon",
    "settings",
    "logs",
    "plugins",
    "directives",
    "formula-overlays",
    "config",
    "daemon",
];

/// Rig failures.
#[derive(Debug, thiserror::Error)]
pub enum RigError {
    #[error("invalid rig name `{name}`: {reason}")]
    BadName { name: String, reason: String },
    #[error("invalid prefix `{prefix}`: {reason}")]
    BadPrefix { prefix: String, reason: String },
    #[error("a rig named `{0}` already exists")]
    Exists(String),
    #[error("`{}` already exists and is not a registered rig", path.display())]
    DirExists { path: PathBuf },
    #[error("no rig named `{0}`")]
    NotFound(String),
    #[error("prefix `{prefix}` is already used by `{owner}`")]
    PrefixTaken { prefix: String, owner: String },
    #[error("cannot clone `{url}`: {reason}")]
    Clone { url: String, reason: String },
    #[error("`{url}` has no commits: a rig needs a default branch to work on")]
    EmptyRepo { url: String },
    #[error("rig `{rig}` has work in flight: {}", what.join(", "))]
    Busy { rig: String, what: Vec<String> },
    #[error("cannot access `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    Git(#[from] host::git::GitError),
    #[error(transparent)]
    Store(#[from] beads::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RigError + '_ {
    move |source| RigError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Checks a rig name: a letter, then letters, digits, `_` or `-` (a repository's name often
/// has one); at most 32; not reserved. So no leading `-` (it would read as a flag), no `.` (no
/// `..`), no `/` or whitespace: the name is a directory of the town and a word in addresses.
pub fn validate_name(name: &str) -> Result<(), RigError> {
    let bad = |reason: &str| {
        Err(RigError::BadName {
            name: name.to_owned(),
            reason: reason.to_owned(),
        })
    };
    if name.is_empty() || name.len() > 32 {
        return bad("use 1-32 characters");
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return bad("it must start with a letter");
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return bad(&format!(
            "`{}` is not allowed (letters, digits, `_` and `-` only)",
            c.escape_default()
        ));
    }
    if RESERVED.contains(&name.to_ascii_lowercase().as_str()) {
        return bad("the name is reserved");
    }
    Ok(())
}

/// A bead prefix from a rig name: the initials of its words (camelCase, `_`, `-`, or a known
/// compound ending such as `gastown` → `gt`), else its first two letters.
pub fn derive_prefix(name: &str) -> String {
    const ENDINGS: &[&str] = &[
        "town", "base", "hub", "lab", "land", "works", "app", "api", "web", "kit", "ops", "bot",
        "core", "flow", "stack", "server", "service", "store", "db",
    ];
    let mut words: Vec<String> = Vec::new();
    for part in name.split(['_', '-']).filter(|p| !p.is_empty()) {
        let mut cur = String::new();
        for c in part.chars() {
            if c.is_ascii_uppercase() && !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            cur.push(c.to_ascii_lowercase());
        }
        if !cur.is_empty() {
            words.push(cur);
        }
    }
    if words.len() == 1 {
        let w = words[0].clone();
        if let Some(end) = ENDINGS
            .iter()
            .find(|e| w.len() > e.len() + 1 && w.ends_with(*e))
        {
            words = vec![w[..w.len() - end.len()].to_owned(), (*end).to_owned()];
        }
    }
    let prefix: String = if words.len() >= 2 {
        words.iter().filter_map(|w| w.chars().next()).collect()
    } else {
        words
            .first()
            .map(|w| w.chars().take(2).collect())
            .unwrap_or_default()
    };
    prefix.chars().filter(char::is_ascii_alphanumeric).collect()
}

/// What `add` was asked for.
#[derive(Debug, Clone, Default)]
pub struct AddOptions {
    /// The bead prefix; derived from the name when not given.
    pub prefix: Option<String>,
    /// Let git print clone progress to the terminal.
    pub progress: bool,
}

/// Checks that a rig called `name` can be added: a valid name, not registered, no directory
/// in the way. [`add`] checks it again; a caller checks first to refuse before saying it clones.
pub fn check_new(town: &Town, name: &str) -> Result<(), RigError> {
    validate_name(name)?;
    if town.rigs()?.rigs.contains_key(name) {
        return Err(RigError::Exists(name.to_owned()));
    }
    let dir = RigPaths::new(town, name).dir;
    if dir.exists() {
        return Err(RigError::DirExists { path: dir });
    }
    Ok(())
}

/// Adds a rig: validate, clone, build, register — or leave everything as it was.
pub fn add(
    town: &Town,
    name: &str,
    url: &str,
    opts: &AddOptions,
    now: &str,
) -> Result<RigEntry, RigError> {
    check_new(town, name)?;
    let mut rigs = town.rigs()?;
    let paths = RigPaths::new(town, name);
    let prefix = choose_prefix(&rigs.rigs, name, opts.prefix.as_deref())?;
    let beads_dir = town.beads_dir();
    let routes_before = beads::routes::read(&beads_dir)?;
    let result = build(town, &paths, name, url, &prefix, opts, now, &routes_before);
    match result {
        Ok((entry, _config)) => {
            rigs.rigs.insert(name.to_owned(), entry.clone());
            if let Err(e) = town.save_rigs(&rigs) {
                let _ = beads::routes::write(&beads_dir, &routes_before);
                let _ = files::remove_tree(town.root(), &paths.dir);
                return Err(e.into());
            }
            Ok(entry)
        }
        Err(e) => {
            let _ = beads::routes::write(&beads_dir, &routes_before);
            let _ = files::remove_tree(town.root(), &paths.dir);
            Err(e)
        }
    }
}

fn choose_prefix(
    rigs: &std::collections::BTreeMap<String, RigEntry>,
    name: &str,
    wanted: Option<&str>,
) -> Result<String, RigError> {
    let taken = |p: &str| -> Option<String> {
        if p == TOWN_PREFIX {
            return Some("the town".into());
        }
        rigs.iter()
            .find(|(_, e)| e.beads.prefix == p)
            .map(|(n, _)| format!("rig `{n}`"))
    };
    if let Some(p) = wanted {
        beads::store::validate_prefix(p).map_err(|e| RigError::BadPrefix {
            prefix: p.to_owned(),
            reason: e.to_string(),
        })?;
        return match taken(p) {
            Some(owner) => Err(RigError::PrefixTaken {
                prefix: p.to_owned(),
                owner,
            }),
            None => Ok(p.to_owned()),
        };
    }
    let mut base = derive_prefix(name);
    if beads::store::validate_prefix(&base).is_err() {
        base = "rig".into();
    }
    if taken(&base).is_none() {
        return Ok(base);
    }
    (2..1000)
        .map(|n| format!("{base}{n}"))
        .find(|p| taken(p).is_none())
        .ok_or_else(|| RigError::PrefixTaken {
            prefix: base.clone(),
            owner: "other rigs".into(),
        })
}

#[expect(
    clippy::too_many_arguments,
    reason = "one private step of `add`, called once"
)]
fn build(
    town: &Town,
    paths: &RigPaths,
    name: &str,
    url: &str,
    prefix: &str,
    opts: &AddOptions,
    now: &str,
    routes_before: &[beads::routes::Route],
) -> Result<(RigEntry, RigConfig), RigError> {
    std::fs::create_dir_all(&paths.dir).map_err(io(&paths.dir))?;
    let bare = paths.bare_repo();
    let git = host::git::Git::new(&paths.dir);
    let mut clone = git.command(["clone", "--bare", "--quiet"]);
    if opts.progress {
        clone.arg("--progress");
    }
    clone.arg("--").arg(url).arg(&bare);
    let output = if opts.progress {
        clone.stderr(std::process::Stdio::inherit()).output()
    } else {
        clone.output()
    }
    .map_err(host::git::GitError::Spawn)?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let reason = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("git clone failed")
            .trim()
            .to_owned();
        return Err(RigError::Clone {
            url: url.to_owned(),
            reason,
        });
    }
    let bare_git = host::git::Git::new(&bare);
    // A bare clone tracks nothing; map the remote's branches to `origin/*` so every worktree
    // of the rig can start from (and the refinery land onto) what the remote holds.
    bare_git.run(&[
        "config",
        "remote.origin.fetch",
        "+refs/heads/*:refs/remotes/origin/*",
    ])?;
    bare_git.run(&["fetch", "--quiet", "origin"])?;
    let branch = default_branch(&bare_git)?.ok_or_else(|| RigError::EmptyRepo {
        url: url.to_owned(),
    })?;
    let refinery = paths.refinery_worktree();
    std::fs::create_dir_all(refinery.parent().unwrap_or(&paths.dir)).map_err(io(&paths.dir))?;
    bare_git.run(&[
        "worktree",
        "add",
        "--quiet",
        &refinery.to_string_lossy(),
        &branch,
    ])?;
    for dir in [
        paths.polecats_dir(),
        paths.crew_dir(),
        paths.witness_dir(),
        paths.dir.join("settings"),
    ] {
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    }
    let config = RigConfig {
        kind: "rig".into(),
        version: 1,
        name: name.to_owned(),
        git_url: url.to_owned(),
        push_url: String::new(),
        upstream_url: String::new(),
        local_repo: String::new(),
        default_branch: branch,
        created_at: now.to_owned(),
        beads: RigBeads {
            repo: String::new(),
            prefix: prefix.to_owned(),
        },
        extra: Default::default(),
    };
    files::write_json(&paths.config_json(), &config)?;
    files::write_json(
        &paths.settings_json(),
        &serde_json::json!({"type": "rig-settings", "version": 1}),
    )?;
    let mut routes = routes_before.to_vec();
    routes.push(beads::routes::Route {
        prefix: format!("{prefix}-"),
        path: name.to_owned(),
    });
    beads::routes::write(&town.beads_dir(), &routes)?;
    let entry = RigEntry {
        git_url: url.to_owned(),
        added_at: now.to_owned(),
        beads: RigBeads {
            repo: String::new(),
            prefix: prefix.to_owned(),
        },
        ..RigEntry::default()
    };
    Ok((entry, config))
}

/// The branch a rig works on: the remote's HEAD when it names a branch with commits, else
/// `main`, `master`, or the only branch there is. `None` for a repository without commits.
fn default_branch(bare: &host::git::Git) -> Result<Option<String>, RigError> {
    let has_commits = |b: &str| -> Result<bool, RigError> {
        Ok(bare
            .output(&[
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("refs/heads/{b}^{{commit}}"),
            ])?
            .status
            .success())
    };
    let head = bare.output(&["symbolic-ref", "--short", "HEAD"])?;
    let head = String::from_utf8_lossy(&head.stdout).trim().to_owned();
    if !head.is_empty() && has_commits(&head)? {
        return Ok(Some(head));
    }
    for b in ["main", "master"] {
        if has_commits(b)? {
            bare.run(&["symbolic-ref", "HEAD", &format!("refs/heads/{b}")])?;
            return Ok(Some(b.to_owned()));
        }
    }
    let branches = bare.run(&["for-each-ref", "--format=%(refname:short)", "refs/heads/"])?;
    let branches: Vec<&str> = branches.lines().filter(|l| !l.is_empty()).collect();
    match branches.as_slice() {
        [only] => {
            bare.run(&["symbolic-ref", "HEAD", &format!("refs/heads/{only}")])?;
            Ok(Some((*only).to_owned()))
        }
        _ => Ok(None),
    }
}

/// A rig as `list` and `status` show it.
#[derive(Debug, Clone, Serialize)]
pub struct RigSummary {
    pub name: String,
    pub prefix: String,
    pub git_url: String,
    pub default_branch: String,
    pub parked: bool,
    pub polecats: Vec<String>,
    pub open: i64,
    pub in_progress: i64,
    pub hooked: i64,
    pub blocked: i64,
    pub closed: i64,
}

/// Summaries of every registered rig, with bead counts from the store (one scan for all).
pub fn summaries(town: &Town, store: &beads::Store) -> Result<Vec<RigSummary>, RigError> {
    let rigs = town.rigs()?;
    let counts = store.counts_by_prefix()?;
    rigs.rigs
        .iter()
        .map(|(name, entry)| summary(town, name, entry, &counts))
        .collect()
}

/// One rig's summary.
pub fn summarize(
    town: &Town,
    store: &beads::Store,
    name: &str,
    entry: &RigEntry,
) -> Result<RigSummary, RigError> {
    summary(town, name, entry, &store.counts_by_prefix()?)
}

fn summary(
    town: &Town,
    name: &str,
    entry: &RigEntry,
    counts: &[(String, String, i64)],
) -> Result<RigSummary, RigError> {
    let paths = RigPaths::new(town, name);
    let default_branch = paths
        .config_opt()?
        .map(|c| c.default_branch)
        .unwrap_or_default();
    let n = |s: &str| {
        counts
            .iter()
            .find(|(p, st, _)| *p == entry.beads.prefix && st == s)
            .map_or(0, |(_, _, c)| *c)
    };
    Ok(RigSummary {
        name: name.to_owned(),
        prefix: entry.beads.prefix.clone(),
        git_url: entry.git_url.clone(),
        default_branch,
        parked: entry.parked,
        polecats: paths.polecat_names()?,
        open: n("open"),
        in_progress: n("in_progress"),
        hooked: n("hooked"),
        blocked: n("blocked"),
        closed: n("closed"),
    })
}

/// Looks up a registered rig.
pub fn entry(town: &Town, name: &str) -> Result<RigEntry, RigError> {
    town.rigs()?
        .rigs
        .get(name)
        .cloned()
        .ok_or_else(|| RigError::NotFound(name.to_owned()))
}

/// Removes a rig: its directory, route and registration. Refuses while beads of the rig are
/// hooked or in progress, or polecats exist, unless `force`.
pub fn remove(town: &Town, store: &beads::Store, name: &str, force: bool) -> Result<(), RigError> {
    validate_name(name)?;
    let entry = entry(town, name)?;
    let dir = town.rig_dir(name);
    // Checked before anything changes, and again by `remove_tree` when it deletes.
    files::inside(town.root(), &dir)?;
    if !force {
        let s = summarize(town, store, name, &entry)?;
        let mut what = Vec::new();
        if s.in_progress + s.hooked > 0 {
            what.push(format!(
                "{} bead(s) hooked or in progress",
                s.in_progress + s.hooked
            ));
        }
        if !s.polecats.is_empty() {
            what.push(format!("polecats {}", s.polecats.join(", ")));
        }
        if !what.is_empty() {
            return Err(RigError::Busy {
                rig: name.to_owned(),
                what,
            });
        }
    }
    let mut rigs = town.rigs()?;
    rigs.rigs.remove(name);
    town.save_rigs(&rigs)?;
    let beads_dir = town.beads_dir();
    let routes: Vec<_> = beads::routes::read(&beads_dir)?
        .into_iter()
        .filter(|r| r.path != name)
        .collect();
    beads::routes::write(&beads_dir, &routes)?;
    files::remove_tree(town.root(), &dir)?;
    Ok(())
}

/// Parks or unparks a rig. Returns false if it already was in that state.
pub fn set_parked(town: &Town, name: &str, parked: bool) -> Result<bool, RigError> {
    let mut rigs = town.rigs()?;
    let entry = rigs
        .rigs
        .get_mut(name)
        .ok_or_else(|| RigError::NotFound(name.to_owned()))?;
    if entry.parked == parked {
        return Ok(false);
    }
    entry.parked = parked;
    town.save_rigs(&rigs)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        assert!(validate_name("gastown").is_ok());
        assert!(validate_name("my_project2").is_ok());
        assert!(validate_name("my-rig").is_ok());
        assert!(validate_name("gas-town-2").is_ok());
        for bad in [
            "-rf",
            "--help",
            "a.b",
            "a..b",
            "../x",
            "a/b",
            "..",
            "two words",
            "hq",
            "HQ",
            "",
            "1abc",
            "mayor",
        ] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prefixes_are_derived_from_words() {
        assert_eq!(derive_prefix("gastown"), "gt");
        assert_eq!(derive_prefix("myProject"), "mp");
        assert_eq!(derive_prefix("beads"), "be");
        assert_eq!(derive_prefix("web_app_server"), "was");
        assert_eq!(derive_prefix("my-project"), "mp");
    }

    #[test]
    fn prefix_collisions_get_a_number_or_an_error() {
        let mut rigs = std::collections::BTreeMap::new();
        rigs.insert(
            "gastown".to_owned(),
            RigEntry {
                beads: RigBeads {
                    prefix: "gt".into(),
                    repo: String::new(),
                },
                ..RigEntry::default()
            },
        );
        assert_eq!(choose_prefix(&rigs, "gigatown", None).unwrap(), "gt2");
        assert!(matches!(
            choose_prefix(&rigs, "x", Some("gt")),
            Err(RigError::PrefixTaken { .. })
        ));
        assert!(matches!(
            choose_prefix(&rigs, "x", Some("hq")),
            Err(RigError::PrefixTaken { .. })
        ));
        assert!(matches!(
            choose_prefix(&rigs, "x", Some("Bad-")),
            Err(RigError::BadPrefix { .. })
        ));
    }
}
