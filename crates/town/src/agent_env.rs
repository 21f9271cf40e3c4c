//! An agent's environment, built in one place for every agent start (a polecat, the mayor, a
//! crew member, a handoff's next generation): exactly the town's variables plus what the
//! agent's preset declares, never whatever else the process running `gt` happens to carry (the
//! tmux server, for its part, starts with a cleared environment: see [`host::tmux`]).
//!
//! - From the caller: [`TOWN_PASSTHROUGH`] (home, locale, terminal, temp dir, git's config,
//!   proxies, the town's runtime and test settings), and `PATH` with `gt`'s own directory first.
//! - The town's own: who the agent is (`GT_ROLE`, `BD_ACTOR`, git's author), where the town and
//!   its store are, the session and generation, and the role's variables.
//! - The preset's: the caller's variables its `env_passthrough` names (`ANTHROPIC_*`), its
//!   `env_as_root` when `gt` runs as root, and its `env`, last.
//!
//! [`check_start`] refuses, before anything is made, a start the agent would fail at once:
//! its program is not on the agent's `PATH`, none of its credentials is present, or it runs
//! as root where its CLI refuses to.

use std::path::{Path, PathBuf};

use crate::agents::AgentPreset;
use crate::work::sling::SlingContext;

/// The caller's variables every agent gets, whatever its preset.
pub const TOWN_PASSTHROUGH: &[&str] = &[
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "TERM",
    "COLORTERM",
    "TZ",
    "TMPDIR",
    "SHELL",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_CACHE_HOME",
    "XDG_STATE_HOME",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_NOSYSTEM",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "GT_TMUX_SOCKET",
    "GT_RUNTIME",
    "GT_TEST_NOW",
];

/// Who an agent session is, for [`agent_env`].
pub struct AgentIdentity<'a> {
    /// `GT_ROLE`, `BD_ACTOR` and the git author's name: the agent's address.
    pub role: &'a str,
    pub session: &'a str,
    pub generation: i64,
    pub git_email: &'a str,
    /// The role's own variables (`GT_RIG`, `GT_POLECAT`, `GT_CREW`, …).
    pub vars: Vec<(String, String)>,
}

/// The whole environment of an agent session.
pub fn agent_env(
    cx: &SlingContext<'_>,
    preset: &AgentPreset,
    who: &AgentIdentity<'_>,
) -> Vec<(String, String)> {
    let town = cx.town.root().display().to_string();
    let mut env = caller_part(&cx.inherited_env, &cx.gt_bin);
    env.extend(passthrough(&cx.inherited_env, preset));
    env.extend([
        ("GT_ROLE".to_owned(), who.role.to_owned()),
        ("GT_TOWN_ROOT".into(), town.clone()),
        ("GT_ROOT".into(), town.clone()),
        ("GT_AGENT".into(), preset.name.clone()),
        ("GT_PROCESS_NAMES".into(), preset.process_names.join(",")),
        ("GT_SESSION".into(), who.session.to_owned()),
        ("GT_GENERATION".into(), who.generation.to_string()),
        (
            "BEADS_DIR".into(),
            cx.town.beads_dir().display().to_string(),
        ),
        ("BD_ACTOR".into(), who.role.to_owned()),
        ("GIT_AUTHOR_NAME".into(), who.role.to_owned()),
        ("GIT_AUTHOR_EMAIL".into(), who.git_email.to_owned()),
        ("GIT_COMMITTER_NAME".into(), who.role.to_owned()),
        ("GIT_COMMITTER_EMAIL".into(), who.git_email.to_owned()),
        ("GIT_CEILING_DIRECTORIES".into(), town),
    ]);
    env.extend(who.vars.iter().cloned());
    let added = added(preset, host::process::running_as_root());
    // What the preset added is this agent's own: an agent it starts in turn (a polecat the
    // mayor slings) gets its own preset's instead (see `GT_PRESET_ENV`). What it passed
    // through came from the town's caller, and passes on.
    if !added.is_empty() {
        let keys: Vec<&str> = added.iter().map(|(k, _)| k.as_str()).collect();
        let line = (host::env::GT_PRESET_ENV.to_owned(), keys.join(","));
        env.extend(added.iter().cloned());
        env.push(line);
    }
    env
}

