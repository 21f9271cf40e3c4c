//! `settings/messaging.json`: the town's mailing lists and work queues.
//!
//! ```json
//! {
//!   "version": 1,
//!   "lists": { "oncall": ["mayor/", "gastown/witness"] },
//!   "queues": { "triage": { "description": "bugs nobody owns yet" } }
//! }
//! ```
//!
//! `list:<name>` expands to the list's members when sent (each a mailbox address: not a list,
//! queue or broadcast, so lists never nest); `queue:<name>` must name a queue defined here.
//! The file is optional (no lists, no queues). It is validated when read: an unknown key, a
//! bad name or a member that is no mailbox address is an error naming the file and the field.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::address::{Address, valid_part};
use crate::files::{self, FileError};
use crate::layout::Town;

/// The file's one version.
pub const MESSAGING_VERSION: u32 = 1;

/// The town's lists and queues.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Messaging {
    pub lists: BTreeMap<String, Vec<Address>>,
    pub queues: BTreeMap<String, Queue>,
}

/// A work queue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    #[serde(default)]
    lists: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    queues: BTreeMap<String, Queue>,
}

/// Where the town keeps it.
pub fn path(town: &Town) -> PathBuf {
    town.root().join("settings/messaging.json")
}

/// Reads the town's `settings/messaging.json` (empty when it does not exist).
pub fn load(town: &Town) -> Result<Messaging, FileError> {
    let path = path(town);
    match files::read_json_opt::<File>(&path)? {
        None => Ok(Messaging::default()),
        Some(file) => validate(&path, file),
    }
}

fn validate(path: &Path, file: File) -> Result<Messaging, FileError> {
    let bad = |key: String, message: String| FileError::Invalid {
        path: path.to_owned(),
        key,
        message,
    };
    if file.version != MESSAGING_VERSION {
        return Err(bad(
            "version".into(),
            format!(
                "version {} is not the one this gt reads ({MESSAGING_VERSION})",
                file.version
            ),
        ));
    }
    let mut lists = BTreeMap::new();
    for (name, members) in file.lists {
        let key = format!("lists.{}", name.escape_debug());
        if !valid_part(&name) {
            return Err(bad(
                key,
                "a list name is letters, digits, `_` and `-`".into(),
            ));
        }
        if members.is_empty() {
            return Err(bad(key, "a list needs at least one member".into()));
        }
        let mut parsed = Vec::with_capacity(members.len());
        for (i, member) in members.iter().enumerate() {
            let key = format!("{key}[{i}]");
            let address = Address::parse(member).map_err(|e| bad(key.clone(), e.to_string()))?;
            if !address.is_mailbox() {
                return Err(bad(
                    key,
                    format!(
                        "`{member}` is not one mailbox: a list's members are agents or the overseer"
                    ),
                ));
            }
            parsed.push(address);
        }
        lists.insert(name, parsed);
    }
    for name in file.queues.keys() {
        if !valid_part(name) {
            return Err(bad(
                format!("queues.{}", name.escape_debug()),
                "a queue name is letters, digits, `_` and `-`".into(),
            ));
        }
    }
    Ok(Messaging {
        lists,
        queues: file.queues,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn town_with(text: &str) -> (tempfile::TempDir, Town) {
        let dir = tempfile::tempdir().unwrap();
        let town = Town::at(dir.path());
        std::fs::create_dir_all(dir.path().join("settings")).unwrap();
        std::fs::write(path(&town), text).unwrap();
        (dir, town)
    }

    #[test]
    fn a_missing_file_is_no_lists_and_no_queues() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(&Town::at(dir.path())).unwrap(), Messaging::default());
    }

    #[test]
    fn lists_and_queues_load_canonically() {
        let (_d, town) = town_with(
            r#"{"version": 1, "lists": {"oncall": ["mayor", "gastown/nux"]}, "queues": {"triage": {}}}"#,
        );
        let m = load(&town).unwrap();
        assert_eq!(
            m.lists["oncall"]
                .iter()
                .map(Address::canonical)
                .collect::<Vec<_>>(),
            vec!["mayor/", "gastown/polecats/nux"]
        );
        assert!(m.queues.contains_key("triage"));
    }

    #[test]
    fn bad_files_name_the_field() {
        for (text, field) in [
            (r#"{"version": 2}"#, "`version`"),
            (
                r#"{"version": 1, "lists": {"on call": ["mayor/"]}}"#,
                "`lists.on call`",
            ),
            (
                r#"{"version": 1, "lists": {"oncall": []}}"#,
                "`lists.oncall`",
            ),
            (
                r#"{"version": 1, "lists": {"oncall": ["mayor/", "list:other"]}}"#,
                "`lists.oncall[1]`",
            ),
            (
                r#"{"version": 1, "lists": {"oncall": ["a/b/c/d"]}}"#,
                "`lists.oncall[0]`",
            ),
            (
                r#"{"version": 1, "queues": {"q": {"workers": 3}}}"#,
                "queues.q",
            ),
            (r#"{"version": 1, "queues": {"-q": {}}}"#, "`queues.-q`"),
            (r#"{"version": 1, "listz": {}}"#, "listz"),
        ] {
            let (_d, town) = town_with(text);
            let err = load(&town).unwrap_err().to_string();
            assert!(err.contains("messaging.json"), "{text}: {err}");
            assert!(err.contains(field), "{text}: {err}");
        }
    }
}
