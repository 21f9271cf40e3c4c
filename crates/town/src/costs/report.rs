//! `gt costs`: the recorded sessions summed per agent, rig, bead, convoy or role, with dollars
//! where the price table knows the model.

use std::collections::{BTreeMap, BTreeSet};

use beads::{CostRow, Tokens};
use serde::Serialize;

use super::prices::Prices;

/// What the sessions are summed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    Agent,
    Rig,
    Bead,
    Convoy,
    Role,
}

impl GroupBy {
    fn key(self, row: &CostRow) -> &str {
        match self {
            Self::Agent => &row.address,
            Self::Rig => &row.rig,
            Self::Bead => &row.bead,
            Self::Convoy => &row.convoy,
            Self::Role => &row.role,
        }
    }
}

/// One group's sums.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Group {
    /// The agent, rig, bead, convoy or role; empty for sessions without one.
    pub key: String,
    pub sessions: usize,
    pub tokens: Tokens,
    pub total_tokens: u64,
    /// USD for the tokens of priced models (`None`: no model of the group has a price).
    pub usd: Option<f64>,
    /// Tokens of models without a price, which `usd` leaves out.
    pub unpriced_tokens: u64,
    pub models: Vec<String>,
    /// The models among them without a price.
    pub unpriced_models: Vec<String>,
}

/// `gt costs`'s read model, printed as-is with `--json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The start of the period (RFC 3339), or `None` for all time.
    pub since: Option<String>,
    pub group_by: GroupBy,
    /// Most tokens first.
    pub groups: Vec<Group>,
    pub total: Group,
}

#[derive(Default)]
struct Acc {
    sessions: BTreeSet<(beads::CostSource, String)>,
    tokens: Tokens,
    usd: Option<f64>,
    unpriced: u64,
    models: BTreeSet<String>,
    unpriced_models: BTreeSet<String>,
}

impl Acc {
    fn add(&mut self, row: &CostRow, prices: &Prices) {
        self.sessions.insert((row.source, row.session_id.clone()));
        self.tokens.add(&row.tokens);
        self.models.insert(row.model.clone());
        match prices.get(&row.model) {
            Some(p) => *self.usd.get_or_insert(0.0) += p.cost(&row.tokens),
            None => {
                self.unpriced = self.unpriced.saturating_add(row.tokens.total());
                self.unpriced_models.insert(row.model.clone());
            }
        }
    }

    fn finish(self, key: String) -> Group {
        Group {
            key,
            sessions: self.sessions.len(),
            total_tokens: self.tokens.total(),
            tokens: self.tokens,
            // Micro-dollars: enough for any bill, and stable in JSON.
            usd: self.usd.map(|d| (d * 1e6).round() / 1e6),
            unpriced_tokens: self.unpriced,
            models: self.models.into_iter().collect(),
            unpriced_models: self.unpriced_models.into_iter().collect(),
        }
    }
}

/// Sums `rows` (the sessions since `since`) by `by`, pricing with `prices`.
pub fn build(rows: &[CostRow], by: GroupBy, prices: &Prices, since: Option<String>) -> Report {
    let mut groups: BTreeMap<&str, Acc> = BTreeMap::new();
    let mut total = Acc::default();
    for row in rows {
        groups.entry(by.key(row)).or_default().add(row, prices);
        total.add(row, prices);
    }
    let mut groups: Vec<Group> = groups
        .into_iter()
        .map(|(key, acc)| acc.finish(key.to_owned()))
        .collect();
    groups.sort_by(|a, b| b.total_tokens.cmp(&a.total_tokens).then(a.key.cmp(&b.key)));
    Report {
        since,
        group_by: by,
        groups,
        total: total.finish("total".to_owned()),
    }
}
