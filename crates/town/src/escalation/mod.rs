//! Escalations: a request for a human (or the mayor) to look at something, severity-routed.
//!
//! An escalation is a town bead labelled `gt:escalation`, with upstream's label shapes:
//! `severity:<LEVEL>`, `original_severity:<LEVEL>`, `acknowledged:false|true`,
//! `reescalation_count:<n>` and, once bumped, `reescalated:true`; `source:<type>:<name>` when
//! the raiser named one, `from:<address>` for who raised it. Its priority follows the severity
//! (CRITICAL is P0). The time of the last (re-)escalation is the bead's metadata
//! `escalated_at`; an acknowledgement records `acked_by` and `acked_at` there.
//!
//! - [`config`]: `settings/escalation.json`, the routes and the stale rule.
//! - [`routes`]: delivering one escalation along its severity's route.
//! - [`raise`] records and delivers; [`ack`] and [`close`] end it; [`stale`] (run by the
//!   deacon, and by `gt escalate stale`) bumps the severity of an unacknowledged one
//!   (LOW→MEDIUM→HIGH→CRITICAL) once per `stale_threshold`, at most `max_reescalations` times,
//!   and delivers it again.
//!
//! Changes to escalations (ack, close, the stale pass) hold the town's escalation lock, so a
//! stale pass never bumps one that was acknowledged while it looked.

pub mod config;
pub mod routes;

use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

pub use config::{ConfigError, EscalationConfig, Route};
pub use routes::Delivery;

use crate::layout::Town;

/// The label every escalation carries.
pub const ESCALATION_LABEL: &str = "gt:escalation";

/// How urgent an escalation is; ordered from the most urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
}

impl Severity {
    pub const ALL: [Self; 4] = [Self::Critical, Self::High, Self::Medium, Self::Low];

    /// The bead priority of this severity (CRITICAL is P0).
    pub fn priority(self) -> i64 {
        match self {
            Self::Critical => 0,
            Self::High => 1,
            Self::Medium => 2,
            Self::Low => 3,
        }
    }

    /// The severity of a bead of `priority` that carries no `severity:` label.
    pub fn from_priority(priority: i64) -> Self {
        match priority {
            i64::MIN..=0 => Self::Critical,
            1 => Self::High,
            2 => Self::Medium,
            _ => Self::Low,
        }
    }

    /// One step more urgent (CRITICAL stays).
    pub fn bumped(self) -> Self {
        match self {
            Self::Low => Self::Medium,
            Self::Medium => Self::High,
            Self::High | Self::Critical => Self::Critical,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "CRITICAL",
            Self::High => "HIGH",
            Self::Medium => "MEDIUM",
            Self::Low => "LOW",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    /// Any case: `critical`, `HIGH`.
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("`{s}` is not a severity (CRITICAL, HIGH, MEDIUM or LOW)"))
    }
}

/// An escalation as read from its bead.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Escalation {
    pub id: String,
    pub title: String,
    pub description: String,
    /// The bead's status (`open` until closed).
    pub status: String,
    pub severity: Severity,
    pub original_severity: Severity,
    pub acknowledged: bool,
    pub acked_by: Option<String>,
    pub acked_at: Option<String>,
    pub reescalations: u32,
    pub source: Option<String>,
    pub from: Option<String>,
    pub created_at: String,
    /// When it was last escalated (raised, or re-escalated by the stale pass).
    pub escalated_at: String,
    pub closed_at: Option<String>,
    pub close_reason: Option<String>,
}

impl Escalation {
    /// Reads an escalation from its bead and labels; `None` if it is not one.
    pub fn from_bead(issue: &beads::Issue, labels: &[String]) -> Option<Self> {
        if !labels.iter().any(|l| l == ESCALATION_LABEL) {
            return None;
        }
        let label = |key: &str| {
            labels
                .iter()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        };
        let severity = label("severity")
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| Severity::from_priority(issue.priority));
        let meta = |key: &str| {
            issue
                .metadata
                .as_ref()
                .and_then(|m| m.get(key))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        Some(Self {
            id: issue.id.clone(),
            title: issue.title.clone(),
            description: issue.description.clone(),
            status: issue.status.clone(),
            severity,
            original_severity: label("original_severity")
                .and_then(|s| s.parse().ok())
                .unwrap_or(severity),
            acknowledged: label("acknowledged") == Some("true"),
            acked_by: meta("acked_by"),
            acked_at: meta("acked_at"),
            reescalations: label("reescalation_count")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
            source: label("source").map(str::to_owned),
            from: label("from").map(str::to_owned),
            created_at: issue.created_at.clone(),
            escalated_at: meta("escalated_at").unwrap_or_else(|| issue.created_at.clone()),
            closed_at: issue.closed_at.clone(),
            close_reason: Some(issue.close_reason.clone()).filter(|r| !r.is_empty()),
        })
    }

