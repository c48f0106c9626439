//! Parameter sweeps: one scenario run over a grid of key values, one table row per point.
//!
//! `--vary key=values` gives one axis of the grid; the grid is the cartesian product of the
//! axes in the order given (the first axis varies slowest), and a point's index is its
//! position in that order. Each point is the base scenario plus the base `--set`s plus the
//! point's own `key=value` overrides (applied last, so they win), loaded through the normal
//! validation. Every point keeps the base seed: the points share common random numbers, which
//! makes differences between neighbouring points sharper than independent seeds would, and a
//! point reproduces exactly with `fleetsim run` and the same `--set`s.
//!
//! Determinism: points run in parallel on one rayon pool and their replications share it;
//! results are collected in grid order and rendered afterwards, so `sweep.csv` and
//! `sweep.json` are byte-identical whatever the thread count. They hold no time stamp or host
//! name.
//!
//! Sharding: shard `i/n` runs the points whose index `% n == i - 1` and writes a shard file
//! holding the grid definition and its rows; [`merge`] checks a set of shard files covers the
//! grid exactly once and renders the same bytes as the unsharded sweep (rows go through JSON,
//! which `serde_json`'s `float_roundtrip` feature parses back to the identical `f64`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::drivers::run::run;
use crate::report::sweep::{plain, row};
use crate::scenario::{self, Overrides, Scenario};

use crate::report::outcome::{Axis, Grid};

/// The most values one `--vary` range may produce; a guard against typos like `0..1e9:1`.
pub const MAX_AXIS_VALUES: usize = 100_000;
/// The most points a grid may have.
pub const MAX_GRID_POINTS: usize = crate::scenario::limits::MAX_SWEEP_POINTS;
/// The `format` field of a shard file.
pub const SHARD_FORMAT: &str = "fleetsim-sweep-shard/1";

/// Something wrong with a sweep's flags, values or shard files; the user can fix it (the CLI
/// exits with code 2).
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// A `--vary` spec that cannot be parsed.
    #[error("--vary {spec}: {message}")]
    Vary {
        /// The spec as given.
        spec: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// A `--shard` spec (or Slurm variables) that cannot be used.
    #[error("{source_name} {spec}: {message}")]
    Shard {
        /// `--shard` or the Slurm variable read.
        source_name: String,
        /// The value as given.
        spec: String,
        /// What is wrong.
        message: String,
    },
    /// A value, or a combination of values, that the scenario validation refuses.
    #[error("{context}: {message}")]
    Point {
        /// Which axis value or grid point, e.g. `--vary servers.count value 0`.
        context: String,
        /// The scenario error.
        message: String,
    },
    /// Shard files that cannot be merged.
    #[error("merge: {0}")]
    Merge(String),
}

fn vary_err(spec: &str, message: impl Into<String>) -> SweepError {
    SweepError::Vary {
        spec: spec.to_string(),
        message: message.into(),
    }
}

/// Parses `key=values`: a range `a..b:step` (integers stay integers; `b` is included when a
/// step lands on it; `:step` may be left out for integer ranges, meaning 1), or a comma list
/// `0,0.3,0.6` of numbers, `true`/`false` or strings (quotes optional).
pub fn parse_vary(spec: &str) -> Result<Axis, SweepError> {
    let (key, values) = spec
        .split_once('=')
        .ok_or_else(|| vary_err(spec, "expected key=values, e.g. servers.count=10..100:10"))?;
    let key = key.trim();
    if key.is_empty() || key.split('.').any(|p| p.trim().is_empty()) {
        return Err(vary_err(
            spec,
            "the key must be dotted names, e.g. cache.hit_rate",
        ));
    }
    let values = values.trim();
    if values.is_empty() {
        return Err(vary_err(spec, "no values after `=`"));
    }
    let values = match values.split_once("..") {
        Some((a, rest)) if parse_number(a.trim()).is_some() => parse_range(spec, a, rest)?,
        _ => parse_list(spec, values)?,
    };
    Ok(Axis {
        key: key.to_string(),
        values,
    })
}

