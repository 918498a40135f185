//! [`IommuFd`]: the `/dev/iommu` file descriptor and the commands issued on it.
//!
//! This is the id-level layer: each method is one kernel command with typed ids and
//! checked arguments, like `kvm-ioctls`' `VmFd`. Objects made here live until
//! [`IommuFd::destroy`] or until the fd closes; the typestate layer builds on it and
//! owns its objects.

mod hwpt;
pub(crate) mod ioas;
mod viommu;

pub use hwpt::{HwInfo, HwptAlloc, INVALIDATE_CHUNK};
pub use ioas::{Access, IovaRanges, MapAt, RlimitMode};
pub use viommu::{FaultQueue, Veventq};

use crate::error::{ErrnoExt, Op, Result};
use crate::ids::Destroyable;
use crate::ioctl;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use std::path::Path;

/// Where the kernel puts the iommufd character device.
pub const DEV_IOMMU: &str = "/dev/iommu";

/// An open iommufd: the context every IOAS, HWPT, vIOMMU and bound device belongs to.
///
/// Closing it (dropping the last owner) makes the kernel destroy every object in it.
/// It is `Send + Sync`: every command is a self-contained ioctl.
#[derive(Debug)]
pub struct IommuFd {
    fd: OwnedFd,
}

impl IommuFd {
    /// Opens `/dev/iommu`.
    pub fn open() -> Result<Self> {
        Self::open_path(DEV_IOMMU)
    }

    /// Opens an iommufd character device at `path`.
    pub fn open_path(path: impl AsRef<Path>) -> Result<Self> {
        let fd = rustix::fs::open(path.as_ref(), OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
            .op(Op::Open)?;
        Ok(Self { fd })
    }

    /// Takes an iommufd that management software (libvirt, for one) opened and handed
    /// over. The crate does not check what `fd` is: its first command fails with
    /// [`ErrorKind::NotSupported`](crate::ErrorKind::NotSupported) (ENOTTY) if it is no
    /// iommufd.
    pub fn from_fd(fd: OwnedFd) -> Self {
        Self { fd }
    }

    /// Destroys an object. Fails with [`ErrorKind::Busy`](crate::ErrorKind::Busy) while
    /// anything references it: an IOAS its HWPTs; a HWPT its attached devices, nested
    /// HWPTs and vIOMMUs; a vIOMMU its nested HWPTs, vDEVICEs, vEVENTQs and HW queues.
    pub fn destroy(&self, id: impl Destroyable) -> Result<()> {
        ioctl::ioas::destroy(self.fd.as_fd(), id.object_id()).op(Op::Destroy)
    }

    /// Moves the pinned-page accounting of every mapping of this iommufd to the
    /// calling process (after a VMM process hand-over, say). Every mapping must come
    /// from [`map_file`](Self::map_file): process memory cannot move
    /// ([`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument)).
    pub fn change_process(&self) -> Result<()> {
        ioctl::ioas::ioas_change_process(self.fd.as_fd()).op(Op::IoasChangeProcess)
    }
}

impl AsFd for IommuFd {
    #[inline]
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl From<IommuFd> for OwnedFd {
    fn from(fd: IommuFd) -> Self {
        fd.fd
    }
}
