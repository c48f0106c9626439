//! Confidence intervals over independent replications (Student t), never from autocorrelated
//! samples within one run.

use serde_json::{Map, Value};
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

/// Averages JSON documents of identical shape leaf by leaf.
///
/// Returns (means, half-widths): numbers become their mean over the documents; the half-width
/// document mirrors the same structure with 95% half-widths (null with one document). Non-number
/// leaves are taken from the first document and left out of the half-widths.
pub fn aggregate(docs: &[Value]) -> (Value, Value) {
    match docs.first() {
        None => (Value::Null, Value::Null),
        Some(Value::Object(first)) => {
            let mut means = Map::new();
            let mut cis = Map::new();
            for key in first.keys() {
                let children: Vec<Value> = docs
                    .iter()
                    .map(|d| d.get(key).cloned().unwrap_or(Value::Null))
                    .collect();
                let (m, c) = aggregate(&children);
                means.insert(key.clone(), m);
                if !c.is_null() || children[0].is_number() {
                    cis.insert(key.clone(), c);
                }
            }
            (Value::Object(means), Value::Object(cis))
        }
        Some(Value::Number(_)) => {
            let xs: Vec<f64> = docs.iter().filter_map(Value::as_f64).collect();
            let (m, ci) = mean_ci95(&xs);
            (num(m), ci.map(num).unwrap_or(Value::Null))
        }
        Some(other) => (other.clone(), Value::Null),
    }
}

fn num(x: f64) -> Value {
    serde_json::Number::from_f64(x)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// Flattens a JSON object into (dotted key, leaf) pairs in document order, for CSV rows.
pub fn flatten(doc: &Value) -> Vec<(String, Value)> {
    fn walk(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, child, out);
                }
            }
            leaf => out.push((prefix.to_string(), leaf.clone())),
        }
    }
    let mut out = Vec::new();
    walk("", doc, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn t_quantiles_match_tables() {
        assert!((t_975(9) - 2.262).abs() < 1e-3);
        assert!((t_975(1) - 12.706).abs() < 1e-3);
    }

    #[test]
    fn aggregate_mirrors_structure() {
        let docs = [
            json!({"a": {"b": 1.0}, "s": "x"}),
            json!({"a": {"b": 3.0}, "s": "x"}),
        ];
        let (m, c) = aggregate(&docs);
        assert_eq!(m, json!({"a": {"b": 2.0}, "s": "x"}));
        let hw = c["a"]["b"].as_f64().unwrap();
        assert!((hw - 12.706 * 1.0).abs() < 1e-2, "{hw}");
        assert!(c.get("s").is_none());
    }
}
