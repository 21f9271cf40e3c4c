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

#[cfg(test)]
mod tests {
    use beads::CostSource;

    use super::*;

    fn row(session: &str, bead: &str, convoy: &str, model: &str, input: u64) -> CostRow {
        CostRow {
            source: CostSource::Claude,
            session_id: session.into(),
            address: format!("gastown/polecats/{session}"),
            role: "polecat".into(),
            rig: "gastown".into(),
            bead: bead.into(),
            convoy: convoy.into(),
            started_at: "2026-12-05T09:00:00Z".into(),
            ended_at: "2026-12-05T10:00:00Z".into(),
            model: model.into(),
            tokens: Tokens {
                input,
                output: 10,
                cache_write: 0,
                cache_read: 0,
            },
        }
    }

    fn rows() -> Vec<CostRow> {
        vec![
            // One session on two models counts once, its tokens twice.
            row(
                "nux",
                "gt-a",
                "hq-cv-1",
                "claude-sonnet-4-5-20250929",
                1_000_000,
            ),
            row("nux", "gt-a", "hq-cv-1", "claude-haiku-4-5-20251001", 90),
            row("max", "gt-b", "hq-cv-1", "local-llama", 500),
            row("ace", "gt-c", "", "claude-sonnet-4-5", 10),
        ]
    }

    #[test]
    fn by_bead_and_by_convoy_sum_each_group_most_tokens_first() {
        let prices = Prices::built_in();
        let by_bead = build(&rows(), GroupBy::Bead, &prices, None);
        let summary: Vec<(&str, usize, u64)> = by_bead
            .groups
            .iter()
            .map(|g| (g.key.as_str(), g.sessions, g.total_tokens))
            .collect();
        assert_eq!(
            summary,
            [("gt-a", 1, 1_000_110), ("gt-b", 1, 510), ("gt-c", 1, 20)]
        );
        // $3 per million input and $15 per million output for Sonnet, $1 and $5 for Haiku.
        let a = &by_bead.groups[0];
        let usd = a.usd.unwrap();
        assert!(
            (usd - (3.0 + 10.0 * 15e-6 + 90.0 * 1e-6 + 10.0 * 5e-6)).abs() < 1e-9,
            "{usd}"
        );
        assert_eq!(a.models.len(), 2);

        let by_convoy = build(&rows(), GroupBy::Convoy, &prices, None);
        let convoys: Vec<(&str, usize)> = by_convoy
            .groups
            .iter()
            .map(|g| (g.key.as_str(), g.sessions))
            .collect();
        assert_eq!(
            convoys,
            [("hq-cv-1", 2), ("", 1)],
            "no convoy is its own group"
        );
        assert_eq!(by_convoy.total.sessions, 3);
    }

    #[test]
    fn tokens_without_a_price_are_counted_and_kept_out_of_the_dollars() {
        let report = build(&rows(), GroupBy::Rig, &Prices::built_in(), None);
        assert_eq!(report.groups.len(), 1);
        let rig = &report.groups[0];
        assert_eq!(rig.unpriced_tokens, 510);
        assert_eq!(rig.unpriced_models, ["local-llama"]);
        assert_eq!(rig.total_tokens, 1_000_110 + 510 + 20);
        let llama_only = build(&rows()[2..3], GroupBy::Agent, &Prices::built_in(), None);
        assert_eq!(llama_only.total.usd, None, "no price: no dollars, not $0");
        assert_eq!(llama_only.total.total_tokens, 510);
    }
}
