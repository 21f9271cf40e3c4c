//! The forges a rig's remote may live on, through their own CLIs: `gh` for GitHub, `glab` for
//! GitLab. Each call runs the CLI in a checkout whose `origin` is the repository (the CLI finds
//! the project from it), asks for JSON and parses only the fields named here; the same fields
//! are what the stand-in CLIs of the tests write.
//!
//! Never an admin override: a pull request merges only when the forge's own rules (required
//! checks, reviews, merge queue) let it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::settings::{ForgeKind, MergeMethod, MergeQueue};

/// How long one CLI call may take before it is killed.
const CALL_LIMIT: Duration = Duration::from_secs(120);

/// Forge failures.
#[derive(Debug, thiserror::Error)]
pub enum ForgeError {
    #[error("cannot tell the forge of `{url}`; set `merge_queue.forge` to `github` or `gitlab`")]
    Undetected { url: String },
    #[error("`{program}` (the {forge} CLI) is not on PATH; install it to land through {forge}")]
    Missing {
        program: &'static str,
        forge: &'static str,
    },
    #[error("`{program}` is not logged in: {detail}; run `{program} auth login`")]
    Unauthenticated {
        program: &'static str,
        detail: String,
    },
    #[error("`{program} {args}` failed: {detail}")]
    Failed {
        program: &'static str,
        args: String,
        detail: String,
    },
    /// The call never got the forge's answer: the network or the forge's servers failed, or
    /// the CLI ran out of time. Nothing was decided; the same call may be made again.
    #[error("`{program} {args}` did not reach the forge: {detail}")]
    Unreachable {
        program: &'static str,
        args: String,
        detail: String,
    },
    #[error("`{program} {args}` printed what it should not: {detail}")]
    Parse {
        program: &'static str,
        args: String,
        detail: String,
    },
}

type Result<T, E = ForgeError> = std::result::Result<T, E>;

/// Which forge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Github,
    Gitlab,
}

impl Kind {
    /// The setting, or the remote's host when the setting is `auto`.
    pub fn resolve(setting: ForgeKind, remote_url: &str) -> Result<Self> {
        match setting {
            ForgeKind::Github => Ok(Self::Github),
            ForgeKind::Gitlab => Ok(Self::Gitlab),
            ForgeKind::Auto => {
                let url = remote_url.to_ascii_lowercase();
                if url.contains("github.com") {
                    Ok(Self::Github)
                } else if url.contains("gitlab") {
                    Ok(Self::Gitlab)
                } else {
                    Err(ForgeError::Undetected {
                        url: remote_url.to_owned(),
                    })
                }
            }
        }
    }

    pub fn program(self) -> &'static str {
        match self {
            Self::Github => "gh",
            Self::Gitlab => "glab",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Github => "GitHub",
            Self::Gitlab => "GitLab",
        }
    }
}

/// Where a pull request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrState {
    Open,
    Merged,
    /// Closed without merging.
    Closed,
}

/// What reviewers said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Review {
    Approved,
    /// The forge wants an approval it does not have yet.
    Required,
    ChangesRequested,
    /// Nothing asked for, nothing given.
    None,
    /// The forge cannot say who approved: GitLab's approvals endpoint is not on this tier, and
    /// its merge status asks for no approval.
    Unknown,
}

/// One pull request (a merge request on GitLab), as the forge reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    pub number: u64,
    pub url: String,
    pub state: PrState,
    pub head_sha: String,
    /// The commit the merge made on the target, once merged.
    pub merge_sha: Option<String>,
    pub review: Review,
    /// The forge says it no longer merges into its base.
    pub conflicting: bool,
    /// In GitHub's merge queue, or waiting to enter it (auto-merge on).
    pub queued: bool,
    /// When anything about it last changed (a push, a review, a comment, a label), as the
    /// forge writes it: a pull request the refinery stopped asking about is asked again once
    /// this moves.
    pub updated_at: String,
    /// GitLab's pipeline of the head (checks are its jobs).
    pipeline: Option<u64>,
}

/// How a check stands, in `gh pr checks`' buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Pass,
    Fail,
    Pending,
    /// Skipped or cancelled: neither blocks nor passes anything.
    Skipping,
}

/// One check (a CI job) of a pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub bucket: Bucket,
    pub link: String,
}

/// A pull request to open.
#[derive(Debug, Clone)]
pub struct NewPr<'a> {
    pub head: &'a str,
    pub base: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    pub labels: &'a [String],
}

