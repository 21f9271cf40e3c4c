//! Rate and usage limits: how each CLI says it hit one, when its window resets, and whether a
//! start must wait for it.
//!
//! The witness (polecats) and the keeper (the mayor and crew) read each agent's pane against
//! its preset's `rate_limit_patterns`, and a dead one's exit status against its
//! `rate_limit_exit_codes` (`scheduler::watch`); a match records a hold on the agent's provider
//! account until the window resets (the time the CLI printed, else
//! `scheduler.rate_limit_window`, [`DEFAULT_WINDOW`] by default). While every account of a
//! provider is held, nothing starts on it: the scheduler keeps its beads queued, a direct sling
//! or a human's start of the mayor or crew says why, and the daemon's restart of the mayor or
//! crew waits.

use std::time::Duration;

use regex::Regex;

use crate::layout::Town;
use crate::settings::Settings;

/// How long a hold lasts when the CLI did not say when its window resets, unless
/// `scheduler.rate_limit_window` says otherwise.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(15 * 60);

/// The messages the built-in presets' CLIs print, as found in their own sources (Claude Code
/// 2.1: "You've hit your limit · resets 3pm", the older "Claude AI usage limit
/// reached|<epoch>", API errors naming a rate limit; Codex 0.169: "You've hit your usage
/// limit. … Try again at 3:45 PM."; Gemini 0.61: "Usage limit reached for <model>", "You have
/// exhausted your daily quota", "Quota exceeded"). The scripted agent stands in for Claude.
pub fn builtin_patterns(preset: &str) -> &'static [&'static str] {
    match preset {
        "claude" | "scripted" => &[
            r"(?i)usage limit reached",
            r"(?i)you've hit your (?:[a-z]+ )*limit",
            r"(?i)\brate[ _-]?limit(?:ed| reached| exceeded)\b",
        ],
        "codex" => &[
            r"(?i)you've hit your usage limit",
            r"(?i)\brate limit (?:reached|exceeded)\b",
        ],
        "gemini" => &[
            r"(?i)usage limit reached for",
            r"(?i)you have exhausted your (?:daily )?quota",
            r"(?i)\bquota exceeded\b",
        ],
        _ => &[],
    }
}

/// A preset's patterns: those its configuration gives, else its built-in ones; each must
/// compile (the bad one is returned).
pub fn preset_patterns(preset: &str, given: Option<&[String]>) -> Result<Vec<String>, String> {
    let patterns: Vec<String> = match given {
        Some(list) => list.to_vec(),
        None => builtin_patterns(preset)
            .iter()
            .map(|p| (*p).to_owned())
            .collect(),
    };
    match patterns.iter().find(|p| Regex::new(p).is_err()) {
        Some(bad) => Err(bad.clone()),
        None => Ok(patterns),
    }
}

/// A preset's rate-limit exit statuses: those its configuration gives, each from 1 to 255
/// (0 is a normal exit; the bad one is returned). None are built in: interactive, as we run
/// them, the pinned CLIs print their limit and stay at their prompt (the pane's text is the
/// signal); Gemini CLI 0.61 exits with its quota error's HTTP status (429, seen as 173) only
/// in its JSON non-interactive mode, and with 1, any error's status, otherwise.
pub fn preset_exit_codes(given: Option<&[i64]>) -> Result<Vec<u8>, i64> {
    given
        .unwrap_or_default()
        .iter()
        .map(|&code| u8::try_from(code).ok().filter(|&c| c != 0).ok_or(code))
        .collect()
}

/// A limit seen in a pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    /// The pane's line that said so.
    pub line: String,
    /// When the CLI said the window resets, if it did.
    pub resets_at: Option<jiff::Timestamp>,
}

impl Detected {
    /// When the hold ends: the reset the CLI printed, else `now` plus `window` (the town's
    /// `scheduler.rate_limit_window`); `None` when the printed reset has passed (an old
    /// message still on the screen).
    pub fn until(&self, now: jiff::Timestamp, window: Duration) -> Option<jiff::Timestamp> {
        match self.resets_at {
            Some(t) if t > now => Some(t),
            Some(_) => None,
            None => Some(now + window),
        }
    }
}

/// The last line of `pane` matching one of `patterns`, with its reset time if it gives one.
pub fn detect(patterns: &[String], pane: &str, now: jiff::Timestamp) -> Option<Detected> {
    let regexes: Vec<Regex> = patterns.iter().filter_map(|p| Regex::new(p).ok()).collect();
    if regexes.is_empty() {
        return None;
    }
    let line = pane
        .lines()
        .rev()
        .find(|line| regexes.iter().any(|r| r.is_match(line)))?;
    Some(Detected {
        line: line.trim().to_owned(),
        resets_at: parse_reset(line, now),
    })
}

