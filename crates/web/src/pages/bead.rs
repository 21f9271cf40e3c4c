//! A bead's page: what it is, what it depends on, and every event in its history.

use std::fmt::Write as _;

use beads::ops::update::CloseOptions;

use super::{action_form, bead_link, live_section, table};
use crate::error::Error;
use crate::html::{esc, path_segment};

/// The whole bead page's body: the bead and its history panel.
pub fn bead_page(store: &beads::Store, id: &str) -> Result<(String, String), Error> {
    let details = store.show(id)?;
    let issue = &details.issue;
    let mut body = String::from("<main>");
    let _ = write!(
        body,
        "<section><h2>{id} · {title}</h2><p>status <strong>{status}</strong> · type {kind} · \
         priority P{priority}{assignee}</p>",
        id = esc(&issue.id),
        title = esc(&issue.title),
        status = esc(&issue.status),
        kind = esc(&issue.issue_type),
        priority = issue.priority,
        assignee = if issue.assignee.is_empty() {
            String::new()
        } else {
            format!(" · assignee {}", esc(&issue.assignee))
        },
    );
    if !details.labels.is_empty() {
        let labels: Vec<String> = details.labels.iter().map(|l| esc(l)).collect();
        let _ = write!(body, "<p>labels: {}</p>", labels.join(", "));
    }
    if !issue.description.is_empty() {
        let _ = write!(body, "<pre>{}</pre>", esc(&issue.description));
    }
    let related = |rel: &[beads::model::Related]| -> String {
        rel.iter()
            .map(|r| format!("{} ({})", bead_link(&r.id), esc(&r.dependency_type)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !details.dependencies.is_empty() {
        let _ = write!(
            body,
            "<p>depends on: {}</p>",
            related(&details.dependencies)
        );
    }
    if !details.dependents.is_empty() {
        let _ = write!(body, "<p>needed by: {}</p>", related(&details.dependents));
    }
    if issue.status != "closed" {
        body.push_str(&action_form(
            "close",
            &[("bead", &issue.id)],
            "<input name=\"reason\" placeholder=\"reason\" required>",
            "close",
        ));
    }
    body.push_str("</section>");
    let url = format!("/bead/{}/history", path_segment(&issue.id));
    body.push_str(&live_section(
        "history",
        &url,
        &bead_history(store, &issue.id)?,
    ));
    body.push_str("</main>");
    Ok((issue.id.clone(), body))
}

/// The history panel of a bead.
pub fn bead_history(store: &beads::Store, id: &str) -> Result<String, Error> {
    let events = store.history(id)?;
    let rows: Vec<Vec<String>> = events
        .iter()
        .rev()
        .map(|e| {
            let change = match (&e.old_value, &e.new_value) {
                (Some(old), Some(new)) => format!("{} → {}", esc(old), esc(new)),
                (None, Some(new)) => esc(new),
                (Some(old), None) => format!("{} →", esc(old)),
                (None, None) => String::new(),
            };
            vec![
                esc(&e.created_at),
                esc(&e.actor),
                esc(&e.event_type),
                change,
                esc(e.comment.as_deref().unwrap_or_default()),
            ]
        })
        .collect();
    Ok(format!(
        "<h2>history ({})</h2>{}",
        events.len(),
        table(&["at", "actor", "event", "change", "note"], &rows)
    ))
}

/// What closing a bead from the dashboard passes (as `bd close <id> --reason …` does).
pub fn close_options(reason: &str) -> CloseOptions {
    CloseOptions {
        reason: reason.to_owned(),
        force: false,
        session: String::new(),
    }
}
