//! How a hook hands context to its agent CLI, per CLI.
//!
//! Claude Code adds a `SessionStart` or `UserPromptSubmit` hook's plain stdout to the model's
//! context. Gemini CLI parses a hook's stdout as one JSON object (anything else becomes a
//! message shown to the person, not context) and takes context from
//! `hookSpecificOutput.additionalContext`, for `SessionStart` and `BeforeAgent`; it escapes
//! `<` and `>` in that text and wraps it in its own `<hook_context>` tag, so nothing is wrapped
//! in `<system-reminder>` for it.
//!
//! The format is named by the command line the provisioned settings file runs
//! (`--hook-format gemini`), not guessed from the hook's stdin: both CLIs call their start
//! event `SessionStart`, so the input cannot tell them apart.
//!
//! The turn-end hook needs no format: Claude's `Stop` and Gemini's `AfterAgent` both take
//! `{"decision":"block","reason":…}` and send the reason to the agent as its next prompt.

/// The output form of a context hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HookFormat {
    /// Plain text on stdout (Claude Code).
    #[default]
    Claude,
    /// One JSON object with `hookSpecificOutput.additionalContext` (Gemini CLI).
    Gemini,
}

impl HookFormat {
    /// The format of a preset's hooks provider, if `gt` writes hooks for it.
    pub fn of_provider(provider: &str) -> Option<Self> {
        match provider {
            "claude" => Some(Self::Claude),
            "gemini" => Some(Self::Gemini),
            _ => None,
        }
    }

    /// What the hook prints to hand `blocks` (pieces of context, in order) to the agent, for
    /// the hook event `event` (from the hook's input, when it gave one); `None` when there is
    /// nothing to say (Gemini treats empty stdout as no output).
    pub fn context(self, event: Option<&str>, blocks: &[String]) -> Option<String> {
        let blocks: Vec<&str> = blocks
            .iter()
            .map(|b| b.trim_end())
            .filter(|b| !b.is_empty())
            .collect();
        if blocks.is_empty() {
            return None;
        }
        Some(match self {
            Self::Claude => blocks
                .iter()
                .map(|b| format!("<system-reminder>\n{b}\n</system-reminder>\n"))
                .collect(),
            Self::Gemini => {
                let mut specific = serde_json::Map::new();
                if let Some(event) = event {
                    specific.insert("hookEventName".into(), event.into());
                }
                specific.insert("additionalContext".into(), blocks.join("\n\n").into());
                let out = serde_json::json!({ "hookSpecificOutput": specific });
                format!("{out}\n")
            }
        })
    }

    /// What `gt prime --hook` prints for `text`, the whole prime: as it is for Claude (its
    /// own headings, no reminder tag), as additional context for Gemini.
    pub fn prime(self, event: Option<&str>, text: &str) -> String {
        match self {
            Self::Claude => text.to_owned(),
            Self::Gemini => self.context(event, &[text.to_owned()]).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claude_gets_reminder_blocks_and_gemini_one_json_object() {
        let blocks = vec![
            "2 unread messages".to_owned(),
            "[nudge from mayor/] hi".to_owned(),
        ];
        assert_eq!(
            HookFormat::Claude.context(None, &blocks).unwrap(),
            "<system-reminder>\n2 unread messages\n</system-reminder>\n\
             <system-reminder>\n[nudge from mayor/] hi\n</system-reminder>\n"
        );
        let out = HookFormat::Gemini
            .context(Some("BeforeAgent"), &blocks)
            .unwrap();
        assert!(out.ends_with("}\n") && out.lines().count() == 1, "{out}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"hookSpecificOutput": {
                "hookEventName": "BeforeAgent",
                "additionalContext": "2 unread messages\n\n[nudge from mayor/] hi",
            }})
        );
        let unnamed = HookFormat::Gemini.context(None, &blocks).unwrap();
        let v: serde_json::Value = serde_json::from_str(&unnamed).unwrap();
        assert!(
            v["hookSpecificOutput"].get("hookEventName").is_none(),
            "{v}"
        );
    }

    #[test]
    fn nothing_to_say_prints_nothing() {
        for format in [HookFormat::Claude, HookFormat::Gemini] {
            assert_eq!(format.context(None, &[]), None);
            assert_eq!(format.context(None, &["  \n".to_owned()]), None);
        }
    }

    #[test]
    fn prime_is_plain_for_claude_and_context_for_gemini() {
        let text = "# Polecat nux\n\nRun `gt done` when finished.\n";
        assert_eq!(HookFormat::Claude.prime(Some("SessionStart"), text), text);
        let out = HookFormat::Gemini.prime(Some("SessionStart"), text);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v["hookSpecificOutput"]["additionalContext"],
            "# Polecat nux\n\nRun `gt done` when finished."
        );
        assert_eq!(v["hookSpecificOutput"]["hookEventName"], "SessionStart");
    }
}
