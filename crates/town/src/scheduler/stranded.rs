//! The daemon's watch for stranded convoys, with its memory in the store.
//!
//! A convoy is escalated when scans at least [`SCAN_EVERY`] apart all find it stranded the same
//! way (a sling between making its convoy and hooking its bead is not stranded), and once for
//! as long as it stays so. Since when each convoy has been found stranded, and whether it was
//! told, live under the kv key [`STATE_KEY`], not in the daemon: a restart neither tells a
//! convoy again nor forgets how long one has been stranded. The key is written only when that
//! changes, so an idle town's scans write nothing (a write wakes every service).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::layout::Town;
use crate::scheduler::convoy;
use crate::work::Result;

/// How often stranded convoys are looked for (upstream's interval), and how long a convoy
/// must stay stranded before it is told.
pub const SCAN_EVERY: Duration = Duration::from_secs(30);

/// The kv key holding the watch's [`State`].
pub const STATE_KEY: &str = "scheduler.stranded";

/// A convoy found stranded by the last scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Suspect {
    convoy: String,
    /// `ready_unassigned` or `only_blocked`.
    reason: String,
    /// The first scan of the unbroken run that found it so.
    since: jiff::Timestamp,
    /// Escalated already.
    told: bool,
}

/// What the watch remembers between scans (and daemon runs).
#[derive(Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct State {
    suspects: Vec<Suspect>,
}

impl State {
    /// The stored state; a missing or unreadable one starts afresh (an unreadable one is
    /// logged: at worst a stranded convoy is told once more).
    fn load(store: &beads::Store) -> Result<Self> {
        let Some(raw) = store.kv_get(STATE_KEY)? else {
            return Ok(Self::default());
        };
        Ok(serde_json::from_str(&raw).unwrap_or_else(|e| {
            tracing::warn!(key = STATE_KEY, error = %e, "stranded-convoy memory unreadable; starting afresh");
            Self::default()
        }))
    }

    fn get(&self, convoy: &str, reason: &str) -> Option<&Suspect> {
        self.suspects
            .iter()
            .find(|s| s.convoy == convoy && s.reason == reason)
    }
}

/// What a scan did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scan {
    /// Convoys escalated.
    pub told: usize,
    /// When the soonest convoy found stranded and not yet told falls due.
    pub due: Option<jiff::Timestamp>,
}

/// Scans for stranded convoys at `now`, escalates each stranded the same way since at least
/// [`SCAN_EVERY`] ago and not yet told, and remembers what it found.
pub fn check(town: &Town, store: &mut beads::Store, now: jiff::Timestamp) -> Result<Scan> {
    let old = State::load(store)?;
    let mut next = State::default();
    let mut told = 0;
    for s in convoy::stranded(store)? {
        let before = old.get(&s.convoy, s.reason);
        // A `since` ahead of now (the clock went back) starts the run again.
        let since = before.map_or(now, |b| b.since.min(now));
        let mut suspect = Suspect {
            convoy: s.convoy.clone(),
            reason: s.reason.to_owned(),
            since,
            told: before.is_some_and(|b| b.told),
        };
        if !suspect.told && now >= since + SCAN_EVERY {
            crate::escalation::raise_for_service(town, store, &escalation(s))?;
            suspect.told = true;
            told += 1;
        }
        next.suspects.push(suspect);
    }
    let due = next
        .suspects
        .iter()
        .filter(|s| !s.told)
        .map(|s| s.since + SCAN_EVERY)
        .min();
    // A convoy no longer found is forgotten: if it strands again later, it is told again.
    if next != old {
        // Strings, bools and instants always serialize.
        store.kv_set(STATE_KEY, &serde_json::to_string(&next).unwrap_or_default())?;
    }
    Ok(Scan { told, due })
}

