//! Opening, creating and writing the database.
//!
//! Every write runs in one `BEGIN IMMEDIATE` transaction: the write lock is taken up front, so
//! concurrent writers queue on SQLite's busy handler instead of failing with "database is
//! locked" on a read-to-write upgrade. WAL mode keeps readers off the writers' path.

use std::path::{Path, PathBuf};
use std::time::Duration;

use host::clock::Clock;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior};

use crate::error::{Error, Result};
use crate::model::{CustomStatus, StatusCategory};
use crate::schema;

/// The directory that holds a store.
pub const BEADS_DIR: &str = ".beads";
/// The database file inside [`BEADS_DIR`].
pub const DB_FILE: &str = "beads.db";

/// How long a writer waits for another writer before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// Who is acting and what time it is: the context every mutation records.
pub struct Context {
    /// The actor written to `created_by`, events and comments.
    pub actor: String,
    /// The clock for timestamps.
    pub clock: Box<dyn Clock>,
}

/// An open beads store.
pub struct Store {
    pub(crate) conn: Connection,
    path: PathBuf,
    pub(crate) ctx: Context,
    pub(crate) settings: Settings,
    /// Refuse every write ([`Error::ReadOnly`]): for agents that may only read.
    read_only: bool,
    /// Called after every committed write ([`Store::after_commit`]).
    after_commit: Option<Box<dyn Fn() + Send>>,
}

/// Config values the store itself needs, read once at open.
#[derive(Debug, Clone, Default)]
pub(crate) struct Settings {
    pub prefix: String,
    pub custom_statuses: Vec<CustomStatus>,
    pub custom_types: Vec<String>,
}

