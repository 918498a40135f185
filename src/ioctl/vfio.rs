// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The VFIO device cdev's iommufd commands (issued on the device's fd).

#![allow(unsafe_code)]

use super::command::{call, call_with_pointers};

use crate::uapi::*;
use rustix::fd::{AsRawFd, BorrowedFd};
use rustix::io::Errno;

/// `VFIO_DEVICE_BIND_IOMMUFD`: returns the device id in `iommufd`.
pub(crate) fn bind_iommufd(
    device: BorrowedFd<'_>,
    iommufd: BorrowedFd<'_>,
    token: Option<&[u8; 16]>,
) -> Result<u32, Errno> {
    let mut arg = VfioDeviceBindIommufd {
        flags: if token.is_some() {
            VfioBindFlags::TOKEN.bits()
        } else {
            0
        },
        iommufd: iommufd.as_raw_fd(),
        token_uuid_ptr: token.map_or(0, |t| t.as_ptr() as u64),
        ..Default::default()
    };
    // SAFETY: token_uuid_ptr is 0 or points to the borrowed 16-byte token, which the
    // kernel only reads.
    unsafe { call_with_pointers(device, &mut arg) }?;
    Ok(arg.out_devid)
}

/// `VFIO_DEVICE_ATTACH_IOMMUFD_PT` (also a replace when already attached): returns the
/// HWPT id attached.
pub(crate) fn attach_pt(
    device: BorrowedFd<'_>,
    pt_id: u32,
    pasid: Option<u32>,
) -> Result<u32, Errno> {
    let mut arg = VfioDeviceAttachIommufdPt {
        flags: if pasid.is_some() {
            VfioPasidFlags::PASID.bits()
        } else {
            0
        },
        pt_id,
        pasid: pasid.unwrap_or(0),
        ..Default::default()
    };
    call(device, &mut arg)?;
    Ok(arg.pt_id)
}

/// `VFIO_DEVICE_DETACH_IOMMUFD_PT`.
pub(crate) fn detach_pt(device: BorrowedFd<'_>, pasid: Option<u32>) -> Result<(), Errno> {
    let mut arg = VfioDeviceDetachIommufdPt {
        flags: if pasid.is_some() {
            VfioPasidFlags::PASID.bits()
        } else {
            0
        },
        pasid: pasid.unwrap_or(0),
        ..Default::default()
    };
    call(device, &mut arg)
}
