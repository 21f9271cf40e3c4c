//! Server-rendered HTML. A page is its panels; each panel is a `<section>` that re-fetches
//! its own fragment when the page's event stream says the town changed. Every string from the
//! town goes through [`crate::html::esc`].

mod bead;
mod panels;

use std::fmt::Write as _;

pub use bead::{bead_history, bead_page, close_options};
pub use panels::Panel;

use crate::html::{esc, path_segment};

/// htmx swaps error responses too (they carry the message to show), except 204.
const HTMX_CONFIG: &str =
    r#"{"responseHandling":[{"code":"204","swap":false},{"code":".*","swap":true}]}"#;

/// A whole page around `body`.
pub fn layout(town: &str, title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"htmx-config\" content=\"{config}\">\
         <title>{title} · {town}</title>\
         <link rel=\"stylesheet\" href=\"/assets/style.css\">\
         <script src=\"/assets/htmx.min.js\"></script>\
         <script src=\"/assets/htmx-ext-sse.min.js\"></script></head>\
         <body hx-ext=\"sse\" sse-connect=\"/events/stream\">\
         <header><strong>{town}</strong><a href=\"/\">overview</a>\
         <span class=\"muted\">{title}</span></header>\
         <div id=\"flash\" aria-live=\"polite\"></div>\n{body}</body></html>\n",
        config = esc(HTMX_CONFIG),
        title = esc(title),
        town = esc(town),
    )
}

/// A panel that reloads itself from `url` on every change.
pub fn live_section(id: &str, url: &str, inner: &str) -> String {
    format!(
        "<section id=\"{id}\" hx-get=\"{url}\" hx-trigger=\"sse:changed\" \
         hx-swap=\"innerHTML\">{inner}</section>\n",
        id = esc(id),
        url = esc(url),
    )
}

/// A link to a bead's page.
pub fn bead_link(id: &str) -> String {
    format!(
        "<a href=\"/bead/{}\">{}</a>",
        esc(&path_segment(id)),
        esc(id)
    )
}

/// A table with `headers` and pre-rendered rows of cells (each already escaped).
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::from("<table><thead><tr>");
    for h in headers {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// An action's form: posts `fields` (name, value) plus any visible `inputs` and puts the
/// answer in the page's flash line.
pub fn action_form(action: &str, fields: &[(&str, &str)], inputs: &str, button: &str) -> String {
    let mut out = format!(
        "<form class=\"inline\" method=\"post\" action=\"/action/{action}\" \
         hx-post=\"/action/{action}\" hx-target=\"#flash\">",
        action = esc(action)
    );
    for (name, value) in fields {
        let _ = write!(
            out,
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            esc(name),
            esc(value)
        );
    }
    let _ = write!(out, "{inputs}<button>{}</button></form>", esc(button));
    out
}
