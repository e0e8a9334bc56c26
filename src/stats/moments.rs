//! Streaming, GEMM-based empirical moments per class (DESIGN.md §1).
//!
//! Samples arrive in batches (one sample per column, d × b) with a label per column. For each
//! class c the accumulator keeps power sums of the *shifted* samples d = x − K_c about a per-class
//! shift K_c (the mean of the class's columns in the first batch that contains it):
//!
//! ```text
//! S₁ = Σ d          S₂ = Σ d dᵀ           (lower triangle, GEMM)
//! S₃ = Σ (d∘d) dᵀ   S₄ = Σ (d∘d)(d∘d)ᵀ    (only when higher orders are requested; S₄ lower)
//! S₃₁ = Σ (d∘d∘d) dᵀ                       (likewise; full)
//! ```
//!
//! Memory is three d × b gather buffers plus one to four d × d sums per class, independent of n.
//!
//! **Why a shift.** Raw power sums about the origin lose every digit the data's offset takes
//! (a pixel mean of 10³ with unit spread costs ~6 of 16 digits in Σ and ~12 in κ₄). About a shift
//! K within a few standard deviations of the true mean, `m = E[d]` is O(σ) (O(σ/√b) for the
//! first-batch mean), and the conversion below cancels only O(1) relative digits. A Chan-style
//! pairwise merge of central sums would be as accurate but needs a rank-one update of each
//! fourth-order cross term per batch and per class; the shift is simpler and just as sound here.
//!
//! **Conversion at [`MomentAccumulator::finish`]** (exact binomial expansion of δ = d − m, with
//! `m = E[d]`, `M = E[d dᵀ]`, `T_ij = E[dᵢ²dⱼ]`, `Q_ij = E[dᵢ²dⱼ²]`, `U_ij = E[dᵢ³dⱼ]`, all
//! averages over the n samples):
//!
//! ```text
//! μ            = K + m
//! Σ_ij         = M_ij − mᵢmⱼ                                                  (population, ÷ n)
//! E[δᵢ²δⱼ]     = T_ij − mⱼM_ii − 2mᵢM_ij + 2mᵢ²mⱼ
//! E[δᵢ²δⱼ²]    = Q_ij − 2mⱼT_ij − 2mᵢT_ji + mⱼ²M_ii + mᵢ²M_jj + 4mᵢmⱼM_ij − 3mᵢ²mⱼ²
//! E[δᵢ³δⱼ]     = U_ij − mⱼT_ii − 3mᵢT_ij + 3mᵢmⱼM_ii + 3mᵢ²M_ij − 3mᵢ³mⱼ
//! κ₃[i,i,j]    = E[δᵢ²δⱼ]
//! κ₄[i,i,j,j]  = E[δᵢ²δⱼ²] − Σ_iiΣ_jj − 2Σ_ij²
//! κ₄[i,i,i,j]  = E[δᵢ³δⱼ] − 3Σ_iiΣ_ij
//! ```
//!
//! (The E\[δᵢ³δⱼ\] line is (dᵢ − mᵢ)³(dⱼ − mⱼ) expanded term by term; the terms linear in a
//! single d average to m, and −3mᵢ²mⱼ·mᵢ − mᵢ³·mⱼ + mᵢ³mⱼ collect to −3mᵢ³mⱼ.)
//!
//! All moments are population moments (normalised by n, not n − 1), as DESIGN.md §1 defines them.
//!
//! **The slices' unit.** κ₃ ∝ s³ and κ₄ ∝ s⁴ leave f64's range long before the data do: at data
//! ×10⁻¹⁵⁰ (s ~ 10⁻¹⁵⁰, still measurable) the cubes and fourth powers of d underflow to 0, so
//! order 4 ran as order 3 below ~×10⁻⁷⁷ and order 3 as order 2 below ~×10⁻¹⁰³, silently
//! (scale67). Each class's higher sums are therefore formed of d/ℓ, ℓ a power of two taken from
//! the class's first batch (`slice_unit`: 1 for data of ordinary scale, whose sums stay bit
//! for bit what they were), and the conversion below runs on m/ℓ, M/ℓ² and Σ/ℓ², which gives
//! κ₃/ℓ³ and κ₄/ℓ⁴ exactly as the natural-unit formulas give κ₃ and κ₄ (scaling by a power of
//! two is exact); the moments carry ℓ (`Moments::slice_unit`). The pooled moments' slices are
//! in the largest of the classes' units.

use faer::linalg::matmul::matmul;
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::{Accum, Col, Mat, MatMut, MatRef, Par};
use pulp::{Simd, WithSimd};
use rayon::prelude::*;

use super::batch::{col, values_mut, Runs};
use super::gram::lower_gram;
use super::Moments;
use crate::error::{Error, Result};
use crate::io::par_zeros;
use crate::simd::{all_finite, all_finite_on};
use crate::timing::flops;

/// Per-class streaming accumulator of mean, covariance and (optionally) the `κ₃[i,i,j]`,
/// `κ₄[i,i,j,j]` and `κ₄[i,i,i,j]` slices of one layer.
#[derive(Clone, Debug)]
pub struct MomentAccumulator {
    dim: usize,
    higher: bool,
    classes: Vec<ClassSums>,
    /// Shifted columns d = x − K of the class being processed, its varying rows only (the
    /// first r rows of d × capacity, reused).
    shifted: Mat<f64>,
    /// The rows of the class being processed that vary in this batch (reused).
    rows: Runs,
    /// Flops of the products done so far ([`MomentAccumulator::flops`]).
    flops: f64,
    /// d∘d of the same columns (only used when `higher`).
    squared: Mat<f64>,
    /// d∘d∘d of the same columns (only used when `higher`).
    cubed: Mat<f64>,
    /// d/ℓ of the same columns where the class's ℓ is not 1 (only used when `higher`).
    scaled: Mat<f64>,
    /// Column indices of each class in the current batch (reused).
    members: Vec<Vec<usize>>,
    /// Classes finished early by [`MomentAccumulator::take_class`]: no more samples accepted.
    taken: Vec<bool>,
}

/// Power sums of one class about its shift K.
#[derive(Clone, Debug)]
struct ClassSums {
    n: u64,
    shift: Col<f64>,
    s1: Col<f64>,
    /// Lower triangle of Σ d dᵀ (0 × 0 until the class's first sample: a class's d × d sum is
    /// allocated only when it is needed).
    s2: Mat<f64>,
    /// Σ (d∘d) dᵀ (full; 0 × 0 unless higher orders are accumulated).
    s3: Mat<f64>,
    /// Lower triangle of Σ (d∘d)(d∘d)ᵀ (0 × 0 unless higher orders are accumulated).
    s4: Mat<f64>,
    /// Σ (d∘d∘d) dᵀ (full; 0 × 0 unless higher orders are accumulated).
    s31: Mat<f64>,
    /// The length ℓ the higher sums are formed in (of d/ℓ; [`slice_unit`]), chosen at the
    /// class's first batch; 1 without higher orders.
    unit: f64,
}

