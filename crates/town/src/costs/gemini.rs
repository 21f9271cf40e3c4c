//! Gemini CLI's session file: `<gemini dir>/tmp/<project>/chats/session-<time>-<id8>.jsonl`
//! (0.61; the `<project>` directory holds `.project_root`, the project's path). One JSON object
//! a line: first the session's metadata (`sessionId`, `projectHash`, `startTime`); then message
//! records (`id`, `timestamp`, `type`: `user`, `gemini`, `info`, …), `{"$set": {…}}` updates of
//! the metadata (whose `messages`, when present, are message records too) and `{"$rewindTo":
//! id}` marks. Gemini CLI writes a message again, whole, each time it changes (its tokens
//! arrive after its text, its tool calls after that), so the last record of an id is the
//! message. A `gemini` message carries its response's usage in `tokens` (`input`, `output`,
//! `cached`, `thoughts`, `tool`, `total`: the API's `promptTokenCount`,
//! `candidatesTokenCount`, `cachedContentTokenCount`, `thoughtsTokenCount`,
//! `toolUsePromptTokenCount`) and the `model` that answered. A rewind hides messages from the
//! conversation, not from the bill: their tokens were spent and still count.
//!
//! The API's prompt count includes the cached tokens, and thoughts are billed as output: a
//! reading stores fresh input (plus tool-use prompt tokens) and cache reads apart, and thoughts
//! with the output. Gemini has no cache-write charge per request, so no cache writes.

use std::collections::BTreeMap;
use std::path::Path;

use beads::{CostSource, Tokens};
use serde::Deserialize;

use super::{CostError, Reading, for_each_line, json_problem};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Line {
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    start_time: Option<String>,
    #[serde(default)]
    tokens: Option<Usage>,
    #[serde(default)]
    model: Option<String>,
    #[serde(rename = "$set", default)]
    set: Option<Set>,
}

#[derive(Deserialize)]
struct Set {
    #[serde(default)]
    messages: Vec<serde_json::Value>,
}

#[derive(Deserialize, Clone, Copy, Default, PartialEq, Eq)]
struct Usage {
    #[serde(default)]
    input: u64,
    #[serde(default)]
    output: u64,
    #[serde(default)]
    cached: u64,
    #[serde(default)]
    thoughts: u64,
    #[serde(default)]
    tool: u64,
}

impl Usage {
    fn tokens(&self) -> Tokens {
        let cached = self.cached.min(self.input);
        Tokens {
            input: (self.input - cached).saturating_add(self.tool),
            output: self.output.saturating_add(self.thoughts),
            cache_write: 0,
            cache_read: cached,
        }
    }
}

/// A `gemini` message's usage, as last written.
struct Spent {
    model: String,
    usage: Usage,
}

/// Reads the session file at `path`, with the other files of the same session: Gemini CLI goes
/// on with a resumed session (`--resume`) in a new file of the same session id, named with its
/// first eight characters (`session-<time>-<id8>.jsonl`). Their messages are merged by id, so a
/// message two files hold counts once; without this, recording one file of a session would
/// replace what the others recorded.
pub fn read(path: &Path) -> Result<Reading, CostError> {
    let mut reading = Reading::new(CostSource::Gemini, path);
    let mut spent: BTreeMap<String, Spent> = BTreeMap::new();
    read_file(path, &mut reading, &mut spent)?;
    if reading.session_id.is_empty() {
        return Err(CostError::NoSession {
            path: path.to_owned(),
        });
    }
    for sibling in siblings(path) {
        let mut other = Reading::new(CostSource::Gemini, &sibling);
        let mut more = BTreeMap::new();
        match read_file(&sibling, &mut other, &mut more) {
            Ok(()) if other.session_id == reading.session_id => {
                spent.extend(more);
                reading.problems.append(&mut other.problems);
                for at in [other.started_at, other.ended_at].into_iter().flatten() {
                    reading.started_at = Some(reading.started_at.map_or(at, |s| s.min(at)));
                    reading.ended_at = Some(reading.ended_at.map_or(at, |e| e.max(at)));
                }
            }
            Ok(()) => {}
            Err(e) => {
                tracing::warn!(transcript = %sibling.display(), error = %e, "cannot read a session file");
            }
        }
    }
    for Spent { model, usage } in spent.into_values() {
        reading.usage.entry(model).or_default().add(&usage.tokens());
    }
    Ok(reading)
}

/// The other session files in `path`'s directory whose name ends as its does (`-<id8>.jsonl`).
fn siblings(path: &Path) -> Vec<std::path::PathBuf> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let Some((_, suffix)) = name.rsplit_once('-') else {
        return Vec::new();
    };
    let mut found: Vec<_> = path
        .parent()
        .and_then(|dir| std::fs::read_dir(dir).ok())
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let other = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            other != name && other.starts_with("session-") && other.ends_with(&format!("-{suffix}"))
        })
        .collect();
    found.sort();
    found
}

/// Reads one session file: its session id, times and the usage of its `gemini` messages.
fn read_file(
    path: &Path,
    reading: &mut Reading,
    spent: &mut BTreeMap<String, Spent>,
) -> Result<(), CostError> {
    for_each_line(path, reading, |reading, number, text| {
        let line: Line = match serde_json::from_str(text) {
            Ok(l) => l,
            Err(e) => return reading.problem(path, number, json_problem(&e)),
        };
        if let Some(set) = &line.set {
            for message in &set.messages {
                match Line::deserialize(message) {
                    Ok(m) => take_message(reading, spent, m, path, number),
                    Err(e) => reading.problem(path, number, format!("bad `$set` message: {e}")),
                }
            }
            return;
        }
        if let Some(id) = line.session_id.as_deref().filter(|s| !s.trim().is_empty())
            && reading.session_id.is_empty()
        {
            reading.session_id = id.to_owned();
            if let Some(at) = &line.start_time {
                reading.saw_time(at, path, number);
            }
        }
        take_message(reading, spent, line, path, number);
    })
}

