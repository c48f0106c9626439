//! Every figure of the four 2023 reports (R1–R4), recomputed from the report's own inputs.
//!
//! Each [`Estimate`] shows the formula, its inputs, the computed value and the printed value
//! side by side, never silently one of them. `tolerance` is the absolute gap the printed
//! rounding allows (half a unit of the last printed digit, or one unit for a truncated
//! figure); it is `None` when the report does not give enough inputs for a fair comparison.
//! Inputs are the reports' figures as digested in `shared/reference/seeds.md`.

use serde::Serialize;

use super::formula::{FormulaInputs, PerTokenInputs, formula_breakdown, formula_cost_cents};
use super::tco::SELF_BUILT_FRACTION_OF_CLOUD;

/// Seconds per hour.
const S_PER_HOUR: f64 = 3600.0;
/// Seconds per day.
const S_PER_DAY: f64 = 86_400.0;

/// One named input of an estimate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EstimateInput {
    /// What the number is, e.g. `"params"`.
    pub name: String,
    /// The number as the report gives it.
    pub value: f64,
    /// Its unit, e.g. `"FLOP/s"`.
    pub unit: String,
}

/// One report figure recomputed from the report's own inputs, beside the printed figure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// Which report: `"R1"`..`"R4"`, or `"R1 method"` for [`estimate_scenario`].
    pub report: String,
    /// What is estimated; unique within a report.
    pub item: String,
    /// The formula in words and symbols.
    pub formula: String,
    /// The inputs the formula uses, in the report's units.
    pub inputs: Vec<EstimateInput>,
    /// The formula's value.
    pub computed: f64,
    /// The value the report prints, if it prints one.
    pub printed: Option<f64>,
    /// Largest `|computed - printed|` the printed rounding allows; `None` = not comparable.
    pub tolerance: Option<f64>,
    /// Unit of `computed` and `printed`.
    pub unit: String,
    /// Caveats: rounding, truncation, double counting, figures that do not reproduce.
    pub note: String,
}

impl Estimate {
    /// Starts an estimate with no inputs, computed 0 and nothing printed (builder style).
    pub fn new(report: &str, item: &str, unit: &str) -> Self {
        Self {
            report: report.to_string(),
            item: item.to_string(),
            formula: String::new(),
            inputs: Vec::new(),
            computed: 0.0,
            printed: None,
            tolerance: None,
            unit: unit.to_string(),
            note: String::new(),
        }
    }

    /// Sets the formula text.
    pub fn formula(mut self, formula: &str) -> Self {
        self.formula = formula.to_string();
        self
    }

    /// Adds one input.
    pub fn input(mut self, name: &str, value: f64, unit: &str) -> Self {
        self.inputs.push(EstimateInput {
            name: name.to_string(),
            value,
            unit: unit.to_string(),
        });
        self
    }

    /// Sets the computed value.
    pub fn computed(mut self, value: f64) -> Self {
        self.computed = value;
        self
    }

    /// Sets the printed value and the tolerance its rounding implies.
    pub fn printed(mut self, value: f64, tolerance: f64) -> Self {
        self.printed = Some(value);
        self.tolerance = Some(tolerance);
        self
    }

    /// Sets a printed value that cannot fairly be compared (inputs missing from the report).
    pub fn printed_only(mut self, value: f64) -> Self {
        self.printed = Some(value);
        self.tolerance = None;
        self
    }

    /// Sets the note.
    pub fn note(mut self, note: &str) -> Self {
        self.note = note.to_string();
        self
    }

    /// `Some(true)` if computed and printed agree within the rounding tolerance, `Some(false)`
    /// if they do not, `None` if nothing printed or not comparable.
    pub fn agrees_with_printed(&self) -> Option<bool> {
        match (self.printed, self.tolerance) {
            (Some(p), Some(tol)) => Some((self.computed - p).abs() <= tol * (1.0 + 1e-9)),
            _ => None,
        }
    }
}

/// Every figure of every report, in report order (R1, R2, R3, R4).
pub fn all_estimates() -> Vec<Estimate> {
    let mut v = r1();
    v.extend(r2());
    v.extend(r3());
    v.extend(r4());
    v
}

