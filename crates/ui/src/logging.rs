//! `tracing` for the binaries: a filter from `GT_LOG` / `BD_LOG`, written to stderr.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `env_var` names the filter variable (`GT_LOG` or
/// `BD_LOG`); unset means warnings only. A filter that does not parse is reported and ignored
/// rather than failing the command.
pub fn init(env_var: &str) {
    let spec = host::env::var(env_var);
    let (filter, bad) = match spec.as_deref().map(EnvFilter::try_new) {
        None => (EnvFilter::new("warn"), None),
        Some(Ok(filter)) => (filter, None),
        Some(Err(err)) => (EnvFilter::new("warn"), Some(err)),
    };
    let ansi = std::io::stderr().is_terminal() && !host::env::no_color();
    let installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(true)
        .try_init()
        .is_ok();
    if let (true, Some(err)) = (installed, bad) {
        tracing::warn!("ignoring `{env_var}`: {err}");
    }
}
