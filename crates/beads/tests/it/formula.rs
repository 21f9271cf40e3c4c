//! Formulas: parsing, resolution (extends, expansions, aspects, loops, conditions, overlays),
//! validation errors, and molecules written to a real store.

use std::collections::BTreeMap;
use std::path::Path;

use beads::formula::{self, CookMode, CookOptions, Cooked, Loader, Overlay};
use beads::ops::molecule::InstanceKind;
use beads::{Direction, Filter};
use tempfile::TempDir;

use crate::{assert_no_drift, fresh, ready_with};

/// A directory of formula files.
fn formulas(files: &[(&str, &str)]) -> TempDir {
    let dir = TempDir::new().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(format!("{name}.formula.toml")), text).unwrap();
    }
    dir
}

fn loader(dir: &Path) -> Loader {
    Loader::new(vec![dir.to_owned()]).without_builtins()
}

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn cook_in(dir: &TempDir, name: &str, given: &[(&str, &str)]) -> formula::Result<Cooked> {
    formula::cook(
        &mut loader(dir.path()),
        name,
        &CookOptions {
            vars: vars(given),
            mode: CookMode::Runtime,
            overlay: None,
        },
    )
}

fn cook(dir: &TempDir, name: &str, given: &[(&str, &str)]) -> Cooked {
    cook_in(dir, name, given).unwrap()
}

/// `(id, needs)` of every step, depth first.
fn shape(c: &Cooked) -> Vec<(String, Vec<String>)> {
    c.flat()
        .into_iter()
        .map(|(s, _)| (s.id.clone(), s.needs.clone()))
        .collect()
}

fn ids(c: &Cooked) -> Vec<String> {
    c.flat().into_iter().map(|(s, _)| s.id.clone()).collect()
}

fn err(dir: &TempDir, name: &str, given: &[(&str, &str)]) -> String {
    cook_in(dir, name, given).unwrap_err().to_string()
}

const THREE: &str = r#"
formula = "three"
version = 1

[vars.feature]
description = "What to build"
required = true

[[steps]]
id = "design"
title = "Design {{feature}}"

[[steps]]
id = "build"
title = "Build {{feature}}"
needs = ["design"]

[[steps]]
id = "ship"
title = "Ship"
needs = ["build"]
"#;

#[test]
fn extends_overrides_steps_by_id_and_appends_new_ones() {
    let dir = formulas(&[
        ("three", THREE),
        (
            "child",
            r#"
formula = "child"
extends = ["three"]

[[steps]]
id = "build"
title = "Build {{feature}} carefully"
needs = ["design"]

[[steps]]
id = "announce"
title = "Announce"
needs = ["ship"]
"#,
        ),
    ]);
    let c = cook(&dir, "child", &[("feature", "login")]);
    assert_eq!(ids(&c), ["design", "build", "ship", "announce"]);
    let build = &c.steps[1];
    assert_eq!(build.title, "Build login carefully");
    assert_eq!(c.steps[0].title, "Design login");
    // The parent's required variable is inherited.
    assert!(err(&dir, "child", &[]).contains("missing required variable `feature`"));
}

#[test]
fn expansion_inlines_the_template_and_rewires_needs() {
    let dir = formulas(&[
        ("three", THREE),
        (
            "twice",
            r#"
formula = "twice"
type = "expansion"

[[template]]
id = "{target}.draft"
title = "Draft: {target.title}"
description = "First pass at {target.description}"

[[template]]
id = "{target}.polish"
title = "Polish {{level}}"
needs = ["{target}.draft"]
"#,
        ),
        (
            "host",
            r#"
formula = "host"
extends = ["three"]

[[steps]]
id = "build"
title = "Build it"
description = "the widget"
needs = ["design"]
expand = "twice"
expand_vars = { level = "hard" }
"#,
        ),
    ]);
    let c = cook(&dir, "host", &[("feature", "f")]);
    assert_eq!(
        shape(&c),
        [
            ("design".into(), vec![]),
            ("build.draft".into(), vec!["design".into()]),
            ("build.polish".into(), vec!["build.draft".into()]),
            ("ship".into(), vec!["build.polish".into()]),
        ]
    );
    let flat = c.flat();
    assert_eq!(flat[1].0.title, "Draft: Build it");
    assert_eq!(flat[1].0.description, "First pass at the widget");
    assert_eq!(flat[2].0.title, "Polish hard");
}

