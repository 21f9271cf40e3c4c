//! The Gemini API (`POST /v1beta/models/<model>:streamGenerateContent?alt=sse`), as Gemini CLI
//! uses it.
//!
//! Gemini CLI 0.61 talks to `GOOGLE_GEMINI_BASE_URL` through `@google/genai` with the key of
//! `GEMINI_API_KEY` (in `x-goog-api-key`): the agent's turns stream as server-sent events
//! (`data: <GenerateContentResponse>` then a blank line); one-shot helpers (the summary of the
//! previous session it writes at start, JSON checks) use `:generateContent`, and token counts
//! `:countTokens`. A request is the agent's conversation when it offers `run_shell_command`;
//! any other is a side request answered with a short text.
//!
//! Conversation: `contents` of `user` and `model` turns. A user turn's text parts are the
//! prompt, except the blocks Gemini CLI adds itself (`<session_context>` with the date and
//! directory listing, `<hook_context>` with a hook's `additionalContext`), which are context;
//! `functionResponse` parts are tool results. Tool actions map to Gemini CLI's own tools:
//! [`Action::Shell`] → `run_shell_command {command}`, [`Action::Write`] → `write_file
//! {file_path, content}`, [`Action::Edit`] → `replace {file_path, old_string, new_string}`. A
//! call carries its id (`call_<turn>_<step>`), which Gemini CLI echoes in the
//! `functionResponse`.
//!
//! A streamed reply is one chunk per part (its text, then its function call), the last one
//! with `finishReason: STOP` and `usageMetadata` (`promptTokenCount`, `candidatesTokenCount`,
//! `totalTokenCount`): Gemini CLI keeps the usage of a response's last chunk and records it in
//! its session file, which cost accounting reads.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::{Action, Conversation, Message, ModelServer, Reply, Scenario, Shared};
use super::{estimate_tokens, json_body, json_response, sse_response};

/// The tool whose presence marks a request as the agent's conversation.
const SHELL_TOOL: &str = "run_shell_command";

/// How user-role text that nobody typed starts: Gemini CLI's session context and hook output.
const CONTEXT_PREFIXES: [&str; 2] = ["<session_context>", "<hook_context>"];

impl ModelServer {
    /// A Gemini API endpoint serving `scenario`. Point Gemini CLI at it with
    /// `GOOGLE_GEMINI_BASE_URL=<url>` and any `GEMINI_API_KEY`.
    pub fn gemini(scenario: Scenario) -> Self {
        Self::start(scenario, router)
    }
}

fn router(shared: Arc<Shared>) -> Router {
    let call = {
        let shared = Arc::clone(&shared);
        move |method: Method,
              uri: Uri,
              Path((_version, target)): Path<(String, String)>,
              body: Bytes| async move { model_call(&shared, &method, &uri, &target, &body) }
    };
    let models = {
        let shared = Arc::clone(&shared);
        move |method: Method, uri: Uri| async move {
            shared.side(&method, &uri, Value::Null, "models");
            json_response(StatusCode::OK, &models_page())
        }
    };
    Router::new()
        .route("/{version}/models/{*target}", post(call))
        .route("/{version}/models", get(models))
}

/// `<model>:<method>`, posted under a version (`v1beta`).
fn model_call(shared: &Shared, method: &Method, uri: &Uri, target: &str, body: &Bytes) -> Response {
    let (model, call) = target.split_once(':').unwrap_or((target, ""));
    let json = json_body(body);
    let input_tokens = estimate_tokens(&String::from_utf8_lossy(body));
    match call {
        "countTokens" => {
            shared.side(method, uri, json, "count tokens");
            json_response(StatusCode::OK, &json!({ "totalTokens": input_tokens }))
        }
        "generateContent" | "streamGenerateContent" => {
            let parts = if offers_shell(&json) {
                let conversation = conversation(&json);
                let reply = shared.converse(method, uri, json, conversation);
                reply_parts(&reply)
            } else {
                shared.side(method, uri, json, "helper");
                vec![json!({ "text": "Scripted summary." })]
            };
            let response = Outgoing {
                model: model.to_owned(),
                input_tokens,
                parts,
            };
            if call == "streamGenerateContent" {
                sse_response(response.sse())
            } else {
                json_response(StatusCode::OK, &response.whole())
            }
        }
        _ => {
            shared.side(method, uri, json, "unsupported method");
            json_response(
                StatusCode::NOT_FOUND,
                &json!({"error": {"code": 404, "status": "NOT_FOUND", "message": format!("no method `{call}`")}}),
            )
        }
    }
}