/// Takes a message record: its time, and a `gemini` message's usage (replacing an earlier
/// record of the same id).
fn take_message(
    reading: &mut Reading,
    spent: &mut BTreeMap<String, Spent>,
    line: Line,
    path: &Path,
    number: usize,
) {
    let Some(id) = line.id.filter(|id| !id.is_empty()) else {
        return;
    };
    if let Some(at) = &line.timestamp {
        reading.saw_time(at, path, number);
    }
    if line.kind.as_deref() != Some("gemini") {
        return;
    }
    let Some(usage) = line.tokens else { return };
    let model = line
        .model
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    spent.insert(id, Spent { model, usage });
}

#[cfg(test)]
mod tests {
    use beads::Tokens;

    use crate::costs::fixture;

    #[test]
    fn a_session_counts_each_response_once_at_its_last_record() {
        let r = super::read(&fixture(
            "gemini/tmp/rust/chats/session-2026-12-05T10-02-0199e3a4.jsonl",
        ))
        .unwrap();
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(r.session_id, "0199e3a4-5b6c-4d8e-9f01-23456789abcd");
        // Three responses of gemini-2.5-flash, the first written three times (text, tokens,
        // tool calls) and the third rewound away (it was spent all the same), then one of
        // gemini-2.5-pro after the model changed.
        assert_eq!(
            r.usage.get("gemini-2.5-flash"),
            Some(&Tokens {
                input: (8_421 - 3_072) + 9_310 + 9_402 + 12,
                output: 95 + 40 + 61 + 17 + 33,
                cache_write: 0,
                cache_read: 3_072,
            })
        );
        assert_eq!(
            r.usage.get("gemini-2.5-pro"),
            Some(&Tokens {
                input: 10_120 - 8_192,
                output: 210,
                cache_write: 0,
                cache_read: 8_192,
            })
        );
        assert_eq!(r.started_at.unwrap().to_string(), "2026-12-05T10:02:11.5Z");
        assert_eq!(r.ended_at.unwrap().to_string(), "2026-12-05T10:04:58.77Z");
    }

    #[test]
    fn a_resumed_session_s_files_count_together_once() {
        let dir = tempfile::tempdir().unwrap();
        let chats = dir.path();
        let first = fixture("gemini/tmp/rust/chats/session-2026-12-05T10-02-0199e3a4.jsonl");
        std::fs::copy(
            &first,
            chats.join("session-2026-12-05T10-02-0199e3a4.jsonl"),
        )
        .unwrap();
        // The resumed session's file: its metadata, a message the first file holds too, and one
        // new response. Another session's file beside it does not count.
        std::fs::write(
            chats.join("session-2026-12-05T11-30-0199e3a4.jsonl"),
            "{\"sessionId\":\"0199e3a4-5b6c-4d8e-9f01-23456789abcd\",\"projectHash\":\"5b\",\
             \"startTime\":\"2026-12-05T11:30:00.000Z\",\"kind\":\"main\"}\n\
             {\"id\":\"5f0c2a9e-1d3b-4c7a-8e6f-0b2d4c6e8a01\",\"timestamp\":\"2026-12-05T10:02:18.230Z\",\
             \"type\":\"gemini\",\"content\":\"Committed.\",\"tokens\":{\"input\":9310,\"output\":61,\
             \"cached\":0,\"thoughts\":0,\"tool\":0,\"total\":9371},\"model\":\"gemini-2.5-flash\"}\n\
             {\"id\":\"e9\",\"timestamp\":\"2026-12-05T11:31:00.000Z\",\"type\":\"gemini\",\
             \"content\":\"Submitted.\",\"tokens\":{\"input\":500,\"output\":20},\
             \"model\":\"gemini-2.5-flash\"}\n",
        )
        .unwrap();
        std::fs::write(
            chats.join("session-2026-12-05T12-00-77aa0000.jsonl"),
            "{\"sessionId\":\"77aa0000-0000-4000-8000-000000000000\"}\n\
             {\"id\":\"x\",\"type\":\"gemini\",\"tokens\":{\"input\":999999},\"model\":\"m\"}\n",
        )
        .unwrap();
        let alone = super::read(&first).unwrap();
        for path in [
            chats.join("session-2026-12-05T10-02-0199e3a4.jsonl"),
            chats.join("session-2026-12-05T11-30-0199e3a4.jsonl"),
        ] {
            let r = super::read(&path).unwrap();
            assert!(r.problems.is_empty(), "{:?}", r.problems);
            let flash = r.usage["gemini-2.5-flash"];
            assert_eq!(
                (flash.input, flash.output),
                (
                    alone.usage["gemini-2.5-flash"].input + 500,
                    alone.usage["gemini-2.5-flash"].output + 20
                ),
                "{path:?}"
            );
            assert!(!r.usage.contains_key("m"));
            assert_eq!(r.ended_at.unwrap().to_string(), "2026-12-05T11:31:00Z");
        }
    }

    #[test]
    fn bad_lines_are_named_and_skipped() {
        let path = fixture("gemini-malformed.jsonl");
        let r = super::read(&path).unwrap();
        let lines: Vec<usize> = r.problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [2, 4], "{:?}", r.problems);
        assert_eq!(r.total().output, 10);
    }
}
