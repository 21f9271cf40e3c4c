//! What an agent's pane shows, read from a capture: may text be pasted into it now?
//!
//! Upstream's rules (gastown.md §2.i), with one more state it lacks: a prompt holding text a
//! person has half typed. Pasting there would merge the nudge into their words (upstream
//! #1216), so that input line is never typed into.

use crate::runtime::{is_prompt_line, shows_menu};

/// How many non-blank lines at the bottom of the pane are read: the prompt and the status
/// lines of a TUI agent are there.
const TAIL_LINES: usize = 8;
/// Shown while an agent works on a turn: by Claude Code (and the scripted agent), and by
/// Gemini CLI (`(esc to cancel, 3s)`; its dialogs say `Esc to cancel`, capitalised).
pub const BUSY_MARKERS: [&str; 2] = ["esc to interrupt", "esc to cancel,"];
/// What an agent shows in its input line in place of a long paste: Claude Code's `[Pasted text
/// #1 +12 lines]`, Codex's `[Pasted Content 1234 chars]`, Gemini CLI's `[Pasted Text: 12
/// lines]`.
pub const PASTE_PLACEHOLDERS: [&str; 3] = ["[Pasted text", "[Pasted Content", "[Pasted Text"];
/// What an agent draws (dimmed) in its empty input line: Codex's `› Ask Codex to do anything`,
/// Gemini CLI's `*   Type your message or @path/to/file`. A capture loses the dimming, so this
/// text in the input line means the line is empty.
pub const EMPTY_INPUT_PLACEHOLDERS: [&str; 2] = [
    "Ask Codex to do anything",
    "Type your message or @path/to/file",
];

/// A pane as delivery sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    /// The prompt with an empty input line, nothing running.
    Idle,
    /// The prompt holding input nobody has submitted yet (a person typing).
    Partial(String),
    /// The agent works on a turn.
    Busy,
    /// A menu waits for a choice: text would pick an option.
    Menu,
    /// No prompt in sight (starting, printing, or a program without a known prompt).
    Unknown,
}

impl Screen {
    /// A word for messages and `--json`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Partial(_) => "partial-input",
            Self::Busy => "busy",
            Self::Menu => "menu",
            Self::Unknown => "unknown",
        }
    }
}

/// Reads `capture` with the agent's ready `prefix` (`❯ `). Busy wins over everything (an agent
/// at work draws its prompt too); then a menu; then the last prompt line decides between idle
/// and partial input. The input is what follows the prefix, trailing blanks dropped.
pub fn classify(capture: &str, prefix: &str) -> Screen {
    let tail: Vec<&str> = capture
        .lines()
        .filter(|l| !l.trim().is_empty())
        .rev()
        .take(TAIL_LINES)
        .collect();
    if tail
        .iter()
        .any(|l| BUSY_MARKERS.iter().any(|m| l.contains(m)))
    {
        return Screen::Busy;
    }
    if shows_menu(capture) {
        return Screen::Menu;
    }
    match prompt_input(capture, prefix) {
        Some(input) if input.is_empty() => Screen::Idle,
        Some(input) => Screen::Partial(input),
        None => Screen::Unknown,
    }
}

/// The text in the input line: what follows `prefix` on the last prompt line among the bottom
/// lines of `capture`; `None` when no prompt shows there.
pub fn prompt_input(capture: &str, prefix: &str) -> Option<String> {
    let lines: Vec<&str> = capture.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(TAIL_LINES);
    let line = lines[start..]
        .iter()
        .rev()
        .find(|l| is_prompt_line(l, prefix))?;
    let line = line.trim_start_matches(|c: char| c.is_whitespace() || matches!(c, '│' | '┃' | '|'));
    let rest = line.strip_prefix(prefix.trim())?;
    let input = rest
        .trim()
        .trim_end_matches(|c: char| c.is_whitespace() || matches!(c, '│' | '┃' | '|'));
    if EMPTY_INPUT_PLACEHOLDERS.contains(&input) {
        return Some(String::new());
    }
    Some(input.to_owned())
}

/// The piece of `text` delivery looks for in the input line once pasted: the start of its first
/// non-blank line, short enough to fit any input line.
pub fn needle(text: &str) -> String {
    const NEEDLE_CHARS: usize = 40;
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    first
        .trim()
        .chars()
        .take(NEEDLE_CHARS)
        .collect::<String>()
        .trim_end()
        .to_owned()
}

