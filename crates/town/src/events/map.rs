//! From a stored `events` row to a [`TownEvent`]: its kind, the rig and bead it belongs to,
//! its payload and a one-line summary.

use serde_json::{Map, Value};

use super::{EventKind, TownEvent};

/// What the mapping needs besides the row: the store's routes (id prefix → rig directory).
#[derive(Debug, Default)]
pub(crate) struct Routes(Vec<beads::routes::Route>);

impl Routes {
    pub(crate) fn of(store: &beads::Store) -> Result<Self, beads::Error> {
        let dir = store.path().parent().unwrap_or(store.path());
        beads::routes::read(dir).map(Self)
    }

    /// The rig a bead id belongs to: the route with the longest matching prefix, unless it is
    /// the town's own (`.`).
    fn rig_of_bead(&self, id: &str) -> Option<String> {
        self.0
            .iter()
            .filter(|r| id.starts_with(&r.prefix))
            .max_by_key(|r| r.prefix.len())
            .filter(|r| r.path != "." && !r.path.is_empty())
            .map(|r| r.path.clone())
    }
}

/// Maps one row.
pub(crate) fn map(e: beads::model::Event, routes: &Routes) -> TownEvent {
    let kind = EventKind::of(&e.event_type, e.new_value.as_deref());
    let detail = detail_of(&e);
    let payload = match detail {
        Some(d) => Value::Object(d),
        None => plain_payload(&e),
    };
    let subject = Subject::parse(&e.issue_id);
    let bead = str_field(&payload, "bead").or_else(|| match &subject {
        Subject::Bead(id) => Some(id.clone()),
        _ => None,
    });
    let reader = (kind == EventKind::MailRead)
        .then(|| str_field(&payload, "mailbox"))
        .flatten()
        .map(Subject::Agent);
    let rig = str_field(&payload, "rig")
        .or_else(|| subject.rig())
        .or_else(|| reader.and_then(|r| r.rig()))
        .or_else(|| bead.as_deref().and_then(|b| routes.rig_of_bead(b)));
    let summary = one_line(&summarize(kind, &e, &subject, &payload));
    TownEvent {
        id: e.id,
        at: e.created_at,
        actor: e.actor,
        kind,
        rig,
        bead,
        summary,
        payload,
    }
}