/// The estimate with this report and item, if any.
pub fn find_estimate(report: &str, item: &str) -> Option<Estimate> {
    all_estimates()
        .into_iter()
        .find(|e| e.report == report && e.item == item)
}

/// R1's task formula applied to any scenario (its tokens, hit rate, idle, compression).
///
/// Pass the busy cost per 1k tokens (e.g. [`PerTokenInputs::per_1k_tokens_cents_busy`]) to
/// count idle once; passing R1's 0.177 with a non-zero idle rate counts it twice, as R1 did.
pub fn estimate_scenario(inputs: &FormulaInputs) -> Estimate {
    let mut e = Estimate::new("R1 method", "scenario cost per task", "US cents")
        .formula("tokens/1000 x cents per 1k x (1 - cache hit) / (1 - idle) x compression");
    for t in formula_breakdown(inputs) {
        e = e.input(&t.name, t.factor, "x");
    }
    e.inputs[0].unit = "k tokens".into();
    e.inputs[1].unit = "US cents".into();
    e.computed(formula_cost_cents(inputs)).note(
        "cents per 1k should be the busy (idle-free) cost; R1's 0.177 already includes 20% idle",
    )
}

/// R1's task formula applied to a validated scenario, as `fleetsim estimate <file>` prints it:
/// mean prompt plus output tokens, the busy cost per 1k tokens of the scenario's model on its
/// hardware at its assumed MFU and server price, and its assumed cache hit and idle rates.
///
/// `None` when the scenario has no LLM servers (the formula prices tokens); the CLI and the
/// HTTP service word that error themselves, naming the scenario.
pub fn estimate_for_scenario(s: &crate::scenario::Scenario) -> Option<Estimate> {
    use crate::scenario::{DistSpec, ServerKind};
    let (Some(model), Some(req), ServerKind::Llm(spec)) = (&s.model, &s.request, &s.servers.kind)
    else {
        return None;
    };
    let mean = |d: &DistSpec| d.build().map(|d| d.mean()).unwrap_or(0.0);
    let per_token = PerTokenInputs {
        params: model.params,
        flops_per_token_factor: 2.0,
        mfu: s.cost.assumed_mfu,
        gpus: f64::from(spec.gpus_per_server),
        peak_flops_per_gpu: spec.gpu.peak_flops,
        server_usd_per_hour: s.cost.cloud_usd_per_server_hour,
        idle_rate: 0.0,
    };
    Some(estimate_scenario(&FormulaInputs {
        task_tokens: mean(&req.input_tokens) + mean(&req.output_tokens),
        cost_per_1k_tokens_cents: per_token.per_1k_tokens_cents_busy(),
        cache_hit_rate: s.cost.assumed_cache_hit_rate,
        idle_rate: s.cost.assumed_idle_rate,
        compression: model.compression,
    }))
}

/// The message for a scenario [`estimate_for_scenario`] cannot price; `label` names it (the
/// file as given on the command line, or the scenario's label over HTTP).
pub fn not_llm_message(label: &str) -> String {
    format!("{label}: the R1 formula prices tokens; this scenario has no LLM servers")
}

