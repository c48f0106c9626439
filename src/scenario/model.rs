//! The `[model]` and `[request]` sections of an LLM scenario: the model served and what each
//! request asks of it.

use serde::{Deserialize, Serialize};

use super::check::Check;
use super::raw::{RawModel, RawRequest};
use super::{DistSpec, ScenarioError};
use crate::timing::{MODEL_PRESETS, Model, model_preset};
use crate::trace::{TraceRecord, empirical_input_tokens, empirical_output_tokens};

/// What each request asks of an LLM server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    /// Prompt tokens.
    pub input_tokens: DistSpec,
    /// Generated tokens.
    pub output_tokens: DistSpec,
    /// Rounds per session: round k's prompt carries the conversation so far (every earlier
    /// round's input and output) plus its own new input.
    #[serde(default = "one")]
    pub rounds: u32,
    /// Seconds between a round's last token and the next round's arrival.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub think_time_s: Option<DistSpec>,
    /// Tokens of a system prompt shared by every session's first prompt.
    #[serde(default)]
    pub system_prompt_tokens: u32,
}

fn one() -> u32 {
    1
}

/// Validates the `[model]` table.
pub fn validate_model(raw: Option<RawModel>, check: Check) -> Result<Model, ScenarioError> {
    let raw = raw.ok_or_else(|| {
        check.invalid(
            "model",
            format!(
                "missing: kind = \"llm\" needs a [model] table with `preset` (one of {}) or \
                 the keys params, layers, hidden, heads",
                MODEL_PRESETS.join(", ")
            ),
        )
    })?;
    let base = match &raw.preset {
        Some(p) => Some(model_preset(p).ok_or_else(|| {
            check.unknown("model.preset", "preset", p, &MODEL_PRESETS.join(", "))
        })?),
        None => None,
    };
    let need = |v: Option<f64>, from: Option<f64>, key: &str| -> Result<f64, ScenarioError> {
        v.or(from)
            .ok_or_else(|| check.invalid(key, "missing: give it, or a `preset` to take it from"))
    };
    let b = base.as_ref();
    let params = check.positive(
        "model.params",
        need(raw.params, b.map(|m| m.params), "model.params")?,
    )?;
    let layers = need(
        raw.layers.map(f64::from),
        b.map(|m| f64::from(m.layers)),
        "model.layers",
    )? as u32;
    let hidden = need(
        raw.hidden.map(f64::from),
        b.map(|m| f64::from(m.hidden)),
        "model.hidden",
    )? as u32;
    let heads = need(
        raw.heads.map(f64::from),
        b.map(|m| f64::from(m.heads)),
        "model.heads",
    )? as u32;
    let kv_heads = raw.kv_heads.or(b.map(|m| m.kv_heads)).unwrap_or(heads);
    for (key, v) in [
        ("model.layers", layers),
        ("model.hidden", hidden),
        ("model.heads", heads),
        ("model.kv_heads", kv_heads),
    ] {
        if v == 0 {
            return Err(check.invalid(key, "must be at least 1, got 0"));
        }
    }
    if !hidden.is_multiple_of(heads) {
        return Err(check.invalid(
            "model.heads",
            format!("must divide hidden ({hidden}), got {heads}"),
        ));
    }
    if kv_heads > heads || !heads.is_multiple_of(kv_heads) {
        return Err(check.invalid(
            "model.kv_heads",
            format!("must divide heads ({heads}), got {kv_heads}"),
        ));
    }
    let bytes_per_param = check.positive(
        "model.bytes_per_param",
        raw.bytes_per_param
            .or(b.map(|m| m.bytes_per_param))
            .unwrap_or(2.0),
    )?;
    let weight_bytes = match raw.weight_bytes.or(b.and_then(|m| m.weight_bytes)) {
        Some(w) => Some(check.positive("model.weight_bytes", w)?),
        None => None,
    };
    let compression = raw.compression.or(b.map(|m| m.compression)).unwrap_or(1.0);
    if !(compression > 0.0 && compression <= 1.0) {
        return Err(check.invalid(
            "model.compression",
            format!(
                "must be in (0, 1] (the fraction of the weights a compressed model moves and computes), got {compression}"
            ),
        ));
    }
    let ffn_hidden = raw.ffn_hidden.or(b.map(|m| m.ffn_hidden)).unwrap_or(0);
    let vocab = raw.vocab.or(b.map(|m| m.vocab)).unwrap_or(0);
    let gated_mlp = raw.gated_mlp.or(b.map(|m| m.gated_mlp)).unwrap_or(true);
    for (key, v) in [("model.ffn_hidden", ffn_hidden), ("model.vocab", vocab)] {
        if v > 10_000_000 {
            return Err(check.invalid(key, format!("must be at most 10,000,000, got {v}")));
        }
    }
    let name = raw
        .name
        .or(raw.preset.clone())
        .or(b.map(|m| m.name.clone()))
        .unwrap_or_else(|| "custom".into());
    Ok(Model {
        name,
        params,
        layers,
        hidden,
        heads,
        kv_heads,
        bytes_per_param,
        weight_bytes,
        compression,
        ffn_hidden,
        vocab,
        gated_mlp,
    })
}

