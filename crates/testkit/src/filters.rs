//! Snapshot filters: what differs between runs becomes a placeholder.
//!
//! [`filters`] returns `(regex, replacement)` pairs in the order insta applies them:
//! the temp root → `[ROOT]`, RFC 3339 timestamps → `[TIMESTAMP]`, full SHAs → `[SHA]`,
//! issue IDs (`bd-a3f8`, `hq-x1y2z`, `gt-abc.1`) → `[ID]`, abbreviated SHAs → `[SHA]`,
//! durations (`12ms`, `1.2s`, `1m30s`) → `[DURATION]`. [`settings`] puts them into insta
//! [`Settings`](insta::Settings); [`render_output`] and [`crate::assert_cmd_snapshot!`] turn a
//! finished command into one snapshot.
//!
//! The patterns are chosen to leave prose alone: an ID's part after the dash needs a digit or a
//! `.N` child suffix (so `non-zero` and `re-run` stay), and an abbreviated SHA needs both a digit
//! and a letter (so `deadbeef` and `1234567` stay).

use std::process::Output;

use crate::TestEnv;

/// Placeholder for the env's temp root.
pub const ROOT: &str = "[ROOT]";
/// Placeholder for RFC 3339 timestamps.
pub const TIMESTAMP: &str = "[TIMESTAMP]";
/// Placeholder for git object IDs, full or abbreviated.
pub const SHA: &str = "[SHA]";
/// Placeholder for issue IDs.
pub const ID: &str = "[ID]";
/// Placeholder for durations.
pub const DURATION: &str = "[DURATION]";

/// `(regex, replacement)` pairs for `env`'s output, in the order they must be applied.
///
/// For `insta::with_settings!({filters => ...})`, borrow them:
/// `filters.iter().map(|(r, s)| (r.as_str(), s.as_str()))`; or use [`settings`].
pub fn filters(env: &TestEnv) -> Vec<(String, String)> {
    let mut filters = Vec::new();
    // The canonical root first: where the raw one differs it is a suffix of it (/private/var/…).
    filters.push((escape(&env.root().to_string_lossy()), ROOT.to_owned()));
    if env.raw_root() != env.root() {
        filters.push((escape(&env.raw_root().to_string_lossy()), ROOT.to_owned()));
    }
    filters.push((timestamp_pattern(), TIMESTAMP.to_owned()));
    filters.push((
        r"\b[0-9a-f]{40}(?:[0-9a-f]{24})?\b".to_owned(),
        SHA.to_owned(),
    ));
    // IDs before short SHAs, so `bd-a3f8c9d` is one ID rather than `bd-[SHA]`.
    filters.push((id_pattern(), ID.to_owned()));
    filters.push((short_sha_pattern(), SHA.to_owned()));
    filters.push((duration_pattern(), DURATION.to_owned()));
    filters
}

/// insta settings (cloned from the current ones) with [`filters`] added.
///
/// ```no_run
/// let env = testkit::TestEnv::new();
/// let _guard = testkit::filters::settings(&env).bind_to_scope();
/// ```
pub fn settings(env: &TestEnv) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    for (regex, replacement) in filters(env) {
        settings.add_filter(&regex, replacement);
    }
    settings
}

/// A finished command as one snapshot-friendly text:
///
/// ```text
/// exit_code: 0
/// ----- stdout -----
/// …
/// ----- stderr -----
/// …
/// ```
///
/// Each stream's text is followed by a newline unless it is empty or already ends in one.
/// A process killed by a signal shows its status instead of a code.
pub fn render_output(output: &Output) -> String {
    let code = output
        .status
        .code()
        .map_or_else(|| output.status.to_string(), |c| c.to_string());
    let mut text = format!("exit_code: {code}\n");
    for (name, bytes) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
        text.push_str(&format!("----- {name} -----\n"));
        let stream = String::from_utf8_lossy(bytes);
        text.push_str(&stream);
        if !stream.is_empty() && !stream.ends_with('\n') {
            text.push('\n');
        }
    }
    text
}

