//! Properties that hold for every scenario: conservation of requests, nothing finishes
//! before it arrives, waits plus service add up to the end-to-end time.

use fleetsim::fleet::run_replication;
use fleetsim::scenario::{self, Overrides};
use proptest::prelude::*;

fn scenario_text(
    rate: f64,
    servers: u32,
    slots: u32,
    policy: &str,
    hit: f64,
    dist: &str,
) -> String {
    format!(
        r#"
[run]
seed = 7
[traffic]
requests_per_s = {rate}
duration_s = 500.0
warmup_s = 50.0
[servers]
kind = "queue"
count = {servers}
slots = {slots}
service_time_s = {dist}
[router]
policy = "{policy}"
[cache]
kind = "bernoulli"
hit_rate = {hit}
hit_latency_s = 0.02
"#
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn requests_are_conserved_and_causal(
        rate in 0.5f64..40.0,
        servers in 1u32..6,
        slots in 1u32..4,
        policy in prop::sample::select(vec!["central-queue", "round-robin", "random", "least-outstanding", "power-of-two"]),
        hit in 0.0f64..0.9,
        dist in prop::sample::select(vec![
            r#"{ dist = "exponential", mean = 0.3 }"#,
            r#"{ dist = "fixed", value = 0.2 }"#,
            r#"{ dist = "lognormal", mean = 0.3, cv = 2.0 }"#,
            r#"{ dist = "uniform", low = 0.0, high = 0.5 }"#,
        ]),
    ) {
        let text = scenario_text(rate, servers, slots, policy, hit, dist);
        let s = scenario::parse(&text, "prop.toml".as_ref(), &Overrides::default()).unwrap();
        // Debug assertions are on in tests: a completion before its arrival panics in the engine.
        let m = run_replication(&s, 0).metrics;
        let r = &m.requests;
        prop_assert_eq!(r.arrived, r.completed + r.in_flight, "conservation: {:?}", r);
        prop_assert!(r.cache_hits <= r.completed);
        // Percentiles are ordered, and a request's end-to-end time holds its wait and its
        // service, so the slowest end-to-end is at least the slowest of either.
        let (e, w, sv) = (&m.latency_s.e2e, &m.latency_s.queue_wait, &m.latency_s.service);
        for l in [e, w, sv] {
            prop_assert!(l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.max, "{:?}", l);
            prop_assert!(l.mean <= l.max, "{:?}", l);
        }
        prop_assert!(e.max >= w.max && e.max >= sv.max, "e2e {:?} wait {:?} service {:?}", e, w, sv);
        if r.completed > r.cache_hits {
            prop_assert!(e.max > 0.0 && sv.max > 0.0, "served requests took no time: {:?}", m.latency_s);
        }
        prop_assert!((0.0..=1.0).contains(&m.idle_rate.achieved));
        prop_assert!(m.idle_rate.per_server_min <= m.idle_rate.per_server_max + 1e-12);
        prop_assert!(m.utilization <= 1.0 + 1e-9);
    }
}

#[test]
fn without_a_cache_wait_plus_service_is_end_to_end() {
    let text = scenario_text(
        8.0,
        3,
        1,
        "least-outstanding",
        0.0,
        r#"{ dist = "gamma", mean = 0.3, cv = 0.5 }"#,
    );
    let s = scenario::parse(&text, "x.toml".as_ref(), &Overrides::default()).unwrap();
    let m = run_replication(&s, 0).metrics;
    let l = &m.latency_s;
    assert!(
        (l.queue_wait.mean + l.service.mean - l.e2e.mean).abs() < 1e-9,
        "{l:?}"
    );
}

#[test]
fn overload_is_detected_and_stops_early() {
    let text = scenario_text(
        20.0,
        1,
        1,
        "central-queue",
        0.0,
        r#"{ dist = "exponential", mean = 0.1 }"#,
    )
    .replace("[run]\nseed = 7", "[run]\nseed = 7\nmax_queue = 500");
    let s = scenario::parse(&text, "x.toml".as_ref(), &Overrides::default()).unwrap();
    let out = fleetsim::drivers::run::run(&s, Some(1));
    assert!(!out.summary.stable);
    assert!((out.summary.offered_load.unwrap() - 2.0).abs() < 1e-9);
    let msg = &out.summary.overload.as_ref().unwrap()[0];
    assert!(msg.contains("cannot keep up"), "{msg}");
    // ~500 queued at a net growth of ~10/s: it must stop long before the 500 s duration.
    assert!(out.replications[0].ended_at_s < 200.0);
}

#[test]
fn idle_rate_is_one_minus_rho_for_every_router() {
    for policy in ["round-robin", "random", "least-outstanding", "power-of-two"] {
        let text = scenario_text(
            6.0,
            4,
            1,
            policy,
            0.0,
            r#"{ dist = "exponential", mean = 0.5 }"#,
        )
        .replace("duration_s = 500.0", "duration_s = 20000.0");
        let s = scenario::parse(&text, "x.toml".as_ref(), &Overrides::default()).unwrap();
        let m = run_replication(&s, 0).metrics;
        assert!(
            (m.idle_rate.achieved - 0.25).abs() < 0.01,
            "{policy}: {}",
            m.idle_rate.achieved
        );
    }
}
