//! The issue model: fields, statuses, types, dependency kinds, and their validation.
//!
//! Field names and JSON shapes follow upstream beads (`snake_case`, `priority` always present,
//! empty text omitted) so agents and scripts written for upstream keep working.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The longest title accepted.
pub const MAX_TITLE_CHARS: usize = 500;

/// Built-in statuses. Custom statuses come from the `status.custom` config key. `submitted`
/// is ours: the work is done and queued for merge; the bead closes only when it lands.
pub const BUILTIN_STATUSES: &[&str] = &[
    "open",
    "in_progress",
    "submitted",
    "blocked",
    "deferred",
    "closed",
    "pinned",
    "hooked",
    "tombstone",
];

/// Built-in issue types. Custom types come from the `types.custom` config key.
pub const BUILTIN_TYPES: &[&str] = &[
    "bug",
    "feature",
    "task",
    "epic",
    "chore",
    "decision",
    "message",
    "molecule",
    "gate",
    "spike",
    "story",
    "milestone",
    "event",
];

/// Upstream's default infrastructure types (agents, rigs, roles, messages): `list` and
/// `export` leave them out unless asked for.
pub const HIDDEN_INFRA_TYPES: [&str; 4] = ["agent", "rig", "role", "message"];

/// Types Gas Town uses as infrastructure; valid everywhere, hidden from `ready` by default.
pub const INFRA_TYPES: &[&str] = &[
    "merge-request",
    "gate",
    "molecule",
    "message",
    "agent",
    "role",
    "rig",
    "convoy",
    "slot",
    "event",
];

/// Dependency kinds that affect readiness.
pub const BLOCKING_KINDS: &[&str] = &["blocks", "parent-child", "conditional-blocks", "waits-for"];

/// Close reasons that count as a failure for `conditional-blocks` (the dependent runs only if
/// its blocker failed). Matched case-insensitively as substrings.
pub const FAILURE_KEYWORDS: &[&str] = &[
    "failed",
    "rejected",
    "wontfix",
    "won't fix",
    "canceled",
    "cancelled",
    "abandoned",
    "blocked",
    "error",
    "timeout",
    "aborted",
];

/// Wisp types and how long a closed or stale wisp of that type is kept before `wisp gc`.
pub const WISP_TTLS: &[(&str, jiff::SignedDuration)] = &[
    ("heartbeat", jiff::SignedDuration::from_hours(6)),
    ("ping", jiff::SignedDuration::from_hours(6)),
    ("patrol", jiff::SignedDuration::from_hours(24)),
    ("gc_report", jiff::SignedDuration::from_hours(24)),
    ("recovery", jiff::SignedDuration::from_hours(24 * 7)),
    ("error", jiff::SignedDuration::from_hours(24 * 7)),
    ("escalation", jiff::SignedDuration::from_hours(24 * 7)),
];

/// Status categories for custom statuses (`name:category`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusCategory {
    /// Counts as open work (shows in `ready`).
    Active,
    /// Work in progress.
    Wip,
    /// Finished: does not block dependents and is hidden from `list` by default.
    Done,
    /// Parked: hidden from `list` by default, still blocks.
    Frozen,
    /// No special meaning.
    Unspecified,
}

impl StatusCategory {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "active" => Self::Active,
            "wip" => Self::Wip,
            "done" => Self::Done,
            "frozen" => Self::Frozen,
            "unspecified" | "" => Self::Unspecified,
            _ => return None,
        })
    }
}

/// A custom status from `status.custom`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomStatus {
    /// The status name.
    pub name: String,
    /// What it means for readiness and listing.
    pub category: StatusCategory,
}

/// Parses `types.custom` (`"spike, chore"`): the names, trimmed, empty ones skipped.
pub fn parse_custom_types(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Parses `status.custom` (`"review:wip,shipped:done"`).
pub fn parse_custom_statuses(value: &str) -> Result<Vec<CustomStatus>> {
    let mut out = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, cat) = part.split_once(':').unwrap_or((part, ""));
        validate_word("status.custom", name)?;
        if BUILTIN_STATUSES.contains(&name) {
            return Err(Error::invalid(
                "status.custom",
                format!("`{name}` is a built-in status"),
            ));
        }
        let category = StatusCategory::parse(cat).ok_or_else(|| {
            Error::invalid(
                "status.custom",
                format!("unknown category `{cat}` for `{name}` (use active, wip, done, frozen or unspecified)"),
            )
        })?;
        out.push(CustomStatus {
            name: name.to_owned(),
            category,
        });
    }
    if out.len() > 50 {
        return Err(Error::invalid(
            "status.custom",
            "at most 50 custom statuses",
        ));
    }
    Ok(out)
}

