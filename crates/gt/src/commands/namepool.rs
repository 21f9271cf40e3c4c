//! `gt namepool`: the polecat name pool of the town or a rig, and `gt namepool set`, which
//! chooses its theme.

use clap::builder::PossibleValuesParser;
use clap::{Args, Subcommand};
use town::layout::{RigPaths, Town};
use town::namepool::{self, NamePool};

#[derive(Debug, Args)]
pub struct NamepoolArgs {
    #[command(subcommand)]
    pub command: Option<NamepoolCommand>,
    /// The rig: show its pool and the names its polecats hold, or set its theme.
    #[arg(long, global = true)]
    pub rig: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum NamepoolCommand {
    /// Choose the theme polecats are named from, for the town or one rig.
    Set(SetArgs),
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// The theme; `custom` uses the names given with `--names`.
    #[arg(value_parser = PossibleValuesParser::new(namepool::STYLES.iter().copied()))]
    pub theme: String,
    /// The names of a `custom` pool, comma-separated, in the order they are handed out.
    #[arg(long, value_delimiter = ',', value_name = "NAME,…")]
    pub names: Vec<String>,
}

pub fn run(args: NamepoolArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    match &args.command {
        None => show(&town, args.rig.as_deref(), ui),
        Some(NamepoolCommand::Set(set_args)) => set(&town, args.rig.as_deref(), set_args, ui),
    }
}

/// The pool that applies to the town (no rig) or to `rig`, and the names in use there.
fn pool(town: &Town, rig: Option<&str>) -> anyhow::Result<(NamePool, Vec<String>)> {
    let in_use = match rig {
        Some(rig) => {
            town::rig::entry(town, rig)?;
            RigPaths::new(town, rig).polecat_names()?
        }
        None => Vec::new(),
    };
    let eff = super::effective_settings(town, rig, &[])?;
    Ok((NamePool::new(&eff.settings.namepool)?, in_use))
}

fn show(town: &Town, rig: Option<&str>, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let (pool, in_use) = pool(town, rig)?;
    let status = pool.status(&in_use);
    if ui.is_json() {
        ui.json(&status)?;
        return Ok(());
    }
    let mut rows = vec![
        vec!["theme".to_owned(), status.style.clone()],
        vec!["next".to_owned(), super::safe(&status.next)],
    ];
    if rig.is_some() {
        let held = if status.in_use.is_empty() {
            "none".to_owned()
        } else {
            status.in_use.join(" ")
        };
        rows.push(vec!["in use".to_owned(), super::safe(&held)]);
    }
    rows.push(vec![
        "reserved".to_owned(),
        super::safe(&status.reserved.join(" ")),
    ]);
    rows.push(vec![
        "names".to_owned(),
        super::safe(&status.names.join(" ")),
    ]);
    super::table(ui, &rows)?;
    Ok(())
}

fn set(town: &Town, rig: Option<&str>, args: &SetArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let custom = args.theme == namepool::CUSTOM_STYLE;
    if !custom && !args.names.is_empty() {
        return Err(ui::CliError::usage(format!(
            "`--names` applies only to the `custom` theme, not `{}`",
            args.theme
        ))
        .hint("run `gt namepool set custom --names a,b,c`")
        .into());
    }
    let (path, kind) = match rig {
        Some(rig) => {
            town::rig::entry(town, rig)?;
            (RigPaths::new(town, rig).settings_json(), "rig-settings")
        }
        None => (town.settings_json(), "town-settings"),
    };
    // Check the pool this makes before writing anything.
    let mut wanted = super::effective_settings(town, rig, &[])?.settings.namepool;
    wanted.style.clone_from(&args.theme);
    if !args.names.is_empty() {
        wanted.names.clone_from(&args.names);
    }
    let pool = NamePool::new(&wanted)?;
    if !args.names.is_empty() {
        let names = serde_json::to_string(&args.names)?;
        town::settings::set_in_file(&path, kind, "namepool.names", &names)?;
    }
    town::settings::set_in_file(&path, kind, "namepool.style", &args.theme)?;
    if ui.is_json() {
        let in_use = rig
            .map(|rig| RigPaths::new(town, rig).polecat_names())
            .transpose()?
            .unwrap_or_default();
        ui.json(&pool.status(&in_use))?;
    }
    let scope = match rig {
        Some(rig) => format!("rig `{rig}`"),
        None => "the town".to_owned(),
    };
    ui.status(format!(
        "Set the name pool of {scope} to `{}` ({} names) in `{}`",
        pool.style(),
        pool.names().len(),
        path.display()
    ));
    Ok(())
}
