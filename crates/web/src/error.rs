//! What can go wrong serving the dashboard.

use std::net::SocketAddr;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::html::esc;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "refusing to serve {bind} without a token: beyond loopback the dashboard shows the town \
         to the network"
    )]
    TokenRequired { bind: SocketAddr },
    #[error("cannot make a token: the system's random source failed: {0}")]
    Random(String),
    #[error("cannot listen on {bind}: {source}")]
    Bind {
        bind: SocketAddr,
        source: std::io::Error,
    },
    #[error("the dashboard's server failed: {0}")]
    Serve(std::io::Error),
    #[error("cannot watch the town's store for changes: {0}")]
    Watch(String),
    #[error(transparent)]
    Store(#[from] beads::Error),
    #[error(transparent)]
    View(#[from] town::views::ViewError),
    #[error(transparent)]
    Roster(#[from] town::roster::RosterError),
    #[error(transparent)]
    Runtime(#[from] town::runtime::RuntimeError),
    #[error(transparent)]
    Escalation(#[from] town::escalation::EscalationError),
    #[error(transparent)]
    Nudge(#[from] town::nudge::NudgeError),
    #[error(transparent)]
    Address(#[from] town::address::AddressError),
    #[error("a nudge needs a message")]
    EmptyMessage,
    #[error("closing a bead needs a reason")]
    EmptyReason,
    #[error("a worker thread of the dashboard failed: {0}")]
    Join(String),
}

impl Error {
    /// What the person asked for was wrong (an unknown bead, a bad address, a transition the
    /// request's state does not allow), as opposed to the dashboard failing.
    fn status(&self) -> StatusCode {
        match self {
            Self::Store(beads::Error::NotFound { .. }) => StatusCode::NOT_FOUND,
            Self::Store(
                beads::Error::InvalidTransition { .. }
                | beads::Error::Invalid { .. }
                | beads::Error::Ambiguous { .. }
                | beads::Error::Conflict(_),
            )
            | Self::Address(_)
            | Self::EmptyMessage
            | Self::EmptyReason
            | Self::Nudge(_)
            | Self::Roster(_) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::warn!(error = %self, "dashboard request failed");
        }
        let body = format!(
            "<p class=\"flash-err\" role=\"alert\">{}</p>",
            esc(&self.to_string())
        );
        (status, axum::response::Html(body)).into_response()
    }
}
