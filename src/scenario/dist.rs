//! Probability distributions as scenario files write them, and their validated samplers.
//!
//! One spec type serves service times (seconds), token counts and think times, so every
//! scenario key that takes "a number that varies" accepts the same inline tables.

use rand::Rng;
use rand_distr::weighted::WeightedAliasIndex;
use rand_distr::{Distribution, Exp, Gamma, LogNormal, Uniform};
use serde::{Deserialize, Serialize};

/// A distribution as written in a scenario file, e.g. `{ dist = "lognormal", mean = 1.0, cv = 2.0 }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dist", rename_all = "lowercase", deny_unknown_fields)]
pub enum DistSpec {
    /// Always `value`.
    Fixed {
        /// The constant.
        value: f64,
    },
    /// Exponential with the given mean (memoryless; cv = 1).
    Exponential {
        /// Mean.
        mean: f64,
    },
    /// Uniform on [low, high).
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// Log-normal parameterised by its mean and coefficient of variation.
    Lognormal {
        /// Mean.
        mean: f64,
        /// Coefficient of variation (std / mean).
        cv: f64,
    },
    /// Gamma parameterised by its mean and coefficient of variation.
    Gamma {
        /// Mean.
        mean: f64,
        /// Coefficient of variation (std / mean).
        cv: f64,
    },
    /// Draws one of `values`, with probabilities proportional to `weights` (equal if absent).
    Empirical {
        /// The possible values.
        values: Vec<f64>,
        /// Relative weights, one per value.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weights: Option<Vec<f64>>,
    },
}

/// What to write for a distribution; every distribution error ends with it.
pub const DIST_EXAMPLE: &str = "Write a number for a fixed value (input_tokens = 1500, or \
     --set request.input_tokens=1500) or a table: { dist = \"lognormal\", mean = 1155, cv = 0.8 }; \
     dist is one of fixed (value), exponential (mean), uniform (low, high), lognormal (mean, cv), \
     gamma (mean, cv), empirical (values, weights)";

/// Reads an optional distribution written either as a plain number (a fixed value, so that
/// `--set request.input_tokens=1500` works) or as a `{ dist = ... }` table. For `raw` fields:
/// `#[serde(default, deserialize_with = "...")]`. Errors end with [`DIST_EXAMPLE`].
pub fn number_or_table<'de, D>(deserializer: D) -> Result<Option<DistSpec>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::de::{self, MapAccess, Visitor};

    struct NumberOrTable;

    impl<'de> Visitor<'de> for NumberOrTable {
        type Value = Option<DistSpec>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "a distribution: {DIST_EXAMPLE}")
        }

        fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
            Ok(Some(DistSpec::Fixed { value }))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            self.visit_f64(v as f64)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            self.visit_f64(v as f64)
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            DistSpec::deserialize(de::value::MapAccessDeserializer::new(map))
                .map(Some)
                .map_err(|e| {
                    de::Error::custom(format!("{}\n{DIST_EXAMPLE}", e.to_string().trim_end()))
                })
        }
    }

    deserializer.deserialize_any(NumberOrTable)
}

/// A validated distribution, ready to sample.
#[derive(Clone, Debug)]
pub struct Dist {
    kind: Sampler,
    mean: f64,
    cv: f64,
}

#[derive(Clone, Debug)]
enum Sampler {
    Fixed(f64),
    Exponential(Exp<f64>),
    Uniform(Uniform<f64>),
    Lognormal(LogNormal<f64>),
    Gamma(Gamma<f64>),
    Empirical(Vec<f64>, WeightedAliasIndex<f64>),
}

fn finite_nonneg(name: &str, v: f64) -> Result<(), String> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(format!("`{name}` must be a finite number >= 0, got {v}"))
    }
}

fn positive(name: &str, v: f64) -> Result<(), String> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(format!("`{name}` must be a finite number > 0, got {v}"))
    }
}

impl DistSpec {
    /// Checks the parameters (all values must be >= 0: times and token counts are never
    /// negative) and builds the sampler; the error says which parameter is wrong and why.
    pub fn build(&self) -> Result<Dist, String> {
        self.build_sampler()
            .map_err(|e| format!("{e}; {DIST_EXAMPLE}"))
    }

