//! Polecat name pools: which name the next polecat of a rig gets.
//!
//! A pool is a themed list of names (`mad-max`, the default; `minerals`; `wasteland`) or the
//! user's own list (`custom`, from `namepool.names`). [`NamePool::allocate`] hands out the
//! first name of the list that is neither in use nor reserved, and once the list runs out,
//! numbers counting on from its length (`51`, `52`, … after a 50-name theme), as upstream
//! does. Numbers are bare so session names stay `<prefix>-<name>` with one hyphen.
//!
//! There is no state file: what is in use is whatever polecat directories exist (the
//! caller passes their names, from [`crate::layout::RigPaths::polecat_names`]), and
//! allocation is a pure function of the settings and those names. A name (or overflow
//! number) is therefore free again as soon as its directory is gone. Callers must hold the
//! rig's spawn lock from allocating until the directory exists, or two spawns can pick the
//! same name.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::settings::NamepoolSettings;

/// The style used when none is configured.
pub const DEFAULT_STYLE: &str = "mad-max";

/// The style whose names come from `namepool.names`.
pub const CUSTOM_STYLE: &str = "custom";

/// Every style, built-in themes first.
pub const STYLES: &[&str] = &["mad-max", "minerals", "wasteland", CUSTOM_STYLE];

/// Words that name roles or town directories; never a polecat's name.
pub const RESERVED: &[&str] = &[
    "mayor", "deacon", "witness", "refinery", "crew", "polecats", "boot", "hq",
];

/// The longest polecat name.
pub const MAX_NAME_LEN: usize = 32;

const MAD_MAX: &[&str] = &[
    "furiosa",
    "nux",
    "slit",
    "rictus",
    "toast",
    "capable",
    "dag",
    "cheedo",
    "angharad",
    "valkyrie",
    "immortan",
    "max",
    "dementus",
    "morsov",
    "keeper",
    "ace",
    "warboy",
    "imperator",
    "organic",
    "coma",
    "splendid",
    "bullet",
    "toecutter",
    "goose",
    "nightrider",
    "glory",
    "scrotus",
    "chumbucket",
    "corpus",
    "dinki",
    "vuvalini",
    "rockryder",
    "buzzard",
    "citadel",
    "fury",
    "interceptor",
    "wraith",
    "chrome",
    "shiny",
    "mediocre",
    "guzzoline",
    "gastown",
    "blackfinger",
    "jabassa",
    "praetorian",
    "historyman",
    "octoboss",
    "bulletfarmer",
    "gigahorse",
    "lonely",
];

const MINERALS: &[&str] = &[
    "quartz",
    "obsidian",
    "jasper",
    "onyx",
    "opal",
    "topaz",
    "garnet",
    "ruby",
    "jade",
    "flint",
    "granite",
    "basalt",
    "marble",
    "shale",
    "slate",
    "pyrite",
    "mica",
    "agate",
    "malachite",
    "turquoise",
    "lapis",
    "emerald",
    "sapphire",
    "diamond",
    "amethyst",
    "citrine",
    "zircon",
    "peridot",
    "moonstone",
    "sunstone",
    "bloodstone",
    "rhodonite",
    "sodalite",
    "hematite",
    "magnetite",
    "calcite",
    "fluorite",
    "selenite",
    "kyanite",
    "labradorite",
    "amazonite",
    "chalcedony",
    "carnelian",
    "aventurine",
    "beryl",
    "galena",
    "cinnabar",
    "tourmaline",
    "gypsum",
    "feldspar",
];

const WASTELAND: &[&str] = &[
    "rust",
    "scrap",
    "dust",
    "cinder",
    "ember",
    "ash",
    "static",
    "rad",
    "nitro",
    "diesel",
    "grit",
    "husk",
    "scorch",
    "sandstorm",
    "dune",
    "mesa",
    "canyon",
    "gulch",
    "vulture",
    "jackal",
    "coyote",
    "scorpion",
    "rattler",
    "hyena",
    "crow",
    "drifter",
    "nomad",
    "scavenger",
    "raider",
    "tinker",
    "salvager",
    "wrecker",
    "sprocket",
    "piston",
    "gasket",
    "crank",
    "rivet",
    "bolt",
    "welder",
    "geiger",
    "bunker",
    "outpost",
    "relic",
    "ruin",
    "sentinel",
    "ranger",
    "courier",
    "wanderer",
    "lancer",
    "tumbleweed",
];

