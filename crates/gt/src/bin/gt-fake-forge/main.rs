//! `gt-fake-forge`: a stand-in for the forge CLIs `gh` (GitHub) and `glab` (GitLab), for tests
//! and demos without a network. Installed under those names (a link named `gh` or `glab`), it
//! answers the subcommands the refinery uses with the same flags and JSON fields as the real
//! CLIs, over a "forge" kept in files beside the repository: the bare repository that is the
//! working directory's `origin` holds `fake-forge/prs.json` (the pull requests) and
//! `fake-forge/log` (every call), and merging a pull request writes the merge to that bare
//! repository, as the forge would.
//!
//! Knobs, files under `fake-forge/knobs/` that a test writes:
//! - `checks`: the checks every pull request reports, JSON `[{"name": "ci", "bucket": "pass"}]`
//!   (`pass`, `fail` or `pending`; the default is one passing `ci`);
//! - `require-review`: the target requires an approval (`gh pr review --approve`, `glab mr
//!   approve`) before a merge;
//! - `eject`: GitHub's merge queue ejects whatever is in it;
//! - `methods`: `gh repo view`'s `mergeCommitAllowed`, `squashMergeAllowed`, `rebaseMergeAllowed`
//!   (all allowed by default);
//! - `no-approvals-api`: GitLab's merge request approvals endpoint answers 404, as where the
//!   project's tier lacks it;
//! - `refuse`: `pr merge`/`mr merge` fails with the knob's text as the forge's message (a branch
//!   protection rule, missing permissions), whatever the pull request's state.
//!
//! Every change to a pull request (opened, commented, approved, closed, merged) moves its
//! `updatedAt`/`updated_at`, as on the real forges.
//!
//! `GT_FAKE_FORGE_AUTH=fail` makes `auth status` report no login. `--admin` is refused: nothing
//! may skip the forge's rules.
#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a CLI stand-in speaks on stdout and stderr like the real one"
)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use host::git::Git;
use serde_json::{Value, json};

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let name = argv
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let kind = match name.as_str() {
        "gh" => Kind::Github,
        "glab" => Kind::Gitlab,
        other => {
            eprintln!("gt-fake-forge: run me as `gh` or `glab` (a link), not `{other}`");
            return ExitCode::from(2);
        }
    };
    let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
    match run(kind, &args) {
        Ok(Reply { out, code }) => {
            print!("{out}");
            ExitCode::from(code)
        }
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::from(1)
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Github,
    Gitlab,
}

/// What to print on stdout, and the exit code.
struct Reply {
    out: String,
    code: u8,
}

impl Reply {
    fn ok(out: impl Into<String>) -> Self {
        Self {
            out: out.into(),
            code: 0,
        }
    }
    fn json(v: &Value) -> Self {
        Self::ok(format!("{v}\n"))
    }
}

fn run(kind: Kind, args: &[&str]) -> anyhow::Result<Reply> {
    if args.first() == Some(&"auth") && args.get(1) == Some(&"status") {
        return auth(kind);
    }
    let mut forge = Forge::open(kind)?;
    forge.log(args)?;
    if has(args, "--admin") {
        bail!("gt-fake-forge: `--admin` skips the branch's rules and is refused");
    }
    forge.advance_queue()?;
    let reply = match (kind, args) {
        (Kind::Github, ["pr", "list", rest @ ..]) => forge.list(rest)?,
        (Kind::Gitlab, ["mr", "list", rest @ ..]) => forge.list(rest)?,
        (_, ["pr" | "mr", "create", rest @ ..]) => forge.create(rest)?,
        (_, ["pr" | "mr", "view", n, rest @ ..]) => forge.view(number(n)?, rest)?,
        (Kind::Github, ["pr", "checks", n, rest @ ..]) => forge.gh_checks(number(n)?, rest)?,
        (Kind::Gitlab, ["ci", "get", rest @ ..]) => forge.gl_pipeline(rest)?,
        (_, ["pr" | "mr", "merge", n, rest @ ..]) => forge.merge_cmd(number(n)?, rest)?,
        (Kind::Github, ["pr", "review", n, rest @ ..]) if has(rest, "--approve") => {
            forge.approve(number(n)?)?
        }
        (Kind::Gitlab, ["mr", "approve", n, ..]) => forge.approve(number(n)?)?,
        (Kind::Github, ["pr", "comment", n, rest @ ..]) => {
            let body = flag(rest, &["--body", "-b"]).context("--body required")?;
            forge.comment(number(n)?, body)?
        }
        (Kind::Gitlab, ["mr", "note", n, rest @ ..]) => {
            let body = flag(rest, &["--message", "-m"]).context("--message required")?;
            forge.comment(number(n)?, body)?
        }
        (_, ["pr" | "mr", "close", n, rest @ ..]) => {
            forge.close(number(n)?, flag(rest, &["--comment", "-c"]))?
        }
        (Kind::Github, ["repo", "view", rest @ ..]) => forge.repo_view(rest)?,
        (Kind::Github, ["api", "graphql", rest @ ..]) => forge.graphql(rest)?,
        (Kind::Gitlab, ["api", path]) => forge.gl_api(path)?,
        _ => bail!("gt-fake-forge: unknown command `{}`", args.join(" ")),
    };
    forge.save()?;
    Ok(reply)
}

