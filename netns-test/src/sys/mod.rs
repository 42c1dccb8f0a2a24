//! The one syscall layer: everything that talks to the kernel by system call lives below here.
//!
//! nix where nix has the call; [`raw`] holds the few calls nix lacks, each behind one safe
//! function. Nothing outside this folder writes `unsafe` but the pre-`main` constructor's
//! attribute and the pre-exec hook of `Node::command`.

pub(crate) mod namespace;
pub(crate) mod netfilter;
pub(crate) mod netlink;
pub(crate) mod packet;
pub(crate) mod privilege;
mod raw;
pub(crate) mod retry;
pub(crate) mod sysctl;
pub(crate) mod view;