/// Central moments of one class as averages over its samples, before they become [`Moments`].
struct Central {
    mean: Col<f64>,
    cov: Mat<f64>,
    /// Whether every entry of `cov` is finite, found while it was formed (its columns scanned
    /// while in cache, instead of a pass over the d × d matrix after it: [`check_finite`]).
    cov_finite: bool,
    /// t[(i, j)] = E[δᵢ²δⱼ].
    t: Option<Mat<f64>>,
    /// q[(i, j)] = E[δᵢ²δⱼ²] (raw fourth central moment, not yet the cumulant).
    q: Option<Mat<f64>>,
    /// p[(i, j)] = E[δᵢ³δⱼ] (raw fourth central moment, not yet the cumulant).
    p: Option<Mat<f64>>,
    /// The length t, q and p are in (t = E[δᵢ²δⱼ]/ℓ³, q and p /ℓ⁴; `ClassSums::unit`).
    unit: f64,
}

/// What [`MomentAccumulator::finish`] returns.
#[derive(Clone, Debug)]
pub struct EmpiricalMoments {
    /// One entry per class present in the data (at least one sample), in label order.
    pub per_class: Vec<Moments>,
    /// The label of each entry of `per_class`: 0, 1, … K−1 when every class is present; a
    /// class without samples is left out.
    pub classes: Vec<usize>,
    /// Number of samples seen per entry of `per_class`.
    pub counts: Vec<u64>,
    /// Moments of all samples together regardless of label (the class mixture), with κ slices
    /// when they were accumulated. This is the total covariance (within-class plus between-class
    /// spread), not the average within-class covariance Σ_c n_cΣ_c / n. Formed by
    /// [`MomentAccumulator::finish`]; None from [`MomentAccumulator::into_moments`], whose
    /// callers (the layer statistics of `analyze` and `propagate`) read only the classes.
    pub pooled: Option<Moments>,
}

impl MomentAccumulator {
    /// The moments of the samples in the columns of `x` taken as one class (with `higher`,
    /// its κ slices too): [`push`](Self::push) of them all, then
    /// [`into_moments`](Self::into_moments) (without the pooled moments, which for one class
    /// would repeat its own).
    pub fn of_one_class(x: MatRef<'_, f64>, higher: bool) -> Result<Moments> {
        let mut acc = Self::new(x.nrows(), 1, higher)?;
        acc.push(x, &vec![0; x.ncols()])?;
        Ok(acc.into_moments()?.per_class.swap_remove(0))
    }

    /// An empty accumulator for `dim`-dimensional samples in `n_classes` classes. With `higher`,
    /// the `κ₃[i,i,j]`, `κ₄[i,i,j,j]` and `κ₄[i,i,i,j]` slices are accumulated too (three more
    /// GEMMs per batch and three more d × d sums per class).
    pub fn new(dim: usize, n_classes: usize, higher: bool) -> Result<Self> {
        if n_classes == 0 {
            return Err(Error::Shape(
                "moment accumulator needs at least one class, got n_classes = 0".into(),
            ));
        }
        let hd = if higher { dim } else { 0 };
        let classes = (0..n_classes)
            .map(|_| ClassSums {
                n: 0,
                shift: Col::zeros(dim),
                s1: Col::zeros(dim),
                s2: Mat::new(),
                s3: Mat::zeros(hd, hd),
                s4: Mat::zeros(hd, hd),
                s31: Mat::zeros(hd, hd),
                unit: 1.0,
            })
            .collect();
        Ok(MomentAccumulator {
            dim,
            higher,
            classes,
            shifted: Mat::zeros(dim, 0),
            rows: Runs::default(),
            flops: 0.0,
            squared: Mat::zeros(if higher { dim } else { 0 }, 0),
            cubed: Mat::zeros(if higher { dim } else { 0 }, 0),
            scaled: Mat::zeros(if higher { dim } else { 0 }, 0),
            members: vec![Vec::new(); n_classes],
            taken: vec![false; n_classes],
        })
    }

    /// Dimension d of the samples.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Whether the κ₃\[i,i,j\] / κ₄\[i,i,j,j\] sums are accumulated.
    pub fn higher(&self) -> bool {
        self.higher
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.classes.len()
    }

    /// Flops of the products that [`push`](Self::push) has done so far: per class and batch of
    /// b samples, the lower triangle of the Gram of its r varying rows, d(d+1)b with d = r
    /// (rows that are x = K in every sample of the batch contribute exact zeros and are not
    /// multiplied); with κ slices also 2 · 2d²b for S₃₁ and S₃ and d(d+1)b for S₄ (all d rows).
    pub fn flops(&self) -> f64 {
        self.flops
    }

    /// Samples seen so far per class.
    pub fn counts(&self) -> Vec<u64> {
        self.classes.iter().map(|c| c.n).collect()
    }

    /// Adds a batch: `x` is d × b (one sample per column), `labels[j]` the class of column j.
    ///
    /// The batch is validated in full (shape, labels in range, finite values) before any sum is
    /// touched, so a rejected batch leaves the accumulator unchanged.
    pub fn push(&mut self, x: MatRef<'_, f64>, labels: &[u32]) -> Result<()> {
        self.push_scanned(x, labels, true)
    }

    /// [`push`](Self::push) for a batch whose values are finite by construction (pixels scaled
    /// from bytes, [`crate::data::Columns::Pixels`]): shape and labels are validated as there,
    /// but the values are not scanned for NaN and infinities, a pass over the whole d × b batch
    /// (MNIST's input: 784 × 512 values per batch, ~5 % of the CPU of the statistics'
    /// forward pass at one thread). The sums are the ones [`push`](Self::push) forms.
    pub fn push_finite(&mut self, x: MatRef<'_, f64>, labels: &[u32]) -> Result<()> {
        debug_assert!(x.is_all_finite(), "push_finite given a non-finite value");
        self.push_scanned(x, labels, false)
    }

