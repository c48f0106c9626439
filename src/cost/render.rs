//! Text table and JSON for a list of [`Estimate`]s (the `fleetsim estimate` output).

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

use super::reports::Estimate;

/// Formats a number compactly: thousands separators for large values, up to 4 significant
/// digits (trailing zeros dropped) for small ones, scientific notation for very small ones.
pub fn format_value(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    let a = x.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 1e9 {
        format!("{:.4e}", x)
    } else if a >= 1000.0 {
        let s = format!("{:.0}", a);
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        if x < 0.0 { format!("-{out}") } else { out }
    } else if a >= 1e-3 {
        let digits = (3 - a.log10().floor() as i32).max(0) as usize;
        let s = format!("{x:.digits$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    } else {
        format!("{:.3e}", x)
    }
}

/// Renders estimates as a table: report, item, formula, computed, printed, agreement, note.
///
/// The `printed` column shows `-` when the report prints nothing; the `ok?` column shows
/// `yes`/`NO` against the rounding tolerance, or `n/a` when not comparable.
pub fn render_estimates_text(estimates: &[Estimate]) -> String {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.set_content_arrangement(ContentArrangement::Dynamic);
    t.set_width(200);
    t.set_header([
        "report", "item", "formula", "computed", "printed", "unit", "ok?", "note",
    ]);
    for e in estimates {
        let ok = match e.agrees_with_printed() {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "n/a",
        };
        t.add_row([
            e.report.clone(),
            e.item.clone(),
            e.formula.clone(),
            format_value(e.computed),
            e.printed.map(format_value).unwrap_or_else(|| "-".into()),
            e.unit.clone(),
            ok.to_string(),
            e.note.clone(),
        ]);
    }
    let mut out = t.to_string();
    out.push('\n');
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
        assert!(text.contains("R4") && text.contains("1.31"));
        let json: serde_json::Value = serde_json::from_str(&render_estimates_json(&all)).unwrap();
        assert_eq!(json.as_array().unwrap().len(), all.len());
    }
}
