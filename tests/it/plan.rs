//! `fleetsim plan`: the count it picks agrees with Erlang C on M/M/c, meets every target on
//! an LLM fleet while the count below does not, and the command line reports it.

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use fleetsim::drivers::plan::plan;
use fleetsim::drivers::run::run;
use fleetsim::report::outcome::{CurvePoint, PlanOutcome};
use fleetsim::report::summary::RunSummary;
use fleetsim::scenario::Scenario;
use fleetsim::theory::mmc_mean_wait_s;
use predicates::str::contains;
use serde_json::Value;

use crate::support::load;

/// The smallest stable c whose Erlang C mean wait is at most `target_s`.
fn erlang_c_count(lambda: f64, mu: f64, target_s: f64) -> u32 {
    (1..)
        .find(|&c| f64::from(c) * mu > lambda && mmc_mean_wait_s(c, lambda, mu) <= target_s)
        .unwrap_or(u32::MAX)
}

/// The search brackets and bisects: a handful of counts, sorted, never a scan.
fn check_curve(p: &PlanOutcome) {
    let counts: Vec<u32> = p.curve.iter().map(|c| c.servers).collect();
    assert!(counts.windows(2).all(|w| w[0] < w[1]), "sorted: {counts:?}");
    assert!(counts.contains(&p.servers));
    assert!(counts.len() <= 8, "too many counts tried: {counts:?}");
}

#[test]
fn mmc_plan_matches_erlang_c() {
    // M/M/c at 7.2 requests/s, 1 s exponential service. Targets chosen away from a knife's
    // edge: Wq(9) = 0.240 s, Wq(10) = 0.091 s; Wq(8) = 0.877 s.
    for (target_s, expected) in [(0.15, 10), (0.5, 9)] {
        let theory = erlang_c_count(7.2, 1.0, target_s);
        assert_eq!(theory, expected, "Erlang C count for Wq <= {target_s}");
        assert!(mmc_mean_wait_s(theory, 7.2, 1.0) <= 0.7 * target_s);
        assert!(mmc_mean_wait_s(theory - 1, 7.2, 1.0) >= 1.5 * target_s);

        let s = load(
            "validation/mmc.toml",
            &[
                "traffic.duration_s=20000.0",
                "traffic.warmup_s=2000.0",
                &format!("slo.queue_wait_mean_s={target_s}"),
            ],
        );
        let p = plan(&s, None).unwrap_or_else(|e| panic!("seed {}: {e}", s.run.seed));
        assert_eq!(
            p.servers, theory,
            "plan vs Erlang C for Wq <= {target_s} (seed {}): curve {:?}",
            s.run.seed, p.curve
        );
        check_curve(&p);
        let below = p.below.as_ref().expect("a count below");
        assert_eq!(below.servers, theory - 1);
        assert!(!below.why.is_empty());
        assert_eq!(p.summary.as_ref().map(|s| s.servers), Some(theory));
    }
}

/// Runs `s` at the plan's point `pt` (its server count and replications) with master seed
/// `seed`.
fn rerun(s: &Scenario, pt: &CurvePoint, seed: u64) -> RunSummary {
    let mut s = s.clone();
    s.servers.count = pt.servers;
    s.run.replications = pt.replications;
    s.run.seed = seed;
    run(&s, None).summary
}

/// Whether every target's 95% upper bound is met, and the run stable.
fn meets_all(s: &Scenario, summary: &RunSummary) -> bool {
    summary.stable
        && s.slo.iter().all(|t| {
            let r = summary.reading(t);
            r.mean_s
                .zip(r.ci95_s)
                .is_some_and(|(m, h)| m + h <= t.max_s)
        })
}