    /// [`push`](Self::push), scanning the values for non-finite ones when `scan`.
    fn push_scanned(&mut self, x: MatRef<'_, f64>, labels: &[u32], scan: bool) -> Result<()> {
        // The passes below read columns as slices: a strided batch is copied once.
        let owned;
        let x = if x.row_stride() == 1 {
            x
        } else {
            owned = x.to_owned();
            owned.as_ref()
        };
        self.validate(x, labels, scan)?;
        for m in &mut self.members {
            m.clear();
        }
        for (j, &l) in labels.iter().enumerate() {
            self.members[l as usize].push(j);
        }
        let largest = self.members.iter().map(Vec::len).max().unwrap_or(0);
        if largest > self.shifted.ncols() {
            self.shifted.resize_with(self.dim, largest, |_, _| 0.0);
            if self.higher {
                self.squared.resize_with(self.dim, largest, |_, _| 0.0);
                self.cubed.resize_with(self.dim, largest, |_, _| 0.0);
                self.scaled.resize_with(self.dim, largest, |_, _| 0.0);
            }
        }
        for (c, cols) in self.members.iter().enumerate() {
            if cols.is_empty() {
                continue;
            }
            let sums = &mut self.classes[c];
            if sums.n == 0 {
                set_shift(&mut sums.shift, x, cols);
                // The d × d sum's first touch (a page fault per 4 KiB, 1 200 for d = 784)
                // shared by the pool's threads instead of taken by this one.
                sums.s2 = par_zeros(self.dim, self.dim);
            }
            let b = cols.len();
            // Rows with d = x − K = 0 in every column add exact zeros to S₁ and S₂ (MNIST's
            // border pixels): left out of the Gram unless the κ sums need every row.
            if self.higher {
                self.rows.set_all(self.dim);
            } else {
                self.rows.set_varying(x, cols, &sums.shift);
            }
            let r = self.rows.len();
            let mut d = self.shifted.submatrix_mut(0, 0, r, b);
            self.rows
                .gather_shifted(d.rb_mut(), x, cols, &sums.shift, &mut sums.s1);
            let d = d.rb();
            self.flops += flops::syrk(r, b);
            if r == self.dim {
                lower_gram(sums.s2.as_mut(), d, Accum::Add);
            } else {
                self.rows.add_gram(sums.s2.as_mut(), d);
            }
            if self.higher {
                if sums.n == 0 {
                    sums.unit = slice_unit(d);
                }
                // d/ℓ (exact: ℓ is a power of two); d itself at ℓ = 1.
                let d = if sums.unit == 1.0 {
                    d
                } else {
                    let inv = 1.0 / sums.unit;
                    let mut dl = self.scaled.subcols_mut(0, b);
                    for k in 0..b {
                        for i in 0..self.dim {
                            dl[(i, k)] = d[(i, k)] * inv;
                        }
                    }
                    self.scaled.subcols(0, b)
                };
                let mut sq = self.squared.subcols_mut(0, b);
                let mut cu = self.cubed.subcols_mut(0, b);
                for k in 0..b {
                    for i in 0..self.dim {
                        let v = d[(i, k)];
                        sq[(i, k)] = v * v;
                        cu[(i, k)] = v * v * v;
                    }
                }
                let sq = sq.rb();
                matmul(
                    sums.s31.as_mut(),
                    Accum::Add,
                    cu.rb(),
                    d.transpose(),
                    1.0,
                    Par::rayon(0),
                );
                matmul(
                    sums.s3.as_mut(),
                    Accum::Add,
                    sq,
                    d.transpose(),
                    1.0,
                    Par::rayon(0),
                );
                lower_gram(sums.s4.as_mut(), sq, Accum::Add);
                self.flops += 2.0 * flops::gemm(self.dim, self.dim, b) + flops::syrk(self.dim, b);
            }
            sums.n += b as u64;
        }
        Ok(())
    }

    /// Central moments per class present, the sample counts, and the pooled (all-sample)
    /// moments. A class without samples is left out (see [`EmpiricalMoments::classes`]).
    ///
    /// Errors if a class has exactly 1 sample (its covariance would be meaningless), naming the
    /// class, if no class has samples, or if a result is not finite.
    pub fn finish(&self) -> Result<EmpiricalMoments> {
        finish_sums(self.classes.clone(), self.higher, true)
    }

    /// [`finish`](Self::finish) for the last use of the accumulator, per class only: each
    /// class's covariance is formed in the buffer of its power sum S₂, without a copy of the
    /// d × d sums, and the pooled moments are not formed (`pooled` is None: a d × d mixture
    /// covariance, and its κ slices, that no reader of the layer statistics uses).
    pub fn into_moments(self) -> Result<EmpiricalMoments> {
        finish_sums(self.classes, self.higher, false)
    }

    /// Class `c`'s sample count and each unit's mean and variance, read from the diagonal of its
    /// sums as [`finish`](Self::finish) converts them (varᵢ = S₂\[i,i\]/n − mᵢ², meanᵢ = Kᵢ + mᵢ,
    /// m = S₁/n) without finishing anything: O(d). None for a class without samples (or one
    /// already taken).
    pub fn diagonal(&self, c: usize) -> Option<(u64, Vec<(f64, f64)>)> {
        let sums = self.classes.get(c).filter(|s| s.n > 0)?;
        let inv_n = 1.0 / sums.n as f64;
        let units = (0..self.dim)
            .map(|i| {
                let m = sums.s1[i] * inv_n;
                (sums.shift[i] + m, sums.s2[(i, i)] * inv_n - m * m)
            })
            .collect();
        Some((sums.n, units))
    }

    /// Finishes class `c` now that its samples are complete, and releases its sums: its mean
    /// and covariance (the same conversion as [`finish`](Self::finish)) with its sample count,
    /// or None when it has no samples. Only without κ slices. Afterwards the class takes no
    /// more samples, and [`finish`](Self::finish) no longer reports it.
    pub fn take_class(&mut self, c: usize) -> Result<Option<(u64, Moments)>> {
        if self.higher {
            return Err(Error::Unsupported(
                "finishing one class early is only for mean and covariance, not κ slices".into(),
            ));
        }
        let sums = self.classes.get_mut(c).ok_or_else(|| {
            Error::Shape(format!(
                "class {c} is out of range for {} classes",
                self.taken.len()
            ))
        })?;
        let n = sums.n;
        if n == 1 {
            return Err(Error::Numeric(format!(
                "class {c} has 1 sample; at least 2 are needed for its covariance"
            )));
        }
        self.taken[c] = true;
        let empty = ClassSums {
            n: 0,
            shift: Col::zeros(0),
            s1: Col::zeros(0),
            s2: Mat::new(),
            s3: Mat::new(),
            s4: Mat::new(),
            s31: Mat::new(),
            unit: 1.0,
        };
        let sums = std::mem::replace(sums, empty);
        if n == 0 {
            return Ok(None);
        }
        let central = sums.central(false);
        let cov_finite = central.cov_finite;
        let m = central.into_moments();
        check_finite(&m, cov_finite, &format!("class {c}"), n)?;
        Ok(Some((n, m)))
    }

