//! Network namespaces held by file descriptors: created with `unshare`, entered with `setns`,
//! freed by the kernel when the last descriptor closes. Nothing is bind-mounted.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::sync::OnceLock;

use nix::errno::Errno;
use nix::sched::{CloneFlags, setns, unshare};

use super::retry::retry_transient;
use crate::error::Error;

/// The calling thread's current network namespace.
pub(crate) fn current() -> io::Result<OwnedFd> {
    Ok(File::open("/proc/thread-self/ns/net")?.into())
}

/// The inode number identifying the namespace `fd` refers to.
pub(crate) fn inode(fd: impl AsFd) -> io::Result<u64> {
    Ok(nix::sys::stat::fstat(fd)?.st_ino)
}

/// The inode of the calling thread's network namespace.
pub(crate) fn current_inode() -> io::Result<u64> {
    Ok(std::fs::metadata("/proc/thread-self/ns/net")?.ino())
}

/// The network namespace the process started in, as recorded before `main`.
static START: OnceLock<u64> = OnceLock::new();

/// Records the calling thread's namespace as the one the process started in: the host's, as far
/// as this process can tell. Called by the constructor before `main`, before any thread moves.
pub(crate) fn remember_start() {
    let _ = START.set(current_inode().unwrap_or(0));
}

/// The inode of the host's network namespace: pid 1's, or where that cannot be read (no ptrace
/// access to pid 1, as in a sandbox or a user namespace), the one this process started in,
/// recorded before `main`.
///
/// ```
/// // The main thread of a test binary starts in the host's namespace.
/// assert_eq!(netns_test::current_netns_inode(), netns_test::host_inode());
/// ```
pub fn host_inode() -> u64 {
    static HOST: OnceLock<u64> = OnceLock::new();
    *HOST.get_or_init(|| {
        std::fs::metadata("/proc/1/ns/net")
            .map(|m| m.ino())
            .ok()
            .or_else(|| START.get().copied().filter(|&i| i != 0))
            .or_else(|| std::fs::metadata("/proc/self/ns/net").map(|m| m.ino()).ok())
            .unwrap_or(0)
    })
}

/// Moves the calling thread into a new, empty network namespace and returns a descriptor for it.
/// The thread stays there (builds run on a short-lived thread).
///
/// While the kernel still frees the namespaces of earlier tests it may refuse for a moment
/// (EAGAIN, EBUSY, ENOMEM), and a namespace counts against `user.max_net_namespaces` until the
/// kernel has freed it, which it does some milliseconds after its last descriptor closes
/// (ENOSPC). Such a refusal is retried, backing off from 1 ms, at most `TRANSIENT_RETRIES`
/// times (about 0.25 s in all), then reported with the count.
pub(crate) fn create_and_enter() -> Result<OwnedFd, (Errno, u32)> {
    let mut refused = Errno::UnknownErrno;
    let retries = retry_transient(|| {
        unshare(CloneFlags::CLONE_NEWNET).map_err(|e| {
            refused = e;
            // Worth another try here, unlike elsewhere: see above.
            if e == Errno::ENOSPC { Errno::EAGAIN } else { e }
        })
    })
    .map_err(|(_, retries)| (refused, retries))?;
    current().map_err(|e| {
        (
            Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
            retries,
        )
    })
}

/// Refuses to go on unless the namespace with inode `new` is neither the one the thread came
/// from (`home`) nor the host's: a namespace we did not just create is never configured.
pub(crate) fn ensure_new(new: u64, home: u64, host: u64) -> Result<(), Error> {
    if new == home || new == host {
        return Err(
            Error::kernel("creating a network namespace", Errno::EINVAL, None).with_hint(
                "unshare(CLONE_NEWNET) returned without a new namespace; refusing to configure",
            ),
        );
    }
    Ok(())
}

/// Moves the calling thread into the namespace `fd`.
pub(crate) fn enter(fd: impl AsFd) -> io::Result<()> {
    setns(fd, CloneFlags::CLONE_NEWNET).map_err(io::Error::from)
}

/// The calling thread inside another network namespace until dropped, then back where it was
/// if the kernel lets it: a thread in a user namespace has no right to re-enter the host's
/// namespace, so there it stays in the node (the harness only does this to libtest's per-test
/// thread, which ends with the test).
pub(crate) struct Entered {
    back: OwnedFd,
}

impl Entered {
    /// Remembers the current namespace, then enters `target`.
    pub fn new(target: &OwnedFd) -> io::Result<Entered> {
        let back = current()?;
        enter(target)?;
        Ok(Entered { back })
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        let _ = enter(&self.back);
    }
}
