//! The nudge queue of one session: files under `<town>/.runtime/nudge_queue/<session>/`.
//!
//! One JSON file per nudge (upstream's fields), named `<nanoseconds>-<pid>-<n>.json` so names
//! sort by arrival; they are read urgent first, then by age (see [`Queue::pending`]). Written
//! through a temporary file and a rename, so a reader never sees half an entry. A drain claims entries by renaming each to `<name>.claimed-<unix seconds>` (only
//! one claimant can win a rename) and removes them once the caller has used them
//! ([`Claim::done`]); a claimant that died leaves claimed files, which return to the queue
//! after [`CLAIM_TIMEOUT`]. An entry past `expires_at` is set aside as `<name>.expired` until
//! the daemon records its expiry in the town's event stream and then removes it
//! ([`Queue::take_expired`]). An entry's name without its extension is its key in the event
//! stream ([`Enqueued::entry`]); a queue holds at most [`MAX_DEPTH`] entries, pending and claimed. Writers and claimants take the queue's flock,
//! so the depth limit holds under concurrent `gt nudge` calls.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{NudgeError, Priority};
use crate::layout::Town;

/// How many entries one session's queue may hold.
pub const MAX_DEPTH: usize = 50;
/// How long a claimed entry may stay claimed before it counts as orphaned and returns.
pub const CLAIM_TIMEOUT: Duration = Duration::from_secs(5 * 60);
const ENTRY_EXT: &str = ".json";
const CLAIMED: &str = ".claimed-";
const EXPIRED: &str = ".expired";
const LOCK_FILE: &str = ".lock";

/// A queued nudge as stored (upstream's JSON fields, plus the target's address, which the
/// daemon needs for do-not-disturb).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedNudge {
    pub sender: String,
    pub message: String,
    pub priority: Priority,
    /// Always `nudge` for entries this module writes.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// When it was queued (RFC 3339).
    pub timestamp: Timestamp,
    /// When it is dropped undelivered.
    pub expires_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliver_after: Option<Timestamp>,
    /// The canonical address it was sent to.
    #[serde(default)]
    pub target: String,
}

impl QueuedNudge {
    /// A new entry from `sender` to `target`, queued at `now`, expiring after its
    /// priority's time to live.
    pub fn new(
        sender: &str,
        target: &str,
        message: &str,
        priority: Priority,
        now: Timestamp,
    ) -> Self {
        let ttl =
            jiff::SignedDuration::try_from(priority.ttl()).unwrap_or(jiff::SignedDuration::MAX);
        Self {
            sender: sender.to_owned(),
            message: message.to_owned(),
            priority,
            kind: "nudge".to_owned(),
            thread_id: None,
            severity: None,
            timestamp: now,
            expires_at: now.saturating_add(ttl).unwrap_or(now),
            deliver_after: None,
            target: target.to_owned(),
        }
    }
}

/// One session's queue.
#[derive(Debug, Clone)]
pub struct Queue {
    dir: PathBuf,
    session: String,
}

/// Entries taken out of the queue by one drain: removed by [`Claim::done`], put back by
/// [`Claim::release`]; left claimed (they return after [`CLAIM_TIMEOUT`]) if neither runs.
#[derive(Debug)]
pub struct Claim {
    session: String,
    entries: Vec<QueuedNudge>,
    files: Vec<(PathBuf, PathBuf)>,
}

impl Claim {
    /// A claim of nothing (a queue that has nothing to give now).
    pub(crate) fn empty(session: &str) -> Self {
        Self {
            session: session.to_owned(),
            entries: Vec::new(),
            files: Vec::new(),
        }
    }

    /// The claimed nudges, urgent first, then oldest first.
    pub fn entries(&self) -> &[QueuedNudge] {
        &self.entries
    }

    /// The claimed nudges with their entry names (as [`Queue::enqueue`] returned them), in
    /// [`Claim::entries`]'s order: the key that records each nudge's events once.
    pub fn named(&self) -> Vec<(&str, &QueuedNudge)> {
        self.files
            .iter()
            .map(|(_, pending)| entry_name(pending))
            .zip(&self.entries)
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The nudges were used: remove them.
    pub fn done(self) -> Result<(), NudgeError> {
        for (claimed, _) in &self.files {
            match std::fs::remove_file(claimed) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(io(claimed, source)),
            }
        }
        Ok(())
    }