    fn validate(&self, x: MatRef<'_, f64>, labels: &[u32], scan: bool) -> Result<()> {
        if x.nrows() != self.dim {
            return Err(Error::Shape(format!(
                "batch has {} rows, the accumulator expects samples of dimension {}",
                x.nrows(),
                self.dim
            )));
        }
        if labels.len() != x.ncols() {
            return Err(Error::Shape(format!(
                "batch has {} columns (samples) but {} labels",
                x.ncols(),
                labels.len()
            )));
        }
        let nc = self.classes.len();
        if let Some((j, &l)) = labels.iter().enumerate().find(|(_, &l)| l as usize >= nc) {
            return Err(Error::Shape(format!(
                "label {l} of batch column {j} is out of range for {nc} classes"
            )));
        }
        if let Some((j, &l)) = labels
            .iter()
            .enumerate()
            .find(|(_, &l)| self.taken[l as usize])
        {
            return Err(Error::Shape(format!(
                "label {l} of batch column {j}: that class was already finished (take_class)"
            )));
        }
        if !scan {
            return Ok(());
        }
        for j in 0..x.ncols() {
            let col = col(x, j);
            if all_finite(col) {
                continue;
            }
            if let Some(i) = col.iter().position(|v| !v.is_finite()) {
                return Err(Error::Numeric(format!(
                    "non-finite value {} at row {i}, column {j} of the batch",
                    x[(i, j)]
                )));
            }
        }
        Ok(())
    }
}

/// The conversion behind [`MomentAccumulator::finish`] and [`MomentAccumulator::into_moments`],
/// with the pooled moments when `pooled`.
fn finish_sums(classes: Vec<ClassSums>, higher: bool, pooled: bool) -> Result<EmpiricalMoments> {
    for (c, s) in classes.iter().enumerate() {
        if s.n == 1 {
            return Err(Error::Numeric(format!(
                "class {c} has 1 sample; at least 2 are needed for its covariance"
            )));
        }
    }
    let present: Vec<(usize, ClassSums)> = classes
        .into_iter()
        .enumerate()
        .filter(|(_, s)| s.n > 0)
        .collect();
    if present.is_empty() {
        return Err(Error::Numeric("no samples: every class is empty".into()));
    }
    let classes: Vec<usize> = present.iter().map(|(c, _)| *c).collect();
    let counts: Vec<u64> = present.iter().map(|(_, s)| s.n).collect();
    // Classes convert independently: in parallel, same numbers.
    let central: Vec<Central> = present
        .into_par_iter()
        .map(|(_, s)| s.central(higher))
        .collect();
    let pooled = pooled.then(|| {
        let p = pool(&central, &counts);
        (p.cov_finite, p.into_moments())
    });
    let cov_finite: Vec<bool> = central.iter().map(|c| c.cov_finite).collect();
    let per_class: Vec<Moments> = central.into_iter().map(Central::into_moments).collect();
    // The classes checked side by side; the first failing class in order is reported, by its
    // label (an absent class before it shifts the index).
    let checked: Vec<Result<()>> = per_class
        .par_iter()
        .zip(&cov_finite)
        .zip(&classes)
        .zip(&counts)
        .map(|(((m, &ok), c), &n)| check_finite(m, ok, &format!("class {c}"), n))
        .collect();
    checked.into_iter().collect::<Result<()>>()?;
    let pooled = match pooled {
        Some((ok, p)) => {
            check_finite(&p, ok, "pooled moments", counts.iter().sum())?;
            Some(p)
        }
        None => None,
    };
    Ok(EmpiricalMoments {
        per_class,
        classes,
        counts,
        pooled,
    })
}

impl ClassSums {
    /// Converts the power sums about K into central moments (formulas in the module docs). Σ is
    /// formed in S₂'s buffer: its lower triangle column by column (contiguous), then mirrored
    /// (mᵢmⱼ = mⱼmᵢ exactly, so the upper triangle holds the numbers a direct fill would).
    fn central(self, higher: bool) -> Central {
        let dim = self.s1.nrows();
        let inv_n = 1.0 / self.n as f64;
        let m: Vec<f64> = self.s1.iter().map(|s| s * inv_n).collect();
        let mean = Col::from_fn(dim, |i| self.shift[i] + m[i]);
        let (t, q, p) = if higher {
            let (t, q, p) = self.higher_central(&m, inv_n);
            (Some(t), Some(q), Some(p))
        } else {
            (None, None, None)
        };
        let mut cov = self.s2;
        let cov_finite = crate::simd::dispatch(CentralCov {
            cov: cov.as_mut(),
            m: &m,
            inv_n,
        });
        Central {
            mean,
            cov,
            cov_finite,
            t,
            q,
            p,
            unit: self.unit,
        }
    }

    /// E\[δᵢ²δⱼ\]/ℓ³, E\[δᵢ²δⱼ²\]/ℓ⁴ and E\[δᵢ³δⱼ\]/ℓ⁴ from the sums (module docs) with
    /// m = S₁/n, all in units of the class's ℓ (m/ℓ, M/ℓ²; the higher sums are of d/ℓ).
    fn higher_central(&self, m: &[f64], inv_n: f64) -> (Mat<f64>, Mat<f64>, Mat<f64>) {
        let dim = m.len();
        let inv_l = 1.0 / self.unit;
        let m: Vec<f64> = m.iter().map(|v| v * inv_l).collect();
        let big_m = Mat::from_fn(dim, dim, |i, j| {
            lower(&self.s2, i, j) * inv_l * inv_l * inv_n
        });
        let t_raw = Mat::from_fn(dim, dim, |i, j| self.s3[(i, j)] * inv_n);
        let t = Mat::from_fn(dim, dim, |i, j| {
            t_raw[(i, j)] - m[j] * big_m[(i, i)] - 2.0 * m[i] * big_m[(i, j)]
                + 2.0 * m[i] * m[i] * m[j]
        });
        let q = Mat::from_fn(dim, dim, |i, j| {
            let (mi, mj) = (m[i], m[j]);
            lower(&self.s4, i, j) * inv_n - 2.0 * mj * t_raw[(i, j)] - 2.0 * mi * t_raw[(j, i)]
                + mj * mj * big_m[(i, i)]
                + mi * mi * big_m[(j, j)]
                + 4.0 * mi * mj * big_m[(i, j)]
                - 3.0 * mi * mi * mj * mj
        });
        let p = Mat::from_fn(dim, dim, |i, j| {
            let (mi, mj) = (m[i], m[j]);
            self.s31[(i, j)] * inv_n - mj * t_raw[(i, i)] - 3.0 * mi * t_raw[(i, j)]
                + 3.0 * mi * mj * big_m[(i, i)]
                + 3.0 * mi * mi * big_m[(i, j)]
                - 3.0 * mi * mi * mi * mj
        });
        (t, q, p)
    }
}

