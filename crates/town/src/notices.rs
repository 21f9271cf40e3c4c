//! Who is told what when the work loop moves: the protocol mail the refinery sends.
//!
//! - a change landed: `MERGED` to the polecat that made it;
//! - a convoy's last change landed: `🚚 Convoy landed` to the convoy's owner (its creator when
//!   that is an agent's address, else the overseer);
//! - a change sent back (failed gate, conflict): `FIX_NEEDED` to its polecat, with the failing
//!   output, so the agent reads why in its inbox and not only in a bead comment.
//!
//! A notice is sent after the state change it reports has committed, from the rig's refinery
//! address, and never fails that change: an agent that was nuked meanwhile, or a store error,
//! is logged and the loop goes on. The work itself never depends on a notice (the polecat's
//! bead is hooked back to it either way), so a notice lost to a crash between the two commits
//! costs a message, not work.

use beads::{MergeRequest, MessageType, Store};

use crate::address::Address;
use crate::layout::Town;
use crate::mail::{self, Outgoing};

/// Priority of a notice the agent must act on (`FIX_NEEDED`): high.
const PRIORITY_ACT: i64 = 1;
/// Priority of a notice for information (`MERGED`, convoy landed): normal.
const PRIORITY_INFO: i64 = 2;

/// Sends `MERGED` to the polecat of each request in `landed`.
pub fn merged(town: &Town, store: &mut Store, rig: &str, landed: &[MergeRequest], sha: &str) {
    let short = &sha[..sha.len().min(12)];
    for mr in landed {
        let body = format!(
            "Bead: {}\nMerge request: {}\nBranch: {}\nLanded: {}\n\nYour change landed on `{}`. \
             Nothing more to do for this bead.",
            mr.bead_id,
            mr.label(),
            mr.branch,
            short,
            mr.target
        );
        tell(
            town,
            store,
            rig,
            &mr.polecat,
            format!("MERGED: {} ({})", mr.bead_id, mr.label()),
            body,
            PRIORITY_INFO,
        );
    }
}

/// Sends `🚚 Convoy landed` for each of `convoys` (convoys that have just landed), to its
/// owner: one read of each convoy.
pub fn convoys_landed(town: &Town, store: &mut Store, rig: &str, convoys: &[String]) {
    for id in convoys {
        let status = match store.convoy_status(id) {
            Ok(status) => status,
            Err(e) => {
                tracing::warn!(convoy = %id, error = %e, "cannot read a convoy to announce it");
                continue;
            }
        };
        let owner = Address::parse(&status.created_by)
            .ok()
            .filter(Address::is_mailbox)
            .unwrap_or(Address::Overseer);
        let beads: Vec<String> = status
            .tracked
            .iter()
            .map(|t| format!("- {} {}", t.id, t.title))
            .collect();
        let body = format!(
            "Convoy: {}\nBeads: {}\n\nEvery bead of `{}` has landed:\n{}",
            status.id,
            status.tracked.len(),
            status.title,
            beads.join("\n")
        );
        // The owner, then everyone who asked with `gt convoy watch`, each once.
        let mut told = vec![owner.canonical()];
        for watcher in store.labels(id).unwrap_or_default().iter().filter_map(|l| {
            l.strip_prefix(WATCHER_LABEL)
                .and_then(|a| Address::parse(a).ok())
                .filter(Address::is_mailbox)
        }) {
            if !told.contains(&watcher.canonical()) {
                told.push(watcher.canonical());
            }
        }
        for to in &told {
            tell(
                town,
                store,
                rig,
                to,
                format!("🚚 Convoy landed: {}", status.title),
                body.clone(),
                PRIORITY_INFO,
            );
        }
    }
}

/// The label prefix on a convoy naming an address told when it lands (`gt convoy watch`).
pub const WATCHER_LABEL: &str = "gt:watcher:";

/// Sends `FIX_NEEDED` to the polecat of `mr`: `why` in one line, `detail` (the failing output,
/// the conflicting paths) below it.
pub fn fix_needed(
    town: &Town,
    store: &mut Store,
    rig: &str,
    mr: &MergeRequest,
    why: &str,
    detail: &str,
) {
    let body = format!(
        "Bead: {}\nMerge request: {}\nBranch: {}\nReason: {}\n\n{}\n\nFix it on your branch, \
         commit, and run `gt done` again. `gt prime` shows the bead.",
        mr.bead_id,
        mr.label(),
        mr.branch,
        why,
        detail.trim_end()
    );
    tell(
        town,
        store,
        rig,
        &mr.polecat,
        format!("FIX_NEEDED: {} ({})", mr.bead_id, why),
        body,
        PRIORITY_ACT,
    );
}

fn tell(
    town: &Town,
    store: &mut Store,
    rig: &str,
    to: &str,
    subject: String,
    body: String,
    priority: i64,
) {
    let Ok(to) = Address::parse(to) else {
        // A request made by hand (`gt mq submit` outside a polecat) has no agent to tell.
        return;
    };
    let out = Outgoing {
        to: vec![to],
        cc: Vec::new(),
        subject,
        body,
        priority,
        msg_type: MessageType::Notification,
        reply_to: None,
        ephemeral: None,
    };
    let from = Address::Refinery {
        rig: rig.to_owned(),
    };
    if let Err(e) = mail::send(town, store, &from, &out) {
        tracing::warn!(subject = %out.subject, error = %e, "cannot send a notice");
    }
}