    /// The session whose queue they came from.
    pub fn session(&self) -> &str {
        &self.session
    }

    /// The nudges could not be used: back into the queue, for the next drain.
    pub fn release(self) -> Result<(), NudgeError> {
        for (claimed, pending) in &self.files {
            std::fs::rename(claimed, pending).map_err(|source| io(claimed, source))?;
        }
        Ok(())
    }
}

/// A nudge just queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enqueued {
    /// Its entry's name: the key its events are recorded once by.
    pub entry: String,
    /// Entries in the queue, this one included.
    pub depth: usize,
}

/// The name of the entry whose pending or expired file is `path` (the file name without
/// `.json` and `.expired`).
fn entry_name(path: &Path) -> &str {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let name = name.strip_suffix(EXPIRED).unwrap_or(name);
    name.strip_suffix(ENTRY_EXT).unwrap_or(name)
}

/// The file's state, from its name.
enum Kind {
    Pending,
    Claimed { at_secs: i64, stem: String },
    Expired,
}

fn kind(name: &str) -> Option<Kind> {
    if name.starts_with('.') {
        return None;
    }
    if name.ends_with(EXPIRED) {
        return Some(Kind::Expired);
    }
    if let Some(stem) = name.strip_suffix(ENTRY_EXT) {
        return (!stem.contains(CLAIMED)).then_some(Kind::Pending);
    }
    let (stem, secs) = name.rsplit_once(CLAIMED)?;
    Some(Kind::Claimed {
        at_secs: secs.parse().ok()?,
        stem: stem.to_owned(),
    })
}

impl Queue {
    /// The queue of `session` (a session name: letters, digits, `-`, `_`).
    pub fn new(town: &Town, session: &str) -> Result<Self, NudgeError> {
        crate::runtime::check_session_name(session).map_err(|_| NudgeError::InvalidSession {
            session: session.to_owned(),
        })?;
        Ok(Self {
            dir: queues_dir(town).join(session),
            session: session.to_owned(),
        })
    }

