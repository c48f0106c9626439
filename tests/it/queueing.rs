//! The engine against queueing theory: each case runs >= 10 independent replications and
//! requires the theory value inside the 95% confidence interval and within 2% (see
//! [`check_theory`] for how a chance miss of a 95% interval is handled).

use fleetsim::theory::{erlang_c, mg1_mean_wait_s, mmc_mean_wait_s};

use fleetsim::report::figures::{IDLE_ACHIEVED, WAIT_PROBABILITY};
use fleetsim::report::summary::RunSummary;

use crate::support::{QUEUE_WAIT_MEAN, check_theory};

fn check_little(summary: &RunSummary) {
    // Little's law L = λW, with λ the measured throughput and W the mean time in system.
    let m = &summary.means;
    let l = m.mean_in_system;
    let lw = m.throughput_per_s * m.latency_s.e2e.mean;
    assert!((l / lw - 1.0).abs() < 0.01, "Little: L = {l}, λW = {lw}");
}

#[test]
fn mm1_at_rho_05() {
    let sum = check_theory(
        "validation/mm1-rho05.toml",
        &[],
        &[
            (QUEUE_WAIT_MEAN, mmc_mean_wait_s(1, 0.5, 1.0)),
            (WAIT_PROBABILITY, 0.5),
            (IDLE_ACHIEVED, 0.5),
        ],
        0.02,
    );
    check_little(&sum);
}

#[test]
fn mm1_at_rho_09() {
    let sum = check_theory(
        "validation/mm1-rho09.toml",
        &[],
        &[
            (QUEUE_WAIT_MEAN, mmc_mean_wait_s(1, 0.9, 1.0)),
            (IDLE_ACHIEVED, 0.1),
        ],
        0.02,
    );
    check_little(&sum);
}

#[test]
fn mmc_erlang_c_at_c8_rho_09() {
    let sum = check_theory(
        "validation/mmc.toml",
        &[],
        &[
            (QUEUE_WAIT_MEAN, mmc_mean_wait_s(8, 7.2, 1.0)),
            (WAIT_PROBABILITY, erlang_c(8, 7.2)),
            (IDLE_ACHIEVED, 0.1),
        ],
        0.02,
    );
    check_little(&sum);
}

#[test]
fn md1_pollaczek_khinchine_at_rho_08() {
    let sum = check_theory(
        "validation/md1-rho08.toml",
        &[],
        &[
            (QUEUE_WAIT_MEAN, mg1_mean_wait_s(0.8, 1.0, 0.0)),
            (IDLE_ACHIEVED, 0.2),
        ],
        0.02,
    );
    check_little(&sum);
}

#[test]
fn mg1_lognormal_cv2_pollaczek_khinchine() {
    let sum = check_theory(
        "validation/mg1-lognormal.toml",
        &[],
        &[
            (QUEUE_WAIT_MEAN, mg1_mean_wait_s(0.7, 1.0, 2.0)),
            (IDLE_ACHIEVED, 0.3),
        ],
        0.02,
    );
    check_little(&sum);
}

#[test]
fn mmc_with_multi_slot_servers_is_still_erlang_c() {
    // 2 servers x 4 slots pooled behind a central queue behave as M/M/8.
    check_theory(
        "validation/mmc.toml",
        &["servers.count=2", "servers.slots=4"],
        &[(WAIT_PROBABILITY, erlang_c(8, 7.2))],
        0.02,
    );
}

#[test]
fn theory_formulas_match_published_values() {
    // Erlang C for c = 8, a = 7.2 (reference §5 quotes P(wait) 0.7015, Wq 0.877).
    assert!((erlang_c(8, 7.2) - 0.7015).abs() < 5e-4);
    assert!((mmc_mean_wait_s(8, 7.2, 1.0) - 0.877).abs() < 1e-3);
    // M/D/1 at rho 0.8 with unit service: 2.0.
    assert!((mg1_mean_wait_s(0.8, 1.0, 0.0) - 2.0).abs() < 1e-12);
}
