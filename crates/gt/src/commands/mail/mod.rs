//! `gt mail …`: durable mail between the town's agents and the human.
//!
//! Every subcommand acts as one mailbox: `--identity <address>`, else the caller's own
//! (`GT_ROLE`, else `overseer`). Messages print as `msg-<n>`. `check --inject` is the session
//! hook: it never fails.

mod reminder;
mod render;

use std::io::{Read as _, Write as _};

use beads::ops::mail::{self as ops, PRIORITY_URGENT};
use beads::{InboxQuery, MailState, MessageType};
use clap::{Args, Subcommand};
use town::address::Address;
use town::mail::Outgoing;
use town::work::hookfmt::HookFormat;

/// `gt mail` and the mailbox it acts as.
#[derive(Debug, Args)]
pub struct MailArgs {
    /// Act as this mailbox (`mayor/`, `gastown/nux`, `queue:triage`, …) instead of your own
    /// (`GT_ROLE`, else `overseer`).
    #[arg(long, global = true, value_name = "ADDRESS")]
    pub identity: Option<String>,
    #[command(subcommand)]
    pub command: MailCommand,
}

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Send a message: `gt mail send <address>... -s <subject> -m <body>`.
    Send(SendArgs),
    /// List the messages in a mailbox, newest first.
    Inbox(InboxArgs),
    /// Show a message and mark it read.
    Read(OneArgs),
    /// Show a message without marking it read (the newest unread one if no id is given).
    Peek(PeekArgs),
    /// Answer a message: to its sender, in its thread.
    Reply(ReplyArgs),
    /// Show the thread a message belongs to, oldest first.
    Thread(OneArgs),
    /// Move messages out of the inbox (kept, shown by `inbox --all`).
    Archive(ManyArgs),
    /// Delete messages from the mailbox.
    Delete(ManyArgs),
    /// Mark messages read.
    MarkRead(ManyArgs),
    /// Mark messages unread.
    MarkUnread(ManyArgs),
    /// Find messages whose subject, body or sender contains a text.
    Search(SearchArgs),
    /// Take a queue message: `gt mail claim <msg-id>`, or the oldest of `queue:<name>`.
    Claim(ClaimArgs),
    /// Give a claimed queue message back to its queue.
    Release(OneArgs),
    /// Unread mail? Exit 1 if there is, 0 if not. `--inject` prints reminders for a session
    /// hook and always exits 0.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// Recipients: `mayor/`, `deacon/`, `overseer`, `<rig>/witness`, `<rig>/refinery`,
    /// `<rig>/<polecat>`, `<rig>/crew/<name>`, `list:<name>`, `queue:<name>`, `@town`,
    /// `@rig/<rig>`.
    #[arg(required = true, value_name = "ADDRESS")]
    pub to: Vec<String>,
    /// The subject.
    #[arg(short, long)]
    pub subject: String,
    /// The body.
    #[arg(short, long, conflicts_with = "stdin")]
    pub message: Option<String>,
    /// Read the body from standard input.
    #[arg(long)]
    pub stdin: bool,
    /// 0-4 or urgent, high, normal, low, backlog.
    #[arg(long, default_value = "normal", conflicts_with = "urgent")]
    pub priority: String,
    /// The same as `--priority urgent`.
    #[arg(long)]
    pub urgent: bool,
    /// task, scavenge, notification or reply.
    #[arg(long = "type", default_value = "notification")]
    pub msg_type: String,
    /// Copy to these addresses too (repeatable).
    #[arg(long, value_name = "ADDRESS")]
    pub cc: Vec<String>,
    /// The message this one answers (joins its thread).
    #[arg(long, value_name = "ID")]
    pub reply_to: Option<String>,
    /// Ephemeral: collected once archived or after a day (protocol subjects are by default).
    #[arg(long, alias = "wisp", conflicts_with = "permanent")]
    pub ephemeral: bool,
    /// Kept, even with a protocol subject.
    #[arg(long)]
    pub permanent: bool,
}

