//! `gt feed --plain`: the event stream as lines, printed as the events are committed, for a
//! pipe or a log file (with `--json`, one JSON object a line). Nothing is printed while nothing
//! happens.

use std::time::Duration;

use town::layout::Town;

/// How many events one read takes (a burst larger than this is read in several).
const BATCH: usize = 500;

/// How long one wait lasts before the watcher is asked again (it wakes on a commit at once).
const WAIT: Duration = Duration::from_secs(3600);

/// Prints the last `last` events, then every new one until the reader goes away (a closed pipe
/// ends it quietly) or the process is stopped.
pub fn run(town: &Town, last: usize, ui: &mut ui::Ui) -> anyhow::Result<()> {
    // Made before the first read, so a commit between that read and the first wait wakes it.
    let mut watcher = town::events::Watcher::new(town)?;
    let store = super::super::store(town)?;
    let mut cursor = store.last_event_id()?;
    for e in town::events::latest(&store, last)? {
        print(ui, &e)?;
    }
    ui.flush()?;
    loop {
        loop {
            let batch = town::events::after(&store, cursor, BATCH)?;
            for e in &batch {
                print(ui, e)?;
                cursor = e.id;
            }
            ui.flush()?;
            if batch.len() < BATCH {
                break;
            }
        }
        watcher.wait(WAIT);
    }
}

fn print(ui: &mut ui::Ui, e: &town::events::TownEvent) -> std::io::Result<()> {
    if ui.is_json() {
        // One object a line (JSON Lines), not the pretty form: a reader splits on newlines.
        ui.line(serde_json::to_string(e).map_err(std::io::Error::from)?)
    } else {
        ui.line(super::render::event_line(e, true))
    }
}
