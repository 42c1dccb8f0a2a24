//! `net.` sysctls of the calling thread's network namespace, read and written under `/proc/sys`.

use std::io;
use std::path::PathBuf;

use nix::errno::Errno;

use crate::error::Error;

fn path(key: &str) -> PathBuf {
    let mut path = PathBuf::from("/proc/sys");
    path.extend(key.split('.'));
    path
}

/// Whether the sysctl `key` of the calling thread's namespace reads as something other than `0`
/// (`false` if it cannot be read).
pub(crate) fn is_on(key: &str) -> bool {
    std::fs::read_to_string(path(key)).is_ok_and(|v| v.trim() != "0")
}

/// Writes a `net.` sysctl of the calling thread's namespace. The topology parser has already
/// refused keys outside `net.`, empty components and `/`; this checks again before writing.
/// With `missing_ok`, a key this kernel lacks is not an error.
pub(crate) fn write(key: &str, value: &str, missing_ok: bool) -> Result<(), Error> {
    if !key.starts_with("net.") || key.split('.').any(|p| p.is_empty() || p.contains('/')) {
        return Err(
            Error::kernel(format!("setting sysctl {key}"), Errno::EINVAL, None)
                .with_hint("only keys under `net.` are written"),
        );
    }
    match std::fs::write(path(key), value) {
        Ok(()) => Ok(()),
        Err(e) if missing_ok && e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Error::io(format!("setting sysctl {key}={value}"), e)
            .with_hint("this kernel has no such setting: check the key's spelling and that the interface it names exists")),
        Err(e) => Err(Error::io(format!("setting sysctl {key}={value}"), e)),
    }
}
