//! Engine speed: events per second on an M/M/8 queue at ρ = 0.9 with 10^6 customers
//! (target: at least 10 million events per second on one core).
//!
//! Run with `cargo bench --bench engine` (about a minute: 10 samples of each); criterion prints
//! the time per run and the throughput in events or requests (elements) per second.

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fleetsim::fleet::run_replication;
use fleetsim::scenario::{self, Overrides};

const CUSTOMERS: f64 = 1e6;

fn mmc_million(c: &mut Criterion) {
    let rate = 7.2;
    let text = format!(
        "name = \"bench-mmc\"\n\
         [traffic]\nrequests_per_s = {rate}\nduration_s = {}\nwarmup_s = 0\n\
         [servers]\nkind = \"queue\"\ncount = 8\n\
         service_time_s = {{ dist = \"exponential\", mean = 1.0 }}\n",
        CUSTOMERS / rate
    );
    let s = scenario::parse(&text, Path::new("bench-mmc.toml"), &Overrides::default())
        .expect("bench scenario is valid");
    let events = run_replication(&s, 0).events;
    let mut g = c.benchmark_group("engine");
    g.sample_size(10);
    g.throughput(Throughput::Elements(events));
    g.bench_function("mmc8_rho0.9_1e6_customers", |b| {
        b.iter(|| run_replication(&s, 0).events)
    });
    g.finish();
}

/// 10^6 LLM requests (1,000 input and 200 output tokens, continuous batching) on 100
/// 8xA100-80GB servers running Llama-2-7B at TP1 (800 replicas), at 4,000 requests/s for
/// 250 s: the scenario of `benches/llm-1e6.toml`, which the README also times as a whole
/// `fleetsim run`. Throughput is reported in requests simulated per second (target 1.5 M).
fn llm_million(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/llm-1e6.toml");
    let text = std::fs::read_to_string(&path).expect("benches/llm-1e6.toml is readable");
    let s = scenario::parse(&text, &path, &Overrides::default()).expect("bench scenario is valid");
    let requests = s.traffic.requests_per_s * s.traffic.duration_s;
    let mut g = c.benchmark_group("llm");
    g.sample_size(10);
    g.throughput(Throughput::Elements(requests as u64));
    g.bench_function("llm_1e6_requests_800_replicas_4000_per_s", |b| {
        b.iter(|| run_replication(&s, 0).metrics.requests.completed)
    });
    g.finish();
}

criterion_group!(benches, mmc_million, llm_million);
criterion_main!(benches);
