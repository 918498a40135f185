// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`VEventQueue`]: a vIOMMU's vEVENTQ, and a decoder for what it reads.

use super::VIommuAllocated;
use super::object::KernelObject;
use crate::arch::Family;
use crate::error::Result;
use crate::ids::VEventQueueId;
use crate::uapi::{IommufdVeventHeader, VeventFlags};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use zerocopy::FromBytes;

/// A vIOMMU's event queue. Reads never block; poll [`as_fd`](AsFd::as_fd) for
/// readiness. Dropping it closes the fd, then destroys the object.
pub struct VEventQueue<F: Family> {
    // Field order is teardown order: the kernel refuses to destroy a vEVENTQ whose
    // fd is open.
    fd: OwnedFd,
    object: KernelObject<VEventQueueId>,
    viommu: VIommuAllocated<F>,
}

impl<F: Family> core::fmt::Debug for VEventQueue<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VEventQueue")
            .field("id", &self.object.id())
            .field("viommu", &self.viommu.id())
            .finish()
    }
}

impl<F: Family> VEventQueue<F> {
    pub(super) fn new(viommu: VIommuAllocated<F>, depth: u32) -> Result<Self> {
        let (id, fd) = viommu
            .iommufd()
            .alloc_vevent_queue(viommu.id(), F::VEVENTQ_TYPE, depth)?
            .into_parts();
        let object = KernelObject::adopt(viommu.iommufd(), id);
        Ok(Self { fd, object, viommu })
    }

    /// The kernel id.
    pub fn id(&self) -> VEventQueueId {
        self.object.id()
    }

    /// Reads as many whole events as fit into `buf` and returns a decoder over them
    /// (empty when the queue is). Entries are never split: the read stops before the
    /// first one that does not fit, which stays queued for the next read.
    ///
    /// `buf` goes to the kernel unchecked, so its size rules are the kernel's (Linux
    /// 7.3, `iommufd_veventq_fops_read`); a refusal is
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) (EINVAL):
    /// - shorter than a header (`size_of::<IommufdVeventHeader>()`, 8 bytes):
    ///   refused, even when the queue is empty;
    /// - at least a header and the queue empty: no events;
    /// - the next queued item is a record that does not fit whole: refused when it
    ///   would be the first of this read, else the read ends before it;
    /// - a lost-events marker ([`VEventEntry::Lost`]) is a header alone: 8 bytes take it.
    ///
    /// A `buf` of at least a header and one `F::VEvent` is never refused for its
    /// size. The crate does not check the size itself: the kernel answers in one
    /// syscall, and a pre-check could only repeat its rules or refuse reads it takes.
    pub fn read<'a>(&self, buf: &'a mut [u8]) -> Result<VEventEntries<'a, F>> {
        let n = rustix::io::read(&self.fd, &mut *buf)
            .map_err(|e| crate::Error::kernel(crate::Op::QueueRead, e))?;
        Ok(VEventEntries::new(&buf[..n]))
    }
}

impl<F: Family> AsFd for VEventQueue<F> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// One item read from a vEVENTQ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VEventEntry<R> {
    /// An event record and its sequence number.
    Record {
        /// The kernel's sequence number (wraps at `i32::MAX`); a gap of `d` from the
        /// previous one means `d - 1` events were lost.
        sequence: u32,
        /// The driver's record.
        record: R,
    },
    /// The queue overflowed: events were lost before this point.
    Lost {
        /// The sequence number the kernel gave the overflow marker.
        sequence: u32,
    },
}

/// Decodes the bytes of one vEVENTQ read into [`VEventEntry`]s, without allocating.
pub struct VEventEntries<'a, F: Family> {
    bytes: &'a [u8],
    family: core::marker::PhantomData<F>,
}

// By hand: a derive would require `F: Debug` (F is only a marker here).
impl<F: Family> core::fmt::Debug for VEventEntries<'_, F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VEventEntries")
            .field("family", &F::NAME)
            .field("undecoded_bytes", &self.bytes.len())
            .finish()
    }
}

impl<'a, F: Family> VEventEntries<'a, F> {
    /// Decodes `bytes` as read from a vEVENTQ of family `F`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            family: core::marker::PhantomData,
        }
    }
}

impl<F: Family> Iterator for VEventEntries<'_, F> {
    type Item = VEventEntry<F::VEvent>;

    fn next(&mut self) -> Option<Self::Item> {
        let (header, rest) = IommufdVeventHeader::read_from_prefix(self.bytes).ok()?;
        if VeventFlags::from_bits_retain(header.flags).contains(VeventFlags::LOST_EVENTS) {
            self.bytes = rest;
            return Some(VEventEntry::Lost {
                sequence: header.sequence,
            });
        }
        // A truncated record ends the stream (the kernel never writes one).
        let (record, rest) = F::VEvent::read_from_prefix(rest).ok()?;
        self.bytes = rest;
        Some(VEventEntry::Record {
            sequence: header.sequence,
            record,
        })
    }
}