fn r1() -> Vec<Estimate> {
    let p = PerTokenInputs::r1();
    let train_tokens = 400e9;
    let train_flops = 6.0 * p.params * train_tokens;
    let train_usd = train_flops / p.effective_server_flops() / S_PER_HOUR * p.server_usd_per_hour;
    let per_token = |e: Estimate| {
        e.input("params", p.params, "parameters")
            .input(
                "FLOPs per param per token",
                p.flops_per_token_factor,
                "FLOP",
            )
            .input("GPUs per server", p.gpus, "GPU")
            .input("peak per GPU", p.peak_flops_per_gpu, "FLOP/s")
            .input("MFU", p.mfu, "fraction")
            .input("server price", p.server_usd_per_hour, "USD/h")
    };
    let busy = p.per_1k_tokens_cents_busy();
    let cloud = p.per_1k_tokens_cents();
    let mut v = vec![
        per_token(
            Estimate::new("R1", "training cost, cloud", "USD")
                .formula("6 x params x tokens / (GPUs x peak x MFU) / 3600 x $/server-hour"),
        )
        .input("training tokens", train_tokens, "tokens")
        .computed(train_usd)
        .printed(1.70e6, 0.005e6)
        .note("the report misprints the A100 peak as \"312 PFlops\"; 312 TFLOP/s is used"),
        Estimate::new("R1", "training cost, self-built", "USD")
            .formula("cloud cost x 0.3 (cloud gross margin 70%)")
            .input("cloud training cost", train_usd, "USD")
            .input(
                "self-built fraction",
                SELF_BUILT_FRACTION_OF_CLOUD,
                "fraction",
            )
            .computed(train_usd * SELF_BUILT_FRACTION_OF_CLOUD)
            .printed(0.51e6, 0.005e6),
        per_token(
            Estimate::new("R1", "inference per 1k tokens, busy (no idle)", "US cents")
                .formula("2 x params x 1000 / (GPUs x peak x MFU) / 3600 x $/h x 100"),
        )
        .computed(busy)
        .note("not printed by R1; the idle-free cost its 0.177 is built from"),
        per_token(
            Estimate::new("R1", "inference per 1k tokens, cloud", "US cents")
                .formula("busy cost per 1k / (1 - idle)"),
        )
        .input("idle rate", p.idle_rate, "fraction")
        .computed(cloud)
        .printed(0.177, 0.0005)
        .note("0.1415 / (1 - 0.20): R1's 0.177 already contains a 20% idle rate"),
        Estimate::new("R1", "inference per 1k tokens, self-built", "US cents")
            .formula("cloud cost per 1k x 0.3")
            .input("cloud cost per 1k", cloud, "US cents")
            .input(
                "self-built fraction",
                SELF_BUILT_FRACTION_OF_CLOUD,
                "fraction",
            )
            .computed(cloud * SELF_BUILT_FRACTION_OF_CLOUD)
            .printed(0.053, 0.0005),
    ];
    // Scenarios: printed (cloud, self-built) per scenario.
    let scenarios = [
        (
            "search engine",
            FormulaInputs::r1_search(0.177),
            1.73,
            0.52,
            "tokens = 50 input + 6 sources x 1,300 + 600 output = 8,450",
        ),
        (
            "office assistant",
            FormulaInputs::r1_office(0.177),
            1.70,
            0.51,
            "tokens = (400 input + 2,000 output) x 3 rounds = 7,200",
        ),
        (
            "AI customer service",
            FormulaInputs::r1_customer_service(0.177),
            0.08,
            0.02,
            "tokens = (100 input + 600 output) x 5 rounds = 3,500",
        ),
    ];
    for (name, f, printed_cloud, printed_self, tokens_note) in scenarios {
        let cents = formula_cost_cents(&f);
        let once = FormulaInputs {
            cost_per_1k_tokens_cents: busy,
            ..f.clone()
        };
        let cents_once = formula_cost_cents(&once);
        let mut e = estimate_scenario(&f);
        e.report = "R1".into();
        e.item = format!("{name}, cloud, per task");
        v.push(e.printed(printed_cloud, 0.005).note(&format!(
            "{tokens_note}. R1's own formula at its 0.177 cents/1k gives {cents:.2}, not the \
             printed {printed_cloud:.2}; and it counts idle twice (0.177 already includes \
             1/(1-0.2)). Counting idle once (0.1415 busy) gives {cents_once:.2}."
        )));
        let mut e = estimate_scenario(&once);
        e.report = "R1".into();
        e.item = format!("{name}, cloud, per task, idle counted once");
        v.push(e.note("not printed: the formula with the busy 0.1415 cents/1k, idle applied once"));
        v.push(
            Estimate::new("R1", &format!("{name}, self-built, per task"), "US cents")
                .formula("formula cloud cost per task x 0.3")
                .input("formula cloud cost", cents, "US cents")
                .input(
                    "self-built fraction",
                    SELF_BUILT_FRACTION_OF_CLOUD,
                    "fraction",
                )
                .computed(cents * SELF_BUILT_FRACTION_OF_CLOUD)
                .printed(printed_self, 0.005)
                .note(&format!(
                    "the printed {printed_self:.2} is the printed cloud {printed_cloud:.2} x 0.3 \
                     = {:.3}, consistent with the printed cloud figure, not with the formula",
                    printed_cloud * SELF_BUILT_FRACTION_OF_CLOUD
                )),
        );
    }
    v
}

