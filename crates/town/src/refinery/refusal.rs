//! A forge that keeps refusing to merge a pull request the refinery found ready (branch
//! protection not met, a conflict only the forge sees, missing permissions) is not asked
//! forever: each refusal is counted under the request's pull-request checkpoints with the
//! forge's own words, and at `merge_queue.merge_refusals` the refinery raises an escalation
//! naming the pull request, its URL and that message, and holds: it stops asking until a human
//! acts — the pull request changes on the forge (a push, a review, a comment, a label: its head
//! or its `updated` time moves) or `gt mq retry` releases it.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Refinery, Result, pull};
use crate::forge::PullRequest;

/// Refusals so far.
const REFUSALS: &str = "refusals";
/// The forge's message at the last refusal.
const REFUSED: &str = "refused";
/// Set when the refinery escalated and stopped asking: the pull request as it was then.
const HELD: &str = "held";

/// What a request's pull request has been refused, for `gt mq status` and `gt mq list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub count: u32,
    /// The forge's own message, the last time it refused.
    pub message: String,
    /// The refinery escalated and no longer asks until the pull request changes or `gt mq
    /// retry` releases it.
    pub held: bool,
}

/// The refusals of request `mr`'s pull request, if the forge refused it at all.
pub fn refusal(store: &beads::Store, rig: &str, mr: i64) -> beads::Result<Option<Refusal>> {
    Ok(read(&store.checkpoints(&pull::scope(rig, mr))?))
}

fn read(cps: &BTreeMap<String, String>) -> Option<Refusal> {
    let count = cps.get(REFUSALS)?.parse().ok()?;
    Some(Refusal {
        count,
        message: cps.get(REFUSED).cloned().unwrap_or_default(),
        held: cps.contains_key(HELD),
    })
}

/// `gt mq retry` on a request whose pull request the refinery stopped asking about: the count
/// starts again and the next pass asks the forge. Returns whether it was held.
pub fn release(store: &mut beads::Store, rig: &str, mr: i64) -> beads::Result<bool> {
    let scope = pull::scope(rig, mr);
    let cps = store.checkpoints(&scope)?;
    if !cps.contains_key(HELD) {
        return Ok(false);
    }
    forget(store, &scope)?;
    Ok(true)
}

/// Forgets the refusal steps of `scope`, in one write that keeps its other checkpoints.
fn forget(store: &mut beads::Store, scope: &str) -> beads::Result<()> {
    store.clear_checkpoint_steps(scope, &[REFUSALS, REFUSED, HELD])
}

/// What the refinery compares to tell that a human touched the pull request.
fn fingerprint(pr: &PullRequest) -> String {
    format!("{} {}", pr.head_sha, pr.updated_at)
}

impl Refinery<'_> {
    /// Whether the refinery holds off asking the forge about `pr` (it escalated, and nothing
    /// changed since). A changed pull request is released here: it is asked again.
    pub(super) fn holding(
        &mut self,
        mr: i64,
        cps: &BTreeMap<String, String>,
        pr: &PullRequest,
    ) -> Result<bool> {
        let Some(held) = cps.get(HELD) else {
            return Ok(false);
        };
        if *held == fingerprint(pr) {
            return Ok(true);
        }
        tracing::info!(rig = %self.rig, pr = pr.number, "the pull request changed; asking the forge again");
        forget(self.store, &pull::scope(&self.rig, mr))?;
        Ok(false)
    }

    /// Records that the forge refused to merge `pr`, saying `message`; at the limit, escalates
    /// and holds.
    pub(super) fn refused(
        &mut self,
        mr: &beads::MergeRequest,
        pr: &PullRequest,
        message: &str,
    ) -> Result<()> {
        let scope = pull::scope(&self.rig, mr.id);
        // From the store, not the pass's copy: a hold released this pass counts from one.
        let count = read(&self.store.checkpoints(&scope)?).map_or(0, |r| r.count) + 1;
        self.store
            .checkpoint(&scope, REFUSALS, &count.to_string())?;
        self.store.checkpoint(&scope, REFUSED, message)?;
        let limit = self.settings.merge_queue.merge_refusals.max(1);
        if count < limit {
            tracing::info!(rig = %self.rig, pr = pr.number, count, %message, "the forge refused the merge");
            return Ok(());
        }
        tracing::warn!(rig = %self.rig, pr = pr.number, count, %message, "the forge keeps refusing the merge; escalating");
        self.escalate(
format!(
                    "The forge refused to merge pull request #{} ({}) {count} times",
                    pr.number,
                    mr.label()
                ),
format!(
                    "Pull request #{} of {} ({}) is ready by the refinery's reading — checks \
                     passed{} — but the forge refuses to merge it:\n\n```\n{message}\n```\n\n\
                     {}\n\nThe refinery stopped asking. It asks again once the pull request \
                     changes on the forge (a push, a review, a comment), or after `gt mq retry {}`.",
                    pr.number,
                    mr.label(),
                    mr.bead_id,
                    if self.settings.merge_queue.require_review {
                        ", approved"
                    } else {
                        ""
                    },
                    pr.url,
                    mr.label()
                ),
crate::escalation::Severity::High,
vec![mr.bead_id.clone()],
)?;
        self.store.checkpoint(&scope, HELD, &fingerprint(pr))?;
        Ok(())
    }
}
