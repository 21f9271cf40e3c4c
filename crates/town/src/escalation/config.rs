//! `settings/escalation.json`: where each severity's escalations go, and when an unacknowledged
//! one is escalated again. Validated at load; every error names the field.
//!
//! ```json
//! {
//!   "routes": {
//!     "critical": ["bead", "log", "command:/usr/local/bin/page-me --loud"],
//!     "high": ["bead", "log"],
//!     "medium": ["bead", "log"],
//!     "low": ["bead"]
//!   },
//!   "stale_threshold": "4h",
//!   "max_reescalations": 2
//! }
//! ```
//!
//! A route is `bead` (the escalation bead itself, always made), `log` (a line appended to
//! `<town>/logs/escalations.log`), `mail:<address>` (one message to the address, any form `gt
//! mail send` takes: `mail:mayor/`, `mail:overseer`, `mail:list:oncall`), or
//! `command:<program> <args…>` (run directly, never through a shell: the words are split on
//! blanks and no quoting applies; the escalation is passed in `GT_ESCALATION_*` variables and as
//! JSON on stdin). A severity the file leaves out gets the default route.
//!
//! A mail route's address is checked when the file is loaded from a town: it must parse, and
//! name a rig the town has, a crew member whose directory exists, a list or queue
//! `settings/messaging.json` defines. Polecats come and go, so only their rig is checked then;
//! delivery checks the rest and a failed delivery is noted on the bead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::Severity;
use crate::address::Address;

/// The file's place in a town.
pub fn path(town: &crate::layout::Town) -> PathBuf {
    town.root().join("settings/escalation.json")
}

/// One way an escalation is delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Bead,
    Log,
    Mail(Address),
    Command(Vec<String>),
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bead => f.write_str("bead"),
            Self::Log => f.write_str("log"),
            Self::Mail(to) => write!(f, "mail:{to}"),
            Self::Command(argv) => write!(f, "command:{}", argv.join(" ")),
        }
    }
}

impl Route {
    /// Parses one route; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.chars().any(char::is_control) {
            return Err("a route cannot hold control characters".into());
        }
        match text {
            "bead" => return Ok(Self::Bead),
            "log" => return Ok(Self::Log),
            _ => {}
        }
        if let Some(target) = text.strip_prefix("mail:") {
            return Address::parse(target)
                .map(Self::Mail)
                .map_err(|e| e.to_string());
        }
        if let Some(command) = text.strip_prefix("command:") {
            let argv: Vec<String> = command.split_whitespace().map(str::to_owned).collect();
            if argv.is_empty() {
                return Err("`command:` needs a program to run".into());
            }
            return Ok(Self::Command(argv));
        }
        Err(format!(
            "`{text}` is not a route: use `bead`, `log`, `mail:<address>` or `command:<program> <args…>`"
        ))
    }
}

/// The loaded, checked configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationConfig {
    /// Every severity's routes, `bead` first.
    pub routes: BTreeMap<Severity, Vec<Route>>,
    /// How long an escalation may stay unacknowledged before it is escalated again.
    pub stale_threshold: Duration,
    /// How many times one escalation is escalated again, at most.
    pub max_reescalations: u32,
}

/// Four hours, as upstream.
pub const DEFAULT_STALE_THRESHOLD: Duration = Duration::from_secs(4 * 3600);
/// Two re-escalations: MEDIUM becomes HIGH, then CRITICAL.
pub const DEFAULT_MAX_REESCALATIONS: u32 = 2;

impl Default for EscalationConfig {
    /// Every escalation is a bead; MEDIUM and above are also logged.
    fn default() -> Self {
        let routes = Severity::ALL
            .iter()
            .map(|&s| (s, default_routes(s)))
            .collect();
        Self {
            routes,
            stale_threshold: DEFAULT_STALE_THRESHOLD,
            max_reescalations: DEFAULT_MAX_REESCALATIONS,
        }
    }
}

fn default_routes(severity: Severity) -> Vec<Route> {
    let mut routes = vec![Route::Bead];
    if severity <= Severity::Medium {
        routes.push(Route::Log);
    }
    routes
}

/// A bad `escalation.json`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    File(#[from] crate::files::FileError),
    /// A value parsed but is not acceptable.
    #[error("`{}`: `{field}`: {reason}", path.display())]
    Invalid {
        path: PathBuf,
        field: String,
        reason: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    /// Upstream's files carry `"type": "escalation"`; accepted and ignored.
    #[serde(default, rename = "type")]
    _kind: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    version: Option<u32>,
    #[serde(default)]
    routes: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    stale_threshold: Option<String>,
    #[serde(default)]
    max_reescalations: Option<u32>,
}

