//! Claude-shaped hooks: the agent reads `.claude/settings.json` in its working directory (the
//! shape `town::work::provision` writes) and runs the commands of an event as Claude Code
//! does: `sh -c <command>` with the event as JSON on stdin.
//!
//! `SessionStart` and `UserPromptSubmit` output is shown as context; a `Stop` hook that prints
//! `{"decision":"block","reason":"…"}` makes the reason the agent's next prompt (the turn
//! boundary where queued nudges are drained).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::out;

/// Where the settings are, under the working directory.
const SETTINGS: &str = ".claude/settings.json";

#[derive(Debug, Default, Deserialize)]
struct Settings {
    #[serde(default)]
    hooks: std::collections::BTreeMap<String, Vec<Matcher>>,
}

#[derive(Debug, Deserialize)]
struct Matcher {
    #[serde(default)]
    hooks: Vec<Command>,
}

#[derive(Debug, Deserialize)]
struct Command {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    command: String,
}

#[derive(Debug, Deserialize)]
struct StopDecision {
    decision: Option<String>,
    reason: Option<String>,
}

/// The hooks of one working directory.
#[derive(Debug, Default)]
pub struct Hooks {
    dir: PathBuf,
    settings: Settings,
}

impl Hooks {
    /// Reads `dir/.claude/settings.json`; none there means no hooks. A file that does not
    /// parse is reported and ignored, as Claude Code does.
    pub fn load(dir: &Path) -> Self {
        let path = dir.join(SETTINGS);
        let settings = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).unwrap_or_else(|e| {
                out::line(&format!("note: ignoring `{}`: {e}", path.display()));
                Settings::default()
            }),
            Err(_) => Settings::default(),
        };
        Self {
            dir: dir.to_owned(),
            settings,
        }
    }

    /// Runs `event`'s commands with `input` (extra fields of the event's JSON); returns each
    /// command's stdout.
    fn run(&self, event: &str, input: serde_json::Value) -> Vec<String> {
        let Some(matchers) = self.settings.hooks.get(event) else {
            return Vec::new();
        };
        let mut payload = serde_json::json!({
            "hook_event_name": event,
            "cwd": self.dir.display().to_string(),
        });
        if let (Some(p), serde_json::Value::Object(extra)) = (payload.as_object_mut(), input) {
            p.extend(extra);
        }
        let stdin = payload.to_string();
        let mut outputs = Vec::new();
        for command in matchers.iter().flat_map(|m| &m.hooks) {
            if command.kind != "command" || command.command.trim().is_empty() {
                continue;
            }
            match host::process::shell_output(&command.command, &self.dir, stdin.as_bytes()) {
                Ok(result) if result.code == Some(0) => outputs.push(result.stdout),
                Ok(result) => out::line(&format!(
                    "hook {event} failed ({}): {}",
                    result
                        .code
                        .map_or_else(|| "killed".to_owned(), |c| format!("exit {c}")),
                    ui::text::safe(result.stderr.lines().next().unwrap_or(""))
                )),
                Err(e) => out::line(&format!("hook {event} failed: {e}")),
            }
        }
        outputs
    }

    /// Runs `event`'s commands and shows their output as context.
    pub fn context(&self, event: &str, input: serde_json::Value) {
        for output in self.run(event, input) {
            for line in output.lines().filter(|l| !l.trim().is_empty()) {
                out::line(&format!("  ⎿ {}", ui::text::safe(line)));
            }
        }
    }

    /// Runs the `Stop` hooks; the reason of the first that blocks, as the next prompt.
    pub fn stop(&self, active: bool) -> Option<String> {
        self.run("Stop", serde_json::json!({ "stop_hook_active": active }))
            .iter()
            .filter_map(|output| serde_json::from_str::<StopDecision>(output.trim()).ok())
            .find(|d| d.decision.as_deref() == Some("block"))
            .and_then(|d| d.reason)
            .filter(|r| !r.trim().is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_commands_of_an_event_and_reads_a_stop_block() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".claude")).unwrap();
        let settings = serde_json::json!({"hooks": {
            "Stop": [{"matcher": "", "hooks": [
                {"type": "command", "command": "cat >/dev/null; echo '{\"decision\":\"block\",\"reason\":\"go on\"}'"}
            ]}],
            "SessionStart": [{"matcher": "", "hooks": [{"type": "command", "command": "echo started"}]}],
        }});
        std::fs::write(dir.path().join(SETTINGS), settings.to_string()).unwrap();
        let hooks = Hooks::load(dir.path());
        assert_eq!(hooks.stop(false).as_deref(), Some("go on"));
        assert_eq!(
            hooks.run("SessionStart", serde_json::json!({})),
            ["started\n"]
        );
        assert!(
            hooks
                .run("UserPromptSubmit", serde_json::json!({}))
                .is_empty()
        );
        assert!(Hooks::load(&dir.path().join("none")).stop(false).is_none());
    }
}
