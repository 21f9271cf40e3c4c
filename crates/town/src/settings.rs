//! Layered, typed settings: built-in defaults < town (`settings/config.json`) < rig
//! (`<rig>/settings/config.json`) < environment (`GT_<KEY>`) < flags (`--set key=value`).
//!
//! Each layer is validated on its own, so an error names the file (or variable) and the key.
//! The merge works on dotted keys (`merge_queue.test_command`), which is also how
//! `gt config get/set` and `gt rig config show` name values, each with the layer it came from.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::agents::PresetOverride;
use crate::files::{self, FileError};

/// The effective settings of a town or rig.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The agent preset used when nothing more specific is configured.
    pub default_agent: String,
    /// A rig's own default agent (rig layer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Agent per role (`polecat`, `witness`, `refinery`, `crew`, `mayor`, `deacon`).
    pub role_agents: BTreeMap<String, String>,
    /// Agent per crew member (town layer).
    pub crew_agents: BTreeMap<String, String>,
    /// Agent per crew member (rig layer, wins over `crew_agents`).
    pub worker_agents: BTreeMap<String, String>,
    /// User presets and overrides of built-in presets.
    pub agents: BTreeMap<String, PresetOverride>,
    /// The refinery's gates and policies.
    pub merge_queue: MergeQueue,
    /// Polecat names.
    pub namepool: NamepoolSettings,
    /// Dispatch limits.
    pub scheduler: Scheduler,
    /// The daemon's supervision: witness and deacon thresholds.
    pub daemon: DaemonSettings,
}

/// `merge_queue`: what the refinery runs before landing a change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MergeQueue {
    pub enabled: bool,
    pub run_tests: bool,
    pub setup_command: String,
    pub typecheck_command: String,
    pub lint_command: String,
    pub build_command: String,
    pub test_command: String,
    /// Seconds each gate may run.
    pub gate_timeout_secs: u64,
    /// `assign_back` (the bead returns to its polecat) or `ready` (back to the ready queue).
    pub on_conflict: String,
    pub delete_merged_branches: bool,
    pub retry_flaky_tests: u32,
    /// The largest batch the queue tests at once.
    pub max_batch_size: u32,
    /// How a tested change reaches the target: pushed (`direct`), through a pull request the
    /// forge merges (`pr`), or through GitHub's merge queue (`github-merge-queue`).
    pub strategy: Strategy,
    /// The forge behind the rig's remote (`auto`: told by the remote's host).
    pub forge: ForgeKind,
    /// How the forge merges a pull request (`auto`: the method the repository allows).
    pub merge_method: MergeMethod,
    /// Hold a pull request until the forge reports it approved.
    pub require_review: bool,
    /// Labels put on every pull request the refinery opens.
    pub labels: Vec<String>,
    /// Seconds between looks at the forge while a pull request waits.
    pub forge_poll_secs: u64,
    /// Refusals of a ready pull request's merge (branch protection, permissions, a conflict
    /// only the forge sees) after which the refinery escalates and stops asking until the
    /// pull request changes or `gt mq retry` releases it.
    pub merge_refusals: u32,
}

/// `merge_queue.strategy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// The refinery pushes the tested change to the target itself.
    #[default]
    Direct,
    /// One pull request per change, merged through the forge once its checks pass.
    Pr,
    /// One pull request per change, put in GitHub's merge queue, which merges it.
    GithubMergeQueue,
}

impl Strategy {
    /// Whether changes land through a forge (and its CLI must work).
    pub fn uses_forge(self) -> bool {
        self != Self::Direct
    }
}

/// `merge_queue.forge`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ForgeKind {
    /// Told by the remote's URL (`github.com`, a host naming `gitlab`).
    #[default]
    Auto,
    Github,
    Gitlab,
}

/// `merge_queue.merge_method`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MergeMethod {
    /// The one the repository allows, as the forge reports it.
    #[default]
    Auto,
    Merge,
    Squash,
    Rebase,
}

/// `namepool`: how polecats are named.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NamepoolSettings {
    /// `mad-max`, `minerals`, `wasteland`, or `custom` (then `names` is the pool).
    pub style: String,
    pub names: Vec<String>,
    /// Names never handed out.
    pub reserved: Vec<String>,
}

