//! A self-contained `report.html`: tables and plots in one file that opens without a network.
//!
//! Plots are drawn by plotters' SVG backend into strings and inlined; the styles are an
//! inline `<style>` block; there are no scripts. All text from [`ReportData`] is HTML-escaped
//! (plotters escapes the text it puts into the SVG).
//!
//! Bad data never panics: non-finite points (and non-positive `y` on a log axis) are left
//! out and break the line there; a plot with nothing left to draw becomes a note, and so
//! does a plotting error.

use std::fmt::Write as _;
use std::ops::Range;
use std::path::Path;

use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::prelude::*;

/// Pixel size of every plot.
const PLOT_SIZE_PX: (u32, u32) = (760, 420);

/// Series colours (Tableau 10), reused in order.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Everything a report shows, in order: title, subtitle, tables, then plots.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReportData {
    /// Page title and top heading.
    pub title: String,
    /// One line under the title (e.g. scenario, seed, crate version).
    pub subtitle: String,
    /// Tables, shown before the plots.
    pub tables: Vec<Table>,
    /// Plots, one figure each.
    pub plots: Vec<Plot>,
}

/// A table of preformatted cells.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// Caption above the table.
    pub title: String,
    /// Column headers.
    pub headers: Vec<String>,
    /// Rows of cells; short rows are padded with empty cells. Cells that parse as numbers
    /// are right-aligned.
    pub rows: Vec<Vec<String>>,
}

/// One x–y chart with a legend.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plot {
    /// Caption drawn above the chart.
    pub title: String,
    /// Label of the x axis, with its unit.
    pub x_label: String,
    /// Label of the y axis, with its unit.
    pub y_label: String,
    /// The series, drawn in order with palette colours.
    pub series: Vec<Series>,
    /// Logarithmic y axis; points with `y <= 0` are left out.
    pub log_y: bool,
    /// How the x axis is scaled and labelled.
    pub x_axis: XAxis,
}

/// How a plot's x axis is scaled and labelled.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum XAxis {
    /// Linear, automatic tick labels.
    #[default]
    Linear,
    /// Linear, labels only on whole numbers (server counts: no "2.5 servers").
    Integer,
    /// Percentiles (x in 0..100) drawn in "nines", `-log10(1 - x/100)`, so that p90, p99 and
    /// p99.9 are evenly spaced and the tail is visible; ticks labelled `p90`, `p99`, ...
    Nines,
    /// Categories at x = 0, 1, 2, ...: each whole-number tick shows its name.
    Names(Vec<String>),
}

/// `x` (a percentile) on the nines scale: p50 -> 0.30, p90 -> 1, p99 -> 2, p99.9 -> 3.
pub fn nines(percentile: f64) -> f64 {
    -(1.0 - percentile / 100.0).log10()
}

