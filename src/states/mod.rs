// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The nested-translation lifecycle as typestates.
//!
//! ```text
//!  IoasReady ──alloc_nest_parent──▶ S2Allocated ──alloc_viommu──▶ VIommuAllocated<F>
//!   (shared)                          (shared)                       (shared)
//!                                                                      │ bind(dev, virt_id)
//!                                                                      ▼
//!              uninstall / switch_default  ◀──────────  VDeviceBound<F, D> (per device)
//!   Nested<F, D> ◀────────────── install(guest stage 1) ──┘
//!     └─ reinstall(new guest stage 1)
//! ```
//!
//! Families that nest on the stage 2 itself ([`ParentNesting`](crate::arch::ParentNesting):
//! Intel VT-d, which has no vIOMMU in Linux 7.3) take a shorter path, with their
//! invalidations on each nested HWPT:
//!
//! ```text
//!  S2Allocated ──attach(dev)──▶ S2Attached<F, D> ──install(guest stage 1)──▶ S2Nested<F, D>
//!                                    ▲                                          │ invalidate
//!                                    └──────────────── uninstall ───────────────┘ reinstall
//! ```
//!
//! Neither path compiles for the other kind: `alloc_viommu::<Vtd>` and
//! `attach::<Smmuv3, _>` are type errors.
//!
//! Each transition exists only on the state where it is right, so a vIOMMU before a
//! stage 2, a vDEVICE before a vIOMMU, or a stage-1 install before a vDEVICE does not
//! compile. A VMM that keeps devices in a struct uses [`DeviceState`], the
//! per-device states in one type changed in place with `&mut self`. The shared
//! states (IOAS, stage 2, vIOMMU) are cheap handles: clone them
//! to share, build the next stage from `&self`; each child holds its parent alive,
//! so whatever the drop order, the kernel objects go children first and nothing is
//! left busy or leaked. The per-device states consume `self`; a failed transition
//! returns the original in [`TransitionError`](crate::TransitionError), the device
//! still attached where it was.
//!
//! Construction that fails half way destroys what it made. Drop never panics: it
//! destroys the object and ignores what the kernel answers; use `try_destroy` where
//! the answer matters.
//!
//! # Phase 1 and Phase 2
//!
//! ```no_run
//! use iommufd::arch::{smmuv3::Ste, Smmuv3};
//! use iommufd::states::IoasReady;
//! use iommufd::{Access, IommuFd, Iova, MapAt, VfioUnbound};
//! use std::sync::Arc;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Phase 1, VM boot.
//! let iommufd = Arc::new(IommuFd::open()?);
//! let ioas = IoasReady::new(&iommufd)?;
//! # let ram = rustix::fs::memfd_create("ram", rustix::fs::MemfdFlags::CLOEXEC)?;
//! # rustix::fs::ftruncate(&ram, 1 << 30)?;
//! ioas.map_file(rustix::fd::AsFd::as_fd(&ram), 0, 1 << 30, MapAt::Fixed(Iova(0)), Access::READ | Access::WRITE)?;
//! let dev = VfioUnbound::open("/dev/vfio/devices/vfio0")?.bind(&iommufd).map_err(|e| e.into_parts().1)?;
//! let s2 = ioas.alloc_nest_parent(&dev)?;
//! let viommu = s2.alloc_viommu::<Smmuv3>(&dev)?;           // shared by many devices
//! let bound = viommu.bind(dev, 0x42).map_err(|e| e.into_parts().1)?; // guest SID 0x42, bypass
//!
//! // Phase 2, trapped from the guest: it wrote an STE enabling stage 1.
//! let ste = Ste::translate(0x8000_0000)?; // or Ste::parse(guest bytes)?
//! let nested = match bound.install(&ste) {
//!     Ok(nested) => nested,
//!     Err(e) => {
//!         let (bound, why) = e.into_parts(); // still on bypass
//!         # let _ = bound;
//!         return Err(why.into());
//!     }
//! };
//! let bound = nested.uninstall().map_err(|e| e.into_parts().1)?; // guest disabled it
//! # let _ = bound;
//! # Ok(()) }
//! ```

mod binding;
mod device_state;
mod dirty;
mod events;
mod faults;
mod hw_queue;
mod ioas_ready;
mod nested;
mod object;
mod s2_allocated;
mod s2_attached;
mod s2_binding;
mod s2_device_state;
mod s2_nested;
mod s2_pasid;
mod vdevice_bound;
mod viommu_allocated;
mod window;

pub use device_state::{DeviceState, GuestStage1, Typed};
pub use dirty::DirtyTracker;
pub use events::{VEventEntries, VEventEntry, VEventQueue};
pub use faults::{FaultQueue, PageResponse};
pub use hw_queue::HwQueue;
pub use ioas_ready::IoasReady;
pub use nested::Nested;
pub use s2_allocated::{S2Allocated, S2Options};
pub use s2_attached::S2Attached;
pub use s2_device_state::S2DeviceState;
pub use s2_nested::S2Nested;
pub use s2_pasid::PASID_MAX;
pub use vdevice_bound::VDeviceBound;
pub use viommu_allocated::VIommuAllocated;
pub use window::VIommuWindow;

/// A state of the lifecycle. Sealed: the five states are the crate's.
pub trait State: sealed::Sealed {}

mod sealed {
    pub trait Sealed {}
}

// Handles cross vCPU and device-model threads: keep them Send + Sync.
static_assertions::assert_impl_all!(IoasReady: Send, Sync, Clone);
static_assertions::assert_impl_all!(S2Allocated: Send, Sync, Clone);
static_assertions::assert_impl_all!(VIommuAllocated<crate::arch::Smmuv3>: Send, Sync, Clone);
static_assertions::assert_impl_all!(VDeviceBound<crate::arch::Smmuv3, crate::VfioDevice>: Send, Sync);
static_assertions::assert_impl_all!(Nested<crate::arch::Smmuv3, crate::VfioDevice>: Send, Sync);
static_assertions::assert_impl_all!(S2Attached<crate::arch::Vtd, crate::VfioDevice>: Send, Sync);
static_assertions::assert_impl_all!(S2Nested<crate::arch::Vtd, crate::VfioDevice>: Send, Sync);
static_assertions::assert_impl_all!(S2DeviceState<crate::arch::Vtd, crate::VfioDevice>: Send, Sync);
static_assertions::assert_impl_all!(VEventQueue<crate::arch::Smmuv3>: Send, Sync);
static_assertions::assert_impl_all!(FaultQueue: Send, Sync, Clone);
static_assertions::assert_impl_all!(VIommuWindow<crate::arch::Tegra241Cmdqv>: Send, Sync);