    pub fn is_open(&self) -> bool {
        self.status != "closed"
    }
}

/// What to raise.
#[derive(Debug, Clone, Default)]
pub struct NewEscalation {
    pub title: String,
    pub description: String,
    pub severity: Option<Severity>,
    /// `<type>:<name>` (`plugin:nightly`, `witness:gastown`).
    pub source: Option<String>,
    /// Who raises it (a canonical address).
    pub from: String,
    /// Beads it is about (linked as `related`).
    pub related: Vec<String>,
}

/// Failures of escalation commands.
#[derive(Debug, thiserror::Error)]
pub enum EscalationError {
    /// The bead exists but is not an escalation.
    #[error("`{id}` is not an escalation (it has no `{ESCALATION_LABEL}` label)")]
    NotAnEscalation { id: String },
    /// It is closed already.
    #[error("escalation `{id}` is closed")]
    Closed { id: String },
    /// A value given is unusable.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] beads::Error),
    #[error(transparent)]
    Work(#[from] crate::work::WorkError),
}

pub type Result<T, E = EscalationError> = std::result::Result<T, E>;

/// Checks a `source` (`<type>:<name>`): what a label can hold.
fn check_source(source: &str) -> Result<()> {
    let ok = !source.is_empty()
        && source.len() <= 100
        && source
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-:./@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(EscalationError::Invalid(format!(
            "`{}` is not a source: use `<type>:<name>` with letters, digits and `_-:./@`",
            source.escape_debug()
        )))
    }
}

/// Records the escalation bead (the `bead` route) without delivering it anywhere else.
pub fn record(store: &mut beads::Store, new: &NewEscalation) -> Result<Escalation> {
    if let Some(s) = &new.source {
        check_source(s)?;
    }
    if new.title.trim().is_empty() {
        return Err(EscalationError::Invalid(
            "an escalation needs a description: say what is wrong".into(),
        ));
    }
    Ok(bead(store, new)?)
}

/// Makes the bead of a checked escalation. The title is cut to a bead title's limits, its
/// control characters made blanks.
fn bead(store: &mut beads::Store, new: &NewEscalation) -> Result<Escalation, beads::Error> {
    let title: String = new
        .title
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(beads::model::MAX_TITLE_CHARS)
        .collect();
    let severity = new.severity.unwrap_or(Severity::Medium);
    let mut labels = vec![
        ESCALATION_LABEL.to_owned(),
        format!("severity:{severity}"),
        format!("original_severity:{severity}"),
        "acknowledged:false".to_owned(),
        "reescalation_count:0".to_owned(),
    ];
    labels.extend(new.source.iter().map(|s| format!("source:{s}")));
    if !new.from.is_empty() {
        labels.push(format!("from:{}", new.from));
    }
    let mut metadata = serde_json::Map::new();
    metadata.insert("escalated_at".into(), store.now().into());
    let detail = serde_json::json!({
        "severity": severity.to_string(),
        "title": title.trim(),
        "from": new.from,
        "related": new.related,
    });
    let issue = store.create_with_happening(
        beads::NewIssue {
            title: title.trim().to_owned(),
            description: new.description.clone(),
            issue_type: Some("bug".into()),
            priority: Some(severity.priority()),
            labels: labels.clone(),
            metadata: Some(metadata),
            deps: new
                .related
                .iter()
                .map(|r| ("related".to_owned(), r.clone()))
                .collect(),
            prefix: Some(crate::layout::TOWN_PREFIX.into()),
            ..Default::default()
        },
        beads::Happening::EscalationRaised,
        &detail,
    )?;
    Ok(Escalation::from_bead(&issue, &labels).expect("it carries the escalation label"))
}

/// What [`raise`] did.
#[derive(Debug, Clone, Serialize)]
pub struct Raised {
    pub escalation: Escalation,
    pub deliveries: Vec<Delivery>,
}

/// Records an escalation and delivers it along its severity's route. A route that fails is
/// reported in the result (and noted on the bead); the escalation stands.
pub fn raise(
    town: &Town,
    store: &mut beads::Store,
    config: &EscalationConfig,
    new: &NewEscalation,
) -> Result<Raised> {
    let escalation = record(store, new)?;
    let deliveries = routes::deliver(town, store, config, &escalation, "raised");
    Ok(Raised {
        escalation,
        deliveries,
    })
}

/// For the services (witness, refinery), whose escalations are made by code: raise with the
/// town's configuration, or with the defaults when it cannot be read (logged); failed routes
/// are logged and noted. The bead is always made.
pub fn raise_for_service(
    town: &Town,
    store: &mut beads::Store,
    new: &NewEscalation,
) -> Result<Escalation, beads::Error> {
    let config = EscalationConfig::load(town).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "escalation settings unreadable; using the default routes");
        EscalationConfig::default()
    });
    let escalation = bead(store, new)?;
    routes::deliver(town, store, &config, &escalation, "raised");
    Ok(escalation)
}

