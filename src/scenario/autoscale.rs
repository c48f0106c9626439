//! The `[autoscale]` section: the settings of the fleet's autoscaler
//! (`fleet::autoscale::Autoscaler`), validated here.

use serde::{Deserialize, Serialize};

use super::check::Check;
use super::raw::RawAutoscale;
use super::{ScenarioError, ServerKind, ServersSpec, limits};

/// Autoscaling settings. Load = in-flight sequences per active replica over
/// `sequences_per_replica`; the fleet is resized to `ceil(active x load / target_utilization)`
/// every `interval_s` (the Kubernetes HPA rule), within `[min_servers, max_servers]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoscaleSpec {
    /// Fewest active servers.
    pub min_servers: u32,
    /// Most servers.
    pub max_servers: u32,
    /// Load the fleet is sized for.
    pub target_utilization: f64,
    /// In-flight sequences per replica that count as full load.
    pub sequences_per_replica: f64,
    /// Seconds from ordering a server to it serving.
    pub scale_out_delay_s: f64,
    /// Seconds after any scaling before a scale-in.
    pub scale_in_cooldown_s: f64,
    /// Seconds between evaluations.
    pub interval_s: f64,
}

impl AutoscaleSpec {
    /// The autoscaler's own settings.
    pub fn config(&self) -> AutoscalerConfig {
        AutoscalerConfig {
            min_servers: self.min_servers,
            max_servers: self.max_servers,
            target_utilization: self.target_utilization,
            scale_out_delay_s: self.scale_out_delay_s,
            scale_in_cooldown_s: self.scale_in_cooldown_s,
            interval_s: self.interval_s,
        }
    }
}

/// Settings of the fleet's autoscaler (`fleet::autoscale::Autoscaler`).
#[derive(Clone, Debug, PartialEq)]
pub struct AutoscalerConfig {
    /// Fewest active servers; at least 1 (utilisation of zero servers says nothing).
    pub min_servers: u32,
    /// Most servers, active plus provisioning.
    pub max_servers: u32,
    /// Utilisation the fleet is sized for, in (0, 1].
    pub target_utilization: f64,
    /// Time from ordering a server to it serving, seconds.
    pub scale_out_delay_s: f64,
    /// A scale-in happens only if the last scaling action (out or in) was at least this long
    /// ago, seconds.
    pub scale_in_cooldown_s: f64,
    /// Time between evaluations, seconds; observations in between only finish provisioning.
    pub interval_s: f64,
}

impl AutoscalerConfig {
    /// Whether an autoscaler can run with these settings; the error says which to fix.
    pub fn check(&self) -> Result<(), String> {
        if self.min_servers == 0 {
            return Err("min_servers must be at least 1".into());
        }
        if self.max_servers < self.min_servers {
            return Err(format!(
                "max_servers ({}) must be >= min_servers ({})",
                self.max_servers, self.min_servers
            ));
        }
        if !(self.target_utilization > 0.0 && self.target_utilization <= 1.0) {
            return Err(format!(
                "target_utilization must be in (0, 1], got {}",
                self.target_utilization
            ));
        }
        for (name, v) in [
            ("scale_out_delay_s", self.scale_out_delay_s),
            ("scale_in_cooldown_s", self.scale_in_cooldown_s),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{name} must be finite and >= 0, got {v}"));
            }
        }
        if !(self.interval_s.is_finite() && self.interval_s > 0.0) {
            return Err(format!(
                "interval_s must be finite and > 0, got {}",
                self.interval_s
            ));
        }
        Ok(())
    }
}

/// Validates `[autoscale]` against the fleet it scales.
pub fn validate_autoscale(
    raw: Option<RawAutoscale>,
    servers: &ServersSpec,
    check: Check,
) -> Result<Option<AutoscaleSpec>, ScenarioError> {
    let Some(r) = raw else {
        return Ok(None);
    };
    if !matches!(servers.kind, ServerKind::Llm(_)) {
        return Err(check.invalid("autoscale", "autoscaling applies to kind = \"llm\" servers"));
    }
    let spec = AutoscaleSpec {
        min_servers: r.min_servers.unwrap_or(1),
        max_servers: r.max_servers.unwrap_or(servers.count),
        target_utilization: r.target_utilization.unwrap_or(0.7),
        sequences_per_replica: r.sequences_per_replica.unwrap_or(16.0),
        scale_out_delay_s: r.scale_out_delay_s.unwrap_or(300.0),
        scale_in_cooldown_s: r.scale_in_cooldown_s.unwrap_or(600.0),
        interval_s: r.interval_s.unwrap_or(60.0),
    };
    for (key, n) in [
        ("autoscale.min_servers", spec.min_servers),
        ("autoscale.max_servers", spec.max_servers),
    ] {
        if n > limits::MAX_SERVERS {
            return Err(check.invalid(
                key,
                format!("must be at most {}, got {n}", limits::MAX_SERVERS),
            ));
        }
    }
    // Every evaluation is an event: a tiny interval would be billions of them.
    if spec.interval_s.is_nan() || spec.interval_s < limits::MIN_AUTOSCALE_INTERVAL_S {
        return Err(check.invalid(
            "autoscale.interval_s",
            format!(
                "must be at least {} s, got {}",
                limits::MIN_AUTOSCALE_INTERVAL_S,
                spec.interval_s
            ),
        ));
    }
    check.positive(
        "autoscale.sequences_per_replica",
        spec.sequences_per_replica,
    )?;
    if servers.count < spec.min_servers || servers.count > spec.max_servers {
        return Err(check.invalid(
            "servers.count",
            format!(
                "the starting fleet ({}) must lie within autoscale.min_servers..=max_servers \
                 ({}..={})",
                servers.count, spec.min_servers, spec.max_servers
            ),
        ));
    }
    spec.config().check().map_err(check.at("autoscale"))?;
    Ok(Some(spec))
}