fn auth(kind: Kind) -> anyhow::Result<Reply> {
    let failing = host::env::var(host::env::GT_FAKE_FORGE_AUTH).as_deref() == Some("fail");
    match (kind, failing) {
        (Kind::Github, true) => {
            bail!("You are not logged into any GitHub hosts. To log in, run: gh auth login")
        }
        (Kind::Gitlab, true) => bail!("No token found for gitlab.com. Run `glab auth login`."),
        (Kind::Github, false) => Ok(Reply::ok(
            "github.com\n  ✓ Logged in to github.com account fake (keyring)\n",
        )),
        (Kind::Gitlab, false) => Ok(Reply::ok(
            "gitlab.com\n  ✓ Logged in to gitlab.com as fake\n",
        )),
    }
}

fn has(args: &[&str], flag: &str) -> bool {
    args.contains(&flag)
}

/// The value after `flag` (or the first of `flags` present).
fn flag<'a>(args: &[&'a str], flags: &[&str]) -> Option<&'a str> {
    args.windows(2)
        .find(|w| flags.contains(&w[0]))
        .map(|w| w[1])
}

/// Every value given to a repeatable `flag`.
fn flags<'a>(args: &[&'a str], name: &str) -> Vec<&'a str> {
    args.windows(2)
        .filter(|w| w[0] == name)
        .flat_map(|w| w[1].split(','))
        .collect()
}

/// A pull request's `updatedAt`: a second later for each change.
fn updated_at(pr: &Value) -> String {
    let n = pr["updated"].as_u64().unwrap_or_default();
    format!(
        "2026-01-01T{:02}:{:02}:{:02}Z",
        n / 3600 % 24,
        n / 60 % 60,
        n % 60
    )
}

fn number(text: &str) -> anyhow::Result<u64> {
    text.trim_start_matches('#')
        .parse()
        .with_context(|| format!("`{text}` is not a pull request number"))
}

/// The forge's state for one repository.
struct Forge {
    kind: Kind,
    /// The bare repository.
    repo: PathBuf,
    dir: PathBuf,
    prs: Vec<Value>,
    _lock: host::lock::LockGuard,
}

const COMMITTER: [(&str, &str); 4] = [
    ("GIT_COMMITTER_NAME", "Fake Forge"),
    ("GIT_COMMITTER_EMAIL", "forge@example.invalid"),
    ("GIT_AUTHOR_NAME", "Fake Forge"),
    ("GIT_AUTHOR_EMAIL", "forge@example.invalid"),
];

