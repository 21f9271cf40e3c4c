//! The SQLite schema and its migrations.
//!
//! Table and column names follow upstream beads (`issues`, `dependencies`, `labels`,
//! `comments`, `events`, `config`) so `bd sql` users and upstream exports carry over.
//! Differences, on purpose: wisps live in `issues` flagged `ephemeral` (a `wisps` view keeps
//! upstream queries working); a dependency has one `depends_on_id` column, which may name an
//! `external:<project>:<capability>` target; vestigial agent columns are gone.

use rusqlite_migration::{M, Migrations};

/// SQL that recomputes every issue's `cached_*` summaries from the `relation_summaries` view.
macro_rules! refresh_all_summaries {
    () => {
        "UPDATE issues SET (cached_labels, cached_parent, cached_dependency_count,
            cached_dependent_count, cached_comment_count, cached_rare_fields) =
            (SELECT labels, parent, dependency_count, dependent_count, comment_count, rare_fields
             FROM relation_summaries r WHERE r.id = issues.id)"
    };
}

/// SQL that recomputes the `cached_*` summaries of the issues whose ids are `$ids` (a
/// comma-separated list of SQL expressions).
macro_rules! refresh_summaries {
    ($ids:literal) => {
        concat!(refresh_all_summaries!(), " WHERE id IN (", $ids, ")")
    };
}

/// Recomputes every issue's relation summaries: after raw SQL, and for `bd doctor --fix`.
pub(crate) const REFRESH_ALL_SUMMARIES: &str = refresh_all_summaries!();

/// The triggers that keep derived rows and columns (relation summaries, issue counts), taken
/// out for a bulk write that computes what they would and put back from their own SQL before
/// it commits. Even doing nothing (paused), a trigger costs every row it fires for several
/// microseconds; an import of thousands of rows is faster without them. Schema changes are
/// transactional: if the write fails, they come back with its rollback.
pub(crate) struct Triggers(Vec<String>);

impl Triggers {
    pub(crate) fn suspend(tx: &rusqlite::Connection) -> rusqlite::Result<Self> {
        let list: Vec<(String, String)> = tx
            .prepare(
                "SELECT name, sql FROM sqlite_schema WHERE type = 'trigger'
                 AND (name LIKE 'relation\\_summaries\\_%' ESCAPE '\\' OR name LIKE 'issue\\_counts\\_%' ESCAPE '\\')
                 ORDER BY name",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (name, _) in &list {
            tx.execute_batch(&format!("DROP TRIGGER \"{name}\""))?;
        }
        Ok(Self(list.into_iter().map(|(_, sql)| sql).collect()))
    }

    pub(crate) fn restore(self, tx: &rusqlite::Connection) -> rusqlite::Result<()> {
        for sql in self.0 {
            tx.execute_batch(&sql)?;
        }
        Ok(())
    }
}

/// The secondary indexes of the tables an import fills, dropped while it writes into an empty
/// store and built again from their own SQL before it commits: building an index from the
/// finished table sorts once, where keeping it up to date costs a B-tree insert per row. Like
/// [`Triggers`], undone by a rollback. Left in place: the indexes of `events` and `comments`,
/// which an import (writing issue by issue in id order) only appends to, and the partial
/// indexes that hold few issues (a rebuild would read every row to find them).
pub(crate) struct Indexes(Vec<String>);

impl Indexes {
    pub(crate) fn suspend(tx: &rusqlite::Connection) -> rusqlite::Result<Self> {
        let list: Vec<(String, String)> = tx
            .prepare(
                "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL
                 AND tbl_name IN ('issues', 'labels', 'dependencies')
                 AND name NOT IN ('idx_issues_defer', 'idx_issues_external_ref')
                 ORDER BY name",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (name, _) in &list {
            tx.execute_batch(&format!("DROP INDEX \"{name}\""))?;
        }
        Ok(Self(list.into_iter().map(|(_, sql)| sql).collect()))
    }

    pub(crate) fn restore(self, tx: &rusqlite::Connection) -> rusqlite::Result<()> {
        for sql in self.0 {
            tx.execute_batch(&sql)?;
        }
        Ok(())
    }
}

/// Issues whose stored relation summaries differ from a recount.
pub(crate) const STALE_SUMMARIES: &str =
    "SELECT i.id FROM issues i JOIN relation_summaries r ON r.id = i.id
    WHERE i.cached_labels IS NOT r.labels OR i.cached_parent IS NOT r.parent
       OR i.cached_dependency_count IS NOT r.dependency_count
       OR i.cached_dependent_count IS NOT r.dependent_count
       OR i.cached_comment_count IS NOT r.comment_count
       OR i.cached_rare_fields IS NOT r.rare_fields
    ORDER BY i.id";

