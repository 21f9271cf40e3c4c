//! The script language: one command a line, parsed whole before anything runs.
//!
//! ```text
//! # a comment
//! prime
//! write src/lib.rs pub fn answer() -> u32 {\n    42\n}
//! commit add the answer
//! done COMPLETED
//! ```
//!
//! A command is the first word of a line; its arguments are the rest of the line. In the text
//! of `write`, `append` and `fail`, `\n` is a newline, `\t` a tab and `\\` a backslash.
//!
//! `once <command>` runs the command only the first time its line runs for the hooked bead in
//! this worktree; when the agent is started again (a restarted polecat runs its script from
//! the top) the line is skipped. So a script can act out "crash once, then finish":
//!
//! ```text
//! once write a.txt hi
//! once commit add a
//! once crash
//! done COMPLETED
//! ```
//!
//! or "submit broken work, then fix it when the refinery sends it back":
//!
//! ```text
//! once write gate-input.txt FAIL
//! once commit break it
//! once done COMPLETED
//! prime
//! write gate-input.txt ok
//! commit fix it
//! done COMPLETED
//! ```
//!
//! A `once` command that ends the script (`done`, `crash`, `exit`, …) ends it when it runs, but
//! lines may follow it: they run on later starts, when it is skipped. The marker of a line that
//! ran is the file `<git dir>/gt-scripted-agent/once-<bead>-<line>` of the worktree (never in
//! the work tree itself, so `git add -A` never commits it); it is written once the command has
//! run without failing (for `done`, once `gt done` exits 0), so a step that failed runs again.
//! Markers name lines by number: editing a script above a `once` line moves its marker.

use std::fmt;
use std::path::{Component, Path, PathBuf};

/// The commands, for error hints and `--help`.
pub const COMMANDS: &str = "prime, write, append, commit, done, work, handoff, run, sleep, hang, crash, exit, fail, conflict, stay, once <command>";

/// The fence that opens a script inside a bead description.
const FENCE: &str = "```gt-script";

/// How the agent reports its work to `gt done`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoneStatus {
    Completed,
    Escalated,
    Deferred,
}

impl DoneStatus {
    /// The value of `gt done --status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "COMPLETED",
            Self::Escalated => "ESCALATED",
            Self::Deferred => "DEFERRED",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_uppercase().as_str() {
            "COMPLETED" => Some(Self::Completed),
            "ESCALATED" => Some(Self::Escalated),
            "DEFERRED" => Some(Self::Deferred),
            _ => None,
        }
    }
}

/// One command of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run `gt prime` and print its output.
    Prime,
    /// Replace a file's contents with the text (see [`file_text`]).
    Write { path: PathBuf, text: String },
    /// Add the text (see [`file_text`]) to the end of a file.
    Append { path: PathBuf, text: String },
    /// `git add -A` and `git commit` with the message.
    Commit { message: String },
    /// Run `gt done --status <status>`; the agent then exits with its exit code.
    Done { status: DoneStatus },
    /// The default script: a note about the hooked bead, a commit, `gt done`.
    Work,
    /// Pause.
    Sleep { ms: u64 },
    /// Stop responding forever (a stuck agent).
    Hang,
    /// Exit 70 at once, without `gt done`.
    Crash,
    /// Exit with the code.
    Exit { code: u8 },
    /// Print the message to stderr and exit 1.
    Fail { message: String },
    /// Overwrite a file with text unique to the hooked bead.
    Conflict { path: PathBuf },
    /// Stay alive at the prompt until killed (an idle interactive agent).
    Stay,
    /// Run `gt handoff -s <subject>` (or `gt handoff --cycle`); once it succeeds the agent
    /// waits at its prompt to be replaced. A refused handoff fails the step.
    Handoff { cycle: bool, subject: String },
    /// Run a shell command line (`sh -c`) in the agent's directory, its output on the agent's
    /// screen; a non-zero exit fails the step. What a real agent does with its shell tool.
    Run { line: String },
    /// Run the command only the first time this line runs for the bead in this worktree.
    Once(Box<Command>),
}