#[test]
fn llm_plan_meets_targets_and_count_below_does_not() {
    let s = load("llama7b-plan.toml", &[]);
    assert!(s.slo.len() >= 2, "several targets");
    let p = plan(&s, None).unwrap_or_else(|e| panic!("seed {}: {e}", s.run.seed));
    check_curve(&p);
    assert!(p.servers > 1);
    let at = |n: u32| {
        p.curve
            .iter()
            .find(|c| c.servers == n)
            .expect("count tried")
    };
    for (n, meets) in [(p.servers, true), (p.servers - 1, false)] {
        let pt = at(n);
        // The plan's verdict is a real run's: the same seed reproduces its figures.
        let same = rerun(&s, pt, s.run.seed);
        assert_eq!(meets_all(&s, &same), meets, "{n} servers");
        for (t, v) in s.slo.iter().zip(&pt.targets) {
            assert_eq!(same.reading(t).mean_s, v.mean_s, "{n} servers, {}", v.key);
        }
        // Independent runs (another seed) agree with it within the two 95% intervals.
        let other = rerun(&s, pt, s.run.seed.wrapping_add(1_000_003));
        assert_ne!(
            other.means, same.means,
            "a distinct seed gives distinct runs"
        );
        if !(same.stable && other.stable) {
            continue;
        }
        for (t, v) in s.slo.iter().zip(&pt.targets) {
            let r = other.reading(t);
            let (m1, h1, m2, h2) = (
                v.mean_s.unwrap(),
                v.ci95_s.unwrap(),
                r.mean_s.unwrap(),
                r.ci95_s.unwrap(),
            );
            assert!(
                (m1 - m2).abs() <= h1 + h2,
                "{n} servers, {}: plan {m1} ± {h1}, independent run {m2} ± {h2}",
                v.key
            );
        }
    }
    let below = p.below.as_ref().expect("below");
    assert!(!below.failed.is_empty() || below.why.iter().any(|w| w.contains("unstable")));
    assert!(p.cost_per_request_usd.is_some_and(|c| c > 0.0));
    assert!(p.equivalent_idle_rate.is_some());
    assert!(p.formula_cost_per_request_usd.is_some());
}

#[test]
fn too_few_replications_and_no_slo_are_refused() {
    let s = load("validation/mmc.toml", &["run.replications=1"]);
    let e = plan(&s, None).expect_err("one replication").to_string();
    assert!(e.contains("run.replications"), "{e}");
    let mut s = load("validation/mmc.toml", &[]);
    s.slo.clear();
    let e = plan(&s, None).expect_err("no slo").to_string();
    assert!(e.contains("[slo]"), "{e}");
}

const SMALL: &str = r#"
[run]
seed = 5
replications = 4
[traffic]
requests_per_s = 4.0
duration_s = 2000.0
warmup_s = 200.0
[servers]
kind = "queue"
count = 3
service_time_s = { dist = "exponential", mean = 1.0 }
"#;

fn fleetsim(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("fleetsim").unwrap();
    c.current_dir(dir);
    c
}

