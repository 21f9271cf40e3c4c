//! What an agent's directory gets before its agent starts (a polecat's worktree, a crew
//! member's clone, the town root for the mayor): the agent's instructions file and, for agents
//! whose hooks `gt` writes (Claude Code, Gemini CLI), a settings file whose hooks prime the
//! agent, inject its mail and nudges, and drain its nudges at each turn's end. Inside a git work
//! tree everything written here is excluded from git, so it is never committed — and a file
//! the repository already tracks is never overwritten.

use std::path::Path;

use crate::agents::AgentPreset;
use crate::work::hookfmt::HookFormat;
use crate::work::{Result, WorkError, gitops};

/// Whose directory is provisioned: it decides the instructions and the `PreCompact` hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seat {
    Polecat,
    Mayor,
    Crew,
}

impl Seat {
    fn instructions(self) -> &'static str {
        match self {
            Self::Polecat => {
                "# Gas Town polecat\n\n\
                 You are a polecat in a Gas Town: an agent working on one bead (an issue) in this worktree.\n\
                 Run `gt prime` now: it shows your bead, the steps, and how to finish with `gt done`.\n"
            }
            Self::Mayor => {
                "# Gas Town mayor\n\n\
                 You are the mayor of this Gas Town: you turn the overseer's intent into beads and convoys\n\
                 and sling them to polecats. Run `gt prime` now: it shows the town, its rigs and your mail.\n"
            }
            Self::Crew => {
                "# Gas Town crew\n\n\
                 You are a crew member in a Gas Town: a long-lived agent in this clone, working with a human.\n\
                 Run `gt prime` now: it shows who you are, your mail and how work lands.\n"
            }
        }
    }

    /// Before a compaction: a crew member starts a fresh session with a handoff (a long-lived
    /// agent would otherwise carry a lossy summary forever); everyone else primes again.
    fn pre_compact(self, gt: &str) -> String {
        match self {
            Self::Crew => format!(
                "{gt} handoff --cycle --reason {}",
                crate::work::handoff::CYCLE_REASON
            ),
            Self::Polecat | Self::Mayor => format!("{gt} prime --hook"),
        }
    }
}

/// Writes the preset's instructions file and hook settings for `seat` into `dir`. `gt` is the
/// path of the `gt` binary the hooks should run.
pub fn provision(dir: &Path, preset: &AgentPreset, gt: &Path, seat: Seat) -> Result<Vec<String>> {
    let worktree = dir;
    // The mayor's town root is no git work tree: nothing there is tracked or to exclude.
    let in_git = worktree.join(".git").exists();
    let mut written = Vec::new();
    let tracked = |rel: &str| -> Result<bool> {
        if !in_git {
            return Ok(false);
        }
        let out =
            host::git::Git::new(worktree).output(&["ls-files", "--error-unmatch", "--", rel])?;
        Ok(out.status.success())
    };
    if !preset.instructions_file.is_empty() && !tracked(&preset.instructions_file)? {
        write(
            &worktree.join(&preset.instructions_file),
            seat.instructions(),
        )?;
        written.push(preset.instructions_file.clone());
    }
    if let Some(hooks) = &preset.hooks
        && let Some(format) = HookFormat::of_provider(&hooks.provider)
    {
        let dir = if hooks.dir.is_empty() {
            format!(".{}", hooks.provider)
        } else {
            hooks.dir.clone()
        };
        let file = hooks
            .settings_file
            .clone()
            .unwrap_or_else(|| "settings.json".into());
        let rel = format!("{dir}/{file}");
        if !tracked(&rel)? {
            let gt = shell_word(&gt.display().to_string());
            let settings = match format {
                HookFormat::Claude => claude_hooks(&gt, seat),
                HookFormat::Gemini => gemini_hooks(&gt, seat),
            };
            let text = serde_json::to_string_pretty(&settings).expect("json serializes") + "\n";
            write(&worktree.join(&rel), &text)?;
            written.push(rel);
        }
    }
    if in_git {
        let patterns: Vec<String> = written.iter().map(|w| format!("/{w}")).collect();
        let refs: Vec<&str> = patterns.iter().map(String::as_str).collect();
        gitops::exclude(worktree, &refs)?;
    }
    Ok(written)
}

/// Upstream's hook shape for a polecat (`gt` is the quoted path of the binary):
///
/// - `SessionStart`: prime, then the unread mail and queued nudges (a restarted or handed-off
///   agent finds what was sent to its predecessor);
/// - `UserPromptSubmit`: mail and nudges that arrived since, at each prompt;
/// - `PreCompact`: prime again, so compaction never loses the hook (a crew member hands off
///   to a fresh session instead, see [`Seat::pre_compact`]);
/// - `Stop`: queued nudges become the next prompt (Claude's `block` decision), and the end
///   of the turn is recorded for `gt seance` (and costs later).
fn claude_hooks(gt: &str, seat: Seat) -> serde_json::Value {
    let hook = |command: String| serde_json::json!([{"matcher": "", "hooks": [{"type": "command", "command": command}]}]);
    serde_json::json!({
        "hooks": {
            "SessionStart": hook(format!("{gt} prime --hook && {gt} mail check --inject")),
            "UserPromptSubmit": hook(format!("{gt} mail check --inject")),
            "PreCompact": hook(seat.pre_compact(gt)),
            "Stop": [{"matcher": "", "hooks": [
                {"type": "command", "command": format!("{gt} nudge --drain --hook")},
                {"type": "command", "command": format!("{gt} session-end")},
            ]}],
        }
    })
}

