//! `gt mq integration create|status|land <epic>`: an epic's children land on
//! `integration/<epic>` through the queue, pushes to it from outside the refinery are refused,
//! and the whole branch lands on the target once, gated, closing the epic.

use serde_json::Value;

use super::mq::submit;
use super::stderr;
use super::work_loop::{Town, json, ok, stdout};

fn refinery_once(t: &Town) {
    ok(t.gt(&["--json", "refinery", "run", "gastown", "--once"]));
}

fn remote_sha(t: &Town, branch: &str) -> String {
    t.git(
        &t.remote,
        &[
            "rev-parse",
            "--verify",
            "-q",
            &format!("refs/heads/{branch}"),
        ],
    )
    .trim()
    .to_owned()
}

fn files_on(t: &Town, branch: &str) -> String {
    t.git(
        &t.remote,
        &["ls-tree", "--name-only", &format!("refs/heads/{branch}")],
    )
}

#[test]
fn an_epics_children_land_on_its_integration_branch_and_the_branch_lands_once() {
    let Some(t) = Town::new() else { return };
    let epic = stdout(&ok(t.bd(&[
        "create",
        "Big feature",
        "-t",
        "epic",
        "--silent",
    ])))
    .trim()
    .to_owned();
    let child = |title: &str| {
        stdout(&ok(t.bd(&["create", title, "--parent", &epic, "--silent"])))
            .trim()
            .to_owned()
    };
    let (a, b) = (child("Part A"), child("Part B"));
    let branch = format!("integration/{epic}");
    let main_before = remote_sha(&t, "main");

    let created = json(&ok(t.gt(&["--json", "mq", "integration", "create", &epic])));
    assert_eq!(created["branch"], branch.as_str());
    assert_eq!(created["created"], true);
    assert_eq!(remote_sha(&t, &branch), main_before);
    // Twice is fine.
    let again = json(&ok(t.gt(&["--json", "mq", "integration", "create", &epic])));
    assert_eq!(again["created"], false);

    // Nobody but the refinery pushes to it.
    let clone = t.env.work().join("intruder");
    t.git(
        t.env.work(),
        &[
            "clone",
            "-q",
            t.remote.to_str().expect("UTF-8"),
            clone.to_str().expect("UTF-8"),
        ],
    );
    std::fs::write(clone.join("sneaky.txt"), "x\n").expect("write");
    t.git(&clone, &["add", "."]);
    t.git(&clone, &["commit", "-q", "-m", "sneak"]);
    let out = t
        .env
        .command("git")
        .current_dir(&clone)
        .args(["push", "-q", "origin", &format!("HEAD:refs/heads/{branch}")])
        .output()
        .expect("run git push");
    assert!(!out.status.success(), "the push went through");
    assert!(
        stderr(&out).contains("takes changes only through the refinery"),
        "{}",
        stderr(&out)
    );
    assert_eq!(remote_sha(&t, &branch), main_before);
    // Nor does a worktree of the rig (a polecat's, here the refinery's without its marker):
    // the rig's shared repository refuses before anything is sent.
    let worktree = t.rig().join("refinery/rig");
    let commit = t.git(
        &worktree,
        &["commit-tree", "HEAD^{tree}", "-p", "HEAD", "-m", "sneak"],
    );
    let out = t
        .env
        .command("git")
        .current_dir(&worktree)
        .args([
            "push",
            "-q",
            "origin",
            &format!("{}:refs/heads/{branch}", commit.trim()),
        ])
        .output()
        .expect("run git push");
    assert!(!out.status.success(), "the push went through");
    assert!(
        stderr(&out).contains("takes changes only through the refinery"),
        "{}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("remote:"),
        "refused by pre-push, not the remote"
    );

    // A child's change lands on the integration branch, not on main.
    let mr_a = submit(&t, &a, &format!("polecat/nux/{a}"));
    assert_eq!(mr_a["target"], branch.as_str());
    refinery_once(&t);
    assert_eq!(t.status(&a), "closed");
    assert!(files_on(&t, &branch).contains(&format!("{a}.txt")));
    assert_eq!(remote_sha(&t, "main"), main_before, "main untouched");

    // Not while a child is still out.
    let out = t.gt(&["mq", "integration", "land", &epic]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("{b} (open)")),
        "{}",
        stderr(&out)
    );

    submit(&t, &b, &format!("polecat/nux/{b}"));
    refinery_once(&t);
    let status = json(&ok(t.gt(&["--json", "mq", "integration", "status", &epic])));
    assert_eq!(status["ahead"], 2, "{status}");
    let children: Vec<&Value> = status["children"]
        .as_array()
        .expect("children")
        .iter()
        .collect();
    assert!(children.iter().all(|c| c["status"] == "closed"), "{status}");

    let landing = json(&ok(t.gt(&["--json", "mq", "integration", "land", &epic])));
    assert_eq!(landing["mr"]["target"], "main");
    assert_eq!(landing["mr"]["branch"], branch.as_str());
    refinery_once(&t);
    let main = files_on(&t, "main");
    assert!(
        main.contains(&format!("{a}.txt")) && main.contains(&format!("{b}.txt")),
        "{main}"
    );
    assert_eq!(t.status(&epic), "closed");
    let label = format!("mr-{}", landing["mr"]["id"]);
    let mr = json(&ok(t.gt(&["--json", "mq", "status", &label])));
    assert_eq!(mr["state"], "merged");
    // Once: landing it again has nothing to land.
    let main_after = remote_sha(&t, "main");
    let out = t.gt(&["mq", "integration", "land", &epic]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    refinery_once(&t);
    assert_eq!(remote_sha(&t, "main"), main_after);
}
