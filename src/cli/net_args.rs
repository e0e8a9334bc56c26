//! Architecture and optimisation flags of `train` and `analyze`; unset values take the task's
//! defaults (`corrflow::config::defaults`).

use clap::Args;

use corrflow::config::{defaults, Field, NetConfig, TrainSettings};
use corrflow::net::train::{Loss, Optimizer};
use corrflow::net::Precision;
use corrflow::{Error, Result};

#[derive(Debug, Args, Clone)]
pub struct NetArgs {
    /// Hidden layer widths, comma separated [default: xor 16 · higher-order 64,64 · mnist 100,100].
    #[arg(long, value_name = "N,N,…", value_delimiter = ',')]
    pub hidden: Option<Vec<usize>>,
    /// Activation of every hidden layer: linear (identity), quad:ALPHA (φ(h)=h+αh²), relu,
    /// leaky_relu[:SLOPE], erf, tanh, sigmoid, gelu, silu, softplus [default: quad:0.5, mnist
    /// relu].
    #[arg(long, value_name = "φ")]
    pub activation: Option<String>,
    /// Loss: mse (squared error to one-hot targets) or ce (softmax cross-entropy) [default:
    /// mse].
    #[arg(long, value_enum, ignore_case = true, hide_possible_values = true)]
    pub loss: Option<Loss>,
    /// Optimiser: adam or sgd (with --momentum) [default: adam].
    #[arg(long, value_enum, ignore_case = true, hide_possible_values = true)]
    pub optimizer: Option<Optimizer>,
    /// Passes over the training set [default: xor 40 · higher-order 60 · mnist 15].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Mini-batch size [default: 64].
    #[arg(long)]
    pub batch: Option<usize>,
    /// Learning rate [default: adam 1e-3 (xor 1e-2), sgd 0.05]. A run whose first epoch
    /// leaves, in every layer, at least half the weights with a gradient bit-identical (its steps below the
    /// weights' spacing, |w|·2⁻⁵³ in f64: e.g. 1e-300, or weights of 10¹⁸ from a huge --gain)
    /// is refused, naming --lr or --gain.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Momentum of SGD (--optimizer sgd only: Adam's β₁ = 0.9 is fixed) [default: 0.9].
    #[arg(long)]
    pub momentum: Option<f64>,
    /// Initial weights N(0, gain²/fan_in) [default: relu √2, others 1]. Weights too large
    /// for the steps to move are refused after the first epoch (see --lr). A training that
    /// ends ≥ 10× a constant output's loss from an untrained network ≥ 10× the default gain's
    /// loss, or ≥ 10⁴× the constant's, is warned about on stderr and in the JSON (`unlearned`).
    #[arg(long)]
    pub gain: Option<f64>,
    /// Seed of the weight initialisation and of the batch order; `analyze` (also with
    /// --model) and a sweep's points seed their Monte Carlo draws with it.
    #[arg(long, default_value_t = defaults::SEED)]
    pub seed: u64,
    /// Float type of training (forward pass, backpropagation, optimiser) and of the propagated
    /// covariances: f64 or f32 [default: f64]. The model is stored in f64 either way (f32
    /// weights widened exactly); evaluation, statistics and the comparison are f64. With
    /// --model it sets the propagation's only.
    #[arg(
        long,
        value_name = "TYPE",
        value_enum,
        ignore_case = true,
        hide_possible_values = true
    )]
    pub precision: Option<Precision>,
}

impl NetArgs {
    /// The network and training sections of the configuration.
    pub fn into_config(self) -> Result<(NetConfig, TrainSettings)> {
        let optimizer = self.optimizer.unwrap_or(defaults::OPTIMIZER);
        if self.momentum.is_some() && optimizer != Optimizer::Sgd {
            // adv48a: `--momentum 0.5` under the default Adam was taken and ignored.
            return Err(Error::config(
                Field::Momentum,
                format!(
                    "sets SGD's momentum; --optimizer {} has none (Adam's β₁ = 0.9 is fixed): \
                     add --optimizer sgd or remove it",
                    optimizer
                ),
            ));
        }
        let net = NetConfig {
            hidden: self.hidden,
            activation: self.activation.as_deref().map(str::parse).transpose()?,
            gain: self.gain,
            seed: self.seed,
            init: None,
        };
        let train = TrainSettings {
            loss: self.loss.unwrap_or(defaults::LOSS),
            optimizer,
            epochs: self.epochs,
            batch: self.batch.unwrap_or(defaults::BATCH),
            lr: self.lr,
            momentum: self.momentum.unwrap_or(defaults::MOMENTUM),
            precision: self.precision,
            ..TrainSettings::default()
        };
        Ok((net, train))
    }

    /// Refuses the architecture and training flags, which have no meaning with `--model`,
    /// rather than ignore them. `--seed` (the Monte Carlo draws') and `--precision` (the
    /// propagation's) have one and are not refused. `--loss`, `--optimizer` and `--batch` had
    /// clap defaults, so a given one could not be told from an unset one: `analyze --model M
    /// --loss ce` ran with exit 0, the flag ignored (adv49b); they are options now, their
    /// defaults taken in [`NetArgs::into_config`].
    pub fn reject(&self) -> Result<()> {
        let given = [
            (Field::Hidden, self.hidden.is_some()),
            (Field::Activation, self.activation.is_some()),
            (Field::Loss, self.loss.is_some()),
            (Field::Optimizer, self.optimizer.is_some()),
            (Field::Epochs, self.epochs.is_some()),
            (Field::Batch, self.batch.is_some()),
            (Field::Lr, self.lr.is_some()),
            (Field::Gain, self.gain.is_some()),
            (Field::Momentum, self.momentum.is_some()),
        ];
        match given.iter().find(|(_, set)| *set) {
            Some((field, _)) => Err(Error::config(
                *field,
                "configures the network trained when no --model is given; remove it or --model",
            )),
            None => Ok(()),
        }
    }
}
