//! Pull requests of changes that are not waiting on the forge: sent back, or given up on.
//!
//! A change sent back (a failing check, an ejection from the merge queue, changes requested,
//! a conflict) keeps its pull request open, with a comment saying why: its polecat's fix is
//! pushed to the same `refinery/<branch>`, and the next pass finds that pull request again by
//! its head, so reviewers keep one conversation per change. Meanwhile the pull request is
//! *parked* — kv `refinery.parked-pr.<rig>.<bead>` holds `<number> <head branch>` — and every
//! pass looks at the parked ones. One is closed, with a comment saying why, and its branch
//! deleted, once the town no longer pursues its change: the bead was closed (landed another
//! way, abandoned, closed by hand) or is gone, no request of the bead is left to resubmit it
//! (rejected), or the bead's change came back on another branch (a new polecat), whose own
//! pull request supersedes it. No pull request stays open for a change the town dropped.

use super::{PassReport, Refinery, Result, git};
use crate::forge::Forge;

const PARKED: &str = "refinery.parked-pr.";

/// The requests of a bead that can still come back to the refinery.
const LIVE: [beads::MrState; 4] = [
    beads::MrState::Queued,
    beads::MrState::Testing,
    beads::MrState::Failed,
    beads::MrState::Conflict,
];

/// One parked pull request.
struct Parked {
    key: String,
    bead: String,
    number: u64,
    head: String,
}

impl Refinery<'_> {
    fn parked_key(&self, bead: &str) -> String {
        format!("{PARKED}{}.{bead}", self.rig)
    }

    pub(super) fn any_parked(&self) -> Result<bool> {
        Ok(!self.parked()?.is_empty())
    }

    fn parked(&self) -> Result<Vec<Parked>> {
        let prefix = format!("{PARKED}{}.", self.rig);
        Ok(self
            .store
            .kv_list()?
            .into_iter()
            .filter_map(|(key, value)| {
                let bead = key.strip_prefix(&prefix)?.to_owned();
                let (number, head) = value.split_once(' ')?;
                Some(Parked {
                    number: number.parse().ok()?,
                    head: head.to_owned(),
                    bead,
                    key,
                })
            })
            .collect())
    }

    /// Parks the pull request of a change going back to its polecat, telling its readers why.
    pub(super) fn park(
        &mut self,
        forge: &Forge,
        mr: &beads::MergeRequest,
        number: u64,
        reason: &str,
    ) -> Result<()> {
        self.park_quietly(mr, number)?;
        let note = format!(
            "Gas Town refinery: {reason}. The change went back to its author ({}); the fix will \
             be pushed to this pull request.",
            if mr.polecat.is_empty() {
                "bead ".to_owned() + &mr.bead_id
            } else {
                mr.polecat.clone()
            }
        );
        if let Err(e) = forge.comment(number, &note) {
            tracing::warn!(rig = %self.rig, pr = number, error = %e, "cannot comment on a pull request sent back");
        }
        Ok(())
    }

    /// The change of `bead` waits on pull request `number` now: its parked one is that one
    /// (unparked), or an older one from another branch, closed as superseded.
    pub(super) fn unpark(
        &mut self,
        forge: &Forge,
        bead: &str,
        number: u64,
        report: &mut PassReport,
    ) -> Result<()> {
        let Some(old) = self.parked()?.into_iter().find(|p| p.bead == bead) else {
            return Ok(());
        };
        if old.number != number {
            let why = format!(
                "Gas Town refinery: superseded by #{number}, which carries the reworked change of bead {bead}."
            );
            if !self.close_pr(forge, &old, &why, report) {
                return Ok(());
            }
        }
        self.store.kv_clear(&old.key)?;
        Ok(())
    }

    /// Closes every parked pull request whose change the town no longer pursues.
    pub(super) fn sweep_parked(&mut self, forge: &Forge, report: &mut PassReport) -> Result<()> {
        let parked = self.parked()?;
        if parked.is_empty() {
            return Ok(());
        }
        let live = self.store.mrs(Some(&self.rig), &LIVE)?;
        for p in parked {
            let mut of_bead = live.iter().filter(|m| m.bead_id == p.bead).peekable();
            let why = match self.given_up(&p.bead)? {
                Some(why) => why,
                None if of_bead.peek().is_none() => {
                    format!("no merge request of bead {} is left in the queue", p.bead)
                }
                None => {
                    // Waiting on a pull request again: this one (no longer parked), or another
                    // one whose closing by `unpark` failed earlier.
                    let mut waits_on = None;
                    for m in of_bead {
                        waits_on =
                            waits_on.or(super::pull::waiting_pr(self.store, &self.rig, m.id)?);
                    }
                    match waits_on {
                        Some(n) if n == p.number => {
                            self.store.kv_clear(&p.key)?;
                            continue;
                        }
                        Some(n) => format!("it is superseded by #{n}"),
                        None => continue,
                    }
                }
            };
            let why = format!(
                "Gas Town refinery: closed because {why}; the town no longer pursues this change here."
            );
            if self.close_pr(forge, &p, &why, report) {
                self.store.kv_clear(&p.key)?;
            }
        }
        Ok(())
    }

    /// Why the town gave up on `bead`'s change, if it did: the bead is closed or gone.
    pub(super) fn given_up(&self, bead: &str) -> Result<Option<String>> {
        match self.store.get(bead) {
            Ok(issue) if issue.status == "closed" => Ok(Some(format!("bead {bead} was closed"))),
            Ok(issue) if issue.status == "tombstone" => {
                Ok(Some(format!("bead {bead} was deleted")))
            }
            Ok(_) => Ok(None),
            Err(beads::Error::NotFound { .. }) => Ok(Some(format!("bead {bead} no longer exists"))),
            Err(e) => Err(e.into()),
        }
    }

    /// Parks a pull request without a word on it: the sweep decides whether it stays open.
    pub(super) fn park_quietly(&mut self, mr: &beads::MergeRequest, number: u64) -> Result<()> {
        let head = super::pull::pr_branch(&mr.branch);
        self.store
            .kv_set(&self.parked_key(&mr.bead_id), &format!("{number} {head}"))?;
        Ok(())
    }

    /// Closes a pull request (already closed or merged on the forge counts) and deletes its
    /// branch; false when the forge could not be told, to try again next pass.
    fn close_pr(&mut self, forge: &Forge, p: &Parked, why: &str, report: &mut PassReport) -> bool {
        let open = match forge.view(p.number) {
            Ok(pr) => pr.state == crate::forge::PrState::Open,
            Err(e) => {
                tracing::warn!(rig = %self.rig, pr = p.number, error = %e, "cannot read a parked pull request");
                return false;
            }
        };
        if open {
            if let Err(e) = forge.close(p.number, why) {
                tracing::warn!(rig = %self.rig, pr = p.number, error = %e, "cannot close a pull request");
                return false;
            }
            report.closed_prs.push(format!("#{}", p.number));
        }
        if let Err(e) = git::delete_remote_branch(&self.paths.refinery_worktree(), &p.head) {
            tracing::warn!(branch = %p.head, error = %e, "cannot delete a closed pull request's branch");
        }
        true
    }
}
