//! What agent sessions cost (schema v9): one `cost_sessions` row per agent CLI session with
//! its attribution (agent, role, rig, bead, convoy) and one `cost_usage` row per model with
//! its token totals. The totals come from re-reading the session's whole transcript, so
//! recording a session again replaces them: a session counts once however often it is
//! recorded. Each change is one transaction with a `cost_recorded` event under
//! `agent:<address>`; a recording that changes nothing writes nothing.

use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::ops::event;
use crate::ops::sessions::session_key;
use crate::store::{Store, normalize_ts};

/// Which agent CLI wrote the transcript a session's totals come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CostSource {
    /// Claude Code (`~/.claude/projects/…/<session>.jsonl`).
    Claude,
    /// Codex CLI (`~/.codex/sessions/YYYY/MM/DD/rollout-….jsonl`).
    Codex,
    /// Gemini CLI (`~/.gemini/tmp/<project>/chats/session-….jsonl`).
    Gemini,
}

impl CostSource {
    /// The word stored in `cost_sessions.source`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Claude => "claude",
            Self::Codex => "codex",
            Self::Gemini => "gemini",
        }
    }

    fn parse(word: &str) -> Option<Self> {
        match word {
            "claude" => Some(Self::Claude),
            "codex" => Some(Self::Codex),
            "gemini" => Some(Self::Gemini),
            _ => None,
        }
    }
}

impl rusqlite::types::FromSql for CostSource {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let word = value.as_str()?;
        Self::parse(word).ok_or_else(|| {
            rusqlite::types::FromSqlError::Other(format!("unknown cost source `{word}`").into())
        })
    }
}

/// Token totals. Input excludes cache traffic: the four are disjoint, as Claude's API counts
/// them (a Codex reading is converted to this shape).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
    /// Tokens written to the prompt cache.
    pub cache_write: u64,
    /// Tokens read from the prompt cache.
    pub cache_read: u64,
}

impl Tokens {
    /// Every token, whatever its kind.
    pub fn total(&self) -> u64 {
        self.input
            .saturating_add(self.output)
            .saturating_add(self.cache_write)
            .saturating_add(self.cache_read)
    }

    /// Adds `other` in place (saturating: a sum never wraps).
    pub fn add(&mut self, other: &Tokens) {
        self.input = self.input.saturating_add(other.input);
        self.output = self.output.saturating_add(other.output);
        self.cache_write = self.cache_write.saturating_add(other.cache_write);
        self.cache_read = self.cache_read.saturating_add(other.cache_read);
    }
}

/// One model's totals within a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelTokens {
    pub model: String,
    pub tokens: Tokens,
}

/// A session's reading, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSessionCost<'a> {
    pub source: CostSource,
    /// The agent CLI's own session id.
    pub session_id: &'a str,
    /// The agent's address (`gastown/polecats/nux`, `mayor/`).
    pub address: &'a str,
    /// `polecat`, `mayor`, `crew` or `overseer`.
    pub role: &'a str,
    /// Empty outside a rig.
    pub rig: &'a str,
    /// The bead the agent worked on (empty: none). An empty bead keeps the one recorded
    /// before: a session read again after its polecat went idle stays its bead's.
    pub bead: &'a str,
    /// The bead's convoy (empty: none), kept with the bead.
    pub convoy: &'a str,
    /// The transcript read.
    pub transcript: &'a str,
    /// The first and last activity the transcript shows (RFC 3339).
    pub started_at: &'a str,
    pub ended_at: &'a str,
    /// Per model; models with no tokens are left out.
    pub usage: &'a [ModelTokens],
}

/// What recording found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// New totals or attribution were written.
    Written,
    /// The store already held exactly this reading.
    Unchanged,
}

