//! "Did you mean": the known name closest to a mistyped one, for the hints of commands given an
//! id or an address that does not exist (`gt sling`, `gt peek`).

/// The candidate closest to `wanted` by edit distance, if it is close enough to be a typo: at
/// most a third of its length away (and at least one edit).
pub fn closest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (wanted.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(wanted, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

/// The hint for an unknown bead `id`: the open bead whose id is closest, and how to list them.
pub fn bead_hint(store: &beads::Store, id: &str) -> String {
    let open: Vec<String> = store
        .list(&beads::Filter::default())
        .map(|views| views.into_iter().map(|v| v.issue.id).collect())
        .unwrap_or_default();
    let list = "`bd list` lists the open beads (`bd list --all` every one)";
    match closest(id, open.iter().map(String::as_str)) {
        Some(near) => format!("did you mean `{near}`? {list}"),
        None => list.to_owned(),
    }
}

/// The polecat `wanted` probably means, an address that names no polecat or a polecat's bare
/// name: the polecat whose name is `wanted`'s last part or closest to it (in its rig first).
pub fn polecat_near(store: &beads::Store, wanted: &str) -> Option<String> {
    let (rig, name) = match wanted.split_once('/') {
        Some((rig, rest)) => (Some(rig), rest.rsplit('/').next().unwrap_or(rest)),
        None => (None, wanted),
    };
    let polecats = store.polecats(None).unwrap_or_default();
    let in_rig = |p: &&beads::Polecat| rig.is_none_or(|r| p.rig == r);
    pick(name, polecats.iter().filter(in_rig).collect())
        .or_else(|| pick(name, polecats.iter().collect()))
        .map(|p| format!("{}/polecats/{}", p.rig, p.name))
}

/// The polecat of `pool` whose name is closest to `name`.
fn pick<'a>(name: &str, pool: Vec<&'a beads::Polecat>) -> Option<&'a beads::Polecat> {
    let near = closest(name, pool.iter().map(|p| p.name.as_str()))?.to_owned();
    pool.into_iter().find(|p| p.name == near)
}

/// What to tell someone who named polecat `wanted`, which does not exist.
pub fn polecat_hint(store: &beads::Store, wanted: &str) -> String {
    let list = "`gt polecat list` lists the polecats, `gt agents` every agent";
    match polecat_near(store, wanted) {
        Some(near) => format!("did you mean `{near}`? {list}"),
        None => list.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_finds_its_name_and_a_stranger_finds_none() {
        let ids = ["gt-abcd", "gt-abce", "gt-wxyz"];
        assert_eq!(closest("gt-abcf", ids), Some("gt-abcd"));
        assert_eq!(closest("gt-wxy", ids), Some("gt-wxyz"));
        assert_eq!(closest("hq-1234", ids), None);
        assert_eq!(closest("x", ["y"]), Some("y"), "one edit is always allowed");
    }
}
