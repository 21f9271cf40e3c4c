//! `gt agents`: every agent of the town with its role, rig, bead, state, liveness and last
//! activity.

use clap::Args;

#[derive(Debug, Args)]
pub struct AgentsArgs {}

pub fn run(_args: &AgentsArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let town = super::town()?;
    let store = super::store(&town)?;
    let view = town::views::roster(&town, &store, &super::runtimes(&town))?;
    if ui.is_json() {
        ui.json(&view)?;
        return Ok(());
    }
    let dash = |s: Option<&str>| s.filter(|s| !s.is_empty()).unwrap_or("-").to_owned();
    let mut rows = vec![vec![
        "ADDRESS".to_owned(),
        "ROLE".into(),
        "RIG".into(),
        "BEAD".into(),
        "STATE".into(),
        "SESSION".into(),
        "RUNTIME".into(),
        "ALIVE".into(),
        "LAST ACTIVITY".into(),
    ]];
    rows.extend(view.agents.iter().map(|a| {
        vec![
            a.address.clone(),
            a.role.to_string(),
            dash(a.rig.as_deref()),
            dash(a.bead.as_deref()),
            a.state.clone(),
            dash(Some(&a.session)),
            dash(Some(&a.runtime)),
            (if a.alive { "yes" } else { "no" }).into(),
            dash(a.last_activity.map(|t| t.to_string()).as_deref()),
        ]
    }));
    Ok(super::table(ui, &rows)?)
}
