//! The retry policy for refusals the kernel means as "not now": which errnos, how often, how long.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nix::errno::Errno;

/// How many times a refusal the kernel means as "not now" is tried again.
pub(crate) const TRANSIENT_RETRIES: u32 = 8;

/// Transient refusals retried by this process so far.
static RETRIES: AtomicU64 = AtomicU64::new(0);

/// Refusals the kernel gives while it is busy (still freeing earlier namespaces, short of memory
/// for a moment): worth another try.
pub(crate) fn is_transient(errno: Errno) -> bool {
    matches!(
        errno,
        Errno::EBUSY | Errno::EAGAIN | Errno::ENOMEM | Errno::ENOBUFS
    )
}

/// The pause before retry number `attempt` (from 0): 1 ms, doubling, about 0.25 s over all
/// `TRANSIENT_RETRIES`. Counted, so tests (and curious users) can see retries happen.
pub(crate) fn back_off(attempt: u32) {
    RETRIES.fetch_add(1, Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(1 << attempt));
}

/// Transient refusals this process has retried so far.
pub(crate) fn retries() -> u64 {
    RETRIES.load(Ordering::Relaxed)
}

/// Runs `op` until it succeeds or fails for good: a transient refusal is tried again, backing
/// off from 1 ms, at most `TRANSIENT_RETRIES` times. Returns how many retries it took,
/// or the last errno and that count.
pub(crate) fn retry_transient(
    mut op: impl FnMut() -> Result<(), Errno>,
) -> Result<u32, (Errno, u32)> {
    let mut attempt = 0;
    loop {
        match op() {
            Ok(()) => return Ok(attempt),
            Err(e) if is_transient(e) && attempt < TRANSIENT_RETRIES => {
                back_off(attempt);
                attempt += 1;
            }
            Err(e) => return Err((e, attempt)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_refusals_are_retried_with_a_bound_and_counted() {
        let mut left = [Errno::EAGAIN, Errno::ENOMEM, Errno::EBUSY].into_iter();
        assert_eq!(retry_transient(|| left.next().map_or(Ok(()), Err)), Ok(3));
        assert_eq!(
            retry_transient(|| Err(Errno::EPERM)),
            Err((Errno::EPERM, 0))
        );
        let mut calls = 0;
        let result = retry_transient(|| {
            calls += 1;
            Err(Errno::EAGAIN)
        });
        assert_eq!(result, Err((Errno::EAGAIN, TRANSIENT_RETRIES)));
        assert_eq!(calls, TRANSIENT_RETRIES + 1);
    }
}
