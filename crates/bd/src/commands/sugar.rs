//! Upstream's one-purpose shorthands over `update`, `close` and `dep`: assign, priority, note,
//! defer, undefer, promote, link, relate, unrelate, duplicate, supersede; and agent memories
//! (remember, memories, recall, forget) kept in the kv namespace under `memory.`.

use beads::ops::config::MEMORY_PREFIX;
use beads::{Changes, CloseOptions, Store};
use clap::Args;

use crate::cli::Global;
use crate::render;

#[derive(Debug, Args)]
pub struct AssignArgs {
    pub id: String,
    /// Who gets it (empty to unassign).
    pub name: String,
}

#[derive(Debug, Args)]
pub struct PriorityArgs {
    pub id: String,
    /// 0 (highest) to 4, or P0–P4.
    #[arg(value_parser = super::priority_arg)]
    pub priority: i64,
}

#[derive(Debug, Args)]
pub struct NoteArgs {
    pub id: String,
    /// The note; several words are joined with spaces.
    pub text: Vec<String>,
    /// Read the note from a file (`-` for standard input).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["text", "stdin"])]
    pub file: Option<String>,
    /// Read the note from standard input.
    #[arg(long)]
    pub stdin: bool,
}

#[derive(Debug, Args)]
pub struct DeferArgs {
    #[arg(required = true)]
    pub ids: Vec<String>,
    /// Until when (`+2d`, `tomorrow`, a date); without it, until undeferred.
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
}

#[derive(Debug, Args)]
pub struct IdsArgs {
    #[arg(required = true)]
    pub ids: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The wisp to keep.
    pub id: String,
    /// Why it is kept (added to its notes).
    #[arg(short, long)]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct LinkArgs {
    /// The issue that depends.
    pub id: String,
    /// The issue it depends on.
    pub depends_on: String,
    #[arg(short = 't', long = "type", default_value = "blocks")]
    pub kind: String,
}

#[derive(Debug, Args)]
pub struct PairArgs {
    pub a: String,
    pub b: String,
}

#[derive(Debug, Args)]
pub struct DuplicateArgs {
    /// The duplicate, which is closed.
    pub id: String,
    /// The issue it duplicates.
    #[arg(long, value_name = "ID")]
    pub of: String,
}

#[derive(Debug, Args)]
pub struct SupersedeArgs {
    /// The old issue, which is closed.
    pub id: String,
    /// The issue that replaces it.
    #[arg(long, value_name = "ID")]
    pub with: String,
}

#[derive(Debug, Args)]
pub struct RememberArgs {
    /// What to remember.
    pub insight: String,
    /// Its key [default: made from the text].
    #[arg(long)]
    pub key: Option<String>,
}

#[derive(Debug, Args)]
pub struct MemoriesArgs {
    /// Only memories whose key or text contains this.
    pub search: Option<String>,
}

#[derive(Debug, Args)]
pub struct KeyArgs {
    pub key: String,
}

/// Applies one change to one issue and prints it (`Updated …`, or the issue as JSON).
fn update_one(g: &Global, id: &str, changes: &Changes, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let mut store = super::open(g)?;
    let issue = store.update(id, changes)?;
    super::touched::remember(&store, &issue.id);
    render::changed(ui, &store, "Updated", std::slice::from_ref(&issue))?;
    Ok(())
}

pub fn assign(g: &Global, a: &AssignArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let changes = Changes {
        assignee: Some(a.name.clone()),
        ..Changes::default()
    };
    update_one(g, &a.id, &changes, ui)
}

pub fn priority(g: &Global, a: &PriorityArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let changes = Changes {
        priority: Some(a.priority),
        ..Changes::default()
    };
    update_one(g, &a.id, &changes, ui)
}

pub fn note(g: &Global, a: &NoteArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let text = match (&a.file, a.stdin) {
        (Some(f), _) => super::read_text_source(f)?,
        (None, true) => super::read_text_source("-")?,
        (None, false) => a.text.join(" "),
    };
    if text.trim().is_empty() {
        return Err(ui::CliError::usage("the note is empty").into());
    }
    let changes = Changes {
        append_notes: Some(text.trim_end().to_owned()),
        ..Changes::default()
    };
    update_one(g, &a.id, &changes, ui)
}

pub fn defer(g: &Global, a: &DeferArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let now = host::clock::from_env().now();
    let changes = Changes {
        status: Some("deferred".into()),
        defer_until: a
            .until
            .as_deref()
            .map(|w| beads::store::parse_when(w, now).map(Some))
            .transpose()?,
        ..Changes::default()
    };
    let mut store = super::open(g)?;
    let deferred = store.update_all(&a.ids, &changes, false)?;
    render::changed(ui, &store, "Deferred", &deferred)?;
    Ok(())
}

