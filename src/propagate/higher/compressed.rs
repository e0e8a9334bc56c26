//! The factored κ₃ ([`super::factored`]) with its smallest terms dropped under a stated
//! relative tolerance (issue #16 item 7: the factored order 3's rank grows by 2N per layer, so
//! its cost grows with depth).
//!
//! For κ₃ = Sym(Σ_r F₀\[·,r\] ⊗ F₁\[·,r\] ⊗ F₂\[·,r\] + Σ_t P₀\[·,t\] ⊗ P₀\[·,t\] ⊗ P₁\[·,t\]), Sym is
//! an orthogonal projection and ‖a ⊗ b ⊗ c‖_F = ‖a‖ ‖b‖ ‖c‖, so dropping a set D of terms
//! changes κ₃ by at most the sum of their norms ν:
//!
//! ```text
//! ‖κ₃ − κ₃_c‖_F ≤ Σ_{r∈D} ν_r,   ν_r = ‖F₀[·,r]‖ ‖F₁[·,r]‖ ‖F₂[·,r]‖  (pairs: ‖P₀[·,t]‖² ‖P₁[·,t]‖)
//! ‖κ₃‖_F ≥ ‖S‖_F,   S[i,j] = κ₃[i,i,j]
//! ```
//!
//! (S's entries are entries of κ₃, those with i ≠ j three times over). The terms are dropped
//! smallest ν first while Σ_D ν ≤ τ ‖S‖_F for the relative tolerance τ, so that
//! ‖κ₃ − κ₃_c‖_F ≤ τ ‖κ₃‖_F. The carry's terms age: each map and relu closure multiplies a
//! term's three factors by W diag(β), which shrinks older terms; the dropped ones are mostly
//! those several layers old. The slice of the kept terms is S less the dropped terms' slice
//! ([`super::factored::Factored::slice`]), O(N² |D|).
//!
//! (A Tucker compression, κ₃ ≈ G ×₁ Q ×₂ Q ×₃ Q with Q from a sketch of the mode-1 unfolding,
//! was tried first: on relu n = 128 the unfolding's spectrum is flat, about 50 of 128
//! directions for a 10 % estimated error, so k² exceeds the rank and nothing is saved. The
//! correction blocks Σᵢ eᵢ ⊗ eᵢ ⊗ qᵢ are diagonal-like tensors, of full multilinear rank.)

use faer::{Mat, MatRef};

use super::factored::Factored;
use crate::linalg::columns;

/// Whether `tol` is a relative tolerance [`compress`] takes (finite, ≥ 0).
pub fn valid_tolerance(tol: f64) -> bool {
    tol.is_finite() && tol >= 0.0
}

/// The Euclidean norm of each column of `x`.
pub(super) fn column_norms(x: MatRef<'_, f64>) -> Vec<f64> {
    (0..x.ncols()).map(|j| x.col(j).norm_l2()).collect()
}

/// The terms' norms ν (module docs): general terms first, then pairs.
fn term_norms(f: &Factored) -> Vec<f64> {
    let ([f0, f1, f2], [p0, p1]) = (&f.factors, &f.pairs);
    let [a, b, c] = [f0, f1, f2].map(|x| column_norms(x.as_ref()));
    let general = (0..a.len()).map(|r| a[r] * b[r] * c[r]);
    let (p, q) = (column_norms(p0.as_ref()), column_norms(p1.as_ref()));
    let pairs = (0..p.len()).map(|t| p[t] * p[t] * q[t]);
    general.chain(pairs).collect()
}

/// Which terms (general first, then pairs) to drop for tolerance `tol` ([`valid_tolerance`])
/// given f's slice `slice`: the smallest ν first while their sum is at most τ ‖S‖_F. Returns
/// the flags and the bound Σ_D ν.
pub fn dropped(f: &Factored, slice: &Mat<f64>, tol: f64) -> (Vec<bool>, f64) {
    smallest_within(&term_norms(f), tol * slice.norm_l2())
}

/// Which of the terms of norms `nu` to drop for `budget`: the smallest first (equal norms in
/// index order) while their sum is at most `budget`. Returns the flags and the sum Σ_D ν, the
/// bound on what the dropped terms move (module docs; also the κ₄ blocks' truncation,
/// [`super::blocks_truncated`]).
pub(super) fn smallest_within(nu: &[f64], budget: f64) -> (Vec<bool>, f64) {
    let mut order: Vec<usize> = (0..nu.len()).collect();
    order.sort_by(|&a, &b| nu[a].total_cmp(&nu[b]));
    let mut drop = vec![false; nu.len()];
    let mut sum = 0.0;
    for r in order {
        if sum + nu[r] > budget {
            break;
        }
        sum += nu[r];
        drop[r] = true;
    }
    (drop, sum)
}

