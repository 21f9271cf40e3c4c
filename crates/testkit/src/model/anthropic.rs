//! The Anthropic Messages API (`POST /v1/messages`), as Claude Code uses it.
//!
//! A request is the agent's conversation when it offers Claude Code's `Bash` tool; anything
//! else on `/v1/messages` (title and topic generation, quota probes) is a side request answered
//! with a short plain message. Tool actions map to Claude Code's own tools: [`Action::Shell`] →
//! `Bash {command}`, [`Action::Write`] → `Write {file_path, content}`, [`Action::Edit`] → `Edit
//! {file_path, old_string, new_string}`. Streaming requests get the real event sequence
//! (`message_start`, `content_block_start`/`delta`/`stop` per block, `message_delta` with the
//! stop reason and usage, `message_stop`); usage is filled in so cost accounting has tokens.
//! Every response has its own message id and a `request-id` header, which Claude Code writes
//! into its transcript as `requestId`: cost readers tell responses apart by the two.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::{Action, Conversation, Message, ModelServer, Reply, Scenario, Shared};
use super::{estimate_tokens, json_body, json_response, sse_response};

/// The tool whose presence marks a request as the agent's conversation.
const SHELL_TOOL: &str = "Bash";

impl ModelServer {
    /// An Anthropic Messages API endpoint serving `scenario`; point Claude Code at it with
    /// `ANTHROPIC_BASE_URL` and any `ANTHROPIC_API_KEY`.
    pub fn anthropic(scenario: Scenario) -> Self {
        Self::start(scenario, router)
    }
}

fn router(shared: Arc<Shared>) -> Router {
    let messages = {
        let shared = Arc::clone(&shared);
        move |method: Method, uri: Uri, body: Bytes| async move {
            messages(&shared, &method, &uri, &body)
        }
    };
    let count = {
        let shared = Arc::clone(&shared);
        move |method: Method, uri: Uri, body: Bytes| async move {
            let json = json_body(&body);
            let tokens = estimate_tokens(&json.to_string());
            shared.side(&method, &uri, json, "count_tokens");
            json_response(StatusCode::OK, &json!({ "input_tokens": tokens }))
        }
    };
    let models = {
        let shared = Arc::clone(&shared);
        move |method: Method, uri: Uri| async move {
            shared.side(&method, &uri, Value::Null, "models");
            json_response(StatusCode::OK, &models_page())
        }
    };
    // Claude Code probes `HEAD /api/hello` at start to see whether the API is reachable.
    let hello = {
        let shared = Arc::clone(&shared);
        move |method: Method, uri: Uri| async move {
            shared.side(&method, &uri, Value::Null, "reachability probe");
            StatusCode::OK
        }
    };
    Router::new()
        .route("/api/hello", get(hello.clone()).head(hello))
        .route("/v1/messages", post(messages))
        .route("/v1/messages/count_tokens", post(count))
        .route("/v1/models", get(models))
}

fn messages(shared: &Shared, method: &Method, uri: &Uri, body: &Bytes) -> Response {
    let json = json_body(body);
    let model = json["model"]
        .as_str()
        .unwrap_or("claude-sonnet-4-5")
        .to_owned();
    let stream = json["stream"].as_bool().unwrap_or(false);
    let input_tokens = estimate_tokens(&String::from_utf8_lossy(body));
    let blocks = if offers_shell_tool(&json) {
        let conversation = conversation(&json);
        let reply = shared.converse(method, uri, json, conversation);
        reply_blocks(&reply)
    } else {
        shared.side(method, uri, json, "side message");
        vec![json!({"type": "text", "text": "Working on it"})]
    };
    static RESPONSES: AtomicU64 = AtomicU64::new(1);
    let n = RESPONSES.fetch_add(1, Ordering::Relaxed);
    let message = Outgoing {
        id: format!("msg_loopback{n:08}"),
        model,
        input_tokens,
        blocks,
    };
    let mut response = if stream {
        sse_response(message.sse())
    } else {
        json_response(StatusCode::OK, &message.whole())
    };
    let request_id = format!("req_loopback{n:08}");
    if let Ok(value) = request_id.parse() {
        response.headers_mut().insert("request-id", value);
    }
    response
}

fn offers_shell_tool(request: &Value) -> bool {
    request["tools"]
        .as_array()
        .is_some_and(|tools| tools.iter().any(|t| t["name"] == SHELL_TOOL))
}

