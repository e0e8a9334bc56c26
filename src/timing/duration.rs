//! How long a run may take, in words: the threshold above which a command says so before the
//! work, and the figure it says.

/// Estimated seconds of work above which a command says how long it may take before it starts.
pub const LONG_RUN_SECONDS: f64 = 10.0;

/// `seconds` as "42 s", "3.5 min", "2.1 h".
pub fn human_seconds(seconds: f64) -> String {
    if seconds < 60.0 {
        format!("{seconds:.0} s")
    } else if seconds < 3600.0 {
        format!("{:.1} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3600.0)
    }
}
