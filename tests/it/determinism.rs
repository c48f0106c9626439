//! Same scenario and seed give byte-identical results, whatever the number of threads.

use fleetsim::drivers::run::run;
use fleetsim::report::results::summary_json;

use crate::support::load;

#[test]
fn same_seed_same_bytes_with_one_or_two_threads() {
    let s = load(
        "validation/mmc.toml",
        &["traffic.duration_s=5000.0", "run.replications=4"],
    );
    let a = summary_json(&run(&s, Some(1)).summary);
    let b = summary_json(&run(&s, Some(2)).summary);
    let c = summary_json(&run(&s, Some(2)).summary);
    assert_eq!(a, b);
    assert_eq!(b, c);
    let other = load(
        "validation/mmc.toml",
        &[
            "traffic.duration_s=5000.0",
            "run.replications=4",
            "run.seed=43",
        ],
    );
    assert_ne!(
        a,
        summary_json(&run(&other, Some(2)).summary),
        "the seed must matter"
    );
}

#[test]
fn more_servers_leave_the_arrival_stream_unchanged() {
    // Common random numbers: the measured arrivals do not depend on the fleet.
    let a = load(
        "validation/mmc.toml",
        &["traffic.duration_s=3000.0", "run.replications=1"],
    );
    let b = load(
        "validation/mmc.toml",
        &[
            "traffic.duration_s=3000.0",
            "run.replications=1",
            "servers.count=12",
        ],
    );
    let ra = run(&a, Some(1));
    let rb = run(&b, Some(1));
    assert_eq!(
        ra.replications[0].requests.arrived,
        rb.replications[0].requests.arrived
    );
    assert!(
        (ra.replications[0].latency_s.service.mean - rb.replications[0].latency_s.service.mean)
            .abs()
            < 0.05
    );
}

#[test]
fn llm_runs_are_byte_identical_with_one_or_two_threads() {
    let s = load(
        "llama70b-chat.toml",
        &["traffic.duration_s=600.0", "traffic.warmup_s=60.0"],
    );
    let a = summary_json(&run(&s, Some(1)).summary);
    let b = summary_json(&run(&s, Some(2)).summary);
    assert_eq!(a, b);
}
