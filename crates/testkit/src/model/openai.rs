//! The OpenAI Responses API (`POST /v1/responses`), as Codex uses it.
//!
//! Codex 0.169 speaks only Responses (a provider with `wire_api = "chat"` is refused at config
//! load), first over a WebSocket (`GET /v1/responses` with `Upgrade: websocket`) and, when the
//! upgrade is refused, over HTTP with server-sent events. This endpoint refuses the upgrade
//! with `426 Upgrade Required`, which makes Codex fall back at once (a 404 costs it five
//! retries, about ten seconds).
//!
//! A request is the agent's conversation when it offers a shell tool (`exec_command`, or the
//! older `shell_command`/`shell`); anything else on `/v1/responses` (the thread title Codex asks
//! for beside the first turn) is a side request answered with a short message. Tool actions map
//! to Codex's own tools: [`Action::Shell`] → `exec_command {cmd}`; [`Action::Write`] and
//! [`Action::Edit`] → an `apply_patch` patch (`*** Add File` / `*** Update File`), through the
//! `apply_patch` tool when the request offers one and otherwise as the `apply_patch <<'EOF'`
//! command Codex intercepts in `exec_command` and applies itself. An edit's `old` text is
//! replaced as whole lines (a patch hunk's `-` lines), so it must be one or more whole lines of
//! the file. Codex's code mode (the `exec` JavaScript tool it gives its default `gpt-6` models)
//! is not scripted: a test picks a model Codex gives plain function tools (`model =
//! "gpt-5.1-codex-mini"` in its `config.toml`).
//!
//! Streaming requests get the real event sequence (`response.created`, `response.in_progress`,
//! per output item `response.output_item.added`, its deltas and `…done` events,
//! `response.output_item.done`, then `response.completed` carrying `usage`), so Codex's rollout
//! records token counts for cost accounting.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};

use super::{Action, Conversation, Message, ModelServer, Reply, Scenario, Shared};
use super::{estimate_tokens, json_body, json_response, sse_response};

/// Shell tools whose presence marks a request as the agent's conversation, newest first.
const SHELL_TOOLS: [&str; 3] = ["exec_command", "shell_command", "shell"];

/// How user-role text that nobody typed starts: Codex's environment and instruction blocks.
const CONTEXT_PREFIXES: [&str; 10] = [
    "<environment_context>",
    "<user_instructions>",
    "# AGENTS.md instructions",
    "<INSTRUCTIONS>",
    "<user_shell_command>",
    "<turn_aborted>",
    "<subagent_notification>",
    "<skill>",
    "<permissions instructions>",
    "<collaboration_mode>",
];

/// The heredoc delimiter around a patch run through `exec_command`.
const PATCH_EOF: &str = "GT_PATCH_EOF";

impl ModelServer {
    /// An OpenAI Responses API endpoint serving `scenario`. Point Codex at it with
    /// `openai_base_url = "<url>/v1"` in its `config.toml` (or a `[model_providers.<id>]` entry
    /// with that `base_url`, `env_key` and `wire_api = "responses"`) and any `OPENAI_API_KEY`.
    pub fn openai(scenario: Scenario) -> Self {
        Self::start(scenario, router)
    }
}

fn router(shared: Arc<Shared>) -> Router {
    let responses = {
        let shared = Arc::clone(&shared);
        move |method: Method, uri: Uri, body: Bytes| async move {
            responses(&shared, &method, &uri, &body)
        }
    };
    let upgrade = {
        let shared = Arc::clone(&shared);
        move |method: Method, uri: Uri, headers: HeaderMap| async move {
            let websocket = headers
                .get("upgrade")
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
            shared.side(&method, &uri, Value::Null, "websocket upgrade (refused)");
            let message = if websocket {
                "this endpoint speaks HTTP with server-sent events only"
            } else {
                "POST a request to this path"
            };
            json_response(
                StatusCode::UPGRADE_REQUIRED,
                &json!({"error": {"type": "invalid_request_error", "message": message}}),
            )
        }
    };
    let models = {
        let shared = Arc::clone(&shared);
        move |method: Method, uri: Uri| async move {
            shared.side(&method, &uri, Value::Null, "models");
            json_response(StatusCode::OK, &models_page())
        }
    };
    Router::new()
        .route("/v1/responses", get(upgrade).post(responses))
        .route("/v1/models", get(models))
}