impl Forge {
    fn open(kind: Kind) -> anyhow::Result<Self> {
        let cwd = host::env::current_dir()?;
        let url = Git::new(&cwd)
            .run(&["remote", "get-url", "origin"])
            .context("gt-fake-forge: not in a checkout with an `origin`")?;
        let url = url.trim();
        let repo = PathBuf::from(url.strip_prefix("file://").unwrap_or(url));
        let dir = repo.join("fake-forge");
        std::fs::create_dir_all(dir.join("knobs"))?;
        let lock = host::lock::lock(&dir.join("lock"))?;
        let prs = match std::fs::read_to_string(dir.join("prs.json")) {
            Ok(text) => serde_json::from_str(&text)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        Ok(Self {
            kind,
            repo,
            dir,
            prs,
            _lock: lock,
        })
    }

    fn save(&self) -> anyhow::Result<()> {
        let tmp = self.dir.join("prs.json.tmp");
        std::fs::write(&tmp, serde_json::to_string_pretty(&self.prs)?)?;
        std::fs::rename(tmp, self.dir.join("prs.json"))?;
        Ok(())
    }

    fn log(&self, args: &[&str]) -> anyhow::Result<()> {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("log"))?;
        let prog = match self.kind {
            Kind::Github => "gh",
            Kind::Gitlab => "glab",
        };
        writeln!(f, "{prog} {}", args.join(" "))?;
        Ok(())
    }

