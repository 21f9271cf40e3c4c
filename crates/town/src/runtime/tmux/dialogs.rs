//! The startup screens a preset declares ([`DialogRule`]), read from a captured pane: which
//! one shows, and the menu under it with the option its cursor is on.
//!
//! A menu is read, never assumed: the cursor line is a cursor mark (`❯`, `›`, `>`, `●`) and a
//! label, and its options are the lines around it whose labels start in the same column
//! (`❯ No, exit` over `  Yes, I trust this folder`). Claude Code draws its menus without
//! numbers and with the cursor on the refusing option, so readiness moves the cursor one step,
//! reads the pane again, and presses Enter only once the pane shows the wanted option selected.

use crate::agents::{DialogAnswer, DialogRule};
use crate::runtime::is_prompt_line;

/// The marks an agent CLI draws before the selected option of a menu (Gemini CLI's is a
/// radio button, `●`).
const CURSORS: [char; 4] = ['❯', '›', '>', '●'];

/// A menu as the pane shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Menu {
    /// The options' labels, top to bottom, numbers (`1. `) left out.
    pub options: Vec<String>,
    /// The option the cursor is on.
    pub selected: usize,
}

impl Menu {
    /// The option whose label starts with `label` (case-insensitive).
    pub fn find(&self, label: &str) -> Option<usize> {
        let label = label.to_lowercase();
        self.options
            .iter()
            .position(|o| o.to_lowercase().starts_with(&label))
    }
}

/// What to do next about a declared dialog on the pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Step {
    /// Send these keys.
    Keys(Vec<String>),
    /// Nothing answers it: fail with this.
    Refuse(String),
    /// Not answerable yet (its menu is not drawn yet).
    Wait,
}

