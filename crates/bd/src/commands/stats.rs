//! `bd stats`.

use clap::Args;

use crate::cli::Global;

#[derive(Debug, Args)]
pub struct StatsArgs {}

pub fn run(g: &Global, _args: &StatsArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let store = super::open(g)?;
    let s = store.stats()?;
    if ui.is_json() {
        ui.json(&s)?;
        return Ok(());
    }
    let rows = vec![
        vec!["Total".to_owned(), s.total_issues.to_string()],
        vec!["Open".to_owned(), s.open_issues.to_string()],
        vec!["In progress".to_owned(), s.in_progress_issues.to_string()],
        vec!["Hooked".to_owned(), s.hooked_issues.to_string()],
        vec!["Deferred".to_owned(), s.deferred_issues.to_string()],
        vec!["Closed".to_owned(), s.closed_issues.to_string()],
        vec!["Blocked".to_owned(), s.blocked_issues.to_string()],
        vec!["Ready".to_owned(), s.ready_issues.to_string()],
        vec!["Wisps".to_owned(), s.ephemeral_issues.to_string()],
        vec![
            "Average lead time".to_owned(),
            format!("{:.1} h", s.average_lead_time_hours),
        ],
    ];
    crate::render::table(ui, &rows)?;
    Ok(())
}