impl Command {
    /// Whether nothing after this command runs (except `stay` after `done` or `work`). A `once`
    /// command never does: on later runs it is skipped and the lines after it run.
    fn ends_script(&self) -> bool {
        matches!(
            self,
            Self::Done { .. }
                | Self::Work
                | Self::Hang
                | Self::Crash
                | Self::Exit { .. }
                | Self::Fail { .. }
                | Self::Stay
        )
    }

    /// Whether `stay` may follow: the agent reported its work and may idle afterwards.
    fn may_stay_after(&self) -> bool {
        matches!(self, Self::Done { .. } | Self::Work)
    }
}

/// A command with the line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// 1-based line number in the script text.
    pub line: usize,
    /// The line as written, trimmed (shown as `step: …`).
    pub text: String,
    pub command: Command,
}

/// A parsed script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub steps: Vec<Step>,
}

/// A line of a script that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// The default script, run when no other is given.
pub fn default_script() -> Script {
    Script {
        steps: vec![Step {
            line: 1,
            text: "work".to_owned(),
            command: Command::Work,
        }],
    }
}

/// Parses a whole script; the first bad line is the error.
pub fn parse(source: &str) -> Result<Script, ParseError> {
    let mut steps: Vec<Step> = Vec::new();
    for (index, raw) in source.lines().enumerate() {
        let line = index + 1;
        let text = raw.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let command = parse_line(text).map_err(|message| ParseError { line, message })?;
        if let Some(last) = steps.last()
            && last.command.ends_script()
            && !(last.command.may_stay_after() && command == Command::Stay)
        {
            return Err(ParseError {
                line,
                message: format!(
                    "`{}` can never run: `{}` on line {} ends the script",
                    word(text),
                    word(&last.text),
                    last.line
                ),
            });
        }
        steps.push(Step {
            line,
            text: text.to_owned(),
            command,
        });
    }
    Ok(Script { steps })
}

fn word(text: &str) -> &str {
    text.split_whitespace().next().unwrap_or(text)
}

/// Splits `text` at its first run of whitespace.
fn split_word(text: &str) -> (&str, &str) {
    match text.find(char::is_whitespace) {
        Some(at) => (&text[..at], text[at..].trim_start()),
        None => (text, ""),
    }
}

fn parse_line(text: &str) -> Result<Command, String> {
    let (name, rest) = split_word(text);
    let no_args = |command: Command| {
        if rest.is_empty() {
            Ok(command)
        } else {
            Err(format!("`{name}` takes no arguments"))
        }
    };
    match name {
        "prime" => no_args(Command::Prime),
        "work" => no_args(Command::Work),
        "hang" => no_args(Command::Hang),
        "crash" => no_args(Command::Crash),
        "stay" => no_args(Command::Stay),
        "handoff" => Ok(match rest {
            "--cycle" => Command::Handoff {
                cycle: true,
                subject: String::new(),
            },
            "" => return Err("`handoff` needs a subject or `--cycle`".to_owned()),
            subject => Command::Handoff {
                cycle: false,
                subject: subject.to_owned(),
            },
        }),
        "once" => {
            if rest.is_empty() {
                return Err("`once` needs a command: `once <command>`".to_owned());
            }
            match parse_line(rest)? {
                Command::Once(_) => Err("`once` cannot wrap another `once`".to_owned()),
                inner => Ok(Command::Once(Box::new(inner))),
            }
        }
        "write" | "append" => {
            let (path, body) = split_word(rest);
            if path.is_empty() {
                return Err(format!(
                    "`{name}` needs a path and text: `{name} <path> <text>`"
                ));
            }
            let path = check_path(path)?;
            let text = unescape(body);
            Ok(if name == "write" {
                Command::Write { path, text }
            } else {
                Command::Append { path, text }
            })
        }
        "conflict" => {
            let (path, extra) = split_word(rest);
            if path.is_empty() {
                return Err("`conflict` needs a path: `conflict <path>`".to_owned());
            }
            if !extra.is_empty() {
                return Err("`conflict` takes one path".to_owned());
            }
            Ok(Command::Conflict {
                path: check_path(path)?,
            })
        }
        "run" => {
            if rest.is_empty() {
                return Err("`run` needs a command line: `run <command>`".to_owned());
            }
            Ok(Command::Run {
                line: rest.to_owned(),
            })
        }
        "commit" => {
            if rest.is_empty() {
                return Err("`commit` needs a message: `commit <message>`".to_owned());
            }
            Ok(Command::Commit {
                message: unescape(rest),
            })
        }
        "done" => {
            let status = if rest.is_empty() {
                DoneStatus::Completed
            } else {
                DoneStatus::parse(rest).ok_or_else(|| {
                    format!(
                        "`done` takes COMPLETED, ESCALATED or DEFERRED, not `{}`",
                        ui::text::safe(rest)
                    )
                })?
            };
            Ok(Command::Done { status })
        }
        "sleep" => {
            let ms = rest.parse().map_err(|_| {
                format!(
                    "`sleep` needs milliseconds (`sleep 500`), not `{}`",
                    ui::text::safe(rest)
                )
            })?;
            Ok(Command::Sleep { ms })
        }
        "exit" => {
            let code = rest.parse().map_err(|_| {
                format!(
                    "`exit` needs a code from 0 to 255, not `{}`",
                    ui::text::safe(rest)
                )
            })?;
            Ok(Command::Exit { code })
        }
        "fail" => Ok(Command::Fail {
            message: if rest.is_empty() {
                "the script failed on purpose".to_owned()
            } else {
                unescape(rest)
            },
        }),
        other => Err(format!("unknown command `{}`", ui::text::safe(other))),
    }
}