const V1: &str = r"
CREATE TABLE issues (
    id TEXT PRIMARY KEY,
    content_hash TEXT,
    title TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
    description TEXT NOT NULL DEFAULT '',
    design TEXT NOT NULL DEFAULT '',
    acceptance_criteria TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'open',
    priority INTEGER NOT NULL DEFAULT 2 CHECK (priority BETWEEN 0 AND 4),
    issue_type TEXT NOT NULL DEFAULT 'task',
    assignee TEXT NOT NULL DEFAULT '',
    owner TEXT NOT NULL DEFAULT '',
    estimated_minutes INTEGER,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL,
    started_at TEXT,
    closed_at TEXT,
    close_reason TEXT NOT NULL DEFAULT '',
    closed_by_session TEXT NOT NULL DEFAULT '',
    due_at TEXT,
    defer_until TEXT,
    external_ref TEXT NOT NULL DEFAULT '',
    source_system TEXT NOT NULL DEFAULT '',
    spec_id TEXT NOT NULL DEFAULT '',
    metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    sender TEXT NOT NULL DEFAULT '',
    ephemeral INTEGER NOT NULL DEFAULT 0,
    no_history INTEGER NOT NULL DEFAULT 0,
    wisp_type TEXT NOT NULL DEFAULT '',
    pinned INTEGER NOT NULL DEFAULT 0,
    is_template INTEGER NOT NULL DEFAULT 0,
    mol_type TEXT NOT NULL DEFAULT '',
    work_type TEXT NOT NULL DEFAULT '',
    await_type TEXT NOT NULL DEFAULT '',
    await_id TEXT NOT NULL DEFAULT '',
    timeout_ns INTEGER NOT NULL DEFAULT 0,
    waiters TEXT NOT NULL DEFAULT '',
    event_kind TEXT NOT NULL DEFAULT '',
    actor TEXT NOT NULL DEFAULT '',
    target TEXT NOT NULL DEFAULT '',
    payload TEXT NOT NULL DEFAULT '',
    source_formula TEXT NOT NULL DEFAULT '',
    source_location TEXT NOT NULL DEFAULT '',
    deleted_at TEXT,
    deleted_by TEXT NOT NULL DEFAULT '',
    delete_reason TEXT NOT NULL DEFAULT '',
    original_type TEXT NOT NULL DEFAULT '',
    is_blocked INTEGER NOT NULL DEFAULT 0,
    CHECK (status = 'tombstone' OR (status = 'closed') = (closed_at IS NOT NULL)),
    CHECK (NOT (ephemeral = 1 AND no_history = 1))
);
CREATE INDEX idx_issues_ready ON issues (status, is_blocked, priority, created_at);
CREATE INDEX idx_issues_assignee ON issues (assignee);
CREATE INDEX idx_issues_type ON issues (issue_type);
CREATE INDEX idx_issues_created ON issues (created_at);
CREATE INDEX idx_issues_defer ON issues (defer_until) WHERE defer_until IS NOT NULL;
CREATE INDEX idx_issues_external_ref ON issues (external_ref) WHERE external_ref != '';

CREATE TABLE dependencies (
    issue_id TEXT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    depends_on_id TEXT NOT NULL,
    type TEXT NOT NULL DEFAULT 'blocks',
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL DEFAULT '',
    metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    thread_id TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (issue_id, depends_on_id)
) WITHOUT ROWID;
CREATE INDEX idx_deps_target ON dependencies (depends_on_id, type);
CREATE INDEX idx_deps_type ON dependencies (type, depends_on_id);

CREATE TABLE labels (
    issue_id TEXT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    PRIMARY KEY (issue_id, label)
) WITHOUT ROWID;
CREATE INDEX idx_labels_label ON labels (label);

