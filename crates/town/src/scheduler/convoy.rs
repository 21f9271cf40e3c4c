//! Convoys that drive themselves.
//!
//! `gt sling <convoy-or-epic> <rig>` (and `gt convoy launch`) queues every open bead of the
//! convoy or epic; the scheduler starts those that are ready, and the rest wait in the queue
//! behind their blockers: when a tracked bead lands and closes, the beads it blocked become
//! ready and the scheduler, woken by that event, starts them. `stage` shows the same order as
//! waves. `stranded` finds convoys that cannot move on their own: ready work nobody is on and
//! nothing queued for, or only blocked beads left with nothing running that could unblock
//! them.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::scheduler::queue::QueuedOptions;
use crate::work::sling::SlingOptions;
use crate::work::{Result, refused};

/// What a convoy or epic holds: the beads to work on.
fn members(store: &beads::Store, id: &str) -> Result<(String, Vec<beads::Issue>)> {
    let issue = store.get(id)?;
    let ids: Vec<String> = match issue.issue_type.as_str() {
        "convoy" => store
            .convoy_status(id)?
            .tracked
            .into_iter()
            .map(|t| t.id)
            .collect(),
        "epic" => store
            .children(id)?
            .into_iter()
            .map(|v| v.issue.id)
            .collect(),
        other => {
            return Err(refused(format!(
                "`{id}` is a {other}, not a convoy or an epic"
            )));
        }
    };
    let mut beads = Vec::with_capacity(ids.len());
    for bead in ids {
        if let Ok(b) = store.get(&bead) {
            beads.push(b);
        }
    }
    Ok((issue.issue_type, beads))
}

/// Whether `id` names a convoy or an epic (what `gt sling` schedules whole).
pub fn is_batch(store: &beads::Store, id: &str) -> bool {
    store
        .get(id)
        .is_ok_and(|i| matches!(i.issue_type.as_str(), "convoy" | "epic"))
}

/// What a launch queued.
#[derive(Debug, Clone, Serialize)]
pub struct Launch {
    pub convoy: String,
    /// Beads queued now, with their place in the queue.
    pub queued: Vec<(String, i64)>,
    /// Beads left alone: closed, running, or waiting for review.
    pub skipped: Vec<String>,
}

/// Queues every open bead of convoy or epic `id` for `rig`; an epic gets a convoy tracking
/// its children (made once).
pub fn launch(
    store: &mut beads::Store,
    id: &str,
    rig: &str,
    opts: &SlingOptions,
) -> Result<Launch> {
    let id = store.resolve(id)?;
    let (kind, beads) = members(store, &id)?;
    if beads.is_empty() {
        return Err(refused(format!("`{id}` has no beads to work on")));
    }
    let convoy = if kind == "convoy" {
        id.clone()
    } else {
        epic_convoy(store, &id, &beads)?
    };
    let options = QueuedOptions::of(opts, Some(&convoy)).to_json();
    let mut launch = Launch {
        convoy,
        queued: Vec::new(),
        skipped: Vec::new(),
    };
    for bead in &beads {
        if is_queued(bead) {
            let q = store.enqueue_sling(&bead.id, rig, &options)?;
            launch.queued.push((bead.id.clone(), q.position));
        } else {
            launch.skipped.push(bead.id.clone());
        }
    }
    Ok(launch)
}

/// Whether a launch queues `bead`: open work, not a nested epic (closed, running or
/// in-review beads are left alone).
fn is_queued(bead: &beads::Issue) -> bool {
    bead.status == "open" && bead.issue_type != "epic"
}

/// The open convoy already tracking an epic's children (found by its first child), if any.
fn tracking_convoy(store: &beads::Store, beads: &[beads::Issue]) -> Result<Option<String>> {
    let Some(first) = beads.first() else {
        return Ok(None);
    };
    Ok(store
        .convoys_tracking(&first.id)?
        .into_iter()
        .find(|c| store.get(c).is_ok_and(|i| i.status != "closed")))
}

/// The open convoy tracking an epic's children, made if there is none.
fn epic_convoy(store: &mut beads::Store, epic: &str, beads: &[beads::Issue]) -> Result<String> {
    let ids: Vec<String> = beads.iter().map(|b| b.id.clone()).collect();
    if let Some(c) = tracking_convoy(store, beads)? {
        store.convoy_add(&c, &ids)?;
        return Ok(c);
    }
    let title: String = format!("Epic: {}", store.get(epic)?.title)
        .chars()
        .filter(|c| !c.is_control())
        .take(beads::model::MAX_TITLE_CHARS)
        .collect();
    Ok(store.create_convoy(&title, &ids)?.id)
}

/// What a launch would do (`gt sling <convoy-or-epic> <rig> --dry-run`); nothing is written.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The convoy or epic.
    pub id: String,
    /// The convoy that would track the beads; `None` when an epic would get a new one.
    pub convoy: Option<String>,
    /// The beads that would be queued.
    pub queued: Vec<String>,
    /// Of those, the ones ready to start now (capacity permitting).
    pub ready: Vec<String>,
    /// The open beads in waves, as [`stage`] gives them.
    pub waves: Vec<Vec<String>>,
    /// Beads that would be queued but are in no wave: they wait on a bead outside the convoy
    /// or epic (or on one that does).
    pub stuck: Vec<String>,
    /// Beads left alone: closed, running, or waiting for review.
    pub skipped: Vec<String>,
}

