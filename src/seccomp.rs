// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! What a VMM's seccomp filter must let through for this crate: the ioctl requests
//! (each [`Op`]'s number from [`Op::request`]) and the other system calls, for the
//! whole life of a VM ([`IOCTLS`], [`SYSCALLS`]) and for the part after boot
//! ([`RUNTIME_IOCTLS`], [`RUNTIME_SYSCALLS`]), the one a VMM locks down once the
//! guest runs.
//!
//! A filter built from these lists allows `ioctl` only when its request (argument 1)
//! is one of the listed numbers and refuses other requests (with `EPERM`, say), and
//! allows the listed system calls by number ([`Syscall::number`], x86_64 and
//! aarch64). The crate's tests build such a filter by hand, run the whole Phase 1 and
//! Phase 2 walkthrough under it on the kernel's mock IOMMU, and check that what the
//! runtime lists leave out is refused (`tests/kernel_x86/seccomp.rs`).
//!
//! Every request is `_IO(';', nr)`: the number alone, no size or direction bits, below
//! 2^16. The kernel's `ioctl` takes the request as an `unsigned int`: compare the low
//! 32 bits of argument 1 (the high 32 are zero whatever backend rustix uses).
//!
//! Not listed: what every Rust program needs and the VMM's filter has anyway. The
//! crate allocates (an `Arc` per shared lifecycle state at boot; after boot only when
//! the kernel defers a destroy), so the allocator's calls (`brk`, `mmap`, `munmap`,
//! `mremap`, `madvise`) must be allowed. Its own `mmap`s are made at boot: guest RAM
//! for [`MappedGuestMemory`](crate::vsmmu::MappedGuestMemory) and a vIOMMU's window
//! ([`VIommuAllocated::map_window`](crate::states::VIommuAllocated::map_window)). It
//! never polls: waiting for vEVENTQ readiness (`poll`, `epoll_wait`) is the VMM's.
//!
//! ```
//! use iommufd::seccomp::{self, Syscall};
//!
//! // After boot: the system calls to allow, and the ioctl requests to allow.
//! let requests: Vec<u64> = seccomp::request_numbers(seccomp::RUNTIME_IOCTLS).collect();
//! let syscalls: Vec<i64> = seccomp::RUNTIME_SYSCALLS
//!     .iter()
//!     .filter(|&&call| call != Syscall::Ioctl) // allowed for `requests` only
//!     .filter_map(|call| call.number())
//!     .collect();
//! assert!(requests.contains(&(iommufd::uapi::IOMMU_HWPT_INVALIDATE as u64)));
//! assert!(!requests.contains(&(iommufd::uapi::IOMMU_IOAS_ALLOC as u64)));
//! # #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
//! assert_eq!(syscalls.len(), seccomp::RUNTIME_SYSCALLS.len() - 1);
//! ```

use crate::error::Op;

/// Every ioctl the crate can issue, in the order of
/// [`uapi::IOCTL_REQUESTS`](crate::uapi::IOCTL_REQUESTS) (the same numbers): a VMM
/// filter for the whole life of a VM, boot included, allows these. The kernel mock's
/// [`Op::TestCmd`] is not here: a VMM never issues it.
pub const IOCTLS: &[Op] = &[
    Op::Destroy,
    Op::IoasAlloc,
    Op::IoasAllowIovas,
    Op::IoasCopy,
    Op::IoasIovaRanges,
    Op::IoasMap,
    Op::IoasUnmap,
    Op::Option,
    Op::VfioIoas,
    Op::HwptAlloc,
    Op::GetHwInfo,
    Op::HwptSetDirtyTracking,
    Op::HwptGetDirtyBitmap,
    Op::HwptInvalidate,
    Op::FaultQueueAlloc,
    Op::IoasMapFile,
    Op::VIommuAlloc,
    Op::VDeviceAlloc,
    Op::IoasChangeProcess,
    Op::VEventQueueAlloc,
    Op::HwQueueAlloc,
    Op::VfioDeviceBindIommufd,
    Op::VfioDeviceAttachIommufdPt,
    Op::VfioDeviceDetachIommufdPt,
];