/// Refuses a start of `preset` that would fail at once, saying what is missing and how to fix
/// it. Run before anything is made (a polecat, a worktree, a session).
pub fn check_start(cx: &SlingContext<'_>, preset: &AgentPreset) -> Result<(), StartRefused> {
    let as_root = host::process::running_as_root();
    check(
        preset,
        &start_env(&cx.inherited_env, &cx.gt_bin, preset, as_root),
        as_root,
    )
}

/// What of an agent's environment decides whether it can start (everything but who it is):
/// the caller's town variables, `PATH` with `gt_bin`'s directory first, and what `preset`
/// declares.
pub fn start_env(
    caller: &[(String, String)],
    gt_bin: &Path,
    preset: &AgentPreset,
    as_root: bool,
) -> Vec<(String, String)> {
    let mut env = caller_part(caller, gt_bin);
    env.extend(passthrough(caller, preset));
    env.extend(added(preset, as_root));
    env
}

/// Why an agent cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartRefused {
    /// The preset's program is not on the agent's `PATH`.
    #[error("agent preset `{preset}` cannot start: its program `{program}` is not on PATH")]
    MissingProgram { preset: String, program: String },
    /// None of the preset's credentials is in the agent's environment or on disk.
    #[error(
        "agent preset `{preset}` cannot start: no credential found (none of {} is set{})",
        env.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", "),
        if files.is_empty() { String::new() } else {
            format!(", and none of {} exists", files.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", "))
        }
    )]
    NoCredential {
        preset: String,
        env: Vec<String>,
        files: Vec<String>,
        login: Option<String>,
    },
    /// The agent CLI refuses to run as root with its arguments unless a variable says so.
    #[error(
        "agent preset `{preset}` cannot start as root: `{program}` refuses `{flag}` as root unless `{var}={value}` is set"
    )]
    Root {
        preset: String,
        program: String,
        flag: String,
        var: String,
        value: String,
    },
}

impl StartRefused {
    /// How to fix it, for the error's hint.
    pub fn hint(&self) -> String {
        match self {
            Self::MissingProgram { preset, program } => format!(
                "install `{program}` where `gt` can find it (the agent's PATH is gt's), or point the preset at it: `gt config agent set {preset} \"/path/to/{program} …\"`"
            ),
            Self::NoCredential { env, login, .. } => {
                let key = env.first().map_or("its key", String::as_str);
                let export = format!(
                    "export {key}=… where `gt` runs (the agent gets it through the preset's `env_passthrough`)"
                );
                match login {
                    Some(login) => format!("{export}, or sign in once with `{login}`"),
                    None => export,
                }
            }
            Self::Root {
                preset, var, value, ..
            } => format!(
                "run `gt` as a normal user, or, on a machine that is a sandbox, declare it: `gt config agent set {preset} --env-as-root {var}={value}`"
            ),
        }
    }
}

/// The caller's variables every agent gets, and `PATH` with `gt`'s directory first.
fn caller_part(caller: &[(String, String)], gt_bin: &Path) -> Vec<(String, String)> {
    let gt_dir = gt_bin.parent().map(Path::to_path_buf).unwrap_or_default();
    let caller_path = lookup(caller, "PATH").unwrap_or_default();
    // A caller that is itself an agent (a handoff's helper) has `gt`'s directory first already.
    let gt_first = format!("{}:", gt_dir.display());
    let path = if caller_path.starts_with(&gt_first) {
        caller_path.to_owned()
    } else {
        format!("{gt_first}{caller_path}")
    };
    let mut env: Vec<(String, String)> = caller
        .iter()
        .filter(|(k, _)| TOWN_PASSTHROUGH.contains(&k.as_str()))
        .cloned()
        .collect();
    env.push(("PATH".to_owned(), path));
    env
}

/// The caller's variables `preset`'s `env_passthrough` names.
fn passthrough(caller: &[(String, String)], preset: &AgentPreset) -> Vec<(String, String)> {
    caller
        .iter()
        .filter(|(k, _)| preset.env_passthrough.iter().any(|p| matches(p, k)))
        .cloned()
        .collect()
}

