//! The thread count a run asks for when `--threads` is 0: what rayon's global pool would start
//! from the environment, read here once so that the count corrflow checks (the bound of
//! `--threads`, the room for the threads' stacks) and plans with (a sweep's pools) is the count
//! that runs. rayon-core 1.13 (`ThreadPoolBuilder::get_num_threads`) takes `RAYON_NUM_THREADS`
//! when it parses as a whole number (`usize::from_str`, no spaces), 0 meaning one per core;
//! failing that, the deprecated `RAYON_RS_NUM_CPUS` when it parses as a positive one; else one
//! thread per available core. adv53: corrflow read only the first variable (trimmed), so
//! `RAYON_RS_NUM_CPUS=99999` started 99 999 threads past the bound (killed at 20 s), a sweep
//! under `--threads 0` ignored both (`RAYON_NUM_THREADS=1`: "2 at a time, 1 threads each"), and
//! a value rayon ignores (`RAYON_NUM_THREADS=abc`) was ignored without a word.

use std::str::FromStr;

/// The variable rayon reads for its global pool's size.
pub const THREADS_VAR: &str = "RAYON_NUM_THREADS";
/// rayon's deprecated name for it, read where [`THREADS_VAR`] gives no count.
pub const OLD_THREADS_VAR: &str = "RAYON_RS_NUM_CPUS";

/// Where the thread count of `--threads 0` comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AskedThreads {
    /// The threads that run.
    pub count: usize,
    /// The variable that set `count` and its value; `None`: one per available core.
    pub from: Option<(&'static str, String)>,
    /// A variable set to what rayon does not read as a count, and its value: ignored, to be
    /// said ([`AskedThreads::ignored_warning`]).
    pub ignored: Option<(&'static str, String)>,
}

impl AskedThreads {
    /// The count of `--threads 0` from `get`, a lookup of the environment (`std::env::var`'s
    /// `ok()` in a run, a table in a test), and `cores`, the available cores.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>, cores: usize) -> Self {
        let mut ignored = None;
        for (i, name) in [THREADS_VAR, OLD_THREADS_VAR].into_iter().enumerate() {
            // Empty is unset (`export RAYON_NUM_THREADS=$UNSET`), as for `MNIST_DIR`.
            let Some(value) = get(name).filter(|v| !v.is_empty()) else {
                continue;
            };
            match usize::from_str(&value) {
                Ok(n) if n > 0 => {
                    return AskedThreads {
                        count: n,
                        from: Some((name, value)),
                        ignored,
                    }
                }
                // rayon: `RAYON_NUM_THREADS=0` is one per core, and ends the search.
                Ok(_) if i == 0 => break,
                _ => ignored = ignored.or(Some((name, value))),
            }
        }
        AskedThreads {
            count: cores.max(1),
            from: None,
            ignored,
        }
    }

    /// [`AskedThreads::from_lookup`] of this process's environment on `cores` cores
    /// ([`available_cores`], read once by the caller that also bounds the count by it).
    pub fn from_env(cores: usize) -> Self {
        Self::from_lookup(|name| std::env::var(name).ok(), cores)
    }

    /// The warning for a value not read as a count, saying what runs instead; `None` when
    /// every variable set was read.
    pub fn ignored_warning(&self) -> Option<String> {
        let (name, value) = self.ignored.as_ref()?;
        let instead = match &self.from {
            Some((used, v)) => format!("{} thread(s), as {used}={v} asks", self.count),
            None => format!("one thread per available core ({})", self.count),
        };
        Some(format!(
            "warning: {name}={value:?} is not a thread count (expected a whole number, 0 = one \
             per core) and is not used; running {instead}"
        ))
    }
}

/// The cores this process may run on (`std::thread::available_parallelism`, which reads the
/// affinity mask and the cgroup quota), 1 where it cannot be read.
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The threads `--threads threads` runs: `threads` itself, or under 0 the count of
/// [`AskedThreads::from_env`].
pub fn threads_of(threads: usize) -> usize {
    match threads {
        0 => AskedThreads::from_env(available_cores()).count,
        n => n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(vars: &[(&str, &str)]) -> AskedThreads {
        let get = |name: &str| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        };
        AskedThreads::from_lookup(get, 2)
    }

    #[test]
    fn the_count_is_the_one_rayon_reads() {
        assert_eq!(asked(&[]).count, 2);
        assert_eq!(asked(&[(THREADS_VAR, "3")]).count, 3);
        // 0 is one per core, and rayon then reads no other variable.
        assert_eq!(
            asked(&[(THREADS_VAR, "0"), (OLD_THREADS_VAR, "7")]).count,
            2
        );
        // The deprecated variable where the first gives no count (adv53: 99999 started).
        let old = asked(&[(OLD_THREADS_VAR, "99999")]);
        assert_eq!((old.count, old.from.unwrap().0), (99999, OLD_THREADS_VAR));
        assert_eq!(
            asked(&[(THREADS_VAR, "abc"), (OLD_THREADS_VAR, "5")]).count,
            5
        );
        // rayon does not trim: " 3" is no count to it.
        assert_eq!(asked(&[(THREADS_VAR, " 3")]).count, 2);
        assert_eq!(asked(&[(OLD_THREADS_VAR, "0")]).count, 2);
    }

    #[test]
    fn a_value_that_is_no_count_is_said_with_what_runs_instead() {
        for value in ["abc", "-1", " 3", "2.5"] {
            let w = asked(&[(THREADS_VAR, value)]).ignored_warning().unwrap();
            assert!(
                w.contains(&format!("{THREADS_VAR}={value:?} is not a thread count"))
                    && w.contains("one thread per available core (2)"),
                "{w}"
            );
        }
        let w = asked(&[(THREADS_VAR, "abc"), (OLD_THREADS_VAR, "5")])
            .ignored_warning()
            .unwrap();
        assert!(
            w.contains("running 5 thread(s), as RAYON_RS_NUM_CPUS=5 asks"),
            "{w}"
        );
        for fine in [
            &[][..],
            &[(THREADS_VAR, "0")],
            &[(THREADS_VAR, "4")],
            &[(THREADS_VAR, "")],
        ] {
            assert_eq!(asked(fine).ignored_warning(), None);
        }
    }
}
