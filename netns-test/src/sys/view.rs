//! A node's view of the file system: a mount namespace, made once per node, where `/sys` shows
//! the node's interfaces and `/etc/hosts` lists the topology's names. The host's files and
//! mounts are untouched: the view is a slave copy, nothing propagates back.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, setns, unshare};

/// Makes the view of the node whose network namespace is `netns`, with the file `hosts` as its
/// `/etc/hosts`; returns its mount namespace. Done on a thread of its own, which ends.
pub(crate) fn make(netns: &OwnedFd, hosts: &Path) -> io::Result<OwnedFd> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| make_here(netns, hosts))
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Makes the view on the calling thread and enters it, until the returned [`Visit`] drops:
/// what [`make`] then [`visit`] do, without a thread of its own (a body's first view).
pub(crate) fn make_and_visit(netns: &OwnedFd, hosts: &Path) -> io::Result<(OwnedFd, Visit)> {
    let home: OwnedFd = std::fs::File::open("/proc/thread-self/ns/mnt")?.into();
    let cwd = std::env::current_dir().ok();
    let visit = Visit { home, cwd };
    // On failure, the visit's drop takes the thread back from the half-made view.
    let view = make_here(netns, hosts)?;
    if let Some(cwd) = &visit.cwd {
        let _ = std::env::set_current_dir(cwd);
    }
    Ok((view, visit))
}

/// Moves the calling thread into a new view and returns it.
fn make_here(netns: &OwnedFd, hosts: &Path) -> io::Result<OwnedFd> {
    unshare(CloneFlags::CLONE_FS | CloneFlags::CLONE_NEWNS)?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )?;
    setns(netns, CloneFlags::CLONE_NEWNET)?;
    // A sysfs mounted from inside the node lists the node's interfaces. Laid over
    // the host's, not in its place: every unmount costs the kernel an RCU grace
    // period (0.1 ms and more), and the one below is hidden all the same.
    mount(
        Some("sysfs"),
        "/sys",
        Some("sysfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )?;
    // Made from inside another node's view, the copy has that node's names bound
    // there already: laid over them too, unless their file is gone (the kernel
    // mounts nothing over an unlinked file), then off with them first.
    if let Err(e) = lay_hosts(hosts) {
        if e != nix::errno::Errno::ENOENT {
            return Err(not_laid(e));
        }
        let _ = umount2("/etc/hosts", MntFlags::MNT_DETACH);
        lay_hosts(hosts).map_err(not_laid)?;
    }
    Ok(std::fs::File::open("/proc/thread-self/ns/mnt")?.into())
}

/// Shows the file `hosts` as `/etc/hosts` in `view` from now on. It is laid over the file shown
/// before, so a reader opens one or the other, whole, never a file half written.
pub(crate) fn show_hosts(view: &OwnedFd, hosts: &Path) -> io::Result<()> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| -> io::Result<()> {
                unshare(CloneFlags::CLONE_FS)?;
                setns(view.as_fd(), CloneFlags::CLONE_NEWNS)?;
                lay_hosts(hosts).map_err(not_laid)
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Binds the file `hosts` over the calling thread's `/etc/hosts`. (The file must stay linked
/// while it is shown: the kernel mounts nothing over a file that was unlinked.)
fn lay_hosts(hosts: &Path) -> nix::Result<()> {
    mount(
        Some(hosts),
        "/etc/hosts",
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
}

/// A failure to lay the names over `/etc/hosts`, said so.
fn not_laid(e: nix::Error) -> io::Error {
    io::Error::new(
        io::Error::from(e).kind(),
        format!("laying the topology's names over /etc/hosts: {e}"),
    )
}

/// Moves the calling thread into `view`, keeping its working directory (entering a mount
/// namespace would reset it to `/`).
pub(crate) fn enter(view: &OwnedFd) -> io::Result<()> {
    let cwd = std::env::current_dir().ok();
    unshare(CloneFlags::CLONE_FS)?;
    setns(view.as_fd(), CloneFlags::CLONE_NEWNS)?;
    if let Some(cwd) = cwd {
        let _ = std::env::set_current_dir(cwd);
    }
    Ok(())
}

/// A thread's stay in a view: dropping it brings the thread back to the mount namespace and
/// working directory it had.
pub(crate) struct Visit {
    home: OwnedFd,
    cwd: Option<std::path::PathBuf>,
}

/// Moves the calling thread into `view` until the returned [`Visit`] drops.
pub(crate) fn visit(view: &OwnedFd) -> io::Result<Visit> {
    let home = std::fs::File::open("/proc/thread-self/ns/mnt")?.into();
    let cwd = std::env::current_dir().ok();
    enter(view)?;
    Ok(Visit { home, cwd })
}

impl Drop for Visit {
    fn drop(&mut self) {
        // As root, or in the user namespace the test process made (which owns the process's own
        // mount namespace, made with it), the way back is always allowed.
        if setns(self.home.as_fd(), CloneFlags::CLONE_NEWNS).is_ok()
            && let Some(cwd) = &self.cwd
        {
            let _ = std::env::set_current_dir(cwd);
        }
    }
}

/// What a forked child needs to enter a view: the current directory, made ready before the
/// fork (nothing may allocate after it).
pub(crate) fn cwd_for_child() -> Option<CString> {
    let cwd = std::env::current_dir().ok()?;
    CString::new(cwd.as_os_str().as_bytes()).ok()
}

/// In a forked child (single-threaded, its own file-system context): enters `view` and goes
/// back to `cwd`. Only system calls: async-signal-safe.
pub(crate) fn enter_in_child(view: &OwnedFd, cwd: Option<&CString>) -> io::Result<()> {
    setns(view.as_fd(), CloneFlags::CLONE_NEWNS)?;
    if let Some(cwd) = cwd {
        let _ = nix::unistd::chdir(cwd.as_c_str());
    }
    Ok(())
}
