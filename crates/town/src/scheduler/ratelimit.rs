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
/// exhausted your daily quota", "Quota exceeded", and its footer's quota display at zero,
/// "Limit reached, resets in 2h 5m" — the terse "Limit reached" alone is too common a phrase to
/// take). The scripted agent stands in for Claude.
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
            r"(?i)\blimit reached, resets in\b",
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
    let lines: Vec<&str> = pane.lines().collect();
    let at = lines
        .iter()
        .rposition(|line| regexes.iter().any(|r| r.is_match(line)))?;
    // Gemini CLI gives the reset on the line after ("Access resets at 3:45 PM EST.").
    let resets_at = parse_reset(lines[at], now)
        .or_else(|| lines.get(at + 1).and_then(|next| parse_reset(next, now)));
    Some(Detected {
        line: lines[at].trim().to_owned(),
        resets_at,
    })
}

/// A reset time in a limit message: Claude's `|<epoch seconds>`, a duration ("resets in 5
/// minutes", "resets in 1h 30m"), or a clock time read by [`parse_clock`] in the user's time
/// zone (`TZ`, else the system's).
fn parse_reset(line: &str, now: jiff::Timestamp) -> Option<jiff::Timestamp> {
    let epoch = Regex::new(r"\|(\d{10})\b").ok()?;
    if let Some(c) = epoch.captures(line) {
        return jiff::Timestamp::from_second(c[1].parse().ok()?).ok();
    }
    // A duration of one or more parts, as Claude Code prints them ("resets in 1h 30m").
    let part = r"\d+ ?(?:days?|d|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)\b";
    let relative = Regex::new(&format!(r"(?i)\bin ((?:{part}\s*)+)")).ok()?;
    if let Some(c) = relative.captures(line) {
        let parts = Regex::new(r"(?i)(\d+) ?([a-z])").ok()?;
        let mut secs = 0u64;
        for p in parts.captures_iter(&c[1]) {
            let n: u64 = p[1].parse().ok()?;
            let unit = match p[2].to_ascii_lowercase().as_str() {
                "s" => 1,
                "m" => 60,
                "h" => 3600,
                _ => 86_400,
            };
            secs = secs.checked_add(n.checked_mul(unit)?)?;
        }
        return Some(now + Duration::from_secs(secs));
    }
    parse_clock(line, now, &jiff::tz::TimeZone::system())
}

