//! `gt-scripted-agent`: a scripted stand-in for a coding-agent CLI, so the whole work loop
//! (sling → prime → edits → commit → `gt done` → merge queue) runs in CI and in `gt demo`
//! without any model. It is not an AI model and says so first thing.
//!
//! A preset runs it like Claude Code: the beacon is the last argument, readiness shows as the
//! prompt `❯ `, and lines typed at it (nudges) are echoed as `received: <line>`. Then it runs a
//! script (see `script.rs`) from, in order: the file named by `GT_AGENT_SCRIPT`; the first
//! ```` ```gt-script ```` block in `gt prime` output (the hooked bead's description); the
//! default script `work`.

mod agent;
mod claude_hooks;
mod hook;
mod out;
mod script;
mod tui;

use std::io::BufRead as _;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context as _;
use ui::text::safe;

use crate::agent::{Agent, Outcome, ScriptError};
use crate::script::Script;

/// Environment: a script file to run instead of looking in `gt prime` output.
const GT_AGENT_SCRIPT: &str = "GT_AGENT_SCRIPT";
/// Environment: a script file run at each prompt typed at the agent (a turn), with `{prompt}`
/// in its `run` lines replaced by the prompt, shell-quoted — how a test acts out an agent that
/// does something with what it is told (the mayor turning intent into beads).
const GT_AGENT_ON_PROMPT: &str = "GT_AGENT_ON_PROMPT";
/// Environment: milliseconds between the banner and the ready prompt (default 200).
const READY_DELAY_MS: &str = "GT_SCRIPTED_AGENT_READY_DELAY_MS";
const DEFAULT_READY_DELAY_MS: u64 = 200;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    match args.as_slice() {
        [flag] if flag == "--version" || flag == "-V" => {
            out::line(&format!("gt-scripted-agent {VERSION}"));
            return ExitCode::SUCCESS;
        }
        [flag] if flag == "--help" || flag == "-h" => {
            out::block(&help());
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    // Presets may pass flags of the CLI this stands in for; the beacon is the last argument.
    let beacon = args.last().filter(|a| !a.starts_with('-')).cloned();

    // On a terminal it behaves like a TUI agent (see `tui.rs`); the mode is restored when
    // `main` returns.
    let _char_mode = host::term::stdin_is_tty()
        .then(host::term::CharMode::enter)
        .and_then(Result::ok);
    let tui = _char_mode.is_some();
    if tui {
        out::use_tui();
    }
    out::line(&format!("Scripted agent (not an AI model) — {VERSION}"));
    std::thread::sleep(Duration::from_millis(ready_delay_ms()));
    out::prompt();
    let hooks = match (tui, host::env::current_dir()) {
        (true, Ok(cwd)) => claude_hooks::Hooks::load(&cwd),
        _ => claude_hooks::Hooks::default(),
    };
    if tui {
        // The script is the first turn.
        out::set_busy(true);
        hooks.context("SessionStart", serde_json::json!({ "source": "startup" }));
    }
    if let Some(first) = beacon.as_deref().and_then(|b| b.lines().next()) {
        out::line(&format!("received: {}", safe(first)));
    }
    let prompts = if tui {
        Some(tui::read_keys())
    } else {
        echo_typed_lines();
        None
    };

    match start(beacon) {
        Ok(Outcome::Exit(code)) => ExitCode::from(code),
        Ok(Outcome::Stay) => match &prompts {
            Some(prompts) => tui::turns(&hooks, prompts),
            None => {
                out::prompt();
                idle_forever()
            }
        },
        Ok(Outcome::Hang) => idle_forever(),
        Err(err) => {
            let classified = classify(&err);
            out::error_report(&ui::error::render(&err, &classified));
            ExitCode::from(classified.kind.exit_code())
        }
    }
}

/// Runs the `GT_AGENT_ON_PROMPT` script, if any, for one typed prompt. Its failures are shown
/// on the agent's screen, as a real agent's tool errors are; the agent stays up.
pub fn on_prompt(prompt: &str) {
    let Some(path) = host::env::var(GT_AGENT_ON_PROMPT) else {
        return;
    };
    let result = (|| -> anyhow::Result<Outcome> {
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!("cannot read the script `{path}` named by `{GT_AGENT_ON_PROMPT}`")
        })?;
        let (script, origin) = parse(&text, format!("`{path}`"))?;
        let cwd = host::env::current_dir().context("cannot read the current directory")?;
        let mut agent = Agent::new(&cwd, None)?;
        agent.set_prompt(prompt);
        agent.run(&script, &origin)
    })();
    if let Err(err) = result {
        let classified = classify(&err);
        out::error_report(&ui::error::render(&err, &classified));
    }
}

