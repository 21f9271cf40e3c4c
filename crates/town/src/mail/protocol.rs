//! The protocol catalog: the subjects agents and services send each other as part of the
//! work loop (upstream's mail protocol). Such mail is ephemeral: the deacon collects it once
//! no recipient still holds it in an inbox, or after a time to live. Mail between people and
//! agents is kept.

/// Subject prefixes of protocol mail. A subject is protocol mail when it starts with one,
/// followed by the end of the subject, a space or a colon (so `HELP: stuck` is, `HELPFUL` is
/// not).
pub const PROTOCOL_PREFIXES: &[&str] = &[
    "POLECAT_DONE",
    "MERGE_READY",
    "MERGED",
    "MERGE_FAILED",
    "REWORK_REQUEST",
    "FIX_NEEDED",
    "RECOVERED_BEAD",
    "RECOVERY_NEEDED",
    "HELP",
    "HANDOFF",
    "🤝 HANDOFF",
    "LIFECYCLE",
    "NUDGE",
    "WORK_DONE",
    "START_WORK",
    "READY_FOR_REVIEW",
    "SWARM_START",
    "SWARM_COMPLETE",
    "🚚 Convoy landed",
];

/// Whether `subject` is protocol mail (see [`PROTOCOL_PREFIXES`]).
pub fn is_protocol(subject: &str) -> bool {
    PROTOCOL_PREFIXES
        .iter()
        .any(|prefix| is_kind(subject, prefix))
}

/// Whether `subject` is of the protocol kind `prefix`: it starts with it (after blanks),
/// followed by the end, a space or a colon (`HELP: stuck` is `HELP`, `HELPFUL` is not).
pub fn is_kind(subject: &str, prefix: &str) -> bool {
    subject
        .trim_start()
        .strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(' ') || rest.starts_with(':'))
}

#[cfg(test)]
mod tests {
    use super::is_protocol;

    #[test]
    fn the_catalog_matches_whole_words_at_the_start() {
        for subject in [
            "POLECAT_DONE nux",
            "MERGED toast",
            "MERGE_FAILED: gates",
            "HELP: stuck on a test",
            "HELP",
            "🤝 HANDOFF: context",
            "🚚 Convoy landed: auth",
            "  FIX_NEEDED nux",
        ] {
            assert!(is_protocol(subject), "{subject}");
        }
        for subject in [
            "HELPFUL tips",
            "Please HELP",
            "MERGEDx",
            "merged toast",
            "Lunch?",
            "",
        ] {
            assert!(!is_protocol(subject), "{subject}");
        }
    }
}
