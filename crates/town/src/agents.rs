//! Agent presets: how to start, prime, detect and resume each coding-agent CLI, and the one
//! resolver every agent start goes through.
//!
//! A preset is assembled in layers, field by field: the built-in preset of that name (if
//! any), then the town's `settings/agents.json`, then the `agents` map of the layered
//! [`Settings`] (town `settings/config.json` < rig `settings/config.json`). Every layer is a
//! [`PresetOverride`]; a name with no built-in must supply a `command`, and starts from the
//! built-in whose program that is, if any (`claude --model haiku` is Claude Code), else alone.
//!
//! [`resolve_agent`] picks the preset for one agent start, most specific first:
//! `--agent` > rig `worker_agents[crew]` > town `crew_agents[crew]` > `role_agents[role]` >
//! rig `agent` > `default_agent` > `claude`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::files::{self, FileError};
use crate::settings::Settings;

/// The preset used when nothing else is configured.
pub const DEFAULT_AGENT: &str = "claude";

/// The instructions file an agent reads when its preset names none.
pub const DEFAULT_INSTRUCTIONS_FILE: &str = "AGENTS.md";

/// The built-in presets, in the order `gt config agent list` shows them.
pub const BUILTIN_PRESETS: &[&str] = &[
    "claude", "codex", "gemini", "cursor", "amp", "opencode", "copilot", "auggie", "pi", "scripted",
];

/// The version of `settings/agents.json` this build reads and writes.
pub const USER_PRESETS_VERSION: u32 = 1;

/// A user preset, or an override of a built-in one: every field optional, applied over the
/// built-in preset of the same name (or over nothing, for a new preset). Field names are
/// upstream's (`AgentPresetInfo`). An empty string clears an optional value (`"resume_flag":
/// ""` turns resume off; `"hooks_provider": "none"` turns hooks off). `env` merges key by key;
/// lists replace. Upstream keys we do not use (`acp`, `supports_hooks`, …) are kept as they are,
/// so a user's upstream `agents.json` loads and survives a rewrite.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PresetOverride {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process_names: Option<Vec<String>>,
    /// `arg` (the first prompt is a command-line argument) or `none` (it is sent as a nudge).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_mode: Option<String>,
    /// Text whose appearance in the pane means the agent is ready for input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready_prompt_prefix: Option<String>,
    /// How long to wait for readiness: the fallback after a prompt prefix, or the whole wait.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready_delay_ms: Option<u64>,
    /// The agent's own startup screens (trust, key approval, warnings) and how readiness
    /// answers them, checked before the prompt counts as ready; needs `ready_prompt_prefix`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready_dialogs: Option<Vec<DialogRule>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hooks_provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hooks_dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hooks_settings_file: Option<String>,
    /// Whether hook settings live in a role directory passed to the agent (Claude's
    /// `--settings`) rather than in the work tree.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hooks_use_settings_dir: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instructions_file: Option<String>,
    /// The resume flag (`--resume`) or subcommand (`resume`, `threads continue`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resume_flag: Option<String>,
    /// `flag` or `subcommand`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resume_style: Option<String>,
    /// The flag that resumes the most recent session in the working directory: `--continue`,
    /// or with a subcommand the flag after it (`codex resume --last`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continue_flag: Option<String>,
    /// Whether the agent can fork a past session into a new one (Claude Code's
    /// `--fork-session`), which `gt seance --talk` uses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supports_fork_session: Option<bool>,
    /// The environment variable the agent's session id is published in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id_env: Option<String>,
    /// The environment variable that moves the agent's config directory (accounts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_dir_env: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub non_interactive: Option<NonInteractive>,
    /// Variables set only when `gt` runs as root (Claude Code's `IS_SANDBOX=1`, without which
    /// it refuses `--dangerously-skip-permissions` as root). Merges key by key, like `env`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env_as_root: Option<BTreeMap<String, String>>,
    /// The variables of `gt`'s own environment the agent gets, by name or by pattern with `*`
    /// (`ANTHROPIC_*`), on top of the town's own (see [`crate::agent_env`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env_passthrough: Option<Vec<String>>,
    /// Variables any one of which holds the agent's credential (`OPENAI_API_KEY`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_env: Option<Vec<String>>,
    /// Files any one of which holds the credential instead, the CLI's own sign-in record:
    /// `~/` is the agent's home, `$VAR/` the directory a variable names (skipped when unset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_files: Option<Vec<String>>,
    /// How to sign in to the agent CLI, named when no credential is found (`codex login`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_command: Option<String>,
    /// Regular expressions over the pane's text that mean the CLI hit a rate or usage limit
    /// (the built-in presets carry their CLI's own messages: `scheduler::ratelimit`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_patterns: Option<Vec<String>>,
    /// Exit statuses (1–255) with which the CLI quits on a rate or usage limit; none are built
    /// in (see `scheduler::ratelimit::builtin_exit_codes`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_exit_codes: Option<Vec<i64>>,
    /// Keys of upstream's preset shape that we keep but do not interpret.
    #[serde(flatten, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// How to run the agent for one prompt without a terminal (`codex exec --json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NonInteractive {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subcommand: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_flag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_flag: Option<String>,
}

/// A screen an agent shows at start before its prompt, recognised by its text, and how
/// readiness answers it. In `settings/agents.json`:
/// `{"name": "workspace trust", "when": ["Accessing workspace:"], "choose": "Yes, I trust"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialogRule {
    /// What the screen is, for logs and errors (`workspace trust`).
    pub name: String,
    /// Texts that all show (case-insensitive) while the screen is up, on or below the last
    /// line holding the first of them, with no empty input prompt below: an answered screen
    /// that scrolled up does not count.
    pub when: Vec<String>,
    #[serde(flatten)]
    pub answer: DialogAnswer,
}

/// How readiness answers a [`DialogRule`]'s screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DialogAnswer {
    /// Select the menu option whose label starts with this text (case-insensitive): the
    /// cursor is read from the pane and moved one step at a time (Up/Down) until the pane shows
    /// it on the option, then Enter. A number typed or a cursor assumed could pick another.
    Choose(String),
    /// Send these keys as they are, in tmux's names (`Escape`, `Enter`, `y`).
    Keys(Vec<String>),
    /// Nothing can answer it: the start fails with this advice.
    Refuse(String),
}

/// How the first prompt reaches the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptMode {
    /// As a command-line argument.
    Arg,
    /// Not at start: the beacon and work instructions are nudged in once it is ready.
    None,
}

impl PromptMode {
    /// The name used in preset files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Arg => "arg",
            Self::None => "none",
        }
    }
}

/// How to tell that a freshly started agent accepts input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Poll the pane for `prefix`, answering the `dialogs` that show before it; give up
    /// waiting after `fallback_ms`.
    Prompt {
        prefix: String,
        fallback_ms: u64,
        dialogs: Vec<DialogRule>,
    },
    /// Wait `ms` (0: no readiness signal, proceed at once).
    Delay { ms: u64 },
}

/// Where an agent's lifecycle hooks are installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hooks {
    /// The hook format (`claude`, `gemini`, `opencode`, …).
    pub provider: String,
    /// The directory, relative to the work tree or role directory (`.claude`).
    pub dir: String,
    /// The file inside `dir` (`settings.json`), if the provider uses one.
    pub settings_file: Option<String>,
    /// Whether the settings live in a role directory passed to the agent.
    pub use_settings_dir: bool,
}

/// How to resume an earlier session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resume {
    /// `<command> <args> <flag> <id>`; `continue_flag` resumes the latest session.
    Flag {
        flag: String,
        continue_flag: Option<String>,
    },
    /// `<command> <subcommand…> <id> <args>` (`codex resume <id>`); `continue_flag` takes the
    /// id's place to resume the latest session in the working directory (`codex resume
    /// --last`).
    Subcommand {
        subcommand: String,
        continue_flag: Option<String>,
    },
}

/// A fully resolved preset: everything needed to start, detect and resume one agent CLI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentPreset {
    pub name: String,
    pub command: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// Process names that mean the agent is running in a pane (liveness detection).
    pub process_names: Vec<String>,
    pub prompt_mode: PromptMode,
    pub readiness: Readiness,
    pub hooks: Option<Hooks>,
    pub instructions_file: String,
    pub resume: Option<Resume>,
    /// Whether `--fork-session` may be added to a resume ([`AgentPreset::fork_argv`]).
    pub supports_fork_session: bool,
    pub session_id_env: Option<String>,
    pub config_dir_env: Option<String>,
    pub non_interactive: Option<NonInteractive>,
    /// Added to `env` when `gt` runs as root.
    pub env_as_root: BTreeMap<String, String>,
    /// Names and `*` patterns of `gt`'s variables the agent gets.
    pub env_passthrough: Vec<String>,
    /// Variables any one of which is the credential (none: the agent needs none).
    pub credential_env: Vec<String>,
    /// Sign-in files any one of which is the credential instead.
    pub credential_files: Vec<String>,
    pub login_command: Option<String>,
    /// What in the pane means a rate or usage limit (checked regexes).
    pub rate_limit_patterns: Vec<String>,
    /// The exit statuses that mean the CLI quit on a rate or usage limit.
    pub rate_limit_exit_codes: Vec<u8>,
}

