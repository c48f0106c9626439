//! Helpers shared by the integration tests.

use std::path::PathBuf;

use fleetsim::drivers::run::{RunOutput, run};
use fleetsim::scenario::{self, Overrides, Scenario};
use serde_json::Value;

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

/// The summary value at a dotted path, as f64.
pub fn at(v: &Value, path: &str) -> f64 {
    path.split('.')
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("no number at {path} in {v}"))
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
pub fn check_theory(rel: &str, sets: &[&str], checks: &[(&str, f64)], rel_tol: f64) -> Value {
    let s = load(rel, sets);
    assert!(s.run.replications >= 10, "{rel}: needs >= 10 replications");
    let first = run_default(&s).summary;
    for (path, theory) in checks {
        let mean = at(&first, path);
        assert!(
            ((mean - theory) / theory).abs() <= rel_tol,
            "{rel} {path}: simulated {mean} is more than {:.1}% from theory {theory}",
            rel_tol * 100.0
        );
    }
    let misses = |summary: &Value| -> Vec<String> {
        checks
            .iter()
            .filter_map(|(path, theory)| {
                let mean = at(summary, path);
                let hw = at(&summary["ci95"], path);
                ((mean - theory).abs() > hw).then(|| {
                    format!(
                        "{path}: theory {theory} outside {mean} ± {hw} (seed {})",
                        summary["seed"]
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
