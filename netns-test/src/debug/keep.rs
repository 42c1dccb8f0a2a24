//! `NETNS_TEST_KEEP=1`: a failed test's nodes stay, pinned under `/run/netns/` as `ip netns`
//! pins them, for a look with `ip netns exec`; `netns-test clean` removes pins whose test process
//! is gone.

use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};

use super::run::{ended, run_id};
use crate::names::NAMES_PREFIX;
use crate::net::Net;
use crate::sys::privilege::{Privilege, privilege};

/// Where `ip netns` keeps named namespaces.
///
/// ```no_run
/// // After a failed test run with NETNS_TEST_KEEP=1, as root:
/// for pin in std::fs::read_dir(netns_test::PIN_DIR)? {
///     println!("ip netns exec {} bash", pin?.file_name().to_string_lossy());
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub const PIN_DIR: &str = "/run/netns";
const PREFIX: &str = "netns-test-";

/// A pin name: `netns-test-<pid>.<start>-<test>-<node>`, with the test path's `::` as `.`.
fn pin_name(test: &str, node: &str) -> String {
    let test: String = test
        .replace("::", ".")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut name = format!("{PREFIX}{}-{test}-{node}", run_id());
    name.truncate(255);
    name
}

/// Pins every node of `net`; returns, per node, the line to print.
pub(crate) fn pin(net: &Net, test: &str) -> Vec<String> {
    const NEEDS_ROOT: &str = "netns-test: NETNS_TEST_KEEP=1 needs root: pinning a namespace mounts it \
        in the host's /run/netns, which a user namespace may not; run the test as root to keep its nodes";
    if *privilege() != Privilege::Root {
        return vec![NEEDS_ROOT.to_string()];
    }
    net.nodes()
        .map(|node| {
            let name = pin_name(test, node.name());
            let target = Path::new(PIN_DIR).join(&name);
            let source = format!("/proc/self/fd/{}", node.ns().as_raw_fd());
            let pinned = std::fs::create_dir_all(PIN_DIR)
                .and_then(|()| std::fs::File::create(&target).map(drop))
                .and_then(|()| {
                    mount(
                        Some(source.as_str()),
                        &target,
                        None::<&str>,
                        MsFlags::MS_BIND,
                        None::<&str>,
                    )
                    .map_err(io::Error::from)
                });
            match pinned {
                Ok(()) => format!(
                    "netns-test: kept node `{}`: ip netns exec {name} bash",
                    node.name()
                ),
                Err(e) => {
                    let _ = std::fs::remove_file(&target);
                    if matches!(e.raw_os_error(), Some(libc::EPERM | libc::EACCES)) {
                        format!("{NEEDS_ROOT} ({}: {e})", target.display())
                    } else {
                        let node = node.name();
                        format!(
                            "netns-test: cannot keep node `{node}` at {}: {e}",
                            target.display()
                        )
                    }
                }
            }
        })
        .collect()
}

/// Removes every pin under `dir` whose test process is gone, and nothing else. Returns the pins
/// removed.
///
/// ```no_run
/// let removed = netns_test::clean_stale_pins(std::path::Path::new(netns_test::PIN_DIR))?;
/// println!("removed {} pins of finished test runs", removed.len());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn clean(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(owner) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if !ended(owner) {
            continue; // its test process still runs
        }
        let path = entry.path();
        let _ = umount2(&path, MntFlags::MNT_DETACH);
        std::fs::remove_file(&path)?;
        removed.push(path);
    }
    Ok(removed)
}

/// Removes every directory of names (`netns-test-hosts-<pid>.<start>-<n>`, the `/etc/hosts`
/// files a net's nodes see, which the net removes when it drops) under `dir`, the temporary
/// directory, whose test process is gone (killed before it could), and nothing else. Returns
/// the directories removed.
///
/// ```no_run
/// let removed = netns_test::clean_stale_names(&std::env::temp_dir())?;
/// println!("removed {} names directories of killed test runs", removed.len());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn clean_stale_names(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(owner) = name
            .strip_prefix(NAMES_PREFIX)
            .and_then(|rest| rest.rsplit_once('-'))
            .map(|(owner, _)| owner)
        else {
            continue;
        };
        if ended(owner) && entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(entry.path())?;
            removed.push(entry.path());
        }
    }
    Ok(removed)
}
