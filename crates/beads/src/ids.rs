//! Issue ids: `prefix-hash` with an adaptive hash length, `parent.N` children, and resolution
//! of what a user types (full, without prefix, or a unique partial id).

use rusqlite::{Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Shortest hash (upstream's docs promise 4; its code drifted to 3).
pub const MIN_HASH_LEN: usize = 4;
/// Longest hash.
pub const MAX_HASH_LEN: usize = 8;
/// Acceptable probability that a new id collides with an existing one (birthday bound).
pub const MAX_COLLISION_PROB: f64 = 0.25;
/// Nonces tried per length before the length grows.
const NONCES_PER_LENGTH: u32 = 10;
/// Deepest `parent.N.M…` nesting.
pub const MAX_DEPTH: usize = 3;

/// The shortest hash length whose collision probability for `n` existing ids stays under the
/// bound: `1 - exp(-n² / (2·36^L)) ≤ p`.
pub fn adaptive_length(n: u64) -> usize {
    let n = n as f64;
    (MIN_HASH_LEN..=MAX_HASH_LEN)
        .find(|&len| {
            let space = 36f64.powi(len as i32);
            1.0 - (-(n * n) / (2.0 * space)).exp() <= MAX_COLLISION_PROB
        })
        .unwrap_or(MAX_HASH_LEN)
}

/// The hash part of an id: SHA-256 of the inputs, its first bytes read as a big-endian integer
/// and written in base 36, keeping the `len` least significant digits.
pub fn hash_part(
    title: &str,
    description: &str,
    creator: &str,
    created_nanos: i128,
    nonce: u32,
    len: usize,
) -> String {
    let mut h = Sha256::new();
    h.update(format!(
        "{title}|{description}|{creator}|{created_nanos}|{nonce}"
    ));
    let digest = h.finalize();
    let bytes = match len {
        0..=3 => 2,
        4 => 3,
        5 | 6 => 4,
        _ => 5,
    };
    let mut value: u64 = digest[..bytes]
        .iter()
        .fold(0, |acc, b| (acc << 8) | u64::from(*b));
    let mut digits = vec![b'0'; len];
    for slot in digits.iter_mut().rev() {
        let d = (value % 36) as u8;
        *slot = if d < 10 { b'0' + d } else { b'a' + d - 10 };
        value /= 36;
    }
    String::from_utf8(digits).expect("base36 digits are ASCII")
}

/// Mints a new top-level id for `prefix` that does not exist yet.
pub fn mint(
    conn: &Connection,
    prefix: &str,
    title: &str,
    description: &str,
    creator: &str,
    created_nanos: i128,
) -> Result<String> {
    // The schema's triggers keep each prefix's issue count (`issue_counts`): a few rows to
    // add up, where counting the prefix's ids would read all of them.
    let n: u64 = conn
        .prepare_cached("SELECT coalesce(sum(n), 0) FROM issue_counts WHERE prefix = ?1")?
        .query_row([prefix], |r| r.get::<_, i64>(0))?
        .max(0)
        .unsigned_abs();
    let mut exists = conn.prepare_cached("SELECT 1 FROM issues WHERE id = ?1")?;
    for len in adaptive_length(n)..=MAX_HASH_LEN {
        for nonce in 0..NONCES_PER_LENGTH {
            let id = format!(
                "{prefix}-{}",
                hash_part(title, description, creator, created_nanos, nonce, len)
            );
            if exists.query_row([&id], |_| Ok(())).optional()?.is_none() {
                return Ok(id);
            }
        }
    }
    Err(Error::Conflict(format!(
        "could not find a free id for prefix `{prefix}`"
    )))
}

/// The next child id `parent.N`, advancing the parent's counter past any existing child.
pub fn next_child(conn: &Connection, parent: &str) -> Result<String> {
    if parent.matches('.').count() >= MAX_DEPTH {
        return Err(Error::invalid(
            "parent",
            format!("`{parent}` is already {MAX_DEPTH} levels deep"),
        ));
    }
    let counter: i64 = conn
        .prepare_cached("SELECT last_child FROM child_counters WHERE parent_id = ?1")?
        .query_row([parent], |r| r.get(0))
        .optional()?
        .unwrap_or(0);
    let prefix = format!("{parent}.");
    let mut max_existing = 0i64;
    let mut stmt = conn.prepare_cached("SELECT id FROM issues WHERE id > ?1 AND id < ?2")?;
    let upper = format!("{parent}/");
    let rows = stmt.query_map([&prefix, &upper], |r| r.get::<_, String>(0))?;
    for id in rows {
        let id = id?;
        if let Some(n) = id
            .strip_prefix(&prefix)
            .and_then(|rest| rest.parse::<i64>().ok())
        {
            max_existing = max_existing.max(n);
        }
    }
    let next = counter.max(max_existing) + 1;
    conn.prepare_cached(
        "INSERT INTO child_counters (parent_id, last_child) VALUES (?1, ?2)
         ON CONFLICT (parent_id) DO UPDATE SET last_child = excluded.last_child",
    )?
    .execute(rusqlite::params![parent, next])?;
    Ok(format!("{parent}.{next}"))
}

/// Resolves user input to one existing id: exact, then with the default prefix, then a unique
/// id starting with the input (with or without prefix), then a unique hash containing it.
pub fn resolve(conn: &Connection, prefix: &str, input: &str) -> Result<String> {
    let input = input.trim();
    if input.is_empty() {
        return Err(Error::invalid("id", "an issue id is required"));
    }
    let mut exact = conn.prepare_cached("SELECT id FROM issues WHERE id = ?1")?;
    if let Some(id) = exact
        .query_row([input], |r| r.get::<_, String>(0))
        .optional()?
    {
        return Ok(id);
    }
    let prefixed = format!("{prefix}-{input}");
    if let Some(id) = exact
        .query_row([&prefixed], |r| r.get::<_, String>(0))
        .optional()?
    {
        return Ok(id);
    }
    let mut patterns = vec![
        format!("{}%", escape_like(input)),
        format!("{}%", escape_like(&prefixed)),
    ];
    if input.len() >= 3 && !input.contains('-') {
        // A fragment of the hash part, anywhere after the prefix.
        patterns.push(format!("%-%{}%", escape_like(input)));
    }
    for pattern in patterns {
        let mut found = matching(conn, &pattern)?;
        match found.len() {
            0 => {}
            1 => return Ok(found.remove(0)),
            _ => {
                return Err(Error::Ambiguous {
                    input: input.to_owned(),
                    candidates: found,
                });
            }
        }
    }
    Err(Error::NotFound {
        id: input.to_owned(),
    })
}

fn matching(conn: &Connection, pattern: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM issues WHERE id LIKE ?1 ESCAPE '\\' ORDER BY id LIMIT 11",
    )?;
    let ids = stmt
        .query_map([pattern], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ids)
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `ESCAPE '\'`.
pub fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Checks an explicitly given id (`--id`, imports): `prefix-rest`, printable, no spaces.
pub fn validate_explicit(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 255
        && id.contains('-')
        && !id.starts_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "id",
            format!("`{id}` must look like `prefix-abc` (letters, digits, `-`, `.`, `_`)"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adaptive_length_grows_with_the_store() {
        assert_eq!(adaptive_length(0), 4);
        assert_eq!(adaptive_length(500), 4);
        assert_eq!(adaptive_length(1_500), 5);
        assert_eq!(adaptive_length(10_000), 6);
        assert_eq!(adaptive_length(u64::MAX), 8);
    }

    #[test]
    fn hash_part_is_base36_of_the_requested_length_and_deterministic() {
        for len in 4..=8 {
            let h = hash_part("t", "d", "me", 42, 0, len);
            assert_eq!(h.len(), len);
            assert!(
                h.bytes()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
            );
            assert_eq!(h, hash_part("t", "d", "me", 42, 0, len));
        }
        assert_ne!(
            hash_part("t", "d", "me", 42, 0, 6),
            hash_part("t", "d", "me", 42, 1, 6)
        );
    }

    #[test]
    fn explicit_ids_are_checked() {
        assert!(validate_explicit("bd-a3f8.1").is_ok());
        assert!(validate_explicit("nohyphen").is_err());
        assert!(validate_explicit("bd-$(rm)").is_err());
        assert!(validate_explicit("bd-a b").is_err());
    }
}
