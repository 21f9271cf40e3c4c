//! `bd sql`.

use clap::Args;

use crate::cli::Global;
use crate::render;

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// One SQL statement (SQLite dialect). Writes are recorded in the audit log.
    pub query: String,
    /// Print CSV.
    #[arg(long)]
    pub csv: bool,
}

/// A result row as a JSON object whose keys keep the SELECT's column order (a JSON map type
/// would sort them).
struct Row<'a> {
    columns: &'a [String],
    values: &'a [serde_json::Value],
}

impl serde::Serialize for Row<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(Some(self.columns.len()))?;
        for (column, value) in self.columns.iter().zip(self.values) {
            map.serialize_entry(column, value)?;
        }
        map.end()
    }
}

fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

pub fn run(g: &Global, args: &SqlArgs, ui: &mut ui::Ui) -> anyhow::Result<()> {
    let mut store = super::open(g)?;
    let result = store.sql(&args.query)?;
    if ui.is_json() {
        let rows: Vec<Row<'_>> = result
            .rows
            .iter()
            .map(|values| Row {
                columns: &result.columns,
                values,
            })
            .collect();
        ui.json(&rows)?;
    } else if args.csv {
        ui.line(
            result
                .columns
                .iter()
                .map(|c| csv_field(c))
                .collect::<Vec<_>>()
                .join(","),
        )?;
        for r in &result.rows {
            ui.line(
                r.iter()
                    .map(|v| csv_field(&cell(v)))
                    .collect::<Vec<_>>()
                    .join(","),
            )?;
        }
    } else if result.columns.is_empty() {
        ui.status(format!("{} row(s) changed", result.changes));
    } else {
        let mut rows = vec![result.columns.clone()];
        rows.extend(
            result
                .rows
                .iter()
                .map(|r| r.iter().map(|v| render::safe(&cell(v))).collect()),
        );
        render::table(ui, &rows)?;
    }
    Ok(())
}
