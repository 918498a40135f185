// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! `IOMMU_TEST_CMD`, the kernel mock IOMMU's test command, and a raw hook for
//! failures the typed API cannot produce.

#![allow(unsafe_code)]

use super::{call, size_u32};
use crate::uapi::*;
use rustix::fd::BorrowedFd;
use rustix::io::Errno;
use rustix::ioctl::{Ioctl, IoctlOutput, Opcode};
use zerocopy::{Immutable, IntoBytes};

/// Builds the envelope of a test command with `payload` in its union.
pub(crate) fn test_cmd<P: IntoBytes + Immutable>(op: u32, id: u32, payload: &P) -> IommuTestCmd {
    let mut cmd = IommuTestCmd {
        size: size_u32::<IommuTestCmd>(),
        op,
        id,
        ..Default::default()
    };
    let bytes = payload.as_bytes();
    cmd.payload.as_mut_bytes()[..bytes.len()].copy_from_slice(bytes);
    cmd
}

/// Issues a test command that carries no user pointer.
pub(crate) fn run(fd: BorrowedFd<'_>, cmd: &mut IommuTestCmd) -> Result<(), Errno> {
    debug_assert!(!matches!(
        cmd.op,
        IOMMU_TEST_OP_MD_CHECK_MAP | IOMMU_TEST_OP_MD_CHECK_REFS | IOMMU_TEST_OP_DIRTY
    ));
    // SAFETY: IOMMU_TEST_CMD takes struct iommu_test_cmd; the ops allowed here carry
    // no user pointer (the ones that do go through run_with_buffer).
    unsafe { call::<IOMMU_TEST_CMD, _>(fd, cmd) }
}

/// Issues `MD_CHECK_MAP`, `MD_CHECK_REFS` or `DIRTY`, whose `uptr` points into `buf`.
pub(crate) fn run_with_buffer(
    fd: BorrowedFd<'_>,
    op: u32,
    id: u32,
    buf: &[u8],
    extra: (u64, u64, u32),
) -> Result<(), Errno> {
    let (iova, page_size, refs) = extra;
    let uptr = buf.as_ptr() as u64;
    let len = buf.len() as u64;
    let mut cmd = match op {
        IOMMU_TEST_OP_MD_CHECK_MAP => test_cmd(
            op,
            id,
            &IommuTestCmdCheckMap {
                iova,
                length: len,
                uptr,
            },
        ),
        IOMMU_TEST_OP_MD_CHECK_REFS => test_cmd(
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
            test_cmd(
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
    unsafe { call::<IOMMU_TEST_CMD, _>(fd, &mut cmd) }
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
    let allowed = [
        IOMMU_IOAS_ALLOC,
        IOMMU_DESTROY,
        IOMMU_IOAS_UNMAP,
        IOMMU_VDEVICE_ALLOC,
        IOMMU_OPTION,
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
