//! The one dispatch on the slice unit ℓ ([`Moments::slice_unit`]) for a map of moments that
//! reads the κ slices: a closure of φ, its reverse pass, the quadratic transfer terms.
//!
//! ```text
//! ℓ = 1                          the moments as they are                 results as they are
//! ℓ ≠ 1, φ positively homogeneous μ/ℓ, Σ/ℓ², the slices as stored        mean ×ℓ, covariance ×ℓ²
//! ℓ ≠ 1, any other φ             μ, Σ, the slices in natural units       as they are
//!                                (κ₃ = ℓ³·stored, κ₄ = ℓ⁴·stored)
//! ```
//!
//! For φ(ch) = cφ(h), c > 0 (relu, the leaky relu, the identity), the closure of the moments in
//! units of ℓ, its mean ×ℓ and covariance ×ℓ², is the closure of the moments themselves, and the
//! corrections of data ×10⁻¹⁵⁰ are those of the data ×1 (their κ₄ ~ 10⁻⁶⁰⁰ is not
//! representable in natural units). Any other φ takes the slices in natural units: its
//! corrections relative to its Gaussian terms scale with the spread, so those lost to underflow
//! there lie below rounding. Every factor is a power of ℓ, a power of two: each scaling is exact
//! wherever its result is normal.
//!
//! A reverse pass runs where the forward did, in the view's units, and scales the other way:
//! the adjoint of a result ×u, ×u² into the view ([`SliceUnitView::scale_back`]), the input's
//! adjoint ÷u, ÷u² out of it ([`SliceUnitView::scale_in`]), with u the view's length (ℓ on the
//! homogeneous path, else 1); on the natural path the slices were read as ℓ³·stored and
//! ℓ⁴·stored, so their adjoints with respect to the stored slices are ×ℓ³, ×ℓ⁴
//! ([`SliceUnitView::slice_adjoints_to_stored`]).

use std::borrow::Cow;

use faer::{Col, Mat, Scale};

use super::Moments;

/// Moments as a map of them reads them (the module docs' table): the moments to map
/// ([`SliceUnitView::moments`]) and the length u their mean and covariance are in, by which the
/// map's results scale back.
#[derive(Clone, Debug)]
pub struct SliceUnitView<'a> {
    moments: Cow<'a, Moments>,
    /// u: ℓ on the positively homogeneous path (μ/ℓ, Σ/ℓ²), else 1.
    length: f64,
    /// ℓ where the slices were converted to natural units, else 1.
    converted: f64,
}

impl<'a> SliceUnitView<'a> {
    /// The view of `moments` for a map that is positively homogeneous
    /// (`positively_homogeneous`: φ(ch) = cφ(h), c > 0) or not: `moments` themselves at ℓ = 1,
    /// else a copy in units of ℓ or with the slices in natural units (the module docs).
    pub fn new(moments: &'a Moments, positively_homogeneous: bool) -> Self {
        let l = moments.slice_unit();
        if l == 1.0 {
            return SliceUnitView {
                moments: Cow::Borrowed(moments),
                length: 1.0,
                converted: 1.0,
            };
        }
        if positively_homogeneous {
            // μ/ℓ, Σ/ℓ² and the slices as stored, κ/ℓ³ and κ/ℓ⁴: the cumulants of the
            // variable in units of ℓ, whose slices are thus in natural units.
            let mut in_units = moments.clone();
            scale_mean_cov(&mut in_units.mean, &mut in_units.cov, 1.0 / l);
            in_units.slice_unit = 1.0;
            return SliceUnitView {
                moments: Cow::Owned(in_units),
                length: l,
                converted: 1.0,
            };
        }
        let mut natural = moments.clone();
        natural.slices_to_natural_units();
        SliceUnitView {
            moments: Cow::Owned(natural),
            length: 1.0,
            converted: l,
        }
    }

    /// The view of `moments` in natural units (for a map that is not positively homogeneous).
    pub fn natural(moments: &'a Moments) -> Self {
        Self::new(moments, false)
    }

    /// The moments to map: the slices' unit is 1.
    pub fn moments(&self) -> &Moments {
        &self.moments
    }

    /// Whether the view's mean and covariance are in a length u ≠ 1 (μ/ℓ, Σ/ℓ²): the map's
    /// results and adjoints need [`SliceUnitView::scale_back`] and [`SliceUnitView::scale_in`].
    pub fn rescaled(&self) -> bool {
        self.length != 1.0
    }

