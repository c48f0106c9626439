//! Transformer model presets and their memory footprints (`inference-model.md` §2).

use serde::{Deserialize, Serialize};

/// A decoder-only transformer as the timing model sees it.
///
/// `compression` is the reports' "compression factor" (R1): it scales the weight bytes read per
/// step and the matmul FLOPs (`2 · params · compression` per token). It does **not** scale the
/// KV cache, whose size follows from the architecture and `bytes_per_param`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Display name, e.g. `"Llama-2-70B"`.
    pub name: String,
    /// Parameter count N.
    pub params: f64,
    /// Number of transformer layers L.
    pub layers: u32,
    /// Hidden size d (= query heads × head dim).
    pub hidden: u32,
    /// Query heads h_q.
    pub heads: u32,
    /// Key/value heads h_kv (equals `heads` without GQA/MQA).
    pub kv_heads: u32,
    /// Bytes per weight and per KV element (2 for fp16/bf16).
    pub bytes_per_param: f64,
    /// Explicit total weight bytes, overriding `params · bytes_per_param · compression`
    /// (the CITIC table reads 2.61e11 bytes per token for GPT-3, not 3.5e11).
    pub weight_bytes: Option<f64>,
    /// Multiplier on weight bytes and matmul FLOPs (1.0 = none); see the type docs.
    pub compression: f64,
    /// MLP intermediate size (0 = derived from the parameter count, see [`Model::ffn`]).
    #[serde(default)]
    pub ffn_hidden: u32,
    /// Vocabulary size (0 = 32,000, Llama's).
    #[serde(default)]
    pub vocab: u32,
    /// Gated MLP (SwiGLU: gate and up projections, as Llama) rather than one up projection
    /// (GELU, as GPT-3 and Falcon).
    #[serde(default = "yes")]
    pub gated_mlp: bool,
}

fn yes() -> bool {
    true
}

impl Model {
    /// Total weight bytes: the override if set, else `params · bytes_per_param · compression`.
    pub fn weight_bytes(&self) -> f64 {
        self.weight_bytes
            .unwrap_or(self.params * self.bytes_per_param * self.compression)
    }

    /// Matmul FLOPs per processed token: `2 · params · compression` (kipply; llm-analysis).
    /// Not affected by the `weight_bytes` override.
    pub fn gemm_flops_per_token(&self) -> f64 {
        2.0 * self.params * self.compression
    }

    /// Head dimension d_h = hidden / heads.
    pub fn head_dim(&self) -> u32 {
        self.hidden / self.heads
    }

    /// KV-cache bytes per token for the whole model: `2 · L · h_kv · d_h · bytes_per_param`.
    /// Not scaled by `compression` (the reports' factor applies to weights and FLOPs only).
    pub fn kv_bytes_per_token(&self) -> f64 {
        2.0 * f64::from(self.layers)
            * f64::from(self.kv_heads)
            * f64::from(self.head_dim())
            * self.bytes_per_param
    }

    /// KV-cache bytes per token held by one tensor-parallel replica of `tp` GPUs. When
    /// `tp > kv_heads` every rank still holds one KV head (llm-analysis), so the replica holds
    /// `tp · ceil(kv_heads / tp)` heads' worth.
    pub fn kv_bytes_per_token_tp(&self, tp: u32) -> f64 {
        let tp = tp.max(1);
        let heads_per_rank = self.kv_heads.div_ceil(tp);
        self.kv_bytes_per_token() / f64::from(self.kv_heads)
            * f64::from(tp)
            * f64::from(heads_per_rank)
    }

    /// Vocabulary size used by the timing model: `vocab`, or 32,000 when unset.
    pub fn vocab_size(&self) -> u32 {
        if self.vocab == 0 { 32_000 } else { self.vocab }
    }

    /// MLP intermediate size: `ffn_hidden`, or, when unset, the size that makes each layer hold
    /// its share of `params` after the embeddings and attention projections.
    pub fn ffn(&self) -> u32 {
        if self.ffn_hidden > 0 {
            return self.ffn_hidden;
        }
        let d = f64::from(self.hidden);
        let dh = f64::from(self.head_dim());
        let attn = d * f64::from(self.heads + 2 * self.kv_heads) * dh + d * d;
        let per_layer =
            (self.params - 2.0 * f64::from(self.vocab_size()) * d) / f64::from(self.layers);
        let mats = if self.gated_mlp { 3.0 } else { 2.0 };
        let f = ((per_layer - attn) / (mats * d)).max(d);
        f.round() as u32
    }