fn responses(shared: &Shared, method: &Method, uri: &Uri, body: &Bytes) -> Response {
    let json = json_body(body);
    let model = json["model"].as_str().unwrap_or("gpt-5.1-codex").to_owned();
    let stream = json["stream"].as_bool().unwrap_or(false);
    let input_tokens = estimate_tokens(&String::from_utf8_lossy(body));
    let items = match shell_tool(&json) {
        Some(shell) => {
            let patch_tool = patch_tool(&json);
            let conversation = conversation(&json);
            let reply = shared.converse(method, uri, json, conversation);
            reply_items(&reply, shell, patch_tool)
        }
        None => {
            shared.side(method, uri, json, "thread title");
            vec![message_item("msg_title", "Scripted task")]
        }
    };
    let response = Outgoing {
        id: format!("resp_{input_tokens:08}_{}", items.len()),
        model,
        input_tokens,
        items,
    };
    if stream {
        sse_response(response.sse())
    } else {
        json_response(StatusCode::OK, &response.whole("completed"))
    }
}

/// The names of the tools a request offers, looking inside namespaces.
fn tool_names(request: &Value) -> Vec<&str> {
    fn collect<'a>(tools: &'a Value, names: &mut Vec<&'a str>) {
        for tool in tools.as_array().into_iter().flatten() {
            if let Some(name) = tool["name"].as_str() {
                names.push(name);
            }
            collect(&tool["tools"], names);
        }
    }
    let mut names = Vec::new();
    collect(&request["tools"], &mut names);
    names
}

/// The shell tool the request offers, if it is the agent's conversation.
fn shell_tool(request: &Value) -> Option<&'static str> {
    let names = tool_names(request);
    SHELL_TOOLS.into_iter().find(|tool| names.contains(tool))
}

/// How the request takes a patch: its own `apply_patch` tool (function or freeform), if any.
fn patch_tool(request: &Value) -> Option<PatchTool> {
    let tools = request["tools"].as_array()?;
    let tool = tools.iter().find(|t| t["name"] == "apply_patch")?;
    Some(if tool["type"] == "custom" {
        PatchTool::Freeform
    } else {
        PatchTool::Function
    })
}

#[derive(Debug, Clone, Copy)]
enum PatchTool {
    /// `{"type": "function", "name": "apply_patch"}` taking `{"input": patch}`.
    Function,
    /// `{"type": "custom", "name": "apply_patch"}` taking the patch as raw input.
    Freeform,
}

