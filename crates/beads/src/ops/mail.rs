//! Mail: messages and their deliveries, as typed rows (see the schema's V7).
//!
//! The store knows mailboxes only as strings (the town's canonical addresses, `queue:<name>`
//! for a queue); which addresses exist and what a list or broadcast expands to is the town's
//! business. Here: sending (the message and every delivery in one transaction, committed
//! before the caller notifies anybody), reading a mailbox by index, per-recipient state
//! changes, queue claims as compare-and-set, threads, search and garbage collection.
//!
//! A message is *in* a mailbox when the mailbox has a delivery row for it that is not
//! deleted, or when the mailbox claimed it from a queue. Every change a recipient makes is to
//! that one row; changes to several messages are one transaction, all or none.

use rusqlite::{Connection, OptionalExtension, Row};
use serde::{Serialize, Serializer};

use crate::error::{Error, Result};
pub use crate::state::{DeliveryRole, MailState, MessageType};
use crate::store::Store;

/// Upstream's priorities: 0 urgent, 1 high, 2 normal (the default), 3 low, 4 backlog.
pub const PRIORITY_URGENT: i64 = 0;
pub const PRIORITY_HIGH: i64 = 1;
pub const PRIORITY_NORMAL: i64 = 2;
pub const PRIORITY_LOW: i64 = 3;
pub const PRIORITY_BACKLOG: i64 = 4;

/// The word for a priority (`urgent`, `high`, `normal`, `low`, `backlog`).
pub fn priority_word(priority: i64) -> &'static str {
    match priority {
        PRIORITY_URGENT => "urgent",
        PRIORITY_HIGH => "high",
        PRIORITY_NORMAL => "normal",
        PRIORITY_LOW => "low",
        _ => "backlog",
    }
}

/// Parses a priority: `0`–`4` or its word.
pub fn parse_priority(s: &str) -> Result<i64> {
    let t = s.trim();
    (PRIORITY_URGENT..=PRIORITY_BACKLOG)
        .find(|p| t == p.to_string() || t.eq_ignore_ascii_case(priority_word(*p)))
        .ok_or_else(|| {
            Error::invalid(
                "priority",
                format!("`{s}` is not 0-4 or urgent, high, normal, low, backlog"),
            )
        })
}

/// The printed id of a message (`msg-12`).
pub fn message_label(id: i64) -> String {
    format!("msg-{id}")
}

/// Parses `msg-12` or `12`.
pub fn parse_message_id(s: &str) -> Result<i64> {
    let t = s.trim();
    t.strip_prefix("msg-")
        .unwrap_or(t)
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| Error::invalid("message id", format!("`{s}` is not a message id (msg-12)")))
}

fn ser_label<S: Serializer>(id: &i64, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&message_label(*id))
}

fn ser_opt_label<S: Serializer>(id: &Option<i64>, s: S) -> std::result::Result<S::Ok, S::Error> {
    match id {
        Some(id) => s.serialize_str(&message_label(*id)),
        None => s.serialize_none(),
    }
}

/// A message as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    #[serde(serialize_with = "ser_label")]
    pub id: i64,
    pub from: String,
    /// The addresses as the sender wrote them, canonical (`list:oncall`, `@town`, …).
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub body: String,
    pub priority: i64,
    #[serde(rename = "type")]
    pub msg_type: MessageType,
    #[serde(serialize_with = "ser_label")]
    pub thread_id: i64,
    #[serde(serialize_with = "ser_opt_label")]
    pub reply_to: Option<i64>,
    pub ephemeral: bool,
    pub created_at: String,
}

/// A message as one mailbox holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailItem {
    #[serde(flatten)]
    pub message: Message,
    /// The mailbox whose row this is (a queue, for a claimed queue message).
    pub mailbox: String,
    pub role: DeliveryRole,
    pub state: MailState,
    pub read: bool,
    pub read_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claimed_at: Option<String>,
}

/// What to send. The caller has resolved and checked every address.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub from: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub body: String,
    pub priority: i64,
    pub msg_type: MessageType,
    /// The message answered: the new one joins its thread.
    pub reply_to: Option<i64>,
    pub ephemeral: bool,
}

