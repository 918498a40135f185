// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Errors. Each kind of answer has its own type, and each call returns one of them:
//!
//! | type | what it says | returned by |
//! | --- | --- | --- |
//! | [`Error`] | the kernel's errno with the command ([`Op`]); a command the running kernel is too old for, [`Error::KernelLacks`], naming the [`Feature`](crate::Feature) and the release that added it; or the crate's own refusal before any syscall: [`Error::InvalidInput`] naming the field, [`Error::Unsupported`], [`Error::StillShared`]; or a failed invalidation, [`Error::Invalidation`], saying which entry was refused, if one was | every call that reaches, or would reach, the kernel: [`IommuFd`](crate::IommuFd) and device methods, the shared lifecycle states, [`DeviceState::apply`](crate::states::DeviceState::apply) |
//! | [`TransitionError<T>`] | an [`Error`], and the `T` the call consumed, given back unchanged (a device still attached where it was) | the consuming transitions: `bind`, `install`, `reinstall`, `uninstall`, `switch_default`, `unbind`, `try_destroy`, [`VfioUnbound::bind`](crate::VfioUnbound::bind) |
//! | [`BatchError`](crate::batch::BatchError) | which guest command to report, and whether the kernel refused it or the call failed as a whole | [`InvalidationBatch`](crate::batch::InvalidationBatch) |
//! | [`SteError`](crate::arch::smmuv3::SteError) | the STE field a guest may not set, or the value it may not have (Linux answers EIO) | [`Ste::parse`](crate::arch::smmuv3::Ste::parse), `from_words`, `translate` |
//! | [`CommandError`](crate::arch::smmuv3::CommandError) | the guest command's field or the capability it lacks (CERROR_ILL for the guest) | [`classify`](crate::arch::smmuv3::classify), [`CommandRules::classify`](crate::arch::smmuv3::CommandRules::classify) |
//! | [`VtdStage1Error`](crate::arch::vtd::VtdStage1Error), [`VtdInvalidationError`](crate::arch::vtd::VtdInvalidationError), [`AmdGuestDteError`](crate::arch::amd::AmdGuestDteError) | the field the intel or AMD driver would refuse, and (for the last two) its errno | the VT-d and AMD parsers and builders |
//!
//! All are `Copy` except [`TransitionError`] (it holds what it gives back), none
//! allocates, each is a [`std::error::Error`] (so `?` into `Box<dyn Error>` works),
//! and [`Error`] also converts into [`std::io::Error`].

use core::fmt;
use rustix::io::Errno;
use rustix::ioctl::Opcode;

/// The operation an [`Error`] comes from: the kernel command, or the crate's own step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs)] // each variant is the C name of the command it stands for
pub enum Op {
    Open,
    Destroy,
    IoasAlloc,
    IoasIovaRanges,
    IoasAllowIovas,
    IoasMap,
    IoasMapFile,
    IoasCopy,
    IoasUnmap,
    Option,
    VfioIoas,
    HwptAlloc,
    GetHwInfo,
    HwptSetDirtyTracking,
    HwptGetDirtyBitmap,
    HwptInvalidate,
    FaultQueueAlloc,
    VIommuAlloc,
    VDeviceAlloc,
    IoasChangeProcess,
    VEventQueueAlloc,
    HwQueueAlloc,
    VfioDeviceBindIommufd,
    VfioDeviceAttachIommufdPt,
    VfioDeviceDetachIommufdPt,
    /// Reading events or faults from a queue's fd.
    QueueRead,
    /// Writing page responses to a fault queue's fd.
    QueueWrite,
    /// A command of the kernel's mock IOMMU (`IOMMU_TEST_CMD`).
    TestCmd,
    /// Attaching a device to a page table, whatever the device (the lifecycle's
    /// bind, install and switch steps).
    Attach,
    /// Mapping a vIOMMU's window (`mmap` of the iommufd).
    Mmap,
}

