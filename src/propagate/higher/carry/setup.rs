//! The carry's constructors, its options (factored, compressed, quartic, pilot, …) and what it
//! reports (fallbacks, checks, the last tensors).

use super::*;

impl Carry {
    /// A carry of `order` (3 or 4) from the start layer's tensors, one per class.
    pub fn new(order: usize, start: Vec<Tensors>) -> Result<Self> {
        if !(order == 3 || order == 4) {
            return Err(Error::Unsupported(format!(
                "carried cumulants need --order 3 or 4, got {order}"
            )));
        }
        if let Some(t) = start.iter().find(|t| t.k4.is_some() != (order >= 4)) {
            return Err(Error::Shape(format!(
                "order {order} start tensors {} a κ₄ tensor (over {} units)",
                if t.k4.is_some() { "carry" } else { "lack" },
                t.dim()
            )));
        }
        let paired: Vec<Paired> = if order == 3 {
            start.iter().map(|t| Paired::zeros(t.dim())).collect()
        } else {
            Vec::new()
        };
        Ok(Carry {
            paired_pre: paired.clone(),
            paired,
            rule: compiled_rule(order),
            limit: DEFAULT_TENSOR_BYTES,
            pre: start.clone(),
            current: start,
            ws: TensorAffineWorkspace::default(),
            fallbacks: Vec::new(),
            checks: Vec::new(),
            limits: (f64::INFINITY, f64::INFINITY),
            rules_from: 0,
            gaussian_units: Vec::new(),
            first_measured: false,
            moments_only: false,
            depth: 0,
            sliced: Vec::new(),
            slice_ws: SliceWorkspace::default(),
            zero: Vec::new(),
            zero_pre: Vec::new(),
            gaussian_width: None,
            last: Vec::new(),
            diverged: None,
            first_corrected: false,
            from: 0,
            stars: None,
            compress: None,
            blocks_tol: None,
            generations: GENERATIONS,
            dropped: Dropped::Mapped,
            kappa3_blocks: false,
            h_skew: Vec::new(),
            unformed: Vec::new(),
            unformed_count: 0,
            #[cfg(test)]
            form_symmetric: false,
            fz: Vec::new(),
            fh: Vec::new(),
            leading_paired: false,
            star4: Vec::new(),
            star_total: Vec::new(),
            blocks: Vec::new(),
            pilot: None,
            pilot_verdict: None,
            unpaired: Vec::new(),
            unpaired_pre: Vec::new(),
            triple_pre: Vec::new(),
            quartic: None,
            mixed_paired: false,
            distinct4: None,
            cut: None,
        })
    }

    /// A carry of `order` from a Gaussian start layer of width `n` (zero κ₃/κ₄, e.g. the input
    /// x ~ N(μ, Σ)), one per class: equal to [`Carry::new`] with [`Tensors::gaussian`] start
    /// tensors, without forming them — the first affine map and the κ terms of the first
    /// closure, all zero, are skipped.
    pub fn from_gaussian(order: usize, n: usize, classes: usize) -> Result<Self> {
        let start = (0..classes).map(|_| Tensors::gaussian(0, order)).collect();
        let mut carry = Self::new(order, start)?;
        carry.zero = vec![true; classes];
        carry.gaussian_width = Some(n);
        Ok(carry)
    }

    /// A carry of `order` from the measured tensors of the first pre-activation h^{from+1}, one
    /// per class (e.g. [`crate::propagate::higher::sampled::measure_tensors`]): the affine map into
    /// h^{from+1} is exact, so measuring them there equals mapping the start layer's tensors,
    /// which are never formed (the input's N⁴ would not fit for MNIST).
    pub fn from_first_pre(order: usize, first_pre: Vec<Tensors>) -> Result<Self> {
        let mut carry = Self::new(order, Vec::new())?;
        if let Some(t) = first_pre.iter().find(|t| t.k4.is_some() != (order >= 4)) {
            return Err(Error::Shape(format!(
                "order {order} tensors of h^(l+1) over {} units {} a κ₄ tensor",
                t.dim(),
                if t.k4.is_some() { "carry" } else { "lack" },
            )));
        }
        carry.pre = first_pre;
        carry.current = carry
            .pre
            .iter()
            .map(|_| Tensors::gaussian(0, order))
            .collect();
        if order == 3 {
            // The paired κ₄ of h^{from+1} starts at zero ([`Carry::with_first_paired`]).
            carry.paired_pre = carry.pre.iter().map(|t| Paired::zeros(t.dim())).collect();
            carry.paired = carry.pre.iter().map(|_| Paired::zeros(0)).collect();
        }
        carry.first_measured = true;
        Ok(carry)
    }