/// A relative path that stays inside the current directory: no `/` at the start, no `..`, and
/// nothing inside `.git`.
pub fn check_path(text: &str) -> Result<PathBuf, String> {
    let path = Path::new(text);
    let shown = ui::text::safe(text);
    let mut normal = 0;
    for component in path.components() {
        match component {
            Component::Prefix(_) | Component::RootDir => {
                return Err(format!(
                    "`{shown}` is an absolute path; the agent may only touch its own worktree"
                ));
            }
            Component::ParentDir => {
                return Err(format!(
                    "`{shown}` leaves the worktree (`..`); the agent may only touch its own worktree"
                ));
            }
            Component::Normal(name) if name == ".git" => {
                return Err(format!("`{shown}` is inside `.git`"));
            }
            Component::Normal(_) => normal += 1,
            Component::CurDir => {}
        }
    }
    if normal == 0 {
        return Err(format!("`{shown}` names no file"));
    }
    Ok(path.to_owned())
}

/// `\n`, `\t` and `\\` in `text` turned into a newline, a tab and a backslash; any other
/// backslash is kept as it is.
pub fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// What `write` and `append` put in a file: the text, ending in a newline unless it is empty.
pub fn file_text(text: &str) -> String {
    if text.is_empty() || text.ends_with('\n') {
        text.to_owned()
    } else {
        format!("{text}\n")
    }
}

