//! Running a script: each step in the current directory (the agent's worktree), with `gt` and
//! `git` as helpers.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use host::git::Git;
use ui::text::safe;

use crate::hook::{self, Bead};
use crate::out;
use crate::script::{self, Command, DoneStatus, Script, Step};

/// Environment: the id of the hooked bead, used before `gt prime` output and the beacon.
pub const GT_HOOK_BEAD: &str = "GT_HOOK_BEAD";

/// The exit code of `crash` (EX_SOFTWARE).
pub const CRASH_CODE: u8 = 70;

/// The directory under the worktree's git dir that holds the markers of `once` lines.
pub const ONCE_DIR: &str = "gt-scripted-agent";

/// The program run for `prime` and `done`: whatever `gt` is on `PATH`.
const GT: &str = "gt";

/// Cleared by `hang`: a stuck agent no longer echoes what is typed at it.
pub static RESPONSIVE: AtomicBool = AtomicBool::new(true);

/// How the agent ends once its script has run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit with this code.
    Exit(u8),
    /// Show the prompt and idle until killed.
    Stay,
    /// Stop responding until killed.
    Hang,
}

/// A script line that does not parse; nothing has run (exit 2).
#[derive(Debug)]
pub struct ScriptError {
    /// Where the script came from, for the message.
    pub origin: String,
    pub error: script::ParseError,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {} of {}: {}",
            self.error.line, self.origin, self.error.message
        )
    }
}

impl std::error::Error for ScriptError {}

/// A step that failed while running (exit 1).
#[derive(Debug)]
pub struct StepError {
    origin: String,
    line: usize,
    text: String,
    cause: anyhow::Error,
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {} of {} failed: `{}`",
            self.line,
            self.origin,
            safe(&self.text)
        )
    }
}

impl std::error::Error for StepError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(AsRef::<dyn std::error::Error>::as_ref(&self.cause))
    }
}

/// What a step leaves the agent to do next.
enum Flow {
    Next,
    /// `gt done` ran: exit with its code, unless `stay` follows.
    Reported(u8),
    End(Outcome),
}

/// The agent's state while it runs a script.
#[derive(Debug)]
pub struct Agent {
    /// The worktree (canonical); every file the script touches is inside it.
    dir: PathBuf,
    /// The first prompt, from the command line.
    beacon: Option<String>,
    /// The output of the last `gt prime`, if it ran and succeeded.
    prime: Option<String>,
    /// Whether `gt prime` was tried at all.
    primed: bool,
    /// The prompt this script answers (an on-prompt script), for `{prompt}` in `run` lines.
    prompt: Option<String>,
}

impl Agent {
    /// An agent working in `dir`.
    pub fn new(dir: &Path, beacon: Option<String>) -> anyhow::Result<Self> {
        let dir = dir
            .canonicalize()
            .with_context(|| format!("cannot resolve the working directory `{}`", dir.display()))?;
        Ok(Self {
            dir,
            beacon,
            prime: None,
            primed: false,
            prompt: None,
        })
    }

    /// Makes this a script answering `prompt`.
    pub fn set_prompt(&mut self, prompt: &str) {
        self.prompt = Some(prompt.to_owned());
    }

    /// Runs `gt prime` and keeps its output for finding the hooked bead.
    pub fn prime(&mut self) -> anyhow::Result<&str> {
        self.primed = true;
        let output = host::process::output(GT, &["prime"])?;
        Ok(self.prime.insert(output))
    }

    /// Runs every step in order.
    pub fn run(&mut self, script: &Script, origin: &str) -> anyhow::Result<Outcome> {
        let mut reported = None;
        for step in &script.steps {
            out::line(&format!("step: {}", safe(&step.text)));
            let flow = self.step(step).map_err(|cause| StepError {
                origin: origin.to_owned(),
                line: step.line,
                text: step.text.clone(),
                cause,
            })?;
            match flow {
                Flow::Next => {}
                Flow::Reported(code) => reported = Some(code),
                Flow::End(outcome) => return Ok(outcome),
            }
        }
        Ok(Outcome::Exit(reported.unwrap_or(0)))
    }

    fn step(&mut self, step: &Step) -> anyhow::Result<Flow> {
        match &step.command {
            Command::Once(command) => self.once(step, command),
            command => self.command(command),
        }
    }

