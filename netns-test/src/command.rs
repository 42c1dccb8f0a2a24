//! Processes inside a node: `Node::command`.

use std::ffi::OsStr;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::Arc;

use nix::sched::{CloneFlags, setns};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A command that dies with the thread that starts it and, between fork and exec, enters the
/// node's network namespace and its view (a mount namespace with the node's sysfs on `/sys` and
/// the topology's names in `/etc/hosts`), staying in the caller's working directory. The host's
/// mounts are untouched: the view is a slave of the host's, so nothing propagates back.
pub(crate) fn command(ns: Arc<OwnedFd>, view: Arc<OwnedFd>, program: &OsStr) -> Command {
    let mut command = Command::new(program);
    let parent = std::process::id();
    let cwd = crate::sys::view::cwd_for_child();
    // SAFETY: the closure runs in the forked child of a possibly multi-threaded process, before
    // exec, so it may only do async-signal-safe work: it makes system calls (prctl, getppid,
    // setns, chdir) and nothing else. Nothing allocates: the working directory was made a
    // C string before the fork, errors are errnos (`io::Error::from_raw_os_error` stores the
    // number inline), and the `Arc`s are only borrowed.
    unsafe {
        command.pre_exec(move || {
            enter(&ns, parent)?;
            crate::sys::view::enter_in_child(&view, cwd.as_ref())
        });
    }
    command
}

fn enter(ns: &OwnedFd, parent: u32) -> io::Result<()> {
    // Killed when the thread that started it dies, which includes the test process being killed
    // with SIGKILL; checked against the race where the parent died before the prctl.
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
    if nix::unistd::getppid().as_raw() as u32 != parent {
        // Not `io::Error::other`: that allocates, which is not allowed between fork and exec.
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    setns(ns, CloneFlags::CLONE_NEWNET)?;
    Ok(())
}

/// Kills, by pid, every process of this user whose network namespace is one of `inodes`: the
/// processes a test started in its nodes, and only those (no other process can be in them).
pub(crate) fn kill_processes_in(inodes: &[u64]) {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let ns = std::fs::metadata(format!("/proc/{pid}/ns/net"));
        if ns.is_ok_and(|m| inodes.contains(&m.ino())) {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
}