impl AgentPreset {
    /// The argv that starts the agent (before any prompt).
    pub fn start_argv(&self) -> Vec<String> {
        std::iter::once(self.command.clone())
            .chain(self.args.iter().cloned())
            .collect()
    }

    /// The argv that resumes the agent's most recent conversation in its working directory,
    /// if it has a flag for that (Claude Code's `--continue`, Codex's `resume --last`).
    pub fn continue_argv(&self) -> Option<Vec<String>> {
        match self.resume.as_ref()? {
            Resume::Flag {
                continue_flag: Some(flag),
                ..
            } => Some(
                self.start_argv()
                    .into_iter()
                    .chain(std::iter::once(flag.clone()))
                    .collect(),
            ),
            Resume::Subcommand {
                subcommand,
                continue_flag: Some(flag),
            } => Some(self.subcommand_argv(subcommand, flag)),
            _ => None,
        }
    }

    /// `<command> <subcommand…> <what> <args>`: a subcommand-style resume of `what`.
    fn subcommand_argv(&self, subcommand: &str, what: &str) -> Vec<String> {
        std::iter::once(self.command.clone())
            .chain(subcommand.split_whitespace().map(str::to_owned))
            .chain(std::iter::once(what.to_owned()))
            .chain(self.args.iter().cloned())
            .collect()
    }

    /// The argv that resumes session `id`, if the agent can resume.
    pub fn resume_argv(&self, id: &str) -> Option<Vec<String>> {
        match self.resume.as_ref()? {
            Resume::Flag { flag, .. } => Some(
                self.start_argv()
                    .into_iter()
                    .chain([flag.clone(), id.to_owned()])
                    .collect(),
            ),
            Resume::Subcommand { subcommand, .. } => Some(self.subcommand_argv(subcommand, id)),
        }
    }

    /// The argv that starts a new session forked from session `id` (the old one is left as
    /// it was), asking `prompt` non-interactively when given: Claude Code's
    /// `claude --fork-session --resume <id> [-p <prompt>]`. `None` when the agent cannot fork
    /// sessions, or cannot take a prompt that way.
    pub fn fork_argv(&self, id: &str, prompt: Option<&str>) -> Option<Vec<String>> {
        if !self.supports_fork_session {
            return None;
        }
        let Resume::Flag { flag, .. } = self.resume.as_ref()? else {
            return None;
        };
        let mut argv = self.start_argv();
        argv.extend(["--fork-session".to_owned(), flag.clone(), id.to_owned()]);
        if let Some(prompt) = prompt {
            let flag = self.non_interactive.as_ref()?.prompt_flag.clone()?;
            argv.extend([flag, prompt.to_owned()]);
        }
        Some(argv)
    }

    /// The preset in its flat file form (every set field, empty ones left out): what
    /// `--json` prints and what [`PresetOverride`] layers apply to.
    pub fn to_flat(&self) -> PresetOverride {
        let some_str = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        let some_vec = |v: &[String]| (!v.is_empty()).then(|| v.to_vec());
        let (prefix, delay, dialogs) = match &self.readiness {
            Readiness::Prompt {
                prefix,
                fallback_ms,
                dialogs,
            } => (Some(prefix.clone()), *fallback_ms, some_vec_of(dialogs)),
            Readiness::Delay { ms } => (None, *ms, None),
        };
        let (resume_flag, resume_style, continue_flag) = match &self.resume {
            None => (None, None, None),
            Some(Resume::Flag {
                flag,
                continue_flag,
            }) => (Some(flag.clone()), Some("flag"), continue_flag.clone()),
            Some(Resume::Subcommand {
                subcommand,
                continue_flag,
            }) => (
                Some(subcommand.clone()),
                Some("subcommand"),
                continue_flag.clone(),
            ),
        };
        PresetOverride {
            command: some_str(&self.command),
            args: some_vec(&self.args),
            env: (!self.env.is_empty()).then(|| self.env.clone()),
            process_names: some_vec(&self.process_names),
            prompt_mode: Some(self.prompt_mode.as_str().to_owned()),
            ready_prompt_prefix: prefix,
            ready_delay_ms: Some(delay),
            ready_dialogs: dialogs,
            hooks_provider: self.hooks.as_ref().map(|h| h.provider.clone()),
            hooks_dir: self.hooks.as_ref().map(|h| h.dir.clone()),
            hooks_settings_file: self.hooks.as_ref().and_then(|h| h.settings_file.clone()),
            hooks_use_settings_dir: self
                .hooks
                .as_ref()
                .and_then(|h| h.use_settings_dir.then_some(true)),
            instructions_file: some_str(&self.instructions_file),
            resume_flag,
            resume_style: resume_style.map(str::to_owned),
            continue_flag,
            supports_fork_session: self.supports_fork_session.then_some(true),
            session_id_env: self.session_id_env.clone(),
            config_dir_env: self.config_dir_env.clone(),
            rate_limit_patterns: (!self.rate_limit_patterns.is_empty())
                .then(|| self.rate_limit_patterns.clone()),
            rate_limit_exit_codes: (!self.rate_limit_exit_codes.is_empty()).then(|| {
                self.rate_limit_exit_codes
                    .iter()
                    .map(|&c| i64::from(c))
                    .collect()
            }),
            non_interactive: self.non_interactive.clone(),
            env_as_root: (!self.env_as_root.is_empty()).then(|| self.env_as_root.clone()),
            env_passthrough: some_vec(&self.env_passthrough),
            credential_env: some_vec(&self.credential_env),
            credential_files: some_vec(&self.credential_files),
            login_command: self.login_command.clone(),
            extra: BTreeMap::new(),
        }
    }
}

/// `Some(list)` unless it is empty.
fn some_vec_of<T: Clone>(list: &[T]) -> Option<Vec<T>> {
    (!list.is_empty()).then(|| list.to_vec())
}

/// Serialized in upstream's flat `AgentPresetInfo` shape: `{"name": …, "command": …, …}`.
impl Serialize for AgentPreset {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Flat<'a> {
            name: &'a str,
            #[serde(flatten)]
            fields: PresetOverride,
        }
        Flat {
            name: &self.name,
            fields: self.to_flat(),
        }
        .serialize(serializer)
    }
}

/// Errors resolving, validating, reading or writing presets.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// No built-in, user or settings preset has this name.
    #[error(
        "unknown agent preset `{name}`{}; known presets: {}",
        origin.as_ref().map(|o| format!(" (from {o})")).unwrap_or_default(),
        known.join(", ")
    )]
    UnknownPreset {
        name: String,
        /// Which setting named it, if one did.
        origin: Option<String>,
        known: Vec<String>,
    },
    /// A preset name outside `[a-z0-9-]{1,32}`.
    #[error("invalid agent preset name `{0}`: use 1 to 32 lowercase letters, digits and hyphens")]
    InvalidName(String),
    /// A preset with no built-in of its name and no `command`.
    #[error("agent preset `{0}` has no `command`: a preset that is not built in needs one")]
    MissingCommand(String),
    /// A field holds a value outside its allowed set.
    #[error("agent preset `{preset}`: `{field}` is `{value}`, expected {expected}")]
    InvalidValue {
        preset: String,
        field: &'static str,
        value: String,
        expected: &'static str,
    },
    /// Removing a preset that `settings/agents.json` does not hold.
    #[error("no agent preset `{name}` in `{}`", path.display())]
    NotInUserPresets { name: String, path: PathBuf },
    /// `settings/agents.json` has a version this build does not know.
    #[error("`{}` has version {found}, expected {USER_PRESETS_VERSION}", path.display())]
    UnsupportedVersion { path: PathBuf, found: u32 },
    #[error(transparent)]
    File(#[from] FileError),
    /// The presets file is locked and the lock could not be taken.
    #[error(transparent)]
    Lock(#[from] host::lock::LockError),
}

/// Which rule of the resolution order chose an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChosenBy {
    /// `--agent`.
    Flag,
    /// The rig's `worker_agents[crew]`.
    WorkerAgents(String),
    /// The town's `crew_agents[crew]`.
    CrewAgents(String),
    /// `role_agents[role]`.
    RoleAgents(String),
    /// The rig's `agent`.
    RigAgent,
    /// `default_agent`.
    DefaultAgent,
    /// Nothing configured: [`DEFAULT_AGENT`].
    Fallback,
}