    /// `once <command>`: skipped when its marker exists; otherwise the command runs and, unless
    /// it failed, the marker is written. A command that reports (`done`, `work`) ends the script
    /// here, as it would have had it not been wrapped.
    fn once(&mut self, step: &Step, command: &Command) -> anyhow::Result<Flow> {
        let marker = self.once_marker(step.line)?;
        if marker.exists() {
            out::line(&format!(
                "skipped: line {} already ran once here ({})",
                step.line,
                marker.display()
            ));
            return Ok(Flow::Next);
        }
        let flow = self.command(command)?;
        if !matches!(flow, Flow::Reported(code) if code != 0) {
            if let Some(dir) = marker.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create `{}`", dir.display()))?;
            }
            std::fs::write(&marker, format!("{}\n", step.text))
                .with_context(|| format!("cannot write `{}`", marker.display()))?;
        }
        Ok(match flow {
            Flow::Reported(code) => Flow::End(Outcome::Exit(code)),
            flow => flow,
        })
    }

    /// Where `once` on `line` records that it ran: under the worktree's git dir, so no commit
    /// ever holds it, and per hooked bead, so a reused worktree starts afresh.
    fn once_marker(&mut self, line: usize) -> anyhow::Result<PathBuf> {
        let bead = self.bead(false)?;
        let git_dir = self
            .git()
            .run(&["rev-parse", "--absolute-git-dir"])
            .context("`once` keeps its marker in the worktree's git dir")?;
        let name: String = bead
            .id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Ok(Path::new(git_dir.trim())
            .join(ONCE_DIR)
            .join(format!("once-{name}-{line}")))
    }

    fn command(&mut self, command: &Command) -> anyhow::Result<Flow> {
        match command {
            Command::Once(_) => bail!("`once` cannot wrap another `once`"),
            Command::Prime => {
                let output = self.prime()?;
                out::block(output);
            }
            Command::Write { path, text } => self.write(path, &script::file_text(text), false)?,
            Command::Append { path, text } => self.write(path, &script::file_text(text), true)?,
            Command::Commit { message } => self.commit(message)?,
            Command::Done { status } => return Ok(Flow::Reported(done(*status)?)),
            Command::Work => return self.work(),
            Command::Sleep { ms } => std::thread::sleep(Duration::from_millis(*ms)),
            Command::Hang => {
                RESPONSIVE.store(false, Ordering::SeqCst);
                return Ok(Flow::End(Outcome::Hang));
            }
            Command::Crash => return Ok(Flow::End(Outcome::Exit(CRASH_CODE))),
            Command::Exit { code } => return Ok(Flow::End(Outcome::Exit(*code))),
            Command::Fail { message } => {
                out::error_report(&format!("error: {message}\n"));
                return Ok(Flow::End(Outcome::Exit(1)));
            }
            Command::Conflict { path } => {
                let bead = self.bead(false)?;
                let text = format!(
                    "conflicting change by the scripted agent for `{}`\n",
                    bead.id
                );
                self.write(path, &text, false)?;
            }
            Command::Stay => return Ok(Flow::End(Outcome::Stay)),
            Command::Run { line } => run(&match &self.prompt {
                Some(p) => line.replace("{prompt}", &shell_quote(p)),
                None => line.clone(),
            })?,
            Command::Handoff { cycle, subject } => {
                handoff(*cycle, subject)?;
                return Ok(Flow::End(Outcome::Stay));
            }
        }
        Ok(Flow::Next)
    }

    /// The default script: a note on the hooked bead, committed, then `gt done`.
    fn work(&mut self) -> anyhow::Result<Flow> {
        let bead = self.bead(true)?;
        let path = script::check_path(&format!("gt-work/{}.md", bead.id))
            .map_err(|e| anyhow!("the hooked bead's id makes a bad path: {e}"))?;
        out::line(&format!("step: write {}", path.display()));
        let note = format!(
            "# {}\n\nWork on `{}` by the scripted agent (not an AI model).\n",
            bead.title, bead.id
        );
        self.write(&path, &note, false)?;
        let message = format!("{}: {}", bead.id, bead.title);
        out::line(&format!("step: commit {}", safe(&message)));
        if self
            .git()
            .run(&["status", "--porcelain"])?
            .trim()
            .is_empty()
        {
            out::line("nothing to commit: the note is already committed");
        } else {
            self.commit(&message)?;
        }
        out::line(&format!("step: done {}", DoneStatus::Completed.as_str()));
        Ok(Flow::Reported(done(DoneStatus::Completed)?))
    }

    /// The hooked bead: `GT_HOOK_BEAD`, else the one `gt prime` names, else the beacon's.
    /// `gt prime` runs here if it has not yet, unless only the id is wanted and the
    /// environment gives it.
    fn bead(&mut self, want_title: bool) -> anyhow::Result<Bead> {
        let env_id = host::env::var(GT_HOOK_BEAD);
        if let Some(id) = env_id.as_ref().filter(|_| !want_title) {
            return Ok(Bead {
                id: id.clone(),
                title: id.clone(),
            });
        }
        if !self.primed {
            // Only to learn the bead and its title; a missing `gt` is not an error here.
            out::line("reading `gt prime` for the hooked bead");
            if let Err(err) = self.prime() {
                out::line(&format!("note: {err:#}"));
            }
        }
        let primed = self.prime.as_deref().and_then(hook::from_prime);
        if let Some(id) = env_id {
            let title = primed
                .filter(|b| b.id == id)
                .map_or_else(|| id.clone(), |b| b.title);
            return Ok(Bead { id, title });
        }
        if let Some(bead) = primed {
            return Ok(bead);
        }
        if let Some(id) = self.beacon.as_deref().and_then(hook::from_beacon) {
            return Ok(Bead {
                title: id.clone(),
                id,
            });
        }
        bail!(
            "no hooked bead: `{GT_HOOK_BEAD}` is not set, `gt prime` names none and the beacon has no `assigned:<id>`"
        )
    }

    fn git(&self) -> Git {
        Git::new(&self.dir)
    }

    fn commit(&self, message: &str) -> anyhow::Result<()> {
        let git = self.git();
        git.run(&["add", "-A"])?;
        // git says "nothing to commit" on stdout, which its error would not carry.
        if git.run(&["status", "--porcelain"])?.trim().is_empty() {
            bail!("nothing to commit: the worktree has no changes");
        }
        git.run(&["commit", "-q", "-m", message])?;
        let sha = git.run(&["rev-parse", "--short", "HEAD"])?;
        out::line(&format!("committed {}", sha.trim()));
        Ok(())
    }

    /// Writes (or appends) `text` to `rel`, creating parent directories.
    fn write(&self, rel: &Path, text: &str, append: bool) -> anyhow::Result<()> {
        let path = self.inside(rel)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create `{}`", parent.display()))?;
        }
        let result = if append {
            use std::io::Write as _;
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .and_then(|mut f| f.write_all(text.as_bytes()))
        } else {
            std::fs::write(&path, text)
        };
        result.with_context(|| format!("cannot write `{}`", rel.display()))
    }

    /// `rel` under the worktree, refusing a path that a symlink leads outside it.
    fn inside(&self, rel: &Path) -> anyhow::Result<PathBuf> {
        let full = self.dir.join(rel);
        let mut probe = full.as_path();
        loop {
            match probe.canonicalize() {
                Ok(real) if real.starts_with(&self.dir) => return Ok(full),
                Ok(_) => break,
                // A dangling symlink would let a write land anywhere.
                Err(_) if probe.symlink_metadata().is_ok() => break,
                Err(_) => match probe.parent() {
                    Some(parent) => probe = parent,
                    None => break,
                },
            }
        }
        bail!(
            "`{}` leads outside the worktree through a symlink; the agent may only touch its own worktree",
            rel.display()
        )
    }
}

