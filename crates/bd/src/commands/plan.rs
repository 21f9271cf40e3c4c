//! `bd create -f plan.md`: several issues from a markdown plan, upstream's format.
//!
//! Each `## Title` starts an issue; text under it is the description. `### Section` headings
//! inside an issue set a field: Priority, Type, Description, Design, Acceptance Criteria (or
//! Acceptance), Assignee, Labels, Dependencies (or Deps). Lists are split at commas and
//! whitespace; a dependency is `id` (blocks) or `type:id`. Unknown sections are ignored, as
//! upstream does; a bad priority, type or dependency is an error naming the issue.

use beads::NewIssue;

/// Parses a plan into new issues, in document order.
pub fn parse(text: &str) -> anyhow::Result<Vec<NewIssue>> {
    let mut issues: Vec<NewIssue> = Vec::new();
    let mut section: Option<String> = None;
    let mut body = String::new();
    for line in text.lines() {
        if let Some(title) = heading(line, "##") {
            finish(issues.last_mut(), section.take(), &mut body)?;
            issues.push(NewIssue {
                title: title.to_owned(),
                ..NewIssue::default()
            });
        } else if let Some(name) = heading(line, "###") {
            finish(issues.last_mut(), section.take(), &mut body)?;
            section = Some(name.to_owned());
        } else if let Some(issue) = issues.last_mut() {
            if section.is_some() {
                body.push_str(line);
                body.push('\n');
            } else if !line.trim().is_empty() || !issue.description.is_empty() {
                // Text between the title and the first section is the description.
                issue.description.push_str(line);
                issue.description.push('\n');
            }
        }
    }
    finish(issues.last_mut(), section, &mut body)?;
    if issues.is_empty() {
        return Err(ui::CliError::user(
            "no issues found in the plan (each starts with a `## Title` line)",
        )
        .into());
    }
    for issue in &mut issues {
        issue.description = issue.description.trim().to_owned();
    }
    Ok(issues)
}

/// `line` as a heading of exactly this level (`##` is not `###`), trimmed.
fn heading<'a>(line: &'a str, marks: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(marks)?;
    if rest.starts_with('#') || !rest.starts_with(char::is_whitespace) {
        return None;
    }
    Some(rest.trim()).filter(|t| !t.is_empty())
}

/// Applies the finished section `name` (its text in `body`) to `issue`, and empties `body`.
fn finish(
    issue: Option<&mut NewIssue>,
    name: Option<String>,
    body: &mut String,
) -> anyhow::Result<()> {
    let text = std::mem::take(body);
    let (Some(issue), Some(name)) = (issue, name) else {
        return Ok(());
    };
    let content = text.trim();
    if content.is_empty() {
        return Ok(());
    }
    let bad = |what: &str| {
        ui::CliError::user(format!(
            "issue `{}` in the plan: {what} `{content}`",
            issue.title
        ))
    };
    let list = || -> Vec<String> {
        content
            .split([',', ' ', '\n', '\t'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    match name.to_ascii_lowercase().as_str() {
        "priority" => {
            issue.priority =
                Some(beads::model::parse_priority(content).map_err(|_| bad("bad priority"))?);
        }
        "type" => issue.issue_type = Some(content.to_owned()),
        "description" => issue.description = content.to_owned(),
        "design" => issue.design = content.to_owned(),
        "acceptance criteria" | "acceptance" => issue.acceptance_criteria = content.to_owned(),
        "assignee" => issue.assignee = content.to_owned(),
        "labels" => issue.labels = list(),
        "dependencies" | "deps" => {
            issue.deps = list()
                .iter()
                .map(|spec| super::create::parse_dep(spec))
                .collect();
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse;

    const PLAN: &str = "\
# Sprint

Intro text before any issue is ignored.

## Add login
Users sign in with email.

More detail.

### Priority
1

### Type
feature

### Labels
auth, ui

### Dependencies
t-db, related:t-doc

## Write docs
### Acceptance Criteria
- a page
- an example
### Unknown
ignored
";

    #[test]
    fn a_plan_becomes_issues_with_their_fields() {
        let issues = parse(PLAN).unwrap();
        assert_eq!(issues.len(), 2);
        let login = &issues[0];
        assert_eq!(login.title, "Add login");
        assert_eq!(
            login.description,
            "Users sign in with email.\n\nMore detail."
        );
        assert_eq!(login.priority, Some(1));
        assert_eq!(login.issue_type.as_deref(), Some("feature"));
        assert_eq!(login.labels, ["auth", "ui"]);
        assert_eq!(
            login.deps,
            [
                ("blocks".to_owned(), "t-db".to_owned()),
                ("related".to_owned(), "t-doc".to_owned())
            ]
        );
        assert_eq!(issues[1].acceptance_criteria, "- a page\n- an example");
        assert_eq!(issues[1].priority, None);
    }

    #[test]
    fn a_plan_without_issues_or_with_a_bad_priority_is_an_error() {
        assert!(parse("# Only a title\n\ntext\n").is_err());
        let err = parse("## A\n### Priority\nurgent\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`A`") && err.contains("urgent"), "{err}");
    }
}
