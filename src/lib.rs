// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
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
//! - [`vsmmu`]: the guest half of a virtual SMMUv3 (registers, stream table,
//!   command and event queues in guest memory) on top of the layers below: a VMM
//!   wires an MMIO window, interrupts and guest RAM to one [`vsmmu::VSmmu`].
//! - [`states`]: the lifecycle as typestates, the layer a VMM uses:
//!   [`IoasReady`](states::IoasReady) -> [`S2Allocated`](states::S2Allocated) ->
//!   [`VIommuAllocated`](states::VIommuAllocated) ->
//!   [`VDeviceBound`](states::VDeviceBound) -> [`Nested`](states::Nested), and for
//!   Intel VT-d (no vIOMMU) [`S2Allocated`](states::S2Allocated) ->
//!   [`S2Attached`](states::S2Attached) -> [`S2Nested`](states::S2Nested). Wrong
//!   orders, and the other family's path, do not compile; teardown is right by
//!   construction. Fault queues (IOPF), dirty tracking, PASIDs and the vIOMMU's
//!   mmap window are there too.
//! - [`batch`]: the invalidation hot path, a fixed-capacity batch sent at each guest
//!   sync to an [`InvalidationSink`](batch::InvalidationSink) (the vIOMMU, or a fake
//!   for tests).
//! - [`arch`]: the IOMMU families ([`arch::Smmuv3`], [`arch::Tegra241Cmdqv`],
//!   [`arch::Vtd`], and the kernel's mock with the `mock` feature), the AMD payloads,
//!   and their parsers and capability checks.
//! - [`IommuFd`]: one method per kernel command, with typed ids ([`IoasId`],
//!   [`HwptId`], [`VIommuId`], ...) so one kind of object can never be passed for
//!   another, and arguments checked before the syscall ([`Error::InvalidInput`]
//!   names the field). For what the typestates do not cover.
//! - [`device`]: devices bound to the iommufd; [`VfioDevice`] for VFIO cdevs the
//!   crate owns, [`VfioCdev`] for a cdev whose fd the VMM keeps (or another crate,
//!   such as `vfio-ioctls` for regions and interrupts): the crate never closes it.
//! - [`uapi`]: `#[repr(C)]` zerocopy mirrors of Linux 7.3's `iommufd.h` and the VFIO
//!   cdev structs, checked against the real header by `rig/header-check.sh`.
//! - [`payload`]: traits tying driver payloads to their uAPI type numbers.
//! - `mock` (feature `mock`): the kernel's mock IOMMU, for tests.
//!
//! All `unsafe` code lives in one private module, one `// SAFETY:` line per block.
//! Mapping process memory for DMA ([`IommuFd::map_user`]) is an `unsafe fn`; mapping
//! a memfd ([`IommuFd::map_file`]) is the safe way to give devices guest RAM.
//!
//! # A VM's vIOMMU, start to end
//!
//! ```no_run
//! use iommufd::arch::{smmuv3::Ste, DefaultStage1, Smmuv3};
//! use iommufd::states::{DeviceState, GuestStage1, IoasReady};
//! use iommufd::{Access, IommuFd, Iova, MapAt, VfioUnbound};
//! use std::sync::Arc;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Phase 1, VM boot: guest RAM in a memfd, mapped at guest physical 0 for stage 2.
//! let iommufd = Arc::new(IommuFd::open()?);
//! let ram = rustix::fs::memfd_create("guest-ram", rustix::fs::MemfdFlags::CLOEXEC)?;
//! rustix::fs::ftruncate(&ram, 1 << 30)?;
//! let ioas = IoasReady::new(&iommufd)?;
//! ioas.map_file(rustix::fd::AsFd::as_fd(&ram), 0, 1 << 30, MapAt::Fixed(Iova(0)),
//!     Access::READ | Access::WRITE)?;
//! let dev = VfioUnbound::open("/dev/vfio/devices/vfio0")?
//!     .bind(&iommufd)
//!     .map_err(|e| e.into_parts().1)?;
//! let s2 = ioas.alloc_nest_parent(&dev)?;
//! let viommu = s2.alloc_viommu::<Smmuv3>(&dev)?; // bypass and abort vSTEs made once
//! let bound = viommu.bind(dev, 0x42).map_err(|e| e.into_parts().1)?; // on bypass
//!
//! // Phase 2: the VMM keeps the device in a DeviceState and applies, in place, what
//! // the guest writes into its STE: parsed first, so nothing unchecked reaches the
//! // kernel.
//! let mut device = DeviceState::from(bound);
//! # let guest_ste_bytes = [0u8; 64];
//! match Ste::parse(&guest_ste_bytes) {
//!     // On error the device is where it was: report it to the guest (C_BAD_STE).
//!     Ok(ste) => if let Err(e) = device.apply(ste.into()) { eprintln!("{e}") },
//!     Err(e) => eprintln!("guest STE refused: {e}"), // the kernel would refuse it too
//! }
//! device.apply(GuestStage1::Translate(Ste::translate(0x8000_0000)?))?;
//! device.apply(GuestStage1::Default(DefaultStage1::Abort))?;
//! # let _ = device;
//! # Ok(()) }
//! ```
//!
//! `rig/walkthrough.sh` runs the same story against the kernel's mock IOMMU and
//! prints each step.
//!
//! # Which entry point
//!
//! | the VMM has | use | why |
//! | --- | --- | --- |
//! | a guest with its own SMMUv3 driver | [`vsmmu::VSmmu`]: MMIO `read`/`write`, `pump_events`, `plug` | the guest half done: STE loads, the command ring, CMD_SYNC, errors, events |
//! | guest STE bytes (untrusted) | [`Ste::parse`](arch::smmuv3::Ste::parse), then [`DeviceState::apply`](states::DeviceState::apply)`(ste.into())` | refuses what Linux refuses, naming the field; the device changes in place, or not at all |
//! | an STE of its own (boot, reset) | [`Ste::abort`](arch::smmuv3::Ste::abort), [`Ste::bypass`](arch::smmuv3::Ste::bypass), [`Ste::translate`](arch::smmuv3::Ste::translate)`(..)?.with_*` | the one builder; it cannot make what the parser refuses |
//! | compile-time ordering for a device | [`VDeviceBound::install`](states::VDeviceBound::install) and the other consuming transitions | wrong orders do not compile; [`DeviceState::into_typed`](states::DeviceState::into_typed) and `From` move between the two |
//! | the guest's command queue to drain | [`CommandRules`](arch::smmuv3::CommandRules) once per vIOMMU, then [`push_guest_commands`](batch::InvalidationBatch::push_guest_commands) | the hot path: one ioctl per CMD_SYNC, a legal TLBI costs a table lookup and a store |
//! | one guest command's verdict | [`CommandRules::classify`](arch::smmuv3::CommandRules::classify) (same table), or [`classify`](arch::smmuv3::classify) with the caps (works the rules out each call: tools, tests) | both give the same verdict, checked in the arm64 tier |
//! | checked invalidation entries in an array | [`VIommuAllocated::invalidate`](states::VIommuAllocated::invalidate) | one call (split past [`INVALIDATE_CHUNK`]) |
//! | entries for a nested HWPT (the mock) | [`Nested::invalidate`](states::Nested::invalidate), [`DeviceState::invalidate`](states::DeviceState::invalidate) | exists only for families that invalidate per HWPT |
//! | a VT-d guest (PASID-table entries, invalidation descriptors) | [`VtdStage1::parse`](arch::vtd::VtdStage1::parse), [`S2DeviceState::apply`](states::S2DeviceState::apply), [`VtdInvalidation`](arch::vtd::VtdInvalidation) to [`S2Nested::invalidate`](states::S2Nested::invalidate) | the intel driver's own rules, before any syscall; partial failures name the entry |
//! | live migration with a vIOMMU | [`S2Options::dirty_tracking`](states::S2Options::dirty_tracking), [`DirtyTracker`](states::DirtyTracker) | the stage 2's dirty bits are guest RAM written by DMA, whatever the guest's stage 1 |
//! | page requests (PRI, stalls) | [`FaultQueue`](states::FaultQueue), `set_fault_queue` on the device's state | whole groups into the caller's buffer, typed responses |
//! | ids from other code, or a driver the crate does not know | [`IommuFd`] methods, [`HwptAlloc::nested`], [`IommuFd::invalidate_raw`] | one method per kernel command, no typestate |
//! | a batch in a unit test | [`batch::RecordingSink`] | records what would be sent; answers as the kernel would |
//!
//! # Errors
//!
//! Five error types, one per kind of answer ([`error`] has the table of which call
//! returns which): [`Error`] for anything that reaches or would reach the kernel (the
//! operation, [`Op`], the errno, and [`Error::kind`] for matching the documented
//! cases: [`ErrorKind::Busy`] when destroying a referenced object,
//! [`ErrorKind::UnknownTail`] for E2BIG, ...; or the crate's own refusal before any
//! syscall, naming the field); [`TransitionError`] for a consuming transition, which
//! gives back what it consumed; the batch's `BatchError`, naming the guest command to
//! report; and the SMMUv3 parsers' `SteError` and `CommandError`, naming the field.
//! A failed `IOMMU_HWPT_INVALIDATE` is [`Error::Invalidation`]: it names the entry
//! the driver refused, if one was refused, and otherwise says that none of the call
//! is known to have run ([`Error::refused_entry`] tells the two apart).
//!
//! # Teardown
//!
//! Dropping any handle, in any order, leaves nothing in the kernel: children hold
//! their parents, the lifecycle states detach their device before destroying what
//! it was attached to (whoever else keeps the device's fd open), a vIOMMU's HW
//! queues are a chain, and a destroy the kernel refuses because something outside
//! the crate's handles still holds the object (a device attached straight to an
//! IOAS, say) is retried as soon as that goes ([`IommuFd::pending_destroys`]).
//!
//! # Seccomp
//!
//! [`seccomp`] lists what a VMM's filter must allow: every ioctl request the crate
//! can issue ([`seccomp::IOCTLS`], each [`Op::request`]; the same numbers as
//! [`uapi::IOCTL_REQUESTS`]), the subset a running VM needs after boot
//! ([`seccomp::RUNTIME_IOCTLS`], each entry justified), and the other system calls
//! the crate makes, by number for x86_64 and aarch64 ([`seccomp::SYSCALLS`],
//! [`seccomp::RUNTIME_SYSCALLS`]).

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod arch;
pub mod batch;
pub mod device;
pub mod error;
mod feature;
pub mod ids;
mod ioctl;
mod iommufd;
#[cfg(feature = "mock")]
#[cfg_attr(docsrs, doc(cfg(feature = "mock")))]
pub mod mock;
pub mod payload;
pub mod seccomp;
pub mod states;
pub mod uapi;
pub mod vsmmu;

/// The README's code, compiled as a doc test so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub use device::{Device, VfioCdev, VfioDevice, VfioUnbound};
pub use error::{Error, ErrorKind, Op, Result, TransitionError};
pub use feature::Feature;
pub use ids::*;
pub use iommufd::*;
pub use uapi::HwCapabilities;
