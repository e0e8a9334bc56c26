//! The engine's hook ([`CarryHook`]): the carry checked before the run, entered and left at
//! every hidden layer, and read out at y.

use super::*;
use crate::propagate::higher::chaos_range::layer_units;

/// The engine drives the carry through these, layer by layer ([`CarryHook`]).
impl CarryHook for Carry {
    /// Checks the start tensors against the start layer and every width against the memory
    /// limit before anything runs.
    fn check(&mut self, net: &Mlp, from: usize, classes: usize) -> Result<()> {
        self.depth = net.depth();
        self.from = from;
        self.sliced.clear();
        let (tensors, at) = if self.first_measured {
            (&self.pre, from + 1)
        } else {
            (&self.current, from)
        };
        if tensors.len() != classes {
            return Err(Error::Shape(format!(
                "start tensors for {} classes, propagating {classes}",
                tensors.len()
            )));
        }
        if self.first_measured && from >= net.depth() {
            return Err(Error::Shape(format!(
                "tensors of h{} given, but layer {from} is the last hidden layer",
                from + 1
            )));
        }
        let width = net.widths()[at];
        let dims = |t: &Tensors| self.gaussian_width.unwrap_or(t.dim());
        if let Some(t) = tensors.iter().find(|t| dims(t) != width) {
            return Err(Error::Shape(format!(
                "start tensors over {} units, stage {at} has width {width}",
                dims(t)
            )));
        }
        for (l, &n) in net.widths().iter().enumerate().skip(at) {
            check_memory(n, self.order(), classes, l, self.limit)?;
        }
        self.reach_cut(from + 1);
        Ok(())
    }

    /// Maps the tensors through hidden layer `l`'s affine map into h^l and attaches the slices
    /// to `pre`; checks the breakdown criteria on h^l.
    fn enter(
        &mut self,
        l: usize,
        layer: &Layer,
        pre: &mut [Moments],
        timings: &Timings,
    ) -> Result<()> {
        if self.first_measured {
            self.first_measured = false;
            for (c, (o, t)) in pre.iter_mut().zip(&self.pre).enumerate() {
                attach(o, &t.k3, t.k4.as_ref());
                if let Some(p) = self.paired_pre.get(c) {
                    *o.natural_slices_mut().k4_iijj = Some(crate::io::copied(p.0.as_ref()));
                }
            }
        } else if self.sliced_at(l) {
            self.map_sliced(layer, pre, timings, l < self.depth)?;
            self.undo_negative(l, layer, pre);
        } else {
            self.map(layer, pre, timings, false)?;
            self.undo_negative(l, layer, pre);
        }
        let mut check = LayerCheck {
            layer: l,
            skew: 0.0,
            kurtosis: 0.0,
            growth: 0.0,
            shift: 0.0,
            relative: 0.0,
        };
        for (c, h) in pre.iter_mut().enumerate() {
            let (k3, k4) = self.kappa(l, c);
            let (skew, kurt) = standardised(h, k3, k4);
            check.skew = check.skew.max(skew);
            self.h_skew.resize(c + 1, 0.0);
            self.h_skew[c] = skew;
            check.kurtosis = check.kurtosis.max(kurt);
            // An unformed κ₄ (map_paired) is one this check drops: its kurtosis counts 0.
            let unformed = self.unformed.get(c) == Some(&true);
            if self.order() == 3
                && self.quartic.is_none()
                && skew < SYMMETRIC_SKEW
                && (kurt > 0.0 || unformed)
            {
                self.fallbacks.push(Fallback {
                    layer: l,
                    reason: format!(
                        "class {c}: h{l} is symmetric (|skewness| {skew:.1e} < {SYMMETRIC_SKEW}): \
                         the paired κ₄ alone is dropped"
                    ),
                });
                self.paired_pre[c].0.fill(0.0);
                if let Some(u) = self.unpaired_pre.get_mut(c) {
                    *u = None;
                }
                if let Some(b) = self.blocks.get_mut(c) {
                    *b = None;
                }
                if let Some(t) = self.triple_pre.get_mut(c) {
                    *t = None;
                }
                *h.natural_slices_mut().k4_iijj = None;
                if self.stars.is_some() && skew < NOISE_SKEW {
                    self.drop_class(c, h);
                }
            } else if let Some(reason) =
                outside_region(c, l, (skew, kurt), self.limits).filter(|_| l >= self.rules_from)
            {
                self.fallbacks.push(Fallback { layer: l, reason });
                self.drop_class(c, h);
            }
        }
        self.checks.push(check);
        Ok(())
    }

