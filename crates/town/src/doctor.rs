//! `gt doctor`: check the town and repair what is safe to repair.
//!
//! Checks run in order and never stop early: tool versions, the town's files and layout,
//! every rig's layout, settings validity, the store's integrity, each configured agent
//! preset's real start (its program on the agents' `PATH`, `--version` answering, a
//! credential, what it refuses as root: see [`agent`]), that
//! locks can be taken, and leftovers of interrupted `rig add`s. With `fix`, missing
//! directories and files are recreated (never overwriting what exists), missing routes
//! restored and the store's readiness flags rebuilt; each finding says whether it was fixed.
//! Lock files are never "stale" (see [`locks`]).

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::agents::AgentPreset;
use crate::layout::{RigPaths, TOWN_PREFIX, Town};

/// How long an agent CLI gets to print its version.
pub const VERSION_TIMEOUT: Duration = Duration::from_secs(20);

/// The oldest tmux we drive.
pub const MIN_TMUX: (u32, u32) = (3, 0);

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Ok,
    Warning,
    Error,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub check: String,
    pub status: Severity,
    pub message: String,
    pub fixed: bool,
}

impl Check {
    fn new(check: impl Into<String>, status: Severity, message: impl Into<String>) -> Self {
        Self {
            check: check.into(),
            status,
            message: message.into(),
            fixed: false,
        }
    }
    fn ok(check: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(check, Severity::Ok, message)
    }
    fn fixed(mut self, fixed: bool) -> Self {
        self.fixed = fixed;
        self
    }
}

/// What the doctor needs from outside: which agent presets are configured (resolved by the
/// caller through the one preset resolver), the environment agents would start from, and the
/// store context.
pub struct DoctorInput<'a> {
    /// Every agent preset the town's settings name, resolved, or why it does not resolve.
    pub agents: &'a [(String, Result<AgentPreset, String>)],
    /// The caller's environment, of which agents get what [`crate::agent_env`] keeps.
    pub caller_env: &'a [(String, String)],
    /// The `gt` binary, first on the agents' `PATH`.
    pub gt_bin: &'a Path,
    pub ctx: beads::Context,
    pub fix: bool,
}

/// Runs every check.
pub fn run(town: &Town, input: DoctorInput<'_>) -> Vec<Check> {
    let mut out = Vec::new();
    tools(&mut out);
    let fix = input.fix;
    town_layout(town, fix, &mut out);
    rigs_layout(town, fix, &mut out);
    settings_validity(town, &mut out);
    forges(town, &mut out);
    store(town, input.ctx, fix, &mut out);
    let as_root = host::process::running_as_root();
    for (name, preset) in input.agents {
        out.push(match preset {
            Ok(preset) => agent(town, preset, input.caller_env, input.gt_bin, as_root),
            Err(why) => Check::new(format!("agent:{name}"), Severity::Error, why.clone()),
        });
    }
    locks(town, &mut out);
    leftovers(town, &mut out);
    leftover_branches(town, fix, &mut out);
    out
}

/// Whether `preset` would start as `gt sling` starts it: its program on the agents' `PATH`,
/// `<program> --version` answering within [`VERSION_TIMEOUT`] with the agent's variables, then
/// the checks a start makes ([`crate::agent_env::check`]: a credential, root restrictions). A
/// preset that cannot start is a warning: the town works without it until an agent uses it.
pub fn agent(
    town: &Town,
    preset: &AgentPreset,
    caller_env: &[(String, String)],
    gt_bin: &Path,
    as_root: bool,
) -> Check {
    let check = format!("agent:{}", preset.name);
    let warn = |message: String| Check::new(check.clone(), Severity::Warning, message);
    let env = crate::agent_env::start_env(caller_env, gt_bin, preset, as_root);
    let path = crate::agent_env::lookup(&env, "PATH").unwrap_or_default();
    let Some(program) = host::process::which_in(&preset.command, path) else {
        let refused = crate::agent_env::StartRefused::MissingProgram {
            preset: preset.name.clone(),
            program: preset.command.clone(),
        };
        return warn(format!("{refused}; {}", refused.hint()));
    };
    let quoted = host::tmux::shell_quote(&program.to_string_lossy());
    let version = match host::shell::run(
        &format!("{quoted} --version"),
        town.root(),
        &env,
        VERSION_TIMEOUT,
        None,
    ) {
        Ok(run) if run.success => version_line(&run.output),
        Ok(run) if run.timed_out => {
            return warn(format!(
                "`{} --version` did not answer within {} s; the CLI may be waiting for input or the network",
                program.display(),
                VERSION_TIMEOUT.as_secs()
            ));
        }
        Ok(run) => {
            let last = run.output.lines().rev().find(|l| !l.trim().is_empty());
            return warn(format!(
                "`{} --version` failed ({}){}",
                program.display(),
                run.code.map_or_else(
                    || "killed by a signal".to_owned(),
                    |c| format!("exit status {c}")
                ),
                last.map(|l| format!(": {}", l.trim())).unwrap_or_default()
            ));
        }
        Err(e) => return warn(format!("cannot run `{}`: {e}", program.display())),
    };
    if let Err(refused) = crate::agent_env::check(preset, &env, as_root) {
        return warn(format!(
            "{version} at `{}`, but {refused}; {}",
            program.display(),
            refused.hint()
        ));
    }
    let credential = crate::agent_env::credential(preset, &env).map_or_else(
        || "needs no credential".to_owned(),
        |found| format!("credential: {found}"),
    );
    Check::ok(
        check,
        format!("{version} at `{}`; {credential}", program.display()),
    )
}