impl Central {
    /// κ₃[i,i,j] = E[δᵢ²δⱼ]; κ₄[i,i,j,j] = E[δᵢ²δⱼ²] − Σ_iiΣ_jj − 2Σ_ij²;
    /// κ₄[i,i,i,j] = E[δᵢ³δⱼ] − 3Σ_iiΣ_ij.
    /// All in units of ℓ (Σ/ℓ² in these formulas: κ₃/ℓ³ and κ₄/ℓ⁴; module docs).
    fn into_moments(self) -> Moments {
        let cov = self.cov;
        // Σ/ℓ² as two divisions: 1/ℓ² overflows where ℓ < 10⁻¹⁵⁴ (against a Σ of 0).
        let inv_l = 1.0 / self.unit;
        let c = |i: usize, j: usize| cov[(i, j)] * inv_l * inv_l;
        let k4_iiij = self.p.map(|p| {
            Mat::from_fn(cov.nrows(), cov.ncols(), |i, j| {
                p[(i, j)] - 3.0 * c(i, i) * c(i, j)
            })
        });
        let k4 = self.q.map(|q| {
            Mat::from_fn(cov.nrows(), cov.ncols(), |i, j| {
                q[(i, j)] - c(i, i) * c(j, j) - 2.0 * c(i, j) * c(i, j)
            })
        });
        Moments {
            mean: self.mean,
            cov,
            k3_iij: self.t,
            k4_iijj: k4,
            k4_iiij,
            slice_unit: self.unit,
        }
    }
}

/// Columns per panel of [`CentralCov`]: the panel's lower part (d × 8 values, 50 KB at
/// d = 784) stays in the L1/L2 caches between its scaling and its mirroring.
const PANEL: usize = 8;

/// Σ = S₂/n − m mᵀ in S₂'s buffer (`cov`; its lower triangle read), formed on the lower
/// triangle column by column and mirrored onto the upper one ([`PANEL`] columns at a time):
/// each panel's transposed copy is written while the panel is in cache, one contiguous run of
/// the upper triangle per later column, instead of a second pass over the d × d matrix
/// (`mirror_lower`) that reads it back from memory. mᵢmⱼ = mⱼmᵢ exactly, so the upper triangle
/// holds the numbers a direct fill would. Returns whether every entry is finite: each column's
/// lower part is scanned on the SIMD lanes right after it is formed, in L1 (the upper triangle
/// is a copy of it), which replaced [`check_finite`]'s scan of the whole d × d matrix from
/// memory (BENCHMARKS.md, "One pass removed": the statistics stage of `analyze` on MNIST, median
/// 13.6 → 10.3 ms).
struct CentralCov<'a> {
    cov: MatMut<'a, f64>,
    m: &'a [f64],
    inv_n: f64,
}

impl WithSimd for CentralCov<'_> {
    type Output = bool;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> bool {
        let CentralCov { mut cov, m, inv_n } = self;
        let n = m.len();
        assert!(
            cov.nrows() == n && cov.ncols() == n && cov.row_stride() == 1,
            "the covariance is formed in a square column-major buffer"
        );
        let ld = cov.col_stride() as usize;
        let mut finite = true;
        for cb in (0..n).step_by(PANEL) {
            let ce = (cb + PANEL).min(n);
            for (j, &mj) in m.iter().enumerate().take(ce).skip(cb) {
                let col = &mut cov
                    .rb_mut()
                    .col_mut(j)
                    .try_as_col_major_mut()
                    .expect("a column of an owned matrix is contiguous")
                    .as_slice_mut()[j..];
                for (c, mi) in col.iter_mut().zip(&m[j..]) {
                    *c = *c * inv_n - mi * mj;
                }
                finite &= all_finite_on(simd, col);
            }
            let p = cov.rb_mut().as_ptr_mut();
            for r in cb + 1..n {
                for c in cb..ce.min(r) {
                    // SAFETY: c < r < n index the n × n matrix at `p` (row stride 1, column
                    // stride `ld`): (c, r) above the diagonal is written from (r, c) below it.
                    unsafe { *p.add(c + r * ld) = *p.add(r + c * ld) };
                }
            }
        }
        finite
    }
}

/// Moments of the mixture of all classes, weights w_c = n_c / n. With μ = Σ w_c μ_c and
/// a = μ_c − μ, each class's moments about μ follow from its central ones (δ = x − μ_c, E δ = 0):
///
/// ```text
/// E[(x−μ)(x−μ)ᵀ]        = Σ + a aᵀ
/// E[(xᵢ−μᵢ)²(xⱼ−μⱼ)]    = T_ij + aⱼΣ_ii + 2aᵢΣ_ij + aᵢ²aⱼ
/// E[(xᵢ−μᵢ)²(xⱼ−μⱼ)²]   = Q_ij + 2aⱼT_ij + 2aᵢT_ji + aⱼ²Σ_ii + aᵢ²Σ_jj + 4aᵢaⱼΣ_ij + aᵢ²aⱼ²
/// E[(xᵢ−μᵢ)³(xⱼ−μⱼ)]    = P_ij + aⱼT_ii + 3aᵢT_ij + 3aᵢaⱼΣ_ii + 3aᵢ²Σ_ij + aᵢ³aⱼ
/// ```
///
/// and the mixture's central moments are their w-weighted averages (its mean about μ is 0).
fn pool(central: &[Central], counts: &[u64]) -> Central {
    let dim = central[0].mean.nrows();
    let total: f64 = counts.iter().map(|&n| n as f64).sum();
    let weights: Vec<f64> = counts.iter().map(|&n| n as f64 / total).collect();
    let mut mean = Col::<f64>::zeros(dim);
    for (c, w) in central.iter().zip(&weights) {
        for i in 0..dim {
            mean[i] += w * c.mean[i];
        }
    }
    let higher = central[0].t.is_some();
    let offsets: Vec<Vec<f64>> = central
        .iter()
        .map(|c| (0..dim).map(|i| c.mean[i] - mean[i]).collect())
        .collect();
    // Σ_mix by columns in parallel; every entry sums its classes in class order, as before;
    // each column scanned for non-finite entries while in cache (every column, in full: a
    // short-circuiting `all` would leave columns unformed).
    let mut cov = Mat::<f64>::zeros(dim, dim);
    let columns_finite: Vec<bool> = cov
        .par_col_chunks_mut(1)
        .enumerate()
        .map(|(j, mut col)| {
            let dst = col
                .rb_mut()
                .col_mut(0)
                .try_as_col_major_mut()
                .expect("a column of an owned matrix is contiguous")
                .as_slice_mut();
            for ((c, &w), a) in central.iter().zip(&weights).zip(&offsets) {
                let aj = a[j];
                for ((d, s), ai) in dst.iter_mut().zip(c.cov.col_as_slice(j)).zip(a) {
                    *d += w * (s + ai * aj);
                }
            }
            all_finite(dst)
        })
        .collect();
    let mut t_mix = higher.then(|| Mat::<f64>::zeros(dim, dim));
    let mut q_mix = higher.then(|| Mat::<f64>::zeros(dim, dim));
    let mut p_mix = higher.then(|| Mat::<f64>::zeros(dim, dim));
    // The mixture's slices in the largest of the classes' units ℓ (1 where every class's is):
    // each class's t, q, p rescaled by (ℓ_c/ℓ)³ and (ℓ_c/ℓ)⁴, the offsets and Σ by 1/ℓ and
    // 1/ℓ² (powers of two: exact where representable).
    let unit = central.iter().map(|c| c.unit).fold(0.0, f64::max);
    let inv = 1.0 / unit;
    for ((c, &w), a) in central.iter().zip(&weights).zip(&offsets) {
        let a: Vec<f64> = a.iter().map(|v| v * inv).collect();
        let a = &a;
        let s = &(&(&c.cov * faer::Scale(inv)) * faer::Scale(inv));
        let r = c.unit * inv;
        let (l3, l4) = (r * r * r, (r * r) * (r * r));
        let t = c.t.as_ref().map(|t| t * faer::Scale(l3));
        let (q, p) = (
            c.q.as_ref().map(|q| q * faer::Scale(l4)),
            c.p.as_ref().map(|p| p * faer::Scale(l4)),
        );
        if let (Some(p), Some(t), Some(pm)) = (&p, &t, &mut p_mix) {
            for j in 0..dim {
                for i in 0..dim {
                    let (ai, aj) = (a[i], a[j]);
                    pm[(i, j)] += w
                        * (p[(i, j)]
                            + aj * t[(i, i)]
                            + 3.0 * ai * t[(i, j)]
                            + 3.0 * ai * aj * s[(i, i)]
                            + 3.0 * ai * ai * s[(i, j)]
                            + ai * ai * ai * aj);
                }
            }
        }
        if let (Some(t), Some(q), Some(tm), Some(qm)) = (&t, &q, &mut t_mix, &mut q_mix) {
            for j in 0..dim {
                for i in 0..dim {
                    let (ai, aj) = (a[i], a[j]);
                    tm[(i, j)] +=
                        w * (t[(i, j)] + aj * s[(i, i)] + 2.0 * ai * s[(i, j)] + ai * ai * aj);
                    qm[(i, j)] += w
                        * (q[(i, j)]
                            + 2.0 * aj * t[(i, j)]
                            + 2.0 * ai * t[(j, i)]
                            + aj * aj * s[(i, i)]
                            + ai * ai * s[(j, j)]
                            + 4.0 * ai * aj * s[(i, j)]
                            + ai * ai * aj * aj);
                }
            }
        }
    }
    Central {
        mean,
        cov,
        cov_finite: columns_finite.into_iter().all(|ok| ok),
        t: t_mix,
        q: q_mix,
        p: p_mix,
        unit,
    }
}