#[test]
fn compose_map_expands_every_matching_step_and_aspects_wrap_targets() {
    let dir = formulas(&[
        (
            "base",
            r#"
formula = "base"
[[steps]]
id = "a.implement"
title = "A"
[[steps]]
id = "b.implement"
title = "B"
needs = ["a.implement"]
[[steps]]
id = "submit"
title = "Submit"
needs = ["b.implement"]
"#,
        ),
        (
            "review",
            r#"
formula = "review"
type = "expansion"
[[template]]
id = "{target}.reviewed"
title = "Reviewed {target.title}"
"#,
        ),
        (
            "audit",
            r#"
formula = "audit"
type = "aspect"
[[advice]]
target = "submit"
[advice.around]
before = [{ id = "{step.id}-scan", title = "Scan before {step.id}" }]
after = [{ id = "{step.id}-verify", title = "Verify {step.id}" }]
"#,
        ),
        (
            "top",
            r#"
formula = "top"
extends = ["base"]
[compose]
aspects = ["audit"]
[[compose.map]]
select = "*.implement"
with = "review"
"#,
        ),
    ]);
    let c = cook(&dir, "top", &[]);
    assert_eq!(
        shape(&c),
        [
            ("a.implement.reviewed".into(), vec![]),
            (
                "b.implement.reviewed".into(),
                vec!["a.implement.reviewed".into()]
            ),
            ("submit-scan".into(), vec!["b.implement.reviewed".into()]),
            ("submit".into(), vec!["submit-scan".into()]),
            ("submit-verify".into(), vec!["submit".into()]),
        ]
    );
}

#[test]
fn conditions_drop_steps_and_dependents_inherit_their_needs() {
    let dir = formulas(&[(
        "gates",
        r#"
formula = "gates"
[vars]
lint_cmd = ""
test_cmd = ""
mode = "fast"
[[steps]]
id = "implement"
title = "Implement"
[[steps]]
id = "lint"
title = "Run {{lint_cmd}}"
needs = ["implement"]
condition = "{{lint_cmd}}"
[[steps]]
id = "test"
title = "Run {{test_cmd}}"
needs = ["lint"]
condition = "{{test_cmd}}"
[[steps]]
id = "slow-check"
title = "Slow"
needs = ["test"]
condition = "{{mode}} != fast"
[[steps]]
id = "commit"
title = "Commit"
needs = ["slow-check"]
"#,
    )]);
    let none = cook(&dir, "gates", &[]);
    assert_eq!(
        shape(&none),
        [
            ("implement".into(), vec![]),
            ("commit".into(), vec!["implement".into()]),
        ]
    );
    let some = cook(
        &dir,
        "gates",
        &[("test_cmd", "cargo test"), ("mode", "slow")],
    );
    assert_eq!(ids(&some), ["implement", "test", "slow-check", "commit"]);
    assert_eq!(some.steps[1].needs, ["implement"]);
    assert_eq!(some.steps[1].title, "Run cargo test");
    // Compile mode keeps every step and its condition.
    let compiled =
        formula::cook(&mut loader(dir.path()), "gates", &CookOptions::default()).unwrap();
    assert_eq!(compiled.step_count(), 5);
    assert_eq!(compiled.steps[1].condition.as_deref(), Some("{{lint_cmd}}"));
    assert_eq!(compiled.steps[1].title, "Run {{lint_cmd}}");
}

#[test]
fn loops_unroll_by_count_and_by_range_expression() {
    let dir = formulas(&[(
        "loops",
        r#"
formula = "loops"
[vars.disks]
default = "2"
type = "int"
[[steps]]
id = "setup"
title = "Setup"
[[steps]]
id = "again"
title = "Repeat"
needs = ["setup"]
[steps.loop]
count = 2
body = [
  { id = "work", title = "Work {{iteration}}" },
  { id = "check", title = "Check", needs = ["work"] },
]
[[steps]]
id = "moves"
title = "Moves"
needs = ["again"]
[steps.loop]
range = "1..2^{disks} - 1"
var = "n"
body = [{ id = "move", title = "Move {n} of {{disks}}" }]
[[steps]]
id = "done"
title = "Done"
needs = ["moves"]
"#,
    )]);
    let c = cook(&dir, "loops", &[]);
    assert_eq!(
        shape(&c),
        [
            ("setup".into(), vec![]),
            ("again.1.work".into(), vec!["setup".into()]),
            ("again.1.check".into(), vec!["again.1.work".into()]),
            ("again.2.work".into(), vec!["again.1.check".into()]),
            ("again.2.check".into(), vec!["again.2.work".into()]),
            ("moves.1.move".into(), vec!["again.2.check".into()]),
            ("moves.2.move".into(), vec!["moves.1.move".into()]),
            ("moves.3.move".into(), vec!["moves.2.move".into()]),
            ("done".into(), vec!["moves.3.move".into()]),
        ]
    );
    let flat = c.flat();
    assert_eq!(flat[3].0.title, "Work 2");
    assert_eq!(flat[7].0.title, "Move 3 of 2");
    let bigger = cook(&dir, "loops", &[("disks", "3")]);
    assert_eq!(bigger.step_count(), 1 + 4 + 7 + 1);
    assert!(err(&dir, "loops", &[("disks", "three")]).contains("must be an integer"));
}