/// The ioctls a running VM needs once Phase 1 (boot) is done: what the VMM does when
/// the guest writes an STE, sends invalidation commands, reads its events, disables
/// translation or loses a device.
///
/// | request | why, at run time |
/// | --- | --- |
/// | `IOMMU_HWPT_ALLOC` | a guest STE (or context entry) write becomes a nested HWPT ([`install`](crate::states::VDeviceBound::install), [`reinstall`](crate::states::Nested::reinstall), [`DeviceState::apply`](crate::states::DeviceState::apply)) |
/// | `VFIO_DEVICE_ATTACH_IOMMUFD_PT` | the device moves to that HWPT by replace, and back to bypass or abort when the guest disables translation or sets its STE to abort |
/// | `IOMMU_DESTROY` | the HWPT the device left goes right after the replace; a dropped vEVENTQ, HW queue or device takes its objects along; refused destroys are retried |
/// | `IOMMU_HWPT_INVALIDATE` | every guest `CMD_SYNC` batch of TLB and CD invalidations (on the vIOMMU, or on a nested HWPT for families with per-HWPT caches) |
/// | `VFIO_DEVICE_DETACH_IOMMUFD_PT` | a lifecycle state dropped at run time (device hot-unplug, VM reset) detaches its device before destroying what it was on; PASID detach |
/// | `IOMMU_HW_QUEUE_ALLOC` | a Tegra241 CMDQV guest enables a virtual command queue when it likes (leave it out for plain SMMUv3 guests) |
///
/// Left out, and why: the allocations of Phase 1 (IOAS, stage 2, vIOMMU, vDEVICE,
/// vEVENTQ, fault queue), `VFIO_DEVICE_BIND_IOMMUFD`, `IOMMU_GET_HW_INFO`, options
/// and IOVA ranges happen at boot; a VMM that hot-plugs devices runs them again for
/// the new device (keep [`IOCTLS`] then, or stack the runtime filter later). The IOAS
/// mappings (`MAP`, `MAP_FILE`, `COPY`, `UNMAP`) change only with guest memory
/// hot-plug or ballooning; dirty tracking only during live migration;
/// `IOMMU_IOAS_CHANGE_PROCESS` only when a new VMM process takes over; the VFIO
/// compatibility IOAS never. Reading events takes no ioctl: it is a `read` (see
/// [`RUNTIME_SYSCALLS`]).
pub const RUNTIME_IOCTLS: &[Op] = &[
    Op::HwptAlloc,
    Op::VfioDeviceAttachIommufdPt,
    Op::Destroy,
    Op::HwptInvalidate,
    Op::VfioDeviceDetachIommufdPt,
    Op::HwQueueAlloc,
];

/// The request numbers of `ops` (those that are ioctls), as seccomp sees argument 1.
pub fn request_numbers(ops: &[Op]) -> impl Iterator<Item = u64> + '_ {
    ops.iter()
        .filter_map(|op| op.request())
        .map(|request| request as u64)
}

/// A system call the crate makes itself, through rustix (which issues them directly,
/// not through libc, unless a crate in the build enables rustix's `use-libc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Syscall {
    /// Every command: allow it only for the requests of [`IOCTLS`] or
    /// [`RUNTIME_IOCTLS`].
    Ioctl,
    /// Opening `/dev/iommu` and VFIO cdevs ([`IommuFd::open`](crate::IommuFd::open),
    /// [`VfioUnbound::open`](crate::VfioUnbound::open)): `open` on x86_64 with
    /// rustix's raw backend; aarch64 has none.
    Open,
    /// The same opens on aarch64, and on x86_64 when rustix goes through libc.
    Openat,
    /// Reading a vEVENTQ or a fault queue.
    Read,
    /// Writing page responses to a fault queue.
    Write,
    /// Dropping what owns an fd: an `IommuFd`, a `VfioDevice`, a vEVENTQ, a fault
    /// queue (a [`VfioCdev`](crate::device::VfioCdev) closes nothing the VMM keeps).
    Close,
    /// The lock of the destroys the kernel deferred (a `std::sync::Mutex`), when
    /// contended.
    Futex,
    /// Reading guest RAM through
    /// [`FileGuestMemory`](crate::vsmmu::FileGuestMemory) (the vSMMU's stream table
    /// and command queue).
    Pread64,
    /// Writing guest RAM through
    /// [`FileGuestMemory`](crate::vsmmu::FileGuestMemory) (the vSMMU's event queue,
    /// CMD_SYNC completions).
    Pwrite64,
    /// Checking that each file holds its region before mapping it
    /// ([`MappedGuestMemory::map`](crate::vsmmu::MappedGuestMemory::map), at boot;
    /// its `mmap` and `munmap` are on every Rust program's list).
    Fstat,
}

