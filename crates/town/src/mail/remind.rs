//! The start-of-session mail reminder for agents without hooks.
//!
//! An agent whose CLI runs `gt`'s hooks learns of its unread mail from its `SessionStart` hook
//! (`gt mail check --inject`). One without them (codex, amp, the scripted agent, …) would
//! never hear of mail sent before it started, since [`super::notify`] only tells sessions that
//! run. So when sling (or a start of the mayor or a crew member, or a handoff) starts such an
//! agent, it queues one nudge naming its unread mail; the daemon's drain delivers it when the
//! agent first idles, the same path as any queued nudge.

use beads::ops::mail::{PRIORITY_HIGH, message_label};
use beads::{InboxQuery, Store};

use crate::address::Address;
use crate::layout::Town;
use crate::nudge::{self, NudgeError, Priority, QueuedNudge};

/// Who a reminder is from, as the agent reads it (`[nudge from mail] …`): no agent sent it.
pub const SENDER: &str = "mail";

/// Queues the reminder for `who`, whose agent runs in `session`, if it has unread mail.
/// Returns how many unread messages it named (0: nothing queued).
pub fn remind_unread(
    town: &Town,
    store: &mut Store,
    who: &Address,
    session: &str,
) -> Result<usize, NudgeError> {
    let unread = store.mail_inbox(&who.canonical(), &InboxQuery::unread())?;
    let Some(newest) = unread.first() else {
        return Ok(0);
    };
    let text = text(unread.len(), &newest.message);
    let priority = if unread.iter().any(|m| m.message.priority <= PRIORITY_HIGH) {
        Priority::Urgent
    } else {
        Priority::Normal
    };
    let now = store.now_ts();
    let entry = QueuedNudge::new(SENDER, &who.canonical(), &text, priority, now);
    let queued = nudge::enqueue(town, session, &entry, now)?;
    nudge::record::queued(store, session, &entry, "mail-reminder", &queued);
    Ok(unread.len())
}

/// [`remind_unread`] for a start path: the mail is kept whatever happens here, so a failure is
/// logged, never a failed start.
pub fn remind_or_log(town: &Town, store: &mut Store, who: &Address, session: &str) {
    match remind_unread(town, store, who, session) {
        Ok(0) => {}
        Ok(n) => tracing::info!(agent = %who, unread = n, "queued a reminder of unread mail"),
        Err(e) => tracing::warn!(agent = %who, error = %e, "cannot remind an agent of its mail"),
    }
}

/// The reminder for `count` unread messages, `newest` first: how many, the newest by id,
/// sender and subject, and the command that reads them.
fn text(count: usize, newest: &beads::Message) -> String {
    let subject = one_line(&newest.subject);
    let label = message_label(newest.id);
    match count {
        1 => format!(
            "📬 You have 1 unread message: {label} from {}: {subject}. Run `gt mail read {label}`.",
            newest.from
        ),
        n => format!(
            "📬 You have {n} unread messages; the newest is {label} from {}: {subject}. Run \
             `gt mail inbox --unread`.",
            newest.from
        ),
    }
}

/// A subject as one short line: control characters dropped, cut at 120 characters (the text
/// is typed into the agent's prompt, where a newline would submit it early).
fn one_line(subject: &str) -> String {
    const CHARS: usize = 120;
    let line: String = subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let line = line.trim();
    if line.chars().count() <= CHARS {
        line.to_owned()
    } else {
        line.chars().take(CHARS).chain(['…']).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: i64, from: &str, subject: &str) -> beads::Message {
        beads::Message {
            id,
            from: from.into(),
            to: Vec::new(),
            cc: Vec::new(),
            subject: subject.into(),
            body: String::new(),
            priority: 2,
            msg_type: beads::MessageType::Notification,
            thread_id: id,
            reply_to: None,
            ephemeral: false,
            created_at: String::new(),
        }
    }

    #[test]
    fn the_reminder_names_the_newest_and_how_many() {
        assert_eq!(
            text(1, &message(7, "mayor/", "Look at bd-3")),
            "📬 You have 1 unread message: msg-7 from mayor/: Look at bd-3. Run `gt mail read msg-7`."
        );
        assert_eq!(
            text(2, &message(9, "gastown/refinery", "FIX_NEEDED")),
            "📬 You have 2 unread messages; the newest is msg-9 from gastown/refinery: \
             FIX_NEEDED. Run `gt mail inbox --unread`."
        );
    }

    #[test]
    fn hostile_subjects_stay_one_short_line() {
        let out = text(1, &message(1, "mayor/", "line one\nline two\r\u{1b}[2J"));
        assert!(!out.contains(['\n', '\r', '\u{1b}']), "{out:?}");
        let long = "x".repeat(500);
        let out = text(1, &message(1, "mayor/", &long));
        assert!(out.contains(&format!("{}…", "x".repeat(120))), "{out}");
        assert!(!out.contains(&"x".repeat(121)));
    }
}
