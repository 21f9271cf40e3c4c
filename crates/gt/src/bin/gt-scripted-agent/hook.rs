//! Which bead the agent works on, read from `gt prime` output or the beacon.
//!
//! `gt prime` names the hooked bead on a line such as `Hooked bead: gt-abc — Fix login`. The
//! exact wording is not pinned down, so any line matching
//! `^(Hooked|Hook|Working on)[^:]*:\s*(\S+)` counts, with Markdown emphasis and backticks
//! around the words ignored. The beacon carries `assigned:<id>`.

/// A bead as the agent knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bead {
    pub id: String,
    /// The title, or the id when no title was found.
    pub title: String,
}

/// The hooked bead named in `gt prime` output, with its title when the output shows one.
pub fn from_prime(output: &str) -> Option<Bead> {
    let (id, after) = output.lines().find_map(hook_line)?;
    let title = title_after_id(after)
        .or_else(|| output.lines().find_map(title_line))
        .unwrap_or_else(|| id.clone());
    Some(Bead { id, title })
}

/// The bead in a beacon's `assigned:<id>`.
pub fn from_beacon(beacon: &str) -> Option<String> {
    let (_, rest) = beacon.split_once("assigned:")?;
    let id: String = rest
        .trim_start()
        .chars()
        .take_while(|c| is_id_char(*c))
        .collect();
    let id = id.trim_end_matches(['.', '-']).to_owned();
    is_id(&id).then_some(id)
}

/// `Hooked bead: <id> rest…` → `(id, rest…)`.
fn hook_line(line: &str) -> Option<(String, &str)> {
    let line = strip_decoration(line);
    let starts = ["Hooked", "Hook", "Working on"]
        .iter()
        .any(|p| line.starts_with(p));
    if !starts {
        return None;
    }
    let (_, rest) = line.split_once(':')?;
    let rest = strip_decoration(rest);
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let id = rest[..end].trim_matches(|c: char| matches!(c, '`' | '*' | '"' | '\'' | ',' | ':'));
    is_id(id).then(|| (id.to_owned(), &rest[end..]))
}

/// A line `Title: <title>`.
fn title_line(line: &str) -> Option<String> {
    let rest = strip_decoration(line).strip_prefix("Title")?;
    let title = strip_decoration(rest.strip_prefix(':')?);
    (!title.is_empty()).then(|| title.to_owned())
}

/// The title after the id on a hook line: `— Fix login`, `: Fix login`, `"Fix login"`.
fn title_after_id(rest: &str) -> Option<String> {
    let title = rest
        .trim_start_matches(|c: char| {
            c.is_whitespace() || matches!(c, '—' | '–' | '-' | ':' | '*' | '`')
        })
        .trim_end();
    let title = title
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(title);
    (!title.is_empty()).then(|| title.to_owned())
}

/// `line` without leading whitespace and Markdown decoration (`**`, `#`, `-`, `>`).
fn strip_decoration(line: &str) -> &str {
    line.trim_start_matches(|c: char| c.is_whitespace() || matches!(c, '*' | '#' | '-' | '>' | '_'))
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// A plausible bead id: `<prefix>-<rest>`, such as `gt-abc` or `gt-abc.1`; not `none`.
fn is_id(id: &str) -> bool {
    id.contains('-')
        && id.chars().all(is_id_char)
        && id.starts_with(|c: char| c.is_ascii_alphanumeric())
        && id.ends_with(|c: char| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bead(id: &str, title: &str) -> Option<Bead> {
        Some(Bead {
            id: id.into(),
            title: title.into(),
        })
    }

    #[test]
    fn reads_the_hook_line_in_its_forms() {
        assert_eq!(
            from_prime("Role: polecat\nHooked bead: gt-abc — Fix login\n"),
            bead("gt-abc", "Fix login")
        );
        assert_eq!(
            from_prime("## Hook: `gt-x1.2`\nTitle: Add a thing\n"),
            bead("gt-x1.2", "Add a thing")
        );
        assert_eq!(
            from_prime("**Working on:** gt-9z: \"Quoted\"\n"),
            bead("gt-9z", "Quoted")
        );
        assert_eq!(
            from_prime("Hooked work (bead): gt-q\n"),
            bead("gt-q", "gt-q")
        );
    }

    #[test]
    fn reads_gt_prime_output() {
        let prime = "\
# Gas Town: polecat nux of rig gastown

You are a polecat: a worker with your own git worktree and branch, here to finish one bead.
Address: gastown/polecats/nux

## Your work

Hooked bead: gt-b3ac
Title: Fix the login page
Status: hooked · priority P2 · type task

## When you are stuck

- Need a human or the mayor: `gt done --status ESCALATED`, then stop.
";
        assert_eq!(from_prime(prime), bead("gt-b3ac", "Fix the login page"));
    }

    #[test]
    fn ignores_lines_that_name_no_bead() {
        assert_eq!(from_prime("Hook: (none)\nnothing here\n"), None);
        assert_eq!(from_prime("Hook: none\n"), None);
        assert_eq!(from_prime("The Hooked bead: gt-abc\n"), None);
        assert_eq!(from_prime(""), None);
        // A later line that does name one is used.
        assert_eq!(
            from_prime("Hook: none\nHooked bead: gt-b Two\n"),
            bead("gt-b", "Two")
        );
    }

    #[test]
    fn reads_the_beacon() {
        let beacon = "[GAS TOWN] gastown/polecats/furiosa <- witness • 2026-01-02T15:42 • assigned:gt-abc\n\nRun `gt prime --hook` and begin work on your hook.";
        assert_eq!(from_beacon(beacon).as_deref(), Some("gt-abc"));
        assert_eq!(from_beacon("assigned:gt-a.1.").as_deref(), Some("gt-a.1"));
        assert_eq!(from_beacon("assigned: nothing"), None);
        assert_eq!(from_beacon("no assignment"), None);
    }
}