/// One session's usage of one model, with its attribution: what `gt costs` sums.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CostRow {
    pub source: CostSource,
    pub session_id: String,
    pub address: String,
    pub role: String,
    pub rig: String,
    pub bead: String,
    pub convoy: String,
    pub started_at: String,
    pub ended_at: String,
    pub model: String,
    pub tokens: Tokens,
}

const ROW_COLUMNS: &str = "s.source, s.session_id, s.address, s.role, s.rig, s.bead, s.convoy, \
     s.started_at, s.ended_at, u.model, u.input_tokens, u.output_tokens, u.cache_write_tokens, \
     u.cache_read_tokens";

fn count(r: &Row<'_>, i: usize) -> rusqlite::Result<u64> {
    let n: i64 = r.get(i)?;
    // The schema's CHECKs keep counts non-negative.
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The four counts stored from column `at` on, in `cost_usage`'s order.
fn tokens_at(r: &Row<'_>, at: usize) -> rusqlite::Result<Tokens> {
    Ok(Tokens {
        input: count(r, at)?,
        output: count(r, at + 1)?,
        cache_write: count(r, at + 2)?,
        cache_read: count(r, at + 3)?,
    })
}

fn row_from(r: &Row<'_>) -> rusqlite::Result<CostRow> {
    Ok(CostRow {
        source: r.get(0)?,
        session_id: r.get(1)?,
        address: r.get(2)?,
        role: r.get(3)?,
        rig: r.get(4)?,
        bead: r.get(5)?,
        convoy: r.get(6)?,
        started_at: r.get(7)?,
        ended_at: r.get(8)?,
        model: r.get(9)?,
        tokens: tokens_at(r, 10)?,
    })
}

fn stored(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A text field of a reading: what agent CLIs and hooks hand over is not trusted.
fn check_text(field: &'static str, value: &str, required: bool) -> Result<()> {
    if required && value.trim().is_empty() {
        return Err(Error::invalid(field, "is empty"));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(
            field,
            format!("`{}` contains control characters", value.escape_debug()),
        ));
    }
    Ok(())
}

fn check(cost: &NewSessionCost<'_>) -> Result<()> {
    check_text("session_id", cost.session_id, true)?;
    check_text("address", cost.address, true)?;
    check_text("role", cost.role, true)?;
    check_text("rig", cost.rig, false)?;
    check_text("bead", cost.bead, false)?;
    check_text("convoy", cost.convoy, false)?;
    check_text("transcript", cost.transcript, false)?;
    let mut models: Vec<&str> = Vec::with_capacity(cost.usage.len());
    for m in cost.usage {
        check_text("model", &m.model, true)?;
        if models.contains(&m.model.as_str()) {
            return Err(Error::invalid(
                "model",
                format!("`{}` is listed twice for one session", m.model),
            ));
        }
        models.push(&m.model);
    }
    Ok(())
}

/// The stored attribution and usage of one session, to compare a new reading with.
struct Existing {
    bead: String,
    convoy: String,
    started_at: String,
    ended_at: String,
    usage: Vec<ModelTokens>,
}

fn existing(tx: &rusqlite::Connection, source: CostSource, id: &str) -> Result<Option<Existing>> {
    let head = tx
        .prepare_cached(
            "SELECT bead, convoy, started_at, ended_at
             FROM cost_sessions WHERE source = ?1 AND session_id = ?2",
        )?
        .query_row(params![source.as_str(), id], |r| {
            Ok(Existing {
                bead: r.get(0)?,
                convoy: r.get(1)?,
                started_at: r.get(2)?,
                ended_at: r.get(3)?,
                usage: Vec::new(),
            })
        })
        .optional()?;
    let Some(mut head) = head else {
        return Ok(None);
    };
    let mut stmt = tx.prepare_cached(
        "SELECT model, input_tokens, output_tokens, cache_write_tokens, cache_read_tokens
         FROM cost_usage WHERE source = ?1 AND session_id = ?2 ORDER BY model",
    )?;
    head.usage = stmt
        .query_map(params![source.as_str(), id], |r| {
            Ok(ModelTokens {
                model: r.get(0)?,
                tokens: tokens_at(r, 1)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some(head))
}

impl Store {
    /// Records a session's reading, replacing any earlier one of the same session: its
    /// attribution (an empty bead keeps the bead and convoy recorded before) and its usage per
    /// model. Writes nothing when the store already holds these totals and times.
    pub fn record_session_cost(&mut self, cost: &NewSessionCost<'_>) -> Result<Recorded> {
        check(cost)?;
        let started_at = normalize_ts(cost.started_at)?;
        let ended_at = normalize_ts(cost.ended_at)?;
        let mut usage: Vec<ModelTokens> = cost
            .usage
            .iter()
            .filter(|m| m.tokens.total() > 0)
            .cloned()
            .collect();
        usage.sort_by(|a, b| a.model.cmp(&b.model));
        self.write(|tx, w| {
            let before = existing(tx, cost.source, cost.session_id)?;
            let (bead, convoy) = match &before {
                Some(b) if cost.bead.is_empty() => (b.bead.clone(), b.convoy.clone()),
                _ => (cost.bead.to_owned(), cost.convoy.to_owned()),
            };
            // A reading that shows nothing new (a finished session read again, perhaps after
            // its agent moved on to other work) changes nothing, attribution included: a
            // session belongs to the work it was doing when its totals last grew.
            if let Some(b) = &before
                && b.started_at == started_at
                && b.ended_at == ended_at
                && b.usage == usage
            {
                return Ok(Recorded::Unchanged);
            }
            tx.prepare_cached(
                "INSERT INTO cost_sessions (source, session_id, address, role, rig, bead, convoy,
                     transcript, started_at, ended_at, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (source, session_id) DO UPDATE SET address = excluded.address,
                     role = excluded.role, rig = excluded.rig, bead = excluded.bead,
                     convoy = excluded.convoy, transcript = excluded.transcript,
                     started_at = excluded.started_at, ended_at = excluded.ended_at,
                     recorded_at = excluded.recorded_at",
            )?
            .execute(params![
                cost.source.as_str(),
                cost.session_id,
                cost.address,
                cost.role,
                cost.rig,
                bead,
                convoy,
                cost.transcript,
                started_at,
                ended_at,
                w.now
            ])?;
            tx.prepare_cached("DELETE FROM cost_usage WHERE source = ?1 AND session_id = ?2")?
                .execute(params![cost.source.as_str(), cost.session_id])?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO cost_usage (source, session_id, model, input_tokens, output_tokens,
                     cache_write_tokens, cache_read_tokens) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            let mut total = Tokens::default();
            for m in &usage {
                insert.execute(params![
                    cost.source.as_str(),
                    cost.session_id,
                    m.model,
                    stored(m.tokens.input),
                    stored(m.tokens.output),
                    stored(m.tokens.cache_write),
                    stored(m.tokens.cache_read)
                ])?;
                total.add(&m.tokens);
            }
            let value = serde_json::json!({
                "source": cost.source,
                "session_id": cost.session_id,
                "bead": bead,
                "tokens": total,
            })
            .to_string();
            event(
                tx,
                w,
                &session_key(cost.address),
                "cost_recorded",
                None,
                Some(&value),
                None,
            )?;
            Ok(Recorded::Written)
        })
    }

    /// Every session's usage per model, of the sessions whose last activity is at or after
    /// `since` (RFC 3339; `None`: all), oldest first.
    pub fn session_costs(&self, since: Option<&str>) -> Result<Vec<CostRow>> {
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM cost_sessions s
             JOIN cost_usage u ON u.source = s.source AND u.session_id = s.session_id
             WHERE s.ended_at >= ?1
             ORDER BY s.ended_at, s.source, s.session_id, u.model"
        );
        let since = since.map(normalize_ts).transpose()?.unwrap_or_default();
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt.query_map([since], row_from)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