/// The escalations, newest first: open ones, or all with `all`.
pub fn list(store: &beads::Store, all: bool) -> Result<Vec<Escalation>> {
    let views = store.list(&beads::Filter {
        labels: vec![ESCALATION_LABEL.into()],
        all,
        limit: 0,
        sort: beads::Sort::Newest,
        ..beads::Filter::default()
    })?;
    Ok(views
        .iter()
        .filter_map(|v| Escalation::from_bead(&v.issue, &v.labels))
        .filter(|e| all || e.is_open())
        .collect())
}

/// One escalation with its notes and related beads.
#[derive(Debug, Clone, Serialize)]
pub struct Shown {
    #[serde(flatten)]
    pub escalation: Escalation,
    pub related: Vec<String>,
    pub notes: Vec<beads::Comment>,
}

/// Reads escalation `id` (a bead id, partial ids resolved).
pub fn show(store: &beads::Store, id: &str) -> Result<Shown> {
    let details = store.show(id)?;
    let escalation = Escalation::from_bead(&details.issue, &details.labels).ok_or_else(|| {
        EscalationError::NotAnEscalation {
            id: details.issue.id.clone(),
        }
    })?;
    Ok(Shown {
        escalation,
        related: details
            .dependencies
            .iter()
            .chain(&details.dependents)
            .map(|r| r.id.clone())
            .collect(),
        notes: details.comments,
    })
}

/// Takes the town's escalation lock (waits for another holder a little).
fn lock(town: &Town) -> Result<host::lock::LockGuard> {
    Ok(crate::work::lock_waiting(
        town,
        "escalations.lock",
        Duration::from_secs(30),
        || "the escalations".to_owned(),
    )?)
}

/// Acknowledges escalation `id` as `by`: it is not escalated again. Returns it, and whether
/// it was acknowledged already (then nothing changed).
pub fn ack(
    town: &Town,
    store: &mut beads::Store,
    id: &str,
    by: &str,
) -> Result<(Escalation, bool)> {
    let _lock = lock(town)?;
    let current = show(store, id)?.escalation;
    if !current.is_open() {
        return Err(EscalationError::Closed { id: current.id });
    }
    if current.acknowledged {
        return Ok((current, true));
    }
    let now = store.now();
    let issue = store.update(
        &current.id,
        &beads::Changes {
            remove_labels: vec!["acknowledged:false".into()],
            add_labels: vec!["acknowledged:true".into()],
            set_metadata: vec![
                ("acked_by".into(), by.into()),
                ("acked_at".into(), now.into()),
            ],
            ..Default::default()
        },
    )?;
    store.add_comment(&issue.id, &format!("Acknowledged by {by}."))?;
    crate::events::emit(
        store,
        beads::Happening::EscalationAcked,
        &issue.id,
        &serde_json::json!({ "by": by }),
    );
    Ok((show(store, &issue.id)?.escalation, false))
}

/// Closes escalation `id` with `reason` (it is resolved).
pub fn close(town: &Town, store: &mut beads::Store, id: &str, reason: &str) -> Result<Escalation> {
    let _lock = lock(town)?;
    let current = show(store, id)?.escalation;
    if !current.is_open() {
        return Err(EscalationError::Closed { id: current.id });
    }
    store.close(
        &current.id,
        &beads::CloseOptions {
            reason: if reason.trim().is_empty() {
                "resolved".into()
            } else {
                reason.to_owned()
            },
            ..Default::default()
        },
    )?;
    Ok(show(store, &current.id)?.escalation)
}

/// One escalation the stale pass escalated again.
#[derive(Debug, Clone, Serialize)]
pub struct Bumped {
    pub id: String,
    pub title: String,
    pub from: Severity,
    pub to: Severity,
    pub reescalations: u32,
    pub deliveries: Vec<Delivery>,
}

/// Whether `e` is due to be escalated again at `now`: open, unacknowledged, below the maximum
/// count, and last escalated at least `stale_threshold` ago.
pub fn is_stale(e: &Escalation, config: &EscalationConfig, now: Timestamp) -> bool {
    if !e.is_open() || e.acknowledged || e.reescalations >= config.max_reescalations {
        return false;
    }
    let Ok(at) = e.escalated_at.parse::<Timestamp>() else {
        tracing::warn!(id = %e.id, escalated_at = %e.escalated_at, "escalation: unreadable time");
        return false;
    };
    let waited = now.as_second().saturating_sub(at.as_second());
    u64::try_from(waited).is_ok_and(|w| w >= config.stale_threshold.as_secs())
}