    fn build_sampler(&self) -> Result<Dist, String> {
        let (kind, mean, cv) = match *self {
            DistSpec::Fixed { value } => {
                finite_nonneg("value", value)?;
                (Sampler::Fixed(value), value, 0.0)
            }
            DistSpec::Exponential { mean } => {
                positive("mean", mean)?;
                let d = Exp::new(1.0 / mean).map_err(|e| e.to_string())?;
                (Sampler::Exponential(d), mean, 1.0)
            }
            DistSpec::Uniform { low, high } => {
                finite_nonneg("low", low)?;
                finite_nonneg("high", high)?;
                if high <= low {
                    return Err(format!(
                        "`high` ({high}) must be greater than `low` ({low})"
                    ));
                }
                let d = Uniform::new(low, high).map_err(|e| e.to_string())?;
                let mean = (low + high) / 2.0;
                let sd = (high - low) / 12f64.sqrt();
                (Sampler::Uniform(d), mean, sd / mean)
            }
            DistSpec::Lognormal { mean, cv } => {
                positive("mean", mean)?;
                positive("cv", cv)?;
                let sigma2 = (1.0 + cv * cv).ln();
                let mu = mean.ln() - sigma2 / 2.0;
                let d = LogNormal::new(mu, sigma2.sqrt()).map_err(|e| e.to_string())?;
                (Sampler::Lognormal(d), mean, cv)
            }
            DistSpec::Gamma { mean, cv } => {
                positive("mean", mean)?;
                positive("cv", cv)?;
                let shape = 1.0 / (cv * cv);
                let d = Gamma::new(shape, mean / shape).map_err(|e| e.to_string())?;
                (Sampler::Gamma(d), mean, cv)
            }
            DistSpec::Empirical {
                ref values,
                ref weights,
            } => {
                if values.is_empty() {
                    return Err("`values` must hold at least one value".into());
                }
                for &v in values {
                    finite_nonneg("values", v)?;
                }
                let w = match weights {
                    Some(w) if w.len() != values.len() => {
                        return Err(format!(
                            "`weights` has {} entries but `values` has {}; give one weight per value",
                            w.len(),
                            values.len()
                        ));
                    }
                    Some(w) => {
                        for &x in w {
                            finite_nonneg("weights", x)?;
                        }
                        w.clone()
                    }
                    None => vec![1.0; values.len()],
                };
                let total: f64 = w.iter().sum();
                if total <= 0.0 {
                    return Err("`weights` must not all be zero".into());
                }
                let mean = values.iter().zip(&w).map(|(v, w)| v * w).sum::<f64>() / total;
                let var = values
                    .iter()
                    .zip(&w)
                    .map(|(v, w)| w * (v - mean).powi(2))
                    .sum::<f64>()
                    / total;
                let cv = if mean > 0.0 { var.sqrt() / mean } else { 0.0 };
                let alias = WeightedAliasIndex::new(w).map_err(|e| e.to_string())?;
                (Sampler::Empirical(values.clone(), alias), mean, cv)
            }
        };
        Ok(Dist { kind, mean, cv })
    }
}

impl DistSpec {
    /// The smallest value a draw can take (0 where the support starts at 0): a request
    /// whose smallest possible size cannot be served can be refused before running.
    pub fn min_value(&self) -> f64 {
        match self {
            DistSpec::Fixed { value } => *value,
            DistSpec::Uniform { low, .. } => *low,
            DistSpec::Empirical { values, weights } => values
                .iter()
                .enumerate()
                .filter(|(i, _)| {
                    weights
                        .as_ref()
                        .is_none_or(|w| w.get(*i).is_some_and(|&x| x > 0.0))
                })
                .map(|(_, &v)| v)
                .fold(f64::INFINITY, f64::min),
            DistSpec::Exponential { .. } | DistSpec::Lognormal { .. } | DistSpec::Gamma { .. } => {
                0.0
            }
        }
    }
}

