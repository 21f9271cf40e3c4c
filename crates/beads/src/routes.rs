//! Routing: which id prefix new issues get, by where in a town `bd` runs.
//!
//! A town keeps one store at `<town>/.beads/` and a `routes.jsonl` beside the database, one
//! line per rig: `{"prefix":"gt-","path":"gastown"}` (paths relative to the town root; `.`
//! is the town itself, prefix `hq-`). Running `bd` anywhere under a rig's directory — its
//! worktrees included — creates issues with that rig's prefix. Ids of every prefix resolve
//! from anywhere, because there is one store.

use std::path::{Component, Path};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The routes file inside the beads directory.
pub const ROUTES_FILE: &str = "routes.jsonl";

/// One route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// The id prefix including its trailing `-` (upstream's shape).
    pub prefix: String,
    /// The directory, relative to the town root.
    pub path: String,
}

/// Reads the routes of a beads directory; none if the file is missing.
pub fn read(beads_dir: &Path) -> Result<Vec<Route>> {
    let path = beads_dir.join(ROUTES_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(&path, e)),
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| {
            serde_json::from_str(l).map_err(|e| Error::BadLine {
                line: n + 1,
                reason: format!("{}: {e}", path.display()),
            })
        })
        .collect()
}

/// Writes routes (sorted by path, one per line) atomically.
pub fn write(beads_dir: &Path, routes: &[Route]) -> Result<()> {
    let mut sorted = routes.to_vec();
    sorted.sort_by(|a, b| a.path.cmp(&b.path).then(a.prefix.cmp(&b.prefix)));
    let mut text = String::new();
    for r in &sorted {
        text.push_str(&serde_json::to_string(r).expect("routes serialize"));
        text.push('\n');
    }
    let path = beads_dir.join(ROUTES_FILE);
    let tmp = beads_dir.join(format!(".{ROUTES_FILE}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
}

/// The prefix (without its `-`) for work done in `cwd`: the route whose path contains `cwd`
/// most specifically. `None` when `cwd` is outside the town or no route matches.
pub fn prefix_for(routes: &[Route], town_root: &Path, cwd: &Path) -> Option<String> {
    let rel = cwd.strip_prefix(town_root).ok()?;
    let rel: Vec<Component<'_>> = rel.components().collect();
    routes
        .iter()
        .filter_map(|r| {
            let route: Vec<Component<'_>> = Path::new(&r.path)
                .components()
                .filter(|c| *c != Component::CurDir)
                .collect();
            rel.starts_with(&route).then_some((route.len(), r))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, r)| r.prefix.trim_end_matches('-').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes() -> Vec<Route> {
        vec![
            Route {
                prefix: "hq-".into(),
                path: ".".into(),
            },
            Route {
                prefix: "gt-".into(),
                path: "gastown".into(),
            },
            Route {
                prefix: "bd-".into(),
                path: "beads".into(),
            },
        ]
    }

    #[test]
    fn the_most_specific_route_wins() {
        let town = Path::new("/t");
        assert_eq!(
            prefix_for(&routes(), town, Path::new("/t")),
            Some("hq".into())
        );
        assert_eq!(
            prefix_for(&routes(), town, Path::new("/t/mayor")),
            Some("hq".into())
        );
        assert_eq!(
            prefix_for(&routes(), town, Path::new("/t/gastown/polecats/nux/src")),
            Some("gt".into())
        );
        assert_eq!(
            prefix_for(&routes(), town, Path::new("/t/beadsx")),
            Some("hq".into())
        );
        assert_eq!(prefix_for(&routes(), town, Path::new("/elsewhere")), None);
    }

    #[test]
    fn routes_round_trip_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &routes()).unwrap();
        let back = read(dir.path()).unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!(back[0].path, ".");
        assert!(read(&dir.path().join("missing")).unwrap().is_empty());
    }
}