/// Runs a command, renders it with [`render_output`] and asserts it against an inline snapshot
/// after [`filters`]; evaluates to the [`Output`].
///
/// `$cmd` is anything with `.output() -> io::Result<Output>`: a `std::process::Command`, an
/// `assert_cmd::Command`, or a `&mut` to either (so builder chains work).
///
/// ```no_run
/// let env = testkit::TestEnv::new();
/// testkit::assert_cmd_snapshot!(env, env.command("pwd"), @r"
/// exit_code: 0
/// ----- stdout -----
/// [ROOT]/work
/// ----- stderr -----
/// ");
/// ```
#[macro_export]
macro_rules! assert_cmd_snapshot {
    ($env:expr, $cmd:expr, @$snapshot:literal) => {{
        let output = $cmd.output().expect("run the command under test");
        $crate::filters::settings(&$env).bind(|| {
            $crate::insta::assert_snapshot!($crate::filters::render_output(&output), @$snapshot);
        });
        output
    }};
}

/// Escapes every regex metacharacter in `text` (the set `regex::escape` uses).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '.'
                | '+'
                | '*'
                | '?'
                | '('
                | ')'
                | '|'
                | '['
                | ']'
                | '{'
                | '}'
                | '^'
                | '$'
                | '#'
                | '&'
                | '-'
                | '~'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `2026-01-01T00:00:00Z`, `2026-01-01 00:00:00.123+02:00`: date, time, optional fraction,
/// and a required `Z` or offset (so plain dates and times are left alone).
fn timestamp_pattern() -> String {
    r"\b[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
        .to_owned()
}

/// A lowercase prefix, a dash, then 3–8 base36 characters that either contain a digit or are
/// followed by `.N` child suffixes. The regex crate has no lookahead, so "contains a digit" is
/// spelled out as one alternative per number of letters before the first digit.
fn id_pattern() -> String {
    let with_digit: Vec<String> = (0..=7usize)
        .map(|k| {
            let (lo, hi) = (2usize.saturating_sub(k), 7 - k);
            format!("[a-z]{{{k}}}[0-9][0-9a-z]{{{lo},{hi}}}")
        })
        .collect();
    format!(
        r"\b[a-z][a-z0-9]{{0,15}}-(?:(?:{})|[0-9a-z]{{3,8}}\.[0-9]+)(?:\.[0-9]+)*\b",
        with_digit.join("|")
    )
}

/// 7–12 hex digits with at least one digit and one letter: a run of one kind, a character of
/// the other, then any hex digits, with one alternative per length of the first run.
fn short_sha_pattern() -> String {
    let mut alternatives = Vec::new();
    for k in 1..=11usize {
        let (lo, hi) = (6usize.saturating_sub(k), 11 - k);
        alternatives.push(format!("[0-9]{{{k}}}[a-f][0-9a-f]{{{lo},{hi}}}"));
        alternatives.push(format!("[a-f]{{{k}}}[0-9][0-9a-f]{{{lo},{hi}}}"));
    }
    format!(r"\b(?:{})\b", alternatives.join("|"))
}

