//! `gt escalate`: raise a severity-routed escalation, and `list/show/ack/close/stale` them.

use std::io::Read as _;

use clap::{Args, Subcommand};
use town::escalation::{self, Escalation, EscalationConfig, NewEscalation, Severity};

use super::{safe, table};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct EscalateArgs {
    #[command(subcommand)]
    pub command: Option<EscalateCommand>,
    #[command(flatten)]
    pub raise: RaiseArgs,
}

#[derive(Debug, Args)]
pub struct RaiseArgs {
    /// What is wrong, in one line (the escalation's title).
    #[arg(required = true)]
    pub description: Option<String>,
    /// How urgent: CRITICAL, HIGH, MEDIUM or LOW (any case).
    #[arg(short, long, default_value = "MEDIUM", value_parser = parse_severity)]
    pub severity: Severity,
    /// Why, in more words (the escalation's body).
    #[arg(short, long)]
    pub reason: Option<String>,
    /// What raised it, as `<type>:<name>` (`plugin:nightly`).
    #[arg(long)]
    pub source: Option<String>,
    /// A bead this is about (repeatable).
    #[arg(long)]
    pub related: Vec<String>,
    /// Read the body from stdin.
    #[arg(long, conflicts_with = "reason")]
    pub stdin: bool,
    /// Say where it would go; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse()
}