    /// A result of the map (its mean and covariance) back from the view's units: ×u, ×u² (in
    /// place; nothing at u = 1). Also the adjoint of a result into the view's units.
    pub fn scale_back(&self, mean: &mut Col<f64>, cov: &mut Mat<f64>) {
        scale_mean_cov(mean, cov, self.length);
    }

    /// A result of the map into the view's units: ÷u, ÷u² (in place; nothing at u = 1). Also
    /// the adjoint of the view's mean and covariance back to the moments'.
    pub fn scale_in(&self, mean: &mut Col<f64>, cov: &mut Mat<f64>) {
        scale_mean_cov(mean, cov, 1.0 / self.length);
    }

    /// The adjoints of the view's slices (κ₃\[i,i,j\]; the two κ₄ slices where read) as
    /// adjoints of the slices as the moments store them: ×ℓ³, ×ℓ⁴ where the view converted them
    /// to natural units (in place; nothing else).
    pub fn slice_adjoints_to_stored(
        &self,
        k3: &mut Mat<f64>,
        k4_iijj: Option<&mut Mat<f64>>,
        k4_iiij: Option<&mut Mat<f64>>,
    ) {
        let l = self.converted;
        if l == 1.0 {
            return;
        }
        let (l3, l4) = (l * l * l, (l * l) * (l * l));
        *k3 *= Scale(l3);
        for m in [k4_iijj, k4_iiij].into_iter().flatten() {
            *m *= Scale(l4);
        }
    }
}

