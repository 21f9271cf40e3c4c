//! How `gt mail` prints: tables and message blocks for people (every stored text made
//! terminal-safe), the values themselves with `--json`.

use beads::ops::mail::{
    PRIORITY_HIGH, PRIORITY_NORMAL, PRIORITY_URGENT, message_label, priority_word,
};
use beads::{MailItem, Message, MessageType};
use serde_json::json;
use town::mail::Sent;
use ui::text::{safe, safe_lines};

use crate::commands::table;

pub fn sent(ui: &mut ui::Ui, sent: &Sent) -> anyhow::Result<()> {
    if ui.is_json() {
        ui.json(sent)?;
        return Ok(());
    }
    let kept = if sent.message.ephemeral {
        " (ephemeral)"
    } else {
        ""
    };
    ui.line(format!(
        "Sent {} to {}{kept}",
        message_label(sent.message.id),
        sent.mailboxes.join(", ")
    ))?;
    for n in &sent.notified {
        let what = if n.outcome == town::mail::notify::Outcome::Queued {
            "told at its next turn (a nudge is queued)".to_owned()
        } else {
            format!("not told: {}", n.outcome)
        };
        ui.line(format!("  {}: {what}", n.mailbox))?;
    }
    Ok(())
}

/// `2026-01-15T12:00:00.000000Z` → `2026-01-15 12:00`.
fn when(ts: &str) -> String {
    match (ts.get(..10), ts.get(11..16)) {
        (Some(day), Some(time)) => format!("{day} {time}"),
        _ => safe(ts),
    }
}

/// `[urgent] ` for priorities other than normal.
fn priority_tag(priority: i64) -> String {
    if priority == PRIORITY_NORMAL {
        String::new()
    } else {
        format!("[{}] ", priority_word(priority))
    }
}

pub fn list(ui: &mut ui::Ui, mailbox: &str, items: &[MailItem], empty: &str) -> anyhow::Result<()> {
    if ui.is_json() {
        ui.json(&json!({ "mailbox": mailbox, "messages": items }))?;
        return Ok(());
    }
    if items.is_empty() {
        ui.status(format!("{empty} in `{mailbox}`"));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            let m = &i.message;
            let mut subject = format!("{}{}", priority_tag(m.priority), safe(&m.subject));
            if i.mailbox != mailbox {
                subject.push_str(&format!("  (claimed from {})", i.mailbox));
            } else if let Some(by) = &i.claimed_by {
                subject.push_str(&format!("  (claimed by {by})"));
            }
            vec![
                if i.read { " " } else { "●" }.to_owned(),
                message_label(m.id),
                when(&m.created_at),
                m.from.clone(),
                subject,
            ]
        })
        .collect();
    table(ui, &rows)?;
    Ok(())
}

/// A message's header lines (`From:`, `To:`, …) and its body.
fn block(m: &Message) -> Vec<String> {
    let mut lines = vec![format!("From:     {}", m.from)];
    if !m.to.is_empty() {
        lines.push(format!("To:       {}", m.to.join(", ")));
    }
    if !m.cc.is_empty() {
        lines.push(format!("Cc:       {}", m.cc.join(", ")));
    }
    lines.push(format!("Date:     {}", when(&m.created_at)));
    if m.priority != PRIORITY_NORMAL {
        lines.push(format!("Priority: {}", priority_word(m.priority)));
    }
    if m.msg_type != MessageType::Notification {
        lines.push(format!("Type:     {}", m.msg_type));
    }
    if m.thread_id != m.id {
        lines.push(format!("Thread:   {}", message_label(m.thread_id)));
    }
    if let Some(parent) = m.reply_to {
        lines.push(format!("Reply to: {}", message_label(parent)));
    }
    if m.ephemeral {
        lines.push("Kept:     until archived or a day old (protocol mail)".to_owned());
    }
    lines.push(format!("Subject:  {}", safe(&m.subject)));
    if !m.body.is_empty() {
        lines.push(String::new());
        lines.push(safe_lines(m.body.trim_end_matches('\n')));
    }
    lines
}

pub fn message(ui: &mut ui::Ui, item: &MailItem) -> anyhow::Result<()> {
    if ui.is_json() {
        ui.json(item)?;
        return Ok(());
    }
    ui.line(message_label(item.message.id))?;
    for line in block(&item.message) {
        ui.line(line)?;
    }
    Ok(())
}

pub fn thread(ui: &mut ui::Ui, thread: &[Message]) -> anyhow::Result<()> {
    if ui.is_json() {
        ui.json(&json!({ "messages": thread }))?;
        return Ok(());
    }
    for (i, m) in thread.iter().enumerate() {
        if i > 0 {
            ui.line("")?;
        }
        ui.line(format!("── {} ──", message_label(m.id)))?;
        for line in block(m) {
            ui.line(line)?;
        }
    }
    Ok(())
}

pub fn changed(ui: &mut ui::Ui, what: &str, ids: &[i64]) -> anyhow::Result<()> {
    let labels: Vec<String> = ids.iter().map(|id| message_label(*id)).collect();
    if ui.is_json() {
        ui.json(&json!({ "ids": labels, "now": what }))?;
    } else {
        ui.line(format!("Marked {} {what}", labels.join(", ")))?;
    }
    Ok(())
}

pub fn claimed(ui: &mut ui::Ui, item: &MailItem, claimed: bool) -> anyhow::Result<()> {
    if ui.is_json() {
        ui.json(item)?;
    } else if claimed {
        ui.line(format!(
            "Claimed {} from {}: {}",
            message_label(item.message.id),
            item.mailbox,
            safe(&item.message.subject)
        ))?;
    } else {
        ui.line(format!(
            "Released {} back to {}",
            message_label(item.message.id),
            item.mailbox
        ))?;
    }
    Ok(())
}

pub fn check(ui: &mut ui::Ui, mailbox: &str, unread: &[MailItem]) -> anyhow::Result<()> {
    let count = |p: i64| unread.iter().filter(|i| i.message.priority == p).count();
    let (urgent, high) = (count(PRIORITY_URGENT), count(PRIORITY_HIGH));
    if ui.is_json() {
        ui.json(&json!({
            "mailbox": mailbox,
            "unread": unread.len(),
            "urgent": urgent,
            "high": high,
        }))?;
    } else if unread.is_empty() {
        ui.line(format!("No unread mail in `{mailbox}`"))?;
    } else {
        let mut tiers = Vec::new();
        if urgent > 0 {
            tiers.push(format!("{urgent} urgent"));
        }
        if high > 0 {
            tiers.push(format!("{high} high"));
        }
        let tiers = if tiers.is_empty() {
            String::new()
        } else {
            format!(" ({})", tiers.join(", "))
        };
        let n = unread.len();
        let noun = if n == 1 { "message" } else { "messages" };
        ui.line(format!("{n} unread {noun} in `{mailbox}`{tiers}"))?;
    }
    Ok(())
}
