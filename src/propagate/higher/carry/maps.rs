//! One layer's maps of the carried tensors (full, paired, sliced), the fallbacks that drop
//! them, and the divergence that abandons the run.

use super::*;

impl Carry {
    /// Records that the series diverged at hidden layer `l`: the first such layer abandons the
    /// run (unless its first closure was corrected), listed first among the fallbacks, at the
    /// first hidden layer.
    pub(super) fn diverge(&mut self, l: usize) {
        if self.diverged.is_none() && !self.first_corrected {
            self.diverged = Some(l);
            self.fallbacks.insert(
                0,
                Fallback {
                    layer: self.from + 1,
                    reason: format!(
                        "the series diverged at layer {l}: the whole run is the Gaussian \
                         closure's"
                    ),
                },
            );
        }
    }

    /// Whether hidden layer `l` is the last one and only the output's moments are wanted: its
    /// h is held as slices and its closure writes no tensors.
    pub(super) fn sliced_at(&self, l: usize) -> bool {
        self.moments_only && (l == self.depth || self.stars.is_some())
    }

    /// The κ₃ and κ₄ the rule reads for class `c` at hidden layer `l`'s h.
    pub(super) fn kappa(&self, l: usize, c: usize) -> (&dyn Kappa3, Option<&dyn Kappa4>) {
        if self.zero_pre.get(c) == Some(&true) {
            return (&ZeroKappa, Some(&ZeroKappa));
        }
        match self.sliced.get(c) {
            Some(s) if self.sliced_at(l) => {
                let k4: &dyn Kappa4 = match (self.unpaired_pre.get(c), self.triple_pre.get(c)) {
                    _ if self.order() >= 4 => s,
                    (Some(Some(u)), _) => u,
                    (_, Some(Some(t))) => t,
                    _ => &self.paired_pre[c],
                };
                (s, Some(k4))
            }
            _ => {
                let t = &self.pre[c];
                match (self.unpaired_pre.get(c), self.triple_pre.get(c)) {
                    (Some(Some(u)), _) => (&t.k3, Some(u)),
                    (_, Some(Some(p))) => (&t.k3, Some(p)),
                    _ => (&t.k3, k4_view(&self.paired_pre, c, t)),
                }
            }
        }
    }

    /// `pre[c]` = W·current[c] per class, slices attached to `out` (`readout`: `out` is y).
    pub(super) fn map(
        &mut self,
        layer: &Layer,
        out: &mut [Moments],
        timings: &Timings,
        readout: bool,
    ) -> Result<()> {
        let (m, n) = (layer.fan_out(), layer.fan_in());
        self.zero_pre = self.zero.clone();
        let zero = |c: usize| self.zero.get(c) == Some(&true);
        for (c, ((cur, pre), o)) in self
            .current
            .iter()
            .zip(&mut self.pre)
            .zip(out.iter_mut())
            .enumerate()
        {
            if zero(c) {
                // W·0 = 0: h's tensors are not formed.
                attach_zero(o, m);
                continue;
            }
            if pre.k3.dim() != m {
                *pre = Tensors::gaussian(m, self.rule.order());
            }
            let flops = tensor_affine_flops(m, n, 3);
            timings.time("kappa affine", flops, || {
                affine_tensor(layer.w.as_ref(), &cur.k3, &mut pre.k3, &mut self.ws)
            })?;
            if let (Some(c4), Some(p4)) = (&cur.k4, &mut pre.k4) {
                let flops = tensor_affine_flops(m, n, 4);
                timings.time("kappa affine", flops, || {
                    affine_tensor(layer.w.as_ref(), c4, p4, &mut self.ws)
                })?;
                if self.distinct4.is_some() {
                    cut(p4);
                }
            }
            if !pre.k3.is_finite() || pre.k4.as_ref().is_some_and(|t| !t.is_finite()) {
                return Err(Error::Numeric(format!(
                    "the affine map of the carried κ tensors into width {m} overflowed"
                )));
            }
            attach(o, &pre.k3, pre.k4.as_ref());
        }
        // A Gaussian class's h is not formed (its blocks are not mapped): skewness 0.
        let skews: Vec<f64> = (out.iter().zip(&self.pre).enumerate())
            .map(|(c, (o, t))| {
                if zero(c) {
                    0.0
                } else {
                    standardised(o, &t.k3, None).0
                }
            })
            .collect();
        self.map_paired(layer, out, timings, (!readout).then_some(&skews[..]));
        Ok(())
    }

