//! `bd export` and `bd import`.

use std::io::BufReader;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use beads::ExportOptions;

use crate::cli::Global;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to this file (atomically) instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Include wisps, templates and infrastructure types.
    #[arg(long)]
    pub all: bool,
    /// Include infrastructure types (agent, rig, role, message), still not wisps or templates.
    #[arg(long)]
    pub include_infra: bool,
    /// Include agent memories (`kv.memory.*`).
    #[arg(long)]
    pub include_memories: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The JSONL file (`bd export`'s shape), `-` for standard input, or upstream's backup: its
    /// directory (`.beads/backup/`) or the `issues.jsonl` in it, read with the
    /// `dependencies`, `labels`, `comments`, `events` and `config` files beside it.
    pub file: String,
    /// Check and count, but write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn export(g: &Global, args: &ExportArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let store = super::open(g)?;
    let opts = ExportOptions {
        all: args.all,
        include_infra: args.include_infra,
        memories: args.include_memories,
    };
    match &args.output {
        Some(path) => {
            let n = store.export_to(path, opts)?;
            ui.status(format!("Exported {n} line(s) to `{}`", path.display()));
        }
        None => {
            for line in store.export_lines(opts)? {
                ui.line(line)?;
            }
        }
    }
    Ok(())
}

pub fn import(g: &Global, args: &ImportArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let mut store = super::open(g)?;
    let report = if args.file == "-" {
        store.import(
            std::io::stdin().lock(),
            std::path::Path::new("-"),
            args.dry_run,
        )?
    } else if let Some(issues) = beads::ops::backup::backup_issues_file(args.file.as_ref()) {
        if !issues.is_file() {
            return Err(ui::CliError::user(format!(
                "`{}` is a directory without an `issues.jsonl`",
                args.file
            ))
            .hint("give an export file, or a backup directory (upstream's `.beads/backup/`)")
            .into());
        }
        store
            .import_backup(&issues, args.dry_run)
            .with_context(|| format!("importing the backup in `{}`", args.file))?
    } else {
        let f =
            std::fs::File::open(&args.file).map_err(|e| super::named_file_error(&args.file, e))?;
        store
            .import(BufReader::new(f), args.file.as_ref(), args.dry_run)
            .with_context(|| format!("importing `{}`", args.file))?
    };
    if ui.is_json() {
        ui.json(&report)?;
    } else {
        ui.status(format!(
            "{}{} line(s): {} created, {} updated, {} unchanged, {} comment(s) added",
            if report.dry_run {
                "Dry run, nothing written. "
            } else {
                ""
            },
            report.lines,
            report.created,
            report.updated,
            report.unchanged,
            report.comments_added
        ));
    }
    Ok(())
}