    fn knob(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.dir.join("knobs").join(name)).ok()
    }

    fn git(&self) -> Git {
        COMMITTER
            .iter()
            .fold(Git::new(&self.repo), |g, (k, v)| g.env(*k, *v))
    }

    fn rev(&self, branch: &str) -> Option<String> {
        self.git()
            .run(&[
                "rev-parse",
                "--verify",
                "-q",
                &format!("refs/heads/{branch}"),
            ])
            .ok()
            .map(|s| s.trim().to_owned())
    }

    fn pr(&mut self, n: u64) -> anyhow::Result<&mut Value> {
        self.prs
            .iter_mut()
            .find(|p| p["number"] == n)
            .with_context(|| format!("no pull request found for #{n}"))
    }

    fn url(&self, n: u64) -> String {
        match self.kind {
            Kind::Github => format!("https://github.com/fake/repo/pull/{n}"),
            Kind::Gitlab => format!("https://gitlab.com/fake/repo/-/merge_requests/{n}"),
        }
    }

    /// The head commit: the branch's tip while it exists, else the last one seen.
    fn head_of(&self, pr: &Value) -> String {
        let branch = pr["head"].as_str().unwrap_or_default();
        self.rev(branch)
            .unwrap_or_else(|| pr["head_sha"].as_str().unwrap_or_default().to_owned())
    }

    fn checks(&self) -> anyhow::Result<Vec<Value>> {
        Ok(match self.knob("checks") {
            Some(text) => serde_json::from_str(&text).context("knobs/checks is not JSON")?,
            None => vec![json!({"name": "ci", "bucket": "pass"})],
        })
    }

    fn worst_check(&self) -> anyhow::Result<&'static str> {
        let checks = self.checks()?;
        let bucket = |b: &str| checks.iter().any(|c| c["bucket"] == b);
        Ok(if bucket("fail") {
            "fail"
        } else if bucket("pending") {
            "pending"
        } else {
            "pass"
        })
    }

    fn review_missing(&self, pr: &Value) -> bool {
        self.knob("require-review").is_some() && pr["approved"] != true
    }

    fn conflicting(&self, pr: &Value) -> bool {
        let base = self.rev(pr["base"].as_str().unwrap_or_default());
        let head = self.head_of(pr);
        base.is_some_and(|base| {
            self.git()
                .output(&["merge-tree", "--write-tree", &base, &head])
                .map(|o| o.status.code() == Some(1))
                .unwrap_or(false)
        })
    }

    fn list(&mut self, args: &[&str]) -> anyhow::Result<Reply> {
        self.wants_json(args)?;
        let head = flag(args, &["--head", "--source-branch"]);
        let base = flag(args, &["--base", "--target-branch"]);
        let key = match self.kind {
            Kind::Github => "number",
            Kind::Gitlab => "iid",
        };
        let found: Vec<Value> = self
            .prs
            .iter()
            .filter(|p| p["state"] == "OPEN")
            .filter(|p| head.is_none_or(|h| p["head"] == h))
            .filter(|p| base.is_none_or(|b| p["base"] == b))
            .map(|p| json!({ key: p["number"], "title": p["title"] }))
            .collect();
        Ok(Reply::json(&Value::Array(found)))
    }

    /// The real CLIs print a table unless asked for JSON: `gh … --json <fields>`, `glab …
    /// -F json` (`--output json`).
    fn wants_json(&self, args: &[&str]) -> anyhow::Result<()> {
        let asked = match self.kind {
            Kind::Github => flag(args, &["--json"]).is_some(),
            Kind::Gitlab => flag(args, &["-F", "--output"]) == Some("json"),
        };
        if !asked {
            bail!(
                "gt-fake-forge: `{}` would print text, not JSON",
                args.join(" ")
            );
        }
        Ok(())
    }

    fn create(&mut self, args: &[&str]) -> anyhow::Result<Reply> {
        let head = flag(args, &["--head", "--source-branch"]).context("--head required")?;
        let base = flag(args, &["--base", "--target-branch"]).context("--base required")?;
        let title = flag(args, &["--title"]).context("--title required")?;
        let body = flag(args, &["--body", "--description"]).unwrap_or_default();
        if self.rev(head).is_none() {
            bail!("pull request create failed: head branch `{head}` does not exist");
        }
        if let Some(open) = self
            .prs
            .iter()
            .find(|p| p["state"] == "OPEN" && p["head"] == head && p["base"] == base)
        {
            bail!(
                "a pull request for branch \"{head}\" into branch \"{base}\" already exists:\n{}",
                self.url(open["number"].as_u64().unwrap_or_default())
            );
        }
        let n = self.prs.len() as u64 + 1;
        self.prs.push(json!({
            "number": n,
            "head": head,
            "base": base,
            "title": title,
            "body": body,
            "labels": flags(args, "--label"),
            "state": "OPEN",
            "approved": false,
            "queued": false,
            "merge_commit": null,
            "head_sha": self.rev(head),
            "comments": [],
            "updated": 0,
        }));
        Ok(Reply::ok(format!("{}\n", self.url(n))))
    }

    fn view(&mut self, n: u64, args: &[&str]) -> anyhow::Result<Reply> {
        let pr = self.pr(n)?.clone();
        let head = self.head_of(&pr);
        let checks = self.worst_check()?;
        let conflicting = pr["state"] == "OPEN" && self.conflicting(&pr);
        match self.kind {
            Kind::Github => {
                let full = json!({
                    "number": n,
                    "url": self.url(n),
                    "title": pr["title"],
                    "body": pr["body"],
                    "state": pr["state"],
                    "headRefName": pr["head"],
                    "baseRefName": pr["base"],
                    "headRefOid": head,
                    "mergeCommit": pr["merge_commit"].as_str().map(|oid| json!({"oid": oid})),
                    "reviewDecision": if self.knob("require-review").is_none() {
                        ""
                    } else if pr["approved"] == true {
                        "APPROVED"
                    } else {
                        "REVIEW_REQUIRED"
                    },
                    "mergeable": if conflicting { "CONFLICTING" } else { "MERGEABLE" },
                    "autoMergeRequest": null,
                    "updatedAt": updated_at(&pr),
                    "labels": pr["labels"].as_array().map(|ls| ls.iter().map(|l| json!({"name": l})).collect::<Vec<_>>()),
                });
                let fields = flag(args, &["--json"]).context("gt-fake-forge wants --json")?;
                let picked: serde_json::Map<String, Value> = fields
                    .split(',')
                    .map(|f| (f.to_owned(), full.get(f).cloned().unwrap_or(Value::Null)))
                    .collect();
                Ok(Reply::json(&Value::Object(picked)))
            }
            Kind::Gitlab => {
                self.wants_json(args)?;
                let state = match pr["state"].as_str() {
                    Some("MERGED") => "merged",
                    Some("CLOSED") => "closed",
                    _ => "opened",
                };
                let status = if conflicting {
                    "conflict"
                } else if self.review_missing(&pr) {
                    "not_approved"
                } else if checks == "pending" {
                    "ci_still_running"
                } else {
                    "mergeable"
                };
                Ok(Reply::json(&json!({
                    "iid": n,
                    "web_url": self.url(n),
                    "title": pr["title"],
                    "description": pr["body"],
                    "state": state,
                    "source_branch": pr["head"],
                    "target_branch": pr["base"],
                    "sha": head,
                    "merge_commit_sha": if pr["method"] == "squash" { Value::Null } else { pr["merge_commit"].clone() },
                    "squash_commit_sha": if pr["method"] == "squash" { pr["merge_commit"].clone() } else { Value::Null },
                    "detailed_merge_status": status,
                    "has_conflicts": conflicting,
                    "updated_at": updated_at(&pr),
                    "labels": pr["labels"],
                    "head_pipeline": {
                        "id": n,
                        "status": match checks { "fail" => "failed", "pending" => "running", _ => "success" },
                        "web_url": format!("{}/pipelines", self.url(n)),
                    },
                })))
            }
        }
    }

    fn gh_checks(&mut self, n: u64, _args: &[&str]) -> anyhow::Result<Reply> {
        self.pr(n)?;
        let url = self.url(n);
        let checks: Vec<Value> = self
            .checks()?
            .into_iter()
            .map(|c| {
                let name = c["name"].as_str().unwrap_or("ci").to_owned();
                let bucket = c["bucket"].as_str().unwrap_or("pass").to_owned();
                let state = match bucket.as_str() {
                    "fail" => "FAILURE",
                    "pending" => "IN_PROGRESS",
                    _ => "SUCCESS",
                };
                json!({
                    "name": name,
                    "state": state,
                    "bucket": bucket,
                    "link": format!("{url}/checks/{name}"),
                })
            })
            .collect();
        let code = match self.worst_check()? {
            "fail" => 1,
            "pending" => 8,
            _ => 0,
        };
        Ok(Reply {
            out: format!("{}\n", Value::Array(checks)),
            code,
        })
    }

    fn gl_pipeline(&mut self, args: &[&str]) -> anyhow::Result<Reply> {
        self.wants_json(args)?;
        let id = number(flag(args, &["--pipeline-id", "-p"]).context("--pipeline-id required")?)?;
        let url = self.url(id);
        let jobs: Vec<Value> = self
            .checks()?
            .into_iter()
            .map(|c| {
                let name = c["name"].as_str().unwrap_or("ci").to_owned();
                let status = match c["bucket"].as_str() {
                    Some("fail") => "failed",
                    Some("pending") => "running",
                    _ => "success",
                };
                json!({"name": name, "status": status, "web_url": format!("{url}/jobs/{name}")})
            })
            .collect();
        Ok(Reply::json(&json!({"id": id, "jobs": jobs})))
    }

    /// Marks pull request `n` changed now.
    fn touch(&mut self, n: u64) -> anyhow::Result<&mut Value> {
        let pr = self.pr(n)?;
        pr["updated"] = json!(pr["updated"].as_u64().unwrap_or_default() + 1);
        Ok(pr)
    }

    fn comment(&mut self, n: u64, body: &str) -> anyhow::Result<Reply> {
        let pr = self.touch(n)?;
        if let Some(comments) = pr["comments"].as_array_mut() {
            comments.push(json!(body));
        } else {
            pr["comments"] = json!([body]);
        }
        Ok(Reply::ok(format!("{}#comment\n", self.url(n))))
    }

    fn close(&mut self, n: u64, comment: Option<&str>) -> anyhow::Result<Reply> {
        match self.pr(n)?["state"].as_str() {
            Some("MERGED") => {
                bail!("Pull request #{n} can't be closed because it was already merged")
            }
            Some("CLOSED") => {
                return Ok(Reply::ok(format!(
                    "! Pull request #{n} is already closed\n"
                )));
            }
            _ => {}
        }
        if let Some(text) = comment {
            self.comment(n, text)?;
        }
        let pr = self.touch(n)?;
        pr["state"] = json!("CLOSED");
        pr["queued"] = json!(false);
        Ok(Reply::ok(format!("✓ Closed pull request #{n}\n")))
    }

    fn approve(&mut self, n: u64) -> anyhow::Result<Reply> {
        self.touch(n)?["approved"] = json!(true);
        Ok(Reply::ok(format!("✓ Approved pull request #{n}\n")))
    }

    fn repo_view(&mut self, _args: &[&str]) -> anyhow::Result<Reply> {
        let methods = match self.knob("methods") {
            Some(text) => serde_json::from_str(&text).context("knobs/methods is not JSON")?,
            None => {
                json!({"mergeCommitAllowed": true, "squashMergeAllowed": true, "rebaseMergeAllowed": true})
            }
        };
        Ok(Reply::json(&methods))
    }

    /// The one query asked: `isInMergeQueue` of a pull request, the repository named by `gh
    /// api`'s `{owner}`/`{repo}` placeholders (filled from the checkout by the real CLI).
    fn graphql(&mut self, args: &[&str]) -> anyhow::Result<Reply> {
        let fields = flags(args, "-F");
        let query = flag(args, &["-f", "--raw-field"]).unwrap_or_default();
        if !query.contains("pullRequest(number: $number) { isInMergeQueue }")
            || !fields.contains(&"owner={owner}")
            || !fields.contains(&"repo={repo}")
        {
            bail!(
                "gt-fake-forge: unexpected GraphQL request `{}`",
                args.join(" ")
            );
        }
        let n = args
            .windows(2)
            .find_map(|w| {
                (w[0] == "-F" || w[0] == "-f")
                    .then(|| w[1].strip_prefix("number="))
                    .flatten()
            })
            .context("gt-fake-forge knows only the isInMergeQueue query, by number")?;
        let pr = self.pr(number(n)?)?;
        let queued = pr["queued"] == true;
        Ok(Reply::json(&json!({
            "data": {"repository": {"pullRequest": {"isInMergeQueue": queued}}}
        })))
    }

    /// `glab api projects/:id/merge_requests/<n>/approvals`, the one endpoint asked.
    fn gl_api(&mut self, path: &str) -> anyhow::Result<Reply> {
        if self.knob("no-approvals-api").is_some() {
            bail!("glab: 404 Not Found (HTTP 404)");
        }
        let n = path
            .strip_prefix("projects/:id/merge_requests/")
            .and_then(|rest| rest.strip_suffix("/approvals"))
            .with_context(|| format!("gt-fake-forge knows no endpoint `{path}`"))?;
        let pr = self.pr(number(n)?)?.clone();
        let approved = pr["approved"] == true;
        let missing = self.review_missing(&pr);
        Ok(Reply::json(&json!({
            "iid": pr["number"],
            "approved": !missing,
            "approvals_required": u8::from(self.knob("require-review").is_some()),
            "approvals_left": u8::from(missing),
            "approved_by": if approved { json!([{"user": {"username": "reviewer"}}]) } else { json!([]) },
        })))
    }

    fn merge_cmd(&mut self, n: u64, args: &[&str]) -> anyhow::Result<Reply> {
        let pr = self.pr(n)?.clone();
        match pr["state"].as_str() {
            Some("MERGED") => bail!("Pull request #{n} was already merged"),
            Some("CLOSED") => bail!("Pull request #{n} is closed"),
            _ => {}
        }
        if let Some(sha) = flag(args, &["--match-head-commit", "--sha"])
            && sha != self.head_of(&pr)
        {
            bail!("Head branch was modified. Review and try the merge again.");
        }
        if let Some(message) = self.knob("refuse") {
            bail!("{}", message.trim());
        }
        if self.kind == Kind::Github && has(args, "--auto") {
            self.touch(n)?["queued"] = json!(true);
            return Ok(Reply::ok(format!(
                "✓ Pull request #{n} will be added to the merge queue for {} when ready\n",
                pr["base"].as_str().unwrap_or_default()
            )));
        }
        let method = if has(args, "--squash") || has(args, "-s") {
            "squash"
        } else if has(args, "--rebase") || has(args, "-r") {
            "rebase"
        } else if has(args, "--merge") || has(args, "-m") || self.kind == Kind::Gitlab {
            "merge"
        } else {
            bail!("--merge, --rebase, or --squash required when not running interactively");
        };
        if self.kind == Kind::Github {
            let allowed = self.repo_view(&[])?.out;
            let allowed: Value = serde_json::from_str(&allowed)?;
            let field = match method {
                "squash" => "squashMergeAllowed",
                "rebase" => "rebaseMergeAllowed",
                _ => "mergeCommitAllowed",
            };
            if allowed[field] != true {
                bail!(
                    "Pull request #{n} is not mergeable: the {method} method is not allowed on this repository"
                );
            }
        }
        self.land(n, method)?;
        Ok(Reply::ok(format!("✓ Merged pull request #{n}\n")))
    }

    /// Merges pull request `n` into its base in the bare repository, if the branch's rules let
    /// it: checks green, approval when required, no conflict.
    fn land(&mut self, n: u64, method: &str) -> anyhow::Result<()> {
        let pr = self.pr(n)?.clone();
        match self.worst_check()? {
            "pass" => {}
            _ => bail!(
                "Pull request #{n} is not mergeable: the base branch policy prohibits the merge (required checks have not passed)"
            ),
        }
        if self.review_missing(&pr) {
            bail!(
                "Pull request #{n} is not mergeable: the base branch policy prohibits the merge (review required)"
            );
        }
        let base = pr["base"].as_str().unwrap_or_default().to_owned();
        let base_sha = self
            .rev(&base)
            .with_context(|| format!("no branch `{base}`"))?;
        let head = self.head_of(&pr);
        let title = pr["title"].as_str().unwrap_or_default().to_owned();
        let g = self.git();
        let tree_of = |base: &str, merge_base: Option<&str>, tip: &str| -> anyhow::Result<String> {
            let mut args = vec!["merge-tree".to_owned(), "--write-tree".to_owned()];
            if let Some(mb) = merge_base {
                args.push(format!("--merge-base={mb}"));
            }
            args.extend([base.to_owned(), tip.to_owned()]);
            let out = g.output(&args)?;
            if !out.status.success() {
                bail!("Pull request #{n} is not mergeable: it conflicts with {base}");
            }
            Ok(String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned())
        };
        let merged = match method {
            "squash" => {
                let tree = tree_of(&base_sha, None, &head)?;
                g.run(&[
                    "commit-tree",
                    &tree,
                    "-p",
                    &base_sha,
                    "-m",
                    &format!("{title} (#{n})"),
                ])?
            }
            "rebase" => {
                let commits = g.run(&["rev-list", "--reverse", &format!("{base_sha}..{head}")])?;
                let mut tip = base_sha.clone();
                for c in commits.lines().filter(|l| !l.is_empty()) {
                    let tree = tree_of(&tip, Some(&format!("{c}^")), c)?;
                    let message = g.run(&["log", "-1", "--format=%B", c])?;
                    tip = g
                        .run(&["commit-tree", &tree, "-p", &tip, "-m", message.trim_end()])?
                        .trim()
                        .to_owned();
                }
                tip
            }
            _ => {
                let tree = tree_of(&base_sha, None, &head)?;
                let message = format!(
                    "Merge pull request #{n} from {}\n\n{title}",
                    pr["head"].as_str().unwrap_or_default()
                );
                g.run(&[
                    "commit-tree",
                    &tree,
                    "-p",
                    &base_sha,
                    "-p",
                    &head,
                    "-m",
                    &message,
                ])?
            }
        };
        let merged = merged.trim().to_owned();
        g.run(&[
            "update-ref",
            &format!("refs/heads/{base}"),
            &merged,
            &base_sha,
        ])?;
        let p = self.touch(n)?;
        p["state"] = json!("MERGED");
        p["merge_commit"] = json!(merged);
        p["method"] = json!(method);
        p["head_sha"] = json!(head);
        p["queued"] = json!(false);
        Ok(())
    }

    /// GitHub's merge queue works between calls: every queued pull request is ejected (knob
    /// `eject`, or a failing check) or merged once its checks pass.
    fn advance_queue(&mut self) -> anyhow::Result<()> {
        let queued: Vec<u64> = self
            .prs
            .iter()
            .filter(|p| p["state"] == "OPEN" && p["queued"] == true)
            .filter_map(|p| p["number"].as_u64())
            .collect();
        for n in queued {
            let eject = self.knob("eject").is_some() || self.worst_check()? == "fail";
            if eject {
                self.pr(n)?["queued"] = json!(false);
                continue;
            }
            let pr = self.pr(n)?.clone();
            if self.worst_check()? == "pass" && !self.review_missing(&pr) {
                self.land(n, "merge")?;
            }
        }
        Ok(())
    }
}
