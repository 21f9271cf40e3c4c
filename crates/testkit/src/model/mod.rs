//! Loopback model endpoints: real agent CLIs talk to a model API we script.
//!
//! A test writes a [`Scenario`] — a list of [`Turn`]s, each a list of [`Action`]s (run a shell
//! command, write or edit a file, say something) and the text that ends it — and starts a
//! [`ModelServer`] for one API family ([`ModelServer::anthropic`], [`ModelServer::openai`], [`ModelServer::gemini`]) on `127.0.0.1` at a random
//! port. The CLI is pointed at [`ModelServer::url`] through its own base-URL setting.
//!
//! What comes next is decided from the conversation each request carries, never from how many
//! requests arrived, so retries, side requests and a restarted CLI resuming its transcript all
//! get the same answer for the same conversation: the turn is the number of real user prompts
//! seen (minus one) and the step is the number of tool results after the last prompt. One
//! response holds at most one tool call, so step `n` answers with the turn's `n`th tool action;
//! once they are all answered, the turn ends with its closing text. Prompts beyond the last
//! turn get [`Scenario::fallback`]'s text.
//!
//! Family modules own the wire format (paths, JSON shapes, SSE framing) and only hand this
//! module a neutral [`Conversation`]; everything a server saw is kept in its [`Exchange`] log
//! for the test to assert on. Requests a family does not know are logged and answered 404, and
//! [`ModelServer::unknown_requests`] lists them, so a test can insist the CLI got real answers.

pub mod anthropic;
pub mod gemini;
pub mod openai;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::sync::oneshot;

/// One thing the scripted model does inside a turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run a shell command with the CLI's own shell tool.
    Shell(String),
    /// Create or overwrite a file with the CLI's own write tool.
    Write { path: String, content: String },
    /// Replace `old` by `new` in a file with the CLI's own edit tool.
    Edit {
        path: String,
        old: String,
        new: String,
    },
    /// Say something; sent as text before the next tool call (or before the closing text).
    Say(String),
}

/// One turn of the scripted model: what it does after a user prompt, then how it ends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Turn {
    actions: Vec<Action>,
    end: String,
}

impl Turn {
    /// A turn that does nothing yet and ends with `Done.`.
    pub fn new() -> Self {
        Self {
            actions: Vec::new(),
            end: "Done.".to_owned(),
        }
    }

    /// Runs `command` in the CLI's shell tool.
    pub fn shell(mut self, command: impl Into<String>) -> Self {
        self.actions.push(Action::Shell(command.into()));
        self
    }

    /// Writes `content` to `path` (relative paths are the CLI's business; most want absolute).
    pub fn write(mut self, path: impl Into<String>, content: impl Into<String>) -> Self {
        self.actions.push(Action::Write {
            path: path.into(),
            content: content.into(),
        });
        self
    }

    /// Replaces `old` by `new` in `path`.
    pub fn edit(
        mut self,
        path: impl Into<String>,
        old: impl Into<String>,
        new: impl Into<String>,
    ) -> Self {
        self.actions.push(Action::Edit {
            path: path.into(),
            old: old.into(),
            new: new.into(),
        });
        self
    }

    /// Says `text` (shown by the CLI as the model's words).
    pub fn say(mut self, text: impl Into<String>) -> Self {
        self.actions.push(Action::Say(text.into()));
        self
    }

    /// Ends the turn with `text` instead of `Done.`.
    pub fn end(mut self, text: impl Into<String>) -> Self {
        self.end = text.into();
        self
    }
}

/// The scripted model: one [`Turn`] per user prompt, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    turns: Vec<Turn>,
    fallback: String,
}

impl Default for Scenario {
    fn default() -> Self {
        Self::new()
    }
}

impl Scenario {
    /// A scenario with no turns; every prompt gets the fallback text.
    pub fn new() -> Self {
        Self {
            turns: Vec::new(),
            fallback: "Nothing more to do.".to_owned(),
        }
    }

    /// Appends the turn answering the next user prompt.
    pub fn turn(mut self, turn: Turn) -> Self {
        self.turns.push(turn);
        self
    }

