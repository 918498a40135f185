// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`VtdInvalidation`]: one stage-1 IOTLB invalidation for a VT-d nested HWPT,
//! checked as Linux 7.3's `intel_nested_cache_invalidate_user` checks each entry.
//!
//! The driver walks the array in order and stops at the first entry it refuses:
//! flags other than `IOMMU_VTD_INV_FLAGS_LEAF` or a non-zero `__reserved` are
//! EOPNOTSUPP; an address that is not 4 KiB aligned, or "all pages"
//! (`npages == u64::MAX`) from an address other than 0, is EINVAL. It writes back
//! how many entries it handled, which the crate reports as
//! [`Error::Invalidation`](crate::Error::Invalidation)'s `refused` index. A
//! `VtdInvalidation` is one the driver handles, so only a kernel-side failure can
//! stop an array of them.

use crate::payload::InvalidationEntry;
use crate::uapi::{
    IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, IommuHwptVtdS1Invalidate, VtdInvalidateFlags,
};
use rustix::io::Errno;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// The VT-d page size invalidations count in.
pub const VTD_PAGE_SIZE: u64 = 4096;

/// Why the driver would refuse an invalidation entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VtdInvalidationError {
    /// Fewer bytes than `struct iommu_hwpt_vtd_s1_invalidate` (24).
    #[error("iommu_hwpt_vtd_s1_invalidate is 24 bytes, got {0}")]
    Length(usize),
    /// Flag bits other than `IOMMU_VTD_INV_FLAGS_LEAF` (EOPNOTSUPP).
    #[error("flags {0:#x} set bits other than IOMMU_VTD_INV_FLAGS_LEAF")]
    Flags(u32),
    /// A non-zero `__reserved` (EOPNOTSUPP).
    #[error("__reserved is {0:#x}, not 0")]
    Reserved(u32),
    /// An address that is not 4 KiB aligned (EINVAL).
    #[error("address {0:#x} is not 4 KiB aligned")]
    Unaligned(u64),
    /// All pages (`npages == u64::MAX`) from an address other than 0 (EINVAL).
    #[error("npages u64::MAX (all) with address {0:#x}, not 0")]
    AllFromNonZero(u64),
}

impl VtdInvalidationError {
    /// What the kernel answers for the entry.
    pub fn errno(&self) -> Errno {
        match self {
            VtdInvalidationError::Flags(_) | VtdInvalidationError::Reserved(_) => Errno::OPNOTSUPP,
            VtdInvalidationError::Length(_)
            | VtdInvalidationError::Unaligned(_)
            | VtdInvalidationError::AllFromNonZero(_) => Errno::INVAL,
        }
    }
}

/// One stage-1 invalidation the driver accepts: the wire struct, made only by
/// these constructors, so an array of them goes to the kernel as it is.
///
/// ```
/// use iommufd::arch::vtd::{VtdInvalidation, VtdInvalidationError};
/// let one = VtdInvalidation::range(0x7000, 2, true)?;
/// assert_eq!(one.entry().npages, 2);
/// assert_eq!(
///     VtdInvalidation::range(0x7001, 1, false),
///     Err(VtdInvalidationError::Unaligned(0x7001))
/// );
/// let _everything = VtdInvalidation::all();
/// # Ok::<(), VtdInvalidationError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, IntoBytes, Immutable, KnownLayout)]
#[repr(transparent)]
pub struct VtdInvalidation(IommuHwptVtdS1Invalidate);

impl VtdInvalidation {
    /// `npages` 4 KiB pages from `addr`; `leaf` when only leaf entries changed
    /// (the hardware may keep its cached upper levels).
    pub fn range(addr: u64, npages: u64, leaf: bool) -> Result<Self, VtdInvalidationError> {
        let flags = if leaf {
            VtdInvalidateFlags::LEAF.bits()
        } else {
            0
        };
        Self::check(IommuHwptVtdS1Invalidate {
            addr,
            npages,
            flags,
            __reserved: 0,
        })
    }

    /// Every page of the nested HWPT.
    pub const fn all() -> Self {
        Self(IommuHwptVtdS1Invalidate {
            addr: 0,
            npages: u64::MAX,
            flags: 0,
            __reserved: 0,
        })
    }

    /// Parses an untrusted entry (the first 24 bytes of `bytes`), refusing what the
    /// driver refuses.
    pub fn parse(bytes: &[u8]) -> Result<Self, VtdInvalidationError> {
        let (entry, _) = IommuHwptVtdS1Invalidate::read_from_prefix(bytes)
            .map_err(|_| VtdInvalidationError::Length(bytes.len()))?;
        Self::check(entry)
    }

    /// Checks a wire entry, in the driver's order.
    pub fn check(entry: IommuHwptVtdS1Invalidate) -> Result<Self, VtdInvalidationError> {
        if entry.flags & !VtdInvalidateFlags::LEAF.bits() != 0 {
            return Err(VtdInvalidationError::Flags(entry.flags));
        }
        if entry.__reserved != 0 {
            return Err(VtdInvalidationError::Reserved(entry.__reserved));
        }
        if entry.addr % VTD_PAGE_SIZE != 0 {
            return Err(VtdInvalidationError::Unaligned(entry.addr));
        }
        if entry.npages == u64::MAX && entry.addr != 0 {
            return Err(VtdInvalidationError::AllFromNonZero(entry.addr));
        }
        Ok(Self(entry))
    }

    /// The wire entry.
    pub fn entry(&self) -> &IommuHwptVtdS1Invalidate {
        &self.0
    }
}

impl InvalidationEntry for VtdInvalidation {
    const DATA_TYPE: u32 = IOMMU_HWPT_INVALIDATE_DATA_VTD_S1;
}
