//! JSONL interchange: `bd export` (deterministic, sorted, atomic) and `bd import` (upstream's
//! classic and 1.0 shapes, all-or-nothing, idempotent by content hash).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Write};
use std::path::Path;

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

mod bulk;
mod cycles;
mod fresh;
mod parse;

pub(crate) use parse::{parse_comment, parse_dep, parse_line};

use crate::error::{Error, Result};
use crate::model::{Comment, Dependency, HIDDEN_INFRA_TYPES, Issue, IssueView};
use crate::ops::deps::{delete_label, insert_comment, insert_label, labels_of};
use crate::ops::event;
use crate::readiness;
use crate::row::{content_hash_of, upsert_issue};
use crate::store::{Settings, Store, WriteCtx};
use bulk::BulkRecord;

/// What `export` includes.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExportOptions {
    /// Also wisps, templates and infrastructure types (agent, rig, role, message).
    pub all: bool,
    /// Also the infrastructure types (but not wisps or templates).
    pub include_infra: bool,
    /// Also `kv.memory.*` entries as `{"_type":"memory"}` lines.
    pub memories: bool,
}

/// What `import` did (or, with `dry_run`, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub lines: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub memories: usize,
    pub labels_changed: usize,
    pub dependencies_changed: usize,
    pub comments_added: usize,
    /// Upstream events (a backup's `events.jsonl`) written, and those already in the store.
    pub events_added: usize,
    pub events_unchanged: usize,
    /// Config rows (a backup's `config.jsonl`) written, already set, and left out (with why).
    pub config_set: usize,
    pub config_unchanged: usize,
    pub config_skipped: Vec<String>,
    /// Rows of a backup's relation tables naming an issue its `issues.jsonl` does not have.
    pub orphans: Orphans,
    /// Upstream columns this store has no place for, with how many rows had a value in them.
    pub ignored_fields: BTreeMap<String, usize>,
    pub dry_run: bool,
}

/// Rows of a backup's `labels`, `dependencies` and `comments` files whose issue is not in its
/// `issues.jsonl` (upstream keeps the rows of wisps it has since deleted): counted, not written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Orphans {
    pub labels: usize,
    pub dependencies: usize,
    pub comments: usize,
}

#[derive(Serialize)]
struct IssueLine<'a> {
    #[serde(rename = "_type")]
    kind: &'static str,
    #[serde(flatten)]
    view: &'a IssueView,
}

#[derive(Clone)]
#[cfg_attr(test, derive(Debug, PartialEq))]
pub(crate) struct Record {
    /// The file it came from, named in errors when an import reads several (a backup).
    pub file: Option<String>,
    pub line: usize,
    pub issue: Issue,
    /// Its content hash, once its type is normalized.
    pub hash: String,
    pub labels: BTreeSet<String>,
    pub deps: Vec<Dependency>,
    pub comments: Vec<Comment>,
}

pub(crate) enum Line {
    Issue(Box<Record>),
    /// An issue checked and kept for the bulk path.
    Bulk(Box<BulkRecord>),
    Memory(String, String),
}

impl Line {
    /// This line's issue as the bulk path takes it (converted if the line holds it whole).
    fn as_bulk(&self) -> Option<Cow<'_, BulkRecord>> {
        match self {
            Self::Bulk(rec) => Some(Cow::Borrowed(rec)),
            Self::Issue(rec) => Some(Cow::Owned(BulkRecord::new((**rec).clone()))),
            Self::Memory(..) => None,
        }
    }

    /// This line's issue as the path that compares with the store takes it (converted if the
    /// line holds it compactly).
    fn as_whole(&self) -> Option<Cow<'_, Record>> {
        match self {
            Self::Issue(rec) => Some(Cow::Borrowed(rec)),
            Self::Bulk(rec) => Some(Cow::Owned(rec.to_record())),
            Self::Memory(..) => None,
        }
    }
}