    /// Short dtype label derived from `bytes_per_param` (`"fp16"`, `"int8"`, ...).
    pub fn dtype_label(&self) -> &'static str {
        const LABELS: [(f64, &str); 4] =
            [(4.0, "fp32"), (2.0, "fp16"), (1.0, "int8"), (0.5, "int4")];
        LABELS
            .iter()
            .find(|(bytes, _)| *bytes == self.bytes_per_param)
            .map_or("custom-precision", |(_, label)| label)
    }
}

/// Names accepted by [`model_preset`].
pub const MODEL_PRESETS: &[&str] = &[
    "gpt3-175b",
    "llama-7b",
    "llama-2-7b",
    "llama-2-13b",
    "llama-2-70b",
    "llama-3-8b",
    "llama-3-70b",
    "internlm-20b",
    "falcon-180b",
];

/// Looks up a model preset (fp16, no compression) by name, case-insensitive.
/// Architectures are from the public model configs; parameter counts are the published totals.
pub fn model_preset(name: &str) -> Option<Model> {
    let (display, params, layers, hidden, heads, kv_heads, ffn_hidden, vocab, gated_mlp) =
        match name.to_ascii_lowercase().as_str() {
            "gpt3-175b" => ("GPT-3-175B", 175e9, 96, 12288, 96, 96, 49152, 50257, false),
            "llama-7b" => ("LLaMA-7B", 6.74e9, 32, 4096, 32, 32, 11008, 32000, true),
            "llama-2-7b" => ("Llama-2-7B", 6.74e9, 32, 4096, 32, 32, 11008, 32000, true),
            "llama-2-13b" => ("Llama-2-13B", 13.0e9, 40, 5120, 40, 40, 13824, 32000, true),
            "llama-2-70b" => ("Llama-2-70B", 68.98e9, 80, 8192, 64, 8, 28672, 32000, true),
            "llama-3-8b" => ("Llama-3-8B", 8.03e9, 32, 4096, 32, 8, 14336, 128256, true),
            "llama-3-70b" => ("Llama-3-70B", 70.55e9, 80, 8192, 64, 8, 28672, 128256, true),
            "internlm-20b" => (
                "InternLM-20B",
                20.0e9,
                60,
                5120,
                40,
                40,
                13824,
                103168,
                true,
            ),
            // 232 query heads of 64 dims, 8 KV heads (multi-query groups); GELU MLP of 4d.
            "falcon-180b" => ("Falcon-180B", 180e9, 80, 14848, 232, 8, 59392, 65024, false),
            _ => return None,
        };
    Some(Model {
        name: display.to_string(),
        params,
        layers,
        hidden,
        heads,
        kv_heads,
        bytes_per_param: 2.0,
        weight_bytes: None,
        compression: 1.0,
        ffn_hidden,
        vocab,
        gated_mlp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: f64 = 1024.0;

    #[test]
    fn kv_per_token_matches_reference_examples() {
        for (name, kib) in [
            ("llama-2-7b", 512.0),
            ("llama-2-13b", 800.0),
            ("llama-2-70b", 320.0),
            ("llama-3-70b", 320.0),
            ("llama-3-8b", 128.0),
            ("gpt3-175b", 4.5 * 1024.0),
        ] {
            let m = model_preset(name).unwrap();
            assert_eq!(m.kv_bytes_per_token(), kib * KIB, "{name}");
        }
    }

    #[test]
    fn kv_heads_replicate_when_tp_exceeds_them() {
        let mut m = model_preset("llama-2-70b").unwrap();
        assert_eq!(m.kv_bytes_per_token_tp(8), m.kv_bytes_per_token());
        m.kv_heads = 4;
        assert_eq!(m.kv_bytes_per_token_tp(8), 2.0 * m.kv_bytes_per_token());
    }

    #[test]
    fn compression_scales_weights_and_flops_not_kv() {
        let mut m = model_preset("gpt3-175b").unwrap();
        let kv = m.kv_bytes_per_token();
        m.compression = 0.5;
        assert_eq!(m.weight_bytes(), 175e9);
        assert_eq!(m.gemm_flops_per_token(), 175e9);
        assert_eq!(m.kv_bytes_per_token(), kv);
        m.weight_bytes = Some(2.61e11);
        assert_eq!(m.weight_bytes(), 2.61e11);
        assert_eq!(m.gemm_flops_per_token(), 175e9);
    }

    #[test]
    fn every_listed_preset_resolves() {
        for name in MODEL_PRESETS {
            let m = model_preset(name).unwrap();
            assert_eq!(m.hidden % m.heads, 0, "{name}");
        }
    }
}