impl Syscall {
    /// The system call's name.
    pub const fn name(self) -> &'static str {
        match self {
            Syscall::Ioctl => "ioctl",
            Syscall::Open => "open",
            Syscall::Openat => "openat",
            Syscall::Read => "read",
            Syscall::Write => "write",
            Syscall::Close => "close",
            Syscall::Futex => "futex",
            Syscall::Pread64 => "pread64",
            Syscall::Pwrite64 => "pwrite64",
            Syscall::Fstat => "fstat",
        }
    }

    /// The system call's number on the target architecture, as `seccomp_data.nr`
    /// holds it; `None` where the architecture has no such call (`open` on aarch64)
    /// or the crate has no table for it (the table covers x86_64 and aarch64).
    pub const fn number(self) -> Option<i64> {
        table::number(self)
    }
}

#[cfg(target_arch = "x86_64")]
mod table {
    use super::Syscall;

    pub(super) const fn number(call: Syscall) -> Option<i64> {
        Some(match call {
            Syscall::Read => 0,
            Syscall::Write => 1,
            Syscall::Open => 2,
            Syscall::Close => 3,
            Syscall::Fstat => 5,
            Syscall::Ioctl => 16,
            Syscall::Pread64 => 17,
            Syscall::Pwrite64 => 18,
            Syscall::Futex => 202,
            Syscall::Openat => 257,
        })
    }
}

/// The generic table (`include/uapi/asm-generic/unistd.h`): no `open`.
#[cfg(target_arch = "aarch64")]
mod table {
    use super::Syscall;

    pub(super) const fn number(call: Syscall) -> Option<i64> {
        Some(match call {
            Syscall::Ioctl => 29,
            Syscall::Openat => 56,
            Syscall::Close => 57,
            Syscall::Read => 63,
            Syscall::Write => 64,
            Syscall::Pread64 => 67,
            Syscall::Pwrite64 => 68,
            Syscall::Fstat => 80,
            Syscall::Futex => 98,
            Syscall::Open => return None,
        })
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod table {
    use super::Syscall;

    pub(super) const fn number(_: Syscall) -> Option<i64> {
        None
    }
}

/// Every system call the crate makes, boot included.
pub const SYSCALLS: &[Syscall] = &[
    Syscall::Ioctl,
    Syscall::Open,
    Syscall::Openat,
    Syscall::Read,
    Syscall::Write,
    Syscall::Close,
    Syscall::Futex,
    Syscall::Pread64,
    Syscall::Pwrite64,
    Syscall::Fstat,
];

/// The system calls a running VM needs from the crate after boot.
///
/// | call | why, at run time |
/// | --- | --- |
/// | `ioctl` | [`RUNTIME_IOCTLS`] |
/// | `read` | the VMM drains the vEVENTQ (faults for the guest) and fault queues |
/// | `write` | page responses to a fault queue (I/O page faults) |
/// | `close` | a vEVENTQ, fault queue or owned device dropped at run time |
/// | `futex` | the deferred-destroy lock, when vCPU threads contend for it |
/// | `pread64`, `pwrite64` | the vSMMU reading and writing guest RAM in a memfd ([`FileGuestMemory`](crate::vsmmu::FileGuestMemory)) |
///
/// Left out: `open` and `openat` (the crate opens `/dev/iommu` and VFIO cdevs at
/// boot; a VMM that hot-plugs devices opens their cdevs then, or gets their fds
/// handed over).
pub const RUNTIME_SYSCALLS: &[Syscall] = &[
    Syscall::Ioctl,
    Syscall::Read,
    Syscall::Write,
    Syscall::Close,
    Syscall::Futex,
    Syscall::Pread64,
    Syscall::Pwrite64,
];
