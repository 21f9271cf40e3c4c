//! The one admission point: every agent start of any role (a polecat's sling, the scheduler's
//! dispatch, the witness's restart, `gt session restart`; the mayor's and crew's starts by
//! their human or the daemon's keeper) asks [`account_for`] which provider account it may run
//! as, which refuses while every account of its provider is rate-limited; a polecat start then
//! reserves its polecat through [`admit`], which checks the town and rig caps in the
//! reservation's own transaction.
//!
//! `scheduler.max_polecats` keeps upstream's meaning: N > 0 is deferred dispatch (a sling
//! beyond N waits in the queue), 0 or -1 is direct dispatch (every sling starts at once), with
//! [`SAFETY_CAP`] as the ceiling that still holds a runaway loop.

use beads::{Account, Admission, CapScope, Caps, RateHold};

use crate::settings::Scheduler;

/// The most polecats direct dispatch starts at once (upstream's fixed safety cap).
pub const SAFETY_CAP: i64 = 25;

/// How the town dispatches slings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Start at once, refuse beyond the safety cap.
    Direct,
    /// Start while under the cap, queue beyond it.
    Deferred(i64),
}

impl Mode {
    pub fn of(settings: &Scheduler) -> Self {
        if settings.max_polecats > 0 {
            Self::Deferred(settings.max_polecats)
        } else {
            Self::Direct
        }
    }

    /// The town cap admissions are checked against.
    pub fn cap(self) -> i64 {
        match self {
            Self::Direct => SAFETY_CAP,
            Self::Deferred(n) => n,
        }
    }
}

/// Who is asking to start a polecat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Starter {
    /// A new `gt sling`: beads already waiting in the queue go first.
    #[default]
    Sling,
    /// The scheduler dispatching the queue, or the witness restarting a polecat on its bead.
    Dispatcher,
}

/// The caps for one admission.
pub fn caps(settings: &Scheduler, starter: Starter) -> Caps {
    let mode = Mode::of(settings);
    Caps {
        town: mode.cap(),
        rig: i64::from(settings.max_polecats_per_rig),
        behind_queue: starter == Starter::Sling && matches!(mode, Mode::Deferred(_)),
    }
}

/// Why an admission found no room, in words that name the setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Full {
    pub working: i64,
    pub scope: CapScope,
    pub mode: Mode,
    pub cap: i64,
}

impl Full {
    pub fn new(settings: &Scheduler, working: i64, scope: CapScope) -> Self {
        let mode = Mode::of(settings);
        let cap = match scope {
            CapScope::Town => mode.cap(),
            CapScope::Rig => i64::from(settings.max_polecats_per_rig),
        };
        Self {
            working,
            scope,
            mode,
            cap,
        }
    }

    /// Whether the sling should wait in the queue rather than fail.
    pub fn queues(&self) -> bool {
        matches!(self.mode, Mode::Deferred(_))
    }
}

impl std::fmt::Display for Full {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            working, cap, mode, ..
        } = self;
        match (self.scope, mode) {
            (CapScope::Rig, _) => write!(
                f,
                "{working} polecats are working in this rig, its cap (`scheduler.max_polecats_per_rig` = {cap})"
            ),
            (CapScope::Town, Mode::Deferred(_)) => write!(
                f,
                "{working} polecats are working or queued ahead, the town's cap (`scheduler.max_polecats` = {cap})"
            ),
            (CapScope::Town, Mode::Direct) => write!(
                f,
                "{working} polecats are working, the safety cap of direct dispatch ({cap}); set `scheduler.max_polecats` to a number to queue slings instead"
            ),
        }
    }
}

/// What [`admit`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Reserved; `before` is the polecat's row before (`None`: made now), for an undo.
    Admitted { before: Option<beads::Polecat> },
    /// The polecat holds another bead.
    Taken(beads::Polecat),
    /// No room under a cap.
    Full(Full),
}

/// Why [`account_for`] refused a start: every account of its provider is rate-limited; the
/// hold that ends soonest, named with when its window resets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held(pub RateHold);

impl std::fmt::Display for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let RateHold {
            account,
            until,
            reason,
            ..
        } = &self.0;
        write!(
            f,
            "the `{account}` account is rate-limited until {until} ({reason})"
        )
    }
}

/// The provider account a start of preset `provider` runs as (`Ok(None)`: the CLI's own
/// login), or [`Held`] while every account of the provider is rate-limited. Every start of
/// every role passes here; the caps are not checked here: `scheduler.max_polecats` and
/// `scheduler.max_polecats_per_rig` keep upstream's meaning and count polecats only, so the
/// mayor and crew are held back by rate limits alone (polecats by [`admit`] as well).
pub fn account_for(
    store: &beads::Store,
    provider: &str,
    now: jiff::Timestamp,
) -> beads::Result<Result<Option<Account>, Held>> {
    Ok(crate::scheduler::accounts::choose(store, provider, now)?.map_err(Held))
}

/// Reserves polecat `rig/name` for `bead` under the caps `starter` is held to (polecats
/// only: the caps count polecats, as upstream's do; the mayor and crew never reach here).
pub fn admit(
    store: &mut beads::Store,
    settings: &Scheduler,
    starter: Starter,
    rig: &str,
    name: &str,
    bead: &str,
) -> beads::Result<Outcome> {
    Ok(
        match store.admit_polecat(rig, name, bead, caps(settings, starter))? {
            Admission::Admitted { before } => Outcome::Admitted { before },
            Admission::Taken(row) => Outcome::Taken(row),
            Admission::AtCap { working, scope } => {
                Outcome::Full(Full::new(settings, working, scope))
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scheduler(max: i64, per_rig: u32) -> Scheduler {
        Scheduler {
            max_polecats: max,
            max_polecats_per_rig: per_rig,
            ..Scheduler::default()
        }
    }

    #[test]
    fn zero_and_minus_one_dispatch_directly_under_the_safety_cap() {
        for max in [0, -1] {
            let caps = caps(&scheduler(max, 0), Starter::Sling);
            assert_eq!((caps.town, caps.behind_queue), (SAFETY_CAP, false));
        }
        let full = Full::new(&scheduler(-1, 0), 25, CapScope::Town);
        assert!(!full.queues());
        assert!(full.to_string().contains("safety cap"), "{full}");
    }

    #[test]
    fn a_positive_cap_queues_new_slings_behind_the_queue() {
        let s = scheduler(5, 2);
        assert_eq!(
            caps(&s, Starter::Sling),
            Caps {
                town: 5,
                rig: 2,
                behind_queue: true
            }
        );
        assert!(!caps(&s, Starter::Dispatcher).behind_queue);
        let full = Full::new(&s, 2, CapScope::Rig);
        assert!(full.queues());
        assert!(
            full.to_string().contains("max_polecats_per_rig` = 2"),
            "{full}"
        );
    }
}
