//! The plan check every command and every sweep point runs before it allocates: peak memory and
//! floating-point work from the run configuration alone (no data is read), against a limit.
//!
//! - [`shape`]: a run's problem as the estimates need it ([`Shape`]), from its configuration.
//! - [`memory`]: the run's peak memory, term by term, and the check against a limit
//!   ([`check_memory`]), whose error names the setting of the largest term.
//! - [`work`]: the run's floating-point work, the time it is guessed to take, and the warnings
//!   commands give before long work.
//! - [`sizes`]: byte sizes as people read and write them, and the memory the machine has free.
//!
//! [`Estimate`] holds one run's (a sweep point's) peak memory and work; [`TimeClass`] sorts it
//! by its work.

pub mod memory;
pub mod shape;
pub mod sizes;
#[cfg(test)]
mod test_shapes;
pub mod work;

pub use memory::check_memory;
pub use shape::Shape;

use super::RunConfig;

/// How long a point takes, by its floating-point work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TimeClass {
    /// Under 10⁹ flops: well under a second.
    Tiny,
    /// Under 10¹¹: seconds.
    Small,
    /// Under 10¹³: minutes.
    Medium,
    /// More: hours.
    Large,
}

impl std::fmt::Display for TimeClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TimeClass::Tiny => "tiny",
            TimeClass::Small => "small",
            TimeClass::Medium => "medium",
            TimeClass::Large => "large",
        })
    }
}

/// The estimates of one point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// Peak resident memory, bytes ([`memory`]).
    pub bytes: f64,
    /// Floating-point operations ([`work`]).
    pub flops: f64,
}

impl Estimate {
    /// Estimates `config`'s peak memory and work.
    pub fn of(config: &RunConfig) -> Estimate {
        Estimate::of_shape(&Shape::of(config))
    }

    /// Estimates the peak memory and work of a run of shape `s`.
    pub fn of_shape(s: &Shape) -> Estimate {
        Estimate {
            bytes: s.peak_bytes(),
            flops: s.flops(),
        }
    }

    /// The time class of the work.
    pub fn time_class(&self) -> TimeClass {
        match self.flops {
            x if x < 1e9 => TimeClass::Tiny,
            x if x < 1e11 => TimeClass::Small,
            x if x < 1e13 => TimeClass::Medium,
            _ => TimeClass::Large,
        }
    }
}
