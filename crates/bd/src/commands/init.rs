//! `bd init`: create a store.

use std::path::PathBuf;

use clap::Args;

use crate::cli::Global;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The id prefix for new issues [default: the directory's name, simplified, or `bd`].
    #[arg(short, long)]
    pub prefix: Option<String>,
    /// Accepted for compatibility with upstream bd (no server is needed); does nothing.
    #[arg(long, hide = true)]
    pub server: bool,
    /// Upstream's Dolt server and setup options, which Gas Town passes: accepted and ignored,
    /// since the store is one embedded SQLite file and `bd init` installs no hooks.
    #[command(flatten)]
    pub upstream: UpstreamInitOptions,
}

#[derive(Debug, Args)]
pub struct UpstreamInitOptions {
    #[arg(long, hide = true, value_name = "PORT")]
    pub server_port: Option<u16>,
    #[arg(long, hide = true, value_name = "HOST")]
    pub server_host: Option<String>,
    #[arg(long, hide = true, value_name = "USER")]
    pub server_user: Option<String>,
    #[arg(long, hide = true, value_name = "PATH")]
    pub server_socket: Option<String>,
    #[arg(long, hide = true, value_name = "NAME")]
    pub database: Option<String>,
    #[arg(long, hide = true, value_name = "NAME")]
    pub backend: Option<String>,
    #[arg(long, hide = true)]
    pub shared_server: bool,
    #[arg(long, hide = true)]
    pub external: bool,
    #[arg(long, hide = true)]
    pub skip_hooks: bool,
    #[arg(long, hide = true)]
    pub skip_agents: bool,
    #[arg(long, hide = true)]
    pub non_interactive: bool,
}

pub fn run(g: &Global, args: &InitArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    if g.readonly {
        return Err(beads::Error::ReadOnly.into());
    }
    let cwd = host::env::current_dir()?;
    let dir: PathBuf = match g
        .db
        .clone()
        .or_else(|| host::env::var(host::env::BEADS_DIR).map(PathBuf::from))
    {
        Some(d) => d,
        None => cwd.join(beads::store::BEADS_DIR),
    };
    let prefix = args.prefix.clone().unwrap_or_else(|| default_prefix(&cwd));
    let store = beads::Store::init(&dir, &prefix, super::context(g))?;
    std::fs::write(
        dir.join(".gitignore"),
        "# The database is local; commit `bd export` output instead.\nbeads.db*\n*.lock\nlast-touched/\n",
    )?;
    if ui.is_json() {
        ui.json(&serde_json::json!({"path": store.path(), "prefix": prefix}))?;
    } else {
        ui.status(format!(
            "Created a beads store at `{}` with prefix `{prefix}`",
            dir.display()
        ));
    }
    Ok(())
}

/// A prefix from the directory name: lowercase letters and digits only, at most 8.
fn default_prefix(cwd: &std::path::Path) -> String {
    let name = cwd
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let cleaned: String = name
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        .take(8)
        .collect();
    if cleaned.starts_with(|c: char| c.is_ascii_lowercase()) {
        cleaned
    } else {
        "bd".into()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn prefixes_come_from_the_directory_name() {
        assert_eq!(super::default_prefix("/x/My-Project".as_ref()), "myprojec");
        assert_eq!(super::default_prefix("/x/123".as_ref()), "bd");
    }
}
