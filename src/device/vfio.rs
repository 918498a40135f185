// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! VFIO device cdevs (`/dev/vfio/devices/vfioN`) bound to an iommufd.

use super::Device;
use crate::error::{ErrnoExt, Op, Result, TransitionError};
use crate::ids::{DevId, HwptId, PtId};
use crate::ioctl;
use crate::iommufd::IommuFd;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use std::path::Path;
use std::sync::Arc;

/// A VFIO device cdev not yet bound to an iommufd.
#[derive(Debug)]
pub struct VfioUnbound {
    fd: OwnedFd,
}

impl VfioUnbound {
    /// Opens a VFIO device cdev, `/dev/vfio/devices/vfioN`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let fd = rustix::fs::open(path.as_ref(), OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
            .op(Op::Open)?;
        Ok(Self { fd })
    }

    /// Takes a device cdev fd that management software opened.
    pub fn from_fd(fd: OwnedFd) -> Self {
        Self { fd }
    }

    /// Binds the device to `iommufd` (`VFIO_DEVICE_BIND_IOMMUFD`). Until it is
    /// attached, the device can do no DMA. On failure the unbound device comes back.
    pub fn bind(self, iommufd: &Arc<IommuFd>) -> Result<VfioDevice, TransitionError<Self>> {
        self.bind_inner(iommufd, None)
    }

    /// [`bind`](Self::bind) with the VF token (a UUID) shared with the PF driver.
    pub fn bind_with_token(
        self,
        iommufd: &Arc<IommuFd>,
        token: &[u8; 16],
    ) -> Result<VfioDevice, TransitionError<Self>> {
        self.bind_inner(iommufd, Some(token))
    }

    fn bind_inner(
        self,
        iommufd: &Arc<IommuFd>,
        token: Option<&[u8; 16]>,
    ) -> Result<VfioDevice, TransitionError<Self>> {
        match bind(self.fd.as_fd(), iommufd, token) {
            Ok(dev_id) => Ok(VfioDevice {
                fd: self.fd,
                dev_id,
                iommufd: RetryOnDrop(Arc::clone(iommufd)),
            }),
            Err(e) => Err(TransitionError::new(self, e)),
        }
    }
}

impl AsFd for VfioUnbound {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// A VFIO device cdev bound to an iommufd. Dropping it closes the fd, which unbinds
/// the device (the kernel detaches it first), unless a duplicate of the fd (made for
/// region or interrupt access, or kept by management software) is still open: then
/// the device stays bound. The lifecycle states detach a device before they destroy
/// what it was attached to, so its HWPTs go either way. To keep the fd yourself and
/// lend it to the crate, use [`VfioCdev`](super::VfioCdev).
#[derive(Debug)]
pub struct VfioDevice {
    // Field order is teardown order: the fd closes (unbinding the device) before the
    // iommufd retries the destroys the device held busy.
    fd: OwnedFd,
    dev_id: DevId,
    iommufd: RetryOnDrop,
}

/// The device's iommufd, kept to retry the destroys the device held busy once it is
/// closed.
#[derive(Debug)]
pub(super) struct RetryOnDrop(pub(super) Arc<IommuFd>);

impl Drop for RetryOnDrop {
    fn drop(&mut self) {
        self.0.retry_pending_destroys();
    }
}

impl VfioDevice {
    /// The iommufd the device is bound to.
    pub fn iommufd(&self) -> &Arc<IommuFd> {
        &self.iommufd.0
    }
}

impl AsFd for VfioDevice {
    /// The device fd, for the VFIO region, irq and reset ioctls this crate leaves to
    /// others.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Device for VfioDevice {
    fn dev_id(&self) -> DevId {
        self.dev_id
    }

    fn attach(&self, pt: PtId) -> Result<HwptId> {
        attach(self.fd.as_fd(), self.iommufd(), pt)
    }

    fn detach(&self) -> Result<()> {
        detach(self.fd.as_fd(), self.iommufd())
    }

    fn attach_pasid(&self, pasid: u32, pt: PtId) -> Result<HwptId> {
        attach_pasid(self.fd.as_fd(), pasid, pt)
    }

    fn detach_pasid(&self, pasid: u32) -> Result<()> {
        detach_pasid(self.fd.as_fd(), pasid)
    }
}

// What every VFIO cdev device does, whoever owns its fd.

/// `VFIO_DEVICE_BIND_IOMMUFD`: the device's id in `iommufd`.
pub(super) fn bind(
    device: BorrowedFd<'_>,
    iommufd: &IommuFd,
    token: Option<&[u8; 16]>,
) -> Result<DevId> {
    ioctl::vfio::bind_iommufd(device, iommufd.as_fd(), token)
        .op(Op::VfioDeviceBindIommufd)
        .map(DevId::from_raw)
}

pub(super) fn attach(device: BorrowedFd<'_>, iommufd: &IommuFd, pt: PtId) -> Result<HwptId> {
    let hwpt = ioctl::vfio::attach_pt(device, pt.raw(), None).op(Op::VfioDeviceAttachIommufdPt)?;
    // The HWPT the device left may have been waiting for it.
    iommufd.retry_pending_destroys();
    Ok(HwptId::from_raw(hwpt))
}

pub(super) fn detach(device: BorrowedFd<'_>, iommufd: &IommuFd) -> Result<()> {
    ioctl::vfio::detach_pt(device, None).op(Op::VfioDeviceDetachIommufdPt)?;
    iommufd.retry_pending_destroys();
    Ok(())
}

pub(super) fn attach_pasid(device: BorrowedFd<'_>, pasid: u32, pt: PtId) -> Result<HwptId> {
    ioctl::vfio::attach_pt(device, pt.raw(), Some(pasid))
        .op(Op::VfioDeviceAttachIommufdPt)
        .map(HwptId::from_raw)
}

pub(super) fn detach_pasid(device: BorrowedFd<'_>, pasid: u32) -> Result<()> {
    ioctl::vfio::detach_pt(device, Some(pasid)).op(Op::VfioDeviceDetachIommufdPt)
}
