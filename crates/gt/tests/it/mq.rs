//! `gt mq retry` and `gt mq reject`: the rules of which merge requests may move are the
//! store's, and a request in the wrong state is the user's error (exit 1) with a hint.

use serde_json::Value;

use super::stderr;
use super::work_loop::{Town, json, ok};

/// Pushes a one-commit branch for `bead` to the town's remote and queues it by hand.
pub(super) fn submit(t: &Town, bead: &str, branch: &str) -> Value {
    let clone = t.env.work().join(format!("clone-{bead}"));
    t.git(
        t.env.work(),
        &[
            "clone",
            "-q",
            t.remote.to_str().expect("a UTF-8 path"),
            clone.to_str().expect("a UTF-8 path"),
        ],
    );
    t.git(&clone, &["checkout", "-q", "-b", branch]);
    std::fs::write(clone.join(format!("{bead}.txt")), "work\n").expect("write a file");
    t.git(&clone, &["add", "."]);
    t.git(&clone, &["commit", "-q", "-m", bead]);
    t.git(&clone, &["push", "-q", "origin", branch]);
    json(&ok(t.gt(&[
        "--json", "mq", "submit", "gastown", branch, "--bead", bead,
    ])))["mr"]
        .clone()
}

#[test]
fn retrying_or_rejecting_a_merged_request_is_a_user_error_that_changes_nothing() {
    let Some(t) = Town::new() else { return };
    let bead = t.create("Land me", "");
    let mr = submit(&t, &bead, "feature/land-me");
    let label = format!("mr-{}", mr["id"]);
    assert_eq!(mr["state"], "queued");
    // Queued: neither failed nor conflicted, so nothing to retry.
    let out = t.gt(&["mq", "retry", &label]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "cannot retry merge request `{label}`: it is queued, not failed or conflict"
        )),
        "{}",
        stderr(&out)
    );

    ok(t.gt(&["refinery", "run", "gastown", "--once"]));
    let status = json(&ok(t.gt(&["--json", "mq", "status", &label])));
    assert_eq!(status["state"], "merged", "{status}");
    assert_eq!(t.status(&bead), "closed");

    for verb in ["retry", "reject"] {
        let out = t.gt(&["mq", verb, &label]);
        assert_eq!(out.status.code(), Some(1), "{verb}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&format!(
                "cannot {verb} merge request `{label}`: it is merged, not "
            )),
            "{err}"
        );
        assert!(err.contains(&format!("`gt mq status {label}`")), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        // The same as data, with the hint.
        let out = t.gt(&["--json", "mq", verb, &label]);
        assert_eq!(out.status.code(), Some(1));
        let err: Value = serde_json::from_slice(&out.stderr)
            .or_else(|_| serde_json::from_slice(&out.stdout))
            .unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
        assert!(err.to_string().contains("it is merged"), "{err}");
        assert!(err.to_string().contains("gt mq status"), "{err}");
    }
    let status = json(&ok(t.gt(&["--json", "mq", "status", &label])));
    assert_eq!(
        (&status["state"], &status["retries"]),
        (&Value::from("merged"), &Value::from(0))
    );

    // A request that does not exist.
    let out = t.gt(&["mq", "retry", "mr-99"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot retry merge request `mr-99`: it does not exist"),
        "{}",
        stderr(&out)
    );

    // The bead's history tells the request's story, one event per change.
    let history = json(&ok(t.bd(&["history", &bead, "--json"])));
    let kinds: Vec<&str> = history
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .filter(|k| k.starts_with("mr_"))
        .collect();
    assert_eq!(kinds, ["mr_submitted", "mr_testing", "mr_merged"]);
}