pub fn undefer(g: &Global, a: &IdsArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let mut store = super::open(g)?;
    for id in store.resolve_all(&a.ids)? {
        let status = store.get(&id)?.status;
        if status != "deferred" {
            return Err(
                ui::CliError::user(format!("`{id}` is not deferred (status `{status}`)")).into(),
            );
        }
    }
    let changes = Changes {
        status: Some("open".into()),
        defer_until: Some(None),
        ..Changes::default()
    };
    let open = store.update_all(&a.ids, &changes, false)?;
    render::changed(ui, &store, "Undeferred", &open)?;
    Ok(())
}

pub fn promote(g: &Global, a: &PromoteArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let mut store = super::open(g)?;
    if !store.get(&a.id)?.ephemeral {
        return Err(ui::CliError::user(format!("`{}` is not a wisp", a.id)).into());
    }
    let changes = Changes {
        ephemeral: Some(false),
        append_notes: a
            .reason
            .as_ref()
            .map(|r| format!("Promoted from a wisp: {r}")),
        ..Changes::default()
    };
    let issue = store.update(&a.id, &changes)?;
    render::changed(ui, &store, "Promoted", std::slice::from_ref(&issue))?;
    Ok(())
}

/// Adds `from → to` of `kind` and reports it as `dep add` does.
fn add_edge(
    store: &mut Store,
    from: &str,
    to: &str,
    kind: &str,
    ui: &mut ui::Ui,
) -> anyhow::Result<()> {
    let added = store.add_dependency(from, to, kind, None)?;
    let (from, to) = (store.resolve(from)?, store.resolve_target(to)?);
    if ui.is_json() {
        ui.json(&serde_json::json!({
            "status": if added { "added" } else { "exists" },
            "issue_id": from, "depends_on_id": to, "type": kind,
        }))?;
    } else {
        ui.status(format!("Linked: {from} → {to} ({kind})"));
    }
    Ok(())
}

pub fn link(g: &Global, a: &LinkArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let mut store = super::open(g)?;
    add_edge(&mut store, &a.id, &a.depends_on, &a.kind, ui)
}

const RELATES: &str = "relates-to";

/// A `relates-to` edge each way, so each issue lists the other.
pub fn relate(g: &Global, a: &PairArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let mut store = super::open(g)?;
    let (x, y) = (store.resolve(&a.a)?, store.resolve(&a.b)?);
    if x == y {
        return Err(ui::CliError::user("an issue cannot relate to itself").into());
    }
    store.add_dependency(&x, &y, RELATES, None)?;
    store.add_dependency(&y, &x, RELATES, None)?;
    if ui.is_json() {
        ui.json(&serde_json::json!({"status": "related", "id1": x, "id2": y}))?;
    } else {
        ui.status(format!("Related {x} ↔ {y}"));
    }
    Ok(())
}

pub fn unrelate(g: &Global, a: &PairArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let mut store = super::open(g)?;
    let (x, y) = (store.resolve(&a.a)?, store.resolve(&a.b)?);
    let linked = |store: &Store, from: &str, to: &str| -> anyhow::Result<bool> {
        Ok(store
            .dependencies(from, beads::Direction::Down, Some(RELATES))?
            .iter()
            .any(|d| d.depends_on_id == to))
    };
    let (there, back) = (linked(&store, &x, &y)?, linked(&store, &y, &x)?);
    if !there && !back {
        return Err(ui::CliError::user(format!("`{x}` and `{y}` are not related")).into());
    }
    if there {
        store.remove_dependency(&x, &y)?;
    }
    if back {
        store.remove_dependency(&y, &x)?;
    }
    if ui.is_json() {
        ui.json(&serde_json::json!({"status": "unrelated", "id1": x, "id2": y}))?;
    } else {
        ui.status(format!("Unrelated {x} and {y}"));
    }
    Ok(())
}

/// Links `id` to `other` with `kind` and closes it: a duplicate or a superseded issue.
fn close_in_favour_of(
    g: &Global,
    id: &str,
    other: &str,
    kind: &str,
    reason: &str,
) -> anyhow::Result<(String, String)> {
    let mut store = super::open(g)?;
    let (id, other) = (store.resolve(id)?, store.resolve(other)?);
    if id == other {
        return Err(ui::CliError::user(format!("`{id}` cannot be linked to itself")).into());
    }
    store.add_dependency(&id, &other, kind, None)?;
    let opts = CloseOptions {
        reason: format!("{reason} {other}"),
        force: true,
        session: String::new(),
    };
    store.close(&id, &opts)?;
    Ok((id, other))
}