    /// Order 3: the paired κ₄ of every class mapped into `out`'s stage (zero from a Gaussian
    /// stage) and attached to its moments; `skews`: per class, h's largest standardised
    /// skewness as `enter` checks it (None at the read-out, whose blocks nothing reads).
    fn map_paired(
        &mut self,
        layer: &Layer,
        out: &mut [Moments],
        timings: &Timings,
        skews: Option<&[f64]>,
    ) {
        let (m, n) = (layer.fan_out(), layer.fan_in());
        self.unformed = (self.paired.iter().enumerate())
            .map(|(c, z)| {
                self.zero.get(c) != Some(&true)
                    && self.leaves_unformed(skews.and_then(|s| s.get(c)), z)
            })
            .collect();
        self.unformed_count += self.unformed.iter().filter(|&&u| u).count();
        for (c, ((cur, pre), o)) in self
            .paired
            .iter()
            .zip(&mut self.paired_pre)
            .zip(out.iter_mut())
            .enumerate()
        {
            let zero = self.zero.get(c) == Some(&true);
            if self.unformed[c] {
                // `enter` drops h's κ₄: none of it is formed (symmetric_unformed).
                *pre = Paired::zeros(m);
                if let Some(slot) = self.blocks.get_mut(c) {
                    *slot = None;
                }
                self.triple_pre.resize(c + 1, None);
                self.triple_pre[c] = None;
                self.unpaired_pre.resize(c + 1, None);
                self.unpaired_pre[c] = None;
                *o.natural_slices_mut().k4_iijj = None;
                continue;
            }
            if zero {
                *pre = Paired::zeros(m);
            } else if self.leading_paired && self.quartic.is_none() {
                let flops = paired_leading_flops(m, n);
                *pre = timings.time("kappa affine", flops, || {
                    affine_paired_leading(layer.w.as_ref(), cur)
                });
            } else {
                let flops = paired_affine_flops(m, n);
                *pre = timings.time("kappa affine", flops, || {
                    affine_paired(layer.w.as_ref(), cur)
                });
            }
            let z = self
                .unpaired
                .get(c)
                .and_then(Option::as_ref)
                .filter(|_| !zero);
            let h = if let Some(z) = z {
                let flops = unpaired_map_flops(m, n);
                let h = timings.time("kappa affine", flops, || {
                    z.map(layer.w.as_ref(), std::mem::replace(pre, Paired::zeros(0)))
                });
                pre.0.clone_from(&h.paired.0);
                Some(h)
            } else {
                if let (false, Some(slot)) = (zero, self.blocks.get_mut(c)) {
                    // h's blocks are read unless this is the read-out or h is symmetric (its
                    // paired κ₄ is then dropped by `enter`'s check when the kurtosis is not 0).
                    let read = skews.is_some_and(|s| {
                        s.get(c)
                            .is_some_and(|&k| k >= SYMMETRIC_SKEW || self.quartic.is_some())
                    });
                    if let (Some(zq), true) = (slot.as_mut(), read) {
                        zq.paired = cur.clone();
                        let flops = zq.map_with_flops(m, self.generations, self.dropped);
                        let (mut hq, image) = timings.time("kappa affine", flops, || {
                            zq.map_with(layer.w.as_ref(), self.generations, self.dropped)
                        });
                        if self.quartic.is_some() {
                            let flops = 4.0 * (m * m * n + m * n * n) as f64;
                            let t = timings
                                .time("kappa affine", flops, || zq.triple_map(layer.w.as_ref()));
                            hq.add_triple(&t);
                            let with_p = self.mixed_paired;
                            let flops = zq.mixed_flops(m, with_p);
                            let (p, t) = timings
                                .time("kappa affine", flops, || zq.mixed(layer.w.as_ref(), with_p));
                            hq.add_triple(&t);
                            if let Some(p) = p {
                                pre.0 += &p;
                            }
                        }
                        pre.0 += &image;
                        *zq = hq;
                    } else if let Some(zq) = slot.as_ref() {
                        let flops = zq.image_flops(m);
                        pre.0 +=
                            &timings.time("kappa affine", flops, || zq.image(layer.w.as_ref()));
                    }
                    if let (true, Some(Some(star))) = (slot.is_some(), self.star4.get(c)) {
                        let total = self.star_total.get(c).and_then(Option::as_ref);
                        let flops = star.flops(m, total.is_some());
                        pre.0 += timings.time("kappa affine", flops, || {
                            star.image_with(layer.w.as_ref(), total)
                        });
                    }
                    if !read {
                        *slot = unread_blocks(
                            slot.take(),
                            skews,
                            pre,
                            o,
                            layer.w.as_ref(),
                            cur,
                            self.generations,
                        );
                    }
                    // The factored order 4: z's star over four distinct units, imaged in a
                    // hidden h's P and T (nothing reads the read-out's).
                    let star = (self.quartic.as_ref())
                        .and_then(|q| q.get(c))
                        .and_then(Option::as_ref)
                        .filter(|_| skews.is_some());
                    if let Some(star) = star {
                        let flops = star.flops(m);
                        let (p, t) =
                            timings.time("kappa affine", flops, || star.image(layer.w.as_ref()));
                        pre.0 += &p;
                        if let Some(hq) = slot.as_mut() {
                            hq.add_triple(&t);
                        }
                    }
                }
                self.triple_pre.resize(c + 1, None);
                self.triple_pre[c] = self
                    .blocks
                    .get(c)
                    .and_then(Option::as_ref)
                    .filter(|_| !zero)
                    .map(|hq| PairedTriple::new(pre.clone(), hq.triple().clone()));
                None
            };
            *o.natural_slices_mut().k4_iijj = Some(crate::io::copied(pre.0.as_ref()));
            self.unpaired_pre.resize(c + 1, None);
            self.unpaired_pre[c] = h;
        }
        // The contractions were of this map's W: none is read by a later one.
        self.star_total.clear();
    }