/// The tick label of `x` on `axis` ("" for no label).
fn x_tick_label(axis: &XAxis, x: f64) -> String {
    match axis {
        XAxis::Names(names) => {
            if (x - x.round()).abs() < 1e-9 && x >= 0.0 {
                names.get(x.round() as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        }
        XAxis::Linear => format_tick(x),
        XAxis::Integer => {
            if (x - x.round()).abs() < 1e-9 {
                format!("{:.0}", x.round())
            } else {
                String::new()
            }
        }
        XAxis::Nines => {
            let p = 100.0 * (1.0 - 10f64.powf(-x));
            [50.0, 90.0, 99.0, 99.9, 99.99, 99.999]
                .iter()
                .find(|&&q| (nines(q) - x).abs() < 1e-6)
                .map(|&q| format!("p{}", q))
                .unwrap_or_else(|| {
                    if (x - x.round()).abs() < 1e-9 {
                        format!("p{p}")
                    } else {
                        String::new()
                    }
                })
        }
    }
}

/// A plain tick label: up to 4 significant digits, no trailing zeros.
fn format_tick(x: f64) -> String {
    let a = x.abs();
    let s = if a == 0.0 {
        "0".to_string()
    } else if !(1e-3..1e6).contains(&a) {
        format!("{x:.2e}")
    } else {
        let digits = (3 - a.log10().floor() as i32).max(0) as usize;
        format!("{x:.digits$}")
    };
    if s.contains('.') && !s.contains('e') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// One named set of points.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend entry; an empty name gets no legend entry.
    pub name: String,
    /// `(x, y)` points in drawing order.
    pub points: Vec<(f64, f64)>,
    /// How the points are drawn.
    pub style: SeriesStyle,
    /// Dashed line (for `Line` and `Step`; ignored for `Points`).
    pub dashed: bool,
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeriesStyle {
    /// Straight segments between consecutive points.
    Line,
    /// A marker per point, unconnected.
    Points,
    /// A staircase: each value holds until the next point's x.
    Step,
}

impl Series {
    /// A series from its parts.
    pub fn new(name: &str, points: Vec<(f64, f64)>, style: SeriesStyle, dashed: bool) -> Series {
        Series {
            name: name.into(),
            points,
            style,
            dashed,
        }
    }
}

/// The whole page as a string. Never panics; see the module docs for how bad data shows.
pub fn render_report(data: &ReportData) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let title = escape_html(&data.title);
    // `write!` into a String cannot fail.
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
    );
    if !data.subtitle.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"subtitle\">{}</p>",
            escape_html(&data.subtitle)
        );
    }
    for table in &data.tables {
        render_table(&mut out, table);
    }
    for plot in &data.plots {
        out.push_str("<figure class=\"plot\">\n");
        match render_plot_svg(plot) {
            Ok((svg, notes)) => {
                out.push_str(&svg);
                out.push('\n');
                render_legend(&mut out, plot);
                for n in notes {
                    let _ = writeln!(out, "<p class=\"note\">{}</p>", escape_html(&n));
                }
            }
            Err(why) => {
                let _ = writeln!(
                    out,
                    "<p class=\"note\"><strong>{}</strong>: {}</p>",
                    escape_html(&plot.title),
                    escape_html(&why)
                );
            }
        }
        out.push_str("</figure>\n");
    }
    let _ = write!(
        out,
        "<footer>Written by fleetsim {}.</footer>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION")
    );
    out
}

/// The plot's legend as HTML under the figure, off the data: one entry per named series,
/// with its colour and a glyph for its style (marker, line, dashed line).
fn render_legend(out: &mut String, plot: &Plot) {
    let named: Vec<(usize, &Series)> = plot
        .series
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.name.is_empty())
        .collect();
    if named.is_empty() {
        return;
    }
    out.push_str("<ul class=\"legend\">\n");
    for (i, s) in named {
        let RGBColor(r, g, b) = PALETTE[i % PALETTE.len()];
        let glyph = match (s.style, s.dashed) {
            (SeriesStyle::Points, _) => "\u{25cf}",
            (_, true) => "\u{2574} \u{2574}",
            _ => "\u{2501}\u{2501}",
        };
        let _ = writeln!(
            out,
            "<li><span class=\"swatch\" style=\"color:#{r:02x}{g:02x}{b:02x}\">{glyph}</span> {}</li>",
            escape_html(&s.name)
        );
    }
    out.push_str("</ul>\n");
}

/// Writes [`render_report`] to `path` (conventionally `report.html`).
pub fn write_report(path: &Path, data: &ReportData) -> std::io::Result<()> {
    std::fs::write(path, render_report(data))
}

/// A series ready to draw: its index (for the colour), itself, and its runs of drawable
/// points (split where points were left out).
type Prepared<'a> = (usize, &'a Series, Vec<Vec<(f64, f64)>>);

/// One plot as an `<svg>` element, with notes about left-out data; `Err` says why there is
/// no plot (nothing finite to draw, or a plotting error).
pub fn render_plot_svg(plot: &Plot) -> Result<(String, Vec<String>), String> {
    let mut notes = Vec::new();
    // Per series: runs of drawable points, split where a point had to be left out.
    let mut prepared: Vec<Prepared> = Vec::new();
    for (i, s) in plot.series.iter().enumerate() {
        let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        let mut dropped = 0usize;
        for &(x, y) in &s.points {
            let x = if matches!(plot.x_axis, XAxis::Nines) {
                nines(x)
            } else {
                x
            };
            let ok = x.is_finite() && y.is_finite() && (!plot.log_y || y > 0.0);
            if ok {
                if let Some(r) = runs.last_mut() {
                    r.push((x, y));
                }
            } else {
                dropped += 1;
                if runs.last().is_some_and(|r| !r.is_empty()) {
                    runs.push(Vec::new());
                }
            }
        }
        runs.retain(|r| !r.is_empty());
        if runs.is_empty() {
            notes.push(format!(
                "Series \u{201c}{}\u{201d} has no points to draw.",
                s.name
            ));
        } else {
            if dropped > 0 {
                let why = if plot.log_y {
                    "non-finite or not positive on the log axis"
                } else {
                    "not finite"
                };
                notes.push(format!(
                    "Series \u{201c}{}\u{201d}: {dropped} point(s) left out ({why}).",
                    s.name
                ));
            }
            prepared.push((i, s, runs));
        }
    }
    let all = || prepared.iter().flat_map(|(_, _, r)| r.iter().flatten());
    let (Some(x_range), Some(y_range)) = (
        padded_range(all().map(|p| p.0), false),
        padded_range(all().map(|p| p.1), plot.log_y),
    ) else {
        return Err("no finite data to plot".into());
    };

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, PLOT_SIZE_PX).into_drawing_area();
        let drawn = if plot.log_y {
            draw_chart(&root, plot, &prepared, x_range, y_range.log_scale())
        } else {
            draw_chart(&root, plot, &prepared, x_range, y_range)
        };
        drawn?;
        root.present()
            .map_err(|e| format!("plotting failed: {e}"))?;
    }
    Ok((svg, notes))
}

