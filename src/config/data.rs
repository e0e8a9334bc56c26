//! Where a run's samples come from: the task and its generator or files, and their
//! preprocessing, with every unset value taken from [`super::defaults`].

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::defaults::{self, task_defaults};
use super::Task;
use crate::data::arrays::{X_TENSOR, Y_TENSOR};
use crate::data::preprocess::{compact, read_vector, write_vector};
use crate::data::samples::MAX_CLASSES;
use crate::data::split::Sets;
use crate::data::{
    ArraysConfig, Dataset, HigherOrderConfig, MnistConfig, MnistFiles, MnistSource, Normalization,
    Scale, Split, TestSplit, XorConfig,
};
use crate::error::{Error, Field, Result};
use crate::io::MemoryLimit;

/// The task and the source of its samples. Field names are the grid keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DataConfig {
    /// The task [default: the model's own task when a model is given, else xor].
    pub task: Option<Task>,
    /// Generated tasks: training samples [default: the task's].
    pub n_train: Option<usize>,
    /// Generated tasks: test samples [default: as `n_train`].
    pub n_test: Option<usize>,
    /// Generated tasks: seed of the data [default: [`defaults::DATA_SEED`]].
    pub data_seed: Option<u64>,
    /// Generated tasks: input dimension [default: the task's].
    pub dim: Option<usize>,
    /// XOR: noise standard deviation of each blob [default: [`defaults::SIGMA`]].
    pub sigma: Option<f64>,
    /// XOR: a random rotation of the d-dimensional inputs.
    pub rotate: bool,
    /// Higher-order task: number of skewed directions [default: [`defaults::SKEWED`]].
    pub skewed: Option<usize>,
    /// Higher-order task: Gamma shape of the skewed variable [default:
    /// [`defaults::GAMMA_SHAPE`]].
    pub gamma_shape: Option<f64>,
    /// MNIST: folder of the IDX files.
    pub mnist_dir: Option<PathBuf>,
    /// MNIST: explicit files (override `mnist_dir`).
    pub train_images: Option<PathBuf>,
    pub train_labels: Option<PathBuf>,
    pub test_images: Option<PathBuf>,
    pub test_labels: Option<PathBuf>,
    /// Task data: features and labels (.npy, .safetensors, IDX raw or .gz).
    pub train_x: Option<PathBuf>,
    pub train_y: Option<PathBuf>,
    pub test_x: Option<PathBuf>,
    pub test_y: Option<PathBuf>,
    /// Task data: tensor names in safetensors files [default: `x`, `y`].
    pub x_tensor: Option<String>,
    pub y_tensor: Option<String>,
    /// Task data: number of classes [default: the model's outputs, else the largest label + 1].
    pub n_classes: Option<usize>,
    /// Files: samples FROM:TO form the test set.
    pub test_split: Option<String>,
    /// Files: keep at most this many training samples.
    pub train_limit: Option<usize>,
    /// Files: every value divided by this [default: auto, 255 for bytes, none otherwise].
    pub scale: Option<Scale>,
    /// Subtract the training set's per-feature mean [default: false].
    pub center: Option<bool>,
    /// Centre and divide by the training set's per-feature std [default: false].
    pub standardize: Option<bool>,
    /// Normaliser (x − mean)/std: a number, a comma list or a file.
    pub normalize_mean: Option<String>,
    pub normalize_std: Option<String>,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            task: None,
            n_train: None,
            n_test: None,
            data_seed: None,
            dim: None,
            sigma: None,
            rotate: defaults::XOR_ROTATE,
            skewed: None,
            gamma_shape: None,
            mnist_dir: None,
            train_images: None,
            train_labels: None,
            test_images: None,
            test_labels: None,
            train_x: None,
            train_y: None,
            test_x: None,
            test_y: None,
            x_tensor: None,
            y_tensor: None,
            n_classes: None,
            test_split: None,
            train_limit: None,
            scale: None,
            center: None,
            standardize: None,
            normalize_mean: None,
            normalize_std: None,
        }
    }
}