pub fn duplicate(g: &Global, a: &DuplicateArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let (dup, canonical) = close_in_favour_of(g, &a.id, &a.of, "duplicates", "duplicate of")?;
    if ui.is_json() {
        ui.json(
            &serde_json::json!({"duplicate": dup, "canonical": canonical, "status": "closed"}),
        )?;
    } else {
        ui.status(format!(
            "Marked {dup} as a duplicate of {canonical} (closed)"
        ));
    }
    Ok(())
}

pub fn supersede(g: &Global, a: &SupersedeArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let (old, new) = close_in_favour_of(g, &a.id, &a.with, "supersedes", "superseded by")?;
    if ui.is_json() {
        ui.json(&serde_json::json!({"superseded": old, "replacement": new, "status": "closed"}))?;
    } else {
        ui.status(format!("Marked {old} as superseded by {new} (closed)"));
    }
    Ok(())
}

/// A key made from the text: lower-case words joined by `-`, at most 40 characters.
fn slug(text: &str) -> String {
    let words = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase);
    let mut out = String::new();
    for w in words {
        if out.len() + w.len() + 1 > 40 {
            break;
        }
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(&w);
    }
    out
}

pub fn remember(g: &Global, a: &RememberArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    if a.insight.trim().is_empty() {
        return Err(ui::CliError::usage("the memory is empty").into());
    }
    let key = a.key.clone().unwrap_or_else(|| slug(&a.insight));
    if key.is_empty() {
        return Err(ui::CliError::usage("no key could be made from the text; give `--key`").into());
    }
    let mut store = super::open(g)?;
    let full = format!("{MEMORY_PREFIX}{key}");
    let action = if store.kv_get(&full)?.is_some() {
        "updated"
    } else {
        "remembered"
    };
    store.kv_set(&full, &a.insight)?;
    if ui.is_json() {
        ui.json(&serde_json::json!({"key": key, "value": a.insight, "action": action}))?;
    } else {
        ui.status(format!("{action} [{key}]: {}", render::safe(&a.insight)));
    }
    Ok(())
}

pub fn memories(g: &Global, a: &MemoriesArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let store = super::open(g)?;
    let needle = a.search.as_deref().map(str::to_lowercase);
    let found: serde_json::Map<String, serde_json::Value> = store
        .memories()?
        .into_iter()
        .filter(|(k, v)| {
            needle
                .as_deref()
                .is_none_or(|n| k.to_lowercase().contains(n) || v.to_lowercase().contains(n))
        })
        .map(|(k, v)| (k, v.into()))
        .collect();
    if ui.is_json() {
        ui.json(&found)?;
    } else if found.is_empty() {
        ui.status("No memories");
    } else {
        let rows: Vec<Vec<String>> = found
            .iter()
            .map(|(k, v)| {
                vec![
                    render::safe(k),
                    render::safe(v.as_str().unwrap_or_default()),
                ]
            })
            .collect();
        render::table(ui, &rows)?;
    }
    Ok(())
}

pub fn recall(g: &Global, a: &KeyArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let store = super::open(g)?;
    let Some(value) = store.kv_get(&format!("{MEMORY_PREFIX}{}", a.key))? else {
        return Err(
            ui::CliError::user(format!("no memory with key `{}`", a.key))
                .hint("`bd memories` lists them")
                .into(),
        );
    };
    if ui.is_json() {
        ui.json(&serde_json::json!({"key": a.key, "value": value}))?;
    } else {
        ui.line(value)?;
    }
    Ok(())
}

pub fn forget(g: &Global, a: &KeyArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let mut store = super::open(g)?;
    if !store.kv_clear(&format!("{MEMORY_PREFIX}{}", a.key))? {
        return Err(ui::CliError::user(format!("no memory with key `{}`", a.key)).into());
    }
    if ui.is_json() {
        ui.json(&serde_json::json!({"key": a.key, "action": "forgotten"}))?;
    } else {
        ui.status(format!("Forgot [{}]", a.key));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn slugs_are_short_lower_case_words() {
        assert_eq!(
            super::slug("Always run tests with -race!"),
            "always-run-tests-with-race"
        );
        assert_eq!(super::slug("?!"), "");
        assert!(super::slug(&"word ".repeat(30)).len() <= 40);
    }
}