/// Which of a mailbox's messages a listing wants.
#[derive(Debug, Clone, Copy)]
pub struct InboxQuery {
    /// Only unread ones.
    pub unread_only: bool,
    /// Archived ones too.
    pub include_archived: bool,
    /// At most this many (0: all).
    pub limit: usize,
}

impl InboxQuery {
    /// Every unread message, archived ones left out (what a session's reminder lists).
    pub fn unread() -> Self {
        Self {
            unread_only: true,
            include_archived: false,
            limit: 0,
        }
    }
}

const ITEM_COLUMNS: &str = "m.id, m.sender, m.recipients, m.cc, m.subject, m.body, m.priority, \
    m.msg_type, m.thread_id, m.reply_to, m.ephemeral, m.created_at, d.mailbox, d.role, d.state, \
    d.read_at, d.claimed_by, d.claimed_at";

const MESSAGE_COLUMNS: &str = "m.id, m.sender, m.recipients, m.cc, m.subject, m.body, \
    m.priority, m.msg_type, m.thread_id, m.reply_to, m.ephemeral, m.created_at";

fn json_list(r: &Row<'_>, i: usize) -> rusqlite::Result<Vec<String>> {
    let text: String = r.get(i)?;
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn message_from_row(r: &Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        id: r.get(0)?,
        from: r.get(1)?,
        to: json_list(r, 2)?,
        cc: json_list(r, 3)?,
        subject: r.get(4)?,
        body: r.get(5)?,
        priority: r.get(6)?,
        msg_type: r.get(7)?,
        thread_id: r.get(8)?,
        reply_to: r.get(9)?,
        ephemeral: r.get(10)?,
        created_at: r.get(11)?,
    })
}

fn item_from_row(r: &Row<'_>) -> rusqlite::Result<MailItem> {
    let read_at: Option<String> = r.get(15)?;
    Ok(MailItem {
        message: message_from_row(r)?,
        mailbox: r.get(12)?,
        role: r.get(13)?,
        state: r.get(14)?,
        read: read_at.is_some(),
        read_at,
        claimed_by: r.get(16)?,
        claimed_at: r.get(17)?,
    })
}

/// The mailbox of the row through which `mailbox` holds message `id`: its own delivery (not
/// deleted), else a queue delivery it claimed.
fn holding_row(conn: &Connection, mailbox: &str, id: i64) -> Result<String> {
    let own = conn
        .prepare_cached(
            "SELECT mailbox FROM mail_deliveries WHERE mailbox = ?1 AND message_id = ?2 AND state != 'deleted'",
        )?
        .query_row(rusqlite::params![mailbox, id], |r| r.get(0))
        .optional()?;
    if let Some(row) = own {
        return Ok(row);
    }
    let claimed = conn
        .prepare_cached(
            "SELECT mailbox FROM mail_deliveries WHERE message_id = ?2 AND claimed_by = ?1 AND state != 'deleted'",
        )?
        .query_row(rusqlite::params![mailbox, id], |r| r.get(0))
        .optional()?;
    claimed.ok_or_else(|| Error::NoMessage {
        id: message_label(id),
        mailbox: mailbox.to_owned(),
    })
}