#[derive(Debug, Args)]
pub struct InboxArgs {
    /// The mailbox (the same as `--identity`).
    #[arg(value_name = "ADDRESS")]
    pub address: Option<String>,
    /// Only unread messages.
    #[arg(short, long, conflicts_with = "all")]
    pub unread: bool,
    /// Archived messages too.
    #[arg(short, long)]
    pub all: bool,
    /// At most this many (0: all).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct OneArgs {
    /// `msg-12` or `12`.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct PeekArgs {
    /// `msg-12` or `12` (default: the newest unread message).
    pub id: Option<String>,
}

#[derive(Debug, Args)]
pub struct ManyArgs {
    /// `msg-12` or `12`; several change together or not at all.
    #[arg(required = true)]
    pub ids: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ReplyArgs {
    pub id: String,
    /// The body.
    #[arg(short, long, conflicts_with = "stdin")]
    pub message: Option<String>,
    /// Read the body from standard input.
    #[arg(long)]
    pub stdin: bool,
    /// The subject (default: `Re: <subject>`).
    #[arg(short, long)]
    pub subject: Option<String>,
    /// 0-4 or urgent, high, normal, low, backlog (default: the original's).
    #[arg(long)]
    pub priority: Option<String>,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    pub text: String,
    /// Archived messages too.
    #[arg(short, long)]
    pub all: bool,
    /// At most this many (0: all).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct ClaimArgs {
    /// `msg-12`, or `queue:<name>` for its oldest unclaimed message.
    pub target: String,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Print `<system-reminder>` blocks for a session hook; never fails.
    #[arg(long)]
    pub inject: bool,
    /// With `--inject`: the agent CLI whose hook runs it (gemini: one JSON object with
    /// `hookSpecificOutput.additionalContext`).
    #[arg(long, value_enum, default_value_t, requires = "inject")]
    pub hook_format: super::prime::HookFormatArg,
}

pub fn run(args: MailArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    if let MailCommand::Check(CheckArgs {
        inject: true,
        hook_format,
    }) = args.command
    {
        inject(args.identity.as_deref(), hook_format.into(), ui);
        return Ok(());
    }
    let town = super::town()?;
    let mut store = super::store(&town)?;
    let explicit = match &args.command {
        MailCommand::Inbox(a) if a.address.is_some() => a.address.clone(),
        _ => args.identity.clone(),
    };
    let me = identity(explicit.as_deref())?;
    let mailbox = me.canonical();
    match args.command {
        MailCommand::Send(a) => {
            let body = body(a.message, a.stdin)?;
            let priority = if a.urgent {
                PRIORITY_URGENT
            } else {
                ops::parse_priority(&a.priority)?
            };
            let out = Outgoing {
                to: addresses(&a.to)?,
                cc: addresses(&a.cc)?,
                subject: a.subject,
                body,
                priority,
                msg_type: a.msg_type.parse::<MessageType>()?,
                reply_to: a
                    .reply_to
                    .as_deref()
                    .map(ops::parse_message_id)
                    .transpose()?,
                ephemeral: flag_pair(a.ephemeral, a.permanent),
            };
            let mut sent = town::mail::send(&town, &mut store, &me, &out)?;
            sent.notified = notify(&town, &mut store, &sent);
            render::sent(ui, &sent)?;
        }
        MailCommand::Inbox(a) => {
            let q = InboxQuery {
                unread_only: a.unread,
                include_archived: a.all,
                limit: a.limit,
            };
            let items = store.mail_inbox(&mailbox, &q)?;
            render::list(ui, &mailbox, &items, "No mail")?;
        }
        MailCommand::Read(a) => {
            let item = store.mail_read(&mailbox, ops::parse_message_id(&a.id)?)?;
            render::message(ui, &item)?;
        }
        MailCommand::Peek(a) => {
            let item = match a.id {
                Some(id) => store.mail_item(&mailbox, ops::parse_message_id(&id)?)?,
                None => {
                    let q = InboxQuery {
                        unread_only: true,
                        include_archived: false,
                        limit: 1,
                    };
                    store
                        .mail_inbox(&mailbox, &q)?
                        .into_iter()
                        .next()
                        .ok_or_else(|| {
                            ui::CliError::user(format!("no unread mail in `{mailbox}`"))
                                .hint("`gt mail inbox --all` lists every message")
                        })?
                }
            };
            render::message(ui, &item)?;
        }
        MailCommand::Reply(a) => {
            let id = ops::parse_message_id(&a.id)?;
            let original = store.mail_item(&mailbox, id)?.message;
            let out = Outgoing {
                to: vec![Address::parse(&original.from)?],
                cc: Vec::new(),
                subject: a
                    .subject
                    .unwrap_or_else(|| town::mail::reply_subject(&original.subject)),
                body: body(a.message, a.stdin)?,
                priority: match a.priority {
                    Some(p) => ops::parse_priority(&p)?,
                    None => original.priority,
                },
                msg_type: MessageType::Reply,
                reply_to: Some(id),
                ephemeral: Some(original.ephemeral),
            };
            let mut sent = town::mail::send(&town, &mut store, &me, &out)?;
            sent.notified = notify(&town, &mut store, &sent);
            render::sent(ui, &sent)?;
        }
        MailCommand::Thread(a) => {
            let thread = store.mail_thread(&mailbox, ops::parse_message_id(&a.id)?)?;
            render::thread(ui, &thread)?;
        }
        MailCommand::Archive(a) => {
            let ids = ids(&a.ids)?;
            store.mail_set_state(&mailbox, &ids, MailState::Archived)?;
            render::changed(ui, "archived", &ids)?;
        }
        MailCommand::Delete(a) => {
            let ids = ids(&a.ids)?;
            store.mail_set_state(&mailbox, &ids, MailState::Deleted)?;
            render::changed(ui, "deleted", &ids)?;
        }
        MailCommand::MarkRead(a) => {
            let ids = ids(&a.ids)?;
            store.mail_mark_read(&mailbox, &ids, true)?;
            render::changed(ui, "read", &ids)?;
        }
        MailCommand::MarkUnread(a) => {
            let ids = ids(&a.ids)?;
            store.mail_mark_read(&mailbox, &ids, false)?;
            render::changed(ui, "unread", &ids)?;
        }
        MailCommand::Search(a) => {
            let items = store.mail_search(&mailbox, &a.text, a.all, a.limit)?;
            render::list(ui, &mailbox, &items, "No message matches")?;
        }
        MailCommand::Claim(a) => {
            let item = match Address::parse(&a.target) {
                Ok(queue @ Address::Queue { .. }) => {
                    store.mail_claim_next(&mailbox, &queue.canonical())?
                }
                _ => store.mail_claim(&mailbox, ops::parse_message_id(&a.target)?)?,
            };
            render::claimed(ui, &item, true)?;
        }
        MailCommand::Release(a) => {
            let item = store.mail_release(&mailbox, ops::parse_message_id(&a.id)?)?;
            render::claimed(ui, &item, false)?;
        }
        MailCommand::Check(_) => {
            let unread = store.mail_inbox(&mailbox, &InboxQuery::unread())?;
            render::check(ui, &mailbox, &unread)?;
            if !unread.is_empty() {
                return Err(ui::ExitStatus(1).into());
            }
        }
    }
    Ok(())
}

/// Tells the agents `sent` reached that run now (a queued nudge each); the mail is already
/// committed, so nothing here can lose it.
fn notify(
    town: &town::layout::Town,
    store: &mut beads::Store,
    sent: &town::mail::Sent,
) -> Vec<town::mail::notify::Notified> {
    let notified = town::mail::notify::notify(town, store, &super::runtimes(town), sent);
    notified
        .into_iter()
        .filter(|n| n.outcome.is_worth_reporting())
        .collect()
}

/// The session hook: reminders of unread mail and the session's queued nudges on stdout, in
/// the agent CLI's hook format, or nothing. Whatever goes wrong (no town, a broken store, a bad
/// identity) is one line on stderr, and the hook still succeeds: a failing hook would block
/// the agent's session.
fn inject(identity_arg: Option<&str>, format: HookFormat, ui: &mut ui::Ui) {
    let warn = |ui: &mut ui::Ui, e: &dyn std::fmt::Display| {
        ui.stderr_raw(&format!("gt mail check --inject: {e:#}\n"));
    };
    // Gemini always writes its hook's input and closes stdin; it names the event to answer.
    let event = match format {
        HookFormat::Gemini => super::prime::hook_input(ui).hook_event_name,
        HookFormat::Claude => None,
    };
    let mut blocks = match mail_blocks(identity_arg) {
        Ok(blocks) => blocks,
        Err(e) => {
            warn(ui, &format_args!("{e:#}"));
            Vec::new()
        }
    };
    // The session's own queued nudges come with it (a turn boundary: the agent's prompt was
    // submitted, or its session started), never another mailbox's.
    let claim = match host::env::var(host::env::GT_SESSION).filter(|_| identity_arg.is_none()) {
        Some(session) => match claim_nudges(&session) {
            Ok(claim) => Some(claim),
            Err(e) => {
                warn(ui, &format_args!("queued nudges: {e:#}"));
                None
            }
        },
        None => None,
    };
    if let Some(claim) = claim.as_ref().filter(|c| !c.is_empty()) {
        blocks.push(town::nudge::render(claim.entries()));
    }
    let printed = match format.context(event.as_deref(), &blocks) {
        Some(text) => ui
            .out()
            .write_all(text.as_bytes())
            .and_then(|()| ui.out().flush()),
        None => Ok(()),
    };
    if let Err(e) = &printed {
        warn(ui, e);
    }
    // Nudges are removed only once printed; a hook that could not print them leaves them.
    if let Some(claim) = claim {
        let settled = if printed.is_ok() {
            super::town().and_then(|town| super::nudge::settle_delivered(&town, claim))
        } else {
            claim.release().map_err(Into::into)
        };
        if let Err(e) = settled {
            warn(ui, &format_args!("queued nudges: {e:#}"));
        }
    }
}

/// The reminder blocks of the caller's (or `identity_arg`'s) unread mail.
fn mail_blocks(identity_arg: Option<&str>) -> anyhow::Result<Vec<String>> {
    let town = super::town()?;
    let store = super::store(&town)?;
    let me = identity(identity_arg)?;
    let unread = store.mail_inbox(&me.canonical(), &InboxQuery::unread())?;
    Ok(reminder::blocks(
        &unread,
        identity_arg.map(|_| me.canonical()).as_deref(),
    ))
}

/// Claims `session`'s queued nudges, for the caller to remove once it has printed them.
fn claim_nudges(session: &str) -> anyhow::Result<town::nudge::Claim> {
    let town = super::town()?;
    let store = super::store(&town).ok();
    Ok(town::nudge::drain(
        &town,
        store.as_ref(),
        session,
        host::clock::from_env().now(),
    )?)
}

/// The mailbox the command acts as: `explicit` (one mailbox or a queue), else the caller's.
fn identity(explicit: Option<&str>) -> anyhow::Result<Address> {
    let me = match explicit {
        Some(text) => Address::parse(text)?,
        None => Address::current()?,
    };
    if me.is_mailbox() || matches!(me, Address::Queue { .. }) {
        Ok(me)
    } else {
        Err(town::mail::MailError::NotAMailbox {
            address: me.canonical(),
        }
        .into())
    }
}

fn addresses(texts: &[String]) -> anyhow::Result<Vec<Address>> {
    Ok(texts
        .iter()
        .map(|t| Address::parse(t))
        .collect::<Result<_, _>>()?)
}

fn ids(texts: &[String]) -> anyhow::Result<Vec<i64>> {
    Ok(texts
        .iter()
        .map(|t| ops::parse_message_id(t))
        .collect::<Result<_, _>>()?)
}

/// `--ephemeral`/`--permanent`: forced one way, or `None` to follow the protocol catalog.
fn flag_pair(yes: bool, no: bool) -> Option<bool> {
    match (yes, no) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    }
}

/// The body: `-m`, or standard input with `--stdin`, or empty.
fn body(message: Option<String>, stdin: bool) -> anyhow::Result<String> {
    if stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| ui::CliError::user(format!("cannot read the body from stdin: {e}")))?;
        Ok(text)
    } else {
        Ok(message.unwrap_or_default())
    }
}
