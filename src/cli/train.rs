//! `corrflow train`: fit an MLP to a task, report accuracy, write the model file.

use std::path::PathBuf;

use clap::Args;

use corrflow::command::train::train_model;
use corrflow::config::{defaults, CumulantSettings, Field, Naming, RunConfig};
use corrflow::cumtrain::correction_bound::{BoundMean, BoundReference, BoundRule, BoundSetting};
use corrflow::cumtrain::{CorrectedLayers, Objective};
use corrflow::io::{say, MemoryLimit};
use corrflow::{Error, Result};

use super::data_args::DataArgs;
use super::flags;
use super::net_args::NetArgs;
use super::output::{self, epoch_bar, print_json};

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub net: NetArgs,
    /// What to fit: samples (the loss on the training samples, mini-batches) or cumulants (the
    /// MSE as a function of each class's propagated input mean and covariance, DESIGN.md §6;
    /// full-batch, ⌈n_train/batch⌉ steps per epoch, --loss mse only).
    #[arg(long, value_enum, ignore_case = true, hide_possible_values = true, default_value_t = defaults::OBJECTIVE)]
    pub objective: Objective,
    /// Cumulant objective: weight λ of its sampled check, J = L_C + λ·max(0, S − L_C) with S the
    /// same MSE on fresh draws pushed through the network (Gaussian N(μ_c, Σ_c) at order 2, the
    /// class's training samples at 3|4); λ = 1 gives J = max(L_C, S) ≥ S, so the closure's error
    /// cannot be exploited; 0 = the closure objective alone; at most 2⁵³ ≈ 9.0e15, beyond
    /// which 1 − λ rounds to −λ and the data term leaves the gradient
    /// (values far above 1 already train towards the closure's agreement, not the data)
    /// [default: 1].
    #[arg(long, value_name = "λ")]
    pub closure_check: Option<f64>,
    /// Cumulant objective: Gaussian draws per class and step of the sampled check [default: 64].
    #[arg(long, value_name = "N")]
    pub check_samples: Option<usize>,
    /// Cumulant objective: cumulant order of the first hidden layer's closure. 2 = Gaussian
    /// (the data through μ_c, Σ_c only); 3 = + κ₃[i,i,j] of h¹ = W¹x + b¹, 4 = + κ₃ and
    /// κ₄[i,i,j,j] (and κ₄[i,i,i,j] for relu, leaky relu, erf), measured every step from each
    /// class's training samples and differentiated in W¹ (first activation quad:α, relu,
    /// leaky_relu:α or erf; deeper layers as --corrected-layers says). At 3/4 the sampled
    /// check draws from the training samples instead of N(μ_c, Σ_c) [default: 2].
    #[arg(long, value_name = "2|3|4", value_parser = clap::value_parser!(u8).range(2..=4))]
    pub order: Option<u8>,
    /// Cumulant objective at --order 3|4: which hidden layers' closures take κ slices measured
    /// every step. first = h¹'s only (deeper closures Gaussian); all = also every deeper
    /// layer's whose φ has a corrected closure (quad:α, relu, leaky_relu:α, erf; others stay
    /// Gaussian), its slices those of h^l = W^l a^(l−1) + b^l over the class's training samples
    /// forwarded through the network, differentiated through every layer below; 2.4–4.5× the time
    /// per step on [10, 64, 64, 2], and no better there (EXPERIMENTS.md, deep67)
    /// [default: first].
    #[arg(long, value_enum, ignore_case = true, value_name = "first|all")]
    pub corrected_layers: Option<CorrectedLayers>,
    /// Cumulant objective at --order 3|4: bound on the Gram–Charlier corrected closures'
    /// corrections (relu, leaky_relu:α, erf; the quadratic's closure is exact and never bound).
    /// α (0 ≤ α < 1) shrinks a corrected z's mean and covariance correction towards the
    /// Gaussian closure, z = z_G + t(z − z_G), with the largest t ≤ 1 that keeps its covariance
    /// ⪰ α × the Gaussian closure's: no direction loses more than 1 − α of its Gaussian
    /// variance, so the closure alone (--closure-check 0) cannot empty a direction to separate
    /// the classes. off = the correction as it is (its covariance floored where indefinite)
    /// [default: off].
    #[arg(long, value_name = "α|off", value_parser = flags::library_value::<BoundSetting>)]
    pub correction_bound: Option<BoundSetting>,
    /// Cumulant objective with --correction-bound α: what the bound does to the mean's
    /// correction. shrink = with the covariance's, z = z_G + t(z − z_G) (the pair interpolates
    /// the two closures' moments); keep = the corrected closure's mean whole, only the
    /// covariance's correction shrunk (the bound guards variances, which the mean's correction
    /// cannot empty). Refused where the bound is off [default: shrink].
    #[arg(long, value_enum, ignore_case = true, value_name = "shrink|keep")]
    pub correction_bound_mean: Option<BoundMean>,
    /// Cumulant objective with --correction-bound α: how the bound keeps the corrected
    /// covariance within it. scale = shrink the whole correction by the one t above; clip =
    /// raise only the generalized eigenvalues of (ΔC, C_G + εI) below −(1 − α) to it (the same
    /// guarantee, every other direction's correction whole; the mean as --correction-bound-mean
    /// says, with scale's t). Refused where the bound is off [default: scale].
    #[arg(long, value_enum, ignore_case = true, value_name = "scale|clip")]
    pub correction_bound_rule: Option<BoundRule>,
    /// Cumulant objective with --correction-bound α: what the bound keeps the corrected z near,
    /// and measures α against. gauss = the Gaussian closure's z at the same h (C ⪰ αC_G);
    /// measured = the mean and covariance of φ(h) over the class's training samples forwarded
    /// through the network every step (C ⪰ α × the network's own z covariance in every
    /// direction; differentiated through the samples), at every bounded layer. Refused where
    /// the bound is off [default: gauss].
    #[arg(long, value_enum, ignore_case = true, value_name = "gauss|measured")]
    pub correction_bound_reference: Option<BoundReference>,
    /// Start from this model's weights (safetensors, as --model of propagate/analyze reads
    /// it) instead of the seeded initialisation: its widths must match the task's inputs and
    /// classes and --hidden, its activation --activation, where given (else they are the
    /// model's); --gain, which the file replaces, is refused. --seed still sets the batch order
    /// and the sampled check's draws. The file's path, length and XXH64 are recorded in the
    /// written model's metadata and in --json (`init`).
    #[arg(long, value_name = "FILE")]
    pub init: Option<PathBuf>,
    /// Where to write the trained model (safetensors; written atomically).
    #[arg(long, value_name = "FILE", default_value = "model.safetensors")]
    pub out: PathBuf,
    /// Print one JSON object on stdout instead of the human summary.
    #[arg(long)]
    pub json: bool,
    /// Print a per-stage time breakdown on stderr (GFLOP/s from 2 flops per weight and sample
    /// forward, 6 for a training step), the min/median time of one training epoch, and the
    /// median seconds per epoch of each step phase (gather, forward-delta, gradient-update).
    #[arg(long)]
    pub timings: bool,
}

