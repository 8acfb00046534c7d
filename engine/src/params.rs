//! Scoring parameters: variants (decay rates), windows, top N, as validated
//! values the engine can use without further checks.

use crate::error::EngineError;
use crate::window::WindowLadder;

/// Nanoseconds per second.
pub const NANOS_PER_SEC: i64 = 1_000_000_000;
/// Seconds per day.
pub const SECS_PER_DAY: f64 = 86_400.0;

/// One scoring variant: a name and its exponential decay rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// The variant's name, used in outputs (`default` for the single-variant flags).
    pub name: String,
    /// Decay rate λ in 1/second: a purchase of age `a` seconds weighs `exp(-λ·a)`.
    pub lambda_per_sec: f64,
}

impl Variant {
    /// A variant from a half-life in seconds (`λ = ln 2 / h`).
    pub fn from_half_life(
        name: impl Into<String>,
        half_life_secs: f64,
    ) -> Result<Self, EngineError> {
        if !(half_life_secs.is_finite() && half_life_secs > 0.0) {
            return Err(EngineError::InvalidParameter {
                name: "half-life",
                reason: format!("must be a positive duration, got {half_life_secs} s"),
            });
        }
        Ok(Self {
            name: name.into(),
            lambda_per_sec: std::f64::consts::LN_2 / half_life_secs,
        })
    }

    /// A variant from a decay rate per day.
    pub fn from_lambda_per_day(
        name: impl Into<String>,
        lambda_per_day: f64,
    ) -> Result<Self, EngineError> {
        if !(lambda_per_day.is_finite() && lambda_per_day >= 0.0) {
            return Err(EngineError::InvalidParameter {
                name: "lambda",
                reason: format!("must be a finite rate >= 0 per day, got {lambda_per_day}"),
            });
        }
        Ok(Self {
            name: name.into(),
            lambda_per_sec: lambda_per_day / SECS_PER_DAY,
        })
    }

    /// The half-life in seconds (infinite for λ = 0).
    pub fn half_life_secs(&self) -> f64 {
        std::f64::consts::LN_2 / self.lambda_per_sec
    }
}

/// Everything that defines a run's scores, validated.
#[derive(Debug, Clone)]
pub struct ScoringPlan {
    /// Reference time in nanoseconds since the Unix epoch.
    pub as_of_ns: i64,
    /// The variants, in output order.
    pub variants: Vec<Variant>,
    /// The candidate windows.
    pub windows: WindowLadder,
    /// Distinct items needed under a window for it to be chosen.
    pub min_items: usize,
    /// How many items to keep per (variant, category).
    pub top: usize,
}

impl ScoringPlan {
    /// Validates and builds a plan.
    ///
    /// `window_ns` is the base window W, `max_window_ns` the cap W_max;
    /// `min_items` defaults to `top` when `None`.
    pub fn new(
        as_of_ns: i64,
        variants: Vec<Variant>,
        window_ns: i64,
        max_window_ns: i64,
        min_items: Option<usize>,
        top: usize,
    ) -> Result<Self, EngineError> {
        if variants.is_empty() {
            return Err(EngineError::InvalidParameter {
                name: "variant",
                reason: "at least one variant is needed".into(),
            });
        }
        for (i, v) in variants.iter().enumerate() {
            if variants[..i].iter().any(|w| w.name == v.name) {
                return Err(EngineError::DuplicateVariant(v.name.clone()));
            }
            if v.name.is_empty() {
                return Err(EngineError::InvalidParameter {
                    name: "variant",
                    reason: "a variant name must not be empty".into(),
                });
            }
        }
        if top == 0 {
            return Err(EngineError::InvalidParameter {
                name: "--top",
                reason: "must be at least 1".into(),
            });
        }
        let min_items = min_items.unwrap_or(top);
        if min_items == 0 {
            return Err(EngineError::InvalidParameter {
                name: "--min-items",
                reason: "must be at least 1".into(),
            });
        }
        let windows = WindowLadder::new(window_ns, max_window_ns)?;
        Ok(Self {
            as_of_ns,
            variants,
            windows,
            min_items,
            top,
        })
    }

    /// Number of accumulator cells per item: one per (variant, window bucket).
    pub fn cells_per_item(&self) -> usize {
        self.variants.len() * self.windows.len()
    }

    /// The decay rates, in variant order.
    pub fn lambdas(&self) -> Vec<f64> {
        self.variants.iter().map(|v| v.lambda_per_sec).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400 * NANOS_PER_SEC;

    #[test]
    fn half_life_and_lambda_agree() {
        let a = Variant::from_half_life("a", 7.0 * 86_400.0).unwrap();
        let b = Variant::from_lambda_per_day("b", std::f64::consts::LN_2 / 7.0).unwrap();
        assert!((a.lambda_per_sec - b.lambda_per_sec).abs() < 1e-20);
        assert!((a.half_life_secs() - 7.0 * 86_400.0).abs() < 1e-6);
    }

    #[test]
    fn rejects_bad_values() {
        assert!(Variant::from_half_life("a", 0.0).is_err());
        assert!(Variant::from_half_life("a", f64::NAN).is_err());
        assert!(Variant::from_lambda_per_day("a", -1.0).is_err());
        let v = vec![Variant::from_half_life("a", 1.0).unwrap()];
        assert!(ScoringPlan::new(0, v.clone(), DAY, 2 * DAY, None, 0).is_err());
        assert!(ScoringPlan::new(0, v.clone(), DAY, 2 * DAY, Some(0), 5).is_err());
        assert!(ScoringPlan::new(0, vec![], DAY, 2 * DAY, None, 5).is_err());
        let twice = vec![v[0].clone(), v[0].clone()];
        assert_eq!(
            ScoringPlan::new(0, twice, DAY, 2 * DAY, None, 5).unwrap_err(),
            EngineError::DuplicateVariant("a".into())
        );
        let plan = ScoringPlan::new(0, v, DAY, 2 * DAY, None, 5).unwrap();
        assert_eq!(plan.min_items, 5);
    }
}
