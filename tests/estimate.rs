//! Known-answer tests for `fleetsim estimate`: every printed figure of R1–R4 against the
//! report's own inputs, the R1 formula values, the cost bridge, the equivalent idle rate, TCO.

use fleetsim::cost::{
    BridgeFactors, FormulaInputs, PerTokenInputs, all_estimates, bridge, equivalent_idle_rate,
    estimate_scenario, find_estimate, formula_breakdown, formula_cost_cents, render_estimates_json,
    render_estimates_text, self_built_from_cloud_usd,
};
use fleetsim::scenario::TcoInputs;
use fleetsim::scenario::prices::{PRICE_PRESETS, price_preset};
use proptest::prelude::*;

fn get(report: &str, item: &str) -> fleetsim::cost::Estimate {
    find_estimate(report, item).unwrap_or_else(|| panic!("no estimate {report} / {item}"))
}

/// The printed figure is recorded and the computed value agrees within its rounding.
macro_rules! agrees {
    ($name:ident, $report:literal, $item:literal, $printed:expr) => {
        #[test]
        fn $name() {
            let e = get($report, $item);
            assert_eq!(e.printed, Some($printed as f64));
            assert_eq!(
                e.agrees_with_printed(),
                Some(true),
                "computed {} vs printed {} (tol {:?})",
                e.computed,
                $printed,
                e.tolerance
            );
        }
    };
}

/// The printed figure does NOT follow from the report's inputs: the computed value is `$want`.
macro_rules! disagrees {
    ($name:ident, $report:literal, $item:literal, $printed:expr, $want:expr, $tol:expr) => {
        #[test]
        fn $name() {
            let e = get($report, $item);
            assert_eq!(e.printed, Some($printed as f64));
            assert_eq!(e.agrees_with_printed(), Some(false), "{}", e.computed);
            assert!(
                (e.computed - $want).abs() <= $tol,
                "computed {} want {}",
                e.computed,
                $want
            );
            assert!(!e.note.is_empty(), "a discrepancy must be explained");
        }
    };
}

// R1 — training and per-token.
agrees!(r1_training_cloud, "R1", "training cost, cloud", 1.70e6);
agrees!(
    r1_training_self_built,
    "R1",
    "training cost, self-built",
    0.51e6
);
agrees!(
    r1_per_1k_cloud,
    "R1",
    "inference per 1k tokens, cloud",
    0.177
);
agrees!(
    r1_per_1k_self_built,
    "R1",
    "inference per 1k tokens, self-built",
    0.053
);

#[test]
fn r1_per_1k_busy_is_01415() {
    let e = get("R1", "inference per 1k tokens, busy (no idle)");
    assert!((e.computed - 0.1415).abs() < 5e-5);
    assert_eq!(e.printed, None);
    let p = PerTokenInputs::r1();
    assert!((p.per_1k_tokens_cents() * 0.8 - p.per_1k_tokens_cents_busy()).abs() < 1e-15);
}

// R1 — scenarios: the formula gives 1.31 / 1.59 / 0.25, the report prints 1.73 / 1.70 / 0.08.
disagrees!(
    r1_search_cloud,
    "R1",
    "search engine, cloud, per task",
    1.73,
    1.31,
    0.005
);
disagrees!(
    r1_office_cloud,
    "R1",
    "office assistant, cloud, per task",
    1.70,
    1.59,
    0.005
);
disagrees!(
    r1_cs_cloud,
    "R1",
    "AI customer service, cloud, per task",
    0.08,
    0.25,
    0.005
);
disagrees!(
    r1_search_self,
    "R1",
    "search engine, self-built, per task",
    0.52,
    0.393,
    0.0005
);
disagrees!(
    r1_office_self,
    "R1",
    "office assistant, self-built, per task",
    0.51,
    0.478,
    0.0005
);
disagrees!(
    r1_cs_self,
    "R1",
    "AI customer service, self-built, per task",
    0.02,
    0.0755,
    0.0005
);

#[test]
fn r1_formula_values_at_0177() {
    let cases = [
        (FormulaInputs::r1_search(0.177), 8450.0, 1.31),
        (FormulaInputs::r1_office(0.177), 7200.0, 1.59),
        (FormulaInputs::r1_customer_service(0.177), 3500.0, 0.25),
    ];
    for (f, tokens, want) in cases {
        assert_eq!(f.task_tokens, tokens);
        let got = formula_cost_cents(&f);
        assert!((got - want).abs() < 0.005, "{got} vs {want}");
        let product: f64 = formula_breakdown(&f).iter().map(|t| t.factor).product();
        assert!((product - got).abs() < 1e-15);
        assert_eq!(estimate_scenario(&f).computed, got);
    }
}

