//! `GET /events/stream`: server-sent events. Each page holds one stream; the server sends
//! `changed` (data: the newest event id) whenever the town changed, and each panel on the page
//! re-fetches itself on it (`hx-trigger="sse:changed"`). Bursts coalesce: a page that is
//! still fetching sees one `changed` for everything that happened meanwhile.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use futures_util::stream;

use crate::state::Shared;

/// A comment line now and then keeps proxies from closing an idle stream; the browser
/// ignores it and nothing on the page runs.
const KEEP_ALIVE: Duration = Duration::from_secs(60);

pub async fn stream(
    State(shared): State<Shared>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut changes = shared.changes.clone();
    changes.mark_unchanged();
    let events = stream::unfold(changes, |mut changes| async move {
        changes.changed().await.ok()?;
        let id = *changes.borrow_and_update();
        Some((
            Ok(Event::default().event("changed").data(id.to_string())),
            changes,
        ))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}
