//! `[servers] mode = "disaggregated"` (issue 17): separate prefill and decode pools and the
//! link that carries each request's KV cache between them.
//!
//! ```toml
//! [servers]
//! kind = "llm"
//! mode = "disaggregated"
//! hardware = "h100-80gb"      # keys here are the colocated fleet `plan` compares with,
//! tensor_parallel = 4         # and the defaults of both pools
//! [servers.prefill]
//! count = 2
//! [servers.decode]
//! count = 3
//! max_batch = 512
//! [servers.kv_transfer]
//! bandwidth_bytes_per_s = 50e9  # per prefill server (its NIC); transfers queue FIFO on it
//! latency_s = 0.0005            # per transfer, not occupying the link
//! overlap = false               # true: the KV streams layer by layer under the prefill
//! ```
//!
//! Each pool takes the `[servers]` keys (`count`, `hardware`, `gpus_per_server`,
//! `tensor_parallel`, `max_batch`, ...); a key a pool does not set is inherited from
//! `[servers]`. `servers.count` becomes the sum of the pools' counts (if given, it must equal
//! it). The decode pool keeps no prefix cache (its KV arrives over the link).

use super::check::Check;
pub use super::raw::{RawKvTransfer, ServersMode};
use super::raw::{RawServers, ServerKindName};
use super::servers::validate_llm_keys;
pub use super::servers::{DisaggSpec, KvTransferSpec, PoolSpec};
use super::{RequestSpec, ScenarioError};
use crate::timing::Model;

/// Default link bandwidth per prefill server, bytes/s: one 400 Gb/s NIC (InfiniBand NDR or
/// 400 GbE, RDMA), the per-GPU-pair figure DistServe and Mooncake assume.
pub const DEFAULT_KV_BANDWIDTH_BYTES_PER_S: f64 = 50e9;
/// Default fixed latency per transfer, seconds (an RDMA setup and completion round trip).
pub const DEFAULT_KV_LATENCY_S: f64 = 0.0005;

/// Before `servers.count` is checked: in disaggregated mode it is the pools' sum (and must
/// equal it if given). Errors name the key.
pub fn resolve_count(rs: &mut RawServers, check: Check) -> Result<(), ScenarioError> {
    if rs.mode != Some(ServersMode::Disaggregated) {
        for (key, present) in [
            ("servers.prefill", rs.prefill.is_some()),
            ("servers.decode", rs.decode.is_some()),
            ("servers.kv_transfer", rs.kv_transfer.is_some()),
        ] {
            if present {
                return Err(check.invalid(
                    key,
                    "only applies to mode = \"disaggregated\" (set servers.mode)",
                ));
            }
        }
        // A missing count reads as 0, which `servers.count`'s own check refuses.
        return Ok(());
    }
    let count = |p: &Option<Box<RawServers>>, key: &str| match p {
        Some(p) => Ok(p.count),
        None => Err(check.invalid(
            key,
            "missing: mode = \"disaggregated\" needs [servers.prefill] and [servers.decode], \
             each with a count",
        )),
    };
    let p = count(&rs.prefill, "servers.prefill")?;
    let d = count(&rs.decode, "servers.decode")?;
    for (key, n) in [("servers.prefill.count", p), ("servers.decode.count", d)] {
        if n == 0 || n > super::limits::MAX_SERVERS {
            return Err(check.invalid(
                key,
                format!(
                    "must be between 1 and {}, got {n}",
                    super::limits::MAX_SERVERS
                ),
            ));
        }
    }
    let sum = p.saturating_add(d);
    if rs.count != 0 && rs.count != sum {
        return Err(check.invalid(
            "servers.count",
            format!(
                "with mode = \"disaggregated\" it is the servers of both pools \
                 (servers.prefill.count + servers.decode.count = {sum}), got {}; leave it out",
                rs.count
            ),
        ));
    }
    rs.count = sum;
    Ok(())
}

/// A pool's raw keys with every key it leaves unset taken from `[servers]`.
fn inherit(pool: &RawServers, top: &RawServers) -> RawServers {
    RawServers {
        kind: Some(ServerKindName::Llm),
        count: pool.count,
        slots: pool.slots,
        service_time_s: pool.service_time_s.clone(),
        hardware: pool.hardware.clone().or_else(|| top.hardware.clone()),
        gpu: pool.gpu.clone().or_else(|| top.gpu.clone()),
        gpus_per_server: pool.gpus_per_server.or(top.gpus_per_server),
        tensor_parallel: pool.tensor_parallel.or(top.tensor_parallel),
        batching: pool.batching.or(top.batching),
        max_batch: pool.max_batch.or(top.max_batch),
        max_batch_tokens: pool.max_batch_tokens.or(top.max_batch_tokens),
        chunked_prefill: pool.chunked_prefill.or(top.chunked_prefill),
        mem_util: pool.mem_util.or(top.mem_util),
        activation_reserve_bytes: pool
            .activation_reserve_bytes
            .or(top.activation_reserve_bytes),
        compute_memory_overlap: pool.compute_memory_overlap.or(top.compute_memory_overlap),
        efficiency: pool.efficiency.clone().or_else(|| top.efficiency.clone()),
        stack: pool.stack.clone().or_else(|| top.stack.clone()),
        prefix_cache: pool.prefix_cache.or(top.prefix_cache),
        prefix_cache_fraction: pool.prefix_cache_fraction.or(top.prefix_cache_fraction),
        step_time_scale: pool.step_time_scale.or(top.step_time_scale),
        mode: None,
        prefill: None,
        decode: None,
        kv_transfer: None,
    }
}

