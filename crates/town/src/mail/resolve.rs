//! From the addresses a sender wrote to the mailboxes that receive the message.
//!
//! A mailbox address is checked to exist where the town can tell: the mayor, the deacon and
//! the overseer always do; a witness or refinery needs its rig registered; a polecat needs a
//! store row (not nuked) or a worktree; a crew member a directory under `<rig>/crew/`.
//! `list:<name>` and `queue:<name>` must be defined in `settings/messaging.json`; `@town` and
//! `@rig/<rig>` expand to the agents known when the message is sent, less the sender.

use std::collections::BTreeSet;

use beads::{DeliveryRole, PolecatState, Store};

use super::MailError;
use super::config::Messaging;
use crate::address::Address;
use crate::layout::{RigPaths, Town};

/// What a resolver reads, once per send.
pub(super) struct Resolver<'a> {
    town: &'a Town,
    store: &'a Store,
    rigs: BTreeSet<String>,
    messaging: Option<Messaging>,
}

impl<'a> Resolver<'a> {
    pub(super) fn new(town: &'a Town, store: &'a Store) -> Result<Self, MailError> {
        Ok(Self {
            town,
            store,
            rigs: town.rigs()?.rigs.into_keys().collect(),
            messaging: None,
        })
    }

    fn messaging(&mut self) -> Result<&Messaging, MailError> {
        if self.messaging.is_none() {
            self.messaging = Some(super::config::load(self.town)?);
        }
        Ok(self.messaging.as_ref().expect("loaded above"))
    }

    /// The deliveries for `address` as `role` (`To` or `Cc`), excluding `sender` from
    /// broadcasts.
    pub(super) fn deliveries(
        &mut self,
        address: &Address,
        role: DeliveryRole,
        sender: &Address,
    ) -> Result<Vec<(String, DeliveryRole)>, MailError> {
        match address {
            Address::List { name } => {
                let town = self.town;
                let members = list_members(self.messaging()?, town, name)?.to_vec();
                members
                    .iter()
                    .map(|m| self.check(m).map(|()| (m.canonical(), role)))
                    .collect()
            }
            Address::Queue { name } => {
                let town = self.town;
                check_queue(self.messaging()?, town, name)?;
                Ok(vec![(address.canonical(), DeliveryRole::Queue)])
            }
            Address::Town | Address::Rig { .. } => {
                let agents = match address {
                    Address::Rig { rig } => {
                        self.check_rig(address, rig)?;
                        self.rig_agents(rig)?
                    }
                    _ => {
                        let mut all = vec![Address::Mayor, Address::Deacon];
                        for rig in self.rigs.clone() {
                            all.extend(self.rig_agents(&rig)?);
                        }
                        all
                    }
                };
                let out: Vec<_> = agents
                    .into_iter()
                    .filter(|a| a != sender)
                    .map(|a| (a.canonical(), role))
                    .collect();
                if out.is_empty() {
                    return Err(MailError::NobodyThere {
                        address: address.canonical(),
                    });
                }
                Ok(out)
            }
            mailbox => {
                self.check(mailbox)?;
                Ok(vec![(mailbox.canonical(), role)])
            }
        }
    }

    /// Checks that one mailbox exists.
    pub(super) fn check(&self, address: &Address) -> Result<(), MailError> {
        match address {
            Address::Mayor | Address::Deacon | Address::Overseer => Ok(()),
            Address::Witness { rig } | Address::Refinery { rig } => self.check_rig(address, rig),
            Address::Polecat { rig, name } => {
                self.check_rig(address, rig)?;
                let row = self.store.polecat(rig, name)?;
                let known = row.is_some_and(|p| p.state != PolecatState::Nuked)
                    || RigPaths::new(self.town, rig)
                        .polecats_dir()
                        .join(name)
                        .is_dir();
                if known {
                    Ok(())
                } else {
                    Err(MailError::UnknownAgent {
                        address: address.canonical(),
                        why: format!(
                            "rig `{rig}` has no polecat `{name}` (neither the store nor a worktree knows it)"
                        ),
                    })
                }
            }
            Address::Crew { rig, name } => {
                self.check_rig(address, rig)?;
                check_crew(self.town, address, rig, name)
            }
            // Expanded by `deliveries`, never checked as one mailbox.
            Address::List { .. } | Address::Queue { .. } | Address::Town | Address::Rig { .. } => {
                Err(MailError::NotAMailbox {
                    address: address.canonical(),
                })
            }
        }
    }