#[test]
fn a_loop_without_a_bound_is_an_error_naming_file_and_line() {
    let dir = formulas(&[(
        "forever",
        "formula = \"forever\"\n\n[[steps]]\nid = \"spin\"\ntitle = \"Spin\"\n[steps.loop]\nuntil = \"done\"\nbody = [{ id = \"x\", title = \"X\" }]\n",
    )]);
    let e = err(&dir, "forever", &[]);
    assert!(
        e.contains("forever.formula.toml:4: the loop of step `spin` has no bound"),
        "{e}"
    );
}

#[test]
fn a_needs_cycle_is_reported_with_file_line_and_path() {
    let dir = formulas(&[(
        "cycle",
        "formula = \"cycle\"\n\n[[steps]]\nid = \"a\"\ntitle = \"A\"\nneeds = [\"c\"]\n\n[[steps]]\nid = \"b\"\ntitle = \"B\"\nneeds = [\"a\"]\n\n[[steps]]\nid = \"c\"\ntitle = \"C\"\nneeds = [\"b\"]\n",
    )]);
    let e = err(&dir, "cycle", &[]);
    assert!(
        e.ends_with("cycle.formula.toml:4: steps form a cycle through `needs`: a → c → b → a"),
        "{e}"
    );
}

#[test]
fn validation_errors_name_the_problem() {
    let dir = formulas(&[
        ("three", THREE),
        (
            "dangling",
            "formula = \"dangling\"\n[[steps]]\nid = \"a\"\ntitle = \"A\"\nneeds = [\"ghost\"]\n",
        ),
        (
            "typo",
            "formula = \"typo\"\n\n[[steps]]\nid = \"a\"\ntitle = \"A\"\nneedz = [\"b\"]\n",
        ),
        (
            "choice",
            "formula = \"choice\"\n[vars.env]\nenum = [\"dev\", \"prod\"]\ndefault = \"dev\"\n[vars.tag]\npattern = \"^v[0-9]+$\"\ndefault = \"v1\"\n[[steps]]\nid = \"a\"\ntitle = \"A\"\n",
        ),
    ]);
    let e = err(&dir, "three", &[]);
    assert!(
        e.ends_with("three.formula.toml:5: missing required variable `feature`: pass `--var feature=<value>`"),
        "{e}"
    );
    let e = err(&dir, "dangling", &[]);
    assert!(
        e.contains("dangling.formula.toml:3: step `a` needs `ghost`"),
        "{e}"
    );
    let e = err(&dir, "typo", &[]);
    assert!(
        e.contains("typo.formula.toml:6: unknown key `needz`"),
        "{e}"
    );
    assert!(err(&dir, "choice", &[("env", "qa")]).contains("must be one of `dev`, `prod`"));
    assert!(err(&dir, "choice", &[("tag", "1.0")]).contains("must match the pattern"));
    assert!(cook_in(&dir, "choice", &[("env", "prod"), ("tag", "v22")]).is_ok());
    assert!(matches!(
        cook_in(&dir, "missing", &[]),
        Err(formula::FormulaError::NotFound { .. })
    ));
}