#[test]
fn r1_scenarios_with_idle_counted_once() {
    for (item, want) in [
        ("search engine, cloud, per task, idle counted once", 1.05),
        ("office assistant, cloud, per task, idle counted once", 1.27),
        (
            "AI customer service, cloud, per task, idle counted once",
            0.20,
        ),
    ] {
        let e = get("R1", item);
        assert!((e.computed - want).abs() < 0.005, "{item}: {}", e.computed);
    }
}

#[test]
fn r1_printed_self_built_is_printed_cloud_times_03() {
    for (cloud, self_built) in [(1.73, 0.52), (1.70, 0.51), (0.08, 0.02)] {
        assert!((self_built_from_cloud_usd(cloud) - self_built).abs() <= 0.005);
    }
}

// R2 — the inference-cost table.
agrees!(r2_server_compute, "R2", "server compute", 5e15);
agrees!(
    r2_bandwidth_time,
    "R2",
    "bandwidth-bound time per token",
    0.064
);
agrees!(r2_compute_time, "R2", "compute time per token", 1.7e-4);
agrees!(
    r2_balance_batch,
    "R2",
    "balance batch (\"input length while loading weights\")",
    367.0
);
disagrees!(
    r2_threshold,
    "R2",
    "arithmetic-intensity threshold",
    320.0,
    312.5,
    1e-9
);
disagrees!(
    r2_time_per_answer,
    "R2",
    "time per 200-token answer",
    12.22,
    12.794,
    0.001
);
agrees!(
    r2_cost_printed_time,
    "R2",
    "cost per answer, from the printed 12.22 s",
    2.7
);
disagrees!(
    r2_cost_computed_time,
    "R2",
    "cost per answer, from 200 x 0.064 s",
    2.7,
    2.843,
    0.001
);

// R3 — accelerator demand.
agrees!(
    r3_training_one_month,
    "R3",
    "training accelerators for one month",
    4260.0
);
agrees!(
    r3_training_10_companies,
    "R3",
    "training cards for 10 companies",
    43_000.0
);
agrees!(
    r3_training_servers,
    "R3",
    "training servers for 10 companies",
    5325.0
);
agrees!(
    r3_enterprise_cards,
    "R3",
    "enterprise assistant, 50M visits: cards",
    43_000.0
);
agrees!(
    r3_enterprise_servers,
    "R3",
    "enterprise assistant, 50M visits: servers",
    5425.0
);
agrees!(
    r3_public_100m_cards,
    "R3",
    "public assistant, 100M visits: cards",
    87_000.0
);
agrees!(
    r3_public_100m_servers,
    "R3",
    "public assistant, 100M visits: servers",
    11_000.0
);
agrees!(
    r3_public_300m_cards,
    "R3",
    "public assistant, 300M visits: cards",
    260_000.0
);
agrees!(
    r3_public_300m_servers,
    "R3",
    "public assistant, 300M visits: servers",
    33_000.0
);

#[test]
fn r3_implied_words_per_conversation() {
    let e = get("R3", "implied words per conversation (back-solved)");
    let want = 5425.0 * 8.0 * 1757.0 * 86_400.0 / (50e6 * 5.0);
    assert!((e.computed - want).abs() < 1e-6);
    assert!((e.computed - 26_353.0).abs() < 1.0);
}

// R4 — ChatGPT's daily load.
agrees!(r4_queries, "R4", "queries per day", 250e6);
agrees!(r4_a100_hours, "R4", "A100-hours per day", 729_167.0);
agrees!(r4_a100s, "R4", "A100s busy around the clock", 30_382.0);
agrees!(r4_servers, "R4", "DGX A100 servers", 3798.0);
agrees!(r4_rack_price, "R4", "rack price", 1.4e6);
agrees!(r4_rack_gpus, "R4", "GPUs per rack", 56.0);
agrees!(r4_rack_pflops, "R4", "compute per rack", 35.0);
agrees!(r4_rack_kw, "R4", "power per rack", 45.5);
agrees!(r4_capex, "R4", "capital cost", 759e6);
agrees!(r4_energy, "R4", "energy per day", 591_864.0);
agrees!(r4_power_cost, "R4", "electricity cost per day", 47_000.0);
disagrees!(
    r4_energy_second_figure,
    "R4",
    "energy per day, second printed figure",
    2_369_640.0,
    2_367_456.0,
    1e-6
);

