//! The words of a handoff: the mail body the agent leaves itself, and the note `gt prime`
//! shows its successor.

use std::fmt::Write as _;

use beads::InboxQuery;
use beads::ops::query::Filter;

use super::{HandoffError, Marker, Request, marker_path};
use crate::layout::Town;
use crate::work::identity::PolecatId;
use crate::work::prime::shown;

/// How many items each collected list shows.
const COLLECT_LIMIT: usize = 5;

/// The handoff mail's body: the hooked bead and its molecule, then Context (the agent's
/// message), Status (collected from the store with `--collect`) and Next.
pub(super) fn body(
    town: &Town,
    store: &beads::Store,
    id: &PolecatId,
    row: &beads::Polecat,
    req: &Request,
) -> Result<String, HandoffError> {
    let bead = store.get(&row.bead_id)?;
    let molecule = bead
        .metadata
        .as_ref()
        .and_then(|m| m.get("attached_molecule"))
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let mut out = String::new();
    let _ = writeln!(out, "hooked_bead: {}", bead.id);
    if let Some(m) = &molecule {
        let _ = writeln!(out, "attached_molecule: {m}");
    }
    origin_and_context(&mut out, &row.session, row.generation, req);
    out.push_str("\n## Status\n\n");
    let _ = writeln!(
        out,
        "Hooked: {} {} — {}",
        bead.id,
        bead.status,
        shown(&bead.title, false)
    );
    if req.collect {
        collect(town, store, id, &mut out)?;
    }
    out.push_str("\n## Next\n\n");
    let _ = writeln!(
        out,
        "Carry on with {}: `gt prime` shows the bead and its steps; commit as you go and run `gt done` when it is finished.",
        bead.id
    );
    Ok(out)
}

/// The lines every handoff body starts with: which session and generation it comes from, the
/// reason, and the Context section (the agent's message).
fn origin_and_context(out: &mut String, session: &str, generation: i64, req: &Request) {
    let _ = writeln!(out, "from: {session} generation {generation}");
    if let Some(reason) = &req.reason {
        let _ = writeln!(out, "reason: {}", super::one_line(reason));
    }
    out.push_str("\n## Context\n\n");
    match req.message.as_deref().map(str::trim_end) {
        Some(m) if !m.trim().is_empty() => {
            out.push_str(m);
            out.push('\n');
        }
        _ => out.push_str("(no notes given)\n"),
    }
}

/// The handoff mail's body for the mayor or a crew member, who hold no bead: Context (the
/// agent's message), Status (unread mail with `--collect`) and Next.
pub(super) fn role_body(
    store: &beads::Store,
    me: &crate::address::Address,
    row: &beads::RoleAgent,
    req: &Request,
) -> Result<String, HandoffError> {
    let mut out = String::new();
    origin_and_context(&mut out, &row.session, row.generation, req);
    if req.collect {
        out.push_str("\n## Status\n\n");
        inbox(store, &me.canonical(), &mut out)?;
    }
    out.push_str("\n## Next\n\nCarry on where your predecessor left off: `gt prime` shows who you are and what waits for you.\n");
    Ok(out)
}

/// The unread mail of `mailbox`, for a Status section.
fn inbox(store: &beads::Store, mailbox: &str, out: &mut String) -> Result<(), HandoffError> {
    let unread = store.mail_inbox(mailbox, &InboxQuery::unread())?;
    let _ = writeln!(out, "Inbox: {} unread", unread.len());
    for m in unread.iter().take(COLLECT_LIMIT) {
        let _ = writeln!(
            out,
            "  {} from {}: {}",
            beads::ops::mail::message_label(m.message.id),
            m.message.from,
            shown(&m.message.subject, false)
        );
    }
    Ok(())
}

/// The Status lines `--collect` adds: unread mail, the agent's other beads in progress, and
/// ready beads of its rig.
fn collect(
    town: &Town,
    store: &beads::Store,
    id: &PolecatId,
    out: &mut String,
) -> Result<(), HandoffError> {
    inbox(store, &id.address(), out)?;
    let mine = store.list(&Filter {
        statuses: vec!["in_progress".into()],
        assignee: Some(id.address()),
        limit: COLLECT_LIMIT,
        ..Filter::default()
    })?;
    list(out, "In progress", &mine);
    let prefix = crate::rig::entry(town, &id.rig)
        .map(|e| e.beads.prefix)
        .map_err(crate::work::WorkError::from)?;
    let ready = store.ready(&Filter {
        id_prefix: Some(prefix),
        limit: COLLECT_LIMIT,
        ..Filter::default()
    })?;
    list(out, "Ready", &ready);
    Ok(())
}

fn list(out: &mut String, what: &str, items: &[beads::IssueView]) {
    if items.is_empty() {
        let _ = writeln!(out, "{what}: none");
        return;
    }
    let _ = writeln!(out, "{what}:");
    for v in items {
        let _ = writeln!(out, "  {} — {}", v.issue.id, shown(&v.issue.title, false));
    }
}

/// The post-handoff note for the agent now in `session` (of generation `generation`, when
/// known), if its predecessor handed off; the marker is removed, so the note shows once. Only a
/// successor takes it: an agent of the handing-off generation or older (one still starting
/// when the handoff began) leaves it for the next. A marker that does not parse is removed and
/// reported as unreadable rather than stopping `gt prime`.
pub fn successor_note(
    town: &Town,
    session: &str,
    generation: Option<i64>,
) -> Result<Option<String>, HandoffError> {
    if crate::runtime::check_session_name(session).is_err() {
        return Ok(None);
    }
    let path = marker_path(town, session);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(crate::files::FileError::Io { path, source }.into()),
    };
    let marker = serde_json::from_str::<Marker>(&text);
    if let (Ok(m), Some(mine)) = (&marker, generation)
        && mine <= m.from_generation
    {
        return Ok(None);
    }
    std::fs::remove_file(&path).map_err(|source| crate::files::FileError::Io {
        path: path.clone(),
        source,
    })?;
    let mut out = String::from("## You are post-handoff\n\n");
    match marker {
        Ok(m) => {
            let _ = writeln!(
                out,
                "The agent before you in session {} (generation {}) handed off to you at {}{}.",
                m.session,
                m.from_generation,
                m.at,
                m.reason
                    .as_deref()
                    .map(|r| format!(" ({})", shown(r, false)))
                    .unwrap_or_default()
            );
            let _ = writeln!(
                out,
                "Its notes are in your inbox: read them first with `gt mail read {}`, and do not redo what it finished.",
                m.mail
            );
        }
        Err(_) => {
            out.push_str("The agent before you in this session handed off to you, but its marker was unreadable; look for a `🤝 HANDOFF` message with `gt mail inbox`.\n");
        }
    }
    out.push('\n');
    Ok(Some(out))
}