/// A number as written: an integer, or a finite float written with digits (not `inf`/`nan`).
fn parse_number(s: &str) -> Option<Value> {
    let first = s.chars().next()?;
    if !(first.is_ascii_digit() || matches!(first, '-' | '+' | '.')) {
        return None;
    }
    if let Ok(i) = s.parse::<i64>() {
        return Some(json!(i));
    }
    s.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .map(|x| json!(x))
}

/// Digits after the decimal point as written (`0.25` -> 2); `None` with an exponent.
fn decimals(s: &str) -> Option<usize> {
    if s.contains(['e', 'E']) {
        return None;
    }
    Some(s.split_once('.').map_or(0, |(_, f)| f.len()))
}

fn parse_range(spec: &str, a: &str, rest: &str) -> Result<Vec<Value>, SweepError> {
    let (b, step) = match rest.split_once(':') {
        Some((b, step)) => (b.trim(), Some(step.trim())),
        None => (rest.trim(), None),
    };
    let a = a.trim();
    let bad = |what: &str, s: &str| vary_err(spec, format!("range {what} `{s}` is not a number"));
    let av = parse_number(a).ok_or_else(|| bad("start", a))?;
    let bv = parse_number(b).ok_or_else(|| bad("end", b))?;
    let sv = match step {
        Some(s) => parse_number(s).ok_or_else(|| bad("step", s))?,
        None if av.is_i64() && bv.is_i64() => json!(1),
        None => {
            return Err(vary_err(spec, "a float range needs a step, e.g. 0..1:0.25"));
        }
    };
    let too_many = || {
        vary_err(
            spec,
            format!("the range has more than {MAX_AXIS_VALUES} values"),
        )
    };
    if let (Some(a), Some(b), Some(s)) = (av.as_i64(), bv.as_i64(), sv.as_i64()) {
        if s == 0 {
            return Err(vary_err(spec, "the step must not be 0"));
        }
        if (b - a).signum() * s.signum() < 0 {
            return Err(vary_err(
                spec,
                format!("the range is empty: step {s} never goes from {a} to {b}"),
            ));
        }
        let n = (b - a) / s;
        if n >= MAX_AXIS_VALUES as i64 {
            return Err(too_many());
        }
        return Ok((0..=n).map(|k| json!(a + k * s)).collect());
    }
    let (af, bf, sf) = (
        av.as_f64().unwrap_or(0.0),
        bv.as_f64().unwrap_or(0.0),
        sv.as_f64().unwrap_or(0.0),
    );
    if sf == 0.0 {
        return Err(vary_err(spec, "the step must not be 0"));
    }
    let steps = (bf - af) / sf;
    if steps < -1e-9 {
        return Err(vary_err(
            spec,
            format!("the range is empty: step {sf} never goes from {af} to {bf}"),
        ));
    }
    // Tolerate rounding in (b - a) / step so that 0..1:0.1 includes 1.
    let n = (steps + 1e-9).floor().max(0.0);
    if n >= MAX_AXIS_VALUES as f64 {
        return Err(too_many());
    }
    let n = n as i64;
    // Round to the decimals the user wrote, so 0..1:0.1 gives 0.3 and not 0.30000000000000004.
    let digits = [a, b, step.unwrap_or("0")]
        .iter()
        .map(|s| decimals(s))
        .try_fold(0usize, |m, d| d.map(|d| m.max(d)));
    let values = (0..=n)
        .map(|k| {
            let x = af + k as f64 * sf;
            let x = match digits {
                Some(d) => format!("{x:.d$}").parse::<f64>().unwrap_or(x),
                None => x,
            };
            // -0.0 prints as "-0.0"; keep the grid's values tidy.
            json!(if x == 0.0 { 0.0 } else { x })
        })
        .collect();
    Ok(values)
}

