//! `gt config agent list/get/set/remove`: agent presets, built in and the town's own
//! (`settings/agents.json`).

use std::collections::BTreeMap;

use clap::{Args, Subcommand};
use town::agents::{self, AgentPreset, PresetOverride, Readiness, Resume};
use town::layout::Town;

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// List every preset: built in, overridden, or the town's own, with the files (town and
    /// rig layers) that define each.
    #[command(visible_alias = "ls")]
    List,
    /// Show one preset as it resolves, with every override applied.
    Get(GetArgs),
    /// Add a preset, or override fields of an existing one, in `settings/agents.json`:
    /// `gt config agent set myagent "claude --model haiku"` (upstream's form, split like a
    /// shell does: the first word is the program, the rest its arguments), or field by field.
    Set(Box<SetArgs>),
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
    /// The command line: the program and its arguments, quoted as for a shell
    /// (`"claude --model haiku"`); it replaces the preset's program and arguments.
    #[arg(value_name = "COMMAND LINE", conflicts_with_all = ["command", "args"])]
    pub command_line: Option<String>,
    /// The program to run (one word: give arguments with `--arg`, or the whole command line
    /// positionally).
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
    /// A variable `KEY=VALUE` set only when `gt` runs as root, repeatable; merged.
    #[arg(long = "env-as-root", value_name = "KEY=VALUE")]
    pub env_as_root: Vec<String>,
    /// A variable of gt's environment the agent gets, by name or `PREFIX_*` pattern,
    /// repeatable; the list replaces.
    #[arg(long = "env-passthrough", value_name = "PATTERN")]
    pub env_passthrough: Vec<String>,
    /// A variable that holds the agent's credential (any one suffices), repeatable; the list
    /// replaces.
    #[arg(long = "credential-env", value_name = "NAME")]
    pub credential_env: Vec<String>,
    /// A file that holds the credential instead (`~/.tool/auth.json`), repeatable; the list
    /// replaces.
    #[arg(long = "credential-file", value_name = "PATH")]
    pub credential_files: Vec<String>,
    /// How to sign in to the agent CLI, named when no credential is found.
    #[arg(long, value_name = "COMMAND")]
    pub login_command: Option<String>,
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

/// One row of `gt config agent list`: a preset as the town resolves it, or as a rig whose
/// settings define or override it does, with the files it comes from.
#[derive(Debug, serde::Serialize)]
struct ListRow {
    /// The rig whose settings apply; `None` for the town's presets.
    rig: Option<String>,
    /// The files that define or override it, most general first; empty for a built-in.
    from: Vec<String>,
    #[serde(flatten)]
    listing: agents::PresetListing,
}

fn list(town: &Town, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let (user, settings) = sources(town)?;
    let relative = |path: &std::path::Path| {
        path.strip_prefix(town.root())
            .unwrap_or(path)
            .display()
            .to_string()
    };
    let town_from = |name: &str| {
        let mut from = Vec::new();
        if user.agents.contains_key(name) {
            from.push(relative(&agents::user_presets_path(town.root())));
        }
        if settings.agents.contains_key(name) {
            from.push(relative(&town.settings_json()));
        }
        from
    };
    let mut rows: Vec<ListRow> = agents::list_presets(&user, &settings)?
        .into_iter()
        .map(|listing| ListRow {
            rig: None,
            from: town_from(&listing.preset.name),
            listing,
        })
        .collect();
    // A rig's own `agents` apply to that rig's agents only: listed under it.
    for rig in town.rigs()?.rigs.keys() {
        let effective = super::effective_settings(town, Some(rig), &[])?;
        let rig_file = town::layout::RigPaths::new(town, rig).settings_json();
        let in_rig: std::collections::BTreeSet<&str> = effective
            .values
            .iter()
            .filter(|v| matches!(&v.layer, town::settings::Layer::Rig(_)))
            .filter_map(|v| v.key.strip_prefix("agents."))
            .filter_map(|rest| rest.split('.').next())
            .collect();
        for listing in agents::list_presets(&user, &effective.settings)? {
            if in_rig.contains(listing.preset.name.as_str()) {
                let mut from = town_from(&listing.preset.name);
                from.push(relative(&rig_file));
                rows.push(ListRow {
                    rig: Some(rig.clone()),
                    from,
                    listing,
                });
            }
        }
    }
    if ui.is_json() {
        ui.json(&rows)?;
        return Ok(());
    }
    let mut table = vec![vec![
        "NAME".into(),
        "KIND".into(),
        "COMMAND".into(),
        "FROM".into(),
    ]];
    table.extend(rows.iter().map(|r| {
        let name = match &r.rig {
            Some(rig) => format!("{} (rig {rig})", r.listing.preset.name),
            None => r.listing.preset.name.clone(),
        };
        let from = if r.from.is_empty() {
            "built-in".to_owned()
        } else {
            r.from.join(" < ")
        };
        vec![
            super::safe(&name),
            r.listing.kind.as_str().to_owned(),
            super::safe(&r.listing.preset.start_argv().join(" ")),
            super::safe(&from),
        ]
    }));
    super::table(ui, &table)?;
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
            .hint("give a command line (`gt config agent set NAME \"prog --flag\"`) or at least one of `--command`, `--arg`, `--env`, `--process-name`, `--prompt-mode`, `--ready-prompt`, `--ready-delay-ms`, `--instructions-file`, `--env-as-root`, `--env-passthrough`, `--credential-env`, `--credential-file`, `--login-command`")
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

/// The override the arguments describe; only what is given is set.
fn patch_from(f: &SetArgs) -> anyhow::Result<PresetOverride> {
    let nonempty = |v: &[String]| (!v.is_empty()).then(|| v.to_vec());
    let (command, args) = match &f.command_line {
        Some(line) => {
            let (program, args) = split_command_line(line)?;
            (Some(program), Some(args))
        }
        None => {
            if let Some(command) = &f.command {
                check_one_word(command)?;
            }
            (f.command.clone(), nonempty(&f.args))
        }
    };
    let env = pairs("--env", &f.env)?;
    let env_as_root = pairs("--env-as-root", &f.env_as_root)?;
    Ok(PresetOverride {
        command,
        args,
        env,
        env_as_root,
        env_passthrough: nonempty(&f.env_passthrough),
        credential_env: nonempty(&f.credential_env),
        credential_files: nonempty(&f.credential_files),
        login_command: f.login_command.clone(),
        process_names: nonempty(&f.process_names),
        prompt_mode: f.prompt_mode.clone(),
        ready_prompt_prefix: f.ready_prompt.clone(),
        ready_delay_ms: f.ready_delay_ms,
        instructions_file: f.instructions_file.clone(),
        ..PresetOverride::default()
    })
}

/// `KEY=VALUE` flags as a map (`None` when none was given).
fn pairs(flag: &str, given: &[String]) -> anyhow::Result<Option<BTreeMap<String, String>>> {
    let mut map = BTreeMap::new();
    for pair in given {
        let Some((key, value)) = pair.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(
                ui::CliError::usage(format!("`{flag} {pair}` is not `KEY=VALUE`"))
                    .hint(format!("write it as `{flag} NAME=value`"))
                    .into(),
            );
        };
        map.insert(key.to_owned(), value.to_owned());
    }
    Ok((!map.is_empty()).then_some(map))
}