/// What `preset` sets itself: its `env_as_root` when running as root, then its `env`.
fn added(preset: &AgentPreset, as_root: bool) -> Vec<(String, String)> {
    let mut env = Vec::new();
    if as_root {
        env.extend(preset.env_as_root.clone());
    }
    env.extend(preset.env.clone());
    env
}

/// Whether `name` matches `pattern`, where `*` stands for any run of characters.
fn matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// The value of `key` in `env` (the last one wins, as for a process).
pub fn lookup<'a>(env: &'a [(String, String)], key: &str) -> Option<&'a str> {
    env.iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// [`check_start`] on a given environment (see [`start_env`]).
pub fn check(
    preset: &AgentPreset,
    env: &[(String, String)],
    as_root: bool,
) -> Result<(), StartRefused> {
    let path = lookup(env, "PATH").unwrap_or_default();
    if host::process::which_in(&preset.command, path).is_none() {
        return Err(StartRefused::MissingProgram {
            preset: preset.name.clone(),
            program: preset.command.clone(),
        });
    }
    let needs_credential = !preset.credential_env.is_empty() || !preset.credential_files.is_empty();
    if needs_credential && credential(preset, env).is_none() {
        return Err(StartRefused::NoCredential {
            preset: preset.name.clone(),
            env: preset.credential_env.clone(),
            files: preset.credential_files.clone(),
            login: preset.login_command.clone(),
        });
    }
    if as_root {
        claude_as_root(preset, env)?;
    }
    Ok(())
}

/// Which of `preset`'s credentials `env` has, as the preset names it: a variable, or a sign-in
/// file that exists. `None` when it has none (or the preset declares none).
pub fn credential(preset: &AgentPreset, env: &[(String, String)]) -> Option<String> {
    let set = |key: &str| lookup(env, key).is_some_and(|v| !v.is_empty());
    if let Some(key) = preset.credential_env.iter().find(|k| set(k)) {
        return Some(format!("`{key}`"));
    }
    preset
        .credential_files
        .iter()
        .find(|f| expand(f, env).is_some_and(|p| p.is_file()))
        .map(|f| format!("`{f}`"))
}

/// Claude Code's own check at start (`getuid() === 0 && IS_SANDBOX !== "1" &&
/// !CLAUDE_CODE_BUBBLEWRAP` with `--dangerously-skip-permissions`: exit 1), whatever the
/// preset is called.
fn claude_as_root(preset: &AgentPreset, env: &[(String, String)]) -> Result<(), StartRefused> {
    const FLAG: &str = "--dangerously-skip-permissions";
    let program = Path::new(&preset.command)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let sandboxed = lookup(env, "IS_SANDBOX") == Some("1")
        || lookup(env, "CLAUDE_CODE_BUBBLEWRAP").is_some_and(|v| !v.is_empty());
    if program == "claude" && preset.args.iter().any(|a| a == FLAG) && !sandboxed {
        return Err(StartRefused::Root {
            preset: preset.name.clone(),
            program,
            flag: FLAG.to_owned(),
            var: "IS_SANDBOX".to_owned(),
            value: "1".to_owned(),
        });
    }
    Ok(())
}