/// The declared dialog showing on `lines`, if any: the one whose first `when` text is lowest
/// on the screen, with every `when` text on or below that line and no empty input prompt
/// (`prefix` alone) below it. With the lines it spans.
pub(super) fn showing<'r, 'l>(
    lines: &'l [&'l str],
    prefix: &str,
    rules: &'r [DialogRule],
) -> Option<(&'r DialogRule, &'l [&'l str])> {
    rules
        .iter()
        .filter_map(|rule| {
            let first = rule.when.first()?.to_lowercase();
            let start = lines
                .iter()
                .rposition(|l| l.to_lowercase().contains(&first))?;
            let region = &lines[start..];
            let text = region.join("\n").to_lowercase();
            let all = rule.when.iter().all(|w| text.contains(&w.to_lowercase()));
            let answered = region.iter().any(|l| is_empty_prompt(l, prefix));
            (all && !answered).then_some((start, rule, region))
        })
        .max_by_key(|(start, ..)| *start)
        .map(|(_, rule, region)| (rule, region))
}

/// What answers `rule` on `region` now. For a menu choice: Enter when the cursor is on the
/// option, else one step towards it (the caller reads the pane again before the next).
pub(super) fn next_step(rule: &DialogRule, region: &[&str]) -> Step {
    match &rule.answer {
        DialogAnswer::Keys(keys) => Step::Keys(keys.clone()),
        DialogAnswer::Refuse(why) => Step::Refuse(why.clone()),
        DialogAnswer::Choose(label) => {
            let Some(menu) = last_menu(region) else {
                return Step::Wait;
            };
            let key = match menu.find(label) {
                None => {
                    return Step::Refuse(format!(
                        "its {} screen has no option `{label}` (it offers: {})",
                        rule.name,
                        menu.options.join(", ")
                    ));
                }
                Some(wanted) if wanted == menu.selected => "Enter",
                Some(wanted) if wanted < menu.selected => "Up",
                Some(_) => "Down",
            };
            Step::Keys(vec![key.to_owned()])
        }
    }
}

/// The lowest menu on `lines`.
pub(crate) fn last_menu(lines: &[&str]) -> Option<Menu> {
    (0..lines.len()).rev().find_map(|at| menu_at(lines, at))
}

/// The menu whose cursor is on line `at`: that line is a cursor and a label, with at least
/// one option beside it and the keys' hint (`Enter to confirm · Esc to cancel`) a few lines
/// below, which tells a menu from an input prompt over a status line.
pub(super) fn menu_at(lines: &[&str], at: usize) -> Option<Menu> {
    let (column, label) = cursor_line(lines[at])?;
    let option = |line: &&str| {
        let indent = line.chars().take_while(|c| is_margin(*c)).count();
        let rest = unframed(line);
        (indent == column && !rest.is_empty() && !is_keys_hint(rest))
            .then(|| without_number(rest).to_owned())
    };
    let above: Vec<String> = lines[..at].iter().rev().map_while(option).collect();
    let below: Vec<String> = lines[at + 1..].iter().map_while(option).collect();
    let after = at + 1 + below.len();
    let hinted = lines[after..]
        .iter()
        .filter(|l| !l.trim().is_empty())
        .take(3)
        .any(|l| is_keys_hint(l.trim()));
    // Gemini CLI's trust dialog has no hint, but numbers its options.
    let numbered = without_number(label) != label;
    let mut options: Vec<String> = above.into_iter().rev().collect();
    let selected = options.len();
    options.push(without_number(label).to_owned());
    options.extend(below);
    (options.len() >= 2 && (hinted || numbered)).then_some(Menu { options, selected })
}

/// What stands left of a line's text: spaces, and the side of a frame (`│`) Gemini CLI draws
/// round its dialogs.
fn is_margin(c: char) -> bool {
    c == ' ' || c == '│'
}

/// A line's text without its margins and the frame's right side.
fn unframed(line: &str) -> &str {
    line.trim_matches(|c: char| c.is_whitespace() || c == '│')
}

/// The line under a menu naming its keys: Claude Code's `Enter to confirm · Esc to cancel`,
/// Codex's `enter continue · esc back` and `Press enter to continue`, Gemini CLI's `(Use Enter
/// to select)`.
fn is_keys_hint(text: &str) -> bool {
    let text = text.to_lowercase();
    text.contains("enter")
        && (text.contains("esc") || text.starts_with("press enter") || text.contains("use enter"))
}

/// A cursor line's label and the column (in characters) it starts at.
fn cursor_line(line: &str) -> Option<(usize, &str)> {
    let indent = line.chars().take_while(|c| is_margin(*c)).count();
    let rest = line.trim_start_matches(is_margin);
    let mark = rest.chars().next().filter(|c| CURSORS.contains(c))?;
    let after = &rest[mark.len_utf8()..];
    let label = after.trim_start_matches(' ');
    let gap = after.len() - label.len();
    let label = unframed(label);
    (gap > 0 && !label.is_empty()).then_some((indent + 1 + gap, label))
}

/// `1. Yes` → `Yes`.
fn without_number(label: &str) -> &str {
    let digits = label.chars().take_while(char::is_ascii_digit).count();
    match label[digits..].strip_prefix(['.', ')']) {
        Some(rest) if digits > 0 => rest.trim_start(),
        _ => label,
    }
}

/// An input prompt with nothing typed after it: the agent is past its dialogs.
fn is_empty_prompt(line: &str, prefix: &str) -> bool {
    is_prompt_line(line, prefix) && {
        let line = line.trim();
        line.strip_prefix(prefix.trim())
            .is_some_and(|rest| rest.trim().is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::Readiness;
    use crate::agents::builtin;

    /// Claude Code 2.1.328's startup screens, as captured from the real CLI (the frame's rule
    /// and blank lines left out).
    pub(crate) mod claude {
        pub const TRUST: &str = " Accessing workspace:\n /w/proj\n\
            \x20Quick safety check: Is this a project you created or one you trust?\n\
            \x20Claude Code'll be able to read, edit, and execute files here.\n\
            \x20Security guide\n\
            \x20❯ No, exit\n\
            \x20  Yes, I trust this folder\n\
            \x20Enter to confirm · Esc to cancel\n";
        pub const API_KEY: &str = "  Detected a custom API key in your environment\n\
            \x20 ANTHROPIC_API_KEY: sk-ant-...est-0123456789abcdef\n\
            \x20 Do you want to use this API key?\n\
            \x20   Yes\n\
            \x20 ❯ No (recommended)\n\
            \x20 Enter to confirm · Esc to cancel\n";
        pub const BYPASS: &str = "  WARNING: Claude Code running in Bypass Permissions mode\n\
            \x20 By proceeding, you accept all responsibility for actions taken while running \
            in Bypass Permissions mode.\n\
            \x20 ❯ No, exit\n\
            \x20   Yes, I accept\n\
            \x20 Enter to confirm · Esc to cancel\n";
        /// Started without a key or a usable login, its argument prompt refused.
        pub const NOT_LOGGED_IN: &str = "❯ hello\n  ⎿  Not logged in · Please run /login\n\
            ────────────────\n\
            ❯ Once fixed, resend your message\n\
            ────────────────\n\
            \x20 ⏵⏵ bypass permissions on (shift+tab to cycle) · ← for agents    \
            Not logged in · run /login\n";
        pub const READY: &str = " ▐▛███▛█   Claude Code v2.1.328\n\
            ▝▜██████▀  Opus 5.5 · API Usage Billing\n\
            ────────────────\n\
            ❯ \n\
            ────────────────\n\
            \x20 ⏵⏵ bypass permissions on (shift+tab to cycle) · ← for agents\n";
    }

    fn claude_rules() -> Vec<DialogRule> {
        match builtin("claude").unwrap().readiness {
            Readiness::Prompt { dialogs, .. } => dialogs,
            Readiness::Delay { .. } => panic!("claude waits for its prompt"),
        }
    }

    fn step(screen: &str) -> Option<(String, Step)> {
        let rules = claude_rules();
        let lines: Vec<&str> = screen.lines().collect();
        showing(&lines, "❯ ", &rules)
            .map(|(rule, region)| (rule.name.clone(), next_step(rule, region)))
    }

    fn keys(k: &str) -> Step {
        Step::Keys(vec![k.to_owned()])
    }

    #[test]
    fn menus_are_read_with_the_option_under_the_cursor() {
        let lines: Vec<&str> = claude::API_KEY.lines().collect();
        assert_eq!(
            last_menu(&lines),
            Some(Menu {
                options: vec!["Yes".into(), "No (recommended)".into()],
                selected: 1
            })
        );
        let numbered = [
            "Trust?",
            "› 1. Trust and continue",
            "  2. Back",
            "  enter continue · esc back",
        ];
        assert_eq!(
            last_menu(&numbered),
            Some(Menu {
                options: vec!["Trust and continue".into(), "Back".into()],
                selected: 0
            })
        );
        let prompt: Vec<&str> = claude::READY.lines().collect();
        assert_eq!(last_menu(&prompt), None, "an input prompt is no menu");
    }

    /// Gemini CLI 0.61's framed startup screens, as captured from the real CLI (blank framed
    /// lines kept: they end a menu).
    mod gemini {
        pub const TRUST: &str = " ╭──────────────────────────────────────────╮\n\
            \x20│ Do you trust the files in this folder?                                     │\n\
            \x20│                                                                            │\n\
            \x20│ ● 1. Trust folder (proj)                                                   │\n\
            \x20│   2. Trust parent folder (gem1)                                            │\n\
            \x20│   3. Don't trust                                                           │\n\
            \x20│                                                                            │\n\
            \x20╰──────────────────────────────────────────╯\n";
        pub const AUTH: &str = "╭──────────────────────────────────────────╮\n\
            │ ? Get started                                                                │\n\
            │   How would you like to authenticate for this project?                       │\n\
            │                                                                              │\n\
            │     1. Sign in with Google                                                   │\n\
            │   ● 2. Use Gemini API Key                                                    │\n\
            │     3. Vertex AI                                                             │\n\
            │                                                                              │\n\
            │   Existing API key detected (GEMINI_API_KEY). Select \"Gemini API Key\" option │\n\
            │                                                                              │\n\
            │   (Use Enter to select)                                                      │\n\
            ╰──────────────────────────────────────────╯\n";
        pub const API_KEY: &str = "│ Enter Gemini API Key                                       │\n\
            │ ╭────────────────────────────────────────────╮ │\n\
            │ │ sk-test-key                                │ │\n\
            │ ╰────────────────────────────────────────────╯ │\n\
            │ Existing API key detected (GEMINI_API_KEY). Select \"Gemini API Key\" option │\n\
            │ (Press Enter to submit, Esc to cancel, Ctrl+C to clear stored key)         │\n";
    }

    #[test]
    fn gemini_s_framed_screens_are_read_and_answered() {
        let rules = match builtin("gemini").unwrap().readiness {
            Readiness::Prompt { dialogs, .. } => dialogs,
            Readiness::Delay { .. } => panic!("gemini waits for its prompt"),
        };
        let step = |screen: &str| {
            let lines: Vec<&str> = screen.lines().collect();
            showing(&lines, "* ", &rules).map(|(rule, region)| next_step(rule, region))
        };
        let trust: Vec<&str> = gemini::TRUST.lines().collect();
        assert_eq!(
            last_menu(&trust).map(|m| (m.options.len(), m.selected)),
            Some((3, 0))
        );
        assert_eq!(step(gemini::TRUST), Some(keys("Enter")));
        assert_eq!(step(gemini::AUTH), Some(keys("Enter")));
        let on_google = gemini::AUTH
            .replace("│     1. Sign in", "│   ● 1. Sign in")
            .replace("│   ● 2. Use", "│     2. Use");
        assert_eq!(step(&on_google), Some(keys("Down")));
        assert_eq!(step(gemini::API_KEY), Some(keys("Enter")));
        let keyless = gemini::AUTH.replace(
            "Existing API key detected (GEMINI_API_KEY). Select \"Gemini API Key\" option",
            "No authentication method selected.",
        );
        let Some(Step::Refuse(why)) = step(&keyless) else {
            panic!("no key, nothing to answer with");
        };
        assert!(why.contains("GEMINI_API_KEY"), "{why}");
        let no_key_form = gemini::API_KEY
            .replace("sk-test-key", "Paste your API key here")
            .replace(
                "Existing API key detected (GEMINI_API_KEY). Select \"Gemini API Key\" option",
                "",
            );
        assert!(matches!(step(&no_key_form), Some(Step::Refuse(_))));
    }

    #[test]
    fn claude_s_screens_are_answered_by_moving_the_cursor_then_enter() {
        let trust = "workspace trust".to_owned();
        assert_eq!(step(claude::TRUST), Some((trust.clone(), keys("Down"))));
        let moved = claude::TRUST
            .replace("❯ No, exit", "  No, exit")
            .replace("  Yes, I trust", "❯ Yes, I trust");
        assert_eq!(step(&moved), Some((trust, keys("Enter"))));

        let key = "API key from the environment".to_owned();
        assert_eq!(step(claude::API_KEY), Some((key, keys("Up"))));
        assert_eq!(
            step(claude::BYPASS),
            Some(("bypass-permissions warning".into(), keys("Down")))
        );
        assert_eq!(step(claude::READY), None);
        let Some((name, Step::Refuse(why))) = step(claude::NOT_LOGGED_IN) else {
            panic!("a start without credentials goes on");
        };
        assert!(
            name == "sign-in notice" && why.contains("ANTHROPIC_API_KEY"),
            "{why}"
        );
        // Answered screens above the next one, or above the prompt, are not showing.
        let later = format!("{}{}", claude::TRUST, claude::API_KEY);
        assert_eq!(
            step(&later).map(|(name, _)| name),
            Some("API key from the environment".into())
        );
        assert_eq!(step(&format!("{}{}", claude::BYPASS, claude::READY)), None);
    }

    #[test]
    fn a_menu_without_the_wanted_option_is_refused_naming_what_it_offers() {
        let odd = claude::BYPASS.replace("Yes, I accept", "Maybe later");
        let rule = DialogRule {
            name: "warning".into(),
            when: vec!["Bypass Permissions mode".into()],
            answer: DialogAnswer::Choose("Yes, I accept".into()),
        };
        let lines: Vec<&str> = odd.lines().collect();
        let (rule, region) = showing(&lines, "❯ ", std::slice::from_ref(&rule)).unwrap();
        let Step::Refuse(why) = next_step(rule, region) else {
            panic!("answered a menu without the option");
        };
        assert!(
            why.contains("Yes, I accept") && why.contains("No, exit, Maybe later"),
            "{why}"
        );
    }
}