/// Renames `servers.x` in an error to `servers.<pool>.x`.
fn in_pool(e: ScenarioError, pool: &str) -> ScenarioError {
    match e {
        ScenarioError::Invalid { file, key, message } => ScenarioError::Invalid {
            file,
            key: key.replacen("servers.", &format!("servers.{pool}."), 1),
            message,
        },
        other => other,
    }
}

/// Validates the disaggregated keys of `[servers]` (an `llm` fleet) into a [`DisaggSpec`];
/// `None` in colocated mode. Each pool must hold the model and fit the smallest request.
pub fn validate(
    rs: &RawServers,
    model: &Model,
    request: &RequestSpec,
    check: Check,
) -> Result<Option<DisaggSpec>, ScenarioError> {
    if rs.mode != Some(ServersMode::Disaggregated) {
        return Ok(None);
    }
    let mut pools = Vec::with_capacity(2);
    for (name, raw) in [("prefill", &rs.prefill), ("decode", &rs.decode)] {
        let raw = raw.as_deref().expect("resolve_count checked both pools");
        for (key, present) in [
            ("kind", raw.kind.is_some()),
            ("mode", raw.mode.is_some()),
            ("prefill", raw.prefill.is_some()),
            ("decode", raw.decode.is_some()),
            ("kv_transfer", raw.kv_transfer.is_some()),
        ] {
            if present {
                return Err(check.invalid(
                    &format!("servers.{name}.{key}"),
                    "set it in [servers], not in a pool",
                ));
            }
        }
        let merged = inherit(raw, rs);
        let mut spec = validate_llm_keys(&merged, model, check).map_err(|e| in_pool(e, name))?;
        if name == "decode" {
            // Its KV arrives over the link; there is no prompt to look up.
            spec.prefix_cache = false;
            spec.prefix_cache_fraction = 0.0;
        }
        let dep = spec
            .deployment(model)
            .map_err(|m| check.invalid(&format!("servers.{name}"), m))?;
        let tokens = |d: &super::DistSpec| d.min_value().round().max(1.0);
        let input = tokens(&request.input_tokens) + f64::from(request.system_prompt_tokens);
        let need = if name == "prefill" {
            input + 1.0
        } else {
            input + tokens(&request.output_tokens)
        };
        if need > dep.kv_capacity_tokens() as f64 {
            return Err(check.invalid(
                &format!("servers.{name}"),
                format!(
                    "the smallest request needs {need} KV tokens on a {name} replica, which \
                     holds {} with this model and GPU; use more tensor parallelism or a larger \
                     GPU",
                    dep.kv_capacity_tokens()
                ),
            ));
        }
        pools.push(PoolSpec {
            count: raw.count,
            spec,
        });
    }
    let decode = pools.pop().expect("two pools");
    let prefill = pools.pop().expect("two pools");
    let k = rs.kv_transfer.clone().unwrap_or_default();
    let bandwidth_bytes_per_s = k
        .bandwidth_bytes_per_s
        .unwrap_or(DEFAULT_KV_BANDWIDTH_BYTES_PER_S);
    if bandwidth_bytes_per_s.is_nan() || bandwidth_bytes_per_s <= 0.0 {
        return Err(check.invalid("servers.kv_transfer.bandwidth_bytes_per_s",
            format!(
                "must be a positive number of bytes per second (or inf), got {bandwidth_bytes_per_s}"
            ),
        ));
    }
    let latency_s = k.latency_s.unwrap_or(DEFAULT_KV_LATENCY_S);
    if !(latency_s.is_finite() && latency_s >= 0.0) {
        return Err(check.invalid(
            "servers.kv_transfer.latency_s",
            format!("must be zero or a positive number of seconds, got {latency_s}"),
        ));
    }
    Ok(Some(DisaggSpec {
        mode: ServersMode::Disaggregated,
        prefill,
        decode,
        kv_transfer: KvTransferSpec {
            bandwidth_bytes_per_s,
            latency_s,
            overlap: k.overlap.unwrap_or(false),
        },
    }))
}
