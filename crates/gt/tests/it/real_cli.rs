//! What the real agent CLIs' end-to-end tests (`real_claude`, `real_codex`, `real_gemini`) share: reading
//! sling's answer, finding the CLI's processes, a refusing proxy for its internet traffic, and
//! waiting on the loopback model's log.

use std::time::Duration;

use testkit::model::{Conversation, Message};
use testkit::{ModelServer, wait_until};

use super::daemon::Factory;
use super::stderr;
use super::work_loop::{TIMEOUT, Town};

/// The nudge every real-CLI test sends mid-session.
pub(super) const NUDGE: &str = "Please confirm the greeting is committed";

/// Slings `bead` to the rig expecting a refusal; returns what `gt` said on stderr.
pub(super) fn refused_sling(town: &Town, bead: &str) -> String {
    let out = town.gt(&["sling", bead, "gastown"]);
    assert_ne!(out.status.code(), Some(0), "the sling was not refused");
    stderr(&out)
}

/// The bead's polecat name, from `gt sling --json`.
pub(super) fn polecat_name(slung: &[serde_json::Value]) -> String {
    slung[0]["polecat"]
        .as_str()
        .and_then(|p| p.rsplit('/').next())
        .expect("sling names its polecat")
        .to_owned()
}

/// The pids of this town's agent processes named one of `names` (the CLI itself, not the
/// pane's shell).
pub(super) fn processes_named(f: &Factory, names: &[&str]) -> Vec<u32> {
    f.agent_processes()
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| names.contains(&comm.trim()))
        })
        .collect()
}

/// `http://127.0.0.1:<port>` where nothing listens: a proxy that refuses every connection,
/// for the internet traffic a CLI makes besides its model API.
pub(super) fn refusing_proxy() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port();
    format!("http://127.0.0.1:{port}")
}

