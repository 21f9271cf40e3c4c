//! `gt config agent list/get/set/remove`: agent presets, built in and the town's own
//! (`settings/agents.json`).

use std::collections::BTreeMap;

use clap::{Args, Subcommand};
use town::agents::{self, AgentPreset, PresetOverride, Readiness, Resume};
use town::layout::Town;

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// List every preset: built in, overridden, or the town's own.
    #[command(visible_alias = "ls")]
    List,
    /// Show one preset as it resolves, with every override applied.
    Get(GetArgs),
    /// Add a preset, or override fields of an existing one, in `settings/agents.json`.
    Set(SetArgs),
    /// Remove a preset from `settings/agents.json` (for a built-in, only the override).
    #[command(visible_alias = "rm")]
    Remove(RemoveArgs),
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// The preset's name.
    pub name: String,
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// The preset's name: 1 to 32 lowercase letters, digits and hyphens.
    pub name: String,
    /// The program to run.
    #[arg(long)]
    pub command: Option<String>,
    /// An argument, repeatable; the list replaces the preset's arguments.
    #[arg(long = "arg", value_name = "ARG", allow_hyphen_values = true)]
    pub args: Vec<String>,
    /// An environment variable `KEY=VALUE`, repeatable; merged into the preset's.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// A process name that means the agent is running, repeatable; the list replaces.
    #[arg(long = "process-name", value_name = "NAME")]
    pub process_names: Vec<String>,
    /// How the first prompt is given: `arg` (on the command line) or `none` (nudged).
    #[arg(long, value_parser = ["arg", "none"])]
    pub prompt_mode: Option<String>,
    /// Text that appears in the pane when the agent is ready (empty to clear).
    #[arg(long, value_name = "TEXT")]
    pub ready_prompt: Option<String>,
    /// Milliseconds to wait for readiness (the fallback when a ready prompt is set).
    #[arg(long, value_name = "MS")]
    pub ready_delay_ms: Option<u64>,
    /// The instructions file the agent reads (`CLAUDE.md`, `AGENTS.md`).
    #[arg(long, value_name = "FILE")]
    pub instructions_file: Option<String>,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The preset's name.
    pub name: String,
}

pub fn run(cmd: AgentCommand, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    match cmd {
        AgentCommand::List => list(&town, ui),
        AgentCommand::Get(a) => get(&town, &a, ui),
        AgentCommand::Set(a) => set(&town, &a, ui),
        AgentCommand::Remove(a) => remove(&town, &a, ui),
    }
}

/// The town's user presets and effective settings (whose `agents` map also overrides).
pub(crate) fn sources(
    town: &Town,
) -> anyhow::Result<(agents::UserPresets, town::settings::Settings)> {
    let user = agents::load_user_presets(&agents::user_presets_path(town.root()))?;
    let settings = super::effective_settings(town, None, &[])?.settings;
    Ok((user, settings))
}

fn list(town: &Town, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let (user, settings) = sources(town)?;
    let listing = agents::list_presets(&user, &settings)?;
    if ui.is_json() {
        ui.json(&listing)?;
        return Ok(());
    }
    let mut rows = vec![vec!["NAME".into(), "KIND".into(), "COMMAND".into()]];
    rows.extend(listing.iter().map(|l| {
        vec![
            super::safe(&l.preset.name),
            l.kind.as_str().to_owned(),
            super::safe(&l.preset.start_argv().join(" ")),
        ]
    }));
    super::table(ui, &rows)?;
    Ok(())
}

fn get(town: &Town, args: &GetArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let (user, settings) = sources(town)?;
    let preset = agents::preset(&args.name, &user, &settings)?;
    if ui.is_json() {
        ui.json(&preset)?;
    } else {
        super::table(ui, &describe(&preset))?;
    }
    Ok(())
}

