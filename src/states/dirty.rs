// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`DirtyTracker`]: the pages DMA wrote in a stage 2, for live migration.
//!
//! The stage 2 maps guest physical addresses, so its dirty bits are the guest RAM
//! that devices wrote, whatever the guest's stage-1 tables say: a VMM migrating a
//! guest with a vIOMMU reads them exactly as without one. The loop: [`start`]
//! before the first RAM copy; each round, [`read_and_clear`] the bitmap of every
//! RAM range (one bit per page, in a buffer the VMM keeps) and copy the pages whose
//! bit is set along with the CPU's dirty pages; at the last round, with the vCPUs
//! and devices stopped, read once more, then [`stop`]. The bitmap ORs into the
//! buffer: bits already set stay set, so one buffer can gather the IOMMU's and
//! KVM's logs.
//!
//! [`start`]: DirtyTracker::start
//! [`stop`]: DirtyTracker::stop
//! [`read_and_clear`]: DirtyTracker::read_and_clear

use super::S2Allocated;
use crate::error::Result;
use crate::ids::Iova;

/// Dirty tracking of one stage 2 allocated with it. A handle sharing the stage 2:
/// clone it freely (the stage 2 goes once the last handle does).
#[derive(Debug, Clone)]
pub struct DirtyTracker {
    s2: S2Allocated,
}

impl DirtyTracker {
    pub(super) fn new(s2: S2Allocated) -> Self {
        Self { s2 }
    }

    /// The stage 2 tracked.
    pub fn s2(&self) -> &S2Allocated {
        &self.s2
    }

    /// Starts recording which pages DMA writes.
    pub fn start(&self) -> Result<()> {
        self.s2.iommufd().set_dirty_tracking(self.s2.id(), true)
    }

    /// Stops recording. Bits recorded so far stay readable.
    pub fn stop(&self) -> Result<()> {
        self.s2.iommufd().set_dirty_tracking(self.s2.id(), false)
    }

    /// ORs into `bitmap` which `page_size` pages of `iova .. iova + length` were
    /// written (bit n of the bitmap, as `u64` words in little-endian bit order: page
    /// n) and clears them in the IOMMU, so the next read reports only later writes.
    /// No allocation. Refused before any syscall, naming the argument: a
    /// `page_size` that is not a power of two, an `iova` or `length` not aligned to
    /// it, a zero `length`, a `bitmap` with fewer than `length / page_size` bits.
    pub fn read_and_clear(
        &self,
        iova: Iova,
        length: u64,
        page_size: u64,
        bitmap: &mut [u64],
    ) -> Result<()> {
        self.s2
            .iommufd()
            .dirty_bitmap(self.s2.id(), iova, length, page_size, bitmap, false)
    }

    /// [`read_and_clear`](Self::read_and_clear) without clearing
    /// (`IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR`): the bits stay set in the IOMMU.
    pub fn read(&self, iova: Iova, length: u64, page_size: u64, bitmap: &mut [u64]) -> Result<()> {
        self.s2
            .iommufd()
            .dirty_bitmap(self.s2.id(), iova, length, page_size, bitmap, true)
    }
}