impl fmt::Display for ChosenBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flag => f.write_str("`--agent`"),
            Self::WorkerAgents(c) => write!(f, "`worker_agents.{c}`"),
            Self::CrewAgents(c) => write!(f, "`crew_agents.{c}`"),
            Self::RoleAgents(r) => write!(f, "`role_agents.{r}`"),
            Self::RigAgent => f.write_str("`agent`"),
            Self::DefaultAgent => f.write_str("`default_agent`"),
            Self::Fallback => f.write_str("the built-in default"),
        }
    }
}

/// One agent start to resolve.
#[derive(Debug, Clone, Copy)]
pub struct AgentRequest<'a> {
    /// `polecat`, `crew`, `witness`, `refinery`, `mayor`, `deacon`, …
    pub role: &'a str,
    /// The effective settings (town < rig, already merged by `settings::resolve`).
    pub settings: &'a Settings,
    /// The crew member's name, for crew starts.
    pub crew: Option<&'a str>,
    /// The `--agent` flag.
    pub flag: Option<&'a str>,
}

/// The presets of `settings/agents.json`: `{"version": 1, "agents": {name: override}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserPresets {
    pub version: u32,
    pub agents: BTreeMap<String, PresetOverride>,
}

/// What `gt config agent list` says about a preset's origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PresetKind {
    /// Built in, unchanged.
    Builtin,
    /// Built in, with user overrides applied.
    Override,
    /// Defined by the user.
    User,
}

impl PresetKind {
    /// The word shown in listings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Builtin => "built-in",
            Self::Override => "override",
            Self::User => "user",
        }
    }
}

/// One row of a preset listing.
#[derive(Debug, Clone, Serialize)]
pub struct PresetListing {
    pub kind: PresetKind,
    #[serde(flatten)]
    pub preset: AgentPreset,
}

/// Picks the preset name for a request by the resolution order, and says which rule chose it.
pub fn choose_agent(request: &AgentRequest<'_>) -> (String, ChosenBy) {
    let named = |v: Option<&String>| v.filter(|s| !s.is_empty()).cloned();
    let s = request.settings;
    if let Some(flag) = request.flag.filter(|f| !f.is_empty()) {
        return (flag.to_owned(), ChosenBy::Flag);
    }
    if let Some(crew) = request.crew {
        if let Some(name) = named(s.worker_agents.get(crew)) {
            return (name, ChosenBy::WorkerAgents(crew.to_owned()));
        }
        if let Some(name) = named(s.crew_agents.get(crew)) {
            return (name, ChosenBy::CrewAgents(crew.to_owned()));
        }
    }
    if let Some(name) = named(s.role_agents.get(request.role)) {
        return (name, ChosenBy::RoleAgents(request.role.to_owned()));
    }
    if let Some(name) = named(s.agent.as_ref()) {
        return (name, ChosenBy::RigAgent);
    }
    if !s.default_agent.is_empty() {
        return (s.default_agent.clone(), ChosenBy::DefaultAgent);
    }
    (DEFAULT_AGENT.to_owned(), ChosenBy::Fallback)
}

/// Resolves the preset for one agent start: [`choose_agent`], then [`preset`].
pub fn resolve_agent(
    request: &AgentRequest<'_>,
    user: &UserPresets,
) -> Result<AgentPreset, AgentError> {
    let (name, chosen_by) = choose_agent(request);
    preset(&name, user, request.settings).map_err(|e| match e {
        AgentError::UnknownPreset { name, known, .. } => AgentError::UnknownPreset {
            name,
            origin: Some(chosen_by.to_string()),
            known,
        },
        other => other,
    })
}

/// The preset called `name`: its built-in (if any), then `settings/agents.json`, then the
/// settings' `agents` map, applied field by field.
pub fn preset(
    name: &str,
    user: &UserPresets,
    settings: &Settings,
) -> Result<AgentPreset, AgentError> {
    let layers: Vec<&PresetOverride> = [user.agents.get(name), settings.agents.get(name)]
        .into_iter()
        .flatten()
        .collect();
    let is_builtin = BUILTIN_PRESETS.contains(&name);
    if !is_builtin && layers.is_empty() {
        return Err(AgentError::UnknownPreset {
            name: name.to_owned(),
            origin: None,
            known: known_names(user, settings),
        });
    }
    if !is_builtin {
        validate_name(name)?;
    }
    let mut flat = base(name, &layers);
    for layer in layers {
        apply(&mut flat, layer);
    }
    finish(name, &flat)
}

/// The built-in preset `name`, without user overrides.
pub fn builtin(name: &str) -> Option<AgentPreset> {
    builtin_flat(name).and_then(|flat| finish(name, &flat).ok())
}

/// Every preset name known: built-ins, then user and settings presets, sorted.
pub fn known_names(user: &UserPresets, settings: &Settings) -> Vec<String> {
    let extra: BTreeSet<&String> = user.agents.keys().chain(settings.agents.keys()).collect();
    BUILTIN_PRESETS
        .iter()
        .map(|s| (*s).to_owned())
        .chain(
            extra
                .into_iter()
                .filter(|n| !BUILTIN_PRESETS.contains(&n.as_str()))
                .cloned(),
        )
        .collect()
}

/// Every preset, resolved, with whether it is built in, overridden or the user's.
pub fn list_presets(
    user: &UserPresets,
    settings: &Settings,
) -> Result<Vec<PresetListing>, AgentError> {
    known_names(user, settings)
        .into_iter()
        .map(|name| {
            let overridden = user.agents.contains_key(&name) || settings.agents.contains_key(&name);
            let kind = match (BUILTIN_PRESETS.contains(&name.as_str()), overridden) {
                (true, false) => PresetKind::Builtin,
                (true, true) => PresetKind::Override,
                (false, _) => PresetKind::User,
            };
            Ok(PresetListing {
                kind,
                preset: preset(&name, user, settings)?,
            })
        })
        .collect()
}

/// Checks a preset name: `[a-z0-9-]{1,32}`.
pub fn validate_name(name: &str) -> Result<(), AgentError> {
    let ok = (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(AgentError::InvalidName(name.to_owned()))
    }
}

/// `<town>/settings/agents.json`.
pub fn user_presets_path(town_root: &Path) -> PathBuf {
    town_root.join("settings").join("agents.json")
}

/// Reads `settings/agents.json` (a missing file has no presets) and validates every entry.
pub fn load_user_presets(path: &Path) -> Result<UserPresets, AgentError> {
    let Some(mut presets) = files::read_json_opt::<UserPresets>(path)? else {
        return Ok(UserPresets {
            version: USER_PRESETS_VERSION,
            agents: BTreeMap::new(),
        });
    };
    if presets.version == 0 {
        presets.version = USER_PRESETS_VERSION;
    }
    if presets.version != USER_PRESETS_VERSION {
        return Err(AgentError::UnsupportedVersion {
            path: path.to_owned(),
            found: presets.version,
        });
    }
    presets.validate()?;
    Ok(presets)
}

/// Writes `settings/agents.json` atomically.
pub fn save_user_presets(path: &Path, presets: &UserPresets) -> Result<(), AgentError> {
    let doc = UserPresets {
        version: USER_PRESETS_VERSION,
        agents: presets.agents.clone(),
    };
    files::write_json(path, &doc)?;
    Ok(())
}

/// Applies `patch` to the town's preset `name` in `settings/agents.json` (creating it) and
/// returns the preset as it now resolves, ignoring settings-file overrides.
pub fn set_user_preset(
    town_root: &Path,
    name: &str,
    patch: &PresetOverride,
) -> Result<AgentPreset, AgentError> {
    let path = user_presets_path(town_root);
    let _guard = lock_presets(&path)?;
    let mut presets = load_user_presets(&path)?;
    let resolved = presets.set(name, patch)?;
    save_user_presets(&path, &presets)?;
    Ok(resolved)
}

/// Removes the town's preset `name` from `settings/agents.json`. For a built-in name this
/// removes only the override. Returns whether `name` is still a (built-in) preset.
pub fn remove_user_preset(town_root: &Path, name: &str) -> Result<bool, AgentError> {
    let path = user_presets_path(town_root);
    let _guard = lock_presets(&path)?;
    let mut presets = load_user_presets(&path)?;
    if !presets.remove(name) {
        return Err(AgentError::NotInUserPresets {
            name: name.to_owned(),
            path,
        });
    }
    save_user_presets(&path, &presets)?;
    Ok(BUILTIN_PRESETS.contains(&name))
}

/// Serializes read-modify-write of `settings/agents.json` between processes, so two
/// concurrent `gt config agent set` runs cannot lose one change.
fn lock_presets(path: &Path) -> Result<host::lock::LockGuard, AgentError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| {
            AgentError::File(FileError::Io {
                path: dir.to_owned(),
                source,
            })
        })?;
    }
    Ok(host::lock::lock(&path.with_extension("json.lock"))?)
}

