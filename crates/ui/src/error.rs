//! Failure classification and rendering.

use std::error::Error as StdError;
use std::fmt;

/// Who is at fault, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The user asked for something that cannot be done (not found, conflict, bad value): exit 1.
    User,
    /// The command line itself is wrong: exit 2.
    Usage,
    /// Our bug or the environment failed (I/O, a corrupt database, a missing tool): exit 3.
    Internal,
    /// The request is fine but not allowed yet (`gt handoff` inside its cooldown): nothing was
    /// changed, and the same command succeeds later. Exit 4.
    TryLater,
}

impl ErrorKind {
    /// The process exit code for this kind.
    pub fn exit_code(self) -> u8 {
        match self {
            Self::User => 1,
            Self::Usage => 2,
            Self::Internal => 3,
            Self::TryLater => 4,
        }
    }

    /// The stable name used in JSON error output.
    pub fn code(self) -> &'static str {
        match self {
            Self::User => "user_error",
            Self::Usage => "usage_error",
            Self::Internal => "internal_error",
            Self::TryLater => "try_later",
        }
    }
}

/// How a binary classified one error of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    /// Whose fault it is.
    pub kind: ErrorKind,
    /// What the user can do about it.
    pub hints: Vec<String>,
}

impl Classified {
    /// A classification without hints.
    pub fn new(kind: ErrorKind) -> Self {
        Self {
            kind,
            hints: Vec::new(),
        }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }
}

/// An error a command raises itself, already classified.
#[derive(Debug)]
pub struct CliError {
    kind: ErrorKind,
    message: String,
    hints: Vec<String>,
}

impl CliError {
    /// A user error (exit 1).
    pub fn user(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::User,
            message: message.into(),
            hints: Vec::new(),
        }
    }

    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Usage,
            message: message.into(),
            hints: Vec::new(),
        }
    }

    /// An internal error (exit 3).
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Internal,
            message: message.into(),
            hints: Vec::new(),
        }
    }

    /// Adds a `hint:` line.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for CliError {}

/// A command's answer given as its exit code, not a failure (`gt mail check` exits 1 when
/// there is unread mail): the binary exits with the code and reports nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus(pub u8);

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit status {}", self.0)
    }
}

impl StdError for ExitStatus {}

/// A binary's classifier for library errors: given one link of an error chain, say whose
/// fault it is, or `None` to look further down the chain.
pub type Classifier = fn(&(dyn StdError + 'static)) -> Option<Classified>;

/// Classifies an error: a [`CliError`] anywhere in the chain wins, then the first link the
/// binary's classifier recognises; anything else is internal.
pub fn classify(err: &anyhow::Error, classifier: Classifier) -> Classified {
    for cause in err.chain() {
        if let Some(cli) = cause.downcast_ref::<CliError>() {
            return Classified {
                kind: cli.kind,
                hints: cli.hints.clone(),
            };
        }
    }
    err.chain()
        .find_map(classifier)
        .unwrap_or_else(|| Classified::new(ErrorKind::Internal))
}

/// Whether the error is a closed stdout (`bd list | head`), which ends the program quietly.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The human rendering: `error: …`, one `caused by: …` per source, then `hint: …` lines.
pub fn render(err: &anyhow::Error, classified: &Classified) -> String {
    let mut out = format!("error: {err}\n");
    for cause in err.chain().skip(1) {
        out.push_str(&format!("  caused by: {cause}\n"));
    }
    if !classified.hints.is_empty() {
        out.push('\n');
        for hint in &classified.hints {
            out.push_str(&format!("hint: {hint}\n"));
        }
    }
    out
}

/// The JSON rendering used when `--json` was given: one object on stderr.
pub fn render_json(err: &anyhow::Error, classified: &Classified) -> String {
    let causes: Vec<String> = err.chain().skip(1).map(ToString::to_string).collect();
    let value = serde_json::json!({
        "schema_version": 1,
        "error": err.to_string(),
        "code": classified.kind.code(),
        "exit_code": classified.kind.exit_code(),
        "causes": causes,
        "hints": classified.hints,
    });
    format!("{value}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct NotFound;

    impl fmt::Display for NotFound {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("issue `bd-x` not found")
        }
    }
    impl StdError for NotFound {}

    fn classifier(err: &(dyn StdError + 'static)) -> Option<Classified> {
        err.downcast_ref::<NotFound>()
            .map(|_| Classified::new(ErrorKind::User).hint("run `bd list` to see ids"))
    }

    #[test]
    fn exit_codes_follow_the_kind() {
        assert_eq!(ErrorKind::User.exit_code(), 1);
        assert_eq!(ErrorKind::Usage.exit_code(), 2);
        assert_eq!(ErrorKind::Internal.exit_code(), 3);
    }

    #[test]
    fn library_error_found_under_context_is_classified_by_the_binary() {
        let err = anyhow::Error::new(NotFound).context("cannot show `bd-x`");
        let c = classify(&err, classifier);
        assert_eq!(c.kind, ErrorKind::User);
        assert_eq!(
            render(&err, &c),
            "error: cannot show `bd-x`\n  caused by: issue `bd-x` not found\n\nhint: run `bd list` to see ids\n"
        );
    }

    #[test]
    fn unknown_errors_are_internal() {
        let err = anyhow::anyhow!("disk on fire");
        assert_eq!(classify(&err, classifier).kind, ErrorKind::Internal);
    }

    #[test]
    fn cli_error_wins_and_keeps_its_hints() {
        let err = anyhow::Error::new(
            CliError::usage("`--limit` must be a number").hint("try `--limit 10`"),
        );
        let c = classify(&err, classifier);
        assert_eq!(
            c,
            Classified::new(ErrorKind::Usage).hint("try `--limit 10`")
        );
    }

    #[test]
    fn broken_pipe_is_recognised_through_context() {
        let io = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let err = anyhow::Error::new(io).context("writing output");
        assert!(is_broken_pipe(&err));
        assert!(!is_broken_pipe(&anyhow::anyhow!("other")));
    }

    #[test]
    fn json_rendering_carries_code_and_hints() {
        let err = anyhow::Error::new(NotFound);
        let c = classify(&err, classifier);
        let v: serde_json::Value = serde_json::from_str(&render_json(&err, &c)).unwrap();
        assert_eq!(v["code"], "user_error");
        assert_eq!(v["exit_code"], 1);
        assert_eq!(v["error"], "issue `bd-x` not found");
        assert_eq!(v["hints"][0], "run `bd list` to see ids");
    }
}
