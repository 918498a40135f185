//! Typed, safe bindings to Linux's iommufd (`/dev/iommu`) for virtual machine
//! monitors that give a guest a hardware-accelerated virtual IOMMU through nested
//! translation.
//!
//! # What iommufd nesting is
//!
//! The guest owns the stage-1 page tables (IOVA -> guest physical); the VMM owns
//! stage 2 (guest physical -> host physical); the physical IOMMU walks both. The
//! kernel objects, built in this order:
//!
//! ```text
//!  IOAS (guest RAM: GPA -> HPA mappings)
//!   └─ nest-parent HWPT (stage 2)
//!       └─ vIOMMU (one per physical IOMMU instance the guest sees)
//!           ├─ vDEVICE (device <-> guest StreamID / RID)
//!           ├─ nested HWPT (stage 1, from the guest's STE / context entry)
//!           ├─ vEVENTQ (faults for the guest)
//!           └─ HW queue (guest command queue handed to hardware, where supported)
//! ```
//!
//! At run time the VMM traps the guest's table writes and invalidation commands:
//! a guest STE becomes a nested HWPT the device is attached to (by replace), and a
//! batch of guest TLB commands becomes one `IOMMU_HWPT_INVALIDATE`.
//!
//! # Layers of this crate
//!
//! - [`uapi`]: `#[repr(C)]` zerocopy mirrors of Linux 7.3's `iommufd.h` and the VFIO
//!   cdev structs, checked against the real header by `rig/header-check.sh`.
//! - [`IommuFd`]: one method per kernel command, with typed ids ([`IoasId`],
//!   [`HwptId`], [`ViommuId`], ...) so one kind of object can never be passed for
//!   another, and arguments checked before the syscall
//!   ([`Error::InvalidInput`] names the field).
//! - [`device`]: devices bound to the iommufd; [`VfioDevice`] for VFIO cdevs.
//! - [`payload`]: traits tying driver payloads (HWPT data, invalidation entries,
//!   hw_info, vIOMMU data, vEVENT records) to their uAPI type numbers.
//! - `mock` (feature `mock`): the kernel's mock IOMMU, for tests.
//!
//! All `unsafe` code lives in one private module, one `// SAFETY:` line per block.
//! Mapping process memory for DMA ([`IommuFd::map_user`]) is an `unsafe fn`; mapping
//! a memfd ([`IommuFd::map_file`]) is the safe way to give devices guest RAM.
//!
//! # Phase 1 at VM boot, with ids
//!
//! ```no_run
//! use iommufd::{Access, Device, HwptAlloc, IommuFd, Iova, MapAt, VfioUnbound};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let iommufd = IommuFd::open()?;
//! let ioas = iommufd.alloc_ioas()?;
//! // Guest RAM lives in a memfd: map it at guest physical 0 for stage 2.
//! let ram = rustix::fs::memfd_create("guest-ram", rustix::fs::MemfdFlags::CLOEXEC)?;
//! rustix::fs::ftruncate(&ram, 1 << 30)?;
//! iommufd.map_file(ioas, rustix::fd::AsFd::as_fd(&ram), 0, 1 << 30, MapAt::Fixed(Iova(0)),
//!     Access::READ | Access::WRITE)?;
//! // Bind a VFIO device and make its stage 2.
//! let dev = VfioUnbound::open("/dev/vfio/devices/vfio0")?
//!     .bind(&iommufd)
//!     .map_err(|e| e.into_parts().1)?;
//! let s2 = iommufd.alloc_hwpt(&HwptAlloc::paging(dev.dev_id(), ioas).nest_parent())?;
//! dev.attach(s2.into())?;
//! // ARM SMMUv3 vIOMMU (no driver data), and the device as guest StreamID 0x42.
//! let viommu = iommufd.alloc_viommu_raw(iommufd::uapi::IOMMU_VIOMMU_TYPE_ARM_SMMUV3,
//!     dev.dev_id(), s2, &mut [])?;
//! let vdev = iommufd.alloc_vdevice(viommu, dev.dev_id(), 0x42)?;
//! # let _ = vdev;
//! # Ok(()) }
//! ```
//!
//! # Errors
//!
//! Every fallible call returns [`Error`]: the operation ([`Op`]), the errno, and
//! [`Error::kind`] for matching the cases the kernel documents ([`ErrorKind::Busy`]
//! when destroying a referenced object, [`ErrorKind::UnknownTail`] for E2BIG, ...).
//! A partial `IOMMU_HWPT_INVALIDATE` is [`Error::Invalidation`] with the count the
//! kernel handled, when it reported one.
//!
//! # Seccomp
//!
//! [`uapi::IOCTL_REQUESTS`] lists every ioctl request number the crate can issue.

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod arch;
pub mod device;
pub mod error;
pub mod ids;
mod ioctl;
mod iommufd;
#[cfg(feature = "mock")]
pub mod mock;
pub mod payload;
pub mod states;
pub mod uapi;

pub use device::{Device, VfioDevice, VfioUnbound};
pub use error::{Error, ErrorKind, Op, Result, TransitionError};
pub use ids::*;
pub use iommufd::*;
pub use uapi::HwCapabilities;