/// Whether the request offers Gemini CLI's shell tool.
fn offers_shell(request: &Value) -> bool {
    request["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|t| t["functionDeclarations"].as_array().into_iter().flatten())
        .any(|f| f["name"] == SHELL_TOOL)
}

/// Reads the request's system instruction and contents into the neutral form.
pub fn conversation(request: &Value) -> Conversation {
    let system = texts(&request["systemInstruction"]["parts"]).join("\n");
    let mut messages = Vec::new();
    for content in request["contents"].as_array().into_iter().flatten() {
        let parts = &content["parts"];
        if content["role"] == "model" {
            let text = texts(parts).join("");
            let tool_calls = parts
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["functionCall"]["id"].as_str().map(str::to_owned))
                .collect();
            messages.push(Message::Assistant { text, tool_calls });
            continue;
        }
        // A user turn: consecutive typed text is one prompt; context blocks and tool results
        // stand apart, in their order.
        let mut typed: Vec<String> = Vec::new();
        let flush = |typed: &mut Vec<String>, messages: &mut Vec<Message>| {
            if !typed.is_empty() {
                messages.push(Message::Prompt(typed.join("\n")));
                typed.clear();
            }
        };
        for part in parts.as_array().into_iter().flatten() {
            if let Some(text) = part["text"].as_str() {
                if is_context(text) {
                    flush(&mut typed, &mut messages);
                    messages.push(Message::Context(text.to_owned()));
                } else {
                    typed.push(text.to_owned());
                }
            } else if let Some(response) = part.get("functionResponse") {
                flush(&mut typed, &mut messages);
                messages.push(Message::ToolResult {
                    id: response["id"].as_str().unwrap_or_default().to_owned(),
                    output: output_text(&response["response"]),
                });
            }
        }
        flush(&mut typed, &mut messages);
    }
    Conversation { system, messages }
}

/// The text of `parts`, thoughts left out.
fn texts(parts: &Value) -> Vec<String> {
    parts
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["thought"] != true)
        .filter_map(|p| p["text"].as_str().map(str::to_owned))
        .collect()
}

fn is_context(text: &str) -> bool {
    let text = text.trim_start();
    CONTEXT_PREFIXES.iter().any(|tag| text.starts_with(tag))
}

/// A function response's output: `{"output": …}` (or `{"error": …}`), else the whole JSON.
fn output_text(response: &Value) -> String {
    match response
        .get("output")
        .or_else(|| response.get("error"))
        .or_else(|| response.get("content"))
    {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => response.to_string(),
    }
}

/// The parts of a reply: its text, then its function call.
fn reply_parts(reply: &Reply) -> Vec<Value> {
    let mut parts = Vec::new();
    if let Some(text) = &reply.text {
        parts.push(json!({ "text": text }));
    }
    if let Some(call) = &reply.tool {
        let (name, args) = match &call.action {
            Action::Shell(command) => (SHELL_TOOL, json!({ "command": command })),
            Action::Write { path, content } => (
                "write_file",
                json!({ "file_path": path, "content": content }),
            ),
            Action::Edit { path, old, new } => (
                "replace",
                json!({ "file_path": path, "old_string": old, "new_string": new }),
            ),
            Action::Say(_) => unreachable!("a Say is never a tool call"),
        };
        parts.push(json!({ "functionCall": { "id": call.id, "name": name, "args": args } }));
    }
    parts
}

/// One response, whole or as the chunks of a stream.
struct Outgoing {
    model: String,
    input_tokens: u64,
    parts: Vec<Value>,
}

