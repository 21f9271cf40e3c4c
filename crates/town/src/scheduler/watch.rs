//! The one rate-limit check of every supervised agent: the witness's polecats and the keeper's
//! mayor and crew each pass their look at an agent here.
//!
//! An agent is rate-limited when its pane shows one of its preset's `rate_limit_patterns`, or
//! when its process exited with one of its `rate_limit_exit_codes` (the pane's text, which
//! `remain-on-exit` keeps, may still give the reset time). A new limit records a hold on the
//! account the agent was started on (`store.assigned_account`) until the window resets; while
//! the hold lasts the caller leaves the agent alone (no nudge, no restart in a loop).

use std::collections::HashMap;
use std::time::Duration;

use jiff::Timestamp;

use super::accounts;
use super::ratelimit::{Detected, detect};
use crate::agents::AgentPreset;

/// One look at an agent.
#[derive(Debug, Clone, Copy)]
pub struct Look<'a> {
    /// Its address (`gastown/polecats/nux`, `mayor/`, `gastown/crew/max`), under which its
    /// account is assigned.
    pub address: &'a str,
    /// The generation of its session: a new one forgets the limit seen in the last.
    pub generation: i64,
    /// Its pane's text (empty when it could not be read).
    pub screen: &'a str,
    /// The status its process exited with, once it has and the runtime knows it.
    pub exit_status: Option<i32>,
}

/// A limit in force on the agent's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limited {
    pub provider: String,
    /// The account's key, `<provider>/<name>`.
    pub account: String,
    /// Recorded at this look: the agent's first sign of this limit.
    pub new: bool,
}

/// The limit `look` shows for `preset`: its pane's last matching line, else a rate-limit exit
/// status (no reset time: the hold lasts the town's default window).
pub fn detect_in(preset: &AgentPreset, look: &Look<'_>, now: Timestamp) -> Option<Detected> {
    let text = detect(&preset.rate_limit_patterns, look.screen, now);
    let exited_on_limit = look
        .exit_status
        .and_then(|s| u8::try_from(s).ok())
        .is_some_and(|s| preset.rate_limit_exit_codes.contains(&s));
    match (text, look.exit_status) {
        (Some(found), _) => Some(found),
        (None, Some(status)) if exited_on_limit => Some(Detected {
            line: format!("exited with status {status}"),
            resets_at: None,
        }),
        _ => None,
    }
}

/// Remembers the limit last recorded per agent (by generation), so that one message on a
/// screen, or one exit, is one hold and not one per look.
#[derive(Debug, Default)]
pub struct Watcher {
    seen: HashMap<String, (i64, String)>,
}

impl Watcher {
    /// Whether the agent of `look` is rate-limited now; a new limit records its hold, until
    /// the reset its CLI printed, else for `window` (`scheduler.rate_limit_window`).
    pub fn look(
        &mut self,
        store: &mut beads::Store,
        preset: &AgentPreset,
        look: &Look<'_>,
        now: Timestamp,
        window: Duration,
    ) -> beads::Result<Option<Limited>> {
        // Forgotten only with a new generation: a screen that failed to capture once must not
        // make the same message a new hold.
        if self
            .seen
            .get(look.address)
            .is_some_and(|(generation, _)| *generation != look.generation)
        {
            self.seen.remove(look.address);
        }
        let Some(found) = detect_in(preset, look, now) else {
            return Ok(None);
        };
        let (provider, name) = store
            .assigned_account(look.address)?
            .unwrap_or_else(|| (preset.name.clone(), accounts::IMPLICIT.to_owned()));
        let account = format!("{provider}/{name}");
        let seen = (look.generation, found.line.clone());
        let hold = accounts::hold_of(store, &account, now)?;
        // A hold in force that this agent's same line recorded is this sighting, recorded by
        // a watcher that has since restarted (a daemon restart): held as it is, not extended.
        let recorded = hold
            .as_ref()
            .is_some_and(|h| h.seen_in == look.address && h.reason == found.line);
        if self.seen.get(look.address) == Some(&seen) || recorded {
            self.seen.insert(look.address.to_owned(), seen);
            // Seen before: limited while its account's hold lasts, judged as usual after.
            return Ok(hold.is_some().then_some(Limited {
                provider,
                account,
                new: false,
            }));
        }
        self.seen.insert(look.address.to_owned(), seen);
        // Its printed window is over already: an old message, nothing to hold.
        let Some(until) = found.until(now, window) else {
            return Ok(None);
        };
        tracing::warn!(agent = %look.address, %account, until = %until, line = %found.line, "rate limit");
        store.set_hold(
            &account,
            &provider,
            &beads::store::format_ts(until),
            &found.line,
            look.address,
        )?;
        Ok(Some(Limited {
            provider,
            account,
            new: true,
        }))
    }