fn parse_list(spec: &str, values: &str) -> Result<Vec<Value>, SweepError> {
    values
        .split(',')
        .enumerate()
        .map(|(i, item)| {
            let item = item.trim();
            if item.is_empty() {
                return Err(vary_err(
                    spec,
                    format!("value {} of the list is empty", i + 1),
                ));
            }
            if let Some(v) = parse_number(item) {
                return Ok(v);
            }
            Ok(match item {
                "true" => json!(true),
                "false" => json!(false),
                _ => {
                    let unquoted = ['"', '\'']
                        .iter()
                        .find_map(|q| item.strip_prefix(*q).and_then(|s| s.strip_suffix(*q)));
                    json!(unquoted.unwrap_or(item))
                }
            })
        })
        .collect()
}

/// A value as a TOML literal for an override (`5`, `0.3`, `1.0`, `true`, `"text"`).
pub fn toml_literal(v: &Value) -> String {
    match v {
        Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap_or(0.0);
            // TOML needs a decimal point or an exponent for a float.
            let s = format!("{x:?}");
            if s.contains(['.', 'e', 'E']) {
                s
            } else {
                format!("{s}.0")
            }
        }
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::String(s) => toml::Value::String(s.clone()).to_string(),
        other => toml::Value::String(other.to_string()).to_string(),
    }
}

impl Grid {
    /// Checks the axes against the base scenario and builds the grid.
    ///
    /// Every axis value is loaded alone on top of the base first, so a bad value is reported
    /// with its key and value rather than as a failing grid point.
    pub fn new(
        path: &Path,
        base_overrides: Vec<String>,
        axes: Vec<Axis>,
    ) -> Result<Grid, SweepError> {
        let base = scenario::load(
            path,
            &Overrides {
                set: base_overrides.clone(),
            },
        )
        .map_err(|e| SweepError::Point {
            context: "base scenario".into(),
            message: e.to_string(),
        })?;
        let mut seen = BTreeMap::new();
        for (i, axis) in axes.iter().enumerate() {
            if let Some(j) = seen.insert(axis.key.clone(), i) {
                return Err(vary_err(
                    &axis.key,
                    format!("the key is varied twice (flags {} and {})", j + 1, i + 1),
                ));
            }
            for v in &axis.values {
                let mut set = base_overrides.clone();
                set.push(format!("{}={}", axis.key, toml_literal(v)));
                scenario::load(path, &Overrides { set }).map_err(|e| SweepError::Point {
                    context: format!("--vary {}: value {}", axis.key, plain(v)),
                    message: e.to_string(),
                })?;
            }
        }
        let grid = Grid {
            scenario: base.name.clone(),
            fleetsim_version: env!("CARGO_PKG_VERSION").to_string(),
            base_overrides,
            base_resolved_toml: base.to_resolved_toml(),
            axes,
        };
        let points = grid
            .axes
            .iter()
            .try_fold(1usize, |n, a| n.checked_mul(a.values.len()))
            .filter(|&n| n <= MAX_GRID_POINTS);
        if points.is_none() {
            let keys: Vec<&str> = grid.axes.iter().map(|a| a.key.as_str()).collect();
            return Err(vary_err(
                &keys.join(" x "),
                format!("the grid has more than {MAX_GRID_POINTS} points"),
            ));
        }
        Ok(grid)
    }

    /// The overrides that make point `index`: the base ones, then the point's.
    pub fn point_overrides(&self, index: usize) -> Overrides {
        let mut set = self.base_overrides.clone();
        set.extend(
            self.point(index)
                .iter()
                .map(|(k, v)| format!("{k}={}", toml_literal(v))),
        );
        Overrides { set }
    }
}

