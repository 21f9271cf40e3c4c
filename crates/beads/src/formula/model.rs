//! The formula file format, as serde reads it. Every table rejects keys it does not know, so a
//! typo is an error with a line number instead of a silently ignored setting.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::{FormulaError, Result};

/// What a formula is for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FormulaType {
    /// Steps to run (the default).
    #[default]
    Workflow,
    /// A `[[template]]` that `expand` inlines in place of one step.
    Expansion,
    /// `[[advice]]` woven around other formulas' steps (`compose.aspects`).
    Aspect,
    /// Parallel `[[legs]]` and a `[synthesis]` step.
    Convoy,
}

impl FormulaType {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Workflow => "workflow",
            Self::Expansion => "expansion",
            Self::Aspect => "aspect",
            Self::Convoy => "convoy",
        }
    }
}

/// A parsed formula file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Formula {
    /// The formula's name (`mol-feature`).
    pub formula: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub version: Option<i64>,
    #[serde(default, rename = "type")]
    pub kind: FormulaType,
    /// Formulas this one inherits from, in order; later ones and this one win.
    #[serde(default, deserialize_with = "one_or_many")]
    pub extends: Vec<String>,
    /// `vapor` recommends a wisp over a poured molecule.
    #[serde(default)]
    pub phase: Option<String>,
    /// Materialize every step as an issue even for wisps.
    #[serde(default)]
    pub pour: Option<bool>,
    /// Analysis-only work: no code commits expected.
    #[serde(default)]
    pub review_only: Option<bool>,
    #[serde(default, deserialize_with = "var_map")]
    pub vars: BTreeMap<String, VarDef>,
    /// Convoy inputs; treated like `vars`.
    #[serde(default, deserialize_with = "var_map")]
    pub inputs: BTreeMap<String, VarDef>,
    #[serde(default)]
    pub steps: Vec<Step>,
    /// The steps an expansion formula inlines.
    #[serde(default)]
    pub template: Vec<Step>,
    #[serde(default)]
    pub compose: Option<Compose>,
    #[serde(default)]
    pub advice: Vec<Advice>,
    #[serde(default)]
    pub pointcuts: Vec<Pointcut>,
    #[serde(default)]
    pub squash: Option<Squash>,
    #[serde(default)]
    pub legs: Vec<Leg>,
    #[serde(default)]
    pub synthesis: Option<Synthesis>,
    #[serde(default)]
    pub prompts: BTreeMap<String, String>,
    #[serde(default)]
    pub output: Option<Output>,
    #[serde(default)]
    pub presets: BTreeMap<String, Preset>,
}

/// A variable declaration: `name = "default"` or a table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VarTable {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(
        default,
        deserialize_with = "opt_scalar",
        skip_serializing_if = "Option::is_none"
    )]
    pub default: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    /// Required unless one of these variables is given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_unless: Vec<String>,
    #[serde(
        default,
        rename = "enum",
        deserialize_with = "scalar_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub choices: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// `string` (default), `int` (or `number`, `integer`) or `bool` (or `boolean`).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// A variable declaration in either form.
pub type VarDef = VarTable;

/// One step (also a template step, an advice step, a loop body step).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub notes: String,
    /// Acceptance criteria.
    #[serde(default)]
    pub acceptance: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub priority: Option<i64>,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub assignee: String,
    #[serde(default, deserialize_with = "one_or_many")]
    pub needs: Vec<String>,
    /// An alias of `needs`.
    #[serde(default, deserialize_with = "one_or_many")]
    pub depends_on: Vec<String>,
    /// Fan-in: `all-children` or `any-children` of the step this one needs.
    #[serde(default)]
    pub waits_for: Option<String>,
    /// Keep the step only when this holds (`{{v}}`, `!{{v}}`, `{{v}} == x`, `{{v}} != x`).
    #[serde(default)]
    pub condition: Option<String>,
    /// Replace this step with an expansion formula's template.
    #[serde(default)]
    pub expand: Option<String>,
    #[serde(default, deserialize_with = "scalar_map")]
    pub expand_vars: BTreeMap<String, String>,
    #[serde(default)]
    pub gate: Option<Gate>,
    #[serde(default, rename = "loop")]
    pub repeat: Option<Loop>,
    #[serde(default)]
    pub on_complete: Option<OnComplete>,
    #[serde(default)]
    pub children: Vec<Step>,
}

impl Step {
    /// `needs` and `depends_on` together, without duplicates.
    pub fn all_needs(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for n in self.needs.iter().chain(&self.depends_on) {
            if !out.contains(n) {
                out.push(n.clone());
            }
        }
        out
    }
}