/// The escalation telling that convoy `s` is stranded.
fn escalation(s: convoy::Stranded) -> crate::escalation::NewEscalation {
    let what = match s.reason {
        "ready_unassigned" => "has ready work that nobody is on and nothing queued",
        _ => "has only blocked beads left and nothing running that could unblock them",
    };
    crate::escalation::NewEscalation {
        title: format!("Convoy {} is stranded", s.convoy),
        description: format!(
            "Convoy `{}` ({}) {what}: {}.\n\n`gt convoy stranded` lists it; `gt sling {} <rig>` queues its beads.",
            s.convoy,
            s.title,
            s.beads.join(", "),
            s.convoy
        ),
        severity: Some(crate::escalation::Severity::Medium),
        source: Some("scheduler".into()),
        from: "deacon/".into(),
        related: std::iter::once(s.convoy.clone()).chain(s.beads).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> beads::Context {
        beads::Context {
            actor: "test".into(),
            clock: Box::new(host::clock::FixedClock(at(0))),
        }
    }

    fn open(town: &Town) -> beads::Store {
        beads::Store::open(&town.beads_dir(), ctx()).unwrap()
    }

    fn at(secs: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_767_225_600 + secs).unwrap()
    }

    fn escalations(store: &beads::Store) -> Vec<String> {
        crate::escalation::list(store, true)
            .unwrap()
            .into_iter()
            .map(|e| e.title)
            .collect()
    }

    /// A town with convoy `ready` tracking one open, unassigned bead: stranded with ready work.
    fn town(dir: &std::path::Path) -> (Town, String, String) {
        let town = crate::install::test_town(dir, ctx());
        let mut store = open(&town);
        let bead = store
            .create(beads::NewIssue {
                title: "nobody is on this".into(),
                ..Default::default()
            })
            .unwrap()
            .id;
        let convoy = store
            .create_convoy("ready", std::slice::from_ref(&bead))
            .unwrap()
            .id;
        (town, convoy, bead)
    }

    #[test]
    fn a_restart_between_two_scans_tells_a_stranded_convoy_once() {
        let dir = tempfile::tempdir().unwrap();
        let (town, convoy, _) = town(dir.path());
        // First run of the daemon: suspected, not yet told.
        assert_eq!(check(&town, &mut open(&town), at(0)).unwrap().told, 0);
        // Restarted (a fresh store handle, no memory in the process): too soon to tell, and
        // due when it has been stranded 30 s, not 30 s after the restart.
        assert_eq!(
            check(&town, &mut open(&town), at(10)).unwrap(),
            Scan {
                told: 0,
                due: Some(at(30))
            }
        );
        // Restarted again, 30 s after it was first found: told, not forgotten.
        assert_eq!(check(&town, &mut open(&town), at(30)).unwrap().told, 1);
        // Restarted once more: not told again while it stays stranded.
        assert_eq!(
            check(&town, &mut open(&town), at(60)).unwrap(),
            Scan { told: 0, due: None }
        );
        assert_eq!(check(&town, &mut open(&town), at(600)).unwrap().told, 0);
        assert_eq!(
            escalations(&open(&town)),
            [format!("Convoy {convoy} is stranded")]
        );
    }

    #[test]
    fn a_convoy_that_moves_and_strands_again_is_told_again() {
        let dir = tempfile::tempdir().unwrap();
        let (town, _, bead) = town(dir.path());
        let mut store = open(&town);
        check(&town, &mut store, at(0)).unwrap();
        assert_eq!(check(&town, &mut store, at(30)).unwrap().told, 1);
        // Someone takes the bead: the convoy moves, and is forgotten.
        let take = |store: &mut beads::Store, who: &str| {
            store
                .update(
                    &bead,
                    &beads::Changes {
                        assignee: Some(who.into()),
                        ..Default::default()
                    },
                )
                .unwrap();
        };
        take(&mut store, "gastown/polecats/nux");
        assert_eq!(check(&town, &mut store, at(60)).unwrap().told, 0);
        assert_eq!(
            store.kv_get(STATE_KEY).unwrap().as_deref(),
            Some(r#"{"suspects":[]}"#)
        );
        // Dropped again: stranded anew, told once it has been for 30 s.
        take(&mut store, "");
        assert_eq!(check(&town, &mut store, at(90)).unwrap().told, 0);
        assert_eq!(check(&town, &mut store, at(119)).unwrap().told, 0);
        assert_eq!(check(&town, &mut store, at(120)).unwrap().told, 1);
        assert_eq!(escalations(&store).len(), 2);
    }
}
