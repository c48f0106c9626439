//! The reports' scenario files end to end, the cost fields of every summary, and the LRU
//! response cache against Che's approximation.

use std::path::Path;

use fleetsim::drivers::run::run;
use fleetsim::report::figures as fig;
use fleetsim::scenario::cache::che_hit_rate;
use fleetsim::scenario::{self, Overrides};

use crate::support::load;

#[test]
fn every_report_scenario_runs_stable_with_cost_idle_and_bridge() {
    for file in [
        "bing-search.toml",
        "office-assistant.toml",
        "customer-service.toml",
        "chatgpt-jan2023.toml",
        "enterprise-assistant.toml",
        "llama70b-chat.toml",
    ] {
        let s = load(file, &["run.replications=2"]);
        let sum = run(&s, None).summary;
        assert!(sum.stable, "{file}: {:?}", sum.overload);
        for f in [
            fig::IDLE_ASSUMED,
            fig::IDLE_EQUIVALENT,
            fig::IDLE_ACHIEVED,
            fig::CLOUD_PER_REQUEST,
            fig::SELF_BUILT_PER_REQUEST,
            fig::FORMULA_PER_REQUEST,
        ] {
            let v = (f.read)(&sum).and_then(|r| r.mean);
            assert!(
                v.is_some(),
                "{file}: {} = {v:?} is not a finite number",
                f.key
            );
        }
        // The bridge's terms add up to the simulated cost minus the formula's.
        let bridge = sum
            .cost
            .bridge
            .as_ref()
            .unwrap_or_else(|| panic!("{file}: no bridge"));
        let total: f64 = bridge.terms.iter().map(|t| t.usd).sum();
        let diff = sum.cost.cloud.per_request_usd.unwrap()
            - sum.cost.formula.as_ref().unwrap().per_request_usd;
        assert!(
            (total - diff).abs() <= 1e-12 + 1e-9 * diff.abs(),
            "{file}: {total} vs {diff}"
        );
        // The equivalent idle rate put back into the formula gives the simulated cost.
        let eq = sum
            .means
            .idle_rate
            .formula
            .as_ref()
            .unwrap()
            .equivalent
            .unwrap();
        let assumed = sum.means.idle_rate.formula.as_ref().unwrap().assumed;
        let back =
            sum.cost.formula.as_ref().unwrap().per_request_usd * (1.0 - assumed) / (1.0 - eq);
        let sim = sum.cost.cloud.per_request_usd.unwrap();
        assert!((back / sim - 1.0).abs() < 1e-9, "{file}: {back} vs {sim}");
    }
}

fn lru_hit_rate(capacity: u64) -> f64 {
    let text = format!(
        "name = \"lru\"\n[run]\nseed = 5\nreplications = 2\n\
         [traffic]\nrequests_per_s = 100\nduration_s = 6000\nwarmup_s = 1000\n\
         [servers]\nkind = \"queue\"\ncount = 1\nslots = 100\n\
         service_time_s = {{ dist = \"fixed\", value = 0.1 }}\n\
         [cache]\nkind = \"lru\"\nzipf_s = 0.8\ndistinct_queries = 100000\ncapacity = {capacity}\n"
    );
    let s = scenario::parse(&text, Path::new("lru.toml"), &Overrides::default()).unwrap();
    run(&s, None).summary.means.cache_hit_rate
}

#[test]
fn lru_cache_hit_rate_matches_che_at_two_sizes() {
    for capacity in [1_000, 10_000] {
        let sim = lru_hit_rate(capacity);
        let che = che_hit_rate(100_000, 0.8, capacity);
        assert!(
            (sim - che).abs() < 0.02,
            "capacity {capacity}: simulated {sim}, Che {che}"
        );
    }
}

