// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! `IOMMU_TEST_CMD`, the kernel mock IOMMU's test command, and a raw hook for
//! failures the typed API cannot produce.

#![allow(unsafe_code)]

use super::command::{Command, NoPointers, call_with_pointers};
use super::test_ops::TestOp;
use crate::uapi::*;
use rustix::fd::BorrowedFd;
use rustix::io::Errno;
use rustix::ioctl::{Ioctl, IoctlOutput, Opcode};
use zerocopy::{FromBytes, Immutable, IntoBytes};

/// The envelope of a test command with `payload` in its union (`size` is stamped by
/// the call).
fn envelope<P: IntoBytes + Immutable>(op: u32, id: u32, payload: &P) -> IommuTestCmd {
    let mut cmd = IommuTestCmd {
        op,
        id,
        ..Default::default()
    };
    let bytes = payload.as_bytes();
    cmd.payload.as_mut_bytes()[..bytes.len()].copy_from_slice(bytes);
    cmd
}

/// Issues `op` on object `id` with `payload`; returns the payload as the kernel left
/// it (the operations' results are written there).
pub(crate) fn run<P: IntoBytes + FromBytes + Immutable>(
    fd: BorrowedFd<'_>,
    op: TestOp<P>,
    id: u32,
    payload: P,
) -> Result<P, Errno> {
    let mut cmd = envelope(op.op(), id, &payload);
    // SAFETY: a TestOp's operation holds no user pointer (its binding's contract), and
    // the rest of the envelope holds none either.
    unsafe { call_with_pointers(fd, &mut cmd) }?;
    // P fits the union (each payload's size is asserted in uapi), so the read succeeds.
    let out = P::read_from_prefix(cmd.payload.as_bytes());
    Ok(out.map_or_else(|_| P::new_zeroed(), |(p, _)| p))
}

/// Issues `MD_CHECK_MAP`, `MD_CHECK_REFS` or `DIRTY`, whose `uptr` points into `buf`.
pub(crate) fn run_with_buffer(
    fd: BorrowedFd<'_>,
    op: u32,
    id: u32,
    buf: &[u8],
    extra: (u64, u64, u32),
) -> Result<IommuTestCmd, Errno> {
    let (iova, page_size, refs) = extra;
    let uptr = buf.as_ptr() as u64;
    let len = buf.len() as u64;
    let mut cmd = match op {
        IOMMU_TEST_OP_MD_CHECK_MAP => envelope(
            op,
            id,
            &IommuTestCmdCheckMap {
                iova,
                length: len,
                uptr,
            },
        ),
        IOMMU_TEST_OP_MD_CHECK_REFS => envelope(
            op,
            id,
            &IommuTestCmdCheckRefs {
                length: len,
                uptr,
                refs,
                __pad: 0,
            },
        ),
        // DIRTY: `buf` is the bitmap of pages to dirty, one bit per page of `len`.
        IOMMU_TEST_OP_DIRTY => {
            let length = len
                .checked_mul(8)
                .and_then(|b| b.checked_mul(page_size))
                .ok_or(Errno::INVAL)?;
            envelope(
                op,
                id,
                &IommuTestCmdDirty {
                    iova,
                    length,
                    page_size,
                    uptr,
                    ..Default::default()
                },
            )
        }
        _ => return Err(Errno::INVAL),
    };
    // SAFETY: uptr points to `buf`, borrowed for the call; CHECK_MAP and CHECK_REFS
    // read `length` bytes, DIRTY reads length / page_size bits: all inside `buf`.
    unsafe { call_with_pointers(fd, &mut cmd) }?;
    Ok(cmd)
}

/// What `DIRTY` wrote back: how many pages it marked.
pub(crate) fn nr_dirty(cmd: &IommuTestCmd) -> u64 {
    IommuTestCmdDirty::read_from_prefix(cmd.payload.as_bytes()).map_or(0, |(d, _)| d.out_nr_dirty)
}

/// An ioctl on a raw byte buffer, so a test can send a struct with a tail the kernel
/// does not know (E2BIG) or one that is too short (EINVAL).
struct RawBytes<'a> {
    opcode: Opcode,
    buf: &'a mut [u8],
}

// SAFETY: the opcode is a `_IO` command taking a pointer to `buf`; nothing is read
// back beyond the buffer the kernel was given.
unsafe impl Ioctl for RawBytes<'_> {
    type Output = ();
    const IS_MUTATING: bool = true;

    fn opcode(&self) -> Opcode {
        self.opcode
    }

    fn as_ptr(&mut self) -> *mut core::ffi::c_void {
        self.buf.as_mut_ptr().cast()
    }

    unsafe fn output_from_ptr(_: IoctlOutput, _: *mut core::ffi::c_void) -> rustix::io::Result<()> {
        Ok(())
    }
}

/// Issues `opcode` on `buf` as its struct. Only for commands whose struct holds no
/// user pointer (the kernel's `size` field must say `buf.len()` or less).
pub(crate) fn raw_no_pointers(
    fd: BorrowedFd<'_>,
    opcode: Opcode,
    buf: &mut [u8],
) -> Result<(), Errno> {
    // Only requests bound to a NoPointers struct can be listed here.
    let allowed = [
        no_pointers::<IommuIoasAlloc>(),
        no_pointers::<IommuDestroy>(),
        no_pointers::<IommuIoasUnmap>(),
        no_pointers::<IommuVdeviceAlloc>(),
        no_pointers::<IommuOption>(),
    ];
    if !allowed.contains(&opcode) || buf.len() < 4 {
        return Err(Errno::INVAL);
    }
    let size = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if size > buf.len() {
        return Err(Errno::INVAL);
    }
    // SAFETY: the commands allowed above take no user pointer, and the kernel reads
    // and writes at most `size` <= buf.len() bytes of the exclusively borrowed buffer.
    unsafe { rustix::ioctl::ioctl(fd, RawBytes { opcode, buf }) }
}

/// The request of `C`, which holds no user pointer.
const fn no_pointers<C: Command<Pointers = NoPointers>>() -> Opcode {
    C::OPCODE
}
