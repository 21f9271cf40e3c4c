//! A town with a convoy of two beads, an agent and a failed merge request, and the dashboard
//! over it.

use std::net::SocketAddr;
use std::path::Path;

use beads::{NewIssue, Store};
use town::layout::Town;
use town::runtime::{Runtimes, SubprocessRuntime, TmuxRuntime};

/// A title no page may render as markup.
pub const HOSTILE: &str = "<script>alert('pwned')</script> & \"quotes\"";

pub fn context() -> beads::Context {
    beads::Context {
        actor: "test".into(),
        clock: Box::new(host::clock::SystemClock),
    }
}

pub struct Fixture {
    pub town: Town,
    pub convoy: String,
    pub beads: [String; 2],
    pub hostile: String,
    pub failed_mr: String,
}

impl Fixture {
    pub fn new(dir: &Path) -> Self {
        let root = dir.join("town");
        town::install::install(
            &root,
            &town::install::InstallOptions {
                owner: "test@example.com".into(),
                ..Default::default()
            },
            context(),
        )
        .unwrap();
        let town = Town::at(root);
        let mut store = Store::open(&town.beads_dir(), context()).unwrap();
        let mut create = |title: &str| {
            store
                .create(NewIssue {
                    title: title.into(),
                    ..Default::default()
                })
                .unwrap()
                .id
        };
        let beads = [create("Parse the config"), create("Print the report")];
        let hostile = create(HOSTILE);
        let convoy = store.create_convoy("Reporting", beads.as_ref()).unwrap().id;
        store
            .upsert_polecat(
                "app",
                "nux",
                &beads::PolecatUpdate {
                    bead_id: Some(beads[0].clone()),
                    session: Some("gt-nux".into()),
                    runtime: Some("subprocess".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        let (mr, _) = store
            .submit_mr(&beads::NewMergeRequest {
                rig: "app".into(),
                bead_id: beads[1].clone(),
                branch: "polecat/nux/report".into(),
                sha: "0123456789abcdef0123456789abcdef01234567".into(),
                target: "main".into(),
                polecat: "nux".into(),
                priority: 2,
            })
            .unwrap();
        store.start_testing_mr(mr.id).unwrap();
        store.fail_mr(mr.id, "gate `cargo test` failed").unwrap();
        Self {
            town,
            convoy,
            beads,
            hostile,
            failed_mr: mr.label(),
        }
    }

    pub fn store(&self) -> Store {
        Store::open(&self.town.beads_dir(), context()).unwrap()
    }

    /// The dashboard as `gt dashboard` builds it, bound (for its access rules) to `bind`.
    pub fn dashboard(&self, bind: SocketAddr, token: Option<web::Token>) -> web::Shared {
        let runtimes = Runtimes::new(
            // A socket no server listens on: no tmux sessions, and never the user's server.
            TmuxRuntime::for_town(self.town.root(), Some("gt-web-test-no-server")),
            SubprocessRuntime::new(self.town.runtime_dir().join("sessions")),
            "subprocess",
        );
        let access = web::Access::new(bind, token).unwrap();
        web::Dashboard::new(
            self.town.clone(),
            self.store(),
            runtimes,
            access,
            Box::new(host::clock::SystemClock),
        )
        .unwrap()
    }
}