impl TrainArgs {
    fn config(&self) -> Result<RunConfig> {
        let (mut net, mut train) = self.net.clone().into_config()?;
        net.init = self.init.clone();
        train.objective = self.objective;
        train.set_cumulant(
            &CumulantSettings {
                closure_check: self.closure_check,
                check_samples: self.check_samples,
                order: self.order,
                corrected_layers: self.corrected_layers,
                correction_bound: self.correction_bound,
                correction_bound_mean: self.correction_bound_mean,
                correction_bound_rule: self.correction_bound_rule,
                correction_bound_reference: self.correction_bound_reference,
            },
            Naming::Flags,
        )?;
        if self.check_samples.is_some() && self.closure_check == Some(0.0) {
            // adv48a: the draws were taken and ignored. (A grid refuses the key only where no
            // point reads it: `sweep::grid::KeysRead`.)
            return Err(Error::config(
                Field::CheckSamples,
                "sets the draws of the sampled check, which --closure-check 0 turns off; remove \
                 one of the flags",
            ));
        }
        Ok(RunConfig {
            data: self.data.clone().into(),
            net,
            train,
            ..RunConfig::default()
        })
    }
}

pub fn run(args: TrainArgs, max_memory: MemoryLimit) -> Result<()> {
    let config = RunConfig {
        max_memory,
        ..args.config()?
    };
    let bar = epoch_bar(config.epochs(), !args.json);
    let timings = output::start_timings(args.timings, bar.notes(), max_memory);
    let mut report = train_model(&config, &args.out, &timings, |e| bar.epoch(e))?;
    bar.finish();
    if let Some(warning) = report.absent_classes_warning() {
        say(warning);
    }
    report.timings = output::finish_timings(&timings, max_memory);
    if report.timings.is_some() {
        if let Some(line) = report.epoch_line() {
            say(line);
        }
    }
    if args.json {
        return print_json(&report);
    }
    output::print_out(&report)
}