/// A loaded task: the samples, a one-line description of where they came from, and the data
/// and preprocessing records a model trained on it carries (see [`super::provenance`]).
pub struct Loaded {
    pub split: Split,
    pub description: String,
    /// The source: this configuration with its preprocessing fields cleared.
    pub source: DataConfig,
    /// The preprocessing as applied: the scale resolved, the normaliser as value lists.
    pub preprocess: DataConfig,
}

impl DataConfig {
    /// The task, xor when unset.
    pub fn task(&self) -> Task {
        self.task.unwrap_or_default()
    }

    /// [`load_limited`](Self::load_limited) with the default [`MemoryLimit`].
    pub fn load(&self) -> Result<Loaded> {
        self.load_limited(MemoryLimit::default())
    }

    /// Generates or reads the task's training and test sets and preprocesses them; files'
    /// claims are checked against `limit`. Neither set may be empty: the error names the
    /// setting that emptied it.
    pub fn load_limited(&self, limit: MemoryLimit) -> Result<Loaded> {
        self.load_sets_limited(limit, Sets::Both)
    }

    /// [`load_limited`](Self::load_limited) for a command that reads only `sets`: under
    /// [`Sets::Test`] the files' training set is carved out and checked but not assembled (left
    /// d × 0), unless centring or standardisation needs its statistics. The generated tasks
    /// always build both sets.
    pub fn load_sets_limited(&self, limit: MemoryLimit, sets: Sets) -> Result<Loaded> {
        let norm = self.normalization()?;
        let sets = if norm.center || norm.standardize {
            Sets::Both
        } else if norm.mean.is_some() || norm.std.is_some() {
            // The normaliser rewrites the f64 values: no pixel bytes.
            match sets {
                Sets::TestPixels => Sets::Test,
                s => s,
            }
        } else {
            sets
        };
        let loaded = self.load_sets(limit, sets)?;
        let files = matches!(self.task(), Task::Mnist | Task::Data);
        let (train_file, test_file) = match self.task() {
            Task::Data => (Field::TrainX, Field::TestX),
            _ => (Field::TrainImages, Field::TestImages),
        };
        // A training set left unassembled is empty by design: `split_pairs` has already
        // refused one without samples.
        let train_assembled = sets == Sets::Both || !files;
        for (set, n, assembled, field) in [
            (
                "training",
                loaded.split.train.len(),
                train_assembled,
                match (files, self.train_limit) {
                    (false, _) => Field::NTrain,
                    (true, Some(0)) => Field::TrainLimit,
                    (true, _) => train_file,
                },
            ),
            (
                "test",
                loaded.split.test.len(),
                true,
                match (files, &self.test_split) {
                    (false, _) => Field::NTest,
                    (true, Some(_)) => Field::TestSplit,
                    (true, None) => test_file,
                },
            ),
        ] {
            if n == 0 && assembled {
                return Err(Error::config(
                    field,
                    format!("the {set} set of {} is empty", loaded.description),
                ));
            }
        }
        Ok(loaded)
    }

    /// `n` fresh samples of a generated task (`--pilot fresh`, [`crate::measure::HeldOut::fresh`]):
    /// the generator run again with n more test samples, whose tail (samples n_test … n_test +
    /// n − 1 of the test stream) are samples of the same distribution — the same seed, hence
    /// the same hidden rotation, and the same preprocessing, fitted on the same training set —
    /// that neither the training nor the test set holds. With the samples, their description.
    /// Files and MNIST have no such samples: an error naming `--pilot fresh` and the task.
    pub fn fresh_samples(&self, limit: MemoryLimit, n: usize) -> Result<(Dataset, String)> {
        let task = self.task();
        if !matches!(task, Task::Xor | Task::HigherOrder) {
            return Err(Error::Unsupported(format!(
                "--pilot fresh draws new samples from the task's generator: it applies to the \
                 generated tasks (--task xor, higher-order), not --task {task} (no samples beyond its \
                 training and test sets; use --pilot on)"
            )));
        }
        let d = task_defaults(task);
        let n_test = self.n_test.or(self.n_train).unwrap_or(d.n_train);
        let more = DataConfig {
            n_test: Some(n_test + n),
            ..self.clone()
        };
        let test = more.load_sets(limit, Sets::Both)?.split.test;
        let x = test.x.subcols(n_test, n).to_owned();
        let labels = test.labels[n_test..].to_vec();
        let description = format!(
            "{n} fresh samples of the generator (its test stream's samples {n_test}..{}, \
             never trained on nor reported)",
            n_test + n
        );
        Ok((
            Dataset {
                x,
                labels,
                n_classes: test.n_classes,
            },
            description,
        ))
    }