CREATE TABLE comments (
    id TEXT PRIMARY KEY,
    issue_id TEXT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    author TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX idx_comments_issue ON comments (issue_id, created_at);

CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    issue_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    actor TEXT NOT NULL DEFAULT '',
    old_value TEXT,
    new_value TEXT,
    comment TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX idx_events_issue ON events (issue_id, id);

CREATE TABLE config (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE metadata (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE child_counters (parent_id TEXT PRIMARY KEY, last_child INTEGER NOT NULL DEFAULT 0)
    WITHOUT ROWID;

CREATE VIEW wisps AS SELECT * FROM issues WHERE ephemeral = 1;
CREATE VIEW ready_issues AS
    SELECT * FROM issues
    WHERE status = 'open' AND is_blocked = 0 AND pinned = 0 AND ephemeral = 0;
CREATE VIEW blocked_issues AS SELECT * FROM issues WHERE is_blocked = 1;
";

/// Indexes whose order is the default sort (`priority, created_at DESC, id`), so `ready` and
/// `list --status …` read rows in order and stop at the limit instead of sorting the table.
const V2: &str = r"
DROP INDEX idx_issues_ready;
CREATE INDEX idx_issues_ready ON issues (status, is_blocked, priority, created_at DESC, id);
CREATE INDEX idx_issues_list ON issues (status, priority, created_at DESC, id);
";

/// Typed state of the work loop: polecats, merge requests, respawn counts, resumable command
/// checkpoints and convoy landings. Gas Town keeps these as rows, not `key: value` lines.
const V3: &str = r"
CREATE TABLE polecats (
    rig TEXT NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('spawning', 'working', 'idle', 'stuck', 'nuked')),
    generation INTEGER NOT NULL DEFAULT 0,
    bead_id TEXT NOT NULL DEFAULT '',
    branch TEXT NOT NULL DEFAULT '',
    worktree TEXT NOT NULL DEFAULT '',
    session TEXT NOT NULL DEFAULT '',
    agent TEXT NOT NULL DEFAULT '',
    runtime TEXT NOT NULL DEFAULT '',
    pid INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (rig, name)
) WITHOUT ROWID;

CREATE TABLE merge_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rig TEXT NOT NULL,
    bead_id TEXT NOT NULL,
    branch TEXT NOT NULL,
    sha TEXT NOT NULL,
    target TEXT NOT NULL,
    polecat TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL CHECK (state IN ('queued', 'testing', 'merged', 'conflict', 'failed', 'superseded', 'rejected')),
    priority INTEGER NOT NULL DEFAULT 2,
    retries INTEGER NOT NULL DEFAULT 0,
    merged_sha TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (branch, sha)
);
CREATE INDEX idx_mr_state ON merge_requests (rig, state);
CREATE INDEX idx_mr_bead ON merge_requests (bead_id);

CREATE TABLE respawns (bead_id TEXT PRIMARY KEY, count INTEGER NOT NULL) WITHOUT ROWID;

CREATE TABLE checkpoints (
    scope TEXT NOT NULL,
    step TEXT NOT NULL,
    value TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    PRIMARY KEY (scope, step)
) WITHOUT ROWID;

CREATE TABLE convoy_landings (convoy_id TEXT PRIMARY KEY, landed_at TEXT NOT NULL) WITHOUT ROWID;
";

/// One row per refinery pass, for `gt mq stats` and the batch size (failure rate).
const V4: &str = r"
CREATE TABLE refinery_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rig TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    batch_size INTEGER NOT NULL,
    landed INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    conflicted INTEGER NOT NULL,
    gate_runs INTEGER NOT NULL,
    bisect_depth INTEGER NOT NULL,
    flakes INTEGER NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX idx_refinery_runs_rig ON refinery_runs (rig, id);
";

/// Each issue's labels, edge counts, comment count and parent, kept on its own row so a
/// listing of thousands of issues is one scan of `issues` instead of four more queries and a
/// join in memory; and whether any of the 34 rarely used fields is set, so reading a row whose
/// rare fields are all default (most rows) skips those columns.
///
/// Triggers keep them, not the Rust write paths, so every write updates them in its own
/// transaction. `relation_summaries` says what they must hold; `bd doctor` compares the two.
/// Rows of `labels`, `dependencies` and `comments` are only ever inserted and deleted, except
/// by import (which pauses the triggers and recounts once) and `bd sql` (which recounts after
/// any write), so those tables have no UPDATE triggers: every connection parses every trigger
/// when it opens the store, and each costs every command a little.
const V5: &str = concat!(
    r"
ALTER TABLE issues ADD COLUMN cached_labels TEXT NOT NULL DEFAULT '[]';
ALTER TABLE issues ADD COLUMN cached_parent TEXT;
ALTER TABLE issues ADD COLUMN cached_dependency_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE issues ADD COLUMN cached_dependent_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE issues ADD COLUMN cached_comment_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE issues ADD COLUMN cached_rare_fields INTEGER NOT NULL DEFAULT 0;

CREATE VIEW relation_summaries AS SELECT i.id,
    (SELECT json_group_array(label) FROM
        (SELECT l.label FROM labels l WHERE l.issue_id = i.id ORDER BY l.label)) AS labels,
    (SELECT max(d.depends_on_id) FROM dependencies d
        WHERE d.issue_id = i.id AND +d.type = 'parent-child') AS parent,
    (SELECT count(*) FROM dependencies d WHERE d.issue_id = i.id) AS dependency_count,
    (SELECT count(*) FROM dependencies d WHERE d.depends_on_id = i.id) AS dependent_count,
    (SELECT count(*) FROM comments c WHERE c.issue_id = i.id) AS comment_count,
    NOT (i.design = '' AND i.acceptance_criteria = '' AND i.notes = '' AND i.owner = ''
        AND i.estimated_minutes IS NULL AND i.closed_by_session = '' AND i.due_at IS NULL
        AND i.defer_until IS NULL AND i.external_ref = '' AND i.source_system = '' AND i.spec_id = ''
        AND i.metadata = '{}' AND i.sender = '' AND i.ephemeral = 0 AND i.no_history = 0
        AND i.wisp_type = '' AND i.pinned = 0 AND i.is_template = 0 AND i.mol_type = ''
        AND i.work_type = '' AND i.await_type = '' AND i.await_id = '' AND i.timeout_ns = 0
        AND i.waiters = '' AND i.event_kind = '' AND i.actor = '' AND i.target = '' AND i.payload = ''
        AND i.source_formula = '' AND i.source_location = '' AND i.deleted_at IS NULL
        AND i.deleted_by = '' AND i.delete_reason = '' AND i.original_type = '') AS rare_fields
FROM issues i;

-- While it has a row, the triggers do nothing: a bulk import pauses them inside its own
-- transaction and refreshes every summary once at the end.
CREATE TABLE relation_summaries_paused (paused INTEGER PRIMARY KEY);

CREATE TRIGGER relation_summaries_new_issue AFTER INSERT ON issues
    WHEN NOT EXISTS (SELECT 1 FROM relation_summaries_paused) BEGIN
    ",
    refresh_summaries!("NEW.id"),
    r";
END;
CREATE TRIGGER relation_summaries_fields_changed AFTER UPDATE OF design, acceptance_criteria,
    notes, owner, estimated_minutes, closed_by_session, due_at, defer_until, external_ref,
    source_system, spec_id, metadata, sender, ephemeral, no_history, wisp_type, pinned,
    is_template, mol_type, work_type, await_type, await_id, timeout_ns, waiters, event_kind,
    actor, target, payload, source_formula, source_location, deleted_at, deleted_by,
    delete_reason, original_type ON issues
    WHEN NOT EXISTS (SELECT 1 FROM relation_summaries_paused) BEGIN
    ",
    refresh_summaries!("NEW.id"),
    r";
END;
CREATE TRIGGER relation_summaries_label_added AFTER INSERT ON labels
    WHEN NOT EXISTS (SELECT 1 FROM relation_summaries_paused) BEGIN
    ",
    refresh_summaries!("NEW.issue_id"),
    r";
END;
CREATE TRIGGER relation_summaries_label_removed AFTER DELETE ON labels
    WHEN NOT EXISTS (SELECT 1 FROM relation_summaries_paused) BEGIN
    ",
    refresh_summaries!("OLD.issue_id"),
    r";
END;
CREATE TRIGGER relation_summaries_edge_added AFTER INSERT ON dependencies
    WHEN NOT EXISTS (SELECT 1 FROM relation_summaries_paused) BEGIN
    ",
    refresh_summaries!("NEW.issue_id, NEW.depends_on_id"),
    r";
END;
CREATE TRIGGER relation_summaries_edge_removed AFTER DELETE ON dependencies
    WHEN NOT EXISTS (SELECT 1 FROM relation_summaries_paused) BEGIN
    ",
    refresh_summaries!("OLD.issue_id, OLD.depends_on_id"),
    r";
END;
CREATE TRIGGER relation_summaries_comment_added AFTER INSERT ON comments
    WHEN NOT EXISTS (SELECT 1 FROM relation_summaries_paused) BEGIN
    ",
    refresh_summaries!("NEW.issue_id"),
    r";
END;
CREATE TRIGGER relation_summaries_comment_removed AFTER DELETE ON comments
    WHEN NOT EXISTS (SELECT 1 FROM relation_summaries_paused) BEGIN
    ",
    refresh_summaries!("OLD.issue_id"),
    r";
END;
",
    refresh_all_summaries!(),
    ";"
);

/// The key of an issue's group in `issue_counts`, for the row alias `$row` (`NEW`, `OLD`, or a
/// table alias): the id's prefix (the text before its first `-`) and the columns the default
/// filters of `list` and `count` test.
macro_rules! count_key {
    ($row:literal) => {
        concat!(
            "substr(",
            $row,
            ".id, 1, instr(",
            $row,
            ".id, '-') - 1), ",
            $row,
            ".status, ",
            $row,
            ".issue_type, ",
            $row,
            ".ephemeral, ",
            $row,
            ".is_template, ",
            $row,
            ".pinned"
        )
    };
}

/// SQL that recounts `issue_counts` from `issues`.
macro_rules! recount_issue_counts {
    () => {
        concat!(
            "DELETE FROM issue_counts; INSERT INTO issue_counts (prefix, status, issue_type, ephemeral, is_template, pinned, n) SELECT ",
            count_key!("i"),
            ", count(*) FROM issues i GROUP BY 1, 2, 3, 4, 5, 6"
        )
    };
}

/// Recounts `issue_counts` (after an import, raw SQL, or for `bd doctor --fix`).
pub(crate) const RECOUNT_ISSUE_COUNTS: &str = recount_issue_counts!();

/// Groups whose kept count differs from a recount (empty when the triggers did their job).
pub(crate) const STALE_ISSUE_COUNTS: &str = concat!(
    "WITH truth (prefix, status, issue_type, ephemeral, is_template, pinned, n) AS (SELECT ",
    count_key!("i"),
    ", count(*) FROM issues i GROUP BY 1, 2, 3, 4, 5, 6)
    SELECT coalesce(t.prefix, c.prefix) || ' ' || coalesce(t.status, c.status) || ' ' || coalesce(t.issue_type, c.issue_type)
    FROM truth t FULL JOIN (SELECT * FROM issue_counts WHERE n != 0) c
      ON c.prefix = t.prefix AND c.status = t.status AND c.issue_type = t.issue_type
     AND c.ephemeral = t.ephemeral AND c.is_template = t.is_template AND c.pinned = t.pinned
    WHERE t.n IS NOT c.n ORDER BY 1"
);

/// Work that must not grow with the store.
///
/// `issue_counts` keeps how many issues each (prefix, status, type, ephemeral, template,
/// pinned) group has, so minting an id (which needs the prefix's issue count) and `bd count`
/// with the default filters read a handful of rows instead of counting every issue. Triggers
/// keep it, paused with the relation summaries during an import, which recounts once.
///
/// `idx_issues_default_order` holds, in the default sort order, the issues the default filters
/// of `bd list` keep (not done, not wisps, not templates), so `list --limit N` reads N rows
/// instead of sorting every open issue. The query must repeat the index's condition term for
/// term for SQLite to use it.
const V6: &str = concat!(
    r"
CREATE TABLE issue_counts (
    prefix TEXT NOT NULL,
    status TEXT NOT NULL,
    issue_type TEXT NOT NULL,
    ephemeral INTEGER NOT NULL,
    is_template INTEGER NOT NULL,
    pinned INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (prefix, status, issue_type, ephemeral, is_template, pinned)
) WITHOUT ROWID;

CREATE TRIGGER issue_counts_added AFTER INSERT ON issues
    WHEN NOT EXISTS (SELECT 1 FROM relation_summaries_paused) BEGIN
    INSERT INTO issue_counts (prefix, status, issue_type, ephemeral, is_template, pinned, n)
    VALUES (",
    count_key!("NEW"),
    r", 1) ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER issue_counts_removed AFTER DELETE ON issues
    WHEN NOT EXISTS (SELECT 1 FROM relation_summaries_paused) BEGIN
    UPDATE issue_counts SET n = n - 1
    WHERE (prefix, status, issue_type, ephemeral, is_template, pinned) = (",
    count_key!("OLD"),
    r");
END;
CREATE TRIGGER issue_counts_changed AFTER UPDATE OF id, status, issue_type, ephemeral, is_template, pinned
    ON issues
    WHEN NOT EXISTS (SELECT 1 FROM relation_summaries_paused)
     AND (OLD.id IS NOT NEW.id OR OLD.status IS NOT NEW.status OR OLD.issue_type IS NOT NEW.issue_type
          OR OLD.ephemeral IS NOT NEW.ephemeral OR OLD.is_template IS NOT NEW.is_template
          OR OLD.pinned IS NOT NEW.pinned) BEGIN
    UPDATE issue_counts SET n = n - 1
    WHERE (prefix, status, issue_type, ephemeral, is_template, pinned) = (",
    count_key!("OLD"),
    r");
    INSERT INTO issue_counts (prefix, status, issue_type, ephemeral, is_template, pinned, n)
    VALUES (",
    count_key!("NEW"),
    r", 1) ON CONFLICT DO UPDATE SET n = n + 1;
END;
",
    recount_issue_counts!(),
    r";
CREATE INDEX idx_issues_default_order ON issues (priority, created_at DESC, id)
    WHERE status NOT IN ('closed', 'pinned', 'tombstone') AND ephemeral = 0 AND is_template = 0;
"
);

/// Mail: typed rows, not labels on beads. One `mail_messages` row per message (what was
/// sent) and one `mail_deliveries` row per mailbox it reached (what each recipient did with
/// it), so reading, archiving or claiming is one keyed update of one recipient's row.
///
/// `priority` is upstream's 0–4 (0 urgent, 1 high, 2 normal, 3 low, 4 backlog); `msg_type`
/// upstream's `task | scavenge | notification | reply`. `thread_id` is the id of the thread's
/// first message (a new message is its own thread); `reply_to` the message answered.
/// `ephemeral` marks protocol mail (`POLECAT_DONE`, `MERGED`, …) that the deacon collects.
///
/// A delivery's `state` is `inbox`, `archived` or `deleted`; `read_at` is set once read. A
/// message sent to `queue:<name>` has one delivery whose `mailbox` is the queue, and
/// `claimed_by`/`claimed_at` say which mailbox took it (set only while unclaimed: a
/// compare-and-set).
///
/// `idx_mail_inbox` is a mailbox's messages in its inbox, newest first: `gt mail inbox` reads
/// the first rows of one range. `idx_mail_unread` is the same for unread ones only, which the
/// session hook (`gt mail check`) reads on every prompt.
const V7: &str = r"
CREATE TABLE mail_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sender TEXT NOT NULL CHECK (sender != ''),
    recipients TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(recipients)),
    cc TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(cc)),
    subject TEXT NOT NULL CHECK (length(subject) >= 1),
    body TEXT NOT NULL DEFAULT '',
    priority INTEGER NOT NULL DEFAULT 2 CHECK (priority BETWEEN 0 AND 4),
    msg_type TEXT NOT NULL DEFAULT 'notification'
        CHECK (msg_type IN ('task', 'scavenge', 'notification', 'reply')),
    thread_id INTEGER NOT NULL,
    reply_to INTEGER,
    ephemeral INTEGER NOT NULL DEFAULT 0 CHECK (ephemeral IN (0, 1)),
    created_at TEXT NOT NULL
);
CREATE INDEX idx_mail_thread ON mail_messages (thread_id, id);
CREATE INDEX idx_mail_ephemeral ON mail_messages (created_at) WHERE ephemeral = 1;

CREATE TABLE mail_deliveries (
    mailbox TEXT NOT NULL,
    message_id INTEGER NOT NULL REFERENCES mail_messages (id) ON DELETE CASCADE,
    role TEXT NOT NULL DEFAULT 'to' CHECK (role IN ('to', 'cc', 'queue')),
    state TEXT NOT NULL DEFAULT 'inbox' CHECK (state IN ('inbox', 'archived', 'deleted')),
    read_at TEXT,
    claimed_by TEXT,
    claimed_at TEXT,
    updated_at TEXT NOT NULL,
    CHECK ((claimed_by IS NULL) = (claimed_at IS NULL)),
    CHECK (claimed_by IS NULL OR role = 'queue'),
    PRIMARY KEY (mailbox, message_id)
) WITHOUT ROWID;
CREATE INDEX idx_mail_inbox ON mail_deliveries (mailbox, state, message_id DESC);
CREATE INDEX idx_mail_unread ON mail_deliveries (mailbox, message_id DESC)
    WHERE state = 'inbox' AND read_at IS NULL;
CREATE INDEX idx_mail_message ON mail_deliveries (message_id);
CREATE INDEX idx_mail_claimed ON mail_deliveries (claimed_by, message_id DESC)
    WHERE claimed_by IS NOT NULL;
";

/// Version 8: the town's long-lived agents (the mayor and crew), one row each. `desired` is
/// what the human asked for: `running` (the daemon's keeper restarts it when it dies),
/// `stopped`, or `held` (stopped by `gt down`; `gt up` brings the mayor back, `--restore` the
/// crew). `generation` counts starts, so a stale start cannot record its pid over a newer one;
/// `restarts` counts the keeper's restarts since the agent last ran long enough to count as
/// healthy, which is what its crash-loop breaker reads.
const V8: &str = r"
CREATE TABLE role_agents (
    address TEXT PRIMARY KEY CHECK (address != ''),
    role TEXT NOT NULL CHECK (role IN ('mayor', 'crew')),
    rig TEXT NOT NULL DEFAULT '',
    session TEXT NOT NULL CHECK (session != ''),
    runtime TEXT NOT NULL DEFAULT '',
    agent TEXT NOT NULL DEFAULT '',
    desired TEXT NOT NULL DEFAULT 'stopped' CHECK (desired IN ('running', 'stopped', 'held')),
    generation INTEGER NOT NULL DEFAULT 0,
    pid INTEGER,
    started_at TEXT,
    restarts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL
) WITHOUT ROWID;
";

/// Version 9: what agent sessions cost, read from the agents' own transcripts. One
/// `cost_sessions` row per agent CLI session (`source` is the CLI whose transcript it is,
/// `session_id` that CLI's own id), attributed to the agent, its role and rig, and the bead
/// and convoy it worked on; one `cost_usage` row per model the session used, with its token
/// totals. Recording a session again replaces its usage rows: the transcript is re-read whole
/// each time, so the latest reading is the truth and a session counts once.
///
/// `idx_cost_sessions_ended` serves `gt costs --since`: the sessions that ended after an
/// instant are one range.
const V9: &str = r"
CREATE TABLE cost_sessions (
    source TEXT NOT NULL CHECK (source IN ('claude', 'codex')),
    session_id TEXT NOT NULL CHECK (session_id != ''),
    address TEXT NOT NULL CHECK (address != ''),
    role TEXT NOT NULL CHECK (role != ''),
    rig TEXT NOT NULL DEFAULT '',
    bead TEXT NOT NULL DEFAULT '',
    convoy TEXT NOT NULL DEFAULT '',
    transcript TEXT NOT NULL DEFAULT '',
    started_at TEXT NOT NULL,
    ended_at TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (source, session_id)
) WITHOUT ROWID;
CREATE INDEX idx_cost_sessions_ended ON cost_sessions (ended_at);

CREATE TABLE cost_usage (
    source TEXT NOT NULL,
    session_id TEXT NOT NULL,
    model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
    output_tokens INTEGER NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
    cache_write_tokens INTEGER NOT NULL DEFAULT 0 CHECK (cache_write_tokens >= 0),
    cache_read_tokens INTEGER NOT NULL DEFAULT 0 CHECK (cache_read_tokens >= 0),
    PRIMARY KEY (source, session_id, model),
    FOREIGN KEY (source, session_id) REFERENCES cost_sessions (source, session_id) ON DELETE CASCADE
) WITHOUT ROWID;
";

/// Version 10: fewer and smaller indexes, so each write updates fewer B-trees and an import
/// builds fewer. `idx_deps_type` served no query that needs it (every edge lookup names an
/// end, which the primary key or `idx_deps_target` finds; the few that want every edge of a
/// type read most of the table anyway), and without statistics SQLite planned readiness's
/// per-issue checks through it, walking every edge of a type. `idx_issues_ready` holds only
/// unblocked issues, which is all `ready` reads: the condition is the query's own
/// `is_blocked = 0` term, so SQLite uses it.
const V10: &str = r"
DROP INDEX idx_deps_type;
DROP INDEX idx_issues_ready;
CREATE INDEX idx_issues_ready ON issues (status, priority, created_at DESC, id) WHERE is_blocked = 0;
";

/// Version 11: capacity-controlled dispatch. A `sling_contexts` row is a sling waiting for
/// capacity (`gt sling` over `scheduler.max_polecats`, or a convoy's children): the bead, its
/// rig, its priority when queued, and the sling's options as JSON; the work bead itself is
/// never changed by queueing. At most one queued context per bead (`idx_sling_contexts_queued`).
/// It ends `dispatched`, `cleared` (by hand, or its bead closed) or `circuit_broken` (after
/// repeated dispatch failures). `rate_holds` is a provider account under a rate or usage
/// limit until its window resets: nothing starts on it meanwhile. `accounts` are the provider
/// accounts agents may run as (each with its own config directory); `account_assignments`
/// says which account each agent address last started with, which is how a rate limit seen in
/// a pane is charged to its account.
const V11: &str = r"
CREATE TABLE sling_contexts (
    id INTEGER PRIMARY KEY,
    bead_id TEXT NOT NULL CHECK (bead_id != ''),
    rig TEXT NOT NULL CHECK (rig != ''),
    priority INTEGER NOT NULL DEFAULT 2,
    options TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'dispatched', 'cleared', 'circuit_broken')),
    failures INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
    last_failure TEXT NOT NULL DEFAULT '',
    enqueued_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX idx_sling_contexts_queued ON sling_contexts (bead_id) WHERE state = 'queued';

CREATE TABLE rate_holds (
    account TEXT PRIMARY KEY CHECK (account != ''),
    provider TEXT NOT NULL CHECK (provider != ''),
    until TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    seen_in TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE accounts (
    provider TEXT NOT NULL CHECK (provider != ''),
    name TEXT NOT NULL CHECK (name != ''),
    config_dir TEXT NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    created_at TEXT NOT NULL,
    PRIMARY KEY (provider, name)
) WITHOUT ROWID;
CREATE UNIQUE INDEX idx_accounts_default ON accounts (provider) WHERE is_default = 1;

CREATE TABLE account_assignments (
    address TEXT PRIMARY KEY CHECK (address != ''),
    provider TEXT NOT NULL,
    account TEXT NOT NULL,
    updated_at TEXT NOT NULL
) WITHOUT ROWID;
";

/// Version 12: Gemini CLI's sessions are costed too: `cost_sessions.source` may be `gemini`.
/// SQLite cannot change a `CHECK`, so both cost tables are rebuilt (the usage rows first and
/// dropped first, so dropping the sessions cascades to nothing) and their rows copied.
const V12: &str = r"
CREATE TABLE cost_sessions_v12 (
    source TEXT NOT NULL CHECK (source IN ('claude', 'codex', 'gemini')),
    session_id TEXT NOT NULL CHECK (session_id != ''),
    address TEXT NOT NULL CHECK (address != ''),
    role TEXT NOT NULL CHECK (role != ''),
    rig TEXT NOT NULL DEFAULT '',
    bead TEXT NOT NULL DEFAULT '',
    convoy TEXT NOT NULL DEFAULT '',
    transcript TEXT NOT NULL DEFAULT '',
    started_at TEXT NOT NULL,
    ended_at TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (source, session_id)
) WITHOUT ROWID;
CREATE TABLE cost_usage_v12 (
    source TEXT NOT NULL,
    session_id TEXT NOT NULL,
    model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
    output_tokens INTEGER NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
    cache_write_tokens INTEGER NOT NULL DEFAULT 0 CHECK (cache_write_tokens >= 0),
    cache_read_tokens INTEGER NOT NULL DEFAULT 0 CHECK (cache_read_tokens >= 0),
    PRIMARY KEY (source, session_id, model),
    FOREIGN KEY (source, session_id) REFERENCES cost_sessions_v12 (source, session_id) ON DELETE CASCADE
) WITHOUT ROWID;
INSERT INTO cost_sessions_v12 SELECT * FROM cost_sessions;
INSERT INTO cost_usage_v12 SELECT * FROM cost_usage;
DROP TABLE cost_usage;
DROP TABLE cost_sessions;
ALTER TABLE cost_sessions_v12 RENAME TO cost_sessions;
ALTER TABLE cost_usage_v12 RENAME TO cost_usage;
CREATE INDEX idx_cost_sessions_ended ON cost_sessions (ended_at);
";

/// All migrations, oldest first. Append, never edit.
pub fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(V1),
        M::up(V2),
        M::up(V3),
        M::up(V4),
        M::up(V5),
        M::up(V6),
        M::up(V7),
        M::up(V8),
        M::up(V9),
        M::up(V10),
        M::up(V11),
        M::up(V12),
    ])
}

