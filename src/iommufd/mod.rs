// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`IommuFd`]: the `/dev/iommu` file descriptor and the commands issued on it.
//!
//! This is the id-level layer: each method is one kernel command with typed ids and
//! checked arguments, like `kvm-ioctls`' `VmFd`. Objects made here live until
//! [`IommuFd::destroy`] or until the fd closes; the typestate layer builds on it and
//! owns its objects.

mod deferred;
mod hwpt;
pub(crate) mod ioas;
mod viommu;

pub use hwpt::{HwInfo, HwptAlloc, INVALIDATE_CHUNK, INVALIDATE_MAX_ENTRIES};
pub use ioas::{Access, IovaRanges, MapAt, RlimitMode};
pub use viommu::{RawFaultQueue, RawVEventQueue};

use crate::error::{ErrnoExt, Op, Result};
use crate::feature::Feature;
use crate::ids::Destroyable;
use crate::ioctl;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
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
    deferred: deferred::Deferred,
    /// Bits `2n` (probed) and `2n + 1` (present) for feature `n`.
    features: AtomicU32,
    /// Whether `GET_HW_INFO` takes an input type (false once a kernel refused it).
    hw_info_input_type: AtomicBool,
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
        Ok(Self::from_fd(fd))
    }

    /// Takes an iommufd that management software (libvirt, for one) opened and handed
    /// over. The crate does not check what `fd` is: its first command fails with
    /// [`ErrorKind::NotSupported`](crate::ErrorKind::NotSupported) (ENOTTY) if it is no
    /// iommufd.
    pub fn from_fd(fd: OwnedFd) -> Self {
        Self {
            fd,
            deferred: deferred::Deferred::default(),
            features: AtomicU32::new(0),
            hw_info_input_type: AtomicBool::new(true),
        }
    }

    /// Whether the running kernel has `feature`. The first call per feature sends
    /// one probe that every kernel refuses (ENOTTY without the command, another
    /// refusal with it); the answer is kept for the life of this iommufd.
    ///
    /// ```no_run
    /// use iommufd::{Feature, IommuFd};
    /// let fd = IommuFd::open()?;
    /// if !fd.supports(Feature::VIommu) {
    ///     eprintln!("no vIOMMU: this kernel predates Linux 6.13; no SMMUv3 nesting");
    /// }
    /// # Ok::<(), iommufd::Error>(())
    /// ```
    pub fn supports(&self, feature: Feature) -> bool {
        let (probed, present) = (1 << (2 * feature.bit()), 1 << (2 * feature.bit() + 1));
        let known = self.features.load(Ordering::Relaxed);
        if known & probed != 0 {
            return known & present != 0;
        }
        let has = ioctl::probe::has(self.fd.as_fd(), feature);
        self.features
            .fetch_or(probed | if has { present } else { 0 }, Ordering::Relaxed);
        has
    }

    /// Destroys an object. Fails with [`ErrorKind::Busy`](crate::ErrorKind::Busy) while
    /// anything references it: an IOAS its HWPTs; a HWPT its attached devices, nested
    /// HWPTs and vIOMMUs; a vIOMMU its nested HWPTs, vDEVICEs, vEVENTQs and HW queues.
    pub fn destroy(&self, id: impl Destroyable) -> Result<()> {
        ioctl::ioas::destroy(self.fd.as_fd(), id.object_id()).op(Op::Destroy)
    }

    /// Destroys an object the crate owns and is letting go of. If the kernel
    /// refuses because something outside the crate's handles still holds it (EBUSY:
    /// a device attached to it directly, a HWPT still attached through a device fd
    /// someone else keeps open), the destroy is retried whenever a crate object is
    /// destroyed or a crate device detaches, closes or moves; until then the object
    /// lives, as the kernel requires.
    pub(crate) fn destroy_or_defer<I: Destroyable>(&self, id: I) {
        match ioctl::ioas::destroy(self.fd.as_fd(), id.object_id()) {
            Ok(()) => self.retry_pending_destroys(),
            Err(rustix::io::Errno::BUSY) if I::RETRY_WHEN_BUSY => {
                self.deferred.push(id.object_id())
            }
            // ENOENT: already gone. Anything else would be a crate bug; Drop cannot
            // report it and must not panic.
            Err(_) => {}
        }
    }

    /// Retries the destroys the kernel refused earlier (see
    /// [`pending_destroys`](Self::pending_destroys)). The crate calls it after every
    /// destroy, detach and attach it makes; call it after releasing what held an
    /// object through means the crate cannot see (closing a duplicated device fd).
    pub fn retry_pending_destroys(&self) {
        self.deferred.retry(self.fd.as_fd());
    }

    /// How many objects the crate let go of that the kernel still holds busy, to be
    /// destroyed as soon as what holds them goes (0 once everything is torn down).
    pub fn pending_destroys(&self) -> usize {
        self.deferred.len()
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
