//! Long-running services as threads of one process, and their supervisor.
//!
//! A [`Service`] does its work in small steps and says when it wants the next one ([`Next`]).
//! Between steps its thread sleeps on a [`Wake`]: woken early when something it may care about
//! happened (the daemon notifies on new store events and on pokes), or stopped. A service that
//! fails or panics is rebuilt by its factory after a backoff; one that keeps failing is
//! quarantined for a while instead of spinning ([`RestartPolicy`]). The supervisor publishes
//! every service's state ([`ServiceStatus`]) for `gt daemon status`.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;

/// Why a step failed; the supervisor logs it and restarts the service.
pub type ServiceError = Box<dyn std::error::Error + Send + Sync>;

/// When a service wants its next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// At once: there may be more to do.
    Busy,
    /// When woken, or at the safety tick.
    Idle,
    /// After this long, or when woken.
    After(Duration),
}

/// A long-running duty of the daemon, stepped by its own thread.
pub trait Service: Send {
    /// Does one bounded piece of work.
    fn step(&mut self) -> Result<Next, ServiceError>;
}

/// Builds a service; called again after each failure, so a restart starts from fresh state.
pub type Factory = Box<dyn FnMut() -> Result<Box<dyn Service>, ServiceError> + Send>;

/// How a [`Wake::wait`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woken {
    Notified,
    TimedOut,
    Stop,
}

#[derive(Debug, Default)]
struct WakeState {
    pending: bool,
    stopped: bool,
}

/// A wake-up signal a thread sleeps on: notified (coalesced), or stopped for good.
#[derive(Debug, Clone, Default)]
pub struct Wake(Arc<(Mutex<WakeState>, Condvar)>);

impl Wake {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, WakeState> {
        self.0.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes the sleeper, or makes its next wait return at once.
    pub fn notify(&self) {
        self.state().pending = true;
        self.0.1.notify_all();
    }

    /// Stops the sleeper: every wait from now on returns [`Woken::Stop`].
    pub fn stop(&self) {
        self.state().stopped = true;
        self.0.1.notify_all();
    }

    pub fn is_stopped(&self) -> bool {
        self.state().stopped
    }

    /// Sleeps until notified, stopped, or `timeout` passes. A notification is consumed.
    pub fn wait(&self, timeout: Duration) -> Woken {
        self.wait_for(timeout, true)
    }

    /// Sleeps for `timeout` unless stopped; notifications do not cut it short (a backoff).
    pub fn sleep(&self, timeout: Duration) -> Woken {
        self.wait_for(timeout, false)
    }

    fn wait_for(&self, timeout: Duration, notifiable: bool) -> Woken {
        let deadline = Instant::now() + timeout;
        let mut state = self.state();
        loop {
            if state.stopped {
                return Woken::Stop;
            }
            if notifiable && state.pending {
                state.pending = false;
                return Woken::Notified;
            }
            let now = Instant::now();
            if now >= deadline {
                return Woken::TimedOut;
            }
            state = self
                .0
                .1
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// A delay that doubles on each failure up to a ceiling, and resets on success.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max,
            next: first,
        }
    }

    /// The delay to wait now; the one after is twice as long.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }

    pub fn reset(&mut self) {
        self.next = self.first;
    }
}

/// How the supervisor restarts a failing service.
#[derive(Debug, Clone)]
pub struct RestartPolicy {
    /// The first restart delay; it doubles per consecutive failure up to `max_backoff`.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// This many failures within `window` quarantine the service for `quarantine`.
    pub limit: usize,
    pub window: Duration,
    pub quarantine: Duration,
    /// The longest a service sleeps between steps when nothing wakes it.
    pub tick: Duration,
}

impl Default for RestartPolicy {
    /// 30 s doubling to 10 min; 5 failures in 15 min quarantine for 10 min; a 30 s tick.
    fn default() -> Self {
        Self {
            first_backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(600),
            limit: 5,
            window: Duration::from_secs(900),
            quarantine: Duration::from_secs(600),
            tick: Duration::from_secs(30),
        }
    }
}

/// What a service is doing, as the supervisor sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ServiceState {
    Starting,
    Running,
    /// Failed; restarting after a delay.
    Backoff {
        seconds: u64,
    },
    /// Failed too often; left alone for a while.
    Quarantined {
        seconds: u64,
    },
    Stopped,
}

