//! What a million tokens cost, per model: a built-in table of list prices the town can
//! override in `settings/costs.json`:
//!
//! ```json
//! {"prices": {"claude-sonnet-4-5": {"input": 3, "output": 15, "cache_write": 3.75, "cache_read": 0.3},
//!             "my-gateway-model": {"input": 0.5, "output": 1.5}}}
//! ```
//!
//! A key names a model id or a prefix of ids: it applies to a model whose id is the key, or
//! starts with the key followed by `-`, `@` or `[` (so `claude-sonnet-4-5` prices the dated
//! `claude-sonnet-4-5-20250929`, and `gpt-5` does not price `gpt-5.5`); the longest key that
//! applies wins, an override before a built-in one of the same key. `input` and `output` are
//! required; a missing `cache_write` or `cache_read` costs as much as input. A model no key
//! applies to has no price: its tokens are shown, its dollars are not.
//!
//! The built-in prices are USD list prices per million tokens, standard tier, from
//! Anthropic's pricing page (platform.claude.com/docs/en/about-claude/pricing and the model
//! overview pages) and OpenAI's (developers.openai.com/api/docs/pricing and model pages), as
//! published in December 2026. A Claude cache write is priced at the 5-minute rate (Claude
//! Code's default); OpenAI charges nothing to write its cache. Batch, priority, regional and
//! long-prompt tiers are not modelled; a town on other terms overrides.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use beads::Tokens;
use serde::{Deserialize, Serialize};

use crate::files::FileError;

/// USD per million tokens of each kind.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    pub cache_write: f64,
    pub cache_read: f64,
}

impl Price {
    const fn new(input: f64, output: f64, cache_write: f64, cache_read: f64) -> Self {
        Self {
            input,
            output,
            cache_write,
            cache_read,
        }
    }

    /// What `t` costs, in USD.
    #[expect(
        clippy::cast_precision_loss,
        reason = "token counts far below 2^52 are exact as f64; dollars are an estimate"
    )]
    pub fn cost(&self, t: &Tokens) -> f64 {
        (t.input as f64 * self.input
            + t.output as f64 * self.output
            + t.cache_write as f64 * self.cache_write
            + t.cache_read as f64 * self.cache_read)
            / 1_000_000.0
    }
}

/// Claude: Opus 4.5 and later Opus 4.x cost $5/$25, Opus 4 and 4.1 $15/$75; cache writes
/// (5 min) 1.25× input, cache reads 0.1× (0.05× for Opus 5.5 and, since 2026-10-07, Sonnet
/// 5.5). OpenAI: cached input 0.1× input (0.25× for codex-mini). Gemini: prompts up to 200k
/// tokens, cached input 0.1× input.
const BUILT_IN: &[(&str, Price)] = &[
    ("claude-opus-5-5", Price::new(4.0, 20.0, 5.0, 0.20)),
    ("claude-opus-5", Price::new(5.0, 25.0, 6.25, 0.50)),
    ("claude-opus-4-8", Price::new(5.0, 25.0, 6.25, 0.50)),
    ("claude-opus-4-7", Price::new(5.0, 25.0, 6.25, 0.50)),
    ("claude-opus-4-6", Price::new(5.0, 25.0, 6.25, 0.50)),
    ("claude-opus-4-5", Price::new(5.0, 25.0, 6.25, 0.50)),
    ("claude-opus-4-1", Price::new(15.0, 75.0, 18.75, 1.50)),
    ("claude-opus-4-0", Price::new(15.0, 75.0, 18.75, 1.50)),
    (
        "claude-opus-4-20250514",
        Price::new(15.0, 75.0, 18.75, 1.50),
    ),
    ("claude-sonnet-5-5", Price::new(2.0, 10.0, 2.50, 0.10)),
    ("claude-sonnet-5", Price::new(2.0, 10.0, 2.50, 0.20)),
    ("claude-sonnet-4-6", Price::new(3.0, 15.0, 3.75, 0.30)),
    ("claude-sonnet-4-5", Price::new(3.0, 15.0, 3.75, 0.30)),
    ("claude-sonnet-4-0", Price::new(3.0, 15.0, 3.75, 0.30)),
    (
        "claude-sonnet-4-20250514",
        Price::new(3.0, 15.0, 3.75, 0.30),
    ),
    ("claude-haiku-4-5", Price::new(1.0, 5.0, 1.25, 0.10)),
    ("claude-3-5-haiku", Price::new(0.80, 4.0, 1.0, 0.08)),
    ("gpt-5.4", Price::new(2.50, 15.0, 0.0, 0.25)),
    ("gpt-5.4-mini", Price::new(0.75, 4.50, 0.0, 0.075)),
    ("gpt-5.2", Price::new(1.75, 14.0, 0.0, 0.175)),
    ("gpt-5.1", Price::new(1.25, 10.0, 0.0, 0.125)),
    ("gpt-5.1-codex-mini", Price::new(0.25, 2.0, 0.0, 0.025)),
    ("gpt-5", Price::new(1.25, 10.0, 0.0, 0.125)),
    ("gpt-5-mini", Price::new(0.25, 2.0, 0.0, 0.025)),
    ("gpt-5-nano", Price::new(0.05, 0.40, 0.0, 0.005)),
    ("codex-mini-latest", Price::new(1.50, 6.0, 0.0, 0.375)),
    ("gemini-2.5-pro", Price::new(1.25, 10.0, 0.0, 0.125)),
    ("gemini-2.5-flash", Price::new(0.30, 2.50, 0.0, 0.03)),
    ("gemini-2.5-flash-lite", Price::new(0.10, 0.40, 0.0, 0.01)),
];