impl Store {
    /// The export as JSONL lines, sorted by id.
    pub fn export_lines(&self, opts: ExportOptions) -> Result<Vec<String>> {
        let conn = self.conn();
        // As upstream: wisps and templates stay out, and so do agents, rigs, roles and
        // messages; gates, convoys and molecules are work records and go out.
        let infra: Vec<String> = HIDDEN_INFRA_TYPES.iter().map(|s| (*s).to_owned()).collect();
        let filter = match (opts.all, opts.include_infra) {
            (true, _) => String::new(),
            (false, true) => " WHERE i.ephemeral = 0 AND i.is_template = 0".to_owned(),
            (false, false) => format!(
                " WHERE i.ephemeral = 0 AND i.is_template = 0 AND i.issue_type NOT IN {}",
                readiness::sql_list(&infra)
            ),
        };
        let sql = format!(
            "SELECT {} FROM issues i{filter} ORDER BY i.id",
            crate::row::VIEW_COLUMNS
        );
        let mut stmt = conn.prepare(&sql)?;
        let mut views = stmt
            .query_map([], crate::row::view_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        let mut edges = self.all_edges()?;
        let mut comments = self.all_comments()?;
        let mut out = Vec::with_capacity(views.len());
        for view in &mut views {
            let id = view.issue.id.clone();
            view.dependencies = edges.remove(&id);
            view.comments = comments.remove(&id);
            view.parent = None;
            out.push(
                serde_json::to_string(&IssueLine {
                    kind: "issue",
                    view,
                })
                .expect("issues serialize"),
            );
        }
        if opts.memories {
            for (key, value) in self.memories()? {
                out.push(
                    serde_json::json!({"_type": "memory", "key": key, "value": value}).to_string(),
                );
            }
        }
        Ok(out)
    }

    /// Writes the export to `path` atomically (a temporary file renamed into place).
    pub fn export_to(&self, path: &Path, opts: ExportOptions) -> Result<usize> {
        let lines = self.export_lines(opts)?;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "export".into());
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
            for line in &lines {
                f.write_all(line.as_bytes())?;
                f.write_all(b"\n")?;
            }
            f.into_inner()
                .map_err(std::io::IntoInnerError::into_error)?
                .sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io(path, e)
        })?;
        Ok(lines.len())
    }

    /// Imports JSONL: upstream's export shape (one issue per line with its labels, edges and
    /// comments) or the `issues.jsonl` of its backup. Every line is parsed and checked before
    /// anything is written; then all of it goes in one transaction. Issues whose content hash
    /// matches are left alone, so importing the same file twice changes nothing.
    /// `source` names the input in I/O errors (a path, or `-` for standard input).
    pub fn import(
        &mut self,
        reader: impl BufRead,
        source: &Path,
        dry_run: bool,
    ) -> Result<ImportReport> {
        let started = std::time::Instant::now();
        let mut input = ImportInput::default();
        let text = read_text(reader, source, None)?;
        // A plain file has no config rows that could change the statuses and types allowed:
        // each record is checked against the store's settings as it is parsed, and kept
        // compactly if the store has no issues (the write takes the bulk path then).
        let empty: bool =
            self.conn()
                .query_row("SELECT NOT EXISTS (SELECT 1 FROM issues)", [], |r| r.get(0))?;
        let parse = if empty {
            Parse::Bulk(&self.settings)
        } else {
            Parse::Checked(&self.settings)
        };
        (input.lines, input.ignored_fields) = parse_lines(&numbered_lines(&text), None, parse)?;
        input.checked = true;
        free_in_background(text);
        tracing::debug!(ms = started.elapsed().as_millis(), "import: parsed");
        self.import_input(input, dry_run)
    }

    /// Imports upstream's backup: `issues.jsonl` and, beside it, `dependencies.jsonl`,
    /// `labels.jsonl`, `comments.jsonl`, `events.jsonl` and `config.jsonl` (one table each; a
    /// file that is missing is an empty table). `issues` is the backup's `issues.jsonl`.
    /// Rows of the relation tables that name an issue the backup's issues do not have
    /// (upstream keeps the edges of wisps it has deleted) are counted in the report, not
    /// written; everything else is written or refused with its file and line.
    pub fn import_backup(&mut self, issues: &Path, dry_run: bool) -> Result<ImportReport> {
        let input = crate::ops::backup::read(issues)?;
        self.import_input(input, dry_run)
    }

    fn import_input(&mut self, mut input: ImportInput, dry_run: bool) -> Result<ImportReport> {
        // Check statuses and types the way the CLI does, with the custom ones the import's
        // own config rows declare, then restore the store's settings whatever happens.
        let started = std::time::Instant::now();
        let saved = self.settings.clone();
        let checked = self.check_input(&mut input);
        tracing::debug!(ms = started.elapsed().as_millis(), "import: checked");
        self.settings = saved;
        let config = checked?;
        let report = ImportReport {
            lines: input.lines.len(),
            dry_run,
            orphans: input.orphans.clone(),
            ignored_fields: input.ignored_fields.clone(),
            ..ImportReport::default()
        };
        let empty: bool =
            self.conn()
                .query_row("SELECT NOT EXISTS (SELECT 1 FROM issues)", [], |r| r.get(0))?;
        // Into an empty store, everything written is new pages: a large import writes them
        // once, through a rollback journal, when no other process has the store open.
        let large = input.lines.len() >= ROLLBACK_JOURNAL_FROM;
        let write = move |store: &mut Self| -> Result<ImportReport> {
            let written = store.write_input(&input, &config, report, dry_run, started);
            free_in_background(input);
            written
        };
        let write = move |store: &mut Self| {
            if large {
                store.with_rollback_journal(write)
            } else {
                write(store)
            }
        };
        let result = if empty {
            // Every edge, label and comment an import writes names the issue of the record it
            // came with, written in the same transaction (a backup's rows for issues it lacks
            // are left out): the foreign keys hold by construction, and checking them costs an
            // index lookup per row. Off only for this write (outside a transaction, where
            // SQLite allows the switch), back on whatever it returns.
            self.conn().execute_batch("PRAGMA foreign_keys = OFF")?;
            let result = write(self);
            self.conn().execute_batch("PRAGMA foreign_keys = ON")?;
            result
        } else {
            write(self)
        };
        self.reload_settings()?;
        result
    }

    /// Writes what [`Store::import_input`] read and checked, in one transaction.
    fn write_input(
        &mut self,
        input: &ImportInput,
        config: &[(String, String)],
        mut report: ImportReport,
        dry_run: bool,
        started: std::time::Instant,
    ) -> Result<ImportReport> {
        let result = self.write(|tx, w| {
            let fresh: bool = tx.query_row("SELECT NOT EXISTS (SELECT 1 FROM issues)", [], |r| {
                r.get(0)
            })?;
            // The triggers that keep summaries and counts would run once per row written;
            // they are dropped for the import and put back, unchanged, before it commits.
            let triggers = crate::schema::Triggers::suspend(tx)?;
            for (key, value) in config {
                let old: Option<String> = tx
                    .prepare_cached("SELECT value FROM config WHERE key = ?1")?
                    .query_row([key], |r| r.get(0))
                    .optional()?;
                if old.as_deref() == Some(value.as_str()) {
                    report.config_unchanged += 1;
                } else {
                    tx.prepare_cached(
                        "INSERT INTO config (key, value) VALUES (?1, ?2)
                         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    )?
                    .execute([key, value])?;
                    report.config_set += 1;
                }
            }
            report.config_skipped = input.config_skipped.clone();
            for line in &input.lines {
                if let Line::Memory(key, value) = line {
                    tx.prepare_cached(
                        "INSERT INTO config (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    )?
                    .execute([crate::ops::config::memory_config_key(key), value.clone()])?;
                    report.memories += 1;
                }
            }
            // Each path takes the records in its own shape: compact for the bulk path, whole
            // for the one that compares with the store. A record in the other shape (a
            // backup's, or one parsed for the bulk path into a store that has had issues
            // written since) is converted.
            if fresh {
                let records: Vec<Cow<'_, BulkRecord>> =
                    input.lines.iter().filter_map(Line::as_bulk).collect();
                let records: Vec<&BulkRecord> = records.iter().map(AsRef::as_ref).collect();
                let indexes = crate::schema::Indexes::suspend(tx)?;
                fresh::insert_fresh(tx, w, &records, &mut report)?;
                tracing::debug!(ms = started.elapsed().as_millis(), "import: rows inserted");
                indexes.restore(tx)?;
            } else {
                let records: Vec<Cow<'_, Record>> =
                    input.lines.iter().filter_map(Line::as_whole).collect();
                let records: Vec<&Record> = records.iter().map(AsRef::as_ref).collect();
                // Before the records are written: their edges, with those already in the
                // store, must not close a cycle that `bd dep add` would refuse. (The bulk
                // path checks on a second thread while it writes.)
                cycles::refuse_cycles(
                    || records.iter().map(|r| r.issue.id.as_str()).collect(),
                    &cycles::record_edges(&records),
                    Some(tx),
                )?;
                tracing::debug!(ms = started.elapsed().as_millis(), "import: cycles");
                let mut touched: BTreeSet<&str> = BTreeSet::new();
                for rec in &records {
                    import_record(tx, w, rec, &mut report, &mut touched)?;
                }
                if report.created + report.updated > 0 {
                    tx.execute_batch(crate::schema::RECOUNT_ISSUE_COUNTS)?;
                }
                if !touched.is_empty() {
                    let ids = serde_json::to_string(&touched).expect("ids serialize");
                    tx.execute(REFRESH_SUMMARIES_OF, [ids])?;
                }
                if report.created + report.updated + report.labels_changed + report.dependencies_changed > 0 {
                    readiness::rebuild(tx, w.settings)?;
                }
            }
            tracing::debug!(ms = started.elapsed().as_millis(), "import: rows written");
            // Upstream's events are a multiset: the same event (issue, type, actor, values,
            // second) can be there twice. Each distinct one goes in as many times as the file
            // has it more than the store does, so a second import adds nothing.
            let mut distinct: BTreeMap<&UpstreamEvent, usize> = BTreeMap::new();
            for ev in &input.events {
                *distinct.entry(ev).or_default() += 1;
            }
            for (ev, copies) in distinct {
                let added = insert_upstream_event(tx, ev, copies)?;
                report.events_added += added;
                report.events_unchanged += copies - added;
            }
            triggers.restore(tx)?;
            tracing::debug!(ms = started.elapsed().as_millis(), "import: triggers back");
            if dry_run {
                return Err(Error::Conflict("dry run".into()));
            }
            Ok(())
        });
        tracing::debug!(ms = started.elapsed().as_millis(), "import: committed");
        match result {
            Ok(()) => {
                // A bulk import leaves a WAL as large as what it wrote. SQLite's automatic
                // checkpoint has copied it into the database, but every later process would
                // still read all of it to rebuild the WAL index when it opens the store
                // (35 ms a command at 100 000 issues): empty it now, once.
                self.conn()
                    .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
                Ok(report)
            }
            Err(Error::Conflict(msg)) if dry_run && msg == "dry run" => Ok(report),
            Err(e) => Err(e),
        }
    }

    /// Checks every record's status and type against the store's settings, with the custom
    /// statuses and types of the import's config rows added; returns the config rows to write.
    fn check_input(&mut self, input: &mut ImportInput) -> Result<Vec<(String, String)>> {
        for (line, key, value) in &input.config {
            let bad = |e: Error| Error::BadRow {
                file: "config.jsonl".into(),
                line: *line,
                reason: format!("`{key}`: {e}"),
            };
            match key.as_str() {
                "status.custom" => {
                    self.settings.custom_statuses =
                        crate::model::parse_custom_statuses(value).map_err(bad)?;
                }
                "types.custom" => {
                    crate::ops::config::validate_config(self, key, value).map_err(bad)?;
                    self.settings.custom_types = crate::model::parse_custom_types(value);
                }
                _ => {}
            }
        }
        if !input.checked {
            let settings = &self.settings;
            par_for_each(&mut input.lines, |line| match line {
                Line::Issue(rec) => check_record(settings, rec),
                Line::Bulk(_) | Line::Memory(..) => Ok(()),
            })?;
        }
        Ok(input
            .config
            .iter()
            .map(|(_, k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

/// The number of lines from which an import into an empty store leaves WAL mode for its
/// write ([`Store::with_rollback_journal`]). Leaving WAL mode and coming back are two small
/// transactions of their own with their fsyncs (some 40 ms of wall time on the benchmark's
/// shared disk), while writing every page once instead of twice saves about 2 ms of CPU per
/// 1 000 issues and more wall time the more is written (measured there: 50 ms more wall time
/// at 500 issues, even at 2 000 to 10 000, 100 ms less at 100 000).
pub const ROLLBACK_JOURNAL_FROM: usize = 5_000;

/// Recomputes the relation summaries of the issues whose ids are in the JSON array `?1`.
pub(super) const REFRESH_SUMMARIES_OF: &str = "UPDATE issues SET (cached_labels, cached_parent,
    cached_dependency_count, cached_dependent_count, cached_comment_count, cached_rare_fields) =
    (SELECT labels, parent, dependency_count, dependent_count, comment_count, rare_fields
     FROM relation_summaries r WHERE r.id = issues.id)
    WHERE id IN (SELECT value FROM json_each(?1))";

/// Everything an import reads, parsed and checked, before anything is written.
#[derive(Default)]
pub(crate) struct ImportInput {
    pub lines: Vec<Line>,
    /// Whether every record has been through [`check_record`] already (as it was parsed).
    pub checked: bool,
    /// `config.jsonl` rows to write: (line, key, value).
    pub config: Vec<(usize, String, String)>,
    /// Config keys of the backup that are not written, with why.
    pub config_skipped: Vec<String>,
    pub events: Vec<UpstreamEvent>,
    pub orphans: Orphans,
    pub ignored_fields: BTreeMap<String, usize>,
}

/// A row of upstream's `events` table, checked.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct UpstreamEvent {
    pub issue_id: String,
    pub event_type: String,
    pub actor: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub comment: Option<String>,
    pub created_at: String,
}

/// Writes `copies` of an upstream event less the number the store already has (same issue,
/// type, actor, values and time); returns how many were written.
fn insert_upstream_event(tx: &Connection, ev: &UpstreamEvent, copies: usize) -> Result<usize> {
    let params = rusqlite::params![
        ev.issue_id,
        ev.event_type,
        ev.actor,
        ev.old_value,
        ev.new_value,
        ev.comment,
        ev.created_at
    ];
    let stored: i64 = tx
        .prepare_cached(
            "SELECT count(*) FROM events WHERE issue_id = ?1 AND created_at = ?7 AND event_type = ?2
             AND actor = ?3 AND old_value IS ?4 AND new_value IS ?5 AND comment IS ?6",
        )?
        .query_row(params, |r| r.get(0))?;
    let missing = copies.saturating_sub(usize::try_from(stored).unwrap_or(usize::MAX));
    let mut insert = tx.prepare_cached(
        "INSERT INTO events (issue_id, event_type, actor, old_value, new_value, comment, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for _ in 0..missing {
        insert.execute(params)?;
    }
    Ok(missing)
}

/// Checks a record's status and type against `settings` (the type normalized on the way) and
/// computes its content hash.
fn check_record(settings: &Settings, rec: &mut Record) -> Result<()> {
    let named = |e: Error| record_err(rec.file.as_deref(), rec.line, &rec.issue.id, &e);
    settings.check_status(&rec.issue.status).map_err(named)?;
    rec.issue.issue_type = settings.check_type(&rec.issue.issue_type).map_err(named)?;
    rec.hash = content_hash_of(&mut rec.issue);
    Ok(())
}

/// What [`parse_lines`] makes of each issue line besides parsing it.
#[derive(Clone, Copy)]
pub(crate) enum Parse<'s> {
    /// Nothing: [`Store::import_input`] checks the records once the settings the input's own
    /// config rows make are known (a backup).
    Unchecked,
    /// Checks it with [`check_record`] on the thread that parsed it (one pass over the
    /// records instead of two).
    Checked(&'s Settings),
    /// Checks it, and keeps it as a [`BulkRecord`], for the bulk path.
    Bulk(&'s Settings),
}

/// Parses issue lines on all cores, in order; the first bad line (by position) is the error.
pub(crate) fn parse_lines(
    lines: &[(usize, &str)],
    file: Option<&str>,
    mode: Parse<'_>,
) -> Result<(Vec<Line>, BTreeMap<String, usize>)> {
    type Parsed = Option<Result<(Line, BTreeMap<String, usize>)>>;
    let mut parsed: Vec<Parsed> = lines.iter().map(|_| None).collect();
    let mut work: Vec<(&(usize, &str), &mut Parsed)> =
        lines.iter().zip(parsed.iter_mut()).collect();
    par_for_each(&mut work, |(line, out)| {
        let mut ignored = BTreeMap::new();
        let parsed = parse_line(line.1, line.0, file, &mut ignored).and_then(|l| match (mode, l) {
            (Parse::Checked(settings), Line::Issue(mut rec)) => {
                check_record(settings, &mut rec)?;
                Ok(Line::Issue(rec))
            }
            (Parse::Bulk(settings), Line::Issue(mut rec)) => {
                check_record(settings, &mut rec)?;
                Ok(Line::Bulk(Box::new(BulkRecord::new(*rec))))
            }
            (_, l) => Ok(l),
        });
        **out = Some(parsed.map(|l| (l, ignored)));
        Ok(())
    })?;
    let mut out = Vec::with_capacity(lines.len());
    let mut ignored: BTreeMap<String, usize> = BTreeMap::new();
    for p in parsed.into_iter().flatten() {
        let (line, fields) = p?;
        for (k, n) in fields {
            *ignored.entry(k).or_default() += n;
        }
        out.push(line);
    }
    Ok((out, ignored))
}

/// Runs `f` over `items` on up to four threads (one below a thousand items): parsing and
/// hashing thousands of lines is the part of an import that is not SQLite's. The error
/// returned is the first by position, as a loop would find it.
fn par_for_each<T: Send>(items: &mut [T], f: impl Fn(&mut T) -> Result<()> + Sync) -> Result<()> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(4);
    if threads < 2 || items.len() < 1000 {
        return items.iter_mut().try_for_each(&f);
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks_mut(chunk)
            .map(|part| scope.spawn(move || part.iter_mut().try_for_each(f)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect::<Result<Vec<()>>>()
            .map(drop)
    })
}

/// Reads the whole input as text, in one buffer (an import's lines are slices of it, not a
/// copy each); `file` names the input in errors of a backup. Text that is not UTF-8 is
/// refused with the line it breaks on.
pub(crate) fn read_text(
    mut reader: impl std::io::Read,
    source: &Path,
    file: Option<&str>,
) -> Result<String> {
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(source, e))?;
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        bad_row(
            file,
            line,
            format!("not valid UTF-8 text ({})", e.utf8_error()),
        )
    })
}

/// Frees `value` on a thread of its own. What an import has read (the file's text, its parsed
/// records: hundreds of thousands of allocations at 100 000 issues, some 80 ms to free) is
/// not read again once it is written, and the command need not wait for it: a process that
/// exits first hands the memory back at once. If no thread can be started, it is freed here.
fn free_in_background<T: Send + 'static>(value: T) {
    // A handle dropped detaches its thread; a spawn that fails drops `value` with its closure.
    drop(
        std::thread::Builder::new()
            .name("bd-import-free".into())
            .spawn(move || drop(value)),
    );
}

