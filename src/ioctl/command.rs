// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`Command`]: a wire struct bound once to the ioctl request whose argument it is,
//! so a call names the struct and never an opcode, and a wrong pairing cannot be
//! written at a call site.
//!
//! [`call`] issues a struct that holds no user pointer and is safe; a struct with user
//! pointers goes through the `unsafe` [`call_with_pointers`], whose caller vouches for
//! them. Both stamp the struct's size field, so the kernel never reads or writes past
//! the struct, whatever the call site put there.

#![allow(unsafe_code)]

use core::ffi::c_void;
use rustix::fd::BorrowedFd;
use rustix::io::Errno;
use rustix::ioctl::{Ioctl, IoctlOutput, Opcode};
use zerocopy::{FromBytes, IntoBytes};

/// A wire struct bound to the one ioctl request that takes it; the `unsafe impl`s are
/// in [`bindings`](super::bindings), in the order of [`crate::uapi::IOCTL_REQUESTS`],
/// which a compile-time check holds them to.
///
/// The impls live in this module rather than beside the structs in `uapi`: they are
/// claims about the kernel's handlers, audited with the rest of the `unsafe` code,
/// and `uapi` (a public mirror of the header) stays free of `unsafe`.
///
/// # Safety
///
/// An implementation promises, for every value of `Self`:
/// - `OPCODE` is the request whose kernel handler takes the C struct `Self` mirrors;
/// - `Self` starts with the `u32` size (`size` or `argsz`) that bounds what the
///   kernel reads and writes of it, so with it at `size_of::<Self>()` the kernel
///   touches nothing past the struct;
/// - with `Pointers = NoPointers`, the kernel follows no address in `Self` into this
///   process's memory: its fields are ids, flags, lengths, IOVAs, guest physical
///   addresses and file descriptors (which the kernel resolves, not dereferences).
pub(crate) unsafe trait Command: IntoBytes + FromBytes {
    /// The request number (`_IO(';', nr)`).
    const OPCODE: Opcode;
    /// [`NoPointers`] or [`UserPointers`]: picks [`call`] or [`call_with_pointers`].
    type Pointers: PointerKind;
}

/// Whether a [`Command`]'s struct carries user pointers.
pub(crate) trait PointerKind {}

/// The struct holds no user pointer: [`call`] is safe.
#[derive(Debug)]
pub(crate) enum NoPointers {}
impl PointerKind for NoPointers {}

/// The struct holds user pointers: [`call_with_pointers`] is `unsafe`.
#[derive(Debug)]
pub(crate) enum UserPointers {}
impl PointerKind for UserPointers {}

/// Issues `C`'s request with `arg`, which the kernel reads and writes in place.
#[inline(always)]
pub(crate) fn call<C: Command<Pointers = NoPointers>>(
    fd: BorrowedFd<'_>,
    arg: &mut C,
) -> Result<(), Errno> {
    // SAFETY: a NoPointers struct gives the kernel no address of ours to follow.
    unsafe { issue(fd, arg) }
}

/// Issues `C`'s request with `arg`, which the kernel reads and writes in place.
///
/// # Safety
///
/// Every user pointer in `arg` must point to memory valid for the kernel's reads and
/// writes of the lengths `arg` states, for the whole call.
#[inline(always)]
pub(crate) unsafe fn call_with_pointers<C: Command<Pointers = UserPointers>>(
    fd: BorrowedFd<'_>,
    arg: &mut C,
) -> Result<(), Errno> {
    // SAFETY: forwarded from this function's contract.
    unsafe { issue(fd, arg) }
}

/// Stamps `arg`'s size and issues its request.
///
/// # Safety
///
/// As for [`call_with_pointers`].
#[inline(always)]
unsafe fn issue<C: Command>(fd: BorrowedFd<'_>, arg: &mut C) -> Result<(), Errno> {
    // The first u32 bounds the kernel's copies (Command's contract); a constant store
    // the compiler merges with the call site's own initialisation.
    arg.as_mut_bytes()[..4].copy_from_slice(&(size_of::<C>() as u32).to_ne_bytes());
    // SAFETY: Bound pairs arg with C's own request; arg is an exclusive borrow, so the
    // kernel's write-back lands in memory we own; the caller vouches for its pointers.
    unsafe { rustix::ioctl::ioctl(fd, Bound(arg)) }
}

/// A bound struct as rustix's [`Ioctl`], with the opcode from its binding (rustix's
/// `Updater` takes the opcode as a const parameter, which a trait's associated const
/// cannot fill on stable Rust).
struct Bound<'a, C>(&'a mut C);

// SAFETY: the opcode is the one C is bound to; the pointer is the exclusive borrow of
// the C the kernel reads and writes in place (so IS_MUTATING); nothing is read back
// through it here: the caller reads the struct after the call.
unsafe impl<C: Command> Ioctl for Bound<'_, C> {
    type Output = ();
    const IS_MUTATING: bool = true;

    #[inline(always)]
    fn opcode(&self) -> Opcode {
        C::OPCODE
    }

    #[inline(always)]
    fn as_ptr(&mut self) -> *mut c_void {
        core::ptr::from_mut(self.0).cast()
    }

    #[inline(always)]
    unsafe fn output_from_ptr(_: IoctlOutput, _: *mut c_void) -> rustix::io::Result<()> {
        Ok(())
    }
}