/// The schema version a fully migrated database has.
pub const LATEST_VERSION: i64 = 12;

/// Every table, view and trigger of a fully migrated store (not indexes: a missing index is
/// slow, not wrong). Each write checks they are all there; a unit test checks this list
/// against a freshly migrated database.
pub const REQUIRED_OBJECTS: &[&str] = &[
    "issues",
    "dependencies",
    "labels",
    "comments",
    "events",
    "config",
    "metadata",
    "child_counters",
    "wisps",
    "ready_issues",
    "blocked_issues",
    "polecats",
    "merge_requests",
    "respawns",
    "checkpoints",
    "convoy_landings",
    "refinery_runs",
    "relation_summaries",
    "relation_summaries_paused",
    "relation_summaries_new_issue",
    "relation_summaries_fields_changed",
    "relation_summaries_label_added",
    "relation_summaries_label_removed",
    "relation_summaries_edge_added",
    "relation_summaries_edge_removed",
    "relation_summaries_comment_added",
    "relation_summaries_comment_removed",
    "issue_counts",
    "issue_counts_added",
    "issue_counts_removed",
    "issue_counts_changed",
    "mail_messages",
    "mail_deliveries",
    "role_agents",
    "cost_sessions",
    "cost_usage",
    "sling_contexts",
    "rate_holds",
    "accounts",
    "account_assignments",
];