    /// The text answering prompts beyond the last turn (default `Nothing more to do.`).
    pub fn fallback(mut self, text: impl Into<String>) -> Self {
        self.fallback = text.into();
        self
    }

    /// What the model answers to `conversation`.
    pub fn next(&self, conversation: &Conversation) -> Reply {
        let prompts = conversation.prompts().count();
        let Some(turn_index) = prompts.checked_sub(1) else {
            return Reply {
                turn: 0,
                step: 0,
                text: Some(self.fallback.clone()),
                tool: None,
            };
        };
        let step = conversation.tool_results_since_last_prompt();
        let Some(turn) = self.turns.get(turn_index) else {
            return Reply {
                turn: turn_index,
                step,
                text: Some(self.fallback.clone()),
                tool: None,
            };
        };
        // Walk the actions: `Say`s gather into the text sent with the next tool call.
        let mut said: Vec<&str> = Vec::new();
        let mut calls = 0;
        for action in &turn.actions {
            match action {
                Action::Say(text) => said.push(text),
                tool if calls == step => {
                    return Reply {
                        turn: turn_index,
                        step,
                        text: (!said.is_empty()).then(|| said.join("\n\n")),
                        tool: Some(ToolCall {
                            id: format!("call_{turn_index}_{step}"),
                            action: tool.clone(),
                        }),
                    };
                }
                _ => {
                    calls += 1;
                    said.clear();
                }
            }
        }
        said.push(&turn.end);
        Reply {
            turn: turn_index,
            step,
            text: Some(said.join("\n\n")),
            tool: None,
        }
    }
}

/// A tool call the model makes; `id` is unique within a conversation (`call_<turn>_<step>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    pub id: String,
    /// A tool action (never [`Action::Say`]).
    pub action: Action,
}

/// One model response: optional text, then at most one tool call. No tool call ends the turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Which turn of the scenario answered (0-based).
    pub turn: usize,
    /// Which step of that turn (tool results seen since the prompt).
    pub step: usize,
    pub text: Option<String>,
    pub tool: Option<ToolCall>,
}

/// One message of a conversation, reduced to what decides the next step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A user message holding what a person (or `gt`, typing for one) wrote: its text.
    Prompt(String),
    /// Text the CLI sends on the user's side that nobody typed (hook context, reminders).
    Context(String),
    /// The result of a tool call: its id and output text.
    ToolResult { id: String, output: String },
    /// Something the model said earlier: its text, and the ids of its tool calls.
    Assistant {
        text: String,
        tool_calls: Vec<String>,
    },
}

/// A request's conversation as the family module read it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conversation {
    /// The system prompt (or instructions), joined.
    pub system: String,
    pub messages: Vec<Message>,
}

impl Conversation {
    /// The prompts, oldest first.
    pub fn prompts(&self) -> impl Iterator<Item = &str> {
        self.messages.iter().filter_map(|m| match m {
            Message::Prompt(text) => Some(text.as_str()),
            _ => None,
        })
    }

    /// All user-side text: prompts and context (hook output lands here).
    pub fn user_text(&self) -> String {
        let texts = self.messages.iter().filter_map(|m| match m {
            Message::Prompt(text) | Message::Context(text) => Some(text.as_str()),
            _ => None,
        });
        texts.collect::<Vec<_>>().join("\n")
    }

    fn tool_results_since_last_prompt(&self) -> usize {
        let last_prompt = self
            .messages
            .iter()
            .rposition(|m| matches!(m, Message::Prompt(_)));
        let after = last_prompt.map_or(0, |i| i + 1);
        self.messages[after..]
            .iter()
            .filter(|m| matches!(m, Message::ToolResult { .. }))
            .count()
    }
}

/// What a request was, as the family module classified it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// The agent's conversation, answered from the scenario.
    Conversation {
        conversation: Conversation,
        reply: Reply,
    },
    /// A side request the CLI makes (title generation, token counting, model list, …), named.
    Side(String),
    /// A request the family does not know; answered 404.
    Unknown,
}

/// One request the server answered, for the test to assert on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    pub method: String,
    /// Path and query.
    pub path: String,
    /// The body as JSON (`Null` when it was empty or not JSON).
    pub body: serde_json::Value,
    pub kind: Kind,
}