fn r2() -> Vec<Estimate> {
    let bytes = 2.61e11;
    let bw = 4.8e12;
    let bw_loss = 0.15;
    let server_flops = 5e15;
    let util = 0.30;
    let tokens = 200.0;
    let printed_request_s = 12.22;
    let usd_per_hour = 8.0;
    let t_mem = bytes / (bw * (1.0 - bw_loss));
    let t_compute = bytes / (server_flops * util);
    let balance = server_flops * util / (bw * (1.0 - bw_loss));
    let request_s = tokens * t_mem;
    let mem = |e: Estimate| {
        e.input("bytes read per token", bytes, "B")
            .input("server memory bandwidth", bw, "B/s")
            .input("bandwidth loss", bw_loss, "fraction")
    };
    vec![
        Estimate::new("R2", "server compute", "FLOP/s")
            .formula("8 GPUs x 624 TFLOP/s (sparse bf16)")
            .input("GPUs", 8.0, "GPU")
            .input("peak per GPU (sparse)", 624e12, "FLOP/s")
            .computed(8.0 * 624e12)
            .printed(5e15, 0.05e15)
            .note("624 TFLOP/s is A100's 2:4-sparsity figure; dense bf16 is 312 (2.5 PFLOP/s per server)"),
        mem(Estimate::new("R2", "bandwidth-bound time per token", "s")
            .formula("bytes per token / (bandwidth x (1 - loss))"))
            .computed(t_mem)
            .printed(0.064, 0.0005)
            .note("the table's 4.8 TB/s per server is its own input; real 8x A100 80GB has ~16 TB/s"),
        Estimate::new("R2", "compute time per token", "s")
            .formula("FLOPs per token / (server FLOP/s x utilisation), FLOPs per token = 2.61e11")
            .input("FLOPs per token", bytes, "FLOP")
            .input("server compute", server_flops, "FLOP/s")
            .input("FLOPs utilisation", util, "fraction")
            .computed(t_compute)
            .printed(1.7e-4, 0.05e-4)
            .note("reproduced only by taking 2.61e11 (the bytes-per-token figure) as FLOPs per token too; \
                   2 x 175e9 FLOPs would give 2.3e-4 s"),
        mem(Estimate::new("R2", "balance batch (\"input length while loading weights\")", "tokens")
            .formula("server FLOP/s x utilisation / (bandwidth x (1 - loss))"))
            .input("server compute", server_flops, "FLOP/s")
            .input("FLOPs utilisation", util, "fraction")
            .computed(balance)
            .printed(367.0, 1.0)
            .note("367.6 truncated to 367. The table's 0.015 s \"time to load weights\" does not follow \
                   from its inputs (2.61e11 B / 4.08e12 B/s = 0.064 s) and is not reproduced"),
        Estimate::new("R2", "arithmetic-intensity threshold", "FLOP/B")
            .formula("closest reading: server FLOP/s x utilisation / bandwidth (no loss)")
            .input("server compute", server_flops, "FLOP/s")
            .input("FLOPs utilisation", util, "fraction")
            .input("server memory bandwidth", bw, "B/s")
            .computed(server_flops * util / bw)
            .printed(320.0, 5.0)
            .note("the report gives no derivation; 312.5 is the nearest reading of its inputs, 320 is not reproduced"),
        mem(Estimate::new("R2", "time per 200-token answer", "s")
            .formula("tokens per answer x bandwidth-bound time per token"))
            .input("tokens per answer", tokens, "tokens")
            .computed(request_s)
            .printed(printed_request_s, 0.005)
            .note("200 x 0.064 = 12.8 s; the printed 12.22 s is not reproduced (it implies 0.0611 s/token, \
                   or 191 tokens at 0.064 s)"),
        Estimate::new("R2", "cost per answer, from the printed 12.22 s", "US cents")
            .formula("time per request x $/h / 3600 x 100")
            .input("time per request (printed)", printed_request_s, "s")
            .input("server price", usd_per_hour, "USD/h")
            .computed(printed_request_s * usd_per_hour / S_PER_HOUR * 100.0)
            .printed(2.7, 0.05)
            .note("the report's \"theoretical maximum\": batch 1, one answer per server at a time"),
        Estimate::new("R2", "cost per answer, from 200 x 0.064 s", "US cents")
            .formula("tokens x time per token x $/h / 3600 x 100")
            .input("time per request (computed)", request_s, "s")
            .input("server price", usd_per_hour, "USD/h")
            .computed(request_s * usd_per_hour / S_PER_HOUR * 100.0)
            .printed(2.7, 0.05)
            .note("with the table's own per-token time the cost is 2.84 cents, not 2.7"),
    ]
}