/// A gate in front of a step: something outside the molecule to wait for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    /// `gh:pr`, `gh:run`, `timer`, `human`, `bead`, `conditional`, …
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub await_id: String,
    /// A duration such as `30m`, `24h` or `2d`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub timeout: String,
    /// What a `conditional` gate waits on.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub condition: String,
}

/// A repeated body: a fixed count, an integer range, or until a condition (with a bound).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Loop {
    #[serde(default)]
    pub count: Option<i64>,
    /// `start..end`, both integer expressions (`1..2^{disks}`), inclusive.
    #[serde(default)]
    pub range: Option<String>,
    /// The variable holding the iteration number.
    #[serde(default)]
    pub var: Option<String>,
    #[serde(default)]
    pub until: Option<String>,
    #[serde(default)]
    pub max: Option<i64>,
    #[serde(default)]
    pub body: Vec<Step>,
}

/// Runtime fan-out after a step completes; recorded on the step for the executor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnComplete {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub for_each: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub bond: String,
    #[serde(
        default,
        deserialize_with = "scalar_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub vars: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequential: Option<bool>,
}

/// Composition rules.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compose {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bond_points: Vec<BondPoint>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<Hook>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expand: Vec<ComposeExpand>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub map: Vec<ComposeMap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub branch: Vec<Branch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gate: Vec<ComposeGate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aspects: Vec<String>,
}

/// A named place where other work can attach at run time.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BondPoint {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_step: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_step: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<bool>,
}

/// Attach a formula at a bond point when a trigger matches (run time).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hook {
    pub trigger: String,
    pub attach: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    #[serde(
        default,
        deserialize_with = "scalar_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub vars: BTreeMap<String, String>,
}

/// Expand one step with an expansion formula.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComposeExpand {
    pub target: String,
    pub with: String,
    #[serde(
        default,
        deserialize_with = "scalar_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub vars: BTreeMap<String, String>,
}

/// Expand every step whose id matches a glob.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComposeMap {
    pub select: String,
    pub with: String,
    #[serde(
        default,
        deserialize_with = "scalar_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub vars: BTreeMap<String, String>,
}

/// Fork after `from` into parallel `steps`, then join at `join`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Branch {
    pub from: String,
    pub steps: Vec<String>,
    pub join: String,
}

/// A conditional gate in front of a step.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComposeGate {
    pub before: String,
    pub condition: String,
}

/// Steps woven before, after or around the steps a glob selects.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Advice {
    pub target: String,
    #[serde(default, deserialize_with = "one_or_many")]
    pub before: Vec<Step>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub after: Vec<Step>,
    #[serde(default)]
    pub around: Option<Around>,
}

/// The `before` and `after` halves of `around` advice.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Around {
    #[serde(default, deserialize_with = "one_or_many")]
    pub before: Vec<Step>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub after: Vec<Step>,
}

/// Where an aspect applies: a glob over step ids, a step type, or a label.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pointcut {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glob: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// How a finished molecule is squashed into a digest.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Squash {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_metrics: Option<bool>,
}

/// One parallel leg of a convoy.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Leg {
    pub id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub focus: String,
}

/// The step that combines a convoy's legs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Synthesis {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default, deserialize_with = "one_or_many")]
    pub depends_on: Vec<String>,
}

/// Where a convoy writes its findings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub directory: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub leg_pattern: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub synthesis: String,
}

/// A named subset of a convoy's legs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub legs: Vec<String>,
}

/// Parses a formula from TOML text. `file` names it in errors.
pub fn parse_toml(text: &str, file: &str) -> Result<Formula> {
    toml::from_str::<Formula>(text).map_err(|e| {
        let line = e.span().map(|s| line_at(text, s.start));
        FormulaError::invalid(file, line, describe_serde(e.message()))
    })
}

/// Parses a formula from JSON text (upstream's legacy format).
pub fn parse_json(text: &str, file: &str) -> Result<Formula> {
    serde_json::from_str::<Formula>(text).map_err(|e| {
        let line = (e.line() > 0).then_some(e.line());
        let msg = e.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
        FormulaError::invalid(file, line, describe_serde(&msg))
    })
}

/// serde says "field"; formula authors write "keys".
fn describe_serde(message: &str) -> String {
    message
        .trim()
        .replace("unknown field", "unknown key")
        .replace("missing field", "missing key")
}