impl Outgoing {
    fn usage(&self) -> Value {
        let output = estimate_tokens(&Value::Array(self.parts.clone()).to_string());
        json!({
            "promptTokenCount": self.input_tokens,
            "candidatesTokenCount": output,
            "totalTokenCount": self.input_tokens + output,
        })
    }

    /// A `GenerateContentResponse` with `parts`; the last one says why it stopped and what it
    /// used.
    fn chunk(&self, parts: &[Value], last: bool) -> Value {
        let mut candidate = json!({
            "content": { "role": "model", "parts": parts },
            "index": 0,
        });
        let mut chunk = json!({
            "candidates": [],
            "modelVersion": self.model,
            "responseId": format!("resp-{:08}", self.input_tokens),
        });
        if last {
            candidate["finishReason"] = json!("STOP");
            chunk["usageMetadata"] = self.usage();
        }
        chunk["candidates"] = json!([candidate]);
        chunk
    }

    fn whole(&self) -> Value {
        self.chunk(&self.parts, true)
    }

    fn sse(&self) -> String {
        let count = self.parts.len();
        self.parts
            .iter()
            .enumerate()
            .map(|(i, part)| self.chunk(std::slice::from_ref(part), i + 1 == count))
            .map(|chunk| format!("data: {chunk}\n\n"))
            .collect()
    }
}