/// The JSON object a row carries as its detail (happenings, sent mail, session records).
fn detail_of(e: &beads::model::Event) -> Option<Map<String, Value>> {
    let structured = beads::Happening::ALL
        .iter()
        .any(|h| h.as_str() == e.event_type)
        || matches!(
            e.event_type.as_str(),
            beads::ops::happenings::MAIL_SENT
                | beads::ops::happenings::MAIL_READ
                | "session_start"
                | "session_end"
                | "cost_recorded"
        );
    if !structured {
        return None;
    }
    match serde_json::from_str(e.new_value.as_deref()?) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

/// The sum of a recorded cost's token counts (`{"input": …, "output": …, …}`), as text.
fn tokens_total(tokens: &Value) -> String {
    match tokens {
        Value::Object(m) => m
            .values()
            .filter_map(Value::as_u64)
            .sum::<u64>()
            .to_string(),
        Value::Number(n) => n.to_string(),
        _ => "?".to_owned(),
    }
}

/// Any other row's payload: what it concerns and its old and new values and comment.
fn plain_payload(e: &beads::model::Event) -> Value {
    let mut m = Map::new();
    m.insert("event_type".into(), e.event_type.clone().into());
    if !e.issue_id.is_empty() {
        m.insert("subject".into(), e.issue_id.clone().into());
    }
    for (key, value) in [
        ("old", &e.old_value),
        ("new", &e.new_value),
        ("comment", &e.comment),
    ] {
        if let Some(v) = value {
            m.insert(key.into(), v.clone().into());
        }
    }
    Value::Object(m)
}

/// What a row's `issue_id` names.
#[derive(Debug, PartialEq, Eq)]
enum Subject {
    Polecat {
        rig: String,
        name: String,
    },
    /// An agent's address (`agent:` session records, `role:` rows).
    Agent(String),
    Bead(String),
    /// Anything else (`mail:<id>`, `daemon`, nothing).
    Other(String),
}

impl Subject {
    fn parse(id: &str) -> Self {
        if let Some(rest) = id.strip_prefix("polecat:")
            && let Some((rig, name)) = rest.split_once('/')
        {
            return Self::Polecat {
                rig: rig.to_owned(),
                name: name.to_owned(),
            };
        }
        if let Some(address) = id
            .strip_prefix(beads::ops::sessions::SESSION_KEY_PREFIX)
            .or_else(|| id.strip_prefix("role:"))
        {
            return Self::Agent(address.to_owned());
        }
        if id.is_empty() || id.contains(':') || id == beads::ops::happenings::DAEMON_KEY {
            return Self::Other(id.to_owned());
        }
        Self::Bead(id.to_owned())
    }

    /// The rig of a polecat, or of an address inside a rig (`<rig>/polecats/<name>`,
    /// `<rig>/crew/<name>`, `<rig>/witness`); town-level addresses (`mayor/`) have none.
    fn rig(&self) -> Option<String> {
        match self {
            Self::Polecat { rig, .. } => Some(rig.clone()),
            Self::Agent(address) => address
                .split_once('/')
                .filter(|(rig, rest)| !rig.is_empty() && !rest.is_empty())
                .map(|(rig, _)| rig.to_owned()),
            Self::Bead(_) | Self::Other(_) => None,
        }
    }

    /// How a summary names it.
    fn name(&self) -> String {
        match self {
            Self::Polecat { rig, name } => format!("{rig}/polecats/{name}"),
            Self::Agent(a) | Self::Bead(a) | Self::Other(a) => a.clone(),
        }
    }
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// A payload field as text ("?" when missing; lists joined by commas).
fn field(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(", "),
        Some(Value::Null) | None => "?".to_owned(),
        Some(other) => other.to_string(),
    }
}

fn summarize(kind: EventKind, e: &beads::model::Event, subject: &Subject, p: &Value) -> String {
    let who = subject.name();
    let old = e.old_value.as_deref().unwrap_or("");
    let new = e.new_value.as_deref().unwrap_or("");
    let comment = e.comment.as_deref().unwrap_or("");
    let with_reason = |text: String| {
        if p.get("reason").is_some() {
            format!("{text}: {}", field(p, "reason"))
        } else {
            text
        }
    };
    match kind {
        EventKind::Sling => format!("{who} slung to {}", field(p, "polecat")),
        EventKind::PolecatAdmitted => format!("{who} admitted"),
        EventKind::Spawn => format!(
            "{} started session {} (generation {})",
            field(p, "polecat"),
            field(p, "session"),
            field(p, "generation")
        ),
        EventKind::Prime => format!("{who} primed ({})", field(p, "source")),
        EventKind::SessionEnd => format!("{who} session ended"),
        EventKind::CostRecorded => format!(
            "{who} used {} tokens in session {}",
            p.get("tokens").map_or_else(|| "?".to_owned(), tokens_total),
            field(p, "session_id")
        ),
        EventKind::PolecatWorking => format!("{who} working"),
        EventKind::Done => format!("{who} done"),
        EventKind::PolecatStuck => format!("{who} stuck"),
        EventKind::PolecatRestored => format!("{who} restored to {}", or_none(new)),
        EventKind::PolecatRemoved => format!("{who} removed"),
        EventKind::PolecatUpdated => format!("{who} updated"),
        EventKind::MrQueued => format!("{who} queued as {new} ({comment})"),
        EventKind::MrTesting
        | EventKind::MrMerged
        | EventKind::MrFailed
        | EventKind::MrConflict
        | EventKind::MrRequeued
        | EventKind::MrRetried
        | EventKind::MrRejected
        | EventKind::MrSuperseded => {
            // The comment is `mr-<id>: <reason>`.
            let verb = kind.as_str().trim_start_matches("mr_");
            match comment.split_once(": ") {
                Some((mr, reason)) if !reason.is_empty() => {
                    format!("{mr} of {who} {verb}: {reason}")
                }
                Some((mr, _)) => format!("{mr} of {who} {verb}"),
                None => format!("merge request of {who} {verb}"),
            }
        }
        EventKind::ConvoyLanded => format!("convoy {who} landed"),
        EventKind::Restart => with_reason(format!("witness restarted {}", field(p, "polecat"))),
        EventKind::NudgeDelivered => match p.get("by").and_then(Value::as_str) {
            Some("daemon") => format!("queued nudge delivered to {} by the daemon", field(p, "to")),
            Some(_) => format!("queued nudge delivered to {} by its hook", field(p, "to")),
            None => format!("nudge delivered to {}", field(p, "to")),
        },
        EventKind::NudgeQueued => with_reason(format!("nudge queued for {}", field(p, "to"))),
        EventKind::NudgeExpired => format!(
            "nudge from {} to {} expired undelivered",
            field(p, "from"),
            field(p, "to")
        ),
        EventKind::MailSent => format!(
            "mail from {} to {}: {}",
            field(p, "from"),
            field(p, "to"),
            field(p, "subject")
        ),
        EventKind::MailRead => format!("msg-{} read by {}", field(p, "id"), field(p, "mailbox")),
        EventKind::EscalationRaised => {
            format!("{who} [{}] {}", field(p, "severity"), field(p, "title"))
        }
        EventKind::EscalationAcked => format!("{who} acknowledged by {}", field(p, "by")),
        EventKind::Handoff => format!("{} handed off", field(p, "address")),
        EventKind::DaemonStarted => format!("daemon started (pid {})", field(p, "pid")),
        EventKind::DaemonStopped => format!("daemon stopped (pid {})", field(p, "pid")),
        EventKind::RoleStarted => format!("{who} started (generation {new})"),
        EventKind::RoleRestarted => format!("{who} restarted (generation {new})"),
        EventKind::RoleWanted => format!("{who} wanted running"),
        EventKind::RoleStopped => format!("{who} {}", or_none(new)),
        EventKind::RoleFailed => format!("{who} failed to start: {comment}"),
        EventKind::RoleRemoved => format!("{who} removed"),
        EventKind::BeadCreated => format!("{who} created: {new}"),
        EventKind::BeadStatus => format!("{who} {old} → {new}"),
        EventKind::BeadClosed => format!("{who} closed"),
        EventKind::BeadReopened => format!("{who} reopened"),
        EventKind::BeadUpdated => format!("{who} updated"),
        EventKind::BeadClaimed => format!("{who} claimed"),
        EventKind::BeadCommented => format!("{who} commented"),
        EventKind::BeadLabeled if e.event_type == "label_removed" => format!("{who} -{old}"),
        EventKind::BeadLabeled => format!("{who} +{new}"),
        EventKind::BeadDeleted => format!("{who} deleted"),
        EventKind::Other => {
            if who.is_empty() {
                e.event_type.clone()
            } else {
                format!("{} {who}", e.event_type)
            }
        }
    }
}

fn or_none(s: &str) -> &str {
    if s.is_empty() { "(none)" } else { s }
}

/// `text` on one line: control characters (line breaks, escapes) written as escapes, so a
/// hostile subject or title cannot break a line or drive the terminal.
pub(crate) fn one_line(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_debug().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        issue_id: &str,
        event_type: &str,
        new: Option<&str>,
        comment: Option<&str>,
    ) -> beads::model::Event {
        beads::model::Event {
            id: 7,
            issue_id: issue_id.into(),
            event_type: event_type.into(),
            actor: "gt".into(),
            old_value: None,
            new_value: new.map(Into::into),
            comment: comment.map(Into::into),
            created_at: "2026-01-02T03:04:05Z".into(),
        }
    }

    fn routes() -> Routes {
        Routes(vec![
            beads::routes::Route {
                prefix: "hq-".into(),
                path: ".".into(),
            },
            beads::routes::Route {
                prefix: "gt-".into(),
                path: "gastown".into(),
            },
        ])
    }

    #[test]
    fn a_polecat_row_names_its_rig() {
        let e = map(
            row(
                "polecat:gastown/furiosa",
                "polecat_idle",
                Some("idle"),
                None,
            ),
            &routes(),
        );
        assert_eq!(e.kind, EventKind::Done);
        assert_eq!(e.rig.as_deref(), Some("gastown"));
        assert_eq!(e.bead, None);
        assert_eq!(e.summary, "gastown/polecats/furiosa done");
    }

    #[test]
    fn a_merge_request_row_finds_its_rig_by_the_beads_prefix() {
        let e = map(
            row(
                "gt-abc",
                "mr_merged",
                Some("merged"),
                Some("mr-3: landed at 1234"),
            ),
            &routes(),
        );
        assert_eq!(e.kind, EventKind::MrMerged);
        assert_eq!(e.rig.as_deref(), Some("gastown"));
        assert_eq!(e.bead.as_deref(), Some("gt-abc"));
        assert_eq!(e.summary, "mr-3 of gt-abc merged: landed at 1234");
        let town = map(row("hq-x", "created", Some("t"), None), &routes());
        assert_eq!(town.rig, None, "the town's own beads have no rig");
    }

    #[test]
    fn a_happenings_detail_is_its_payload_and_names_rig_and_bead() {
        let detail = r#"{"rig":"gastown","bead":"gt-abc","polecat":"gastown/polecats/nux","session":"gt-nux","generation":2}"#;
        let e = map(
            row("polecat:gastown/nux", "session_spawned", Some(detail), None),
            &routes(),
        );
        assert_eq!(e.kind, EventKind::Spawn);
        assert_eq!(e.bead.as_deref(), Some("gt-abc"));
        assert_eq!(e.payload["generation"], 2);
        assert_eq!(
            e.summary,
            "gastown/polecats/nux started session gt-nux (generation 2)"
        );
    }

    #[test]
    fn session_records_are_primes_of_their_address() {
        let e = map(
            row(
                "agent:gastown/polecats/nux",
                "session_start",
                Some(r#"{"source":"startup"}"#),
                None,
            ),
            &routes(),
        );
        assert_eq!(e.kind, EventKind::Prime);
        assert_eq!(e.rig.as_deref(), Some("gastown"));
        assert_eq!(e.summary, "gastown/polecats/nux primed (startup)");
        let mayor = map(
            row("role:mayor/", "role_started", Some("1"), Some("claude")),
            &routes(),
        );
        assert_eq!(mayor.rig, None);
        assert_eq!(mayor.summary, "mayor/ started (generation 1)");
    }

    #[test]
    fn a_recorded_cost_says_how_many_tokens() {
        let detail = r#"{"session_id":"5d3a","bead":"gt-1","tokens":{"input":10,"output":5,"cache_write":0,"cache_read":100}}"#;
        let e = map(
            row(
                "agent:gastown/polecats/nux",
                "cost_recorded",
                Some(detail),
                None,
            ),
            &routes(),
        );
        assert_eq!(e.kind, EventKind::CostRecorded);
        assert_eq!(
            e.summary,
            "gastown/polecats/nux used 115 tokens in session 5d3a"
        );
    }

    #[test]
    fn hostile_text_stays_on_one_line() {
        let detail =
            r#"{"from":"mayor/","to":["gastown/polecats/nux"],"subject":"hi\n\u001b[2Jthere"}"#;
        let e = map(row("mail:4", "mail_sent", Some(detail), None), &routes());
        assert_eq!(e.kind, EventKind::MailSent);
        assert_eq!(
            e.summary,
            r"mail from mayor/ to gastown/polecats/nux: hi\n\u{1b}[2Jthere"
        );
        assert_eq!(e.bead, None);
    }

    #[test]
    fn a_read_names_the_readers_rig_and_an_expiry_its_sender() {
        let read = map(
            row(
                "mail:4",
                "mail_read",
                Some(r#"{"id":4,"mailbox":"gastown/polecats/nux"}"#),
                None,
            ),
            &routes(),
        );
        assert_eq!(read.kind, EventKind::MailRead);
        assert_eq!(read.rig.as_deref(), Some("gastown"));
        assert_eq!(read.summary, "msg-4 read by gastown/polecats/nux");
        let detail = r#"{"to":"gastown/polecats/nux","from":"mayor/","session":"gt-nux","priority":"normal","rig":"gastown"}"#;
        let expired = map(
            row(
                "agent:gastown/polecats/nux",
                "nudge_expired",
                Some(detail),
                None,
            ),
            &routes(),
        );
        assert_eq!(expired.kind, EventKind::NudgeExpired);
        assert_eq!(
            expired.summary,
            "nudge from mayor/ to gastown/polecats/nux expired undelivered"
        );
        let by_daemon = r#"{"to":"mayor/","from":"mail","session":"hq-mayor","priority":"normal","by":"daemon"}"#;
        let delivered = map(
            row("agent:mayor/", "nudge_delivered", Some(by_daemon), None),
            &routes(),
        );
        assert_eq!(
            delivered.summary,
            "queued nudge delivered to mayor/ by the daemon"
        );
    }

    #[test]
    fn a_row_the_stream_does_not_know_is_other_with_its_raw_values() {
        let e = map(row("", "config_set", Some("x"), Some("key")), &routes());
        assert_eq!(e.kind, EventKind::Other);
        assert_eq!(e.summary, "config_set");
        assert_eq!(
            e.payload,
            serde_json::json!({"event_type":"config_set","new":"x","comment":"key"})
        );
    }

    #[test]
    fn a_malformed_detail_falls_back_to_the_raw_values() {
        let e = map(
            row("daemon", "daemon_started", Some("not json"), None),
            &routes(),
        );
        assert_eq!(e.kind, EventKind::DaemonStarted);
        assert_eq!(e.payload["new"], "not json");
        assert_eq!(e.summary, "daemon started (pid ?)");
    }
}
