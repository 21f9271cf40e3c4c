//! The scheduler's typed state (schema v11): sling contexts waiting for capacity, rate-limit
//! holds on provider accounts, and the accounts agents run as.
//!
//! A sling context is queued in one transaction that also answers its place in the queue, and
//! leaves its work bead untouched; every later change is a compare-and-set from `queued`, so a
//! context is dispatched, cleared or circuit-broken exactly once however many dispatchers race.

use rusqlite::{OptionalExtension, Row};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::ops::event;
use crate::store::Store;

/// A sling waiting for capacity, or what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduledSling {
    pub id: i64,
    pub bead_id: String,
    pub rig: String,
    /// The bead's priority when it was queued (0 is most urgent).
    pub priority: i64,
    /// The sling's options, as JSON (what `gt sling` was given).
    pub options: String,
    /// `queued`, `dispatched`, `cleared` or `circuit_broken`.
    pub state: String,
    pub failures: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub last_failure: String,
    pub enqueued_at: String,
    pub updated_at: String,
    /// Whether the bead waits on a blocker (its context cannot be dispatched yet).
    pub blocked: bool,
    /// The bead's status now (`missing` when it was deleted).
    pub bead_status: String,
}

const CONTEXT_COLUMNS: &str = "c.id, c.bead_id, c.rig, c.priority, c.options, c.state, c.failures,
    c.last_failure, c.enqueued_at, c.updated_at, COALESCE(i.is_blocked, 0), COALESCE(i.status, 'missing')";

fn context_from_row(r: &Row<'_>) -> rusqlite::Result<ScheduledSling> {
    Ok(ScheduledSling {
        id: r.get(0)?,
        bead_id: r.get(1)?,
        rig: r.get(2)?,
        priority: r.get(3)?,
        options: r.get(4)?,
        state: r.get(5)?,
        failures: r.get(6)?,
        last_failure: r.get(7)?,
        enqueued_at: r.get(8)?,
        updated_at: r.get(9)?,
        blocked: r.get::<_, i64>(10)? != 0,
        bead_status: r.get(11)?,
    })
}

/// The outcome of [`Store::enqueue_sling`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enqueued {
    pub id: i64,
    /// 1-based place among the queued contexts, in the order they were queued.
    pub position: i64,
    /// The bead was queued already (this is that context); nothing was written.
    pub existing: bool,
}

/// How a queued context ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextEnd {
    /// Its bead was slung.
    Dispatched,
    /// Taken out of the queue by hand, or its bead closed.
    Cleared,
    /// Dispatch failed too often.
    CircuitBroken,
}

impl ContextEnd {
    fn state(self) -> &'static str {
        match self {
            Self::Dispatched => "dispatched",
            Self::Cleared => "cleared",
            Self::CircuitBroken => "circuit_broken",
        }
    }
}

/// A provider account under a rate or usage limit until its window resets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RateHold {
    /// `<provider>/<account>`.
    pub account: String,
    pub provider: String,
    pub until: String,
    pub reason: String,
    /// Where it was seen (an agent's address).
    pub seen_in: String,
    pub created_at: String,
}

/// A provider account agents may run as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    pub provider: String,
    pub name: String,
    /// The CLI's configuration directory for this account (its login lives there).
    pub config_dir: String,
    pub is_default: bool,
    pub created_at: String,
}

impl Account {
    /// `<provider>/<name>`, how holds name it.
    pub fn key(&self) -> String {
        format!("{}/{}", self.provider, self.name)
    }
}

