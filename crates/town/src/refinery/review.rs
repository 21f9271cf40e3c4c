//! A rig that requires a review (`merge_queue.require_review`) on a forge that cannot report one
//! — GitLab's approvals endpoint belongs to its paid tiers — would wait for ever without a word.
//! The refinery says so once per pull request, in an escalation that names the setting to
//! change, and keeps waiting: it never lands a change whose review it cannot see.

use std::collections::BTreeMap;

use super::{Refinery, Result, pull};
use crate::forge::PullRequest;

/// Set in a pull request's checkpoints once the escalation is raised.
const UNSEEN: &str = "review-unseen";

impl Refinery<'_> {
    /// `pr` waits for a review the forge cannot report: escalates, the first time.
    pub(super) fn review_unseen(
        &mut self,
        mr: &beads::MergeRequest,
        pr: &PullRequest,
        cps: &BTreeMap<String, String>,
    ) -> Result<()> {
        if cps.contains_key(UNSEEN) {
            return Ok(());
        }
        tracing::warn!(rig = %self.rig, pr = pr.number, "a review is required but the forge does not report approvals");
        self.escalate(
            format!(
                "Pull request #{} ({}) waits for a review the forge cannot report",
                pr.number,
                mr.label()
            ),
            format!(
                "`merge_queue.require_review` is on for rig {rig}, but this GitLab does not \
                     report who approved a merge request (its approvals API is part of its paid \
                     tiers), so the refinery cannot see the review it waits for, and waits.\n\n\
                     Merge request: {url}\n\n\
                     To land by GitLab's own merge status instead (its approval rules, where it \
                     has any, still apply): `gt config set merge_queue.require_review false \
                     --rig {rig}`.",
                rig = self.rig,
                url = pr.url,
            ),
            crate::escalation::Severity::Medium,
            vec![mr.bead_id.clone()],
        )?;
        self.store
            .checkpoint(&pull::scope(&self.rig, mr.id), UNSEEN, "1")?;
        Ok(())
    }
}