/// One service's published status.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceStatus {
    pub name: String,
    #[serde(flatten)]
    pub state: ServiceState,
    /// Restarts after failures since the daemon started.
    pub restarts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

struct Supervised {
    name: String,
    wake: Wake,
    status: Arc<Mutex<ServiceStatus>>,
    thread: JoinHandle<()>,
}

/// Runs each service on its own thread and restarts it when it fails.
#[derive(Default)]
pub struct Supervisor {
    services: Vec<Supervised>,
}

impl Supervisor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts `name`, built by `factory`, woken through `wake`.
    pub fn spawn(
        &mut self,
        name: &str,
        factory: Factory,
        wake: Wake,
        policy: RestartPolicy,
    ) -> std::io::Result<()> {
        let status = Arc::new(Mutex::new(ServiceStatus {
            name: name.to_owned(),
            state: ServiceState::Starting,
            restarts: 0,
            last_error: None,
        }));
        let thread = std::thread::Builder::new().name(name.to_owned()).spawn({
            let (wake, status, name) = (wake.clone(), Arc::clone(&status), name.to_owned());
            move || supervise(&name, factory, &wake, &status, &policy)
        })?;
        self.services.push(Supervised {
            name: name.to_owned(),
            wake,
            status,
            thread,
        });
        Ok(())
    }

    /// Wakes every service.
    pub fn notify_all(&self) {
        self.notify_where(|_| true);
    }

    /// Wakes the services whose name passes `wanted`.
    pub fn notify_where(&self, wanted: impl Fn(&str) -> bool) {
        for s in &self.services {
            if wanted(&s.name) {
                s.wake.notify();
            }
        }
    }

    /// Every service's status, in start order.
    pub fn statuses(&self) -> Vec<ServiceStatus> {
        self.services
            .iter()
            .map(|s| {
                s.status
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
            })
            .collect()
    }

    /// Stops every service and waits for their threads (a step in progress finishes first).
    pub fn stop(self) {
        for s in &self.services {
            s.wake.stop();
        }
        for s in self.services {
            let _ = s.thread.join();
        }
    }
}

fn set_state(status: &Mutex<ServiceStatus>, f: impl FnOnce(&mut ServiceStatus)) {
    f(&mut status.lock().unwrap_or_else(PoisonError::into_inner));
}

/// The thread body: build, step until failure or stop, back off or quarantine, repeat.
fn supervise(
    name: &str,
    mut factory: Factory,
    wake: &Wake,
    status: &Mutex<ServiceStatus>,
    policy: &RestartPolicy,
) {
    let mut failures: VecDeque<Instant> = VecDeque::new();
    let mut backoff = Backoff::new(policy.first_backoff, policy.max_backoff);
    loop {
        if wake.is_stopped() {
            break;
        }
        let error = match catch(&mut factory) {
            Ok(mut service) => {
                set_state(status, |s| s.state = ServiceState::Running);
                match run(service.as_mut(), wake, policy.tick, &mut backoff) {
                    None => break,
                    Some(error) => error,
                }
            }
            Err(error) => error,
        };
        tracing::error!(service = name, %error, "service failed");
        let now = Instant::now();
        failures.push_back(now);
        while failures
            .front()
            .is_some_and(|t| now.duration_since(*t) > policy.window)
        {
            failures.pop_front();
        }
        let (delay, state) = if failures.len() >= policy.limit {
            failures.clear();
            let d = policy.quarantine;
            tracing::error!(service = name, seconds = d.as_secs(), "quarantined");
            (
                d,
                ServiceState::Quarantined {
                    seconds: d.as_secs(),
                },
            )
        } else {
            let d = backoff.next_delay();
            (
                d,
                ServiceState::Backoff {
                    seconds: d.as_secs(),
                },
            )
        };
        set_state(status, |s| {
            s.state = state;
            s.restarts += 1;
            s.last_error = Some(error);
        });
        if wake.sleep(delay) == Woken::Stop {
            break;
        }
    }
    set_state(status, |s| s.state = ServiceState::Stopped);
}

/// Steps `service` until it is stopped (`None`) or fails (`Some(why)`).
fn run(
    service: &mut dyn Service,
    wake: &Wake,
    tick: Duration,
    backoff: &mut Backoff,
) -> Option<String> {
    loop {
        if wake.is_stopped() {
            return None;
        }
        let next = match std::panic::catch_unwind(AssertUnwindSafe(|| service.step())) {
            Ok(Ok(next)) => next,
            Ok(Err(e)) => return Some(e.to_string()),
            Err(panic) => return Some(panic_message(&panic)),
        };
        backoff.reset();
        let woken = match next {
            Next::Busy => continue,
            Next::Idle => wake.wait(tick),
            Next::After(d) => wake.wait(d.min(tick)),
        };
        if woken == Woken::Stop {
            return None;
        }
    }
}

