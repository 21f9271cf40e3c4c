//! How `gt` classifies library errors: whose fault, and what to do about it.

use std::error::Error;

use ui::{Classified, ErrorKind};

/// Classifies one link of an error chain (see `ui::error::classify`).
pub fn classify(err: &(dyn Error + 'static)) -> Option<Classified> {
    if let Some(err) = err.downcast_ref::<town::TownError>() {
        return Some(match err {
            town::TownError::NotInTown { .. } => Classified::new(ErrorKind::User)
                .hint("run `gt install <path>` to create a town, or set `GT_TOWN_ROOT`"),
            town::TownError::NotATown { .. } => Classified::new(ErrorKind::User),
        });
    }
    None
}
