//! The page's scripts and style, compiled into the binary so the dashboard works offline.
//! htmx and its SSE extension are vendored unmodified from their npm packages
//! (`htmx.org@2.0.11`, `htmx-ext-sse@2.2.4`, `dist/*.min.js`); their licenses sit beside them
//! in `assets/vendor/`.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

pub const HTMX: &str = include_str!("../assets/vendor/htmx-2.0.11.min.js");
pub const HTMX_SSE: &str = include_str!("../assets/vendor/htmx-ext-sse-2.2.4.min.js");
pub const STYLE: &str = include_str!("../assets/style.css");

/// The asset served at `/assets/<name>`, or 404.
pub fn serve(name: &str) -> Response {
    let (body, kind) = match name {
        "htmx.min.js" => (HTMX, "text/javascript; charset=utf-8"),
        "htmx-ext-sse.min.js" => (HTMX_SSE, "text/javascript; charset=utf-8"),
        "style.css" => (STYLE, "text/css; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    // Embedded in this build: a browser may keep them as long as this process serves them.
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        body,
    )
        .into_response()
}