    /// Whether [`Carry::map_paired`] leaves h's κ₄ unformed ([`Carry::symmetric_unformed`]):
    /// the factored order 3 (no order 4 star, which keeps a symmetric h's κ₄), a hidden h
    /// whose largest standardised skewness `skew` is below [`SYMMETRIC_SKEW`] (None: the
    /// read-out), and z's paired κ₄ `z` with a non-zero κ₄\[a,a,a,a\]. `enter`'s check drops
    /// a symmetric h's κ₄ where h's kurtosis is not 0, and h's κ₄\[i,i,i,i\] sums z's
    /// κ₄\[a,a,a,a\] with weights W_ia⁴ among the other entries: it vanishes at every unit
    /// only where z's does (a Gaussian z: the κ₄ formed is then kept, zero, as before) or by
    /// exact cancellation, which no network of the suite or the ARC benchmark meets.
    fn leaves_unformed(&self, skew: Option<&f64>, z: &Paired) -> bool {
        #[cfg(test)]
        if self.form_symmetric {
            return false;
        }
        self.stars.is_some()
            && self.quartic.is_none()
            && skew.is_some_and(|&s| s < SYMMETRIC_SKEW)
            && (0..z.0.nrows()).any(|a| z.0[(a, a)] != 0.0)
    }

