//! `POST /action/*`: what a person can do from the page, through the same library operations
//! as the CLI (`gt nudge`, `gt mq retry`, `bd close`). The auth guard has already checked the
//! token. Each answers with one line for the page's flash area.

use axum::Form;
use axum::extract::State;
use axum::response::Html;
use serde::Deserialize;
use town::address::Address;
use town::nudge::{self, Mode, Nudge, Outcome, Priority};

use crate::error::Error;
use crate::html::esc;
use crate::pages;
use crate::state::Shared;

fn ok(text: &str) -> Html<String> {
    Html(format!(
        "<p class=\"flash-ok\" role=\"status\">{}</p>",
        esc(text)
    ))
}

#[derive(Debug, Deserialize)]
pub struct NudgeForm {
    address: String,
    message: String,
}

/// Delivers a nudge as the overseer, or queues it when the agent is busy (as `gt nudge` does).
/// The store is released before delivery, which may wait for the agent's prompt.
pub async fn nudge(
    State(shared): State<Shared>,
    Form(form): Form<NudgeForm>,
) -> Result<Html<String>, Error> {
    if form.message.trim().is_empty() {
        return Err(Error::EmptyMessage);
    }
    let target = Address::parse(&form.address)?;
    let located = target.clone();
    let now = shared.clock.now();
    let (session, runtime_kind, held) = shared
        .read(move |dash, store| {
            let (session, runtime_kind) = nudge::session_of(&dash.town, Some(store), &located)?;
            let held = town::scheduler::accounts::hold_on(store, &located.canonical(), now)?;
            Ok((session, runtime_kind, held))
        })
        .await?;
    let this = std::sync::Arc::clone(&shared);
    let sent = tokio::task::spawn_blocking(move || {
        let message = Nudge {
            target: target.clone(),
            session,
            sender: Address::Overseer.canonical(),
            message: form.message,
            priority: Priority::Normal,
        };
        nudge::deliver(
            &this.town,
            this.runtimes.get(&runtime_kind),
            &message,
            Mode::WaitIdle,
            false,
            held.as_ref(),
            now,
        )
        .map(|outcome| (message, outcome))
    })
    .await
    .map_err(|e| Error::Join(e.to_string()))??;
    // The town's event stream hears of it as of a `gt nudge`.
    let (message, outcome) = shared
        .write(move |_, store| {
            let (message, outcome) = sent;
            nudge::record(store, &message, &outcome);
            Ok((message, outcome))
        })
        .await?;
    let target = message.target.canonical();
    Ok(match outcome {
        Outcome::Delivered => ok(&format!("nudged {target}")),
        Outcome::Queued {
            reason: nudge::QueueReason::RateLimited { account, until },
            ..
        } => ok(&format!(
            "{target}'s account `{account}` is rate-limited: the nudge waits until {until}"
        )),
        Outcome::Queued { expires_at, .. } => ok(&format!(
            "{target} is not at its prompt: the nudge is queued until {expires_at}"
        )),
    })
}

#[derive(Debug, Deserialize)]
pub struct RetryForm {
    mr: String,
}

/// Puts a failed or conflicted merge request back in the queue.
pub async fn retry(
    State(shared): State<Shared>,
    Form(form): Form<RetryForm>,
) -> Result<Html<String>, Error> {
    let mr = shared
        .write(move |_, store| {
            let id = beads::ops::mr::parse_mr_id(&form.mr)?;
            Ok(store.retry_mr(id, "retried from the dashboard")?)
        })
        .await?;
    Ok(ok(&format!("{} is queued again", mr.label())))
}

#[derive(Debug, Deserialize)]
pub struct CloseForm {
    bead: String,
    reason: String,
}

/// Closes a bead by hand, as needing no change.
pub async fn close(
    State(shared): State<Shared>,
    Form(form): Form<CloseForm>,
) -> Result<Html<String>, Error> {
    if form.reason.trim().is_empty() {
        return Err(Error::EmptyReason);
    }
    let issue = shared
        .write(move |_, store| Ok(store.close(&form.bead, &pages::close_options(&form.reason))?))
        .await?;
    Ok(ok(&format!("closed {}", issue.id)))
}
