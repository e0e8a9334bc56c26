//! The one table model behind the text and Markdown outputs of `analyze` and `propagate`: a
//! [`Table`] of formatted cells renders as right-aligned text columns or as a Markdown table.
//! Cells are formatted once, so both outputs show the same digits; the JSON outputs serialise
//! the same values from the analysis structs.

use std::fmt::Write;

/// One column: its header in the text and in the Markdown table, and its width in the text
/// (`None`: shown in Markdown only).
#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub text: &'static str,
    pub markdown: &'static str,
    pub width: Option<usize>,
}

impl Column {
    /// A column with the same header in both outputs, `width` characters wide in the text.
    pub const fn new(header: &'static str, width: usize) -> Column {
        Column {
            text: header,
            markdown: header,
            width: Some(width),
        }
    }

    /// A column whose Markdown header is the longer `markdown`.
    pub const fn named(text: &'static str, markdown: &'static str, width: usize) -> Column {
        Column {
            text,
            markdown,
            width: Some(width),
        }
    }

    /// A column of the Markdown table only.
    pub const fn markdown_only(markdown: &'static str) -> Column {
        Column {
            text: "",
            markdown,
            width: None,
        }
    }
}

/// Rows of formatted cells under a header; a row may carry a note, printed after it in the
/// text output.
#[derive(Clone, Debug, Default)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<(Vec<String>, Option<String>)>,
}

impl Table {
    /// An empty table with these columns.
    pub fn new(columns: &[Column]) -> Table {
        Table {
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Appends a row (one cell per column).
    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.columns.len());
        self.rows.push((cells, None));
    }

    /// Appends a row with a note after it in the text output.
    pub fn row_with_note(&mut self, cells: Vec<String>, note: String) {
        debug_assert_eq!(cells.len(), self.columns.len());
        self.rows.push((cells, Some(note)));
    }

    /// Right-aligned text: the header line (with `header_note` after it), then every row.
    pub fn text(&self, header_note: Option<&str>) -> String {
        let mut out = String::new();
        let headers: Vec<&str> = self.columns.iter().map(|c| c.text).collect();
        self.text_line(&mut out, &headers, header_note);
        for (cells, note) in &self.rows {
            let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
            self.text_line(&mut out, &cells, note.as_deref());
        }
        out
    }

    fn text_line(&self, out: &mut String, cells: &[&str], note: Option<&str>) {
        let shown: Vec<String> = self
            .columns
            .iter()
            .zip(cells)
            .filter_map(|(c, cell)| c.width.map(|w| format!("{cell:>w$}")))
            .collect();
        out.push_str(&shown.join(" "));
        if let Some(note) = note {
            let _ = write!(out, "   {note}");
        }
        out.push('\n');
    }

    /// A Markdown table: header, separator, rows (notes are left out).
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let line = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
            for cell in cells {
                let _ = write!(out, "| {cell} ");
            }
            out.push_str("|\n");
        };
        line(&mut out, &mut self.columns.iter().map(|c| c.markdown));
        out.push_str(&"|---".repeat(self.columns.len()));
        out.push_str("|\n");
        for (cells, _) in &self.rows {
            line(&mut out, &mut cells.iter().map(String::as_str));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_aligns_and_markdown_lists_every_column() {
        let mut t = Table::new(&[
            Column::new("layer", 5),
            Column::named("kl", "KL divergence", 8),
            Column::markdown_only("pairs"),
        ]);
        t.row(vec!["1".into(), "2.5e-3".into(), "3".into()]);
        t.row_with_note(vec!["10".into(), "n/a".into(), "0".into()], "(note)".into());
        assert_eq!(
            t.text(Some("(header)")),
            "layer       kl   (header)\n    1   2.5e-3\n   10      n/a   (note)\n"
        );
        assert_eq!(
            t.markdown(),
            "| layer | KL divergence | pairs |\n|---|---|---|\n| 1 | 2.5e-3 | 3 |\n| 10 | n/a | 0 |\n"
        );
    }
}
