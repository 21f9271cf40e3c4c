//! Agent session records, for `gt seance`: who ran which agent session, when, where.
//!
//! `gt prime --hook` (the `SessionStart` hook) records a `session_start`, and the hidden
//! `gt session-end` (a `SessionEnd`/`Stop` hook) a `session_end`, from the JSON the agent CLI
//! passes its hooks on stdin (Claude Code: `session_id`, `transcript_path`, `cwd`,
//! `hook_event_name`, `source`) and the session's environment (`GT_SESSION`, `GT_AGENT`). They
//! are events in the store under `agent:<address>` ([`beads::ops::sessions`]).

use serde::{Deserialize, Serialize};

/// What an agent CLI passes a hook on stdin (fields we read; others are ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct HookInput {
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub transcript_path: Option<String>,
    #[serde(default)]
    pub cwd: Option<String>,
    #[serde(default)]
    pub hook_event_name: Option<String>,
    /// Why the session started: `startup`, `resume`, `clear`, `compact`.
    #[serde(default)]
    pub source: Option<String>,
}

impl HookInput {
    /// Parses a hook's stdin: empty is no input; anything else must be a JSON object.
    pub fn parse(text: &str) -> Result<Option<Self>, String> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        serde_json::from_str(text)
            .map(Some)
            .map_err(|e| format!("the hook input is not the JSON object expected: {e}"))
    }
}

/// One recorded session event, as stored and as `gt seance --json` prints it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// `session_start` or `session_end` (filled from the event when read).
    #[serde(default)]
    pub event: String,
    /// The agent's address (filled from the event when read).
    #[serde(default)]
    pub address: String,
    /// When it was recorded (filled from the event when read).
    #[serde(default)]
    pub at: String,
    /// The agent CLI's own session id (what `--resume` takes), when it passed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The town's session name (`gt-furiosa`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The agent preset it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
}

/// Records `event` (`session_start` or `session_end`) for `address`.
pub fn record(
    store: &mut beads::Store,
    address: &str,
    event: &str,
    input: &HookInput,
    session: Option<String>,
    agent: Option<String>,
    cwd: &str,
) -> Result<(), beads::Error> {
    let record = SessionRecord {
        session_id: input.session_id.clone().filter(|s| !s.is_empty()),
        transcript_path: input.transcript_path.clone(),
        cwd: Some(input.cwd.clone().unwrap_or_else(|| cwd.to_owned())),
        source: input.source.clone(),
        session,
        agent,
        ..SessionRecord::default()
    };
    let json = serde_json::to_string(&record).expect("a record serializes");
    store.record_session(address, event, &json)
}

/// Session records, newest first: of `address`, or everyone's; at most `limit` (0: all).
/// Records whose stored JSON is unreadable are skipped (and logged).
pub fn list(
    store: &beads::Store,
    address: Option<&str>,
    limit: usize,
) -> Result<Vec<SessionRecord>, beads::Error> {
    Ok(store
        .sessions(address, limit)?
        .into_iter()
        .filter_map(|e| {
            let text = e.new_value.as_deref().unwrap_or("{}");
            match serde_json::from_str::<SessionRecord>(text) {
                Ok(mut r) => {
                    r.event = e.event_type;
                    r.address = e
                        .issue_id
                        .strip_prefix(beads::ops::sessions::SESSION_KEY_PREFIX)
                        .unwrap_or(&e.issue_id)
                        .to_owned();
                    r.at = e.created_at;
                    Some(r)
                }
                Err(err) => {
                    tracing::warn!(event = e.id, error = %err, "unreadable session record");
                    None
                }
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::HookInput;

    #[test]
    fn hook_input_is_optional_but_must_be_json_when_given() {
        assert_eq!(HookInput::parse("  \n"), Ok(None));
        let input = HookInput::parse(
            r#"{"session_id":"abc","hook_event_name":"SessionStart","source":"startup","extra":1}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(input.session_id.as_deref(), Some("abc"));
        assert_eq!(input.source.as_deref(), Some("startup"));
        assert!(HookInput::parse("not json").is_err());
        assert!(HookInput::parse("[1]").is_err());
    }
}