/// One shard of a grid: 1-based `index` of `count`; it runs points with
/// `point % count == index - 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// 1-based shard number.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl Shard {
    /// Parses `i/n` (1 <= i <= n).
    pub fn parse(spec: &str) -> Result<Shard, SweepError> {
        let err = |m: &str| SweepError::Shard {
            source_name: "--shard".into(),
            spec: spec.into(),
            message: m.into(),
        };
        let (i, n) = spec
            .split_once('/')
            .ok_or_else(|| err("expected i/n, e.g. 2/8 (1-based)"))?;
        let i: usize = i
            .trim()
            .parse()
            .map_err(|_| err("i is not a whole number"))?;
        let n: usize = n
            .trim()
            .parse()
            .map_err(|_| err("n is not a whole number"))?;
        if n == 0 || i == 0 || i > n {
            return Err(err("need 1 <= i <= n (shards are numbered from 1)"));
        }
        Ok(Shard { index: i, count: n })
    }

    /// The shard of a Slurm job-array task, from `SLURM_ARRAY_TASK_ID` and
    /// `SLURM_ARRAY_TASK_COUNT` as read by `var`; `None` outside a job array.
    ///
    /// The shard's 0-based number is `(TASK_ID - TASK_MIN) / TASK_STEP`, so `--array=0-7`,
    /// `--array=1-8` and `--array=0-14:2` all give shards 1/8 .. 8/8. Without
    /// `SLURM_ARRAY_TASK_MIN` the ID is taken as 0-based. The IDs must form one evenly
    /// stepped range (not a list such as `--array=1,5,9`).
    pub fn from_slurm(var: impl Fn(&str) -> Option<String>) -> Result<Option<Shard>, SweepError> {
        let (Some(id), Some(count)) = (var("SLURM_ARRAY_TASK_ID"), var("SLURM_ARRAY_TASK_COUNT"))
        else {
            return Ok(None);
        };
        let num = |name: &str, v: &str| -> Result<i64, SweepError> {
            v.trim().parse().map_err(|_| SweepError::Shard {
                source_name: name.into(),
                spec: v.into(),
                message: "is not a whole number".into(),
            })
        };
        let id_n = num("SLURM_ARRAY_TASK_ID", &id)?;
        let count_n = num("SLURM_ARRAY_TASK_COUNT", &count)?;
        let min = match var("SLURM_ARRAY_TASK_MIN") {
            Some(m) => num("SLURM_ARRAY_TASK_MIN", &m)?,
            None => 0,
        };
        let step = match var("SLURM_ARRAY_TASK_STEP") {
            Some(s) => num("SLURM_ARRAY_TASK_STEP", &s)?.max(1),
            None => 1,
        };
        let offset = id_n - min;
        let zero_based = offset / step;
        if count_n < 1 || offset < 0 || offset % step != 0 || zero_based >= count_n {
            return Err(SweepError::Shard {
                source_name: "SLURM_ARRAY_TASK_ID".into(),
                spec: id,
                message: format!(
                    "does not map to a shard of {count}: use an evenly stepped --array \
                     range such as 0-{} or 1-{count}, or pass --shard i/n",
                    count_n - 1
                ),
            });
        }
        Ok(Some(Shard {
            index: zero_based as usize + 1,
            count: count_n as usize,
        }))
    }

    /// Whether grid point `point` belongs to this shard.
    pub fn owns(&self, point: usize) -> bool {
        point % self.count == self.index - 1
    }

    /// The shard file's name, e.g. `shard-0002-of-0008.json`.
    pub fn file_name(&self) -> String {
        format!("shard-{:04}-of-{:04}.json", self.index, self.count)
    }
}