fn r3() -> Vec<Estimate> {
    let gpu_years = 355.0;
    let months = 1.0;
    let cards_one = gpu_years * 12.0 / months;
    let companies = 10.0;
    let words_per_s = 1757.0;
    let convs = 5.0;
    // Back-solve the work per conversation from the most precise printed figure (5,425 servers).
    let enterprise_visits = 50e6;
    let enterprise_cards = 5425.0 * 8.0;
    let card_words_per_day = words_per_s * S_PER_DAY;
    let words_per_conv = enterprise_cards * card_words_per_day / (enterprise_visits * convs);
    let cards = |visits: f64| visits * convs * words_per_conv / card_words_per_day;
    let inference = |e: Estimate, visits: f64| {
        e.input("visits per day", visits, "visits")
            .input("conversations per visit", convs, "conversations")
            .input("implied words per conversation", words_per_conv, "words")
            .input("words per second per A100", words_per_s, "words/s")
    };
    let mut v =
        vec![
        Estimate::new("R3", "training accelerators for one month", "GPUs")
            .formula("GPU-years x 12 / months")
            .input("GPT-3 training", gpu_years, "GPU-years")
            .input("training time", months, "months")
            .computed(cards_one)
            .printed(4260.0, 0.5),
        Estimate::new("R3", "training cards for 10 companies", "GPUs")
            .formula("accelerators for one month x companies")
            .input("accelerators per company", cards_one, "GPUs")
            .input("companies", companies, "companies")
            .computed(cards_one * companies)
            .printed(43_000.0, 500.0)
            .note("printed as ~43K"),
        Estimate::new("R3", "training servers for 10 companies", "servers")
            .formula("cards / 8")
            .input("cards", cards_one * companies, "GPUs")
            .computed(cards_one * companies / 8.0)
            .printed(5325.0, 0.5),
        inference(
            Estimate::new("R3", "implied words per conversation (back-solved)", "words")
                .formula("servers x 8 x words/s x 86,400 / (visits x conversations)"),
            enterprise_visits,
        )
        .computed(words_per_conv)
        .note(&format!(
            "the article never states the work per conversation; 5,425 servers x 8 with cards busy \
             24 h imply {} words each. With 1,000 tokens (750 words) per conversation \
             the whole day's traffic would have to be served in {:.0} minutes",
            super::number::format_value(words_per_conv),
            enterprise_visits * convs * 750.0 / (enterprise_cards * words_per_s) / 60.0
        )),
    ];
    for (label, visits, printed_cards, printed_servers, servers_tol) in [
        (
            "enterprise assistant, 50M visits",
            50e6,
            43_000.0,
            5425.0,
            0.5,
        ),
        (
            "public assistant, 100M visits",
            100e6,
            87_000.0,
            11_000.0,
            500.0,
        ),
        (
            "public assistant, 300M visits",
            300e6,
            260_000.0,
            33_000.0,
            500.0,
        ),
    ] {
        let c = cards(visits);
        v.push(
            inference(
                Estimate::new("R3", &format!("{label}: cards"), "GPUs")
                    .formula("visits x conversations x words / (words/s x 86,400)"),
                visits,
            )
            .computed(c)
            .printed(printed_cards, 500.0)
            .note("uses the back-solved words per conversation; the card counts scale linearly with visits"),
        );
        v.push(
            Estimate::new("R3", &format!("{label}: servers"), "servers")
                .formula("cards / 8")
                .input("cards", c, "GPUs")
                .computed(c / 8.0)
                .printed(printed_servers, servers_tol)
                .note(if visits == enterprise_visits {
                    "circular: this figure is the one the words per conversation were solved from"
                } else {
                    "printed to the nearest thousand"
                }),
        );
    }
    let tokens_per_day = |users: f64| users * 5.0 * 1000.0;
    for users in [50e6, 300e6] {
        v.push(
            Estimate::new(
                "R3",
                &format!("text revenue at {:.0}M users per day", users / 1e6),
                "USD/day",
            )
            .formula("users x 5 generations x 1,000 tokens / 1000 x $0.003")
            .input("users per day", users, "users")
            .input("tokens per day", tokens_per_day(users), "tokens")
            .input("price per 1k tokens", 0.003, "USD")
            .computed(tokens_per_day(users) / 1000.0 * 0.003)
            .note("not printed in the article's summary; the sensitivity table's volume x price"),
        );
    }
    v.push(
        Estimate::new("R3", "server value", "CNY")
            .formula("8 x A100 price / 0.7 (accelerators ~70% of server value)")
            .input("A100 price", 100_000.0, "CNY")
            .input("accelerator share of server value", 0.7, "fraction")
            .computed(8.0 * 100_000.0 / 0.7)
            .note("not printed; implied by the article's two inputs"),
    );
    v
}

