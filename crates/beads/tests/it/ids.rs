//! Ids: minting, children and resolution of what a user types (spec §2).

use beads::{Error, NewIssue};

use crate::{assert_no_drift, child, create, fresh, task};

fn is_short_id(id: &str) -> bool {
    let Some(hash) = id.strip_prefix("bd-") else {
        return false;
    };
    hash.len() == 4
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
}

#[test]
fn new_ids_are_prefix_and_four_base36_chars_while_the_store_is_small() {
    let (_d, mut s) = fresh();
    let mut seen = std::collections::HashSet::new();
    for n in 0..30 {
        // Same clock, same actor: only the title differs; ids must still be unique.
        let id = task(&mut s, &format!("issue {n}"));
        assert!(is_short_id(&id), "`{id}` should look like bd-xxxx");
        assert!(seen.insert(id));
    }
    // Identical inputs collide on the hash; the nonce retry still finds a free id.
    let a = task(&mut s, "same");
    let b = task(&mut s, "same");
    assert_ne!(a, b);
    assert!(b.starts_with("bd-"));
    assert_no_drift(&s);
}

#[test]
fn another_prefix_can_be_given_per_issue() {
    let (_d, mut s) = fresh();
    let id = create(
        &mut s,
        NewIssue {
            title: "x".into(),
            prefix: Some("gt".into()),
            ..NewIssue::default()
        },
    );
    assert!(id.starts_with("gt-") && id.len() == 7, "{id}");
    assert!(matches!(
        s.create(NewIssue {
            title: "x".into(),
            prefix: Some("Bad!".into()),
            ..NewIssue::default()
        }),
        Err(Error::Invalid {
            field: "prefix",
            ..
        })
    ));
}

#[test]
fn children_are_numbered_under_their_parent() {
    let (_d, mut s) = fresh();
    let p = task(&mut s, "parent");
    let c1 = child(&mut s, &p, "one");
    let c2 = child(&mut s, &p, "two");
    assert_eq!(c1, format!("{p}.1"));
    assert_eq!(c2, format!("{p}.2"));
    let g = child(&mut s, &c1, "grandchild");
    assert_eq!(g, format!("{p}.1.1"));
    let gg = child(&mut s, &g, "great-grandchild");
    assert_eq!(gg, format!("{p}.1.1.1"));
    assert!(matches!(
        s.create(NewIssue {
            title: "too deep".into(),
            parent: Some(gg.clone()),
            ..NewIssue::default()
        }),
        Err(Error::Invalid {
            field: "parent",
            ..
        })
    ));
    // The parent-child edge exists and `children` lists them.
    let kids: Vec<String> = s
        .children(&p)
        .unwrap()
        .into_iter()
        .map(|v| v.issue.id)
        .collect();
    assert_eq!(kids, vec![c1.clone(), c2.clone()]);
    assert_eq!(s.show(&c1).unwrap().parent.as_deref(), Some(p.as_str()));

    // Numbers are not reused after a delete.
    s.delete(std::slice::from_ref(&c2)).unwrap();
    let c3 = child(&mut s, &p, "three");
    assert_eq!(c3, format!("{p}.3"));
    // The parent may be named by a partial id.
    let short = &p[3..];
    let c4 = child(&mut s, short, "four");
    assert_eq!(c4, format!("{p}.4"));
    assert_no_drift(&s);
}

#[test]
fn ids_resolve_full_without_prefix_and_by_unique_partial() {
    let (_d, mut s) = fresh();
    for id in ["bd-abc1", "bd-abd2", "bd-xyz9"] {
        create(
            &mut s,
            NewIssue {
                title: id.into(),
                id: Some(id.into()),
                ..NewIssue::default()
            },
        );
    }
    assert_eq!(s.resolve("bd-abc1").unwrap(), "bd-abc1");
    assert_eq!(s.resolve("abc1").unwrap(), "bd-abc1");
    assert_eq!(s.resolve("abc").unwrap(), "bd-abc1");
    assert_eq!(s.resolve("bd-xy").unwrap(), "bd-xyz9");
    assert_eq!(s.resolve("x").unwrap(), "bd-xyz9");
    assert_eq!(
        s.resolve("yz9").unwrap(),
        "bd-xyz9",
        "a unique fragment of the hash resolves"
    );
    assert_eq!(s.get("  abd2 ").unwrap().title, "bd-abd2");

    match s.resolve("ab") {
        Err(Error::Ambiguous { input, candidates }) => {
            assert_eq!(input, "ab");
            assert_eq!(candidates, vec!["bd-abc1".to_owned(), "bd-abd2".into()]);
        }
        other => panic!("expected ambiguity, got {other:?}"),
    }
    assert!(matches!(s.resolve("bd-a"), Err(Error::Ambiguous { .. })));
    match s.resolve("nope") {
        Err(Error::NotFound { id }) => assert_eq!(id, "nope"),
        other => panic!("expected not found, got {other:?}"),
    }
    assert!(matches!(s.resolve(""), Err(Error::Invalid { .. })));
    // LIKE wildcards in the input are literal.
    assert!(matches!(s.resolve("%"), Err(Error::NotFound { .. })));
    assert!(matches!(s.resolve("bd-ab_1"), Err(Error::NotFound { .. })));
}

#[test]
fn explicit_ids_are_validated_and_must_be_free() {
    let (_d, mut s) = fresh();
    let id = create(
        &mut s,
        NewIssue {
            title: "first".into(),
            id: Some("bd-fixed".into()),
            ..NewIssue::default()
        },
    );
    assert_eq!(id, "bd-fixed");
    let again = s.create(NewIssue {
        title: "second".into(),
        id: Some("bd-fixed".into()),
        ..NewIssue::default()
    });
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
    assert_eq!(s.get("bd-fixed").unwrap().title, "first");
    let bad = s.create(NewIssue {
        title: "bad".into(),
        id: Some("bd fixed".into()),
        ..NewIssue::default()
    });
    assert!(matches!(bad, Err(Error::Invalid { field: "id", .. })));
    assert_eq!(crate::count(&mut s, "SELECT count(*) FROM issues"), 1);
}
