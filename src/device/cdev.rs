// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`VfioCdev`]: a VFIO device cdev whose fd someone else owns (the VMM, or a crate
//! such as `vfio-ioctls` that does its regions and interrupts).

use super::Device;
use super::vfio::{self, RetryOnDrop};
use crate::error::{Result, TransitionError};
use crate::ids::{DevId, HwptId, PtId};
use crate::iommufd::IommuFd;
use rustix::fd::{AsFd, BorrowedFd};
use std::sync::Arc;

/// A VFIO device cdev bound to an iommufd, driven through an fd the crate does not
/// own: `F` is anything that lends the fd ([`BorrowedFd<'a>`], `&File`,
/// `Arc<File>`, a VMM's own device type implementing [`AsFd`]). The crate never
/// closes it: dropping a `VfioCdev` drops `F`, which for a borrow or a shared handle
/// closes nothing. So the VMM and another library (for regions, interrupts and
/// reset) can work on one device without duplicating its fd.
///
/// Two ways in:
/// - [`bind`](Self::bind): the crate binds the fd to the iommufd
///   (`VFIO_DEVICE_BIND_IOMMUFD`), as [`VfioUnbound::bind`](super::VfioUnbound::bind)
///   does.
/// - [`from_bound`](Self::from_bound): the fd is already bound to this iommufd (by
///   `vfio-ioctls`' `VfioDevice::new_from_fd`, say) and the caller passes the device
///   id the bind returned. The kernel knows no command that reads it back: the crate
///   cannot check it, and commands with a wrong id fail or act on another device.
///
/// # Who detaches
///
/// As with [`VfioDevice`](super::VfioDevice): the lifecycle states
/// ([`VDeviceBound`](crate::states::VDeviceBound), [`Nested`](crate::states::Nested),
/// [`DeviceState`](crate::states::DeviceState)) detach the device when they are
/// dropped, before they destroy what it was attached to, so their HWPTs, vDEVICE,
/// vIOMMU and stage 2 go whoever keeps the fd. Dropping the `VfioCdev` itself leaves
/// the device bound and attached where it is, which is what dropping a `VfioDevice`
/// does while a duplicate of its fd is open: the binding lives until the owner closes
/// the last fd. A device attached by hand ([`Device::attach`] to an IOAS, say) keeps
/// what it is attached to busy until it is detached ([`Device::detach`]) or the owner
/// closes the fd; the crate destroys such objects once the device lets go (at the
/// next crate destroy, attach or detach, or [`IommuFd::retry_pending_destroys`]).
///
/// ```no_run
/// use iommufd::arch::Smmuv3;
/// use iommufd::states::IoasReady;
/// use iommufd::{IommuFd, VfioCdev};
/// use rustix::fd::AsFd;
/// use std::sync::Arc;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // The VMM opens the device and keeps it (for its regions and interrupts).
/// let device = std::fs::File::options().read(true).write(true)
///     .open("/dev/vfio/devices/vfio0")?;
/// let iommufd = Arc::new(IommuFd::open()?);
/// let dev = VfioCdev::bind(device.as_fd(), &iommufd).map_err(|e| e.into_parts().1)?;
/// let ioas = IoasReady::new(&iommufd)?;
/// let s2 = ioas.alloc_nest_parent(&dev)?;
/// let viommu = s2.alloc_viommu::<Smmuv3>(&dev)?;
/// let bound = viommu.bind(dev, 0x42).map_err(|e| e.into_parts().1)?;
/// drop(bound); // detached; the vDEVICE goes; `device` is still open and bound
/// # Ok(()) }
/// ```
///
/// # A device opened by `vfio-ioctls`
///
/// `vfio-ioctls` 0.10 (feature `vfio_cdev`) binds the cdev itself and reports the
/// device id (`VfioDevice::iommufd_dev_id`); its device lends the fd as a raw fd
/// (`AsRawFd`). Give it the same iommufd (a duplicate of this crate's fd, through
/// `iommufd_ioctls::IommuFd::new_from_fd`), create the device with
/// `attach_ioas: false` (the lifecycle attaches it), and borrow its fd for no longer
/// than the device lives:
///
/// ```no_run
/// # mod vfio_ioctls {
/// #     pub struct VfioDevice;
/// #     impl VfioDevice { pub fn iommufd_dev_id(&self) -> Option<u32> { None } }
/// #     impl std::os::fd::AsRawFd for VfioDevice { fn as_raw_fd(&self) -> i32 { -1 } }
/// # }
/// use iommufd::arch::Smmuv3;
/// use iommufd::states::S2Allocated;
/// use iommufd::{DevId, VfioCdev};
/// use std::os::fd::{AsRawFd, BorrowedFd};
///
/// fn give_to_guest(s2: &S2Allocated, vfio: &vfio_ioctls::VfioDevice) -> iommufd::Result<()> {
///     let dev_id = DevId::from_raw(vfio.iommufd_dev_id().expect("bound through a cdev"));
///     // SAFETY: `vfio` owns its cdev fd and keeps it open while it lives; the
///     // borrow ends with this function, before `vfio` can go.
///     let fd = unsafe { BorrowedFd::borrow_raw(vfio.as_raw_fd()) };
///     let dev = VfioCdev::from_bound(fd, dev_id, s2.iommufd());
///     let viommu = s2.alloc_viommu::<Smmuv3>(&dev)?;
///     let bound = viommu.bind(dev, 0x42).map_err(|e| e.into_parts().1)?;
///     // ... Phase 2 ...
///     drop(bound);
///     Ok(())
/// }
/// ```
///
/// (An optional `vfio-ioctls` feature is not offered: its `vfio_cdev` feature pulls
/// `kvm-ioctls` and `iommufd-ioctls` 0.4, which needs Rust 1.88, above this crate's
/// MSRV.)
#[derive(Debug)]
pub struct VfioCdev<F: AsFd> {
    // Field order is teardown order, as in `VfioDevice`: `F` goes before the iommufd
    // retries the destroys the device may have held busy.
    fd: F,
    dev_id: DevId,
    iommufd: RetryOnDrop,
}

