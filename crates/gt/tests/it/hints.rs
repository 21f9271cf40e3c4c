//! Mistyped ids and polecats get a hint that names what was probably meant, or how to list
//! what exists: `gt sling` for beads, `gt peek` for polecats.

use super::stderr;
use super::work_loop::{Town, script};

#[test]
fn sling_and_peek_suggest_the_bead_or_polecat_meant() {
    let Some(town) = Town::new() else { return };
    let bead = town.create("stay a while", &script("stay"));
    let slung = town.sling(&[&bead, "gastown"]);
    let polecat = slung[0]["polecat"].as_str().expect("a polecat").to_owned();
    let name = polecat.rsplit('/').next().unwrap().to_owned();
    // One character off, then nothing like anything.
    let typo = format!(
        "{}{}",
        &bead[..bead.len() - 1],
        if bead.ends_with('q') { 'r' } else { 'q' }
    );
    let mistyped_polecat = format!("{}x", &polecat[..polecat.len() - 1]);
    let mut seen = String::new();
    for args in [
        vec!["sling", typo.as_str(), "gastown"],
        vec!["sling", "gt-nothinglikeit", "gastown"],
        vec!["peek", mistyped_polecat.as_str()],
        vec!["peek", name.as_str()],
        vec!["peek", "gastown/polecats/zzzzzzzz"],
    ] {
        let out = town.gt(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        seen += &format!("$ gt {}\n{}", args.join(" "), stderr(&out));
    }
    let seen = seen
        .replace(&typo, "[TYPO]")
        .replace(&bead, "[BEAD]")
        .replace(&mistyped_polecat, "[MISTYPED]")
        .replace(&polecat, "[POLECAT]")
        .replace(&format!(" {name}\n"), " [NAME]\n")
        .replace(&format!("`{name}`"), "`[NAME]`");
    insta::assert_snapshot!(seen, @r"
    $ gt sling [TYPO] gastown
    error: no bead `[TYPO]`

    hint: did you mean `[BEAD]`? `bd list` lists the open beads (`bd list --all` every one)
    $ gt sling gt-nothinglikeit gastown
    error: no bead `gt-nothinglikeit`

    hint: `bd list` lists the open beads (`bd list --all` every one)
    $ gt peek [MISTYPED]
    error: `[MISTYPED]` has no agent session: the town has no polecat of that name (`gt polecat list`)

    hint: did you mean `[POLECAT]`? `gt polecat list` lists the polecats, `gt agents` every agent
    $ gt peek [NAME]
    error: `[NAME]` is not an address: it matches none of the address forms

    hint: did you mean `[POLECAT]`? addresses: mayor/, deacon/, overseer, <rig>/witness, <rig>/refinery, <rig>/polecats/<name> (or <rig>/<name>), <rig>/crew/<name>, list:<name>, queue:<name>, @town, @rig/<rig>
    $ gt peek gastown/polecats/zzzzzzzz
    error: `gastown/polecats/zzzzzzzz` has no agent session: the town has no polecat of that name (`gt polecat list`)

    hint: `gt polecat list` lists the polecats, `gt agents` every agent
    ");
}