/// Splits a command line as a shell does (quotes, escapes; no expansion): the program, then
/// its arguments.
fn split_command_line(line: &str) -> anyhow::Result<(String, Vec<String>)> {
    let words = shlex::split(line).ok_or_else(|| {
        ui::CliError::usage(format!("cannot split the command line `{line}`"))
            .hint("close every quote: `gt config agent set NAME \"prog --flag 'two words'\"`")
    })?;
    let mut words = words.into_iter();
    let program = words.next().filter(|p| !p.is_empty()).ok_or_else(|| {
        ui::CliError::usage("the command line is empty")
            .hint("give the program first: `gt config agent set NAME \"prog --flag\"`")
    })?;
    Ok((program, words.collect()))
}

/// `--command` names one program: a value with spaces (`--command "prog --flag"`) would be
/// looked for as a program of that whole name when an agent starts.
fn check_one_word(command: &str) -> anyhow::Result<()> {
    if !command.contains(char::is_whitespace) || host::process::which(command).is_some() {
        return Ok(());
    }
    Err(ui::CliError::usage(format!(
        "`--command {command:?}` is a whole command line, but `--command` takes the program alone"
    ))
    .hint(format!(
        "give the command line positionally, split like a shell does: `gt config agent set NAME {}`",
        host::tmux::shell_quote(command)
    ))
    .into())
}

/// A readiness dialog in one line: `workspace trust: choose "Yes, I trust this folder"`.
fn describe_dialog(rule: &agents::DialogRule) -> String {
    let answer = match &rule.answer {
        agents::DialogAnswer::Choose(label) => format!("choose {label:?}"),
        agents::DialogAnswer::Keys(keys) => format!("keys {}", keys.join(" ")),
        agents::DialogAnswer::Refuse(why) => format!("refuse ({why})"),
    };
    format!("{}: {answer}", rule.name)
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
                ..
            } => format!("prompt `{prefix}` (fallback {fallback_ms} ms)"),
            Readiness::Delay { ms } => format!("delay {ms} ms"),
        },
    ));
    if let Readiness::Prompt { dialogs, .. } = &p.readiness {
        rows.extend(dialogs.iter().map(|d| ("dialog", describe_dialog(d))));
    }
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
    rows.extend(
        p.env_as_root
            .iter()
            .map(|(k, v)| ("env_as_root", format!("{k}={v}"))),
    );
    rows.push(("env_passthrough", p.env_passthrough.join(" ")));
    rows.push(("credential_env", p.credential_env.join(" ")));
    rows.push(("credential_files", p.credential_files.join(" ")));
    if let Some(login) = &p.login_command {
        rows.push(("login_command", login.clone()));
    }
    rows.extend(
        p.rate_limit_patterns
            .iter()
            .map(|pattern| ("limit_pattern", pattern.clone())),
    );
    rows.push((
        "limit_exit_codes",
        p.rate_limit_exit_codes
            .iter()
            .map(u8::to_string)
            .collect::<Vec<_>>()
            .join(" "),
    ));
    rows.into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| vec![k.to_owned(), super::safe(&v)])
        .collect()
}