impl UserPresets {
    /// Checks every entry: a valid name, and a preset that resolves on its own.
    pub fn validate(&self) -> Result<(), AgentError> {
        for (name, layer) in &self.agents {
            validate_name(name)?;
            let mut flat = base(name, &[layer]);
            apply(&mut flat, layer);
            finish(name, &flat)?;
        }
        Ok(())
    }

    /// Merges `patch` into the entry `name` (field by field) after checking the result
    /// resolves; returns the resolved preset.
    pub fn set(&mut self, name: &str, patch: &PresetOverride) -> Result<AgentPreset, AgentError> {
        validate_name(name)?;
        let mut entry = self.agents.get(name).cloned().unwrap_or_default();
        apply(&mut entry, patch);
        let mut flat = base(name, &[&entry]);
        apply(&mut flat, &entry);
        let resolved = finish(name, &flat)?;
        self.agents.insert(name.to_owned(), entry);
        Ok(resolved)
    }

    /// Removes the entry `name`; whether there was one.
    pub fn remove(&mut self, name: &str) -> bool {
        self.agents.remove(name).is_some()
    }
}

/// Applies `layer` over `base`: each set field replaces, except `env` and `non_interactive`,
/// which merge key by key.
fn apply(base: &mut PresetOverride, layer: &PresetOverride) {
    fn set<T: Clone>(slot: &mut Option<T>, value: Option<&T>) {
        if let Some(v) = value {
            *slot = Some(v.clone());
        }
    }
    fn merge(
        slot: &mut Option<BTreeMap<String, String>>,
        value: Option<&BTreeMap<String, String>>,
    ) {
        if let Some(map) = value {
            slot.get_or_insert_with(BTreeMap::new)
                .extend(map.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    set(&mut base.command, layer.command.as_ref());
    set(&mut base.args, layer.args.as_ref());
    merge(&mut base.env, layer.env.as_ref());
    set(&mut base.process_names, layer.process_names.as_ref());
    set(&mut base.prompt_mode, layer.prompt_mode.as_ref());
    set(
        &mut base.ready_prompt_prefix,
        layer.ready_prompt_prefix.as_ref(),
    );
    set(&mut base.ready_delay_ms, layer.ready_delay_ms.as_ref());
    set(&mut base.ready_dialogs, layer.ready_dialogs.as_ref());
    set(&mut base.hooks_provider, layer.hooks_provider.as_ref());
    set(&mut base.hooks_dir, layer.hooks_dir.as_ref());
    set(
        &mut base.hooks_settings_file,
        layer.hooks_settings_file.as_ref(),
    );
    set(
        &mut base.hooks_use_settings_dir,
        layer.hooks_use_settings_dir.as_ref(),
    );
    set(
        &mut base.instructions_file,
        layer.instructions_file.as_ref(),
    );
    set(&mut base.resume_flag, layer.resume_flag.as_ref());
    set(&mut base.resume_style, layer.resume_style.as_ref());
    set(&mut base.continue_flag, layer.continue_flag.as_ref());
    set(
        &mut base.supports_fork_session,
        layer.supports_fork_session.as_ref(),
    );
    set(&mut base.session_id_env, layer.session_id_env.as_ref());
    set(&mut base.config_dir_env, layer.config_dir_env.as_ref());
    set(
        &mut base.rate_limit_patterns,
        layer.rate_limit_patterns.as_ref(),
    );
    set(
        &mut base.rate_limit_exit_codes,
        layer.rate_limit_exit_codes.as_ref(),
    );
    if let Some(ni) = &layer.non_interactive {
        let slot = base
            .non_interactive
            .get_or_insert_with(NonInteractive::default);
        set(&mut slot.subcommand, ni.subcommand.as_ref());
        set(&mut slot.prompt_flag, ni.prompt_flag.as_ref());
        set(&mut slot.output_flag, ni.output_flag.as_ref());
    }
    merge(&mut base.env_as_root, layer.env_as_root.as_ref());
    set(&mut base.env_passthrough, layer.env_passthrough.as_ref());
    set(&mut base.credential_env, layer.credential_env.as_ref());
    set(&mut base.credential_files, layer.credential_files.as_ref());
    set(&mut base.login_command, layer.login_command.as_ref());
}

/// Turns a merged flat preset into an [`AgentPreset`], checking every value.
fn finish(name: &str, flat: &PresetOverride) -> Result<AgentPreset, AgentError> {
    let nonempty = |v: &Option<String>| v.as_ref().filter(|s| !s.is_empty()).cloned();
    let invalid = |field, value: &str, expected| AgentError::InvalidValue {
        preset: name.to_owned(),
        field,
        value: value.to_owned(),
        expected,
    };
    let command = nonempty(&flat.command).ok_or_else(|| AgentError::MissingCommand(name.into()))?;
    let vars = |field, map: &Option<BTreeMap<String, String>>| {
        let map = map.clone().unwrap_or_default();
        match map.keys().find(|k| !is_env_name(k)) {
            Some(key) => Err(invalid(field, key, "a variable name like `MY_VAR`")),
            None => Ok(map),
        }
    };
    let env = vars("env", &flat.env)?;
    let env_as_root = vars("env_as_root", &flat.env_as_root)?;
    let list = |field, list: &Option<Vec<String>>, ok: fn(&str) -> bool, expected| {
        let list = list.clone().unwrap_or_default();
        match list.iter().find(|item| !ok(item)) {
            Some(bad) => Err(invalid(field, bad, expected)),
            None => Ok(list),
        }
    };
    let env_passthrough = list(
        "env_passthrough",
        &flat.env_passthrough,
        is_env_pattern,
        "a variable name, or a pattern with `*` like `ANTHROPIC_*`",
    )?;
    let credential_env = list(
        "credential_env",
        &flat.credential_env,
        is_env_name,
        "a variable name like `MY_API_KEY`",
    )?;
    let credential_files = list(
        "credential_files",
        &flat.credential_files,
        |f| f.starts_with('/') || f.starts_with("~/") || f.starts_with('$'),
        "an absolute path, `~/…` or `$VAR/…`",
    )?;
    let process_names = match flat.process_names.as_deref() {
        Some(names) if !names.is_empty() => names.to_vec(),
        // The binary's own name is the best guess at what the pane will show.
        _ => vec![
            Path::new(&command)
                .file_name()
                .map_or_else(|| command.clone(), |n| n.to_string_lossy().into_owned()),
        ],
    };
    let prompt_mode = match flat.prompt_mode.as_deref() {
        None | Some("" | "arg") => PromptMode::Arg,
        Some("none") => PromptMode::None,
        Some(other) => return Err(invalid("prompt_mode", other, "`arg` or `none`")),
    };
    let delay = flat.ready_delay_ms.unwrap_or(0);
    let dialogs = flat.ready_dialogs.clone().unwrap_or_default();
    if let Some(rule) = dialogs
        .iter()
        .find(|r| r.name.trim().is_empty() || r.when.iter().all(|w| w.trim().is_empty()))
    {
        return Err(invalid(
            "ready_dialogs",
            &rule.name,
            "a `name` and at least one non-empty `when` text for every dialog",
        ));
    }
    let readiness = match nonempty(&flat.ready_prompt_prefix) {
        Some(prefix) => Readiness::Prompt {
            prefix,
            fallback_ms: delay,
            dialogs,
        },
        None if !dialogs.is_empty() => {
            return Err(invalid(
                "ready_dialogs",
                &dialogs[0].name,
                "a `ready_prompt_prefix` too: dialogs are answered while waiting for the prompt",
            ));
        }
        None => Readiness::Delay { ms: delay },
    };
    let hooks = match nonempty(&flat.hooks_provider).filter(|p| p != "none") {
        None => None,
        Some(provider) => Some(Hooks {
            provider,
            dir: nonempty(&flat.hooks_dir).ok_or_else(|| {
                invalid("hooks_dir", "", "a directory when `hooks_provider` is set")
            })?,
            settings_file: nonempty(&flat.hooks_settings_file),
            use_settings_dir: flat.hooks_use_settings_dir.unwrap_or(false),
        }),
    };
    let resume = match nonempty(&flat.resume_flag) {
        None => None,
        Some(token) => match flat.resume_style.as_deref() {
            None | Some("" | "flag") => Some(Resume::Flag {
                flag: token,
                continue_flag: nonempty(&flat.continue_flag),
            }),
            Some("subcommand") => Some(Resume::Subcommand {
                subcommand: token,
                continue_flag: nonempty(&flat.continue_flag),
            }),
            Some(other) => {
                return Err(invalid("resume_style", other, "`flag` or `subcommand`"));
            }
        },
    };
    let non_interactive = flat.non_interactive.as_ref().and_then(|ni| {
        let ni = NonInteractive {
            subcommand: nonempty(&ni.subcommand),
            prompt_flag: nonempty(&ni.prompt_flag),
            output_flag: nonempty(&ni.output_flag),
        };
        (ni != NonInteractive::default()).then_some(ni)
    });
    Ok(AgentPreset {
        name: name.to_owned(),
        command,
        args: flat.args.clone().unwrap_or_default(),
        env,
        process_names,
        prompt_mode,
        readiness,
        hooks,
        instructions_file: nonempty(&flat.instructions_file)
            .unwrap_or_else(|| DEFAULT_INSTRUCTIONS_FILE.to_owned()),
        resume,
        supports_fork_session: flat.supports_fork_session.unwrap_or(false),
        session_id_env: nonempty(&flat.session_id_env),
        config_dir_env: nonempty(&flat.config_dir_env),
        non_interactive,
        env_as_root,
        env_passthrough,
        credential_env,
        credential_files,
        login_command: nonempty(&flat.login_command),
        rate_limit_patterns: crate::scheduler::ratelimit::preset_patterns(
            name,
            flat.rate_limit_patterns.as_deref(),
        )
        .map_err(|bad| invalid("rate_limit_patterns", &bad, "regular expressions"))?,
        rate_limit_exit_codes: crate::scheduler::ratelimit::preset_exit_codes(
            flat.rate_limit_exit_codes.as_deref(),
        )
        .map_err(|bad| {
            invalid(
                "rate_limit_exit_codes",
                &bad.to_string(),
                "exit statuses from 1 to 255",
            )
        })?,
    })
}

/// A variable name with `*` standing for any run of characters (`ANTHROPIC_*`, `*_API_KEY`).
fn is_env_pattern(pattern: &str) -> bool {
    pattern.contains(|c| c != '*')
        && pattern
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'*')
}

fn is_env_name(key: &str) -> bool {
    let mut bytes = key.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Claude Code's startup screens (as 2.1.328 draws them), in the order it shows them. Each is
/// a menu without numbers whose cursor starts on the refusing option, so the answer moves it.
/// The folder trust screen shows once per repository (Claude keys a worktree's trust by the
/// repository it belongs to);
/// the key screen once per key (`customApiKeyResponses` in `.claude.json`), when
/// `ANTHROPIC_API_KEY` is set; the bypass-permissions warning once per config directory.
/// Without a key or a login Claude starts all the same and says so in its status line, which
/// fails the start: nothing typed there could sign it in.
fn claude_dialogs() -> Vec<DialogRule> {
    let when = |texts: &[&str]| texts.iter().map(|w| (*w).to_owned()).collect();
    let rule = |name: &str, texts: &[&str], choose: &str| DialogRule {
        name: name.to_owned(),
        when: when(texts),
        answer: DialogAnswer::Choose(choose.to_owned()),
    };
    vec![
        rule(
            "workspace trust",
            &["Accessing workspace:", "Yes, I trust this folder"],
            "Yes, I trust this folder",
        ),
        rule(
            "API key from the environment",
            &[
                "Detected a custom API key",
                "Do you want to use this API key?",
            ],
            "Yes",
        ),
        rule(
            "bypass-permissions warning",
            &["Bypass Permissions mode", "Yes, I accept"],
            "Yes, I accept",
        ),
        DialogRule {
            name: "sign-in notice".to_owned(),
            when: when(&["Not logged in", "/login"]),
            answer: DialogAnswer::Refuse(
                "Claude Code has no credentials: set ANTHROPIC_API_KEY where `gt` runs \
                 or sign in once with `claude auth login`"
                    .to_owned(),
            ),
        },
    ]
}

/// Codex 0.169's startup screens that a menu choice or a key answers (its sign-in screens,
/// answered with the key from the environment, are readiness's own). The trust screen's
/// cursor is checked like any menu's; Escape skips an update this time.
fn codex_dialogs() -> Vec<DialogRule> {
    let when = |texts: &[&str]| texts.iter().map(|w| (*w).to_owned()).collect();
    vec![
        DialogRule {
            name: "update notice".to_owned(),
            when: when(&["Update available", "Skip"]),
            answer: DialogAnswer::Keys(vec!["Escape".to_owned()]),
        },
        DialogRule {
            name: "workspace trust".to_owned(),
            when: when(&["Trust this folder?", "Trust and continue"]),
            answer: DialogAnswer::Choose("Trust and continue".to_owned()),
        },
    ]
}

/// What the layers of preset `name` apply over: its built-in; or, for a preset that is not
/// built in but runs a built-in's program (upstream's `gt config agent set myagent "claude
/// --model haiku"`), that built-in, so it is started, primed, detected and given its
/// environment and credential checks as that CLI is; else nothing.
fn base(name: &str, layers: &[&PresetOverride]) -> PresetOverride {
    if let Some(flat) = builtin_flat(name) {
        return flat;
    }
    let program = layers
        .iter()
        .rev()
        .find_map(|l| l.command.as_deref())
        .and_then(|c| Path::new(c).file_name())
        .and_then(|n| n.to_str());
    BUILTIN_PRESETS
        .iter()
        .filter_map(|b| builtin_flat(b))
        .find(|flat| program.is_some() && flat.command.as_deref() == program)
        .unwrap_or_default()
}

/// Gemini CLI 0.61's startup screens, as the real CLI draws them. Its trust dialog shows only
/// where a preset leaves the worktree untrusted (the built-in one trusts it through
/// `GEMINI_CLI_TRUST_WORKSPACE`). Its auth menu shows until a method is saved, even with
/// `GEMINI_API_KEY` set ("Existing API key detected"); its API key form then shows the key from
/// the environment, and Enter saves it. Without a key either screen has nothing to answer with.
fn gemini_dialogs() -> Vec<DialogRule> {
    let rule = |name: &str, when: &[&str], answer: DialogAnswer| DialogRule {
        name: name.to_owned(),
        when: when.iter().map(|w| (*w).to_owned()).collect(),
        answer,
    };
    let no_key = || {
        DialogAnswer::Refuse(
            "Gemini CLI has no API key to sign in with: set GEMINI_API_KEY where `gt` runs, \
             or sign in once by running `gemini` yourself"
                .to_owned(),
        )
    };
    vec![
        rule(
            "folder trust",
            &["Do you trust the files in this folder?", "Trust folder ("],
            DialogAnswer::Choose("Trust folder".to_owned()),
        ),
        rule(
            "auth method, key in the environment",
            &[
                "How would you like to authenticate",
                "Existing API key detected (GEMINI_API_KEY)",
            ],
            DialogAnswer::Choose("Use Gemini API Key".to_owned()),
        ),
        rule(
            "auth method without a key",
            &[
                "How would you like to authenticate",
                "No authentication method selected",
            ],
            no_key(),
        ),
        rule(
            "API key form, filled from the environment",
            &[
                "Enter Gemini API Key",
                "Existing API key detected (GEMINI_API_KEY)",
            ],
            DialogAnswer::Keys(vec!["Enter".to_owned()]),
        ),
        rule(
            "API key form without a key",
            &["Enter Gemini API Key", "Paste your API key here"],
            no_key(),
        ),
    ]
}

/// The built-in presets in flat form. Facts follow upstream's preset table.
fn builtin_flat(name: &str) -> Option<PresetOverride> {
    let s = |v: &str| Some(v.to_owned());
    let list = |v: &[&str]| Some(v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>());
    let ni = |subcommand: Option<&str>, prompt: Option<&str>, output: Option<&str>| {
        Some(NonInteractive {
            subcommand: subcommand.map(str::to_owned),
            prompt_flag: prompt.map(str::to_owned),
            output_flag: output.map(str::to_owned),
        })
    };
    let preset = match name {
        "claude" => PresetOverride {
            command: s("claude"),
            args: list(&["--dangerously-skip-permissions"]),
            process_names: list(&["node", "claude"]),
            prompt_mode: s("arg"),
            ready_prompt_prefix: s("❯ "),
            ready_delay_ms: Some(10_000),
            ready_dialogs: Some(claude_dialogs()),
            hooks_provider: s("claude"),
            hooks_dir: s(".claude"),
            hooks_settings_file: s("settings.json"),
            hooks_use_settings_dir: Some(true),
            instructions_file: s("CLAUDE.md"),
            resume_flag: s("--resume"),
            resume_style: s("flag"),
            continue_flag: s("--continue"),
            supports_fork_session: Some(true),
            session_id_env: s("CLAUDE_SESSION_ID"),
            config_dir_env: s("CLAUDE_CONFIG_DIR"),
            non_interactive: ni(None, Some("-p"), None),
            // Agents are updated by whoever installed them, not behind the town's back.
            env: Some(BTreeMap::from([(
                "DISABLE_AUTOUPDATER".to_owned(),
                "1".to_owned(),
            )])),
            // Claude Code exits at start when run as root with
            // `--dangerously-skip-permissions`, unless `IS_SANDBOX=1` says the machine is a
            // sandbox (its own check: `getuid() === 0 && IS_SANDBOX !== "1"`).
            env_as_root: Some(BTreeMap::from([("IS_SANDBOX".to_owned(), "1".to_owned())])),
            env_passthrough: list(&["ANTHROPIC_*", "CLAUDE_CODE_*", "CLAUDE_CONFIG_DIR"]),
            credential_env: list(&[
                "ANTHROPIC_API_KEY",
                "ANTHROPIC_AUTH_TOKEN",
                "CLAUDE_CODE_OAUTH_TOKEN",
            ]),
            credential_files: list(&[
                "$CLAUDE_CONFIG_DIR/.credentials.json",
                "~/.claude/.credentials.json",
            ]),
            login_command: s("claude auth login"),
            ..PresetOverride::default()
        },
        // Codex 0.169 (checked against the real CLI): `--no-daemon` gives every agent its own
        // app server, which runs the model's commands and dies with the pane; without it the
        // first `codex` starts a shared background daemon that outlives its pane and runs every
        // later agent's commands in the first one's environment. The pane shows `node` (the npm
        // shim) over the native `codex`. Its commands run in a login shell unless
        // `allow_login_shell=false`, and a login shell's profile resets `PATH`, losing the
        // `gt` the agent's environment puts first on it. `resume --last` picks the latest session of the
        // working directory (a polecat's worktree), and starts afresh where there is none.
        "codex" => PresetOverride {
            command: s("codex"),
            args: list(&[
                "--dangerously-bypass-approvals-and-sandbox",
                "--no-daemon",
                "-c",
                "allow_login_shell=false",
            ]),
            process_names: list(&["codex", "node"]),
            prompt_mode: s("none"),
            ready_prompt_prefix: s("› "),
            ready_delay_ms: Some(3_000),
            ready_dialogs: Some(codex_dialogs()),
            instructions_file: s("AGENTS.md"),
            resume_flag: s("resume"),
            resume_style: s("subcommand"),
            continue_flag: s("--last"),
            non_interactive: ni(Some("exec"), None, Some("--json")),
            env_passthrough: list(&["OPENAI_*", "CODEX_*"]),
            // Its interactive screens take the key from `OPENAI_API_KEY` only (`CODEX_API_KEY`
            // is for `codex exec`); `codex login` writes `auth.json`.
            credential_env: list(&["OPENAI_API_KEY"]),
            credential_files: list(&["$CODEX_HOME/auth.json", "~/.codex/auth.json"]),
            login_command: s("codex login"),
            ..PresetOverride::default()
        },
        // Gemini CLI 0.61 (checked against the real CLI): the npm shim `gemini` is `node`, which
        // relaunches itself as a second `node`. Folder trust: the first prompt of a start runs
        // before Gemini's trust dialog and runs again after it, since trusting relaunches the
        // CLI; so gt, whose worktrees are the town's own, trusts them through the environment,
        // which also lets the worktree's `.gemini/settings.json` hooks run. The first prompt is
        // typed once the input box shows: given as an argument on a first run, it is sent
        // while Gemini still signs in and fails ("Content generator not initialized"). The
        // input box's prompt is `*` in YOLO mode (`>` otherwise). `--resume=latest` (one word:
        // the value is optional) resumes the worktree's latest session and starts afresh where
        // there is none.
        "gemini" => PresetOverride {
            command: s("gemini"),
            args: list(&["--approval-mode", "yolo"]),
            env: Some(BTreeMap::from([(
                "GEMINI_CLI_TRUST_WORKSPACE".to_owned(),
                "true".to_owned(),
            )])),
            process_names: list(&["node", "gemini"]),
            prompt_mode: s("none"),
            ready_prompt_prefix: s("* "),
            ready_delay_ms: Some(5_000),
            ready_dialogs: Some(gemini_dialogs()),
            hooks_provider: s("gemini"),
            hooks_dir: s(".gemini"),
            hooks_settings_file: s("settings.json"),
            instructions_file: s("AGENTS.md"),
            resume_flag: s("--resume"),
            resume_style: s("flag"),
            continue_flag: s("--resume=latest"),
            // Set for its hooks (`gt session-end` and the rest).
            session_id_env: s("GEMINI_SESSION_ID"),
            non_interactive: ni(None, Some("-p"), Some("--output-format json")),
            env_passthrough: list(&["GEMINI_*", "GOOGLE_*"]),
            // Gemini CLI's own auth check: `GEMINI_API_KEY`, Vertex AI's `GOOGLE_API_KEY` or
            // application default credentials, a Google sign-in (`oauth_creds.json`), or a key
            // typed into its API key form (saved to `gemini-credentials.json` where there is
            // no system keychain).
            credential_env: list(&[
                "GEMINI_API_KEY",
                "GOOGLE_API_KEY",
                "GOOGLE_APPLICATION_CREDENTIALS",
            ]),
            credential_files: list(&[
                "~/.gemini/oauth_creds.json",
                "~/.gemini/gemini-credentials.json",
            ]),
            login_command: s("gemini"),
            ..PresetOverride::default()
        },
        "cursor" => PresetOverride {
            command: s("cursor-agent"),
            args: list(&["-f"]),
            process_names: list(&["cursor-agent", "agent"]),
            prompt_mode: s("arg"),
            ready_delay_ms: Some(5_000),
            hooks_provider: s("cursor"),
            hooks_dir: s(".cursor"),
            hooks_settings_file: s("hooks.json"),
            instructions_file: s("AGENTS.md"),
            resume_flag: s("--resume"),
            resume_style: s("flag"),
            non_interactive: ni(None, Some("-p"), Some("--output-format json")),
            env_passthrough: list(&["CURSOR_*"]),
            ..PresetOverride::default()
        },
        "amp" => PresetOverride {
            command: s("amp"),
            args: list(&["--dangerously-allow-all", "--no-ide"]),
            process_names: list(&["amp"]),
            prompt_mode: s("arg"),
            instructions_file: s("AGENTS.md"),
            resume_flag: s("threads continue"),
            resume_style: s("subcommand"),
            env_passthrough: list(&["AMP_*"]),
            ..PresetOverride::default()
        },
        "opencode" => PresetOverride {
            command: s("opencode"),
            env: Some(BTreeMap::from([(
                "OPENCODE_PERMISSION".to_owned(),
                r#"{"*":"allow"}"#.to_owned(),
            )])),
            process_names: list(&["opencode", "node", "bun"]),
            prompt_mode: s("arg"),
            ready_delay_ms: Some(8_000),
            hooks_provider: s("opencode"),
            hooks_dir: s(".opencode/plugins"),
            hooks_settings_file: s("gastown.js"),
            instructions_file: s("AGENTS.md"),
            non_interactive: ni(Some("run"), None, Some("--format json")),
            // It talks to many providers, each with its own key.
            env_passthrough: list(&["OPENCODE_*", "*_API_KEY"]),
            ..PresetOverride::default()
        },
        "copilot" => PresetOverride {
            command: s("copilot"),
            args: list(&["--yolo"]),
            process_names: list(&["copilot"]),
            prompt_mode: s("arg"),
            ready_delay_ms: Some(5_000),
            hooks_provider: s("copilot"),
            hooks_dir: s(".github/hooks"),
            hooks_settings_file: s("gastown.json"),
            instructions_file: s("AGENTS.md"),
            resume_flag: s("--resume"),
            resume_style: s("flag"),
            continue_flag: s("--continue"),
            config_dir_env: s("COPILOT_HOME"),
            non_interactive: ni(None, Some("-p"), None),
            env_passthrough: list(&["COPILOT_*", "GH_TOKEN", "GITHUB_TOKEN"]),
            ..PresetOverride::default()
        },
        "auggie" => PresetOverride {
            command: s("auggie"),
            args: list(&["--allow-indexing"]),
            process_names: list(&["auggie"]),
            prompt_mode: s("arg"),
            instructions_file: s("AGENTS.md"),
            resume_flag: s("--resume"),
            resume_style: s("flag"),
            env_passthrough: list(&["AUGMENT_*"]),
            ..PresetOverride::default()
        },
        "pi" => PresetOverride {
            command: s("pi"),
            args: list(&["-e", ".pi/extensions/gastown-hooks.js"]),
            process_names: list(&["pi", "node", "bun"]),
            prompt_mode: s("arg"),
            ready_delay_ms: Some(8_000),
            hooks_provider: s("pi"),
            hooks_dir: s(".pi/extensions"),
            hooks_settings_file: s("gastown-hooks.js"),
            session_id_env: s("PI_SESSION_ID"),
            non_interactive: ni(None, Some("-p"), Some("--no-session")),
            env_passthrough: list(&["PI_*", "*_API_KEY"]),
            ..PresetOverride::default()
        },
        // Not an AI: the scripted agent that ships with gt (`gt-scripted-agent`), for tests,
        // `gt demo` and trying the loop without a model. It prompts like Claude Code.
        "scripted" => PresetOverride {
            command: s("gt-scripted-agent"),
            process_names: list(&["gt-scripted-age", "gt-scripted-agent"]),
            prompt_mode: s("arg"),
            ready_prompt_prefix: s("❯ "),
            ready_delay_ms: Some(10_000),
            instructions_file: s("AGENTS.md"),
            // Stands in for `CLAUDE_CONFIG_DIR`: which account a session runs as shows in its
            // environment (`run echo $GT_SCRIPTED_AGENT_CONFIG_DIR`).
            config_dir_env: s("GT_SCRIPTED_AGENT_CONFIG_DIR"),
            env_passthrough: list(&["GT_AGENT_SCRIPT", "GT_SCRIPTED_AGENT_*"]),
            ..PresetOverride::default()
        },
        _ => return None,
    };
    Some(preset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(settings: &'a Settings) -> AgentRequest<'a> {
        AgentRequest {
            role: "crew",
            settings,
            crew: Some("bob"),
            flag: None,
        }
    }

    fn names(n: &[&str]) -> BTreeMap<String, PresetOverride> {
        n.iter()
            .map(|n| {
                (
                    (*n).to_owned(),
                    PresetOverride {
                        command: Some(format!("{n}-bin")),
                        ..PresetOverride::default()
                    },
                )
            })
            .collect()
    }

    #[test]
    fn all_builtins_resolve_with_a_command_and_process_names() {
        for name in BUILTIN_PRESETS {
            let p = builtin(name).unwrap_or_else(|| panic!("{name} is built in"));
            assert_eq!(p.name, *name);
            assert!(!p.command.is_empty(), "{name}");
            assert!(!p.process_names.is_empty(), "{name}");
            validate_name(name).unwrap();
        }
        assert_eq!(BUILTIN_PRESETS.len(), 10);
        assert!(builtin("nope").is_none());
    }

    #[test]
    fn only_presets_that_fork_sessions_have_a_fork_argv() {
        let claude = builtin("claude").unwrap();
        assert_eq!(
            claude
                .fork_argv("abc-123", Some("why did you stop?"))
                .unwrap(),
            [
                "claude",
                "--dangerously-skip-permissions",
                "--fork-session",
                "--resume",
                "abc-123",
                "-p",
                "why did you stop?"
            ]
        );
        assert_eq!(claude.fork_argv("abc", None).unwrap().len(), 5);
        for name in ["codex", "gemini", "scripted"] {
            assert_eq!(
                builtin(name).unwrap().fork_argv("abc", None),
                None,
                "{name}"
            );
        }
    }

    #[test]
    fn builtin_facts_follow_upstream() {
        let claude = builtin("claude").unwrap();
        assert_eq!(
            claude.start_argv(),
            ["claude", "--dangerously-skip-permissions"]
        );
        assert_eq!(
            claude.readiness,
            Readiness::Prompt {
                prefix: "❯ ".into(),
                fallback_ms: 10_000,
                dialogs: claude_dialogs(),
            }
        );
        assert_eq!(claude.instructions_file, "CLAUDE.md");
        assert!(claude.hooks.as_ref().unwrap().use_settings_dir);
        assert_eq!(
            claude.resume_argv("s1").unwrap(),
            ["claude", "--dangerously-skip-permissions", "--resume", "s1"]
        );
        assert_eq!(
            claude.continue_argv().unwrap(),
            ["claude", "--dangerously-skip-permissions", "--continue"]
        );

        let codex = builtin("codex").unwrap();
        assert_eq!(codex.prompt_mode, PromptMode::None);
        assert!(codex.hooks.is_none());
        assert_eq!(
            codex.resume_argv("s2").unwrap(),
            [
                "codex",
                "resume",
                "s2",
                "--dangerously-bypass-approvals-and-sandbox",
                "--no-daemon",
                "-c",
                "allow_login_shell=false"
            ]
        );
        assert_eq!(
            codex.continue_argv().unwrap(),
            [
                "codex",
                "resume",
                "--last",
                "--dangerously-bypass-approvals-and-sandbox",
                "--no-daemon",
                "-c",
                "allow_login_shell=false"
            ],
            "the latest session of the working directory"
        );
        let amp = builtin("amp").unwrap();
        assert_eq!(
            amp.resume_argv("t").unwrap()[..4],
            ["amp", "threads", "continue", "t"]
        );
        assert_eq!(amp.readiness, Readiness::Delay { ms: 0 });
        let opencode = builtin("opencode").unwrap();
        assert_eq!(opencode.env["OPENCODE_PERMISSION"], r#"{"*":"allow"}"#);
        assert!(opencode.resume.is_none());
        assert_eq!(builtin("pi").unwrap().instructions_file, "AGENTS.md");
        let gemini = builtin("gemini").unwrap();
        assert_eq!(
            gemini.readiness,
            Readiness::Prompt {
                prefix: "* ".into(),
                fallback_ms: 5_000,
                dialogs: gemini_dialogs(),
            }
        );
        assert_eq!(gemini.prompt_mode, PromptMode::None);
        assert_eq!(
            gemini.continue_argv().unwrap(),
            ["gemini", "--approval-mode", "yolo", "--resume=latest"]
        );
    }

    #[test]
    fn each_level_of_the_resolution_order_wins_in_turn() {
        let mut s = Settings {
            default_agent: "amp".into(),
            agent: Some("auggie".into()),
            ..Settings::default()
        };
        s.role_agents.insert("crew".into(), "copilot".into());
        s.crew_agents.insert("bob".into(), "gemini".into());
        s.worker_agents.insert("bob".into(), "codex".into());
        let user = UserPresets::default();
        let pick = |s: &Settings, flag: Option<&str>| {
            let req = AgentRequest { flag, ..request(s) };
            (choose_agent(&req), resolve_agent(&req, &user).unwrap().name)
        };

        let ((_, by), name) = pick(&s, Some("cursor"));
        assert_eq!((by, name.as_str()), (ChosenBy::Flag, "cursor"));
        let ((_, by), name) = pick(&s, None);
        assert_eq!(
            (by, name.as_str()),
            (ChosenBy::WorkerAgents("bob".into()), "codex")
        );
        s.worker_agents.clear();
        let ((_, by), name) = pick(&s, None);
        assert_eq!(
            (by, name.as_str()),
            (ChosenBy::CrewAgents("bob".into()), "gemini")
        );
        s.crew_agents.clear();
        let ((_, by), name) = pick(&s, None);
        assert_eq!(
            (by, name.as_str()),
            (ChosenBy::RoleAgents("crew".into()), "copilot")
        );
        s.role_agents.clear();
        let ((_, by), name) = pick(&s, None);
        assert_eq!((by, name.as_str()), (ChosenBy::RigAgent, "auggie"));
        s.agent = None;
        let ((_, by), name) = pick(&s, None);
        assert_eq!((by, name.as_str()), (ChosenBy::DefaultAgent, "amp"));
        s.default_agent.clear();
        let ((_, by), name) = pick(&s, None);
        assert_eq!((by, name.as_str()), (ChosenBy::Fallback, "claude"));
    }

    #[test]
    fn crew_maps_apply_only_to_the_named_crew_member() {
        let mut s = Settings::default();
        s.crew_agents.insert("alice".into(), "codex".into());
        s.role_agents.insert("crew".into(), "gemini".into());
        let (name, by) = choose_agent(&request(&s));
        assert_eq!(
            (name.as_str(), by),
            ("gemini", ChosenBy::RoleAgents("crew".into()))
        );
        let polecat = AgentRequest {
            role: "polecat",
            crew: None,
            ..request(&s)
        };
        assert_eq!(choose_agent(&polecat).0, "claude");
    }

    #[test]
    fn unknown_preset_names_it_its_origin_and_the_known_ones() {
        let mut s = Settings::default();
        s.role_agents.insert("crew".into(), "clod".into());
        s.agents = names(&["mine"]);
        let err = resolve_agent(&request(&s), &UserPresets::default()).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, AgentError::UnknownPreset { .. }));
        assert!(msg.contains("`clod`"), "{msg}");
        assert!(msg.contains("role_agents.crew"), "{msg}");
        assert!(
            msg.contains("claude, codex") && msg.contains("mine"),
            "{msg}"
        );
    }

    #[test]
    fn overrides_merge_field_by_field_in_layer_order() {
        let mut user = UserPresets::default();
        user.agents.insert(
            "claude".into(),
            PresetOverride {
                args: Some(vec!["--model".into(), "opus".into()]),
                env: Some(BTreeMap::from([("A".into(), "1".into())])),
                ready_delay_ms: Some(20_000),
                ..PresetOverride::default()
            },
        );
        let mut s = Settings::default();
        s.agents.insert(
            "claude".into(),
            PresetOverride {
                env: Some(BTreeMap::from([("B".into(), "2".into())])),
                resume_flag: Some(String::new()),
                ..PresetOverride::default()
            },
        );
        let p = preset("claude", &user, &s).unwrap();
        assert_eq!(p.command, "claude");
        assert_eq!(p.args, ["--model", "opus"]);
        assert_eq!(p.process_names, ["node", "claude"]);
        assert_eq!(
            p.env.keys().collect::<Vec<_>>(),
            ["A", "B", "DISABLE_AUTOUPDATER"]
        );
        assert_eq!(
            p.readiness,
            Readiness::Prompt {
                prefix: "❯ ".into(),
                fallback_ms: 20_000,
                dialogs: claude_dialogs(),
            }
        );
        assert!(p.resume.is_none(), "an empty resume_flag turns resume off");
        assert_eq!(p.instructions_file, "CLAUDE.md");
        let listing = list_presets(&user, &s).unwrap();
        assert_eq!(listing[0].kind, PresetKind::Override);
        assert_eq!(listing[1].kind, PresetKind::Builtin);
    }

    #[test]
    fn a_standalone_preset_needs_a_command_and_a_valid_name() {
        let mut user = UserPresets::default();
        let patch = PresetOverride {
            args: Some(vec!["-x".into()]),
            ..PresetOverride::default()
        };
        assert!(matches!(
            user.set("mine", &patch),
            Err(AgentError::MissingCommand(_))
        ));
        assert!(user.agents.is_empty(), "nothing stored on error");
        let with_cmd = PresetOverride {
            command: Some("/opt/bin/mine".into()),
            ..PresetOverride::default()
        };
        let p = user.set("mine", &with_cmd).unwrap();
        assert_eq!(p.process_names, ["mine"], "defaults to the binary's name");
        assert_eq!(p.readiness, Readiness::Delay { ms: 0 });
        let p = user.set("mine", &patch).unwrap();
        assert_eq!(p.start_argv(), ["/opt/bin/mine", "-x"]);
        for bad in ["", "Big", "a_b", &"x".repeat(33)] {
            assert!(matches!(
                user.set(bad, &with_cmd),
                Err(AgentError::InvalidName(_))
            ));
        }
        let listing = list_presets(&user, &Settings::default()).unwrap();
        assert_eq!(listing.last().unwrap().kind, PresetKind::User);
    }

    #[test]
    fn a_preset_running_a_builtins_program_starts_from_that_builtin() {
        let mut user = UserPresets::default();
        let haiku = PresetOverride {
            command: Some("/usr/local/bin/claude".into()),
            args: Some(vec!["--model".into(), "haiku".into()]),
            ..PresetOverride::default()
        };
        let p = user.set("myagent", &haiku).unwrap();
        let claude = builtin("claude").unwrap();
        assert_eq!(
            p.start_argv(),
            ["/usr/local/bin/claude", "--model", "haiku"]
        );
        assert_eq!(p.readiness, claude.readiness);
        assert_eq!(p.process_names, claude.process_names);
        assert_eq!(p.credential_env, claude.credential_env);
        assert_eq!(p.env_passthrough, claude.env_passthrough);
        assert_eq!(p.env_as_root, claude.env_as_root);
        assert_eq!(p.hooks, claude.hooks);
        let loaded = preset("myagent", &user, &Settings::default()).unwrap();
        assert_eq!(loaded, p, "resolving it again gives the same preset");
        let other = user
            .set(
                "mine",
                &PresetOverride {
                    command: Some("claude-wrapper".into()),
                    ..PresetOverride::default()
                },
            )
            .unwrap();
        assert!(other.credential_env.is_empty(), "another program: no base");
    }

    #[test]
    fn bad_values_are_rejected_naming_the_field() {
        let mut user = UserPresets::default();
        for (patch, field) in [
            (
                PresetOverride {
                    prompt_mode: Some("stdin".into()),
                    ..PresetOverride::default()
                },
                "prompt_mode",
            ),
            (
                PresetOverride {
                    resume_style: Some("magic".into()),
                    ..PresetOverride::default()
                },
                "resume_style",
            ),
            (
                PresetOverride {
                    env: Some(BTreeMap::from([("1X".into(), "v".into())])),
                    ..PresetOverride::default()
                },
                "env",
            ),
            (
                PresetOverride {
                    hooks_provider: Some("custom".into()),
                    ..PresetOverride::default()
                },
                "hooks_dir",
            ),
            (
                PresetOverride {
                    rate_limit_exit_codes: Some(vec![75, 0]),
                    ..PresetOverride::default()
                },
                "rate_limit_exit_codes",
            ),
        ] {
            let err = user.set("amp", &patch).unwrap_err();
            assert!(
                matches!(&err, AgentError::InvalidValue { field: f, .. } if *f == field),
                "{err}"
            );
        }
    }

    #[test]
    fn user_presets_round_trip_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let town = dir.path();
        let path = user_presets_path(town);
        assert_eq!(path, town.join("settings/agents.json"));
        assert!(load_user_presets(&path).unwrap().agents.is_empty());
        set_user_preset(
            town,
            "mine",
            &PresetOverride {
                command: Some("mine".into()),
                ..PresetOverride::default()
            },
        )
        .unwrap();
        set_user_preset(
            town,
            "codex",
            &PresetOverride {
                args: Some(vec![]),
                ..PresetOverride::default()
            },
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(r#""version": 1"#), "{text}");
        let loaded = load_user_presets(&path).unwrap();
        assert_eq!(loaded.agents.len(), 2);
        assert!(
            preset("codex", &loaded, &Settings::default())
                .unwrap()
                .args
                .is_empty()
        );

        assert!(remove_user_preset(town, "codex").unwrap(), "still built in");
        assert!(!remove_user_preset(town, "mine").unwrap());
        assert!(matches!(
            remove_user_preset(town, "claude"),
            Err(AgentError::NotInUserPresets { .. })
        ));
        assert!(load_user_presets(&path).unwrap().agents.is_empty());
    }

    #[test]
    fn bad_files_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agents.json");
        std::fs::write(&path, r#"{"version":2,"agents":{}}"#).unwrap();
        assert!(matches!(
            load_user_presets(&path),
            Err(AgentError::UnsupportedVersion { found: 2, .. })
        ));
        // A misspelt `command` on a new preset still fails: it has no command.
        std::fs::write(&path, r#"{"version":1,"agents":{"x":{"comand":"x"}}}"#).unwrap();
        assert!(matches!(
            load_user_presets(&path),
            Err(AgentError::MissingCommand(_))
        ));
        // Upstream's other keys load and survive a save.
        std::fs::write(&path, r#"{"version":1,"agents":{"y":{"command":"y","supports_hooks":true,"acp":{"mode":"native"}}}}"#).unwrap();
        let presets = load_user_presets(&path).unwrap();
        assert_eq!(
            presets.agents["y"].extra["supports_hooks"],
            serde_json::json!(true)
        );
        save_user_presets(&path, &presets).unwrap();
        assert!(std::fs::read_to_string(&path).unwrap().contains("\"acp\""));
        std::fs::write(&path, r#"{"version":1,"agents":{"x":{"args":["a"]}}}"#).unwrap();
        assert!(matches!(
            load_user_presets(&path),
            Err(AgentError::MissingCommand(_))
        ));
    }

    #[test]
    fn json_uses_the_flat_upstream_shape_and_round_trips() {
        for name in BUILTIN_PRESETS {
            let p = builtin(name).unwrap();
            let json = serde_json::to_value(&p).unwrap();
            assert_eq!(json["name"], *name);
            assert_eq!(json["command"], p.command);
            let flat: PresetOverride = serde_json::from_value({
                let mut j = json.clone();
                j.as_object_mut().unwrap().remove("name");
                j
            })
            .unwrap();
            assert_eq!(finish(name, &flat).unwrap(), p, "{name}");
        }
        let claude = serde_json::to_value(builtin("claude").unwrap()).unwrap();
        assert_eq!(claude["ready_prompt_prefix"], "❯ ");
        assert_eq!(claude["hooks_settings_file"], "settings.json");
        assert_eq!(claude["env_as_root"]["IS_SANDBOX"], "1");
        let codex = serde_json::to_value(builtin("codex").unwrap()).unwrap();
        assert!(codex.get("env").is_none(), "empty maps are left out");
    }
}
