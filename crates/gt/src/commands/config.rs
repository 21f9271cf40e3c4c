//! `gt config`: town settings (`get`, `set`) and agent presets (`agent …`).

use clap::{Args, Subcommand};

use town::settings;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective value of a setting and where it comes from.
    Get(GetArgs),
    /// Set a setting in the town's (or a rig's) `settings/config.json`.
    Set(SetArgs),
    /// Agent presets: list, show, add or override, remove.
    #[command(subcommand)]
    Agent(super::agent::AgentCommand),
    /// Print the town's default agent preset, or set it (checked against the known presets).
    DefaultAgent(DefaultAgentArgs),
}

#[derive(Debug, Args)]
pub struct DefaultAgentArgs {
    /// The preset to make the default; without it, the current default is printed.
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// A dotted key, such as `default_agent` or `merge_queue.test_command`.
    pub key: String,
    /// Read the rig's effective value instead of the town's.
    #[arg(long)]
    pub rig: Option<String>,
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// A dotted key, such as `default_agent` or `merge_queue.test_command`.
    pub key: String,
    /// The value: JSON if it parses as JSON (`5`, `true`, `["a"]`), a string otherwise.
    pub value: String,
    /// Write to this rig's settings instead of the town's.
    #[arg(long)]
    pub rig: Option<String>,
}

pub fn run(cmd: ConfigCommand, ui: &mut ui::Ui) -> anyhow::Result<()> {
    match cmd {
        ConfigCommand::Get(a) => get(&a, ui),
        ConfigCommand::Set(a) => set(&a, ui),
        ConfigCommand::Agent(cmd) => super::agent::run(cmd, ui),
        ConfigCommand::DefaultAgent(a) => default_agent(&a, ui),
    }
}

fn default_agent(args: &DefaultAgentArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    let (user, settings) = super::agent::sources(&town)?;
    let Some(name) = &args.name else {
        let eff = super::effective_settings(&town, None, &[])?;
        let (name, layer) = match eff.values.iter().find(|v| v.key == "default_agent") {
            Some(v) if !eff.settings.default_agent.is_empty() => {
                (eff.settings.default_agent.clone(), v.layer.to_string())
            }
            _ => (town::agents::DEFAULT_AGENT.to_owned(), "default".to_owned()),
        };
        if ui.is_json() {
            ui.json(&serde_json::json!({"default_agent": name, "from": layer}))?;
        } else {
            ui.line(format!("{}  ({layer})", super::safe(&name)))?;
        }
        return Ok(());
    };
    // Resolves it the way an agent start would: an unknown name fails here, listing the known.
    town::agents::preset(name, &user, &settings)?;
    let path = town.settings_json();
    let value = settings::set_in_file(
        &path,
        "town-settings",
        "default_agent",
        &serde_json::Value::String(name.clone()).to_string(),
    )?;
    if ui.is_json() {
        ui.json(&serde_json::json!({"default_agent": value, "file": path}))?;
    } else {
        ui.status(format!(
            "Default agent is now `{}` (in `{}`)",
            super::safe(name),
            path.display()
        ));
    }
    Ok(())
}

fn get(args: &GetArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    let eff = super::effective_settings(&town, args.rig.as_deref(), &[])?;
    let found: Vec<&settings::Sourced> = eff
        .values
        .iter()
        .filter(|v| v.key == args.key || v.key.starts_with(&format!("{}.", args.key)))
        .collect();
    if found.is_empty() {
        if settings::is_known_key(&args.key) {
            return Err(ui::CliError::user(format!("`{}` is not set", args.key)).into());
        }
        return Err(settings::SettingsError::UnknownKey(args.key.clone()).into());
    }
    if ui.is_json() {
        ui.json(&found)?;
    } else {
        super::print_sourced(ui, &found)?;
    }
    Ok(())
}

fn set(args: &SetArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    let (path, kind) = match &args.rig {
        Some(rig) => {
            town::rig::entry(&town, rig)?;
            (
                town::layout::RigPaths::new(&town, rig).settings_json(),
                "rig-settings",
            )
        }
        None => (town.settings_json(), "town-settings"),
    };
    // A rig switched to landing through a forge: its CLI must work now, not mid-landing. (A
    // value that does not parse fails below, named as the file's.)
    if let Some(rig) = &args.rig
        && args.key.starts_with("merge_queue.")
        && let Ok(eff) =
            super::effective_settings(&town, Some(rig), &[(args.key.clone(), args.value.clone())])
    {
        let ctx = super::rig_ctx(&town, rig)?;
        town::forge::check(
            &eff.settings.merge_queue,
            &ctx.entry.git_url,
            &ctx.paths.refinery_worktree(),
        )?;
    }
    check_agent_setting(&town, args)?;
    let value = settings::set_in_file(&path, kind, &args.key, &args.value)?;
    if ui.is_json() {
        ui.json(&serde_json::json!({"key": args.key, "value": value, "file": path}))?;
    } else {
        ui.status(format!(
            "Set {} = {value} in `{}`",
            args.key,
            path.display()
        ));
    }
    Ok(())
}

/// A setting that names an agent preset (the default, a rig's, a role's or a crew member's)
/// or changes one (`agents.<name>.<field>`) is resolved the way an agent start would, with the
/// new value in place, before it is written: an unknown preset or a bad field fails now, naming
/// what is wrong, not at the next start.
fn check_agent_setting(town: &town::layout::Town, args: &SetArgs) -> anyhow::Result<()> {
    let key = args.key.as_str();
    let preset = if let Some(rest) = key.strip_prefix("agents.") {
        rest.split('.').next().unwrap_or(rest).to_owned()
    } else if matches!(key, "default_agent" | "agent")
        || ["role_agents.", "crew_agents.", "worker_agents."]
            .iter()
            .any(|map| key.starts_with(map))
    {
        match serde_json::from_str::<serde_json::Value>(&args.value) {
            Ok(serde_json::Value::String(s)) => s,
            _ => args.value.clone(),
        }
    } else {
        return Ok(());
    };
    let user = town::agents::load_user_presets(&town::agents::user_presets_path(town.root()))?;
    let with_new = [(args.key.clone(), args.value.clone())];
    let eff = super::effective_settings(town, args.rig.as_deref(), &with_new)?;
    town::agents::preset(&preset, &user, &eff.settings)?;
    Ok(())
}
