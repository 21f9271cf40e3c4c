//! Time, passed in rather than read, so tests run on a fixed clock.

use jiff::Timestamp;

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(clippy::disallowed_methods, reason = "the one real clock")]
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that always reports the same instant.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

/// The clock a binary should use: fixed when `GT_TEST_NOW` holds an RFC 3339 instant
/// (tests), the system clock otherwise.
pub fn from_env() -> Box<dyn Clock> {
    match crate::env::var(crate::env::GT_TEST_NOW).and_then(|v| v.parse::<Timestamp>().ok()) {
        Some(ts) => Box::new(FixedClock(ts)),
        None => Box::new(SystemClock),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_clock_reports_its_instant() {
        let ts: Timestamp = "2026-01-02T03:04:05Z".parse().unwrap();
        assert_eq!(FixedClock(ts).now(), ts);
    }

    #[test]
    fn system_clock_moves_forward() {
        let a = SystemClock.now();
        let b = SystemClock.now();
        assert!(b >= a);
    }
}