/// Smallest largest |d| (the deviations of a class's first batch about its shift) whose higher
/// sums are formed in natural units, 2⁻⁶⁴: κ₄ of such a spread is ~2⁻²⁵⁶ ≈ 10⁻⁷⁷, far inside
/// f64's range. Large spreads keep natural units too: their fourth powers overflow from ~10⁷⁷
/// on, which the measurement refuses naming the bound (adv23), before any closure.
const SMALLEST_NATURAL_SPREAD: f64 = 5.421010862427522e-20;

/// The length ℓ a class's higher sums are formed in ([`ClassSums::unit`]), from the deviations
/// `d` of its first batch (and the length cumulant training's κ slices are measured in, from the
/// centred pre-activations D = WX̃ of each step: `cumtrain::first_layer`): 1 where their largest |d| is at least [`SMALLEST_NATURAL_SPREAD`] (or
/// is 0, subnormal or not finite: nothing to gain), else that largest |d| rounded down to a
/// power of two (its exponent bits), so that d/ℓ < 2 and κ₃/ℓ³, κ₄/ℓ⁴ are of the order of the
/// standardised cumulants. So ℓ ≤ 1: natural units never overflow where the slices in ℓ did not.
pub(crate) fn slice_unit(d: MatRef<'_, f64>) -> f64 {
    let big = (0..d.ncols())
        .flat_map(|k| d.col(k).iter().copied())
        .fold(0.0f64, |m, v| m.max(v.abs()));
    if !big.is_normal() || big >= SMALLEST_NATURAL_SPREAD {
        1.0
    } else {
        f64::from_bits(big.to_bits() & 0x7FF0_0000_0000_0000)
    }
}

/// K = mean of the class's columns in this batch: each Kᵢ sums its columns in order, one
/// column after another (contiguous reads), then scales by 1/b.
fn set_shift(shift: &mut Col<f64>, x: MatRef<'_, f64>, cols: &[usize]) {
    let inv = 1.0 / cols.len() as f64;
    let out = values_mut(shift);
    out.fill(0.0);
    for &j in cols {
        for (o, v) in out.iter_mut().zip(col(x, j)) {
            *o += v;
        }
    }
    for o in out {
        *o *= inv;
    }
}

/// Element (i, j) of a symmetric matrix of which only the lower triangle is stored.
fn lower(m: &Mat<f64>, i: usize, j: usize) -> f64 {
    if i >= j {
        m[(i, j)]
    } else {
        m[(j, i)]
    }
}

/// Refuses moments of `n` samples with a non-finite part, naming the first such part (means,
/// covariances, κ₃, κ₄), the power whose sum overflowed and the size of values it implies: a
/// sum of n p-th powers of deviations about the class's shift exceeds f64::MAX only when some
/// deviation exceeds (f64::MAX / n)^(1/p), so that bound is what the values must stay below
/// (data of 10¹⁵⁰ under `--order 4`: fourth powers of 10⁶⁰⁰ where the bound is ~10⁷⁷; the message
/// was "moments are not finite (overflow in the power sums?)", adv23).
///
/// `cov_finite` says whether `m.cov` is finite, found while it was formed ([`CentralCov`],
/// [`pool`]); the κ slices are scanned here.
fn check_finite(m: &Moments, cov_finite: bool, what: &str, n: u64) -> Result<()> {
    let all = |a: &Mat<f64>| (0..a.ncols()).all(|j| all_finite(col(a.as_ref(), j)));
    let bad = if !m.mean.iter().all(|v| v.is_finite()) {
        Some(("means", "values", 1, ""))
    } else if !cov_finite {
        Some(("covariances", "squares", 2, ""))
    } else if !m.k3_iij().is_none_or(all) {
        Some(("third cumulants κ₃", "cubes", 3, ", or a lower --order"))
    } else if ![m.k4_iijj(), m.k4_iiij()].into_iter().flatten().all(all) {
        Some((
            "fourth cumulants κ₄",
            "fourth powers",
            4,
            ", or a lower --order",
        ))
    } else {
        None
    };
    match bad {
        None => Ok(()),
        Some((part, powers, p, order)) => {
            let bound = (f64::MAX / n.max(1) as f64).powf(1.0 / f64::from(p));
            Err(Error::Numeric(format!(
                "{what}: the {part} of its {n} samples are not finite: their sum of {powers} \
                 overflows f64, so some value deviates from the class's centre by more than \
                 (1.8e308 / {n})^(1/{p}) = {bound:.1e}; expected smaller values (rescale the data \
                 or the weights that make them{order})"
            )))
        }
    }
}

