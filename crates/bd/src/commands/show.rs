//! `bd show`, `bd children`, `bd history`.

use clap::Args;

use crate::cli::Global;
use crate::render;

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Issue ids [default: the last issue you created, showed or changed].
    pub ids: Vec<String>,
    /// Only the children of each issue (JSON: a map from each id to its children).
    #[arg(long, conflicts_with = "refs")]
    pub children: bool,
    /// Only the issues that refer to each issue, by any edge (JSON: a map from each id).
    #[arg(long)]
    pub refs: bool,
    /// Accepted for compatibility with upstream bd: dependents are always shown.
    #[arg(long, hide = true)]
    pub include_dependents: bool,
    /// Accepted for compatibility with upstream bd: comments are always shown.
    #[arg(long, hide = true)]
    pub include_comments: bool,
}

#[derive(Debug, Args)]
pub struct ChildrenArgs {
    /// The parent issue.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The issue.
    pub id: String,
}

pub fn run(g: &Global, args: &ShowArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let store = super::open(g)?;
    let ids = super::touched::ids_or_last(&store, &args.ids)?;
    if args.children {
        return show_linked(&store, &ids, Some("parent-child"), ui);
    }
    if args.refs {
        return show_linked(&store, &ids, None, ui);
    }
    // As upstream: with several ids, one that matches nothing is a warning and the rest are
    // shown; only when none matches is it an error.
    let mut details = Vec::new();
    let mut first_miss = None;
    for id in &ids {
        match store.show(id) {
            Ok(d) => details.push(d),
            Err(e @ (beads::Error::NotFound { .. } | beads::Error::Ambiguous { .. })) => {
                if ids.len() > 1 {
                    ui.warn(&e);
                }
                first_miss.get_or_insert(e);
            }
            Err(e) => return Err(e.into()),
        }
    }
    if details.is_empty()
        && let Some(e) = first_miss
    {
        return Err(e.into());
    }
    if let Some(first) = details.first() {
        super::touched::remember(&store, &first.issue.id);
    }
    if ui.is_json() {
        // Always an array, even for one id: Gas Town and agents rely on it.
        ui.json(&details)?;
    } else {
        for (n, d) in details.iter().enumerate() {
            if n > 0 {
                ui.line("")?;
            }
            render::details(ui, d)?;
        }
    }
    Ok(())
}

/// `show --children` / `--refs`: the issues linking to each issue (by `kind`, or any edge)
/// with the edge type, as upstream prints them.
fn show_linked(
    store: &beads::Store,
    ids: &[String],
    kind: Option<&str>,
    ui: &mut ui::Ui,
) -> anyhow::Result<()> {
    let mut all = std::collections::BTreeMap::new();
    for id in store.resolve_all(ids)? {
        let kids = store.linked_issues(&id, beads::Direction::Up, kind)?;
        all.insert(id, kids);
    }
    if ui.is_json() {
        ui.json(&all)?;
        return Ok(());
    }
    for (id, kids) in &all {
        ui.line(format!("{id}: {} linked issue(s)", kids.len()))?;
        let rows: Vec<Vec<String>> = kids
            .iter()
            .map(|k| {
                vec![
                    format!("  {}", k.issue.id),
                    k.dependency_type.clone(),
                    format!("P{}", k.issue.priority),
                    k.issue.status.clone(),
                    render::safe(&k.issue.title),
                ]
            })
            .collect();
        render::table(ui, &rows)?;
    }
    Ok(())
}

pub fn children(g: &Global, args: &ChildrenArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let store = super::open(g)?;
    let kids = store.children(&args.id)?;
    render::issues(ui, &kids, "No children")
}

pub fn history(g: &Global, args: &HistoryArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let store = super::open(g)?;
    let events = store.history(&args.id)?;
    if ui.is_json() {
        ui.json(&events)?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            let change = match (&e.old_value, &e.new_value) {
                (Some(o), Some(n)) => format!("{o} → {n}"),
                (None, Some(n)) => n.clone(),
                (Some(o), None) => format!("{o} (removed)"),
                (None, None) => String::new(),
            };
            let mut text = render::safe(&change);
            if let Some(c) = &e.comment {
                text.push_str(&format!(" {}", render::safe(c)));
            }
            vec![
                e.created_at.clone(),
                e.event_type.clone(),
                render::safe(&e.actor),
                text,
            ]
        })
        .collect();
    render::table(ui, &rows)?;
    Ok(())
}
