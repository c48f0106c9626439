//! Text table and JSON for a list of [`Estimate`]s (the `fleetsim estimate` output).

use super::number::format_value;
use super::reports::Estimate;

/// Width the text output fits (columns).
pub const TEXT_WIDTH: usize = 100;

/// What each report is, for the block headings of [`render_estimates_text`].
pub fn report_title(report: &str) -> &'static str {
    match report {
        "R1" => "Guojin Securities, Mar 2023: ChatGPT training and inference cost (FLOPs method)",
        "R2" => "CITIC Securities, Mar 2023: bandwidth-bound cost of one answer on 8x A100",
        "R3" => "GF Securities via a news article, Apr 2023: accelerator demand",
        "R4" => "Guosheng Securities via a news article, Feb 2023: ChatGPT's daily load",
        "R1 method" => "R1's per-task formula applied to a scenario",
        _ => "",
    }
}

/// Greedy word wrap of `text` to `width` columns, each line after the first starting with
/// `indent`; the first line is `first`.
fn wrap(first: &str, indent: &str, text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = first.to_string();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(line.trim_end());
            out.push('\n');
            line = indent.to_string();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

/// Renders estimates as text that fits [`TEXT_WIDTH`] columns: one block per report, and per
/// figure a line with the computed value, the printed one and whether they agree (`yes`/`NO`
/// against the rounding tolerance, `n/a` when not comparable; `-` when nothing is printed),
/// then the formula and the note.
pub fn render_estimates_text(estimates: &[Estimate]) -> String {
    let mut out = String::new();
    let mut current: Option<&str> = None;
    for e in estimates {
        if current != Some(e.report.as_str()) {
            if current.is_some() {
                out.push('\n');
            }
            out.push_str(&wrap(
                &format!("{} ", e.report),
                "   ",
                report_title(&e.report),
                TEXT_WIDTH,
            ));
            out.push_str(&"-".repeat(TEXT_WIDTH.min(60)));
            out.push('\n');
            current = Some(e.report.as_str());
        }
        let ok = match e.agrees_with_printed() {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "n/a",
        };
        out.push_str(&wrap(
            "  ",
            "    ",
            &format!(
                "{}: computed {} {}, printed {}, agree: {ok}",
                e.item,
                format_value(e.computed),
                e.unit,
                e.printed.map(format_value).unwrap_or_else(|| "-".into()),
            ),
            TEXT_WIDTH,
        ));
        if !e.formula.is_empty() {
            out.push_str(&wrap("      = ", "        ", &e.formula, TEXT_WIDTH));
        }
        if !e.note.is_empty() {
            out.push_str(&wrap("      note: ", "        ", &e.note, TEXT_WIDTH));
        }
    }
    out
}

/// Renders estimates as pretty JSON (an array of [`Estimate`] objects, fields as in the struct).
pub fn render_estimates_json(estimates: &[Estimate]) -> String {
    serde_json::to_string_pretty(estimates).expect("estimates contain only serialisable data")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::reports::all_estimates;

    #[test]
    fn values() {
        assert_eq!(format_value(729_166.67), "729,167");
        assert_eq!(format_value(0.17692), "0.1769");
        assert_eq!(format_value(12.794), "12.79");
        assert_eq!(format_value(1.74e-4), "1.740e-4");
        assert_eq!(format_value(0.0), "0");
        assert_eq!(format_value(0.08), "0.08");
        assert_eq!(format_value(56.0), "56");
    }

    #[test]
    fn renders_all() {
        let all = all_estimates();
        let text = render_estimates_text(&all);
        assert!(text.contains("R4 Guosheng") && text.contains("1.309"));
        for line in text.lines() {
            assert!(line.chars().count() <= TEXT_WIDTH, "too wide: {line}");
        }
        // One heading per report, in order.
        let headings: Vec<&str> = text.lines().filter(|l| l.starts_with('R')).collect();
        assert_eq!(headings.len(), 4, "{headings:?}");
        let json: serde_json::Value = serde_json::from_str(&render_estimates_json(&all)).unwrap();
        assert_eq!(json.as_array().unwrap().len(), all.len());
    }
}