    /// The last hidden layer's h as slices ([`crate::propagate::higher::sliced`]) per class, attached to `out`;
    /// order 3's paired κ₄ mapped as in [`Carry::map`].
    /// With [`Carry::compressed`], h's factored κ₃ is compressed where a closure reads it
    /// (`hidden`), with its slice.
    pub(super) fn map_sliced(
        &mut self,
        layer: &Layer,
        out: &mut [Moments],
        timings: &Timings,
        hidden: bool,
    ) -> Result<()> {
        let (m, n) = (layer.fan_out(), layer.fan_in());
        let order = self.order();
        self.sliced.clear();
        self.zero_pre = self.zero.clone();
        if self.stars.is_some() {
            self.fh.clear();
        }
        for (c, o) in out.iter_mut().enumerate() {
            if self.zero.get(c) == Some(&true) {
                attach_zero(o, m);
                self.sliced.push(Sliced::zeros(m, order));
                if self.stars.is_some() {
                    self.fh.push(Factored::zeros(m));
                }
                continue;
            }
            if self.stars.is_some() {
                // z's factors are mapped in place into h's.
                let FactoredZ {
                    kappa3,
                    own,
                    repeated,
                } = &mut self.fz[c];
                let flops = kappa3.map_flops(m);
                timings.time("kappa affine", flops, || {
                    kappa3.map(layer.w.as_ref(), own, repeated)
                })?;
                let mut fh = std::mem::replace(kappa3, Factored::zeros(0));
                // h's slice over the columns z's κ₃ term leads from its contraction, formed
                // once for the image as well.
                let star = self.star4.get(c).and_then(Option::as_ref);
                let flops = star.map_or(0.0, |s| s.next_slice_flops(m));
                let lead = timings.time("kappa affine", flops, || {
                    star.and_then(|s| s.next_slice(layer.w.as_ref(), &fh))
                });
                let (mut slice, total) = match lead {
                    Some((slice, total)) => (slice, Some(total)),
                    None => (fh.slice(), None),
                };
                if let (Some(tol), true) = (self.compress, hidden) {
                    let kept = timings.time("kappa compress", 0.0, || compress(&fh, &slice, tol));
                    if let Some((c, s)) = kept {
                        (fh, slice) = (c, s);
                    }
                }
                self.star_total.resize(c + 1, None);
                self.star_total[c] = total;
                if !slice.is_all_finite() {
                    return Err(Error::Numeric(format!(
                        "the affine map of the factored κ₃ into width {m} overflowed"
                    )));
                }
                *o.natural_slices_mut().k3_iij = Some(slice.clone());
                *o.natural_slices_mut().k4_iijj = Some(Mat::zeros(m, m));
                self.sliced.push(Sliced::new(slice, None));
                self.fh.push(fh);
                continue;
            }
            let cur = &self.current[c];
            let flops = sliced_affine_flops(m, n, order);
            let s = timings.time("kappa affine", flops, || {
                affine_sliced(
                    layer.w.as_ref(),
                    &cur.k3,
                    cur.k4.as_ref(),
                    &mut self.slice_ws,
                )
            });
            let finite = |x: &Mat<f64>| x.is_all_finite();
            if !finite(&s.k3_aab) || s.k4.as_ref().is_some_and(|k| !k.iter().all(finite)) {
                return Err(Error::Numeric(format!(
                    "the affine map of the carried κ slices into width {m} overflowed"
                )));
            }
            *o.natural_slices_mut().k3_iij = Some(crate::io::copied(s.k3_aab.as_ref()));
            *o.natural_slices_mut().k4_iijj = Some(
                s.k4.as_ref()
                    .map_or_else(|| Mat::zeros(m, m), |k| k[0].clone()),
            );
            self.sliced.push(s);
        }
        let skews: Vec<f64> = (out.iter().zip(&self.sliced))
            .map(|(o, s)| standardised(o, s, None).0)
            .collect();
        self.map_paired(layer, out, timings, Some(&skews));
        Ok(())
    }

