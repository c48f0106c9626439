//! Closed-form queueing results the engine is checked against (inference-model.md §5).

/// Erlang C: the probability that an arrival waits in an M/M/c queue with offered load
/// `a` = λ/μ erlangs, via the numerically stable Erlang B recursion.
pub fn erlang_c(c: u32, a: f64) -> f64 {
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (f64::from(k) + a * b);
    }
    let c = f64::from(c);
    c * b / (c - a * (1.0 - b))
}

/// Mean wait in queue of M/M/c with arrival rate `lambda` and service rate `mu` per server.
pub fn mmc_mean_wait_s(c: u32, lambda: f64, mu: f64) -> f64 {
    erlang_c(c, lambda / mu) / (f64::from(c) * mu - lambda)
}

/// Pollaczek-Khinchine mean wait of M/G/1: ρ·E\[S\]·(1 + cv²) / (2(1 − ρ)).
pub fn mg1_mean_wait_s(lambda: f64, mean_service_s: f64, service_cv: f64) -> f64 {
    let rho = lambda * mean_service_s;
    rho * mean_service_s * (1.0 + service_cv * service_cv) / (2.0 * (1.0 - rho))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_textbook_values() {
        // M/M/1: C = rho, Wq = rho / (mu - lambda).
        assert!((erlang_c(1, 0.5) - 0.5).abs() < 1e-12);
        assert!((mmc_mean_wait_s(1, 0.9, 1.0) - 9.0).abs() < 1e-9);
        // M/M/8 at rho 0.9 (reference §5 quotes Wq 0.877 and P(wait) 0.7015 from a DES).
        let c = erlang_c(8, 7.2);
        assert!((c - 0.7015).abs() < 1e-3, "{c}");
        // M/D/1 at rho 0.8: rho / (2 mu (1 - rho)) = 2.0.
        assert!((mg1_mean_wait_s(0.8, 1.0, 0.0) - 2.0).abs() < 1e-12);
    }
}