impl Exchange {
    /// The conversation, when this was one.
    pub fn conversation(&self) -> Option<&Conversation> {
        match &self.kind {
            Kind::Conversation { conversation, .. } => Some(conversation),
            _ => None,
        }
    }

    /// The reply sent, when this was a conversation.
    pub fn reply(&self) -> Option<&Reply> {
        match &self.kind {
            Kind::Conversation { reply, .. } => Some(reply),
            _ => None,
        }
    }
}

/// State a family's handlers share: the scenario and the log.
#[derive(Debug)]
pub struct Shared {
    scenario: Scenario,
    log: Mutex<Vec<Exchange>>,
}

impl Shared {
    /// Answers `conversation` from the scenario and logs the exchange.
    pub fn converse(
        &self,
        method: &Method,
        uri: &Uri,
        body: serde_json::Value,
        conversation: Conversation,
    ) -> Reply {
        let reply = self.scenario.next(&conversation);
        self.record(Exchange {
            method: method.to_string(),
            path: uri.to_string(),
            body,
            kind: Kind::Conversation {
                conversation,
                reply: reply.clone(),
            },
        });
        reply
    }

    /// Logs a side request, named by what it is for.
    pub fn side(&self, method: &Method, uri: &Uri, body: serde_json::Value, what: &str) {
        self.record(Exchange {
            method: method.to_string(),
            path: uri.to_string(),
            body,
            kind: Kind::Side(what.to_owned()),
        });
    }

    fn record(&self, exchange: Exchange) {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(exchange);
    }
}

/// Parses a request body as JSON; `Null` when it is empty or not JSON (still logged).
pub fn json_body(body: &Bytes) -> serde_json::Value {
    serde_json::from_slice(body).unwrap_or(serde_json::Value::Null)
}

/// A JSON response with `status`.
pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// A whole stream of server-sent events, already framed, as one `text/event-stream` body.
pub fn sse_response(events: String) -> Response {
    (
        StatusCode::OK,
        [
            ("content-type", "text/event-stream"),
            ("cache-control", "no-cache"),
        ],
        events,
    )
        .into_response()
}

/// Sends one HTTP/1.1 request (`head` is its request line and any extra header lines) with a
/// JSON `body` to `server` and returns the raw response: the families' tests see the bytes a
/// CLI would.
#[cfg(test)]
fn raw_http(server: &ModelServer, head: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let addr = server.url().trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(&addr).expect("connect to the model server");
    write!(
        stream,
        "{head}\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the response");
    response
}

/// A rough token count for usage fields: four bytes a token, at least one.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.len() as u64).div_ceil(4).max(1)
}