fn item(conn: &Connection, row_mailbox: &str, id: i64) -> Result<MailItem> {
    let sql = format!(
        "SELECT {ITEM_COLUMNS} FROM mail_deliveries d CROSS JOIN mail_messages m ON m.id = d.message_id
         WHERE d.mailbox = ?1 AND d.message_id = ?2"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(rusqlite::params![row_mailbox, id], item_from_row)?)
}

fn collect<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    f: fn(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params, f)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// SQL's `LIMIT` for a listing limit (0: no limit).
fn sql_limit(limit: usize) -> i64 {
    if limit == 0 {
        -1
    } else {
        i64::try_from(limit).unwrap_or(i64::MAX)
    }
}

/// Whether `mailbox`'s delivery of message `id` is unread.
fn is_unread(tx: &Connection, mailbox: &str, id: i64) -> Result<bool> {
    Ok(tx
        .prepare_cached(
            "SELECT read_at IS NULL FROM mail_deliveries WHERE mailbox = ?1 AND message_id = ?2",
        )?
        .query_row(rusqlite::params![mailbox, id], |r| r.get(0))
        .optional()?
        .unwrap_or(false))
}

/// The town's event stream sees a message's first reading in the read's own transaction.
fn read_event(
    tx: &Connection,
    w: &crate::store::WriteCtx<'_>,
    mailbox: &str,
    id: i64,
) -> Result<()> {
    let detail = serde_json::json!({ "id": id, "mailbox": mailbox });
    crate::ops::event(
        tx,
        w,
        &format!("mail:{id}"),
        crate::ops::happenings::MAIL_READ,
        None,
        Some(&detail.to_string()),
        None,
    )
}

impl Store {
    /// Sends a message: the message row and one delivery per `(mailbox, role)`, in one
    /// transaction. A mailbox named twice gets one delivery, the first role given (so list
    /// `to` before `cc`). Fails, writing nothing, when `reply_to` names no message or there is
    /// no delivery at all.
    pub fn send_mail(
        &mut self,
        new: &NewMessage,
        deliveries: &[(String, DeliveryRole)],
    ) -> Result<Message> {
        if new.subject.trim().is_empty() {
            return Err(Error::invalid("subject", "a message needs a subject"));
        }
        if deliveries.is_empty() {
            return Err(Error::invalid("recipients", "a message needs a recipient"));
        }
        if !(PRIORITY_URGENT..=PRIORITY_BACKLOG).contains(&new.priority) {
            return Err(Error::invalid(
                "priority",
                format!("{} is not 0-4", new.priority),
            ));
        }
        let to = serde_json::to_string(&new.to).expect("strings serialize");
        let cc = serde_json::to_string(&new.cc).expect("strings serialize");
        self.write(|tx, w| {
            let thread = match new.reply_to {
                None => None,
                Some(parent) => Some(
                    tx.prepare_cached("SELECT thread_id FROM mail_messages WHERE id = ?1")?
                        .query_row([parent], |r| r.get::<_, i64>(0))
                        .optional()?
                        .ok_or_else(|| {
                            Error::invalid(
                                "reply-to",
                                format!("no message `{}` to reply to", message_label(parent)),
                            )
                        })?,
                ),
            };
            tx.prepare_cached(
                "INSERT INTO mail_messages (sender, recipients, cc, subject, body, priority, msg_type,
                    thread_id, reply_to, ephemeral, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, coalesce(?8, 0), ?9, ?10, ?11)",
            )?
            .execute(rusqlite::params![
                new.from, to, cc, new.subject, new.body, new.priority, new.msg_type,
                thread, new.reply_to, new.ephemeral, w.now
            ])?;
            let id = tx.last_insert_rowid();
            if thread.is_none() {
                // A new message starts its own thread.
                tx.prepare_cached("UPDATE mail_messages SET thread_id = id WHERE id = ?1")?
                    .execute([id])?;
            }
            let mut insert = tx.prepare_cached(
                "INSERT INTO mail_deliveries (mailbox, message_id, role, updated_at)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            )?;
            for (mailbox, role) in deliveries {
                insert.execute(rusqlite::params![mailbox, id, role, w.now])?;
            }
            // The town's event stream sees the send in the send's own transaction.
            let detail = serde_json::json!({
                "id": id,
                "from": new.from,
                "to": new.to,
                "subject": new.subject,
                "priority": new.priority,
            });
            crate::ops::event(
                tx,
                w,
                &format!("mail:{id}"),
                crate::ops::happenings::MAIL_SENT,
                None,
                Some(&detail.to_string()),
                None,
            )?;
            let sql = format!("SELECT {MESSAGE_COLUMNS} FROM mail_messages m WHERE m.id = ?1");
            Ok(tx.prepare_cached(&sql)?.query_row([id], message_from_row)?)
        })
    }

    /// A mailbox's messages, newest first: its own deliveries in the inbox (one range of
    /// `idx_mail_inbox`, or `idx_mail_unread`), and the queue messages it claimed.
    pub fn mail_inbox(&self, mailbox: &str, q: &InboxQuery) -> Result<Vec<MailItem>> {
        let states = if q.include_archived {
            "d.state IN ('inbox', 'archived')"
        } else {
            "d.state = 'inbox'"
        };
        let unread = if q.unread_only {
            " AND d.read_at IS NULL"
        } else {
            ""
        };
        let limit = sql_limit(q.limit);
        let own = format!(
            "SELECT {ITEM_COLUMNS} FROM mail_deliveries d CROSS JOIN mail_messages m ON m.id = d.message_id
             WHERE d.mailbox = ?1 AND {states}{unread} ORDER BY d.message_id DESC LIMIT ?2"
        );
        let claimed = format!(
            "SELECT {ITEM_COLUMNS} FROM mail_deliveries d CROSS JOIN mail_messages m ON m.id = d.message_id
             WHERE d.claimed_by = ?1 AND {states}{unread} ORDER BY d.message_id DESC LIMIT ?2"
        );
        let conn = self.conn();
        let mut items = collect(conn, &own, rusqlite::params![mailbox, limit], item_from_row)?;
        let theirs = collect(
            conn,
            &claimed,
            rusqlite::params![mailbox, limit],
            item_from_row,
        )?;
        if !theirs.is_empty() {
            items.extend(theirs);
            items.sort_by_key(|i| std::cmp::Reverse(i.message.id));
            if q.limit > 0 {
                items.truncate(q.limit);
            }
        }
        Ok(items)
    }

    /// One message of a mailbox ([`Error::NoMessage`] when it is not there).
    pub fn mail_item(&self, mailbox: &str, id: i64) -> Result<MailItem> {
        let row = holding_row(self.conn(), mailbox, id)?;
        item(self.conn(), &row, id)
    }

    /// Marks messages of a mailbox read or unread: all of them, or none when one is not there.
    pub fn mail_mark_read(&mut self, mailbox: &str, ids: &[i64], read: bool) -> Result<()> {
        self.write(|tx, w| {
            for &id in ids {
                let row = holding_row(tx, mailbox, id)?;
                let unread = read && is_unread(tx, &row, id)?;
                tx.prepare_cached(
                    "UPDATE mail_deliveries SET read_at = CASE WHEN ?3 THEN coalesce(read_at, ?4) END,
                        updated_at = ?4
                     WHERE mailbox = ?1 AND message_id = ?2",
                )?
                .execute(rusqlite::params![row, id, read, w.now])?;
                if unread {
                    read_event(tx, w, mailbox, id)?;
                }
            }
            Ok(())
        })
    }

    /// Reads a message and marks it read, in one transaction.
    pub fn mail_read(&mut self, mailbox: &str, id: i64) -> Result<MailItem> {
        self.write(|tx, w| {
            let row = holding_row(tx, mailbox, id)?;
            let first = tx
                .prepare_cached(
                    "UPDATE mail_deliveries SET read_at = ?3, updated_at = ?3
                     WHERE mailbox = ?1 AND message_id = ?2 AND read_at IS NULL",
                )?
                .execute(rusqlite::params![row, id, w.now])?;
            if first > 0 {
                read_event(tx, w, mailbox, id)?;
            }
            item(tx, &row, id)
        })
    }

    /// Moves messages of a mailbox to `state` (archive, delete, or back to the inbox): all of
    /// them, or none when one is not there. Archiving or deleting marks them read.
    pub fn mail_set_state(&mut self, mailbox: &str, ids: &[i64], state: MailState) -> Result<()> {
        self.write(|tx, w| {
            for &id in ids {
                let row = holding_row(tx, mailbox, id)?;
                tx.prepare_cached(
                    "UPDATE mail_deliveries SET state = ?3, updated_at = ?4,
                        read_at = CASE WHEN ?3 = 'inbox' THEN read_at ELSE coalesce(read_at, ?4) END
                     WHERE mailbox = ?1 AND message_id = ?2",
                )?
                .execute(rusqlite::params![row, id, state, w.now])?;
            }
            Ok(())
        })
    }

    /// Claims a queue message for `claimer`: a compare-and-set on its one delivery, so of two
    /// racing claimers exactly one wins; the other gets [`Error::AlreadyClaimed`].
    pub fn mail_claim(&mut self, claimer: &str, id: i64) -> Result<MailItem> {
        self.write(|tx, w| claim_in_tx(tx, claimer, id, w.now))
    }

    /// Claims the oldest unclaimed message of `queue` for `claimer`.
    pub fn mail_claim_next(&mut self, claimer: &str, queue: &str) -> Result<MailItem> {
        self.write(|tx, w| {
            let next: Option<i64> = tx
                .prepare_cached(
                    "SELECT message_id FROM mail_deliveries
                     WHERE mailbox = ?1 AND state = 'inbox' AND claimed_by IS NULL
                     ORDER BY message_id LIMIT 1",
                )?
                .query_row([queue], |r| r.get(0))
                .optional()?;
            let id = next.ok_or_else(|| {
                Error::Conflict(format!("the queue `{queue}` has no unclaimed message"))
            })?;
            claim_in_tx(tx, claimer, id, w.now)
        })
    }

    /// Gives a claimed queue message back to its queue: only its claimant may.
    pub fn mail_release(&mut self, claimer: &str, id: i64) -> Result<MailItem> {
        self.write(|tx, w| {
            let n = tx
                .prepare_cached(
                    "UPDATE mail_deliveries SET claimed_by = NULL, claimed_at = NULL, updated_at = ?3
                     WHERE message_id = ?1 AND role = 'queue' AND claimed_by = ?2 AND state != 'deleted'",
                )?
                .execute(rusqlite::params![id, claimer, w.now])?;
            let row = queue_row(tx, id)?;
            if n == 0 {
                return Err(match row.claimed_by {
                    Some(by) => Error::Conflict(format!(
                        "`{}` is claimed by `{by}`, not `{claimer}`: only its claimant can release it",
                        message_label(id)
                    )),
                    None => Error::Conflict(format!(
                        "`{}` is not claimed: nothing to release",
                        message_label(id)
                    )),
                });
            }
            item(tx, &row.mailbox, id)
        })
    }

    /// The messages of the thread `id` belongs to that `mailbox` received or sent, oldest
    /// first. `id` must be in the mailbox.
    pub fn mail_thread(&self, mailbox: &str, id: i64) -> Result<Vec<Message>> {
        let held = self.mail_item(mailbox, id)?;
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM mail_messages m WHERE m.thread_id = ?1
               AND (m.sender = ?2 OR EXISTS (SELECT 1 FROM mail_deliveries d
                    WHERE d.message_id = m.id AND d.state != 'deleted'
                      AND (d.mailbox = ?2 OR d.claimed_by = ?2)))
             ORDER BY m.id"
        );
        collect(
            self.conn(),
            &sql,
            rusqlite::params![held.message.thread_id, mailbox],
            message_from_row,
        )
    }

    /// A mailbox's messages (inbox, and archived ones if asked) whose subject, body or sender
    /// contains `text` (case-insensitive for ASCII), newest first.
    pub fn mail_search(
        &self,
        mailbox: &str,
        text: &str,
        include_archived: bool,
        limit: usize,
    ) -> Result<Vec<MailItem>> {
        let states = if include_archived {
            "d.state IN ('inbox', 'archived')"
        } else {
            "d.state = 'inbox'"
        };
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM mail_deliveries d CROSS JOIN mail_messages m ON m.id = d.message_id
             WHERE (d.mailbox = ?1 OR d.claimed_by = ?1) AND {states}
               AND (instr(lower(m.subject), lower(?2)) OR instr(lower(m.body), lower(?2))
                    OR instr(lower(m.sender), lower(?2)))
             ORDER BY d.message_id DESC LIMIT ?3"
        );
        collect(
            self.conn(),
            &sql,
            rusqlite::params![mailbox, text, sql_limit(limit)],
            item_from_row,
        )
    }

    /// Deletes protocol (ephemeral) mail that no recipient still has in its inbox, or that was
    /// sent before `cutoff` (a stored timestamp). Human mail is never touched. Returns the ids.
    pub fn mail_gc(&mut self, cutoff: &str) -> Result<Vec<i64>> {
        self.write(|tx, _| {
            let sql = "DELETE FROM mail_messages WHERE ephemeral = 1 AND (created_at < ?1
                         OR NOT EXISTS (SELECT 1 FROM mail_deliveries d
                                        WHERE d.message_id = mail_messages.id AND d.state = 'inbox'))
                       RETURNING id";
            let mut ids = collect(tx, sql, [cutoff], |r| r.get(0))?;
            ids.sort_unstable();
            Ok(ids)
        })
    }
}

