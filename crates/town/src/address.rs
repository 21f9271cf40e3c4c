//! Who an agent (or the human) is, as mail, nudges and escalations name them.
//!
//! Upstream's address grammar, parsed once into [`Address`]:
//!
//! | text                                      | addresses                                  |
//! |-------------------------------------------|--------------------------------------------|
//! | `mayor/` (or `mayor`)                     | the mayor                                  |
//! | `deacon/` (or `deacon`)                   | the deacon                                 |
//! | `overseer`                                | the human                                  |
//! | `<rig>/witness`, `<rig>/refinery`         | a rig's witness or refinery                |
//! | `<rig>/polecats/<name>`, `<rig>/<name>`   | a polecat                                  |
//! | `<rig>/crew/<name>`                       | a crew member                              |
//! | `list:<name>`                             | a mailing list (expanded when sent)        |
//! | `queue:<name>`                            | a work queue (one claimant per message)    |
//! | `@town`, `@rig/<rig>`                     | broadcasts (expanded when sent)            |
//!
//! The first six name one mailbox ([`Address::is_mailbox`]); the rest are expanded or routed
//! by the mail module. [`Address::canonical`] is the one spelling stored and compared, so
//! `gastown/furiosa` and `gastown/polecats/furiosa` are the same inbox.
//!
//! The caller's own address comes from `GT_ROLE` (set for every agent the town starts); a
//! shell without it is the human, `overseer`.

use std::fmt;

/// A parsed address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Address {
    Mayor,
    Deacon,
    Overseer,
    Witness { rig: String },
    Refinery { rig: String },
    Polecat { rig: String, name: String },
    Crew { rig: String, name: String },
    List { name: String },
    Queue { name: String },
    Town,
    Rig { rig: String },
}

/// An address that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not an address: {why}")]
pub struct AddressError {
    pub text: String,
    pub why: &'static str,
}

/// The forms, for hints.
pub const ADDRESS_FORMS: &str = "mayor/, deacon/, overseer, <rig>/witness, <rig>/refinery, \
<rig>/polecats/<name> (or <rig>/<name>), <rig>/crew/<name>, list:<name>, queue:<name>, @town, \
@rig/<rig>";

impl Address {
    /// Parses `text` (surrounding blanks ignored).
    pub fn parse(text: &str) -> Result<Self, AddressError> {
        let raw = text.trim();
        let err = |why| AddressError {
            text: text.to_owned(),
            why,
        };
        let part = |s: &str, what| {
            if valid_part(s) {
                Ok(s.to_owned())
            } else {
                Err(err(what))
            }
        };
        if let Some(name) = raw.strip_prefix("list:") {
            return Ok(Self::List {
                name: part(name, "a list name is letters, digits, `_` and `-`")?,
            });
        }
        if let Some(name) = raw.strip_prefix("queue:") {
            return Ok(Self::Queue {
                name: part(name, "a queue name is letters, digits, `_` and `-`")?,
            });
        }
        if raw == "@town" {
            return Ok(Self::Town);
        }
        if let Some(rig) = raw.strip_prefix("@rig/") {
            return Ok(Self::Rig {
                rig: part(rig, "a rig name is letters, digits, `_` and `-`")?,
            });
        }
        let parts: Vec<&str> = raw.trim_end_matches('/').split('/').collect();
        match parts.as_slice() {
            ["mayor"] => Ok(Self::Mayor),
            ["deacon"] => Ok(Self::Deacon),
            ["overseer"] => Ok(Self::Overseer),
            [rig, "witness"] => Ok(Self::Witness {
                rig: part(rig, "the rig name has characters an address cannot hold")?,
            }),
            [rig, "refinery"] => Ok(Self::Refinery {
                rig: part(rig, "the rig name has characters an address cannot hold")?,
            }),
            [rig, "crew", name] => Ok(Self::Crew {
                rig: part(rig, "the rig name has characters an address cannot hold")?,
                name: part(name, "a crew name is letters, digits, `_` and `-`")?,
            }),
            [rig, "polecats", name] | [rig, name] if *name != "crew" && *name != "polecats" => {
                Ok(Self::Polecat {
                    rig: part(rig, "the rig name has characters an address cannot hold")?,
                    name: part(name, "a polecat name is letters, digits, `_` and `-`")?,
                })
            }
            [""] => Err(err("it is empty")),
            _ => Err(err("it matches none of the address forms")),
        }
    }

    /// The caller's own address: `GT_ROLE` if set (every agent the town starts has it), else
    /// the human, `overseer`.
    pub fn current() -> Result<Self, AddressError> {
        match host::env::var("GT_ROLE").filter(|v| !v.trim().is_empty()) {
            Some(role) => Self::parse(&role),
            None => Ok(Self::Overseer),
        }
    }

