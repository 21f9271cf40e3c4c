//! Human output: aligned tables and issue details. Text from the store is shown with control
//! characters escaped, so a hostile title cannot drive the terminal.

use std::io::{self, Write as _};

use serde::Serializer as _;
use serde::ser::SerializeSeq;

use beads::{IssueDetails, IssueView};
use ui::Ui;
pub use ui::text::{safe, table};

/// One row per issue: id, priority, status, type, assignee, title and labels.
pub fn issue_rows(views: &[IssueView]) -> Vec<Vec<String>> {
    views
        .iter()
        .map(|v| {
            let i = &v.issue;
            let mut title = safe(&i.title);
            if !v.labels.is_empty() {
                title.push_str(&format!(" [{}]", safe(&v.labels.join(", "))));
            }
            vec![
                i.id.clone(),
                format!("P{}", i.priority),
                i.status.clone(),
                i.issue_type.clone(),
                if i.assignee.is_empty() {
                    "-".into()
                } else {
                    safe(&i.assignee)
                },
                title,
            ]
        })
        .collect()
}

/// Prints the issues a filter selects: a JSON array streamed as rows arrive (so thousands of
/// issues never sit in memory at once), or an aligned table.
pub fn issue_query(
    ui: &mut Ui,
    store: &beads::Store,
    filter: &beads::Filter,
    ready: bool,
    empty: &str,
) -> anyhow::Result<()> {
    if !ui.is_json() {
        let mut views = Vec::new();
        store.for_each(filter, ready, |v| -> anyhow::Result<()> {
            views.push(v.clone());
            Ok(())
        })?;
        return issues(ui, &views, empty);
    }
    // The same bytes `ui.json` gives for a Vec, written element by element.
    let enveloped = ui.is_enveloped();
    if enveloped {
        ui.out().write_all(ui::ENVELOPE_OPEN.as_bytes())?;
    }
    // Errors go through `io::Error` so a closed pipe is still recognised as one.
    let mut json = serde_json::Serializer::pretty(ui.out());
    let mut array = json.serialize_seq(None).map_err(io::Error::from)?;
    store.for_each(filter, ready, |v| -> anyhow::Result<()> {
        array.serialize_element(v).map_err(io::Error::from)?;
        Ok(())
    })?;
    SerializeSeq::end(array).map_err(io::Error::from)?;
    if enveloped {
        write!(ui.out(), "\n}}")?;
    }
    writeln!(ui.out())?;
    Ok(())
}

/// Prints issues as a table, or as a JSON array.
pub fn issues(ui: &mut Ui, views: &[IssueView], empty: &str) -> anyhow::Result<()> {
    if ui.is_json() {
        ui.json(views)?;
    } else if views.is_empty() {
        ui.status(empty);
    } else {
        table(ui, &issue_rows(views))?;
    }
    Ok(())
}

/// Reports changed issues: the JSON array of them as they are now (labels and counts
/// included), or one `Verb id: title` line each.
pub fn changed(
    ui: &mut Ui,
    store: &beads::Store,
    verb: &str,
    issues: &[beads::Issue],
) -> anyhow::Result<()> {
    if ui.is_json() {
        let ids: Vec<String> = issues.iter().map(|i| i.id.clone()).collect();
        ui.json(&store.views_of(&ids)?)?;
        return Ok(());
    }
    for issue in issues {
        ui.status(format!("{verb} {}: {}", issue.id, safe(&issue.title)));
    }
    Ok(())
}

/// Prints one issue in full.
pub fn details(ui: &mut Ui, d: &IssueDetails) -> io::Result<()> {
    let i = &d.issue;
    ui.line(format!("{}  {}", i.id, safe(&i.title)))?;
    let mut facts = vec![
        (
            "status",
            format!(
                "{}{}",
                i.status,
                if d.is_blocked { " (blocked)" } else { "" }
            ),
        ),
        ("priority", format!("P{}", i.priority)),
        ("type", i.issue_type.clone()),
    ];
    let optional = [
        ("assignee", i.assignee.as_str()),
        ("owner", i.owner.as_str()),
        ("created", i.created_at.as_str()),
        ("created by", i.created_by.as_str()),
        ("updated", i.updated_at.as_str()),
        ("started", i.started_at.as_deref().unwrap_or("")),
        ("closed", i.closed_at.as_deref().unwrap_or("")),
        ("close reason", i.close_reason.as_str()),
        ("due", i.due_at.as_deref().unwrap_or("")),
        ("deferred until", i.defer_until.as_deref().unwrap_or("")),
        ("external ref", i.external_ref.as_str()),
        ("parent", d.parent.as_deref().unwrap_or("")),
    ];
    facts.extend(
        optional
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (*k, safe(v))),
    );
    if let Some(e) = &d.epic {
        facts.push((
            "children",
            format!(
                "{}/{} closed{}",
                e.epic_closed_children,
                e.epic_total_children,
                if e.epic_closeable { " (closeable)" } else { "" }
            ),
        ));
    }
    if !d.labels.is_empty() {
        facts.push(("labels", safe(&d.labels.join(", "))));
    }
    if let Some(m) = &i.metadata {
        facts.push(("metadata", safe(&m.to_string())));
    }
    let width = facts.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in &facts {
        ui.line(format!("  {k:<width$}  {v}"))?;
    }
    for (heading, text) in [
        ("Description", &i.description),
        ("Design", &i.design),
        ("Acceptance criteria", &i.acceptance_criteria),
        ("Notes", &i.notes),
    ] {
        if !text.is_empty() {
            ui.line("")?;
            ui.line(format!("{heading}:"))?;
            for line in text.lines() {
                ui.line(format!("  {}", safe(line)))?;
            }
        }
    }
    for (heading, list) in [
        ("Depends on", &d.dependencies),
        ("Dependents", &d.dependents),
    ] {
        if !list.is_empty() {
            ui.line("")?;
            ui.line(format!("{heading}:"))?;
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|r| {
                    vec![
                        format!("  {}", r.id),
                        r.dependency_type.clone(),
                        r.status.clone(),
                        safe(&r.title),
                    ]
                })
                .collect();
            table(ui, &rows)?;
        }
    }
    if !d.comments.is_empty() {
        ui.line("")?;
        ui.line("Comments:")?;
        for c in &d.comments {
            ui.line(format!("  {} {}:", c.created_at, safe(&c.author)))?;
            for line in c.text.lines() {
                ui.line(format!("    {}", safe(line)))?;
            }
        }
    }
    Ok(())
}
