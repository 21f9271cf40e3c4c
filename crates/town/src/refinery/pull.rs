//! Landing through a forge (`merge_queue.strategy = pr | github-merge-queue`).
//!
//! The pass batches, pre-checks and gates as in direct mode; a change that passes is not pushed
//! to the target but rebased alone onto it, pushed as `refinery/<branch>`, and given one pull
//! request (found again by its head branch, so a resubmitted change updates the same one). The
//! request stays `testing` while the forge decides, with the pull request's number checkpointed
//! under `refinery:<rig>:pr:<mr>` before anything else is asked of the forge. Every pass first
//! looks at each waiting pull request:
//!
//! - merged (by the refinery, the merge queue or a human) → the request lands with the forge's
//!   merge commit: bead closed, convoys landed ([`Refinery::after_landing`]);
//! - closed unmerged, conflicting, a required check failed, or ejected from the merge queue →
//!   the change goes back like a gate failure, naming the check and its link, and its pull
//!   request, if still open, is parked for the fix ([`super::parked`]);
//! - its bead closed or gone → never merged: the request is superseded and the pull request
//!   closed with a comment;
//! - checks pending, or a review wanted (`require_review`) and not given → it waits;
//! - otherwise the refinery asks the forge to merge it (`pr`, with the allowed method and the
//!   head it pushed) or enqueues it (`github-merge-queue`), once, and keeps looking; a forge
//!   that refuses is counted and, at `merge_queue.merge_refusals`, escalated and no longer
//!   asked until a human acts ([`super::refusal`]).
//!
//! A refinery killed anywhere resumes from the store: a request with a checkpointed number is
//! waited on again ([`Refinery::recover`] leaves it `testing`); one without is requeued, and
//! the next push finds its open pull request rather than opening a second. The forge refuses
//! to merge anything twice, and the request lands only on the forge's word that it merged.

use std::collections::BTreeMap;

use super::{PassReport, Refinery, RefineryError, Result, git, unless_moved};
use crate::forge::{Bucket, Forge, ForgeError, NewPr, PrState, PullRequest, Review};
use crate::settings::Strategy;

/// The checkpoint steps of one waiting pull request.
const NUMBER: &str = "number";
/// The commit the refinery pushed as the pull request's head.
const HEAD: &str = "head";
/// Set once the refinery asked the forge to merge (or enqueue) it.
const ASKED: &str = "asked";

/// The branch a change's pull request comes from.
pub fn pr_branch(branch: &str) -> String {
    format!("refinery/{branch}")
}

/// The number of the pull request request `mr` of `rig` waits on, if it waits on one.
pub fn waiting_pr(store: &beads::Store, rig: &str, mr: i64) -> beads::Result<Option<u64>> {
    Ok(store
        .checkpoints(&scope(rig, mr))?
        .get(NUMBER)
        .and_then(|n| n.parse().ok()))
}

pub(super) fn scope(rig: &str, mr: i64) -> String {
    format!("refinery:{rig}:pr:{mr}")
}

