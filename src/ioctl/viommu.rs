// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! vIOMMU, vDEVICE, vEVENTQ and HW queue commands.

#![allow(unsafe_code)]

use super::command::{call, call_with_pointers};
use super::{own_fd, uptr};
use crate::uapi::*;
use rustix::fd::{BorrowedFd, OwnedFd};
use rustix::io::Errno;

/// `IOMMU_VIOMMU_ALLOC` with `data` as driver data (in and out): returns the new id.
pub(crate) fn viommu_alloc(
    fd: BorrowedFd<'_>,
    viommu_type: u32,
    dev_id: u32,
    hwpt_id: u32,
    data: &mut [u8],
) -> Result<u32, Errno> {
    let mut arg = IommuViommuAlloc {
        r#type: viommu_type,
        dev_id,
        hwpt_id,
        data_len: u32::try_from(data.len()).map_err(|_| Errno::INVAL)?,
        data_uptr: uptr(data),
        ..Default::default()
    };
    // SAFETY: data_uptr points to `data`, exclusively borrowed, data_len long; the
    // kernel reads and writes at most data_len bytes.
    unsafe { call_with_pointers(fd, &mut arg) }?;
    Ok(arg.out_viommu_id)
}

/// `IOMMU_VDEVICE_ALLOC`: returns the new vDEVICE id.
pub(crate) fn vdevice_alloc(
    fd: BorrowedFd<'_>,
    viommu_id: u32,
    dev_id: u32,
    virt_id: u64,
) -> Result<u32, Errno> {
    let mut arg = IommuVdeviceAlloc {
        viommu_id,
        dev_id,
        virt_id,
        ..Default::default()
    };
    call(fd, &mut arg)?;
    Ok(arg.out_vdevice_id)
}

/// `IOMMU_VEVENTQ_ALLOC`: returns the vEVENTQ's id and fd.
pub(crate) fn veventq_alloc(
    fd: BorrowedFd<'_>,
    viommu_id: u32,
    veventq_type: u32,
    depth: u32,
) -> Result<(u32, OwnedFd), Errno> {
    let mut arg = IommuVeventqAlloc {
        viommu_id,
        r#type: veventq_type,
        veventq_depth: depth,
        ..Default::default()
    };
    call(fd, &mut arg)?;
    // SAFETY: on success the kernel installed out_veventq_fd for us alone.
    Ok((arg.out_veventq_id, unsafe { own_fd(arg.out_veventq_fd) }))
}

/// `IOMMU_HW_QUEUE_ALLOC`: returns the new HW queue id.
pub(crate) fn hw_queue_alloc(
    fd: BorrowedFd<'_>,
    viommu_id: u32,
    queue_type: u32,
    index: u32,
    nesting_parent_iova: u64,
    length: u64,
) -> Result<u32, Errno> {
    let mut arg = IommuHwQueueAlloc {
        viommu_id,
        r#type: queue_type,
        index,
        nesting_parent_iova,
        length,
        ..Default::default()
    };
    call(fd, &mut arg)?;
    Ok(arg.out_hw_queue_id)
}