/// One or more `<number><unit>` parts (`12ms`, `1.5s`, `1h2m3s`, `250µs`).
fn duration_pattern() -> String {
    r"\b(?:[0-9]+(?:\.[0-9]+)?(?:ns|µs|us|ms|s|m|h))+\b".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Applies `env`'s filters through insta and asserts the result inline.
    macro_rules! assert_filtered {
        ($env:expr, $text:expr, @$snapshot:literal) => {
            settings(&$env).bind(|| insta::assert_snapshot!($text, @$snapshot));
        };
    }

    #[test]
    fn root_becomes_placeholder() {
        let env = TestEnv::new();
        let text = format!(
            "cd {}/work && ls {}\n",
            env.root().display(),
            env.home().display()
        );
        assert_filtered!(env, text, @"cd [ROOT]/work && ls [ROOT]/home");
    }

    #[test]
    fn escape_makes_metacharacters_literal() {
        let literal = r"a.b(c)[d]+*?{1}^$|#&-~\z";
        let mut settings = insta::Settings::clone_current();
        settings.add_filter(&escape(literal), "[X]");
        settings.add_filter(&escape("p.q"), "[Y]");
        settings.bind(|| {
            insta::assert_snapshot!(format!("<{literal}> <p.q> <pXq>"), @"<[X]> <[Y]> <pXq>");
        });
        assert_eq!(escape("/tmp/gt-test-1.x"), r"/tmp/gt\-test\-1\.x");
    }

    #[test]
    fn shas_become_placeholder() {
        let env = TestEnv::new();
        let text = "\
commit 0123456789abcdef0123456789abcdef01234567
merge 1a2b3c4 and abcdef012345 into main
too long 1a2b3c4d5e6f7a, too short 1a2b3c
letters deadbeef, digits 1234567, word cafe
";
        assert_filtered!(env, text, @r"
        commit [SHA]
        merge [SHA] and [SHA] into main
        too long 1a2b3c4d5e6f7a, too short 1a2b3c
        letters deadbeef, digits 1234567, word cafe
        ");
    }

    #[test]
    fn ids_become_placeholder() {
        let env = TestEnv::new();
        let text = "\
created bd-a3f8 and hq-x1y2z; child gt-abc.1 of gt-abc, grandchild bd-a3f8.2.10
bd-a3f8c9d is an ID, not a SHA
";
        assert_filtered!(env, text, @r"
        created [ID] and [ID]; child [ID] of gt-abc, grandchild [ID]
        [ID] is an ID, not a SHA
        ");
    }

    #[test]
    fn timestamps_become_placeholder() {
        let env = TestEnv::new();
        let text = "\
at 2026-01-01T00:00:00Z, 2026-03-04T05:06:07.123456+02:00 and 2026-01-01 10:00:00-05:00
not 2026-01-01 alone, nor 10:00:00
";
        assert_filtered!(env, text, @r"
        at [TIMESTAMP], [TIMESTAMP] and [TIMESTAMP]
        not 2026-01-01 alone, nor 10:00:00
        ");
    }

    #[test]
    fn durations_become_placeholder() {
        let env = TestEnv::new();
        let text = "took 12ms, then 1.2s, then 1m30s, then 250µs; 3 retries, v1.2, 80x24\n";
        assert_filtered!(env, text, @"took [DURATION], then [DURATION], then [DURATION], then [DURATION]; 3 retries, v1.2, 80x24");
    }

    #[test]
    fn ordinary_text_is_untouched() {
        let env = TestEnv::new();
        let text = "\
error: issue not found
exit status non-zero; re-run with --verbose
utf-8, x86-64, well-known, main, gt-abc
";
        assert_filtered!(env, text, @r"
        error: issue not found
        exit status non-zero; re-run with --verbose
        utf-8, x86-64, well-known, main, gt-abc
        ");
    }

    #[test]
    fn renders_exit_code_and_both_streams() {
        let env = TestEnv::new();
        let output = env
            .command("sh")
            .args(["-c", "echo out; printf 'no newline' >&2; exit 3"])
            .output()
            .unwrap();
        assert_eq!(
            render_output(&output),
            "exit_code: 3\n----- stdout -----\nout\n----- stderr -----\nno newline\n"
        );
        let silent = env.command("true").output().unwrap();
        assert_eq!(
            render_output(&silent),
            "exit_code: 0\n----- stdout -----\n----- stderr -----\n"
        );
    }

    #[test]
    fn assert_cmd_snapshot_filters_the_rendered_output() {
        let env = TestEnv::new();
        let output = crate::assert_cmd_snapshot!(
            env,
            env.command("sh").args(["-c", "pwd; echo \"now $GT_TEST_NOW\" >&2; exit 1"]),
            @r"
        exit_code: 1
        ----- stdout -----
        [ROOT]/work
        ----- stderr -----
        now [TIMESTAMP]
        "
        );
        assert_eq!(output.status.code(), Some(1));
    }
}