/// A method a forge merges with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Merge,
    Squash,
    Rebase,
}

impl Method {
    fn flag(self) -> &'static str {
        match self {
            Self::Merge => "--merge",
            Self::Squash => "--squash",
            Self::Rebase => "--rebase",
        }
    }
}

/// One repository on one forge, reached through its CLI run in `dir`.
#[derive(Debug, Clone)]
pub struct Forge {
    kind: Kind,
    dir: PathBuf,
}

impl Forge {
    /// The forge of a rig's merge-queue settings, acting in `dir` (a checkout of `remote_url`).
    pub fn for_rig(settings: &MergeQueue, remote_url: &str, dir: &Path) -> Result<Self> {
        Ok(Self {
            kind: Kind::resolve(settings.forge, remote_url)?,
            dir: dir.to_owned(),
        })
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Fails unless the CLI is installed and logged in: checked before a rig lands through it,
    /// so a missing login shows at `gt rig add`/`gt doctor`, not halfway through a landing.
    pub fn ready(&self) -> Result<()> {
        let program = self.kind.program();
        if host::process::which(program).is_none() {
            return Err(ForgeError::Missing {
                program,
                forge: self.kind.name(),
            });
        }
        let out = self.call(&["auth", "status"])?;
        if out.code == Some(0) {
            Ok(())
        } else {
            let detail = format!("{}{}", out.stderr, out.stdout);
            Err(ForgeError::Unauthenticated {
                program,
                detail: first_line(&detail),
            })
        }
    }

    /// The open pull request from `head` into `base`, if there is one.
    pub fn find_open(&self, head: &str, base: &str) -> Result<Option<u64>> {
        let (args, key): (Vec<&str>, &str) = match self.kind {
            Kind::Github => (
                vec![
                    "pr", "list", "--head", head, "--base", base, "--state", "open", "--json",
                    "number",
                ],
                "number",
            ),
            Kind::Gitlab => (
                vec![
                    "mr",
                    "list",
                    "--source-branch",
                    head,
                    "--target-branch",
                    base,
                    "-F",
                    "json",
                ],
                "iid",
            ),
        };
        let list: Vec<Value> = self.json(&args)?;
        Ok(list.iter().find_map(|pr| pr[key].as_u64()))
    }

    /// Opens a pull request and returns its number.
    pub fn create(&self, new: &NewPr<'_>) -> Result<u64> {
        let mut args: Vec<&str> = match self.kind {
            Kind::Github => vec![
                "pr", "create", "--head", new.head, "--base", new.base, "--title", new.title,
                "--body", new.body,
            ],
            Kind::Gitlab => vec![
                "mr",
                "create",
                "--source-branch",
                new.head,
                "--target-branch",
                new.base,
                "--title",
                new.title,
                "--description",
                new.body,
                "--yes",
            ],
        };
        for label in new.labels {
            args.extend(["--label", label.as_str()]);
        }
        self.ok(&args)?;
        // Both CLIs print a URL among other words; asking again is exact.
        self.find_open(new.head, new.base)?
            .ok_or_else(|| ForgeError::Failed {
                program: self.kind.program(),
                args: args.join(" "),
                detail: format!("no open pull request from `{}` after creating it", new.head),
            })
    }

    /// One pull request as it stands now.
    pub fn view(&self, number: u64) -> Result<PullRequest> {
        let n = number.to_string();
        match self.kind {
            Kind::Github => {
                let v: GhPr = self.json(&[
                    "pr",
                    "view",
                    &n,
                    "--json",
                    "number,url,state,headRefOid,mergeCommit,reviewDecision,mergeable,autoMergeRequest,updatedAt",
                ])?;
                let mut pr = v.into_pr();
                if pr.state == PrState::Open && !pr.queued {
                    pr.queued = self.in_merge_queue(number)?;
                }
                Ok(pr)
            }
            Kind::Gitlab => {
                let v: GlMr = self.json(&["mr", "view", &n, "-F", "json"])?;
                let mut pr = v.into_pr();
                // The merge request object says "not approved" only while approval blocks it;
                // whether anyone approved is the approvals endpoint's. GitLab documents that
                // endpoint for its Premium tier: where it answers with an error, the merge
                // request's own status is all there is to go on.
                if pr.state == PrState::Open {
                    let path = format!("projects/:id/merge_requests/{number}/approvals");
                    match self.json::<Value>(&["api", &path]) {
                        Ok(a) => {
                            if a["approved"].as_bool() == Some(true)
                                && a["approved_by"].as_array().is_some_and(|by| !by.is_empty())
                            {
                                pr.review = Review::Approved;
                            }
                        }
                        Err(ForgeError::Failed { detail, .. }) => {
                            tracing::debug!(mr = number, %detail, "no approvals endpoint; going by the merge status");
                            if pr.review == Review::None {
                                pr.review = Review::Unknown;
                            }
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok(pr)
            }
        }
    }

    /// GitHub's merge queue is not among `gh pr view`'s fields; GraphQL has it.
    fn in_merge_queue(&self, number: u64) -> Result<bool> {
        let v: Value = self.json(&[
            "api",
            "graphql",
            "-f",
            "query=query($owner: String!, $repo: String!, $number: Int!) { repository(owner: $owner, name: $repo) { pullRequest(number: $number) { isInMergeQueue } } }",
            "-F",
            "owner={owner}",
            "-F",
            "repo={repo}",
            "-F",
            &format!("number={number}"),
        ])?;
        Ok(v["data"]["repository"]["pullRequest"]["isInMergeQueue"]
            .as_bool()
            .unwrap_or(false))
    }

    /// The checks of a pull request's head: GitHub's required checks, GitLab's pipeline jobs.
    pub fn checks(&self, pr: &PullRequest) -> Result<Vec<Check>> {
        let n = pr.number.to_string();
        match self.kind {
            Kind::Github => {
                let args = [
                    "pr",
                    "checks",
                    &n,
                    "--required",
                    "--json",
                    "name,bucket,link",
                ];
                let out = self.call(&args)?;
                // Exit 8 is "pending" and 1 "some failed", both with the JSON; no checks at all
                // is exit 1 with a message and nothing to parse.
                if out.stdout.trim().is_empty() {
                    if out.stderr.contains("no checks reported")
                        || out.stderr.contains("no required checks")
                    {
                        return Ok(Vec::new());
                    }
                    return Err(self.failed(&args, &out));
                }
                let checks: Vec<GhCheck> = self.parse(&args, &out.stdout)?;
                Ok(checks
                    .into_iter()
                    .map(|c| Check {
                        bucket: match c.bucket.as_str() {
                            "pass" => Bucket::Pass,
                            "fail" => Bucket::Fail,
                            "skipping" | "cancel" => Bucket::Skipping,
                            _ => Bucket::Pending,
                        },
                        name: c.name,
                        link: c.link,
                    })
                    .collect())
            }
            Kind::Gitlab => {
                let Some(pipeline) = pr.pipeline else {
                    return Ok(Vec::new());
                };
                let id = pipeline.to_string();
                let v: GlPipeline =
                    self.json(&["ci", "get", "--pipeline-id", &id, "-F", "json"])?;
                Ok(v.jobs
                    .into_iter()
                    .map(|j| Check {
                        bucket: match j.status.as_str() {
                            "success" => Bucket::Pass,
                            "failed" => Bucket::Fail,
                            "canceled" | "skipped" | "manual" => Bucket::Skipping,
                            _ => Bucket::Pending,
                        },
                        name: j.name,
                        link: j.web_url,
                    })
                    .collect())
            }
        }
    }

    /// The method `auto` means: GitHub's first allowed of merge, squash, rebase; on GitLab the
    /// project's own (no flag).
    pub fn method(&self, setting: MergeMethod) -> Result<Option<Method>> {
        Ok(match setting {
            MergeMethod::Merge => Some(Method::Merge),
            MergeMethod::Squash => Some(Method::Squash),
            MergeMethod::Rebase => Some(Method::Rebase),
            MergeMethod::Auto => match self.kind {
                Kind::Gitlab => None,
                Kind::Github => {
                    let v: Value = self.json(&[
                        "repo",
                        "view",
                        "--json",
                        "mergeCommitAllowed,squashMergeAllowed,rebaseMergeAllowed",
                    ])?;
                    [
                        ("mergeCommitAllowed", Method::Merge),
                        ("squashMergeAllowed", Method::Squash),
                        ("rebaseMergeAllowed", Method::Rebase),
                    ]
                    .into_iter()
                    .find(|(field, _)| v[field].as_bool() == Some(true))
                    .map(|(_, m)| m)
                }
            },
        })
    }

    /// Merges a pull request whose head is still `head_sha`, by the forge's rules (never an
    /// admin override).
    pub fn merge(&self, number: u64, method: Option<Method>, head_sha: &str) -> Result<()> {
        let n = number.to_string();
        let mut args: Vec<&str> = match self.kind {
            Kind::Github => vec!["pr", "merge", &n, "--match-head-commit", head_sha],
            Kind::Gitlab => vec!["mr", "merge", &n, "--yes", "--sha", head_sha],
        };
        match (self.kind, method) {
            (Kind::Github, Some(m)) => args.push(m.flag()),
            (Kind::Gitlab, Some(Method::Squash)) => args.push("--squash"),
            (Kind::Gitlab, Some(Method::Rebase)) => args.push("--rebase"),
            _ => {}
        }
        self.ok(&args).map(drop)
    }

    /// Leaves a comment on a pull request.
    pub fn comment(&self, number: u64, text: &str) -> Result<()> {
        let n = number.to_string();
        match self.kind {
            Kind::Github => self.ok(&["pr", "comment", &n, "--body", text]),
            Kind::Gitlab => self.ok(&["mr", "note", &n, "--message", text]),
        }
        .map(drop)
    }

    /// Closes a pull request unmerged, saying why. Its head branch is the caller's to delete.
    pub fn close(&self, number: u64, why: &str) -> Result<()> {
        let n = number.to_string();
        match self.kind {
            Kind::Github => self.ok(&["pr", "close", &n, "--comment", why]).map(drop),
            // `glab mr close` takes no comment: the note goes first.
            Kind::Gitlab => {
                self.comment(number, why)?;
                self.ok(&["mr", "close", &n]).map(drop)
            }
        }
    }

    /// Puts a pull request in GitHub's merge queue (once its checks pass, if they have not).
    pub fn enqueue(&self, number: u64, head_sha: &str) -> Result<()> {
        let n = number.to_string();
        self.ok(&["pr", "merge", &n, "--auto", "--match-head-commit", head_sha])
            .map(drop)
    }

    fn call(&self, args: &[&str]) -> Result<host::process::ShellOutput> {
        let program = self.kind.program();
        let owned: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        host::process::run_in(
            program,
            &owned,
            &self.dir,
            &[
                ("GH_PROMPT_DISABLED", "1"),
                ("GH_NO_UPDATE_NOTIFIER", "1"),
                ("NO_COLOR", "1"),
                ("NO_PROMPT", "1"),
            ],
            CALL_LIMIT,
        )
        .map_err(|e| match e {
            host::process::ProcessError::Spawn { .. } => ForgeError::Missing {
                program,
                forge: self.kind.name(),
            },
            // Killed at the time limit: no answer came.
            other => ForgeError::Unreachable {
                program,
                args: args.join(" "),
                detail: other.to_string(),
            },
        })
    }

    fn ok(&self, args: &[&str]) -> Result<String> {
        let out = self.call(args)?;
        if out.code == Some(0) {
            Ok(out.stdout)
        } else {
            Err(self.failed(args, &out))
        }
    }

    fn json<T: for<'de> Deserialize<'de>>(&self, args: &[&str]) -> Result<T> {
        let out = self.ok(args)?;
        self.parse(args, &out)
    }

    fn parse<T: for<'de> Deserialize<'de>>(&self, args: &[&str], text: &str) -> Result<T> {
        serde_json::from_str(text).map_err(|e| ForgeError::Parse {
            program: self.kind.program(),
            args: args.join(" "),
            detail: e.to_string(),
        })
    }

    fn failed(&self, args: &[&str], out: &host::process::ShellOutput) -> ForgeError {
        let text = if out.stderr.trim().is_empty() {
            &out.stdout
        } else {
            &out.stderr
        };
        let (program, args, detail) = (self.kind.program(), args.join(" "), text.trim());
        if unreachable(detail) {
            ForgeError::Unreachable {
                program,
                args,
                detail: detail.to_owned(),
            }
        } else {
            ForgeError::Failed {
                program,
                args,
                detail: detail.to_owned(),
            }
        }
    }
}

/// Whether a CLI's error says the request never got the forge's answer rather than the forge
/// saying no: `gh`'s "error connecting to <host>" (a name that does not resolve), the Go
/// network errors both CLIs print as they are ("dial tcp …: connection refused", "i/o
/// timeout", "context deadline exceeded", "TLS handshake timeout"), and a server error — `gh`'s
/// "HTTP 502: Bad Gateway (<url>)", the GitLab client's "<METHOD> <url>: 503 …". A refusal
/// (a rule, a conflict, "405 Method Not Allowed" for an unmergeable merge request) is a 4xx
/// or the forge's own words, never one of these.
fn unreachable(detail: &str) -> bool {
    const NETWORK: [&str; 10] = [
        "error connecting to",
        "dial tcp",
        "connection refused",
        "connection reset",
        "no such host",
        "network is unreachable",
        "i/o timeout",
        "tls handshake timeout",
        "context deadline exceeded",
        "client.timeout exceeded",
    ];
    let lower = detail.to_ascii_lowercase();
    if NETWORK.iter().any(|n| lower.contains(n)) {
        return true;
    }
    // A 5xx status right after "HTTP" (gh) or after the request's URL and its colon (glab).
    let words: Vec<&str> = lower.split_whitespace().collect();
    words.windows(2).any(|pair| {
        let status = pair[1].trim_end_matches(':');
        let server_error = status.len() == 3
            && status.starts_with('5')
            && status.bytes().all(|b| b.is_ascii_digit());
        server_error && (pair[0] == "http" || pair[0].ends_with(':'))
    })
}

/// For a rig that lands through a forge: which one, checked usable (CLI installed and logged
/// in). `None` for direct landing, which needs no forge.
pub fn check(settings: &MergeQueue, remote_url: &str, dir: &Path) -> Result<Option<Kind>> {
    if !settings.strategy.uses_forge() {
        return Ok(None);
    }
    let forge = Forge::for_rig(settings, remote_url, dir)?;
    forge.ready()?;
    Ok(Some(forge.kind))
}

fn first_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no output")
        .to_owned()
}

/// `gh pr view --json …`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GhPr {
    number: u64,
    url: String,
    state: String,
    head_ref_oid: String,
    merge_commit: Option<GhCommit>,
    #[serde(default)]
    review_decision: Option<String>,
    #[serde(default)]
    mergeable: Option<String>,
    #[serde(default)]
    auto_merge_request: Option<Value>,
    #[serde(default)]
    updated_at: String,
}

#[derive(Deserialize)]
struct GhCommit {
    oid: String,
}

impl GhPr {
    fn into_pr(self) -> PullRequest {
        PullRequest {
            number: self.number,
            url: self.url,
            state: match self.state.as_str() {
                "MERGED" => PrState::Merged,
                "CLOSED" => PrState::Closed,
                _ => PrState::Open,
            },
            head_sha: self.head_ref_oid,
            merge_sha: self.merge_commit.map(|c| c.oid),
            review: match self.review_decision.as_deref() {
                Some("APPROVED") => Review::Approved,
                Some("REVIEW_REQUIRED") => Review::Required,
                Some("CHANGES_REQUESTED") => Review::ChangesRequested,
                _ => Review::None,
            },
            conflicting: self.mergeable.as_deref() == Some("CONFLICTING"),
            queued: self.auto_merge_request.is_some_and(|a| !a.is_null()),
            updated_at: self.updated_at,
            pipeline: None,
        }
    }
}

/// `gh pr checks --json name,bucket,link`.
#[derive(Deserialize)]
struct GhCheck {
    name: String,
    bucket: String,
    #[serde(default)]
    link: String,
}

/// `glab mr view -F json` (GitLab's merge request API object).
#[derive(Deserialize)]
struct GlMr {
    iid: u64,
    web_url: String,
    state: String,
    sha: String,
    merge_commit_sha: Option<String>,
    squash_commit_sha: Option<String>,
    #[serde(default)]
    detailed_merge_status: Option<String>,
    #[serde(default)]
    has_conflicts: bool,
    #[serde(default)]
    head_pipeline: Option<GlPipelineRef>,
    /// "Merge when the pipeline succeeds" is set: GitLab holds it to merge.
    #[serde(default)]
    merge_when_pipeline_succeeds: bool,
    #[serde(default)]
    updated_at: String,
}

#[derive(Deserialize)]
struct GlPipelineRef {
    id: u64,
}

impl GlMr {
    fn into_pr(self) -> PullRequest {
        let state = match self.state.as_str() {
            "merged" => PrState::Merged,
            "closed" => PrState::Closed,
            _ => PrState::Open,
        };
        // A fast-forward merge makes no commit of its own: the head is what landed.
        let merge_sha = (state == PrState::Merged).then(|| {
            self.merge_commit_sha
                .or(self.squash_commit_sha)
                .unwrap_or_else(|| self.sha.clone())
        });
        PullRequest {
            number: self.iid,
            url: self.web_url,
            state,
            head_sha: self.sha,
            merge_sha,
            review: match self.detailed_merge_status.as_deref() {
                Some("not_approved") => Review::Required,
                _ => Review::None,
            },
            conflicting: self.has_conflicts,
            queued: self.merge_when_pipeline_succeeds,
            updated_at: self.updated_at,
            pipeline: self.head_pipeline.map(|p| p.id),
        }
    }
}

/// `glab ci get -F json`.
#[derive(Deserialize)]
struct GlPipeline {
    #[serde(default)]
    jobs: Vec<GlJob>,
}

#[derive(Deserialize)]
struct GlJob {
    name: String,
    status: String,
    #[serde(default)]
    web_url: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CLIs' words for a request that never got an answer, and for a forge that said no.
    #[test]
    fn a_failed_call_is_unreachable_only_when_no_answer_came() {
        for detail in [
            "error connecting to api.github.com\ncheck your internet connection or https://githubstatus.com",
            "HTTP 502: Bad Gateway (https://api.github.com/graphql)",
            "HTTP 503: Service Unavailable (https://api.github.com/repos/o/r/pulls/1/merge)",
            r#"Post "https://api.github.com/graphql": dial tcp 140.82.112.6:443: connect: connection refused"#,
            r#"Put "https://gitlab.com/api/v4/projects/1/merge_requests/1/merge": dial tcp: lookup gitlab.com: no such host"#,
            "PUT https://gitlab.com/api/v4/projects/1/merge_requests/1/merge: 500 {message: 500 Internal Server Error}",
            r#"Post "https://api.github.com/graphql": net/http: TLS handshake timeout"#,
            r#"Get "https://gitlab.com/api/v4/user": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"#,
        ] {
            assert!(unreachable(detail), "{detail}");
        }
        for detail in [
            "GraphQL: Repository rule violations found\n\nChanges must be made through a pull request with 2 approving reviews. (mergePullRequest)",
            "Pull request #1 is not mergeable: the merge commit cannot be cleanly created.",
            "PUT https://gitlab.com/api/v4/projects/1/merge_requests/1/merge: 405 {message: 405 Method Not Allowed}",
            "HTTP 403: Resource not accessible by integration (https://api.github.com/graphql)",
            "Head branch was modified. Review and try the merge again.",
            "1 of 5 required status checks are expected; 500 commits behind",
        ] {
            assert!(!unreachable(detail), "{detail}");
        }
    }

    #[test]
    fn the_forge_is_told_by_the_setting_or_the_remote() {
        assert_eq!(
            Kind::resolve(ForgeKind::Auto, "git@github.com:o/r.git").unwrap(),
            Kind::Github
        );
        assert_eq!(
            Kind::resolve(ForgeKind::Auto, "https://gitlab.example.com/o/r").unwrap(),
            Kind::Gitlab
        );
        assert_eq!(
            Kind::resolve(ForgeKind::Gitlab, "file:///tmp/r.git").unwrap(),
            Kind::Gitlab
        );
        let err = Kind::resolve(ForgeKind::Auto, "file:///tmp/r.git").unwrap_err();
        assert!(err.to_string().contains("merge_queue.forge"), "{err}");
    }

    #[test]
    fn github_fields_parse() {
        let v: GhPr = serde_json::from_str(
            r#"{"number":7,"url":"u","state":"MERGED","headRefOid":"h","mergeCommit":{"oid":"m"},"reviewDecision":"APPROVED","mergeable":"UNKNOWN","autoMergeRequest":null}"#,
        )
        .unwrap();
        let pr = v.into_pr();
        assert_eq!(pr.state, PrState::Merged);
        assert_eq!(pr.merge_sha.as_deref(), Some("m"));
        assert_eq!(pr.review, Review::Approved);
        assert!(!pr.queued);
    }

    #[test]
    fn gitlab_fields_parse() {
        let v: GlMr = serde_json::from_str(
            r#"{"iid":3,"web_url":"u","state":"opened","sha":"h","merge_commit_sha":null,"squash_commit_sha":null,"detailed_merge_status":"not_approved","has_conflicts":false,"head_pipeline":{"id":9,"status":"running"}}"#,
        )
        .unwrap();
        let pr = v.into_pr();
        assert_eq!(pr.state, PrState::Open);
        assert_eq!(pr.review, Review::Required);
        assert_eq!(pr.pipeline, Some(9));
        assert_eq!(pr.merge_sha, None);
    }
}
