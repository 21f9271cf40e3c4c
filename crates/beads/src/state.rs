//! The orchestrator's typed states: a merge request's ([`MrState`]), a polecat's
//! ([`PolecatState`]), and mail's words ([`MailState`], [`MessageType`], [`DeliveryRole`]).
//!
//! Each is stored as the lowercase word the schema's `CHECK` constraint lists (the enums and the
//! constraints name the same set; a unit test compares them), printed and serialized as that
//! word, so `--json` output and `bd sql` see what they always saw. States change only through
//! the named compare-and-set transitions in [`crate::ops::mr`] and [`crate::ops::work`].

use std::fmt;
use std::str::FromStr;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

use crate::error::Error;

macro_rules! stored_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $field:literal {
            $( $(#[$vmeta:meta])* $variant:ident => $word:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every state, in lifecycle order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The stored (and printed) word.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $word,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = Error;

            fn from_str(s: &str) -> Result<Self, Error> {
                match s {
                    $($word => Ok(Self::$variant),)+
                    _ => Err(Error::invalid(
                        $field,
                        format!(
                            "`{s}` is not one of {}",
                            Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
                        ),
                    )),
                }
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                let s = value.as_str()?;
                s.parse().map_err(|e: Error| FromSqlError::Other(Box::new(e)))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

stored_enum! {
    /// A merge request's state. Lifecycle: queued → testing → merged | conflict | failed (or
    /// back to queued); an open one becomes superseded when a newer one for its bead arrives,
    /// or rejected.
    MrState, "merge request state" {
        /// Waiting for the refinery.
        Queued => "queued",
        /// In a batch the refinery is testing.
        Testing => "testing",
        /// Landed on the target.
        Merged => "merged",
        /// Does not merge into the target; a resolution bead was made.
        Conflict => "conflict",
        /// Failed a gate.
        Failed => "failed",
        /// A newer submission for the same bead replaced it (or the bead closed).
        Superseded => "superseded",
        /// Taken out of the queue, by hand or because it cannot be merged at all.
        Rejected => "rejected",
    }
}

impl MrState {
    /// The states still waiting to land.
    pub const OPEN: &'static [Self] = &[Self::Queued, Self::Testing, Self::Conflict, Self::Failed];

    /// Whether the request still waits to land.
    pub fn is_open(self) -> bool {
        Self::OPEN.contains(&self)
    }
}

stored_enum! {
    /// A polecat's state. Lifecycle: spawning → working → idle (→ spawning again); stuck when it
    /// asked for help.
    PolecatState, "polecat state" {
        /// Admitted for a bead; its agent is starting.
        Spawning => "spawning",
        /// Its agent is working on its bead.
        Working => "working",
        /// Finished (or never started); free for the next bead.
        Idle => "idle",
        /// Its agent escalated: it needs help to finish.
        Stuck => "stuck",
        /// Its session and worktree are gone; the name may be reused.
        Nuked => "nuked",
    }
}

impl PolecatState {
    /// The states the town's cap counts.
    pub const BUSY: &'static [Self] = &[Self::Spawning, Self::Working];
}

stored_enum! {
    /// Where a delivered message sits in one recipient's mailbox.
    MailState, "mail state" {
        /// In the inbox (read or not).
        Inbox => "inbox",
        /// Archived: kept, out of the inbox.
        Archived => "archived",
        /// Deleted by its recipient: shown nowhere.
        Deleted => "deleted",
    }
}

stored_enum! {
    /// Upstream's message types.
    MessageType, "message type" {
        /// Work for the recipient.
        Task => "task",
        /// Work for whoever picks it up.
        Scavenge => "scavenge",
        /// Information (the default).
        Notification => "notification",
        /// An answer to another message.
        Reply => "reply",
    }
}

stored_enum! {
    /// How a mailbox received a message.
    DeliveryRole, "delivery role" {
        /// Addressed to it (directly, or through a list or broadcast).
        To => "to",
        /// Copied (`--cc`).
        Cc => "cc",
        /// A queue's one row, which one claimant takes.
        Queue => "queue",
    }
}

stored_enum! {
    /// Which long-lived agent a `role_agents` row is.
    RoleKind, "role" {
        /// The town's coordinator (`mayor/`).
        Mayor => "mayor",
        /// A human's persistent workspace in a rig (`<rig>/crew/<name>`).
        Crew => "crew",
    }
}

stored_enum! {
    /// Whether a long-lived agent should run: what its human last asked for.
    Desired, "desired state" {
        /// Keep it running: the daemon restarts it when it dies.
        Running => "running",
        /// Stopped on purpose; nothing starts it but its own `start`.
        Stopped => "stopped",
        /// Stopped by `gt down`: `gt up` brings the mayor back, `gt up --restore` the crew.
        Held => "held",
    }
}

/// `'a', 'b'` for a SQL `IN (…)` list of states (constants only, never user input).
pub(crate) fn sql_list<T: Copy + Into<&'static str>>(states: &[T]) -> String {
    states
        .iter()
        .map(|s| format!("'{}'", (*s).into()))
        .collect::<Vec<_>>()
        .join(", ")
}

impl From<MrState> for &'static str {
    fn from(s: MrState) -> Self {
        s.as_str()
    }
}

impl From<MailState> for &'static str {
    fn from(s: MailState) -> Self {
        s.as_str()
    }
}

impl From<PolecatState> for &'static str {
    fn from(s: PolecatState) -> Self {
        s.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The enums name exactly the states the schema's CHECK constraints allow.
    #[test]
    fn enums_match_the_schema_checks() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        crate::schema::migrations().to_latest(&mut conn).unwrap();
        let checked_column = |table: &str, column: &str| -> Vec<String> {
            let sql: String = conn
                .query_row(
                    "SELECT sql FROM sqlite_schema WHERE name = ?1",
                    [table],
                    |r| r.get(0),
                )
                .unwrap();
            let open = format!("({column} IN (");
            let start = sql.find(&open).unwrap() + open.len();
            let end = start + sql[start..].find(')').unwrap();
            sql[start..end]
                .split(',')
                .map(|w| w.trim().trim_matches('\'').to_owned())
                .collect()
        };
        let checked = |table: &str| checked_column(table, "state");
        let words = |all: Vec<&str>| all.into_iter().map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(
            checked("merge_requests"),
            words(MrState::ALL.iter().map(|s| s.as_str()).collect())
        );
        assert_eq!(
            checked("polecats"),
            words(PolecatState::ALL.iter().map(|s| s.as_str()).collect())
        );
        assert_eq!(
            checked_column("role_agents", "role"),
            words(RoleKind::ALL.iter().map(|s| s.as_str()).collect())
        );
        assert_eq!(
            checked_column("role_agents", "desired"),
            words(Desired::ALL.iter().map(|s| s.as_str()).collect())
        );
        assert_eq!(
            checked("mail_deliveries"),
            words(MailState::ALL.iter().map(|s| s.as_str()).collect())
        );
        assert_eq!(
            checked_column("mail_deliveries", "role"),
            words(DeliveryRole::ALL.iter().map(|s| s.as_str()).collect())
        );
        assert_eq!(
            checked_column("mail_messages", "msg_type"),
            words(MessageType::ALL.iter().map(|s| s.as_str()).collect())
        );
    }

    #[test]
    fn words_round_trip() {
        for s in MrState::ALL {
            assert_eq!(s.to_string().parse::<MrState>().unwrap(), *s);
            assert_eq!(
                serde_json::to_string(s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
            assert_eq!(
                serde_json::from_str::<MrState>(&format!("\"{s}\"")).unwrap(),
                *s
            );
        }
        for s in PolecatState::ALL {
            assert_eq!(s.to_string().parse::<PolecatState>().unwrap(), *s);
        }
        assert!("nonsense".parse::<MrState>().is_err());
        assert_eq!(MrState::Queued, "queued");
        assert_eq!(
            sql_list(MrState::OPEN),
            "'queued', 'testing', 'conflict', 'failed'"
        );
    }
}
