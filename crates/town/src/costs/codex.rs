//! Codex CLI's session transcript ("rollout"): `<codex home>/sessions/YYYY/MM/DD/
//! rollout-<time>-<session id>.jsonl`, one `{"timestamp", "type", "payload"}` object a line.
//! `session_meta` names the session (`payload.id`) and its `cwd`; `turn_context` the model of
//! the turns that follow; `event_msg` lines whose `payload.type` is `token_count` carry
//! `payload.info.total_token_usage` (the session's running totals) and `last_token_usage`
//! (the latest request's). Codex repeats a `token_count` without new work, so usage is taken
//! as the growth of the running totals, from `last_token_usage` only where no totals are
//! given (older builds). Codex's `input_tokens` include the cached ones and `output_tokens`
//! include reasoning; a reading stores fresh input and cache reads apart. OpenAI has no
//! cache-write charge, so Codex sessions have no cache writes.

use std::path::Path;

use beads::{CostSource, Tokens};
use serde::Deserialize;

use super::{CostError, Reading, for_each_line, json_problem};

#[derive(Deserialize)]
struct Line {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    payload: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct SessionMeta {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    cwd: Option<String>,
}

#[derive(Deserialize)]
struct TurnContext {
    #[serde(default)]
    model: Option<String>,
}

#[derive(Deserialize)]
struct TokenCount {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    info: Option<Info>,
}

#[derive(Deserialize)]
struct Info {
    #[serde(default)]
    total_token_usage: Option<Usage>,
    #[serde(default)]
    last_token_usage: Option<Usage>,
    #[serde(default)]
    model: Option<String>,
}

#[derive(Deserialize, Clone, Copy, Default, PartialEq, Eq)]
struct Usage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    cached_input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
}

impl Usage {
    fn shrank_from(&self, before: &Usage) -> bool {
        self.input_tokens < before.input_tokens
            || self.cached_input_tokens < before.cached_input_tokens
            || self.output_tokens < before.output_tokens
    }

    fn minus(&self, before: &Usage) -> Usage {
        Usage {
            input_tokens: self.input_tokens - before.input_tokens,
            cached_input_tokens: self.cached_input_tokens - before.cached_input_tokens,
            output_tokens: self.output_tokens - before.output_tokens,
        }
    }

    fn tokens(&self) -> Tokens {
        let cached = self.cached_input_tokens.min(self.input_tokens);
        Tokens {
            input: self.input_tokens - cached,
            output: self.output_tokens,
            cache_write: 0,
            cache_read: cached,
        }
    }
}

fn nonempty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

/// Reads the rollout at `path`.
pub fn read(path: &Path) -> Result<Reading, CostError> {
    let mut reading = Reading::new(CostSource::Codex, path);
    let mut model: Option<String> = None;
    let mut totals: Option<Usage> = None;
    for_each_line(path, &mut reading, |reading, number, text| {
        let line: Line = match serde_json::from_str(text) {
            Ok(l) => l,
            Err(e) => return reading.problem(path, number, json_problem(&e)),
        };
        if let Some(at) = &line.timestamp {
            reading.saw_time(at, path, number);
        }
        let payload = line.payload.unwrap_or_default();
        // An `event_msg` is named by its payload's own type (`token_count`).
        let what = payload
            .get("type")
            .and_then(|t| t.as_str())
            .or(line.kind.as_deref())
            .unwrap_or("")
            .to_owned();
        let bad = |reading: &mut Reading, e: serde_json::Error| {
            reading.problem(path, number, format!("bad `{what}` payload: {e}"));
        };
        match line.kind.as_deref() {
            Some("session_meta") => match SessionMeta::deserialize(&payload) {
                Ok(meta) => {
                    if reading.session_id.is_empty()
                        && let Some(id) = nonempty(meta.id)
                    {
                        reading.session_id = id;
                    }
                    if reading.cwd.is_none() {
                        reading.cwd = nonempty(meta.cwd);
                    }
                }
                Err(e) => bad(reading, e),
            },
            Some("turn_context") => match TurnContext::deserialize(&payload) {
                Ok(ctx) => model = nonempty(ctx.model).or(model.take()),
                Err(e) => bad(reading, e),
            },
            Some("event_msg")
                if payload.get("type").and_then(|t| t.as_str()) == Some("token_count") =>
            {
                let count = match TokenCount::deserialize(&payload) {
                    Ok(c) => c,
                    Err(e) => return bad(reading, e),
                };
                let Some(info) = count.info else { return };
                let used = match (info.total_token_usage, info.last_token_usage) {
                    (Some(total), last) => {
                        let before = totals.unwrap_or_default();
                        totals = Some(total);
                        // Totals that went down mean Codex started counting afresh.
                        if total.shrank_from(&before) {
                            last.unwrap_or(total)
                        } else {
                            total.minus(&before)
                        }
                    }
                    (None, Some(last)) => last,
                    (None, None) => return,
                };
                if used == Usage::default() {
                    return;
                }
                let name = nonempty(info.model)
                    .or_else(|| nonempty(count.model))
                    .or_else(|| model.clone())
                    .unwrap_or_else(|| "unknown".to_owned());
                reading.usage.entry(name).or_default().add(&used.tokens());
            }
            _ => {}
        }
    })?;
    if reading.session_id.is_empty() {
        // `rollout-2026-12-05T10-00-00-<uuid>.jsonl`: the uuid is the last five dash-groups.
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        let parts: Vec<&str> = stem.split('-').collect();
        if parts.len() >= 5 {
            reading.session_id = parts[parts.len() - 5..].join("-");
        } else {
            return Err(CostError::NoSession {
                path: path.to_owned(),
            });
        }
    }
    Ok(reading)
}

#[cfg(test)]
mod tests {
    use beads::Tokens;

    use crate::costs::fixture;

    #[test]
    fn a_rollout_counts_the_growth_of_its_running_totals_per_model() {
        let r = super::read(&fixture(
            "codex/sessions/2026/12/05/rollout-2026-12-05T10-02-11-0199e3a4-5b6c-7d8e-9f01-23456789abcd.jsonl",
        ))
        .unwrap();
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(r.session_id, "0199e3a4-5b6c-7d8e-9f01-23456789abcd");
        assert_eq!(r.cwd.as_deref(), Some("/town/gastown/polecats/rust"));
        // Two requests of gpt-5-codex (the repeated count adds nothing), then one of gpt-5
        // after the model changed.
        assert_eq!(
            r.usage.get("gpt-5-codex"),
            Some(&Tokens {
                input: 8421 - 3072 + (15_903 - 8421) - (9_984 - 3072),
                output: 1_177,
                cache_write: 0,
                cache_read: 9_984,
            })
        );
        assert_eq!(
            r.usage.get("gpt-5"),
            Some(&Tokens {
                input: 2_000 - 1_500,
                output: 150,
                cache_write: 0,
                cache_read: 1_500,
            })
        );
        assert_eq!(r.ended_at.unwrap().to_string(), "2026-12-05T10:04:58.77Z");
    }

    #[test]
    fn bad_lines_are_named_and_skipped() {
        let path = fixture("codex-malformed.jsonl");
        let r = super::read(&path).unwrap();
        let lines: Vec<usize> = r.problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [2, 3], "{:?}", r.problems);
        assert!(
            r.problems[1].reason.contains("token_count"),
            "{:?}",
            r.problems
        );
        assert_eq!(r.total().output, 10);
    }
}
