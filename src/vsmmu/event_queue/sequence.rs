// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`SequenceTracker`]: the kernel's vEVENTQ sequence numbers followed across reads,
//! so the events the kernel dropped are counted even when no marker says so.
//!
//! Linux 7.3 (`iommufd_vevent_handler`) numbers every event it queues, and every
//! event it drops because the vEVENTQ is full, from 0 up to `i32::MAX` and then 0
//! again. A dropped event is represented by the queue's one lost-events header,
//! re-queued at the tail with the dropped event's number, and removed again when a
//! real event follows it. So a reader sees:
//! - a record whose number is `d` past the previous one: `d - 1` events lost;
//! - a lost-events marker whose number is `d` past the previous one: `d` lost (the
//!   marker carries the number of the last dropped event itself).

use crate::arch::Family;
use crate::states::{VEventEntries, VEventEntry};

/// Sequence numbers wrap at `i32::MAX` (`& INT_MAX` in the kernel).
const SEQUENCE_MASK: u32 = i32::MAX as u32;

/// Follows a vEVENTQ's sequence numbers and counts what was lost. Starts expecting
/// 0, the kernel's first number, so make one per vEVENTQ, before its first read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SequenceTracker {
    next: u32,
    records: u64,
    lost: u64,
    lost_markers: u64,
}

impl SequenceTracker {
    /// A tracker for a fresh vEVENTQ.
    pub const fn new() -> Self {
        Self {
            next: 0,
            records: 0,
            lost: 0,
            lost_markers: 0,
        }
    }

    /// Takes the sequence number of a record and returns how many events were lost
    /// just before it.
    pub fn record(&mut self, sequence: u32) -> u32 {
        let lost = self.advance(sequence);
        self.records = self.records.saturating_add(1);
        lost
    }

    /// Takes the sequence number of a lost-events marker and returns how many
    /// events it stands for (at least 1).
    pub fn lost_marker(&mut self, sequence: u32) -> u32 {
        // The marker's own number is a dropped event's, so it counts too. The gap
        // is below 2^31, so adding 1 cannot overflow.
        let lost = self.advance(sequence) + 1;
        self.lost = self.lost.saturating_add(1);
        self.lost_markers = self.lost_markers.saturating_add(1);
        lost
    }

    /// Moves past `sequence`; returns the numbers skipped on the way and counts them.
    fn advance(&mut self, sequence: u32) -> u32 {
        // The kernel never sets bit 31; masking keeps a bad value from panicking.
        let sequence = sequence & SEQUENCE_MASK;
        let gap = sequence.wrapping_sub(self.next) & SEQUENCE_MASK;
        self.next = sequence.wrapping_add(1) & SEQUENCE_MASK;
        self.lost = self.lost.saturating_add(u64::from(gap));
        gap
    }

    /// The sequence number the next event should carry.
    pub const fn expected(&self) -> u32 {
        self.next
    }

    /// Records seen so far.
    pub const fn records(&self) -> u64 {
        self.records
    }

    /// Events the kernel lost so far: sequence gaps and markers together.
    pub const fn lost(&self) -> u64 {
        self.lost
    }

    /// Lost-events markers seen so far.
    pub const fn lost_markers(&self) -> u64 {
        self.lost_markers
    }

    /// Follows the entries of one read, yielding them with their losses.
    pub fn track<'a, F: Family>(&'a mut self, entries: VEventEntries<'a, F>) -> Tracked<'a, F> {
        Tracked {
            entries,
            tracker: self,
        }
    }
}

/// One entry of a read, with what was lost before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VEventItem<R> {
    /// A record, after `lost_before` events were lost.
    Record {
        /// The driver's record.
        record: R,
        /// Events lost between the previous entry and this one.
        lost_before: u32,
    },
    /// A lost-events marker standing for `count` lost events.
    Lost {
        /// Events it stands for (at least 1).
        count: u32,
    },
}

/// The entries of one read, tracked ([`SequenceTracker::track`]). Drain it: the
/// tracker only sees the entries it yields.
pub struct Tracked<'a, F: Family> {
    entries: VEventEntries<'a, F>,
    tracker: &'a mut SequenceTracker,
}

// By hand: a derive would require `F: Debug` (F is only a marker here).
impl<F: Family> core::fmt::Debug for Tracked<'_, F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Tracked")
            .field("entries", &self.entries)
            .field("tracker", &self.tracker)
            .finish()
    }
}

impl<F: Family> Iterator for Tracked<'_, F> {
    type Item = VEventItem<F::VEvent>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(match self.entries.next()? {
            VEventEntry::Record { sequence, record } => VEventItem::Record {
                record,
                lost_before: self.tracker.record(sequence),
            },
            VEventEntry::Lost { sequence } => VEventItem::Lost {
                count: self.tracker.lost_marker(sequence),
            },
        })
    }
}
