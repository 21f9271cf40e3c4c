//! What the feed shows besides the event stream, read from the town in one go: the read
//! models of `gt agents`, `gt convoy status` and `gt mq list`, the open escalations, the HELP
//! mail waiting for the overseer, and which long-lived agents a person wants running.

use beads::MrState;
use jiff::Timestamp;
use town::address::Address;
use town::escalation::Escalation;
use town::layout::Town;
use town::runtime::Runtimes;
use town::views::{ConvoyItem, MrView, RosterEntry};

/// The town as the feed last read it.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub town: String,
    /// Every agent, mayor first, then per rig (as `gt agents` lists them).
    pub agents: Vec<RosterEntry>,
    /// Open convoys.
    pub convoys: Vec<ConvoyItem>,
    /// Merge requests not yet landed or given up: queued, testing, failed, conflicting.
    pub merge_queue: Vec<MrView>,
    /// Open escalations, newest first.
    pub escalations: Vec<Escalation>,
    /// Unread `HELP` mail in the overseer's mailbox (the witness forwards a polecat's there
    /// when the mayor is not running).
    pub help: Vec<HelpMail>,
    /// Addresses of the mayor and crew members a person wants running.
    pub wanted: Vec<String>,
    /// A working agent silent this long is stalled (`daemon.stall_after_secs`).
    pub stall_after_secs: i64,
    /// When it was read: ages are shown against this.
    pub now: Timestamp,
}

/// A cry for help waiting for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpMail {
    pub id: i64,
    pub from: String,
    pub subject: String,
}

/// Reads the town. Reads only: no lock another process wants, nothing written.
pub fn load(town: &Town, store: &beads::Store, runtimes: &Runtimes) -> anyhow::Result<Snapshot> {
    let name = town.config()?.name;
    let agents = town::views::roster(town, store, runtimes)?.agents;
    let convoys = town::views::convoys(store, None)?.convoys;
    let merge_queue = town::views::mq(store, None, MrState::OPEN)?.requests;
    let escalations = town::escalation::list(store, false)?;
    let help = store
        .mail_inbox(&Address::Overseer.canonical(), &beads::InboxQuery::unread())?
        .into_iter()
        .filter(|m| town::mail::protocol::is_kind(&m.message.subject, "HELP"))
        .map(|m| HelpMail {
            id: m.message.id,
            from: m.message.from,
            subject: m.message.subject,
        })
        .collect();
    let wanted = store
        .role_agents()?
        .into_iter()
        .filter(|r| r.desired == beads::Desired::Running)
        .map(|r| r.address)
        .collect();
    let settings = super::super::effective_settings(town, None, &[])?;
    let stall_after_secs =
        i64::try_from(settings.settings.daemon.stall_after_secs).unwrap_or(i64::MAX);
    Ok(Snapshot {
        town: name,
        agents,
        convoys,
        merge_queue,
        escalations,
        help,
        wanted,
        stall_after_secs,
        now: host::clock::from_env().now(),
    })
}
