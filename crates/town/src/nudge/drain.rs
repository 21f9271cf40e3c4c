//! Emptying a queue: at the agent's turn boundary by its own hook (`gt nudge drain --hook`,
//! Claude's `Stop` hook), or by the daemon ([`DrainService`]) for an agent found idle with
//! nudges waiting — presets without hooks, and agents that went idle before their hook ran.

use std::time::Duration;

use jiff::Timestamp;

use super::screen::Screen;
use super::{Claim, NudgeError, Queue, QueuedNudge, dnd};
use crate::address::Address;
use crate::daemon::DaemonFiles;
use crate::layout::Town;
use crate::runtime::{Runtime, Runtimes, SendWhen};
use crate::service::{Next, Service, ServiceError};

/// How long a queued nudge is left to the agent's own hook before the daemon delivers it.
pub const HOOK_GRACE: Duration = Duration::from_secs(2);
/// How long the daemon looks for an idle prompt in one pass.
const IDLE_PROBE: Duration = Duration::from_millis(500);
/// When the daemon tries again after an agent was busy or a delivery failed.
const RETRY: Duration = Duration::from_secs(2);

/// Claims `session`'s pending nudges, urgent first, then oldest first; the caller calls [`Claim::done`] once it
/// has used them (or [`Claim::release`]). With the town's `store`, nothing is claimed while
/// the agent's account is rate-limited ([`deferred`]).
pub fn drain(
    town: &Town,
    store: Option<&beads::Store>,
    session: &str,
    now: Timestamp,
) -> Result<Claim, NudgeError> {
    let queue = Queue::new(town, session)?;
    if let Some(store) = store
        && deferred(town, store, &queue, now)?.is_some()
    {
        return Ok(Claim::empty(session));
    }
    queue.claim(now)
}

/// While the account the queue's agent runs as is rate-limited, a nudge would only make it
/// try again and burn its window: its nudges wait (kept past their expiry, see
/// [`Queue::defer`]) until the hold ends, which is returned.
fn deferred(
    town: &Town,
    store: &beads::Store,
    queue: &Queue,
    now: Timestamp,
) -> Result<Option<Timestamp>, NudgeError> {
    let Ok(address) = super::address_of_session(town, Some(store), queue.session()) else {
        return Ok(None);
    };
    let Some(hold) = crate::scheduler::accounts::hold_on(store, &address.canonical(), now)? else {
        return Ok(None);
    };
    let until: Timestamp = hold.until.parse().unwrap_or(now + RETRY);
    let waiting = queue.defer(until, now)?;
    if waiting > 0 {
        tracing::debug!(session = %queue.session(), account = %hold.account, %until, waiting, "nudges wait for a rate limit");
    }
    Ok(Some(until))
}