/// Validates the `[request]` table for an LLM scenario.
pub fn validate_request(
    raw: Option<RawRequest>,
    check: Check,
) -> Result<RequestSpec, ScenarioError> {
    let raw = raw.unwrap_or_default();
    let tokens = |v: Option<DistSpec>, key: &str| -> Result<DistSpec, ScenarioError> {
        let d = v.ok_or_else(|| {
            check.invalid(
                key,
                "missing: kind = \"llm\" needs token-count distributions, e.g. \
                 { dist = \"fixed\", value = 1000 }",
            )
        })?;
        let built = d.build().map_err(check.at(key))?;
        if built.mean() < 1.0 {
            return Err(check.invalid(
                key,
                format!("the mean must be at least 1 token, got {}", built.mean()),
            ));
        }
        let most = super::limits::MAX_TOKENS_PER_REQUEST;
        if built.mean() > most {
            return Err(check.invalid(
                key,
                format!(
                    "the mean must be at most {most} tokens, got {}",
                    built.mean()
                ),
            ));
        }
        Ok(d)
    };
    let rounds = raw.rounds.unwrap_or(1);
    if rounds == 0 || rounds > 1000 {
        return Err(check.invalid(
            "request.rounds",
            format!("must be between 1 and 1000, got {rounds}"),
        ));
    }
    let think_time_s = match raw.think_time_s {
        Some(d) => {
            d.build().map_err(check.at("request.think_time_s"))?;
            Some(d)
        }
        None => None,
    };
    if think_time_s.is_some() && rounds == 1 {
        return Err(check.invalid(
            "request.think_time_s",
            "only applies to sessions of more than one round (set request.rounds)",
        ));
    }
    Ok(RequestSpec {
        input_tokens: tokens(raw.input_tokens, "request.input_tokens")?,
        output_tokens: tokens(raw.output_tokens, "request.output_tokens")?,
        rounds,
        think_time_s,
        system_prompt_tokens: raw.system_prompt_tokens.unwrap_or(0),
    })
}

/// `[request]`, or for a replayed trace that gives none, the trace's own token counts as
/// empirical distributions (they stand for it in costs and estimates).
pub fn validate_request_or_trace(
    raw: Option<RawRequest>,
    records: Option<&Vec<TraceRecord>>,
    check: Check,
) -> Result<RequestSpec, ScenarioError> {
    match (&raw, records) {
        (None, Some(records)) => {
            let (iv, iw) = empirical_input_tokens(records);
            let (ov, ow) = empirical_output_tokens(records);
            Ok(RequestSpec {
                input_tokens: DistSpec::Empirical {
                    values: iv,
                    weights: Some(iw),
                },
                output_tokens: DistSpec::Empirical {
                    values: ov,
                    weights: Some(ow),
                },
                rounds: 1,
                think_time_s: None,
                system_prompt_tokens: 0,
            })
        }
        _ => validate_request(raw, check),
    }
}
