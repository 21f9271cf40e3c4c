//! `gt account add|list|default`: the provider accounts agents run as. Each is a config
//! directory of its CLI (log in once with it: `CLAUDE_CONFIG_DIR=<dir> claude`); a start
//! takes the provider's default account, or another when the default is rate-limited.

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Register an account of a provider (an agent preset name: claude, codex, …).
    Add(AddArgs),
    /// Accounts by provider, the default first, with any rate-limit hold.
    List,
    /// Make an account its provider's default.
    Default(DefaultArgs),
}

#[derive(Debug, Args)]
pub struct AddArgs {
    pub provider: String,
    pub name: String,
    /// The CLI's config directory for this account [default: `<town>/accounts/<provider>/<name>`].
    #[arg(long)]
    pub config_dir: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct DefaultArgs {
    pub provider: String,
    pub name: String,
}

pub fn run(cmd: AccountCommand, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    let mut store = super::store(&town)?;
    match cmd {
        AccountCommand::Add(a) => {
            town::agents::validate_name(&a.provider)?;
            if town::agents::validate_name(&a.name).is_err() {
                return Err(ui::CliError::usage(format!(
                    "`{}` is not an account name: use 1 to 32 lowercase letters, digits and hyphens",
                    a.name
                ))
                .into());
            }
            let dir = a
                .config_dir
                .clone()
                .unwrap_or_else(|| town.root().join("accounts").join(&a.provider).join(&a.name));
            std::fs::create_dir_all(&dir)?;
            let account = store.add_account(&a.provider, &a.name, &dir.display().to_string())?;
            if ui.is_json() {
                ui.json(&account)?;
            } else {
                ui.status(format!(
                    "Added account {}{} with config directory {}",
                    account.key(),
                    if account.is_default { " (default)" } else { "" },
                    account.config_dir
                ));
            }
        }
        AccountCommand::List => {
            let accounts = store.accounts()?;
            let now = store.now_ts();
            let holds: Vec<beads::RateHold> = store
                .holds()?
                .into_iter()
                .filter(|h| town::scheduler::accounts::holds(h, now))
                .collect();
            if ui.is_json() {
                ui.json(&serde_json::json!({ "accounts": accounts, "holds": holds }))?;
                return Ok(());
            }
            if accounts.is_empty() {
                ui.status("No accounts: agents run as their CLI's own login. `gt account add <provider> <name>` adds one.");
                return Ok(());
            }
            let mut rows = vec![vec![
                "ACCOUNT".into(),
                "DEFAULT".into(),
                "HOLD".into(),
                "CONFIG DIR".into(),
            ]];
            for a in &accounts {
                let hold = holds
                    .iter()
                    .find(|h| h.account == a.key())
                    .map_or_else(|| "-".to_owned(), |h| format!("until {}", h.until));
                rows.push(vec![
                    a.key(),
                    if a.is_default { "yes" } else { "" }.into(),
                    hold,
                    a.config_dir.clone(),
                ]);
            }
            ui::text::table(ui, &rows)?;
        }
        AccountCommand::Default(a) => {
            store.set_default_account(&a.provider, &a.name)?;
            ui.status(format!("{}/{} is the default account", a.provider, a.name));
        }
    }
    Ok(())
}