/// Runs `gt done --status <status>` with its output on the agent's terminal; its exit code.
fn done(status: DoneStatus) -> anyhow::Result<u8> {
    out::settle();
    let exit = host::process::run_inherit(GT, &["done", "--status", status.as_str()])?;
    let code = exit.code().and_then(|c| u8::try_from(c).ok()).unwrap_or(1);
    if code != 0 {
        out::line(&format!("`gt done` failed ({exit})"));
    }
    Ok(code)
}

/// `text` as one shell word.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// Runs `line` under `sh -c` in the agent's directory and shows its output as the agent's own
/// lines, so the agent's prompt stays on screen meanwhile (as a TUI agent's input box stays
/// while a tool runs); a non-zero exit fails the step with the command's stderr.
fn run(line: &str) -> anyhow::Result<()> {
    let stdout = host::process::output("sh", &["-c", line])
        .with_context(|| format!("`{}` failed", safe(line)))?;
    for l in stdout.lines() {
        out::line(&safe(l));
    }
    Ok(())
}

/// Runs `gt handoff` with its output on the agent's terminal; a refusal fails the step.
fn handoff(cycle: bool, subject: &str) -> anyhow::Result<()> {
    out::settle();
    let args: &[&str] = if cycle {
        &["handoff", "--cycle"]
    } else {
        &[
            "handoff",
            "-s",
            subject,
            "-m",
            "Handed off by the scripted agent.",
        ]
    };
    let exit = host::process::run_inherit(GT, args)?;
    if !exit.success() {
        bail!("`gt handoff` failed ({exit})");
    }
    Ok(())
}