/// A clock time the CLI printed in the user's local time, `local` (unless it names its zone),
/// as the instant of its next occurrence after `now`. The forms, from the CLIs' sources:
/// Claude Code 2.1 "resets 3pm (Europe/Berlin)", "resets at 3:30pm", more than a day out
/// "resets Dec 8, 3pm (Europe/Berlin)" (a year when it is another one: "Jan 2, 2027, 3pm");
/// Codex "Try again at 3:45 PM." or, on another day, "Try again at Dec 8th, 2026 3:45 PM.";
/// Gemini CLI "Access resets at 3:45 PM EST." (its zone's abbreviation is the local zone's).
/// A wall time that a DST change skips or repeats is read as jiff's `compatible` does (the
/// later instant of a gap, the earlier of a fold).
fn parse_clock(
    line: &str,
    now: jiff::Timestamp,
    local: &jiff::tz::TimeZone,
) -> Option<jiff::Timestamp> {
    let clock = Regex::new(
        r"(?ix)\b(?:resets?(?:\s+at)?|again\s+at|at)\s+
          (?:(?P<month>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+
             (?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?:(?P<year>\d{4}),?\s+)?(?:at\s+)?)?
          (?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<half>am|pm)?\b
          (?:\s*\((?P<zone>[A-Za-z][A-Za-z0-9_+/-]*)\))?",
    )
    .ok()?;
    let c = clock.captures(line)?;
    let mut hour: i8 = c["hour"].parse().ok()?;
    let minute: i8 = c
        .name("minute")
        .map_or(Some(0), |m| m.as_str().parse().ok())?;
    match c
        .name("half")
        .map(|m| m.as_str().to_ascii_lowercase())
        .as_deref()
    {
        Some("pm") if hour < 12 => hour += 12,
        Some("am") if hour == 12 => hour = 0,
        _ => {}
    }
    let tz = c
        .name("zone")
        .and_then(|z| jiff::tz::TimeZone::get(z.as_str()).ok())
        .unwrap_or_else(|| local.clone());
    let today = now.to_zoned(tz.clone()).date();
    let time = jiff::civil::Time::new(hour, minute, 0, 0).ok()?;
    let at = |date: jiff::civil::Date| -> Option<jiff::Timestamp> {
        let zoned = tz.to_ambiguous_zoned(date.to_datetime(time)).compatible();
        zoned.ok().map(|z| z.timestamp())
    };
    let Some(month) = c.name("month") else {
        // A bare time: today's, else tomorrow's (a calendar day on, not 24 hours).
        let first = at(today)?;
        return if first > now {
            Some(first)
        } else {
            at(today.tomorrow().ok()?)
        };
    };
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let prefix = month.as_str()[..3].to_ascii_lowercase();
    let month = MONTHS.iter().position(|m| *m == prefix)? as i8 + 1;
    let day: i8 = c["day"].parse().ok()?;
    let on = |year: i16| jiff::civil::Date::new(year, month, day).ok().and_then(at);
    match c.name("year") {
        Some(year) => on(year.as_str().parse().ok()?),
        // No year: this year's date, else next year's (a message read across New Year).
        None => on(today.year())
            .filter(|t| *t > now)
            .or_else(|| on(today.year() + 1)),
    }
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
            (
                "gemini",
                "~/repo   no sandbox   Limit reached, resets in 2h 5m",
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
            at("rate limited, try again in 90 seconds"),
            Some("2026-03-01T12:01:30Z".parse().unwrap())
        );
        assert_eq!(
            at("Claude usage limit reached · resets in 1h 30m"),
            Some("2026-03-01T13:30:00Z".parse().unwrap())
        );
        assert_eq!(
            at("usage limit reached, resets in 2 days 3 hours"),
            Some("2026-03-03T15:00:00Z".parse().unwrap())
        );
        // A reset on the line after the message, where Gemini CLI prints it, is read too (here
        // as a duration, which reads the same in every zone).
        let gemini = preset_patterns("gemini", None).unwrap();
        let pane = "Usage limit reached for gemini-2.5-pro.\nAccess resets in 2 hours 5 minutes.\n/stats model for usage details";
        assert_eq!(
            detect(&gemini, pane, now()).and_then(|d| d.resets_at),
            Some("2026-03-01T14:05:00Z".parse().unwrap())
        );
        // Gemini's footer at zero quota, its reset in the terse form.
        assert_eq!(
            detect(
                &gemini,
                "gemini-2.5-pro  limit reached, resets in 2h 5m",
                now()
            )
            .and_then(|d| d.resets_at),
            Some("2026-03-01T14:05:00Z".parse().unwrap())
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

    fn zone(name: &str) -> jiff::tz::TimeZone {
        jiff::tz::TimeZone::get(name).unwrap()
    }

    fn ts(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_clock_time_is_the_users_local_time_next_after_now() {
        // 12:00 UTC is 07:00 in New York and 17:30 in Kolkata.
        let ny = zone("America/New_York");
        let kolkata = zone("Asia/Kolkata");
        let at = |line: &str, tz: &jiff::tz::TimeZone| parse_clock(line, now(), tz);
        assert_eq!(
            at("You've hit your limit · resets 3pm", &ny),
            Some(ts("2026-03-01T20:00:00Z"))
        );
        assert_eq!(
            at("You've hit your limit · resets 11pm", &kolkata),
            Some(ts("2026-03-01T17:30:00Z"))
        );
        // Already past there today: tomorrow's.
        assert_eq!(
            at("You've hit your limit · resets 6am", &ny),
            Some(ts("2026-03-02T11:00:00Z"))
        );
        assert_eq!(
            at(
                "■ You've hit your usage limit. Try again at 3:45 PM.",
                &kolkata
            ),
            Some(ts("2026-03-02T10:15:00Z"))
        );
        assert_eq!(
            at("usage limit resets at 12:30am", &kolkata),
            Some(ts("2026-03-01T19:00:00Z"))
        );
    }

    #[test]
    fn a_zone_or_date_the_cli_names_is_honoured() {
        let ny = zone("America/New_York");
        let at = |line: &str| parse_clock(line, now(), &ny);
        // Claude Code names the zone it formatted in; 15:00 in Berlin is 14:00 UTC.
        assert_eq!(
            at("You've hit your limit · resets 3pm (Europe/Berlin)"),
            Some(ts("2026-03-01T14:00:00Z"))
        );
        assert_eq!(
            at("You've hit your limit · resets 3pm (UTC)"),
            Some(ts("2026-03-01T15:00:00Z"))
        );
        // An unknown zone name falls back to the local zone.
        assert_eq!(
            at("resets 3pm (Nowhere/Special)"),
            Some(ts("2026-03-01T20:00:00Z"))
        );
        // Gemini CLI's abbreviation names the local zone it formatted in.
        assert_eq!(
            at("Access resets at 3:45 PM EST."),
            Some(ts("2026-03-01T20:45:00Z"))
        );
        // More than a day out, with a date (and a year when it is another one).
        assert_eq!(
            at("You've hit your weekly limit · resets Dec 8, 3:30pm (Europe/Berlin)"),
            Some(ts("2026-12-08T14:30:00Z"))
        );
        assert_eq!(
            at("You've hit your limit · resets Jan 2, 2027, 3pm (Asia/Kolkata)"),
            Some(ts("2027-01-02T09:30:00Z"))
        );
        assert_eq!(
            at("You've hit your usage limit. Try again at Mar 3rd, 2026 3:45 PM."),
            Some(ts("2026-03-03T20:45:00Z"))
        );
        // A date without a year already past is next year's.
        assert_eq!(at("resets Feb 28, 9am"), Some(ts("2027-02-28T14:00:00Z")));
    }

    #[test]
    fn clock_times_across_a_dst_change_keep_the_wall_time() {
        let ny = zone("America/New_York");
        // Saturday 15:00 EST; tomorrow 9am is in EDT (UTC-4), not 24 hours after today's.
        assert_eq!(
            parse_clock("resets 9am", ts("2026-03-07T20:00:00Z"), &ny),
            Some(ts("2026-03-08T13:00:00Z"))
        );
        // 2:30am does not exist on 8 March: the instant after the gap.
        assert_eq!(
            parse_clock("resets 2:30am", ts("2026-03-08T06:00:00Z"), &ny),
            Some(ts("2026-03-08T07:30:00Z"))
        );
        // 1:30am happens twice on 1 November: the first of them (EDT).
        assert_eq!(
            parse_clock("resets 1:30am", ts("2026-11-01T04:00:00Z"), &ny),
            Some(ts("2026-11-01T05:30:00Z"))
        );
    }

    #[test]
    fn a_pattern_that_does_not_compile_is_named() {
        assert_eq!(
            preset_patterns("x", Some(&["ok".into(), "(".into()])),
            Err("(".into())
        );
    }
}
