//! Which instruction set the crate's own SIMD kernels (pulp) run on: the best one found at run
//! time, or the one the environment variable `CORRFLOW_ISA` names, so that the AVX2 path can be
//! measured on an AVX-512 machine. faer's GEMM chooses its own (AVX-512 wherever the CPU has
//! it) and is not affected.

use std::sync::OnceLock;

use pulp::WithSimd;

/// The environment variable read once by [`dispatch`].
pub const ISA_VAR: &str = "CORRFLOW_ISA";

/// An instruction set the kernels can be held to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// pulp's best: AVX-512 (x86-64-v4) where present, else AVX2+FMA, else scalar.
    Best,
    /// AVX2 + FMA (x86-64-v3, 4 f64 lanes), where the CPU has it.
    Avx2,
    /// One lane, no SIMD.
    Scalar,
}

/// The refusal of a `CORRFLOW_ISA` value that names no instruction set (text or not).
fn not_an_isa(value: impl std::fmt::Debug) -> String {
    format!(
        "{ISA_VAR}={value:?} is not an instruction set: expected avx512 (or best), avx2 or scalar"
    )
}

impl Isa {
    /// `CORRFLOW_ISA` parsed: unset, empty, `best` or `avx512` → Best; `avx2`; `scalar`.
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("" | "best" | "avx512") => Ok(Isa::Best),
            Some("avx2") => Ok(Isa::Avx2),
            Some("scalar") => Ok(Isa::Scalar),
            Some(other) => Err(not_an_isa(other)),
        }
    }

    /// The environment's setting: `CORRFLOW_ISA` [parsed](Isa::parse); a value that is not
    /// UTF-8 is no instruction set either (it was read as unset).
    pub fn from_env() -> Result<Self, String> {
        match std::env::var(ISA_VAR) {
            Ok(value) => Isa::parse(Some(&value)),
            Err(std::env::VarError::NotPresent) => Ok(Isa::Best),
            Err(std::env::VarError::NotUnicode(value)) => Err(not_an_isa(value)),
        }
    }

    /// The line saying that `CORRFLOW_ISA` asked for an instruction set this CPU lacks, and
    /// which one the kernels run on instead (adv51: `avx512` on an AVX2-only AMD Zen 3 ran
    /// AVX2 without a word); None when the asked set is the one that runs, or none was named.
    pub fn unmet(asked: Option<&str>) -> Option<String> {
        let asked = asked?.trim().to_ascii_lowercase();
        let runs = Isa::parse(Some(&asked)).ok()?.name();
        match asked.as_str() {
            "avx512" | "avx2" if runs != asked => Some(format!(
                "{ISA_VAR}={asked} but this CPU has no {}; the kernels run on {runs}",
                asked.to_ascii_uppercase().replace("AVX512", "AVX-512")
            )),
            _ => None,
        }
    }

    /// The setting of this process (read once): [`Isa::from_env`], the best instruction set
    /// for a value it refuses. The command line warns of such a value when it starts (adv37:
    /// this library function printed the warning itself, mid-run, into the progress lines).
    pub fn current() -> Self {
        static CURRENT: OnceLock<Isa> = OnceLock::new();
        *CURRENT.get_or_init(|| Isa::from_env().unwrap_or(Isa::Best))
    }

    /// What the kernels actually run on under this setting: "avx512", "avx2" or "scalar".
    pub fn name(self) -> &'static str {
        #[cfg(target_arch = "x86_64")]
        {
            let v4 = pulp::x86::V4::try_new().is_some();
            let v3 = pulp::x86::V3::try_new().is_some();
            match self {
                Isa::Best if v4 => return "avx512",
                Isa::Best | Isa::Avx2 if v3 => return "avx2",
                _ => return "scalar",
            }
        }
        #[allow(unreachable_code)]
        match self {
            Isa::Scalar => "scalar",
            _ => "native",
        }
    }

    /// Runs `kernel` on this instruction set (AVX2 falls back to the best one where the CPU
    /// lacks it).
    #[inline(always)]
    pub fn run<W: WithSimd>(self, kernel: W) -> W::Output {
        match self {
            Isa::Best => pulp::Arch::new().dispatch(kernel),
            Isa::Avx2 => {
                #[cfg(target_arch = "x86_64")]
                if let Some(v3) = pulp::x86::V3::try_new() {
                    return pulp::Simd::vectorize(v3, kernel);
                }
                pulp::Arch::new().dispatch(kernel)
            }
            Isa::Scalar => pulp::Simd::vectorize(pulp::Scalar::new(), kernel),
        }
    }
}

/// Runs `kernel` on the instruction set of this process ([`Isa::current`]).
#[inline(always)]
pub fn dispatch<W: WithSimd>(kernel: W) -> W::Output {
    Isa::current().run(kernel)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An asked set is said unmet exactly when it is not the one that runs; `best`, `scalar`,
    /// unset and unknown values (warned of elsewhere) are never unmet.
    #[test]
    fn an_asked_set_the_cpu_lacks_is_said_with_the_one_that_runs() {
        for asked in ["avx512", " AVX512 ", "avx2"] {
            let set = asked.trim().to_ascii_lowercase();
            let runs = Isa::parse(Some(asked)).unwrap().name();
            match Isa::unmet(Some(asked)) {
                None => assert_eq!(runs, set),
                Some(line) => {
                    assert_ne!(runs, set);
                    assert!(line.contains(&format!("CORRFLOW_ISA={set}")), "{line}");
                    assert!(line.ends_with(&format!("run on {runs}")), "{line}");
                }
            }
        }
        for asked in [None, Some(""), Some("best"), Some("scalar"), Some("sse9")] {
            assert_eq!(Isa::unmet(asked), None, "{asked:?}");
        }
    }

    #[test]
    fn parses_the_documented_values_and_names_bad_ones() {
        assert_eq!(Isa::parse(None), Ok(Isa::Best));
        assert_eq!(Isa::parse(Some("AVX512")), Ok(Isa::Best));
        assert_eq!(Isa::parse(Some(" avx2 ")), Ok(Isa::Avx2));
        assert_eq!(Isa::parse(Some("scalar")), Ok(Isa::Scalar));
        let e = Isa::parse(Some("sse9")).unwrap_err();
        assert!(
            e.contains("CORRFLOW_ISA") && e.contains("sse9") && e.contains("avx2"),
            "{e}"
        );
    }
}