/// Whether the input line of `capture` holds the pasted text: its start, or the placeholder a
/// TUI draws for a long paste.
pub fn input_holds(capture: &str, prefix: &str, needle: &str) -> bool {
    prompt_input(capture, prefix).is_some_and(|input| {
        input.contains(needle) || PASTE_PLACEHOLDERS.iter().any(|p| input.contains(p))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "❯ ";

    #[test]
    fn an_empty_prompt_is_idle_and_typed_text_is_partial() {
        assert_eq!(classify("done\n❯ \n", P), Screen::Idle);
        assert_eq!(classify("done\n❯\n\n\n", P), Screen::Idle);
        assert_eq!(
            classify("done\n❯ fix the lo\n", P),
            Screen::Partial("fix the lo".into())
        );
        assert_eq!(
            classify("│ ❯ half typed   │\n", P),
            Screen::Partial("half typed".into())
        );
    }

    #[test]
    fn codex_s_placeholder_is_an_empty_input_line() {
        const CODEX: &str = "› ";
        let idle = "• Hello.\n\n› Ask Codex to do anything\n\n  gpt-5.1-codex-mini default · /w\n";
        assert_eq!(classify(idle, CODEX), Screen::Idle);
        assert_eq!(
            classify("› Ask Codex to do anything else\n", CODEX),
            Screen::Partial("Ask Codex to do anything else".into()),
            "only the placeholder itself"
        );
        assert!(input_holds(
            "› [Pasted Content 1834 chars]\n",
            CODEX,
            "You are"
        ));
        let working = "› fix it\n◦ Working (0s • esc to interrupt)\n› Ask Codex to do anything\n";
        assert_eq!(classify(working, CODEX), Screen::Busy);
        let trust = "Trust this folder?\n› 1. Trust and continue\n  2. Back\n";
        assert_eq!(classify(trust, CODEX), Screen::Menu);
        // Claude Code 2.1.328 draws its menus without numbers.
        let key = "  Do you want to use this API key?\n    Yes\n  ❯ No (recommended)\n\
                   \x20 Enter to confirm · Esc to cancel\n";
        assert_eq!(classify(key, P), Screen::Menu);
    }

    #[test]
    fn gemini_s_placeholder_is_an_empty_input_line_and_its_spinner_is_busy() {
        const GEMINI: &str = "* ";
        let footer = "────────────────\n YOLO Ctrl+Y\n *   Type your message or @path/to/file\n \
                      workspace (/directory)     sandbox      /model\n \
                      /w/proj                    no sandbox   gemini-2.5-flash\n";
        let idle = format!(" > say hi\n✦ Hello.\n                  ? for shortcuts\n{footer}");
        assert_eq!(classify(&idle, GEMINI), Screen::Idle);
        let working = format!(" > say hi\n⠏ Thinking... (esc to cancel, 3s)\n{footer}");
        assert_eq!(classify(&working, GEMINI), Screen::Busy);
        assert!(input_holds(
            " *   [Pasted Text: 12 lines]\n",
            GEMINI,
            "You are"
        ));
        assert_eq!(
            classify(" *   half typed\n", GEMINI),
            Screen::Partial("half typed".into())
        );
        // Its API key form says `Esc to cancel` too: a dialog, not a turn at work.
        let form = "│ (Press Enter to submit, Esc to cancel, Ctrl+C to clear stored key) │\n";
        assert_ne!(classify(form, GEMINI), Screen::Busy);
    }

    #[test]
    fn busy_wins_over_the_prompt_and_menus_are_seen() {
        assert_eq!(
            classify("step: sleep\n✻ Working… (esc to interrupt)\n❯ \n", P),
            Screen::Busy
        );
        assert_eq!(classify("Allow?\n❯ 1. Yes\n  2. No\n", P), Screen::Menu);
        assert_eq!(classify("loading…\n", P), Screen::Unknown);
        assert_eq!(classify("", P), Screen::Unknown);
        // A busy line long scrolled away is history, not the present.
        let old = format!("esc to interrupt\n{}❯ \n", "out\n".repeat(20));
        assert_eq!(classify(&old, P), Screen::Idle);
    }

    #[test]
    fn needles_and_input_checks() {
        assert_eq!(needle("\n  first line  \nsecond"), "first line");
        assert_eq!(needle(&"x".repeat(100)).len(), 40);
        assert!(input_holds("❯ first line [+2 lines]\n", P, "first line"));
        assert!(input_holds("❯ [Pasted text #1 +20 lines]\n", P, "anything"));
        assert!(!input_holds("❯ \n", P, "first line"));
        assert!(!input_holds("first line\n", P, "first line"));
    }
}