impl<F: AsFd> VfioCdev<F> {
    /// Binds the device cdev `fd` lends to `iommufd` (`VFIO_DEVICE_BIND_IOMMUFD`).
    /// Until it is attached, the device can do no DMA. On failure `fd` comes back.
    /// The binding lasts until the owner closes the last fd of the cdev: a second
    /// bind of the same open file fails.
    pub fn bind(fd: F, iommufd: &Arc<IommuFd>) -> Result<Self, TransitionError<F>> {
        Self::bind_inner(fd, iommufd, None)
    }

    /// [`bind`](Self::bind) with the VF token (a UUID) shared with the PF driver.
    pub fn bind_with_token(
        fd: F,
        iommufd: &Arc<IommuFd>,
        token: &[u8; 16],
    ) -> Result<Self, TransitionError<F>> {
        Self::bind_inner(fd, iommufd, Some(token))
    }

    fn bind_inner(
        fd: F,
        iommufd: &Arc<IommuFd>,
        token: Option<&[u8; 16]>,
    ) -> Result<Self, TransitionError<F>> {
        match vfio::bind(fd.as_fd(), iommufd, token) {
            Ok(dev_id) => Ok(Self::from_bound(fd, dev_id, iommufd)),
            Err(e) => Err(TransitionError::new(fd, e)),
        }
    }

    /// A device cdev that is already bound to `iommufd` (this open file or a
    /// duplicate of it) as `dev_id`, by whoever issued its
    /// `VFIO_DEVICE_BIND_IOMMUFD`. Issues no command and checks nothing: an fd that
    /// is no VFIO device fails its first attach with ENOTTY, an unbound cdev with
    /// EINVAL; a cdev bound to another iommufd would name that iommufd's objects.
    pub fn from_bound(fd: F, dev_id: DevId, iommufd: &Arc<IommuFd>) -> Self {
        Self {
            fd,
            dev_id,
            iommufd: RetryOnDrop(Arc::clone(iommufd)),
        }
    }

    /// The iommufd the device is bound to.
    pub fn iommufd(&self) -> &Arc<IommuFd> {
        &self.iommufd.0
    }

    /// What lends the fd.
    pub fn get_ref(&self) -> &F {
        &self.fd
    }

    /// Gives back what lends the fd, leaving the device bound and attached where it
    /// is (see [Who detaches](Self#who-detaches)).
    pub fn into_inner(self) -> F {
        self.fd
    }
}

impl<F: AsFd> AsFd for VfioCdev<F> {
    /// The device fd.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl<F: AsFd> Device for VfioCdev<F> {
    fn dev_id(&self) -> DevId {
        self.dev_id
    }

    fn attach(&self, pt: PtId) -> Result<HwptId> {
        vfio::attach(self.fd.as_fd(), self.iommufd(), pt)
    }

    fn detach(&self) -> Result<()> {
        vfio::detach(self.fd.as_fd(), self.iommufd())
    }

    fn attach_pasid(&self, pasid: u32, pt: PtId) -> Result<HwptId> {
        vfio::attach_pasid(self.fd.as_fd(), pasid, pt)
    }

    fn detach_pasid(&self, pasid: u32) -> Result<()> {
        vfio::detach_pasid(self.fd.as_fd(), pasid)
    }
}