/// Reads the request's system prompt and messages into the neutral form.
pub fn conversation(request: &Value) -> Conversation {
    let mut messages = Vec::new();
    for message in request["messages"].as_array().into_iter().flatten() {
        let blocks = content_blocks(&message["content"]);
        if message["role"] == "assistant" {
            let text = blocks
                .iter()
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n");
            let tool_calls = blocks
                .iter()
                .filter(|b| b["type"] == "tool_use")
                .filter_map(|b| b["id"].as_str().map(str::to_owned))
                .collect();
            messages.push(Message::Assistant { text, tool_calls });
            continue;
        }
        // Claude Code sends mid-conversation system turns (the environment, reminders) in
        // `messages` with the role `system`; they are context, never a prompt.
        if message["role"] == "system" {
            messages.push(Message::Context(text_of(&message["content"])));
            continue;
        }
        let mut typed = Vec::new();
        for block in &blocks {
            match block["type"].as_str() {
                Some("tool_result") => messages.push(Message::ToolResult {
                    id: block["tool_use_id"].as_str().unwrap_or_default().to_owned(),
                    output: text_of(&block["content"]),
                }),
                Some("text") => {
                    let text = block["text"].as_str().unwrap_or_default();
                    if is_context(text) {
                        messages.push(Message::Context(text.to_owned()));
                    } else {
                        typed.push(text);
                    }
                }
                _ => {}
            }
        }
        if !typed.is_empty() {
            messages.push(Message::Prompt(typed.join("\n")));
        }
    }
    Conversation {
        system: text_of(&request["system"]),
        messages,
    }
}

/// Text Claude Code adds on the user's side that nobody typed: system reminders (hook output,
/// file-change notes) and the records of local slash commands.
fn is_context(text: &str) -> bool {
    let text = text.trim_start();
    ["<system-reminder>", "<command-", "<local-command-"]
        .iter()
        .any(|tag| text.starts_with(tag))
}

/// A `content` field as a list of blocks (a bare string is one text block).
fn content_blocks(content: &Value) -> Vec<Value> {
    match content {
        Value::String(text) => vec![json!({"type": "text", "text": text})],
        Value::Array(blocks) => blocks.clone(),
        _ => Vec::new(),
    }
}

