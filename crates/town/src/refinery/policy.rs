//! The queue's decisions, as pure functions: the order of merge requests (upstream's score
//! with aging), the batch size from the measured failure rate, and bisection by prefix.

use beads::MergeRequest;

/// Upstream's score: a base, plus convoy age (10 per hour), plus priority (100 per level above
/// P4), minus retries (50 each, at most 300), plus the request's own age (1 per hour) — the
/// aging term, so a low-priority change still rises and nothing starves.
pub fn score(
    mr: &MergeRequest,
    now: jiff::Timestamp,
    convoy_created: Option<jiff::Timestamp>,
) -> i64 {
    let hours = |t: jiff::Timestamp| now.duration_since(t).as_secs().max(0) / 3600;
    let age = mr
        .created_at
        .parse::<jiff::Timestamp>()
        .map(hours)
        .unwrap_or(0);
    let convoy = convoy_created.map(hours).unwrap_or(0);
    1000 + 10 * convoy + (4 - mr.priority.clamp(0, 4)) * 100 - (50 * mr.retries).min(300) + age
}

/// Orders requests best first; ties go to the older request.
pub fn order(mut scored: Vec<(MergeRequest, i64)>) -> Vec<MergeRequest> {
    scored.sort_by(|(a, sa), (b, sb)| sb.cmp(sa).then(a.id.cmp(&b.id)));
    scored.into_iter().map(|(mr, _)| mr).collect()
}

/// The batch size for a measured failure rate `p`: about 1/(p·ln 2), the maximum when none
/// have failed. `failures` are recent outcomes, `true` for a failed change.
///
/// A batch of `b` costs one gate run when it passes and about log₂ b more when it fails
/// (bisection lands the passing prefix), so a change costs about 1/b + p·log₂ b runs, least
/// at b = 1/(p·ln 2): 29 at 5 %, 7 at 20 %, 3 at 50 %. (Dorfman's 1/√p is the optimum for
/// retesting a failed batch one change at a time, which bisection does not.)
pub fn batch_size(failures: &[bool], max: u32) -> usize {
    let max = max.max(1) as usize;
    if failures.is_empty() {
        return max;
    }
    let p = failures.iter().filter(|f| **f).count() as f64 / failures.len() as f64;
    if p == 0.0 {
        max
    } else {
        ((1.0 / (p * std::f64::consts::LN_2)).round() as usize).clamp(1, max)
    }
}

/// Finds the first failing change of a batch whose full stack (prefix `n`) failed and whose
/// empty prefix (the target alone) passes: binary search on the prefix length with
/// `passes(k)` testing the first `k` changes. Returns the longest passing prefix (the culprit
/// is the change right after it) and how many tests the search ran.
pub fn bisect<E>(
    n: usize,
    mut passes: impl FnMut(usize) -> Result<bool, E>,
) -> Result<(usize, u32), E> {
    let (mut good, mut bad, mut depth) = (0usize, n, 0u32);
    while bad - good > 1 {
        let mid = good + (bad - good) / 2;
        depth += 1;
        if passes(mid)? {
            good = mid;
        } else {
            bad = mid;
        }
    }
    Ok((good, depth))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mr(id: i64, priority: i64, retries: i64, created_at: &str) -> MergeRequest {
        MergeRequest {
            id,
            rig: "r".into(),
            bead_id: format!("b-{id}"),
            branch: String::new(),
            sha: String::new(),
            target: "main".into(),
            polecat: String::new(),
            state: beads::MrState::Queued,
            priority,
            retries,
            merged_sha: String::new(),
            reason: String::new(),
            created_at: created_at.into(),
            updated_at: created_at.into(),
        }
    }

    #[test]
    fn priority_wins_retries_cost_and_age_lifts() {
        let now: jiff::Timestamp = "2026-01-10T00:00:00Z".parse().unwrap();
        let fresh_p0 = mr(1, 0, 0, "2026-01-10T00:00:00Z");
        let fresh_p2 = mr(2, 2, 0, "2026-01-10T00:00:00Z");
        let retried_p0 = mr(3, 0, 3, "2026-01-10T00:00:00Z");
        assert!(score(&fresh_p0, now, None) > score(&fresh_p2, now, None));
        assert!(score(&retried_p0, now, None) < score(&fresh_p0, now, None));
        // A P4 that has waited long enough overtakes a fresh P0: nothing starves.
        let old_p4 = mr(4, 4, 0, "2025-12-23T00:00:00Z");
        assert!(score(&old_p4, now, None) > score(&fresh_p0, now, None));
        // Convoy age counts ten times as much as the request's own age.
        let convoy = "2026-01-09T00:00:00Z".parse().unwrap();
        assert_eq!(
            score(&fresh_p2, now, Some(convoy)) - score(&fresh_p2, now, None),
            240
        );
        let ordered = order(vec![
            (fresh_p2.clone(), 10),
            (fresh_p0.clone(), 20),
            (mr(5, 2, 0, ""), 10),
        ]);
        assert_eq!(ordered.iter().map(|m| m.id).collect::<Vec<_>>(), [1, 2, 5]);
    }

    #[test]
    fn batch_size_follows_the_failure_rate() {
        assert_eq!(batch_size(&[], 8), 8);
        assert_eq!(batch_size(&[false; 20], 8), 8);
        let five_percent: Vec<bool> = (0..20).map(|i| i == 0).collect();
        assert_eq!(batch_size(&five_percent, 8), 8); // 1/(0.05 ln 2) = 28.9
        assert_eq!(batch_size(&five_percent, 32), 29);
        let twenty_percent: Vec<bool> = (0..10).map(|i| i < 2).collect();
        assert_eq!(batch_size(&twenty_percent, 8), 7); // 1/(0.2 ln 2) = 7.2
        let half: Vec<bool> = (0..10).map(|i| i < 5).collect();
        assert_eq!(batch_size(&half, 8), 3); // 2.9
        assert_eq!(batch_size(&[true; 10], 8), 1); // 1.4
        assert_eq!(batch_size(&five_percent, 2), 2);
    }

    #[test]
    fn bisection_finds_the_first_culprit() {
        for n in 1..=9 {
            for culprit in 0..n {
                let (good, depth) = bisect::<()>(n, |k| Ok(k <= culprit)).unwrap();
                assert_eq!(good, culprit, "n={n} culprit={culprit}");
                assert!(depth <= (n as f64).log2().ceil() as u32 + 1);
            }
        }
    }
}