/// The columns of `x` whose flag in `flags` is `keep`.
fn select(x: &Mat<f64>, flags: &[bool], keep: bool) -> Mat<f64> {
    let cols: Vec<usize> = (0..x.ncols()).filter(|&j| flags[j] != keep).collect();
    columns(x.as_ref(), &cols)
}

/// `f` (with its slice `slice`) with the terms [`dropped`] picks for `tol` removed, and the
/// kept terms' slice; None where none is dropped.
pub fn compress(f: &Factored, slice: &Mat<f64>, tol: f64) -> Option<(Factored, Mat<f64>)> {
    let (drop, _) = dropped(f, slice, tol);
    if !drop.contains(&true) {
        return None;
    }
    let r = f.factors[0].ncols();
    let (general, pairs) = drop.split_at(r);
    let part = |keep: bool| Factored {
        factors: f.factors.each_ref().map(|x| select(x, general, keep)),
        pairs: f.pairs.each_ref().map(|x| select(x, pairs, keep)),
    };
    let gone = part(false).slice();
    Some((part(true), slice - gone))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagate::higher::factored::tests::{dense, terms};
    use crate::propagate::higher::tensor::SymTensor;

    /// Frobenius norm of a dense tensor's entries.
    fn norm(t: &SymTensor) -> f64 {
        t.data().iter().map(|x| x * x).sum::<f64>().sqrt()
    }

    /// ‖a − b‖_F.
    fn distance(a: &SymTensor, b: &SymTensor) -> f64 {
        let d = a
            .data()
            .iter()
            .zip(b.data())
            .map(|(x, y)| (x - y) * (x - y));
        d.sum::<f64>().sqrt()
    }

    /// Rounding bound of the slices' difference: each entry is a sum of O(R) products of
    /// O(1) factors, formed in two orders, a few ε each relative to the largest.
    fn rounding(rank: usize) -> f64 {
        8.0 * rank as f64 * f64::EPSILON
    }

    /// Terms whose norms span three decades: term r of each kind scaled by 10^(−3r/R).
    fn ageing(n: usize, (r, t): (usize, usize)) -> Factored {
        let mut f = terms(n, (r, t), 2);
        for x in f.factors.iter_mut().chain(f.pairs.iter_mut()) {
            let cols = x.ncols();
            for j in 0..cols {
                let s = 10f64.powf(-(j as f64) / cols as f64);
                x.col_mut(j).iter_mut().for_each(|v| *v *= s);
            }
        }
        f
    }

    /// With τ = 0 nothing is dropped: the factored form is kept as it is.
    #[test]
    fn no_truncation_keeps_the_factored_form() {
        let f = ageing(6, (20, 12));
        assert!(compress(&f, &f.slice(), 0.0).is_none());
    }

    /// At each tolerance some terms are dropped, the error is within the sum of their norms
    /// and within τ ‖κ₃‖_F (module docs), and the slice returned is the kept terms' own.
    #[test]
    fn truncation_error_is_within_the_bound_and_the_tolerance() {
        let n = 6;
        let f = ageing(n, (30, 20));
        let (t, s) = (dense(&f), f.slice());
        for tol in [3e-1, 1e-1, 3e-2] {
            let (drop, bound) = dropped(&f, &s, tol);
            let count = drop.iter().filter(|&&d| d).count();
            assert!(count > 0, "τ {tol}: nothing dropped");
            let (c, slice) = compress(&f, &s, tol).expect("terms dropped");
            assert_eq!(c.rank(), f.rank() - count);
            let err = distance(&t, &dense(&c));
            let slack = rounding(f.rank()) * norm(&t);
            assert!(
                err <= bound + slack,
                "τ {tol}: {err:e} above Σν = {bound:e}"
            );
            let rel = err / norm(&t);
            assert!(rel <= tol, "τ {tol}: relative error {rel:e}");
            let own = c.slice();
            let off = (&slice - &own).norm_max() / s.norm_max();
            assert!(off < rounding(f.rank()), "τ {tol}: slice off by {off:e}");
        }
    }
}
