//! Gates: issues of type `gate` that hold another issue back until something outside happens
//! (`bd gate`). Timer and bead gates are decided here; `gh:*` gates need GitHub's CLI and are
//! decided by the caller; human and mail gates are resolved by hand.

use crate::error::{Error, Result};
use crate::model::Issue;
use crate::ops::create::NewIssue;
use crate::store::Store;

/// What checking a gate found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateCheck {
    /// The awaited thing happened: close the gate.
    Resolved(String),
    /// Not yet.
    Pending(String),
    /// It will not happen (a PR closed unmerged, a run failed): someone must look.
    Escalate(String),
}

impl Store {
    /// Creates a gate of `kind` on `await_id` that `blocks` must wait for.
    pub fn create_gate(
        &mut self,
        blocks: &str,
        kind: &str,
        await_id: &str,
        timeout_ns: i64,
        reason: &str,
    ) -> Result<Issue> {
        let blocked = self.get(blocks)?;
        if kind == "timer" && timeout_ns <= 0 {
            return Err(Error::invalid("gate", "a timer gate needs a timeout"));
        }
        let what = if await_id.is_empty() {
            kind.to_owned()
        } else {
            format!("{kind} {await_id}")
        };
        let gate = self.create(NewIssue {
            title: format!("Gate ({what}) before: {}", blocked.title),
            description: reason.to_owned(),
            issue_type: Some("gate".into()),
            await_type: kind.to_owned(),
            await_id: await_id.to_owned(),
            timeout: timeout_ns,
            ..NewIssue::default()
        })?;
        self.add_dependency(&blocked.id, &gate.id, "blocks", None)?;
        Ok(gate)
    }

    /// Decides a timer or bead gate; `None` for kinds this store cannot decide (`gh:*`, which
    /// need GitHub, and `human`/`mail`, which someone resolves).
    pub fn check_gate(&self, gate: &Issue) -> Result<Option<GateCheck>> {
        Ok(match gate.await_type.as_str() {
            "timer" => Some(self.check_timer(gate)),
            "bead" => Some(self.check_bead(&gate.await_id)?),
            _ => None,
        })
    }

    fn check_timer(&self, gate: &Issue) -> GateCheck {
        if gate.timeout <= 0 {
            return GateCheck::Pending("a timer gate without a timeout never expires".into());
        }
        let Ok(created) = gate.created_at.parse::<jiff::Timestamp>() else {
            return GateCheck::Pending(format!("unreadable created_at `{}`", gate.created_at));
        };
        let wait = jiff::SignedDuration::from_nanos(gate.timeout);
        let now = self.ctx.clock.now();
        let elapsed = now.duration_since(created);
        if elapsed >= wait {
            GateCheck::Resolved(format!("timer of {}s elapsed", wait.as_secs()))
        } else {
            GateCheck::Pending(format!("{}s left", (wait - elapsed).as_secs()))
        }
    }

    /// A bead gate waits for an issue to close; `rig:id` names one in another rig, and every
    /// rig of a town shares this store, so the id alone finds it.
    fn check_bead(&self, await_id: &str) -> Result<GateCheck> {
        let id = await_id.rsplit(':').next().unwrap_or(await_id);
        if id.is_empty() {
            return Ok(GateCheck::Pending("no bead to wait for".into()));
        }
        Ok(match self.get(id) {
            Ok(issue) if self.settings.done_statuses().contains(&issue.status) => {
                GateCheck::Resolved(format!("{id} is {}", issue.status))
            }
            Ok(issue) => GateCheck::Pending(format!("{id} is {}", issue.status)),
            Err(Error::NotFound { .. }) => GateCheck::Escalate(format!("{id} does not exist")),
            Err(e) => return Err(e),
        })
    }
}