/// The town's price table: overrides, then the built-in prices.
#[derive(Debug, Clone, Default)]
pub struct Prices {
    overrides: BTreeMap<String, Price>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    prices: BTreeMap<String, RawPrice>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrice {
    input: f64,
    output: f64,
    #[serde(default)]
    cache_write: Option<f64>,
    #[serde(default)]
    cache_read: Option<f64>,
}

/// `settings/costs.json` of the town at `root`.
pub fn path(root: &Path) -> PathBuf {
    root.join("settings/costs.json")
}

/// Whether `key` prices `model` (see the module docs).
fn applies(key: &str, model: &str) -> bool {
    model
        .strip_prefix(key)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['-', '@', '[']))
}

impl Prices {
    /// The built-in prices only.
    pub fn built_in() -> Self {
        Self::default()
    }

    /// The built-in prices with the town's overrides (a missing file overrides nothing).
    pub fn load(root: &Path) -> Result<Self, FileError> {
        let path = path(root);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::built_in()),
            Err(source) => Err(FileError::Io { path, source }),
        }
    }

    /// Parses and checks the overrides in `text`, which came from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Self, FileError> {
        let raw: RawFile = crate::files::parse_json(path, text)?;
        let invalid = |key: String, message: String| FileError::Invalid {
            path: path.to_owned(),
            key,
            message,
        };
        let mut overrides = BTreeMap::new();
        for (model, p) in raw.prices {
            if model.is_empty() || model.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(invalid(
                    "prices".into(),
                    format!("`{}` cannot name a model", model.escape_debug()),
                ));
            }
            let cache_write = p.cache_write.unwrap_or(p.input);
            let cache_read = p.cache_read.unwrap_or(p.input);
            for (field, value) in [
                ("input", p.input),
                ("output", p.output),
                ("cache_write", cache_write),
                ("cache_read", cache_read),
            ] {
                if !value.is_finite() || value < 0.0 {
                    return Err(invalid(
                        format!("prices.{model}.{field}"),
                        format!("{value} is not a price (USD per million tokens, 0 or more)"),
                    ));
                }
            }
            overrides.insert(
                model,
                Price::new(p.input, p.output, cache_write, cache_read),
            );
        }
        Ok(Self { overrides })
    }

    /// The price of `model`, if any key applies to it.
    pub fn get(&self, model: &str) -> Option<Price> {
        let overrides = self.overrides.iter().map(|(k, p)| (k.as_str(), *p));
        let built_in = BUILT_IN.iter().copied();
        // Longest key first; at equal length the override, which comes first, stays.
        overrides
            .chain(built_in)
            .filter(|(key, _)| applies(key, model))
            .fold(
                None,
                |best: Option<(&str, Price)>, (key, price)| match best {
                    Some((k, _)) if k.len() >= key.len() => best,
                    _ => Some((key, price)),
                },
            )
            .map(|(_, price)| price)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use beads::Tokens;

    use super::Prices;

    #[test]
    fn the_longest_applying_key_prices_a_model() {
        let p = Prices::built_in();
        assert_eq!(p.get("claude-sonnet-4-5-20250929").unwrap().output, 15.0);
        assert_eq!(p.get("claude-opus-4-1-20250805").unwrap().input, 15.0);
        assert_eq!(p.get("claude-opus-4-5-20251101").unwrap().input, 5.0);
        assert_eq!(p.get("gpt-5-codex").unwrap().input, 1.25);
        assert_eq!(p.get("gpt-5-mini").unwrap().input, 0.25);
        assert_eq!(p.get("gpt-5.1-codex-mini").unwrap().input, 0.25);
        // `gpt-5` is not a prefix of a different version, nor of an unknown model.
        assert!(p.get("gpt-5.9").is_none());
        assert!(p.get("unknown").is_none());
        assert!(p.get("claude-sonnet-4-5x").is_none());
    }

    #[test]
    fn a_price_counts_each_kind_of_token() {
        let p = Prices::built_in().get("claude-sonnet-4-5").unwrap();
        let t = Tokens {
            input: 1_000_000,
            output: 100_000,
            cache_write: 200_000,
            cache_read: 2_000_000,
        };
        let cost = p.cost(&t);
        assert!((cost - (3.0 + 1.5 + 0.75 + 0.6)).abs() < 1e-9, "{cost}");
    }

    #[test]
    fn overrides_win_and_add_models() {
        let text = r#"{"prices": {"claude-sonnet-4-5": {"input": 1, "output": 2, "cache_write": 0, "cache_read": 0},
                                  "local-llama": {"input": 0.5, "output": 1.5}}}"#;
        let p = Prices::parse(Path::new("settings/costs.json"), text).unwrap();
        assert_eq!(p.get("claude-sonnet-4-5-20250929").unwrap().input, 1.0);
        let local = p.get("local-llama").unwrap();
        assert_eq!((local.cache_write, local.cache_read), (0.5, 0.5));
        // Untouched models keep their built-in price.
        assert_eq!(p.get("claude-haiku-4-5").unwrap().input, 1.0);
    }

    #[test]
    fn bad_overrides_name_the_file_and_key() {
        let bad = |text: &str| {
            Prices::parse(Path::new("/town/settings/costs.json"), text)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            bad(r#"{"prices": {"m": {"input": -1, "output": 2}}}"#),
            "`/town/settings/costs.json`: `prices.m.input`: -1 is not a price (USD per million tokens, 0 or more)"
        );
        let e = bad(r#"{"prices": {"m": {"input": 1}}}"#);
        assert!(e.contains("`prices.m`") && e.contains("output"), "{e}");
        let e = bad(r#"{"prices": {"m": {"input": 1, "output": 1, "cache": 1}}}"#);
        assert!(e.contains("`prices.m.cache`: unknown field"), "{e}");
        let e = bad(r#"{"price": {}}"#);
        assert!(
            e.contains("/town/settings/costs.json") && e.contains("price"),
            "{e}"
        );
        let e = bad(r#"{"prices": {"m": {"input": "cheap", "output": 1}}}"#);
        assert!(e.contains("`prices.m.input`"), "{e}");
        let e = bad(r#"{"prices": {"a model": {"input": 1, "output": 1}}}"#);
        assert!(e.contains("`prices`") && e.contains("a model"), "{e}");
    }
}