/// The first ```` ```gt-script ```` fenced block in `text` (a bead description as `gt prime`
/// prints it), without its fences. An unclosed block runs to the end of the text.
pub fn extract_block(text: &str) -> Option<String> {
    let mut lines = text.lines();
    lines.find(|l| {
        l.trim()
            .strip_prefix(FENCE)
            .is_some_and(|rest| rest.trim().is_empty())
    })?;
    let body: Vec<&str> = lines.take_while(|l| l.trim() != "```").collect();
    Some(body.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commands(src: &str) -> Vec<Command> {
        parse(src)
            .unwrap()
            .steps
            .into_iter()
            .map(|s| s.command)
            .collect()
    }

    fn error(src: &str) -> ParseError {
        parse(src).unwrap_err()
    }

    #[test]
    fn parses_every_command() {
        let src = "\
# setup
prime

write src/lib.rs pub fn a() {}\\n
append notes.md   two  spaces kept
commit fix: the thing
sleep 25
conflict README.md
done escalated
stay
";
        assert_eq!(
            commands(src),
            [
                Command::Prime,
                Command::Write {
                    path: "src/lib.rs".into(),
                    text: "pub fn a() {}\n".into()
                },
                Command::Append {
                    path: "notes.md".into(),
                    text: "two  spaces kept".into()
                },
                Command::Commit {
                    message: "fix: the thing".into()
                },
                Command::Sleep { ms: 25 },
                Command::Conflict {
                    path: "README.md".into()
                },
                Command::Done {
                    status: DoneStatus::Escalated
                },
                Command::Stay,
            ]
        );
        let steps = parse(src).unwrap().steps;
        assert_eq!(steps[0].line, 2);
        assert_eq!(steps[1].line, 4);
        assert_eq!(steps[1].text, "write src/lib.rs pub fn a() {}\\n");
    }

    #[test]
    fn terminal_commands_parse() {
        assert_eq!(commands("hang"), [Command::Hang]);
        assert_eq!(commands("crash"), [Command::Crash]);
        assert_eq!(commands("exit 3"), [Command::Exit { code: 3 }]);
        assert_eq!(
            commands("fail gate failed\\nbadly"),
            [Command::Fail {
                message: "gate failed\nbadly".into()
            }]
        );
        assert_eq!(
            commands("done"),
            [Command::Done {
                status: DoneStatus::Completed
            }]
        );
        assert_eq!(commands("work\nstay"), [Command::Work, Command::Stay]);
        assert_eq!(
            commands("once handoff first shift\nhandoff --cycle\nstay"),
            [
                Command::Once(Box::new(Command::Handoff {
                    cycle: false,
                    subject: "first shift".into()
                })),
                Command::Handoff {
                    cycle: true,
                    subject: String::new()
                },
                Command::Stay
            ]
        );
        assert_eq!(
            commands("run cd x && bd q 'a b' {prompt}"),
            [Command::Run {
                line: "cd x && bd q 'a b' {prompt}".into()
            }]
        );
        assert_eq!(commands("  # only a comment\n\n"), []);
    }

    #[test]
    fn unknown_command_names_its_line() {
        let err = error("prime\n\nfrobnicate now\n");
        assert_eq!(err.line, 3);
        assert_eq!(err.to_string(), "line 3: unknown command `frobnicate`");
    }

    #[test]
    fn bad_arguments_name_their_line() {
        for (src, line, needle) in [
            ("write", 1, "needs a path"),
            ("prime\ncommit", 2, "needs a message"),
            ("run", 1, "needs a command line"),
            ("sleep soon", 1, "milliseconds"),
            ("exit 256", 1, "0 to 255"),
            ("exit -1", 1, "0 to 255"),
            ("done MAYBE", 1, "COMPLETED, ESCALATED or DEFERRED"),
            ("prime now", 1, "takes no arguments"),
            ("conflict", 1, "needs a path"),
            ("conflict a b", 1, "one path"),
        ] {
            let err = error(src);
            assert_eq!(err.line, line, "{src}");
            assert!(err.message.contains(needle), "{src}: {err}");
        }
    }

    #[test]
    fn nothing_runs_after_the_end() {
        let err = error("crash\nwrite a b");
        assert_eq!(err.line, 2);
        assert_eq!(
            err.message,
            "`write` can never run: `crash` on line 1 ends the script"
        );
        assert_eq!(error("done\nprime").line, 2);
        assert_eq!(error("stay\nstay").line, 2);
        assert_eq!(error("exit 0\nstay").line, 2);
        assert_eq!(error("done\nstay\nstay").line, 3);
    }

    fn once(command: Command) -> Command {
        Command::Once(Box::new(command))
    }

    #[test]
    fn once_wraps_any_command() {
        assert_eq!(
            commands("once write a.txt one\nonce crash\nwrite b.txt two\n"),
            [
                once(Command::Write {
                    path: "a.txt".into(),
                    text: "one".into()
                }),
                once(Command::Crash),
                Command::Write {
                    path: "b.txt".into(),
                    text: "two".into()
                },
            ]
        );
        assert_eq!(commands("once   exit 3"), [once(Command::Exit { code: 3 })]);
        assert_eq!(commands("once work"), [once(Command::Work)]);
        let steps = parse("# c\nonce done").unwrap().steps;
        assert_eq!(steps[0].line, 2);
        assert_eq!(steps[0].text, "once done");
    }

    #[test]
    fn a_once_command_that_ends_the_script_lets_lines_follow() {
        // The daemon tests' scripts: crash once then finish; fix after a send-back.
        assert_eq!(
            commands("once write a.txt hi\nonce commit add a\nonce crash\ndone COMPLETED"),
            [
                once(Command::Write {
                    path: "a.txt".into(),
                    text: "hi".into()
                }),
                once(Command::Commit {
                    message: "add a".into()
                }),
                once(Command::Crash),
                Command::Done {
                    status: DoneStatus::Completed
                },
            ]
        );
        let fix = "\
once write gate-input.txt FAIL
once commit break it
once done COMPLETED
prime
write gate-input.txt ok
commit fix it
done COMPLETED
";
        let cmds = commands(fix);
        assert_eq!(cmds.len(), 7);
        assert_eq!(
            cmds[2],
            once(Command::Done {
                status: DoneStatus::Completed
            })
        );
        assert_eq!(cmds[3], Command::Prime);
        for ender in ["done", "work", "hang", "crash", "exit 0", "fail x", "stay"] {
            assert_eq!(
                commands(&format!("once {ender}\nprime")).len(),
                2,
                "{ender}"
            );
        }
        // An unwrapped end still ends the script, `once` lines after it too.
        assert_eq!(error("crash\nonce prime").line, 2);
    }

    #[test]
    fn once_needs_one_command_that_parses() {
        for (src, needle) in [
            ("once", "`once` needs a command"),
            ("once   ", "`once` needs a command"),
            ("once once prime", "cannot wrap another `once`"),
            ("once frobnicate", "unknown command `frobnicate`"),
            ("once write ../x y", "leaves the worktree"),
            ("once sleep soon", "milliseconds"),
        ] {
            let err = error(&format!("prime\n{src}"));
            assert_eq!(err.line, 2, "{src}");
            assert!(err.message.contains(needle), "{src}: {err}");
        }
    }

    #[test]
    fn paths_must_stay_in_the_worktree() {
        assert_eq!(check_path("src/lib.rs").unwrap(), Path::new("src/lib.rs"));
        assert_eq!(check_path("./a").unwrap(), Path::new("./a"));
        for (bad, needle) in [
            ("/etc/passwd", "absolute"),
            ("../x", "leaves the worktree"),
            ("a/../../x", "leaves the worktree"),
            ("a/..", "leaves the worktree"),
            (".git/config", "inside `.git`"),
            ("sub/.git/hooks/x", "inside `.git`"),
            (".", "names no file"),
        ] {
            let err = check_path(bad).unwrap_err();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }

    #[test]
    fn path_escapes_are_parse_errors_naming_the_line() {
        let err = error("# c\nwrite /tmp/x hi");
        assert_eq!(err.line, 2);
        assert!(err.message.contains("absolute"), "{err}");
        let err = error("append ../x hi");
        assert_eq!(err.line, 1);
        assert!(err.message.contains("`..`"), "{err}");
        assert_eq!(error("prime\nconflict ../../x").line, 2);
    }

    #[test]
    fn file_text_ends_in_one_newline() {
        assert_eq!(file_text("a"), "a\n");
        assert_eq!(file_text("a\n"), "a\n");
        assert_eq!(file_text(""), "");
    }

    #[test]
    fn unescapes_text() {
        assert_eq!(unescape("a\\nb\\tc\\\\n"), "a\nb\tc\\n");
        assert_eq!(unescape("keep \\x and end\\"), "keep \\x and end\\");
        assert_eq!(unescape("plain"), "plain");
    }

    #[test]
    fn extracts_the_first_script_block() {
        let text = "\
Hooked bead: gt-abc — Fix login

Description:
  Some words.
  ```gt-script
  write a.txt hello
  commit a
  ```
  ```gt-script
  crash
  ```
";
        assert_eq!(
            extract_block(text).as_deref(),
            Some("  write a.txt hello\n  commit a")
        );
        assert_eq!(
            commands(&extract_block(text).unwrap()),
            [
                Command::Write {
                    path: "a.txt".into(),
                    text: "hello".into()
                },
                Command::Commit {
                    message: "a".into()
                }
            ]
        );
        assert_eq!(extract_block("```rust\nfn main() {}\n```"), None);
        assert_eq!(extract_block("```gt-scripted\ncrash\n```"), None);
        assert_eq!(
            extract_block("```gt-script\ncrash").as_deref(),
            Some("crash")
        );
    }
}