#[test]
fn overlays_replace_append_and_skip_and_reject_unknown_step_ids() {
    let dir = formulas(&[("three", THREE)]);
    let with = |text: &str| {
        formula::cook(
            &mut loader(dir.path()),
            "three",
            &CookOptions {
                vars: vars(&[("feature", "f")]),
                mode: CookMode::Runtime,
                overlay: Some(Overlay::parse(text, "o.toml").unwrap()),
            },
        )
    };
    let c = with(
        "[[step-overrides]]\nstep_id = \"build\"\nmode = \"skip\"\n\n[[step-overrides]]\nstep_id = \"ship\"\nmode = \"append\"\ndescription = \"Also tag it.\"\n",
    )
    .unwrap();
    assert_eq!(
        shape(&c),
        [
            ("design".into(), vec![]),
            ("ship".into(), vec!["design".into()]),
        ]
    );
    assert_eq!(c.steps[1].description, "Also tag it.");
    let e = with("[[step-overrides]]\nstep_id = \"deploy\"\nmode = \"replace\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("o.toml:2: overlay names step `deploy`"),
        "{e}"
    );
}

#[test]
fn json_formulas_parse_too() {
    let dir = TempDir::new().unwrap();
    std::fs::write(
        dir.path().join("j.formula.json"),
        r#"{"formula": "j", "steps": [{"id": "a", "title": "A"}, {"id": "b", "title": "B", "needs": ["a"]}]}"#,
    )
    .unwrap();
    let c = formula::cook(&mut loader(dir.path()), "j", &CookOptions::default()).unwrap();
    assert_eq!(ids(&c), ["a", "b"]);
}

const GATED: &str = r#"
formula = "gated"
[vars.pr]
required = true
[[steps]]
id = "open-pr"
title = "Open a PR"
[[steps]]
id = "merge"
title = "Merge PR {{pr}}"
needs = ["open-pr"]
gate = { type = "gh:pr", await_id = "{{pr}}", timeout = "24h" }
[[steps]]
id = "cleanup"
title = "Clean up"
needs = ["merge"]
[[steps.children]]
id = "branches"
title = "Delete branches"
"#;

#[test]
fn pour_writes_named_children_gates_and_edges_and_ready_mol_shows_the_first_step() {
    let dir = formulas(&[("gated", GATED)]);
    let (_d, mut store) = fresh();
    let c = cook(&dir, "gated", &[("pr", "42")]);
    let made = store.instantiate(&c, InstanceKind::Mol, false).unwrap();
    let root = made.root.id.clone();
    assert!(root.starts_with("bd-mol-"), "{root}");
    assert_eq!(made.steps, 4);
    assert_eq!(made.gates, 1);
    assert_eq!(made.root.issue_type, "epic");
    assert!(!made.root.ephemeral);
    let step = |s: &str| format!("{root}.{s}");
    let merge = store.get(&step("merge")).unwrap();
    assert_eq!(merge.title, "Merge PR 42");
    let gate = store.get(&step("gate-merge")).unwrap();
    assert_eq!(gate.issue_type, "gate");
    assert_eq!(gate.await_type, "gh:pr");
    assert_eq!(gate.await_id, "42");
    assert_eq!(gate.timeout, 24 * 3_600 * 1_000_000_000);
    let mut deps: Vec<(String, String)> = store
        .dependencies(&step("merge"), Direction::Down, None)
        .unwrap()
        .into_iter()
        .map(|d| (d.depends_on_id, d.kind))
        .collect();
    deps.sort();
    assert_eq!(
        deps,
        [
            (root.clone(), "parent-child".to_owned()),
            (step("gate-merge"), "blocks".to_owned()),
            (step("open-pr"), "blocks".to_owned()),
        ]
    );
    let nested = store
        .dependencies(&step("branches"), Direction::Down, None)
        .unwrap();
    assert_eq!(nested[0].depends_on_id, step("cleanup"));
    assert_eq!(nested[0].kind, "parent-child");

    let mol = Filter {
        mol: Some(root.clone()),
        ..Filter::default()
    };
    assert_eq!(ready_with(&store, &mol), [step("open-pr")]);
    let m = store.molecule(&root).unwrap();
    assert_eq!(m.current.as_deref(), Some(step("open-pr").as_str()));
    // `branches` sits under the blocked `cleanup`, so only `open-pr` is ready.
    assert_eq!((m.progress.total, m.progress.ready), (4, 1));
    store.close(&step("open-pr"), &Default::default()).unwrap();
    // The gate still holds the merge step.
    assert!(ready_with(&store, &mol).is_empty());
    store
        .close(&step("gate-merge"), &Default::default())
        .unwrap();
    assert_eq!(ready_with(&store, &mol), [step("merge")]);
    assert_eq!(store.molecule(&root).unwrap().progress.done, 1);
    assert_no_drift(&store);
}

