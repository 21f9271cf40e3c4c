//! Where agent CLIs write their transcripts.

use std::path::{Path, PathBuf};

/// The agent CLIs' data directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Homes {
    /// Claude Code's: `$CLAUDE_CONFIG_DIR`, else `~/.claude`.
    pub claude: PathBuf,
    /// Codex's: `$CODEX_HOME`, else `~/.codex`.
    pub codex: PathBuf,
    /// Gemini CLI's: `$GEMINI_CLI_HOME/.gemini`, else `~/.gemini`.
    pub gemini: PathBuf,
}

impl Homes {
    /// From the variables' values (the caller reads the environment).
    pub fn new(
        claude_config_dir: Option<PathBuf>,
        codex_home: Option<PathBuf>,
        home: Option<PathBuf>,
    ) -> Option<Self> {
        let under_home = |dir: &str| home.as_ref().map(|h| h.join(dir));
        Some(Self {
            claude: claude_config_dir.or_else(|| under_home(".claude"))?,
            codex: codex_home.or_else(|| under_home(".codex"))?,
            gemini: under_home(".gemini")?,
        })
    }

    /// From an environment (`CLAUDE_CONFIG_DIR`, `CODEX_HOME`, `GEMINI_CLI_HOME`, `HOME`), as
    /// `var` reads it.
    pub fn from_env(var: impl Fn(&str) -> Option<PathBuf>) -> Option<Self> {
        let mut homes = Self::new(var("CLAUDE_CONFIG_DIR"), var("CODEX_HOME"), var("HOME"))?;
        // Gemini CLI takes it as its home: its directory is `.gemini` under it.
        if let Some(home) = var("GEMINI_CLI_HOME") {
            homes.gemini = home.join(".gemini");
        }
        Some(homes)
    }

    /// From the variables an agent session gets (`KEY`, `value` pairs).
    pub fn from_vars(vars: &[(String, String)]) -> Option<Self> {
        Self::from_env(|k| {
            vars.iter()
                .find(|(name, _)| name == k)
                .map(|(_, v)| PathBuf::from(v))
        })
    }
}

/// Claude Code's project directory for a session run in `cwd`: every character of the path
/// that is not a letter or digit becomes `-` (`/town/gastown/polecats/nux` is
/// `-town-gastown-polecats-nux`).
pub fn claude_project(homes: &Homes, cwd: &Path) -> PathBuf {
    let name: String = cwd
        .to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    homes.claude.join("projects").join(name)
}

/// The transcript of Claude Code session `session_id` run in `cwd`.
pub fn claude_transcript(homes: &Homes, cwd: &Path, session_id: &str) -> PathBuf {
    claude_project(homes, cwd).join(format!("{session_id}.jsonl"))
}

/// Codex rollouts (`sessions/YYYY/MM/DD/rollout-*.jsonl`) changed at or after `since`, oldest
/// name first. Which of them ran where is in their first line (see [`super::codex`]).
pub fn codex_rollouts(homes: &Homes, since: std::time::SystemTime) -> Vec<PathBuf> {
    fn children(dir: &Path) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        v.sort();
        v
    }
    let mut found = Vec::new();
    for year in children(&homes.codex.join("sessions")) {
        for month in children(&year) {
            for day in children(&month) {
                found.extend(children(&day).into_iter().filter(|f| {
                    let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    name.starts_with("rollout-")
                        && name.ends_with(".jsonl")
                        && std::fs::metadata(f)
                            .and_then(|m| m.modified())
                            .is_ok_and(|m| m >= since)
                }));
            }
        }
    }
    found
}

/// Gemini CLI's session files of the project at `cwd` changed at or after `since`, oldest name
/// first: `<gemini>/tmp/<project>/chats/session-*.jsonl` under the project directory whose
/// `.project_root` names `cwd` (Gemini names the directory after the project's base name,
/// made unique with a number, and records the path it stands for there).
pub fn gemini_sessions(homes: &Homes, cwd: &Path, since: std::time::SystemTime) -> Vec<PathBuf> {
    let want = cwd.to_string_lossy();
    let mut found = Vec::new();
    for project in std::fs::read_dir(homes.gemini.join("tmp"))
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
    {
        let root = std::fs::read_to_string(project.path().join(".project_root"));
        if !root.is_ok_and(|root| root.trim() == want) {
            continue;
        }
        found.extend(
            std::fs::read_dir(project.path().join("chats"))
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|f| {
                    let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    name.starts_with("session-")
                        && name.ends_with(".jsonl")
                        && std::fs::metadata(f)
                            .and_then(|m| m.modified())
                            .is_ok_and(|m| m >= since)
                }),
        );
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::Homes;

    #[test]
    fn homes_default_under_the_home_directory() {
        let h = Homes::new(None, Some("/cx".into()), Some("/home/u".into())).unwrap();
        assert_eq!(h.claude, PathBuf::from("/home/u/.claude"));
        assert_eq!(h.codex, PathBuf::from("/cx"));
        assert_eq!(h.gemini, PathBuf::from("/home/u/.gemini"));
        let moved = Homes::from_env(|k| match k {
            "HOME" => Some("/home/u".into()),
            "GEMINI_CLI_HOME" => Some("/g".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(moved.gemini, PathBuf::from("/g/.gemini"));
        assert!(Homes::new(None, None, None).is_none());
    }

    #[test]
    fn a_claude_transcript_lives_under_its_cwd_made_a_name() {
        let h = Homes::new(Some("/c".into()), None, Some("/h".into())).unwrap();
        assert_eq!(
            super::claude_transcript(&h, Path::new("/town/gas.town/polecats/nux"), "abc"),
            PathBuf::from("/c/projects/-town-gas-town-polecats-nux/abc.jsonl")
        );
    }

    #[test]
    fn gemini_sessions_are_found_by_the_project_root_they_record() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/transcripts");
        let mut h = Homes::new(None, None, Some("/h".into())).unwrap();
        h.gemini = fixtures.join("gemini");
        let epoch = std::time::SystemTime::UNIX_EPOCH;
        let found = super::gemini_sessions(&h, Path::new("/town/gastown/polecats/rust"), epoch);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].ends_with("rust/chats/session-2026-12-05T10-02-0199e3a4.jsonl"));
        let elsewhere = super::gemini_sessions(&h, Path::new("/town/gastown/polecats/nux"), epoch);
        assert!(elsewhere.is_empty(), "{elsewhere:?}");
    }

    #[test]
    fn codex_rollouts_are_found_by_day_directory() {
        let codex = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/transcripts/codex");
        let h = Homes::new(Some("/c".into()), Some(codex), Some("/h".into())).unwrap();
        let found = super::codex_rollouts(&h, std::time::SystemTime::UNIX_EPOCH);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].ends_with(
            "2026/12/05/rollout-2026-12-05T10-02-11-0199e3a4-5b6c-7d8e-9f01-23456789abcd.jsonl"
        ));
    }
}