    /// Breakdown seen one layer late: where a unit of h^l (`pre`, just mapped) has a negative
    /// variance, the carried orders' correction of z^{l−1} (Δm, ΔC) is undone in h^l, i.e.
    /// h^l's mean and covariance become W(m + Δm − Δm), W(C + ΔC − ΔC)Wᵀ: those of z^{l−1}'s
    /// Gaussian closure mapped; h^l's carried tensors are dropped as well (the layer falls
    /// back, listed at l − 1).
    pub(super) fn undo_negative(&mut self, l: usize, layer: &Layer, pre: &mut [Moments]) {
        for (c, h) in pre.iter_mut().enumerate() {
            if (0..h.dim()).all(|a| h.cov[(a, a)] >= 0.0) {
                continue;
            }
            let Some(Some(inc)) = self.last.get(c) else {
                continue;
            };
            unmap_increments(h, layer.w.as_ref(), inc);
            self.diverge(l - 1);
            self.fallbacks.push(Fallback {
                layer: l - 1,
                reason: format!(
                    "class {c}: h{l} had a negative variance: z{}'s carried correction undone",
                    l - 1
                ),
            });
            self.drop_class(c, h);
        }
    }

    /// What class `c`'s z supplies to the image of its κ₄\[a,a,b,c\] ([`crate::propagate::higher::star4`]): h's
    /// covariance `cov`, the units' coefficients and h's κ₃ (none where h is Gaussian), held
    /// factored or dense.
    pub(super) fn star4_of(
        &self,
        c: usize,
        cov: &Mat<f64>,
        units: &[UnitChaos],
        factored: bool,
    ) -> Star4 {
        let star = Star4::new(cov, units);
        if self.zero_pre.get(c) == Some(&true) {
            star
        } else if let (true, Some(stars)) = (factored, &self.stars) {
            star.with_kappa3(HKappa3::factored_with_slice(
                self.fh[c].clone(),
                crate::io::copied(self.sliced[c].k3_aab.as_ref()),
                stars.full_is_beta(),
            ))
        } else {
            star.with_kappa3(HKappa3::Dense(self.pre[c].k3.clone()))
        }
    }

    /// Drops class `c`'s carried tensors of the mapped stage (h taken as Gaussian) and the
    /// slices attached to its moments `h`.
    pub(super) fn drop_class(&mut self, c: usize, h: &mut Moments) {
        let t = &mut self.pre[c];
        t.k3.data_mut().fill(0.0);
        if let Some(k4) = &mut t.k4 {
            k4.data_mut().fill(0.0);
        }
        if let Some(p) = self.paired_pre.get_mut(c) {
            p.0.fill(0.0);
        }
        if let Some(u) = self.unpaired_pre.get_mut(c) {
            *u = None;
        }
        if let Some(b) = self.blocks.get_mut(c) {
            *b = None;
        }
        if let Some(t) = self.triple_pre.get_mut(c) {
            *t = None;
        }
        if let Some(s) = self.sliced.get_mut(c) {
            s.clear();
        }
        if let Some(f) = self.fh.get_mut(c) {
            *f = Factored::zeros(f.dim());
        }
        if let Some(z) = self.zero_pre.get_mut(c) {
            *z = true;
        }
        if let Some(u) = self.unformed.get_mut(c) {
            *u = false;
        }
        *h.natural_slices_mut().k3_iij = None;
        *h.natural_slices_mut().k4_iijj = None;
    }
}

