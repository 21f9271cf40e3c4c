//! `gt prime`: the context an agent reads when its session starts (the `SessionStart` hook
//! runs `gt prime --hook`) — who it is, the work on its hook, how to finish and what to do
//! when stuck. Written in our own words for our commands.

use std::fmt::Write as _;

use crate::layout::Town;
use crate::work::Result;
use crate::work::identity::PolecatId;

/// What prime knows about the caller.
#[derive(Debug, Clone)]
pub enum Role {
    /// A polecat, by its worktree or `GT_ROLE`.
    Polecat(PolecatId),
    /// The mayor (`GT_ROLE=mayor`).
    Mayor,
    /// A crew member, by `GT_ROLE` or its clone.
    Crew { rig: String, name: String },
    /// Anyone else in the town (the mayor, a human at the root).
    Town,
}

/// Renders the prime text for `role`.
pub fn render(town: &Town, store: &beads::Store, role: &Role) -> Result<String> {
    match role {
        Role::Polecat(id) => polecat(town, store, id),
        Role::Mayor => crate::roles::prompt::mayor(town, store),
        Role::Crew { rig, name } => crate::roles::prompt::crew(town, store, rig, name),
        Role::Town => overview(town, store),
    }
}

fn polecat(town: &Town, store: &beads::Store, id: &PolecatId) -> Result<String> {
    let mut out = String::new();
    let row = store.polecat(&id.rig, &id.name)?;
    let worktree = id.worktree(town);
    let _ = writeln!(out, "# Gas Town: polecat {} of rig {}", id.name, id.rig);
    out.push('\n');
    let _ = writeln!(
        out,
        "You are a polecat: a worker with your own git worktree and branch, here to finish one bead."
    );
    let _ = writeln!(out, "Address: {}", id.address());
    let _ = writeln!(out, "Worktree: {}", worktree.display());
    if let Some(p) = &row {
        let _ = writeln!(out, "Branch: {}", p.branch);
    }
    out.push('\n');
    let directives =
        beads::formula::directives(&[town.rig_dir(&id.rig), town.root().to_owned()], "polecat")?;
    if !directives.trim().is_empty() {
        out.push_str("## Directives\n\n");
        out.push_str(directives.trim_end());
        out.push_str("\n\n");
    }
    let bead = row
        .as_ref()
        .map(|p| p.bead_id.clone())
        .filter(|b| !b.is_empty());
    let Some(bead) = bead else {
        out.push_str("## Your work\n\nNothing is hooked to you. Run `gt hook` to check again; if it stays empty, wait.\n");
        return Ok(out);
    };
    let details = store.show(&bead)?;
    let issue = &details.issue;
    out.push_str("## Your work\n\n");
    let _ = writeln!(out, "Hooked bead: {}", issue.id);
    let _ = writeln!(out, "Title: {}", shown(&issue.title, false));
    let _ = writeln!(
        out,
        "Status: {} · priority P{} · type {}",
        issue.status, issue.priority, issue.issue_type
    );
    if !issue.description.is_empty() {
        out.push('\n');
        out.push_str(&shown(issue.description.trim_end(), true));
        out.push('\n');
    }
    if !issue.acceptance_criteria.is_empty() {
        out.push_str("\nAcceptance criteria:\n");
        out.push_str(&shown(issue.acceptance_criteria.trim_end(), true));
        out.push('\n');
    }
    steps(store, issue, &mut out)?;
    let target = crate::layout::RigPaths::new(town, &id.rig)
        .config_opt()?
        .map(|c| c.default_branch)
        .unwrap_or_else(|| "main".into());
    sent_back(store, id, &details, &target, &mut out)?;
    let _ = write!(
        out,
        "
## When you are done

1. Commit your work on this branch: `git add -A && git commit -m \"{id}: <what you did>\"`.
2. Run `gt done`. It pushes your branch, queues a merge request and hands the bead to the
   refinery, which tests it and lands it on `{target}`. The bead closes when it lands.

If the bead turns out to need no change: `bd close {id} --reason no-changes`, then `gt done`.

## When you are stuck

- Write down what you found: `bd comment {id} \"...\"`.
- Need a human or the mayor: `gt done --status ESCALATED`, then stop.
- Blocked by other work: `bd dep add {id} <blocker-id>`, then `gt done --status DEFERRED`.

Stay inside your worktree. Never push to `{target}` yourself: the refinery lands every change.
",
        id = issue.id
    );
    Ok(out)
}

/// When the bead's latest merge request came back from the refinery (a gate failed, or it no
/// longer merges), why — in the refinery's own words: the note it left on the bead, with the
/// failing gate's output or the conflicting files — and what to do about it.
fn sent_back(
    store: &beads::Store,
    id: &PolecatId,
    details: &beads::IssueDetails,
    target: &str,
    out: &mut String,
) -> Result<()> {
    let bead = &details.issue.id;
    let Some(mr) = store
        .mrs(Some(&id.rig), &[])?
        .into_iter()
        .filter(|m| &m.bead_id == bead)
        .max_by_key(|m| m.id)
    else {
        return Ok(());
    };
    let todo = match mr.state.as_str() {
        "failed" => "Fix what the gate reports".to_owned(),
        "conflict" => format!(
            "Merge `origin/{target}` into your branch (`git fetch origin && git merge origin/{target}`; do not rebase: `gt done` does not force-push), resolve the conflicts"
        ),
        _ => return Ok(()),
    };
    let label = mr.label();
    let _ = writeln!(out, "\n## Sent back by the refinery\n");
    let _ = writeln!(
        out,
        "Your merge request {label} (commit {}) did not land: {} — {}.",
        short(&mr.sha),
        mr.state,
        shown(&mr.reason, false)
    );
    if let Some(note) = details
        .comments
        .iter()
        .rev()
        .find(|c| c.text.starts_with("Refinery:") && names(&c.text, &label))
    {
        out.push('\n');
        out.push_str(&shown(note.text.trim_end(), true));
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "\n{todo} on this branch, commit, then run `gt done` again: it queues a new merge request.\nDo not push to `{target}` yourself."
    );
    Ok(())
}