/// The line of a `--version` output that names the version (CLIs print warnings around it):
/// the first with a word like `0.169.0` or `v2.1`, else the first line.
fn version_line(output: &str) -> String {
    let is_version = |word: &str| {
        let w = word.trim_start_matches('v');
        w.starts_with(|c: char| c.is_ascii_digit())
            && w.contains('.')
            && w.chars().all(|c| c.is_ascii_digit() || c == '.')
    };
    let lines = || output.lines().map(str::trim).filter(|l| !l.is_empty());
    lines()
        .find(|l| l.split_whitespace().any(is_version))
        .or_else(|| lines().next())
        .unwrap_or("no version printed")
        .to_owned()
}

fn tools(out: &mut Vec<Check>) {
    out.push(match host::git::version() {
        Ok((a, b, c)) if (a, b) >= host::git::MIN_VERSION => {
            Check::ok("git", format!("git {a}.{b}.{c}"))
        }
        Ok((a, b, c)) => Check::new(
            "git",
            Severity::Error,
            format!(
                "git {a}.{b}.{c} is older than {}.{}",
                host::git::MIN_VERSION.0,
                host::git::MIN_VERSION.1
            ),
        ),
        Err(e) => Check::new("git", Severity::Error, format!("git is not usable: {e}")),
    });
    out.push(match host::process::output("tmux", &["-V"]) {
        Ok(banner) => match host::process::parse_version(&banner) {
            Some(v) if v >= MIN_TMUX => Check::ok("tmux", banner.trim().to_owned()),
            _ => Check::new(
                "tmux",
                Severity::Error,
                format!(
                    "{} is older than {}.{}",
                    banner.trim(),
                    MIN_TMUX.0,
                    MIN_TMUX.1
                ),
            ),
        },
        Err(e) => Check::new("tmux", Severity::Error, format!("tmux is not usable: {e}")),
    });
}

fn town_layout(town: &Town, fix: bool, out: &mut Vec<Check>) {
    let required = [
        "mayor/town.json",
        "mayor/rigs.json",
        "settings/config.json",
        "CLAUDE.md",
        "AGENTS.md",
        ".runtime/locks",
        "logs",
        ".beads/beads.db",
    ];
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|rel| !town.root().join(rel).exists())
        .collect();
    let routes_ok =
        beads::routes::read(&town.beads_dir()).is_ok_and(|r| r.iter().any(|r| r.path == "."));
    if missing.is_empty() && routes_ok {
        out.push(Check::ok(
            "town_layout",
            "every town file and directory is in place",
        ));
        return;
    }
    let mut what = missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>();
    if !routes_ok {
        what.push(format!("the `{TOWN_PREFIX}` route"));
    }
    let message = format!("missing: {}", what.join(", "));
    if fix {
        let opts = crate::install::InstallOptions {
            force: true,
            ..Default::default()
        };
        let ctx = beads::Context {
            actor: "gt-doctor".into(),
            clock: Box::new(host::clock::SystemClock),
        };
        match crate::install::install(town.root(), &opts, ctx) {
            Ok(_) => out.push(Check::new("town_layout", Severity::Error, message).fixed(true)),
            Err(e) => out.push(Check::new(
                "town_layout",
                Severity::Error,
                format!("{message}; repair failed: {e}"),
            )),
        }
    } else {
        out.push(Check::new("town_layout", Severity::Error, message));
    }
}