/// h's blocks where [`Carry::map_paired`] formed z's image alone: none at the read-out
/// (`skews` None) or where `enter`'s check drops h's paired κ₄ (skewness below
/// [`SYMMETRIC_SKEW`], kurtosis from h's paired κ₄ `pre` not 0); else z's blocks `z` mapped
/// through `w` with z's paired κ₄ `cur` after all.
fn unread_blocks(
    z: Option<Unpaired4Factored>,
    skews: Option<&[f64]>,
    pre: &Paired,
    h: &Moments,
    w: MatRef<'_, f64>,
    cur: &Paired,
    generations: usize,
) -> Option<Unpaired4Factored> {
    let mut z = z?;
    skews?;
    if standardised(h, &ZeroKappa, Some(pre)).1 > 0.0 {
        return None;
    }
    z.paired = cur.clone();
    Some(z.map(w, generations).0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagate::closures::ClosureMethod;
    use crate::propagate::Propagator;
    use faer::Col;

    /// y's moments per class, the fallbacks and the count of unformed κ₄ of the factored order
    /// 3 through `net` from `start` (no breakdown rule: the skewed class is carried to y),
    /// with h's κ₄ formed where symmetric (`form`, the path before sym76) or not.
    fn run(net: &Mlp, start: &[Moments], form: bool) -> (Vec<Moments>, Vec<Fallback>, usize) {
        let n = start[0].dim();
        let mut carry = Carry::from_gaussian(3, n, start.len())
            .unwrap()
            .factored()
            .unwrap()
            .with_rules_from(net.depth() + 1);
        carry.form_symmetric = form;
        let (mut engine, timings) = (Propagator::new(), Timings::disabled());
        let stages = engine.run_carried(net, 0, start, &mut carry, ClosureMethod::Auto, &timings);
        let y = stages
            .unwrap()
            .last()
            .unwrap()
            .f64_moments()
            .unwrap()
            .to_vec();
        (y, carry.fallbacks().to_vec(), carry.symmetric_unformed())
    }

    /// A bias-free tanh network from a zero-mean class (symmetric h at every layer past the
    /// first) and a shifted one (skewed): the symmetric class's h² … h⁴ get no κ₄, the skewed
    /// class's every one, and both classes' output moments and the fallbacks are those of the
    /// path that formed them, bit for bit.
    #[test]
    fn a_symmetric_class_forms_no_kappa4_and_keeps_its_output() {
        let n = 5;
        let cov = Mat::from_fn(n, n, |i, j| if i == j { 1.0 } else { 0.2 });
        let start = [
            Moments::gaussian(Col::zeros(n), cov.clone()),
            Moments::gaussian(Col::from_fn(n, |i| 0.8 + 0.1 * i as f64), cov),
        ];
        for seed in [3, 9] {
            let mut net = Mlp::init(&[n, 7, 6, 5, 7, 3], Activation::Tanh, 1.4, seed).unwrap();
            for layer in &mut net.layers {
                layer.b.fill(0.0);
            }
            let (new, new_fallbacks, unformed) = run(&net, &start, false);
            let (old, old_fallbacks, formed) = run(&net, &start, true);
            assert_eq!((unformed, formed), (3, 0), "seed {seed}: class 0's h² … h⁴");
            assert_eq!(new_fallbacks, old_fallbacks, "seed {seed}");
            let symmetric =
                |f: &Fallback| f.reason.starts_with("class 0") && f.reason.contains("symmetric");
            assert_eq!(
                new_fallbacks.iter().filter(|f| symmetric(f)).count(),
                3,
                "seed {seed}: {new_fallbacks:?}"
            );
            assert!(
                new_fallbacks
                    .iter()
                    .all(|f| !f.reason.starts_with("class 1")),
                "seed {seed}: class 1 is carried: {new_fallbacks:?}"
            );
            for (c, (y, want)) in new.iter().zip(&old).enumerate() {
                assert_eq!(y.mean, want.mean, "seed {seed}, class {c}");
                assert_eq!(y.cov, want.cov, "seed {seed}, class {c}");
            }
        }
    }
}