/// Every tool result the model has seen, for failure messages.
pub(super) fn tool_outputs(server: &ModelServer) -> String {
    let last = server.conversations().pop();
    let messages = last
        .and_then(|e| e.conversation().cloned())
        .unwrap_or_default()
        .messages;
    messages
        .iter()
        .filter_map(|m| match m {
            Message::ToolResult { id, output } => Some(format!("{id}: {output}")),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Waits until the model has ended turn `turn` (answered it without a tool call).
pub(super) fn wait_for_end_of_turn(
    server: &ModelServer,
    turn: usize,
) -> Result<(), testkit::TimedOut> {
    wait_until(TIMEOUT, || {
        server
            .conversations()
            .iter()
            .filter_map(|e| e.reply())
            .any(|r| r.turn == turn && r.tool.is_none())
    })
}

/// The first conversation after the `before`th that satisfies `pred`.
pub(super) fn wait_for_new_conversation(
    server: &ModelServer,
    before: usize,
    mut pred: impl FnMut(&Conversation) -> bool,
) -> Option<Conversation> {
    testkit::wait_for(TIMEOUT + Duration::from_secs(30), || {
        server
            .conversations()
            .into_iter()
            .skip(before)
            .filter_map(|e| e.conversation().cloned())
            .find(|c| pred(c))
    })
    .ok()
}

/// Nudges polecat `name` with [`NUDGE`] and waits until the model has the nudge, has ended its
/// turn, and the pane shows `answer`; `debug` describes the town for a failure.
pub(super) fn nudge_mid_session(
    f: &Factory,
    server: &ModelServer,
    name: &str,
    answer: &str,
    debug: &dyn Fn() -> String,
) {
    let address = format!("gastown/polecats/{name}");
    let nudged = f.town.gt(&["nudge", &address, NUDGE]);
    assert!(
        matches!(nudged.status.code(), Some(0 | 75)),
        "{}",
        stderr(&nudged)
    );
    server
        .wait_for_conversation(TIMEOUT, |c| c.prompts().any(|p| p.contains(NUDGE)))
        .unwrap_or_else(|e| panic!("the nudge never reached the model: {e}\n{}", debug()));
    wait_for_end_of_turn(server, 1)
        .unwrap_or_else(|e| panic!("the nudge's turn never ended: {e}\n{}", debug()));
    wait_until(TIMEOUT, || f.town.panes().contains(answer))
        .unwrap_or_else(|e| panic!("the agent never showed the answer: {e}\n{}", debug()));
}

/// Kills the town's agent processes named one of `names` and waits for the witness's restart to
/// send the conversation so far (sling's beacon, the nudge) with a new prompt; `debug`
/// describes the town for a failure.
pub(super) fn kill_and_wait_for_resume(
    f: &Factory,
    server: &ModelServer,
    names: &[&str],
    debug: &dyn Fn() -> String,
) {
    let before = server.conversations().len();
    let pids = processes_named(f, names);
    assert!(!pids.is_empty(), "no {names:?} process runs\n{}", debug());
    for pid in pids {
        testkit::sigkill(pid);
    }
    let resumed = wait_for_new_conversation(server, before, |c| c.prompts().count() >= 3)
        .unwrap_or_else(|| {
            panic!(
                "never restarted with its conversation\n{}\n{}",
                debug(),
                f.log()
            )
        });
    let prompts: Vec<&str> = resumed.prompts().collect();
    assert!(
        prompts[0].contains("[GAS TOWN]") && prompts[1].contains(NUDGE),
        "the restarted agent resumed its conversation: {prompts:#?}"
    );
}

/// Waits until `bead` is closed, then checks the refinery landed `hello.txt` holding `text` on
/// `main`, and that the agent asked the model nothing it does not serve.
pub(super) fn assert_landed(f: &Factory, server: &ModelServer, bead: &str, text: &str) {
    f.town.wait_status(bead, "closed");
    let main = f.town.git(&f.town.remote, &["show", "main:hello.txt"]);
    assert_eq!(main.trim(), text);
    assert!(
        server.unknown_requests().is_empty(),
        "{}",
        server.describe()
    );
}

/// The input tokens the endpoint reported for its answers to turns up to `last_turn`: four
/// bytes a token of the body it received (the log keeps the body as parsed JSON, whose text
/// may differ by an escape or two).
pub(super) fn input_tokens_through(server: &ModelServer, last_turn: usize) -> u64 {
    server
        .conversations()
        .iter()
        .filter(|e| e.reply().is_some_and(|r| r.turn <= last_turn))
        .map(|e| testkit::model::estimate_tokens(&e.body.to_string()))
        .sum()
}

/// Checks what `gt costs` recorded for the one agent session: input tokens at least those the
/// endpoint reported through turn `least_turn` (waited for: a CLI writes its transcript a
/// moment after a response) and at most all it reported, output tokens, `model` priced.
/// `debug` describes the town for a failure.
pub(super) fn assert_costs_recorded(
    f: &Factory,
    server: &ModelServer,
    least_turn: usize,
    model: &str,
    debug: &dyn Fn() -> String,
) {
    let (least, most) = (
        input_tokens_through(server, least_turn),
        input_tokens_through(server, usize::MAX),
    );
    let costs = || -> serde_json::Value {
        let out = f.town.gt(&["--json", "costs"]);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).expect("gt costs --json is JSON")
    };
    let input = |costs: &serde_json::Value| costs["total"]["tokens"]["input"].as_u64().unwrap_or(0);
    let _ = wait_until(TIMEOUT, || input(&costs()) >= least - least / 100);
    let costs = costs();
    let total = &costs["total"];
    assert!(
        (least - least / 100..=most + most / 100).contains(&input(&costs))
            && total["tokens"]["output"].as_u64().is_some_and(|n| n > 0)
            && total["sessions"] == 1
            && total["models"] == serde_json::json!([model])
            && total["usd"].as_f64().is_some_and(|usd| usd > 0.0),
        "the endpoint reported {least} input tokens through turn {least_turn}, {most} in all; \
         gt costs: {costs:#}\n{}",
        debug()
    );
}
