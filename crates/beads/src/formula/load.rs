//! Finding formulas: by path, or by name in the search directories (rig first, then town),
//! then among the built-ins compiled into the binary.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use serde::Serialize;

use super::model::{self, Formula};
use super::{FormulaError, Result};

/// File name endings a formula may have, preferred first.
pub const EXTENSIONS: &[&str] = &[".formula.toml", ".formula.json"];

/// The formulas compiled into the binary: `(name, TOML text)`.
pub const BUILTINS: &[(&str, &str)] = &[
    (
        "mol-polecat-work",
        include_str!("../../formulas/mol-polecat-work.formula.toml"),
    ),
    (
        "mol-conflict-resolve",
        include_str!("../../formulas/mol-conflict-resolve.formula.toml"),
    ),
    (
        "mol-code-review",
        include_str!("../../formulas/mol-code-review.formula.toml"),
    ),
];

/// A parsed formula with where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub formula: Formula,
    /// The path, or `builtin:<name>`; errors name it.
    pub file: String,
    /// The source text, for line numbers in later errors.
    pub text: String,
}

/// One formula as `formula list` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FormulaInfo {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub source: String,
    /// Hidden by a formula of the same name earlier on the search path.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub shadowed: bool,
}

/// Loads formulas by name or path, caching each.
#[derive(Debug, Default)]
pub struct Loader {
    dirs: Vec<PathBuf>,
    builtins: bool,
    cache: HashMap<String, Rc<Loaded>>,
}

impl Loader {
    /// A loader searching `dirs` in order, then the built-ins.
    pub fn new(dirs: Vec<PathBuf>) -> Self {
        Self {
            dirs,
            builtins: true,
            cache: HashMap::new(),
        }
    }

    /// A loader that ignores the built-ins (tests, `formula-check`).
    pub fn without_builtins(mut self) -> Self {
        self.builtins = false;
        self
    }

    /// The search directories, in order.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Loads `name_or_path`: a file if it names one (then its directory is searched first for
    /// the formulas it references), else a formula name.
    pub fn load(&mut self, name_or_path: &str) -> Result<Rc<Loaded>> {
        let as_path = Path::new(name_or_path);
        let looks_like_path = name_or_path.contains('/')
            || EXTENSIONS.iter().any(|e| name_or_path.ends_with(e))
            || name_or_path.ends_with(".toml")
            || name_or_path.ends_with(".json");
        if looks_like_path && as_path.is_file() {
            if let Some(dir) = as_path.parent() {
                let dir = if dir.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    dir.to_owned()
                };
                if !self.dirs.contains(&dir) {
                    self.dirs.insert(0, dir);
                }
            }
            let loaded = Rc::new(read_file(as_path)?);
            self.cache
                .insert(loaded.formula.formula.clone(), Rc::clone(&loaded));
            return Ok(loaded);
        }
        self.load_name(name_or_path)
    }

    /// Loads a formula by name from the search path.
    pub fn load_name(&mut self, name: &str) -> Result<Rc<Loaded>> {
        if let Some(hit) = self.cache.get(name) {
            return Ok(Rc::clone(hit));
        }
        let loaded = Rc::new(self.find(name)?);
        self.cache.insert(name.to_owned(), Rc::clone(&loaded));
        Ok(loaded)
    }

    fn find(&self, name: &str) -> Result<Loaded> {
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if valid {
            for dir in &self.dirs {
                for ext in EXTENSIONS {
                    let path = dir.join(format!("{name}{ext}"));
                    if path.is_file() {
                        return read_file(&path);
                    }
                }
            }
            if self.builtins
                && let Some((_, text)) = BUILTINS.iter().find(|(n, _)| *n == name)
            {
                let file = format!("builtin:{name}");
                return Ok(Loaded {
                    formula: model::parse_toml(text, &file)?,
                    file,
                    text: (*text).to_owned(),
                });
            }
        }
        let mut searched: Vec<String> = self
            .dirs
            .iter()
            .map(|d| format!("`{}`", d.display()))
            .collect();
        if self.builtins {
            searched.push("the built-ins".into());
        }
        Err(FormulaError::NotFound {
            name: name.to_owned(),
            searched: searched.join(", "),
        })
    }

    /// Every formula on the search path, first occurrence of each name winning.
    pub fn list(&self) -> Result<Vec<FormulaInfo>> {
        let mut out: Vec<FormulaInfo> = Vec::new();
        let push = |info: FormulaInfo, out: &mut Vec<FormulaInfo>| {
            let shadowed = out.iter().any(|o| o.name == info.name);
            out.push(FormulaInfo { shadowed, ..info });
        };
        for dir in &self.dirs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut paths: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| EXTENSIONS.iter().any(|e| n.ends_with(e)))
                })
                .collect();
            paths.sort();
            for path in paths {
                let loaded = read_file(&path)?;
                push(info_of(&loaded), &mut out);
            }
        }
        if self.builtins {
            for (name, text) in BUILTINS {
                let file = format!("builtin:{name}");
                let formula = model::parse_toml(text, &file)?;
                push(
                    info_of(&Loaded {
                        formula,
                        file,
                        text: String::new(),
                    }),
                    &mut out,
                );
            }
        }
        Ok(out)
    }
}

fn info_of(l: &Loaded) -> FormulaInfo {
    FormulaInfo {
        name: l.formula.formula.clone(),
        kind: l.formula.kind.as_str().to_owned(),
        description: l
            .formula
            .description
            .lines()
            .map(str::trim)
            .find(|s| !s.is_empty())
            .unwrap_or_default()
            .to_owned(),
        source: l.file.clone(),
        shadowed: false,
    }
}

/// Reads and parses one formula file (TOML, or JSON by its extension).
pub fn read_file(path: &Path) -> Result<Loaded> {
    let text = super::read_text(path)?;
    let file = path.display().to_string();
    let formula = if file.ends_with(".json") {
        model::parse_json(&text, &file)?
    } else {
        model::parse_toml(&text, &file)?
    };
    if formula.formula.trim().is_empty() {
        return Err(FormulaError::invalid(
            &file,
            None,
            "the `formula` name is empty",
        ));
    }
    Ok(Loaded {
        formula,
        file,
        text,
    })
}
