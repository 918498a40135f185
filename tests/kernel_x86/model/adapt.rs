//! The API points that the fixes in flight on main change, one function each, so
//! switching to the new API is one line per function.

use iommufd::arch::Selftest;
use iommufd::states::{HwQueue, VIommuAllocated};
use iommufd::{IommuFd, Result};

/// A vIOMMU's queue 0.
pub fn first_queue(
    viommu: &VIommuAllocated<Selftest>,
    ipa: u64,
    length: u64,
) -> Result<HwQueue<Selftest>> {
    viommu.alloc_hw_queue(ipa, length)
}

/// The queue after `prev`, which it keeps alive. `None` when the API cannot
/// express it: before the chain fix, making a next queue takes a vIOMMU handle.
pub fn next_queue(
    prev: &HwQueue<Selftest>,
    viommu: Option<&VIommuAllocated<Selftest>>,
    ipa: u64,
    length: u64,
) -> Option<Result<HwQueue<Selftest>>> {
    let _ = viommu;
    Some(prev.alloc_next(ipa, length))
}

/// Tells the crate that something holding one of its objects went through means
/// it cannot see (a raw `IommuFd::destroy`). Before the EBUSY-retry fix there was
/// nothing to tell.
pub fn released_outside(fd: &IommuFd) {
    fd.retry_pending_destroys();
}