/// The non-blank lines of `text` with their numbers.
pub(crate) fn numbered_lines(text: &str) -> Vec<(usize, &str)> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| (n + 1, line))
        .collect()
}

/// A line error, naming the file when the import reads several.
pub(crate) fn bad_row(file: Option<&str>, line: usize, reason: String) -> Error {
    match file {
        Some(file) => Error::BadRow {
            file: file.to_owned(),
            line,
            reason,
        },
        None => Error::BadLine { line, reason },
    }
}

fn import_record<'a>(
    tx: &Connection,
    w: &WriteCtx<'_>,
    rec: &'a Record,
    report: &mut ImportReport,
    touched: &mut BTreeSet<&'a str>,
) -> Result<()> {
    let issue = &rec.issue;
    let hash = &rec.hash;
    let existing: Option<Option<String>> = tx
        .prepare_cached("SELECT content_hash FROM issues WHERE id = ?1")?
        .query_row([&issue.id], |r| r.get(0))
        .optional()?;
    match existing {
        Some(Some(h)) if &h == hash => report.unchanged += 1,
        Some(_) => {
            upsert_issue(tx, issue, hash).map_err(|e| row_err(rec, &e))?;
            event(tx, w, &issue.id, "imported", None, None, Some("updated"))?;
            report.updated += 1;
            touched.insert(&issue.id);
        }
        None => {
            upsert_issue(tx, issue, hash).map_err(|e| row_err(rec, &e))?;
            event(tx, w, &issue.id, "imported", None, None, Some("created"))?;
            report.created += 1;
            touched.insert(&issue.id);
        }
    }
    let current: BTreeSet<String> = labels_of(tx, &issue.id)?.into_iter().collect();
    for gone in current.difference(&rec.labels) {
        delete_label(tx, &issue.id, gone, w)?;
        report.labels_changed += 1;
        touched.insert(&issue.id);
    }
    for new in rec.labels.difference(&current) {
        insert_label(tx, &issue.id, new, w)?;
        report.labels_changed += 1;
        touched.insert(&issue.id);
    }
    let mut current: BTreeMap<String, Dependency> = BTreeMap::new();
    {
        let mut stmt = tx.prepare_cached(
            "SELECT issue_id, depends_on_id, type, created_at, created_by, metadata FROM dependencies WHERE issue_id = ?1",
        )?;
        for d in stmt.query_map([&issue.id], crate::ops::deps::dep_from_row)? {
            let d = d?;
            current.insert(d.depends_on_id.clone(), d);
        }
    }
    let wanted: BTreeMap<&str, &Dependency> = rec
        .deps
        .iter()
        .map(|d| (d.depends_on_id.as_str(), d))
        .collect();
    let mut removed = Vec::new();
    for target in current.keys() {
        if !wanted.contains_key(target.as_str()) {
            tx.prepare_cached(
                "DELETE FROM dependencies WHERE issue_id = ?1 AND depends_on_id = ?2",
            )?
            .execute([&issue.id, target])?;
            report.dependencies_changed += 1;
            removed.push(target.clone());
        }
    }
    if !removed.is_empty() {
        touched.insert(&issue.id);
        // A removed edge's target loses a dependent: its row is recounted too.
        let ids = serde_json::to_string(&removed).expect("ids serialize");
        tx.execute(REFRESH_SUMMARIES_OF, [ids])?;
    }
    for (target, dep) in &wanted {
        if current.get(*target) != Some(*dep) {
            tx.prepare_cached(
                "INSERT INTO dependencies (issue_id, depends_on_id, type, created_at, created_by, metadata) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (issue_id, depends_on_id) DO UPDATE SET type = excluded.type, created_at = excluded.created_at,
                 created_by = excluded.created_by, metadata = excluded.metadata",
            )?
            .execute([&dep.issue_id, &dep.depends_on_id, &dep.kind, &dep.created_at, &dep.created_by, &dep.metadata])
            .map_err(|e| row_err(rec, &e))?;
            report.dependencies_changed += 1;
            touched.insert(&issue.id);
            touched.insert(target);
        }
    }
    for c in &rec.comments {
        if insert_comment(tx, c)? {
            report.comments_added += 1;
            touched.insert(&issue.id);
        }
    }
    Ok(())
}