/// Loads the scenario of each of `points` (all validated before any runs), then runs them in
/// parallel on `threads` threads (default: all cores), returning rows in the order given.
///
/// `progress` is called once per finished point (from worker threads).
pub fn run_points(
    path: &Path,
    grid: &Grid,
    points: &[usize],
    threads: Option<usize>,
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<Map<String, Value>>, SweepError> {
    let scenarios: Vec<Scenario> = points
        .iter()
        .map(|&i| load_point(path, grid, i))
        .collect::<Result<_, _>>()?;
    // Points and their replications share one pool; `run` collects replications in order and
    // `collect` keeps point order, so no result depends on scheduling.
    let work = || {
        points
            .par_iter()
            .zip(scenarios.par_iter())
            .map(|(&i, s)| {
                let out = run(s, None);
                progress();
                row(grid, i, &out.summary)
            })
            .collect::<Vec<_>>()
    };
    Ok(match threads {
        Some(n) => match rayon::ThreadPoolBuilder::new().num_threads(n).build() {
            Ok(pool) => pool.install(work),
            Err(_) => work(),
        },
        None => work(),
    })
}

/// Points run at once between writes when streaming: memory holds at most this many rows.
const CHUNK_POINTS: usize = 256;

/// Loads and validates the scenario of every point, keeping none: a bad point is reported
/// before any simulation.
pub fn validate_points(path: &Path, grid: &Grid, points: &[usize]) -> Result<(), SweepError> {
    for &i in points {
        load_point(path, grid, i)?;
    }
    Ok(())
}

fn load_point(path: &Path, grid: &Grid, i: usize) -> Result<Scenario, SweepError> {
    scenario::load(path, &grid.point_overrides(i)).map_err(|e| SweepError::Point {
        context: format!(
            "grid point {i} ({})",
            grid.point(i)
                .iter()
                .map(|(k, v)| format!("{k}={}", plain(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        message: e.to_string(),
    })
}

/// Runs `points` (validated with [`validate_points`]) in parallel on `threads` threads,
/// `CHUNK_POINTS` (256) at a time, handing each row to `sink` in the order given: memory stays
/// flat whatever the grid's size, and the rows are those [`run_points`] returns.
pub fn run_points_streaming(
    path: &Path,
    grid: &Grid,
    points: &[usize],
    threads: Option<usize>,
    progress: &(dyn Fn() + Sync),
    sink: &mut dyn FnMut(Map<String, Value>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let pool = match threads {
        Some(n) => rayon::ThreadPoolBuilder::new().num_threads(n).build().ok(),
        None => None,
    };
    for chunk in points.chunks(CHUNK_POINTS) {
        let work = || {
            chunk
                .par_iter()
                .map(|&i| {
                    let s = load_point(path, grid, i)?;
                    let out = run(&s, None);
                    progress();
                    Ok(row(grid, i, &out.summary))
                })
                .collect::<Result<Vec<_>, SweepError>>()
        };
        let rows = match &pool {
            Some(p) => p.install(work),
            None => work(),
        }?;
        for r in rows {
            sink(r)?;
        }
    }
    Ok(())
}

/// A shard file: the grid it belongs to, which shard it is, and its rows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShardFile {
    /// Always [`SHARD_FORMAT`].
    pub format: String,
    /// The grid definition; shards merge only when these are equal.
    pub grid: Grid,
    /// Which shard this is.
    pub shard: Shard,
    /// Number of points in the whole grid.
    pub points: usize,
    /// The shard's rows in grid order, each with its grid index under `point`.
    pub rows: Vec<Map<String, Value>>,
}

impl ShardFile {
    /// The file's bytes: pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_else(|_| "null".into());
        s.push('\n');
        s
    }
}

/// The shard files named by `paths`: files as they are, folders searched for `shard-*.json`.
pub fn read_shards(paths: &[PathBuf]) -> Result<Vec<(PathBuf, ShardFile)>, SweepError> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| SweepError::Merge(format!("reading {}: {e}", p.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("shard-") && n.ends_with(".json"))
                })
                .collect();
            if found.is_empty() {
                return Err(SweepError::Merge(format!(
                    "{}: no shard-*.json file in this folder",
                    p.display()
                )));
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f)
                .map_err(|e| SweepError::Merge(format!("reading {}: {e}", f.display())))?;
            let shard: ShardFile = serde_json::from_str(&text).map_err(|e| {
                SweepError::Merge(format!("{}: not a sweep shard file: {e}", f.display()))
            })?;
            if shard.format != SHARD_FORMAT {
                return Err(SweepError::Merge(format!(
                    "{}: format {:?}, expected {SHARD_FORMAT:?}",
                    f.display(),
                    shard.format
                )));
            }
            Ok((f, shard))
        })
        .collect()
}