/// A loopback model API server on its own thread, stopped on drop.
#[derive(Debug)]
pub struct ModelServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ModelServer {
    /// Serves `scenario` with the routes `family` builds; requests nothing matches are logged
    /// as [`Kind::Unknown`] and answered 404.
    pub fn start(scenario: Scenario, family: fn(Arc<Shared>) -> Router) -> Self {
        let shared = Arc::new(Shared {
            scenario,
            log: Mutex::new(Vec::new()),
        });
        let router = family(Arc::clone(&shared)).fallback({
            let shared = Arc::clone(&shared);
            move |method: Method, uri: Uri, body: Bytes| async move {
                shared.record(Exchange {
                    method: method.to_string(),
                    path: uri.to_string(),
                    body: json_body(&body),
                    kind: Kind::Unknown,
                });
                not_found(&uri)
            }
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("make the model server's listener non-blocking");
        let addr = listener.local_addr().expect("model server's address");
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("model-server-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("build the model server's runtime");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .expect("hand the listener to tokio");
                    axum::serve(listener, router)
                        .with_graceful_shutdown(async {
                            let _ = stopped.await;
                        })
                        .await
                        .expect("serve the model API");
                });
            })
            .expect("spawn the model server's thread");
        Self {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>`, the base URL to give the CLI.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request answered so far, in arrival order.
    pub fn log(&self) -> Vec<Exchange> {
        self.shared
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The conversation requests so far (side requests left out).
    pub fn conversations(&self) -> Vec<Exchange> {
        let log = self.log();
        log.into_iter()
            .filter(|e| matches!(e.kind, Kind::Conversation { .. }))
            .collect()
    }

    /// Requests the family did not know (answered 404): `METHOD path` each.
    pub fn unknown_requests(&self) -> Vec<String> {
        let log = self.log();
        log.iter()
            .filter(|e| e.kind == Kind::Unknown)
            .map(|e| format!("{} {}", e.method, e.path))
            .collect()
    }

    /// Waits until some conversation request satisfies `pred`, returning the first that does.
    pub fn wait_for_conversation(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&Conversation) -> bool,
    ) -> Result<Exchange, crate::TimedOut> {
        crate::wait_for(timeout, || {
            self.conversations()
                .into_iter()
                .find(|e| e.conversation().is_some_and(&mut pred))
        })
    }

    /// A readable summary of the log, for assertion messages: one line per request.
    pub fn describe(&self) -> String {
        let log = self.log();
        log.iter()
            .map(|e| match &e.kind {
                Kind::Conversation {
                    conversation,
                    reply,
                } => format!(
                    "{} {}: turn {} step {} (prompts {:?}) -> {}",
                    e.method,
                    e.path,
                    reply.turn,
                    reply.step,
                    conversation
                        .prompts()
                        .map(|p| p.chars().take(60).collect::<String>())
                        .collect::<Vec<_>>(),
                    reply
                        .tool
                        .as_ref()
                        .map_or_else(|| "end of turn".to_owned(), |t| format!("{:?}", t.action))
                ),
                Kind::Side(what) => format!("{} {}: side request ({what})", e.method, e.path),
                Kind::Unknown => format!("{} {}: UNKNOWN (404)", e.method, e.path),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn not_found(uri: &Uri) -> Response {
    let body = serde_json::json!({
        "error": {"type": "not_found_error", "message": format!("no scripted route for {uri}")}
    });
    json_response(StatusCode::NOT_FOUND, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario() -> Scenario {
        Scenario::new()
            .turn(
                Turn::new()
                    .say("Editing.")
                    .edit("/w/a.txt", "a", "b")
                    .shell("git commit -am x")
                    .end("Committed."),
            )
            .turn(Turn::new().end("Hello again."))
    }

    fn conv(messages: Vec<Message>) -> Conversation {
        Conversation {
            system: String::new(),
            messages,
        }
    }

    fn result(id: &str) -> Message {
        Message::ToolResult {
            id: id.into(),
            output: "ok".into(),
        }
    }

    #[test]
    fn the_step_follows_the_tool_results_after_the_last_prompt() {
        let s = scenario();
        let first = s.next(&conv(vec![
            Message::Context("hook".into()),
            Message::Prompt("go".into()),
        ]));
        assert_eq!((first.turn, first.step), (0, 0));
        assert_eq!(first.text.as_deref(), Some("Editing."));
        assert!(matches!(first.tool.unwrap().action, Action::Edit { .. }));

        let second = s.next(&conv(vec![
            Message::Prompt("go".into()),
            result("call_0_0"),
        ]));
        assert_eq!(second.text, None);
        assert_eq!(
            second.tool.unwrap().action,
            Action::Shell("git commit -am x".into())
        );

        let end = s.next(&conv(vec![
            Message::Prompt("go".into()),
            result("call_0_0"),
            result("call_0_1"),
        ]));
        assert_eq!((end.text.as_deref(), end.tool), (Some("Committed."), None));
    }

    #[test]
    fn later_prompts_take_later_turns_then_the_fallback() {
        let s = scenario();
        let history = vec![
            Message::Prompt("go".into()),
            result("call_0_0"),
            result("call_0_1"),
            Message::Prompt("nudge".into()),
        ];
        let second = s.next(&conv(history.clone()));
        assert_eq!(
            (second.turn, second.text.as_deref()),
            (1, Some("Hello again."))
        );
        let mut more = history;
        more.push(Message::Prompt("again".into()));
        let third = s.next(&conv(more));
        assert_eq!(
            (third.turn, third.text.as_deref()),
            (2, Some("Nothing more to do."))
        );
    }
}