/// Checks a status, type or label-like word: 1–64 chars of `[a-z0-9_-]`.
pub fn validate_word(field: &'static str, word: &str) -> Result<()> {
    let ok = !word.is_empty()
        && word.len() <= 64
        && word
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("`{word}` must be 1-64 characters of a-z, 0-9, `_` or `-`"),
        ))
    }
}

/// Resolves upstream's type aliases (`feat` → `feature`, …).
pub fn normalize_type(t: &str) -> String {
    let lower = t.trim().to_ascii_lowercase();
    match lower.as_str() {
        "enhancement" | "feat" => "feature".into(),
        "dec" | "adr" => "decision".into(),
        "investigation" | "timebox" => "spike".into(),
        "ms" => "milestone".into(),
        _ => lower,
    }
}

/// Checks a title: required, at most [`MAX_TITLE_CHARS`], no control characters.
pub fn validate_title(title: &str) -> Result<()> {
    if title.trim().is_empty() {
        return Err(Error::invalid("title", "a title is required"));
    }
    let n = title.chars().count();
    if n > MAX_TITLE_CHARS {
        return Err(Error::invalid(
            "title",
            format!("{n} characters is over the limit of {MAX_TITLE_CHARS}"),
        ));
    }
    if title.chars().any(char::is_control) {
        return Err(Error::invalid(
            "title",
            "control characters (newlines, escapes) are not allowed",
        ));
    }
    Ok(())
}

/// Checks a priority: 0 (critical) to 4 (backlog).
pub fn validate_priority(p: i64) -> Result<()> {
    if (0..=4).contains(&p) {
        Ok(())
    } else {
        Err(Error::invalid(
            "priority",
            format!("{p} is out of range 0-4 (0 is critical)"),
        ))
    }
}

/// Parses a priority written as `2` or `P2`.
pub fn parse_priority(s: &str) -> Result<i64> {
    let digits = s.trim().trim_start_matches(['P', 'p']);
    let p = digits
        .parse::<i64>()
        .map_err(|_| Error::invalid("priority", format!("`{s}` is not a number 0-4")))?;
    validate_priority(p)?;
    Ok(p)
}

/// Parses metadata given as a JSON object.
pub fn parse_metadata(s: &str) -> Result<serde_json::Map<String, serde_json::Value>> {
    match serde_json::from_str::<serde_json::Value>(s) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err(Error::invalid("metadata", "must be a JSON object")),
        Err(e) => Err(Error::invalid("metadata", format!("not valid JSON: {e}"))),
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}
fn is_zero(n: &i64) -> bool {
    *n == 0
}
fn empty_object(v: &Option<serde_json::Value>) -> bool {
    match v {
        None => true,
        Some(serde_json::Value::Object(m)) => m.is_empty(),
        Some(serde_json::Value::Null) => true,
        Some(_) => false,
    }
}

/// One issue ("bead"), as stored and as printed by `--json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Issue {
    pub id: String,
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub design: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub acceptance_criteria: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub notes: String,
    pub status: String,
    pub priority: i64,
    pub issue_type: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub assignee: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub owner: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_minutes: Option<i64>,
    pub created_at: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub created_by: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub close_reason: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub closed_by_session: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defer_until: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub external_ref: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source_system: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub spec_id: String,
    #[serde(skip_serializing_if = "empty_object")]
    pub metadata: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sender: String,
    #[serde(skip_serializing_if = "is_false")]
    pub ephemeral: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub no_history: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub wisp_type: String,
    #[serde(skip_serializing_if = "is_false")]
    pub pinned: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub is_template: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mol_type: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub work_type: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub await_type: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub await_id: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub timeout: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub waiters: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub event_kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub actor: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub payload: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source_formula: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source_location: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub deleted_by: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub delete_reason: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub original_type: String,
}