/// Whether [`provision`] gives `preset`'s agent hooks. An agent without them gets its mail
/// reminder at start from sling ([`crate::mail::remind`]) and its nudges from the daemon.
pub fn installs_hooks(preset: &AgentPreset) -> bool {
    preset
        .hooks
        .as_ref()
        .is_some_and(|h| HookFormat::of_provider(&h.provider).is_some())
}

/// The same duties in Gemini CLI's events (`.gemini/settings.json`; its docs/hooks):
///
/// - `SessionStart`: prime, then mail and nudges, run in that order (`sequential`; Gemini
///   joins the two hooks' `additionalContext`);
/// - `BeforeAgent` (Claude's `UserPromptSubmit`): mail and nudges that arrived since;
/// - `AfterAgent` (Claude's `Stop`): queued nudges become the next prompt (the same
///   `decision: block` answer), and the turn's end is recorded.
///
/// Gemini's `PreCompress` is advisory: it cannot add context, so nothing primes there. Every
/// context hook prints one JSON object (`--hook-format gemini`): Gemini reads any other stdout
/// as a message for the person, not context.
fn gemini_hooks(gt: &str, seat: Seat) -> serde_json::Value {
    let hook = |name: &str, command: String| serde_json::json!({"name": name, "type": "command", "command": command});
    let inject = || {
        hook(
            "gt-mail",
            format!("{gt} mail check --inject --hook-format gemini"),
        )
    };
    let mut settings = serde_json::json!({
        "hooks": {
            "SessionStart": [{"matcher": "", "sequential": true, "hooks": [
                hook("gt-prime", format!("{gt} prime --hook --hook-format gemini")),
                inject(),
            ]}],
            "BeforeAgent": [{"matcher": "", "hooks": [inject()]}],
            "AfterAgent": [{"matcher": "", "sequential": true, "hooks": [
                hook("gt-nudges", format!("{gt} nudge --drain --hook")),
                hook("gt-turn-end", format!("{gt} session-end")),
            ]}],
        }
    });
    // `PreCompress` cannot add context, but a crew member's handoff is an action, not context.
    if seat == Seat::Crew {
        settings["hooks"]["PreCompress"] = serde_json::json!([{"matcher": "", "hooks": [hook("gt-handoff", seat.pre_compact(gt))]}]);
    }
    settings
}

fn write(path: &Path, text: &str) -> Result<()> {
    let io = |source| WorkError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    std::fs::write(path, text).map_err(io)
}

/// Quotes a word for a shell command line (hook commands are run by a shell).
pub fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+:=@".contains(&b))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::builtin;

    fn worktree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let out = host::git::Git::new(dir.path())
            .output(&["init", "-q"])
            .unwrap();
        assert!(out.status.success(), "git init");
        dir
    }

    fn commands(settings: &serde_json::Value, event: &str) -> Vec<String> {
        settings["hooks"][event]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|d| d["hooks"].as_array().unwrap().iter())
            .map(|h| h["command"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn gemini_gets_its_own_events_and_json_output_kept_out_of_git() {
        let dir = worktree();
        let preset = builtin("gemini").unwrap();
        assert!(installs_hooks(&preset));
        let written = provision(
            dir.path(),
            &preset,
            Path::new("/opt/my gt/gt"),
            Seat::Polecat,
        )
        .unwrap();
        assert_eq!(written, ["AGENTS.md", ".gemini/settings.json"]);
        let text = std::fs::read_to_string(dir.path().join(".gemini/settings.json")).unwrap();
        let settings: serde_json::Value = serde_json::from_str(&text).unwrap();
        let gt = "'/opt/my gt/gt'";
        assert_eq!(
            commands(&settings, "SessionStart"),
            [
                format!("{gt} prime --hook --hook-format gemini"),
                format!("{gt} mail check --inject --hook-format gemini"),
            ]
        );
        assert_eq!(settings["hooks"]["SessionStart"][0]["sequential"], true);
        assert_eq!(
            commands(&settings, "BeforeAgent"),
            [format!("{gt} mail check --inject --hook-format gemini")]
        );
        assert_eq!(
            commands(&settings, "AfterAgent"),
            [
                format!("{gt} nudge --drain --hook"),
                format!("{gt} session-end")
            ]
        );
        // Only Gemini's event names: a Claude name would be skipped with a warning.
        let events: Vec<&str> = settings["hooks"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(events, ["AfterAgent", "BeforeAgent", "SessionStart"]);
        let status = host::git::Git::new(dir.path())
            .output(&["status", "--porcelain", "--untracked-files=all"])
            .unwrap();
        assert!(
            status.stdout.is_empty(),
            "{:?}",
            String::from_utf8_lossy(&status.stdout)
        );
    }

    #[test]
    fn presets_without_hooks_gt_writes_get_only_instructions() {
        for name in ["codex", "scripted", "opencode", "copilot"] {
            let dir = worktree();
            let preset = builtin(name).unwrap();
            assert!(!installs_hooks(&preset), "{name}");
            let written =
                provision(dir.path(), &preset, Path::new("/usr/bin/gt"), Seat::Polecat).unwrap();
            assert_eq!(written, ["AGENTS.md"], "{name}");
        }
        assert!(installs_hooks(&builtin("claude").unwrap()));
    }

    #[test]
    fn shell_words_are_quoted_when_needed() {
        assert_eq!(shell_word("/usr/bin/gt"), "/usr/bin/gt");
        assert_eq!(shell_word("/a b/gt"), "'/a b/gt'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word("$(rm -rf /)"), "'$(rm -rf /)'");
    }
}
