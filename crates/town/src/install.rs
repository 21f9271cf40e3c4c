//! `gt install`: create a town, or repair one with `--force` without losing data.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::files;
use crate::layout::{RigsConfig, TOWN_PREFIX, Town, TownConfig};

/// What `install` was asked for.
#[derive(Debug, Clone, Default)]
pub struct InstallOptions {
    /// The town's name (default: the directory's name).
    pub name: Option<String>,
    /// The owner recorded in `town.json` (an email, usually).
    pub owner: String,
    /// Repair an existing town: create what is missing, keep everything that exists.
    pub force: bool,
    /// Make the town a git repository with a fitting `.gitignore`.
    pub git: bool,
}

/// What `install` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InstallReport {
    pub root: PathBuf,
    pub name: String,
    /// Paths created, relative to the root.
    pub created: Vec<String>,
    /// True when an existing town was repaired.
    pub repaired: bool,
}

/// Install failures.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("`{}` is a file, not a directory", path.display())]
    NotADirectory { path: PathBuf },
    #[error("`{}` is inside the town at `{}`", path.display(), town.display())]
    InsideTown { path: PathBuf, town: PathBuf },
    #[error("a town already exists at `{}`", path.display())]
    Exists { path: PathBuf },
    #[error("cannot create `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    File(#[from] files::FileError),
    #[error("cannot create the town's beads store")]
    Store(#[from] beads::Error),
    #[error("cannot make the town a git repository")]
    Git(#[from] host::git::GitError),
}

const IDENTITY: &str = "\
# Gas Town

This directory is a Gas Town: a workspace where coding agents work on the rigs (repositories)
below it, coordinated by `gt` and tracked as beads by `bd`.

You are an agent in this town. Your role, your current work and how to finish it come from
`gt prime`: run it now, and again whenever you are unsure what to do next.
";

const GITIGNORE: &str = "\
# Machine-local state: the database is the source of truth, `bd export` is what to commit.
.runtime/
logs/
.beads/beads.db*
.beads/*.lock
# Rigs hold their own repositories and worktrees.
*/.repo.git/
*/refinery/
*/polecats/
*/crew/
*/witness/
";

/// Creates a town at `path` (made if missing). Refuses inside an existing town, or on an
/// existing town without `force`. A failed fresh install removes what it created.
pub fn install(
    path: &Path,
    opts: &InstallOptions,
    ctx: beads::Context,
) -> Result<InstallReport, InstallError> {
    if path.is_file() {
        return Err(InstallError::NotADirectory {
            path: path.to_owned(),
        });
    }
    let existed = path.exists();
    let probe = if existed {
        path.canonicalize().map_err(|source| InstallError::Io {
            path: path.to_owned(),
            source,
        })?
    } else {
        absolute(path)
    };
    if let Ok(town) = crate::discover(None, &probe) {
        if town != probe {
            return Err(InstallError::InsideTown {
                path: path.to_owned(),
                town,
            });
        }
        if !opts.force {
            return Err(InstallError::Exists {
                path: path.to_owned(),
            });
        }
    }
    let mut created = Vec::new();
    let result = build(&probe, opts, ctx, &mut created);
    if result.is_err() {
        // Leave nothing half-made: remove what this run created, newest first.
        if existed {
            for rel in created.iter().rev() {
                let p = probe.join(rel);
                let _ = crate::files::remove_tree(&probe, &p);
            }
        } else if let Some(parent) = probe.parent() {
            // The town's own directory, made by this run: the one delete that is not inside
            // the town, so it is checked against the directory that holds it.
            let _ = crate::files::remove_tree(parent, &probe);
        }
    }
    let name = result?;
    Ok(InstallReport {
        root: probe,
        name,
        repaired: existed && opts.force,
        created,
    })
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_owned()
    } else {
        host::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_owned())
    }
}