/// Reads the request's instructions and input items into the neutral form.
pub fn conversation(request: &Value) -> Conversation {
    let mut system = vec![
        request["instructions"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    ];
    let mut messages = Vec::new();
    for item in request["input"].as_array().into_iter().flatten() {
        match item["type"].as_str() {
            Some("message") => match item["role"].as_str() {
                Some("assistant") => messages.push(Message::Assistant {
                    text: text_of(&item["content"]),
                    tool_calls: Vec::new(),
                }),
                Some("user") => {
                    let text = text_of(&item["content"]);
                    if is_context(&text) {
                        messages.push(Message::Context(text));
                    } else {
                        messages.push(Message::Prompt(text));
                    }
                }
                // `developer` (and `system`) messages are Codex's instructions.
                _ => system.push(text_of(&item["content"])),
            },
            Some("function_call" | "custom_tool_call" | "local_shell_call") => {
                let id = item["call_id"].as_str().unwrap_or_default().to_owned();
                // A tool call follows the text of the same response, if any.
                match messages.last_mut() {
                    Some(Message::Assistant { tool_calls, .. }) if tool_calls.is_empty() => {
                        tool_calls.push(id);
                    }
                    _ => messages.push(Message::Assistant {
                        text: String::new(),
                        tool_calls: vec![id],
                    }),
                }
            }
            Some("function_call_output" | "custom_tool_call_output") => {
                messages.push(Message::ToolResult {
                    id: item["call_id"].as_str().unwrap_or_default().to_owned(),
                    output: output_text(&item["output"]),
                });
            }
            _ => {}
        }
    }
    system.retain(|s| !s.is_empty());
    Conversation {
        system: system.join("\n"),
        messages,
    }
}

fn is_context(text: &str) -> bool {
    let text = text.trim_start();
    CONTEXT_PREFIXES.iter().any(|tag| text.starts_with(tag))
}

/// The text of a message's `content`: a string, or its `input_text`/`output_text` parts.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// A tool output: a string, or content parts.
fn output_text(output: &Value) -> String {
    match output {
        Value::Object(o) => output_text(o.get("content").unwrap_or(&Value::Null)),
        other => text_of(other),
    }
}

/// The output items of a reply: its text as an assistant message, then its tool call.
fn reply_items(reply: &Reply, shell: &str, patch_tool: Option<PatchTool>) -> Vec<Value> {
    let mut items = Vec::new();
    if let Some(text) = &reply.text {
        items.push(message_item(
            &format!("msg_{}_{}", reply.turn, reply.step),
            text,
        ));
    }
    if let Some(call) = &reply.tool {
        let call_id = call.id.clone();
        let item_id = format!("fc_{}", call.id);
        let item = match (&call.action, patch_tool) {
            (Action::Shell(command), _) => {
                function_call(&item_id, &call_id, shell, shell_args(shell, command))
            }
            (Action::Write { .. } | Action::Edit { .. }, Some(PatchTool::Freeform)) => json!({
                "type": "custom_tool_call",
                "id": item_id,
                "call_id": call_id,
                "name": "apply_patch",
                "input": patch(&call.action),
                "status": "completed",
            }),
            (Action::Write { .. } | Action::Edit { .. }, Some(PatchTool::Function)) => {
                function_call(
                    &item_id,
                    &call_id,
                    "apply_patch",
                    json!({ "input": patch(&call.action) }),
                )
            }
            (Action::Write { .. } | Action::Edit { .. }, None) => {
                let command = format!(
                    "apply_patch <<'{PATCH_EOF}'\n{}{PATCH_EOF}\n",
                    patch(&call.action)
                );
                function_call(&item_id, &call_id, shell, shell_args(shell, &command))
            }
            (Action::Say(_), _) => unreachable!("a Say is never a tool call"),
        };
        items.push(item);
    }
    items
}

/// The arguments of Codex's shell tool `shell` for `command`.
fn shell_args(shell: &str, command: &str) -> Value {
    match shell {
        "exec_command" => json!({ "cmd": command }),
        "shell_command" => json!({ "command": command }),
        _ => json!({ "command": ["bash", "-lc", command] }),
    }
}

/// The `apply_patch` patch that performs a write or an edit.
fn patch(action: &Action) -> String {
    let lines = |prefix: char, text: &str| -> String {
        text.lines().map(|l| format!("{prefix}{l}\n")).collect()
    };
    let body = match action {
        Action::Write { path, content } => format!("*** Add File: {path}\n{}", lines('+', content)),
        Action::Edit { path, old, new } => format!(
            "*** Update File: {path}\n@@\n{}{}",
            lines('-', old),
            lines('+', new)
        ),
        Action::Shell(_) | Action::Say(_) => unreachable!("only writes and edits are patches"),
    };
    format!("*** Begin Patch\n{body}*** End Patch\n")
}

fn function_call(item_id: &str, call_id: &str, name: &str, arguments: Value) -> Value {
    json!({
        "type": "function_call",
        "id": item_id,
        "call_id": call_id,
        "name": name,
        "arguments": arguments.to_string(),
        "status": "completed",
    })
}

fn message_item(id: &str, text: &str) -> Value {
    json!({
        "type": "message",
        "id": id,
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    })
}

/// One response, rendered whole or as the stream of events the API sends.
struct Outgoing {
    id: String,
    model: String,
    input_tokens: u64,
    items: Vec<Value>,
}

impl Outgoing {
    fn output_tokens(&self) -> u64 {
        estimate_tokens(&Value::Array(self.items.clone()).to_string())
    }

    fn usage(&self) -> Value {
        let output = self.output_tokens();
        json!({
            "input_tokens": self.input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": self.input_tokens + output,
        })
    }

    /// The response object; `in_progress` ones have no output or usage yet.
    fn whole(&self, status: &str) -> Value {
        let done = status == "completed";
        json!({
            "id": self.id,
            "object": "response",
            "created_at": 1_767_225_600,
            "status": status,
            "model": self.model,
            "output": if done { Value::Array(self.items.clone()) } else { json!([]) },
            "parallel_tool_calls": false,
            "tool_choice": "auto",
            "usage": if done { self.usage() } else { Value::Null },
        })
    }

    fn sse(&self) -> String {
        let mut events = vec![
            json!({"type": "response.created", "response": self.whole("in_progress")}),
            json!({"type": "response.in_progress", "response": self.whole("in_progress")}),
        ];
        for (index, item) in self.items.iter().enumerate() {
            events.extend(item_events(index, item));
        }
        events.push(json!({"type": "response.completed", "response": self.whole("completed")}));
        events
            .iter_mut()
            .enumerate()
            .map(|(sequence, event)| {
                event["sequence_number"] = json!(sequence);
                format!(
                    "event: {}\ndata: {event}\n\n",
                    event["type"].as_str().unwrap_or("")
                )
            })
            .collect()
    }
}

/// The events that stream one output item: added (empty), its deltas and their end, done.
fn item_events(index: usize, item: &Value) -> Vec<Value> {
    let id = &item["id"];
    let mut added = item.clone();
    added["status"] = json!("in_progress");
    let mut events = Vec::new();
    match item["type"].as_str() {
        Some("message") => {
            added["content"] = json!([]);
            events.push(
                json!({"type": "response.output_item.added", "output_index": index, "item": added}),
            );
            for (part_index, part) in item["content"].as_array().into_iter().flatten().enumerate() {
                let text = &part["text"];
                let empty = json!({"type": "output_text", "text": "", "annotations": []});
                let at = |kind: &str| json!({"type": kind, "item_id": id, "output_index": index, "content_index": part_index});
                let mut start = at("response.content_part.added");
                start["part"] = empty;
                let mut delta = at("response.output_text.delta");
                delta["delta"] = text.clone();
                delta["logprobs"] = json!([]);
                let mut done = at("response.output_text.done");
                done["text"] = text.clone();
                done["logprobs"] = json!([]);
                let mut end = at("response.content_part.done");
                end["part"] = part.clone();
                events.extend([start, delta, done, end]);
            }
        }
        Some("function_call") => {
            added["arguments"] = json!("");
            events.push(
                json!({"type": "response.output_item.added", "output_index": index, "item": added}),
            );
            events.push(json!({"type": "response.function_call_arguments.delta", "item_id": id, "output_index": index, "delta": item["arguments"]}));
            events.push(json!({"type": "response.function_call_arguments.done", "item_id": id, "output_index": index, "arguments": item["arguments"]}));
        }
        _ => {
            added["input"] = json!("");
            events.push(
                json!({"type": "response.output_item.added", "output_index": index, "item": added}),
            );
            events.push(json!({"type": "response.custom_tool_call_input.delta", "item_id": id, "output_index": index, "delta": item["input"]}));
            events.push(json!({"type": "response.custom_tool_call_input.done", "item_id": id, "output_index": index, "input": item["input"]}));
        }
    }
    events.push(json!({"type": "response.output_item.done", "output_index": index, "item": item}));
    events
}

fn models_page() -> Value {
    let models: Vec<Value> = ["gpt-5.1-codex", "gpt-5.1-codex-mini"]
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 1_767_225_600, "owned_by": "openai"}))
        .collect();
    json!({ "object": "list", "data": models })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, Turn};

    use crate::model::raw_http as send;

    fn post(server: &ModelServer, body: &Value) -> String {
        send(server, "POST /v1/responses HTTP/1.1", &body.to_string())
    }

    /// The `data:` payloads of an event stream, as JSON.
    fn events(response: &str) -> Vec<Value> {
        response
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .map(|d| serde_json::from_str(d).unwrap())
            .collect()
    }

    fn request(input: Value) -> Value {
        json!({
            "model": "gpt-5.1-codex-mini",
            "stream": true,
            "tools": [{"type": "function", "name": "exec_command"}, {"type": "function", "name": "write_stdin"}],
            "input": input,
        })
    }

    fn user(text: &str) -> Value {
        json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
    }

    #[test]
    fn a_prompt_gets_a_streamed_exec_command_call_then_the_turn_ends_with_usage() {
        let server = ModelServer::openai(
            Scenario::new().turn(Turn::new().say("Looking.").shell("ls").end("Listed.")),
        );
        let first = post(
            &server,
            &request(json!([
                {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "You are Codex."}]},
                user("<environment_context>\n  <cwd>/w</cwd>\n</environment_context>"),
                user("# AGENTS.md instructions for /w\n\n<INSTRUCTIONS>\nbe kind\n</INSTRUCTIONS>"),
                user("list the files"),
            ])),
        );
        assert!(first.starts_with("HTTP/1.1 200"), "{first}");
        assert!(first.contains("content-type: text/event-stream"), "{first}");
        let streamed = events(&first);
        let kinds: Vec<&str> = streamed
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        let sequence: Vec<u64> = streamed
            .iter()
            .map(|e| e["sequence_number"].as_u64().unwrap())
            .collect();
        assert_eq!(sequence, (0..13).collect::<Vec<_>>());
        assert_eq!(streamed[4]["delta"], "Looking.");
        let call = &streamed[11]["item"];
        assert_eq!(
            (call["name"].as_str(), call["call_id"].as_str()),
            (Some("exec_command"), Some("call_0_0"))
        );
        assert_eq!(call["arguments"], r#"{"cmd":"ls"}"#);
        let usage = &streamed[12]["response"]["usage"];
        assert!(usage["input_tokens"].as_u64().unwrap() > 10, "{usage}");
        assert_eq!(
            usage["total_tokens"].as_u64(),
            Some(
                usage["input_tokens"].as_u64().unwrap() + usage["output_tokens"].as_u64().unwrap()
            )
        );

        let second = post(
            &server,
            &request(json!([
                user("list the files"),
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Looking."}]},
                {"type": "function_call", "name": "exec_command", "arguments": "{\"cmd\":\"ls\"}", "call_id": "call_0_0"},
                {"type": "function_call_output", "call_id": "call_0_0", "output": "a.txt"},
            ])),
        );
        let done = events(&second).pop().unwrap();
        assert_eq!(done["type"], "response.completed");
        assert_eq!(
            done["response"]["output"][0]["content"][0]["text"],
            "Listed."
        );

        let log = server.conversations();
        assert_eq!(log.len(), 2, "{}", server.describe());
        let first = log[0].conversation().unwrap();
        assert_eq!(
            first.prompts().collect::<Vec<_>>(),
            ["list the files"],
            "environment and AGENTS.md are context"
        );
        assert_eq!(first.system, "You are Codex.");
        let second = log[1].conversation().unwrap();
        assert_eq!(
            second.messages[1],
            Message::Assistant {
                text: "Looking.".into(),
                tool_calls: vec!["call_0_0".into()]
            }
        );
        assert_eq!(log[1].reply().unwrap().step, 1);
    }

    #[test]
    fn writes_and_edits_are_apply_patch_commands_or_the_offered_patch_tool() {
        let scenario = Scenario::new().turn(Turn::new().write("notes/a.txt", "one\ntwo\n").edit(
            "notes/a.txt",
            "two",
            "three",
        ));
        let server = ModelServer::openai(scenario);
        let first = events(&post(&server, &request(json!([user("write it")]))));
        let call = &first
            .iter()
            .find(|e| e["type"] == "response.output_item.done")
            .unwrap()["item"];
        let args: Value = serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(
            args["cmd"],
            "apply_patch <<'GT_PATCH_EOF'\n*** Begin Patch\n*** Add File: notes/a.txt\n+one\n+two\n\
             *** End Patch\nGT_PATCH_EOF\n"
        );

        let mut with_tool = request(json!([
            user("write it"),
            {"type": "function_call", "name": "exec_command", "arguments": "{}", "call_id": "call_0_0"},
            {"type": "function_call_output", "call_id": "call_0_0", "output": "Success."},
        ]));
        with_tool["tools"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "custom", "name": "apply_patch"}));
        let second = events(&post(&server, &with_tool));
        let call = &second
            .iter()
            .find(|e| e["type"] == "response.output_item.done")
            .unwrap()["item"];
        assert_eq!(call["type"], "custom_tool_call");
        assert_eq!(
            call["input"],
            "*** Begin Patch\n*** Update File: notes/a.txt\n@@\n-two\n+three\n*** End Patch\n"
        );
        assert!(
            second
                .iter()
                .any(|e| e["type"] == "response.custom_tool_call_input.delta")
        );
    }

    #[test]
    fn the_websocket_upgrade_is_refused_and_titles_are_side_requests() {
        let server = ModelServer::openai(Scenario::new());
        let upgrade = send(
            &server,
            "GET /v1/responses HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "",
        );
        assert!(upgrade.starts_with("HTTP/1.1 426"), "{upgrade}");
        let title = post(
            &server,
            &json!({"model": "m", "stream": true, "tools": [], "input": [user("Generate a concise, single-line task title")]}),
        );
        assert!(title.contains("response.completed"), "{title}");
        let models = send(&server, "GET /v1/models HTTP/1.1", "");
        assert!(models.contains("gpt-5.1-codex"), "{models}");
        assert!(server.conversations().is_empty(), "{}", server.describe());
        assert!(
            server.unknown_requests().is_empty(),
            "{}",
            server.describe()
        );
        assert!(matches!(&server.log()[1].kind, Kind::Side(what) if what == "thread title"));
    }
}
