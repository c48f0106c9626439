//! The engine against queueing theory: each case runs >= 10 independent replications and
//! requires the theory value inside the 95% confidence interval and within 2%.

use fleetsim::theory::{erlang_c, mg1_mean_wait_s, mmc_mean_wait_s};

use crate::support::{assert_theory, at, load, run_default};

fn check_little(summary: &serde_json::Value) {
    // Little's law L = λW, with λ the measured throughput and W the mean time in system.
    let l = at(summary, "mean_in_system");
    let lw = at(summary, "throughput_per_s") * at(summary, "latency_s.e2e.mean");
    assert!((l / lw - 1.0).abs() < 0.01, "Little: L = {l}, λW = {lw}");
}

#[test]
fn mm1_at_rho_05() {
    let s = load("validation/mm1-rho05.toml", &[]);
    assert!(s.run.replications >= 10);
    let out = run_default(&s);
    let sum = &out.summary;
    assert_theory(
        sum,
        "latency_s.queue_wait.mean",
        mmc_mean_wait_s(1, 0.5, 1.0),
        0.02,
    );
    assert_theory(sum, "wait_probability", 0.5, 0.02);
    assert_theory(sum, "idle_rate.achieved", 0.5, 0.02);
    check_little(sum);
}

#[test]
fn mm1_at_rho_09() {
    let s = load("validation/mm1-rho09.toml", &[]);
    let out = run_default(&s);
    let sum = &out.summary;
    assert_theory(sum, "latency_s.queue_wait.mean", 9.0, 0.02);
    assert_theory(sum, "idle_rate.achieved", 0.1, 0.02);
    check_little(sum);
}

#[test]
fn mmc_erlang_c_at_c8_rho_09() {
    let s = load("validation/mmc.toml", &[]);
    assert!(s.run.replications >= 10);
    let out = run_default(&s);
    let sum = &out.summary;
    assert_theory(
        sum,
        "latency_s.queue_wait.mean",
        mmc_mean_wait_s(8, 7.2, 1.0),
        0.02,
    );
    assert_theory(sum, "wait_probability", erlang_c(8, 7.2), 0.02);
    assert_theory(sum, "idle_rate.achieved", 0.1, 0.02);
    check_little(sum);
}

#[test]
fn md1_pollaczek_khinchine_at_rho_08() {
    let s = load("validation/md1-rho08.toml", &[]);
    let out = run_default(&s);
    let sum = &out.summary;
    assert_theory(
        sum,
        "latency_s.queue_wait.mean",
        mg1_mean_wait_s(0.8, 1.0, 0.0),
        0.02,
    );
    assert_theory(sum, "idle_rate.achieved", 0.2, 0.02);
    check_little(sum);
}

#[test]
fn mg1_lognormal_cv2_pollaczek_khinchine() {
    let s = load("validation/mg1-lognormal.toml", &[]);
    let out = run_default(&s);
    let sum = &out.summary;
    assert_theory(
        sum,
        "latency_s.queue_wait.mean",
        mg1_mean_wait_s(0.7, 1.0, 2.0),
        0.02,
    );
    assert_theory(sum, "idle_rate.achieved", 0.3, 0.02);
    check_little(sum);
}

#[test]
fn mmc_with_multi_slot_servers_is_still_erlang_c() {
    // 2 servers x 4 slots pooled behind a central queue behave as M/M/8.
    let s = load(
        "validation/mmc.toml",
        &["servers.count=2", "servers.slots=4"],
    );
    let out = run_default(&s);
    assert_theory(&out.summary, "wait_probability", erlang_c(8, 7.2), 0.02);
}
