//! Dev-only test support for the `gt` and `bd` crates; never a dependency of shipped code.
//!
//! - [`env`](mod@env): [`TestEnv`], a temp root with `home/`, `tmp/` and `work/`, whose commands see a
//!   cleared environment, a fixed git identity and date, and a `GT_TEST_NOW` that ticks one
//!   second per command; [`require_cmd`] and [`require_agent_cli`] gate tests on external tools.
//! - [`git`]: [`GitFixture`], a bare `remote.git` and its working `clone/`, built with real git.
//! - [`tmux`]: [`TmuxServer`], a private tmux server (`tmux -L gt-test-<pid>-<n>`) killed on drop.
//! - [`wait`]: [`wait_until`] and [`wait_for`], polling with backoff instead of sleeping.
//! - [`model`]: [`ModelServer`], a loopback model API (Anthropic Messages, …) answering a
//!   scripted [`Scenario`], so real agent CLIs run without a real model.
//! - [`filters`]: insta filters for the temp root, hashes, IDs, timestamps and durations;
//!   [`filters::render_output`] and [`assert_cmd_snapshot!`] snapshot a command's result.

pub mod env;
pub mod filters;
pub mod git;
pub mod model;
pub mod tmux;
pub mod wait;

pub use env::{TestEnv, require_agent_cli, require_cmd, sigkill};
pub use git::GitFixture;
pub use model::{ModelServer, Scenario, Turn};
pub use tmux::TmuxServer;
pub use wait::{TimedOut, wait_for, wait_until};

/// Re-exported for [`assert_cmd_snapshot!`]; depend on `insta` directly for anything else.
#[doc(hidden)]
pub use insta;