/// What [`launch`] would queue for convoy or epic `id`, and in which waves it would run.
pub fn plan(store: &beads::Store, id: &str) -> Result<Plan> {
    let id = store.resolve(id)?;
    let (kind, beads) = members(store, &id)?;
    if beads.is_empty() {
        return Err(refused(format!("`{id}` has no beads to work on")));
    }
    let convoy = if kind == "convoy" {
        Some(id.clone())
    } else {
        tracking_convoy(store, &beads)?
    };
    let (queued, skipped): (Vec<&beads::Issue>, Vec<&beads::Issue>) =
        beads.iter().partition(|b| is_queued(b));
    let mut ready = Vec::new();
    for bead in &queued {
        if !store.is_blocked(&bead.id)? {
            ready.push(bead.id.clone());
        }
    }
    let waves = stage(store, &id)?;
    let stuck = queued
        .iter()
        .filter(|b| !waves.iter().flatten().any(|w| *w == b.id))
        .map(|b| b.id.clone())
        .collect();
    Ok(Plan {
        waves,
        stuck,
        id,
        convoy,
        queued: queued.iter().map(|b| b.id.clone()).collect(),
        ready,
        skipped: skipped.iter().map(|b| b.id.clone()).collect(),
    })
}

/// The open beads of a convoy or epic in waves: each wave's beads depend (`blocks`) only on
/// beads of earlier waves or on beads already closed. Beads in a cycle are left out.
pub fn stage(store: &beads::Store, id: &str) -> Result<Vec<Vec<String>>> {
    let id = store.resolve(id)?;
    let (_, beads) = members(store, &id)?;
    let open: BTreeSet<String> = beads
        .iter()
        .filter(|b| b.status != "closed" && b.issue_type != "epic")
        .map(|b| b.id.clone())
        .collect();
    let mut blockers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for bead in &open {
        let deps = store.dependencies(bead, beads::Direction::Down, Some("blocks"))?;
        let mut set = BTreeSet::new();
        for d in deps {
            let closed = store
                .get(&d.depends_on_id)
                .is_ok_and(|i| i.status == "closed");
            if !closed {
                set.insert(d.depends_on_id);
            }
        }
        blockers.insert(bead.clone(), set);
    }
    Ok(waves(&blockers))
}

/// Layers a dependency map: each wave holds the beads whose blockers are all in earlier waves
/// (a blocker outside the map is treated as never done).
pub fn waves(blockers: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let mut done: BTreeSet<&String> = BTreeSet::new();
    let mut waves = Vec::new();
    loop {
        let wave: Vec<String> = blockers
            .iter()
            .filter(|(bead, deps)| !done.contains(bead) && deps.iter().all(|d| done.contains(d)))
            .map(|(bead, _)| bead.clone())
            .collect();
        if wave.is_empty() {
            return waves;
        }
        for bead in &wave {
            if let Some((key, _)) = blockers.get_key_value(bead) {
                done.insert(key);
            }
        }
        waves.push(wave);
    }
}

/// A convoy that cannot move on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stranded {
    pub convoy: String,
    pub title: String,
    /// `ready_unassigned` or `only_blocked`.
    pub reason: &'static str,
    /// The beads concerned.
    pub beads: Vec<String>,
}

/// Open convoys with ready work nobody is on and nothing queued for it, or with only blocked
/// beads left and nothing running or queued that could unblock them.
pub fn stranded(store: &beads::Store) -> Result<Vec<Stranded>> {
    let queued: BTreeSet<String> = store
        .sling_contexts(false)?
        .into_iter()
        .map(|c| c.bead_id)
        .collect();
    let mut out = Vec::new();
    for convoy in store.convoys(false)? {
        if convoy.landed_at.is_some() {
            continue;
        }
        let mut ready = Vec::new();
        let mut blocked = Vec::new();
        let mut moving = false;
        for t in &convoy.tracked {
            match t.status.as_str() {
                "closed" | "tombstone" | "missing" => {}
                "open" if queued.contains(&t.id) => moving = true,
                "open" if t.assignee.is_empty() => {
                    if store.is_blocked(&t.id).unwrap_or(false) {
                        blocked.push(t.id.clone());
                    } else {
                        ready.push(t.id.clone());
                    }
                }
                _ => moving = true,
            }
        }
        if !ready.is_empty() {
            out.push(Stranded {
                convoy: convoy.id.clone(),
                title: convoy.title.clone(),
                reason: "ready_unassigned",
                beads: ready,
            });
        } else if !blocked.is_empty() && !moving {
            out.push(Stranded {
                convoy: convoy.id.clone(),
                title: convoy.title.clone(),
                reason: "only_blocked",
                beads: blocked,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(edges: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
        edges
            .iter()
            .map(|(b, deps)| {
                (
                    (*b).to_owned(),
                    deps.iter().map(|d| (*d).to_owned()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn waves_follow_the_dependency_graph() {
        let m = map(&[
            ("a", &[]),
            ("b", &["a"]),
            ("c", &["a"]),
            ("d", &["b", "c"]),
            ("e", &[]),
        ]);
        assert_eq!(waves(&m), vec![vec!["a", "e"], vec!["b", "c"], vec!["d"]]);
    }

    #[test]
    fn a_cycle_and_what_waits_on_it_are_left_out() {
        let m = map(&[("a", &["b"]), ("b", &["a"]), ("c", &[]), ("d", &["a"])]);
        assert_eq!(waves(&m), vec![vec!["c"]]);
    }
}
