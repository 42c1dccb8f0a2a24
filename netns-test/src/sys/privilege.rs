//! Privilege: root, or an unprivileged user through a user namespace, chosen before `main`.
//!
//! `unshare(CLONE_NEWUSER)` fails with EINVAL once a process has a second thread, and libtest
//! starts a thread per test before any test code runs. So the choice is made in a constructor
//! (an `.init_array` entry, run by the dynamic loader before `main`, while the process still has
//! one thread): if the process cannot create network namespaces as it is (no CAP_SYS_ADMIN), or
//! `NETNS_TEST_MODE=userns` asks for it, the whole test process enters a new user namespace in
//! which it is root, mapped to the real uid. Every namespace a test then creates lives under it.
//!
//! Why not a process per test? Starting a test binary costs more than the whole harness adds to
//! a test (the README's performance section has both figures), a cost every rootless test would
//! pay, and the child's output, panics and `#[should_panic]` would have to be re-plumbed into
//! libtest. Entering the user namespace in the constructor is paid once per process and leaves
//! libtest untouched: a rootless test runs exactly like a root one. `cargo nextest run`, which starts a process per test, runs the constructor in each.
//!
//! One consequence: a thread of a user namespace may enter the test's namespaces but never return
//! to the host's (that needs CAP_SYS_ADMIN over the host's namespace). So topologies are built on
//! a short-lived thread, `Node::run` uses a new thread, and the body runs on libtest's per-test
//! thread, which ends with the test.
//!
//! A failure is not reported in the constructor (there is no test to fail yet): it is recorded,
//! and the first test that needs a namespace fails with the cause and the fix, or, with
//! `NETNS_TEST_UNSUPPORTED=skip`, passes after printing `netns-test: skipped: <reason>`.

use std::sync::OnceLock;

use nix::errno::Errno;

/// How this process makes namespaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Privilege {
    /// It has the capabilities itself (root, or a container granting them).
    Root,
    /// It entered a user namespace before `main`, as uid `outer_uid` outside it.
    UserNamespace { outer_uid: u32 },
    /// Neither works; the reason and the fix.
    Unsupported {
        reason: String,
        errno: Option<Errno>,
    },
}

static PRIVILEGE: OnceLock<Privilege> = OnceLock::new();

/// The constructor's entry in `.init_array`. Referenced from [`privilege`] so the linker keeps it
/// in every binary that can build a topology.
#[used]
#[unsafe(link_section = ".init_array")]
static BEFORE_MAIN: extern "C" fn() = before_main;

extern "C" fn before_main() {
    // Before anything can move a thread: the namespace the process started in.
    super::namespace::remember_start();
    let _ = PRIVILEGE.set(choose());
}

/// How this process makes namespaces (decided before `main`; on first use if the constructor
/// did not run, as in a binary loaded in an unusual way).
pub(crate) fn privilege() -> &'static Privilege {
    std::hint::black_box(&BEFORE_MAIN);
    PRIVILEGE.get_or_init(choose)
}

fn choose() -> Privilege {
    let mode = std::env::var("NETNS_TEST_MODE").unwrap_or_default();
    match mode.as_str() {
        "root" => Privilege::Root,
        "userns" => enter_user_namespace(),
        "" | "auto" => {
            if has_namespace_capabilities() {
                Privilege::Root
            } else {
                enter_user_namespace()
            }
        }
        other => Privilege::Unsupported {
            reason: format!("NETNS_TEST_MODE={other} is not a mode"),
            errno: None,
        }
        .with_fix("set NETNS_TEST_MODE to auto, root or userns"),
    }
}

/// CAP_SYS_ADMIN (21) and CAP_NET_ADMIN (12) in the effective set.
fn has_namespace_capabilities() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    eff & (1 << 21) != 0 && eff & (1 << 12) != 0
}

fn enter_user_namespace() -> Privilege {
    let uid = nix::unistd::getuid().as_raw();
    let gid = nix::unistd::getgid().as_raw();
    if let Err(errno) = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER) {
        return unsupported_userns(errno);
    }
    let maps = std::fs::write("/proc/self/setgroups", "deny")
        .and_then(|()| std::fs::write("/proc/self/uid_map", format!("0 {uid} 1")))
        .and_then(|()| std::fs::write("/proc/self/gid_map", format!("0 {gid} 1")));
    if let Err(e) = maps {
        let errno = Errno::from_raw(e.raw_os_error().unwrap_or(libc::EPERM));
        return unsupported_userns(errno);
    }
    // A mount namespace owned by the new user namespace, so a thread that visits a node's view
    // (its /etc/hosts, its /sys) may come back: setns() into the host's, owned by the initial
    // user namespace, would be refused. A copy of the host's mounts; nothing propagates back.
    let _ = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS);
    Privilege::UserNamespace { outer_uid: uid }
}

