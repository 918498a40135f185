// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The guest half of a virtual SMMUv3 (IHI 0070): the registers, stream table,
//! command queue and event queue a guest's SMMUv3 driver programs in MMIO and guest
//! memory, on top of the kernel half (the lifecycle states and the invalidation
//! batch). One file per concern, each citing the spec section it implements:
//! [`Registers`] (chapter 6), [`StreamTable`] (§3.3, §5.1, §5.2),
//! [`CommandQueue`] (§3.5, §4, §7.1), [`GuestEventQueue`] and [`VEventPump`]
//! (§7.3, §7.4), glued into one [`VSmmu`]. Nothing below this module imports it.
//!
//! # What the VMM wires
//!
//! - **One vSMMU per physical SMMU** the guest's devices sit behind (a vIOMMU is
//!   per physical IOMMU instance): build its [`Registers`] from that SMMU's
//!   hw_info ([`SmmuCaps::decode`](crate::arch::smmuv3::SmmuCaps::decode), then
//!   [`VsmmuConfig::for_host`] and the VMM's own choices), which refuses what the
//!   host cannot back.
//! - **An MMIO window** of [`offset::FRAME_SIZE`] (128 KiB, pages 0 and 1), 64 KiB
//!   aligned, in the guest's firmware description (a device-tree `arm,smmu-v3`
//!   node or an IORT SMMUv3 node): route its exits to [`VSmmu::read`] and
//!   [`VSmmu::write`] with the offset into the window and the access width.
//! - **Interrupts**: the wired ones as SPIs ("eventq", "gerror", "cmdq-sync"
//!   in the device tree), raised through the VMM's [`Interrupts`]; or MSIs, if
//!   [`SmmuCaps::msi`](crate::arch::smmuv3::SmmuCaps::msi) is advertised and the
//!   firmware gives the SMMU an MSI parent (the callback then gets
//!   [`Interrupts::msi`] with the doorbell address).
//! - **Guest memory**: [`MappedGuestMemory`] over the memfd the VMM maps into the
//!   IOAS with [`map_file`](crate::states::IoasReady::map_file), mapped once (or
//!   [`VmMemory`] over rust-vmm's `vm-memory`, feature `vm-memory`, or
//!   [`FileGuestMemory`], `pread`/`pwrite` on the memfd, where no mapping may be
//!   made).
//! - **Which device is behind it**: each PCI requester ID maps to a guest
//!   StreamID (the PCIe host's `iommu-map`, or the IORT ID mapping); bind the
//!   device with that StreamID ([`VIommuAllocated::bind`](crate::states::VIommuAllocated::bind))
//!   and [`VSmmu::plug`] it. [`VSmmu::unplug`] takes it out again.
//! - **Faults**: register the vEVENTQ's fd ([`VEventPump`] is `AsFd`) in the
//!   VMM's epoll and call [`VSmmu::pump_events`] when it is readable.
//!
//! ```no_run
//! use iommufd::arch::smmuv3::SmmuCaps;
//! use iommufd::batch::InvalidationBatch;
//! use iommufd::states::VIommuAllocated;
//! use iommufd::vsmmu::{
//!     Devices, FileRegion, Interrupt, Interrupts, MappedGuestMemory, Registers, VEventPump,
//!     VSmmu, VsmmuConfig, Width,
//! };
//! use iommufd::arch::Smmuv3;
//! use iommufd::VfioDevice;
//! use rustix::fd::OwnedFd;
//! use std::sync::Arc;
//!
//! /// The VMM's interrupt controller.
//! struct Gic;
//! impl Interrupts for Gic {
//!     fn raise(&self, which: Interrupt) { /* inject the SPI wired to `which` */ }
//!     fn msi(&self, address: u64, data: u32) { /* an ITS doorbell write */ }
//! }
//!
//! fn vsmmu(
//!     viommu: &VIommuAllocated<Smmuv3>,
//!     dev: VfioDevice,
//!     ram: Arc<OwnedFd>,
//!     ram_gpa: u64,
//!     ram_len: u64,
//! ) -> Result<VSmmu<MappedGuestMemory, Devices<Smmuv3, VfioDevice>, VIommuAllocated<Smmuv3>, Gic>,
//!             Box<dyn std::error::Error>> {
//!     let (info, hw) = viommu.hw_info(&dev)?;
//!     let host = SmmuCaps::decode(&info, hw.capabilities);
//!     let regs = Registers::new(&host, VsmmuConfig::for_host(&host))?; // refuses what the host cannot back
//!     let mem = MappedGuestMemory::map([FileRegion::new(ram, ram_gpa, ram_len, 0)])?;
//!     let vsmmu = VSmmu::new(regs, mem, Devices::new(), InvalidationBatch::new(viommu.clone()), Gic)
//!         .with_vevent_queue(VEventPump::new(viommu.alloc_vevent_queue(64)?));
//!     let bound = viommu.bind(dev, 0x8).map_err(|e| e.into_parts().1)?; // guest StreamID 8
//!     vsmmu.plug(bound).map_err(|_| "StreamID 8 is taken")?;
//!     Ok(vsmmu)
//! }
//!
//! // In the MMIO exit handler, for an access at `offset` into the 128 KiB window:
//! # fn exit(vsmmu: &VSmmu<MappedGuestMemory, Devices<Smmuv3, VfioDevice>, VIommuAllocated<Smmuv3>, Gic>, offset: u64, value: u64) {
//! match vsmmu.write(offset, Width::U32, value) {
//!     Ok(_) => {}
//!     Err(e) => eprintln!("vSMMU: {e}"), // a misaligned access: the guest's bug
//! }
//! # }
//! ```
//!
//! `examples/vsmmu_host.rs` runs the same wiring on the host with the crate's
//! stand-ins for the kernel ([`RecordingSink`](crate::batch::RecordingSink),
//! [`FakeGuestMemory`]) and plays a guest driver through [`VSmmu::read`] and
//! [`VSmmu::write`]: `cargo run --example vsmmu_host`.
//!
//! What a VMM writes by hand without this module, for comparison: OpenVMM's
//! emulator is 4,490 lines in-tree; this module is about 3,400 lines of code
//! (without comments) the VMM does not write, and the wiring above is what is left.

