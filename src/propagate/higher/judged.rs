//! The statistics the pilot judges a carried output by (`--pilot-statistics`): of the three it
//! computes — the squared error of the output mean, of the covariance (Frobenius) and the
//! Gaussian KL from the draws ([`super::pilot`]) — those whose z above
//! [`PILOT_Z`](super::pilot::PILOT_Z) abandon the carried output. Every z is computed and
//! reported whichever are judged.
//!
//! Why a choice: the three can disagree. On ARC's tanh network of width 64 and 4 hidden layers
//! the order-4 carry's covariance is better than the Gaussian closure's (z −5.7; relative
//! Frobenius error 0.028 against 0.049) while its KL is worse (z 4.3): the KL weighs the
//! covariance's small directions, which the Frobenius error hardly sees (EXPERIMENTS.md,
//! "Against ARC's peer on AMD Zen 4, sixtieth session"). All three are judged by default, so
//! that no figure `analyze` reports (accuracy, covariance error, KL) is made worse by the
//! carry; a user who reads only the mean and covariance (ARC's benchmark does) judges by
//! those and keeps a carry whose KL alone is worse.

use clap::ValueEnum;
use serde::{Serialize, Serializer};

/// One of the pilot's statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Statistic {
    /// The output mean's squared error (÷ tr C₂).
    Mean,
    /// The output covariance's squared Frobenius error (÷ ‖C₂‖²_F).
    Covariance,
    /// The Gaussian KL(draws ‖ prediction).
    Kl,
}

impl Statistic {
    /// In the pilot's order \[mean, covariance, KL\].
    pub const ALL: [Statistic; 3] = [Statistic::Mean, Statistic::Covariance, Statistic::Kl];

    /// The name a user reads ("mean", "covariance", "KL").
    pub fn name(self) -> &'static str {
        match self {
            Statistic::Mean => "mean",
            Statistic::Covariance => "covariance",
            Statistic::Kl => "KL",
        }
    }
}

/// Which of the three statistics ([`Statistic::ALL`]'s order) decide a pilot's verdict: at
/// least one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JudgedBy([bool; 3]);

impl Default for JudgedBy {
    fn default() -> Self {
        JudgedBy::ALL
    }
}

impl JudgedBy {
    /// Mean, covariance and KL.
    pub const ALL: JudgedBy = JudgedBy([true; 3]);

    /// The set of `statistics` (None where it is empty: nothing would be judged).
    pub fn of(statistics: &[Statistic]) -> Option<JudgedBy> {
        let judged = Statistic::ALL.map(|s| statistics.contains(&s));
        judged.contains(&true).then_some(JudgedBy(judged))
    }

    /// Parses `--pilot-statistics`: names from `mean`, `covariance`, `kl`, separated by
    /// commas (case and surrounding blanks ignored), at least one.
    pub fn parse(text: &str) -> Result<JudgedBy, String> {
        let expected = "expected a comma-separated list of mean, covariance, kl (at least one)";
        let statistics = text
            .split(',')
            .map(|s| {
                Statistic::from_str(s.trim(), true)
                    .map_err(|_| format!("{:?} is not a statistic: {expected}", s.trim()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        JudgedBy::of(&statistics).ok_or_else(|| expected.to_string())
    }

    /// The set as `--pilot-statistics` takes it: "mean,covariance".
    pub fn flag_value(self) -> String {
        let names: Vec<String> = self.statistics().map(|s| s.name().to_lowercase()).collect();
        names.join(",")
    }

    /// Whether statistic i (\[mean, covariance, KL\]) is judged.
    pub fn judges(self, i: usize) -> bool {
        self.0[i]
    }

    /// Whether any judged statistic's z exceeds `limit`.
    pub fn any_above(self, z: [f64; 3], limit: f64) -> bool {
        (0..3).any(|i| self.0[i] && z[i] > limit)
    }

    /// The judged statistics' names joined for a sentence: "mean, covariance and KL".
    pub fn names(self) -> String {
        let names: Vec<&str> = self.statistics().map(Statistic::name).collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => names.concat(),
        }
    }

    /// "" where all three are judged, else "; judged by the mean and covariance only
    /// (--pilot-statistics): the KL z reported, not judged", for a reason.
    pub fn clause(self) -> String {
        if self == JudgedBy::ALL {
            return String::new();
        }
        let left: Vec<&str> = Statistic::ALL
            .into_iter()
            .filter(|&s| !self.0[s as usize])
            .map(Statistic::name)
            .collect();
        format!(
            "; judged by the {} only (--pilot-statistics): the {} z reported, not judged",
            self.names(),
            left.join(" and ")
        )
    }

    fn statistics(self) -> impl Iterator<Item = Statistic> {
        Statistic::ALL
            .into_iter()
            .filter(move |&s| self.0[s as usize])
    }
}

/// JSON: the judged statistics' names, e.g. `["mean", "covariance"]`.
impl Serialize for JudgedBy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.statistics().map(Statistic::name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_judged_statistics_decide() {
        let z = [0.5, -6.0, 4.3];
        assert!(JudgedBy::ALL.any_above(z, 3.0));
        let mean_cov = JudgedBy::of(&[Statistic::Mean, Statistic::Covariance]).unwrap();
        assert!(!mean_cov.any_above(z, 3.0));
        assert!(JudgedBy::of(&[Statistic::Kl]).unwrap().any_above(z, 3.0));
        assert_eq!(JudgedBy::of(&[]), None);
        assert_eq!(mean_cov.names(), "mean and covariance");
        assert_eq!(JudgedBy::ALL.names(), "mean, covariance and KL");
        assert_eq!(JudgedBy::of(&[Statistic::Kl]).unwrap().names(), "KL");
        assert_eq!(JudgedBy::ALL.clause(), "");
        assert!(mean_cov.clause().contains("the KL z reported, not judged"));
        assert_eq!(
            serde_json::to_string(&mean_cov).unwrap(),
            r#"["mean","covariance"]"#
        );
    }

    #[test]
    fn the_flag_parses_a_list_and_refuses_anything_else() {
        let mean_cov = JudgedBy::of(&[Statistic::Mean, Statistic::Covariance]).unwrap();
        assert_eq!(JudgedBy::parse("mean,covariance"), Ok(mean_cov));
        assert_eq!(JudgedBy::parse(" Covariance , MEAN,mean"), Ok(mean_cov));
        assert_eq!(JudgedBy::parse("kl,mean,covariance"), Ok(JudgedBy::ALL));
        assert_eq!(mean_cov.flag_value(), "mean,covariance");
        assert_eq!(
            JudgedBy::parse(&JudgedBy::ALL.flag_value()),
            Ok(JudgedBy::ALL)
        );
        for bad in ["", ",", "mean,", "cov", "mean;kl", "variance"] {
            let e = JudgedBy::parse(bad).unwrap_err();
            assert!(e.contains("mean, covariance, kl"), "{bad:?}: {e}");
        }
    }
}