    /// Order 3 from measured tensors ([`Carry::from_first_pre`]): seeds the paired κ₄ of
    /// h^{from+1}, one per class (e.g. [`crate::propagate::higher::sampled::measure_paired`]), which otherwise
    /// starts at zero.
    pub fn with_first_paired(mut self, paired: Vec<Paired>) -> Result<Self> {
        if !self.first_measured || self.order() != 3 {
            return Err(Error::Unsupported(
                "a measured paired κ₄ seeds only an order-3 carry from measured tensors".into(),
            ));
        }
        if paired.len() != self.pre.len()
            || paired
                .iter()
                .zip(&self.pre)
                .any(|(p, t)| p.0.nrows() != t.dim() || p.0.ncols() != t.dim())
        {
            return Err(Error::Shape(format!(
                "{} paired κ₄ matrices for {} classes of measured tensors, or of another width",
                paired.len(),
                self.pre.len()
            )));
        }
        self.paired_pre = paired;
        Ok(self)
    }

    /// Order 3 from measured tensors ([`Carry::from_first_pre`]): seeds h^{from+1}'s paired κ₄
    /// with its κ₄\[a,a,a,b\] and κ₄\[a,a,b,c\] ([`crate::propagate::higher::triple4`]), one per class (e.g.
    /// [`crate::propagate::higher::sampled::measure_third`]); they otherwise start at zero, and the rule
    /// ([`ChaosRule::unpaired`]) reads them at the first closure as it does at every later one.
    pub fn with_first_unpaired(self, unpaired: Vec<Unpaired4>) -> Result<Self> {
        let paired = unpaired.iter().map(|u| u.paired.clone()).collect();
        let mut carry = self.with_first_paired(paired)?;
        carry.unpaired_pre = unpaired.into_iter().map(Some).collect();
        Ok(carry)
    }

    /// Carries only what the output's mean and covariance need: the last hidden layer's h gets
    /// the slices its closure reads, mapped directly ([`crate::propagate::higher::sliced`]), instead of its full
    /// tensors; that closure's output tensors and the read-out's map are skipped, so y gets no
    /// κ slices and [`Carry::last`] is `None`. The mean and covariance are those of the full
    /// carry (to rounding).
    pub fn moments_only(mut self) -> Self {
        self.moments_only = true;
        self
    }

    /// Order 3 with z's κ₃ held factored between the layers ([`crate::propagate::higher::factored`]): the affine
    /// map is W on each factor and every h is held as the slices its closure reads, instead of
    /// the dense N³ map and column fill. Implies [`Carry::moments_only`]. The rule is
    /// [`ChaosRule::unpaired_factorable`]: κ₃(z)'s diagrams over three distinct units without the
    /// covariance triangle, κ₃\[a,b,c\]Σ_bc and κ₄\[a,a,b,c\] (every other diagram as
    /// [`Carry::new`]'s), reading h's κ₄\[a,a,a,b\] ([`crate::propagate::higher::unpaired_factored`]); κ₄\[a,a,b,c\]
    /// is carried as blocks ([`crate::propagate::higher::triple4_factored`]) and the paired κ₄ is mapped to leading
    /// order in the width ([`crate::propagate::higher::paired_leading`]), so the results are the dense carry's with
    /// that rule and those carries ([`Carry::factorable_rule`]), not the default one's.
    pub fn factored(mut self) -> Result<Self> {
        if self.order() != 3 || self.gaussian_width.is_none() {
            return Err(Error::Unsupported(
                "the factored κ₃ carries order 3 from a Gaussian start (Carry::from_gaussian) \
                 only"
                    .into(),
            ));
        }
        self.rule = factorable_rule();
        self.stars = Some(self.rule.star_terms()?);
        self.moments_only = true;
        self.leading_paired = true;
        Ok(self)
    }

