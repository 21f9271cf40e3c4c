//! What kind of transition an event row records.

use beads::Happening;
use serde::Serialize;

/// Every transition the town's event stream names (serialized as a snake_case word).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A bead was hooked to a polecat by `gt sling` (or a restart through its path).
    Sling,
    /// A polecat was admitted for a bead (its row reserved, state `spawning`).
    PolecatAdmitted,
    /// A polecat's agent session started.
    Spawn,
    /// An agent primed: its session's start was recorded (`gt prime --hook`).
    Prime,
    /// An agent's session ended (`gt session-end`).
    SessionEnd,
    /// A session's token use was read from its transcript and recorded (`gt costs`).
    CostRecorded,
    /// The polecat's agent is running on its bead.
    PolecatWorking,
    /// The polecat finished (`gt done`): its work went to the merge queue.
    Done,
    PolecatStuck,
    PolecatRestored,
    PolecatRemoved,
    PolecatUpdated,
    /// A merge request was queued.
    MrQueued,
    MrTesting,
    MrMerged,
    MrFailed,
    MrConflict,
    MrRequeued,
    MrRetried,
    MrRejected,
    MrSuperseded,
    ConvoyLanded,
    /// The witness restarted a polecat.
    Restart,
    NudgeDelivered,
    NudgeQueued,
    /// A queued nudge outlived its time to live undelivered.
    NudgeExpired,
    MailSent,
    /// A mailbox read a message for the first time.
    MailRead,
    EscalationRaised,
    EscalationAcked,
    Handoff,
    DaemonStarted,
    DaemonStopped,
    /// The mayor or a crew member started.
    RoleStarted,
    RoleRestarted,
    /// A person wants the mayor or a crew member running.
    RoleWanted,
    /// A person stopped the mayor or a crew member (or `gt down` held it).
    RoleStopped,
    RoleFailed,
    RoleRemoved,
    BeadCreated,
    BeadStatus,
    BeadClosed,
    BeadReopened,
    BeadUpdated,
    BeadClaimed,
    BeadCommented,
    BeadLabeled,
    BeadDeleted,
    /// Anything else the store records (configuration, raw SQL, imports).
    Other,
}

impl EventKind {
    /// The kind of a stored row, from its `event_type` (and, for a role's wanted state, the
    /// state it moved to).
    pub fn of(event_type: &str, new_value: Option<&str>) -> Self {
        if let Some(h) = Happening::ALL.iter().find(|h| h.as_str() == event_type) {
            return Self::of_happening(*h);
        }
        match event_type {
            beads::ops::happenings::MAIL_SENT => Self::MailSent,
            beads::ops::happenings::MAIL_READ => Self::MailRead,
            "polecat_spawning" => Self::PolecatAdmitted,
            "session_start" => Self::Prime,
            "session_end" => Self::SessionEnd,
            "cost_recorded" => Self::CostRecorded,
            "polecat_working" => Self::PolecatWorking,
            "polecat_idle" => Self::Done,
            "polecat_stuck" => Self::PolecatStuck,
            "polecat_restored" => Self::PolecatRestored,
            "polecat_removed" => Self::PolecatRemoved,
            "polecat_updated" => Self::PolecatUpdated,
            "mr_submitted" => Self::MrQueued,
            "mr_testing" => Self::MrTesting,
            "mr_merged" => Self::MrMerged,
            "mr_failed" => Self::MrFailed,
            "mr_conflict" => Self::MrConflict,
            "mr_requeued" => Self::MrRequeued,
            "mr_retried" => Self::MrRetried,
            "mr_rejected" => Self::MrRejected,
            "mr_superseded" => Self::MrSuperseded,
            "convoy_landed" => Self::ConvoyLanded,
            "role_started" => Self::RoleStarted,
            "role_restarted" => Self::RoleRestarted,
            "role_desired" if new_value == Some(beads::Desired::Running.as_str()) => {
                Self::RoleWanted
            }
            "role_desired" => Self::RoleStopped,
            "role_failed" => Self::RoleFailed,
            "role_deleted" => Self::RoleRemoved,
            "created" => Self::BeadCreated,
            "status_changed" => Self::BeadStatus,
            "closed" => Self::BeadClosed,
            "reopened" => Self::BeadReopened,
            "updated" => Self::BeadUpdated,
            "claimed" => Self::BeadClaimed,
            "commented" => Self::BeadCommented,
            "label_added" | "label_removed" => Self::BeadLabeled,
            "deleted" => Self::BeadDeleted,
            _ => Self::Other,
        }
    }