fn r4() -> Vec<Estimate> {
    let visitors = 25e6;
    let questions = 10.0;
    let queries = visitors * questions;
    let chars = 30.0;
    let s_per_char = 0.35;
    let a100_hours = queries * chars * s_per_char / S_PER_HOUR;
    let a100s = a100_hours / 24.0;
    let servers = a100s / 8.0;
    let servers_printed = 3798.0;
    let racks_exact = servers_printed / 7.0;
    let racks_printed = 542.0;
    let rack_usd_printed = 1.4e6;
    let rack_kw = 7.0 * 6.5;
    let kwh_day = racks_printed * rack_kw * 24.0;
    let kwh_printed = 591_864.0;
    let train = PerTokenInputs {
        mfu: 0.462,
        ..PerTokenInputs::r1()
    };
    let train_usd = 6.0 * train.params * 400e9 / train.effective_server_flops() / S_PER_HOUR * 10.9;
    vec![
        Estimate::new("R4", "queries per day", "queries")
            .formula("daily visitors x questions each")
            .input("daily visitors (late Jan 2023)", visitors, "visitors")
            .input("questions per visitor", questions, "questions")
            .computed(queries)
            .printed(250e6, 0.5e6)
            .note("the ~13M daily unique users (Jan 2023) figure is not used"),
        Estimate::new("R4", "A100 time per query", "s")
            .formula("characters per answer x A100 seconds per character")
            .input("characters per answer", chars, "characters")
            .input("A100 time per character", s_per_char, "s")
            .computed(chars * s_per_char)
            .note("not printed; assumes no batching at all (one A100 per character stream)"),
        Estimate::new("R4", "A100-hours per day", "A100-hours")
            .formula("queries x characters x s per character / 3600")
            .input("queries per day", queries, "queries")
            .input("characters per answer", chars, "characters")
            .input("A100 time per character", s_per_char, "s")
            .computed(a100_hours)
            .printed(729_167.0, 0.5),
        Estimate::new("R4", "A100s busy around the clock", "GPUs")
            .formula("A100-hours per day / 24")
            .input("A100-hours per day", a100_hours, "A100-hours")
            .computed(a100s)
            .printed(30_382.0, 0.5),
        Estimate::new("R4", "DGX A100 servers", "servers")
            .formula("A100s / 8")
            .input("A100s", a100s, "GPUs")
            .computed(servers)
            .printed(servers_printed, 0.5),
        Estimate::new("R4", "racks of 7 servers", "racks")
            .formula("servers (printed, 3,798) / 7")
            .input("servers", servers_printed, "servers")
            .input("servers per rack", 7.0, "servers")
            .computed(racks_exact)
            .printed(racks_printed, 1.0)
            .note(&format!(
                "{racks_exact:.2} truncated to 542, not rounded up: 543 racks are needed to hold \
                 3,798 servers (unrounded servers / 7 = {:.2})",
                servers / 7.0
            )),
        Estimate::new("R4", "rack price", "USD")
            .formula("7 servers x $199K")
            .input("server price", 199_000.0, "USD")
            .input("servers per rack", 7.0, "servers")
            .computed(7.0 * 199_000.0)
            .printed(rack_usd_printed, 0.05e6)
            .note("$1.393M rounded to $1.4M"),
        Estimate::new("R4", "GPUs per rack", "GPUs")
            .formula("7 x 8")
            .computed(56.0)
            .printed(56.0, 0.5),
        Estimate::new("R4", "compute per rack", "PFLOP/s")
            .formula("7 servers x 5 PFLOP/s")
            .input("server compute", 5.0, "PFLOP/s")
            .computed(35.0)
            .printed(35.0, 0.5)
            .note("5 PFLOP/s is DGX A100's sparse figure (2.5 dense)"),
        Estimate::new("R4", "power per rack", "kW")
            .formula("7 servers x 6.5 kW max")
            .input("server max power", 6.5, "kW")
            .computed(rack_kw)
            .printed(45.5, 0.05),
        Estimate::new("R4", "capital cost", "USD")
            .formula("racks (printed, 542) x rack price (printed, $1.4M)")
            .input("racks", racks_printed, "racks")
            .input("rack price", rack_usd_printed, "USD")
            .computed(racks_printed * rack_usd_printed)
            .printed(759e6, 0.5e6)
            .note(&format!(
                "$758.8M rounded; at 7 x $199K = $1.393M per rack it is ${:.1}M, and with 543 racks ${:.1}M",
                racks_printed * 7.0 * 199_000.0 / 1e6,
                543.0 * rack_usd_printed / 1e6
            )),
        Estimate::new("R4", "energy per day", "kWh")
            .formula("racks x kW per rack x 24 h")
            .input("racks", racks_printed, "racks")
            .input("power per rack", rack_kw, "kW")
            .computed(kwh_day)
            .printed(kwh_printed, 0.5)
            .note("at maximum power around the clock, no PUE (cooling) overhead"),
        Estimate::new("R4", "energy per day, second printed figure", "kWh")
            .formula("4 x energy per day (closest reading)")
            .input("energy per day", kwh_day, "kWh")
            .computed(4.0 * kwh_day)
            .printed(2_369_640.0, 0.5)
            .note("inconsistent with the article's own 591,864 kWh: 2,369,640 = 2,170 racks x 45.5 kW x 24 h, \
                   and 2,170 = 4 x 542.5 racks; it is close to (0.09% above) but not exactly 4 x 591,864 = 2,367,456"),
        Estimate::new("R4", "electricity cost per day", "USD/day")
            .formula("energy per day x $/kWh")
            .input("energy per day", kwh_day, "kWh")
            .input("electricity price", 0.08, "USD/kWh")
            .computed(kwh_day * 0.08)
            .printed(47_000.0, 500.0)
            .note("$47,349 printed as ~$47K"),
        Estimate::new("R4", "GPT-3 training run (OneFlow)", "USD")
            .formula("R1 method at 46.2% MFU: 6 x params x tokens / (8 x 312e12 x MFU) / 3600 x $10.9")
            .input("params", train.params, "parameters")
            .input("training tokens", 400e9, "tokens")
            .input("MFU (PaLM on TPUv4)", train.mfu, "fraction")
            .input("server price (R1's, not R4's)", 10.9, "USD/h")
            .computed(train_usd)
            .printed_only(1.4e6)
            .note("not comparable: the article gives OneFlow's $1.4M without its hardware price; R1's \
                   inputs with 46.2% MFU give $1.10M"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_unique_per_report() {
        let all = all_estimates();
        for e in &all {
            let n = all
                .iter()
                .filter(|x| x.report == e.report && x.item == e.item)
                .count();
            assert_eq!(n, 1, "{} / {}", e.report, e.item);
            assert!(e.computed.is_finite(), "{}", e.item);
        }
    }

    #[test]
    fn scenario_estimate_matches_formula() {
        let f = FormulaInputs::r1_office(0.177);
        let e = estimate_scenario(&f);
        assert!((e.computed - formula_cost_cents(&f)).abs() < 1e-15);
        assert_eq!(e.inputs.len(), 5);
    }
}