    /// The factored carry ([`Carry::factored`] first) with each hidden h's factored κ₃
    /// compressed after the map: its smallest terms dropped while ‖κ₃ − κ₃_c‖_F ≤ tol ‖κ₃‖_F
    /// holds by the terms' norms ([`crate::propagate::higher::compressed`]; 0 drops nothing, the factored carry's
    /// results). An error for a tolerance that is negative or not finite.
    pub fn compressed(mut self, tol: f64) -> Result<Self> {
        self.compress = Some(self.factored_tolerance(tol, "the compressed κ₃")?);
        Ok(self)
    }

    /// `tol` where this carry is factored and `tol` a relative tolerance ([`valid_tolerance`]),
    /// else an error naming `what` ([`Carry::compressed`], [`Carry::truncated_blocks`]).
    fn factored_tolerance(&self, tol: f64, what: &str) -> Result<f64> {
        if self.stars.is_none() {
            return Err(Error::Unsupported(format!(
                "{what} needs the factored carry (Carry::factored first)"
            )));
        }
        if !valid_tolerance(tol) {
            return Err(Error::Unsupported(format!(
                "{what}'s tolerance must be finite and ≥ 0, got {tol}"
            )));
        }
        Ok(tol)
    }

    /// The factored carry ([`Carry::factored`] first) with each z's κ₄\[a,a,b,c\] blocks
    /// truncated after the closure forms them: their smallest terms dropped while the blocks'
    /// tensor moves by at most tol times its Frobenius norm, by the terms' norms
    /// (`blocks_truncated.rs`; 0 drops nothing, the factored carry's results). An error
    /// for a tolerance that is negative or not finite.
    pub fn truncated_blocks(mut self, tol: f64) -> Result<Self> {
        self.blocks_tol = Some(self.factored_tolerance(tol, "the truncation of the κ₄ blocks")?);
        Ok(self)
    }

    /// A carry that holds z's κ₄\[a,a,b,c\] as blocks ([`Carry::factored`] or
    /// [`Carry::factorable_rule`] first) with the blocks kept through `generations` maps after
    /// their birth instead of [`GENERATIONS`]
    /// ([`crate::propagate::higher::triple4_factored::Unpaired4Factored::map`]; 0: imaged
    /// once, not carried). Each generation triples the carried rank ([`carried_blocks`]: h's
    /// blocks of rank R give z's of rank ≤ 3R), so the cost of the blocks' map grows as 3^g;
    /// an error above [`MAX_GENERATIONS`]. Not the default: on the ARC benchmark's factored
    /// order 4, g = 2 moves the depth-8 means toward the peer's K = 4 but relu n = 64, depth 4
    /// away (2.35× → 2.62×; EXPERIMENTS.md, seventeenth session (o4gen)).
    pub fn with_generations(mut self, generations: usize) -> Result<Self> {
        if !self.leading_paired {
            return Err(Error::Unsupported(
                "the generations of the κ₄ blocks need a carry that holds them (Carry::factored \
                 or Carry::factorable_rule first)"
                    .into(),
            ));
        }
        if generations > MAX_GENERATIONS {
            return Err(Error::Unsupported(format!(
                "the κ₄ blocks' generations must be at most {MAX_GENERATIONS} (the carried rank \
                 triples with each), got {generations}"
            )));
        }
        self.generations = generations;
        Ok(self)
    }

    /// A carry that holds z's κ₄\[a,a,b,c\] as blocks ([`Carry::factored`] or
    /// [`Carry::factorable_rule`] first) with the blocks it drops after a map (those older than
    /// the generations cap) imaged in h's paired κ₄ alone ([`Dropped::PairedOnly`]): their A
    /// factors are not mapped and their part of h's κ₄\[i,i,i,j\] is left out. A method change
    /// that saves about a third of the blocks' map (EXPERIMENTS.md, nineteenth session (o3t)).
    pub fn with_dropped_blocks_paired_only(mut self) -> Result<Self> {
        if !self.leading_paired {
            return Err(Error::Unsupported(
                "imaging the dropped κ₄ blocks in the paired κ₄ alone needs a carry that holds \
                 them (Carry::factored or Carry::factorable_rule first)"
                    .into(),
            ));
        }
        self.dropped = Dropped::PairedOnly;
        Ok(self)
    }

