//! How `gt` classifies library errors: whose fault, and what to do about it.

use std::error::Error;

use ui::{Classified, ErrorKind};

/// Classifies one link of an error chain (see `ui::error::classify`).
pub fn classify(err: &(dyn Error + 'static)) -> Option<Classified> {
    if let Some(err) = err.downcast_ref::<town::TownError>() {
        return Some(match err {
            town::TownError::NotInTown { .. } => Classified::new(ErrorKind::User)
                .hint("run `gt install <path>` to create a town, or set `GT_TOWN_ROOT`"),
            town::TownError::NotATown { .. } => Classified::new(ErrorKind::User),
        });
    }
    if let Some(err) = err.downcast_ref::<town::install::InstallError>() {
        use town::install::InstallError as E;
        return Some(match err {
            E::InsideTown { .. } => Classified::new(ErrorKind::User)
                .hint("install the town somewhere else, outside this one"),
            E::Exists { .. } => Classified::new(ErrorKind::User)
                .hint("use `gt install --force` to repair it; nothing that exists is overwritten"),
            E::NotADirectory { .. } => Classified::new(ErrorKind::User),
            E::File(_) => Classified::new(ErrorKind::User)
                .hint("fix the file, then run `gt install --force` to repair the rest"),
            E::Io { .. } | E::Store(_) | E::Git(_) => Classified::new(ErrorKind::Internal),
        });
    }
    if let Some(err) = err.downcast_ref::<town::rig::RigError>() {
        use town::rig::RigError as E;
        return Some(match err {
            E::NotFound(_) => Classified::new(ErrorKind::User).hint("`gt rig list` shows the rigs"),
            E::Busy { .. } => Classified::new(ErrorKind::User)
                .hint("finish or move the work first, or pass `--force`"),
            E::PrefixTaken { .. } => {
                Classified::new(ErrorKind::User).hint("choose another with `--prefix`")
            }
            E::Io { .. } | E::Git(_) => Classified::new(ErrorKind::Internal),
            E::Store(e) => return classify_store(e),
            _ => Classified::new(ErrorKind::User),
        });
    }
    if let Some(err) = err.downcast_ref::<town::work::WorkError>() {
        use town::work::WorkError as E;
        return Some(match err {
            // An unreadable formula file is the system's problem; a bad one (not UTF-8 included)
            // or a missing one is the user's.
            E::Formula(beads::formula::FormulaError::Io { .. }) => Classified::new(ErrorKind::Internal),
            E::Refused(_) | E::Formula(_) => Classified::new(ErrorKind::User),
            E::Busy { .. } => Classified::new(ErrorKind::User).hint("wait for the other command to finish, then run this again"),
            E::Limit(_) => Classified::new(ErrorKind::User).hint("`gt polecat list` shows what is running; raise the limit with `gt config set`"),
            E::Full(_) => Classified::new(ErrorKind::User).hint("`gt scheduler status` shows what runs and waits; `gt config set scheduler.max_polecats N` queues slings beyond N"),
            E::RateLimited(_) => Classified::new(ErrorKind::User).hint("`gt scheduler status` shows the holds; `gt account add` adds another account to rotate to"),
            E::NotAllSlung { .. } => Classified::new(ErrorKind::User)
                .hint("the other beads run; each failed one was undone: fix its cause, then sling it again"),
            E::Session { .. } => Classified::new(ErrorKind::User)
                .hint("check the agent CLI with `gt doctor`, then try again (a failed sling undoes everything it made)"),
            E::AgentCannotStart(e) => Classified::new(ErrorKind::User).hint(e.hint()),
            E::Store(e) => return classify_store(e),
            E::Git(_) | E::Io { .. } => Classified::new(ErrorKind::Internal),
            // Transparent wrappers hide the inner error from the chain; classify it directly.
            E::Rig(e) => return classify(e),
            E::Settings(e) => return classify(e),
            E::Agent(e) => return classify(e),
            E::Namepool(e) => return classify(e),
            E::File(e) => return classify(e),
        });
    }
    if let Some(err) = err.downcast_ref::<town::refinery::RefineryError>() {
        use town::refinery::RefineryError as E;
        return Some(match err {
            E::Busy { .. } => Classified::new(ErrorKind::User)
                .hint("`gt refinery status` shows which refineries run"),
            E::Store(e) => return classify_store(e),
            E::Rig(e) => return classify(e),
            E::Settings(e) => return classify(e),
            E::File(e) => return classify(e),
            E::Forge(e) => return classify(e),
            E::Git(_) | E::Lock(_) | E::Gate(_) => Classified::new(ErrorKind::Internal),
        });
    }
    if let Some(err) = err.downcast_ref::<town::refinery::integration::LandError>() {
        use town::refinery::integration::LandError as E;
        return match err {
            E::Refused(_) => Some(Classified::new(ErrorKind::User)),
            E::Refinery(e) => classify(e),
        };
    }
    if let Some(err) = err.downcast_ref::<town::forge::ForgeError>() {
        use town::forge::ForgeError as E;
        return Some(match err {
            E::Undetected { .. } => Classified::new(ErrorKind::User)
                .hint("`gt config set merge_queue.forge github --rig <rig>` (or `gitlab`)"),
            E::Missing { .. } | E::Unauthenticated { .. } => Classified::new(ErrorKind::User).hint(
                "or land by pushing: `gt config set merge_queue.strategy direct --rig <rig>`",
            ),
            E::Failed { .. } | E::Parse { .. } => Classified::new(ErrorKind::Internal),
            // Nothing was decided on the forge: the same command may succeed in a while.
            E::Unreachable { .. } => Classified::new(ErrorKind::TryLater)
                .hint("check the network and the forge's status page, then run it again"),
        });
    }
    if let Some(err) = err.downcast_ref::<town::views::ViewError>() {
        use town::views::ViewError as E;
        // Transparent wrappers hide the inner error from the chain; classify it directly.
        return match err {
            E::Store(e) => classify_store(e),
            E::Rig(e) => classify(e),
            E::File(e) => classify(e),
            E::Roster(e) => classify(e),
            E::Runtime(e) => classify(e),
        };
    }
    if let Some(err) = err.downcast_ref::<town::roster::RosterError>() {
        use town::roster::RosterError as E;
        return match err {
            E::NoSession { .. } => Some(
                Classified::new(ErrorKind::User)
                    .hint("`gt agents` lists the town's agents and their sessions"),
            ),
            E::Store(e) => classify_store(e),
            E::Rig(e) => classify(e),
            E::File(e) => classify(e),
        };
    }
    if let Some(err) = err.downcast_ref::<town::runtime::RuntimeError>() {
        use town::runtime::RuntimeError as E;
        return Some(match err {
            E::NotFound { .. } | E::Exited { .. } => Classified::new(ErrorKind::User).hint(
                "`gt session list` shows the sessions that exist and whether their agents run",
            ),
            E::Foreign { .. } | E::InvalidName { .. } => Classified::new(ErrorKind::User),
            _ => Classified::new(ErrorKind::Internal),
        });
    }
    if let Some(err) = err.downcast_ref::<town::rigctx::RigCtxError>() {
        use town::rigctx::RigCtxError as E;
        return match err {
            E::Rig(e) => classify(e),
            E::File(e) => classify(e),
            E::Settings(e) => classify(e),
        };
    }
    if let Some(err) = err.downcast_ref::<town::settings::SettingsError>() {
        return Some(match err {
            town::settings::SettingsError::UnknownKey(_) => Classified::new(ErrorKind::User)
                .hint("`gt rig config show <rig>` lists every setting"),
            _ => Classified::new(ErrorKind::User),
        });
    }
    if let Some(err) = err.downcast_ref::<town::agents::AgentError>() {
        use town::agents::AgentError as E;
        return Some(match err {
            E::UnknownPreset { .. } => Classified::new(ErrorKind::User).hint(
                "`gt config agent list` shows the presets; `gt config agent set <name> \"<program> <args…>\"` adds one",
            ),
            E::MissingCommand(_) => Classified::new(ErrorKind::User).hint("give its command line: `gt config agent set <name> \"<program> <args…>\"`"),
            E::NotInUserPresets { .. } => {
                Classified::new(ErrorKind::User).hint("`gt config agent list` marks the town's own presets and overrides")
            }
            E::File(town::files::FileError::Io { .. }) | E::Lock(_) => Classified::new(ErrorKind::Internal),
            E::InvalidName(_) | E::InvalidValue { .. } | E::UnsupportedVersion { .. } | E::File(_) => {
                Classified::new(ErrorKind::User)
            }
        });
    }
    if let Some(err) = err.downcast_ref::<town::namepool::NamepoolError>() {
        use town::namepool::NamepoolError as E;
        return Some(match err {
            E::EmptyCustom => {
                Classified::new(ErrorKind::User).hint("run `gt namepool set custom --names a,b,c`")
            }
            E::UnknownStyle(_) => Classified::new(ErrorKind::User)
                .hint("run `gt namepool set <theme>` to choose a theme"),
            E::InvalidName(_) | E::ReservedName(_) | E::DuplicateName(_) => {
                Classified::new(ErrorKind::User)
            }
        });
    }
    if let Some(err) = err.downcast_ref::<town::work::handoff::HandoffError>() {
        use town::work::handoff::HandoffError as E;
        return match err {
            E::Cooldown { .. } => Some(Classified::new(ErrorKind::TryLater).hint(
                "nothing was sent or changed; carry on, or run the same `gt handoff` once the time is up",
            )),
            E::NoSession | E::BadSession { .. } | E::NotRestartable { .. } => Some(
                Classified::new(ErrorKind::User)
                    .hint("run `gt handoff` from inside the session of a polecat, the mayor or a crew member"),
            ),
            E::WrongSession { .. } | E::OldGeneration { .. } | E::Superseded { .. } => {
                Some(Classified::new(ErrorKind::User).hint("`gt agents` shows each agent's session"))
            }
            E::NothingHooked { .. } => Some(Classified::new(ErrorKind::User)),
            E::Respawn { .. } => Some(Classified::new(ErrorKind::Internal)),
            E::Mail(e) => classify(e),
            E::Work(e) => classify(e),
            E::Store(e) => classify_store(e),
            E::File(e) => classify(e),
        };
    }
    if let Some(err) = err.downcast_ref::<town::escalation::EscalationError>() {
        use town::escalation::EscalationError as E;
        return match err {
            E::NotAnEscalation { .. } | E::Closed { .. } => Some(
                Classified::new(ErrorKind::User)
                    .hint("`gt escalate list --all` shows the escalations"),
            ),
            E::Invalid(_) => Some(Classified::new(ErrorKind::User)),
            E::Config(town::escalation::ConfigError::File(e)) => classify(e),
            E::Config(_) => Some(Classified::new(ErrorKind::User).hint(ESCALATION_CONFIG_HINT)),
            E::Store(e) => classify_store(e),
            E::Work(e) => classify(e),
        };
    }
    if let Some(err) = err.downcast_ref::<town::escalation::ConfigError>() {
        return match err {
            town::escalation::ConfigError::File(e) => classify(e),
            town::escalation::ConfigError::Invalid { .. } => {
                Some(Classified::new(ErrorKind::User).hint(ESCALATION_CONFIG_HINT))
            }
        };
    }
    if let Some(err) = err.downcast_ref::<town::mail::MailError>() {
        use town::mail::MailError as E;
        let user = Classified::new(ErrorKind::User);
        return match err {
            E::Store(e) => classify_store(e),
            E::File(e) => classify(e),
            E::Address(_) => {
                Some(user.hint(format!("addresses: {}", town::address::ADDRESS_FORMS)))
            }
            E::UnknownRig { .. } => Some(user.hint("`gt rig list` shows the rigs")),
            E::UnknownAgent { .. } | E::NobodyThere { .. } => {
                Some(user.hint("`gt polecat list` shows the polecats"))
            }
            E::UnknownList { .. } | E::UnknownQueue { .. } => {
                Some(user.hint("define it in `settings/messaging.json` (`lists` or `queues`)"))
            }
            E::NotAMailbox { .. } | E::EmptySubject => Some(user),
        };
    }
    if let Some(err) = err.downcast_ref::<web::Error>() {
        use web::Error as E;
        return Some(match err {
            E::TokenRequired { .. } => Classified::new(ErrorKind::User)
                .hint("bind to 127.0.0.1 (the default), or keep the token `gt dashboard` makes"),
            E::Bind { .. } => Classified::new(ErrorKind::User)
                .hint("another program holds that port: choose another with `--port`"),
            _ => Classified::new(ErrorKind::Internal),
        });
    }
    if let Some(err) = err.downcast_ref::<town::nudge::NudgeError>() {
        use town::nudge::NudgeError as E;
        return Some(match err {
            E::Dead { .. } => Classified::new(ErrorKind::User)
                .hint("nothing was delivered or queued; `gt status` shows which agents run"),
            E::NoSession { .. } => Classified::new(ErrorKind::User)
                .hint("nudge an agent: mayor/, deacon/, <rig>/<polecat>, <rig>/crew/<name>"),
            E::QueueFull { .. } => Classified::new(ErrorKind::User)
                .hint("the agent is not taking its nudges; `gt peek` shows its pane"),
            E::UnknownSession { .. } => Classified::new(ErrorKind::User).hint(
                "name an address (mayor/, <rig>/<polecat>, <rig>/crew/<name>) or a running \
                 agent's session; `gt polecat list` shows each polecat's session",
            ),
            E::EmptyMessage | E::InvalidSession { .. } => Classified::new(ErrorKind::User),
            E::Failed { .. } => Classified::new(ErrorKind::User).hint(
                "nothing is reported delivered that did not arrive; `gt peek` shows the pane",
            ),
            E::Io { .. } | E::Lock { .. } => Classified::new(ErrorKind::Internal),
            E::File(e) => return classify(e),
            E::Rig(e) => return classify(e),
            E::Store(e) => return classify_store(e),
        });
    }
    if err.downcast_ref::<town::address::AddressError>().is_some() {
        return Some(
            Classified::new(ErrorKind::User)
                .hint(format!("addresses: {}", town::address::ADDRESS_FORMS)),
        );
    }
    if err.downcast_ref::<town::files::FileError>().is_some() {
        return Some(Classified::new(ErrorKind::User));
    }
    if let Some(err) = err.downcast_ref::<beads::Error>() {
        return classify_store(err);
    }
    None
}

const ESCALATION_CONFIG_HINT: &str =
    "fix `settings/escalation.json` (routes: bead, log, mail:<address>, command:<program> <args>)";

fn classify_store(err: &beads::Error) -> Option<Classified> {
    Some(match err {
        beads::Error::Sqlite(_)
        | beads::Error::Io { .. }
        | beads::Error::Corrupt { .. }
        | beads::Error::DoctorFound { .. } => {
            Classified::new(ErrorKind::Internal).hint("`gt doctor` checks the town's store")
        }
        beads::Error::NoStore { .. } => Classified::new(ErrorKind::User)
            .hint("run `gt install --force` to recreate the town's store"),
        beads::Error::InvalidTransition { what, id, from, .. } => transition_hint(what, id, *from),
        beads::Error::NoMessage { .. } => Classified::new(ErrorKind::User)
            .hint("`gt mail inbox --all` lists the messages in the mailbox"),
        _ => Classified::new(ErrorKind::User),
    })
}

/// What to do when a merge request or polecat is not in a state the command can move it from.
fn transition_hint(what: &str, id: &str, from: Option<&str>) -> Classified {
    let user = Classified::new(ErrorKind::User);
    match (what, from) {
        ("merge request", None) => user.hint("`gt mq list --all` shows every merge request"),
        ("merge request", Some("testing")) => user.hint(format!(
            "the refinery is testing {id}; wait for its pass to end (`gt mq status {id}`), \
             or, if no refinery runs, the next one requeues it when it starts"
        )),
        ("merge request", Some(_)) => {
            user.hint(format!("`gt mq status {id}` shows its state and why"))
        }
        ("polecat", _) => user.hint("`gt polecat list` shows each polecat's state"),
        _ => user,
    }
}
