//! The test split `FROM:TO` (`--test-split`, [`Field::TestSplit`]): which samples of a file form the test set.

use std::ops::Range;
use std::path::Path;
use std::str::FromStr;

use crate::error::Field;
use crate::{Error, Result};

/// Samples `from..to` (0-based, `to` exclusive) of one file form the test set; the rest of that
/// file (`..from` and `to..`) joins the training set. Parsed from `"FROM:TO"` with FROM < TO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestSplit {
    pub from: usize,
    pub to: usize,
}

impl TestSplit {
    /// A split `from..to`; errors when `from ≥ to`.
    pub fn new(from: usize, to: usize) -> Result<Self> {
        if from >= to {
            return Err(Error::config(
                Field::TestSplit,
                format!("{from}:{to}: FROM must be smaller than TO"),
            ));
        }
        Ok(TestSplit { from, to })
    }

    /// The test range after checking it lies inside a file of `len` samples (`file` is named in
    /// the error).
    pub fn range_in(&self, len: usize, file: &Path) -> Result<Range<usize>> {
        if self.to > len {
            return Err(Error::config(
                Field::TestSplit,
                format!(
                    "{}:{} reaches beyond {}, which has {len} samples",
                    self.from,
                    self.to,
                    file.display()
                ),
            ));
        }
        Ok(self.from..self.to)
    }
}

impl FromStr for TestSplit {
    type Err = Error;

    /// Parses `"FROM:TO"`, e.g. `"5000:10000"`.
    fn from_str(s: &str) -> Result<Self> {
        let (a, b) = s.split_once(':').ok_or_else(|| {
            Error::config(
                Field::TestSplit,
                format!("{s:?}: expected FROM:TO, e.g. 5000:10000"),
            )
        })?;
        let parse = |t: &str, what: &str| {
            t.trim().parse::<usize>().map_err(|_| {
                Error::config(
                    Field::TestSplit,
                    format!("{s:?}: {what} {t:?} is not a non-negative integer"),
                )
            })
        };
        TestSplit::new(parse(a, "FROM")?, parse(b, "TO")?)
    }
}