    /// The factored carry ([`Carry::factored`] first) with the κ₃ term of z's κ₄\[a,a,b,c\],
    /// α_a β_b β_c κ₃(h)\[a,b,c\], carried as blocks ([`crate::propagate::higher::kappa3_blocks`]:
    /// rank 3R + 2R' for h's factored κ₃ of R general and R' paired terms) beside the Σ
    /// stars', instead of imaged once in the next h's paired κ₄ and dropped (where h's
    /// skewness is rounding noise, below [`NOISE_SKEW`], the term is imaged as without it). Not
    /// the default: on the ARC benchmark's factored order 4 it takes relu n = 64, depth 8 from
    /// 1.66× the peer's K = 4 mean error to 0.88× but depth 4 from 2.35× to 2.82×, at up to 2.4×
    /// the time (EXPERIMENTS.md, seventeenth session (o4gen)).
    pub fn with_kappa3_blocks(mut self) -> Result<Self> {
        if self.stars.is_none() {
            return Err(Error::Unsupported(
                "the κ₃ term as blocks needs the factored carry (Carry::factored first)".into(),
            ));
        }
        self.kappa3_blocks = true;
        Ok(self)
    }

    /// The factored order 4 ([`Carry::factored`] first): the factored carry with order 4's
    /// budget for Δm and ΔC ([`ChaosRule::quartic_factorable`]), with the star of each z's κ₄
    /// over four distinct units imaged in the next h's paired κ₄ and κ₄\[a,a,a,b\]
    /// ([`crate::propagate::higher::quartic_star`]), and without order 3's drop of a symmetric h's paired κ₄ (h then
    /// carries every κ₄ slice a two-unit entry reads, as the dense order 4 does, to leading
    /// order in the width). h's κ₄ over four distinct units is not carried beyond one map, nor
    /// are the paths and κ blocks of z's (module docs of [`crate::propagate::higher::quartic_star`]). Unlike the
    /// factored order 3 it maps the paired κ₄ exactly ([`affine_paired`], not
    /// [`crate::propagate::higher::paired_leading`]: M²N²/2 flops) and adds the mixed positions of z's
    /// κ₄\[a,a,b,c\] blocks to h's κ₄\[a,a,a,b\]
    /// ([`crate::propagate::higher::triple4_factored::Unpaired4Factored::mixed`]; to h's P only on request,
    /// [`Carry::with_mixed_paired`]): both are of the order
    /// of the images it adds, and with them its covariance at depth 2 (h¹ Gaussian) comes
    /// closer to the dense one-map's (`examples/o4_gap.rs`; EXPERIMENTS.md, sixteenth session
    /// (o4cov)).
    pub fn quartic(mut self) -> Result<Self> {
        if self.stars.is_none() {
            return Err(Error::Unsupported(
                "the factored order 4 extends the factored κ₃ carry (Carry::factored first)".into(),
            ));
        }
        self.rule = quartic_rule();
        self.stars = Some(self.rule.star_terms()?);
        self.quartic = Some(Vec::new());
        Ok(self)
    }

    /// The factored order 4 ([`Carry::quartic`] first) with the mixed positions of z's
    /// κ₄\[a,a,b,c\] blocks imaged in h's paired κ₄ off the diagonal as well (one a on each
    /// row, [`crate::propagate::higher::triple4_factored::Unpaired4Factored::mixed`]; O(M²NR) per map, R the
    /// blocks' rank). Exact at one map from a Gaussian h, where it brings the output
    /// covariance to the dense one-map order 4's but for z's dropped diagrams; carried through
    /// depth it made the ARC benchmark's relu/gelu errors worse at depth 4–8, so it is not the
    /// default (EXPERIMENTS.md, sixteenth session (o4cov)).
    pub fn with_mixed_paired(mut self) -> Result<Self> {
        if self.quartic.is_none() {
            return Err(Error::Unsupported(
                "the mixed positions in P are the factored order 4's (Carry::quartic first)".into(),
            ));
        }
        self.mixed_paired = true;
        Ok(self)
    }

