// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`VEventPump`]: the kernel's vEVENTQ drained into the guest's event queue, one
//! read at a time, into the caller's buffer: no allocation.

use super::sequence::{SequenceTracker, Tracked, VEventItem};
use super::{EventOutcome, EventQueueAbort, EventRecord, GuestEventQueue};
use crate::arch::Smmuv3;
use crate::states::VEventQueue;
use crate::uapi::IommufdVeventHeader;
use crate::vsmmu::guest_memory::GuestMemory;
use rustix::fd::{AsFd, BorrowedFd};

/// What forwarding one read's entries to the guest did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forwarded {
    /// The new SMMU_EVENTQ_PROD value.
    pub prod: u32,
    /// Records written to the guest's queue.
    pub written: u32,
    /// Records not written: the guest's queue was full, or a write had aborted.
    pub dropped: u32,
    /// Events the kernel lost (sequence gaps and lost-events markers).
    pub lost: u64,
    /// An overflow was signalled (OVFLG toggled) for drops or kernel losses.
    pub overflow_signalled: bool,
    /// A write faulted: raise GERROR.EVENTQ_ABT_ERR. Records after it were dropped.
    pub abort: Option<EventQueueAbort>,
}

impl Forwarded {
    /// Whether the guest has something new to look at (records, or an overflow
    /// just signalled): raise the event queue interrupt if it is enabled.
    pub const fn interrupt(&self) -> bool {
        self.written > 0 || self.overflow_signalled
    }

    /// Whether the read held nothing at all: the vEVENTQ was empty.
    pub const fn is_empty(&self) -> bool {
        self.written == 0 && self.dropped == 0 && self.lost == 0 && self.abort.is_none()
    }
}

impl GuestEventQueue {
    /// Writes the records of one tracked vEVENTQ read to the guest's queue, from
    /// the raw SMMU_EVENTQ_PROD and SMMU_EVENTQ_CONS values, and signals the
    /// kernel's losses as an overflow. Drains `items` whatever happens, so the
    /// tracker sees every sequence number; after a write faults, the rest are
    /// dropped (the fault is reported once, in [`Forwarded::abort`]).
    pub fn forward<M>(&self, mem: &M, prod: u32, cons: u32, items: Tracked<'_, Smmuv3>) -> Forwarded
    where
        M: GuestMemory + ?Sized,
    {
        let mut out = Forwarded {
            prod: self.clean_prod(prod),
            written: 0,
            dropped: 0,
            lost: 0,
            overflow_signalled: false,
            abort: None,
        };
        for item in items {
            let (record, lost) = match item {
                VEventItem::Record {
                    record,
                    lost_before,
                } => (Some(EventRecord::from(record)), lost_before),
                VEventItem::Lost { count } => (None, count),
            };
            if lost > 0 {
                out.lost = out.lost.saturating_add(u64::from(lost));
                let (prod, toggled) = self.signal_overflow(out.prod, cons);
                out.prod = prod;
                out.overflow_signalled |= toggled;
            }
            let Some(record) = record else { continue };
            if out.abort.is_some() {
                out.dropped = out.dropped.saturating_add(1);
                continue;
            }
            match self.write(mem, out.prod, cons, &record) {
                Ok(EventOutcome::Recorded { prod }) => {
                    out.prod = prod;
                    out.written = out.written.saturating_add(1);
                }
                Ok(EventOutcome::Dropped {
                    prod,
                    overflow_signalled,
                }) => {
                    out.prod = prod;
                    out.dropped = out.dropped.saturating_add(1);
                    out.overflow_signalled |= overflow_signalled;
                }
                Err(abort) => {
                    out.dropped = out.dropped.saturating_add(1);
                    out.abort = Some(abort);
                }
            }
        }
        out
    }
}

/// A vIOMMU's vEVENTQ feeding the guest's event queue. Poll
/// [`as_fd`](AsFd::as_fd) (level-triggered, or call [`pump`](Self::pump) until
/// it returns an empty [`Forwarded`]) and pump when it is readable.
#[derive(Debug)]
pub struct VEventPump {
    queue: VEventQueue<Smmuv3>,
    tracker: SequenceTracker,
}

impl VEventPump {
    /// Bytes one SMMUv3 vEVENT takes in a read: a header and a 32-byte record. A
    /// pump buffer holds at least one; `[u8; 16 * VEventPump::ENTRY_BYTES]` takes
    /// 16 events per read.
    pub const ENTRY_BYTES: usize = core::mem::size_of::<IommufdVeventHeader>() + EventRecord::SIZE;

    /// A pump over a fresh vEVENTQ (its tracker expects sequence number 0).
    pub fn new(queue: VEventQueue<Smmuv3>) -> Self {
        Self {
            queue,
            tracker: SequenceTracker::new(),
        }
    }

    /// The vEVENTQ.
    pub fn queue(&self) -> &VEventQueue<Smmuv3> {
        &self.queue
    }

    /// The sequence tracker: records seen and events lost so far.
    pub fn tracker(&self) -> &SequenceTracker {
        &self.tracker
    }

    /// The vEVENTQ back.
    pub fn into_queue(self) -> VEventQueue<Smmuv3> {
        self.queue
    }

    /// Reads the vEVENTQ once into `buf` (never blocks; as many whole events as
    /// fit) and forwards what it read to `evtq` ([`GuestEventQueue::forward`]).
    /// Allocates nothing.
    ///
    /// # Errors
    ///
    /// The read's error ([`VEventQueue::read`]): a `buf` shorter than
    /// [`ENTRY_BYTES`](Self::ENTRY_BYTES) may be refused. Nothing was consumed.
    pub fn pump<M>(
        &mut self,
        buf: &mut [u8],
        mem: &M,
        evtq: &GuestEventQueue,
        prod: u32,
        cons: u32,
    ) -> crate::Result<Forwarded>
    where
        M: GuestMemory + ?Sized,
    {
        let entries = self.queue.read(buf)?;
        Ok(evtq.forward(mem, prod, cons, self.tracker.track(entries)))
    }
}

impl VEventPump {
    /// Reads the vEVENTQ once into `buf` and drops what it held, tracking the
    /// sequence numbers: what an SMMU does with events while its event queue is
    /// disabled (SMMU_CR0.EVENTQEN = 0). Returns the records dropped.
    ///
    /// # Errors
    ///
    /// The read's error, as for [`pump`](Self::pump).
    pub fn discard(&mut self, buf: &mut [u8]) -> crate::Result<u32> {
        let entries = self.queue.read(buf)?;
        let dropped = self
            .tracker
            .track(entries)
            .filter(|item| matches!(item, VEventItem::Record { .. }))
            .count();
        Ok(u32::try_from(dropped).unwrap_or(u32::MAX))
    }
}

impl AsFd for VEventPump {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.queue.as_fd()
    }
}