fn rigs_layout(town: &Town, fix: bool, out: &mut Vec<Check>) {
    let Ok(rigs) = town.rigs() else { return };
    let routes = beads::routes::read(&town.beads_dir()).unwrap_or_default();
    for (name, entry) in &rigs.rigs {
        let paths = RigPaths::new(town, name);
        let check = format!("rig:{name}");
        if !paths.dir.is_dir() {
            out.push(Check::new(
                check,
                Severity::Error,
                format!(
                    "registered but `{}` is missing; `gt rig remove {name} --force` unregisters it",
                    paths.dir.display()
                ),
            ));
            continue;
        }
        let mut problems = Vec::new();
        let mut repaired = true;
        for p in [paths.bare_repo(), paths.config_json()] {
            if !p.exists() {
                problems.push(format!("`{}` is missing", p.display()));
                repaired = false;
            }
        }
        if !paths.refinery_worktree().join(".git").exists() {
            problems.push("the refinery worktree is missing".to_owned());
            repaired &= fix && restore_refinery(&paths);
        }
        for dir in [
            paths.polecats_dir(),
            paths.crew_dir(),
            paths.witness_dir(),
            paths.dir.join("settings"),
        ] {
            if !dir.is_dir() {
                problems.push(format!("`{}` is missing", dir.display()));
                repaired &= fix && std::fs::create_dir_all(&dir).is_ok();
            }
        }
        if !routes.iter().any(|r| r.path == *name) {
            problems.push(format!("the `{}` route is missing", entry.beads.prefix));
            if fix {
                let mut all = beads::routes::read(&town.beads_dir()).unwrap_or_default();
                all.push(beads::routes::Route {
                    prefix: format!("{}-", entry.beads.prefix),
                    path: name.clone(),
                });
                repaired &= beads::routes::write(&town.beads_dir(), &all).is_ok();
            } else {
                repaired = false;
            }
        }
        out.push(if problems.is_empty() {
            Check::ok(check, "layout complete")
        } else {
            Check::new(check, Severity::Error, problems.join("; ")).fixed(fix && repaired)
        });
    }
}

/// Re-creates the refinery worktree on the rig's default branch.
fn restore_refinery(paths: &RigPaths) -> bool {
    let Ok(config) = crate::files::read_json::<crate::layout::RigConfig>(&paths.config_json())
    else {
        return false;
    };
    let git = host::git::Git::new(paths.bare_repo());
    let _ = git.run(&["worktree", "prune"]);
    git.run(&[
        "worktree",
        "add",
        "--quiet",
        &paths.refinery_worktree().to_string_lossy(),
        &config.default_branch,
    ])
    .is_ok()
}

/// Each rig landing through a forge: its CLI installed and logged in (else landings would fail
/// halfway).
fn forges(town: &Town, out: &mut Vec<Check>) {
    let Ok(rigs) = town.rigs() else { return };
    for name in rigs.rigs.keys() {
        let Ok(ctx) = crate::rigctx::RigCtx::load(town, name, None) else {
            continue;
        };
        let dir = ctx.paths.refinery_worktree();
        let dir = if dir.is_dir() {
            dir
        } else {
            town.root().to_owned()
        };
        let check = format!("forge:{name}");
        match crate::forge::check(&ctx.settings.merge_queue, &ctx.entry.git_url, &dir) {
            Ok(None) => {}
            Ok(Some(kind)) => out.push(Check::ok(
                check,
                format!("`{}` is logged in to {}", kind.program(), kind.name()),
            )),
            Err(e) => out.push(Check::new(check, Severity::Error, e.to_string())),
        }
    }
}

fn settings_validity(town: &Town, out: &mut Vec<Check>) {
    let town_settings = town.settings_json();
    let mut layers = vec![(
        "settings:town".to_owned(),
        crate::settings::Sources {
            town: Some(&town_settings),
            ..Default::default()
        },
    )];
    let rigs = town
        .rigs()
        .map(|r| r.rigs.keys().cloned().collect::<Vec<_>>());
    let rig_paths: Vec<(String, std::path::PathBuf)> = rigs
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|n| (n.clone(), RigPaths::new(town, n).settings_json()))
        .collect();
    for (name, path) in &rig_paths {
        layers.push((
            format!("settings:{name}"),
            crate::settings::Sources {
                town: Some(&town_settings),
                rig: Some(path),
                ..Default::default()
            },
        ));
    }
    for (check, sources) in layers {
        out.push(match crate::settings::resolve(&sources) {
            Ok(_) => Check::ok(check, "valid"),
            Err(e) => Check::new(check, Severity::Error, e.to_string()),
        });
    }
    for (check, result) in [
        ("config:town.json", town.config().map(drop)),
        ("config:rigs.json", rigs.map(drop)),
    ] {
        out.push(match result {
            Ok(()) => Check::ok(check, "valid"),
            Err(e) => Check::new(check, Severity::Error, e.to_string()),
        });
    }
}

