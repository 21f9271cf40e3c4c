//! The `config` table: settings (`bd config`) and the key-value store (`bd kv`, keys `kv.*`).

use rusqlite::OptionalExtension;

use crate::error::{Error, Result};
use crate::ops::event;
use crate::store::{Store, WriteCtx};

const KV_PREFIX: &str = "kv.";

/// Where agent memories (`bd remember`, upstream's memory lines in JSONL) live in kv.
pub const MEMORY_PREFIX: &str = "memory.";

/// The config key a memory is stored under.
pub(crate) fn memory_config_key(key: &str) -> String {
    format!("{KV_PREFIX}{MEMORY_PREFIX}{key}")
}

/// Config keys with a meaning to the store, checked when set.
pub(crate) fn validate_config(store: &Store, key: &str, value: &str) -> Result<()> {
    match key {
        "issue_prefix" => crate::store::validate_prefix(value),
        "status.custom" => crate::model::parse_custom_statuses(value).map(drop),
        "types.custom" => crate::model::parse_custom_types(value)
            .iter()
            .try_for_each(|t| crate::model::validate_word("types.custom", t)),
        _ if key.starts_with(KV_PREFIX) => Err(Error::invalid(
            "key",
            format!("`{key}` is a kv key; use `bd kv set`"),
        )),
        _ => {
            let _ = store;
            let ok = !key.is_empty()
                && key.len() <= 255
                && !key.chars().any(|c| c.is_whitespace() || c.is_control());
            if ok {
                Ok(())
            } else {
                Err(Error::invalid(
                    "key",
                    format!("`{key}` must be 1-255 characters without spaces"),
                ))
            }
        }
    }
}

impl Store {
    /// A config value.
    pub fn config_get(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .prepare_cached("SELECT value FROM config WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    /// Sets a config value (validated for keys the store understands).
    pub fn config_set(&mut self, key: &str, value: &str) -> Result<()> {
        self.config_set_many(&[(key.to_owned(), value.to_owned())])
    }

    /// Sets several config values in one transaction: all are validated first, and either all
    /// are written or none.
    pub fn config_set_many(&mut self, pairs: &[(String, String)]) -> Result<()> {
        for (key, value) in pairs {
            validate_config(self, key, value)?;
        }
        self.put_all(pairs)?;
        self.reload_settings()
    }

    /// Removes a config value; returns whether it existed.
    pub fn config_unset(&mut self, key: &str) -> Result<bool> {
        if key.starts_with(KV_PREFIX) {
            return Err(Error::invalid(
                "key",
                format!("`{key}` is a kv key; use `bd kv clear`"),
            ));
        }
        let removed = self.remove(key)?;
        self.reload_settings()?;
        Ok(removed)
    }

    /// All config values except kv entries, sorted by key.
    pub fn config_list(&self) -> Result<Vec<(String, String)>> {
        self.pairs(
            "SELECT key, value FROM config WHERE key NOT LIKE 'kv.%' ORDER BY key",
            "",
        )
    }

    /// A kv value.
    pub fn kv_get(&self, key: &str) -> Result<Option<String>> {
        self.config_get(&format!("{KV_PREFIX}{key}"))
    }

    /// Sets a kv value.
    pub fn kv_set(&mut self, key: &str, value: &str) -> Result<()> {
        if key.is_empty() || key.chars().any(char::is_control) {
            return Err(Error::invalid(
                "key",
                "a kv key must be non-empty and printable",
            ));
        }
        self.put(&format!("{KV_PREFIX}{key}"), value)
    }

    /// Removes a kv value; returns whether it existed.
    pub fn kv_clear(&mut self, key: &str) -> Result<bool> {
        self.remove(&format!("{KV_PREFIX}{key}"))
    }

    /// All kv pairs (keys without the `kv.` prefix), sorted.
    pub fn kv_list(&self) -> Result<Vec<(String, String)>> {
        self.pairs("SELECT substr(key, 4), value FROM config WHERE key LIKE 'kv.%' AND key > ?1 ORDER BY key", "")
    }

    /// Agent memories: the kv pairs under [`MEMORY_PREFIX`], keys without it, sorted.
    pub fn memories(&self) -> Result<Vec<(String, String)>> {
        Ok(self
            .kv_list()?
            .into_iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(MEMORY_PREFIX)?.to_owned(), v)))
            .collect())
    }

    fn pairs(&self, sql: &str, arg: &str) -> Result<Vec<(String, String)>> {
        let mut stmt = self.conn().prepare(sql)?;
        let params: Vec<&str> = if sql.contains("?1") {
            vec![arg]
        } else {
            vec![]
        };
        let rows = stmt.query_map(rusqlite::params_from_iter(params), |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn put(&mut self, key: &str, value: &str) -> Result<()> {
        self.put_all(&[(key.to_owned(), value.to_owned())])
    }

    fn put_all(&mut self, pairs: &[(String, String)]) -> Result<()> {
        self.write(|tx, w| {
            for (key, value) in pairs {
                let old: Option<String> = tx
                    .query_row("SELECT value FROM config WHERE key = ?1", [key], |r| r.get(0))
                    .optional()?;
                tx.execute(
                    "INSERT INTO config (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    [key, value],
                )?;
                event(tx, w, "", "config_set", old.as_deref(), Some(value), Some(key))?;
                rebuild_if_statuses(tx, w, key, value)?;
            }
            Ok(())
        })
    }

    fn remove(&mut self, key: &str) -> Result<bool> {
        self.write(|tx, w| {
            let n = tx.execute("DELETE FROM config WHERE key = ?1", [key])?;
            if n > 0 {
                event(tx, w, "", "config_unset", None, None, Some(key))?;
                rebuild_if_statuses(tx, w, key, "")?;
            }
            Ok(n > 0)
        })
    }
}

/// Which custom statuses count as done decides what blocks, so a change to `status.custom`
/// recomputes every `is_blocked` flag under the new statuses, in the same transaction.
fn rebuild_if_statuses(
    tx: &rusqlite::Connection,
    w: &WriteCtx<'_>,
    key: &str,
    value: &str,
) -> Result<()> {
    if key == "status.custom" {
        let mut settings = w.settings.clone();
        settings.custom_statuses = crate::model::parse_custom_statuses(value)?;
        crate::readiness::rebuild(tx, &settings)?;
    }
    Ok(())
}