#[derive(Debug, Subcommand)]
pub enum EscalateCommand {
    /// Open escalations, newest first (all with `--all`).
    List(ListArgs),
    /// One escalation with its notes.
    Show(IdArgs),
    /// Acknowledge an escalation: it is not escalated again.
    Ack(IdArgs),
    /// Close an escalation: it is resolved.
    Close(CloseArgs),
    /// Escalate again those left unacknowledged past the threshold (the deacon does this).
    Stale(StaleArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Include closed escalations.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct IdArgs {
    /// The escalation's bead id.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct CloseArgs {
    pub id: String,
    /// How it was resolved.
    #[arg(short, long, default_value = "resolved")]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct StaleArgs {
    /// Say which would be escalated again; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(args: EscalateArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    let mut store = super::store(&town)?;
    let me = town::address::Address::current()?.canonical();
    match args.command {
        None => raise(&town, &mut store, args.raise, &me, ui)?,
        Some(EscalateCommand::List(a)) => {
            let list = escalation::list(&store, a.all)?;
            if ui.is_json() {
                ui.json(&list)?;
            } else if list.is_empty() {
                ui.status("No open escalations");
            } else {
                // With `--all`, closed ones are among them: say which.
                let mut header = vec!["ID", "SEVERITY", "ACK", "AGE", "FROM", "TITLE"];
                if a.all {
                    header.insert(1, "STATUS");
                }
                let mut rows = vec![header.into_iter().map(str::to_owned).collect()];
                let now = store.now_ts();
                rows.extend(list.iter().map(|e| {
                    let mut row = vec![
                        e.id.clone(),
                        severity_cell(e),
                        if e.acknowledged { "yes" } else { "no" }.to_owned(),
                        escalation::routes::age(&e.created_at, now),
                        safe(e.from.as_deref().unwrap_or("-")),
                        safe(&e.title),
                    ];
                    if a.all {
                        row.insert(1, e.status.clone());
                    }
                    row
                }));
                table(ui, &rows)?;
            }
        }
        Some(EscalateCommand::Show(a)) => {
            let shown = escalation::show(&store, &a.id)?;
            if ui.is_json() {
                ui.json(&shown)?;
            } else {
                print_one(ui, &shown)?;
            }
        }
        Some(EscalateCommand::Ack(a)) => {
            let (e, already) = escalation::ack(&town, &mut store, &a.id, &me)?;
            if ui.is_json() {
                ui.json(&serde_json::json!({"escalation": e, "already": already}))?;
            } else if already {
                ui.status(format!(
                    "{} was acknowledged already (by {})",
                    e.id,
                    safe(e.acked_by.as_deref().unwrap_or("someone"))
                ));
            } else {
                ui.status(format!(
                    "Acknowledged {}: it will not be escalated again",
                    e.id
                ));
            }
        }
        Some(EscalateCommand::Close(a)) => {
            let e = escalation::close(&town, &mut store, &a.id, &a.reason)?;
            if ui.is_json() {
                ui.json(&e)?;
            } else {
                ui.status(format!("Closed {}", e.id));
            }
        }
        Some(EscalateCommand::Stale(a)) => {
            let config = EscalationConfig::load(&town)?;
            let bumped = escalation::stale(&town, &mut store, &config, a.dry_run)?;
            if ui.is_json() {
                ui.json(&bumped)?;
            } else if bumped.is_empty() {
                ui.status("No stale escalations");
            } else {
                let verb = if a.dry_run {
                    "Would re-escalate"
                } else {
                    "Re-escalated"
                };
                for b in &bumped {
                    ui.line(format!(
                        "{verb} {}: {} -> {} ({} of {})  {}",
                        b.id,
                        b.from,
                        b.to,
                        b.reescalations,
                        config.max_reescalations,
                        safe(&b.title)
                    ))?;
                    report_failures(ui, &b.deliveries);
                }
            }
        }
    }
    Ok(())
}

fn raise(
    town: &town::layout::Town,
    store: &mut beads::Store,
    args: RaiseArgs,
    me: &str,
    ui: &mut ui::Ui,
) -> anyhow::Result<()> {
    let config = EscalationConfig::load(town)?;
    let description = if args.stdin {
        let mut body = String::new();
        std::io::stdin().read_to_string(&mut body)?;
        body
    } else {
        args.reason.unwrap_or_default()
    };
    let new = NewEscalation {
        title: args.description.unwrap_or_default(),
        description,
        severity: Some(args.severity),
        source: args.source,
        from: me.to_owned(),
        related: args.related,
    };
    let routes: Vec<String> = config
        .routes(args.severity)
        .iter()
        .map(ToString::to_string)
        .collect();
    if args.dry_run {
        if ui.is_json() {
            ui.json(&serde_json::json!({"severity": args.severity, "routes": routes}))?;
        } else {
            ui.line(format!(
                "Would escalate ({}) along: {}",
                args.severity,
                safe(&routes.join(", "))
            ))?;
        }
        return Ok(());
    }
    let raised = escalation::raise(town, store, &config, &new)?;
    if ui.is_json() {
        ui.json(&raised)?;
    } else {
        let e = &raised.escalation;
        ui.line(&e.id)?;
        let delivered: Vec<&str> = raised
            .deliveries
            .iter()
            .filter(|d| d.ok)
            .map(|d| d.route.as_str())
            .collect();
        ui.status(format!(
            "Escalated {} ({}): {}",
            e.id,
            e.severity,
            safe(&delivered.join(", "))
        ));
        report_failures(ui, &raised.deliveries);
    }
    Ok(())
}

/// Failed routes go to stderr: the escalation stands, but someone should fix the route.
fn report_failures(ui: &ui::Ui, deliveries: &[escalation::Delivery]) {
    for d in deliveries.iter().filter(|d| !d.ok) {
        ui.warn(format!(
            "route `{}` failed: {}",
            safe(&d.route),
            safe(&d.detail)
        ));
    }
}

fn severity_cell(e: &Escalation) -> String {
    if e.severity == e.original_severity {
        e.severity.to_string()
    } else {
        format!("{} (was {})", e.severity, e.original_severity)
    }
}

fn print_one(ui: &mut ui::Ui, shown: &escalation::Shown) -> anyhow::Result<()> {
    let e = &shown.escalation;
    ui.line(format!("{}  {}  {}", e.id, e.severity, safe(&e.title)))?;
    let mut rows = vec![
        vec!["Status:".to_owned(), e.status.clone()],
        vec!["Severity:".to_owned(), severity_cell(e)],
        vec![
            "Re-escalated:".to_owned(),
            format!("{} time(s)", e.reescalations),
        ],
        vec![
            "Acknowledged:".to_owned(),
            match (&e.acked_by, &e.acked_at) {
                (Some(by), Some(at)) if e.acknowledged => format!("by {} at {at}", safe(by)),
                _ if e.acknowledged => "yes".to_owned(),
                _ => "no".to_owned(),
            },
        ],
        vec!["From:".to_owned(), safe(e.from.as_deref().unwrap_or("-"))],
        vec![
            "Source:".to_owned(),
            safe(e.source.as_deref().unwrap_or("-")),
        ],
        vec!["Raised:".to_owned(), e.created_at.clone()],
        vec!["Escalated:".to_owned(), e.escalated_at.clone()],
    ];
    if !shown.related.is_empty() {
        rows.push(vec!["Related:".to_owned(), shown.related.join(", ")]);
    }
    if let Some(reason) = &e.close_reason {
        rows.push(vec!["Closed:".to_owned(), safe(reason)]);
    }
    table(ui, &rows)?;
    if !e.description.is_empty() {
        ui.line("")?;
        for line in e.description.lines() {
            ui.line(format!("  {}", safe(line)))?;
        }
    }
    if !shown.notes.is_empty() {
        ui.line("")?;
        ui.line("Notes:")?;
        for n in &shown.notes {
            ui.line(format!(
                "  {}  {}  {}",
                n.created_at,
                safe(&n.author),
                safe(&n.text)
            ))?;
        }
    }
    Ok(())
}
