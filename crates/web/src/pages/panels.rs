//! The overview's panels. Each is rendered whole from the store (and, for agents, one listing
//! of the town's sessions), both for the first page and for each refresh after a change.

use std::collections::HashSet;

use beads::{InboxQuery, MrState};
use town::address::Address;

use super::{action_form, bead_link, live_section, table};
use crate::error::Error;
use crate::html::esc;
use crate::state::Dashboard;

/// How many merge requests, events and mails a panel shows (the newest).
const RECENT: usize = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    Convoys,
    Agents,
    Queue,
    Events,
    Mail,
    Escalations,
}

impl Panel {
    pub const ALL: [Self; 6] = [
        Self::Convoys,
        Self::Agents,
        Self::Queue,
        Self::Escalations,
        Self::Mail,
        Self::Events,
    ];

    /// The panel's name in its URL (`/panel/<name>`) and element id.
    pub fn name(self) -> &'static str {
        match self {
            Self::Convoys => "convoys",
            Self::Agents => "agents",
            Self::Queue => "queue",
            Self::Events => "events",
            Self::Mail => "mail",
            Self::Escalations => "escalations",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The panel's inner HTML.
    pub fn render(self, dash: &Dashboard, store: &beads::Store) -> Result<String, Error> {
        match self {
            Self::Convoys => convoys(store),
            Self::Agents => agents(dash, store),
            Self::Queue => queue(store),
            Self::Events => events(store),
            Self::Mail => mail(store),
            Self::Escalations => escalations(store),
        }
    }

    /// The panel as a live section of the overview.
    pub fn section(self, dash: &Dashboard, store: &beads::Store) -> Result<String, Error> {
        let name = self.name();
        Ok(live_section(
            name,
            &format!("/panel/{name}"),
            &self.render(dash, store)?,
        ))
    }
}

fn heading(title: &str, count: usize) -> String {
    format!("<h2>{} ({count})</h2>", esc(title))
}

fn convoys(store: &beads::Store) -> Result<String, Error> {
    let view = town::views::convoys(store, None)?;
    let rows: Vec<Vec<String>> = view
        .convoys
        .iter()
        .map(|item| {
            let c = &item.convoy;
            let total = c.tracked.len();
            vec![
                bead_link(&c.id),
                esc(&c.title),
                format!(
                    "<progress max=\"{total}\" value=\"{merged}\"></progress> \
                     <span class=\"progress\">{merged}/{total}</span>",
                    merged = c.merged
                ),
                format!("<span class=\"{0}\">{0}</span>", esc(&item.state)),
            ]
        })
        .collect();
    Ok(format!(
        "{}{}",
        heading("convoys", rows.len()),
        table(&["convoy", "title", "landed", "state"], &rows)
    ))
}

/// Agents from the store's roster; liveness from one listing of the town's sessions, never a
/// question per agent.
fn agents(dash: &Dashboard, store: &beads::Store) -> Result<String, Error> {
    let members = town::roster::members(&dash.town, store)?;
    let live: HashSet<String> = dash
        .runtimes
        .sessions()?
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let rows: Vec<Vec<String>> = members
        .iter()
        .map(|m| {
            let alive = live.contains(&m.session);
            let (state, bead) = match &m.polecat {
                Some(p) => (p.state.to_string(), p.bead_id.clone()),
                None => (
                    if alive { "running" } else { "stopped" }.to_owned(),
                    String::new(),
                ),
            };
            let address = m.address.canonical();
            let nudge = if alive {
                action_form(
                    "nudge",
                    &[("address", &address)],
                    "<input name=\"message\" placeholder=\"message\" required>",
                    "nudge",
                )
            } else {
                String::new()
            };
            vec![
                esc(&address),
                esc(&m.role.to_string()),
                esc(&state),
                if bead.is_empty() {
                    String::new()
                } else {
                    bead_link(&bead)
                },
                if alive {
                    "alive".to_owned()
                } else {
                    "<span class=\"dead\">no session</span>".to_owned()
                },
                nudge,
            ]
        })
        .collect();
    Ok(format!(
        "{}{}",
        heading("agents", rows.len()),
        table(&["agent", "role", "state", "bead", "session", ""], &rows)
    ))
}

/// The newest merge requests, each with its gate history: the `mr_*` events its bead holds
/// for it (submitted, testing, failed with the gate's output, merged, …).
fn queue(store: &beads::Store) -> Result<String, Error> {
    let view = town::views::mq(store, None, &[])?;
    let mut requests = view.requests;
    requests.sort_by_key(|r| std::cmp::Reverse(r.mr.id));
    requests.truncate(RECENT);
    let mut rows = Vec::with_capacity(requests.len());
    for r in &requests {
        let mr = &r.mr;
        let label = mr.label();
        let history: Vec<String> = store
            .history(&mr.bead_id)?
            .into_iter()
            .filter(|e| e.event_type.starts_with("mr_") && concerns(e, &label))
            .map(|e| {
                format!(
                    "<li>{} {} {}</li>",
                    esc(&e.created_at),
                    esc(&e.event_type),
                    esc(e.comment.as_deref().unwrap_or_default())
                )
            })
            .collect();
        let retry = if matches!(mr.state, MrState::Failed | MrState::Conflict) {
            action_form("retry", &[("mr", &label)], "", "retry")
        } else {
            String::new()
        };
        rows.push(vec![
            esc(&label),
            esc(&mr.rig),
            bead_link(&mr.bead_id),
            format!("<span class=\"{0}\">{0}</span>", esc(mr.state.as_str())),
            esc(&mr.branch),
            format!(
                "<details><summary>{} events</summary><ul>{}</ul></details>",
                history.len(),
                history.concat()
            ),
            retry,
        ]);
    }
    Ok(format!(
        "{}{}",
        heading("merge queue", rows.len()),
        table(
            &["request", "rig", "bead", "state", "branch", "gates", ""],
            &rows
        )
    ))
}

/// Whether an `mr_*` event of a bead is about request `label` (a bead may have had several).
fn concerns(event: &beads::model::Event, label: &str) -> bool {
    event.new_value.as_deref() == Some(label)
        || event
            .comment
            .as_deref()
            .and_then(|c| c.strip_prefix(label))
            .is_some_and(|rest| rest.starts_with(':'))
}

fn events(store: &beads::Store) -> Result<String, Error> {
    let events = town::events::latest(store, RECENT)?;
    let rows: Vec<Vec<String>> = events
        .iter()
        .rev()
        .map(|e| {
            vec![
                esc(&e.at),
                esc(&e.actor),
                esc(e.kind.as_str()),
                e.bead.as_deref().map(bead_link).unwrap_or_default(),
                esc(&e.summary),
            ]
        })
        .collect();
    Ok(format!(
        "{}{}",
        heading("recent events", rows.len()),
        table(&["at", "actor", "event", "bead", "what"], &rows)
    ))
}

fn mail(store: &beads::Store) -> Result<String, Error> {
    let inbox = store.mail_inbox(
        &Address::Overseer.canonical(),
        &InboxQuery {
            unread_only: false,
            include_archived: false,
            limit: RECENT,
        },
    )?;
    let rows: Vec<Vec<String>> = inbox
        .iter()
        .map(|item| {
            let m = &item.message;
            vec![
                esc(&m.created_at),
                esc(&m.from),
                if item.read {
                    esc(&m.subject)
                } else {
                    format!("<strong>{}</strong>", esc(&m.subject))
                },
                format!(
                    "<details><summary>body</summary><pre>{}</pre></details>",
                    esc(&m.body)
                ),
            ]
        })
        .collect();
    Ok(format!(
        "{}{}",
        heading("overseer's mail", rows.len()),
        table(&["at", "from", "subject", ""], &rows)
    ))
}

fn escalations(store: &beads::Store) -> Result<String, Error> {
    let open = town::escalation::list(store, false)?;
    let rows: Vec<Vec<String>> = open
        .iter()
        .map(|e| {
            vec![
                bead_link(&e.id),
                esc(e.severity.as_str()),
                esc(&e.title),
                esc(e.from.as_deref().unwrap_or_default()),
                if e.acknowledged { "acked" } else { "" }.to_owned(),
                esc(&e.escalated_at),
            ]
        })
        .collect();
    Ok(format!(
        "{}{}",
        heading("open escalations", rows.len()),
        table(&["bead", "severity", "title", "from", "", "since"], &rows)
    ))
}