/// Multiple of ε·scale within which a negative variance is rounding ([`settled_variance`]).
pub const ROUNDING_VARIANCE_ULPS: f64 = 64.0;

/// A variance as the closures take it: `v` itself when v ≥ 0; 0 when
/// −64ε·(μ² + `scale`) ≤ v < 0; `None` (an error the caller names) when more negative or NaN.
/// μ is the quantity's mean and `scale` the largest |variance| of its covariance. A variance
/// formed from values of size |μ| or √scale — E\[x²\] − μ² of a measurement, the affine map's
/// Σⱼₖ WᵢⱼWᵢₖΣⱼₖ of a (near-)singular Σ, whose rounding can leave a constant direction at
/// −5·10⁻⁵⁴ — carries rounding errors of order ε(μ² + scale); a negative value inside that is a
/// zero variance written with rounding, not an error. The same rule serves every caller.
pub fn settled_variance(v: f64, mean: f64, scale: f64) -> Option<f64> {
    if v >= 0.0 {
        Some(v)
    } else if v >= -ROUNDING_VARIANCE_ULPS * f64::EPSILON * (mean * mean + scale.abs()) {
        Some(0.0)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pooled covariance's finiteness is found while [`pool`] forms its columns: two classes
    /// whose values are finite and close within each class (finite class covariances) but whose
    /// means are ±10¹⁶⁰ apart pool to a covariance of ~10³²⁰, which [`finish`] refuses naming
    /// the pooled moments; [`into_moments`] (no pooling) takes the same data. Width 11 puts the
    /// overflowing unit in the lanes (column 4) and in a column's scalar tail (column 10).
    ///
    /// [`finish`]: MomentAccumulator::finish
    /// [`into_moments`]: MomentAccumulator::into_moments
    #[test]
    fn a_pooled_covariance_beyond_f64_is_refused_naming_the_pool() {
        for unit in [4, 10] {
            let x = Mat::from_fn(11, 16, |i, j| {
                let wobble = (j / 2) as f64 * 0.25 + i as f64;
                if i == unit {
                    (if j % 2 == 0 { 1e160 } else { -1e160 }) + wobble * 1e150
                } else {
                    wobble
                }
            });
            let labels: Vec<u32> = (0..16).map(|j| (j % 2) as u32).collect();
            let mut acc = MomentAccumulator::new(11, 2, false).unwrap();
            acc.push(x.as_ref(), &labels).unwrap();
            let err = acc.finish().unwrap_err().to_string();
            assert!(
                err.contains("pooled moments: the covariances of its 16 samples are not finite"),
                "unit {unit}: {err}"
            );
            let per_class = acc.into_moments().unwrap();
            assert!(per_class
                .per_class
                .iter()
                .all(|m| m.cov[(unit, unit)].is_finite()));
        }
    }

    /// Moments whose power sums overflow name the part, the power and the bound the values
    /// must stay below, per order: deviations of ±10ᵉ in one of two classes of 8 samples
    /// (the other class stays small) overflow the fourth powers from e = 76.8 ((1.8e308/8)^¼ =
    /// 6.9e76), the cubes from 102.4, the squares from 153.7. adv23: each said "moments are not
    /// finite (overflow in the power sums?)".
    #[test]
    fn an_overflow_of_the_power_sums_names_the_power_and_the_bound() {
        let finish = |e: i32, higher: bool| {
            let x = Mat::from_fn(2, 16, |i, j| {
                let v = if j % 2 == 1 && i == 1 {
                    10f64.powi(e)
                } else {
                    1.0
                };
                if j % 4 < 2 {
                    v
                } else {
                    -v
                }
            });
            let labels: Vec<u32> = (0..16).map(|j| (j % 2) as u32).collect();
            let mut acc = MomentAccumulator::new(2, 2, higher).unwrap();
            acc.push(x.as_ref(), &labels).unwrap();
            acc.finish().map(|_| ()).map_err(|e| e.to_string())
        };
        assert!(finish(76, true).is_ok());
        for (e, higher, part) in [
            (
                80,
                true,
                "the fourth cumulants κ₄ of its 8 samples are not finite: their sum of \
                        fourth powers overflows f64, so some value deviates from the class's \
                        centre by more than (1.8e308 / 8)^(1/4) = 6.9e76",
            ),
            (110, true, "the third cumulants κ₃ of its 8 samples"),
            (110, false, "the covariances of its 8 samples"),
            (160, true, "the covariances of its 8 samples"),
        ] {
            if higher || e >= 154 {
                let err = finish(e, higher).unwrap_err();
                assert!(
                    err.contains("class 1: ") && err.contains(part),
                    "{e}: {err}"
                );
            } else {
                assert!(finish(e, higher).is_ok(), "{e}");
            }
        }
    }

    /// The slices of data ×t, t = 2⁻²⁰⁰ ≈ 10⁻⁶⁰ and 2⁻⁵⁰⁰ ≈ 10⁻¹⁵⁰ (κ₄ ~ t⁴, and at 2⁻⁵⁰⁰ κ₃ ~ t³,
    /// below f64's range in natural units), are stored in a unit ℓ, a power of two, and are those of
    /// the data ×1 times (t/ℓ)³ and (t/ℓ)⁴ to 10⁻¹⁴ of each slice's largest entry (the sums
    /// of d/ℓ are the ×1 sums scaled exactly, in two classes over two batches); the pooled
    /// moments' slices (at 2⁻⁵⁰⁰) are in a unit too. Data ×1 and ×2⁻³⁰ keep ℓ = 1 and the ×1 bits. Fails
    /// with the higher sums formed of d (ℓ = 1: κ₄ 0 at ×2⁻⁵⁰⁰) and with Σ in natural units in
    /// κ₄'s conversion.
    #[test]
    fn slices_of_data_at_extreme_scales_are_the_datas_in_their_unit() {
        let (d, n) = (3, 40);
        let x = Mat::from_fn(d, n, |i, k| {
            let v = ((k * 7 + i * 3) as f64 * 0.61).sin() + 0.2 * i as f64;
            if k % 2 == 1 {
                2.0 * v * v * v
            } else {
                v
            }
        });
        let labels: Vec<u32> = (0..n).map(|k| (k % 2) as u32).collect();
        let measure = |t: f64| {
            let xt = &x * faer::Scale(t);
            let mut acc = MomentAccumulator::new(d, 2, true).unwrap();
            acc.push(xt.as_ref().subcols(0, 16), &labels[..16]).unwrap();
            acc.push(xt.as_ref().subcols(16, n - 16), &labels[16..])
                .unwrap();
            acc
        };
        let base = measure(1.0).into_moments().unwrap();
        assert!(base.per_class.iter().all(|m| m.slice_unit == 1.0));
        let same = measure(2f64.powi(-30)).into_moments().unwrap();
        for (m, b) in same.per_class.iter().zip(&base.per_class) {
            assert_eq!(m.slice_unit, 1.0);
            let k3 = m.k3_iij().unwrap();
            let want = b.k3_iij().unwrap() * faer::Scale(2f64.powi(-90));
            assert!(
                k3.as_ref() == want.as_ref(),
                "×2⁻³⁰: not the ×1 bits scaled"
            );
        }
        for t in [2f64.powi(-200), 2f64.powi(-500)] {
            let got = measure(t).into_moments().unwrap();
            for (m, b) in got.per_class.iter().zip(&base.per_class) {
                let r = t / m.slice_unit;
                assert!(
                    m.slice_unit != 1.0 && r.log2().fract() == 0.0,
                    "×{t:e}: ℓ = {:e}",
                    m.slice_unit
                );
                let pairs = [
                    (m.k3_iij(), b.k3_iij(), r * r * r),
                    (m.k4_iijj(), b.k4_iijj(), (r * r) * (r * r)),
                    (m.k4_iiij(), b.k4_iiij(), (r * r) * (r * r)),
                ];
                for (k, (got, want, f)) in pairs.into_iter().enumerate() {
                    let (got, want) = (got.unwrap(), want.unwrap() * faer::Scale(f));
                    let scale = want.norm_max();
                    assert!(
                        scale.is_finite() && scale > 0.0,
                        "×{t:e} slice {k}: {scale:e}"
                    );
                    for j in 0..d {
                        for i in 0..d {
                            assert!(
                                (got[(i, j)] - want[(i, j)]).abs() <= 1e-14 * scale,
                                "×{t:e} slice {k} ({i}, {j}): {:e} vs {:e}",
                                got[(i, j)],
                                want[(i, j)]
                            );
                        }
                    }
                }
            }
        }
        let pooled = measure(2f64.powi(-500)).finish().unwrap().pooled.unwrap();
        assert!(
            pooled.slice_unit < 1e-140,
            "pooled ℓ {:e}",
            pooled.slice_unit
        );
    }

    /// The unscanned push of finite batches (the input of pixel data) forms the sums of the
    /// scanned one bit for bit, over batches that split classes and leave rows constant, and
    /// still refuses a wrong shape or label before touching a sum; the scan itself is what
    /// refuses a NaN, which `push_finite` is never given.
    #[test]
    fn push_finite_forms_the_sums_of_push_and_validates_the_rest() {
        let dim = 9;
        let batch = |b: usize| {
            let x = Mat::from_fn(dim, 12, |i, j| {
                if i % 4 == 0 {
                    0.0 // a constant row: left out of the Gram of varying rows
                } else {
                    (((i * 13 + j * 7 + b * 5) % 17) as f64) / 255.0
                }
            });
            let labels: Vec<u32> = (0..12).map(|j| ((j + b) / 5 % 3) as u32).collect();
            (x, labels)
        };
        let mut scanned = MomentAccumulator::new(dim, 3, false).unwrap();
        let mut unscanned = MomentAccumulator::new(dim, 3, false).unwrap();
        for b in 0..4 {
            let (x, labels) = batch(b);
            scanned.push(x.as_ref(), &labels).unwrap();
            unscanned.push_finite(x.as_ref(), &labels).unwrap();
        }
        assert_eq!(scanned.flops(), unscanned.flops());
        let (a, b) = (scanned.finish().unwrap(), unscanned.finish().unwrap());
        assert_eq!(a.counts, b.counts);
        for (ma, mb) in a.per_class.iter().zip(&b.per_class) {
            for i in 0..dim {
                assert_eq!(ma.mean[i].to_bits(), mb.mean[i].to_bits());
                for j in 0..dim {
                    assert_eq!(ma.cov[(i, j)].to_bits(), mb.cov[(i, j)].to_bits());
                }
            }
        }
        let (x, mut labels) = batch(0);
        labels[3] = 7;
        let err = unscanned.push_finite(x.as_ref(), &labels).unwrap_err();
        assert!(err.to_string().contains("label 7"), "{err}");
        let err = unscanned
            .push_finite(x.as_ref().subrows(0, dim - 1), &batch(0).1)
            .unwrap_err();
        assert!(
            err.to_string().contains("expects samples of dimension 9"),
            "{err}"
        );
        assert_eq!(
            unscanned.counts(),
            scanned.counts(),
            "a refused batch adds nothing"
        );
        let mut nan = x.clone();
        nan[(2, 5)] = f64::NAN;
        let err = scanned.push(nan.as_ref(), &batch(0).1).unwrap_err();
        assert!(
            err.to_string()
                .contains("non-finite value NaN at row 2, column 5"),
            "{err}"
        );
    }

    /// The panelled formation of Σ equals the column-by-column lower fill followed by a mirror,
    /// bit for bit, for sizes that are and are not multiples of the panel, on every ISA.
    #[test]
    fn central_covariance_equals_the_plain_fill_and_mirror() {
        for n in [1, 7, 8, 21, 40] {
            let s2 = Mat::from_fn(n, n, |i, j| {
                if i >= j {
                    ((i * 31 + j * 17) % 23) as f64 * 0.37 + 1.0 / (1 + i + j) as f64
                } else {
                    f64::NAN
                }
            });
            let m: Vec<f64> = (0..n).map(|i| ((i * 7) % 5) as f64 * 0.11 - 0.2).collect();
            let inv_n = 1.0 / 37.0;
            let mut expected = s2.clone();
            for (j, &mj) in m.iter().enumerate() {
                for i in j..n {
                    expected[(i, j)] = expected[(i, j)] * inv_n - m[i] * mj;
                }
            }
            for j in 0..n {
                for i in 0..j {
                    expected[(i, j)] = expected[(j, i)];
                }
            }
            for isa in [
                crate::simd::Isa::Best,
                crate::simd::Isa::Avx2,
                crate::simd::Isa::Scalar,
            ] {
                let mut got = s2.clone();
                isa.run(CentralCov {
                    cov: got.as_mut(),
                    m: &m,
                    inv_n,
                });
                for j in 0..n {
                    for i in 0..n {
                        assert_eq!(
                            got[(i, j)].to_bits(),
                            expected[(i, j)].to_bits(),
                            "n = {n}, ({i}, {j}), {isa:?}"
                        );
                    }
                }
            }
        }
    }
}
