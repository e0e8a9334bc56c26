//! The blocks of [`super::triple4_factored`] side by side, for its map in a few wide GEMMs
//! (issue #16 item 7, the factored order 3's speed): one GEMM per factor role over every block
//! instead of several small ones per block, and each X/Y factor that several blocks share
//! mapped and multiplied once.
//!
//! **Layout.** The blocks' A factors stand side by side in one N × R matrix (R = Σ_t R_t); their
//! X and Y factors in one N × V matrix holding each distinct factor once (V ≤ 2R): the blocks
//! [`super::triple4_factored::carried_blocks`] makes from one carried block share three of
//! their six (diag(β)X, diag(β)Y, diag(γ)A), a fresh star's X = Y, the corrections' and P's
//! identities are one. Shared means the same [`Arc`] (the blocks are built sharing them), so
//! telling them apart costs nothing. A block is found by where its A columns start and which
//! factors are its X and Y.
//!
//! **The sums** over blocks that the map needs are then one GEMM each:
//!
//! ```text
//! G[a,b] = Σ_t [A_t (X_t∘Y_t)ᵀ]_ab                       = [A (X∘Y)ᵀ]_ab
//! H[a,c] = ½ Σ_t [(A_t∘X_t) Y_tᵀ + (A_t∘Y_t) X_tᵀ]_ac     = ½ [L Vᵀ]_ac
//! ```
//!
//! with (X∘Y) the N × R matrix of each block's X_t∘Y_t and L the N × V matrix whose columns at
//! a factor v sum A_t∘(the other factor) over the blocks and roles where v stands (so the H sum
//! runs over V, not 2R, columns). The map through h = W z is A ↦ (W∘W)A, V ↦ W V: a GEMM per run
//! of dense factors, a column scaling of W∘W or W for a diagonal one (a fresh star's diag(s),
//! diag(γ), the identities; the same numbers to the sign of a zero). The results equal the
//! per-block sums to rounding (the order of the sums differs).

use faer::linalg::matmul::matmul;
use std::sync::Arc;

use faer::reborrow::ReborrowMut;
use faer::{Accum, Mat, MatMut, MatRef, Par};

/// An X or Y factor, shared by the blocks that hold it.
pub(super) type Factor = Arc<Mat<f64>>;

/// The diagonal of a square `x` that is zero off it, else None (at its first nonzero there).
pub(super) fn diagonal(x: MatRef<'_, f64>) -> Option<Vec<f64>> {
    let n = x.nrows();
    if x.ncols() != n || (0..n).any(|j| (0..n).any(|i| i != j && x[(i, j)] != 0.0)) {
        return None;
    }
    Some((0..n).map(|i| x[(i, i)]).collect())
}

/// Where one block's factors stand in a [`Wide`].
#[derive(Clone, Copy, Debug)]
pub(super) struct Placed {
    /// The first column of its A in the A factors.
    pub a: usize,
    /// Which of the distinct X/Y factors are its X and its Y.
    pub x: usize,
    pub y: usize,
    /// Its rank R_t.
    pub rank: usize,
    /// Whether its A is diagonal (the block's flag).
    pub diagonal: bool,
    /// How many maps it has been through.
    pub age: usize,
}

/// Blocks side by side (module docs): A factors `rows` × R, distinct X/Y factors `rows` × V,
/// both column-major.
#[derive(Clone, Debug)]
pub(super) struct Wide {
    rows: usize,
    a: Vec<f64>,
    v: Vec<f64>,
    /// (first column, width) of each distinct X/Y factor in `v`, in order…
    factors: Vec<(usize, usize)>,
    /// …and the factor pushed there (none once mapped: nothing is pushed then).
    keys: Vec<Factor>,
    pub placed: Vec<Placed>,
}

impl Wide {
    /// No blocks over `rows` units, room for `a_cols` A and `v_cols` X/Y columns.
    pub fn with_capacity(rows: usize, a_cols: usize, v_cols: usize) -> Self {
        Wide {
            rows,
            a: Vec::with_capacity(rows * a_cols),
            v: Vec::with_capacity(rows * v_cols),
            factors: Vec::new(),
            keys: Vec::new(),
            placed: Vec::new(),
        }
    }

