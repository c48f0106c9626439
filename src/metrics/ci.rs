//! Confidence intervals over independent replications (Student t), never from autocorrelated
//! samples within one run, and the [`Replicated`] trait that averages a replication's typed
//! metrics into their means and 95% half-widths.

use std::collections::BTreeMap;

use statrs::distribution::{ContinuousCDF, StudentsT};

/// Mean and 95% half-width of `xs` (half-width `None` with fewer than 2 values).
pub fn mean_ci95(xs: &[f64]) -> (f64, Option<f64>) {
    let n = xs.len();
    if n == 0 {
        return (0.0, None);
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, None);
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let t = t_975(n - 1);
    (mean, Some(t * (var / n as f64).sqrt()))
}

/// The 97.5% quantile of Student's t with `df` degrees of freedom.
pub fn t_975(df: usize) -> f64 {
    StudentsT::new(0.0, 1.0, df as f64)
        .map(|t| t.inverse_cdf(0.975))
        .unwrap_or(f64::NAN)
}

/// A figure measured once per replication that averages over replications, field by field.
///
/// `Mean` has the figure's shape with every number a mean (counts become fractional);
/// `HalfWidth` has the same shape with the 95% half-widths (`None` with one replication).
/// Optional parts and map entries are averaged over the replications that have them, and
/// exist when the first replication has them.
pub trait Replicated {
    /// The means over replications.
    type Mean;
    /// The 95% half-widths over replications.
    type HalfWidth;
    /// Means and half-widths of `reps` (replications in order).
    fn mean_ci(reps: &[&Self]) -> (Self::Mean, Self::HalfWidth);
}

impl Replicated for f64 {
    type Mean = f64;
    type HalfWidth = Option<f64>;
    fn mean_ci(reps: &[&f64]) -> (f64, Option<f64>) {
        let xs: Vec<f64> = reps.iter().map(|x| **x).collect();
        mean_ci95(&xs)
    }
}

impl Replicated for u64 {
    type Mean = f64;
    type HalfWidth = Option<f64>;
    fn mean_ci(reps: &[&u64]) -> (f64, Option<f64>) {
        let xs: Vec<f64> = reps.iter().map(|x| **x as f64).collect();
        mean_ci95(&xs)
    }
}

impl<T: Replicated> Replicated for Option<T> {
    type Mean = Option<T::Mean>;
    type HalfWidth = Option<T::HalfWidth>;
    fn mean_ci(reps: &[&Option<T>]) -> (Self::Mean, Self::HalfWidth) {
        if !matches!(reps.first(), Some(Some(_))) {
            return (None, None);
        }
        let present: Vec<&T> = reps.iter().filter_map(|r| r.as_ref()).collect();
        let (m, h) = T::mean_ci(&present);
        (Some(m), Some(h))
    }
}

impl<T: Replicated> Replicated for BTreeMap<String, T> {
    type Mean = BTreeMap<String, T::Mean>;
    type HalfWidth = BTreeMap<String, T::HalfWidth>;
    fn mean_ci(reps: &[&Self]) -> (Self::Mean, Self::HalfWidth) {
        let mut means = BTreeMap::new();
        let mut half_widths = BTreeMap::new();
        for key in reps.first().map(|m| m.keys()).into_iter().flatten() {
            let present: Vec<&T> = reps.iter().filter_map(|r| r.get(key)).collect();
            let (m, h) = T::mean_ci(&present);
            means.insert(key.clone(), m);
            half_widths.insert(key.clone(), h);
        }
        (means, half_widths)
    }
}