fn set(town: &Town, args: &SetArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let patch = patch_from(args)?;
    if patch == PresetOverride::default() {
        return Err(ui::CliError::usage("nothing to set")
            .hint("pass at least one of `--command`, `--arg`, `--env`, `--process-name`, `--prompt-mode`, `--ready-prompt`, `--ready-delay-ms`, `--instructions-file`")
            .into());
    }
    let preset = agents::set_user_preset(town.root(), &args.name, &patch)?;
    let path = agents::user_presets_path(town.root());
    if ui.is_json() {
        ui.json(&preset)?;
    }
    ui.status(format!(
        "Saved agent preset `{}` in `{}`",
        preset.name,
        path.display()
    ));
    Ok(())
}

fn remove(town: &Town, args: &RemoveArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let still_builtin = agents::remove_user_preset(town.root(), &args.name)?;
    if still_builtin {
        ui.status(format!(
            "Removed the override of built-in agent preset `{}`",
            args.name
        ));
    } else {
        ui.status(format!("Removed agent preset `{}`", args.name));
    }
    Ok(())
}

/// The override the flags describe; only given flags are set.
fn patch_from(f: &SetArgs) -> anyhow::Result<PresetOverride> {
    let nonempty = |v: &[String]| (!v.is_empty()).then(|| v.to_vec());
    let mut env = BTreeMap::new();
    for pair in &f.env {
        let Some((key, value)) = pair.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(
                ui::CliError::usage(format!("`--env {pair}` is not `KEY=VALUE`"))
                    .hint("write it as `--env NAME=value`")
                    .into(),
            );
        };
        env.insert(key.to_owned(), value.to_owned());
    }
    Ok(PresetOverride {
        command: f.command.clone(),
        args: nonempty(&f.args),
        env: (!env.is_empty()).then_some(env),
        process_names: nonempty(&f.process_names),
        prompt_mode: f.prompt_mode.clone(),
        ready_prompt_prefix: f.ready_prompt.clone(),
        ready_delay_ms: f.ready_delay_ms,
        instructions_file: f.instructions_file.clone(),
        ..PresetOverride::default()
    })
}

/// `field  value` rows describing a preset.
fn describe(p: &AgentPreset) -> Vec<Vec<String>> {
    let mut rows: Vec<(&str, String)> = vec![
        ("name", p.name.clone()),
        ("command", p.command.clone()),
        ("args", p.args.join(" ")),
    ];
    rows.extend(p.env.iter().map(|(k, v)| ("env", format!("{k}={v}"))));
    rows.push(("process_names", p.process_names.join(", ")));
    rows.push(("prompt_mode", p.prompt_mode.as_str().to_owned()));
    rows.push((
        "readiness",
        match &p.readiness {
            Readiness::Prompt {
                prefix,
                fallback_ms,
            } => format!("prompt `{prefix}` (fallback {fallback_ms} ms)"),
            Readiness::Delay { ms } => format!("delay {ms} ms"),
        },
    ));
    rows.push((
        "hooks",
        p.hooks.as_ref().map_or_else(
            || "none".to_owned(),
            |h| {
                let at = match &h.settings_file {
                    Some(file) => format!("{}/{file}", h.dir),
                    None => h.dir.clone(),
                };
                format!("{} ({at})", h.provider)
            },
        ),
    ));
    rows.push(("instructions_file", p.instructions_file.clone()));
    rows.push((
        "resume",
        match &p.resume {
            None => "none".to_owned(),
            Some(Resume::Flag {
                flag,
                continue_flag: Some(cont),
            }) => format!("{flag} <id> (latest: {cont})"),
            Some(Resume::Flag { flag, .. }) => format!("{flag} <id>"),
            Some(Resume::Subcommand {
                subcommand,
                continue_flag: Some(cont),
            }) => format!("{subcommand} <id> (latest: {subcommand} {cont})"),
            Some(Resume::Subcommand { subcommand, .. }) => format!("{subcommand} <id>"),
        },
    ));
    if let Some(var) = &p.session_id_env {
        rows.push(("session_id_env", var.clone()));
    }
    if let Some(var) = &p.config_dir_env {
        rows.push(("config_dir_env", var.clone()));
    }
    rows.into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| vec![k.to_owned(), super::safe(&v)])
        .collect()
}
