//! Delivering an escalation along its severity's route (see [`super::config`]).
//!
//! Each route is tried on its own: one that fails is reported (and noted on the bead), the
//! others still run, and the escalation stands.

use std::io::Write as _;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use super::{Escalation, EscalationConfig, Route};
use crate::address::Address;
use crate::layout::Town;

/// How long a `command:` route may run.
pub const COMMAND_TIME_LIMIT: Duration = Duration::from_secs(30);

/// The outcome of one route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// The route as configured (`log`, `command:/bin/page`).
    pub route: String,
    pub ok: bool,
    /// Where it went, or why it failed.
    pub detail: String,
}

/// `<town>/logs/escalations.log`.
pub fn log_path(town: &Town) -> std::path::PathBuf {
    town.logs_dir().join("escalations.log")
}

/// Delivers `e` along the route of its severity; `what` says why (`raised`, `re-escalated`).
/// A failed route is noted on the bead.
pub fn deliver(
    town: &Town,
    store: &mut beads::Store,
    config: &EscalationConfig,
    e: &Escalation,
    what: &str,
) -> Vec<Delivery> {
    let mut out = Vec::new();
    for route in config.routes(e.severity) {
        let result = match route {
            Route::Bead => Ok(format!("bead {}", e.id)),
            Route::Log => log(town, store, e, what),
            Route::Mail(to) => mail(town, store, e, what, to),
            Route::Command(argv) => command(town, e, what, argv),
        };
        let delivery = match result {
            Ok(detail) => Delivery {
                route: route.to_string(),
                ok: true,
                detail,
            },
            Err(detail) => {
                tracing::warn!(id = %e.id, route = %route, error = %detail, "escalation route failed");
                let note = format!("Route `{route}` failed: {detail}");
                if let Err(err) = store.add_comment(&e.id, &note) {
                    tracing::warn!(id = %e.id, error = %err, "cannot note a failed route");
                }
                Delivery {
                    route: route.to_string(),
                    ok: false,
                    detail,
                }
            }
        };
        out.push(delivery);
    }
    out
}

/// Appends one line per delivery to the town's escalation log.
fn log(town: &Town, store: &beads::Store, e: &Escalation, what: &str) -> Result<String, String> {
    let path = log_path(town);
    let line = format!(
        "{} {} {} {what} from={} source={} reescalations={} {}\n",
        store.now(),
        e.severity,
        e.id,
        e.from.as_deref().unwrap_or("-"),
        e.source.as_deref().unwrap_or("-"),
        e.reescalations,
        crate::work::prime::shown(&e.title, false),
    );
    let fail = |err: std::io::Error| format!("cannot append to `{}`: {err}", path.display());
    std::fs::create_dir_all(town.logs_dir()).map_err(fail)?;
    // One `write` of one line to a file opened for appending: lines of concurrent writers do
    // not interleave.
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .map_err(fail)?;
    Ok(format!("appended to {}", path.display()))
}

/// Sends one message about `e` to `to`, from whoever raised it (the overseer when that is not
/// one mailbox), with the severity's priority (CRITICAL is urgent).
fn mail(
    town: &Town,
    store: &mut beads::Store,
    e: &Escalation,
    what: &str,
    to: &Address,
) -> Result<String, String> {
    let from = e
        .from
        .as_deref()
        .and_then(|f| Address::parse(f).ok())
        .filter(Address::is_mailbox)
        .unwrap_or(Address::Overseer);
    let sent = crate::mail::send(
        town,
        store,
        &from,
        &crate::mail::Outgoing {
            to: vec![to.clone()],
            cc: Vec::new(),
            subject: mail_subject(e, what),
            body: mail_body(e, what),
            priority: e.severity.priority(),
            msg_type: beads::MessageType::Notification,
            reply_to: None,
            ephemeral: Some(false),
        },
    )
    .map_err(|err| err.to_string())?;
    Ok(format!(
        "sent {} to {}",
        beads::ops::mail::message_label(sent.message.id),
        sent.mailboxes.join(", ")
    ))
}

/// `[HIGH] <title>`, and `[CRITICAL] <title> (re-escalated)` after a stale bump. The title is
/// made one safe line.
fn mail_subject(e: &Escalation, what: &str) -> String {
    let title = crate::work::prime::shown(&e.title, false);
    match what {
        "raised" => format!("[{}] {title}", e.severity),
        _ => format!("[{}] {title} ({what})", e.severity),
    }
}

fn mail_body(e: &Escalation, what: &str) -> String {
    let mut body = format!(
        "Escalation {id} ({severity}) {what}.\n\nid: {id}\nseverity: {severity}\n",
        id = e.id,
        severity = e.severity,
    );
    if e.original_severity != e.severity {
        body.push_str(&format!(
            "original severity: {} (re-escalated {} times)\n",
            e.original_severity, e.reescalations
        ));
    }
    body.push_str(&format!(
        "from: {}\nsource: {}\n",
        e.from.as_deref().unwrap_or("-"),
        e.source.as_deref().unwrap_or("-")
    ));
    if !e.description.trim().is_empty() {
        body.push_str("\nReason:\n");
        body.push_str(e.description.trim_end());
        body.push('\n');
    }
    body.push_str(&format!(
        "\nAcknowledge with `gt escalate ack {id}`; details: `gt escalate show {id}`.\n",
        id = e.id
    ));
    body
}

/// Runs the configured program with the escalation in `GT_ESCALATION_*` variables and as JSON
/// on stdin. Never through a shell: the bead's text cannot become a command.
fn command(town: &Town, e: &Escalation, what: &str, argv: &[String]) -> Result<String, String> {
    let (program, args) = argv.split_first().ok_or("no program")?;
    let env: Vec<(String, String)> = [
        ("GT_ESCALATION_ID", e.id.clone()),
        ("GT_ESCALATION_SEVERITY", e.severity.to_string()),
        ("GT_ESCALATION_TITLE", e.title.clone()),
        ("GT_ESCALATION_EVENT", what.to_owned()),
        ("GT_ESCALATION_SOURCE", e.source.clone().unwrap_or_default()),
        ("GT_ESCALATION_FROM", e.from.clone().unwrap_or_default()),
        ("GT_ESCALATION_REESCALATIONS", e.reescalations.to_string()),
        ("GT_TOWN_ROOT", town.root().display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let json = serde_json::to_vec(e).map_err(|err| err.to_string())?;
    host::process::run_with_input(program, args, &env, &json, COMMAND_TIME_LIMIT).map_err(
        |err| std::error::Error::source(&err).map_or(err.to_string(), |s| format!("{err}: {s}")),
    )?;
    Ok(format!("ran {program}"))
}

/// How long ago `at` was, for notes: `4h 0m`, `12m`.
pub fn age(at: &str, now: Timestamp) -> String {
    let Ok(at) = at.parse::<Timestamp>() else {
        return "an unknown time".into();
    };
    let secs = now.as_second().saturating_sub(at.as_second()).max(0);
    let (h, m) = (secs / 3600, secs % 3600 / 60);
    if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m")
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_naturally() {
        let now: Timestamp = "2026-01-01T04:05:00Z".parse().unwrap();
        assert_eq!(age("2026-01-01T00:00:00Z", now), "4h 5m");
        assert_eq!(age("2026-01-01T04:00:00Z", now), "5m");
        assert_eq!(age("2026-01-01T04:04:30Z", now), "30s");
        assert_eq!(age("junk", now), "an unknown time");
    }
}
