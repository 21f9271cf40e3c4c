//! `gt events`: the town's event stream ([`town::events`]), as lines or JSONL, and `--follow`.

use std::collections::VecDeque;
use std::io::Write;
use std::time::Duration;

use clap::Args;
use town::events::{TownEvent, Watcher};

/// Rows read from the store at a time.
const PAGE: usize = 500;
/// How long one wait for a change lasts before it looks anyway (the watcher wakes it sooner).
const FOLLOW_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Keep printing events as they happen (until interrupted).
    #[arg(long)]
    follow: bool,
    /// Only events after this id (an earlier event's `id`), oldest first.
    #[arg(long, value_name = "ID")]
    since: Option<i64>,
    /// Only events of this rig.
    #[arg(long, value_name = "RIG")]
    rig: Option<String>,
    /// At most this many events before following: the newest, or the first after `--since`.
    #[arg(long, value_name = "N", default_value_t = 50)]
    limit: usize,
}

pub fn run(args: &EventsArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    if let Some(rig) = &args.rig
        && !town.rigs()?.rigs.contains_key(rig)
    {
        return Err(town::rig::RigError::NotFound(rig.clone()).into());
    }
    if args.since.is_some_and(|s| s < 0) {
        return Err(ui::CliError::usage("`--since` takes an event id (0 or more)").into());
    }
    let store = super::store(&town)?;
    // Made before the first read, so a commit between that read and the first wait wakes it.
    let mut watcher = args.follow.then(|| Watcher::new(&town)).transpose()?;
    let wanted = |e: &TownEvent| args.rig.is_none() || e.rig == args.rig;
    let (shown, mut cursor) = match args.since {
        Some(since) => first_after(&store, since, args.limit, &wanted)?,
        None => newest(&store, args.limit, &wanted)?,
    };
    for e in &shown {
        print(ui, e)?;
    }
    ui.flush()?;
    let Some(watcher) = watcher.as_mut() else {
        return Ok(());
    };
    loop {
        watcher.wait(FOLLOW_WAIT);
        loop {
            let page = town::events::after(&store, cursor, PAGE)?;
            let Some(last) = page.last() else { break };
            cursor = last.id;
            for e in page.iter().filter(|e| wanted(e)) {
                print(ui, e)?;
            }
        }
        ui.flush()?;
    }
}

/// The first `limit` wanted events after `since`, and the cursor past what was read.
fn first_after(
    store: &beads::Store,
    since: i64,
    limit: usize,
    wanted: &dyn Fn(&TownEvent) -> bool,
) -> anyhow::Result<(Vec<TownEvent>, i64)> {
    let mut shown = Vec::new();
    let mut cursor = since;
    while shown.len() < limit {
        let page = town::events::after(store, cursor, PAGE)?;
        let Some(last) = page.last() else { break };
        cursor = last.id;
        for e in page {
            if shown.len() == limit {
                // Not shown: the cursor stays before it, so `--follow` prints it next.
                cursor = e.id - 1;
                break;
            }
            if wanted(&e) {
                shown.push(e);
            }
        }
    }
    Ok((shown, cursor))
}

/// The newest `limit` wanted events, oldest first, and the cursor at the store's end.
fn newest(
    store: &beads::Store,
    limit: usize,
    wanted: &dyn Fn(&TownEvent) -> bool,
) -> anyhow::Result<(Vec<TownEvent>, i64)> {
    let end = store.last_event_id()?;
    let mut kept: VecDeque<TownEvent> = VecDeque::new();
    // Walks back from the end a page at a time until `limit` wanted ones are found.
    let mut before = end;
    while kept.len() < limit && before > 0 {
        let from = before.saturating_sub(i64::try_from(PAGE).unwrap_or(i64::MAX));
        let page = town::events::after(store, from, PAGE)?;
        for e in page.into_iter().rev() {
            if e.id > before {
                continue;
            }
            if wanted(&e) && kept.len() < limit {
                kept.push_front(e);
            }
        }
        before = from;
    }
    Ok((kept.into(), end))
}

fn print(ui: &mut ui::Ui, e: &TownEvent) -> anyhow::Result<()> {
    if ui.is_json() {
        serde_json::to_writer(&mut *ui.out(), e)?;
        writeln!(ui.out())?;
    } else {
        ui.line(line(e))?;
    }
    Ok(())
}

/// One event for a person: time, kind, rig, bead, summary.
pub fn line(e: &TownEvent) -> String {
    format!(
        "{}  {:<17} {:<10} {:<12} {}",
        e.at,
        e.kind.as_str(),
        super::safe(e.rig.as_deref().unwrap_or("-")),
        super::safe(e.bead.as_deref().unwrap_or("-")),
        e.summary
    )
}