    /// The sessions that have a queue directory (possibly empty).
    pub fn sessions(town: &Town) -> Result<Vec<String>, NudgeError> {
        let dir = queues_dir(town);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(io(&dir, source)),
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| crate::runtime::check_session_name(n).is_ok())
            .collect();
        names.sort();
        Ok(names)
    }

    pub fn session(&self) -> &str {
        &self.session
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Adds `nudge`; [`NudgeError::QueueFull`] when the queue holds [`MAX_DEPTH`] entries.
    /// Returns the entry's name, unique in the town, and how many entries the queue holds
    /// with it.
    pub fn enqueue(&self, nudge: &QueuedNudge, now: Timestamp) -> Result<Enqueued, NudgeError> {
        let _lock = self.lock()?;
        let depth = self.sweep(now)?.len() + self.claimed_count()?;
        if depth >= MAX_DEPTH {
            return Err(NudgeError::QueueFull {
                session: self.session.clone(),
                depth: MAX_DEPTH,
            });
        }
        static SEQ: AtomicU32 = AtomicU32::new(0);
        // Padded: names sort by arrival, and within one instant by this process's count
        // (`-10` must not sort before `-9`).
        let name = format!(
            "{:020}-{}-{:010}{ENTRY_EXT}",
            now.as_nanosecond().max(0),
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let text = serde_json::to_vec_pretty(nudge).expect("a nudge serializes");
        let path = self.dir.join(name);
        crate::files::write_atomic(&path, &text)?;
        Ok(Enqueued {
            entry: entry_name(&path).to_owned(),
            depth: depth + 1,
        })
    }

    /// The pending (unclaimed, unexpired) entries: urgent ones first, then by age, so an
    /// urgent nudge leads the text an agent receives and is never the one cut short.
    pub fn pending(&self, now: Timestamp) -> Result<Vec<QueuedNudge>, NudgeError> {
        if !self.dir.exists() {
            return Ok(Vec::new());
        }
        let _lock = self.lock()?;
        Ok(self.sweep(now)?.into_iter().map(|(_, n)| n).collect())
    }

    /// Whether the queue holds a nudge that is waiting or claimed, from one look at its
    /// directory without taking its lock: most turns of an agent end with nothing queued, and
    /// its hook then has nothing more to open. (A nudge queued right after the look waits for
    /// the next turn, as one queued right after a drain does.) A directory that cannot be
    /// read counts as holding something, so the full drain reports why.
    pub fn has_waiting(&self) -> bool {
        match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries.filter_map(Result::ok).any(|e| {
                e.file_name()
                    .to_str()
                    .and_then(kind)
                    .is_some_and(|k| matches!(k, Kind::Pending | Kind::Claimed { .. }))
            }),
            Err(e) => e.kind() != std::io::ErrorKind::NotFound,
        }
    }

    /// Claims every pending entry, in [`Queue::pending`]'s order (see [`Claim`]).
    pub fn claim(&self, now: Timestamp) -> Result<Claim, NudgeError> {
        let mut claim = Claim::empty(&self.session);
        if !self.dir.exists() {
            return Ok(claim);
        }
        let _lock = self.lock()?;
        for (path, nudge) in self.sweep(now)? {
            let claimed =
                self.dir
                    .join(format!("{}{CLAIMED}{}", entry_name(&path), now.as_second()));
            match std::fs::rename(&path, &claimed) {
                Ok(()) => {
                    claim.entries.push(nudge);
                    claim.files.push((claimed, path));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(io(&path, source)),
            }
        }
        Ok(claim)
    }

    /// Holds every pending entry back until `until` (its agent's rate-limit window): each
    /// keeps at least its whole time to live after it, so a nudge deferred is not lost to the
    /// wait. Returns how many entries wait.
    pub fn defer(&self, until: Timestamp, now: Timestamp) -> Result<usize, NudgeError> {
        if !self.dir.exists() {
            return Ok(0);
        }
        let _lock = self.lock()?;
        let pending = self.sweep(now)?;
        for (path, nudge) in &pending {
            let ttl = jiff::SignedDuration::try_from(nudge.priority.ttl())
                .unwrap_or(jiff::SignedDuration::MAX);
            let after = until.saturating_add(ttl).unwrap_or(until);
            if nudge.expires_at < after {
                let held = QueuedNudge {
                    expires_at: after,
                    ..nudge.clone()
                };
                let text = serde_json::to_vec_pretty(&held).expect("a nudge serializes");
                crate::files::write_atomic(path, &text)?;
            }
        }
        Ok(pending.len())
    }

    /// Hands the entries that expired undelivered, oldest first and each with its entry name,
    /// to `record` (the daemon's drain, which holds the town's store), then removes them. Only
    /// once recorded: a kill in between leaves them for the next call, which records them
    /// again (the record is written once per entry). Returns how many there were.
    pub fn take_expired(
        &self,
        record: impl FnOnce(&[(&str, &QueuedNudge)]),
    ) -> Result<usize, NudgeError> {
        if !self.dir.exists() {
            return Ok(0);
        }
        let _lock = self.lock()?;
        let mut expired = Vec::new();
        for name in self.names()? {
            if !matches!(kind(&name), Some(Kind::Expired)) {
                continue;
            }
            let path = self.dir.join(&name);
            match std::fs::read(&path).map(|bytes| serde_json::from_slice::<QueuedNudge>(&bytes)) {
                Ok(Ok(nudge)) => expired.push((path, nudge)),
                Ok(Err(_)) => {
                    tracing::warn!(session = %self.session, entry = %name, "dropping an unreadable expired nudge");
                    remove(&path)?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(io(&path, source)),
            }
        }
        let named: Vec<(&str, &QueuedNudge)> = expired
            .iter()
            .map(|(path, nudge)| (entry_name(path), nudge))
            .collect();
        record(&named);
        for (path, _) in &expired {
            remove(path)?;
        }
        Ok(expired.len())
    }

    fn lock(&self) -> Result<host::lock::LockGuard, NudgeError> {
        std::fs::create_dir_all(&self.dir).map_err(|source| io(&self.dir, source))?;
        let path = self.dir.join(LOCK_FILE);
        host::lock::lock_timeout(&path, Duration::from_secs(10)).map_err(|source| {
            NudgeError::Lock {
                session: self.session.clone(),
                source,
            }
        })
    }

    fn names(&self) -> Result<Vec<String>, NudgeError> {
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .map_err(|source| io(&self.dir, source))?
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        Ok(names)
    }

    fn claimed_count(&self) -> Result<usize, NudgeError> {
        Ok(self
            .names()?
            .iter()
            .filter(|n| matches!(kind(n), Some(Kind::Claimed { .. })))
            .count())
    }

    /// Under the lock: returns orphaned claims to the queue, sets expired entries aside, drops
    /// unreadable ones, and lists the pending ones, urgent first, then oldest first.
    fn sweep(&self, now: Timestamp) -> Result<Vec<(PathBuf, QueuedNudge)>, NudgeError> {
        let timeout = i64::try_from(CLAIM_TIMEOUT.as_secs()).unwrap_or(i64::MAX);
        for name in self.names()? {
            if let Some(Kind::Claimed { at_secs, stem }) = kind(&name)
                && now.as_second().saturating_sub(at_secs) >= timeout
            {
                tracing::info!(session = %self.session, entry = %stem, "an orphaned claim returns to the nudge queue");
                let from = self.dir.join(&name);
                std::fs::rename(&from, self.dir.join(format!("{stem}{ENTRY_EXT}")))
                    .map_err(|source| io(&from, source))?;
            }
        }
        let mut pending = Vec::new();
        for name in self.names()? {
            if !matches!(kind(&name), Some(Kind::Pending)) {
                continue;
            }
            let path = self.dir.join(&name);
            let parsed = std::fs::read(&path)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<QueuedNudge>(&bytes).ok());
            match parsed {
                Some(nudge) if nudge.expires_at > now => pending.push((path, nudge)),
                Some(_) => {
                    tracing::info!(session = %self.session, entry = %name, "a queued nudge expired undelivered");
                    let aside = self.dir.join(format!("{name}{EXPIRED}"));
                    std::fs::rename(&path, &aside).map_err(|source| io(&path, source))?;
                }
                None => {
                    tracing::warn!(session = %self.session, entry = %name, "dropping an unreadable queued nudge");
                    remove(&path)?;
                }
            }
        }
        // Names sort by arrival; a stable sort on urgency keeps that order within each tier.
        pending.sort_by_key(|(_, nudge)| nudge.priority != Priority::Urgent);
        Ok(pending)
    }
}

/// `<town>/.runtime/nudge_queue`.
pub fn queues_dir(town: &Town) -> PathBuf {
    town.runtime_dir().join("nudge_queue")
}

fn remove(path: &Path) -> Result<(), NudgeError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(io(path, source)),
    }
}