mod backend;
mod command_queue;
mod event_queue;
mod guest_memory;
mod interrupts;
mod queue;
mod registers;
mod smmu;
mod stream_table;

pub use crate::arch::smmuv3::IdRegisters;
pub use backend::{Backend, Devices};
pub use command_queue::{
    CError, CommandHost, CommandQueue, CommandQueueError, CompletionSignal, Consumed, ReservedBits,
    SyncSignal,
};
pub use event_queue::{
    EventOutcome, EventQueueAbort, EventRecord, Forwarded, GuestEventQueue, SequenceTracker,
    Tracked, VEventItem, VEventPump,
};
#[cfg(feature = "vm-memory")]
#[cfg_attr(docsrs, doc(cfg(feature = "vm-memory")))]
pub use guest_memory::VmMemory;
pub use guest_memory::{
    FakeGuestMemory, FileGuestMemory, FileRegion, GuestMappingError, GuestMemory, GuestMemoryError,
    GuestMemoryFault, GuestRegionError, MappedGuestMemory,
};
pub use interrupts::{Interrupt, Interrupts, MsiWrite, NoInterrupts};
pub use queue::Ring;
pub use registers::{
    AccessError, ConfigError, Cr0, Effect, GlobalErrors, IgnoreReason, Ignored, IrqCtrl,
    MAX_QUEUE_LOG2SIZE, Registers, VsmmuConfig, Width, WriteOutcome, offset,
};
pub use smmu::{Stats, VSmmu};
pub use stream_table::{BadStreamId, LookupError, StreamTable, StreamTableFormat};
