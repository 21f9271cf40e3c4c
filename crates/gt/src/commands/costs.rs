//! `gt costs`: what the agents' sessions used, from their own transcripts (recorded by `gt
//! session-end` and the daemon), in tokens always and in dollars where a price applies.

use clap::Args;
use jiff::{SignedDuration, Timestamp};

use town::costs::prices::Prices;
use town::costs::report::{self, GroupBy, Report};

#[derive(Debug, Args)]
pub struct CostsArgs {
    /// Only sessions active since midnight (UTC).
    #[arg(long, group = "period")]
    pub today: bool,
    /// Only sessions active in the last 7 days.
    #[arg(long, group = "period")]
    pub week: bool,
    /// Only sessions active since DATE (`YYYY-MM-DD`, midnight UTC, or an RFC 3339 instant).
    #[arg(long, group = "period", value_name = "DATE")]
    pub since: Option<String>,
    /// Sum by rig.
    #[arg(long, group = "by")]
    pub by_rig: bool,
    /// Sum by bead (the polecat's hooked bead when the session ran).
    #[arg(long, group = "by")]
    pub by_bead: bool,
    /// Sum by convoy (the bead's).
    #[arg(long, group = "by")]
    pub by_convoy: bool,
    /// Sum by role (polecat, mayor, crew).
    #[arg(long, group = "by")]
    pub by_role: bool,
}

/// The start of the period asked for, if any.
fn since(args: &CostsArgs, now: Timestamp) -> anyhow::Result<Option<Timestamp>> {
    if args.today {
        let day = now.to_zoned(jiff::tz::TimeZone::UTC).date();
        return Ok(Some(day.to_zoned(jiff::tz::TimeZone::UTC)?.timestamp()));
    }
    if args.week {
        return Ok(Some(now - SignedDuration::from_hours(7 * 24)));
    }
    let Some(text) = args.since.as_deref() else {
        return Ok(None);
    };
    if let Ok(date) = text.parse::<jiff::civil::Date>() {
        return Ok(Some(date.to_zoned(jiff::tz::TimeZone::UTC)?.timestamp()));
    }
    text.parse::<Timestamp>().map(Some).map_err(|_| {
        ui::CliError::usage(format!(
            "`--since` takes a date (YYYY-MM-DD) or an RFC 3339 instant, not `{}`",
            text.escape_debug()
        ))
        .into()
    })
}

fn group_by(args: &CostsArgs) -> GroupBy {
    if args.by_rig {
        GroupBy::Rig
    } else if args.by_bead {
        GroupBy::Bead
    } else if args.by_convoy {
        GroupBy::Convoy
    } else if args.by_role {
        GroupBy::Role
    } else {
        GroupBy::Agent
    }
}

pub fn run(args: &CostsArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    let store = super::store(&town)?;
    let prices = Prices::load(town.root())?;
    let since = since(args, store.now_ts())?;
    let rows = store.session_costs(since.map(|s| s.to_string()).as_deref())?;
    let view = report::build(&rows, group_by(args), &prices, since.map(|s| s.to_string()));
    if ui.is_json() {
        ui.json(&view)?;
        return Ok(());
    }
    render(ui, &view)
}

fn usd(d: Option<f64>) -> String {
    d.map_or_else(|| "-".to_owned(), |d| format!("${d:.2}"))
}

fn render(ui: &mut ui::Ui, view: &Report) -> anyhow::Result<()> {
    let period = view
        .since
        .as_deref()
        .map_or_else(|| "all time".to_owned(), |s| format!("since {s}"));
    if view.groups.is_empty() {
        ui.line(format!("No agent sessions recorded ({period})."))?;
        return Ok(());
    }
    let by = match view.group_by {
        GroupBy::Agent => "AGENT",
        GroupBy::Rig => "RIG",
        GroupBy::Bead => "BEAD",
        GroupBy::Convoy => "CONVOY",
        GroupBy::Role => "ROLE",
    };
    let row = |g: &report::Group, key: String| {
        vec![
            key,
            g.sessions.to_string(),
            g.tokens.input.to_string(),
            g.tokens.output.to_string(),
            g.tokens.cache_write.to_string(),
            g.tokens.cache_read.to_string(),
            g.total_tokens.to_string(),
            usd(g.usd),
        ]
    };
    let mut rows = vec![
        [
            by,
            "SESSIONS",
            "INPUT",
            "OUTPUT",
            "CACHE WRITE",
            "CACHE READ",
            "TOTAL",
            "USD",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    rows.extend(view.groups.iter().map(|g| {
        let key = if g.key.is_empty() {
            "(none)".to_owned()
        } else {
            super::safe(&g.key)
        };
        row(g, key)
    }));
    rows.push(row(&view.total, "TOTAL".to_owned()));
    ui.line(format!("Agent sessions, {period}:"))?;
    ui::text::table(ui, &rows)?;
    if view.total.unpriced_tokens > 0 {
        ui.line(format!(
            "{} tokens of models without a price ({}) are not in USD; prices go in settings/costs.json.",
            view.total.unpriced_tokens,
            super::safe(&view.total.unpriced_models.join(", "))
        ))?;
    }
    Ok(())
}