/// `scheduler`: how much runs at once (upstream's keys and meanings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Scheduler {
    /// N > 0: at most N polecats work at once and further slings queue until one frees up
    /// (deferred dispatch). 0 or -1: every sling starts at once (direct dispatch), up to the
    /// fixed safety cap.
    pub max_polecats: i64,
    /// At most this many polecats work at once in one rig; 0 is no limit.
    pub max_polecats_per_rig: u32,
    /// How many queued beads the scheduler dispatches in one round.
    pub batch_size: u32,
    /// The pause between two dispatches (`"2s"`, `"500ms"`, or seconds), so agents do not all
    /// start at once (nor all resume at once after a rate-limit window).
    pub spawn_delay: Delay,
    /// A queued bead moves up one priority level for each this many seconds it waits.
    pub aging_secs: u64,
    /// How many times one bead may be respawned before the breaker trips.
    pub max_bead_respawns: u32,
    /// How long a rate-limit hold lasts when the CLI did not say when its window resets (a
    /// limit seen by its exit status alone, or a message without a time).
    pub rate_limit_window: Delay,
}

/// A duration written as `"2s"`, `"500ms"`, `"1m"` or a number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delay(pub std::time::Duration);

impl Serialize for Delay {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(1000) {
            s.serialize_str(&format!("{}s", ms / 1000))
        } else {
            s.serialize_str(&format!("{ms}ms"))
        }
    }
}

impl<'de> Deserialize<'de> for Delay {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let value = Value::deserialize(d)?;
        let parsed = match &value {
            Value::Number(n) => n.as_f64().and_then(parse_secs),
            Value::String(text) => parse_delay(text),
            _ => None,
        };
        parsed.map(Self).ok_or_else(|| {
            D::Error::custom(format!(
                "`{value}` is not a delay: write \"2s\", \"500ms\", \"1m\" or a number of seconds"
            ))
        })
    }
}

fn parse_secs(secs: f64) -> Option<std::time::Duration> {
    std::time::Duration::try_from_secs_f64(secs).ok()
}

fn parse_delay(text: &str) -> Option<std::time::Duration> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| c.is_ascii_alphabetic())?);
    let n: f64 = number.trim().parse().ok()?;
    match unit {
        "ms" => parse_secs(n / 1000.0),
        "s" => parse_secs(n),
        "m" => parse_secs(n * 60.0),
        _ => None,
    }
}

/// `daemon`: when the witness and the deacon act. Times are in seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DaemonSettings {
    /// The longest any service sleeps when nothing wakes it (a missed poke is caught then).
    pub safety_tick_secs: u64,
    /// A working agent with no progress (pane output, heartbeat) this long is nudged; as long
    /// again after the nudge, it is escalated.
    pub stall_after_secs: u64,
    /// An idle polecat's session is stopped after this long (its worktree stays).
    pub idle_reap_after_secs: u64,
    /// How often the witness checks agents while any holds work (a dead agent writes nothing
    /// that could wake it); with no work in flight it sleeps until woken or the safety tick.
    pub liveness_secs: u64,
    /// Protocol mail (`POLECAT_DONE`, `MERGED`, …) older than this is collected by the deacon
    /// even if unread; once no recipient holds it in an inbox it goes at the next pass.
    pub mail_ttl_secs: u64,
}

impl Default for DaemonSettings {
    fn default() -> Self {
        Self {
            safety_tick_secs: 30,
            stall_after_secs: 30 * 60,
            idle_reap_after_secs: 15 * 60,
            liveness_secs: 2,
            mail_ttl_secs: 24 * 60 * 60,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            default_agent: "claude".into(),
            agent: None,
            role_agents: BTreeMap::new(),
            crew_agents: BTreeMap::new(),
            worker_agents: BTreeMap::new(),
            agents: BTreeMap::new(),
            merge_queue: MergeQueue::default(),
            namepool: NamepoolSettings::default(),
            scheduler: Scheduler::default(),
            daemon: DaemonSettings::default(),
        }
    }
}

impl Default for MergeQueue {
    fn default() -> Self {
        Self {
            enabled: true,
            run_tests: true,
            setup_command: String::new(),
            typecheck_command: String::new(),
            lint_command: String::new(),
            build_command: String::new(),
            test_command: String::new(),
            gate_timeout_secs: 1800,
            on_conflict: "assign_back".into(),
            delete_merged_branches: true,
            retry_flaky_tests: 1,
            max_batch_size: 8,
            strategy: Strategy::Direct,
            forge: ForgeKind::Auto,
            merge_method: MergeMethod::Auto,
            require_review: false,
            labels: Vec::new(),
            forge_poll_secs: 30,
            merge_refusals: 3,
        }
    }
}

impl Default for NamepoolSettings {
    fn default() -> Self {
        Self {
            style: "mad-max".into(),
            names: Vec::new(),
            reserved: Vec::new(),
        }
    }
}

