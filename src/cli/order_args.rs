//! `--order 2|3|4`: the order of the closure's density expansion at the first nonlinearity after
//! the start layer (`propagate`, `analyze`), with `--corrections` kept as its old spelling.

use clap::{Args, ValueEnum};

use corrflow::config::defaults;
use corrflow::measure::{CarryMode, CarrySettings, PilotMode};
use corrflow::propagate::closures::Corrections;
use corrflow::propagate::higher::pilot::JudgedBy;

#[derive(Clone, Copy, Debug, Args)]
pub struct OrderArgs {
    /// Cumulant order of the closure at the first nonlinearity after the start layer: 2 =
    /// Gaussian, 3 = + the measured κ₃ of that pre-activation, 4 = + κ₃ and κ₄ (Gram–Charlier
    /// expansion; units or pairs where it breaks down stay Gaussian and are counted).
    #[arg(long, default_value_t = defaults::ORDER, value_name = "2|3|4",
          value_parser = clap::value_parser!(u8).range(2..=4))]
    pub order: u8,
    /// Old spelling of --order: `none` = --order 2, `k3k4` = --order 4.
    #[arg(long, value_enum, value_name = "none|k3k4", conflicts_with = "order")]
    pub corrections: Option<LegacyCorrections>,
    /// Where --order 3|4 applies: `first` = the first nonlinearity after the start layer, from
    /// its measured κ slices; `depth` = every later layer, the full κ₃ (κ₄) tensors measured
    /// at the first pre-activation and carried (memory N³ / N⁴ per class: order 4 up to width
    /// 143, order 3 up to 580). A class whose carried output covariance is not positive
    /// semidefinite (an eigenvalue below −1e-10·trace: the expansion broke down) falls back:
    /// carried up to the first indefinite z, the Gaussian closure from there on, said per class
    /// and in the "fell back to" warning.
    #[arg(long, value_enum, default_value_t = CarryMode::First)]
    pub carry: CarryMode,
    /// With --carry depth: carry κ₃/κ₄ on the R units of each layer with the largest
    /// σ(z)·‖W column‖ only (an approximation for wide layers; memory N² + R⁴, the rule on
    /// R⁴/24 entries). Default: the full tensors where they fit, else 128 (order 3) / 32
    /// (order 4).
    #[arg(long, value_name = "R", requires = "carry")]
    pub kappa_units: Option<usize>,
    /// With --carry depth [default: fresh for the generated tasks (xor, higher-order), on for
    /// mnist and task data]: `on` splits the other set (--on test: the training set, and
    /// vice versa) per class into halves, runs the carried and the Gaussian closure's theory
    /// from one half's start against the other half's outputs, and where the carried output
    /// is significantly further from them (z > 3, mean, covariance or KL) reports the
    /// Gaussian closure's run instead; `fresh` (generated tasks only) tests the reported
    /// carried output itself against 4 × the reported set's size of fresh samples of the
    /// task's generator, with the same rule; `off` keeps every carried output unchecked.
    #[arg(long, value_enum, value_name = "on|off|fresh")]
    pub pilot: Option<PilotMode>,
    /// With --carry depth: the statistics whose z decides the pilot's check, from mean,
    /// covariance, kl, comma-separated [default: all three]. Every z is computed and shown;
    /// only these abandon a carried output. The KL weighs the covariance's small directions,
    /// which the covariance's Frobenius error hardly sees: `mean,covariance` keeps a carry
    /// whose KL alone is worse.
    #[arg(long, value_name = "LIST", value_parser = JudgedBy::parse)]
    pub pilot_statistics: Option<JudgedBy>,
}

/// The values `--corrections` took before `--order`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LegacyCorrections {
    /// = --order 2.
    None,
    /// = --order 4.
    #[value(name = "k3k4")]
    K3K4,
}

impl OrderArgs {
    /// `--carry`, `--kappa-units`, `--pilot` and `--pilot-statistics`.
    pub fn carry(&self) -> CarrySettings {
        CarrySettings {
            mode: self.carry,
            kappa_units: self.kappa_units,
            pilot: self.pilot,
            pilot_statistics: self.pilot_statistics,
        }
    }

    /// The corrections these flags ask for.
    pub fn corrections(&self) -> Corrections {
        match self.corrections {
            Some(LegacyCorrections::None) => Corrections::None,
            Some(LegacyCorrections::K3K4) => Corrections::K3K4,
            None => Corrections::from_order(self.order).expect("clap keeps --order within 2..=4"),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        order: OrderArgs,
    }

    #[test]
    fn order_and_its_old_spelling() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("x").chain(args.iter().copied()))
                .map(|c| c.order.corrections())
        };
        assert_eq!(parse(&[]).unwrap(), Corrections::None);
        assert_eq!(parse(&["--order", "3"]).unwrap(), Corrections::K3);
        assert_eq!(parse(&["--order", "4"]).unwrap(), Corrections::K3K4);
        assert_eq!(
            parse(&["--corrections", "k3k4"]).unwrap(),
            Corrections::K3K4
        );
        assert_eq!(
            parse(&["--corrections", "none"]).unwrap(),
            Corrections::None
        );
        assert!(parse(&["--order", "5"]).is_err());
        assert!(parse(&["--order", "1"]).is_err());
        assert!(parse(&["--order", "3", "--corrections", "k3k4"]).is_err());
    }
}