/// An error about a record, naming its file (in a backup), line and issue.
pub(super) fn row_err(rec: &Record, e: &dyn std::fmt::Display) -> Error {
    record_err(rec.file.as_deref(), rec.line, &rec.issue.id, e)
}

/// An error about the issue `id` of `line` (of `file`, in a backup).
pub(super) fn record_err(
    file: Option<&str>,
    line: usize,
    id: &str,
    e: &dyn std::fmt::Display,
) -> Error {
    bad_row(file, line, format!("`{id}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::{ImportInput, Parse, numbered_lines, parse_lines};
    use crate::store::Store;

    fn store() -> (tempfile::TempDir, Store) {
        crate::store::test_store("bd", "2026-01-01T00:00:00Z")
    }

    const FILE: &str = r#"{"id":"bd-a1","title":"Plain","created_at":"2025-01-01T00:00:00Z","labels":["b","a"],"dependencies":[{"depends_on_id":"bd-b2"},{"depends_on_id":"bd-c3","type":"related"},{"depends_on_id":"bd-b2","type":"parent-child"}]}
{"id":"bd-b2","title":"Rare","status":"closed","created_at":"2025-01-01T00:00:00Z","design":"d","metadata":"{\"points\": 3}","labels":["provides:x"],"comments":[{"id":"c-1","author":"ann","text":"hi","created_at":"2025-01-02T00:00:00Z"}]}
{"id":"bd-c3","title":"Waits","created_at":"2025-01-01T00:00:00Z","dependencies":[{"depends_on_id":"external:p:x"}]}
{"id":"bd-zz","title":"Already here","created_at":"2025-01-01T00:00:00Z"}"#;

    /// A file parsed for the bulk path (the store had no issues then) into a store that has
    /// had an issue written since goes in line by line, and leaves what a file parsed for
    /// that path leaves.
    #[test]
    fn records_parsed_for_the_bulk_path_go_in_line_by_line_when_the_store_has_issues_by_then() {
        let first = FILE.lines().last().unwrap();
        let (_d1, mut raced) = store();
        let mut input = ImportInput::default();
        (input.lines, input.ignored_fields) =
            parse_lines(&numbered_lines(FILE), None, Parse::Bulk(&raced.settings)).unwrap();
        input.checked = true;
        raced.import(first.as_bytes(), "-".as_ref(), false).unwrap();
        let report = raced.import_input(input, false).unwrap();
        let (_d2, mut plain) = store();
        plain.import(first.as_bytes(), "-".as_ref(), false).unwrap();
        let want = plain.import(FILE.as_bytes(), "-".as_ref(), false).unwrap();
        assert_eq!(report, want);
        assert_eq!((report.created, report.unchanged), (3, 1));
        for sql in [
            "SELECT * FROM issues ORDER BY id",
            "SELECT * FROM labels ORDER BY 1, 2",
            "SELECT * FROM dependencies ORDER BY 1, 2",
            "SELECT * FROM comments ORDER BY 1",
            "SELECT * FROM issue_counts ORDER BY 1, 2, 3",
        ] {
            assert_eq!(
                raced.sql(sql).unwrap().rows,
                plain.sql(sql).unwrap().rows,
                "{sql}"
            );
        }
    }
}
