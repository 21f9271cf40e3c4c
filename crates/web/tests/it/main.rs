//! The dashboard's router over a real town store, and in a real headless browser.

#![expect(
    clippy::unwrap_used,
    reason = "fixtures and helpers outside #[test] functions: a failure there is the test's"
)]

mod browser;
mod fixture;
mod router;
