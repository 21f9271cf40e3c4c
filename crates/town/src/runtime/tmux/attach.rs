//! Putting a person's terminal on an agent's session: `gt session at`, `gt mayor attach`.
//!
//! The session lives on the town's private server (`tmux -L <socket>`), so a plain
//! `tmux attach` from the user's shell never finds it. A caller outside tmux, or inside a pane
//! of another server (the user's own tmux), gets `attach-session` (nested in the second case,
//! which tmux allows once `TMUX` is unset); a caller inside a client of the town's server is
//! moved with `switch-client`, since attaching there would nest the server in itself.

use std::path::Path;
use std::process::ExitStatus;

use host::tmux::Join;

use super::{TmuxRuntime, not_found, tmux_error};
use crate::runtime::{RuntimeError, check_session_name};

/// The tmux client to run on the caller's terminal, from [`TmuxRuntime::attach_command`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachCommand {
    /// The session, by the town's name for it (`gt-furiosa`).
    pub session: String,
    /// `tmux -L <socket> … attach-session|switch-client -t =<tmux name>`.
    pub argv: Vec<String>,
    pub join: Join,
}

impl AttachCommand {
    /// Runs the client on this process's terminal until it detaches or the session ends.
    pub fn run(&self) -> Result<ExitStatus, RuntimeError> {
        host::tmux::run_client(&self.argv, self.join).map_err(|e| tmux_error(&self.session, e))
    }
}

impl TmuxRuntime {
    /// How the caller's terminal joins session `name`, which must exist and be this town's
    /// ([`RuntimeError::NotFound`], [`RuntimeError::Foreign`]). `caller_tmux` is the caller's
    /// `TMUX` variable, set inside a tmux pane: a pane of this town's server switches its client
    /// over, anything else attaches.
    pub fn attach_command(
        &self,
        name: &str,
        caller_tmux: Option<&str>,
    ) -> Result<AttachCommand, RuntimeError> {
        check_session_name(name)?;
        self.pane(name)?.ok_or_else(|| not_found(name))?;
        let join = match caller_tmux.and_then(host::tmux::server_of) {
            Some(server) if self.is_own_server(server)? => Join::Switch,
            _ => Join::Attach,
        };
        let argv = self
            .tmux
            .join_argv(&self.tmux_name(name), join)
            .map_err(|e| tmux_error(name, e))?;
        Ok(AttachCommand {
            session: name.to_owned(),
            argv,
            join,
        })
    }

    /// Whether `socket` (from a pane's `TMUX`) is where this town's server listens.
    fn is_own_server(&self, socket: &Path) -> Result<bool, RuntimeError> {
        let own = self.tmux.socket_path().map_err(|e| tmux_error("*", e))?;
        let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_owned());
        Ok(canonical(&own) == canonical(socket))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use host::tmux::Tmux;
    use testkit::{TmuxServer, require_cmd};

    use super::*;
    use crate::runtime::Runtime as _;
    use crate::runtime::SessionSpec;

    fn spec(dir: &Path, name: &str) -> SessionSpec {
        SessionSpec {
            name: name.to_owned(),
            cwd: dir.to_owned(),
            env: Vec::new(),
            argv: vec!["sleep".into(), "300".into()],
            readiness: crate::agents::Readiness::Delay { ms: 0 },
            process_names: Vec::new(),
        }
    }

    /// A private server and a town's runtime on it; `None` without tmux.
    fn fixture() -> Option<(TmuxServer, tempfile::TempDir, TmuxRuntime)> {
        if !require_cmd("tmux") {
            return None;
        }
        let server = TmuxServer::start();
        let dir = tempfile::tempdir().unwrap();
        let runtime = TmuxRuntime::new(Tmux::new(server.socket_name()), dir.path())
            .with_kill_grace(Duration::from_secs(2));
        Some((server, dir, runtime))
    }

    #[test]
    fn attaches_from_outside_and_switches_from_inside_the_towns_server() {
        let Some((server, dir, runtime)) = fixture() else {
            return;
        };
        runtime.start(&spec(dir.path(), "gt-nux")).unwrap();
        let target = format!("={}", runtime.tmux_name("gt-nux"));

        let outside = runtime.attach_command("gt-nux", None).unwrap();
        assert_eq!(outside.join, Join::Attach);
        assert_eq!(
            outside.argv[outside.argv.len() - 3..],
            ["attach-session", "-t", &target]
        );
        assert!(outside.argv.contains(&server.socket_name().to_owned()));

        let other = "/tmp/tmux-1000/default,4242,0";
        assert_eq!(
            runtime.attach_command("gt-nux", Some(other)).unwrap().join,
            Join::Attach
        );

        let inside = format!("{},4242,0", server.socket_path().display());
        let switch = runtime.attach_command("gt-nux", Some(&inside)).unwrap();
        assert_eq!(switch.join, Join::Switch);
        assert_eq!(
            switch.argv[switch.argv.len() - 3..],
            ["switch-client", "-t", &target]
        );
    }

    #[test]
    fn a_missing_or_foreign_session_is_not_attached() {
        let Some((server, dir, runtime)) = fixture() else {
            return;
        };
        assert!(matches!(
            runtime.attach_command("ghost", None),
            Err(RuntimeError::NotFound { .. })
        ));
        assert!(matches!(
            runtime.attach_command("bad.name", None),
            Err(RuntimeError::InvalidName { .. })
        ));
        let other = tempfile::tempdir().unwrap();
        let theirs = TmuxRuntime::new(Tmux::new(server.socket_name()), other.path());
        // The other town's tmux name for `gt-x`, stamped as theirs, under this town's name.
        let foreign = Tmux::new(server.socket_name()).with_owner("/elsewhere");
        foreign
            .new_session(
                &runtime.tmux_name("gt-x"),
                dir.path(),
                &[],
                &["sleep".into(), "300".into()],
            )
            .unwrap();
        assert!(matches!(
            runtime.attach_command("gt-x", None),
            Err(RuntimeError::Foreign { .. })
        ));
        assert!(matches!(
            theirs.attach_command("gt-x", None),
            Err(RuntimeError::NotFound { .. })
        ));
    }
}