impl Settings {
    /// Statuses whose issues no longer block their dependents.
    pub fn done_statuses(&self) -> Vec<String> {
        let mut v: Vec<String> = ["closed", "pinned", "tombstone"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        v.extend(self.custom_with(StatusCategory::Done));
        v
    }

    pub fn custom_with(&self, cat: StatusCategory) -> Vec<String> {
        self.custom_statuses
            .iter()
            .filter(|s| s.category == cat)
            .map(|s| s.name.clone())
            .collect()
    }
}

/// Finds the beads directory: the nearest `.beads/` holding a database, from `start` upward.
pub fn discover(start: &Path) -> Result<PathBuf> {
    start
        .ancestors()
        .map(|dir| dir.join(BEADS_DIR))
        .find(|dir| dir.join(DB_FILE).is_file())
        .ok_or_else(|| Error::NoStore {
            start: start.to_owned(),
        })
}

/// Formats an instant the way the store keeps it: UTC, fixed width, microseconds, so text
/// order is time order.
pub fn format_ts(ts: jiff::Timestamp) -> String {
    let dt = jiff::tz::Offset::UTC.to_datetime(ts);
    let Ok(year) = u32::try_from(dt.year()) else {
        return ts.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    };
    // Digit by digit rather than through `strftime`, whose format interpreter costs more
    // than the rest of reading a timestamp (an import formats two or three per line).
    let mut out = [0u8; 27];
    let mut put = |at: usize, width: usize, mut n: u32| {
        for k in (at..at + width).rev() {
            out[k] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, dt.month().unsigned_abs().into());
    put(8, 2, dt.day().unsigned_abs().into());
    put(11, 2, dt.hour().unsigned_abs().into());
    put(14, 2, dt.minute().unsigned_abs().into());
    put(17, 2, dt.second().unsigned_abs().into());
    put(20, 6, dt.subsec_nanosecond().unsigned_abs() / 1000);
    for (at, sep) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
    ] {
        out[at] = sep;
    }
    out[26] = b'Z';
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses an RFC 3339 instant (any offset) into the stored form.
pub fn normalize_ts(s: &str) -> Result<String> {
    if is_stored_form(s) {
        return Ok(s.to_owned());
    }
    let ts: jiff::Timestamp = s
        .trim()
        .parse()
        .map_err(|e| Error::invalid("timestamp", format!("`{s}`: {e}")))?;
    Ok(format_ts(ts))
}

/// Whether `s` is a valid instant already in the stored form (what the store's own exports
/// hold): then normalizing it is checking it, with no parse and format round trip.
fn is_stored_form(s: &str) -> bool {
    let b = s.as_bytes();
    let shape = b.len() == 27
        && b.iter().enumerate().all(|(k, c)| match k {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            26 => *c == b'Z',
            _ => c.is_ascii_digit(),
        });
    if !shape {
        return false;
    }
    let n = |from: usize, to: usize| {
        b[from..to]
            .iter()
            .fold(0i32, |acc, c| acc * 10 + i32::from(c - b'0'))
    };
    let (Ok(year), Ok(month), Ok(day), Ok(hour), Ok(minute), Ok(second)) = (
        i16::try_from(n(0, 4)),
        i8::try_from(n(5, 7)),
        i8::try_from(n(8, 10)),
        i8::try_from(n(11, 13)),
        i8::try_from(n(14, 16)),
        i8::try_from(n(17, 19)),
    ) else {
        return false;
    };
    jiff::civil::DateTime::new(year, month, day, hour, minute, second, n(20, 26) * 1000)
        .is_ok_and(|dt| dt.to_zoned(jiff::tz::TimeZone::UTC).is_ok())
}

/// Parses a date the way `--due` and `--defer` take it: RFC 3339, `YYYY-MM-DD` (midnight
/// UTC), or relative to `now` as `+30m`, `+6h`, `+2d`, `+1w`; `tomorrow` is `+1d`.
pub fn parse_when(input: &str, now: jiff::Timestamp) -> Result<String> {
    let s = input.trim();
    let bad = || {
        Error::invalid(
            "date",
            format!(
                "`{input}` is not a date (use 2026-01-31, an RFC 3339 time, or +2d / +6h / +30m / +1w)"
            ),
        )
    };
    let relative = |amount: &str, unit: char| -> Result<String> {
        let n: i64 = amount.parse().map_err(|_| bad())?;
        let secs = match unit {
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(bad()),
        };
        let at = now
            .checked_add(jiff::SignedDuration::from_secs(
                n.checked_mul(secs).ok_or_else(bad)?,
            ))
            .map_err(|_| bad())?;
        Ok(format_ts(at))
    };
    if s == "tomorrow" {
        return relative("1", 'd');
    }
    if let Some(rest) = s.strip_prefix('+') {
        let unit = rest.chars().last().ok_or_else(bad)?;
        return relative(&rest[..rest.len() - unit.len_utf8()], unit);
    }
    if let Ok(date) = s.parse::<jiff::civil::Date>() {
        let ts = date
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map_err(|_| bad())?
            .timestamp();
        return Ok(format_ts(ts));
    }
    normalize_ts(s).map_err(|_| bad())
}

impl Store {
    /// Creates a new store in `beads_dir` with the id `prefix`. Fails if one exists.
    pub fn init(beads_dir: &Path, prefix: &str, ctx: Context) -> Result<Self> {
        validate_prefix(prefix)?;
        let db = beads_dir.join(DB_FILE);
        if db.exists() {
            return Err(Error::AlreadyInitialized { path: db });
        }
        std::fs::create_dir_all(beads_dir).map_err(|e| Error::io(beads_dir, e))?;
        let mut store = Self::open_path(&db, ctx, true)?;
        store.write(|tx, _| {
            tx.execute(
                "INSERT INTO config (key, value) VALUES ('issue_prefix', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [prefix],
            )?;
            Ok(())
        })?;
        store.settings.prefix = prefix.to_owned();
        Ok(store)
    }

    /// Opens the store in `beads_dir`, migrating it to the current schema if needed.
    pub fn open(beads_dir: &Path, ctx: Context) -> Result<Self> {
        let db = beads_dir.join(DB_FILE);
        if !db.is_file() {
            return Err(Error::NoStore {
                start: beads_dir.to_owned(),
            });
        }
        Self::open_path(&db, ctx, false)
    }

    fn open_path(db: &Path, ctx: Context, create: bool) -> Result<Self> {
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let corrupt = |e: rusqlite::Error| Error::Corrupt {
            path: db.to_owned(),
            reason: e.to_string(),
        };
        let mut conn = Connection::open_with_flags(db, flags).map_err(corrupt)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(corrupt)?;
        // mmap lets reads touch pages without a syscall and a copy each; it matters for commands
        // that read thousands of rows (`list --limit 0`, export). A page cache larger than
        // SQLite's 2 MiB default keeps a big transaction (an import) from spilling dirty pages
        // to the WAL and writing them again; it is allocated only as pages are touched. Statement
        // journals and sorts stay in memory: in a file they cost one write per page per statement.
        conn.execute_batch(
            "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA mmap_size = 268435456;
             PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;",
        )?;
        // The last connection to close would copy the whole WAL into the database and fsync
        // both (four fsyncs, most of a small write's time, every `bd`/`gt` run). The WAL is
        // left for SQLite's automatic checkpoint (every 1000 pages) instead. A process killed
        // at any point loses nothing either way (the WAL is complete and replayed by the next
        // open); what changes is that a power cut may lose the last seconds of commits that
        // the kernel had not yet written back, the bargain `synchronous = NORMAL` already
        // makes between checkpoints.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )?;
        if version != schema::LATEST_VERSION {
            migrate(&mut conn, db)?;
        } else {
            restore_wal(&conn)?;
        }
        let mut store = Self {
            conn,
            path: db.to_owned(),
            ctx,
            settings: Settings::default(),
            read_only: false,
            after_commit: None,
        };
        store.settings = store.load_settings()?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The id prefix for new issues.
    pub fn prefix(&self) -> &str {
        &self.settings.prefix
    }

    /// Uses `prefix` for new issues and id resolution in this session (routing inside a
    /// town); the stored `issue_prefix` is unchanged.
    pub fn use_prefix(&mut self, prefix: &str) -> Result<()> {
        validate_prefix(prefix)?;
        prefix.clone_into(&mut self.settings.prefix);
        Ok(())
    }

    /// The actor recorded on writes.
    pub fn actor(&self) -> &str {
        &self.ctx.actor
    }

    /// The current instant from the store's clock.
    pub fn now_ts(&self) -> jiff::Timestamp {
        self.ctx.clock.now()
    }

    /// The current time in stored form.
    pub fn now(&self) -> String {
        format_ts(self.ctx.clock.now())
    }

    fn load_settings(&self) -> Result<Settings> {
        let mut settings = Settings::default();
        let mut stmt = self.conn.prepare_cached(
            "SELECT key, value FROM config WHERE key IN ('issue_prefix', 'status.custom', 'types.custom')",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (key, value) = row?;
            match key.as_str() {
                "issue_prefix" => settings.prefix = value,
                "status.custom" => {
                    settings.custom_statuses = crate::model::parse_custom_statuses(&value)?;
                }
                "types.custom" => {
                    settings.custom_types = crate::model::parse_custom_types(&value);
                }
                _ => {}
            }
        }
        if settings.prefix.is_empty() {
            settings.prefix = "bd".into();
        }
        Ok(settings)
    }

    /// Runs `f` in one immediate write transaction; commits if it returns `Ok`.
    /// From now on, refuse every write with [`Error::ReadOnly`] (reads still work).
    pub fn set_read_only(&mut self) {
        self.read_only = true;
    }

    /// Runs `f` after every committed write of this handle: how the binaries wake the town's
    /// daemon when something changed. `f` must be quick and must not fail the write.
    pub fn after_commit(&mut self, f: impl Fn() + Send + 'static) {
        self.after_commit = Some(Box::new(f));
    }

    /// Whether writes are refused ([`Store::set_read_only`]).
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    pub(crate) fn write<T>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>, &WriteCtx<'_>) -> Result<T>,
    ) -> Result<T> {
        self.write_inner(true, f)
    }

    /// A write that skips the health check: for `bd doctor`, which records and repairs what
    /// the check refuses, and raw `bd sql`, the escape hatch for repairs by hand.
    pub(crate) fn write_unchecked<T>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>, &WriteCtx<'_>) -> Result<T>,
    ) -> Result<T> {
        self.write_inner(false, f)
    }

    fn write_inner<T>(
        &mut self,
        check: bool,
        f: impl FnOnce(&Transaction<'_>, &WriteCtx<'_>) -> Result<T>,
    ) -> Result<T> {
        if self.read_only {
            return Err(Error::ReadOnly);
        }
        let now = self.now();
        let wctx = WriteCtx {
            actor: &self.ctx.actor,
            now: &now,
            settings: &self.settings,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if check {
            check_health(&tx, &self.path)?;
        }
        let out = f(&tx, &wctx)?;
        tx.commit()?;
        if let Some(hook) = &self.after_commit {
            hook();
        }
        Ok(out)
    }

    /// Runs `f` with the store in SQLite's rollback-journal mode when this connection is the
    /// only one open on it, else (SQLite refuses the switch at once) in WAL mode as always;
    /// back in WAL mode afterwards. For a bulk write into an (almost) empty store: a rollback
    /// journal saves the old content of the pages a transaction changes, and pages added past
    /// the end of the file have none, so every new page is written once, into the database.
    /// WAL writes each page twice (into the log, then into the database at the checkpoint)
    /// and a checkpoint reads the log back first. All or nothing either way: a process killed
    /// mid-write leaves a journal that the next open rolls back (and, if the switch back did
    /// not happen, the next open puts the store back in WAL mode).
    pub(crate) fn with_rollback_journal<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<T> {
        let mode = |conn: &Connection, to: &str| {
            conn.query_row(&format!("PRAGMA journal_mode = {to}"), [], |r| {
                r.get::<_, String>(0)
            })
        };
        match mode(&self.conn, "DELETE") {
            Ok(m) if m == "delete" => {}
            other => {
                tracing::debug!(?other, "rollback journal refused: staying in WAL mode");
                return f(self);
            }
        }
        let out = f(self);
        if let Err(e) = mode(&self.conn, "WAL") {
            // The write is done (or rolled back); the next open switches back.
            tracing::warn!(error = %e, "could not put the store back in WAL mode");
        }
        out
    }

    /// Re-reads settings after a config change.
    pub(crate) fn reload_settings(&mut self) -> Result<()> {
        self.settings = self.load_settings()?;
        Ok(())
    }

    /// The raw connection, for read queries inside the crate.
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Whether an issue with exactly this id exists.
    pub fn exists(&self, id: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM issues WHERE id = ?1")?
            .query_row([id], |_| Ok(()))
            .optional()?
            .is_some())
    }
}

/// The invariants a write can check for the price of one small query (a few microseconds,
/// under the write lock so nobody changes them meanwhile): the schema version is the one this
/// bd writes, every table, view and trigger is there, and `bd doctor` has not recorded errors
/// it could not repair. `PRAGMA quick_check` would find more but reads every page: far too slow
/// for every write, so that is `bd doctor`'s job, and its verdict is the marker read here.
fn check_health(tx: &Connection, db: &Path) -> Result<()> {
    let names = schema::REQUIRED_OBJECTS
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT (SELECT user_version FROM pragma_user_version),
                (SELECT count(*) FROM sqlite_schema WHERE name IN ({names})),
                (SELECT value FROM metadata WHERE key = '{}')",
        schema::DOCTOR_MARKER
    );
    let corrupt = |reason: String| Error::Corrupt {
        path: db.to_owned(),
        reason,
    };
    let (version, objects, marker): (i64, i64, Option<String>) = tx
        .prepare_cached(&sql)
        .and_then(|mut stmt| stmt.query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))))
        .map_err(|e| corrupt(format!("its schema cannot be read: {e}")))?;
    if version != schema::LATEST_VERSION {
        return Err(corrupt(format!(
            "schema version {version} is not the version this bd writes ({})",
            schema::LATEST_VERSION
        )));
    }
    if usize::try_from(objects).ok() != Some(schema::REQUIRED_OBJECTS.len()) {
        let missing: Vec<&str> = schema::REQUIRED_OBJECTS
            .iter()
            .copied()
            .filter(|name| {
                tx.query_row(
                    "SELECT 1 FROM sqlite_schema WHERE name = ?1",
                    [name],
                    |_| Ok(()),
                )
                .optional()
                .ok()
                .flatten()
                .is_none()
            })
            .collect();
        return Err(corrupt(format!(
            "its schema lacks {}",
            missing
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if let Some(errors) = marker {
        return Err(Error::DoctorFound {
            path: db.to_owned(),
            errors,
        });
    }
    Ok(())
}

/// What a write transaction knows besides the connection.
pub(crate) struct WriteCtx<'a> {
    pub actor: &'a str,
    pub now: &'a str,
    pub settings: &'a Settings,
}

fn migrate(conn: &mut Connection, db: &Path) -> Result<()> {
    // Serialize first-time setup between processes: the lock file sits beside the database.
    let lock_path = db.with_extension("migrate.lock");
    let _guard = host::lock::lock(&lock_path).map_err(|e| Error::Corrupt {
        path: db.to_owned(),
        reason: e.to_string(),
    })?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > schema::LATEST_VERSION {
        return Err(Error::Corrupt {
            path: db.to_owned(),
            reason: format!(
                "schema version {version} is newer than this bd understands ({})",
                schema::LATEST_VERSION
            ),
        });
    }
    conn.pragma_update(None, "journal_mode", "WAL")?;
    schema::migrations()
        .to_latest(conn)
        .map_err(|e| Error::Corrupt {
            path: db.to_owned(),
            reason: format!("migration failed: {e}"),
        })?;
    Ok(())
}

/// Puts a store left in rollback-journal mode (a bulk write killed before it could switch
/// back: [`Store::with_rollback_journal`]) back in WAL mode. Best effort and without waiting:
/// while a bulk write is under way the switch is busy, and that write switches back itself;
/// a store that stays in rollback mode works, only with readers and the writer waiting on
/// each other.
fn restore_wal(conn: &Connection) -> Result<()> {
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    if mode != "wal" {
        conn.busy_timeout(Duration::ZERO)?;
        if let Err(e) = conn.pragma_update(None, "journal_mode", "WAL") {
            tracing::debug!(error = %e, "could not put the store back in WAL mode");
        }
        conn.busy_timeout(BUSY_TIMEOUT)?;
    }
    Ok(())
}

/// Checks an id prefix: 1–16 chars of `[a-z0-9]`, starting with a letter.
pub fn validate_prefix(prefix: &str) -> Result<()> {
    let ok = !prefix.is_empty()
        && prefix.len() <= 16
        && prefix.starts_with(|c: char| c.is_ascii_lowercase())
        && prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "prefix",
            format!("`{prefix}` must be 1-16 lowercase letters or digits, starting with a letter"),
        ))
    }
}