/// A credential file's path in `env`: `~/` under `HOME`, `$VAR/` under that variable; `None`
/// when the variable is unset.
fn expand(file: &str, env: &[(String, String)]) -> Option<PathBuf> {
    let nonempty = |k: &str| lookup(env, k).filter(|v| !v.is_empty());
    if let Some(rest) = file.strip_prefix("~/") {
        return Some(Path::new(nonempty("HOME")?).join(rest));
    }
    if let Some(var) = file.strip_prefix('$') {
        let (name, rest) = var.split_once('/').unwrap_or((var, ""));
        return Some(Path::new(nonempty(name)?).join(rest));
    }
    Some(PathBuf::from(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn path_with(program: &str) -> (tempfile::TempDir, String) {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join(program);
        std::fs::write(&bin, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = dir.path().display().to_string();
        (dir, path)
    }

    #[test]
    fn patterns_match_names_with_stars_anywhere() {
        assert!(matches("ANTHROPIC_*", "ANTHROPIC_API_KEY"));
        assert!(matches("ANTHROPIC_*", "ANTHROPIC_"));
        assert!(!matches("ANTHROPIC_*", "XANTHROPIC_A"));
        assert!(matches("*_API_KEY", "AMP_API_KEY"));
        assert!(!matches("*_API_KEY", "AMP_API_KEYS"));
        assert!(matches("GT_AGENT_SCRIPT", "GT_AGENT_SCRIPT"));
        assert!(!matches("GT_AGENT_SCRIPT", "GT_AGENT_SCRIPTS"));
        assert!(matches("A*B*C", "AxxBxxC"));
        assert!(!matches("A*B*C", "AxxC"));
        assert!(!matches("AB*B", "AB"), "the parts may not overlap");
    }

    #[test]
    fn a_preset_gets_what_it_declares_and_nothing_else_of_the_caller() {
        let claude = crate::agents::builtin("claude").unwrap();
        let caller = env(&[
            ("ANTHROPIC_API_KEY", "k"),
            ("CLAUDE_CODE_USE_BEDROCK", "1"),
            ("OPENAI_API_KEY", "o"),
            ("GT_TEST_LEAK", "secret"),
        ]);
        assert_eq!(
            passthrough(&caller, &claude),
            env(&[("ANTHROPIC_API_KEY", "k"), ("CLAUDE_CODE_USE_BEDROCK", "1")])
        );
        assert_eq!(added(&claude, false), env(&[("DISABLE_AUTOUPDATER", "1")]));
        assert_eq!(
            added(&claude, true),
            env(&[("IS_SANDBOX", "1"), ("DISABLE_AUTOUPDATER", "1")])
        );
        let codex = crate::agents::builtin("codex").unwrap();
        assert_eq!(
            passthrough(&caller, &codex),
            env(&[("OPENAI_API_KEY", "o")])
        );
        assert!(added(&codex, true).is_empty());
    }

    #[test]
    fn a_start_is_refused_without_the_program_a_credential_or_the_sandbox_flag() {
        let claude = crate::agents::builtin("claude").unwrap();
        let home = tempfile::tempdir().unwrap();
        let home_s = home.path().display().to_string();
        let (_bin, path) = path_with("claude");
        let key = ("ANTHROPIC_API_KEY", "k");

        let missing = check(&claude, &env(&[("PATH", "/nonexistent"), key]), false);
        assert!(
            matches!(&missing, Err(StartRefused::MissingProgram { program, .. }) if program == "claude")
        );

        let no_key = check(&claude, &env(&[("PATH", &path), ("HOME", &home_s)]), false);
        let err = no_key.unwrap_err();
        assert!(err.to_string().contains("`ANTHROPIC_API_KEY`"), "{err}");
        assert!(err.hint().contains("claude auth login"), "{}", err.hint());

        // Signed in instead: the CLI's own credentials file.
        std::fs::create_dir_all(home.path().join(".claude")).unwrap();
        std::fs::write(home.path().join(".claude/.credentials.json"), "{}").unwrap();
        check(&claude, &env(&[("PATH", &path), ("HOME", &home_s)]), false).unwrap();

        let as_root = check(&claude, &env(&[("PATH", &path), key]), true);
        assert!(
            matches!(as_root, Err(StartRefused::Root { .. })),
            "{as_root:?}"
        );
        check(
            &claude,
            &env(&[("PATH", &path), key, ("IS_SANDBOX", "1")]),
            true,
        )
        .unwrap();
    }

    #[test]
    fn credential_files_expand_home_and_variables() {
        let e = env(&[("HOME", "/h"), ("CODEX_HOME", "/c")]);
        assert_eq!(
            expand("~/.codex/auth.json", &e).unwrap(),
            Path::new("/h/.codex/auth.json")
        );
        assert_eq!(
            expand("$CODEX_HOME/auth.json", &e).unwrap(),
            Path::new("/c/auth.json")
        );
        assert_eq!(expand("$CLAUDE_CONFIG_DIR/x", &e), None, "unset: skipped");
        assert_eq!(expand("/etc/key", &e).unwrap(), Path::new("/etc/key"));
    }
}
