// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The only place that talks to the kernel through `ioctl(2)`: one thin function per
//! command, each turning borrowed Rust buffers into the user pointers of its wire
//! struct, so the pointer the kernel follows is always valid for the call.
//!
//! Every iommufd and VFIO cdev command is `_IO(';', nr)`: the number carries no size or
//! direction, and the kernel reads the struct's `size` (or `argsz`) field instead and
//! writes results back into the same struct. [`call`] issues such a command through
//! rustix's `Updater`.

#![allow(unsafe_code)]

mod dma;
pub(crate) mod hwpt;
pub(crate) mod ioas;
#[cfg(feature = "mock")]
pub(crate) mod mock;
pub(crate) mod vfio;
pub(crate) mod viommu;

use rustix::fd::{BorrowedFd, FromRawFd, OwnedFd, RawFd};
use rustix::io::Errno;
use rustix::ioctl::{Opcode, Updater};

/// Issues `OPCODE` with `arg`, which the kernel may read and write.
///
/// # Safety
///
/// `T` must be the struct the kernel expects for `OPCODE`, and every user pointer in
/// `arg` must point to memory valid for the kernel's reads and writes of the lengths
/// `arg` states, for the whole call.
#[inline(always)]
unsafe fn call<const OPCODE: Opcode, T>(fd: BorrowedFd<'_>, arg: &mut T) -> Result<(), Errno> {
    // SAFETY: the caller guarantees T matches OPCODE and its pointers are valid; arg is
    // a live exclusive borrow, so the kernel's write-back lands in memory we own.
    unsafe { rustix::ioctl::ioctl(fd, Updater::<OPCODE, T>::new(arg)) }
}

/// The `size`/`argsz` value of a wire struct.
const fn size_u32<T>() -> u32 {
    size_of::<T>() as u32
}

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