#[test]
fn a_wisp_is_ephemeral_and_root_only_writes_just_the_root() {
    let dir = formulas(&[("gated", GATED)]);
    let (_d, mut store) = fresh();
    let c = cook(&dir, "gated", &[("pr", "7")]);
    let full = store
        .instantiate(&c, InstanceKind::Wisp { root_only: false }, false)
        .unwrap();
    assert!(full.root.id.starts_with("bd-wisp-"));
    assert!(full.root.ephemeral);
    assert!(
        store
            .get(&format!("{}.merge", full.root.id))
            .unwrap()
            .ephemeral
    );
    let mol = Filter {
        mol: Some(full.root.id.clone()),
        ..Filter::default()
    };
    assert_eq!(
        ready_with(&store, &mol),
        [format!("{}.open-pr", full.root.id)]
    );

    let bare = store
        .instantiate(&c, InstanceKind::Wisp { root_only: true }, false)
        .unwrap();
    assert_eq!(bare.ids, std::slice::from_ref(&bare.root.id));
    assert_eq!(bare.steps, 0);
    assert!(store.molecule(&bare.root.id).unwrap().steps.is_empty());
    let meta = bare.root.metadata.unwrap();
    assert_eq!(meta["formula"], "gated");
    assert_eq!(meta["vars"]["pr"], "7");
    assert_no_drift(&store);
}

#[test]
fn squash_closes_steps_writes_a_digest_and_deletes_children() {
    let dir = formulas(&[("three", THREE)]);
    let (_d, mut store) = fresh();
    let c = cook(&dir, "three", &[("feature", "x")]);
    let root = store
        .instantiate(&c, InstanceKind::Wisp { root_only: false }, false)
        .unwrap()
        .root
        .id;
    store
        .close(&format!("{root}.design"), &Default::default())
        .unwrap();
    let kept = store.mol_squash(&root, Some("went fine"), true).unwrap();
    assert_eq!(
        kept.closed,
        [format!("{root}.build"), format!("{root}.ship")]
    );
    assert!(kept.deleted.is_empty());
    assert_eq!(kept.root.status, "closed");
    assert!(!kept.root.ephemeral, "the digest outlives the wisp");
    assert!(kept.root.notes.starts_with("went fine\n\nDigest of"));
    assert!(kept.root.notes.contains("1 of 3 step(s) were done"));
    assert_eq!(store.get(&format!("{root}.ship")).unwrap().status, "closed");

    let other = store
        .instantiate(&c, InstanceKind::Mol, false)
        .unwrap()
        .root
        .id;
    let gone = store.mol_squash(&other, None, false).unwrap();
    assert_eq!(gone.deleted.len(), 3);
    assert!(!store.exists(&format!("{other}.design")).unwrap());
    assert!(store.exists(&other).unwrap());
    assert_no_drift(&store);
}

#[test]
fn burn_deletes_the_root_and_every_step() {
    let dir = formulas(&[("gated", GATED)]);
    let (_d, mut store) = fresh();
    let c = cook(&dir, "gated", &[("pr", "1")]);
    let made = store.instantiate(&c, InstanceKind::Mol, false).unwrap();
    let burned = store.mol_burn(&made.root.id).unwrap();
    assert_eq!(burned.len(), made.ids.len());
    for id in &made.ids {
        assert!(!store.exists(id).unwrap(), "{id} survived");
    }
    assert_no_drift(&store);
}