impl EscalationConfig {
    /// Reads the town's `settings/escalation.json`; the defaults when it does not exist. Mail
    /// routes must name addresses the town has (see the module docs).
    pub fn load(town: &crate::layout::Town) -> Result<Self, ConfigError> {
        let path = path(town);
        let known =
            |to: &Address| crate::mail::check_configured(town, to).map_err(|e| e.to_string());
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse_with(&path, &text, &known),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(crate::files::FileError::Io { path, source }.into()),
        }
    }

    /// Parses and checks the text of `path`; mail routes' addresses are checked only for form.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        Self::parse_with(path, text, &|_| Ok(()))
    }

    /// Parses and checks the text of `path`, asking `known` about each mail route's address.
    pub fn parse_with(
        path: &Path,
        text: &str,
        known: &dyn Fn(&Address) -> Result<(), String>,
    ) -> Result<Self, ConfigError> {
        let raw: Raw = crate::files::parse_json(path, text)?;
        let invalid = |field: String, reason: String| ConfigError::Invalid {
            path: path.to_owned(),
            field,
            reason,
        };
        if let Some(v) = raw.version.filter(|&v| v != 1) {
            return Err(invalid(
                "version".into(),
                format!("version {v} is not supported (only 1)"),
            ));
        }
        let mut config = Self::default();
        for (key, texts) in &raw.routes {
            let severity: Severity = key
                .parse()
                .map_err(|e: String| invalid(format!("routes.{key}"), e))?;
            let mut routes = vec![Route::Bead];
            for (n, text) in texts.iter().enumerate() {
                let field = || format!("routes.{key}[{n}]");
                let route = Route::parse(text).map_err(|e| invalid(field(), e))?;
                if let Route::Mail(to) = &route {
                    known(to).map_err(|e| invalid(field(), e))?;
                }
                if !routes.contains(&route) {
                    routes.push(route);
                }
            }
            config.routes.insert(severity, routes);
        }
        if let Some(text) = &raw.stale_threshold {
            config.stale_threshold =
                parse_duration(text).map_err(|e| invalid("stale_threshold".into(), e))?;
        }
        if let Some(max) = raw.max_reescalations {
            config.max_reescalations = max;
        }
        Ok(config)
    }

    /// The routes of `severity` (always starting with `bead`).
    pub fn routes(&self, severity: Severity) -> &[Route] {
        self.routes.get(&severity).map_or(&[][..], Vec::as_slice)
    }
}

/// `4h`, `30m`, `90s`, `1h 30m`: a positive duration.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let d: jiff::SignedDuration = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (like `4h`, `30m` or `90s`)"))?;
    Duration::try_from(d)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("`{text}` must be longer than zero"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<EscalationConfig, String> {
        EscalationConfig::parse(Path::new("escalation.json"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn a_full_file_parses_and_bead_always_comes_first() {
        let c = parse(
            r#"{"type":"escalation","version":1,
                "routes":{"CRITICAL":["log","mail:mayor","command:/bin/page  --loud"],
                          "low":[]},
                "stale_threshold":"30m","max_reescalations":3}"#,
        )
        .unwrap();
        assert_eq!(
            c.routes(Severity::Critical),
            [
                Route::Bead,
                Route::Log,
                Route::Mail(Address::Mayor),
                Route::Command(vec!["/bin/page".into(), "--loud".into()]),
            ]
        );
        assert_eq!(c.routes(Severity::Low), [Route::Bead]);
        // Left out: the default.
        assert_eq!(c.routes(Severity::High), default_routes(Severity::High));
        assert_eq!(c.stale_threshold, Duration::from_secs(1800));
        assert_eq!(c.max_reescalations, 3);
        assert_eq!(parse("{}").unwrap(), EscalationConfig::default());
    }

    #[test]
    fn every_bad_field_is_named() {
        for (text, names) in [
            (r#"{"routes":{"urgent":["bead"]}}"#, "`routes.urgent`"),
            (r#"{"routes":{"high":["bead","page"]}}"#, "`routes.high[1]`"),
            (r#"{"routes":{"high":["mail:../etc"]}}"#, "`routes.high[0]`"),
            (r#"{"routes":{"high":["mail:"]}}"#, "`routes.high[0]`"),
            (r#"{"routes":{"high":["command:   "]}}"#, "`routes.high[0]`"),
            (r#"{"stale_threshold":"soon"}"#, "`stale_threshold`"),
            (r#"{"stale_threshold":"0s"}"#, "`stale_threshold`"),
            (r#"{"max_reescalations":-1}"#, "`max_reescalations`"),
            (r#"{"version":2}"#, "`version`"),
            (r#"{"routs":{}}"#, "routs"),
            (r#"{"routes":{"high":"bead"}}"#, "`routes.high`"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(names), "{text}: {err}");
            assert!(err.contains("escalation.json"), "{text}: {err}");
        }
    }

    #[test]
    fn a_mail_route_names_its_address_canonically_and_asks_the_town_about_it() {
        let c = parse(r#"{"routes":{"high":["mail:gastown/nux"]}}"#).unwrap();
        assert_eq!(
            c.routes(Severity::High)[1].to_string(),
            "mail:gastown/polecats/nux"
        );
        let unknown = EscalationConfig::parse_with(
            Path::new("escalation.json"),
            r#"{"routes":{"low":["log","mail:ghost/witness"]}}"#,
            &|to| Err(format!("no rig for `{to}`")),
        )
        .unwrap_err()
        .to_string();
        assert!(unknown.contains("`routes.low[1]`"), "{unknown}");
        assert!(unknown.contains("no rig for `ghost/witness`"), "{unknown}");
    }
}
