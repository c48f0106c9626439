//! Engine speed: events per second on an M/M/8 queue at ρ = 0.9 with 10^6 customers
//! (target: at least 10 million events per second on one core).
//!
//! Run with `cargo bench --bench engine`; criterion prints the time per run and the
//! throughput in events (elements) per second.

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fleetsim::scenario::{self, Overrides};
use fleetsim::sim::run_replication;

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

criterion_group!(benches, mmc_million);
criterion_main!(benches);
