//! Who a polecat is: its address `<rig>/polecats/<name>`, its session name, and how to find it
//! from a directory inside its worktree.

use std::path::{Path, PathBuf};

use crate::layout::Town;

/// A polecat's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolecatId {
    pub rig: String,
    pub name: String,
}

impl PolecatId {
    /// The address agents and beads use as the assignee: `<rig>/polecats/<name>`.
    pub fn address(&self) -> String {
        format!("{}/polecats/{}", self.rig, self.name)
    }

    /// The worktree: `<town>/<rig>/polecats/<name>`.
    pub fn worktree(&self, town: &Town) -> PathBuf {
        town.rig_dir(&self.rig).join("polecats").join(&self.name)
    }

    /// The session name: `<rig prefix>-<name>` (upstream's convention, `gt-furiosa`).
    pub fn session(&self, rig_prefix: &str) -> String {
        format!("{rig_prefix}-{}", self.name)
    }

    /// Parses an address `<rig>/polecats/<name>` (or the short `<rig>/<name>`).
    pub fn parse(address: &str) -> Option<Self> {
        let parts: Vec<&str> = address.trim_end_matches('/').split('/').collect();
        let (rig, name) = match parts.as_slice() {
            [rig, "polecats", name] | [rig, name] => (*rig, *name),
            _ => return None,
        };
        Self::new(rig, name)
    }

    /// A polecat from its parts, checked as a typed address is (a rig or polecat name read
    /// from the store or a directory goes through here before it names a path).
    pub fn new(rig: &str, name: &str) -> Option<Self> {
        (Self::valid_part(rig) && Self::valid_part(name)).then(|| Self {
            rig: rig.to_owned(),
            name: name.to_owned(),
        })
    }

    /// Whether `s` may be one part of an address: letters, digits and `_`, not empty.
    pub fn valid_part(s: &str) -> bool {
        !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    }

    /// The polecat whose worktree contains `dir`, if any.
    pub fn from_path(town: &Town, dir: &Path) -> Option<Self> {
        let rel = dir.strip_prefix(town.root()).ok()?;
        let mut parts = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned());
        let rig = parts.next()?;
        (parts.next()? == "polecats").then_some(())?;
        let name = parts.next()?;
        Self::parse(&format!("{rig}/polecats/{name}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_and_render() {
        let id = PolecatId::parse("gastown/polecats/nux").unwrap();
        assert_eq!(id.address(), "gastown/polecats/nux");
        assert_eq!(PolecatId::parse("gastown/nux"), Some(id.clone()));
        assert_eq!(id.session("gt"), "gt-nux");
        for bad in [
            "gastown",
            "a/b/c/d",
            "gastown/polecats/../x",
            "g/polecats/$(x)",
            "",
        ] {
            assert!(PolecatId::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn found_from_a_directory_inside_the_worktree() {
        let town = Town::at("/t");
        let id = PolecatId::from_path(&town, Path::new("/t/gastown/polecats/nux/src/lib")).unwrap();
        assert_eq!((id.rig.as_str(), id.name.as_str()), ("gastown", "nux"));
        assert!(PolecatId::from_path(&town, Path::new("/t/gastown/crew/bob")).is_none());
        assert!(PolecatId::from_path(&town, Path::new("/elsewhere")).is_none());
    }
}