    /// Whether the address is one mailbox (not a list, queue or broadcast).
    pub fn is_mailbox(&self) -> bool {
        !matches!(
            self,
            Self::List { .. } | Self::Queue { .. } | Self::Town | Self::Rig { .. }
        )
    }

    /// The rig the address belongs to, if any.
    pub fn rig(&self) -> Option<&str> {
        match self {
            Self::Witness { rig }
            | Self::Refinery { rig }
            | Self::Polecat { rig, .. }
            | Self::Crew { rig, .. }
            | Self::Rig { rig } => Some(rig),
            _ => None,
        }
    }

    /// The one spelling stored and compared (`gastown/polecats/furiosa`, `mayor/`).
    pub fn canonical(&self) -> String {
        self.to_string()
    }

    /// The name of the agent session this address runs in, for addresses that are agent
    /// sessions: the mayor `hq-mayor`, the deacon `hq-deacon`, a polecat `<prefix>-<name>`
    /// (upstream's `gt-furiosa`), crew `<prefix>-crew-<name>`. The witness and refinery are
    /// services inside the daemon and the overseer is a person, so they have none.
    /// `rig_prefix` is the bead prefix of the address's rig.
    pub fn session(&self, rig_prefix: Option<&str>) -> Option<String> {
        match self {
            Self::Mayor => Some("hq-mayor".to_owned()),
            Self::Deacon => Some("hq-deacon".to_owned()),
            Self::Polecat { name, .. } => rig_prefix.map(|p| format!("{p}-{name}")),
            Self::Crew { name, .. } => rig_prefix.map(|p| format!("{p}-crew-{name}")),
            _ => None,
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Mayor => f.write_str("mayor/"),
            Self::Deacon => f.write_str("deacon/"),
            Self::Overseer => f.write_str("overseer"),
            Self::Witness { rig } => write!(f, "{rig}/witness"),
            Self::Refinery { rig } => write!(f, "{rig}/refinery"),
            Self::Polecat { rig, name } => write!(f, "{rig}/polecats/{name}"),
            Self::Crew { rig, name } => write!(f, "{rig}/crew/{name}"),
            Self::List { name } => write!(f, "list:{name}"),
            Self::Queue { name } => write!(f, "queue:{name}"),
            Self::Town => f.write_str("@town"),
            Self::Rig { rig } => write!(f, "@rig/{rig}"),
        }
    }
}

impl std::str::FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Whether `s` may be one part of an address: ASCII letters, digits, `_` and `-`, not empty,
/// not starting with `-` or `.` (so a part never reads as a flag or a path).
pub fn valid_part(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::Address;

    #[test]
    fn every_form_parses_and_prints_canonically() {
        for (text, canonical) in [
            ("mayor/", "mayor/"),
            ("mayor", "mayor/"),
            ("deacon/", "deacon/"),
            ("overseer", "overseer"),
            ("gastown/witness", "gastown/witness"),
            ("gastown/refinery", "gastown/refinery"),
            ("gastown/polecats/furiosa", "gastown/polecats/furiosa"),
            ("gastown/furiosa", "gastown/polecats/furiosa"),
            ("gastown/crew/max", "gastown/crew/max"),
            ("list:oncall", "list:oncall"),
            ("queue:triage", "queue:triage"),
            ("@town", "@town"),
            ("@rig/gastown", "@rig/gastown"),
            (" gastown/furiosa ", "gastown/polecats/furiosa"),
        ] {
            let a = Address::parse(text).unwrap();
            assert_eq!(a.canonical(), canonical, "{text}");
            assert_eq!(
                Address::parse(&a.canonical()).unwrap(),
                a,
                "{text} round-trips"
            );
        }
    }

    #[test]
    fn hostile_or_malformed_text_is_refused_with_the_reason() {
        for text in [
            "",
            "../x",
            "gastown/../../etc",
            "a/b/c/d",
            "gastown/crew",
            "gastown/polecats",
            "gastown/$(rm -rf)",
            "list:",
            "queue:a b",
            "@rig/",
            "@everyone",
            "gastown/-rf",
        ] {
            let err = Address::parse(text).unwrap_err();
            assert!(
                err.to_string().contains("is not an address"),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn sessions_follow_upstreams_names() {
        let p = Address::parse("gastown/furiosa").unwrap();
        assert_eq!(p.session(Some("gt")).as_deref(), Some("gt-furiosa"));
        let c = Address::parse("gastown/crew/max").unwrap();
        assert_eq!(c.session(Some("gt")).as_deref(), Some("gt-crew-max"));
        assert_eq!(Address::Mayor.session(None).as_deref(), Some("hq-mayor"));
        assert_eq!(
            Address::parse("gastown/witness")
                .unwrap()
                .session(Some("gt")),
            None
        );
        assert_eq!(Address::Overseer.session(None), None);
        assert!(!Address::Town.is_mailbox());
        assert!(Address::Overseer.is_mailbox());
    }
}
