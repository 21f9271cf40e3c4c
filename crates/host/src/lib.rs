//! The only crate that touches the outside world.
//!
//! Everything that spawns a process, takes a file lock, reads the environment or asks the
//! time lives here, so the rest of the workspace stays deterministic and testable:
//!
//! - [`crash`]: named points where a test has a process kill itself (`GT_TEST_KILL_AT`).
//! - [`env`]: every environment variable we read, declared once, and the accessors.
//! - [`clock`]: the [`clock::Clock`] trait; the system clock and a fixed clock for tests.
//! - [`git`]: `git -C <dir> …` with a hermetic environment and typed failures.
//! - [`lock`]: advisory file locks with a clean "busy" outcome.
//! - [`shell`]: configured commands (gates) under `sh -c` with a time limit.
//! - [`process`]: running helper programs and finding programs on `PATH`.
//! - [`procs`]: finding processes by their environment (an agent's detached tools) and
//!   stopping them, safe against recycled pids.
//! - [`spawn`]: detached long-running processes: start, liveness, process-group kill.
//! - [`wake`]: one-line messages over a local Unix socket (pokes that wake the daemon).
//! - [`tmux`]: [`tmux::Tmux`], tmux on a named socket (`tmux -L`), never the user's server.
//! - [`watch`]: waiting for files of a directory to change (inotify), e.g. a store's WAL.

pub mod clock;
pub mod crash;
pub mod env;
pub mod git;
pub mod lock;
pub mod process;
pub mod procs;
pub mod shell;
pub mod spawn;
pub mod term;
pub mod tmux;
pub mod wake;
pub mod watch;
