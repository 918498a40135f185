// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! HWPT commands: allocation, hw_info, dirty tracking, invalidation, fault queues.

#![allow(unsafe_code)]

use super::command::{call, call_with_pointers};
use super::{own_fd, uptr};
use crate::uapi::*;
use rustix::fd::{BorrowedFd, OwnedFd};
use rustix::io::Errno;

/// The arguments of `IOMMU_HWPT_ALLOC` other than the driver data.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HwptAllocArgs {
    pub flags: HwptAllocFlags,
    pub dev_id: u32,
    pub pt_id: u32,
    pub data_type: u32,
    pub fault_id: u32,
}

/// `IOMMU_HWPT_ALLOC` with `data` as the driver data: returns the new HWPT id.
pub(crate) fn hwpt_alloc(
    fd: BorrowedFd<'_>,
    args: HwptAllocArgs,
    data: &[u8],
) -> Result<u32, Errno> {
    let mut arg = IommuHwptAlloc {
        flags: args.flags.bits(),
        dev_id: args.dev_id,
        pt_id: args.pt_id,
        data_type: args.data_type,
        data_len: u32::try_from(data.len()).map_err(|_| Errno::INVAL)?,
        data_uptr: uptr(data),
        fault_id: args.fault_id,
        ..Default::default()
    };
    // SAFETY: data_uptr points to `data`, borrowed for the call, data_len long; the
    // kernel only reads it.
    unsafe { call_with_pointers(fd, &mut arg) }?;
    Ok(arg.out_hwpt_id)
}

/// `IOMMU_GET_HW_INFO` into `buf`. `data_type` is sent with `INPUT_TYPE` when given.
/// Returns the struct as the kernel left it (`data_len`, type, caps, PASID width).
pub(crate) fn get_hw_info(
    fd: BorrowedFd<'_>,
    dev_id: u32,
    data_type: Option<u32>,
    buf: &mut [u8],
) -> Result<IommuHwInfo, Errno> {
    let mut arg = IommuHwInfo {
        flags: if data_type.is_some() {
            HwInfoFlags::INPUT_TYPE.bits()
        } else {
            0
        },
        dev_id,
        data_len: u32::try_from(buf.len()).map_err(|_| Errno::INVAL)?,
        data_uptr: uptr(buf),
        data_type: data_type.unwrap_or(0),
        ..Default::default()
    };
    // SAFETY: data_uptr points to `buf`, exclusively borrowed, data_len long; the
    // kernel writes at most data_len bytes.
    unsafe { call_with_pointers(fd, &mut arg) }?;
    Ok(arg)
}

/// `IOMMU_HWPT_SET_DIRTY_TRACKING`.
pub(crate) fn set_dirty_tracking(
    fd: BorrowedFd<'_>,
    hwpt_id: u32,
    enable: bool,
) -> Result<(), Errno> {
    let mut arg = IommuHwptSetDirtyTracking {
        flags: if enable {
            DirtyTrackingFlags::ENABLE.bits()
        } else {
            0
        },
        hwpt_id,
        ..Default::default()
    };
    call(fd, &mut arg)
}

/// Bytes of bitmap the kernel writes for `length` bytes at `page_size` bytes per bit,
/// or `None` if the arithmetic overflows or `page_size` is 0.
pub(crate) fn dirty_bitmap_bytes(length: u64, page_size: u64) -> Option<u64> {
    Some(length.checked_div(page_size)?.div_ceil(8))
}

/// `IOMMU_HWPT_GET_DIRTY_BITMAP` into `bitmap`. Refuses (EINVAL) a bitmap too small for
/// the range, so the kernel never writes past it.
pub(crate) fn get_dirty_bitmap(
    fd: BorrowedFd<'_>,
    hwpt_id: u32,
    flags: DirtyBitmapFlags,
    iova: u64,
    length: u64,
    page_size: u64,
    bitmap: &mut [u64],
) -> Result<(), Errno> {
    let needed = dirty_bitmap_bytes(length, page_size).ok_or(Errno::INVAL)?;
    if (bitmap.len() as u64).saturating_mul(8) < needed {
        return Err(Errno::INVAL);
    }
    let mut arg = IommuHwptGetDirtyBitmap {
        hwpt_id,
        flags: flags.bits(),
        iova,
        length,
        page_size,
        data: uptr(bitmap),
        ..Default::default()
    };
    // SAFETY: data points to `bitmap`, exclusively borrowed and checked above to hold
    // the length / page_size bits the kernel writes.
    unsafe { call_with_pointers(fd, &mut arg) }
}

/// `IOMMU_HWPT_INVALIDATE` of `entry_num` entries of `entry_len` bytes from `data`.
/// Returns the result and the `entry_num` the kernel wrote back. Refuses (EINVAL) a
/// `data` shorter than `entry_len * entry_num`, so the kernel never reads past it.
/// Inlined: the hot path's frames between the caller and the syscall stay few.
#[inline(always)]
pub(crate) fn hwpt_invalidate(
    fd: BorrowedFd<'_>,
    hwpt_id: u32,
    data_type: u32,
    data: &[u8],
    entry_len: u32,
    entry_num: u32,
) -> (Result<(), Errno>, u32) {
    let needed = u64::from(entry_len) * u64::from(entry_num);
    if (data.len() as u64) < needed {
        return (Err(Errno::INVAL), entry_num);
    }
    let mut arg = IommuHwptInvalidate {
        hwpt_id,
        data_uptr: uptr(data),
        data_type,
        entry_len,
        entry_num,
        ..Default::default()
    };
    // SAFETY: data_uptr points to `data`, borrowed for the call and checked above to
    // hold entry_len * entry_num bytes; the kernel only reads it.
    let result = unsafe { call_with_pointers(fd, &mut arg) };
    (result, arg.entry_num)
}

/// `IOMMU_FAULT_QUEUE_ALLOC`: returns the fault queue's id and fd.
pub(crate) fn fault_queue_alloc(fd: BorrowedFd<'_>) -> Result<(u32, OwnedFd), Errno> {
    let mut arg = IommuFaultAlloc::default();
    call(fd, &mut arg)?;
    // SAFETY: on success the kernel installed out_fault_fd for us alone.
    Ok((arg.out_fault_id, unsafe { own_fd(arg.out_fault_fd) }))
}