    /// The dense order 4 as a diagnostic of the factored order 4 ([`crate::propagate::higher::distinct4`]): z's κ₄
    /// over four distinct units from the diagrams of `kind` only, and h's κ₄ over four distinct
    /// units set to zero after each map (imaged in the entries with a repeated unit, not carried
    /// further). Refused for another order or a factored carry.
    pub fn with_distinct4(mut self, kind: Distinct4) -> Result<Self> {
        if self.order() != 4 || self.stars.is_some() {
            return Err(Error::Unsupported(
                "the distinct-unit diagnostic is the dense order 4's".into(),
            ));
        }
        self.distinct4 = Some(Distinct4Diagrams::new(kind));
        Ok(self)
    }

    /// Order 3's dense carry with the factored carry's rule ([`ChaosRule::unpaired_factorable`],
    /// the paired κ₄ mapped by [`crate::propagate::higher::paired_leading`], κ₄\[a,a,a,b\] and the blocks of
    /// κ₄\[a,a,b,c\] as [`Carry::factored`] carries them): the reference it is checked against.
    pub fn factorable_rule(mut self) -> Result<Self> {
        if self.order() != 3 {
            return Err(Error::Unsupported(
                "the factorable rule is order 3's".into(),
            ));
        }
        self.rule = factorable_rule();
        self.leading_paired = true;
        Ok(self)
    }

    /// Sets the memory limit of the carried tensors in bytes (default 16 GiB).
    pub fn with_limit(mut self, bytes: u64) -> Self {
        self.limit = bytes;
        self
    }

    /// Sets limits on a pre-activation unit's standardised skewness and |excess kurtosis|
    /// beyond which a layer falls back (default: none; [`MAX_SKEW`], [`MAX_KURTOSIS`] are the
    /// Gram–Charlier region's edge).
    pub fn with_breakdown(mut self, max_skew: f64, max_kurtosis: f64) -> Self {
        self.limits = (max_skew, max_kurtosis);
        self
    }

    /// Lets the breakdown rules that test a statistic against a limit (h outside the
    /// Gram–Charlier region, a covariance increment beyond the order's power counting, a
    /// diverging variance increment) stop the carry only from hidden layer `layer` on; a
    /// negative variance still does everywhere. The pilot's check of a measured start
    /// (`measure::carried`) follows the reported run's path with it: its start, half the
    /// held-out class, puts those statistics on the other side of a limit by its noise alone
    /// (MNIST: a variance increment 10.1–12.6× against the limit 10 where the reported run's
    /// stayed below), and a check that stops earlier tests another carry than the reported one.
    pub fn with_rules_from(mut self, layer: usize) -> Self {
        self.rules_from = layer;
        self
    }

    /// The first hidden layer not carried ([`CarryHook::set_cut`]; [`Carry::last`] is then
    /// None).
    pub fn cut_at(&self) -> Option<&Fallback> {
        self.cut.as_ref()
    }

    /// Lists the cut among the fallbacks once the carry has reached it (layer `l` is the next
    /// hidden layer the engine runs): after the fallbacks of the layers before.
    pub(super) fn reach_cut(&mut self, l: usize) {
        if let Some(cut) = self.cut.as_ref().filter(|f| f.layer == l) {
            self.fallbacks.push(cut.clone());
        }
    }

    /// The carried order.
    pub fn order(&self) -> usize {
        self.rule.order()
    }

    /// The first layer where the expansion broke down (see [`Carry::fallbacks`]), if any.
    pub fn fallback(&self) -> Option<&Fallback> {
        self.fallbacks.first()
    }

    /// Class `c`'s last hidden h as its closure read it, after a run with
    /// [`Carry::moments_only`]: `[S, P, T]` with S\[a,b\] = κ₃\[a,a,b\], P\[a,b\] = κ₄\[a,a,b,b\],
    /// T\[a,b\] = κ₄\[a,a,a,b\] (zero where h was taken as Gaussian); None before such a run,
    /// or for a class not carried (the diagnostic `examples/o4_gap.rs` compares two carries'
    /// with it).
    pub fn last_slices(&self, c: usize) -> Option<[Mat<f64>; 3]> {
        if !self.sliced_at(self.depth) {
            return None;
        }
        let m = self.sliced.get(c)?.dim();
        let (k3, k4) = self.kappa(self.depth, c);
        let k4 = k4?;
        Some([
            Mat::from_fn(m, m, |a, b| k3.get(&[a, a, b])),
            Mat::from_fn(m, m, |a, b| k4.get(&[a, a, b, b])),
            Mat::from_fn(m, m, |a, b| k4.get(&[a, a, a, b])),
        ])
    }