#[test]
fn r4_racks_truncated_not_rounded() {
    let e = get("R4", "racks of 7 servers");
    assert_eq!(e.printed, Some(542.0));
    assert!((e.computed - 542.571).abs() < 0.001);
    assert_eq!(e.computed.floor(), 542.0);
    assert_eq!(e.agrees_with_printed(), Some(true));
    assert!(e.note.contains("truncated"));
}

#[test]
fn r4_second_energy_figure_is_2170_racks() {
    assert_eq!(2170.0 * 45.5 * 24.0, 2_369_640.0);
    assert_eq!(2170.0, 4.0 * 542.5);
}

#[test]
fn r4_training_not_comparable() {
    let e = get("R4", "GPT-3 training run (OneFlow)");
    assert_eq!(e.printed, Some(1.4e6));
    assert_eq!(e.agrees_with_printed(), None);
    assert!((e.computed - 1.10e6).abs() < 0.005e6);
}

/// Every comparable figure either agrees or is one of the known discrepancies above.
#[test]
fn only_known_discrepancies() {
    let known = [
        "search engine, cloud, per task",
        "office assistant, cloud, per task",
        "AI customer service, cloud, per task",
        "search engine, self-built, per task",
        "office assistant, self-built, per task",
        "AI customer service, self-built, per task",
        "arithmetic-intensity threshold",
        "time per 200-token answer",
        "cost per answer, from 200 x 0.064 s",
        "energy per day, second printed figure",
    ];
    let all = all_estimates();
    for e in &all {
        if e.agrees_with_printed() == Some(false) {
            assert!(
                known.contains(&e.item.as_str()),
                "unexpected: {} {}",
                e.report,
                e.item
            );
        }
    }
    let n_printed = all.iter().filter(|e| e.printed.is_some()).count();
    assert!(n_printed >= 40, "{n_printed}");
}

#[test]
fn render_text_and_json() {
    let all = all_estimates();
    let text = render_estimates_text(&all);
    // One block per report; per figure: computed, printed, agreement, formula, note.
    for part in [
        "R1 Guojin",
        "R2 CITIC",
        "computed",
        "printed",
        "agree: NO",
        "note:",
        "      = ",
    ] {
        assert!(text.contains(part), "{part}");
    }
    assert!(text.contains("729,167"));
    assert!(
        text.lines().all(|l| l.chars().count() <= 100),
        "fits 100 columns"
    );
    let v: serde_json::Value = serde_json::from_str(&render_estimates_json(&all)).unwrap();
    assert_eq!(v[0]["report"], "R1");
    assert!(v[0]["inputs"][0]["name"].is_string());
}

// Bridge and equivalent idle rate.