#[test]
fn cli_plan_json_has_servers_and_writes_a_results_folder() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("s.toml"),
        format!("{SMALL}[slo]\nqueue_wait_mean_s = 0.3\n"),
    )
    .unwrap();
    let out = fleetsim(dir.path())
        .args(["plan", "s.toml", "--json", "--threads", "1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("plan.json on stdout");
    let servers = v["servers"].as_u64().expect("servers");
    // Erlang C at 4/s and 1 s service: Wq(5) = 0.554 s, Wq(6) = 0.142 s.
    assert_eq!(servers, 6);
    assert!(v["curve"].as_array().is_some_and(|c| c.len() >= 2));
    let folder = dir.path().join("results/s/run-0001");
    for f in ["plan.json", "report.html", "scenario.resolved.toml"] {
        assert!(folder.join(f).exists(), "{f}");
    }
    assert_eq!(
        fs::read(folder.join("plan.json")).unwrap(),
        out.stdout,
        "stdout is plan.json"
    );
    let html = fs::read_to_string(folder.join("report.html")).unwrap();
    assert!(
        html.matches("<svg").count() >= 3,
        "latency, idle, cost plots"
    );
    let resolved = fs::read_to_string(folder.join("scenario.resolved.toml")).unwrap();
    assert!(resolved.contains(&format!("count = {servers}")));

    // Same plan with 2 threads, byte for byte; a second folder, not an overwrite.
    let again = fleetsim(dir.path())
        .args(["plan", "s.toml", "--json", "--threads", "2"])
        .output()
        .unwrap();
    assert_eq!(again.stdout, out.stdout);
    assert!(dir.path().join("results/s/run-0002/plan.json").exists());

    // The table names the chosen count and the count below.
    fleetsim(dir.path())
        .args(["plan", "s.toml", "--out", "table-run"])
        .assert()
        .success()
        .stdout(contains(format!("servers: {servers}")))
        .stdout(contains(format!("{} servers fail", servers - 1)));
}

#[test]
fn cli_plan_refuses_missing_slo_and_infeasible_bounds() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("s.toml"), SMALL).unwrap();
    fleetsim(dir.path())
        .args(["plan", "s.toml"])
        .assert()
        .code(2)
        .stderr(contains("s.toml"))
        .stderr(contains("[slo]"));
    fleetsim(dir.path())
        .args([
            "plan",
            "s.toml",
            "--set",
            "slo.queue_wait_mean_s=0.2",
            "--replications",
            "1",
        ])
        .assert()
        .code(2)
        .stderr(contains("run.replications"));
    fleetsim(dir.path())
        .args([
            "plan",
            "s.toml",
            "--set",
            "slo.queue_wait_mean_s=0.2",
            "--servers-max",
            "4",
        ])
        .assert()
        .code(2)
        .stderr(contains("--servers-max"));
    // A target below the service time itself: more servers stop helping.
    fleetsim(dir.path())
        .args(["plan", "s.toml", "--set", "slo.e2e_mean_s=0.5"])
        .assert()
        .code(2)
        .stderr(contains("more servers do not help"));
    assert!(!dir.path().join("results").exists(), "no results on error");
}

