//! Waiting for something another process or thread does: poll with backoff, never a bare sleep.
//!
//! The first poll is immediate; after that the pause doubles from 5 ms up to 100 ms, so fast
//! conditions are seen quickly and slow ones do not spin. The last pause is cut short at the
//! deadline and the condition is checked once more there.

use std::fmt;
use std::time::{Duration, Instant};

/// The first pause between polls.
const FIRST_DELAY: Duration = Duration::from_millis(5);
/// The longest pause between polls.
const MAX_DELAY: Duration = Duration::from_millis(100);

/// A condition that was still false when the timeout ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedOut {
    timeout: Duration,
    elapsed: Duration,
}

impl TimedOut {
    /// The timeout that was given.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// How long we actually waited (at least [`TimedOut::timeout`]).
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "timed out after {:?} waiting for a condition (timeout {:?})",
            self.elapsed, self.timeout
        )
    }
}

impl std::error::Error for TimedOut {}

/// Polls `condition` until it returns true, or fails once `timeout` has passed.
///
/// ```
/// # use std::time::Duration;
/// let mut polls = 0;
/// testkit::wait_until(Duration::from_secs(1), || {
///     polls += 1;
///     polls == 3
/// })
/// .unwrap();
/// ```
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> Result<(), TimedOut> {
    wait_for(timeout, || condition().then_some(()))
}

/// Polls `poll` until it returns `Some`, and returns that value; fails once `timeout` has passed.
pub fn wait_for<T>(timeout: Duration, mut poll: impl FnMut() -> Option<T>) -> Result<T, TimedOut> {
    let start = Instant::now();
    let mut delay = FIRST_DELAY;
    loop {
        if let Some(value) = poll() {
            return Ok(value);
        }
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            return Err(TimedOut { timeout, elapsed });
        }
        std::thread::sleep(delay.min(timeout - elapsed));
        delay = next_delay(delay);
    }
}

fn next_delay(delay: Duration) -> Duration {
    (delay * 2).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[test]
    fn returns_at_once_when_already_true() {
        let start = Instant::now();
        let mut polls = 0;
        wait_until(Duration::from_secs(10), || {
            polls += 1;
            true
        })
        .unwrap();
        assert_eq!(polls, 1);
        assert!(start.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn times_out_after_polling_repeatedly() {
        let timeout = Duration::from_millis(200);
        let mut polls = 0;
        let err = wait_until(timeout, || {
            polls += 1;
            false
        })
        .unwrap_err();
        assert_eq!(err.timeout(), timeout);
        assert!(err.elapsed() >= timeout, "{err}");
        assert!(err.elapsed() < Duration::from_secs(2), "{err}");
        // 5+10+20+40+80 ms, then 45 ms to the deadline: 7 polls, give or take a slow machine.
        assert!(polls >= 4, "polled {polls} times");
        assert!(err.to_string().starts_with("timed out after "), "{err}");
    }

    #[test]
    fn sees_a_condition_that_becomes_true_later() {
        let flag = Arc::new(AtomicBool::new(false));
        let setter = {
            let flag = Arc::clone(&flag);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                flag.store(true, Ordering::SeqCst);
            })
        };
        let start = Instant::now();
        wait_until(Duration::from_secs(10), || flag.load(Ordering::SeqCst)).unwrap();
        assert!(start.elapsed() >= Duration::from_millis(50));
        assert!(start.elapsed() < Duration::from_secs(5));
        setter.join().unwrap();
    }

    #[test]
    fn wait_for_returns_the_value() {
        let mut n = 0;
        let got = wait_for(Duration::from_secs(10), || {
            n += 1;
            (n >= 3).then(|| format!("poll {n}"))
        });
        assert_eq!(got.unwrap(), "poll 3");
    }

    #[test]
    fn zero_timeout_still_polls_once() {
        assert_eq!(wait_for(Duration::ZERO, || Some(7)).unwrap(), 7);
        assert!(wait_for(Duration::ZERO, || None::<()>).is_err());
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let mut delay = FIRST_DELAY;
        let mut delays = vec![delay];
        for _ in 0..6 {
            delay = next_delay(delay);
            delays.push(delay);
        }
        let ms: Vec<u128> = delays.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [5, 10, 20, 40, 80, 100, 100]);
    }
}
