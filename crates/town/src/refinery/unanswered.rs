//! A forge that does not answer merge calls (the network, its servers) is asked again every
//! pass without counting a refusal ([`crate::forge::ForgeError::Unreachable`]). So that a
//! forge that stays out of reach is not only a line in the daemon's log, the refinery notes
//! when the silence began and, once it has lasted [`UNANSWERED_FOR`], raises one escalation
//! for the pull request. An answer — a merge, or a refusal — forgets the silence.

use jiff::Timestamp;

use super::{Refinery, Result, pull};
use crate::forge::PullRequest;

/// How long merge calls may go unanswered before the refinery escalates.
const UNANSWERED_FOR: jiff::SignedDuration = jiff::SignedDuration::from_mins(30);
/// When the first unanswered call of the current silence was made.
const SINCE: &str = "unanswered-since";
/// Set once the silence was escalated.
const RAISED: &str = "unanswered-escalated";

impl Refinery<'_> {
    /// A merge call for `pr` got no answer, `detail` says how.
    pub(super) fn unanswered(
        &mut self,
        mr: &beads::MergeRequest,
        pr: &PullRequest,
        detail: &str,
    ) -> Result<()> {
        let scope = pull::scope(&self.rig, mr.id);
        let cps = self.store.checkpoints(&scope)?;
        let now = self.store.now_ts();
        let Some(since) = cps.get(SINCE).and_then(|s| s.parse::<Timestamp>().ok()) else {
            self.store
                .checkpoint(&scope, SINCE, &beads::store::format_ts(now))?;
            return Ok(());
        };
        if cps.contains_key(RAISED) || now.duration_since(since) < UNANSWERED_FOR {
            return Ok(());
        }
        tracing::warn!(rig = %self.rig, pr = pr.number, %detail, "the forge has not answered merge calls; escalating");
        self.escalate(
            format!(
                "The forge has not answered merge calls for pull request #{} ({}) since {since}",
                pr.number,
                mr.label()
            ),
            format!(
                "Pull request #{} of {} ({}) is ready by the refinery's reading, but every \
                     call to merge it since {since} got no answer from the forge:\n\n```\n\
                     {detail}\n```\n\nCheck the network and the forge's status from this \
                     machine. The refinery keeps asking each pass and lands the change once the \
                     forge answers.",
                pr.number,
                mr.label(),
                pr.url,
            ),
            crate::escalation::Severity::Medium,
            vec![mr.bead_id.clone()],
        )?;
        self.store.checkpoint(&scope, RAISED, "1")?;
        Ok(())
    }

    /// The forge answered a merge call for request `mr`: a silence noted before is over.
    pub(super) fn answered(&mut self, mr: &beads::MergeRequest) -> Result<()> {
        let scope = pull::scope(&self.rig, mr.id);
        if self.store.checkpoints(&scope)?.contains_key(SINCE) {
            self.store
                .clear_checkpoint_steps(&scope, &[SINCE, RAISED])?;
        }
        Ok(())
    }
}