/// Escalates again every stale escalation (see [`is_stale`]): one step more severe, its count
/// and time renewed, a note on the bead, and delivered along the new severity's route. With
/// `dry_run`, only says which would be. Returns them, oldest first.
pub fn stale(
    town: &Town,
    store: &mut beads::Store,
    config: &EscalationConfig,
    dry_run: bool,
) -> Result<Vec<Bumped>> {
    let _lock = lock(town)?;
    let now = store.now_ts();
    let mut due: Vec<Escalation> = list(store, false)?
        .into_iter()
        .filter(|e| is_stale(e, config, now))
        .collect();
    due.reverse();
    let mut bumped = Vec::new();
    for e in due {
        let to = e.severity.bumped();
        let count = e.reescalations + 1;
        let mut deliveries = Vec::new();
        if !dry_run {
            let waited = routes::age(&e.escalated_at, now);
            store.update(
                &e.id,
                &beads::Changes {
                    priority: Some(to.priority()),
                    remove_labels: vec![
                        format!("severity:{}", e.severity),
                        format!("reescalation_count:{}", e.reescalations),
                    ],
                    add_labels: vec![
                        format!("severity:{to}"),
                        format!("reescalation_count:{count}"),
                        "reescalated:true".into(),
                    ],
                    set_metadata: vec![("escalated_at".into(), store.now().into())],
                    ..Default::default()
                },
            )?;
            store.add_comment(
                &e.id,
                &format!(
                    "Re-escalated ({count} of {}): {} → {to}, unacknowledged for {waited}.",
                    config.max_reescalations, e.severity
                ),
            )?;
            let again = show(store, &e.id)?.escalation;
            deliveries = routes::deliver(town, store, config, &again, "re-escalated");
        }
        bumped.push(Bumped {
            id: e.id,
            title: e.title,
            from: e.severity,
            to,
            reescalations: count,
            deliveries,
        });
    }
    Ok(bumped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_parse_in_any_case_and_bump_up_to_critical() {
        assert_eq!("high".parse::<Severity>(), Ok(Severity::High));
        assert_eq!(" CRITICAL ".parse::<Severity>(), Ok(Severity::Critical));
        assert!("urgent".parse::<Severity>().is_err());
        assert_eq!(Severity::Low.bumped(), Severity::Medium);
        assert_eq!(Severity::Medium.bumped(), Severity::High);
        assert_eq!(Severity::High.bumped(), Severity::Critical);
        assert_eq!(Severity::Critical.bumped(), Severity::Critical);
        for s in Severity::ALL {
            assert_eq!(Severity::from_priority(s.priority()), s);
        }
    }

    fn escalation(at: &str, acked: bool, count: u32) -> Escalation {
        Escalation {
            id: "hq-1".into(),
            title: "t".into(),
            description: String::new(),
            status: "open".into(),
            severity: Severity::Medium,
            original_severity: Severity::Medium,
            acknowledged: acked,
            acked_by: None,
            acked_at: None,
            reescalations: count,
            source: None,
            from: None,
            created_at: at.into(),
            escalated_at: at.into(),
            closed_at: None,
            close_reason: None,
        }
    }

    #[test]
    fn only_unacknowledged_open_escalations_past_the_threshold_below_the_max_are_stale() {
        let config = EscalationConfig::default();
        let now: Timestamp = "2026-01-01T04:00:00Z".parse().unwrap();
        assert!(is_stale(
            &escalation("2026-01-01T00:00:00Z", false, 0),
            &config,
            now
        ));
        assert!(!is_stale(
            &escalation("2026-01-01T00:00:01Z", false, 0),
            &config,
            now
        ));
        assert!(!is_stale(
            &escalation("2026-01-01T00:00:00Z", true, 0),
            &config,
            now
        ));
        assert!(!is_stale(
            &escalation("2026-01-01T00:00:00Z", false, 2),
            &config,
            now
        ));
        assert!(!is_stale(&escalation("garbage", false, 0), &config, now));
        let mut closed = escalation("2026-01-01T00:00:00Z", false, 0);
        closed.status = "closed".into();
        assert!(!is_stale(&closed, &config, now));
    }

    #[test]
    fn a_hand_made_escalation_reads_its_severity_from_its_priority() {
        let issue = beads::Issue {
            id: "hq-9".into(),
            title: "help".into(),
            priority: 1,
            status: "open".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            ..Default::default()
        };
        let e = Escalation::from_bead(&issue, &[ESCALATION_LABEL.into()]).unwrap();
        assert_eq!(
            (e.severity, e.acknowledged, e.reescalations),
            (Severity::High, false, 0)
        );
        assert_eq!(e.escalated_at, "2026-01-01T00:00:00Z");
        assert!(Escalation::from_bead(&issue, &["other".into()]).is_none());
    }
}