/// Implements [`Replicated`] for a struct whose fields all do, field by field.
///
/// `floats Type => HalfWidths { a, b }`: every field is `f64`; the means are `Type` itself
/// and `HalfWidths` (defined here) holds `Option<f64>` per field.
/// `nested Type => Means, HalfWidths { a: A, b: B }`: both structs are defined here, with
/// `A::Mean`, `A::HalfWidth` fields (field attributes such as `serde(skip_serializing_if)`
/// are copied to both). Either way a field left out of the list fails to compile.
macro_rules! replicated {
    (floats $name:ident => $hw:ident { $($field:ident),* $(,)? }) => {
        #[doc = concat!("95% half-widths of [`", stringify!($name), "`] over replications \
                         (null with one replication).")]
        #[derive(Clone, Debug, Default, serde::Serialize, PartialEq)]
        pub struct $hw {
            $(
                #[doc = concat!("Half-width of `", stringify!($field), "`.")]
                pub $field: Option<f64>,
            )*
        }
        impl $crate::metrics::ci::Replicated for $name {
            type Mean = $name;
            type HalfWidth = $hw;
            fn mean_ci(reps: &[&Self]) -> ($name, $hw) {
                let _every_field_listed = |s: &$name| {
                    let $name { $($field: _),* } = s;
                };
                let (mut mean, mut hw) = ($name::default(), $hw::default());
                $(
                    let xs: Vec<f64> = reps.iter().map(|r| r.$field).collect();
                    (mean.$field, hw.$field) = $crate::metrics::ci::mean_ci95(&xs);
                )*
                (mean, hw)
            }
        }
    };
    (nested $name:ident => $mean:ident, $hw:ident {
        $( $(#[$fattr:meta])* $field:ident : $ty:ty ),* $(,)?
    }) => {
        #[doc = concat!("Means of [`", stringify!($name), "`] over replications.")]
        #[derive(Clone, Debug, Default, serde::Serialize, PartialEq)]
        pub struct $mean {
            $(
                #[doc = concat!("Mean of `", stringify!($field), "`.")]
                $(#[$fattr])*
                pub $field: <$ty as $crate::metrics::ci::Replicated>::Mean,
            )*
        }
        #[doc = concat!("95% half-widths of [`", stringify!($name), "`] over replications \
                         (null with one replication).")]
        #[derive(Clone, Debug, Default, serde::Serialize, PartialEq)]
        pub struct $hw {
            $(
                #[doc = concat!("Half-width of `", stringify!($field), "`.")]
                $(#[$fattr])*
                pub $field: <$ty as $crate::metrics::ci::Replicated>::HalfWidth,
            )*
        }
        impl $crate::metrics::ci::Replicated for $name {
            type Mean = $mean;
            type HalfWidth = $hw;
            fn mean_ci(reps: &[&Self]) -> ($mean, $hw) {
                let _every_field_listed = |s: &$name| {
                    let $name { $($field: _),* } = s;
                };
                $(
                    let fields: Vec<&$ty> = reps.iter().map(|r| &r.$field).collect();
                    let $field = <$ty as $crate::metrics::ci::Replicated>::mean_ci(&fields);
                )*
                (
                    $mean { $($field: $field.0),* },
                    $hw { $($field: $field.1),* },
                )
            }
        }
    };
}

pub(crate) use replicated;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_tables() {
        assert!((t_975(9) - 2.262).abs() < 1e-3);
        assert!((t_975(1) - 12.706).abs() < 1e-3);
    }

    #[test]
    fn options_and_maps_average_over_the_replications_that_have_them() {
        let (m, h) = <Option<f64>>::mean_ci(&[&Some(1.0), &None, &Some(3.0)]);
        assert_eq!(m, Some(2.0));
        let hw = h.flatten().unwrap();
        assert!((hw - 12.706).abs() < 1e-2, "{hw}");
        assert_eq!(<Option<f64>>::mean_ci(&[&None, &Some(3.0)]), (None, None));
        let a = BTreeMap::from([("x".to_string(), 2u64)]);
        let b = BTreeMap::from([("x".to_string(), 5u64), ("y".to_string(), 1)]);
        let (m, h) = <BTreeMap<String, u64>>::mean_ci(&[&a, &b]);
        assert_eq!(m, BTreeMap::from([("x".to_string(), 3.5)]));
        assert!(h["x"].is_some());
        let (m, h) = f64::mean_ci(&[&4.0]);
        assert_eq!((m, h), (4.0, None));
    }
}