/// The `metadata` key `bd doctor` sets while the store has errors it could not repair; writes
/// refuse while it is there.
pub const DOCTOR_MARKER: &str = "doctor.errors";

#[cfg(test)]
mod tests {

    #[test]
    fn required_objects_are_exactly_the_schema() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        super::migrations().to_latest(&mut conn).unwrap();
        let mut names: Vec<String> = conn
            .prepare(
                "SELECT name FROM sqlite_schema WHERE type IN ('table', 'view', 'trigger')
                 AND name NOT LIKE 'sqlite_%' ORDER BY name",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let mut expected: Vec<String> = super::REQUIRED_OBJECTS
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        names.sort();
        expected.sort();
        assert_eq!(names, expected);
    }

    /// A version 11 store keeps its recorded costs through version 12, which takes Gemini's.
    #[test]
    fn upgrading_keeps_costs_and_admits_gemini_sessions() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", true).unwrap();
        super::migrations().to_version(&mut conn, 11).unwrap();
        let session = |source: &str| {
            format!(
                "INSERT INTO cost_sessions (source, session_id, address, role, started_at, \
                 ended_at, recorded_at) VALUES ('{source}', 's1', 'gastown/polecats/nux', \
                 'polecat', '2026-12-05T10:00:00Z', '2026-12-05T10:05:00Z', \
                 '2026-12-05T10:05:00Z');
                 INSERT INTO cost_usage (source, session_id, model, input_tokens) VALUES \
                 ('{source}', 's1', 'm', 42);"
            )
        };
        conn.execute_batch(&session("codex")).unwrap();
        assert!(conn.execute_batch(&session("gemini")).is_err());
        super::migrations().to_latest(&mut conn).unwrap();
        conn.execute_batch(&session("gemini")).unwrap();
        let rows: Vec<(String, i64)> = conn
            .prepare("SELECT source, input_tokens FROM cost_usage ORDER BY 1")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, [("codex".into(), 42), ("gemini".into(), 42)]);
        // The usage rows still belong to their session.
        conn.execute_batch("DELETE FROM cost_sessions WHERE source = 'codex'")
            .unwrap();
        let left: i64 = conn
            .query_row("SELECT count(*) FROM cost_usage", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 1);
    }

    #[test]
    fn migrations_are_valid() {
        assert!(super::migrations().validate().is_ok());
    }

    /// A version 5 store upgrades in place: its issues are counted into `issue_counts`, and the
    /// write guard's objects are all there.
    #[test]
    fn upgrading_counts_existing_issues() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        super::migrations().to_version(&mut conn, 5).unwrap();
        conn.execute_batch(
            "INSERT INTO issues (id, title, status, created_at, updated_at) VALUES
                ('bd-a', 'a', 'open', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'),
                ('bd-b', 'b', 'open', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'),
                ('gt-c.1', 'c', 'in_progress', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');",
        )
        .unwrap();
        super::migrations().to_latest(&mut conn).unwrap();
        let counts: Vec<(String, String, i64)> = conn
            .prepare("SELECT prefix, status, n FROM issue_counts ORDER BY 1, 2")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            counts,
            vec![
                ("bd".into(), "open".into(), 2),
                ("gt".into(), "in_progress".into(), 1)
            ]
        );
        // The triggers keep them from here on: a status change moves one issue between groups.
        conn.execute_batch(
            "UPDATE issues SET status = 'closed', closed_at = updated_at WHERE id = 'bd-a'",
        )
        .unwrap();
        let stale: Vec<String> = conn
            .prepare(super::STALE_ISSUE_COUNTS)
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(stale.is_empty(), "{stale:?}");
    }

    /// A version 9 store upgrades in place: `ready`'s index holds the unblocked issues already
    /// there (built from the table, not only from later writes), the type index of edges is
    /// gone, and a ready query reads the partial index in order instead of the table.
    #[test]
    fn upgrading_to_10_indexes_only_unblocked_issues_for_ready() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        super::migrations().to_version(&mut conn, 9).unwrap();
        conn.execute_batch(
            "INSERT INTO issues (id, title, status, priority, created_at, updated_at, is_blocked) VALUES
                ('bd-a', 'a', 'open', 1, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 0),
                ('bd-b', 'b', 'open', 0, '2026-01-02T00:00:00Z', '2026-01-02T00:00:00Z', 1),
                ('bd-c', 'c', 'open', 2, '2026-01-03T00:00:00Z', '2026-01-03T00:00:00Z', 0);
             INSERT INTO dependencies (issue_id, depends_on_id, type, created_at) VALUES
                ('bd-b', 'bd-a', 'blocks', '2026-01-02T00:00:00Z');",
        )
        .unwrap();
        super::migrations().to_latest(&mut conn).unwrap();
        let ready = "SELECT id FROM issues INDEXED BY idx_issues_ready
            WHERE status = 'open' AND is_blocked = 0 ORDER BY priority, created_at DESC, id";
        let ids: Vec<String> = conn
            .prepare(ready)
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(ids, ["bd-a", "bd-c"]);
        let plan: Vec<String> = conn
            .prepare(&format!(
                "EXPLAIN QUERY PLAN {}",
                ready.replace("INDEXED BY idx_issues_ready", "")
            ))
            .unwrap()
            .query_map([], |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        // One step, in the index's order: no table scan, no sort.
        assert_eq!(plan.len(), 1, "{plan:?}");
        assert!(
            plan[0].ends_with("INDEX idx_issues_ready (status=?)"),
            "{plan:?}"
        );
        let type_index: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'idx_deps_type'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(type_index, 0);
    }

    /// A version 10 store upgrades in place: its polecats and issues stay, and the scheduler's
    /// tables are there, empty, with one queued context allowed per bead.
    #[test]
    fn upgrading_to_11_adds_the_scheduler_tables() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        super::migrations().to_version(&mut conn, 10).unwrap();
        conn.execute_batch(
            "INSERT INTO issues (id, title, status, created_at, updated_at) VALUES
                ('gt-a', 'a', 'open', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');",
        )
        .unwrap();
        super::migrations().to_latest(&mut conn).unwrap();
        let issues: i64 = conn
            .query_row("SELECT count(*) FROM issues", [], |r| r.get(0))
            .unwrap();
        assert_eq!(issues, 1);
        let queue = "INSERT INTO sling_contexts (bead_id, rig, enqueued_at, updated_at)
            VALUES ('gt-a', 'gastown', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')";
        conn.execute_batch(queue).unwrap();
        assert!(
            conn.execute_batch(queue).is_err(),
            "a second queued context"
        );
        conn.execute_batch("UPDATE sling_contexts SET state = 'dispatched'")
            .unwrap();
        conn.execute_batch(queue).unwrap();
        for table in ["rate_holds", "accounts", "account_assignments"] {
            let n: i64 = conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .unwrap();
            assert_eq!(n, 0, "{table}");
        }
    }

    /// A store written before the summaries existed gets them filled in by the upgrade.
    #[test]
    fn upgrading_fills_in_relation_summaries() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        super::migrations().to_version(&mut conn, 4).unwrap();
        conn.execute_batch(
            "INSERT INTO issues (id, title, created_at, updated_at) VALUES
                ('bd-a', 'a', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'),
                ('bd-b', 'b', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');
             INSERT INTO labels (issue_id, label) VALUES ('bd-a', 'y'), ('bd-a', 'x');
             INSERT INTO dependencies (issue_id, depends_on_id, type, created_at) VALUES
                ('bd-a', 'bd-b', 'parent-child', '2026-01-01T00:00:00Z');
             INSERT INTO comments (id, issue_id, text, created_at) VALUES
                ('c1', 'bd-b', 'hi', '2026-01-01T00:00:00Z');",
        )
        .unwrap();
        super::migrations().to_latest(&mut conn).unwrap();
        let summary = |id: &str| -> (String, Option<String>, i64, i64, i64) {
            conn.query_row(
                "SELECT cached_labels, cached_parent, cached_dependency_count,
                        cached_dependent_count, cached_comment_count FROM issues WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .unwrap()
        };
        assert_eq!(
            summary("bd-a"),
            (r#"["x","y"]"#.into(), Some("bd-b".into()), 1, 0, 0)
        );
        assert_eq!(summary("bd-b"), ("[]".into(), None, 0, 1, 1));
    }
}