/// A queue message's one delivery.
struct QueueRow {
    mailbox: String,
    claimed_by: Option<String>,
}

fn queue_row(conn: &Connection, id: i64) -> Result<QueueRow> {
    conn.prepare_cached(
        "SELECT mailbox, claimed_by FROM mail_deliveries
         WHERE message_id = ?1 AND role = 'queue' AND state != 'deleted'",
    )?
    .query_row([id], |r| {
        Ok(QueueRow {
            mailbox: r.get(0)?,
            claimed_by: r.get(1)?,
        })
    })
    .optional()?
    .ok_or_else(|| {
        Error::Conflict(format!(
            "`{}` is not a message in a queue: only queue messages are claimed",
            message_label(id)
        ))
    })
}

fn claim_in_tx(tx: &Connection, claimer: &str, id: i64, now: &str) -> Result<MailItem> {
    let n = tx
        .prepare_cached(
            "UPDATE mail_deliveries SET claimed_by = ?2, claimed_at = ?3, updated_at = ?3
             WHERE message_id = ?1 AND role = 'queue' AND state = 'inbox' AND claimed_by IS NULL",
        )?
        .execute(rusqlite::params![id, claimer, now])?;
    let row = queue_row(tx, id)?;
    if n == 0 {
        return Err(match row.claimed_by {
            Some(by) => Error::AlreadyClaimed {
                id: message_label(id),
                by,
            },
            None => Error::Conflict(format!(
                "`{}` was archived from its queue: it cannot be claimed",
                message_label(id)
            )),
        });
    }
    item(tx, &row.mailbox, id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Context;

    fn store_at(dir: &std::path::Path, now: &str) -> Store {
        let ctx = Context {
            actor: "tester".into(),
            clock: Box::new(host::clock::FixedClock(now.parse().unwrap())),
        };
        let beads = dir.join(".beads");
        if beads.join("beads.db").exists() {
            Store::open(&beads, ctx).unwrap()
        } else {
            Store::init(&beads, "hq", ctx).unwrap()
        }
    }

    fn msg(from: &str, subject: &str) -> NewMessage {
        NewMessage {
            from: from.into(),
            to: vec!["mayor/".into()],
            cc: vec![],
            subject: subject.into(),
            body: "body".into(),
            priority: PRIORITY_NORMAL,
            msg_type: MessageType::Notification,
            reply_to: None,
            ephemeral: false,
        }
    }

    fn to(mailbox: &str) -> Vec<(String, DeliveryRole)> {
        vec![(mailbox.to_owned(), DeliveryRole::To)]
    }

    const ALL: InboxQuery = InboxQuery {
        unread_only: false,
        include_archived: false,
        limit: 0,
    };

    #[test]
    fn a_first_reading_is_an_event_in_the_reads_transaction_and_a_second_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store_at(dir.path(), "2026-01-15T12:00:00Z");
        let a = s.send_mail(&msg("overseer", "a"), &to("mayor/")).unwrap();
        let b = s.send_mail(&msg("overseer", "b"), &to("mayor/")).unwrap();
        let start = s.last_event_id().unwrap();
        s.mail_read("mayor/", a.id).unwrap();
        s.mail_read("mayor/", a.id).unwrap();
        s.mail_mark_read("mayor/", &[a.id, b.id], true).unwrap();
        s.mail_mark_read("mayor/", &[b.id], false).unwrap();
        s.mail_mark_read("mayor/", &[b.id], true).unwrap();
        let reads: Vec<(String, String)> = s
            .events_after(start, 100)
            .unwrap()
            .into_iter()
            .map(|e| (e.issue_id, e.new_value.unwrap_or_default()))
            .collect();
        let detail = |id: i64| format!(r#"{{"id":{id},"mailbox":"mayor/"}}"#);
        assert_eq!(
            reads,
            [
                (format!("mail:{}", a.id), detail(a.id)),
                (format!("mail:{}", b.id), detail(b.id)),
                (format!("mail:{}", b.id), detail(b.id)),
            ],
            "once per reading, again after being marked unread"
        );
        let e = s.mail_read("mayor/", 999).unwrap_err();
        assert!(matches!(e, Error::NoMessage { .. }), "{e}");
        assert_eq!(s.events_after(start, 100).unwrap().len(), 3);
    }

    #[test]
    fn sent_mail_lands_in_each_mailbox_once_and_threads_follow_replies() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store_at(dir.path(), "2026-01-15T12:00:00Z");
        let first = s
            .send_mail(
                &msg("overseer", "hello"),
                &[
                    ("mayor/".into(), DeliveryRole::To),
                    ("deacon/".into(), DeliveryRole::Cc),
                    ("mayor/".into(), DeliveryRole::Cc),
                ],
            )
            .unwrap();
        assert_eq!(first.thread_id, first.id);
        let mayor = s.mail_inbox("mayor/", &ALL).unwrap();
        assert_eq!(mayor.len(), 1);
        assert_eq!(mayor[0].role, DeliveryRole::To, "the first role given wins");
        assert_eq!(
            s.mail_inbox("deacon/", &ALL).unwrap()[0].role,
            DeliveryRole::Cc
        );

        let reply = s
            .send_mail(
                &NewMessage {
                    from: "mayor/".into(),
                    reply_to: Some(first.id),
                    msg_type: MessageType::Reply,
                    ..msg("mayor/", "Re: hello")
                },
                &to("overseer"),
            )
            .unwrap();
        assert_eq!(reply.thread_id, first.id);
        let thread = s.mail_thread("overseer", reply.id).unwrap();
        assert_eq!(
            thread.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![first.id, reply.id],
            "the overseer sent the first and received the reply"
        );
        // The deacon was copied on the first only.
        assert_eq!(s.mail_thread("deacon/", first.id).unwrap().len(), 1);

        let err = s
            .send_mail(
                &NewMessage {
                    reply_to: Some(999),
                    ..msg("mayor/", "x")
                },
                &to("overseer"),
            )
            .unwrap_err();
        assert!(err.to_string().contains("msg-999"), "{err}");
    }

    #[test]
    fn state_changes_are_all_or_none_and_only_in_ones_own_mailbox() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store_at(dir.path(), "2026-01-15T12:00:00Z");
        let a = s
            .send_mail(&msg("overseer", "a"), &to("mayor/"))
            .unwrap()
            .id;
        let b = s
            .send_mail(&msg("overseer", "b"), &to("deacon/"))
            .unwrap()
            .id;
        let err = s
            .mail_set_state("mayor/", &[a, b], MailState::Archived)
            .unwrap_err();
        assert!(matches!(err, Error::NoMessage { .. }), "{err}");
        assert_eq!(s.mail_item("mayor/", a).unwrap().state, MailState::Inbox);

        let read = s.mail_read("mayor/", a).unwrap();
        assert!(read.read);
        s.mail_mark_read("mayor/", &[a], false).unwrap();
        assert!(!s.mail_item("mayor/", a).unwrap().read);
        let unread = InboxQuery {
            unread_only: true,
            ..ALL
        };
        assert_eq!(s.mail_inbox("mayor/", &unread).unwrap().len(), 1);

        s.mail_set_state("mayor/", &[a], MailState::Archived)
            .unwrap();
        assert!(s.mail_inbox("mayor/", &ALL).unwrap().is_empty());
        let archived = InboxQuery {
            include_archived: true,
            ..ALL
        };
        assert_eq!(s.mail_inbox("mayor/", &archived).unwrap().len(), 1);
        s.mail_set_state("mayor/", &[a], MailState::Deleted)
            .unwrap();
        assert!(matches!(
            s.mail_item("mayor/", a),
            Err(Error::NoMessage { .. })
        ));
    }

    #[test]
    fn a_queue_message_has_one_claimant_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store_at(dir.path(), "2026-01-15T12:00:00Z");
        let id = s
            .send_mail(
                &msg("overseer", "triage me"),
                &[("queue:triage".into(), DeliveryRole::Queue)],
            )
            .unwrap()
            .id;
        let direct = s
            .send_mail(&msg("overseer", "direct"), &to("mayor/"))
            .unwrap()
            .id;
        assert!(matches!(
            s.mail_claim("gastown/crew/max", direct),
            Err(Error::Conflict(_))
        ));
        let claimed = s.mail_claim("gastown/crew/max", id).unwrap();
        assert_eq!(claimed.claimed_by.as_deref(), Some("gastown/crew/max"));
        match s.mail_claim("mayor/", id).unwrap_err() {
            Error::AlreadyClaimed { by, .. } => assert_eq!(by, "gastown/crew/max"),
            e => panic!("{e}"),
        }
        // The claimant holds it: it is in its inbox and it can read it.
        let inbox = s.mail_inbox("gastown/crew/max", &ALL).unwrap();
        assert_eq!(inbox.len(), 1);
        assert_eq!(inbox[0].mailbox, "queue:triage");
        assert!(matches!(
            s.mail_release("mayor/", id),
            Err(Error::Conflict(_))
        ));
        s.mail_release("gastown/crew/max", id).unwrap();
        assert!(s.mail_inbox("gastown/crew/max", &ALL).unwrap().is_empty());
        let next = s.mail_claim_next("mayor/", "queue:triage").unwrap();
        assert_eq!(next.message.id, id);
        assert!(matches!(
            s.mail_claim_next("mayor/", "queue:triage"),
            Err(Error::Conflict(_))
        ));
    }

    #[test]
    fn gc_collects_protocol_mail_that_is_done_or_old_and_keeps_human_mail() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store_at(dir.path(), "2026-01-15T12:00:00Z");
        let protocol = |subject: &str| NewMessage {
            ephemeral: true,
            ..msg("gastown/witness", subject)
        };
        let old = s
            .send_mail(&protocol("MERGED nux"), &to("mayor/"))
            .unwrap()
            .id;
        let human_old = s
            .send_mail(&msg("overseer", "keep me"), &to("mayor/"))
            .unwrap()
            .id;
        drop(s);
        let mut s = store_at(dir.path(), "2026-01-16T13:00:00Z");
        let archived = s
            .send_mail(&protocol("POLECAT_DONE nux"), &to("mayor/"))
            .unwrap()
            .id;
        let fresh = s
            .send_mail(&protocol("MERGED toast"), &to("mayor/"))
            .unwrap()
            .id;
        let human_archived = s
            .send_mail(&msg("overseer", "also keep"), &to("mayor/"))
            .unwrap()
            .id;
        s.mail_set_state("mayor/", &[archived, human_archived], MailState::Archived)
            .unwrap();
        let gone = s.mail_gc("2026-01-15T13:00:00.000000Z").unwrap();
        assert_eq!(gone, vec![old, archived]);
        let kept: Vec<i64> = s
            .mail_inbox(
                "mayor/",
                &InboxQuery {
                    include_archived: true,
                    ..ALL
                },
            )
            .unwrap()
            .iter()
            .map(|i| i.message.id)
            .collect();
        assert_eq!(kept, vec![human_archived, fresh, human_old]);
    }

    #[test]
    fn ids_and_priorities_parse_strictly() {
        assert_eq!(parse_message_id("msg-12").unwrap(), 12);
        assert_eq!(parse_message_id(" 7 ").unwrap(), 7);
        for bad in ["", "msg-", "msg--1", "msg-0", "hq-abc", "12x"] {
            assert!(parse_message_id(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_priority("urgent").unwrap(), 0);
        assert_eq!(parse_priority("HIGH").unwrap(), 1);
        assert_eq!(parse_priority("4").unwrap(), 4);
        assert!(parse_priority("5").is_err());
        assert!(parse_priority("-1").is_err());
    }
}
