// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The guest's event queue (IHI 0070, §3.5 queues, §7.3 event records, §7.4 event
//! queue overflow, and the SMMU_EVENTQ_* registers of §6.3): the vSMMU produces,
//! the guest consumes. It is fed by the kernel's vEVENTQ and by the model's own
//! events; see [`GuestEventQueue`].

mod pump;
mod record;
mod sequence;

pub use pump::{Forwarded, VEventPump};
pub use record::EventRecord;
pub use sequence::{SequenceTracker, Tracked, VEventItem};

use super::guest_memory::{GuestMemory, GuestMemoryError};
use super::queue::Ring;

/// The guest's event queue ring, as SMMU_EVENTQ_BASE describes it. Cheap to copy:
/// decode it again whenever the guest writes EVENTQ_BASE.
///
/// ```text
///  physical SMMU ─► kernel vEVENTQ ─read─► VEventPump ──────┐ records as the kernel
///                   (vSID already in)    (SequenceTracker)  │ wrote them; losses
///                                                           ├─► GuestEventQueue ─► EVTQ ring
///  the model's own events (LookupError::event) ─────────────┘   PROD in, PROD out   (guest RAM)
/// ```
///
/// Nothing here touches registers or interrupts: the glue passes the current
/// SMMU_EVENTQ_PROD and SMMU_EVENTQ_CONS values in, stores the PROD it gets back,
/// raises the event queue interrupt when told something new is there (and
/// SMMU_IRQ_CTRL.EVENTQ_IRQEN is set), and GERROR.EVENTQ_ABT_ERR on an
/// [`EventQueueAbort`]. The glue calls nothing while SMMU_CR0.EVENTQEN is 0: a
/// disabled queue records nothing.
///
/// Overflow (§7.4): a record that finds the queue full is dropped, and the overflow
/// is signalled by toggling SMMU_EVENTQ_PROD.OVFLG, but only while
/// OVFLG == SMMU_EVENTQ_CONS.OVACKFLG: an overflow is signalled once until the
/// guest acknowledges it by copying OVFLG into OVACKFLG. Events the kernel lost
/// (vEVENTQ gaps and markers) are signalled the same way, queue full or not: the
/// guest lost events either way, and OVFLG is how an SMMU says so (Linux logs
/// "EVTQ overflow detected -- events lost").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestEventQueue {
    ring: Ring,
}

/// What offering one record to the guest's queue did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventOutcome {
    /// Written at the old PROD.
    Recorded {
        /// The new SMMU_EVENTQ_PROD.
        prod: u32,
    },
    /// The queue was full: dropped.
    Dropped {
        /// The new SMMU_EVENTQ_PROD (OVFLG toggled when `overflow_signalled`).
        prod: u32,
        /// This drop opened a new overflow condition (OVFLG toggled).
        overflow_signalled: bool,
    },
}

impl EventOutcome {
    /// The new SMMU_EVENTQ_PROD value.
    pub const fn prod(&self) -> u32 {
        match *self {
            EventOutcome::Recorded { prod } | EventOutcome::Dropped { prod, .. } => prod,
        }
    }

    /// Whether the guest has something new to look at (a record, or an overflow
    /// just signalled): raise the event queue interrupt if it is enabled.
    pub const fn interrupt(&self) -> bool {
        matches!(
            self,
            EventOutcome::Recorded { .. }
                | EventOutcome::Dropped {
                    overflow_signalled: true,
                    ..
                }
        )
    }
}

/// Writing a record to the guest's queue faulted: the SMMU reports it as
/// SMMU_GERROR.EVENTQ_ABT_ERR (bit 2). The record is lost; PROD did not move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("writing the guest's event queue at {address:#x} faulted (EVENTQ_ABT_ERR)")]
pub struct EventQueueAbort {
    /// The SMMU_EVENTQ_PROD value to keep (the records before the fault moved it).
    pub prod: u32,
    /// Guest physical address of the entry written.
    pub address: u64,
    /// The guest memory fault.
    #[source]
    pub source: GuestMemoryError,
}

impl EventQueueAbort {
    /// SMMU_GERROR.EVENTQ_ABT_ERR: the bit the glue toggles in GERROR.
    pub const GERROR_BIT: u32 = 1 << 2;
}

impl GuestEventQueue {
    /// SMMU_EVENTQ_PROD.OVFLG, bit 31.
    pub const PROD_OVFLG: u32 = 1 << 31;
    /// SMMU_EVENTQ_CONS.OVACKFLG, bit 31.
    pub const CONS_OVACKFLG: u32 = 1 << 31;

    /// The queue of a SMMU_EVENTQ_BASE value (ADDR bits 51:5, LOG2SIZE bits 4:0)
    /// with 32-byte entries; a LOG2SIZE above `max_log2size` (SMMU_IDR1.EVENTQS)
    /// reads as the maximum.
    pub const fn from_base(eventq_base: u64, max_log2size: u8) -> Self {
        Self {
            ring: Ring::from_base(eventq_base, max_log2size, EventRecord::SIZE as u8),
        }
    }

    /// The ring.
    pub const fn ring(&self) -> Ring {
        self.ring
    }

    /// The PROD bits that mean something: WR (index and wrap) and OVFLG. The rest
    /// of a PROD value the guest wrote is dropped.
    const fn clean_prod(&self, prod: u32) -> u32 {
        prod & (self.ring.index_mask() | Self::PROD_OVFLG)
    }

    /// Writes `record` at PROD, or drops it when the queue is full, signalling the
    /// overflow if none is outstanding. Takes the raw SMMU_EVENTQ_PROD and
    /// SMMU_EVENTQ_CONS values.
    ///
    /// # Errors
    ///
    /// [`EventQueueAbort`] when guest memory refuses the write.
    pub fn write<M>(
        &self,
        mem: &M,
        prod: u32,
        cons: u32,
        record: &EventRecord,
    ) -> Result<EventOutcome, EventQueueAbort>
    where
        M: GuestMemory + ?Sized,
    {
        let prod = self.clean_prod(prod);
        if self.ring.is_full(prod, cons) {
            let (prod, overflow_signalled) = self.signal_overflow(prod, cons);
            return Ok(EventOutcome::Dropped {
                prod,
                overflow_signalled,
            });
        }
        let address = self.ring.address(prod);
        mem.write(address, &record.to_bytes())
            .map_err(|source| EventQueueAbort {
                prod,
                address,
                source,
            })?;
        Ok(EventOutcome::Recorded {
            prod: self.ring.next(prod) | (prod & Self::PROD_OVFLG),
        })
    }

    /// Signals that events were lost: toggles OVFLG unless an overflow is already
    /// outstanding (OVFLG != OVACKFLG). Returns the new PROD and whether it toggled.
    pub const fn signal_overflow(&self, prod: u32, cons: u32) -> (u32, bool) {
        let prod = self.clean_prod(prod);
        if (prod & Self::PROD_OVFLG) == (cons & Self::CONS_OVACKFLG) {
            (prod ^ Self::PROD_OVFLG, true)
        } else {
            (prod, false)
        }
    }

    /// Whether an overflow is outstanding (signalled, not yet acknowledged).
    pub const fn overflowed(prod: u32, cons: u32) -> bool {
        (prod & Self::PROD_OVFLG) != (cons & Self::CONS_OVACKFLG)
    }
}
