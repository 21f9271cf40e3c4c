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