/// Errors in `namepool` settings.
#[derive(Debug, thiserror::Error)]
pub enum NamepoolError {
    /// `namepool.style` names no style.
    #[error("unknown name pool style `{0}`; styles: {styles}", styles = STYLES.join(", "))]
    UnknownStyle(String),
    /// `custom` with no names.
    #[error("the `custom` name pool needs names in `namepool.names`")]
    EmptyCustom,
    /// A name outside `[a-z0-9_]{1,32}`.
    #[error(
        "invalid polecat name `{0}`: use 1 to {MAX_NAME_LEN} lowercase letters, digits and underscores"
    )]
    InvalidName(String),
    /// A custom name that is a reserved role word.
    #[error("`{0}` is reserved for a role and cannot name a polecat")]
    ReservedName(String),
    /// The same custom name twice.
    #[error("`{0}` appears twice in `namepool.names`")]
    DuplicateName(String),
}

/// A rig's name pool, built from its effective `namepool` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamePool {
    style: String,
    names: Vec<String>,
    reserved: BTreeSet<String>,
}

/// What `gt namepool` shows: the pool and who holds which name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoolStatus {
    pub style: String,
    pub names: Vec<String>,
    /// Built-in reserved words and `namepool.reserved`, sorted.
    pub reserved: Vec<String>,
    /// Names in use, sorted (overflow numbers included).
    pub in_use: Vec<String>,
    /// What [`NamePool::allocate`] would hand out next.
    pub next: String,
}

impl NamePool {
    /// The pool for `settings`; fails on an unknown style, an empty or invalid custom list.
    pub fn new(settings: &NamepoolSettings) -> Result<Self, NamepoolError> {
        let style = if settings.style.is_empty() {
            DEFAULT_STYLE
        } else {
            settings.style.as_str()
        };
        let names: Vec<String> = if style == CUSTOM_STYLE {
            if settings.names.is_empty() {
                return Err(NamepoolError::EmptyCustom);
            }
            let mut seen = BTreeSet::new();
            for name in &settings.names {
                validate_name(name)?;
                if RESERVED.contains(&name.as_str()) {
                    return Err(NamepoolError::ReservedName(name.clone()));
                }
                if !seen.insert(name.as_str()) {
                    return Err(NamepoolError::DuplicateName(name.clone()));
                }
            }
            settings.names.clone()
        } else {
            theme(style)
                .ok_or_else(|| NamepoolError::UnknownStyle(style.to_owned()))?
                .iter()
                .map(|n| (*n).to_owned())
                .collect()
        };
        let reserved = RESERVED
            .iter()
            .map(|r| (*r).to_owned())
            .chain(settings.reserved.iter().cloned())
            .collect();
        Ok(Self {
            style: style.to_owned(),
            names,
            reserved,
        })
    }

    /// The style: a theme or `custom`.
    pub fn style(&self) -> &str {
        &self.style
    }

    /// The pool's names in allocation order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Whether `name` may never be handed out.
    pub fn is_reserved(&self, name: &str) -> bool {
        self.reserved.contains(name)
    }

    /// The next name: the first pool name not in `in_use` and not reserved, else the first
    /// number after the pool's length that is neither.
    pub fn allocate(&self, in_use: &[String]) -> String {
        let taken = |name: &str| self.is_reserved(name) || in_use.iter().any(|u| u == name);
        if let Some(name) = self.names.iter().find(|n| !taken(n)) {
            return name.clone();
        }
        (self.names.len() + 1..)
            .map(|n| n.to_string())
            .find(|n| !taken(n))
            .unwrap_or_default()
    }

    /// The pool and its use, for display.
    pub fn status(&self, in_use: &[String]) -> PoolStatus {
        let in_use_sorted: BTreeSet<String> = in_use.iter().cloned().collect();
        PoolStatus {
            style: self.style.clone(),
            names: self.names.clone(),
            reserved: self.reserved.iter().cloned().collect(),
            in_use: in_use_sorted.into_iter().collect(),
            next: self.allocate(in_use),
        }
    }
}

/// The names of a built-in theme.
pub fn theme(style: &str) -> Option<&'static [&'static str]> {
    match style {
        "mad-max" => Some(MAD_MAX),
        "minerals" => Some(MINERALS),
        "wasteland" => Some(WASTELAND),
        _ => None,
    }
}