fn store(town: &Town, ctx: beads::Context, fix: bool, out: &mut Vec<Check>) {
    match beads::Store::open(&town.beads_dir(), ctx) {
        Ok(mut store) => match store.doctor(fix) {
            Ok(findings) => {
                for f in findings {
                    let status = match f.status {
                        "ok" => Severity::Ok,
                        "warning" => Severity::Warning,
                        _ => Severity::Error,
                    };
                    out.push(
                        Check::new(format!("store:{}", f.check), status, f.message).fixed(f.fixed),
                    );
                }
            }
            Err(e) => out.push(Check::new("store", Severity::Error, e.to_string())),
        },
        Err(e) => out.push(Check::new("store", Severity::Error, e.to_string())),
    }
}

/// Whether commands can take locks in `.runtime/locks`: the check takes one of its own.
///
/// Lock files are never reported as stale. They are `flock`s: the kernel releases one when
/// its holder exits, however it exits, so a lock file nobody holds is simply free — every
/// command leaves its file behind on purpose. Deleting them is not safe either: unlinking a
/// file while another process holds or waits on it lets a third process lock a new file of
/// the same name, and two commands then both believe they hold the lock. So the doctor
/// neither probes nor removes other commands' lock files (probing takes the lock, and a
/// command arriving at that instant would be told it is busy); it only checks that locking
/// works here at all, which fails on a read-only directory or a filesystem without locks.
fn locks(town: &Town, out: &mut Vec<Check>) {
    let dir = town.locks_dir();
    if !dir.is_dir() {
        // Reported (and repaired) by `town_layout`.
        return;
    }
    out.push(match host::lock::try_lock(&dir.join("doctor.lock")) {
        Ok(_) | Err(host::lock::LockError::Busy { .. }) => {
            Check::ok("locks", format!("locks can be taken in `{}`", dir.display()))
        }
        Err(host::lock::LockError::Io { source, .. }) => Check::new(
            "locks",
            Severity::Error,
            format!(
                "cannot take a lock in `{}`: {source}; every `gt` command that changes work will fail",
                dir.display()
            ),
        ),
    });
}

/// Rig directories that are not registered: the remains of an interrupted `rig add`.
fn leftovers(town: &Town, out: &mut Vec<Check>) {
    let Ok(rigs) = town.rigs() else { return };
    let Ok(entries) = std::fs::read_dir(town.root()) else {
        return;
    };
    let orphans: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| is_rig_dir(&e.path()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !rigs.rigs.contains_key(name))
        .collect();
    out.push(if orphans.is_empty() {
        Check::ok("unregistered_rigs", "none")
    } else {
        Check::new("unregistered_rigs", Severity::Warning, format!("not in rigs.json (an interrupted `gt rig add`?): {}; delete them by hand if unwanted", orphans.join(", ")))
    });
}

/// Polecat branches nobody uses and that hold no work of their own (see
/// [`crate::work::gitops::leftover_branches`]); `--fix` deletes them under the rig's admission
/// lock, so no sling is making one meanwhile.
fn leftover_branches(town: &Town, fix: bool, out: &mut Vec<Check>) {
    let Ok(rigs) = town.rigs() else { return };
    for name in rigs.rigs.keys() {
        let paths = RigPaths::new(town, name);
        let Ok(config) = paths.config() else {
            continue;
        };
        let check = format!("branches:{name}");
        let bare = paths.bare_repo();
        let found = crate::work::gitops::leftover_branches(&bare, &config.default_branch);
        out.push(match found {
            Ok(branches) if branches.is_empty() => Check::ok(check, "no leftover polecat branches"),
            Ok(branches) => {
                let fixed = fix
                    && crate::work::gitops::prune_leftover_branches(
                        town,
                        name,
                        &bare,
                        &config.default_branch,
                    )
                    .is_ok();
                Check::new(
                    check,
                    Severity::Warning,
                    format!(
                        "{} polecat branch(es) with no work of their own and no worktree: {}",
                        branches.len(),
                        branches.join(", ")
                    ),
                )
                .fixed(fixed)
            }
            Err(e) => Check::new(
                check,
                Severity::Warning,
                format!("cannot list branches: {e}"),
            ),
        });
    }
}

fn is_rig_dir(path: &Path) -> bool {
    path.join(".repo.git").is_dir()
        || path.join("config.json").is_file() && path.join("polecats").is_dir()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_version_line_is_found_among_warnings() {
        assert_eq!(
            super::version_line("WARNING: proceeding at /tmp\ncodex-cli 0.169.0\n"),
            "codex-cli 0.169.0"
        );
        assert_eq!(
            super::version_line("2.1.328 (Claude Code)"),
            "2.1.328 (Claude Code)"
        );
        assert_eq!(super::version_line("\nsome tool\n"), "some tool");
        assert_eq!(super::version_line(""), "no version printed");
    }
}
