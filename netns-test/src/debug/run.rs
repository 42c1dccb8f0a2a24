//! Which test process run made something left on the host (a pin, a names directory): this
//! run's id, and whether another run has ended.

/// This process's start time in clock ticks after boot (field 22 of `/proc/PID/stat`): with the
/// pid it names a process run uniquely, even after the pid is reused.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis don't.
    let after = &stat[stat.rfind(')')? + 2..];
    after.split_whitespace().nth(19)?.parse().ok()
}

/// This test process run: `<pid>.<start>`, in the names of what it leaves on the host (pins,
/// names directories), so a sweep tells a finished run's from a live one's.
pub(crate) fn run_id() -> &'static str {
    static RUN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    RUN.get_or_init(|| {
        let pid = std::process::id();
        format!("{pid}.{}", start_time(pid).unwrap_or(0))
    })
}

/// Whether the run `<pid>.<start>` (as [`run_id`] writes it) has ended.
pub(crate) fn ended(run: &str) -> bool {
    let Some((pid, start)) = run.split_once('.') else {
        return false;
    };
    let (Ok(pid), Ok(start)) = (pid.parse::<u32>(), start.parse::<u64>()) else {
        return false;
    };
    start_time(pid) != Some(start)
}