    /// Every layer and class where the carried cumulants were dropped (module docs).
    pub fn fallbacks(&self) -> &[Fallback] {
        &self.fallbacks
    }

    /// Per hidden layer entered, the breakdown statistics of its pre-activation.
    pub fn checks(&self) -> &[LayerCheck] {
        &self.checks
    }

    /// How many class-layers the factored order 3 ([`Carry::factored`]) did not form h's κ₄
    /// (its paired κ₄, κ₄\[a,a,a,b\] and blocks mapped from z's, and the star's image)
    /// because h is symmetric (skewness below [`SYMMETRIC_SKEW`]) while z's κ₄\[a,a,a,a\] is
    /// not zero: `enter`'s check drops that κ₄, so forming it was discarded work (tanh on the
    /// ARC benchmark, every hidden layer). Such a class's kurtosis counts 0 in
    /// [`LayerCheck::kurtosis`].
    pub fn symmetric_unformed(&self) -> usize {
        self.unformed_count
    }

    /// Per layer and class, how many units kept the Gaussian closure's moments because their
    /// corrected variance broke down (their tensors are still carried).
    pub fn gaussian_units(&self) -> &[GaussianUnits] {
        &self.gaussian_units
    }

    /// The tensors of the last stage carried (z^L, or y after the read-out), per class (after a
    /// fallback at some layer, those made from there on); `None` for [`Carry::moments_only`]
    /// for a run the carry abandoned ([`Carry::abandons_run`]) and for a cut one
    /// ([`CarryHook::set_cut`]).
    pub fn last(&self) -> Option<&[Tensors]> {
        (!self.moments_only && !self.abandons_run() && self.cut.is_none())
            .then_some(self.current.as_slice())
    }

    /// Whether the series diverged at some layer (a unit's variance increment beyond
    /// [`MAX_VARIANCE_INCREMENT`] times its Gaussian variance, or a negative variance of the
    /// next h) of a run whose first closure got no correction, or the Monte Carlo pilot found
    /// the carried output worse than the Gaussian one ([`Carry::with_pilot`]): the whole run
    /// is then the Gaussian closure's (module docs), as
    /// [`crate::propagate::Propagator::run_carried`] returns it.
    pub fn abandons_run(&self) -> bool {
        (self.diverged.is_some() && !self.first_corrected)
            || self.pilot_verdict.is_some_and(|v| v.worse)
    }

    /// Checks a finished run from a Gaussian start against `pilot.samples` draws of the start
    /// pushed through the network ([`crate::propagate::higher::pilot`]): where the carried output is significantly
    /// further from them than the Gaussian closure's (mean or covariance), the whole run is the
    /// Gaussian closure's. Only for a carry of [`Carry::from_gaussian`], whose start can be
    /// sampled.
    pub fn with_pilot(mut self, pilot: Pilot) -> Result<Self> {
        if self.gaussian_width.is_none() {
            return Err(Error::Unsupported(
                "the Monte Carlo pilot samples a Gaussian start: it needs a carry from \
                 Carry::from_gaussian"
                    .into(),
            ));
        }
        self.pilot = Some(pilot);
        Ok(self)
    }

    /// The pilot's settings ([`Carry::with_pilot`]).
    pub fn pilot(&self) -> Option<Pilot> {
        self.pilot
    }

    /// The pilot's verdict, once [`crate::propagate::Propagator::run_carried`] has run it.
    pub fn pilot_verdict(&self) -> Option<&PilotVerdict> {
        self.pilot_verdict.as_ref()
    }

    /// Records the pilot's verdict; a carried output found worse abandons the run, listed
    /// first among the fallbacks, at the first hidden layer.
    pub fn record_pilot(&mut self, verdict: PilotVerdict) {
        if verdict.worse && !self.abandons_run() {
            self.fallbacks.insert(
                0,
                Fallback {
                    layer: self.from + 1,
                    reason: verdict.abandon_reason(
                        &format!("{} draws", verdict.samples),
                        "the whole run is the Gaussian closure's",
                    ),
                },
            );
        }
        self.pilot_verdict = Some(verdict);
    }
}