    fn check_rig(&self, address: &Address, rig: &str) -> Result<(), MailError> {
        check_rig(&self.rigs, address, rig)
    }

    /// A rig's agents now: its witness and refinery, its polecats (store rows not nuked, and
    /// worktrees), its crew.
    fn rig_agents(&self, rig: &str) -> Result<Vec<Address>, MailError> {
        let paths = RigPaths::new(self.town, rig);
        let mut polecats: BTreeSet<String> = self
            .store
            .polecats(Some(rig))?
            .into_iter()
            .filter(|p| p.state != PolecatState::Nuked)
            .map(|p| p.name)
            .collect();
        polecats.extend(paths.polecat_names()?);
        let mut out = vec![
            Address::Witness { rig: rig.into() },
            Address::Refinery { rig: rig.into() },
        ];
        out.extend(polecats.into_iter().map(|name| Address::Polecat {
            rig: rig.into(),
            name,
        }));
        out.extend(paths.crew_names()?.into_iter().map(|name| Address::Crew {
            rig: rig.into(),
            name,
        }));
        Ok(out)
    }
}

/// Checks what can be known of `address` without the store, for addresses written in
/// configuration (an escalation's mail route): its rig is registered, a crew member's directory
/// exists, a list or queue is defined. A polecat is checked only for its rig: polecats come and
/// go, and sending checks the rest.
pub(super) fn check_configured(town: &Town, address: &Address) -> Result<(), MailError> {
    let rigs: BTreeSet<String> = town.rigs()?.rigs.into_keys().collect();
    match address {
        Address::Mayor | Address::Deacon | Address::Overseer | Address::Town => Ok(()),
        Address::Witness { rig }
        | Address::Refinery { rig }
        | Address::Polecat { rig, .. }
        | Address::Rig { rig } => check_rig(&rigs, address, rig),
        Address::Crew { rig, name } => {
            check_rig(&rigs, address, rig)?;
            check_crew(town, address, rig, name)
        }
        Address::List { name } => list_members(&super::config::load(town)?, town, name).map(drop),
        Address::Queue { name } => check_queue(&super::config::load(town)?, town, name),
    }
}

fn check_rig(rigs: &BTreeSet<String>, address: &Address, rig: &str) -> Result<(), MailError> {
    if rigs.contains(rig) {
        Ok(())
    } else {
        Err(MailError::UnknownRig {
            address: address.canonical(),
            rig: rig.to_owned(),
        })
    }
}

fn check_crew(town: &Town, address: &Address, rig: &str, name: &str) -> Result<(), MailError> {
    if RigPaths::new(town, rig).crew_dir().join(name).is_dir() {
        Ok(())
    } else {
        Err(MailError::UnknownAgent {
            address: address.canonical(),
            why: format!("rig `{rig}` has no crew member `{name}`"),
        })
    }
}

fn list_members<'m>(
    messaging: &'m Messaging,
    town: &Town,
    name: &str,
) -> Result<&'m [Address], MailError> {
    messaging
        .lists
        .get(name)
        .map(Vec::as_slice)
        .ok_or_else(|| MailError::UnknownList {
            name: name.to_owned(),
            path: super::config::path(town),
        })
}

fn check_queue(messaging: &Messaging, town: &Town, name: &str) -> Result<(), MailError> {
    if messaging.queues.contains_key(name) {
        Ok(())
    } else {
        Err(MailError::UnknownQueue {
            name: name.to_owned(),
            path: super::config::path(town),
        })
    }
}