    fn of_happening(h: Happening) -> Self {
        match h {
            Happening::Sling => Self::Sling,
            Happening::Spawn => Self::Spawn,
            Happening::Primed => Self::Prime,
            Happening::WitnessRestart => Self::Restart,
            Happening::NudgeDelivered => Self::NudgeDelivered,
            Happening::NudgeQueued => Self::NudgeQueued,
            Happening::NudgeExpired => Self::NudgeExpired,
            Happening::Handoff => Self::Handoff,
            Happening::DaemonStarted => Self::DaemonStarted,
            Happening::DaemonStopped => Self::DaemonStopped,
            Happening::EscalationRaised => Self::EscalationRaised,
            Happening::EscalationAcked => Self::EscalationAcked,
        }
    }

    /// The word it serializes as (what `gt events` prints).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sling => "sling",
            Self::PolecatAdmitted => "polecat_admitted",
            Self::Spawn => "spawn",
            Self::Prime => "prime",
            Self::SessionEnd => "session_end",
            Self::CostRecorded => "cost_recorded",
            Self::PolecatWorking => "polecat_working",
            Self::Done => "done",
            Self::PolecatStuck => "polecat_stuck",
            Self::PolecatRestored => "polecat_restored",
            Self::PolecatRemoved => "polecat_removed",
            Self::PolecatUpdated => "polecat_updated",
            Self::MrQueued => "mr_queued",
            Self::MrTesting => "mr_testing",
            Self::MrMerged => "mr_merged",
            Self::MrFailed => "mr_failed",
            Self::MrConflict => "mr_conflict",
            Self::MrRequeued => "mr_requeued",
            Self::MrRetried => "mr_retried",
            Self::MrRejected => "mr_rejected",
            Self::MrSuperseded => "mr_superseded",
            Self::ConvoyLanded => "convoy_landed",
            Self::Restart => "restart",
            Self::NudgeDelivered => "nudge_delivered",
            Self::NudgeQueued => "nudge_queued",
            Self::NudgeExpired => "nudge_expired",
            Self::MailSent => "mail_sent",
            Self::MailRead => "mail_read",
            Self::EscalationRaised => "escalation_raised",
            Self::EscalationAcked => "escalation_acked",
            Self::Handoff => "handoff",
            Self::DaemonStarted => "daemon_started",
            Self::DaemonStopped => "daemon_stopped",
            Self::RoleStarted => "role_started",
            Self::RoleRestarted => "role_restarted",
            Self::RoleWanted => "role_wanted",
            Self::RoleStopped => "role_stopped",
            Self::RoleFailed => "role_failed",
            Self::RoleRemoved => "role_removed",
            Self::BeadCreated => "bead_created",
            Self::BeadStatus => "bead_status",
            Self::BeadClosed => "bead_closed",
            Self::BeadReopened => "bead_reopened",
            Self::BeadUpdated => "bead_updated",
            Self::BeadClaimed => "bead_claimed",
            Self::BeadCommented => "bead_commented",
            Self::BeadLabeled => "bead_labeled",
            Self::BeadDeleted => "bead_deleted",
            Self::Other => "other",
        }
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_happening_has_its_own_kind() {
        let kinds: std::collections::HashSet<EventKind> = Happening::ALL
            .iter()
            .map(|h| EventKind::of(h.as_str(), None))
            .collect();
        assert_eq!(kinds.len(), Happening::ALL.len());
        assert!(!kinds.contains(&EventKind::Other));
    }

    #[test]
    fn as_str_is_the_serialized_word() {
        for (t, new) in [
            ("sling", None),
            ("polecat_spawning", None),
            ("session_start", None),
            ("polecat_idle", None),
            ("mr_submitted", None),
            ("mr_merged", None),
            ("role_desired", Some("running")),
            ("role_desired", Some("held")),
            ("label_added", None),
            ("config_set", None),
        ] {
            let k = EventKind::of(t, new);
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str(), "{t}");
        }
    }

    #[test]
    fn the_loop_maps_to_its_transitions() {
        assert_eq!(EventKind::of("session_start", None), EventKind::Prime);
        assert_eq!(EventKind::of("polecat_idle", None), EventKind::Done);
        assert_eq!(EventKind::of("mr_submitted", None), EventKind::MrQueued);
        assert_eq!(EventKind::of("session_spawned", None), EventKind::Spawn);
        assert_eq!(EventKind::of("witness_restart", None), EventKind::Restart);
        assert_eq!(EventKind::of("mail_sent", None), EventKind::MailSent);
        assert_eq!(EventKind::of("mail_read", None), EventKind::MailRead);
        assert_eq!(
            EventKind::of("nudge_expired", None),
            EventKind::NudgeExpired
        );
        assert_eq!(
            EventKind::of("role_desired", Some("running")),
            EventKind::RoleWanted
        );
        assert_eq!(
            EventKind::of("role_desired", Some("stopped")),
            EventKind::RoleStopped
        );
        assert_eq!(EventKind::of("sql", None), EventKind::Other);
    }
}
