//! Merge slots: one mutex bead per rig (`<prefix>-merge-slot`) that serializes conflict
//! resolution (`bd merge-slot`). Held means status `in_progress` with `metadata.holder`;
//! `metadata.waiters` queues who asked to be next. Every change is one compare-and-swap
//! transaction, so two agents can never both hold it.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::model::Issue;
use crate::ops::create::NewIssue;
use crate::ops::update::store_fields;
use crate::ops::{fetch, rehash};
use crate::readiness;
use crate::store::Store;

/// The slot's state (`merge-slot check`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlotState {
    pub id: String,
    pub available: bool,
    pub holder: Option<String>,
    pub waiters: Vec<String>,
}

/// What `acquire` got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    /// `holder` holds the slot now (or already did).
    Held,
    /// Someone else holds it; the caller is `position` in the queue (1 = next).
    Waiting { holder: String, position: usize },
    /// Someone else holds it and the caller did not ask to wait.
    Busy { holder: String },
}

fn state(slot: &Issue) -> SlotState {
    let meta = slot.metadata.as_ref().and_then(Value::as_object);
    let holder = meta
        .and_then(|m| m.get("holder"))
        .and_then(Value::as_str)
        .filter(|h| !h.is_empty())
        .map(str::to_owned);
    let waiters = meta
        .and_then(|m| m.get("waiters"))
        .and_then(Value::as_array)
        .map(|w| {
            w.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    SlotState {
        id: slot.id.clone(),
        available: slot.status == "open" && holder.is_none(),
        holder,
        waiters,
    }
}

/// `slot` with `holder`, `waiters` and the status that goes with them.
fn with_state(slot: &Issue, holder: Option<&str>, waiters: &[String]) -> Issue {
    let mut meta: Map<String, Value> = slot
        .metadata
        .as_ref()
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    match holder {
        Some(h) => meta.insert("holder".into(), Value::from(h)),
        None => meta.remove("holder"),
    };
    meta.insert("waiters".into(), Value::from(waiters.to_vec()));
    Issue {
        status: if holder.is_some() {
            "in_progress"
        } else {
            "open"
        }
        .into(),
        assignee: holder.unwrap_or_default().to_owned(),
        metadata: Some(Value::Object(meta)),
        ..slot.clone()
    }
}

impl Store {
    /// This rig's merge slot id.
    pub fn merge_slot_id(&self) -> String {
        format!("{}-merge-slot", self.prefix())
    }

    /// Creates the merge slot if there is none; returns it either way.
    pub fn merge_slot_create(&mut self) -> Result<Issue> {
        let id = self.merge_slot_id();
        if self.exists(&id)? {
            return self.get(&id);
        }
        self.create(NewIssue {
            id: Some(id),
            title: "Merge slot".into(),
            description: "Held by whoever is resolving merge conflicts on this rig; \
                          `bd merge-slot acquire` / `release`."
                .into(),
            issue_type: Some("slot".into()),
            labels: vec!["gt:slot".into()],
            ..NewIssue::default()
        })
    }

    /// The slot's state; [`Error::NotFound`] if it was never created.
    pub fn merge_slot_check(&self) -> Result<SlotState> {
        Ok(state(&self.get(&self.merge_slot_id())?))
    }

    /// Takes the slot for `holder` if it is free (or already `holder`'s); otherwise, with
    /// `wait`, queues `holder` behind the current one.
    pub fn merge_slot_acquire(&mut self, holder: &str, wait: bool) -> Result<Acquired> {
        let id = self.merge_slot_id();
        self.write(|tx, w| {
            let slot = fetch(tx, &id)?;
            let s = state(&slot);
            let (new, outcome) = match &s.holder {
                None => {
                    let waiters: Vec<String> =
                        s.waiters.iter().filter(|x| *x != holder).cloned().collect();
                    (
                        Some(with_state(&slot, Some(holder), &waiters)),
                        Acquired::Held,
                    )
                }
                Some(current) if current == holder => (None, Acquired::Held),
                Some(current) if wait => {
                    let mut waiters = s.waiters.clone();
                    if !waiters.iter().any(|x| x == holder) {
                        waiters.push(holder.to_owned());
                    }
                    let position = waiters.iter().position(|x| x == holder).unwrap_or(0) + 1;
                    let waiting = Acquired::Waiting {
                        holder: current.clone(),
                        position,
                    };
                    (Some(with_state(&slot, Some(current), &waiters)), waiting)
                }
                Some(current) => (
                    None,
                    Acquired::Busy {
                        holder: current.clone(),
                    },
                ),
            };
            if let Some(new) = new {
                store_fields(tx, &slot, &new, w)?;
                readiness::refresh(tx, w.settings, vec![id.clone()])?;
                rehash(tx, &id)?;
            }
            Ok(outcome)
        })
    }

    /// Frees the slot. With `holder`, only if that is who holds it.
    pub fn merge_slot_release(&mut self, holder: Option<&str>) -> Result<()> {
        let id = self.merge_slot_id();
        self.write(|tx, w| {
            let slot = fetch(tx, &id)?;
            let s = state(&slot);
            if let (Some(asked), Some(current)) = (holder, &s.holder)
                && asked != current
            {
                return Err(Error::Conflict(format!(
                    "the merge slot is held by `{current}`, not `{asked}`"
                )));
            }
            if s.holder.is_none() {
                return Ok(());
            }
            let new = with_state(&slot, None, &s.waiters);
            store_fields(tx, &slot, &new, w)?;
            readiness::refresh(tx, w.settings, vec![id.clone()])?;
            rehash(tx, &id).map(drop)
        })
    }
}