/// Whether `text` names the merge request `label` (`mr-1`, not `mr-12`).
fn names(text: &str, label: &str) -> bool {
    text.match_indices(label).any(|(at, _)| {
        !text[at + label.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    })
}

/// A commit's short form.
fn short(sha: &str) -> &str {
    sha.get(..10).unwrap_or(sha)
}

/// The bead's checklist: the steps of its attached formula (`metadata.attached_molecule`),
/// or else its child beads, with the current one marked.
fn steps(store: &beads::Store, issue: &beads::Issue, out: &mut String) -> Result<()> {
    let attached = issue
        .metadata
        .as_ref()
        .and_then(|m| m.get("attached_molecule"))
        .and_then(|v| v.as_str());
    let (heading, rows): (String, Vec<(String, String, String, bool)>) = match attached {
        Some(root) => {
            let mol = store.molecule(root)?;
            let formula = issue
                .metadata
                .as_ref()
                .and_then(|m| m.get("attached_formula"))
                .and_then(|v| v.as_str())
                .unwrap_or("formula");
            let rows = mol
                .steps
                .iter()
                .filter(|s| s.issue.issue_type != "gate")
                .map(|s| {
                    (
                        s.issue.id.clone(),
                        s.issue.title.clone(),
                        s.issue.status.clone(),
                        s.current,
                    )
                })
                .collect();
            (
                format!(
                    "Steps ({formula}, {}/{} done)",
                    mol.progress.done, mol.progress.total
                ),
                rows,
            )
        }
        None => {
            let kids = store.children(&issue.id)?;
            let current = kids.iter().position(|s| s.issue.status != "closed");
            let rows = kids
                .iter()
                .enumerate()
                .map(|(n, s)| {
                    (
                        s.issue.id.clone(),
                        s.issue.title.clone(),
                        s.issue.status.clone(),
                        Some(n) == current,
                    )
                })
                .collect();
            ("Steps".to_owned(), rows)
        }
    };
    if rows.is_empty() {
        return Ok(());
    }
    let _ = writeln!(out, "\n## {heading}\n");
    for (id, title, status, current) in &rows {
        let mark = if status == "closed" {
            "[x]"
        } else if *current {
            "[>]"
        } else {
            "[ ]"
        };
        let here = if *current { "   <- current step" } else { "" };
        let _ = writeln!(out, "{mark} {id}  {}{here}", shown(title, false));
    }
    out.push_str("\nClose each step as you finish it: `bd close <step-id>`.\n");
    Ok(())
}

/// Bead text as prime shows it: control characters (escape sequences, bells, carriage
/// returns) written as `\u{1b}`, so a bead cannot drive the terminal or pane prime is read in;
/// with `lines`, newlines and tabs stay.
pub(crate) fn shown(text: &str, lines: bool) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\t' if lines => c.to_string(),
            '\n' => "\\n".to_owned(),
            '\t' => "\\t".to_owned(),
            c if c.is_control() => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect()
}

fn overview(town: &Town, store: &beads::Store) -> Result<String> {
    let mut out = String::new();
    let name = town
        .config()
        .map(|c| c.name)
        .unwrap_or_else(|_| "town".into());
    let _ = writeln!(out, "# Gas Town: {name}\n");
    out.push_str("You are in the town root. Work is tracked as beads (`bd`) and done by polecats in rigs.\n\n");
    let rigs = crate::rig::summaries(town, store)?;
    if rigs.is_empty() {
        out.push_str("No rigs yet. Add one: `gt rig add <name> <git-url>`.\n");
    } else {
        out.push_str("## Rigs\n\n");
        for r in &rigs {
            let _ = writeln!(
                out,
                "- {} (prefix `{}`, branch `{}`): {} open, {} in flight",
                r.name,
                r.prefix,
                r.default_branch,
                r.open,
                r.in_progress + r.hooked
            );
        }
    }
    out.push_str(
        "
## Commands

- `bd create \"title\"` inside a rig's directory files a bead for that rig.
- `gt sling <bead> <rig>` starts a polecat on it; `gt convoy status` follows batches.
- `gt status` shows the town; `gt polecat list` the workers; `gt peek <rig>/<polecat>` one session.
",
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{names, shown};

    #[test]
    fn a_note_names_its_merge_request_exactly() {
        assert!(names("Refinery: gate `test` failed on mr-1:\n", "mr-1"));
        assert!(names("Refinery: mr-1 conflicts", "mr-1"));
        assert!(names("at the end mr-1", "mr-1"));
        assert!(!names("Refinery: gate `test` failed on mr-12:", "mr-1"));
        assert!(names("mr-12 and mr-1.", "mr-1"));
    }

    #[test]
    fn bead_text_is_shown_without_control_characters() {
        assert_eq!(shown("plain $(x) `y`", false), "plain $(x) `y`");
        assert_eq!(shown("a\u{1b}[31mb\u{7}", false), "a\\u{1b}[31mb\\u{7}");
        assert_eq!(shown("a\nb\tc", false), "a\\nb\\tc");
        assert_eq!(shown("a\nb\tc\r", true), "a\nb\tc\\u{d}");
    }
}