fn io(path: &Path, source: std::io::Error) -> NudgeError {
    NudgeError::Io {
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn setup() -> (tempfile::TempDir, Queue) {
        let dir = tempfile::tempdir().unwrap();
        let queue = Queue::new(&Town::at(dir.path()), "gt-nux").unwrap();
        (dir, queue)
    }

    fn nudge(text: &str, priority: Priority, now: Timestamp) -> QueuedNudge {
        QueuedNudge::new("mayor/", "gastown/polecats/nux", text, priority, now)
    }

    /// What a hook's first look sees: nothing before the first nudge and after the last is
    /// done (only the lock file is left), something while one waits or is claimed.
    #[test]
    fn a_queue_has_waiting_nudges_while_one_is_queued_or_claimed() {
        let (_d, q) = setup();
        assert!(!q.has_waiting(), "no directory yet");
        q.enqueue(&nudge("one", Priority::Normal, at(0)), at(0))
            .unwrap();
        assert!(q.has_waiting());
        let claim = q.claim(at(1)).unwrap();
        assert!(q.has_waiting(), "claimed, not yet delivered");
        claim.done().unwrap();
        assert!(!q.has_waiting(), "the lock file is not a nudge");
    }

    #[test]
    fn entries_come_back_in_order_and_go_only_when_done() {
        let (_d, q) = setup();
        let mut names = Vec::new();
        for (i, text) in ["one", "two\nlines", "three"].iter().enumerate() {
            let queued = q
                .enqueue(&nudge(text, Priority::Normal, at(i as i64)), at(i as i64))
                .unwrap();
            assert_eq!(queued.depth, i + 1);
            names.push(queued.entry);
        }
        let claim = q.claim(at(10)).unwrap();
        let texts: Vec<&str> = claim.entries().iter().map(|n| n.message.as_str()).collect();
        assert_eq!(texts, ["one", "two\nlines", "three"]);
        // Each claimed nudge goes with the name its queueing returned.
        let claimed: Vec<(&str, &str)> = claim
            .named()
            .into_iter()
            .map(|(name, n)| (name, n.message.as_str()))
            .collect();
        let want: Vec<(&str, &str)> = names
            .iter()
            .map(String::as_str)
            .zip(["one", "two\nlines", "three"])
            .collect();
        assert_eq!(claimed, want);
        // Claimed: not pending, not claimable twice.
        assert!(q.pending(at(11)).unwrap().is_empty());
        assert!(q.claim(at(11)).unwrap().is_empty());
        claim.release().unwrap();
        assert_eq!(q.pending(at(12)).unwrap().len(), 3);
        q.claim(at(13)).unwrap().done().unwrap();
        assert!(q.pending(at(14)).unwrap().is_empty());
        assert_eq!(q.names().unwrap(), [LOCK_FILE]);
    }

    #[test]
    fn urgent_entries_drain_first_then_by_age() {
        let (_d, q) = setup();
        let queued = [
            ("normal, oldest", Priority::Normal),
            ("urgent, older", Priority::Urgent),
            ("normal, newer", Priority::Normal),
            ("urgent, newest", Priority::Urgent),
        ];
        for (i, (text, priority)) in queued.iter().enumerate() {
            let t = at(i as i64);
            q.enqueue(&nudge(text, *priority, t), t).unwrap();
        }
        let order = [
            "urgent, older",
            "urgent, newest",
            "normal, oldest",
            "normal, newer",
        ];
        let pending: Vec<String> = q
            .pending(at(10))
            .unwrap()
            .into_iter()
            .map(|n| n.message)
            .collect();
        assert_eq!(pending, order);
        let claim = q.claim(at(11)).unwrap();
        let claimed: Vec<&str> = claim.entries().iter().map(|n| n.message.as_str()).collect();
        assert_eq!(claimed, order);
    }

    #[test]
    fn the_stored_json_has_upstreams_fields() {
        let (_d, q) = setup();
        q.enqueue(&nudge("hi", Priority::Urgent, at(0)), at(0))
            .unwrap();
        let name = q
            .names()
            .unwrap()
            .into_iter()
            .find(|n| n.ends_with(".json"))
            .unwrap();
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(q.dir().join(name)).unwrap()).unwrap();
        for key in [
            "sender",
            "message",
            "priority",
            "kind",
            "timestamp",
            "expires_at",
        ] {
            assert!(v.get(key).is_some(), "{key}: {v}");
        }
        assert_eq!(v["priority"], "urgent");
        assert_eq!(v["kind"], "nudge");
    }

    #[test]
    fn entries_expire_after_their_ttl() {
        let (_d, q) = setup();
        let names: Vec<String> = [("normal", Priority::Normal), ("urgent", Priority::Urgent)]
            .into_iter()
            .map(|(text, priority)| {
                q.enqueue(&nudge(text, priority, at(0)), at(0))
                    .unwrap()
                    .entry
            })
            .collect();
        assert_eq!(q.pending(at(29 * 60)).unwrap().len(), 2);
        let left = q.pending(at(31 * 60)).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].message, "urgent");
        assert!(q.pending(at(2 * 3600 + 1)).unwrap().is_empty());
        // Set aside for the daemon to record, oldest first, under the names their queueing
        // returned; not counted in the depth.
        let mut expired = Vec::new();
        let taken = q
            .take_expired(|named| {
                expired = named
                    .iter()
                    .map(|(name, n)| (name.to_string(), n.message.clone()))
                    .collect();
            })
            .unwrap();
        assert_eq!(taken, 2);
        let want: Vec<(String, String)> = names
            .into_iter()
            .zip(["normal".to_owned(), "urgent".to_owned()])
            .collect();
        assert_eq!(expired, want);
        assert_eq!(
            q.take_expired(|named| assert!(named.is_empty())).unwrap(),
            0
        );
        assert_eq!(q.names().unwrap(), [LOCK_FILE]);
    }

    #[test]
    fn a_deferred_entry_keeps_its_whole_ttl_after_the_window() {
        let (_d, q) = setup();
        q.enqueue(&nudge("normal", Priority::Normal, at(0)), at(0))
            .unwrap();
        // Held for an hour at minute 10: it waits, and lives 30 minutes past the hour.
        assert_eq!(q.defer(at(3600), at(600)).unwrap(), 1);
        assert_eq!(q.pending(at(3600 + 29 * 60)).unwrap().len(), 1);
        assert!(q.pending(at(3600 + 31 * 60)).unwrap().is_empty());
        // An entry that expired before the hold is not brought back.
        let (_d, q) = setup();
        q.enqueue(&nudge("old", Priority::Normal, at(0)), at(0))
            .unwrap();
        q.enqueue(&nudge("new", Priority::Normal, at(20 * 60)), at(20 * 60))
            .unwrap();
        assert_eq!(q.defer(at(3 * 3600), at(31 * 60)).unwrap(), 1);
        let left: Vec<String> = q
            .pending(at(3 * 3600))
            .unwrap()
            .into_iter()
            .map(|n| n.message)
            .collect();
        assert_eq!(left, ["new"]);
    }

    #[test]
    fn expired_entries_do_not_count_toward_the_depth() {
        let (_d, q) = setup();
        for i in 0..MAX_DEPTH {
            q.enqueue(&nudge(&format!("n{i}"), Priority::Normal, at(0)), at(0))
                .unwrap();
        }
        let later = at(31 * 60);
        assert_eq!(
            q.enqueue(&nudge("fresh", Priority::Normal, later), later)
                .unwrap()
                .depth,
            1
        );
        assert_eq!(q.take_expired(|_| {}).unwrap(), MAX_DEPTH);
    }

    #[test]
    fn the_depth_limit_refuses_the_fifty_first() {
        let (_d, q) = setup();
        for i in 0..MAX_DEPTH {
            q.enqueue(&nudge(&format!("n{i}"), Priority::Normal, at(0)), at(0))
                .unwrap();
        }
        // Claimed entries count too.
        let claim = q.claim(at(1)).unwrap();
        let err = q
            .enqueue(&nudge("one too many", Priority::Normal, at(1)), at(1))
            .unwrap_err();
        assert!(
            matches!(err, NudgeError::QueueFull { depth: 50, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("`gt-nux`"), "{err}");
        claim.done().unwrap();
        q.enqueue(&nudge("fits now", Priority::Normal, at(2)), at(2))
            .unwrap();
    }

    #[test]
    fn a_claim_left_by_a_dead_drainer_returns_after_five_minutes() {
        let (_d, q) = setup();
        q.enqueue(&nudge("lost?", Priority::Normal, at(0)), at(0))
            .unwrap();
        let claim = q.claim(at(10)).unwrap();
        assert_eq!(claim.entries().len(), 1);
        drop(claim);
        assert!(q.pending(at(10 + 299)).unwrap().is_empty());
        let back = q.pending(at(10 + 300)).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].message, "lost?");
    }

    #[test]
    fn unreadable_entries_and_bad_sessions() {
        let (_d, q) = setup();
        q.enqueue(&nudge("good", Priority::Normal, at(0)), at(0))
            .unwrap();
        std::fs::write(q.dir().join("00000000000000000001-1-0.json"), "{not json").unwrap();
        let pending = q.pending(at(1)).unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].message, "good");
        let town = Town::at("/nonexistent");
        for bad in ["", "../x", "a/b", "a b"] {
            assert!(matches!(
                Queue::new(&town, bad),
                Err(NudgeError::InvalidSession { .. })
            ));
        }
    }
}
