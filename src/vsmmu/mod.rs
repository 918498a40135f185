// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The guest half of a virtual SMMUv3 (IHI 0070): the registers, stream table,
//! command queue and event queue a guest's SMMUv3 driver programs in MMIO and guest
//! memory, on top of the kernel half (the lifecycle states and the invalidation
//! batch). One file per concern, each citing the spec section it implements.
//! Nothing below this module imports it.

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
    FakeGuestMemory, FileGuestMemory, FileRegion, GuestMemory, GuestMemoryError, GuestMemoryFault,
    GuestRegionError,
};
pub use interrupts::{Interrupt, Interrupts, MsiWrite, NoInterrupts};
pub use queue::Ring;
pub use registers::{
    AccessError, ConfigError, Cr0, Effect, GlobalErrors, IgnoreReason, Ignored, IrqCtrl,
    MAX_QUEUE_LOG2SIZE, Registers, VsmmuConfig, Width, WriteOutcome, offset,
};
pub use smmu::{Stats, VSmmu};
pub use stream_table::{BadStreamId, LookupError, StreamTable, StreamTableFormat};