/// A dependency edge: `issue_id` depends on (is blocked by) `depends_on_id`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Dependency {
    pub issue_id: String,
    pub depends_on_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub created_by: String,
    #[serde(skip_serializing_if = "is_empty_meta")]
    pub metadata: String,
}

fn is_empty_meta(s: &String) -> bool {
    s.is_empty() || s == "{}"
}

/// A comment on an issue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Comment {
    pub id: String,
    pub issue_id: String,
    pub author: String,
    pub text: String,
    pub created_at: String,
}

/// An audit event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    pub id: i64,
    pub issue_id: String,
    pub event_type: String,
    pub actor: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub created_at: String,
}

/// An issue with its relations and counts, as `show`, `list` and `export` print it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IssueView {
    #[serde(flatten)]
    pub issue: Issue,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dependencies: Option<Vec<Dependency>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comments: Option<Vec<Comment>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    pub dependency_count: i64,
    pub dependent_count: i64,
    pub comment_count: i64,
}

/// A related issue as `show` lists it under dependencies and dependents.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Related {
    pub id: String,
    pub title: String,
    pub status: String,
    pub priority: i64,
    pub issue_type: String,
    pub dependency_type: String,
}

/// `show --json`: the issue, its labels, edges both ways and comments.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IssueDetails {
    #[serde(flatten)]
    pub issue: Issue,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<Related>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dependents: Vec<Related>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub comments: Vec<Comment>,
    pub is_blocked: bool,
    /// Progress of an epic with children; absent for other issues.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub epic: Option<EpicProgress>,
}

/// How far an epic's children are (`bd show` on an epic with children).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EpicProgress {
    /// Children, tombstones left out.
    pub epic_total_children: i64,
    /// Children in `closed` or a custom done-category status.
    pub epic_closed_children: i64,
    /// Every child is closed, so the epic may be.
    pub epic_closeable: bool,
}

/// A blocked issue and what blocks it (`bd blocked`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BlockedIssue {
    #[serde(flatten)]
    pub issue: Issue,
    pub blocked_by_count: usize,
    pub blocked_by: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_checked() {
        assert!(validate_title("Fix the thing").is_ok());
        assert!(validate_title("  ").is_err());
        assert!(validate_title(&"x".repeat(501)).is_err());
        assert!(validate_title(&"é".repeat(500)).is_ok());
        assert!(validate_title("a\nb").is_err());
        assert!(validate_title("a\x1b[31m").is_err());
    }

    #[test]
    fn priorities_accept_p_prefix_and_reject_out_of_range() {
        assert_eq!(parse_priority("P1").unwrap(), 1);
        assert_eq!(parse_priority("4").unwrap(), 4);
        assert!(parse_priority("9").is_err());
        assert!(parse_priority("high").is_err());
    }

    #[test]
    fn custom_statuses_parse_with_categories() {
        let s = parse_custom_statuses("review:wip, shipped:done,idea").unwrap();
        assert_eq!(
            s[1],
            CustomStatus {
                name: "shipped".into(),
                category: StatusCategory::Done
            }
        );
        assert_eq!(s[2].category, StatusCategory::Unspecified);
        assert!(parse_custom_statuses("open:done").is_err());
        assert!(parse_custom_statuses("x:weird").is_err());
    }

    #[test]
    fn priority_is_always_serialized_and_empty_text_is_not() {
        let issue = Issue {
            id: "bd-1".into(),
            title: "t".into(),
            status: "open".into(),
            ..Default::default()
        };
        let v = serde_json::to_value(&issue).unwrap();
        assert_eq!(v["priority"], 0);
        assert!(v.get("description").is_none());
        assert!(v.get("metadata").is_none());
    }

    #[test]
    fn type_aliases_resolve() {
        assert_eq!(normalize_type("Feat"), "feature");
        assert_eq!(normalize_type("adr"), "decision");
        assert_eq!(normalize_type("bug"), "bug");
    }
}