/// μ·f and Σ·f² in place (nothing at f = 1; a mean and covariance, or their adjoints, into a
/// unit scaled by 1/f), Σ scaled twice by f so that an f² below or above f64's range cannot
/// flush or overflow what each factor alone keeps. Exact for f a power of two wherever the
/// results are normal.
fn scale_mean_cov(mean: &mut Col<f64>, cov: &mut Mat<f64>, f: f64) {
    if f == 1.0 {
        return;
    }
    *mean *= Scale(f);
    *cov *= Scale(f);
    *cov *= Scale(f);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Moments of a variable ×ℓ (μ ~ ℓ, Σ ~ ℓ²) with O(1) slices stored in the unit ℓ.
    fn moments(l: f64) -> Moments {
        let n = 3;
        let entry = |i: usize, j: usize, k: usize| ((i * 5 + j * 3 + k) as f64 * 0.7).sin();
        let slices = (
            Some(Mat::from_fn(n, n, |i, j| entry(i, j, 1))),
            Some(Mat::from_fn(n, n, |i, j| entry(i.min(j), i.max(j), 2))),
            Some(Mat::from_fn(n, n, |i, j| entry(i, j, 3))),
        );
        let mean = Col::from_fn(n, |i| entry(i, 0, 4) * l);
        let cov = Mat::from_fn(n, n, |i, j| (entry(i.min(j), i.max(j), 5) * l) * l);
        Moments::with_slices(mean, cov, slices, l)
    }

    fn bits(m: faer::MatRef<'_, f64>) -> Vec<u64> {
        (0..m.ncols())
            .flat_map(|j| (0..m.nrows()).map(move |i| m[(i, j)].to_bits()))
            .collect()
    }

    fn slices(m: &Moments) -> [&Mat<f64>; 3] {
        [m.k3_iij(), m.k4_iijj(), m.k4_iiij()].map(Option::unwrap)
    }

    /// At ℓ = 2⁻²⁰⁰ (κ₄ ~ 2⁻⁸⁰⁰ in natural units, still normal): the homogeneous view holds
    /// μ·2²⁰⁰, Σ·2⁴⁰⁰ and the slices as stored, and scaling its mean and covariance back gives
    /// the moments' bits; the natural view holds μ and Σ as they are and the slices ×ℓ³, ×ℓ⁴,
    /// whose adjoints it takes back ×ℓ³, ×ℓ⁴ (the homogeneous view leaves them); at ℓ = 1 both
    /// views are the moments themselves and scale nothing. Each expectation is the exact
    /// product by a power of two.
    #[test]
    fn the_views_scale_by_the_powers_of_the_unit() {
        let l = 2f64.powi(-200);
        let m = moments(l);
        let (l3, l4) = (2f64.powi(-600), 2f64.powi(-800));

        let view = SliceUnitView::new(&m, true);
        let v = view.moments();
        assert!(view.rescaled());
        assert_eq!(v.slice_unit(), 1.0);
        for i in 0..3 {
            assert_eq!(v.mean[i], m.mean[i] / l);
            for j in 0..3 {
                assert_eq!(v.cov[(i, j)], m.cov[(i, j)] / l / l);
            }
        }
        for (a, b) in slices(v).into_iter().zip(slices(&m)) {
            assert_eq!(bits(a.as_ref()), bits(b.as_ref()));
        }
        let (mut mean, mut cov) = (v.mean.clone(), v.cov.clone());
        view.scale_back(&mut mean, &mut cov);
        assert_eq!(bits(mean.as_mat()), bits(m.mean.as_mat()));
        assert_eq!(bits(cov.as_ref()), bits(m.cov.as_ref()));
        view.scale_in(&mut mean, &mut cov);
        assert_eq!(bits(cov.as_ref()), bits(v.cov.as_ref()));
        let mut adj = [0, 1, 2].map(|k| slices(&m)[k].clone());
        let [k3, k4, k4b] = &mut adj;
        view.slice_adjoints_to_stored(k3, Some(k4), Some(k4b));
        for (a, b) in adj.iter().zip(slices(&m)) {
            assert_eq!(
                bits(a.as_ref()),
                bits(b.as_ref()),
                "the homogeneous view scales slice adjoints"
            );
        }

        let natural = SliceUnitView::new(&m, false);
        let v = natural.moments();
        assert!(!natural.rescaled());
        assert_eq!(v.slice_unit(), 1.0);
        assert_eq!(bits(v.cov.as_ref()), bits(m.cov.as_ref()));
        for ((a, b), f) in slices(v).into_iter().zip(slices(&m)).zip([l3, l4, l4]) {
            assert_eq!(bits(a.as_ref()), bits((b * Scale(f)).as_ref()));
        }
        let mut adj = [0, 1, 2].map(|k| slices(&m)[k].clone());
        let [k3, k4, k4b] = &mut adj;
        natural.slice_adjoints_to_stored(k3, Some(k4), Some(k4b));
        for ((a, b), f) in adj.iter().zip(slices(&m)).zip([l3, l4, l4]) {
            assert_eq!(bits(a.as_ref()), bits((b * Scale(f)).as_ref()));
        }
        let mut cov = m.cov.clone();
        let mut mean = m.mean.clone();
        natural.scale_back(&mut mean, &mut cov);
        assert_eq!(bits(cov.as_ref()), bits(m.cov.as_ref()));

        let ordinary = moments(1.0);
        for homogeneous in [true, false] {
            let view = SliceUnitView::new(&ordinary, homogeneous);
            assert!(std::ptr::eq(view.moments(), &ordinary), "ℓ = 1 copies");
            let mut cov = ordinary.cov.clone();
            let mut mean = ordinary.mean.clone();
            view.scale_back(&mut mean, &mut cov);
            view.scale_in(&mut mean, &mut cov);
            assert_eq!(bits(cov.as_ref()), bits(ordinary.cov.as_ref()));
        }
    }

    /// The slices lent for writing in place are in natural units, the unit 1 (×ℓ³, ×ℓ⁴ of the
    /// stored ones at ℓ = 2⁻²⁰⁰), and are what `into_natural_slices` gives: a slice written
    /// there cannot sit beside others in the unit ℓ. Fails with the conversion left out of
    /// `natural_slices_mut`.
    #[test]
    fn slices_lent_in_place_are_in_natural_units() {
        let l = 2f64.powi(-200);
        let stored = moments(l);
        let mut m = stored.clone();
        let lent = m.natural_slices_mut();
        let lent = [&*lent.k3_iij, &*lent.k4_iijj, &*lent.k4_iiij].map(|s| s.clone().unwrap());
        assert_eq!(m.slice_unit(), 1.0);
        let (k3, k4, k4b) = stored.clone().into_natural_slices();
        for (((a, b), s), f) in lent
            .iter()
            .zip([k3, k4, k4b].map(Option::unwrap))
            .zip(slices(&stored))
            .zip([l * l * l, (l * l) * (l * l), (l * l) * (l * l)])
        {
            assert_eq!(bits(a.as_ref()), bits((s * Scale(f)).as_ref()));
            assert_eq!(bits(a.as_ref()), bits(b.as_ref()));
        }
    }
}
