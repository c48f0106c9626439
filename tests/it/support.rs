//! Helpers shared by the integration tests.

use std::path::PathBuf;

use fleetsim::run::{RunOutput, run};
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

/// Asserts that `theory` lies inside mean ± ci95 at `path` and within `rel_tol` of the mean.
pub fn assert_theory(summary: &Value, path: &str, theory: f64, rel_tol: f64) {
    let mean = at(summary, path);
    let hw = at(&summary["ci95"], path);
    let seed = &summary["seed"];
    assert!(
        (mean - theory).abs() <= hw,
        "{path}: theory {theory} outside the 95% CI {mean} ± {hw} (seed {seed})"
    );
    assert!(
        ((mean - theory) / theory).abs() <= rel_tol,
        "{path}: simulated {mean} is more than {:.1}% from theory {theory} (seed {seed})",
        rel_tol * 100.0
    );
}
