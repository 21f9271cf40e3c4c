//! The last issue each actor touched, so `bd show`, `bd update` and `bd close` without an id
//! act on it (upstream's convenience). Kept per actor, in `.beads/last-touched/<actor>`: in a
//! town every agent shares the store, and one agent's last issue must never become another's.

use std::path::PathBuf;

use beads::Store;

fn file(store: &Store) -> Option<PathBuf> {
    // The actor becomes a file name: keep it to safe characters.
    let actor: String = store
        .actor()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let actor = actor.trim_start_matches('.');
    if actor.is_empty() {
        return None;
    }
    Some(store.path().parent()?.join("last-touched").join(actor))
}

/// Remembers `id` as this actor's last issue. Best effort: a read-only disk must not fail the
/// command that already did its work, so a failure is only logged.
pub fn remember(store: &Store, id: &str) {
    let Some(path) = file(store) else { return };
    // `show` calls this every time: create the directory only the first time it is missing.
    let line = format!("{id}\n");
    // Most calls name the issue already there (`show` again, `update` after `show`): leave the
    // file alone then. Otherwise overwrite it in place and cut it to length, never truncating
    // it to nothing first: ext4 flushes a file rewritten that way when it is closed, which
    // costs a disk write on every command.
    if std::fs::read(&path).is_ok_and(|old| old == line.as_bytes()) {
        return;
    }
    let overwrite = || -> std::io::Result<()> {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        f.write_all(line.as_bytes())?;
        f.set_len(line.len() as u64)
    };
    let write = || -> std::io::Result<()> {
        match overwrite() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                overwrite()
            }
            other => other,
        }
    };
    if let Err(e) = write() {
        tracing::warn!(path = %path.display(), error = %e, "could not remember the last-touched issue");
    }
}

/// The ids given, or this actor's last-touched issue when none was.
pub fn ids_or_last(store: &Store, ids: &[String]) -> anyhow::Result<Vec<String>> {
    if !ids.is_empty() {
        return Ok(ids.to_vec());
    }
    let last = file(store)
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    match last {
        Some(id) => Ok(vec![id]),
        None => Err(ui::CliError::usage("give an issue id")
            .hint("without one, bd uses the last issue you created, showed or changed, and there is none yet")
            .into()),
    }
}
