//! Helpers shared by the integration tests.

use std::path::PathBuf;

use fleetsim::drivers::run::run;
use fleetsim::metrics::replication::{LatencyMetric, LatencyStat};
use fleetsim::report::figures::{Figure, Reading, latency};
use fleetsim::report::outcome::RunOutput;
use fleetsim::report::summary::RunSummary;
use fleetsim::scenario::{self, Overrides, Scenario};

/// The crate root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Loads `workloads/<rel>` with `key=value` overrides.
pub fn load(rel: &str, sets: &[&str]) -> Scenario {
    let o = Overrides {
        set: sets.iter().map(|s| s.to_string()).collect(),
    };
    let path = root().join("workloads").join(rel);
    scenario::load(&path, &o).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs a scenario on the default pool.
pub fn run_default(s: &Scenario) -> RunOutput {
    run(s, None)
}

/// The mean queue wait, as a figure for [`check_theory`].
pub const QUEUE_WAIT_MEAN: Figure = Figure {
    key: "latency_s.queue_wait.mean",
    label: "mean queue wait",
    digits: 4,
    read: |s| latency(s, LatencyMetric::QueueWait, LatencyStat::Mean),
};

/// A figure's reading, which the summary must have (mean and half-width).
fn reading(s: &RunSummary, f: &Figure) -> (f64, f64) {
    let r: Reading = (f.read)(s).unwrap_or_else(|| panic!("the summary has no {}", f.key));
    match (r.mean, r.ci95.flatten()) {
        (Some(m), Some(h)) => (m, h),
        _ => panic!("{}: no mean or no half-width in {r:?}", f.key),
    }
}

/// Checks a scenario against theory values `(summary path, value)`.
///
/// Each value must lie within `rel_tol` of the simulated mean, and inside its 95% confidence
/// interval (Student t over the scenario's independent replications). A 95% interval misses a
/// true value 5% of the time by chance, and a file of such checks would then fail about one
/// run in three; so the procedure, fixed before looking at any result, is: if any interval
/// misses with the scenario's seed, the whole scenario is run once more with an independent
/// seed and every interval must hold there. A true bias larger than a half-width fails both
/// runs; a chance miss fails both with probability about 0.25% per check.
pub fn check_theory(
    rel: &str,
    sets: &[&str],
    checks: &[(Figure, f64)],
    rel_tol: f64,
) -> RunSummary {
    let s = load(rel, sets);
    assert!(s.run.replications >= 10, "{rel}: needs >= 10 replications");
    let first = run_default(&s).summary;
    for (f, theory) in checks {
        let (mean, _) = reading(&first, f);
        let path = f.key;
        assert!(
            ((mean - theory) / theory).abs() <= rel_tol,
            "{rel} {path}: simulated {mean} is more than {:.1}% from theory {theory}",
            rel_tol * 100.0
        );
    }
    let misses = |summary: &RunSummary| -> Vec<String> {
        checks
            .iter()
            .filter_map(|(f, theory)| {
                let (mean, hw) = reading(summary, f);
                ((mean - theory).abs() > hw).then(|| {
                    format!(
                        "{}: theory {theory} outside {mean} ± {hw} (seed {})",
                        f.key, summary.seed
                    )
                })
            })
            .collect()
    };
    let first_misses = misses(&first);
    if first_misses.is_empty() {
        return first;
    }
    let mut retest = s.clone();
    retest.run.seed = s.run.seed.wrapping_add(1_000_003);
    let second = run_default(&retest).summary;
    let second_misses = misses(&second);
    assert!(
        second_misses.is_empty(),
        "{rel}: the 95% interval missed theory with the scenario's seed ({first_misses:?}) and \
         again with an independent seed ({second_misses:?})"
    );
    second
}