/// Draws axes, series and legend on `root`; generic over the y coordinate (linear or log).
fn draw_chart<DB, Y>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    plot: &Plot,
    prepared: &[Prepared],
    x_range: Range<f64>,
    y_spec: Y,
) -> Result<(), String>
where
    DB: DrawingBackend,
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| format!("plotting failed: {e}");
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(root)
        .caption(&plot.title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(x_range, y_spec)
        .map_err(err)?;
    let axis = &plot.x_axis;
    let x_label = move |x: &f64| x_tick_label(axis, *x);
    let x_ticks = match axis {
        // Twice as many as names, so that the step is at most 1 and every name shows.
        XAxis::Names(names) => 2 * names.len() + 2,
        _ => 10,
    };
    chart
        .configure_mesh()
        .x_labels(x_ticks)
        .x_label_formatter(&x_label)
        .x_desc(&plot.x_label)
        .y_desc(&plot.y_label)
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(err)?;

    for (i, s, runs) in prepared {
        let color = PALETTE[i % PALETTE.len()];
        let line_style = color.stroke_width(2);
        for run in runs {
            match s.style {
                SeriesStyle::Points => chart
                    .draw_series(run.iter().map(|&p| Circle::new(p, 3, color.filled())))
                    .map_err(err)?,
                SeriesStyle::Line | SeriesStyle::Step => {
                    let pts = if s.style == SeriesStyle::Step {
                        step_points(run)
                    } else {
                        run.clone()
                    };
                    if s.dashed {
                        chart
                            .draw_series(DashedLineSeries::new(pts, 8, 5, line_style))
                            .map_err(err)?
                    } else if pts.len() == 1 {
                        // A lone point of a line still shows, as a marker.
                        chart
                            .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
                            .map_err(err)?
                    } else {
                        chart
                            .draw_series(LineSeries::new(pts, line_style))
                            .map_err(err)?
                    }
                }
            };
        }
    }
    // The legend is HTML under the figure (`render_legend`), off the data.
    Ok(())
}

/// The corner points of a staircase through `run`: each y holds until the next x.
fn step_points(run: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(run.len() * 2);
    for (k, &(x, y)) in run.iter().enumerate() {
        if k > 0 {
            out.push((x, run[k - 1].1));
        }
        out.push((x, y));
    }
    out
}

/// The span of `values` with a little room, or `None` if there are none. A single value
/// gets a span around it; on a log axis the span stays positive.
fn padded_range(values: impl Iterator<Item = f64>, log: bool) -> Option<Range<f64>> {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if lo > hi {
        return None;
    }
    let range = if log {
        if lo == hi {
            lo / 2.0..hi * 2.0
        } else {
            lo / 1.15..hi * 1.15
        }
    } else if lo == hi {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        lo - pad..hi + pad
    } else {
        let pad = (hi - lo) * 0.04;
        lo - pad..hi + pad
    };
    // Extreme magnitudes can overflow to infinity; plotters cannot use that.
    (range.start.is_finite() && range.end.is_finite() && range.start < range.end).then_some(range)
}

