//! Durable mail between the town's agents and the human.
//!
//! Messages are typed rows in the town's store ([`beads::ops::mail`]); this module decides who
//! receives them. [`send`] resolves every address first ([`resolve`]: a mailbox must exist, a
//! list or queue must be defined in `settings/messaging.json` ([`config`]), a broadcast expands
//! to the agents known now), marks protocol mail ephemeral ([`protocol`]), and commits the
//! message with all its deliveries in one transaction before it returns. Notifying the
//! recipients (nudges) is the caller's job, after the commit: a failed notification never
//! loses mail.
//!
//! [`notify`] queues a nudge for each reached agent that runs, once the mail is committed.
//!
//! [`gc`] is the deacon's: protocol mail no recipient still holds in an inbox, or older than
//! its time to live, is deleted; human mail is kept.

pub mod config;
pub mod notify;
pub mod protocol;
pub mod remind;
mod resolve;

use std::path::PathBuf;

use beads::{DeliveryRole, Message, MessageType, NewMessage, Store};

use crate::address::{Address, AddressError};
use crate::files::FileError;
use crate::layout::Town;

/// Why mail could not be sent or read.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error(transparent)]
    Address(#[from] AddressError),
    /// The address names a rig the town does not have.
    #[error("cannot deliver to `{address}`: the town has no rig `{rig}`")]
    UnknownRig { address: String, rig: String },
    /// The address names an agent the town does not know.
    #[error("cannot deliver to `{address}`: {why}")]
    UnknownAgent { address: String, why: String },
    /// `list:<name>` names no list.
    #[error("cannot deliver to `list:{name}`: `{}` defines no list `{name}`", path.display())]
    UnknownList { name: String, path: PathBuf },
    /// `queue:<name>` names no queue.
    #[error("cannot deliver to `queue:{name}`: `{}` defines no queue `{name}`", path.display())]
    UnknownQueue { name: String, path: PathBuf },
    /// A broadcast found nobody to deliver to.
    #[error("cannot deliver to `{address}`: it reaches no agent but the sender")]
    NobodyThere { address: String },
    /// A list, queue or broadcast where one mailbox is needed (a sender, an identity).
    #[error("`{address}` is not one mailbox: mail is sent from and read in one agent's mailbox")]
    NotAMailbox { address: String },
    /// A subject that is empty or only blanks.
    #[error("a message needs a subject")]
    EmptySubject,
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    Store(#[from] beads::Error),
}

/// A message to send, as its sender wrote it.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub subject: String,
    pub body: String,
    /// 0 urgent … 4 backlog ([`beads::ops::mail::PRIORITY_NORMAL`] by default).
    pub priority: i64,
    pub msg_type: MessageType,
    pub reply_to: Option<i64>,
    /// `Some(true)`/`Some(false)` forces it; `None` follows the protocol catalog.
    pub ephemeral: Option<bool>,
}

/// A sent message and the mailboxes it reached (for the caller to notify).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sent {
    pub message: Message,
    pub mailboxes: Vec<String>,
    /// The agents told of it ([`notify`]), once the caller has.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notified: Vec<notify::Notified>,
}

/// Sends `out` from `from`: every address is resolved and checked before anything is
/// written; then the message and its deliveries are committed in one transaction.
pub fn send(
    town: &Town,
    store: &mut Store,
    from: &Address,
    out: &Outgoing,
) -> Result<Sent, MailError> {
    if !from.is_mailbox() {
        return Err(MailError::NotAMailbox {
            address: from.canonical(),
        });
    }
    if out.subject.trim().is_empty() {
        return Err(MailError::EmptySubject);
    }
    let mut resolver = resolve::Resolver::new(town, store)?;
    let mut deliveries = Vec::new();
    for (addresses, role) in [(&out.to, DeliveryRole::To), (&out.cc, DeliveryRole::Cc)] {
        for address in addresses {
            deliveries.extend(resolver.deliveries(address, role, from)?);
        }
    }
    // The first role given wins (the store keeps one delivery per mailbox); report each
    // mailbox once, in the order reached.
    let mut mailboxes: Vec<String> = Vec::new();
    for (mailbox, _) in &deliveries {
        if !mailboxes.contains(mailbox) {
            mailboxes.push(mailbox.clone());
        }
    }
    let canon = |list: &[Address]| list.iter().map(Address::canonical).collect();
    let message = store.send_mail(
        &NewMessage {
            from: from.canonical(),
            to: canon(&out.to),
            cc: canon(&out.cc),
            subject: out.subject.clone(),
            body: out.body.clone(),
            priority: out.priority,
            msg_type: out.msg_type,
            reply_to: out.reply_to,
            ephemeral: out
                .ephemeral
                .unwrap_or_else(|| protocol::is_protocol(&out.subject)),
        },
        &deliveries,
    )?;
    Ok(Sent {
        message,
        mailboxes,
        notified: Vec::new(),
    })
}

/// Checks an address written in configuration as far as the town can tell without its store
/// (see [`resolve::check_configured`]).
pub fn check_configured(town: &Town, address: &Address) -> Result<(), MailError> {
    resolve::check_configured(town, address)
}

/// The subject of a reply: `Re: <subject>`, not doubled.
pub fn reply_subject(subject: &str) -> String {
    if subject.starts_with("Re: ") {
        subject.to_owned()
    } else {
        format!("Re: {subject}")
    }
}

/// Deletes protocol mail no recipient holds in an inbox any more, or sent more than `ttl`
/// before `now`. Returns the ids collected.
pub fn gc(
    store: &mut Store,
    now: jiff::Timestamp,
    ttl: std::time::Duration,
) -> Result<Vec<i64>, beads::Error> {
    let ttl = jiff::SignedDuration::try_from(ttl).unwrap_or(jiff::SignedDuration::MAX);
    let cutoff = now.checked_sub(ttl).unwrap_or(jiff::Timestamp::MIN);
    store.mail_gc(&beads::store::format_ts(cutoff))
}

#[cfg(test)]
mod tests {
    use super::reply_subject;

    #[test]
    fn replies_are_prefixed_once() {
        assert_eq!(reply_subject("hello"), "Re: hello");
        assert_eq!(reply_subject("Re: hello"), "Re: hello");
    }
}
