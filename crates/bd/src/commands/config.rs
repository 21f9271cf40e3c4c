//! `bd config` and `bd kv`.

use clap::{Args, Subcommand};

use crate::cli::Global;
use crate::render;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print a value.
    Get(KeyArgs),
    /// Set a value.
    Set(SetArgs),
    /// Set several values at once (`KEY=VALUE …`): all of them or, if one is refused, none.
    SetMany(SetManyArgs),
    /// Remove a value.
    Unset(KeyArgs),
    /// Print every value.
    List,
}

#[derive(Debug, Args)]
pub struct SetManyArgs {
    #[arg(required = true, value_name = "KEY=VALUE")]
    pub pairs: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum KvCommand {
    /// Print a value.
    Get(KeyArgs),
    /// Set a value.
    Set(SetArgs),
    /// Remove a value.
    #[command(visible_alias = "delete")]
    Clear(KeyArgs),
    /// Print every pair.
    List,
}

#[derive(Debug, Args)]
pub struct KeyArgs {
    pub key: String,
}

#[derive(Debug, Args)]
pub struct SetArgs {
    pub key: String,
    pub value: String,
}

type Pairs = beads::Result<Vec<(String, String)>>;

/// Reads through either namespace: config keys or kv keys.
struct Namespace {
    get: fn(&beads::Store, &str) -> beads::Result<Option<String>>,
    set: fn(&mut beads::Store, &str, &str) -> beads::Result<()>,
    unset: fn(&mut beads::Store, &str) -> beads::Result<bool>,
    list: fn(&beads::Store) -> Pairs,
    /// Whether getting a key that is not set fails (kv) or answers "not set" (config), as
    /// upstream does for each.
    missing_is_error: bool,
}

enum Op {
    Get(String),
    Set(String, String),
    Unset(String),
    List,
}

pub fn run(g: &Global, cmd: ConfigCommand, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let ns = Namespace {
        get: beads::Store::config_get,
        set: beads::Store::config_set,
        unset: beads::Store::config_unset,
        list: beads::Store::config_list,
        missing_is_error: false,
    };
    let op = match cmd {
        ConfigCommand::Get(a) => Op::Get(a.key),
        ConfigCommand::Set(a) => Op::Set(a.key, a.value),
        ConfigCommand::Unset(a) => Op::Unset(a.key),
        ConfigCommand::List => Op::List,
        ConfigCommand::SetMany(a) => return set_many(g, &a, ui),
    };
    apply(g, &ns, op, ui)
}

pub fn kv(g: &Global, cmd: KvCommand, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let ns = Namespace {
        get: beads::Store::kv_get,
        set: beads::Store::kv_set,
        unset: beads::Store::kv_clear,
        list: beads::Store::kv_list,
        missing_is_error: true,
    };
    let op = match cmd {
        KvCommand::Get(a) => Op::Get(a.key),
        KvCommand::Set(a) => Op::Set(a.key, a.value),
        KvCommand::Clear(a) => Op::Unset(a.key),
        KvCommand::List => Op::List,
    };
    apply(g, &ns, op, ui)
}

fn set_many(g: &Global, a: &SetManyArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let pairs = a
        .pairs
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
                .ok_or_else(|| ui::CliError::usage(format!("`{p}` is not KEY=VALUE")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut store = super::open(g)?;
    store.config_set_many(&pairs)?;
    if ui.is_json() {
        let set: serde_json::Map<String, serde_json::Value> = pairs
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect();
        ui.json(&set)?;
    } else {
        ui.status(format!("Set {} value(s)", pairs.len()));
    }
    Ok(())
}

fn apply(g: &Global, ns: &Namespace, op: Op, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let mut store = super::open(g)?;
    match op {
        Op::Get(key) => match (ns.get)(&store, &key)? {
            Some(value) if ui.is_json() => {
                let mut out = serde_json::json!({"key": key, "value": value});
                if ns.missing_is_error {
                    out["found"] = true.into();
                }
                ui.json(&out)?;
            }
            Some(value) => ui.line(value)?,
            None if ns.missing_is_error => {
                if ui.is_json() {
                    ui.json(&serde_json::json!({"key": key, "value": "", "found": false}))?;
                }
                return Err(ui::CliError::user(format!("`{key}` is not set")).into());
            }
            None if ui.is_json() => ui.json(&serde_json::json!({"key": key, "value": ""}))?,
            None => ui.line(format!("{key} (not set)"))?,
        },
        Op::Set(key, value) => {
            (ns.set)(&mut store, &key, &value)?;
            if ui.is_json() {
                ui.json(&serde_json::json!({"key": key, "value": value}))?;
            } else {
                ui.status(format!("Set {key}"));
            }
        }
        Op::Unset(key) => {
            let existed = (ns.unset)(&mut store, &key)?;
            if ui.is_json() {
                ui.json(&serde_json::json!({"key": key, "removed": existed}))?;
            } else {
                ui.status(if existed {
                    format!("Removed {key}")
                } else {
                    format!("{key} was not set")
                });
            }
        }
        Op::List => {
            let pairs = (ns.list)(&store)?;
            if ui.is_json() {
                let map: serde_json::Map<String, serde_json::Value> = pairs
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::Value::String(v)))
                    .collect();
                ui.json(&map)?;
            } else {
                let rows: Vec<Vec<String>> = pairs
                    .iter()
                    .map(|(k, v)| vec![render::safe(k), render::safe(v)])
                    .collect();
                render::table(ui, &rows)?;
            }
        }
    }
    Ok(())
}
