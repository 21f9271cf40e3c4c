//! The beads issue store: the model, the SQLite schema, readiness, ids and JSONL interchange.
//!
//! - [`model`]: issues, dependencies, comments, events; validation.
//! - [`store`]: opening and creating a store; the write transaction.
//! - [`ids`]: minting, child ids and resolution of what a user types.
//! - [`readiness`]: the materialized `is_blocked` flag and its from-scratch check.
//! - [`ops`]: every operation, one module per concern.
//! - [`state`]: the orchestrator's typed states (merge requests, polecats).
//! - [`routes`]: which prefix new issues get, by where in a town `bd` runs.
//!
//! Only this crate speaks SQL. Callers pass a [`store::Context`] with the actor and a clock.

pub mod error;
pub mod formula;
pub mod ids;
pub mod model;
pub mod ops;
#[cfg(test)]
mod plans;
mod querylang;
pub mod readiness;
pub mod routes;
mod row;
pub mod schema;
pub mod state;
pub mod store;

pub use error::{Error, Result};
pub use model::{Comment, Dependency, Issue, IssueDetails, IssueView};
pub use ops::convoy::{ConvoyStatus, Tracked};
pub use ops::costs::{CostRow, CostSource, ModelTokens, NewSessionCost, Recorded, Tokens};
pub use ops::create::NewIssue;
pub use ops::deps::Direction;
pub use ops::happenings::{GenerationHappening, Happening};
pub use ops::jsonl::{ExportOptions, ImportReport, ROLLBACK_JOURNAL_FROM};
pub use ops::mail::{InboxQuery, MailItem, Message, NewMessage};
pub use ops::mr::{
    Landed, Landing, MergeRequest, MrTransition, NewMergeRequest, QueueStats, RecordedRun,
    RefineryRun,
};
pub use ops::query::{Filter, Sort, Stats};
pub use ops::roles::{NewRoleAgent, RoleAgent};
pub use ops::scheduler::{Account, ContextEnd, Enqueued, RateHold, ScheduledSling};
pub use ops::update::{Changes, CloseOptions};
pub use ops::work::{Admission, CapScope, Caps, Polecat, PolecatTransition, PolecatUpdate};
pub use state::{DeliveryRole, Desired, MailState, MessageType, MrState, PolecatState, RoleKind};
pub use store::{Context, Store};