    /// Forgets agents no longer watched.
    pub fn retain(&mut self, watched: impl Fn(&str) -> bool) {
        self.seen.retain(|address, _| watched(address));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(300);

    fn now() -> Timestamp {
        "2026-03-01T12:00:00Z".parse().unwrap()
    }

    fn preset(codes: &[u8]) -> AgentPreset {
        let mut p = crate::agents::preset(
            "claude",
            &crate::agents::UserPresets::default(),
            &crate::settings::Settings::default(),
        )
        .unwrap();
        p.rate_limit_exit_codes = codes.to_vec();
        p
    }

    fn look<'a>(screen: &'a str, exit_status: Option<i32>) -> Look<'a> {
        Look {
            address: "gastown/polecats/nux",
            generation: 1,
            screen,
            exit_status,
        }
    }

    #[test]
    fn a_declared_exit_status_is_a_limit_and_the_pane_may_give_its_reset() {
        let p = preset(&[75]);
        let bare = detect_in(&p, &look("bye\n", Some(75)), now()).unwrap();
        assert_eq!(bare.line, "exited with status 75");
        assert_eq!(bare.until(now(), WINDOW), Some(now() + WINDOW));
        let told = detect_in(
            &p,
            &look("Claude AI usage limit reached|1772380800\n", Some(75)),
            now(),
        )
        .unwrap();
        assert_eq!(
            told.until(now(), WINDOW),
            "2026-03-01T16:00:00Z".parse().ok()
        );
        // Another status, or none declared, is an ordinary exit.
        assert!(detect_in(&p, &look("bye\n", Some(1)), now()).is_none());
        assert!(detect_in(&preset(&[]), &look("bye\n", Some(75)), now()).is_none());
        assert!(detect_in(&p, &look("bye\n", None), now()).is_none());
    }

    fn store(dir: &std::path::Path) -> beads::Store {
        let ctx = beads::Context {
            actor: "daemon/test".into(),
            clock: Box::new(host::clock::FixedClock(now())),
        };
        beads::Store::init(dir, "gt", ctx).unwrap()
    }

    /// A store in which `gastown/polecats/nux` runs on the account `claude/work`.
    fn nux_on_work(dir: &std::path::Path) -> beads::Store {
        let mut store = store(dir);
        store
            .assign_account("gastown/polecats/nux", "claude", "work")
            .unwrap();
        store
    }

    #[test]
    fn one_limit_is_one_hold_on_the_assigned_account_while_it_lasts() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = nux_on_work(dir.path());
        let p = preset(&[75]);
        let mut w = Watcher::default();
        let dead = look("", Some(75));
        let first = w
            .look(&mut store, &p, &dead, now(), WINDOW)
            .unwrap()
            .unwrap();
        assert_eq!((first.account.as_str(), first.new), ("claude/work", true));
        let later = now() + std::time::Duration::from_secs(60);
        let again = w
            .look(&mut store, &p, &dead, later, WINDOW)
            .unwrap()
            .unwrap();
        assert!(!again.new);
        let holds = store.holds().unwrap();
        assert_eq!(holds.len(), 1);
        assert_eq!(holds[0].until, beads::store::format_ts(now() + WINDOW));
        // Once the window ends, the same exit holds nothing more.
        let after = now() + WINDOW;
        assert_eq!(w.look(&mut store, &p, &dead, after, WINDOW).unwrap(), None);
    }

    /// A daemon restarted during a hold starts with a new watcher: the same dead pane is the
    /// sighting the hold already records, which it neither extends nor calls new.
    #[test]
    fn a_restarted_watcher_does_not_extend_the_hold_it_finds() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = nux_on_work(dir.path());
        let p = preset(&[75]);
        let dead = look("", Some(75));
        let first = Watcher::default()
            .look(&mut store, &p, &dead, now(), WINDOW)
            .unwrap()
            .unwrap();
        assert!(first.new);
        let later = now() + std::time::Duration::from_secs(120);
        let restarted = Watcher::default()
            .look(&mut store, &p, &dead, later, WINDOW)
            .unwrap()
            .unwrap();
        assert!(!restarted.new, "the same sighting");
        let holds = store.holds().unwrap();
        assert_eq!(holds.len(), 1);
        assert_eq!(holds[0].until, beads::store::format_ts(now() + WINDOW));
        // Another agent on the same account with its own limit is a sighting of its own.
        let other = Look {
            address: "gastown/polecats/max",
            ..dead
        };
        store
            .assign_account("gastown/polecats/max", "claude", "work")
            .unwrap();
        let theirs = Watcher::default()
            .look(&mut store, &p, &other, later, WINDOW)
            .unwrap()
            .unwrap();
        assert!(theirs.new);
        assert_eq!(
            store.holds().unwrap()[0].until,
            beads::store::format_ts(later + WINDOW)
        );
    }
}
