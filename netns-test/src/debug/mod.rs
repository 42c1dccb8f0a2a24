//! The debugging aids: what a failing test leaves behind (the topology as the kernel holds it,
//! packet captures, a picture, nodes kept for a look).

pub(crate) mod capture;
pub(crate) mod inspect;
pub(crate) mod keep;
pub mod picture;
pub(crate) mod run;