impl Default for Scheduler {
    fn default() -> Self {
        Self {
            max_polecats: -1,
            max_polecats_per_rig: 0,
            batch_size: 5,
            spawn_delay: Delay(std::time::Duration::from_secs(2)),
            aging_secs: 600,
            max_bead_respawns: 3,
            rate_limit_window: Delay(crate::scheduler::ratelimit::DEFAULT_WINDOW),
        }
    }
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "layer", content = "source", rename_all = "snake_case")]
pub enum Layer {
    Default,
    Town(PathBuf),
    Rig(PathBuf),
    Env(String),
    Flag,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("default"),
            Self::Town(p) => write!(f, "town ({})", p.display()),
            Self::Rig(p) => write!(f, "rig ({})", p.display()),
            Self::Env(v) => write!(f, "env ({v})"),
            Self::Flag => f.write_str("flag"),
        }
    }
}

/// Settings errors.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    File(#[from] FileError),
    /// A value from the environment or a flag has the wrong type.
    #[error("{origin}: `{key}`: {message}")]
    Value {
        origin: String,
        key: String,
        message: String,
    },
    /// A key no layer knows.
    #[error("unknown setting `{0}`")]
    UnknownKey(String),
    /// A settings file declares the wrong `type`.
    #[error("`{}` has type `{found}`, expected `{expected}`", path.display())]
    WrongType {
        path: PathBuf,
        found: String,
        expected: &'static str,
    },
}

/// One effective value and its layer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sourced {
    pub key: String,
    pub value: Value,
    #[serde(flatten)]
    pub layer: Layer,
}

/// The result of layering: typed settings plus where each value came from.
#[derive(Debug, Clone)]
pub struct Effective {
    pub settings: Settings,
    pub values: Vec<Sourced>,
}

/// The environment variable that overrides `key`: `GT_` + the key upper-cased, `.` → `__`.
pub fn env_var_for(key: &str) -> String {
    format!(
        "GT_{}",
        key.to_uppercase().replace('.', "__").replace('-', "_")
    )
}

/// Map-valued settings, whose entries are user-named keys.
const MAP_KEYS: &[&str] = &["role_agents", "crew_agents", "worker_agents", "agents"];

/// Whether `key` names a setting (a default key, or an entry of a map-valued setting).
pub fn is_known_key(key: &str) -> bool {
    let defaults = flatten(&serde_json::to_value(Settings::default()).expect("settings serialize"));
    defaults.contains_key(key)
        || key == "agent"
        || MAP_KEYS.iter().any(|m| {
            key.strip_prefix(m)
                .is_some_and(|rest| rest.starts_with('.') && rest.len() > 1)
        })
}

