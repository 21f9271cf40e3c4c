//! Reading and writing the town's JSON files: typed, validated at load with errors that name
//! the file and the key, written atomically (temporary file, then rename).

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A config file that could not be read, parsed or written.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file could not be read or written.
    #[error("cannot access `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid JSON, or a value has the wrong type.
    #[error("`{}`: {}", path.display(), describe(key, message))]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
    /// A recursive delete was asked for a path that is not strictly inside the town.
    #[error("refusing to delete `{}`: it is not inside the town `{}`", path.display(), root.display())]
    Outside { path: PathBuf, root: PathBuf },
}

fn describe(key: &str, message: &str) -> String {
    if key.is_empty() || key == "." {
        message.to_owned()
    } else {
        format!("`{key}`: {message}")
    }
}

/// Reads and validates a JSON file.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, FileError> {
    let text = std::fs::read_to_string(path).map_err(|source| FileError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_json(path, &text)
}

/// Reads a JSON file if it exists.
pub fn read_json_opt<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, FileError> {
    if path.exists() {
        read_json(path).map(Some)
    } else {
        Ok(None)
    }
}

/// Parses JSON text that came from `path`, naming the key of any type error.
pub fn parse_json<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, FileError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| FileError::Invalid {
        path: path.to_owned(),
        key: e.path().to_string(),
        message: e.inner().to_string(),
    })
}

/// Writes `value` as pretty JSON to `path` atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), FileError> {
    let mut text = serde_json::to_string_pretty(value).expect("config values serialize");
    text.push('\n');
    write_atomic(path, text.as_bytes())
}

/// Writes bytes to `path` through a temporary file in the same directory and a rename, so a
/// reader (or a crash) never sees half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    let io = |source| FileError::Io {
        path: path.to_owned(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

/// `path` as it really is on disk (its parent directories canonicalized, symlinks included),
/// if it lies strictly inside `root`. A final component that is a symlink must point inside
/// `root` too. The path need not exist; its parent must.
pub fn inside(root: &Path, path: &Path) -> Result<PathBuf, FileError> {
    let outside = || FileError::Outside {
        path: path.to_owned(),
        root: root.to_owned(),
    };
    let canon = |p: &Path| {
        p.canonicalize().map_err(|source| FileError::Io {
            path: p.to_owned(),
            source,
        })
    };
    let root_real = canon(root)?;
    let name = match path.file_name() {
        Some(n) if path.components().next_back() == Some(std::path::Component::Normal(n)) => n,
        // `..`, `.`, `/` or empty: never a file of its own inside the root.
        _ => return Err(outside()),
    };
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let real = canon(parent)?.join(name);
    if !real.starts_with(&root_real) || real == root_real {
        return Err(outside());
    }
    if std::fs::symlink_metadata(&real).is_ok_and(|m| m.file_type().is_symlink()) {
        // A dangling link resolves nowhere: only the link itself can go.
        if let Ok(target) = real.canonicalize()
            && (!target.starts_with(&root_real) || target == root_real)
        {
            return Err(outside());
        }
    }
    Ok(real)
}

/// Deletes the directory tree `path` (nothing to do if it is missing) after checking with
/// [`inside`] that it lies strictly inside `root`. Every recursive delete of the town goes
/// through here, so a bad name that slipped past validation still cannot reach outside. A
/// symlink is removed itself, never what it points to.
pub fn remove_tree(root: &Path, path: &Path) -> Result<(), FileError> {
    let real = inside(root, path)?;
    let io = |source| FileError::Io {
        path: path.to_owned(),
        source,
    };
    match std::fs::symlink_metadata(&real) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(e)),
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(&real).map_err(io),
        Ok(_) => std::fs::remove_file(&real).map_err(io),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, Serialize, PartialEq)]
    struct Demo {
        name: String,
        inner: Inner,
    }
    #[derive(Debug, serde::Deserialize, Serialize, PartialEq)]
    struct Inner {
        count: u32,
    }

    #[test]
    fn type_errors_name_the_file_and_the_key() {
        let err = parse_json::<Demo>(
            Path::new("x/config.json"),
            r#"{"name":"a","inner":{"count":"five"}}"#,
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("x/config.json"), "{msg}");
        assert!(msg.contains("`inner.count`"), "{msg}");
    }

    #[test]
    fn remove_tree_refuses_anything_not_strictly_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("town");
        let victim = dir.path().join("victim");
        std::fs::create_dir_all(root.join("rig/sub")).unwrap();
        std::fs::create_dir_all(&victim).unwrap();
        std::fs::write(victim.join("keep.txt"), "x").unwrap();
        std::os::unix::fs::symlink(&victim, root.join("link")).unwrap();
        std::os::unix::fs::symlink(dir.path(), root.join("uplink")).unwrap();
        for bad in [
            root.join("../victim"),
            root.join("rig/../../victim"),
            victim.clone(),
            root.clone(),
            root.join("."),
            root.join("rig/.."),
            root.join("link"),
            root.join("uplink/victim"),
        ] {
            let err = remove_tree(&root, &bad).unwrap_err();
            assert!(
                matches!(err, FileError::Outside { .. }),
                "{}: {err}",
                bad.display()
            );
        }
        assert!(victim.join("keep.txt").exists());
        remove_tree(&root, &root.join("rig")).unwrap();
        assert!(!root.join("rig").exists());
        remove_tree(&root, &root.join("missing")).unwrap();
    }

    #[test]
    fn atomic_write_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b.json");
        let v = Demo {
            name: "n".into(),
            inner: Inner { count: 2 },
        };
        write_json(&path, &v).unwrap();
        assert_eq!(read_json::<Demo>(&path).unwrap(), v);
        assert_eq!(std::fs::read_dir(dir.path().join("a")).unwrap().count(), 1);
    }
}
