//! The counts the docs claim for the benchmark (`docs/contributors/benchmark.md`): with
//! `--check` a count that differs fails the run. CI runs it on a small backlog, so that neither
//! the benchmark nor the claims can break unseen.

/// A claim measured against what the docs say.
#[derive(Default)]
pub struct Claims {
    differ: Vec<String>,
}

impl Claims {
    pub fn count(&mut self, what: &str, measured: f64, claimed: f64) {
        if (measured - claimed).abs() > 1e-9 {
            self.differ.push(format!(
                "{what}: measured {measured:.3}, the docs claim {claimed:.2}"
            ));
        }
    }

    /// Prints the claims that differ; with `check`, exits non-zero when there is one.
    pub fn finish(self, check: bool) {
        if self.differ.is_empty() {
            println!("\nevery count is the one the docs claim");
            return;
        }
        eprintln!("\ncounts that differ from docs/contributors/benchmark.md:");
        for d in &self.differ {
            eprintln!("  {d}");
        }
        if check {
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Claims;

    #[test]
    fn a_count_differs_only_when_it_is_not_the_claimed_one() {
        let mut claims = Claims::default();
        claims.count("reconciles", 40.0 / 40.0, 1.0);
        claims.count("writes", 0.0, 0.0);
        assert!(claims.differ.is_empty());
        claims.count("Keycloak requests", 121.0 / 40.0, 3.0);
        assert_eq!(
            claims.differ,
            ["Keycloak requests: measured 3.025, the docs claim 3.00"]
        );
    }
}