    /// Adds the rule's Δm, ΔC to z^l's moments (the Gaussian closure's output in `post`) and
    /// writes z^l's tensors; attaches z^l's slices.
    fn leave(
        &mut self,
        l: usize,
        act: Activation,
        pre: &mut [Moments],
        post: &mut [Moments],
        timings: &Timings,
    ) -> Result<()> {
        let order = self.order();
        let mut updates = Vec::with_capacity(pre.len());
        // z^{l−1}'s tensors were mapped into `self.pre`: their storage takes z^l's.
        let mut spare = std::mem::take(&mut self.current).into_iter();
        let tensors = !self.sliced_at(l);
        for c in 0..pre.len() {
            let h = &pre[c];
            let units = layer_units(act, h, (l, c))?;
            let (k3, k4) = self.kappa(l, c);
            let input = Input {
                cov: &h.cov,
                k3,
                k4,
                units: &units,
            };
            let (mut inc, beyond) = timings.time("kappa closure", 0.0, || {
                (
                    self.rule.increments(&input),
                    self.rule.beyond_budget(&input),
                )
            });
            if l == self.from + 1
                && (inc.mean.iter().any(|&d| d != 0.0) || inc.cov.norm_max() != 0.0)
            {
                self.first_corrected = true;
            }
            let share = beyond.norm_l2() / (&inc.cov - &beyond).norm_l2();
            let growth = variance_increment(&inc, &post[c]);
            if let Some(check) = self.checks.last_mut() {
                check.growth = check.growth.max(growth);
                check.shift = check.shift.max(mean_shift(&inc, &post[c]));
                check.relative = check
                    .relative
                    .max(inc.cov.norm_l2() / post[c].cov.norm_l2().max(f64::MIN_POSITIVE));
            }
            let rules = l >= self.rules_from;
            let visible = beyond_is_visible(beyond.as_ref(), post[c].cov.as_ref());
            let reason = if rules && visible && share > MAX_BEYOND_SHARE {
                Some(format!(
                    "class {c}: z{l}'s covariance increment beyond the order's power \
                     counting is {share:.3} of the rest (limit {MAX_BEYOND_SHARE})"
                ))
            } else if rules && growth > MAX_VARIANCE_INCREMENT {
                self.diverge(l);
                Some(format!(
                    "class {c}: a unit of z{l} has a variance increment {growth:.3e} times its \
                     Gaussian variance (limit {MAX_VARIANCE_INCREMENT}): the series diverges"
                ))
            } else {
                None
            };
            if let Some(reason) = reason {
                self.fallbacks.push(Fallback { layer: l, reason });
                self.drop_class(c, &mut pre[c]);
                let n = units.len();
                inc = Increments {
                    mean: vec![0.0; n],
                    cov: Mat::zeros(n, n),
                };
            }
            let kept = guard_units(&mut inc, &post[c]);
            if kept < units.len() {
                self.gaussian_units.push(GaussianUnits {
                    layer: l,
                    class: c,
                    units: units.len() - kept,
                });
            }
            let stars = self.stars.as_ref().filter(|_| l < self.depth);
            if !tensors && stars.is_none() {
                updates.push((inc, ZUpdate::Moments));
                continue;
            }
            // z's κ₄[a,a,b,c]: the fresh blocks and h's carried ones (its κ₃ term imaged), held
            // until the closure gives z's κ₄[a,a,a,b] (h's blocks are read until then).
            let mut blocks = None;
            if order == 3 && self.leading_paired {
                self.star4.resize(pre.len(), None);
                let star = self.star4_of(c, &pre[c].cov, &units, stars.is_some());
                self.blocks.resize(pre.len(), None);
                let mut fresh = fresh_blocks(&star);
                if let Some(h) = &self.blocks[c] {
                    fresh.extend(carried_blocks(h, &units));
                }
                if let Some(tol) = self.blocks_tol {
                    fresh = timings
                        .time("kappa truncate", 0.0, || truncate(fresh, tol))
                        .0;
                }
                // With `kappa3_blocks` its κ₃ term is carried as blocks, not imaged once (where
                // h's κ₃ is not rounding noise: tanh's at order 4, which keeps it).
                let noise = self.h_skew.get(c).is_none_or(|&s| s < NOISE_SKEW);
                let k3 = (self.kappa3_blocks && !noise)
                    .then(|| kappa3_blocks(&star))
                    .flatten()
                    .filter(|k3| !k3.is_empty());
                self.star4[c] = match k3 {
                    Some(k3) => {
                        fresh.extend(k3);
                        None
                    }
                    None => Some(kappa3_part(star)),
                };
                blocks = Some(fresh);
                if let Some(q) = self.quartic.as_mut() {
                    q.resize(pre.len(), None);
                    q[c] = Some(QuarticStar::new(&pre[c].cov, &units));
                }
            }
            let n = units.len();
            let mut triple = Mat::zeros(n, n);
            // h's factors become z's (scaled in place).
            let fh = stars.map(|_| std::mem::replace(&mut self.fh[c], Factored::zeros(0)));
            let (k3, k4) = self.kappa(l, c);
            let input = Input {
                cov: &pre[c].cov,
                k3,
                k4,
                units: &units,
            };
            if let (Some(stars), Some(fh)) = (stars, fh) {
                let sh = &self.sliced[c].k3_aab;
                let (fz, paired, t) = timings.time("kappa closure", 0.0, || {
                    let (repeated, paired, t) = self.rule.slices_unpaired(&input);
                    let (kappa3, own) = stars.closure(&pre[c].cov, fh, sh, &units);
                    let fz = FactoredZ {
                        kappa3,
                        own,
                        repeated,
                    };
                    (Box::new(fz), paired, t)
                });
                if let Some(blocks) = blocks {
                    self.blocks[c] = Some(Unpaired4Factored::new(Paired::zeros(n), t, blocks));
                }
                updates.push((inc, ZUpdate::Factored { fz, paired }));
                continue;
            }
            let mut next = spare.next().unwrap_or_else(|| Tensors::gaussian(0, order));
            let (paired, unpaired) = timings.time("kappa closure", 0.0, || {
                if order == 3 && !self.leading_paired {
                    let u = self.rule.tensors_unpaired(&input, &mut next.k3);
                    (Some(u.paired.clone()), Some(Box::new(u)))
                } else if order == 3 {
                    let (paired, t) = self.rule.tensors_triple(&input, &mut next.k3);
                    triple = t;
                    (Some(paired), None)
                } else {
                    self.rule.tensors(&input, &mut next.k3, next.k4.as_mut());
                    if let (Some(d), Some(k4)) = (&self.distinct4, next.k4.as_mut()) {
                        d.fill(&input, k4);
                    }
                    (None, None)
                }
            });
            if let Some(blocks) = blocks {
                self.blocks[c] = Some(Unpaired4Factored::new(Paired::zeros(n), triple, blocks));
            }
            updates.push((
                inc,
                ZUpdate::Dense {
                    next,
                    paired,
                    unpaired,
                },
            ));
        }
        self.last.clear();
        for (c, (z, (inc, update))) in post.iter_mut().zip(updates).enumerate() {
            for (i, d) in inc.mean.iter().enumerate() {
                z.mean[i] += d;
            }
            z.cov += &inc.cov;
            let paired = match update {
                ZUpdate::Moments => None,
                ZUpdate::Dense {
                    next,
                    paired,
                    unpaired,
                } => {
                    attach(z, &next.k3, next.k4.as_ref());
                    self.current.push(next);
                    self.unpaired.resize(c + 1, None);
                    self.unpaired[c] = unpaired.map(|u| *u);
                    paired
                }
                ZUpdate::Factored { fz, paired } => {
                    // z's repeated entries; the factors are class c's state for the next map.
                    *z.natural_slices_mut().k3_iij = Some(crate::io::copied(fz.repeated.as_ref()));
                    match self.fz.get_mut(c) {
                        Some(slot) => *slot = *fz,
                        None => self.fz.push(*fz),
                    }
                    Some(paired)
                }
            };
            if let Some(p) = paired {
                *z.natural_slices_mut().k4_iijj = Some(crate::io::copied(p.0.as_ref()));
                self.paired[c] = p;
            }
            self.last.push(Some(inc));
        }
        // z^l is not Gaussian: the closure made its κ from h's Σ.
        self.zero.clear();
        self.reach_cut(l + 1);
        Ok(())
    }

    fn cut(&self) -> Option<usize> {
        self.cut.as_ref().map(|f| f.layer)
    }

    fn set_cut(&mut self, k: usize, reason: String) {
        self.cut = Some(Fallback { layer: k, reason });
    }

    /// Maps the tensors of z^L through the read-out into y and attaches y's slices.
    fn readout(&mut self, layer: &Layer, y: &mut [Moments], timings: &Timings) -> Result<()> {
        if self.moments_only {
            return Ok(());
        }
        self.map(layer, y, timings, true)?;
        std::mem::swap(&mut self.current, &mut self.pre);
        std::mem::swap(&mut self.paired, &mut self.paired_pre);
        Ok(())
    }
}
