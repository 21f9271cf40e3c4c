//! Variables: binding given values against declarations (defaults, required, enum, pattern,
//! type) and substituting `{{name}}` in text.

use std::collections::BTreeMap;

use super::model::VarDef;
use super::pattern::Pattern;
use super::{FormulaError, Result};

/// The 1-based line declaring variable `name` (`[vars.name]`, `[inputs.name]` or `name = …`
/// inside `[vars]`), if it can be found.
pub fn decl_line(text: &str, name: &str) -> Option<usize> {
    let tables = [format!("[vars.{name}]"), format!("[inputs.{name}]")];
    if let Some(i) = text
        .lines()
        .position(|l| tables.iter().any(|t| l.trim() == t))
    {
        return Some(i + 1);
    }
    let mut in_vars = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            in_vars = t == "[vars]" || t == "[inputs]";
        } else if in_vars
            && t.strip_prefix(name)
                .is_some_and(|r| r.trim_start().starts_with('='))
        {
            return Some(i + 1);
        }
    }
    None
}

/// Checks one value against its declaration.
pub fn check_value(name: &str, def: &VarDef, value: &str) -> std::result::Result<(), String> {
    match def.kind.as_deref().unwrap_or("string") {
        "string" | "" => {}
        "int" | "integer" | "number" => {
            if value.trim().parse::<i64>().is_err() {
                return Err(format!(
                    "variable `{name}` must be an integer, got `{value}`"
                ));
            }
        }
        "bool" | "boolean" => {
            if !matches!(value.trim(), "true" | "false") {
                return Err(format!(
                    "variable `{name}` must be `true` or `false`, got `{value}`"
                ));
            }
        }
        other => return Err(format!("variable `{name}` has unknown type `{other}`")),
    }
    if !def.choices.is_empty() && !def.choices.iter().any(|c| c == value) {
        return Err(format!(
            "variable `{name}` must be one of {}, got `{value}`",
            def.choices
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(p) = &def.pattern {
        let pattern = Pattern::new(p).map_err(|e| format!("variable `{name}`: {e}"))?;
        if !pattern.is_match(value) {
            return Err(format!(
                "variable `{name}` must match the pattern `{p}`, got `{value}`"
            ));
        }
    }
    Ok(())
}

/// Binds given values to declarations: fills defaults, enforces `required` (and
/// `required_unless`), checks every value. Undeclared given values pass through unchanged.
pub fn bind(
    decls: &BTreeMap<String, VarDef>,
    given: &BTreeMap<String, String>,
    file: &str,
    text: &str,
) -> Result<BTreeMap<String, String>> {
    let mut out = given.clone();
    for (name, def) in decls {
        let value = given.get(name).cloned().or_else(|| def.default.clone());
        match value {
            Some(v) => {
                check_value(name, def, &v)
                    .map_err(|m| FormulaError::invalid(file, decl_line(text, name), m))?;
                out.insert(name.clone(), v);
            }
            None => {
                let alternatives_given = def.required_unless.iter().any(|o| given.contains_key(o));
                if def.required || (!def.required_unless.is_empty() && !alternatives_given) {
                    let also = if def.required_unless.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " (or one of {})",
                            def.required_unless
                                .iter()
                                .map(|o| format!("`{o}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    };
                    return Err(FormulaError::invalid(
                        file,
                        decl_line(text, name),
                        format!(
                            "missing required variable `{name}`{also}: pass `--var {name}=<value>`"
                        ),
                    ));
                }
            }
        }
    }
    Ok(out)
}

/// Replaces `{{name}}` (spaces inside the braces allowed) with its value. Names that are not
/// bound, and Go-template forms such as `{{.x}}`, are left as written.
pub fn substitute(text: &str, vars: &BTreeMap<String, String>) -> String {
    if !text.contains("{{") {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let replaced = after.find("}}").and_then(|end| {
            let name = after[..end].trim();
            let ident = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            vars.get(name)
                .filter(|_| ident)
                .map(|v| (v.as_str(), end + 2))
        });
        match replaced {
            Some((value, used)) => {
                out.push_str(value);
                rest = &after[used..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Parses `k=v` pairs as given on the command line.
pub fn parse_assignments<S: AsRef<str>>(
    pairs: &[S],
) -> std::result::Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for p in pairs {
        let p = p.as_ref();
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| format!("`{p}` must look like `name=value`"))?;
        let k = k.trim();
        if k.is_empty() {
            return Err(format!("`{p}` has an empty variable name"));
        }
        out.insert(k.to_owned(), v.to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn substitution_leaves_unknown_and_go_template_forms() {
        let v = map(&[("feature", "login"), ("n", "3")]);
        assert_eq!(
            substitute("Design {{feature}} in {{ n }} days", &v),
            "Design login in 3 days"
        );
        assert_eq!(
            substitute("{{.leg.id}} {{other}}", &v),
            "{{.leg.id}} {{other}}"
        );
        assert_eq!(substitute("{{feature", &v), "{{feature");
    }

    #[test]
    fn binding_applies_defaults_and_checks() {
        let text = "[vars.mode]\nenum = [\"a\", \"b\"]\n[vars.n]\ntype = \"int\"\n[vars.need]\nrequired = true\n";
        let decls: BTreeMap<String, VarDef> = BTreeMap::from([
            (
                "mode".to_owned(),
                VarDef {
                    choices: vec!["a".into(), "b".into()],
                    default: Some("a".into()),
                    ..VarDef::default()
                },
            ),
            (
                "n".to_owned(),
                VarDef {
                    kind: Some("int".into()),
                    ..VarDef::default()
                },
            ),
            (
                "need".to_owned(),
                VarDef {
                    required: true,
                    ..VarDef::default()
                },
            ),
        ]);
        let ok = bind(&decls, &map(&[("need", "x"), ("extra", "y")]), "f", text).unwrap();
        assert_eq!(ok["mode"], "a");
        assert_eq!(ok["extra"], "y");
        let missing = bind(&decls, &map(&[]), "f", text).unwrap_err().to_string();
        assert_eq!(
            missing,
            "f:5: missing required variable `need`: pass `--var need=<value>`"
        );
        let bad = bind(&decls, &map(&[("need", "x"), ("mode", "c")]), "f", text)
            .unwrap_err()
            .to_string();
        assert!(
            bad.starts_with("f:1: variable `mode` must be one of"),
            "{bad}"
        );
        assert!(bind(&decls, &map(&[("need", "x"), ("n", "two")]), "f", text).is_err());
    }

    #[test]
    fn assignments_split_on_the_first_equals() {
        let v = parse_assignments(&["a=1", "b=x=y", "c="]).unwrap();
        assert_eq!(v["b"], "x=y");
        assert_eq!(v["c"], "");
        assert!(parse_assignments(&["nope"]).is_err());
    }
}
