//! Text for people: aligned tables, and store text made safe for a terminal.

use std::io;

use crate::Ui;

/// `text` with control characters written as escapes (`\n`, `\u{1b}`).
pub fn safe(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| match c {
            '\n' => "\\n".to_owned(),
            '\t' => "\\t".to_owned(),
            c if c.is_control() => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// `text` as lines: line breaks and tabs kept, every other control character written as an
/// escape (so a message body keeps its shape but cannot move the cursor or recolour the
/// terminal).
pub fn safe_lines(text: &str) -> String {
    text.split('\n')
        .map(|line| line.split('\t').map(safe).collect::<Vec<_>>().join("\t"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Writes rows as left-aligned columns separated by two spaces; the last column is not padded.
pub fn table(ui: &mut Ui, rows: &[Vec<String>]) -> io::Result<()> {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(widths[i] - cell.chars().count() + 2));
            }
        }
        ui.line(line.trim_end())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_lines_keeps_line_breaks_and_tabs_and_escapes_the_rest() {
        assert_eq!(
            safe_lines("a\n\tb\u{1b}[31mred\r"),
            "a\n\tb\\u{1b}[31mred\\u{d}"
        );
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(safe("plain"), "plain");
        assert_eq!(safe("a\nb"), "a\\nb");
        assert_eq!(safe("\x1b[31mred"), "\\u{1b}[31mred");
    }
}