/// Why a network namespace could not be made inside our user namespace (AppArmor lets the user
/// namespace be made but strips its capabilities).
pub(crate) fn unsupported_after_userns(errno: Errno) -> Privilege {
    unsupported_userns(errno)
}

/// Why a user namespace could not be made, and the exact fix, from what the kernel exposes.
fn unsupported_userns(errno: Errno) -> Privilege {
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .ok()
            .map(|s| s.trim().to_string())
    };
    diagnose(
        errno,
        read("/proc/sys/user/max_user_namespaces"),
        read("/proc/sys/kernel/unprivileged_userns_clone"),
        read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
        std::fs::read_dir("/proc/self/task")
            .map(|d| d.count())
            .unwrap_or(1),
    )
}

/// The cause of a failed `unshare(CLONE_NEWUSER)`, from the errno and the relevant sysctls.
pub(crate) fn diagnose(
    errno: Errno,
    max_user_namespaces: Option<String>,
    unprivileged_userns_clone: Option<String>,
    apparmor_restrict: Option<String>,
    threads: usize,
) -> Privilege {
    let unsupported = |reason: &str, fix: &str| {
        Privilege::Unsupported {
            reason: reason.to_string(),
            errno: Some(errno),
        }
        .with_fix(fix)
    };
    if errno == Errno::EINVAL && threads > 1 {
        return unsupported(
            "the process already had several threads when netns-test tried to enter a user namespace",
            "run the tests as root, or make sure no other constructor starts a thread before main",
        );
    }
    if max_user_namespaces.as_deref() == Some("0") || errno == Errno::ENOSPC {
        return unsupported(
            "user namespaces are disabled or exhausted here (user.max_user_namespaces)",
            "run `sysctl -w user.max_user_namespaces=15000` as root, or run the tests as root",
        );
    }
    if unprivileged_userns_clone.as_deref() == Some("0") {
        return unsupported(
            "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone=0)",
            "run `sysctl -w kernel.unprivileged_userns_clone=1` as root, or run the tests as root",
        );
    }
    if apparmor_restrict.as_deref() == Some("1") {
        return unsupported(
            "AppArmor restricts unprivileged user namespaces (Ubuntu 23.10 and later)",
            "run `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` as root (on GitHub \
             Actions: `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`), or run \
             the tests as root",
        );
    }
    unsupported(
        "this process may not create user namespaces (a container or seccomp profile forbids it)",
        "run the tests as root; in Docker add `--cap-add SYS_ADMIN --cap-add NET_ADMIN` (or \
         `--privileged`), or allow unshare in the seccomp profile",
    )
}

impl Privilege {
    fn with_fix(self, fix: &str) -> Privilege {
        match self {
            Privilege::Unsupported { reason, errno } => Privilege::Unsupported {
                reason: format!("{reason}; fix: {fix}"),
                errno,
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(p: Privilege) -> String {
        match p {
            Privilege::Unsupported { reason, .. } => reason,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_cause_has_its_own_fix() {
        let s = |v: &str| Some(v.to_string());
        assert!(
            reason(diagnose(Errno::ENOSPC, s("0"), None, None, 1))
                .contains("user.max_user_namespaces=15000")
        );
        assert!(
            reason(diagnose(Errno::EPERM, s("100"), s("0"), None, 1))
                .contains("unprivileged_userns_clone=1")
        );
        assert!(
            reason(diagnose(Errno::EACCES, s("100"), None, s("1"), 1))
                .contains("apparmor_restrict_unprivileged_userns=0")
        );
        assert!(
            reason(diagnose(Errno::EPERM, s("100"), None, s("0"), 1))
                .contains("--cap-add SYS_ADMIN")
        );
        assert!(
            reason(diagnose(Errno::EINVAL, s("100"), None, None, 3)).contains("several threads")
        );
    }
}