#[test]
fn a_third_round_carries_the_whole_conversation() {
    // Office assistant: 3 rounds of 400 in / 2,000 out. Round 3's prompt = round 1's input
    // and output + round 2's own input and output + its own 400 = 5,200 tokens.
    let s = load("office-assistant.toml", &[]);
    let mut w = fleetsim::workload::Workload::new(&s, 9);
    let r1 = w.next_request().unwrap();
    assert_eq!(
        (r1.round, r1.input_tokens, r1.output_tokens),
        (1, 400, 2000)
    );
    let t1 = r1.arrival + fleetsim::engine::SimDuration::from_secs_f64(100.0);
    let r2 = w.follow_up(&r1, t1).unwrap();
    assert_eq!((r2.round, r2.input_tokens), (2, 400 + 2000 + 400));
    assert!(
        r2.arrival >= t1,
        "the next round comes after the answer and a think time"
    );
    let r3 = w.follow_up(&r2, r2.arrival).unwrap();
    assert_eq!(
        r3.input_tokens,
        r1.input_tokens + r1.output_tokens + 400 + r2.output_tokens + 400
    );
    assert_eq!(r3.input_tokens, 5200);
    assert_eq!((r3.session, r3.session_start), (r1.session, r1.arrival));
    assert!(
        w.follow_up(&r3, r3.arrival).is_none(),
        "a session has 3 rounds"
    );
}

#[test]
fn sessions_are_reported_per_round_and_per_session() {
    let s = load("customer-service.toml", &["run.replications=1"]);
    let sum = run(&s, None).summary;
    assert_eq!(sum.means.sessions.as_ref().unwrap().rounds, 5.0);
    assert!(sum.means.sessions.as_ref().unwrap().completed > 100.0);
    // Later rounds carry longer prompts, so their first token takes longer.
    assert!(
        sum.means.sessions.as_ref().unwrap().per_round["round_5"].ttft_mean_s
            > sum.means.sessions.as_ref().unwrap().per_round["round_1"].ttft_mean_s
    );
    assert!(
        sum.means.sessions.as_ref().unwrap().e2e_s.mean > 4.0 * 30.0 * 0.5,
        "five rounds with think times"
    );
}

#[test]
fn autoscaling_stays_in_bounds_and_costs_less_than_a_fleet_fixed_for_the_peak() {
    let sets = ["traffic.duration_s=43200.0", "run.replications=1"];
    let fixed = run(&load("chat-diurnal-fixed.toml", &sets), None).summary;
    let auto = run(&load("chat-diurnal-autoscale.toml", &sets), None).summary;
    let mean = auto.means.llm.as_ref().unwrap().mean_servers;
    assert!((2.0..=10.0).contains(&mean), "mean servers {mean}");
    assert!(mean < fixed.means.llm.as_ref().unwrap().mean_servers);
    assert!(auto.cost.cloud.per_request_usd.unwrap() < fixed.cost.cloud.per_request_usd.unwrap());
    assert!(auto.stable);
}

#[test]
fn a_prefix_cache_reuses_system_prompts_and_conversations() {
    // Llama-2-7B sessions of 4 rounds with a 2,048-token system prompt: later rounds and
    // other sessions find their prefix cached, so prompts skip most of their prefill.
    let text = |cache: bool| {
        format!(
            "name = \"prefix\"\n[run]\nseed = 2\nreplications = 2\n\
             [traffic]\nrequests_per_s = 2.0\nduration_s = 1800\nwarmup_s = 300\n\
             [servers]\nkind = \"llm\"\ncount = 1\ngpus_per_server = 1\nprefix_cache = {cache}\n\
             [model]\npreset = \"llama-2-7b\"\n\
             [request]\ninput_tokens = {{ dist = \"fixed\", value = 200 }}\n\
             output_tokens = {{ dist = \"fixed\", value = 100 }}\nrounds = 4\n\
             think_time_s = {{ dist = \"exponential\", mean = 5.0 }}\nsystem_prompt_tokens = 2048\n\
             [router]\npolicy = \"least-outstanding\"\n"
        )
    };
    let parse =
        |t: String| scenario::parse(&t, Path::new("prefix.toml"), &Overrides::default()).unwrap();
    let with = run(&parse(text(true)), None).summary;
    let without = run(&parse(text(false)), None).summary;
    let hit = with.means.llm.as_ref().unwrap().prefix_hit_fraction;
    // Round 1 finds the 2,048-token system prompt (4 of its 5 blocks); later rounds find
    // the whole earlier conversation's full blocks.
    assert!(hit > 0.5 && hit < 1.0, "hit fraction {hit}");
    assert_eq!(without.means.llm.as_ref().unwrap().prefix_hit_fraction, 0.0);
    assert!(
        with.means.latency_s.ttft.as_ref().unwrap().mean
            < without.means.latency_s.ttft.as_ref().unwrap().mean
    );
}
