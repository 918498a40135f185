// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! IOAS commands, `IOMMU_DESTROY`, `IOMMU_OPTION` and `IOMMU_VFIO_IOAS`.

#![allow(unsafe_code)]

use super::command::{call, call_with_pointers};
use super::uptr;
use crate::ids::IovaRange;
use crate::uapi::*;
use rustix::fd::{AsRawFd, BorrowedFd};
use rustix::io::Errno;

/// `IOMMU_DESTROY`.
pub(crate) fn destroy(fd: BorrowedFd<'_>, id: u32) -> Result<(), Errno> {
    let mut arg = IommuDestroy {
        id,
        ..Default::default()
    };
    call(fd, &mut arg)
}

/// `IOMMU_IOAS_ALLOC`: returns the new IOAS id.
pub(crate) fn ioas_alloc(fd: BorrowedFd<'_>) -> Result<u32, Errno> {
    let mut arg = IommuIoasAlloc::default();
    call(fd, &mut arg)?;
    Ok(arg.out_ioas_id)
}

/// `IOMMU_IOAS_IOVA_RANGES` into `ranges`. Returns the number of ranges the IOAS has
/// and the IOVA alignment; `Err(EMSGSIZE)` with the number in `arg.num_iovas` when
/// `ranges` is too small.
pub(crate) fn ioas_iova_ranges(
    fd: BorrowedFd<'_>,
    ioas_id: u32,
    ranges: &mut [IovaRange],
) -> (Result<(), Errno>, IommuIoasIovaRanges) {
    let mut arg = IommuIoasIovaRanges {
        ioas_id,
        num_iovas: u32::try_from(ranges.len()).unwrap_or(u32::MAX),
        allowed_iovas: uptr(ranges),
        ..Default::default()
    };
    // SAFETY: allowed_iovas points to `ranges`, exclusively borrowed, with room for
    // num_iovas entries (never more than ranges.len()).
    let result = unsafe { call_with_pointers(fd, &mut arg) };
    (result, arg)
}

/// `IOMMU_IOAS_ALLOW_IOVAS`.
pub(crate) fn ioas_allow_iovas(
    fd: BorrowedFd<'_>,
    ioas_id: u32,
    ranges: &[IovaRange],
) -> Result<(), Errno> {
    let mut arg = IommuIoasAllowIovas {
        ioas_id,
        num_iovas: u32::try_from(ranges.len()).map_err(|_| Errno::INVAL)?,
        allowed_iovas: uptr(ranges),
        ..Default::default()
    };
    // SAFETY: allowed_iovas points to `ranges`, borrowed for the call, num_iovas long;
    // the kernel only reads it.
    unsafe { call_with_pointers(fd, &mut arg) }
}

/// `IOMMU_IOAS_MAP`: returns the IOVA mapped.
///
/// # Safety
///
/// `user_va .. user_va + length` must be memory of this process that may be read
/// (and, with `WRITEABLE`, written) by a device until it is unmapped, with no Rust
/// reference relying on its contents staying unchanged meanwhile.
pub(crate) unsafe fn ioas_map(
    fd: BorrowedFd<'_>,
    ioas_id: u32,
    flags: IoasMapFlags,
    user_va: u64,
    length: u64,
    iova: u64,
) -> Result<u64, Errno> {
    let mut arg = IommuIoasMap {
        flags: flags.bits(),
        ioas_id,
        user_va,
        length,
        iova,
        ..Default::default()
    };
    // SAFETY: the caller guarantees the user range may be pinned and accessed by DMA.
    unsafe { call_with_pointers(fd, &mut arg) }?;
    Ok(arg.iova)
}

/// `IOMMU_IOAS_MAP_FILE`: returns the IOVA mapped.
pub(crate) fn ioas_map_file(
    fd: BorrowedFd<'_>,
    ioas_id: u32,
    flags: IoasMapFlags,
    file: BorrowedFd<'_>,
    start: u64,
    length: u64,
    iova: u64,
) -> Result<u64, Errno> {
    let mut arg = IommuIoasMapFile {
        flags: flags.bits(),
        ioas_id,
        fd: file.as_raw_fd(),
        start,
        length,
        iova,
        ..Default::default()
    };
    call(fd, &mut arg)?;
    Ok(arg.iova)
}

/// `IOMMU_IOAS_COPY`: returns the destination IOVA.
pub(crate) fn ioas_copy(
    fd: BorrowedFd<'_>,
    flags: IoasMapFlags,
    dst_ioas_id: u32,
    dst_iova: u64,
    src_ioas_id: u32,
    src_iova: u64,
    length: u64,
) -> Result<u64, Errno> {
    let mut arg = IommuIoasCopy {
        flags: flags.bits(),
        dst_ioas_id,
        src_ioas_id,
        length,
        dst_iova,
        src_iova,
        ..Default::default()
    };
    call(fd, &mut arg)?;
    Ok(arg.dst_iova)
}

/// `IOMMU_IOAS_UNMAP`: returns the bytes unmapped.
pub(crate) fn ioas_unmap(
    fd: BorrowedFd<'_>,
    ioas_id: u32,
    iova: u64,
    length: u64,
) -> Result<u64, Errno> {
    let mut arg = IommuIoasUnmap {
        ioas_id,
        iova,
        length,
        ..Default::default()
    };
    call(fd, &mut arg)?;
    Ok(arg.length)
}

/// `IOMMU_OPTION`: returns `val64` after the call (the value read, for GET).
pub(crate) fn option(
    fd: BorrowedFd<'_>,
    option_id: u32,
    op: u16,
    object_id: u32,
    val64: u64,
) -> Result<u64, Errno> {
    let mut arg = IommuOption {
        option_id,
        op,
        object_id,
        val64,
        ..Default::default()
    };
    call(fd, &mut arg)?;
    Ok(arg.val64)
}

/// `IOMMU_VFIO_IOAS`: returns the IOAS id after the call (the one read, for GET).
pub(crate) fn vfio_ioas(fd: BorrowedFd<'_>, op: u16, ioas_id: u32) -> Result<u32, Errno> {
    let mut arg = IommuVfioIoas {
        ioas_id,
        op,
        ..Default::default()
    };
    call(fd, &mut arg)?;
    Ok(arg.ioas_id)
}

/// `IOMMU_IOAS_CHANGE_PROCESS`.
pub(crate) fn ioas_change_process(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    let mut arg = IommuIoasChangeProcess::default();
    call(fd, &mut arg)
}