    /// Appends the block (A, X, Y) (`rows` rows each, one rank) with its flags; an X or Y
    /// already held (the same [`Arc`]) is not held twice.
    pub fn push(
        &mut self,
        (a, x, y): (MatRef<'_, f64>, &Factor, &Factor),
        diagonal: bool,
        age: usize,
    ) {
        let at = self.a.len() / self.rows.max(1);
        extend(&mut self.a, a);
        let x = self.factor(x);
        let y = self.factor(y);
        self.placed.push(Placed {
            a: at,
            x,
            y,
            rank: a.ncols(),
            diagonal,
            age,
        });
    }

    /// Which distinct factor `x` is, appended if new.
    fn factor(&mut self, x: &Factor) -> usize {
        if let Some(i) = self.keys.iter().position(|k| Arc::ptr_eq(k, x)) {
            return i;
        }
        let start = self.v.len() / self.rows.max(1);
        extend(&mut self.v, x.as_ref().as_ref());
        self.factors.push((start, x.ncols()));
        self.keys.push(x.clone());
        self.factors.len() - 1
    }

    /// The A factors, `rows` × R.
    pub fn a(&self) -> MatRef<'_, f64> {
        MatRef::from_column_major_slice(&self.a, self.rows, self.a.len() / self.rows.max(1))
    }