impl Store {
    /// Queues a sling of `bead` to `rig`, unless the bead is queued already (then that
    /// context is returned). One transaction: the row, its event and its position.
    pub fn enqueue_sling(&mut self, bead: &str, rig: &str, options: &str) -> Result<Enqueued> {
        self.write(|tx, w| {
            let existing: Option<i64> = tx
                .prepare_cached(
                    "SELECT id FROM sling_contexts WHERE bead_id = ?1 AND state = 'queued'",
                )?
                .query_row([bead], |r| r.get(0))
                .optional()?;
            let (id, existing) = match existing {
                Some(id) => (id, true),
                None => {
                    let priority: i64 = tx
                        .prepare_cached("SELECT priority FROM issues WHERE id = ?1")?
                        .query_row([bead], |r| r.get(0))
                        .optional()?
                        .ok_or_else(|| Error::NotFound { id: bead.into() })?;
                    tx.prepare_cached(
                        "INSERT INTO sling_contexts (bead_id, rig, priority, options, enqueued_at, updated_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                    )?
                    .execute(rusqlite::params![bead, rig, priority, options, w.now])?;
                    let id = tx.last_insert_rowid();
                    event(tx, w, bead, "sling_queued", None, Some(rig), None)?;
                    (id, false)
                }
            };
            let position: i64 = tx
                .prepare_cached(
                    "SELECT count(*) FROM sling_contexts WHERE state = 'queued' AND id <= ?1",
                )?
                .query_row([id], |r| r.get(0))?;
            Ok(Enqueued {
                id,
                position,
                existing,
            })
        })
    }

    /// Sling contexts in the order they were queued: the queued ones, or all with `all`.
    pub fn sling_contexts(&self, all: bool) -> Result<Vec<ScheduledSling>> {
        let sql = format!(
            "SELECT {CONTEXT_COLUMNS} FROM sling_contexts c LEFT JOIN issues i ON i.id = c.bead_id
             WHERE ?1 OR c.state = 'queued' ORDER BY c.id"
        );
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt.query_map([all], context_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The queued context of `bead`, if any.
    pub fn queued_context(&self, bead: &str) -> Result<Option<ScheduledSling>> {
        let sql = format!(
            "SELECT {CONTEXT_COLUMNS} FROM sling_contexts c LEFT JOIN issues i ON i.id = c.bead_id
             WHERE c.bead_id = ?1 AND c.state = 'queued'"
        );
        Ok(self
            .conn()
            .prepare_cached(&sql)?
            .query_row([bead], context_from_row)
            .optional()?)
    }

    /// Ends a queued context (compare-and-set from `queued`); whether it was still queued.
    pub fn end_context(&mut self, id: i64, end: ContextEnd, reason: &str) -> Result<bool> {
        self.write(|tx, w| {
            let bead: Option<String> = tx
                .prepare_cached(
                    "UPDATE sling_contexts SET state = ?2, last_failure = CASE WHEN ?3 = '' THEN last_failure ELSE ?3 END,
                        updated_at = ?4
                     WHERE id = ?1 AND state = 'queued' RETURNING bead_id",
                )?
                .query_row(rusqlite::params![id, end.state(), reason, w.now], |r| r.get(0))
                .optional()?;
            if let Some(bead) = &bead {
                let kind = format!("sling_{}", end.state());
                event(tx, w, bead, &kind, Some("queued"), Some(end.state()), Some(reason).filter(|r| !r.is_empty()))?;
            }
            Ok(bead.is_some())
        })
    }

    /// Records a failed dispatch of a queued context; at `limit` failures it is circuit-broken.
    /// Returns its failures, or `None` when it was no longer queued.
    pub fn context_failed(&mut self, id: i64, reason: &str, limit: i64) -> Result<Option<i64>> {
        self.write(|tx, w| {
            let row: Option<(String, i64)> = tx
                .prepare_cached(
                    "UPDATE sling_contexts SET failures = failures + 1, last_failure = ?2, updated_at = ?3,
                        state = CASE WHEN failures + 1 >= ?4 THEN 'circuit_broken' ELSE 'queued' END
                     WHERE id = ?1 AND state = 'queued' RETURNING bead_id, failures",
                )?
                .query_row(rusqlite::params![id, reason, w.now, limit], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            if let Some((bead, failures)) = &row {
                let kind = if *failures >= limit {
                    "sling_circuit_broken"
                } else {
                    "sling_dispatch_failed"
                };
                event(tx, w, bead, kind, None, Some(&failures.to_string()), Some(reason))?;
            }
            Ok(row.map(|(_, f)| f))
        })
    }

    /// Records (or extends) a rate-limit hold on `account` until `until`.
    pub fn set_hold(
        &mut self,
        account: &str,
        provider: &str,
        until: &str,
        reason: &str,
        seen_in: &str,
    ) -> Result<()> {
        self.write(|tx, w| {
            tx.prepare_cached(
                "INSERT INTO rate_holds (account, provider, until, reason, seen_in, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (account) DO UPDATE SET until = max(until, ?3), reason = ?4, seen_in = ?5",
            )?
            .execute(rusqlite::params![account, provider, until, reason, seen_in, w.now])?;
            event(tx, w, account, "rate_limited", None, Some(until), Some(reason))?;
            Ok(())
        })
    }

    /// Every hold, soonest reset first (expired ones included until cleared).
    pub fn holds(&self) -> Result<Vec<RateHold>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT account, provider, until, reason, seen_in, created_at FROM rate_holds ORDER BY until, account",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(RateHold {
                account: r.get(0)?,
                provider: r.get(1)?,
                until: r.get(2)?,
                reason: r.get(3)?,
                seen_in: r.get(4)?,
                created_at: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Removes the holds whose window ended by `now` (an RFC 3339 instant in the store's
    /// format; the caller's clock), or every hold of `account`; returns the accounts released.
    pub fn release_holds(&mut self, account: Option<&str>, now: &str) -> Result<Vec<String>> {
        self.write(|tx, w| {
            let released: Vec<String> = tx
                .prepare_cached(
                    "DELETE FROM rate_holds WHERE (?1 IS NULL AND until <= ?2) OR account = ?1
                     RETURNING account",
                )?
                .query_map(rusqlite::params![account, now], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for a in &released {
                event(tx, w, a, "rate_released", None, None, None)?;
            }
            Ok(released)
        })
    }

    /// Adds a provider account; the first of a provider becomes its default.
    pub fn add_account(&mut self, provider: &str, name: &str, config_dir: &str) -> Result<Account> {
        self.write(|tx, w| {
            let has_default: bool = tx
                .prepare_cached(
                    "SELECT count(*) > 0 FROM accounts WHERE provider = ?1 AND is_default = 1",
                )?
                .query_row([provider], |r| r.get(0))?;
            let n = tx
                .prepare_cached(
                    "INSERT INTO accounts (provider, name, config_dir, is_default, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                )?
                .execute(rusqlite::params![
                    provider,
                    name,
                    config_dir,
                    !has_default,
                    w.now
                ])?;
            if n == 0 {
                return Err(Error::invalid(
                    "account",
                    format!("account `{provider}/{name}` exists already"),
                ));
            }
            event(
                tx,
                w,
                &format!("{provider}/{name}"),
                "account_added",
                None,
                Some(config_dir),
                None,
            )?;
            Ok(Account {
                provider: provider.to_owned(),
                name: name.to_owned(),
                config_dir: config_dir.to_owned(),
                is_default: !has_default,
                created_at: w.now.to_owned(),
            })
        })
    }

    /// Accounts by provider, the default first.
    pub fn accounts(&self) -> Result<Vec<Account>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT provider, name, config_dir, is_default, created_at FROM accounts
             ORDER BY provider, is_default DESC, name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Account {
                provider: r.get(0)?,
                name: r.get(1)?,
                config_dir: r.get(2)?,
                is_default: r.get(3)?,
                created_at: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Makes `provider/name` the provider's default account.
    pub fn set_default_account(&mut self, provider: &str, name: &str) -> Result<()> {
        self.write(|tx, w| {
            let exists: bool = tx
                .prepare_cached(
                    "SELECT count(*) > 0 FROM accounts WHERE provider = ?1 AND name = ?2",
                )?
                .query_row([provider, name], |r| r.get(0))?;
            if !exists {
                return Err(Error::NotFound {
                    id: format!("{provider}/{name}"),
                });
            }
            tx.prepare_cached(
                "UPDATE accounts SET is_default = 0 WHERE provider = ?1 AND is_default = 1",
            )?
            .execute([provider])?;
            tx.prepare_cached(
                "UPDATE accounts SET is_default = 1 WHERE provider = ?1 AND name = ?2",
            )?
            .execute([provider, name])?;
            event(
                tx,
                w,
                &format!("{provider}/{name}"),
                "account_default",
                None,
                None,
                None,
            )?;
            Ok(())
        })
    }

    /// Records which account the agent at `address` started with.
    pub fn assign_account(&mut self, address: &str, provider: &str, account: &str) -> Result<()> {
        self.write(|tx, w| {
            tx.prepare_cached(
                "INSERT INTO account_assignments (address, provider, account, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (address) DO UPDATE SET provider = ?2, account = ?3, updated_at = ?4",
            )?
            .execute([address, provider, account, w.now])?;
            Ok(())
        })
    }

    /// The account the agent at `address` last started with: `(provider, account)`.
    pub fn assigned_account(&self, address: &str) -> Result<Option<(String, String)>> {
        Ok(self
            .conn()
            .prepare_cached("SELECT provider, account FROM account_assignments WHERE address = ?1")?
            .query_row([address], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    /// Whether the issue waits on an open blocker (its materialized readiness).
    pub fn is_blocked(&self, id: &str) -> Result<bool> {
        self.conn()
            .prepare_cached("SELECT is_blocked FROM issues WHERE id = ?1")?
            .query_row([id], |r| r.get::<_, i64>(0))
            .optional()?
            .map(|b| b != 0)
            .ok_or_else(|| Error::NotFound { id: id.to_owned() })
    }
}