/// The 1-based line of a byte offset.
pub fn line_at(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The first line assigning `value` to `key` (`id = "x"` in TOML, `"id": "x"` in JSON).
pub fn line_of(text: &str, key: &str, value: &str) -> Option<usize> {
    let quoted = format!("\"{value}\"");
    let single = format!("'{value}'");
    text.lines()
        .position(|l| {
            let t = l.trim_start().trim_start_matches('{').trim_start();
            let rest = t
                .strip_prefix(key)
                .or_else(|| t.strip_prefix(&format!("\"{key}\"")));
            rest.is_some_and(|r| {
                let r = r.trim_start();
                let r = r
                    .strip_prefix('=')
                    .or_else(|| r.strip_prefix(':'))
                    .map(str::trim_start);
                r.is_some_and(|v| v.starts_with(&quoted) || v.starts_with(&single))
            })
        })
        .map(|i| i + 1)
}

/// Every `id = "x"` (or `"id": "x"`) assignment in the text, first occurrence of each value
/// winning: the lines of steps, computed in one pass.
pub fn id_lines(text: &str) -> std::collections::HashMap<String, usize> {
    let mut out = std::collections::HashMap::new();
    for (i, l) in text.lines().enumerate() {
        let t = l.trim_start().trim_start_matches('{').trim_start();
        let Some(r) = t.strip_prefix("id").or_else(|| t.strip_prefix("\"id\"")) else {
            continue;
        };
        let Some(v) = r
            .trim_start()
            .strip_prefix('=')
            .or_else(|| r.trim_start().strip_prefix(':'))
        else {
            continue;
        };
        let v = v.trim_start();
        let Some(q) = v.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            continue;
        };
        if let Some(end) = v[1..].find(q) {
            out.entry(v[1..=end].to_owned()).or_insert(i + 1);
        }
    }
    out
}

struct ScalarVisitor;

impl Visitor<'_> for ScalarVisitor {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number or boolean")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
}

/// A string, number or boolean, kept as text.
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor).map(Scalar)
    }
}

fn opt_scalar<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_any(ScalarVisitor).map(Some)
}

fn scalar_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Vec::<Scalar>::deserialize(d)?
        .into_iter()
        .map(|s| s.0)
        .collect())
}

fn scalar_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    Ok(BTreeMap::<String, Scalar>::deserialize(d)?
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect())
}

/// Accepts one value or a list of them.
fn one_or_many<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct V<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("one value or a list")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<T>, E> {
            T::deserialize(de::value::StrDeserializer::new(v)).map(|t| vec![t])
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element()? {
                out.push(item);
            }
            Ok(out)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Vec<T>, A::Error> {
            T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| vec![t])
        }
    }
    d.deserialize_any(V(std::marker::PhantomData))
}

impl<'de> Deserialize<'de> for VarTableOrDefault {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = VarTableOrDefault;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a default value or a table")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(VarTableOrDefault(VarTable {
                    default: Some(v.to_owned()),
                    ..VarTable::default()
                }))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                VarTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(VarTableOrDefault)
            }
        }
        d.deserialize_any(V)
    }
}

/// Either form of a variable declaration, as read.
struct VarTableOrDefault(VarTable);

pub(crate) fn var_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, VarTable>, D::Error> {
    Ok(BTreeMap::<String, VarTableOrDefault>::deserialize(d)?
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_counted_from_one() {
        assert_eq!(line_at("a\nb\nc", 0), 1);
        assert_eq!(line_at("a\nb\nc", 2), 2);
        assert_eq!(line_at("a\nb\nc", 99), 3);
    }

    #[test]
    fn line_of_finds_assignments_in_toml_and_json() {
        let toml = "[[steps]]\nid = \"a\"\n\n[[steps]]\nid = \"b\"\n";
        assert_eq!(line_of(toml, "id", "b"), Some(5));
        assert_eq!(line_of("{\n  \"id\": \"x\"\n}", "id", "x"), Some(2));
        assert_eq!(line_of(toml, "id", "zz"), None);
    }

    #[test]
    fn vars_take_a_shorthand_default_or_a_table() {
        let f = parse_toml(
            "formula = \"f\"\n[vars]\nkind = \"patrol\"\n[vars.x]\nrequired = true\nenum = [\"a\", 1]\n",
            "f.toml",
        )
        .unwrap();
        assert_eq!(f.vars["kind"].default.as_deref(), Some("patrol"));
        assert!(f.vars["x"].required);
        assert_eq!(f.vars["x"].choices, vec!["a", "1"]);
    }

    #[test]
    fn unknown_keys_name_the_file_line_and_key() {
        let err = parse_toml(
            "formula = \"f\"\n\n[[steps]]\nid = \"a\"\ntitel = \"x\"\n",
            "f.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("f.toml:5: unknown key `titel`"), "{err}");
    }
}