    /// The distinct X/Y factors, `rows` × V.
    fn v(&self) -> MatRef<'_, f64> {
        MatRef::from_column_major_slice(&self.v, self.rows, self.v.len() / self.rows.max(1))
    }

    /// Column `j` of the A factors.
    fn a_col(&self, j: usize) -> &[f64] {
        &self.a[j * self.rows..(j + 1) * self.rows]
    }

    /// Column `j` of the distinct X/Y factors.
    fn v_col(&self, j: usize) -> &[f64] {
        &self.v[j * self.rows..(j + 1) * self.rows]
    }

    /// Distinct factor `i`.
    fn factor_at(&self, i: usize) -> MatRef<'_, f64> {
        let (start, width) = self.factors[i];
        self.v().subcols(start, width)
    }

    /// Block `k`'s X.
    pub fn x(&self, k: usize) -> MatRef<'_, f64> {
        self.factor_at(self.placed[k].x)
    }

    /// Block `k`'s Y.
    pub fn y(&self, k: usize) -> MatRef<'_, f64> {
        self.factor_at(self.placed[k].y)
    }

    /// The blocks for which `keep` holds, as (A, X, Y, age), X and Y shared as here.
    pub fn blocks(&self, keep: impl Fn(&Placed) -> bool) -> Vec<(Mat<f64>, Factor, Factor, usize)> {
        let mut owned: Vec<Option<Factor>> = vec![None; self.factors.len()];
        let mut get = |i: usize| -> Factor {
            owned[i]
                .get_or_insert_with(|| Arc::new(crate::io::copied(self.factor_at(i))))
                .clone()
        };
        (self.placed.iter().enumerate())
            .filter(|(_, p)| keep(p))
            .map(|(k, p)| (crate::io::copied(self.a_of(k)), get(p.x), get(p.y), p.age))
            .collect()
    }

    /// Block `k`'s A.
    pub fn a_of(&self, k: usize) -> MatRef<'_, f64> {
        let p = self.placed[k];
        self.a().subcols(p.a, p.rank)
    }

    /// Adds `x` (`rows` × its rank) to block `k`'s A: a block with the same X and Y folded
    /// into it (Σ_r (A + A₂)\[a,r\] ½(X_br Y_cr + X_cr Y_br) is the two blocks' sum).
    pub fn add_to_a(&mut self, k: usize, x: MatRef<'_, f64>) {
        let p = self.placed[k];
        debug_assert_eq!((x.nrows(), x.ncols()), (self.rows, p.rank));
        for r in 0..p.rank {
            let col = &mut self.a[(p.a + r) * self.rows..(p.a + r + 1) * self.rows];
            for (o, &v) in col.iter_mut().zip(x.col(r).iter()) {
                *o += v;
            }
        }
    }

    /// The blocks other than `drop` (indices of `placed`), their factors held as here: those of
    /// a [`Wide`] that was pushed (not mapped).
    pub fn without(&self, drop: &[usize]) -> Wide {
        let mut out = Wide::with_capacity(self.rows, self.a.len() / self.rows.max(1), 0);
        for (k, p) in self.placed.iter().enumerate() {
            if !drop.contains(&k) {
                let (x, y) = (&self.keys[p.x], &self.keys[p.y]);
                out.push((self.a_of(k), x, y), p.diagonal, p.age);
            }
        }
        out
    }

    /// D = Σ_t A_t ((W X_t)∘(W Y_t))ᵀ over the blocks `sel`, N × M: their A factors unmapped,
    /// only the X/Y factors they hold mapped (a diagonal one as W's columns scaled). The blocks'
    /// G after the map is (W∘W) D: G'\[i,j\] = Σ_r \[(W∘W)A\]\[i,r\] (WX)\[j,r\] (WY)\[j,r\]
    /// = Σ_a W_ia² D\[a,j\]: 2NM(R + V) flops and the caller's 2M²N for (W∘W)D, instead of
    /// the 2NM(R + V) + 2M²R of mapping A and the factors and forming G from A' (R, V: the
    /// blocks' rank and distinct factor columns).
    pub fn g_mapped(&self, sel: &[usize], w: MatRef<'_, f64>) -> Mat<f64> {
        let (n, m) = (self.rows, w.nrows());
        // W times each factor `sel` holds (the others left empty).
        let mut mapped: Vec<Mat<f64>> = vec![crate::io::zeroed(0, 0); self.factors.len()];
        for &k in sel {
            let p = self.placed[k];
            for f in [p.x, p.y] {
                if mapped[f].ncols() == 0 {
                    let x = self.factor_at(f);
                    let data = map_columns(w, x, &[(0, x.ncols())]);
                    mapped[f] =
                        crate::io::copied(MatRef::from_column_major_slice(&data, m, x.ncols()));
                }
            }
        }
        let cols = sel.iter().map(|&k| self.placed[k].rank).sum();
        let (mut a, mut xy) = (
            crate::io::zeroed::<f64>(n, cols),
            crate::io::zeroed::<f64>(m, cols),
        );
        let mut c = 0;
        for &k in sel {
            let p = self.placed[k];
            a.as_mut().subcols_mut(c, p.rank).copy_from(self.a_of(k));
            let (x, y) = (&mapped[p.x], &mapped[p.y]);
            for r in 0..p.rank {
                let out = xy.col_as_slice_mut(c + r);
                for ((o, &xi), &yi) in out.iter_mut().zip(x.col_as_slice(r)).zip(y.col_as_slice(r))
                {
                    *o = xi * yi;
                }
            }
            c += p.rank;
        }
        let mut d = crate::io::zeroed(n, m);
        matmul(
            d.as_mut(),
            Accum::Replace,
            a.as_ref(),
            xy.transpose(),
            1.0,
            Par::rayon(0),
        );
        d
    }

    /// The blocks through h = W z (`w2` = W∘W): A ↦ (W∘W)A, V ↦ WV, one map older.
    pub fn mapped(&self, w: MatRef<'_, f64>, w2: MatRef<'_, f64>) -> Wide {
        let parts: Vec<(usize, usize)> = self.placed.iter().map(|p| (p.a, p.rank)).collect();
        Wide {
            rows: w.nrows(),
            a: map_columns(w2, self.a(), &parts),
            v: map_columns(w, self.v(), &self.factors),
            factors: self.factors.clone(),
            keys: Vec::new(),
            placed: (self.placed.iter())
                .map(|p| Placed {
                    diagonal: false,
                    age: p.age + 1,
                    ..*p
                })
                .collect(),
        }
    }

    /// G = Σ_t A_t (X_t∘Y_t)ᵀ over the blocks `sel` (module docs). The A factors are read in
    /// place where `sel`'s stand side by side in order ([`Wide::a_run`]), else gathered; the
    /// products X∘Y are written once, into a buffer that is not zeroed first.
    pub fn g_form(&self, sel: &[usize]) -> Mat<f64> {
        let n = self.rows;
        let cols: usize = sel.iter().map(|&k| self.placed[k].rank).sum();
        let mut gathered = Vec::new();
        let a = match self.a_run(sel) {
            Some(start) => self.a().subcols(start, cols),
            None => {
                gathered.reserve_exact(n * cols);
                for &k in sel {
                    let p = self.placed[k];
                    gathered.extend_from_slice(&self.a[p.a * n..(p.a + p.rank) * n]);
                }
                MatRef::from_column_major_slice(&gathered, n, cols)
            }
        };
        let mut xy = Vec::with_capacity(n * cols);
        for &k in sel {
            let p = self.placed[k];
            let (x, y) = (self.factors[p.x].0, self.factors[p.y].0);
            for r in 0..p.rank {
                let (xs, ys) = (self.v_col(x + r), self.v_col(y + r));
                xy.extend(xs.iter().zip(ys).map(|(&xi, &yi)| xi * yi));
            }
        }
        let xy = MatRef::from_column_major_slice(&xy, n, cols);
        let mut g = crate::io::zeroed(n, n);
        matmul(
            g.as_mut(),
            Accum::Replace,
            a,
            xy.transpose(),
            1.0,
            Par::rayon(0),
        );
        g
    }

    /// The first A column of the blocks `sel` where they stand side by side in `a`, in the
    /// order given (each block's columns right after the previous one's), else None.
    fn a_run(&self, sel: &[usize]) -> Option<usize> {
        if self.rows == 0 {
            return None;
        }
        let first = self.placed[*sel.first()?].a;
        let mut next = first;
        for &k in sel {
            let p = self.placed[k];
            if p.a != next {
                return None;
            }
            next += p.rank;
        }
        Some(first)
    }

    /// H = ½ Σ_t \[(A_t∘X_t)Y_tᵀ + (A_t∘Y_t)X_tᵀ\] over the blocks `sel`, as ½ L Vᵀ over the
    /// factors they hold (module docs).
    pub fn h_form(&self, sel: &[usize]) -> Mat<f64> {
        let n = self.rows;
        // The factors `sel` holds, each at its column of L.
        let mut at: Vec<Option<usize>> = vec![None; self.factors.len()];
        let mut cols = 0;
        for &k in sel {
            let p = self.placed[k];
            for f in [p.x, p.y] {
                if at[f].is_none() {
                    at[f] = Some(cols);
                    cols += self.factors[f].1;
                }
            }
        }
        // V's columns in L's order: a view of the factors where those `sel` holds are the
        // first ones in their own order (then L's columns are V's), else gathered.
        let prefix = n > 0
            && at
                .iter()
                .zip(&self.factors)
                .take_while(|(c, _)| c.is_some())
                .all(|(&c, &(start, _))| c == Some(start))
            && at.iter().skip_while(|c| c.is_some()).all(Option::is_none);
        let mut gathered = Vec::new();
        let v = if prefix {
            self.v().subcols(0, cols)
        } else {
            let mut order: Vec<(usize, usize)> = (at.iter().enumerate())
                .filter_map(|(f, &c)| Some((c?, f)))
                .collect();
            order.sort_unstable();
            gathered.reserve_exact(n * cols);
            for (_, f) in order {
                let (start, width) = self.factors[f];
                gathered.extend_from_slice(&self.v[start * n..(start + width) * n]);
            }
            MatRef::from_column_major_slice(&gathered, n, cols)
        };
        let mut l = crate::io::zeroed::<f64>(n, cols);
        for &k in sel {
            let p = self.placed[k];
            let (x, y) = (self.factors[p.x].0, self.factors[p.y].0);
            let (lx, ly) = (at[p.x].unwrap_or(0), at[p.y].unwrap_or(0));
            for r in 0..p.rank {
                let a = self.a_col(p.a + r);
                for (other, col) in [(x, ly), (y, lx)] {
                    let out = l.col_as_slice_mut(col + r);
                    for ((o, &ai), &fi) in out.iter_mut().zip(a).zip(self.v_col(other + r)) {
                        *o += ai * fi;
                    }
                }
            }
        }
        let mut h = crate::io::zeroed(n, n);
        matmul(
            h.as_mut(),
            Accum::Replace,
            l.as_ref(),
            v.transpose(),
            0.5,
            Par::rayon(0),
        );
        h
    }
}