/// The text of a string or of a list of blocks, joined by newlines.
fn text_of(content: &Value) -> String {
    content_blocks(content)
        .iter()
        .filter_map(|b| b["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The content blocks of a reply: its text, then its tool call as Claude Code's own tool.
fn reply_blocks(reply: &Reply) -> Vec<Value> {
    let mut blocks = Vec::new();
    if let Some(text) = &reply.text {
        blocks.push(json!({"type": "text", "text": text}));
    }
    if let Some(call) = &reply.tool {
        let (name, input) = match &call.action {
            Action::Shell(command) => ("Bash", json!({ "command": command })),
            Action::Write { path, content } => {
                ("Write", json!({ "file_path": path, "content": content }))
            }
            Action::Edit { path, old, new } => (
                "Edit",
                json!({ "file_path": path, "old_string": old, "new_string": new }),
            ),
            Action::Say(_) => unreachable!("a Say is never a tool call"),
        };
        blocks.push(json!({"type": "tool_use", "id": format!("toolu_{}", call.id), "name": name, "input": input}));
    }
    blocks
}

/// One response message, rendered whole or as the stream of events the API sends.
struct Outgoing {
    id: String,
    model: String,
    input_tokens: u64,
    blocks: Vec<Value>,
}

impl Outgoing {
    fn stop_reason(&self) -> &'static str {
        if self.blocks.iter().any(|b| b["type"] == "tool_use") {
            "tool_use"
        } else {
            "end_turn"
        }
    }

    fn output_tokens(&self) -> u64 {
        estimate_tokens(&Value::Array(self.blocks.clone()).to_string())
    }

    fn usage(&self, output_tokens: u64) -> Value {
        json!({
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": output_tokens,
            "service_tier": "standard",
        })
    }

    fn whole(&self) -> Value {
        json!({
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": self.blocks,
            "stop_reason": self.stop_reason(),
            "stop_sequence": null,
            "usage": self.usage(self.output_tokens()),
        })
    }

    fn sse(&self) -> String {
        let mut events = vec![json!({
            "type": "message_start",
            "message": {
                "id": self.id,
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": [],
                "stop_reason": null,
                "stop_sequence": null,
                "usage": self.usage(1),
            },
        })];
        events.push(json!({"type": "ping"}));
        for (index, block) in self.blocks.iter().enumerate() {
            let (start, delta) = if block["type"] == "tool_use" {
                (
                    json!({"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}),
                    json!({"type": "input_json_delta", "partial_json": block["input"].to_string()}),
                )
            } else {
                (
                    json!({"type": "text", "text": ""}),
                    json!({"type": "text_delta", "text": block["text"]}),
                )
            };
            events.push(
                json!({"type": "content_block_start", "index": index, "content_block": start}),
            );
            events.push(json!({"type": "content_block_delta", "index": index, "delta": delta}));
            events.push(json!({"type": "content_block_stop", "index": index}));
        }
        events.push(json!({
            "type": "message_delta",
            "delta": {"stop_reason": self.stop_reason(), "stop_sequence": null},
            "usage": self.usage(self.output_tokens()),
        }));
        events.push(json!({"type": "message_stop"}));
        events
            .iter()
            .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap_or("")))
            .collect()
    }
}

fn models_page() -> Value {
    let models: Vec<Value> = ["claude-opus-4-5", "claude-sonnet-4-5", "claude-haiku-4-5"]
        .iter()
        .map(|id| json!({"type": "model", "id": id, "display_name": id, "created_at": "2025-10-01T00:00:00Z"}))
        .collect();
    json!({ "data": models, "has_more": false, "first_id": "claude-opus-4-5", "last_id": "claude-haiku-4-5" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, Turn};

    /// Posts `body` to `path` over plain HTTP/1.1 and returns the raw response.
    fn post(server: &ModelServer, path: &str, body: &Value) -> String {
        crate::model::raw_http(server, &format!("POST {path} HTTP/1.1"), &body.to_string())
    }

    fn request(messages: Value) -> Value {
        json!({
            "model": "claude-test",
            "stream": true,
            "system": [{"type": "text", "text": "You are Claude Code."}],
            "tools": [{"name": "Bash"}, {"name": "Edit"}],
            "messages": messages,
        })
    }

    #[test]
    fn a_prompt_is_answered_with_a_streamed_bash_call_then_the_turn_ends() {
        let server = ModelServer::anthropic(
            Scenario::new().turn(Turn::new().say("Looking.").shell("ls").end("Listed.")),
        );
        let first = post(
            &server,
            "/v1/messages?beta=true",
            &request(json!([
                {"role": "user", "content": [
                    {"type": "text", "text": "<system-reminder>\ngit status\n</system-reminder>"},
                    {"type": "text", "text": "list the files"},
                ]},
                {"role": "system", "content": "# Environment"},
            ])),
        );
        assert!(first.starts_with("HTTP/1.1 200"), "{first}");
        assert!(first.contains("content-type: text/event-stream"), "{first}");
        assert!(first.contains("request-id: req_loopback"), "{first}");
        let events: Vec<&str> = first
            .lines()
            .filter_map(|l| l.strip_prefix("event: "))
            .collect();
        assert_eq!(
            events,
            [
                "message_start",
                "ping",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert!(first.contains(r#""name":"Bash""#), "{first}");
        assert!(
            first.contains(r#""partial_json":"{\"command\":\"ls\"}""#),
            "{first}"
        );
        assert!(first.contains(r#""stop_reason":"tool_use""#), "{first}");

        let second = post(
            &server,
            "/v1/messages",
            &request(json!([
                {"role": "user", "content": "list the files"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_call_0_0", "name": "Bash", "input": {"command": "ls"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_call_0_0", "content": "a.txt"}]},
            ])),
        );
        assert!(second.contains(r#""text":"Listed.""#), "{second}");
        assert!(second.contains(r#""stop_reason":"end_turn""#), "{second}");

        let log = server.conversations();
        assert_eq!(log.len(), 2, "{}", server.describe());
        let prompts: Vec<&str> = log[0].conversation().unwrap().prompts().collect();
        assert_eq!(
            prompts,
            ["list the files"],
            "reminders and system turns are context"
        );
        assert_eq!(log[1].reply().unwrap().step, 1);
    }

    #[test]
    fn side_requests_get_plausible_answers_and_unknown_paths_are_listed() {
        let server = ModelServer::anthropic(Scenario::new());
        let title = post(
            &server,
            "/v1/messages",
            &json!({"model": "claude-haiku", "messages": [{"role": "user", "content": "title?"}]}),
        );
        assert!(title.contains(r#""type":"message""#), "{title}");
        let count = post(
            &server,
            "/v1/messages/count_tokens",
            &json!({"messages": []}),
        );
        assert!(count.contains("input_tokens"), "{count}");
        let unknown = post(&server, "/v1/elsewhere", &json!({}));
        assert!(unknown.starts_with("HTTP/1.1 404"), "{unknown}");
        assert_eq!(server.unknown_requests(), ["POST /v1/elsewhere"]);
        assert!(matches!(server.log()[0].kind, Kind::Side(_)));
    }
}
