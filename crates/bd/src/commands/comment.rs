//! `bd comment` and `bd comments`.

use clap::{Args, Subcommand};

use crate::cli::Global;
use crate::render;

#[derive(Debug, Args)]
pub struct CommentArgs {
    /// The issue.
    pub issue: String,
    /// The comment text (words are joined with spaces); `-` reads standard input.
    #[arg(required = true)]
    pub text: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CommentsArgs {
    #[command(subcommand)]
    pub command: Option<CommentsCommand>,
    /// The issue whose comments to show.
    pub issue: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum CommentsCommand {
    /// Add a comment.
    Add(CommentArgs),
}

pub fn add(g: &Global, args: &CommentArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let text = if args.text == ["-"] {
        super::read_text_source("-")?
    } else {
        args.text.join(" ")
    };
    let mut store = super::open(g)?;
    let comment = store.add_comment(&args.issue, &text)?;
    if ui.is_json() {
        ui.json(&comment)?;
    } else {
        ui.status(format!("Comment added to {}", comment.issue_id));
    }
    Ok(())
}

pub fn run(g: &Global, args: CommentsArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    if let Some(CommentsCommand::Add(a)) = &args.command {
        return add(g, a, ui);
    }
    let issue = args
        .issue
        .ok_or_else(|| ui::CliError::usage("which issue? `bd comments <id>`"))?;
    let store = super::open(g)?;
    let comments = store.comments(&issue)?;
    if ui.is_json() {
        ui.json(&comments)?;
    } else if comments.is_empty() {
        ui.status("No comments");
    } else {
        for c in &comments {
            ui.line(format!("{} {}:", c.created_at, render::safe(&c.author)))?;
            for line in c.text.lines() {
                ui.line(format!("  {}", render::safe(line)))?;
            }
        }
    }
    Ok(())
}