#[test]
fn a_persisted_proto_pours_with_variables_substituted() {
    let dir = formulas(&[("three", THREE)]);
    let (_d, mut store) = fresh();
    let compiled =
        formula::cook(&mut loader(dir.path()), "three", &CookOptions::default()).unwrap();
    let proto = store
        .instantiate(&compiled, InstanceKind::Proto, false)
        .unwrap();
    assert_eq!(proto.root.id, "three");
    assert!(proto.root.is_template);
    assert_eq!(
        store.get("three.design").unwrap().title,
        "Design {{feature}}"
    );
    assert!(
        store
            .show("three")
            .unwrap()
            .labels
            .contains(&"template".to_owned())
    );
    assert!(matches!(
        store.instantiate(&compiled, InstanceKind::Proto, false),
        Err(beads::Error::Conflict(_))
    ));
    store
        .instantiate(&compiled, InstanceKind::Proto, true)
        .unwrap();

    let missing = store
        .pour_proto("three", &BTreeMap::new(), InstanceKind::Mol)
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("missing required variable `feature`"),
        "{missing}"
    );
    let mol = store
        .pour_proto("three", &vars(&[("feature", "search")]), InstanceKind::Mol)
        .unwrap();
    assert!(mol.root.id.starts_with("bd-mol-"));
    assert!(!mol.root.is_template);
    assert_eq!(mol.steps, 3);
    assert_eq!(
        store.get(&format!("{}.design", mol.root.id)).unwrap().title,
        "Design search"
    );
    assert!(
        !store
            .show(&mol.root.id)
            .unwrap()
            .labels
            .contains(&"template".to_owned())
    );
    let f = Filter {
        mol: Some(mol.root.id.clone()),
        ..Filter::default()
    };
    assert_eq!(ready_with(&store, &f), [format!("{}.design", mol.root.id)]);
    assert_no_drift(&store);
}

#[test]
fn a_compile_mode_cook_cannot_be_poured() {
    let dir = formulas(&[("three", THREE)]);
    let (_d, mut store) = fresh();
    let compiled =
        formula::cook(&mut loader(dir.path()), "three", &CookOptions::default()).unwrap();
    assert!(
        store
            .instantiate(&compiled, InstanceKind::Mol, false)
            .is_err()
    );
}

#[test]
fn builtin_formulas_cook_and_skip_empty_gate_commands() {
    let mut l = Loader::new(Vec::new());
    let names: Vec<String> = l.list().unwrap().into_iter().map(|i| i.name).collect();
    assert_eq!(
        names,
        [
            "mol-polecat-work",
            "mol-conflict-resolve",
            "mol-code-review"
        ]
    );
    let run = |l: &mut Loader, name: &str, given: &[(&str, &str)]| {
        formula::cook(
            l,
            name,
            &CookOptions {
                vars: vars(given),
                mode: CookMode::Runtime,
                overlay: None,
            },
        )
        .unwrap()
    };
    let bare = run(&mut l, "mol-polecat-work", &[("issue", "bd-1")]);
    assert_eq!(
        ids(&bare),
        [
            "load-context",
            "branch-setup",
            "implement",
            "commit",
            "submit"
        ]
    );
    let full = run(
        &mut l,
        "mol-polecat-work",
        &[
            ("issue", "bd-1"),
            ("lint_cmd", "cargo clippy"),
            ("test_cmd", "cargo test"),
        ],
    );
    assert_eq!(
        shape(&full)[3..5],
        [
            ("lint".to_owned(), vec!["implement".to_owned()]),
            ("test".to_owned(), vec!["lint".to_owned()]),
        ]
    );
    assert!(full.flat()[3].0.description.contains("`cargo clippy`"));
    run(
        &mut l,
        "mol-conflict-resolve",
        &[("task", "bd-1"), ("branch", "b")],
    );
    run(
        &mut l,
        "mol-code-review",
        &[("issue", "bd-1"), ("target", "main..b")],
    );
}

#[test]
fn closing_a_molecules_last_step_closes_its_root_but_not_an_ordinary_epic() {
    let dir = formulas(&[("three", THREE)]);
    let (_d, mut store) = fresh();
    let c = cook(&dir, "three", &[("feature", "x")]);
    for kind in [InstanceKind::Mol, InstanceKind::Wisp { root_only: false }] {
        let root = store.instantiate(&c, kind, false).unwrap().root.id;
        for step in ["design", "build"] {
            store
                .close(&format!("{root}.{step}"), &Default::default())
                .unwrap();
            assert_eq!(store.get(&root).unwrap().status, "open", "after {step}");
        }
        store
            .close(&format!("{root}.ship"), &Default::default())
            .unwrap();
        let closed = store.get(&root).unwrap();
        assert_eq!(closed.status, "closed", "{kind:?}");
        assert_eq!(closed.close_reason, "all steps complete");
    }

    let epic = crate::typed(&mut store, "plain epic", "epic");
    let child = crate::child(&mut store, &epic, "only child");
    store.close(&child, &Default::default()).unwrap();
    assert_eq!(
        store.get(&epic).unwrap().status,
        "open",
        "an epic closes when someone closes it"
    );
    assert_no_drift(&store);
}