fn render_table(out: &mut String, table: &Table) {
    out.push_str("<table>\n");
    if !table.title.is_empty() {
        let _ = writeln!(out, "<caption>{}</caption>", escape_html(&table.title));
    }
    if !table.headers.is_empty() {
        out.push_str("<thead><tr>");
        for h in &table.headers {
            let _ = write!(out, "<th>{}</th>", escape_html(h));
        }
        out.push_str("</tr></thead>\n");
    }
    out.push_str("<tbody>\n");
    let width = table.headers.len();
    for row in &table.rows {
        out.push_str("<tr>");
        for cell in row {
            let class = if cell.trim().parse::<f64>().is_ok() {
                " class=\"num\""
            } else {
                ""
            };
            let _ = write!(out, "<td{class}>{}</td>", escape_html(cell));
        }
        for _ in row.len()..width {
            out.push_str("<td></td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

/// `text` safe to place in HTML element content and in quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const CSS: &str = "\
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2em auto; \
max-width: 60em; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
.subtitle { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 1.5em 0; font-size: 0.92em; }
caption { text-align: left; font-weight: 600; padding-bottom: 0.4em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3em 0.8em; text-align: left; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure.plot { margin: 1.5em 0; }
figure.plot svg { max-width: 100%; height: auto; }
ul.legend { list-style: none; padding: 0; margin: 0.3em 0 0 4.5em; font-size: 0.9em; }
ul.legend li { display: inline-block; margin-right: 1.5em; }
ul.legend .swatch { font-weight: bold; }
.note { color: #8a5a00; font-size: 0.9em; }
footer { margin-top: 3em; color: #888; font-size: 0.85em; }
";

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: &str, points: Vec<(f64, f64)>, style: SeriesStyle, dashed: bool) -> Series {
        Series::new(name, points, style, dashed)
    }

    fn sample() -> ReportData {
        let curve: Vec<(f64, f64)> = (0..50)
            .map(|i| (f64::from(i), f64::from(i * i) + 1.0))
            .collect();
        ReportData {
            title: "Fleet <b>sizing</b> & cost".into(),
            subtitle: "seed 42".into(),
            tables: vec![Table {
                title: "Summary".into(),
                headers: vec!["servers".into(), "p99 latency (s)".into()],
                rows: vec![vec!["4".into(), "1.25".into()], vec!["5".into()]],
            }],
            plots: vec![
                Plot {
                    title: "Latency".into(),
                    x_label: "load (req/s)".into(),
                    y_label: "p99 (s)".into(),
                    series: vec![
                        series("sim", curve.clone(), SeriesStyle::Line, false),
                        series("theory", curve.clone(), SeriesStyle::Line, true),
                        series("obs", curve.clone(), SeriesStyle::Points, false),
                        series("servers", curve.clone(), SeriesStyle::Step, true),
                    ],
                    log_y: true,
                    x_axis: XAxis::Linear,
                },
                Plot {
                    title: "Servers".into(),
                    x_label: "time (h)".into(),
                    y_label: "active".into(),
                    series: vec![series("active", curve, SeriesStyle::Step, false)],
                    log_y: false,
                    x_axis: XAxis::Integer,
                },
            ],
        }
    }

    #[test]
    fn one_svg_per_plot_and_self_contained() {
        let html = render_report(&sample());
        assert_eq!(html.matches("<svg").count(), 2);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(!html.contains("<script"), "no scripts");
        // Only the SVG namespace may mention a URL; nothing is fetched.
        for (i, _) in html.match_indices("http") {
            assert!(
                html[i..].starts_with("http://www.w3.org/"),
                "external URL at {i}"
            );
        }
        assert!(html.contains("Fleet &lt;b&gt;sizing&lt;/b&gt; &amp; cost"));
        assert!(html.contains("<td class=\"num\">1.25</td>"));
        // Legends are HTML under each figure, not drawn over the data.
        for name in ["sim", "theory", "obs", "servers", "active"] {
            assert!(
                html.lines()
                    .any(|l| l.starts_with("<li><span class=\"swatch\"")
                        && l.ends_with(&format!("</span> {name}</li>"))),
                "legend entry {name} missing"
            );
        }
        assert_eq!(html.matches("<ul class=\"legend\">").count(), 2);
    }

    #[test]
    fn tick_labels_integer_and_nines() {
        assert_eq!(x_tick_label(&XAxis::Integer, 3.0), "3");
        assert_eq!(x_tick_label(&XAxis::Integer, 2.5), "");
        assert!((nines(99.0) - 2.0).abs() < 1e-12 && (nines(90.0) - 1.0).abs() < 1e-12);
        assert_eq!(x_tick_label(&XAxis::Nines, nines(99.9)), "p99.9");
        assert_eq!(x_tick_label(&XAxis::Nines, 1.0), "p90");
        assert_eq!(x_tick_label(&XAxis::Nines, 1.5), "");
        assert_eq!(x_tick_label(&XAxis::Linear, 0.25), "0.25");
        assert_eq!(x_tick_label(&XAxis::Linear, 1500.0), "1500");
        let names = XAxis::Names(vec!["formula".into(), "idle".into()]);
        assert_eq!(x_tick_label(&names, 1.0), "idle");
        assert_eq!(x_tick_label(&names, 0.5), "");
        assert_eq!(x_tick_label(&names, 2.0), "");
        // The percentile plot of a run shows p50 to p99.9 on the nines scale.
        let mut data = sample();
        data.plots[0].x_axis = XAxis::Nines;
        data.plots[0].series = vec![series(
            "ttft",
            vec![(50.0, 1.0), (90.0, 2.0), (99.0, 3.0), (99.9, 4.0)],
            SeriesStyle::Line,
            false,
        )];
        let html = render_report(&data);
        for label in ["p90", "p99", "p99.9"] {
            assert!(html.lines().any(|l| l.trim() == label), "{label}");
        }
    }

    #[test]
    fn escapes_script_in_titles_everywhere() {
        let evil = "<script>alert(1)</script>";
        let mut data = sample();
        data.title = evil.into();
        data.subtitle = evil.into();
        data.tables[0].title = evil.into();
        data.tables[0].headers[0] = evil.into();
        data.tables[0].rows[0][0] = evil.into();
        data.plots[0].title = evil.into();
        data.plots[0].x_label = evil.into();
        data.plots[0].series[0].name = evil.into();
        let html = render_report(&data);
        assert!(!html.contains("<script"), "unescaped script tag");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }

    #[test]
    fn nan_empty_and_degenerate_data_do_not_panic() {
        let nan = f64::NAN;
        let inf = f64::INFINITY;
        let plots = vec![
            Plot {
                title: "no series".into(),
                ..Plot::default()
            },
            Plot {
                title: "empty series".into(),
                series: vec![series("e", vec![], SeriesStyle::Line, false)],
                ..Plot::default()
            },
            Plot {
                title: "all NaN".into(),
                series: vec![series(
                    "n",
                    vec![(nan, 1.0), (1.0, nan), (inf, 2.0)],
                    SeriesStyle::Step,
                    true,
                )],
                ..Plot::default()
            },
            Plot {
                title: "log of non-positive".into(),
                series: vec![series(
                    "z",
                    vec![(0.0, 0.0), (1.0, -1.0)],
                    SeriesStyle::Line,
                    false,
                )],
                log_y: true,
                ..Plot::default()
            },
            Plot {
                title: "single point".into(),
                series: vec![series("one", vec![(3.0, 3.0)], SeriesStyle::Line, false)],
                log_y: true,
                ..Plot::default()
            },
            Plot {
                title: "constant with a NaN gap".into(),
                series: vec![
                    series(
                        "c",
                        vec![(0.0, 0.0), (1.0, nan), (2.0, 0.0), (3.0, 0.0)],
                        SeriesStyle::Line,
                        false,
                    ),
                    series("", vec![(0.0, 0.0)], SeriesStyle::Points, false),
                ],
                ..Plot::default()
            },
            Plot {
                title: "huge".into(),
                series: vec![series(
                    "h",
                    vec![(-f64::MAX, f64::MAX), (f64::MAX, -f64::MAX)],
                    SeriesStyle::Line,
                    false,
                )],
                ..Plot::default()
            },
        ];
        let data = ReportData {
            title: "edge cases".into(),
            plots,
            ..ReportData::default()
        };
        let html = render_report(&data);
        assert_eq!(
            html.matches("<svg").count(),
            2,
            "single point and constant plots"
        );
        assert_eq!(html.matches("no finite data to plot").count(), 5);
        assert!(html.contains("1 point(s) left out"));
    }

    #[test]
    fn step_points_hold_until_next_x() {
        assert_eq!(
            step_points(&[(0.0, 1.0), (2.0, 3.0), (5.0, 0.0)]),
            vec![(0.0, 1.0), (2.0, 1.0), (2.0, 3.0), (5.0, 3.0), (5.0, 0.0)]
        );
    }

    #[test]
    fn writes_a_file() {
        if let Some(p) = std::env::var_os("FLEETSIM_SAMPLE_REPORT") {
            write_report(std::path::Path::new(&p), &sample()).expect("write sample");
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("report.html");
        write_report(&path, &sample()).expect("write");
        let text = std::fs::read_to_string(&path).expect("read back");
        assert_eq!(text, render_report(&sample()), "deterministic output");
    }
}