impl Op {
    /// The name of the kernel command (or step).
    pub const fn name(self) -> &'static str {
        match self {
            Op::Open => "open",
            Op::Destroy => "IOMMU_DESTROY",
            Op::IoasAlloc => "IOMMU_IOAS_ALLOC",
            Op::IoasIovaRanges => "IOMMU_IOAS_IOVA_RANGES",
            Op::IoasAllowIovas => "IOMMU_IOAS_ALLOW_IOVAS",
            Op::IoasMap => "IOMMU_IOAS_MAP",
            Op::IoasMapFile => "IOMMU_IOAS_MAP_FILE",
            Op::IoasCopy => "IOMMU_IOAS_COPY",
            Op::IoasUnmap => "IOMMU_IOAS_UNMAP",
            Op::Option => "IOMMU_OPTION",
            Op::VfioIoas => "IOMMU_VFIO_IOAS",
            Op::HwptAlloc => "IOMMU_HWPT_ALLOC",
            Op::GetHwInfo => "IOMMU_GET_HW_INFO",
            Op::HwptSetDirtyTracking => "IOMMU_HWPT_SET_DIRTY_TRACKING",
            Op::HwptGetDirtyBitmap => "IOMMU_HWPT_GET_DIRTY_BITMAP",
            Op::HwptInvalidate => "IOMMU_HWPT_INVALIDATE",
            Op::FaultQueueAlloc => "IOMMU_FAULT_QUEUE_ALLOC",
            Op::VIommuAlloc => "IOMMU_VIOMMU_ALLOC",
            Op::VDeviceAlloc => "IOMMU_VDEVICE_ALLOC",
            Op::IoasChangeProcess => "IOMMU_IOAS_CHANGE_PROCESS",
            Op::VEventQueueAlloc => "IOMMU_VEVENTQ_ALLOC",
            Op::HwQueueAlloc => "IOMMU_HW_QUEUE_ALLOC",
            Op::VfioDeviceBindIommufd => "VFIO_DEVICE_BIND_IOMMUFD",
            Op::VfioDeviceAttachIommufdPt => "VFIO_DEVICE_ATTACH_IOMMUFD_PT",
            Op::VfioDeviceDetachIommufdPt => "VFIO_DEVICE_DETACH_IOMMUFD_PT",
            Op::QueueRead => "read",
            Op::QueueWrite => "write",
            Op::TestCmd => "IOMMU_TEST_CMD",
            Op::Attach => "attach",
            Op::Mmap => "mmap",
        }
    }

    /// The ioctl request number of the command, for a seccomp filter (see
    /// [`seccomp`](crate::seccomp) for the lists a VMM allows); `None` for what is no
    /// ioctl: [`Open`](Op::Open), [`QueueRead`](Op::QueueRead),
    /// [`QueueWrite`](Op::QueueWrite) and [`Attach`](Op::Attach) (a step whose
    /// command depends on the device: `VFIO_DEVICE_ATTACH_IOMMUFD_PT` for VFIO, the
    /// mock's `IOMMU_TEST_CMD`).
    ///
    /// ```
    /// use iommufd::{Op, uapi};
    /// assert_eq!(Op::HwptInvalidate.request(), Some(uapi::IOMMU_HWPT_INVALIDATE));
    /// assert_eq!(Op::QueueRead.request(), None);
    /// ```
    pub const fn request(self) -> Option<Opcode> {
        use crate::uapi::*;
        Some(match self {
            Op::Destroy => IOMMU_DESTROY,
            Op::IoasAlloc => IOMMU_IOAS_ALLOC,
            Op::IoasIovaRanges => IOMMU_IOAS_IOVA_RANGES,
            Op::IoasAllowIovas => IOMMU_IOAS_ALLOW_IOVAS,
            Op::IoasMap => IOMMU_IOAS_MAP,
            Op::IoasMapFile => IOMMU_IOAS_MAP_FILE,
            Op::IoasCopy => IOMMU_IOAS_COPY,
            Op::IoasUnmap => IOMMU_IOAS_UNMAP,
            Op::Option => IOMMU_OPTION,
            Op::VfioIoas => IOMMU_VFIO_IOAS,
            Op::HwptAlloc => IOMMU_HWPT_ALLOC,
            Op::GetHwInfo => IOMMU_GET_HW_INFO,
            Op::HwptSetDirtyTracking => IOMMU_HWPT_SET_DIRTY_TRACKING,
            Op::HwptGetDirtyBitmap => IOMMU_HWPT_GET_DIRTY_BITMAP,
            Op::HwptInvalidate => IOMMU_HWPT_INVALIDATE,
            Op::FaultQueueAlloc => IOMMU_FAULT_QUEUE_ALLOC,
            Op::VIommuAlloc => IOMMU_VIOMMU_ALLOC,
            Op::VDeviceAlloc => IOMMU_VDEVICE_ALLOC,
            Op::IoasChangeProcess => IOMMU_IOAS_CHANGE_PROCESS,
            Op::VEventQueueAlloc => IOMMU_VEVENTQ_ALLOC,
            Op::HwQueueAlloc => IOMMU_HW_QUEUE_ALLOC,
            Op::VfioDeviceBindIommufd => VFIO_DEVICE_BIND_IOMMUFD,
            Op::VfioDeviceAttachIommufdPt => VFIO_DEVICE_ATTACH_IOMMUFD_PT,
            Op::VfioDeviceDetachIommufdPt => VFIO_DEVICE_DETACH_IOMMUFD_PT,
            Op::TestCmd => TEST_CMD_REQUEST,
            Op::Open | Op::QueueRead | Op::QueueWrite | Op::Attach | Op::Mmap => return None,
        })
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What went wrong, in the terms the kernel documents, for `match`ing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// EBUSY: the object is still referenced (destroy children and detach devices
    /// first); also [`Error::StillShared`].
    Busy,
    /// ENOENT (or ENODEV): no such object, or not of the kind the command needs.
    NotFound,
    /// EOPNOTSUPP (or ENOTTY): the kernel or driver does not support this; also
    /// [`Error::Unsupported`], the crate's own refusal of the same kind.
    NotSupported,
    /// EINVAL: the kernel refused an argument.
    InvalidArgument,
    /// E2BIG: a struct had a non-zero tail the kernel does not know.
    UnknownTail,
    /// EMSGSIZE: an output buffer was too small.
    BufferTooSmall,
    /// EEXIST: the object (or mapping, or vDEVICE) already exists.
    AlreadyExists,
    /// ENOMEM or ENOSPC.
    OutOfMemory,
    /// EIO: the driver refused a payload (a guest STE or command, for instance).
    Rejected,
    /// EPERM or EACCES.
    PermissionDenied,
    /// Refused by the crate before any syscall.
    CrateValidation,
    /// Any other errno.
    Other,
}

