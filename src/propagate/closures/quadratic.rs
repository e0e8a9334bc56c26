//! φ(h) = h + αh²: the paper's activation, exact closure with optional κ₃/κ₄ terms
//! (DESIGN.md §3, "Quadratic").

use faer::Mat;
use pulp::{Simd, WithSimd};

use super::input::{reset_output, units, Isa};
use super::{Closure, Corrections, Fallbacks};
use crate::error::{Error, Result};
use crate::linalg::fill_symmetric;
use crate::stats::Moments;

/// Exact closure of φ(h) = h + αh².
///
/// With δ = h − μ and gᵢ = 1 + 2αμᵢ, φ(hᵢ) − mᵢ = gᵢδᵢ + α(δᵢ² − Σᵢᵢ), hence for any input
/// distribution
///
/// ```text
/// mᵢ  = μᵢ + α(μᵢ² + Σᵢᵢ)
/// Cᵢⱼ = gᵢgⱼΣᵢⱼ + αgᵢκ₃[i,j,j] + αgⱼκ₃[i,i,j] + α²(κ₄[i,i,j,j] + 2Σᵢⱼ²)
/// ```
///
/// and the Gaussian closure drops the κ terms (order 3 keeps the κ₃ ones). The mean needs only
/// E\[hᵢ²\] = μᵢ² + Σᵢᵢ, so it is exact with or without corrections. These are the Gram–Charlier
/// corrections of [`super::edgeworth`] for this φ, where they are exact (φ''' = 0).
#[derive(Clone, Copy, Debug)]
pub struct QuadraticClosure {
    alpha: f64,
}

impl QuadraticClosure {
    /// The closure for φ(h) = h + αh².
    pub fn new(alpha: f64) -> Self {
        QuadraticClosure { alpha }
    }
}

impl Closure for QuadraticClosure {
    fn name(&self) -> String {
        format!("quadratic α={} (exact closed form)", self.alpha)
    }

    /// Errors with [`Error::Unsupported`] when corrections are asked for and `input` lacks the
    /// κ₃ (or, at order 4, κ₄) matrix, and with [`Error::Shape`] when they are not N×N.
    fn apply_counted(
        &self,
        input: &Moments,
        corrections: Corrections,
        out: &mut Moments,
    ) -> Result<Fallbacks> {
        let u = units(input, "quadratic")?;
        let n = input.dim();
        let kappa = match corrections {
            Corrections::None => None,
            order => Some(kappas(input, order)?),
        };
        reset_output(out, n);
        let alpha = self.alpha;
        let g: Vec<f64> = u.mu.iter().map(|m| 1.0 + 2.0 * alpha * m).collect();
        for i in 0..n {
            out.mean[i] = u.mu[i] + alpha * (u.mu[i] * u.mu[i] + input.cov[(i, i)]);
        }
        let arch = pulp::Arch::new();
        fill_symmetric(&mut out.cov, |i, col| {
            let k = kappa.as_ref().map(|(k3, k3t, k4)| {
                (
                    [&k3.col_as_slice(i)[..=i], &k3t.col_as_slice(i)[..=i]],
                    k4.map(|k4| &k4.col_as_slice(i)[..=i]),
                )
            });
            Isa::Dispatch.run(
                arch,
                QuadLanes {
                    out: col,
                    sig: &input.cov.col_as_slice(i)[..=i],
                    g: &g[..=i],
                    gi: g[i],
                    alpha,
                    k,
                },
            );
        })?;
        Ok(Fallbacks::default())
    }
}

/// κ₃[·,·,·] as stored (k3[(j, i)] = κ₃[i,j,j]), its transpose (k3ᵀ[(j, i)] = κ₃[i,i,j]) and,
/// at order 4, κ₄.
type Kappas<'a> = (&'a Mat<f64>, Mat<f64>, Option<&'a Mat<f64>>);

/// The κ matrices `order` needs (see [`Kappas`]).
fn kappas(input: &Moments, order: Corrections) -> Result<Kappas<'_>> {
    let n = input.dim();
    if input.slice_unit() != 1.0 {
        return Err(Error::Unsupported(format!(
            "quadratic closure: κ slices stored in units of {:e} reached it, which takes natural \
             units (Closure::apply_counted_in_slice_units converts them)",
            input.slice_unit()
        )));
    }
    let k4 = match order {
        Corrections::K3K4 => input.k4_iijj().map(Some),
        _ => Some(None),
    };
    let (Some(k3), Some(k4)) = (input.k3_iij(), k4) else {
        return Err(Error::Unsupported(format!(
            "quadratic closure at order {}: the input moments carry no κ₃[i,i,j]{} matrix \
             (measure them, or use --order 2)",
            order.order(),
            if order == Corrections::K3K4 {
                " / κ₄[i,i,j,j]"
            } else {
                ""
            }
        )));
    };
    for (name, k) in [("κ₃", Some(k3)), ("κ₄", k4)] {
        let Some(k) = k else { continue };
        if k.nrows() != n || k.ncols() != n {
            return Err(Error::Shape(format!(
                "quadratic closure: {name} matrix is {}×{}, expected {n}×{n}",
                k.nrows(),
                k.ncols()
            )));
        }
    }
    Ok((k3, k3.transpose().to_owned(), k4))
}

/// SIMD lanes over j ≤ i of column i: Cᵢⱼ = gᵢgⱼσ + 2α²σ² [+ αgᵢκ₃[i,j,j] + αgⱼκ₃[i,i,j]
/// [+ α²κ₄[i,i,j,j]]], σ = Σᵢⱼ.
/// Columns i of κ₃ and κ₃ᵀ, and of κ₄ at order 4.
type KappaColumns<'a> = ([&'a [f64]; 2], Option<&'a [f64]>);

struct QuadLanes<'a> {
    out: &'a mut [f64],
    sig: &'a [f64],
    g: &'a [f64],
    gi: f64,
    alpha: f64,
    /// Columns i of κ₃ and κ₃ᵀ when corrections are on, and of κ₄ at order 4.
    k: Option<KappaColumns<'a>>,
}

impl WithSimd for QuadLanes<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let len = self.out.len();
        let gi = simd.splat_f64s(self.gi);
        let a = simd.splat_f64s(self.alpha);
        let a2 = simd.splat_f64s(self.alpha * self.alpha);
        let two_a2 = simd.splat_f64s(2.0 * self.alpha * self.alpha);
        let a_gi = simd.splat_f64s(self.alpha * self.gi);
        let mut j = 0;
        while j < len {
            let end = (j + S::F64_LANES).min(len);
            let sig = simd.partial_load_f64s(&self.sig[j..end]);
            let g = simd.partial_load_f64s(&self.g[j..end]);
            let mut c = simd.mul_f64s(simd.mul_f64s(gi, g), sig);
            c = simd.mul_add_e_f64s(simd.mul_f64s(two_a2, sig), sig, c);
            if let Some(([k3, k3t], k4)) = self.k {
                c = simd.mul_add_e_f64s(a_gi, simd.partial_load_f64s(&k3[j..end]), c);
                let a_g = simd.mul_f64s(a, g);
                c = simd.mul_add_e_f64s(a_g, simd.partial_load_f64s(&k3t[j..end]), c);
                if let Some(k4) = k4 {
                    c = simd.mul_add_e_f64s(a2, simd.partial_load_f64s(&k4[j..end]), c);
                }
            }
            simd.partial_store_f64s(&mut self.out[j..end], c);
            j = end;
        }
    }
}