    fn load_sets(&self, limit: MemoryLimit, sets: Sets) -> Result<Loaded> {
        let d = task_defaults(self.task());
        let n_train = self.n_train.unwrap_or(d.n_train);
        let n_test = self.n_test.or(self.n_train).unwrap_or(n_train);
        // The record of the source: the generator settings the task reads are filled in below
        // at the values used; those it does not read are left out.
        let mut source = DataConfig {
            task: Some(self.task()),
            data_seed: None,
            sigma: None,
            skewed: None,
            gamma_shape: None,
            scale: None,
            center: None,
            standardize: None,
            normalize_mean: None,
            normalize_std: None,
            ..self.clone()
        };
        // The generators' defaults are applied here, where the generated tasks read their
        // settings, and nowhere else.
        let (mut split, mut description, scale) = match self.task() {
            Task::Xor => {
                let cfg = XorConfig {
                    sigma: self.sigma.unwrap_or(defaults::SIGMA),
                    dim: self.dim.unwrap_or(d.dim),
                    rotate: self.rotate,
                    n_train,
                    n_test,
                    seed: self.data_seed.unwrap_or(defaults::DATA_SEED),
                };
                (source.sigma, source.data_seed) = (Some(cfg.sigma), Some(cfg.seed));
                // σ in compact form: a plain 1e-300 is 302 characters (adv47).
                let description = format!(
                    "xor (σ={}, d={}, rotate={}, seed={})",
                    compact(cfg.sigma),
                    cfg.dim,
                    cfg.rotate,
                    cfg.seed
                );
                (cfg.generate()?, description, None)
            }
            Task::HigherOrder => {
                let cfg = HigherOrderConfig {
                    dim: self.dim.unwrap_or(d.dim),
                    n_skewed: self.skewed.unwrap_or(defaults::SKEWED),
                    shape: self.gamma_shape.unwrap_or(defaults::GAMMA_SHAPE),
                    rotate: defaults::HIGHER_ORDER_ROTATE,
                    n_train,
                    n_test,
                    seed: self.data_seed.unwrap_or(defaults::DATA_SEED),
                };
                source.skewed = Some(cfg.n_skewed);
                source.gamma_shape = Some(cfg.shape);
                source.data_seed = Some(cfg.seed);
                let description = format!(
                    "higher-order (d={}, skewed directions={}, gamma shape={}, seed={})",
                    cfg.dim,
                    cfg.n_skewed,
                    compact(cfg.shape),
                    cfg.seed
                );
                (cfg.generate()?, description, None)
            }
            Task::Mnist => {
                let mnist = self.mnist_config()?.load_sets_limited(limit, sets)?;
                let scale = self
                    .scale
                    .unwrap_or_default()
                    .divisor(crate::data::array::Elem::U8);
                (mnist.split, format!("mnist: {}", mnist.provenance), scale)
            }
            Task::Data => {
                let a = self.arrays_config()?.load_sets_limited(limit, sets)?;
                (a.split, format!("data: {}", a.provenance), a.scale)
            }
        };
        let norm = self.normalization()?;
        description.push_str(&norm.apply(&mut split)?);
        let preprocess = DataConfig {
            scale: Some(scale.map_or(Scale::None, Scale::Divide)),
            center: Some(norm.center),
            standardize: Some(norm.standardize),
            normalize_mean: norm.mean.as_deref().map(write_vector),
            normalize_std: norm.std.as_deref().map(write_vector),
            ..DataConfig::default()
        };
        Ok(Loaded {
            split,
            description,
            source,
            preprocess,
        })
    }