impl Dist {
    /// Draws one value.
    #[inline]
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match &self.kind {
            Sampler::Fixed(v) => *v,
            Sampler::Exponential(d) => d.sample(rng),
            Sampler::Uniform(d) => d.sample(rng),
            Sampler::Lognormal(d) => d.sample(rng),
            Sampler::Gamma(d) => d.sample(rng),
            Sampler::Empirical(values, alias) => values[alias.sample(rng)],
        }
    }

    /// The distribution's mean (exact, from its parameters).
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// The distribution's coefficient of variation (exact, from its parameters).
    pub fn cv(&self) -> f64 {
        self.cv
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::{Purpose, stream};

    fn sample_moments(spec: DistSpec) -> (f64, f64, f64, f64) {
        let d = spec.build().unwrap();
        let mut rng = stream(3, Purpose::Service);
        let n = 400_000;
        let xs: Vec<f64> = (0..n).map(|_| d.sample(&mut rng)).collect();
        let m = xs.iter().sum::<f64>() / n as f64;
        let sd = (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n as f64).sqrt();
        (m, sd / m, d.mean(), d.cv())
    }

    #[test]
    fn sampled_moments_match_the_parameters() {
        for spec in [
            DistSpec::Exponential { mean: 2.0 },
            DistSpec::Uniform {
                low: 0.0,
                high: 2.0,
            },
            DistSpec::Lognormal { mean: 1.0, cv: 0.5 },
            DistSpec::Gamma { mean: 3.0, cv: 0.5 },
            DistSpec::Empirical {
                values: vec![1.0, 3.0],
                weights: Some(vec![3.0, 1.0]),
            },
        ] {
            let (m, cv, want_m, want_cv) = sample_moments(spec.clone());
            assert!(
                (m / want_m - 1.0).abs() < 0.01,
                "{spec:?}: mean {m} vs {want_m}"
            );
            assert!(
                (cv - want_cv).abs() < 0.02,
                "{spec:?}: cv {cv} vs {want_cv}"
            );
        }
    }

    #[derive(Debug, Deserialize)]
    struct Holder {
        #[serde(default, deserialize_with = "number_or_table")]
        d: Option<DistSpec>,
    }

    #[test]
    fn a_plain_number_is_a_fixed_value() {
        let h: Holder = toml::from_str("d = 1500").unwrap();
        assert_eq!(h.d, Some(DistSpec::Fixed { value: 1500.0 }));
        let h: Holder = toml::from_str("d = 0.25").unwrap();
        assert_eq!(h.d, Some(DistSpec::Fixed { value: 0.25 }));
        let h: Holder = toml::from_str("d = { dist = \"gamma\", mean = 2.0, cv = 0.5 }").unwrap();
        assert_eq!(h.d, Some(DistSpec::Gamma { mean: 2.0, cv: 0.5 }));
        let h: Holder = toml::from_str("").unwrap();
        assert_eq!(h.d, None);
        // The resolved (tagged) form of a fixed value still reads back.
        let back = toml::to_string(&Holder2 {
            d: DistSpec::Fixed { value: 7.0 },
        })
        .unwrap();
        let h: Holder = toml::from_str(&back).unwrap();
        assert_eq!(h.d, Some(DistSpec::Fixed { value: 7.0 }));
    }

    #[derive(Serialize)]
    struct Holder2 {
        d: DistSpec,
    }

    #[test]
    fn distribution_errors_show_an_example() {
        for text in [
            "d = \"many\"",
            "d = { dist = \"lognormal\", mean = 1.0 }",
            "d = { dist = \"zipf\", s = 1.0 }",
        ] {
            let e = toml::from_str::<Holder>(text).unwrap_err().to_string();
            assert!(
                e.contains("dist = \"lognormal\", mean = 1155"),
                "{text}: {e}"
            );
        }
        let e = DistSpec::Gamma {
            mean: -1.0,
            cv: 1.0,
        }
        .build()
        .unwrap_err();
        assert!(
            e.contains("`mean`") && e.contains("input_tokens = 1500"),
            "{e}"
        );
    }

    #[test]
    fn bad_parameters_say_what_is_wrong() {
        let e = DistSpec::Exponential { mean: 0.0 }.build().unwrap_err();
        assert!(e.contains("`mean` must be a finite number > 0"), "{e}");
        let e = DistSpec::Empirical {
            values: vec![1.0],
            weights: Some(vec![1.0, 2.0]),
        }
        .build()
        .unwrap_err();
        assert!(e.contains("one weight per value"), "{e}");
        let e = DistSpec::Uniform {
            low: 2.0,
            high: 1.0,
        }
        .build()
        .unwrap_err();
        assert!(e.contains("greater than"), "{e}");
    }
}