/// The text an agent receives for `entries`: each nudge with its sender, in the given order.
pub fn render(entries: &[QueuedNudge]) -> String {
    entries
        .iter()
        .map(|n| {
            let urgent = if n.priority == super::Priority::Urgent {
                " (urgent)"
            } else {
                ""
            };
            format!("[nudge from {}{urgent}] {}", n.sender, n.message)
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The daemon's duty: deliver the queues of idle agents, and record in the town's event
/// stream what it delivered and what expired undelivered (set aside by whoever read the queue
/// when it expired). It reads the queue directory only when woken (a `gt nudge` that queued
/// pokes it) or at the safety tick, and asks to be woken sooner only while some nudge waits.
pub struct DrainService {
    town: Town,
    store: beads::Store,
    runtimes: Runtimes,
    clock: Box<dyn host::clock::Clock>,
}

impl DrainService {
    pub fn new(
        town: Town,
        store: beads::Store,
        runtimes: Runtimes,
        clock: Box<dyn host::clock::Clock>,
    ) -> Self {
        Self {
            town,
            store,
            runtimes,
            clock,
        }
    }

    /// One pass over every queue; when the next pass is due, if some nudge still waits.
    pub fn pass(&mut self) -> Result<Option<Duration>, NudgeError> {
        let files = DaemonFiles::of(&self.town);
        if self.town.shutdown_sentinel().exists() || files.estop().exists() {
            return Ok(None);
        }
        let mut next: Option<Duration> = None;
        let mut soon = |d: Duration| next = Some(next.map_or(d, |n: Duration| n.min(d)));
        for session in Queue::sessions(&self.town)? {
            let now = self.clock.now();
            let queue = Queue::new(&self.town, &session)?;
            let pending = queue.pending(now)?;
            let store = &mut self.store;
            queue.take_expired(|expired| super::record::expired(store, &session, expired))?;
            // The queue lists urgent nudges first: the oldest is the earliest timestamp.
            let Some(oldest) = pending.iter().map(|n| n.timestamp).min() else {
                continue;
            };
            if self.any_dnd(&pending)? {
                continue;
            }
            if let Some(until) = deferred(&self.town, &self.store, &queue, now)? {
                soon(until.duration_since(now).unsigned_abs());
                continue;
            }
            let age = now.duration_since(oldest).unsigned_abs();
            if age < HOOK_GRACE {
                soon(HOOK_GRACE - age);
                continue;
            }
            let tmux = self.runtimes.tmux();
            let runtime: &dyn Runtime = tmux;
            if !matches!(runtime.pid(&session), Ok(Some(_))) {
                // Not running: its nudges expire in the queue.
                continue;
            }
            // Claimed only once the agent idles: a claim held through a busy turn would hide
            // the queue from the agent's own hook at that turn's end.
            if !matches!(tmux.screen_now(&session), Ok(Screen::Idle)) {
                soon(RETRY);
                continue;
            }
            let claim = queue.claim(now)?;
            if claim.is_empty() {
                continue;
            }
            let text = render(claim.entries());
            match runtime.send(&session, &text, SendWhen::Idle(IDLE_PROBE)) {
                Ok(()) => {
                    tracing::info!(session = %session, count = claim.entries().len(), "delivered queued nudges");
                    // Recorded before the entries go: a kill in between returns them to the
                    // queue, and their next delivery's record is not written twice.
                    super::record::delivered(
                        &mut self.store,
                        &session,
                        &claim.named(),
                        super::record::DeliveredBy::Daemon,
                    );
                    claim.done()?;
                }
                Err(e) => {
                    tracing::debug!(session = %session, error = %e, "queued nudges wait");
                    claim.release()?;
                    soon(RETRY);
                }
            }
        }
        Ok(next)
    }

    fn any_dnd(&self, pending: &[QueuedNudge]) -> Result<bool, NudgeError> {
        for n in pending {
            if let Ok(address) = Address::parse(&n.target)
                && dnd::is_on(&self.town, &address)?
            {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

impl Service for DrainService {
    fn step(&mut self) -> Result<Next, ServiceError> {
        Ok(self.pass()?.map_or(Next::Idle, Next::After))
    }
}

#[cfg(test)]
mod tests {
    use host::clock::FixedClock;
    use host::tmux::Tmux;
    use testkit::{TmuxServer, require_cmd, wait_until};

    use super::*;
    use crate::agents::Readiness;
    use crate::nudge::Priority;
    use crate::runtime::{SessionSpec, SubprocessRuntime, TmuxRuntime};

    #[test]
    fn the_daemon_delivers_a_queue_to_an_idle_agent_after_the_hooks_grace() {
        if !require_cmd("tmux") {
            return;
        }
        let server = TmuxServer::start();
        let dir = tempfile::tempdir().unwrap();
        let town = Town::at(dir.path());
        let tmux = TmuxRuntime::new(Tmux::new(server.socket_name()), dir.path());
        let script = r#"printf '❯ '; while IFS= read -r l; do printf 'got[%s]\n❯ ' "$l"; done"#;
        tmux.start(&SessionSpec {
            name: "hq-mayor".into(),
            cwd: dir.path().to_owned(),
            env: Vec::new(),
            argv: vec!["sh".into(), "-c".into(), script.into()],
            readiness: Readiness::Prompt {
                prefix: "❯ ".into(),
                fallback_ms: 5_000,
                dialogs: Vec::new(),
            },
            process_names: Vec::new(),
        })
        .unwrap();
        let queued_at = Timestamp::from_second(1_800_000_000).unwrap();
        // Queued and not recorded, as by a `gt nudge` killed between the two.
        let entry = QueuedNudge::new("mayor/", "mayor/", "wake up", Priority::Normal, queued_at);
        let woken = Queue::new(&town, "hq-mayor")
            .unwrap()
            .enqueue(&entry, queued_at)
            .unwrap()
            .entry;
        let store = || {
            let ctx = beads::Context {
                actor: "daemon/nudges".into(),
                clock: Box::new(FixedClock(queued_at)),
            };
            beads::Store::open(&town.beads_dir(), ctx).unwrap()
        };
        beads::Store::init(
            &town.beads_dir(),
            "hq",
            beads::Context {
                actor: "test".into(),
                clock: Box::new(FixedClock(queued_at)),
            },
        )
        .unwrap();
        let service = |now: Timestamp| {
            DrainService::new(
                town.clone(),
                store(),
                Runtimes::new(tmux.clone(), SubprocessRuntime::new(dir.path()), "tmux"),
                Box::new(FixedClock(now)),
            )
        };
        // Within the grace the agent's own hook may still take it: asked back when it ends.
        let mut early = service(
            queued_at
                .saturating_add(jiff::SignedDuration::from_millis(500))
                .unwrap(),
        );
        assert_eq!(early.pass().unwrap(), Some(Duration::from_millis(1500)));
        assert!(!tmux.capture("hq-mayor").unwrap().contains("wake up"));
        // After it, the idle agent gets it, once, and the queue is empty.
        let mut later = service(
            queued_at
                .saturating_add(jiff::SignedDuration::from_secs(3))
                .unwrap(),
        );
        assert_eq!(later.pass().unwrap(), None);
        wait_until(Duration::from_secs(10), || {
            tmux.capture("hq-mayor")
                .unwrap()
                .contains("got[[nudge from mayor/] wake up]")
        })
        .unwrap();
        assert!(
            Queue::new(&town, "hq-mayor")
                .unwrap()
                .pending(queued_at)
                .unwrap()
                .is_empty()
        );
        // Do-not-disturb keeps the daemon out.
        dnd::set(&town, &Address::Mayor, true).unwrap();
        let entry = QueuedNudge::new("mayor/", "mayor/", "not now", Priority::Normal, queued_at);
        let held = Queue::new(&town, "hq-mayor")
            .unwrap()
            .enqueue(&entry, queued_at)
            .unwrap()
            .entry;
        assert_eq!(later.pass().unwrap(), None);
        assert!(!tmux.capture("hq-mayor").unwrap().contains("not now"));
        // Past its time to live it is set aside by whoever reads the queue, and the daemon's
        // next pass records it.
        let mut expiry = service(
            queued_at
                .saturating_add(jiff::SignedDuration::from_secs(31 * 60))
                .unwrap(),
        );
        assert_eq!(expiry.pass().unwrap(), None);
        assert_eq!(expiry.pass().unwrap(), None);
        // Each nudge's missing `nudge_queued` is completed as it is taken, once, and each
        // event names its entry.
        use crate::events::EventKind;
        let events = crate::events::after(&store(), 0, 100).unwrap();
        let seen: Vec<(EventKind, &str, &str)> = events
            .iter()
            .map(|e| {
                let entry = e.payload["entry"].as_str().unwrap_or_default();
                (e.kind, entry, e.summary.as_str())
            })
            .collect();
        assert_eq!(
            seen,
            [
                (
                    EventKind::NudgeQueued,
                    woken.as_str(),
                    "nudge queued for mayor/"
                ),
                (
                    EventKind::NudgeDelivered,
                    woken.as_str(),
                    "queued nudge delivered to mayor/ by the daemon"
                ),
                (
                    EventKind::NudgeQueued,
                    held.as_str(),
                    "nudge queued for mayor/"
                ),
                (
                    EventKind::NudgeExpired,
                    held.as_str(),
                    "nudge from mayor/ to mayor/ expired undelivered"
                ),
            ]
        );
        assert_eq!(
            Queue::new(&town, "hq-mayor")
                .unwrap()
                .take_expired(|_| {})
                .unwrap(),
            0
        );
    }
}