fn build(
    root: &Path,
    opts: &InstallOptions,
    ctx: beads::Context,
    created: &mut Vec<String>,
) -> Result<String, InstallError> {
    let town = Town::at(root);
    let now = beads::store::format_ts(ctx.clock.now());
    let mkdir = |rel: &str, created: &mut Vec<String>| -> Result<(), InstallError> {
        let p = root.join(rel);
        if !p.exists() {
            std::fs::create_dir_all(&p).map_err(|source| InstallError::Io {
                path: p.clone(),
                source,
            })?;
            created.push(rel.to_owned());
        }
        Ok(())
    };
    std::fs::create_dir_all(root).map_err(|source| InstallError::Io {
        path: root.to_owned(),
        source,
    })?;
    for dir in ["mayor", "settings", ".runtime", ".runtime/locks", "logs"] {
        mkdir(dir, created)?;
    }
    let name = opts.name.clone().unwrap_or_else(|| {
        root.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "gt".into())
    });
    let mut write_new = |rel: &str,
                         write: &dyn Fn(&Path) -> Result<(), InstallError>|
     -> Result<(), InstallError> {
        let p = root.join(rel);
        if !p.exists() {
            write(&p)?;
            created.push(rel.to_owned());
        }
        Ok(())
    };
    write_new("mayor/town.json", &|p| {
        let config = TownConfig {
            kind: "town".into(),
            version: 2,
            name: name.clone(),
            owner: opts.owner.clone(),
            public_name: name.clone(),
            created_at: now.clone(),
            extra: Default::default(),
        };
        Ok(files::write_json(p, &config)?)
    })?;
    write_new("mayor/rigs.json", &|p| {
        Ok(files::write_json(
            p,
            &RigsConfig {
                version: 1,
                ..RigsConfig::default()
            },
        )?)
    })?;
    write_new("settings/config.json", &|p| {
        Ok(files::write_json(
            p,
            &serde_json::json!({"type": "town-settings", "version": 1, "default_agent": "claude"}),
        )?)
    })?;
    write_new("CLAUDE.md", &|p| {
        std::fs::write(p, IDENTITY).map_err(|source| InstallError::Io {
            path: p.to_owned(),
            source,
        })
    })?;
    write_new("AGENTS.md", &|p| {
        std::fs::write(p, IDENTITY).map_err(|source| InstallError::Io {
            path: p.to_owned(),
            source,
        })
    })?;
    // Validate what is there (a repaired town may carry a broken file).
    town.config()?;
    town.rigs()?;
    crate::settings::read_layer(&town.settings_json(), "town-settings").map_err(|e| match e {
        crate::settings::SettingsError::File(f) => InstallError::File(f),
        other => InstallError::File(files::FileError::Invalid {
            path: town.settings_json(),
            key: String::new(),
            message: other.to_string(),
        }),
    })?;
    let beads_dir = town.beads_dir();
    if !beads_dir.join(beads::store::DB_FILE).exists() {
        let had_dir = beads_dir.exists();
        beads::Store::init(&beads_dir, TOWN_PREFIX, ctx)?;
        if !had_dir {
            created.push(beads::store::BEADS_DIR.to_owned());
        }
    }
    let mut routes = beads::routes::read(&beads_dir)?;
    if !routes.iter().any(|r| r.path == ".") {
        routes.push(beads::routes::Route {
            prefix: format!("{TOWN_PREFIX}-"),
            path: ".".into(),
        });
        beads::routes::write(&beads_dir, &routes)?;
    }
    if opts.git && !root.join(".git").exists() {
        host::git::Git::new(root).run(&["init", "-q"])?;
        created.push(".git".into());
        let ignore = root.join(".gitignore");
        if !ignore.exists() {
            std::fs::write(&ignore, GITIGNORE).map_err(|source| InstallError::Io {
                path: ignore.clone(),
                source,
            })?;
            created.push(".gitignore".into());
        }
    }
    Ok(name)
}

/// A fresh town at `<dir>/town`, installed with `ctx`'s clock, for unit tests.
#[cfg(test)]
pub(crate) fn test_town(dir: &Path, ctx: beads::Context) -> Town {
    let root = dir.join("town");
    install(
        &root,
        &InstallOptions {
            owner: "test@example.com".into(),
            ..Default::default()
        },
        ctx,
    )
    .unwrap();
    Town::at(root)
}