/// An error from the kernel or from the crate's checks. `Copy`, and built without
/// allocating, so the hot path can return it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The kernel answered with an errno.
    #[error("{op} failed: {errno}")]
    Kernel {
        /// The command.
        op: Op,
        /// What the kernel said.
        errno: Errno,
    },
    /// The crate refused an argument before any syscall.
    #[error("{op}: invalid {field}: {reason}")]
    InvalidInput {
        /// The command that was not issued.
        op: Op,
        /// The argument at fault.
        field: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// The crate refused a request it knows cannot be done here, without an errno
    /// from the kernel: a family without that default stage 1, a device that
    /// cannot detach, a device whose IOMMU reports another kind of hw_info.
    #[error("{op}: {reason}")]
    Unsupported {
        /// The command or step that was not done.
        op: Op,
        /// Why.
        reason: &'static str,
    },
    /// `try_destroy` on a lifecycle handle that clones or children still share;
    /// nothing was sent to the kernel.
    #[error("cannot destroy the {what}: other handles or children still share it")]
    StillShared {
        /// The object.
        what: &'static str,
    },
    /// The running kernel does not have the command: it answered ENOTTY to a
    /// command younger than the oldest kernels VMMs run (see
    /// [`Feature`](crate::Feature): what was asked for, and the first Linux release
    /// with it). On an fd that is no iommufd every command answers ENOTTY too.
    #[error("{op}: the running kernel has no {feature}: {errno}")]
    KernelLacks {
        /// The command.
        op: Op,
        /// What it is, and since when Linux has it.
        feature: crate::Feature,
        /// What the kernel said (ENOTTY).
        errno: Errno,
    },
    /// `IOMMU_HWPT_INVALIDATE` failed. Either the driver refused one entry
    /// (`refused` is its index), or the call failed as a whole and none of its
    /// entries is known to have run (`refused` is `None`: the object is gone, the
    /// arguments were refused, the kernel ran out of memory...).
    #[error(fmt = display_invalidation)]
    Invalidation {
        /// What the kernel said.
        errno: Errno,
        /// Index, in the array passed, of the entry the driver refused (EIO on
        /// SMMUv3; EINVAL or EOPNOTSUPP for VT-d and the mock). Entries before it
        /// were handled; on ARM, see the crate docs on recovery: not all of them
        /// may have been issued. `None` when no entry was refused: then nothing from
        /// index `completed` on is known to have run.
        refused: Option<u32>,
        /// Entries that earlier ioctls handled when the crate split a large array
        /// ([`INVALIDATE_CHUNK`](crate::INVALIDATE_CHUNK) entries per call); 0 when
        /// the array went in one call.
        completed: u32,
        /// Entries passed in.
        requested: u32,
    },
}

