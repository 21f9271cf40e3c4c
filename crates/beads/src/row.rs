//! Mapping between `issues` rows and [`Issue`].

use rusqlite::Row;

use crate::model::Issue;

/// The columns [`issue_from_row`] reads, in order, qualified with the alias `i`.
pub(crate) const ISSUE_COLUMNS: &str = "i.id, i.title, i.description, i.design, i.acceptance_criteria, i.notes,
    i.status, i.priority, i.issue_type, i.assignee, i.owner, i.estimated_minutes, i.created_at, i.created_by,
    i.updated_at, i.started_at, i.closed_at, i.close_reason, i.closed_by_session, i.due_at, i.defer_until,
    i.external_ref, i.source_system, i.spec_id, i.metadata, i.sender, i.ephemeral, i.no_history, i.wisp_type,
    i.pinned, i.is_template, i.mol_type, i.work_type, i.await_type, i.await_id, i.timeout_ns, i.waiters,
    i.event_kind, i.actor, i.target, i.payload, i.source_formula, i.source_location, i.deleted_at,
    i.deleted_by, i.delete_reason, i.original_type";

/// Reads an [`Issue`] from a row selected with [`ISSUE_COLUMNS`].
pub(crate) fn issue_from_row(r: &Row<'_>) -> rusqlite::Result<Issue> {
    let metadata: String = r.get(24)?;
    let waiters: String = r.get(36)?;
    Ok(Issue {
        id: r.get(0)?,
        title: r.get(1)?,
        description: r.get(2)?,
        design: r.get(3)?,
        acceptance_criteria: r.get(4)?,
        notes: r.get(5)?,
        status: r.get(6)?,
        priority: r.get(7)?,
        issue_type: r.get(8)?,
        assignee: r.get(9)?,
        owner: r.get(10)?,
        estimated_minutes: r.get(11)?,
        created_at: r.get(12)?,
        created_by: r.get(13)?,
        updated_at: r.get(14)?,
        started_at: r.get(15)?,
        closed_at: r.get(16)?,
        close_reason: r.get(17)?,
        closed_by_session: r.get(18)?,
        due_at: r.get(19)?,
        defer_until: r.get(20)?,
        external_ref: r.get(21)?,
        source_system: r.get(22)?,
        spec_id: r.get(23)?,
        metadata: if metadata == "{}" {
            None
        } else {
            serde_json::from_str(&metadata).ok()
        },
        sender: r.get(25)?,
        ephemeral: r.get(26)?,
        no_history: r.get(27)?,
        wisp_type: r.get(28)?,
        pinned: r.get(29)?,
        is_template: r.get(30)?,
        mol_type: r.get(31)?,
        work_type: r.get(32)?,
        await_type: r.get(33)?,
        await_id: r.get(34)?,
        timeout: r.get(35)?,
        waiters: if waiters.is_empty() {
            Vec::new()
        } else {
            waiters.split(',').map(str::to_owned).collect()
        },
        event_kind: r.get(37)?,
        actor: r.get(38)?,
        target: r.get(39)?,
        payload: r.get(40)?,
        source_formula: r.get(41)?,
        source_location: r.get(42)?,
        deleted_at: r.get(43)?,
        deleted_by: r.get(44)?,
        delete_reason: r.get(45)?,
        original_type: r.get(46)?,
    })
}

/// Inserts or replaces a full issue row (create and import). `is_blocked` starts at 0 and is
/// fixed by the caller's readiness refresh.
pub(crate) fn upsert_issue(
    conn: &rusqlite::Connection,
    i: &Issue,
    content_hash: &str,
) -> rusqlite::Result<()> {
    let metadata = match &i.metadata {
        Some(v) if !v.is_null() => v.to_string(),
        _ => "{}".to_owned(),
    };
    let mut stmt = conn.prepare_cached(
        "INSERT INTO issues (id, title, description, design, acceptance_criteria, notes, status, priority,
            issue_type, assignee, owner, estimated_minutes, created_at, created_by, updated_at, started_at,
            closed_at, close_reason, closed_by_session, due_at, defer_until, external_ref, source_system, spec_id,
            metadata, sender, ephemeral, no_history, wisp_type, pinned, is_template, mol_type, work_type,
            await_type, await_id, timeout_ns, waiters, event_kind, actor, target, payload, source_formula,
            source_location, deleted_at, deleted_by, delete_reason, original_type, content_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21,
            ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35, ?36, ?37, ?38, ?39, ?40, ?41,
            ?42, ?43, ?44, ?45, ?46, ?47, ?48)
         ON CONFLICT (id) DO UPDATE SET title = excluded.title, description = excluded.description,
            design = excluded.design, acceptance_criteria = excluded.acceptance_criteria, notes = excluded.notes,
            status = excluded.status, priority = excluded.priority, issue_type = excluded.issue_type,
            assignee = excluded.assignee, owner = excluded.owner, estimated_minutes = excluded.estimated_minutes,
            created_at = excluded.created_at, created_by = excluded.created_by, updated_at = excluded.updated_at,
            started_at = excluded.started_at, closed_at = excluded.closed_at, close_reason = excluded.close_reason,
            closed_by_session = excluded.closed_by_session, due_at = excluded.due_at,
            defer_until = excluded.defer_until, external_ref = excluded.external_ref,
            source_system = excluded.source_system, spec_id = excluded.spec_id, metadata = excluded.metadata,
            sender = excluded.sender, ephemeral = excluded.ephemeral, no_history = excluded.no_history,
            wisp_type = excluded.wisp_type, pinned = excluded.pinned, is_template = excluded.is_template,
            mol_type = excluded.mol_type, work_type = excluded.work_type, await_type = excluded.await_type,
            await_id = excluded.await_id, timeout_ns = excluded.timeout_ns, waiters = excluded.waiters,
            event_kind = excluded.event_kind, actor = excluded.actor, target = excluded.target,
            payload = excluded.payload, source_formula = excluded.source_formula,
            source_location = excluded.source_location, deleted_at = excluded.deleted_at,
            deleted_by = excluded.deleted_by, delete_reason = excluded.delete_reason,
            original_type = excluded.original_type, content_hash = excluded.content_hash",
    )?;
    stmt.execute(rusqlite::params![
        i.id,
        i.title,
        i.description,
        i.design,
        i.acceptance_criteria,
        i.notes,
        i.status,
        i.priority,
        i.issue_type,
        i.assignee,
        i.owner,
        i.estimated_minutes,
        i.created_at,
        i.created_by,
        i.updated_at,
        i.started_at,
        i.closed_at,
        i.close_reason,
        i.closed_by_session,
        i.due_at,
        i.defer_until,
        i.external_ref,
        i.source_system,
        i.spec_id,
        metadata,
        i.sender,
        i.ephemeral,
        i.no_history,
        i.wisp_type,
        i.pinned,
        i.is_template,
        i.mol_type,
        i.work_type,
        i.await_type,
        i.await_id,
        i.timeout,
        i.waiters.join(","),
        i.event_kind,
        i.actor,
        i.target,
        i.payload,
        i.source_formula,
        i.source_location,
        i.deleted_at,
        i.deleted_by,
        i.delete_reason,
        i.original_type,
        content_hash
    ])?;
    Ok(())
}

/// The content hash of an issue's substantive fields (its JSON with volatile fields removed):
/// what import compares to skip unchanged issues.
pub(crate) fn content_hash(i: &Issue) -> String {
    use sha2::{Digest, Sha256};
    let mut copy = i.clone();
    copy.updated_at.clear();
    let json = serde_json::to_string(&copy).expect("issues serialize");
    let digest = Sha256::digest(json.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
