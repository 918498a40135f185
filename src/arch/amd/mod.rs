// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! AMD IOMMU: what Linux 7.3 offers of it, as payloads a VMM can check today.
//!
//! `GET_HW_INFO` reports the Extended Feature Registers ([`AmdCaps`] decodes them
//! and checks a virtual AMD IOMMU against the physical one), and the driver has a
//! nested-domain allocator that takes a guest Device Table Entry
//! ([`AmdGuestDte`], `IOMMU_HWPT_DATA_AMD_GUEST`), checked by its
//! `validate_gdte_nested`. In 7.3 that allocator is not reachable from user space
//! yet: the uAPI has no AMD vIOMMU type (the driver's vIOMMU takes any type number)
//! and its vIOMMU has no nested allocation, so `IOMMU_HWPT_ALLOC` of AMD guest data
//! fails (EOPNOTSUPP), and there is no AMD invalidation entry. The crate therefore
//! has no AMD [`Family`](super::Family) yet: the parsers below are ready for the
//! kernel release that wires it, and are tested against tables taken from the 7.3
//! source, not against hardware.

mod caps;
mod dte;

pub use caps::AmdCaps;
pub use dte::{AmdGuestDte, AmdGuestDteError, GuestPagingLevels};
