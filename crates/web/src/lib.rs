//! `gt dashboard`: the town in a browser. Server-rendered HTML with htmx; a page's panels
//! refresh when the town's store commits a change, pushed over server-sent events by one
//! watcher thread ([`feed`]), so an idle town costs nothing. Reads and actions go through the
//! synchronous `town` and `beads` libraries on tokio's blocking pool.

mod actions;
mod assets;
pub mod auth;
mod error;
mod feed;
mod html;
mod pages;
mod routes;
mod sse;
mod state;

use std::future::Future;

use axum::Router;
use axum::routing::{get, post};

pub use auth::{Access, Token};
pub use error::Error;
pub use state::{Dashboard, Shared};

/// The dashboard's routes, every one behind the access guard.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/", get(routes::overview))
        .route("/panel/{name}", get(routes::panel))
        .route("/bead/{id}", get(routes::bead))
        .route("/bead/{id}/history", get(routes::bead_history))
        .route("/assets/{name}", get(routes::asset))
        .route("/events/stream", get(sse::stream))
        .route("/action/nudge", post(actions::nudge))
        .route("/action/retry", post(actions::retry))
        .route("/action/close", post(actions::close))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::guard,
        ))
        .with_state(state)
}

/// Serves `state` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Shared,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(Error::Serve)
}
