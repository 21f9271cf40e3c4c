//! The dashboard's router over a real town store, and in a real headless browser.

mod browser;
mod fixture;
mod router;