/// A reset time in a limit message: Claude's `|<epoch seconds>`, "resets in 5 minutes", or
/// a clock time ("resets 3pm", "try again at 3:45 PM"; read as UTC, the next one after now).
fn parse_reset(line: &str, now: jiff::Timestamp) -> Option<jiff::Timestamp> {
    let epoch = Regex::new(r"\|(\d{10})\b").ok()?;
    if let Some(c) = epoch.captures(line) {
        return jiff::Timestamp::from_second(c[1].parse().ok()?).ok();
    }
    let relative =
        Regex::new(r"(?i)\bin (\d+) ?(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h)\b").ok()?;
    if let Some(c) = relative.captures(line) {
        let n: u64 = c[1].parse().ok()?;
        let unit = match c[2].to_ascii_lowercase().chars().next()? {
            's' => 1,
            'm' => 60,
            _ => 3600,
        };
        return Some(now + Duration::from_secs(n * unit));
    }
    let clock =
        Regex::new(r"(?i)\b(?:resets?|again at|at)\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\b").ok()?;
    let c = clock.captures(line)?;
    let mut hour: i8 = c[1].parse().ok()?;
    let minute: i8 = c.get(2).map_or(Some(0), |m| m.as_str().parse().ok())?;
    match c.get(3).map(|m| m.as_str().to_ascii_lowercase()).as_deref() {
        Some("pm") if hour < 12 => hour += 12,
        Some("am") if hour == 12 => hour = 0,
        _ => {}
    }
    let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    let at = today
        .at(hour, minute, 0, 0)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()?;
    let at = at.timestamp();
    Some(if at > now {
        at
    } else {
        at + Duration::from_secs(24 * 3600)
    })
}

/// The hold that keeps an agent of `agent` (or the polecat default) from starting now: every
/// account of its provider is held. `None` when it may start.
pub fn held_for(
    store: &beads::Store,
    town: &Town,
    settings: &Settings,
    agent: Option<&str>,
    now: jiff::Timestamp,
) -> beads::Result<Option<beads::RateHold>> {
    let Ok(user) = crate::agents::load_user_presets(&crate::agents::user_presets_path(town.root()))
    else {
        return Ok(None);
    };
    let request = crate::agents::AgentRequest {
        role: "polecat",
        settings,
        crew: None,
        flag: agent,
    };
    let Ok(preset) = crate::agents::resolve_agent(&request, &user) else {
        return Ok(None);
    };
    Ok(
        crate::scheduler::admission::account_for(store, &preset.name, now)?
            .err()
            .map(|held| held.0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> jiff::Timestamp {
        "2026-03-01T12:00:00Z".parse().unwrap()
    }

    fn claude() -> Vec<String> {
        preset_patterns("claude", None).unwrap()
    }

    #[test]
    fn claude_codex_and_gemini_messages_are_recognised() {
        let cases = [
            ("claude", "⎿  Claude AI usage limit reached|1772373600"),
            ("claude", "You've hit your limit · resets 3pm (UTC)"),
            (
                "codex",
                "■ You've hit your usage limit. Try again at 3:45 PM.",
            ),
            ("gemini", "Usage limit reached for gemini-2.5-pro."),
            (
                "gemini",
                "You have exhausted your daily quota on this model.",
            ),
        ];
        for (preset, line) in cases {
            let patterns = preset_patterns(preset, None).unwrap();
            let pane = format!("some work\n{line}\n❯ ");
            let found =
                detect(&patterns, &pane, now()).unwrap_or_else(|| panic!("{preset}: {line}"));
            assert_eq!(found.line, line.trim());
        }
        assert!(detect(&claude(), "all fine\n❯ ", now()).is_none());
        assert!(preset_patterns("amp", None).unwrap().is_empty());
    }

    #[test]
    fn the_reset_time_is_read_where_the_cli_prints_one() {
        let at = |line: &str| detect(&claude(), line, now()).and_then(|d| d.resets_at);
        assert_eq!(
            at("Claude AI usage limit reached|1772373600"),
            Some(jiff::Timestamp::from_second(1_772_373_600).unwrap())
        );
        assert_eq!(
            at("You've hit your limit · resets 3pm"),
            Some("2026-03-01T15:00:00Z".parse().unwrap())
        );
        // A time already past today is tomorrow's.
        assert_eq!(
            at("You've hit your limit · resets 9am"),
            Some("2026-03-02T09:00:00Z".parse().unwrap())
        );
        assert_eq!(
            at("rate limited, try again in 90 seconds"),
            Some("2026-03-01T12:01:30Z".parse().unwrap())
        );
        // No time given: the default window.
        let d = detect(&claude(), "usage limit reached", now()).unwrap();
        assert_eq!(d.until(now(), DEFAULT_WINDOW), Some(now() + DEFAULT_WINDOW));
        // A message whose window has passed holds nothing.
        let old = detect(&claude(), "Claude AI usage limit reached|1772360000", now()).unwrap();
        assert_eq!(old.until(now(), DEFAULT_WINDOW), None);
    }

    #[test]
    fn exit_codes_are_given_by_the_preset_and_checked() {
        assert_eq!(preset_exit_codes(None), Ok(Vec::new()));
        assert_eq!(preset_exit_codes(Some(&[75, 2])), Ok(vec![75, 2]));
        for bad in [0, 256, -1] {
            assert_eq!(preset_exit_codes(Some(&[3, bad])), Err(bad));
        }
    }

    #[test]
    fn a_pattern_that_does_not_compile_is_named() {
        assert_eq!(
            preset_patterns("x", Some(&["ok".into(), "(".into()])),
            Err("(".into())
        );
    }
}