/// Checks a polecat name: `[a-z0-9_]{1,32}`.
pub fn validate_name(name: &str) -> Result<(), NamepoolError> {
    let ok = (1..=MAX_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(NamepoolError::InvalidName(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(style: &str, names: &[&str], reserved: &[&str]) -> NamepoolSettings {
        let own = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        NamepoolSettings {
            style: style.into(),
            names: own(names),
            reserved: own(reserved),
        }
    }

    fn owned(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn themes_are_large_valid_unique_and_free_of_reserved_words() {
        for style in &STYLES[..3] {
            let names = theme(style).unwrap();
            assert!(names.len() >= 45, "{style}: {}", names.len());
            let unique: BTreeSet<_> = names.iter().collect();
            assert_eq!(unique.len(), names.len(), "{style} has duplicates");
            for name in names {
                validate_name(name).unwrap();
                assert!(!RESERVED.contains(name), "{style}: {name}");
            }
        }
        assert!(theme("custom").is_none());
    }

    #[test]
    fn default_is_mad_max_starting_with_furiosa() {
        let pool = NamePool::new(&NamepoolSettings::default()).unwrap();
        assert_eq!(pool.style(), "mad-max");
        assert_eq!(pool.allocate(&[]), "furiosa");
        let blank = NamePool::new(&settings("", &[], &[])).unwrap();
        assert_eq!(blank.style(), DEFAULT_STYLE);
    }

    #[test]
    fn allocation_skips_in_use_and_reserved_names() {
        let pool = NamePool::new(&settings("mad-max", &[], &["nux"])).unwrap();
        assert_eq!(pool.allocate(&owned(&["furiosa"])), "slit");
        assert_eq!(pool.allocate(&owned(&["furiosa", "slit"])), "rictus");
        assert!(pool.is_reserved("mayor") && pool.is_reserved("nux"));
        let minerals = NamePool::new(&settings("minerals", &[], &[])).unwrap();
        assert_eq!(minerals.allocate(&owned(&["quartz"])), "obsidian");
    }

    #[test]
    fn an_exhausted_pool_overflows_to_numbers_deterministically() {
        let pool = NamePool::new(&settings("wasteland", &[], &[])).unwrap();
        let mut in_use: Vec<String> = pool.names().to_vec();
        let n = in_use.len();
        assert_eq!(pool.allocate(&in_use), (n + 1).to_string());
        in_use.push((n + 1).to_string());
        assert_eq!(pool.allocate(&in_use), (n + 2).to_string());
        // A freed pool name is handed out before any further number.
        in_use.retain(|x| x != "dust");
        assert_eq!(pool.allocate(&in_use), "dust");
    }

    #[test]
    fn custom_pools_use_their_names_then_number_on() {
        let pool = NamePool::new(&settings("custom", &["alpha", "beta"], &["3"])).unwrap();
        assert_eq!(pool.names(), ["alpha", "beta"]);
        assert_eq!(pool.allocate(&owned(&["alpha"])), "beta");
        assert_eq!(
            pool.allocate(&owned(&["alpha", "beta"])),
            "4",
            "3 is reserved"
        );
        let status = pool.status(&owned(&["beta", "alpha"]));
        assert_eq!(status.in_use, ["alpha", "beta"]);
        assert_eq!(status.next, "4");
        assert!(status.reserved.contains(&"hq".to_owned()));
    }

    #[test]
    fn bad_settings_are_errors() {
        let err = NamePool::new(&settings("muppets", &[], &[])).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, NamepoolError::UnknownStyle(_)));
        assert!(
            msg.contains("`muppets`") && msg.contains("mad-max, minerals"),
            "{msg}"
        );
        assert!(matches!(
            NamePool::new(&settings("custom", &[], &[])),
            Err(NamepoolError::EmptyCustom)
        ));
        for bad in ["Nux", "a-b", "", &"x".repeat(33)] {
            assert!(matches!(
                NamePool::new(&settings("custom", &[bad], &[])),
                Err(NamepoolError::InvalidName(_))
            ));
        }
        assert!(matches!(
            NamePool::new(&settings("custom", &["a", "witness"], &[])),
            Err(NamepoolError::ReservedName(_))
        ));
        assert!(matches!(
            NamePool::new(&settings("custom", &["a", "a"], &[])),
            Err(NamepoolError::DuplicateName(_))
        ));
        // Names are only read for `custom`.
        assert!(NamePool::new(&settings("minerals", &["NOT VALID"], &[])).is_ok());
    }
}