/// A new store in a temporary directory for the crate's unit tests: ids prefixed `prefix`,
/// written by `tester`, with the clock stopped at `now`.
#[cfg(test)]
pub(crate) fn test_store(prefix: &str, now: &str) -> (tempfile::TempDir, Store) {
    let dir = tempfile::TempDir::new().expect("a temporary directory");
    let ctx = Context {
        actor: "tester".into(),
        clock: Box::new(host::clock::FixedClock(
            now.parse().expect("a test instant"),
        )),
    };
    let store = Store::init(&dir.path().join(".beads"), prefix, ctx).expect("a new store");
    (dir, store)
}

#[cfg(test)]
mod tests {
    /// An instant already in the stored form is kept as it is exactly when parsing and
    /// formatting it would give it back; anything else goes the long way (or is refused).
    #[test]
    fn the_stored_form_is_recognized_without_a_round_trip() {
        for s in [
            "2026-01-31T23:59:59.999999Z",
            "2024-02-29T00:00:00.000000Z",
            "0001-01-01T00:00:00.000000Z",
            "9999-12-30T00:00:00.000000Z",
        ] {
            assert!(super::is_stored_form(s), "{s}");
            let ts: jiff::Timestamp = s.parse().unwrap();
            assert_eq!(super::format_ts(ts), s);
        }
        for s in [
            "2026-02-29T00:00:00.000000Z",
            "2026-13-01T00:00:00.000000Z",
            "2026-01-01T24:00:00.000000Z",
            "2026-01-01T00:00:60.000000Z",
            "2026-01-01T00:00:00.00000Z",
            "2026-01-01T00:00:00.000000+00:00",
            "2026-01-01 00:00:00.000000Z",
            "+026-01-01T00:00:00.000000Z",
        ] {
            assert!(!super::is_stored_form(s), "{s}");
        }
        assert_eq!(
            super::normalize_ts("2026-01-01T02:00:00+02:00").unwrap(),
            "2026-01-01T00:00:00.000000Z"
        );
        assert!(super::normalize_ts("2026-02-29T00:00:00.000000Z").is_err());
    }

    /// The hand-written formatter writes what `strftime` would, across years, leap days,
    /// sub-second digits (truncated, not rounded) and instants before 1970 and year 0.
    #[test]
    fn format_ts_matches_strftime() {
        let spaced = (0..2_000i64).map(|k| k * 157_600_003_331 / 1_000 - 62_167_219_200);
        let edges = [
            0,
            -1,
            951_782_400,
            253_402_300_799,
            -62_167_219_200,
            -62_167_219_201,
        ];
        for secs in spaced.chain(edges) {
            for nanos in [0, 1, 999, 1_000, 123_456_789, 999_999_999] {
                let Ok(ts) = jiff::Timestamp::new(secs, nanos) else {
                    continue;
                };
                assert_eq!(
                    super::format_ts(ts),
                    ts.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
                    "{secs}.{nanos}"
                );
            }
        }
    }
}