/// Finds the script, parses all of it, then runs it.
fn start(beacon: Option<String>) -> anyhow::Result<Outcome> {
    let cwd = host::env::current_dir().context("cannot read the current directory")?;
    let mut agent = Agent::new(&cwd, beacon)?;
    let (script, origin) = load(&mut agent)?;
    let steps = match script.steps.len() {
        1 => "1 step".to_owned(),
        n => format!("{n} steps"),
    };
    out::line(&format!("script: {origin} ({steps})"));
    agent.run(&script, &origin)
}

/// The script and where it came from (for messages).
fn load(agent: &mut Agent) -> anyhow::Result<(Script, String)> {
    if let Some(path) = host::env::var(GT_AGENT_SCRIPT) {
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!("cannot read the script `{path}` named by `{GT_AGENT_SCRIPT}`")
        })?;
        let origin = format!("`{path}`");
        return parse(&text, origin);
    }
    match agent.prime() {
        Ok(output) => match script::extract_block(output) {
            Some(block) => parse(
                &block,
                "the gt-script block in `gt prime` output".to_owned(),
            ),
            None => Ok((script::default_script(), "the default script".to_owned())),
        },
        Err(err) => {
            out::line(&format!("note: no script from `gt prime`: {err:#}"));
            Ok((script::default_script(), "the default script".to_owned()))
        }
    }
}

fn parse(text: &str, origin: String) -> anyhow::Result<(Script, String)> {
    match script::parse(text) {
        Ok(script) => Ok((script, origin)),
        Err(error) => Err(ScriptError { origin, error }.into()),
    }
}

/// A script that does not parse is a usage error (2); anything that fails while running is 1.
fn classify(err: &anyhow::Error) -> ui::Classified {
    match err.downcast_ref::<ScriptError>() {
        Some(e) if e.error.message.starts_with("unknown command") => {
            ui::Classified::new(ui::ErrorKind::Usage)
                .hint(format!("the commands are: {}", script::COMMANDS))
        }
        Some(_) => ui::Classified::new(ui::ErrorKind::Usage),
        None => ui::Classified::new(ui::ErrorKind::User),
    }
}

fn ready_delay_ms() -> u64 {
    host::env::var(READY_DELAY_MS)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_READY_DELAY_MS)
}

/// Echoes each line typed at the agent (a nudge) as `received: <line>` and a fresh prompt,
/// until stdin closes or the agent hangs.
fn echo_typed_lines() {
    std::thread::spawn(|| {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if agent::RESPONSIVE.load(Ordering::SeqCst) {
                out::line(&format!("received: {}", safe(&line)));
                out::prompt();
            }
        }
    });
}

/// Waits until the process is killed.
pub(crate) fn idle_forever() -> ! {
    loop {
        std::thread::park();
    }
}

fn help() -> String {
    format!(
        "\
gt-scripted-agent {VERSION}: a scripted agent (not an AI model) that stands in for a coding-agent
CLI so Gas Town's work loop runs without any model.

Usage: gt-scripted-agent [FLAGS…] [BEACON]

It prints a banner and the ready prompt `❯ `, echoes the beacon (the last argument) and each line
typed at it as `received: <line>`, then runs a script, one command a line:

  {}

`once <command>` runs the command only the first time its line runs for the hooked bead in
this worktree (its marker is kept in {}/ under the worktree's git dir); when the
agent is started again the line is skipped, and a `once` that ends the script lets later
lines run.

The script is the file named by {GT_AGENT_SCRIPT}, else the first ```gt-script block in
`gt prime` output, else `work` (write gt-work/<bead>.md, commit, `gt done`).

Environment:
  {GT_AGENT_SCRIPT}
      a script file to run
  {}
      the hooked bead's id (else read from `gt prime`, else from the beacon)
  {READY_DELAY_MS}
      milliseconds between the banner and the prompt (default {DEFAULT_READY_DELAY_MS})
  {}
      milliseconds each turn for a received prompt takes (default 0)

On a terminal it acts like a TUI agent: keys echo after `❯ `, a bracketed paste is one input,
Enter submits it (further lines shown indented under `received:`), `✻ Working… (esc to
interrupt)` shows while a turn runs (the script is the first), and prompts submitted meanwhile
wait for its end. It runs the hooks of `.claude/settings.json`: SessionStart at start,
UserPromptSubmit before each prompt (output shown), Stop at each turn's end, whose
{{\"decision\":\"block\",\"reason\":…}} becomes the next prompt.
",
        script::COMMANDS,
        agent::ONCE_DIR,
        agent::GT_HOOK_BEAD,
        tui::TURN_MS,
    )
}