impl Error {
    pub(crate) fn kernel(op: Op, errno: Errno) -> Self {
        Error::Kernel { op, errno }
    }

    pub(crate) fn invalid(op: Op, field: &'static str, reason: &'static str) -> Self {
        Error::InvalidInput { op, field, reason }
    }

    /// Refuses a buffer whose length a 32-bit length field of the uAPI cannot hold.
    pub(crate) fn check_len_u32(op: Op, field: &'static str, len: usize) -> Result<()> {
        if u32::try_from(len).is_err() {
            return Err(Error::invalid(
                op,
                field,
                "longer than a 32-bit length field holds",
            ));
        }
        Ok(())
    }

    /// The errno, when the kernel answered with one.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Kernel { errno, .. }
            | Error::Invalidation { errno, .. }
            | Error::KernelLacks { errno, .. } => Some(*errno),
            Error::InvalidInput { .. } | Error::Unsupported { .. } | Error::StillShared { .. } => {
                None
            }
        }
    }

    /// For an `IOMMU_HWPT_INVALIDATE` whose driver refused one entry: that entry's
    /// index in the array passed. `None` for any other error, including an
    /// invalidation that failed as a whole (nothing was refused: report no
    /// command error to the guest for it).
    ///
    /// Resubmitting means re-sending `entries[..k]`, never `entries[k + 1..]`: the
    /// driver may have converted some entries before `k` without issuing them (Linux
    /// 7.3's SMMUv3 driver issues blocks of 63), and invalidations are idempotent.
    /// The entries from `k` on wait for the guest, which learns that `k` failed
    /// (CERROR_ILL on SMMUv3). [`InvalidationBatch`](crate::batch::InvalidationBatch)
    /// does this on every flush.
    ///
    /// ```no_run
    /// # fn f(viommu: &iommufd::states::VIommuAllocated<iommufd::arch::Smmuv3>,
    /// #      commands: &[iommufd::uapi::IommuViommuArmSmmuv3Invalidate]) -> iommufd::Result<()> {
    /// if let Err(e) = viommu.invalidate(commands) {
    ///     if let Some(k) = e.refused_entry() {
    ///         viommu.invalidate(&commands[..k])?; // now every command before k took effect
    ///         // report command k to the guest
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn refused_entry(&self) -> Option<usize> {
        match *self {
            Error::Invalidation {
                refused: Some(k),
                requested,
                ..
            } if k < requested => Some(k as usize),
            _ => None,
        }
    }

    /// The operation that failed.
    pub fn op(&self) -> Op {
        match self {
            Error::Kernel { op, .. }
            | Error::InvalidInput { op, .. }
            | Error::Unsupported { op, .. }
            | Error::KernelLacks { op, .. } => *op,
            Error::Invalidation { .. } => Op::HwptInvalidate,
            Error::StillShared { .. } => Op::Destroy,
        }
    }

    /// The documented case this error falls in.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::StillShared { .. } => return ErrorKind::Busy,
            Error::Unsupported { .. } | Error::KernelLacks { .. } => {
                return ErrorKind::NotSupported;
            }
            _ => {}
        }
        let Some(errno) = self.errno() else {
            return ErrorKind::CrateValidation;
        };
        match errno {
            Errno::BUSY => ErrorKind::Busy,
            Errno::NOENT | Errno::NODEV => ErrorKind::NotFound,
            Errno::OPNOTSUPP | Errno::NOTTY => ErrorKind::NotSupported,
            Errno::INVAL => ErrorKind::InvalidArgument,
            Errno::TOOBIG => ErrorKind::UnknownTail,
            Errno::MSGSIZE => ErrorKind::BufferTooSmall,
            Errno::EXIST => ErrorKind::AlreadyExists,
            Errno::NOMEM | Errno::NOSPC => ErrorKind::OutOfMemory,
            Errno::IO => ErrorKind::Rejected,
            Errno::PERM | Errno::ACCESS => ErrorKind::PermissionDenied,
            _ => ErrorKind::Other,
        }
    }
}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        match e.errno() {
            Some(errno) => std::io::Error::new(std::io::Error::from(errno).kind(), e),
            None => std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// A failed transition: the error, and the value the caller had before, unchanged.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct TransitionError<T> {
    value: T,
    #[source]
    error: Error,
}