/// Checks that shards come from one grid and cover each point exactly once; returns the grid
/// and all rows in grid order.
pub fn merge(
    shards: &[(PathBuf, ShardFile)],
) -> Result<(Grid, Vec<Map<String, Value>>), SweepError> {
    let Some((first_path, first)) = shards.first() else {
        return Err(SweepError::Merge("no shard files given".into()));
    };
    let n = first.points;
    for (p, s) in &shards[1..] {
        if s.grid != first.grid || s.points != n {
            let g = |s: &ShardFile| serde_json::to_value(&s.grid).unwrap_or_default();
            let (a, b) = (g(first), g(s));
            let field = a
                .as_object()
                .and_then(|m| m.keys().find(|k| a[k.as_str()] != b[k.as_str()]).cloned())
                .unwrap_or_else(|| "points".into());
            return Err(SweepError::Merge(format!(
                "{} and {} come from different grids (they differ in `{field}`)",
                first_path.display(),
                p.display()
            )));
        }
    }
    let mut owner: Vec<Option<&Path>> = vec![None; n];
    let mut rows: Vec<Option<Map<String, Value>>> = vec![None; n];
    for (p, s) in shards {
        for r in &s.rows {
            let i = r
                .get("point")
                .and_then(Value::as_u64)
                .map(|i| i as usize)
                .filter(|&i| i < n && s.shard.owns(i))
                .ok_or_else(|| {
                    SweepError::Merge(format!(
                        "{}: a row has a missing or foreign point index",
                        p.display()
                    ))
                })?;
            if let Some(prev) = owner[i] {
                return Err(SweepError::Merge(format!(
                    "point {i} appears twice, in {} and {}: overlapping shards",
                    prev.display(),
                    p.display()
                )));
            }
            owner[i] = Some(p);
            rows[i] = Some(r.clone());
        }
    }
    let missing: Vec<usize> = (0..n).filter(|&i| rows[i].is_none()).collect();
    if !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(10).map(|i| i.to_string()).collect();
        let count = first.shard.count;
        let absent: Vec<String> = (1..=count)
            .filter(|k| {
                !shards
                    .iter()
                    .any(|(_, s)| s.shard.index == *k && s.shard.count == count)
            })
            .map(|k| format!("{k}/{count}"))
            .collect();
        return Err(SweepError::Merge(format!(
            "{} of {n} points are missing (points {}{}); shards not given: {}",
            missing.len(),
            shown.join(", "),
            if missing.len() > 10 { ", ..." } else { "" },
            if absent.is_empty() {
                "none".to_string()
            } else {
                absent.join(", ")
            }
        )));
    }
    Ok((first.grid.clone(), rows.into_iter().flatten().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_from_slurm_handles_bases_and_steps() {
        fn slurm(pairs: &[(&str, &str)]) -> Result<Option<Shard>, SweepError> {
            Shard::from_slurm(|k| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            })
        }
        let s = |pairs: &[(&str, &str)]| slurm(pairs).unwrap();
        assert_eq!(s(&[]), None);
        let one_based = [
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
        ];
        assert_eq!(s(&one_based), Some(Shard { index: 1, count: 4 }));
        assert_eq!(
            s(&[
                ("SLURM_ARRAY_TASK_ID", "3"),
                ("SLURM_ARRAY_TASK_COUNT", "4")
            ]),
            Some(Shard { index: 4, count: 4 })
        );
        let stepped = [
            ("SLURM_ARRAY_TASK_ID", "6"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_STEP", "2"),
        ];
        assert_eq!(s(&stepped), Some(Shard { index: 4, count: 4 }));
        assert!(
            slurm(&[
                ("SLURM_ARRAY_TASK_ID", "4"),
                ("SLURM_ARRAY_TASK_COUNT", "4")
            ])
            .is_err()
        );
    }

    #[test]
    fn point_index_is_mixed_radix_first_axis_slowest() {
        let grid = Grid {
            scenario: "x".into(),
            fleetsim_version: "0".into(),
            base_overrides: vec![],
            base_resolved_toml: String::new(),
            axes: vec![
                Axis {
                    key: "a".into(),
                    values: vec![json!(1), json!(2)],
                },
                Axis {
                    key: "b".into(),
                    values: vec![json!("x"), json!("y"), json!("z")],
                },
            ],
        };
        assert_eq!(grid.len(), 6);
        assert_eq!(
            grid.point(4),
            vec![("a".to_string(), json!(2)), ("b".to_string(), json!("y"))]
        );
        assert_eq!(
            grid.point_overrides(2).set,
            vec!["a=1".to_string(), "b=\"z\"".to_string()]
        );
    }
}
