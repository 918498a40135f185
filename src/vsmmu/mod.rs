// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The guest half of a virtual SMMUv3 (IHI 0070): the registers, stream table,
//! command queue and event queue a guest's SMMUv3 driver programs in MMIO and guest
//! memory, on top of the kernel half (the lifecycle states and the invalidation
//! batch). One file per concern, each citing the spec section it implements.
//! Nothing below this module imports it.

mod guest_memory;
mod queue;
mod registers;

pub use crate::arch::smmuv3::IdRegisters;
pub use guest_memory::{GuestMemory, GuestMemoryError, GuestMemoryFault};
pub use queue::Ring;
pub use registers::{
    AccessError, Cerror, ConfigError, Cr0, Effect, GlobalErrors, IgnoreReason, Ignored, IrqCtrl,
    MAX_QUEUE_LOG2SIZE, Msi, Registers, VsmmuConfig, Width, WriteOutcome, offset,
};
