// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Intel VT-d: nested HWPTs on the nest parent itself, no vIOMMU object.
//!
//! Linux 7.3's intel driver has no vIOMMU type: a guest's first-stage table
//! ([`VtdStage1`], `IOMMU_HWPT_DATA_VTD_S1`) becomes a nested HWPT whose parent is
//! the stage-2 HWPT, and the guest's IOTLB invalidations go to that nested HWPT
//! ([`VtdInvalidation`], `IOMMU_HWPT_INVALIDATE_DATA_VTD_S1`). The lifecycle for it
//! is [`S2Allocated::attach`](crate::states::S2Allocated::attach) ->
//! [`S2Attached`](crate::states::S2Attached) -> [`S2Nested`](crate::states::S2Nested);
//! [`Vtd`] is not a [`Family`](super::Family), so the vIOMMU path does not compile
//! for it. [`VtdCaps`] decodes `GET_HW_INFO` and checks a virtual VT-d against the
//! physical one.
//!
//! What is proven where: the parsers' tables are derived from the 7.3 source
//! (`drivers/iommu/intel/nested.c`, `pasid.c`); the same lifecycle runs against the
//! kernel's mock IOMMU, whose nested-on-parent path is this shape. No rig has a VT-d
//! that nests (QEMU's emulated VT-d does not advertise ECAP.NEST to its guest).

mod caps;
mod invalidation;
mod stage1;

pub use caps::VtdCaps;
pub use invalidation::{VTD_PAGE_SIZE, VtdInvalidation, VtdInvalidationError};
pub use stage1::{AddressWidth, VtdStage1, VtdStage1Error};

use super::{ParentNesting, sealed};
use crate::uapi::IommuHwInfoVtd;

/// The Intel VT-d family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Vtd;

impl sealed::Sealed for Vtd {}

impl ParentNesting for Vtd {
    const NAME: &'static str = "Intel VT-d";
    type Stage1 = VtdStage1;
    type Invalidation = VtdInvalidation;
    type HwInfo = IommuHwInfoVtd;
}