impl Refinery<'_> {
    pub(super) fn forge(&self) -> Result<Forge> {
        Ok(Forge::for_rig(
            &self.settings.merge_queue,
            &self.remote_url,
            &self.paths.refinery_worktree(),
        )?)
    }

    pub(super) fn uses_forge(&self) -> bool {
        self.settings.merge_queue.strategy.uses_forge()
    }

    fn pr_scope(&self, mr: i64) -> String {
        scope(&self.rig, mr)
    }

    /// The checkpoints of a request waiting on its pull request, if it is.
    pub(super) fn waiting_on_forge(&self, mr: i64) -> Result<Option<BTreeMap<String, String>>> {
        let cps = self.store.checkpoints(&self.pr_scope(mr))?;
        Ok(cps.contains_key(NUMBER).then_some(cps))
    }

    /// Stops following a request's pull request (its checkpoints go).
    pub(super) fn forget_waiting(&mut self, mr: i64) -> Result<()> {
        Ok(self.store.clear_checkpoints(&self.pr_scope(mr))?)
    }

    /// Gives each change that passed the gates its pull request: rebased alone onto `base`,
    /// pushed, opened (or found open), and its number checkpointed.
    pub(super) fn open_pull_requests(
        &mut self,
        base: &str,
        changes: &[beads::MergeRequest],
        report: &mut PassReport,
    ) -> Result<()> {
        let forge = self.forge()?;
        let worktree = self.paths.refinery_worktree();
        for mr in changes {
            git::checkout(&worktree, base)?;
            let tip = match git::stack(&worktree, &self.target, &mr.sha)? {
                git::Stacked::Applied(tip) => tip,
                // It merged after the changes ahead of it; alone it does not: after they land.
                git::Stacked::Conflict(_) => {
                    self.store
                        .requeue_mr(mr.id, "requeued: alone on the target it does not apply")?;
                    report.requeued.push(mr.label());
                    continue;
                }
            };
            if git::same_tree(&worktree, &tip, base)? {
                // Its content is on the target already: its pull request merged before this
                // refinery recorded it (killed in between), or someone pushed it. It has landed;
                // a second pull request would merge nothing.
                self.after_landing(&[mr.id], base, report)?;
                report.landed_sha = Some(base.to_owned());
                continue;
            }
            let head = pr_branch(&mr.branch);
            git::push_branch(&worktree, &tip, &head)?;
            let bead = self.store.get(&mr.bead_id)?;
            let title: String = bead.title.clone();
            let by = if mr.polecat.is_empty() {
                String::new()
            } else {
                format!(" by {}", mr.polecat)
            };
            let body = format!(
                "Lands bead {}{by}: {}\n\n{}\n\n---\nMerge request {} from `{}` (commit {}), tested by the \
                 Gas Town refinery of `{}`. It merges once the forge's required checks{} pass.",
                mr.bead_id,
                bead.title,
                bead.description,
                mr.label(),
                mr.branch,
                mr.sha,
                self.rig,
                if self.settings.merge_queue.require_review {
                    " and reviews"
                } else {
                    ""
                }
            );
            let number = match forge.find_open(&head, &self.target)? {
                Some(n) => n,
                None => forge.create(&NewPr {
                    head: &head,
                    base: &self.target,
                    title: &title,
                    body: &body,
                    labels: &self.settings.merge_queue.labels,
                })?,
            };
            let scope = self.pr_scope(mr.id);
            self.store.clear_checkpoints(&scope)?;
            self.store.checkpoint(&scope, HEAD, &tip)?;
            self.store.checkpoint(&scope, NUMBER, &number.to_string())?;
            self.unpark(&forge, &mr.bead_id, number, report)?;
            self.store.add_comment(
                &mr.bead_id,
                &format!(
                    "Refinery: {} passed the gates; waiting on pull request #{number} into `{}`.",
                    mr.label(),
                    self.target
                ),
            )?;
            report.opened.push(format!("{} #{number}", mr.label()));
            report.awaiting.push(mr.label());
        }
        Ok(())
    }

    /// Looks at every waiting pull request once, landing, sending back or merging as the
    /// forge's answer says, then closes the parked ones whose change was given up.
    pub(super) fn poll_forge(&mut self, report: &mut PassReport) -> Result<()> {
        let waiting = self
            .store
            .mrs(Some(&self.rig), &[beads::MrState::Testing])?;
        if waiting.is_empty() && !self.any_parked()? {
            return Ok(());
        }
        let forge = self.forge()?;
        for mr in waiting {
            let Some(cps) = self.waiting_on_forge(mr.id)? else {
                continue;
            };
            let Some(number) = cps.get(NUMBER).and_then(|n| n.parse::<u64>().ok()) else {
                continue;
            };
            if let Some(why) = self.given_up(&mr.bead_id)? {
                // Out of the queue first, so it is never merged; the sweep below closes it.
                unless_moved(self.store.requeue_mr(mr.id, &why))?;
                unless_moved(self.store.supersede_mr(mr.id, &why))?;
                self.forget_waiting(mr.id)?;
                self.park_quietly(&mr, number)?;
                continue;
            }
            // One pull request the forge cannot answer for (gone, a CLI hiccup) must not stop
            // the queue: it waits, and is asked about again next time.
            let looked = forge
                .view(number)
                .map_err(RefineryError::from)
                .and_then(|pr| {
                    let verdict = self.judge(&forge, &mr, &pr, &cps)?;
                    Ok((pr, verdict))
                });
            let (pr, verdict) = match looked {
                Ok(looked) => looked,
                Err(RefineryError::Forge(e)) => {
                    tracing::warn!(rig = %self.rig, mr = %mr.label(), pr = number, error = %e, "cannot read a pull request");
                    report.awaiting.push(mr.label());
                    continue;
                }
                Err(e) => return Err(e),
            };
            match verdict {
                Verdict::Landed(sha) => {
                    // Its own target (an integration branch, maybe); the pass picks its batch's
                    // target after this.
                    self.target = if mr.target.is_empty() {
                        self.default_target.clone()
                    } else {
                        mr.target.clone()
                    };
                    self.after_landing(&[mr.id], &sha, report)?;
                    self.forget_pr(&mr)?;
                    report.landed_sha = Some(sha);
                }
                Verdict::Back { reason, detail } => {
                    if unless_moved(self.store.fail_mr(mr.id, &reason))?.is_some() {
                        self.tell_sent_back(&mr, &pr, &reason, &detail)?;
                        report.failed.push(mr.label());
                    }
                    self.forget_waiting(mr.id)?;
                    if pr.state == PrState::Open {
                        self.park(&forge, &mr, pr.number, &reason)?;
                    }
                }
                Verdict::Wait => report.awaiting.push(mr.label()),
            }
        }
        self.sweep_parked(&forge, report)
    }

    /// What to do about one pull request now.
    fn judge(
        &mut self,
        forge: &Forge,
        mr: &beads::MergeRequest,
        pr: &PullRequest,
        cps: &BTreeMap<String, String>,
    ) -> Result<Verdict> {
        let head = cps.get(HEAD).map_or("", String::as_str);
        let asked = cps.contains_key(ASKED);
        match pr.state {
            PrState::Merged => {
                return Ok(Verdict::Landed(
                    pr.merge_sha.clone().unwrap_or_else(|| pr.head_sha.clone()),
                ));
            }
            PrState::Closed => {
                return Ok(Verdict::back(
                    format!("pull request #{} was closed without merging", pr.number),
                    pr.url.clone(),
                ));
            }
            PrState::Open => {}
        }
        if pr.conflicting {
            return Ok(Verdict::back(
                format!(
                    "pull request #{} no longer merges into `{}`",
                    pr.number, mr.target
                ),
                format!(
                    "Rebase onto `origin/{}` and submit again. {}",
                    mr.target, pr.url
                ),
            ));
        }
        let checks = forge.checks(pr)?;
        if let Some(failed) = checks.iter().find(|c| c.bucket == Bucket::Fail) {
            return Ok(Verdict::back(
                format!(
                    "check `{}` failed on pull request #{}",
                    failed.name, pr.number
                ),
                format!(
                    "Check `{}`: {}\nPull request: {}",
                    failed.name, failed.link, pr.url
                ),
            ));
        }
        let strategy = self.settings.merge_queue.strategy;
        if strategy == Strategy::GithubMergeQueue && asked && !pr.queued {
            return Ok(Verdict::back(
                format!(
                    "pull request #{} was removed from the merge queue",
                    pr.number
                ),
                format!(
                    "GitHub's merge queue ejected it (its checks failed on the queue's merge group, or it was dequeued). {}",
                    pr.url
                ),
            ));
        }
        // Asked and the forge holds it (auto-merge, the merge queue): it is the forge's to decide. Asked and
        // not held (an auto-merge someone turned off): ask again once it is ready — the forge
        // never merges a pull request twice.
        if (asked && pr.queued) || checks.iter().any(|c| c.bucket == Bucket::Pending) {
            return Ok(Verdict::Wait);
        }
        if self.settings.merge_queue.require_review && pr.review != Review::Approved {
            if pr.review == Review::Unknown {
                self.review_unseen(mr, pr, cps)?;
            }
            return Ok(Verdict::Wait);
        }
        // The forge kept refusing and nothing changed since the escalation: do not ask again
        // (its checks are still read above: one failing now sends the change back).
        if self.holding(mr.id, cps, pr)? {
            return Ok(Verdict::Wait);
        }
        // Ready: ask, and record that we asked.
        let scope = self.pr_scope(mr.id);
        let asked_with = match strategy {
            Strategy::GithubMergeQueue => forge.enqueue(pr.number, head),
            _ => {
                let method = forge.method(self.settings.merge_queue.merge_method)?;
                forge.merge(pr.number, method, head)
            }
        };
        if !matches!(asked_with, Err(ForgeError::Unreachable { .. })) {
            self.answered(mr)?;
        }
        match asked_with {
            Ok(()) => {}
            // The forge's rules said no (a review it wants, a protection rule): nothing was
            // merged; counted, and asked again next time until the count says to escalate.
            Err(ForgeError::Failed { detail, .. }) => {
                self.refused(mr, pr, &detail)?;
                return Ok(Verdict::Wait);
            }
            // No answer came (the network, the forge's servers, the time limit): nothing was
            // decided, so nothing is counted; the next pass asks again.
            Err(e @ ForgeError::Unreachable { .. }) => {
                tracing::warn!(mr = mr.id, pr = pr.number, error = %e, "merge call got no answer; asking again next pass");
                self.unanswered(mr, pr, &e.to_string())?;
                return Ok(Verdict::Wait);
            }
            Err(e) => return Err(e.into()),
        }
        self.store.checkpoint(&scope, ASKED, "1")?;
        let now = forge.view(pr.number)?;
        Ok(match now.state {
            PrState::Merged => Verdict::Landed(
                now.merge_sha
                    .clone()
                    .unwrap_or_else(|| now.head_sha.clone()),
            ),
            _ => Verdict::Wait,
        })
    }

    /// After a landing: the pull request's checkpoints and head branch go.
    fn forget_pr(&mut self, mr: &beads::MergeRequest) -> Result<()> {
        self.forget_waiting(mr.id)?;
        if let Err(e) =
            git::delete_remote_branch(&self.paths.refinery_worktree(), &pr_branch(&mr.branch))
        {
            tracing::warn!(branch = %mr.branch, error = %e, "cannot delete a pull request's branch");
        }
        Ok(())
    }

    fn tell_sent_back(
        &mut self,
        mr: &beads::MergeRequest,
        pr: &PullRequest,
        reason: &str,
        detail: &str,
    ) -> Result<()> {
        crate::notices::fix_needed(self.town, self.store, &self.rig, mr, reason, detail);
        self.return_bead(
            mr,
            &format!(
                "Refinery: {reason} ({}, {}).\n\n{detail}",
                mr.label(),
                pr.url
            ),
        )
    }
}

enum Verdict {
    /// The forge merged it as this commit.
    Landed(String),
    /// Back to its polecat, with why.
    Back {
        reason: String,
        detail: String,
    },
    Wait,
}

impl Verdict {
    fn back(reason: String, detail: String) -> Self {
        Self::Back { reason, detail }
    }
}
