//! What a polecat's worktree gets before its agent starts: the agent's instructions file and,
//! for agents with hooks, a settings file whose `SessionStart` hook runs `gt prime --hook`.
//! Everything written here is excluded from git in that worktree, so it is never committed —
//! and a file the repository already tracks is never overwritten.

use std::path::Path;

use crate::agents::AgentPreset;
use crate::work::{Result, WorkError, gitops};

const INSTRUCTIONS: &str = "\
# Gas Town polecat

You are a polecat in a Gas Town: an agent working on one bead (an issue) in this worktree.
Run `gt prime` now: it shows your bead, the steps, and how to finish with `gt done`.
";

/// Writes the preset's instructions file and hook settings into `worktree`. `gt` is the path
/// of the `gt` binary the hooks should run.
pub fn provision(worktree: &Path, preset: &AgentPreset, gt: &Path) -> Result<Vec<String>> {
    let mut written = Vec::new();
    let tracked = |rel: &str| -> Result<bool> {
        let out =
            host::git::Git::new(worktree).output(&["ls-files", "--error-unmatch", "--", rel])?;
        Ok(out.status.success())
    };
    if !preset.instructions_file.is_empty() && !tracked(&preset.instructions_file)? {
        write(&worktree.join(&preset.instructions_file), INSTRUCTIONS)?;
        written.push(preset.instructions_file.clone());
    }
    if let Some(hooks) = &preset.hooks
        && hooks.provider == "claude"
    {
        let dir = if hooks.dir.is_empty() {
            ".claude".to_owned()
        } else {
            hooks.dir.clone()
        };
        let file = hooks
            .settings_file
            .clone()
            .unwrap_or_else(|| "settings.json".into());
        let rel = format!("{dir}/{file}");
        if !tracked(&rel)? {
            let settings = claude_hooks(&shell_word(&gt.display().to_string()));
            let text = serde_json::to_string_pretty(&settings).expect("json serializes") + "\n";
            write(&worktree.join(&rel), &text)?;
            written.push(rel);
        }
    }
    let patterns: Vec<String> = written.iter().map(|w| format!("/{w}")).collect();
    let refs: Vec<&str> = patterns.iter().map(String::as_str).collect();
    gitops::exclude(worktree, &refs)?;
    Ok(written)
}

/// Upstream's hook shape for a polecat (`gt` is the quoted path of the binary):
///
/// - `SessionStart`: prime, then the unread mail and queued nudges (a restarted or handed-off
///   agent finds what was sent to its predecessor);
/// - `UserPromptSubmit`: mail and nudges that arrived since, at each prompt;
/// - `PreCompact`: prime again, so compaction never loses the hook;
/// - `Stop`: queued nudges become the next prompt (Claude's `block` decision), and the end
///   of the turn is recorded for `gt seance` (and costs later).
fn claude_hooks(gt: &str) -> serde_json::Value {
    let hook = |command: String| serde_json::json!([{"matcher": "", "hooks": [{"type": "command", "command": command}]}]);
    serde_json::json!({
        "hooks": {
            "SessionStart": hook(format!("{gt} prime --hook && {gt} mail check --inject")),
            "UserPromptSubmit": hook(format!("{gt} mail check --inject")),
            "PreCompact": hook(format!("{gt} prime --hook")),
            "Stop": [{"matcher": "", "hooks": [
                {"type": "command", "command": format!("{gt} nudge --drain --hook")},
                {"type": "command", "command": format!("{gt} session-end")},
            ]}],
        }
    })
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
    use super::shell_word;

    #[test]
    fn shell_words_are_quoted_when_needed() {
        assert_eq!(shell_word("/usr/bin/gt"), "/usr/bin/gt");
        assert_eq!(shell_word("/a b/gt"), "'/a b/gt'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word("$(rm -rf /)"), "'$(rm -rf /)'");
    }
}