fn catch(factory: &mut Factory) -> Result<Box<dyn Service>, String> {
    match std::panic::catch_unwind(AssertUnwindSafe(factory)) {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(e.to_string()),
        Err(panic) => Err(panic_message(&panic)),
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!("panicked: {text}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn fast_policy() -> RestartPolicy {
        RestartPolicy {
            first_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            limit: 3,
            window: Duration::from_secs(60),
            quarantine: Duration::from_secs(3600),
            tick: Duration::from_secs(3600),
        }
    }

    struct Counting {
        steps: Arc<AtomicU32>,
        fail_at: Option<u32>,
    }

    impl Service for Counting {
        fn step(&mut self) -> Result<Next, ServiceError> {
            let n = self.steps.fetch_add(1, Ordering::SeqCst) + 1;
            if self.fail_at == Some(n) {
                panic!("step {n} blew up");
            }
            Ok(Next::Idle)
        }
    }

    fn wait_for(what: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !what() {
            assert!(Instant::now() < deadline, "timed out");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn a_wake_coalesces_notifications_and_stop_wins() {
        let wake = Wake::new();
        wake.notify();
        wake.notify();
        assert_eq!(wake.wait(Duration::from_secs(5)), Woken::Notified);
        assert_eq!(wake.wait(Duration::from_millis(1)), Woken::TimedOut);
        wake.notify();
        assert_eq!(wake.sleep(Duration::from_millis(1)), Woken::TimedOut);
        wake.stop();
        assert_eq!(wake.wait(Duration::from_secs(5)), Woken::Stop);
    }

    #[test]
    fn an_idle_service_steps_only_when_woken() {
        let steps = Arc::new(AtomicU32::new(0));
        let wake = Wake::new();
        let mut sup = Supervisor::new();
        let s = Arc::clone(&steps);
        sup.spawn(
            "counting",
            Box::new(move || {
                Ok(Box::new(Counting {
                    steps: Arc::clone(&s),
                    fail_at: None,
                }) as Box<dyn Service>)
            }),
            wake.clone(),
            fast_policy(),
        )
        .unwrap();
        wait_for(|| steps.load(Ordering::SeqCst) == 1);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(steps.load(Ordering::SeqCst), 1, "an idle service sleeps");
        sup.notify_all();
        wait_for(|| steps.load(Ordering::SeqCst) == 2);
        sup.stop();
    }

    #[test]
    fn a_panicking_service_is_rebuilt_and_a_crash_loop_is_quarantined() {
        let steps = Arc::new(AtomicU32::new(0));
        let built = Arc::new(AtomicU32::new(0));
        let wake = Wake::new();
        let mut sup = Supervisor::new();
        let (s, b) = (Arc::clone(&steps), Arc::clone(&built));
        sup.spawn(
            "flaky",
            Box::new(move || {
                b.fetch_add(1, Ordering::SeqCst);
                Ok(Box::new(Counting {
                    steps: Arc::clone(&s),
                    // Every build's first step panics.
                    fail_at: Some(s.load(Ordering::SeqCst) + 1),
                }) as Box<dyn Service>)
            }),
            wake.clone(),
            fast_policy(),
        )
        .unwrap();
        wait_for(|| matches!(sup.statuses()[0].state, ServiceState::Quarantined { .. }));
        let status = &sup.statuses()[0];
        assert_eq!(
            built.load(Ordering::SeqCst),
            3,
            "built once per failure until quarantine"
        );
        assert_eq!(status.restarts, 3);
        assert!(
            status.last_error.as_deref().unwrap().contains("blew up"),
            "{status:?}"
        );
        // Quarantine is not cut short by a notification, only by stop.
        sup.notify_all();
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(built.load(Ordering::SeqCst), 3);
        sup.stop();
    }

    #[test]
    fn backoff_doubles_to_its_ceiling_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(30), Duration::from_secs(600));
        let delays: Vec<u64> = (0..7).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 600, 600]);
        b.reset();
        assert_eq!(b.next_delay().as_secs(), 30);
    }
}