#[test]
fn cli_run_writes_report_html() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("s.toml"), SMALL).unwrap();
    fleetsim(dir.path())
        .args(["run", "s.toml", "--out", "r"])
        .assert()
        .success();
    let html = fs::read_to_string(dir.path().join("r/report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("Latency percentiles"));
    assert!(html.contains("<svg"));
}

/// An M/M/c scenario that does not set `run.replications`: `plan` chooses them.
const MMC_AUTO: &str = r#"
name = "mmc-auto"
[run]
seed = 17
[traffic]
requests_per_s = 3.0
duration_s = 20000.0
warmup_s = 1000.0
[servers]
kind = "queue"
count = 4
service_time_s = { dist = "exponential", mean = 2.0 }
[router]
policy = "central-queue"
"#;

fn parse_inline(text: &str, sets: &[&str]) -> Scenario {
    let o = fleetsim::scenario::Overrides {
        set: sets.iter().map(|s| s.to_string()).collect(),
    };
    fleetsim::scenario::parse(text, Path::new("inline.toml"), &o).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn plan_without_replications_chooses_them_and_matches_erlang_c() {
    // A held-out case: λ = 3/s, E[S] = 2 s (μ = 0.5), target Wq ≤ 0.2 s. Erlang C gives
    // Wq(9) = 0.131 s and Wq(8) = 0.357 s, so the answer is 9.
    let (lambda, mu, target) = (3.0, 0.5, 0.2);
    let theory = erlang_c_count(lambda, mu, target);
    assert_eq!(theory, 9);
    assert!(mmc_mean_wait_s(theory, lambda, mu) <= 0.7 * target);
    assert!(mmc_mean_wait_s(theory - 1, lambda, mu) >= 1.5 * target);
    let s = parse_inline(MMC_AUTO, &[&format!("slo.queue_wait_mean_s={target}")]);
    assert!(!s.run.replications_set);
    let p = plan(&s, None).unwrap_or_else(|e| panic!("seed {}: {e}", s.run.seed));
    assert_eq!(
        p.servers, theory,
        "seed {}: curve {:?}",
        s.run.seed, p.curve
    );
    assert!(p.replications_auto);
    for c in &p.curve {
        let r = c.replications;
        assert!(
            c.replications == 0 && !c.stable
                || [3, 6, 12, 24].contains(&r)
                    && r <= fleetsim::report::outcome::AUTO_REPLICATIONS_MAX,
            "{} servers: {r} replications",
            c.servers
        );
    }
    assert_eq!(
        p.summary.as_ref().map(|s| s.replications),
        Some(p.replications as usize)
    );
    // Queue servers get no timing band, and say why.
    assert!(p.timing_band.is_none());
    assert!(
        p.timing_band_omitted
            .as_deref()
            .is_some_and(|w| w.contains("service times"))
    );

    // A target just above Wq(9) leaves 3 replications' interval straddling it: the count
    // gets more, and the verdict is still Erlang C's (more servers never hurt, so 10 passes).
    let edge = mmc_mean_wait_s(9, lambda, mu) * 1.03;
    let s = parse_inline(MMC_AUTO, &[&format!("slo.queue_wait_mean_s={edge}")]);
    let p = plan(&s, None).unwrap_or_else(|e| panic!("seed {}: {e}", s.run.seed));
    let at9 = p
        .curve
        .iter()
        .find(|c| c.servers == 9)
        .expect("9 was tried");
    assert!(at9.replications > 3, "{:?}", at9);
    assert!((9..=10).contains(&p.servers), "{}", p.servers);
}

#[test]
fn llm_plan_reports_a_timing_band_around_its_answer() {
    let err = fleetsim::timing::calibration::typical_step_time_error();
    assert!(err > 0.0 && err < 0.2, "median |calibration error| {err}");
    let s = load("llama7b-plan.toml", &[]);
    let p = plan(&s, None).unwrap_or_else(|e| panic!("seed {}: {e}", s.run.seed));
    let band = p
        .timing_band
        .as_ref()
        .expect("LLM plans have a timing band");
    assert!((band.step_time_scale_low - (1.0 - err)).abs() < 1e-12);
    assert!((band.step_time_scale_high - (1.0 + err)).abs() < 1e-12);
    let (lo, hi) = (band.servers_low.unwrap(), band.servers_high.unwrap());
    assert!(
        lo <= p.servers && p.servers <= hi,
        "{lo} ≤ {} ≤ {hi}",
        p.servers
    );

    // Slower steps by a lot need more servers: the scale reaches the replicas.
    let mut slow = s.clone();
    if let fleetsim::scenario::ServerKind::Llm(spec) = &mut slow.servers.kind {
        spec.step_time_scale = 1.5;
    }
    let mut at_answer = slow.clone();
    at_answer.servers.count = p.servers;
    let a = run(&at_answer, None).summary;
    let mut base = s.clone();
    base.servers.count = p.servers;
    let b = run(&base, None).summary;
    assert!(
        a.means.latency_s.tpot.as_ref().unwrap().mean
            > 1.3 * b.means.latency_s.tpot.as_ref().unwrap().mean
    );
}

#[test]
fn cli_plan_prints_the_band_and_replications_per_count() {
    let dir = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(crate::support::root().join("workloads/llama7b-plan.toml"))
        .unwrap()
        .replace("replications = 4\n", "");
    fs::write(dir.path().join("p.toml"), text).unwrap();
    let out = fleetsim(dir.path())
        .args(["plan", "p.toml", "--out", "o"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("replications chosen per count (3 to 24)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("if step times are") && stdout.contains("the model's calibration error"),
        "{stdout}"
    );
    let v: Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("o/plan.json")).unwrap()).unwrap();
    let band = &v["timing_band"];
    let n = v["servers"].as_u64().unwrap();
    assert!(band["servers_low"].as_u64().unwrap() <= n);
    assert!(band["servers_high"].as_u64().unwrap() >= n);
    assert!(v["curve"][0]["replications"].as_u64().unwrap() >= 3);
    // The resolved scenario holds the replications plan chose, so `run` reproduces the
    // chosen count's summary.
    let resolved = fs::read_to_string(dir.path().join("o/scenario.resolved.toml")).unwrap();
    let reps = v["replications"].as_u64().unwrap();
    assert!(
        resolved.contains(&format!("replications = {reps}\n")),
        "{resolved}"
    );
}