fn factors_strategy() -> impl Strategy<Value = BridgeFactors> {
    (
        (0.0..0.95f64, 0.0..0.95f64),
        (1e-5..1e-2f64, 1e-4..0.1f64, 1e-5..0.1f64),
        (0.0..0.9f64, 0.0..0.9f64),
        (0.1..1.0f64, 0.1..1.0f64),
    )
        .prop_map(
            |((ia, ib), (f, b1, ba), (ha, hb), (ca, cb))| BridgeFactors {
                assumed_idle_rate: ia,
                achieved_idle_rate: ib,
                formula_busy_s_per_token: f,
                sim_busy_s_per_token_batch1: b1,
                sim_busy_s_per_token_achieved: ba,
                assumed_cache_hit_rate: ha,
                achieved_cache_hit_rate: hb,
                assumed_compression: ca,
                simulated_compression: cb,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn bridge_terms_sum_to_difference(
        factors in factors_strategy(),
        formula in 1e-6..1.0f64,
        sim in 1e-6..1.0f64,
    ) {
        let terms = bridge(formula, sim, &factors);
        prop_assert_eq!(terms.len(), 6);
        prop_assert_eq!(terms.last().unwrap().term.as_str(), "residual");
        let total: f64 = terms.iter().map(|t| t.usd).sum();
        prop_assert!((total - (sim - formula)).abs() <= 1e-12, "{} vs {}", total, sim - formula);
    }

    #[test]
    fn bridge_residual_zero_when_factors_explain_all(
        factors in factors_strategy(),
        formula in 1e-6..1.0f64,
    ) {
        let sim = factors.implied_simulated_usd(formula);
        let terms = bridge(formula, sim, &factors);
        let residual = terms.last().unwrap().usd;
        prop_assert!(residual.abs() <= 1e-9 * sim.max(formula), "{}", residual);
    }

    #[test]
    fn equivalent_idle_round_trip(
        sim_usd in 1e-5..0.5f64,
        tokens in 100.0..20_000.0f64,
        hit in 0.0..0.9f64,
        compression in 0.1..1.0f64,
    ) {
        let busy = PerTokenInputs::r1().per_1k_tokens_cents_busy();
        let mut f = FormulaInputs {
            task_tokens: tokens,
            cost_per_1k_tokens_cents: busy,
            cache_hit_rate: hit,
            idle_rate: 0.2,
            compression,
        };
        let x = equivalent_idle_rate(sim_usd, &f);
        prop_assert!(x < 1.0);
        f.idle_rate = x;
        let back_usd = formula_cost_cents(&f) / 100.0;
        // 1 - x cancels digits when sim >> the idle-free formula; 1e-9 relative covers it.
        prop_assert!((back_usd - sim_usd).abs() <= 1e-9 * sim_usd, "{} vs {}", back_usd, sim_usd);
    }
}

#[test]
fn equivalent_idle_of_r1_formula_is_r1_idle() {
    let busy = PerTokenInputs::r1().per_1k_tokens_cents_busy();
    let f = FormulaInputs::r1_office(busy);
    let usd = formula_cost_cents(&f) / 100.0;
    assert!((equivalent_idle_rate(usd, &f) - 0.2).abs() < 1e-12);
    // Cheaper than the zero-idle formula: negative, returned as is.
    assert!(equivalent_idle_rate(usd * 0.5, &f) < 0.0);
}

#[test]
fn bridge_example_signs() {
    let factors = BridgeFactors {
        assumed_idle_rate: 0.2,
        achieved_idle_rate: 0.6,
        formula_busy_s_per_token: 4.67e-4,
        sim_busy_s_per_token_batch1: 0.064,
        sim_busy_s_per_token_achieved: 2e-3,
        assumed_cache_hit_rate: 0.3,
        achieved_cache_hit_rate: 0.3,
        assumed_compression: 1.0,
        simulated_compression: 1.0,
    };
    let formula = 0.0105;
    let sim = factors.implied_simulated_usd(formula) * 1.1;
    let terms = bridge(formula, sim, &factors);
    assert!(terms[0].usd > 0.0, "more idle costs more");
    assert!(terms[1].usd > 0.0, "memory-bound decode costs more");
    assert!(terms[2].usd < 0.0, "batching saves");
    assert_eq!(terms[3].usd, 0.0);
    assert_eq!(terms[4].usd, 0.0);
    assert!(terms[5].usd > 0.0, "10% unexplained");
}

// TCO and prices.

#[test]
fn tco_defaults_arithmetic() {
    let t = TcoInputs::default();
    let b = t.breakdown();
    assert!((b.capex_usd_per_hour - 7.5723).abs() < 1e-4);
    assert!((b.energy_usd_per_hour - 6.5 * 1.5 * 0.08).abs() < 1e-12);
    assert!((b.hosting_usd_per_hour - 0.3914).abs() < 1e-4);
    assert!((t.tco_usd_per_server_hour() - 8.7437).abs() < 1e-3);
    let half = TcoInputs {
        power_draw_fraction: 0.5,
        ..t
    };
    assert!((b.energy_usd_per_hour - 2.0 * half.breakdown().energy_usd_per_hour).abs() < 1e-12);
    // R1's shortcut puts self-built at 0.3 x $10.9 = $3.27/h, well below this TCO.
    assert!(self_built_from_cloud_usd(10.9) < t.tco_usd_per_server_hour());
}

#[test]
fn price_presets_complete() {
    for name in [
        "r1-azure-2023",
        "r2-citic-2023",
        "aws-p4d",
        "aws-p4d-2025-pre-cut",
        "aws-p4de",
        "aws-p4de-2025-pre-cut",
        "azure-nd96asr-v4",
        "azure-nd96amsr-a100-v4",
        "gcp-a2-highgpu",
        "gcp-a2-ultragpu",
        "gcp-a3-highgpu",
        "gcp-a3-ultragpu",
        "aws-p5",
        "aws-p5-2025-pre-cut",
        "azure-nd96isr-h200-v5",
    ] {
        let p = price_preset(name).unwrap_or_else(|| panic!("{name}"));
        assert!(p.usd_per_hour > 0.0 && !p.as_of.is_empty() && !p.source.is_empty());
        assert!(!p.provider.is_empty() && !p.instance.is_empty() && p.gpus > 0);
    }
    // Eight A100 presets (2023 reports, AWS, Azure), four Google Cloud, three H100/H200.
    assert_eq!(PRICE_PRESETS.len(), 15);
    assert_eq!(price_preset("r1-azure-2023").unwrap().usd_per_hour, 10.9);
    assert_eq!(price_preset("r2-citic-2023").unwrap().usd_per_hour, 8.0);
}
