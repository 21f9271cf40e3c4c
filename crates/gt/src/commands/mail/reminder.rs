//! What `gt mail check --inject` puts into an agent's context: upstream's reminder blocks,
//! one per priority tier present, most urgent first (wrapped for the agent's CLI by
//! `town::work::hookfmt`: `<system-reminder>` tags for Claude).
//!
//! - urgent (priority 0): requires immediate attention;
//! - high (priority 1): process before going idle;
//! - everything else: check after the current task.
//!
//! Each lists the unread messages of its tier (id, sender, subject, and the command that
//! reads it). Subjects are made terminal-safe and cut short: a reminder is context for a
//! model, and a hostile or huge subject must not become an instruction-sized block.

use beads::MailItem;
use beads::ops::mail::{PRIORITY_HIGH, PRIORITY_URGENT, message_label};

/// At most this many messages are listed per tier; the rest are counted.
pub const LISTED_PER_TIER: usize = 20;
/// Subjects longer than this many characters are cut, with `…`.
pub const SUBJECT_CHARS: usize = 120;

/// The reminder blocks for `unread` (newest first, as the inbox lists them), none when there
/// is nothing unread. `identity` is added to the read command when the caller acts as another
/// mailbox (`--identity`).
pub fn blocks(unread: &[MailItem], identity: Option<&str>) -> Vec<String> {
    let tier = |keep: fn(i64) -> bool| -> Vec<&MailItem> {
        unread.iter().filter(|m| keep(m.message.priority)).collect()
    };
    let tiers = [
        (
            tier(|p| p == PRIORITY_URGENT),
            "URGENT: {n} unread {messages} {require} immediate attention. Stop and read {them} now.",
        ),
        (
            tier(|p| p == PRIORITY_HIGH),
            "{n} high-priority unread {messages}: process {them} before going idle.",
        ),
        (
            tier(|p| p > PRIORITY_HIGH),
            "{n} unread {messages} in your inbox: check {them} after your current task.",
        ),
    ];
    let suffix = identity
        .map(|i| format!(" --identity {i}"))
        .unwrap_or_default();
    let mut blocks = Vec::new();
    for (items, headline) in tiers {
        if items.is_empty() {
            continue;
        }
        let n = items.len();
        let one = n == 1;
        let headline = headline
            .replace("{n}", &n.to_string())
            .replace("{messages}", if one { "message" } else { "messages" })
            .replace("{require}", if one { "requires" } else { "require" })
            .replace("{them}", if one { "it" } else { "them" });
        let mut out = headline;
        out.push_str("\n\n");
        for m in items.iter().take(LISTED_PER_TIER) {
            let id = message_label(m.message.id);
            out.push_str(&format!(
                "- {id} from {}: {} (read it: gt mail read {id}{suffix})\n",
                m.message.from,
                short(&m.message.subject)
            ));
        }
        if n > LISTED_PER_TIER {
            out.push_str(&format!(
                "- … and {} more (gt mail inbox --unread{suffix})\n",
                n - LISTED_PER_TIER
            ));
        }
        blocks.push(out);
    }
    blocks
}

fn short(subject: &str) -> String {
    let safe = ui::text::safe(subject);
    if safe.chars().count() <= SUBJECT_CHARS {
        safe
    } else {
        let mut cut: String = safe.chars().take(SUBJECT_CHARS).collect();
        cut.push('…');
        cut
    }
}
