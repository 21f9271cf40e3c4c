//! How `bd` classifies store errors: whose fault, and what to do about it.

use std::error::Error as StdError;

use beads::Error;
use ui::{Classified, ErrorKind};

/// Classifies one link of an error chain (see `ui::error::classify`).
pub fn classify(err: &(dyn StdError + 'static)) -> Option<Classified> {
    let err = err.downcast_ref::<Error>()?;
    let user = Classified::new(ErrorKind::User);
    Some(match err {
        Error::NotFound { .. } => user.hint("`bd list --all` shows the ids in this store"),
        Error::Ambiguous { .. } => user.hint("type more characters of the id"),
        Error::NoStore { .. } => {
            user.hint("run `bd init` to create a store here, or set `BEADS_DIR`")
        }
        Error::AlreadyInitialized { .. } => {
            user.hint("use the existing store, or remove `.beads/` to start over")
        }
        Error::Cycle { .. } => {
            user.hint("remove one of the dependencies on the path first (`bd dep remove`)")
        }
        Error::AlreadyClaimed { .. } => user.hint("pick another issue with `bd ready`"),
        Error::Invalid { .. }
        | Error::Conflict(_)
        | Error::NotClaimable { .. }
        | Error::NoMessage { .. }
        | Error::NothingReady
        | Error::ReadOnly
        | Error::BadLine { .. }
        | Error::InvalidTransition { .. }
        | Error::BadRow { .. }
        | Error::Sql(_) => user,
        // `bd doctor` opens the store too, so it cannot help with a file that does not open.
        Error::Corrupt { .. } => Classified::new(ErrorKind::Internal).hint(
            "if a newer bd wrote it, upgrade bd; otherwise move the file aside, run `bd init`, \
             and `bd import` your latest `bd export` file",
        ),
        Error::DoctorFound { .. } => Classified::new(ErrorKind::Internal)
            .hint("run `bd doctor --fix` to repair what it can, then `bd doctor` to check again")
            .hint(
                "if errors remain, `bd export` what is readable, move the file aside, run \
                 `bd init`, and `bd import` the export",
            ),
        Error::Sqlite(_) | Error::Io { .. } => Classified::new(ErrorKind::Internal),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_are_classified() {
        let kind = |e: Error| classify(&e).map(|c| c.kind);
        assert_eq!(
            kind(Error::NotFound { id: "bd-x".into() }),
            Some(ErrorKind::User)
        );
        assert_eq!(kind(Error::NothingReady), Some(ErrorKind::User));
        assert_eq!(
            kind(Error::Corrupt {
                path: "x".into(),
                reason: "bad".into()
            }),
            Some(ErrorKind::Internal)
        );
        assert_eq!(
            kind(Error::Sqlite(rusqlite_error())),
            Some(ErrorKind::Internal)
        );
        let other = std::io::Error::other("x");
        assert!(classify(&other).is_none());
    }

    fn rusqlite_error() -> beads::error::RusqliteError {
        beads::error::RusqliteError::InvalidQuery
    }
}