/// Flattens objects into dotted keys; arrays and scalars are leaves.
pub fn flatten(value: &Value) -> BTreeMap<String, Value> {
    fn walk(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, child, out);
                }
            }
            leaf => {
                out.insert(prefix.to_owned(), leaf.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", value, &mut out);
    out
}

/// Builds an object from dotted keys.
pub fn unflatten(values: &BTreeMap<String, Value>) -> Value {
    let mut root = Map::new();
    for (key, value) in values {
        let mut node = &mut root;
        let parts: Vec<&str> = key.split('.').collect();
        for part in &parts[..parts.len() - 1] {
            let entry = node
                .entry((*part).to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            node = entry.as_object_mut().expect("just made an object");
        }
        node.insert(parts[parts.len() - 1].to_owned(), value.clone());
    }
    Value::Object(root)
}

/// Parses a value typed on the command line or in the environment: JSON if it parses as
/// JSON, a string otherwise (`true` → bool, `5` → number, `go test` → string).
pub fn parse_value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

fn check_layer(values: &BTreeMap<String, Value>, origin: &str) -> Result<(), SettingsError> {
    let de = unflatten(values);
    serde_path_to_error::deserialize::<_, Settings>(de)
        .map(drop)
        .map_err(|e| SettingsError::Value {
            origin: origin.to_owned(),
            key: e.path().to_string(),
            message: e.inner().to_string(),
        })
}

/// Reads a settings file (`settings/config.json` of a town or rig): its values as dotted keys,
/// validated. A missing file is an empty layer.
pub fn read_layer(
    path: &Path,
    expected_type: &'static str,
) -> Result<BTreeMap<String, Value>, SettingsError> {
    let Some(mut value) = files::read_json_opt::<Value>(path)? else {
        return Ok(BTreeMap::new());
    };
    let Some(map) = value.as_object_mut() else {
        return Err(FileError::Invalid {
            path: path.to_owned(),
            key: String::new(),
            message: "expected a JSON object".into(),
        }
        .into());
    };
    if let Some(found) = map.remove("type") {
        let found = found.as_str().unwrap_or_default().to_owned();
        if found != expected_type {
            return Err(SettingsError::WrongType {
                path: path.to_owned(),
                found,
                expected: expected_type,
            });
        }
    }
    map.remove("version");
    files::parse_json::<Settings>(path, &value.to_string())?;
    Ok(flatten(&value))
}

/// Reads an environment variable; injected so tests stay hermetic.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The inputs to layering.
#[derive(Default)]
pub struct Sources<'a> {
    /// `<town>/settings/config.json`.
    pub town: Option<&'a Path>,
    /// `<rig>/settings/config.json`.
    pub rig: Option<&'a Path>,
    /// Reads an environment variable (injected so tests stay hermetic).
    pub env: Option<EnvLookup<'a>>,
    /// `key=value` overrides from flags.
    pub flags: &'a [(String, String)],
}

/// Layers the sources over the defaults.
pub fn resolve(sources: &Sources<'_>) -> Result<Effective, SettingsError> {
    let mut merged: BTreeMap<String, (Value, Layer)> =
        flatten(&serde_json::to_value(Settings::default()).expect("settings serialize"))
            .into_iter()
            .map(|(k, v)| (k, (v, Layer::Default)))
            .collect();
    if let Some(path) = sources.town {
        for (k, v) in read_layer(path, "town-settings")? {
            merged.insert(k, (v, Layer::Town(path.to_owned())));
        }
    }
    if let Some(path) = sources.rig {
        for (k, v) in read_layer(path, "rig-settings")? {
            merged.insert(k, (v, Layer::Rig(path.to_owned())));
        }
    }
    if let Some(env) = sources.env {
        let keys: Vec<String> = merged.keys().cloned().collect();
        for key in keys {
            let var = env_var_for(&key);
            if let Some(text) = env(&var) {
                let value = parse_value(&text);
                check_layer(
                    &BTreeMap::from([(key.clone(), value.clone())]),
                    &format!("environment variable `{var}`"),
                )?;
                merged.insert(key, (value, Layer::Env(var)));
            }
        }
    }
    for (key, text) in sources.flags {
        if !is_known_key(key) {
            return Err(SettingsError::UnknownKey(key.clone()));
        }
        let value = parse_value(text);
        check_layer(
            &BTreeMap::from([(key.clone(), value.clone())]),
            "flag `--set`",
        )?;
        merged.insert(key.clone(), (value, Layer::Flag));
    }
    let plain: BTreeMap<String, Value> = merged
        .iter()
        .map(|(k, (v, _))| (k.clone(), v.clone()))
        .collect();
    let settings: Settings =
        serde_path_to_error::deserialize(unflatten(&plain)).map_err(|e| SettingsError::Value {
            origin: "merged settings".into(),
            key: e.path().to_string(),
            message: e.inner().to_string(),
        })?;
    let values = merged
        .into_iter()
        .map(|(key, (value, layer))| Sourced { key, value, layer })
        .collect();
    Ok(Effective { settings, values })
}

/// Sets `key` to `value` in a settings file (creating it with `kind` as its type), after
/// checking the key is known and the file stays valid. Returns the value written.
pub fn set_in_file(
    path: &Path,
    kind: &'static str,
    key: &str,
    text: &str,
) -> Result<Value, SettingsError> {
    if !is_known_key(key) {
        return Err(SettingsError::UnknownKey(key.to_owned()));
    }
    let value = parse_value(text);
    let mut layer = read_layer(path, kind)?;
    layer.insert(key.to_owned(), value.clone());
    check_layer(&layer, &format!("`{}`", path.display()))?;
    let mut doc = unflatten(&layer);
    let obj = doc.as_object_mut().expect("unflatten makes an object");
    obj.insert("type".into(), kind.into());
    obj.insert("version".into(), 1.into());
    files::write_json(path, &doc)?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_override_in_order_and_remember_their_source() {
        let dir = tempfile::tempdir().unwrap();
        let town = dir.path().join("town.json");
        let rig = dir.path().join("rig.json");
        std::fs::write(&town, r#"{"type":"town-settings","version":1,"default_agent":"codex","merge_queue":{"test_command":"make test"}}"#).unwrap();
        std::fs::write(
            &rig,
            r#"{"type":"rig-settings","version":1,"merge_queue":{"test_command":"cargo test"}}"#,
        )
        .unwrap();
        let env =
            |name: &str| (name == "GT_MERGE_QUEUE__RETRY_FLAKY_TESTS").then(|| "2".to_owned());
        let flags = vec![("default_agent".to_owned(), "gemini".to_owned())];
        let eff = resolve(&Sources {
            town: Some(&town),
            rig: Some(&rig),
            env: Some(&env),
            flags: &flags,
        })
        .unwrap();
        assert_eq!(eff.settings.merge_queue.test_command, "cargo test");
        assert_eq!(eff.settings.merge_queue.retry_flaky_tests, 2);
        assert_eq!(eff.settings.default_agent, "gemini");
        assert_eq!(eff.settings.scheduler.max_polecats, -1);
        let layer = |k: &str| {
            eff.values
                .iter()
                .find(|v| v.key == k)
                .unwrap()
                .layer
                .clone()
        };
        assert_eq!(layer("merge_queue.test_command"), Layer::Rig(rig.clone()));
        assert_eq!(
            layer("merge_queue.retry_flaky_tests"),
            Layer::Env("GT_MERGE_QUEUE__RETRY_FLAKY_TESTS".into())
        );
        assert_eq!(layer("default_agent"), Layer::Flag);
        assert_eq!(layer("scheduler.max_polecats"), Layer::Default);
    }

    #[test]
    fn a_wrong_type_names_the_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let town = dir.path().join("config.json");
        std::fs::write(
            &town,
            r#"{"type":"town-settings","scheduler":{"max_polecats":"many"}}"#,
        )
        .unwrap();
        let err = resolve(&Sources {
            town: Some(&town),
            ..Sources::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("config.json") && err.contains("scheduler.max_polecats"),
            "{err}"
        );
    }

    #[test]
    fn bad_env_values_and_unknown_keys_are_rejected() {
        let env = |name: &str| (name == "GT_SCHEDULER__MAX_POLECATS").then(|| "lots".to_owned());
        let err = resolve(&Sources {
            env: Some(&env),
            ..Sources::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("GT_SCHEDULER__MAX_POLECATS"), "{err}");
        let flags = vec![("no.such".to_owned(), "1".to_owned())];
        assert!(matches!(
            resolve(&Sources {
                flags: &flags,
                ..Sources::default()
            }),
            Err(SettingsError::UnknownKey(_))
        ));
    }

    #[test]
    fn set_in_file_validates_before_writing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings/config.json");
        set_in_file(&path, "town-settings", "role_agents.witness", "codex").unwrap();
        set_in_file(&path, "town-settings", "scheduler.max_polecats", "10").unwrap();
        assert!(set_in_file(&path, "town-settings", "scheduler.max_polecats", "ten").is_err());
        set_in_file(&path, "town-settings", "scheduler.spawn_delay", "500ms").unwrap();
        assert!(set_in_file(&path, "town-settings", "scheduler.spawn_delay", "soon").is_err());
        let eff = resolve(&Sources {
            town: Some(&path),
            ..Sources::default()
        })
        .unwrap();
        assert_eq!(eff.settings.scheduler.max_polecats, 10);
        assert_eq!(
            eff.settings.scheduler.spawn_delay,
            Delay(std::time::Duration::from_millis(500))
        );
        assert_eq!(eff.settings.role_agents["witness"], "codex");
    }

    #[test]
    fn forge_settings_take_only_their_words() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings/config.json");
        set_in_file(
            &path,
            "rig-settings",
            "merge_queue.strategy",
            "github-merge-queue",
        )
        .unwrap();
        set_in_file(&path, "rig-settings", "merge_queue.forge", "gitlab").unwrap();
        set_in_file(&path, "rig-settings", "merge_queue.merge_method", "squash").unwrap();
        set_in_file(
            &path,
            "rig-settings",
            "merge_queue.labels",
            r#"["gt","bot"]"#,
        )
        .unwrap();
        let err = set_in_file(&path, "rig-settings", "merge_queue.strategy", "yolo")
            .unwrap_err()
            .to_string();
        assert!(err.contains("merge_queue.strategy"), "{err}");
        assert!(
            err.contains("`direct`, `pr`, `github-merge-queue`"),
            "{err}"
        );
        assert!(set_in_file(&path, "rig-settings", "merge_queue.merge_method", "fast").is_err());
        let eff = resolve(&Sources {
            rig: Some(&path),
            ..Sources::default()
        })
        .unwrap();
        let mq = &eff.settings.merge_queue;
        assert_eq!(mq.strategy, Strategy::GithubMergeQueue);
        assert_eq!(mq.forge, ForgeKind::Gitlab);
        assert_eq!(mq.merge_method, MergeMethod::Squash);
        assert_eq!(mq.labels, ["gt", "bot"]);
    }
}
