//! Full symmetric cumulant tensors κ₃ (N³) and κ₄ (N⁴) of one class at one layer, and the memory
//! limit beyond which they are refused.
//!
//! Storage is dense and column-major with the first index fastest:
//! `κ[i₁, i₂, …, i_k]` at `i₁ + N·i₂ + N²·i₃ + …`. Every permutation of the indices is stored
//! (the tensors are symmetric), so any entry is one load and the affine map is a chain of
//! plain GEMMs ([`super::affine`]). κ₄ at N = 128 is 2.1 GB; see [`check_memory`].

use crate::error::{Error, Result};

/// A dense symmetric tensor of order 3 or 4 over N units.
#[derive(Clone, Debug, PartialEq)]
pub struct SymTensor {
    n: usize,
    order: usize,
    data: Vec<f64>,
}

impl SymTensor {
    /// The zero tensor of `order` (3 or 4) over `n` units.
    pub fn zeros(n: usize, order: usize) -> Self {
        assert!(order == 3 || order == 4, "cumulant tensors of order 3 or 4");
        SymTensor {
            n,
            order,
            data: vec![0.0; n.pow(order as u32)],
        }
    }

    /// A tensor from its dense column-major entries (`data.len()` = N^order).
    pub fn from_data(n: usize, order: usize, data: Vec<f64>) -> Result<Self> {
        if !(order == 3 || order == 4) || data.len() != n.pow(order as u32) {
            return Err(Error::Shape(format!(
                "a κ{order} tensor over {n} units needs {} entries, got {}",
                n.pow(order as u32),
                data.len()
            )));
        }
        Ok(SymTensor { n, order, data })
    }

    /// Number of units N.
    pub fn dim(&self) -> usize {
        self.n
    }

    /// The tensor's order (3 or 4).
    pub fn order(&self) -> usize {
        self.order
    }

    /// The dense entries, first index fastest.
    pub fn data(&self) -> &[f64] {
        &self.data
    }

    /// Mutable dense entries (the caller keeps them symmetric).
    pub fn data_mut(&mut self) -> &mut [f64] {
        &mut self.data
    }

    /// Resizes to N units of the same order, keeping the allocation where it is large enough;
    /// the entries are unspecified afterwards. A larger allocation is a fresh zeroed one
    /// (`calloc`: the kernel zeroes its pages on first touch), not a copy of the old entries
    /// followed by a pass writing zeros.
    pub fn resize(&mut self, n: usize) {
        self.n = n;
        let len = n.pow(self.order as u32);
        if len > self.data.capacity() {
            self.data = vec![0.0; len];
        } else {
            self.data.resize(len, 0.0);
        }
    }

    /// Entry at `idx` (length = order).
    #[inline]
    pub fn get(&self, idx: &[usize]) -> f64 {
        self.data[self.flat(idx)]
    }

    /// Flat position of `idx`.
    #[inline]
    pub fn flat(&self, idx: &[usize]) -> usize {
        idx.iter().rev().fold(0, |acc, &i| acc * self.n + i)
    }

    /// Writes `v` at every permutation of `idx` (keeps the tensor symmetric).
    pub fn set_sym(&mut self, idx: &[usize], v: f64) {
        let (n, k) = (self.n, idx.len());
        debug_assert_eq!(k, self.order);
        for p in 0..k {
            for q in (0..k).filter(|&q| q != p) {
                for r in (0..k).filter(|&r| r != p && r != q) {
                    let f = idx[p] + n * (idx[q] + n * idx[r]);
                    // Order 4: the remaining position is 6 − p − q − r.
                    let f = if k == 4 {
                        f + n * n * n * idx[6 - p - q - r]
                    } else {
                        f
                    };
                    self.data[f] = v;
                }
            }
        }
    }

    /// Largest |entry| (0 for an empty tensor).
    pub fn max_abs(&self) -> f64 {
        self.data.iter().fold(0.0, |m, v| m.max(v.abs()))
    }

    /// Whether every entry is finite.
    pub fn is_finite(&self) -> bool {
        self.data.iter().all(|v| v.is_finite())
    }
}

/// Read access to κ₃ entries for the chaos rule: the full tensor, or only the slices the last
/// hidden layer's closure reads ([`super::sliced::Sliced`]).
pub trait Kappa3: Sync {
    /// κ₃ at `idx` (3 indices, any order).
    fn get(&self, idx: &[usize]) -> f64;

    /// The full tensor, if that is what this is (the column-wise evaluation reads its columns).
    fn dense(&self) -> Option<&SymTensor> {
        None
    }

    /// The slices, if that is what this is.
    fn sliced(&self) -> Option<&super::sliced::Sliced> {
        None
    }
}

impl Kappa3 for SymTensor {
    fn get(&self, idx: &[usize]) -> f64 {
        SymTensor::get(self, idx)
    }

    fn dense(&self) -> Option<&SymTensor> {
        Some(self)
    }
}

/// The zero κ₃ and κ₄ of a Gaussian stage, held without storage: the rule's terms through it
/// vanish and are skipped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ZeroKappa;

impl Kappa3 for ZeroKappa {
    fn get(&self, _: &[usize]) -> f64 {
        0.0
    }
}

impl super::paired::Kappa4 for ZeroKappa {
    fn get(&self, _: &[usize]) -> f64 {
        0.0
    }
}

/// Default memory limit for carried cumulant tensors: 16 GiB (of the 24 GB machine).
pub const DEFAULT_TENSOR_BYTES: u64 = 16 << 30;

/// Bytes the carried tensors of `order` (3: κ₃ and the dense carry's κ₄\[a,a,b,c\] in its two
/// layouts, [`super::triple4`]; 4: κ₃ and κ₄) need at width `n` for `classes` classes: three
/// tensor sets per class (the stage carried, the mapped pre-activation and the closure's output
/// before it replaces the first) and the affine map's two ping-pong buffers of the largest order.
/// Saturates at `u64::MAX`, so an absurd width is refused by [`check_memory`], never wrapped to a
/// small count.
pub fn tensor_bytes(n: usize, order: usize, classes: usize) -> u64 {
    let n = n as u64;
    let (cube, fourth) = (n.saturating_pow(3), n.saturating_pow(4));
    let per_set = cube.saturating_add(if order >= 4 {
        fourth
    } else {
        cube.saturating_mul(2)
    });
    let largest = if order >= 4 { fourth } else { cube };
    (classes as u64)
        .saturating_mul(3)
        .saturating_mul(per_set)
        .saturating_add(largest.saturating_mul(2))
        .saturating_mul(8)
}

/// Refuses widths whose carried tensors exceed `limit` bytes, naming the layer, its width and
/// what fits. With the default 16 GiB and one class, order 4 fits N ≤ 143 and order 3 N ≤ 580
/// (ten classes: 85 and 285).
pub fn check_memory(
    n: usize,
    order: usize,
    classes: usize,
    layer: usize,
    limit: u64,
) -> Result<()> {
    let need = tensor_bytes(n, order, classes);
    if need <= limit {
        return Ok(());
    }
    let fits = (1..=n)
        .rev()
        .find(|&m| tensor_bytes(m, order, classes) <= limit)
        .unwrap_or(0);
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    Err(Error::Unsupported(format!(
        "--order {order} carries the full κ tensors (N{} doubles): layer {layer} has width {n}, \
         which with {classes} class(es) needs {:.1} GiB, above the {:.1} GiB limit; widths up to \
         {fits} fit (use --order {} or a narrower network)",
        if order >= 4 { "⁴" } else { "³" },
        gib(need),
        gib(limit),
        order - 1
    )))
}
