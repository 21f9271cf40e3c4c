//! The problems view: what needs a person, worked out from a [`Snapshot`] alone (pure, so the
//! rules are tested without a town).

use beads::MrState;

use super::snapshot::Snapshot;

/// What kind of trouble, in the order the view lists them (worst first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProblemKind {
    /// Should run and does not: a working polecat whose session is gone, or a mayor or crew
    /// member a person wants running that is not.
    Dead,
    /// Asked for help (`stuck` polecat).
    Stuck,
    /// Working, alive, and silent for longer than `daemon.stall_after_secs`.
    Stalled,
    /// A merge request that failed a gate or conflicts.
    MrFailing,
    /// An open escalation.
    Escalation,
    /// Unread HELP mail for the overseer.
    Help,
}

impl ProblemKind {
    pub fn label(self) -> &'static str {
        match self {
            Self::Dead => "DEAD",
            Self::Stuck => "STUCK",
            Self::Stalled => "STALLED",
            Self::MrFailing => "MR",
            Self::Escalation => "ESCALATION",
            Self::Help => "HELP",
        }
    }
}

/// One problem: what, who or which, and a line saying why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    pub subject: String,
    pub detail: String,
}

/// Every problem in the snapshot, worst kind first, in the snapshot's order within a kind.
pub fn problems(s: &Snapshot) -> Vec<Problem> {
    let mut out = Vec::new();
    for a in &s.agents {
        let polecat = a.role == town::roster::Role::Polecat;
        let push = |out: &mut Vec<Problem>, kind, detail: String| {
            out.push(Problem {
                kind,
                subject: a.address.clone(),
                detail,
            });
        };
        if polecat && a.state == "working" && !a.alive {
            let bead = a.bead.as_deref().unwrap_or("-");
            push(
                &mut out,
                ProblemKind::Dead,
                format!("working on {bead}, session gone"),
            );
        } else if !polecat && !a.alive && s.wanted.contains(&a.address) {
            push(
                &mut out,
                ProblemKind::Dead,
                "wanted running, not running".into(),
            );
        }
        if polecat && a.state == "stuck" {
            let bead = a.bead.as_deref().unwrap_or("-");
            push(&mut out, ProblemKind::Stuck, format!("stuck on {bead}"));
        }
        if polecat
            && a.state == "working"
            && a.alive
            && let Some(last) = a.last_activity
        {
            let silent = s.now.as_second() - last.as_second();
            if silent > s.stall_after_secs {
                push(
                    &mut out,
                    ProblemKind::Stalled,
                    format!("no output for {}", super::render::age(silent)),
                );
            }
        }
    }
    for m in &s.merge_queue {
        if matches!(m.mr.state, MrState::Failed | MrState::Conflict) {
            let why = if m.mr.reason.is_empty() {
                String::new()
            } else {
                format!(": {}", m.mr.reason)
            };
            out.push(Problem {
                kind: ProblemKind::MrFailing,
                subject: m.label.clone(),
                detail: format!("{} {} ({}){why}", m.mr.bead_id, m.mr.state, m.mr.rig),
            });
        }
    }
    for e in &s.escalations {
        let acked = if e.acknowledged { ", acknowledged" } else { "" };
        out.push(Problem {
            kind: ProblemKind::Escalation,
            subject: e.id.clone(),
            detail: format!("{}{acked}: {}", e.severity.as_str(), e.title),
        });
    }
    for h in &s.help {
        out.push(Problem {
            kind: ProblemKind::Help,
            subject: h.from.clone(),
            detail: format!(
                "mail {}: {}",
                beads::ops::mail::message_label(h.id),
                h.subject
            ),
        });
    }
    out.sort_by_key(|p| p.kind);
    out
}