    /// The normaliser, centring and standardisation.
    fn normalization(&self) -> Result<Normalization> {
        let vector = |spec: &Option<String>, field| {
            spec.as_deref().map(|s| read_vector(s, field)).transpose()
        };
        Ok(Normalization {
            mean: vector(&self.normalize_mean, Field::NormalizeMean)?,
            std: vector(&self.normalize_std, Field::NormalizeStd)?,
            center: self.center.unwrap_or(false),
            standardize: self.standardize.unwrap_or(false),
        })
    }

    /// The test split, parsed.
    fn test_split(&self) -> Result<Option<TestSplit>> {
        self.test_split
            .as_deref()
            .map(str::parse::<TestSplit>)
            .transpose()
    }

    /// The files this configuration reads, each with what it is (for messages): the sample
    /// files given, the MNIST files found in `mnist_dir` (whichever task: an output is refused
    /// as one of them even where the task reads other files), a normaliser given as a file.
    /// Paths that do not exist are listed too; [`crate::io::check_not_an_input`] skips them.
    pub fn input_files(&self) -> Vec<(PathBuf, &'static str)> {
        let given = [
            (&self.train_images, "the MNIST training images"),
            (&self.train_labels, "the MNIST training labels"),
            (&self.test_images, "the MNIST test images"),
            (&self.test_labels, "the MNIST test labels"),
            (&self.train_x, "the training features (--train-x)"),
            (&self.train_y, "the training labels (--train-y)"),
            (&self.test_x, "the test features (--test-x)"),
            (&self.test_y, "the test labels (--test-y)"),
        ];
        let mut files: Vec<(PathBuf, &'static str)> = given
            .into_iter()
            .filter_map(|(p, what)| p.clone().map(|p| (p, what)))
            .collect();
        let found = self
            .mnist_dir
            .as_ref()
            .and_then(|dir| MnistSource::Dir(dir.clone()).resolve().ok());
        if let Some(found) = found {
            let (images, labels) = found.train;
            files.push((images, "an MNIST file of the data folder"));
            files.push((labels, "an MNIST file of the data folder"));
            if let Some((images, labels)) = found.test {
                files.push((images, "an MNIST file of the data folder"));
                files.push((labels, "an MNIST file of the data folder"));
            }
        }
        for (spec, what) in [
            (&self.normalize_mean, "the normaliser's mean file"),
            (&self.normalize_std, "the normaliser's std file"),
        ] {
            files.extend(spec.as_ref().map(|s| (PathBuf::from(s), what)));
        }
        files
    }

    /// Refuses the output file `out` when it is one of [`Self::input_files`], or when it would
    /// become one: a file in the MNIST folder `mnist_dir` under a name the folder is searched
    /// for ([`crate::data::mnist::is_searched_path`]; e.g. `t10k-labels-idx1-ubyte` beside the
    /// `.gz` the run reads, which later runs would read instead, adv27).
    pub fn check_not_an_input(&self, out: &std::path::Path) -> Result<()> {
        let files = self.input_files();
        crate::io::check_not_an_input(out, files.iter().map(|(p, what)| (p.as_path(), *what)))?;
        match &self.mnist_dir {
            Some(dir) if crate::data::mnist::is_searched_path(dir, out) => Err(Error::format(
                out,
                format!(
                    "is a name the MNIST folder {} is searched for; written there it would be \
                     read as data by later runs: choose another path",
                    dir.display()
                ),
            )),
            _ => Ok(()),
        }
    }

    /// The setting a user gave that chose the labels of the training (`test` false) or test
    /// set, for an error about them: `--test-split` / `--train-limit` when given, else the
    /// labels' file (`--test-y`, or `--train-y` when the test set is carved from it;
    /// `--test-labels` / `--train-labels`), else `--mnist-dir`; `--n-test` / `--n-train` for a generated task.
    /// adv35: one-class test data named `--test-split`, which had not been given.
    pub fn labels_field(&self, test: bool) -> Field {
        let (cut, generated) = match test {
            true => (self.test_split.is_some(), Field::NTest),
            false => (self.train_limit.is_some(), Field::NTrain),
        };
        let labels = match test {
            true => (self.test_labels.is_some(), Field::TestLabels),
            false => (self.train_labels.is_some(), Field::TrainLabels),
        };
        match self.task() {
            Task::Mnist | Task::Data if cut => match test {
                true => Field::TestSplit,
                false => Field::TrainLimit,
            },
            Task::Data if test && self.test_y.is_some() => Field::TestY,
            Task::Data => Field::TrainY,
            Task::Mnist if labels.0 => labels.1,
            Task::Mnist => Field::MnistDir,
            _ => generated,
        }
    }

    /// Refuses a sample file or folder whose path is not valid UTF-8, naming its flag: the
    /// paths are recorded in a model as JSON text and merged with a model's record as JSON
    /// ([`super::provenance`]), which has no way to hold such a path exactly.
    pub fn check_text_paths(&self) -> Result<()> {
        let paths = [
            (Field::MnistDir, &self.mnist_dir),
            (Field::TrainImages, &self.train_images),
            (Field::TrainLabels, &self.train_labels),
            (Field::TestImages, &self.test_images),
            (Field::TestLabels, &self.test_labels),
            (Field::TrainX, &self.train_x),
            (Field::TrainY, &self.train_y),
            (Field::TestX, &self.test_x),
            (Field::TestY, &self.test_y),
        ];
        match paths
            .into_iter()
            .find(|(_, p)| p.as_ref().is_some_and(|p| p.to_str().is_none()))
        {
            Some((field, Some(p))) => Err(Error::config(
                field,
                format!(
                    "{}: the path is not valid UTF-8, and corrflow records the data's paths in \
                     the model as text; rename the file or folder",
                    p.display()
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Refuses a class count (`n_classes`) outside 2..=[`MAX_CLASSES`] (the labels' own bound),
    /// before the memory estimate sizes the read-out by it.
    pub fn check_n_classes(&self) -> Result<()> {
        match self.n_classes {
            Some(k) if !(2..=MAX_CLASSES).contains(&k) => Err(Error::config(
                Field::NClasses,
                format!("{k}: expected 2 to {MAX_CLASSES} classes"),
            )),
            _ => Ok(()),
        }
    }

    /// Refuses a setting that `task` does not read, naming its flag, where it would be ignored
    /// without a word: a generator setting (`n_train`, `n_test`, `dim`, `data_seed`; `sigma`
    /// and `rotate` outside XOR, `skewed` and `gamma_shape` outside the higher-order task)
    /// with files, MNIST's files or task data's files, tensor names and class count with
    /// another task, a split, limit or scale of files with a generated task (`--scale` was
    /// ignored without a word, adv43). A setting given at its
    /// default value is refused as well (the generator settings are unset until a task reads
    /// them: [`Self::load`]); MNIST's folder is not checked, as `MNIST_DIR` sets it for every
    /// run.
    /// Called on the user's settings against the task the run resolves (with `--model`, the
    /// model's unless `--task` is given). A sweep's grid points are not checked one by one (one
    /// grid may cross a task axis with another task's keys); a grid key that no point's task
    /// reads is refused (`sweep::grid::Grid::check_keys_are_read`).
    pub fn check_applies_to(&self, task: Task) -> Result<()> {
        match self.not_read_by(task).first() {
            Some(&field) => Err(Error::config(
                field,
                format!("does not apply to task {task}, which would ignore it; remove it or choose the task it belongs to"),
            )),
            None => Ok(()),
        }
    }

    /// Refuses a tensor name (`x_tensor`, `y_tensor`) when none of the files it would select
    /// from is a `.safetensors` file (only that ending is read as one: `.npy` and IDX files
    /// hold one unnamed array); the name was ignored without a word (adv46). Called by
    /// [`Self::arrays_config`], so a sweep's point is checked as a command line is.
    fn check_tensor_names(&self) -> Result<()> {
        let is_safetensors = |p: &&Option<PathBuf>| {
            p.as_ref()
                .is_some_and(|p| p.extension().is_some_and(|e| e == "safetensors"))
        };
        let names = [
            (
                Field::XTensor,
                &self.x_tensor,
                [&self.train_x, &self.test_x],
            ),
            (
                Field::YTensor,
                &self.y_tensor,
                [&self.train_y, &self.test_y],
            ),
        ];
        match names
            .into_iter()
            .find(|(_, name, files)| name.is_some() && !files.iter().any(is_safetensors))
        {
            Some((field, _, _)) => Err(Error::config(
                field,
                "names a tensor of a .safetensors file, but none of its files is one (.npy and \
                 IDX files hold one array, without a name); remove it",
            )),
            None => Ok(()),
        }
    }

    /// The settings given in `self` that `task` does not read, in the order of
    /// [`check_applies_to`](Self::check_applies_to)'s list.
    pub fn not_read_by(&self, task: Task) -> Vec<Field> {
        let generated = matches!(task, Task::Xor | Task::HigherOrder);
        let (mnist, data) = (task == Task::Mnist, task == Task::Data);
        let settings = [
            (Field::NTrain, self.n_train.is_some(), generated),
            (Field::NTest, self.n_test.is_some(), generated),
            (Field::Dim, self.dim.is_some(), generated),
            (Field::DataSeed, self.data_seed.is_some(), generated),
            (Field::Sigma, self.sigma.is_some(), task == Task::Xor),
            (Field::Rotate, self.rotate, task == Task::Xor),
            (
                Field::Skewed,
                self.skewed.is_some(),
                task == Task::HigherOrder,
            ),
            (
                Field::GammaShape,
                self.gamma_shape.is_some(),
                task == Task::HigherOrder,
            ),
            (Field::TrainImages, self.train_images.is_some(), mnist),
            (Field::TrainLabels, self.train_labels.is_some(), mnist),
            (Field::TestImages, self.test_images.is_some(), mnist),
            (Field::TestLabels, self.test_labels.is_some(), mnist),
            (Field::TrainX, self.train_x.is_some(), data),
            (Field::TrainY, self.train_y.is_some(), data),
            (Field::TestX, self.test_x.is_some(), data),
            (Field::TestY, self.test_y.is_some(), data),
            (Field::XTensor, self.x_tensor.is_some(), data),
            (Field::YTensor, self.y_tensor.is_some(), data),
            (Field::NClasses, self.n_classes.is_some(), data),
            (Field::Scale, self.scale.is_some(), !generated),
            (Field::TestSplit, self.test_split.is_some(), !generated),
            (Field::TrainLimit, self.train_limit.is_some(), !generated),
        ];
        settings
            .into_iter()
            .filter(|&(_, set, applies)| set && !applies)
            .map(|(field, _, _)| field)
            .collect()
    }

    /// The MNIST files, split and limit (centring and scaling are applied by [`Self::load`]).
    pub fn mnist_config(&self) -> Result<MnistConfig> {
        self.check_mnist_files()?;
        let source = match (&self.train_images, &self.train_labels) {
            (Some(images), Some(labels)) => MnistSource::Files(MnistFiles {
                train_images: images.clone(),
                train_labels: labels.clone(),
                test_images: self.test_images.clone(),
                test_labels: self.test_labels.clone(),
            }),
            _ => match &self.mnist_dir {
                Some(dir) => MnistSource::Dir(dir.clone()),
                None => {
                    return Err(Error::config(
                        Field::MnistDir,
                        "task mnist needs the folder of the IDX files (or MNIST_DIR in the \
                         environment), or training image and label files",
                    ))
                }
            },
        };
        Ok(MnistConfig {
            source,
            test_split: self.test_split()?,
            limit: self.train_limit,
            center: false,
            scale: self.scale.unwrap_or_default(),
            cache_dir: None,
        })
    }

    /// Explicit MNIST files come as the training pair (images and labels), with the test pair
    /// optional: a training file without its partner, or test files without the training pair
    /// (which the folder would then silently replace), is an error naming the flag.
    fn check_mnist_files(&self) -> Result<()> {
        let partner = |missing: &str| {
            format!(
                "needs {missing} too: explicit MNIST files replace --mnist-dir, which would \
                 otherwise be read instead of this file"
            )
        };
        match (&self.train_images, &self.train_labels) {
            (Some(_), None) => Err(Error::config(Field::TrainLabels, partner("--train-labels"))),
            (None, Some(_)) => Err(Error::config(Field::TrainImages, partner("--train-images"))),
            (None, None) => {
                let test = [
                    (&self.test_images, Field::TestImages),
                    (&self.test_labels, Field::TestLabels),
                ];
                match test.into_iter().find(|(file, _)| file.is_some()) {
                    Some((_, field)) => Err(Error::config(
                        field,
                        partner("--train-images and --train-labels"),
                    )),
                    None => Ok(()),
                }
            }
            (Some(_), Some(_)) => Ok(()),
        }
    }

    /// The files of task data and how to read them.
    pub fn arrays_config(&self) -> Result<ArraysConfig> {
        self.check_tensor_names()?;
        let (Some(train_x), Some(train_y)) = (&self.train_x, &self.train_y) else {
            let field = if self.train_x.is_none() {
                Field::TrainX
            } else {
                Field::TrainY
            };
            return Err(Error::config(
                field,
                "task data needs training features and labels (--train-x FILE --train-y FILE: .npy, .safetensors or IDX)",
            ));
        };
        Ok(ArraysConfig {
            train_x: train_x.clone(),
            train_y: train_y.clone(),
            test_x: self.test_x.clone(),
            test_y: self.test_y.clone(),
            tensors: (
                self.x_tensor.clone().unwrap_or_else(|| X_TENSOR.into()),
                self.y_tensor.clone().unwrap_or_else(|| Y_TENSOR.into()),
            ),
            test_split: self.test_split()?,
            limit: self.train_limit,
            scale: self.scale.unwrap_or_default(),
            n_classes: self.n_classes,
            cache_dir: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{DataConfig, Task};
    use crate::io::MemoryLimit;

    /// The fresh samples are the tail of the test stream run longer: equal to the samples a
    /// longer test set holds after the reported one (so of the same distribution, the hidden
    /// rotation included), none of them a training or test sample, labels as the generator
    /// assigns them; a task without a generator is refused naming the flag. Fails where the
    /// fresh samples are drawn with another seed (another rotation) or overlap the test set
    /// (broken on purpose: `subcols(n_test - 1, n)`, one test sample among them).
    #[test]
    fn fresh_samples_continue_the_generators_test_stream() {
        for task in [Task::Xor, Task::HigherOrder] {
            let cfg = DataConfig {
                task: Some(task),
                n_train: Some(60),
                n_test: Some(40),
                rotate: true,
                ..DataConfig::default()
            };
            let limit = MemoryLimit::default();
            let (fresh, about) = cfg.fresh_samples(limit, 30).unwrap();
            assert!(
                about.contains("30 fresh samples") && about.contains("40..70"),
                "{about}"
            );
            let longer = DataConfig {
                n_test: Some(70),
                ..cfg.clone()
            };
            let split = longer.load().unwrap().split;
            assert_eq!(fresh.x, split.test.x.subcols(40, 30).to_owned());
            assert_eq!(fresh.labels, split.test.labels[40..]);
            let used = cfg.load().unwrap().split;
            for j in 0..fresh.x.ncols() {
                let seen = |x: &faer::Mat<f64>| (0..x.ncols()).any(|k| x.col(k) == fresh.x.col(j));
                assert!(
                    !seen(&used.train.x) && !seen(&used.test.x),
                    "{task} sample {j}"
                );
            }
        }
        let mnist = DataConfig {
            task: Some(Task::Mnist),
            ..DataConfig::default()
        };
        let err = mnist
            .fresh_samples(MemoryLimit::default(), 10)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--pilot fresh") && err.contains("--task mnist"),
            "{err}"
        );
    }
}
