//! Engine speed: events per second on an M/M/8 queue at ρ = 0.9 with 10^6 customers
//! (target: at least 10 million events per second on one core).
//!
//! Run with `cargo bench --bench engine`; criterion prints the time per run and the
//! throughput in events (elements) per second.

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
/// 8xA100-80GB servers running Llama-2-7B at TP1 (800 replicas), at about half their
/// capacity. Throughput is reported in requests simulated per second (target >= 10^6).
fn llm_million(c: &mut Criterion) {
    let rate = 2000.0;
    let requests = 1e6;
    let text = format!(
        "name = \"bench-llm\"\n\
         [traffic]\nrequests_per_s = {rate}\nduration_s = {}\nwarmup_s = 0\n\
         [servers]\nkind = \"llm\"\ncount = 100\ntensor_parallel = 1\n\
         [model]\npreset = \"llama-2-7b\"\n\
         [request]\ninput_tokens = {{ dist = \"fixed\", value = 1000 }}\n\
         output_tokens = {{ dist = \"fixed\", value = 200 }}\n\
         [router]\npolicy = \"least-outstanding\"\n",
        requests / rate
    );
    let s = scenario::parse(&text, Path::new("bench-llm.toml"), &Overrides::default())
        .expect("bench scenario is valid");
    let mut g = c.benchmark_group("llm");
    g.sample_size(10);
    g.throughput(Throughput::Elements(requests as u64));
    g.bench_function("llm_1e6_requests_100_servers", |b| {
        b.iter(|| run_replication(&s, 0).metrics.requests.completed)
    });
    g.finish();
}

criterion_group!(benches, mmc_million, llm_million);
criterion_main!(benches);