impl<T> TransitionError<T> {
    pub(crate) fn new(value: T, error: Error) -> Self {
        Self { value, error }
    }
    /// The value the transition was called on and the error.
    pub fn into_parts(self) -> (T, Error) {
        (self.value, self.error)
    }
    /// The error.
    pub fn error(&self) -> &Error {
        &self.error
    }
    /// The value the transition was called on, dropping the error.
    pub fn into_value(self) -> T {
        self.value
    }
}

fn display_invalidation(
    errno: &Errno,
    refused: &Option<u32>,
    completed: &u32,
    requested: &u32,
    f: &mut fmt::Formatter<'_>,
) -> fmt::Result {
    let (errno, refused, completed, requested) = (*errno, *refused, *completed, *requested);
    let op = Op::HwptInvalidate;
    match refused {
        Some(k) => write!(
            f,
            "{op}: the driver refused entry {k} of {requested}: {errno}"
        ),
        None if completed == 0 => write!(
            f,
            "{op} failed: {errno}; none of the {requested} entries is known to have run"
        ),
        None => write!(
            f,
            "{op} failed: {errno}; the first {completed} of {requested} entries ran, none \
             after them is known to have"
        ),
    }
}

/// Maps a rustix result to the crate's error for `op`.
pub(crate) trait ErrnoExt<T> {
    fn op(self, op: Op) -> Result<T>;
}

impl<T> ErrnoExt<T> for core::result::Result<T, Errno> {
    fn op(self, op: Op) -> Result<T> {
        self.map_err(|errno| match crate::Feature::of_op(op) {
            Some(feature) if errno == Errno::NOTTY => Error::KernelLacks { op, feature, errno },
            _ => Error::kernel(op, errno),
        })
    }
}