fn models_page() -> Value {
    let models: Vec<Value> = ["gemini-2.5-flash", "gemini-2.5-pro"]
        .iter()
        .map(|id| {
            json!({
                "name": format!("models/{id}"),
                "displayName": id,
                "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"],
            })
        })
        .collect();
    json!({ "models": models })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, Turn};

    use crate::model::raw_http as send;

    const STREAM: &str =
        "POST /v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse HTTP/1.1";

    /// The `data:` payloads of an event stream, as JSON.
    fn chunks(response: &str) -> Vec<Value> {
        response
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .map(|d| serde_json::from_str(d).unwrap())
            .collect()
    }

    fn request(contents: Value) -> Value {
        json!({
            "contents": contents,
            "systemInstruction": {"parts": [{"text": "You are an interactive CLI agent."}]},
            "tools": [{"functionDeclarations": [
                {"name": "read_file"}, {"name": "replace"}, {"name": "write_file"},
                {"name": "run_shell_command"},
            ]}],
            "generationConfig": {"temperature": 1},
        })
    }

    fn user(parts: Value) -> Value {
        json!({"role": "user", "parts": parts})
    }

    #[test]
    fn a_prompt_gets_a_streamed_function_call_then_the_turn_ends_with_usage() {
        let server = ModelServer::gemini(
            Scenario::new().turn(Turn::new().say("Looking.").shell("ls").end("Listed.")),
        );
        let first = send(
            &server,
            STREAM,
            &request(json!([
                user(json!([
                    {"text": "<session_context>\nThis is the Gemini CLI.\n</session_context>"},
                    {"text": "list the files"},
                ])),
                user(json!([{"text": "<hook_context>[GAS TOWN] primed</hook_context>"}])),
            ]))
            .to_string(),
        );
        assert!(first.starts_with("HTTP/1.1 200"), "{first}");
        assert!(first.contains("content-type: text/event-stream"), "{first}");
        let streamed = chunks(&first);
        assert_eq!(streamed.len(), 2, "{first}");
        assert_eq!(
            streamed[0]["candidates"][0]["content"]["parts"][0]["text"],
            "Looking."
        );
        assert!(streamed[0]["usageMetadata"].is_null());
        let last = &streamed[1]["candidates"][0];
        assert_eq!(last["finishReason"], "STOP");
        assert_eq!(
            last["content"]["parts"][0]["functionCall"],
            json!({"id": "call_0_0", "name": "run_shell_command", "args": {"command": "ls"}})
        );
        let usage = &streamed[1]["usageMetadata"];
        assert!(usage["promptTokenCount"].as_u64().unwrap() > 10, "{usage}");
        assert_eq!(
            usage["totalTokenCount"].as_u64(),
            Some(
                usage["promptTokenCount"].as_u64().unwrap()
                    + usage["candidatesTokenCount"].as_u64().unwrap()
            )
        );

        let second = send(
            &server,
            STREAM,
            &request(json!([
                user(json!([{"text": "list the files"}])),
                {"role": "model", "parts": [
                    {"text": "thinking…", "thought": true},
                    {"text": "Looking."},
                    {"functionCall": {"id": "call_0_0", "name": "run_shell_command", "args": {"command": "ls"}}},
                ]},
                user(json!([{"functionResponse": {"id": "call_0_0", "name": "run_shell_command", "response": {"output": "a.txt"}}}])),
            ]))
            .to_string(),
        );
        let done = chunks(&second).pop().unwrap();
        assert_eq!(
            done["candidates"][0]["content"]["parts"][0]["text"],
            "Listed."
        );

        let log = server.conversations();
        assert_eq!(log.len(), 2, "{}", server.describe());
        let first = log[0].conversation().unwrap();
        assert_eq!(
            first.prompts().collect::<Vec<_>>(),
            ["list the files"],
            "session and hook context are not prompts"
        );
        assert!(first.user_text().contains("[GAS TOWN] primed"));
        assert_eq!(first.system, "You are an interactive CLI agent.");
        let second = log[1].conversation().unwrap();
        assert_eq!(
            second.messages[1..],
            [
                Message::Assistant {
                    text: "Looking.".into(),
                    tool_calls: vec!["call_0_0".into()]
                },
                Message::ToolResult {
                    id: "call_0_0".into(),
                    output: "a.txt".into()
                }
            ]
        );
        assert_eq!(log[1].reply().unwrap().step, 1);
    }

    #[test]
    fn writes_and_edits_are_gemini_cli_s_own_tools() {
        let scenario = Scenario::new().turn(
            Turn::new()
                .write("/w/a.txt", "one\n")
                .edit("/w/a.txt", "one", "two"),
        );
        let server = ModelServer::gemini(scenario);
        let call = |contents: Value| {
            let out = chunks(&send(&server, STREAM, &request(contents).to_string()));
            out.last().unwrap()["candidates"][0]["content"]["parts"][0]["functionCall"].clone()
        };
        let prompt = user(json!([{"text": "write it"}]));
        assert_eq!(
            call(json!([prompt])),
            json!({"id": "call_0_0", "name": "write_file", "args": {"file_path": "/w/a.txt", "content": "one\n"}})
        );
        let answered = user(
            json!([{"functionResponse": {"id": "call_0_0", "name": "write_file", "response": {"output": "ok"}}}]),
        );
        assert_eq!(
            call(json!([prompt, {"role": "model", "parts": []}, answered])),
            json!({"id": "call_0_1", "name": "replace", "args": {"file_path": "/w/a.txt", "old_string": "one", "new_string": "two"}})
        );
    }

    #[test]
    fn helpers_and_token_counts_are_side_requests() {
        let server = ModelServer::gemini(Scenario::new());
        let summary = send(
            &server,
            "POST /v1beta/models/gemini-2.5-flash-lite:generateContent HTTP/1.1",
            &json!({"contents": [user(json!([{"text": "Summarize this session"}]))]}).to_string(),
        );
        let body: Value = serde_json::from_str(summary.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(body["candidates"][0]["finishReason"], "STOP");
        assert_eq!(body["modelVersion"], "gemini-2.5-flash-lite");
        let count = send(
            &server,
            "POST /v1beta/models/gemini-2.5-flash:countTokens HTTP/1.1",
            &json!({"contents": []}).to_string(),
        );
        assert!(count.contains("totalTokens"), "{count}");
        let models = send(&server, "GET /v1beta/models HTTP/1.1", "");
        assert!(models.contains("models/gemini-2.5-flash"), "{models}");
        assert!(server.conversations().is_empty(), "{}", server.describe());
        assert!(
            server.unknown_requests().is_empty(),
            "{}",
            server.describe()
        );
        assert!(matches!(&server.log()[0].kind, Kind::Side(what) if what == "helper"));
    }
}