/// The columns of the distinct factors among `factors` (a [`Wide`]'s V for them).
pub(super) fn distinct_columns<'a>(factors: impl Iterator<Item = &'a Factor>) -> usize {
    let mut seen: Vec<&Factor> = Vec::new();
    for x in factors {
        if !seen.iter().any(|s| Arc::ptr_eq(s, x)) {
            seen.push(x);
        }
    }
    seen.iter().map(|x| x.ncols()).sum()
}

/// Appends `x`'s columns to the column-major `data`.
fn extend(data: &mut Vec<f64>, x: MatRef<'_, f64>) {
    data.reserve(x.nrows() * x.ncols());
    for j in 0..x.ncols() {
        match x.col(j).try_as_col_major() {
            Some(c) => data.extend_from_slice(c.as_slice()),
            None => data.extend(x.col(j).iter()),
        }
    }
}

/// `w` · `x` for the factors side by side in `x` (`parts`: first column and width of each, in
/// order, covering `x`), column-major: a GEMM per run of dense factors, the columns of `w`
/// scaled for a diagonal one.
fn map_columns(w: MatRef<'_, f64>, x: MatRef<'_, f64>, parts: &[(usize, usize)]) -> Vec<f64> {
    let m = w.nrows();
    let mut data = vec![0.0; m * x.ncols()];
    let mut out = MatMut::from_column_major_slice_mut(&mut data, m, x.ncols());
    let mut run: Option<(usize, usize)> = None;
    let flush = |out: &mut MatMut<'_, f64>, run: &mut Option<(usize, usize)>| {
        if let Some((start, width)) = run.take() {
            let dst = out.rb_mut().subcols_mut(start, width);
            matmul(
                dst,
                Accum::Replace,
                w,
                x.subcols(start, width),
                1.0,
                Par::rayon(0),
            );
        }
    };
    for &(start, width) in parts {
        if let Some(d) = diagonal(x.subcols(start, width)) {
            flush(&mut out, &mut run);
            for (j, dj) in d.iter().enumerate() {
                for i in 0..m {
                    out[(i, start + j)] = w[(i, j)] * dj;
                }
            }
        } else {
            run = match run {
                Some((s, wd)) => Some((s, wd + width)),
                None => Some((start, width)),
            };
        }
    }
    flush(&mut out, &mut run);
    data
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};
    use rand_distr::StandardNormal;

    fn random(rows: usize, cols: usize, rng: &mut StdRng) -> Mat<f64> {
        Mat::from_fn(rows, cols, |_, _| rng.sample::<f64, _>(StandardNormal))
    }

    /// G and H read the A factors in place where the selection's blocks stand side by side in
    /// the order given (a run from any column) and the X/Y factors in place where those held
    /// are the first ones in their own order; else they gather them. Over every ordered
    /// selection of three blocks (both paths, a run from column 0 and from a later one), both
    /// equal the per-block sums: a view taken where a gather is needed (a selection out of
    /// order, with a gap, or factors not a prefix) reads other columns and fails this.
    #[test]
    fn forms_in_place_and_gathered_equal_the_per_block_sums() {
        let n = 7;
        let mut rng = StdRng::seed_from_u64(29);
        let mut arc = |cols: usize| Arc::new(random(n, cols, &mut rng));
        let (x1, y1, y2, x3) = (arc(n), arc(n), arc(n), arc(3));
        let (a1, a2, a3) = (
            random(n, n, &mut rng),
            random(n, n, &mut rng),
            random(n, 3, &mut rng),
        );
        let blocks = [(&a1, &x1, &y1), (&a2, &y1, &y2), (&a3, &x3, &x3)];
        let mut wide = Wide::with_capacity(n, 0, 0);
        for (a, x, y) in blocks {
            wide.push((a.as_ref(), x, y), false, 0);
        }
        let per_block: Vec<(Mat<f64>, Mat<f64>)> = (blocks.iter())
            .map(|(a, x, y)| {
                let (x, y) = (x.as_ref(), y.as_ref());
                let xy = Mat::from_fn(n, x.ncols(), |i, r| x[(i, r)] * y[(i, r)]);
                let ax = Mat::from_fn(n, x.ncols(), |i, r| a[(i, r)] * x[(i, r)]);
                let ay = Mat::from_fn(n, x.ncols(), |i, r| a[(i, r)] * y[(i, r)]);
                let h = (&ax * y.transpose() + &ay * x.transpose()) * faer::Scale(0.5);
                (*a * xy.transpose(), h)
            })
            .collect();
        assert_eq!(wide.a_run(&[0, 1, 2]), Some(0));
        assert_eq!(wide.a_run(&[1, 2]), Some(n));
        assert_eq!(wide.a_run(&[2, 1]), None);
        assert_eq!(wide.a_run(&[0, 2]), None);
        let mut selections: Vec<Vec<usize>> = Vec::new();
        for i in 0..3 {
            selections.push(vec![i]);
            for j in (0..3).filter(|&j| j != i) {
                selections.push(vec![i, j]);
                selections.push(vec![i, j, 3 - i - j]);
            }
        }
        assert_eq!(selections.len(), 15);
        for sel in &selections {
            let mut g = Mat::<f64>::zeros(n, n);
            let mut h = Mat::<f64>::zeros(n, n);
            for &k in sel {
                g += &per_block[k].0;
                h += &per_block[k].1;
            }
            let (got_g, got_h) = (wide.g_form(sel), wide.h_form(sel));
            assert!((&got_g - &g).norm_max() < 1e-13 * g.norm_max(), "G {sel:?}");
            assert!((&got_h - &h).norm_max() < 1e-13 * h.norm_max(), "H {sel:?}");
        }
    }

    /// Three blocks sharing factors (the second's X is the first's Y, the third's X = Y) and
    /// a diagonal A: the sums equal the per-block products, the map equals the per-factor
    /// products, and the shared factors are held once.
    #[test]
    fn sums_and_map_equal_the_per_block_products() {
        let (m, n) = (5, 6);
        let mut rng = StdRng::seed_from_u64(11);
        let d = Mat::from_fn(n, n, |i, j| if i == j { i as f64 - 2.5 } else { 0.0 });
        let mut arc = |cols: usize| Arc::new(random(n, cols, &mut rng));
        let (x1, y1, y2, x3) = (arc(n), arc(n), arc(n), arc(2));
        let (a2, a3) = (random(n, n, &mut rng), random(n, 2, &mut rng));
        let blocks = [(&d, &x1, &y1), (&a2, &y1, &y2), (&a3, &x3, &x3)];
        let mut wide = Wide::with_capacity(n, 0, 0);
        for (k, (a, x, y)) in blocks.iter().enumerate() {
            wide.push((a.as_ref(), x, y), k == 0, 0);
        }
        // x1, y1, y2 and x3, each once.
        assert_eq!(wide.v().ncols(), 3 * n + 2);
        assert_eq!(
            distinct_columns(blocks.iter().flat_map(|b| [b.1, b.2])),
            3 * n + 2
        );
        let mut g = Mat::<f64>::zeros(n, n);
        let mut h = Mat::<f64>::zeros(n, n);
        for (a, x, y) in blocks {
            let (x, y) = (x.as_ref(), y.as_ref());
            let xy = Mat::from_fn(n, x.ncols(), |i, r| x[(i, r)] * y[(i, r)]);
            g += a * xy.transpose();
            let ax = Mat::from_fn(n, x.ncols(), |i, r| a[(i, r)] * x[(i, r)]);
            let ay = Mat::from_fn(n, x.ncols(), |i, r| a[(i, r)] * y[(i, r)]);
            h += (&ax * y.transpose() + &ay * x.transpose()) * faer::Scale(0.5);
        }
        assert!((wide.g_form(&[0, 1, 2]) - &g).norm_max() < 1e-13 * g.norm_max());
        let parts = wide.g_form(&[2, 0]) + wide.g_form(&[1]);
        assert!((parts - &g).norm_max() < 1e-13 * g.norm_max());
        assert!((wide.h_form(&[0, 1, 2]) - &h).norm_max() < 1e-13 * h.norm_max());
        let parts = wide.h_form(&[1]) + wide.h_form(&[2, 0]);
        assert!((parts - &h).norm_max() < 1e-13 * h.norm_max());
        let w = random(m, n, &mut rng);
        let w2 = Mat::from_fn(m, n, |i, j| w[(i, j)] * w[(i, j)]);
        let mapped = wide.mapped(w.as_ref(), w2.as_ref());
        for (k, (a, x, y)) in blocks.iter().enumerate() {
            let close = |got: MatRef<'_, f64>, want: Mat<f64>| {
                (got - &want).norm_max() <= 1e-14 * want.norm_max()
            };
            assert!(close(mapped.a_of(k), &w2 * *a), "A of {k}");
            assert!(close(mapped.x(k), &w * x.as_ref()), "X of {k}");
            assert!(close(mapped.y(k), &w * y.as_ref()), "Y of {k}");
            assert_eq!(mapped.placed[k].age, 1);
        }
        // G of the mapped blocks from their unmapped A: (W∘W)D, D = Σ_t A_t (WX_t ∘ WY_t)ᵀ.
        let tol = |x: &Mat<f64>| 1e-13 * x.norm_max();
        for sel in [vec![1, 2], vec![0, 1, 2]] {
            let want = mapped.g_form(&sel);
            let got = &w2 * wide.g_mapped(&sel, w.as_ref());
            assert!((&got - &want).norm_max() < tol(&want), "{sel:?}");
        }
        // Without the second block: the others, their shared factors held once.
        let rest = wide.without(&[1]);
        assert_eq!(rest.placed.len(), 2);
        assert_eq!(rest.v().ncols(), 2 * n + 2);
        let want = mapped.h_form(&[0, 2]);
        let got = rest.mapped(w.as_ref(), w2.as_ref()).h_form(&[0, 1]);
        assert!((&got - &want).norm_max() < tol(&want));
    }
}
