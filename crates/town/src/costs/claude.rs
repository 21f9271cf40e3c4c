//! Claude Code's session transcript: `<config>/projects/<project>/<session-id>.jsonl`, one
//! JSON object a line. Assistant lines (`"type":"assistant"`) carry `message.model` and
//! `message.usage` (`input_tokens`, `output_tokens`, `cache_creation_input_tokens`,
//! `cache_read_input_tokens`; the four are disjoint). One API response is written as several
//! lines (one per content block, and again as it streams), each repeating the response's
//! usage with the same `message.id` and `requestId`; the later copies carry the final
//! output count. So lines are merged by that key, keeping each count's largest value. Lines
//! without `requestId` (gateways, some subagent paths) are keyed by the message id alone.
//! Claude's own placeholder replies (model `<synthetic>`) are not API calls.
//!
//! Subagents write their own transcripts beside the session's, under
//! `<session-id>/subagents/*.jsonl`; their usage is the session's too.

use std::collections::HashMap;
use std::path::Path;

use beads::{CostSource, Tokens};
use serde::Deserialize;

use super::{CostError, Reading, for_each_line, json_problem};

/// The placeholder model of replies Claude Code makes up itself (errors, interruptions).
const SYNTHETIC_MODEL: &str = "<synthetic>";

#[derive(Deserialize)]
struct Line {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(rename = "sessionId", default)]
    session_id: Option<String>,
    #[serde(default)]
    cwd: Option<String>,
    #[serde(rename = "requestId", default)]
    request_id: Option<String>,
    #[serde(default)]
    message: Option<Message>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    cache_creation_input_tokens: u64,
    #[serde(default)]
    cache_read_input_tokens: u64,
}

/// One API response's usage, merged over its repeated lines.
struct Response {
    model: String,
    tokens: Tokens,
}

fn max_merge(into: &mut Tokens, t: &Tokens) {
    into.input = into.input.max(t.input);
    into.output = into.output.max(t.output);
    into.cache_write = into.cache_write.max(t.cache_write);
    into.cache_read = into.cache_read.max(t.cache_read);
}

/// Reads the session transcript at `path` and its subagents' transcripts.
pub fn read(path: &Path) -> Result<Reading, CostError> {
    let mut reading = Reading::new(CostSource::Claude, path);
    // Keyed responses in first-seen order; unkeyed ones are each their own.
    let mut keyed: HashMap<String, usize> = HashMap::new();
    let mut responses: Vec<Response> = Vec::new();
    for file in files_of(path) {
        for_each_line(&file, &mut reading, |reading, number, text| {
            let line: Line = match serde_json::from_str(text) {
                Ok(l) => l,
                Err(e) => return reading.problem(&file, number, json_problem(&e)),
            };
            if let Some(at) = &line.timestamp {
                reading.saw_time(at, &file, number);
            }
            // The main transcript names the session; a subagent's lines name their parent.
            if reading.session_id.is_empty()
                && let Some(id) = line.session_id.as_deref().filter(|s| !s.is_empty())
            {
                reading.session_id = id.to_owned();
            }
            if reading.cwd.is_none() {
                reading.cwd = line.cwd.clone().filter(|c| !c.is_empty());
            }
            if line.kind.as_deref() != Some("assistant") {
                return;
            }
            let Some(message) = line.message else { return };
            let Some(usage) = message.usage else { return };
            let model = message.model.unwrap_or_default();
            if model == SYNTHETIC_MODEL {
                return;
            }
            let model = if model.trim().is_empty() {
                "unknown".to_owned()
            } else {
                model
            };
            let tokens = Tokens {
                input: usage.input_tokens,
                output: usage.output_tokens,
                cache_write: usage.cache_creation_input_tokens,
                cache_read: usage.cache_read_input_tokens,
            };
            let key = message
                .id
                .filter(|id| !id.is_empty())
                .map(|id| match line.request_id {
                    Some(req) if !req.is_empty() => format!("{id}:{req}"),
                    _ => id,
                });
            match key.as_ref().and_then(|k| keyed.get(k)) {
                Some(&i) => max_merge(&mut responses[i].tokens, &tokens),
                None => {
                    if let Some(k) = key {
                        keyed.insert(k, responses.len());
                    }
                    responses.push(Response { model, tokens });
                }
            }
        })?;
    }
    if reading.session_id.is_empty() {
        // The file is named after its session.
        reading.session_id = path
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| CostError::NoSession {
                path: path.to_owned(),
            })?
            .to_owned();
    }
    for r in responses {
        reading.usage.entry(r.model).or_default().add(&r.tokens);
    }
    Ok(reading)
}

/// The session's transcript, then its subagents' in name order.
fn files_of(path: &Path) -> Vec<std::path::PathBuf> {
    let mut files = vec![path.to_owned()];
    let Some(stem) = path.file_stem() else {
        return files;
    };
    let dir = path.with_file_name(stem).join("subagents");
    let mut subagents: Vec<_> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl") && p.is_file())
        .collect();
    subagents.sort();
    files.extend(subagents);
    files
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use beads::Tokens;

    use crate::costs::fixture;

    #[test]
    fn a_session_sums_each_response_once_with_its_final_output() {
        let r = super::read(&fixture(
            "claude/-town-gastown-polecats-nux/5d3a9c1e-7f21-4b8e-a0c4-2e6f8b9d1a37.jsonl",
        ))
        .unwrap();
        assert_eq!(r.session_id, "5d3a9c1e-7f21-4b8e-a0c4-2e6f8b9d1a37");
        assert_eq!(r.cwd.as_deref(), Some("/town/gastown/polecats/nux"));
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        // Two responses of Sonnet, one repeated three times as it streamed (final output 412),
        // one unkeyed line from the subagent's Haiku; the synthetic reply counts nothing.
        assert_eq!(
            r.usage.get("claude-sonnet-4-5-20250929"),
            Some(&Tokens {
                input: 3 + 7,
                output: 412 + 95,
                cache_write: 4210 + 610,
                cache_read: 13_880 + 18_090,
            })
        );
        assert_eq!(
            r.usage.get("claude-haiku-4-5-20251001"),
            Some(&Tokens {
                input: 1200,
                output: 64,
                cache_write: 0,
                cache_read: 0,
            })
        );
        assert_eq!(r.usage.len(), 2, "{:?}", r.usage);
        assert_eq!(
            r.started_at.unwrap().to_string(),
            "2026-12-05T09:14:02.113Z"
        );
        assert_eq!(r.ended_at.unwrap().to_string(), "2026-12-05T09:15:40.902Z");
    }

    #[test]
    fn bad_lines_are_named_by_file_and_line_and_skipped() {
        let path = fixture("claude-malformed.jsonl");
        let r = super::read(&path).unwrap();
        let problems: Vec<String> = r
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.line, p.reason.split(':').next().unwrap_or("")))
            .collect();
        assert_eq!(
            problems,
            [
                "2: not a transcript entry",
                "4: not a transcript entry",
                "5: bad timestamp `yesterday`",
                "6: not UTF-8",
            ],
            "{:?}",
            r.problems
        );
        assert!(r.problems.iter().all(|p| p.path == path));
        // The good lines still count.
        assert_eq!(r.total().output, 20);
        assert_eq!(r.session_id, "0b7e2f4a-1111-4c2d-9e8f-222233334444");
    }

    #[test]
    fn a_missing_transcript_is_an_error_naming_it() {
        let err = super::read(Path::new("/nonexistent/abc.jsonl")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/abc.jsonl"), "{err}");
    }
}
