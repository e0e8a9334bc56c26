//! Run configurations and shapes the memory and work tests share.

use super::Shape;
use crate::config::{RunConfig, Task};

/// The configuration of a generated task with `n_train` and `n_test` samples.
pub(super) fn generated(task: Task, n_train: usize, n_test: usize) -> RunConfig {
    let mut config = RunConfig::default();
    config.data.task = Some(task);
    config.data.n_train = Some(n_train);
    config.data.n_test = Some(n_test);
    config
}

/// The [2, 2000, 2] XOR net's shape with `threads` worker threads.
pub(super) fn xor_2000(threads: usize) -> Shape {
    let mut config = generated(Task::Xor, 200, 400);
    config.net.hidden = Some(vec![2000]);
    Shape {
        threads,
        ..Shape::of(&config)
    }
}
