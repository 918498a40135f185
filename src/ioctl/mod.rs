// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The only place that talks to the kernel through `ioctl(2)`: one thin function per
//! command, each turning borrowed Rust buffers into the user pointers of its wire
//! struct, so the pointer the kernel follows is always valid for the call.
//!
//! Every iommufd and VFIO cdev command is `_IO(';', nr)`: the number carries no size or
//! direction, and the kernel reads the struct's `size` (or `argsz`) field instead and
//! writes results back into the same struct. Each wire struct is bound once to its
//! request ([`command::Command`], impls in `bindings`), so a command function names
//! only its struct: [`command::call`] (safe, for structs without user pointers) or
//! [`command::call_with_pointers`] infers the opcode and stamps the size.
//!
//! The one other `unsafe` the crate needs lives here too: [`mapping`], the shared
//! mapping of guest RAM behind [`MappedGuestMemory`](crate::vsmmu::MappedGuestMemory).

#![allow(unsafe_code)]

mod bindings;
mod command;
mod dma;
pub(crate) mod hwpt;
pub(crate) mod ioas;
pub(crate) mod mapping;
#[cfg(feature = "mock")]
pub(crate) mod mock;
pub(crate) mod probe;
#[cfg(feature = "mock")]
pub(crate) mod test_ops;
pub(crate) mod vfio;
pub(crate) mod viommu;

use rustix::fd::{FromRawFd, OwnedFd, RawFd};

/// A user pointer to a slice, or 0 for an empty one (the kernel checks the length).
fn uptr<T>(slice: &[T]) -> u64 {
    if slice.is_empty() {
        0
    } else {
        slice.as_ptr() as u64
    }
}

/// Takes ownership of a file descriptor the kernel just created for us.
///
/// # Safety
///
/// `raw` must be an open fd that nothing else owns.
unsafe fn own_fd(raw: u32) -> OwnedFd {
    // SAFETY: the caller guarantees `raw` is a fresh fd owned by no one else.
    unsafe { OwnedFd::from_raw_fd(raw as RawFd) }
}
