// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The kernel's mock IOMMU as a family (`IOMMU_VIOMMU_TYPE_SELFTEST`), for tests.
//!
//! The mock's nested HWPT data is the value its four IOTLB entries start with; it
//! has no notion of abort, so the family offers only a bypass-like default.

use super::{DefaultStage1, Family, NestedInvalidation, Stage1Config, sealed};
use crate::uapi::{
    IOMMU_TEST_IOTLB_DEFAULT, IOMMU_VEVENTQ_TYPE_SELFTEST, IOMMU_VIOMMU_TYPE_SELFTEST,
    IommuHwptInvalidateSelftest, IommuHwptSelftest, IommuTestHwInfo, IommuViommuEventSelftest,
    IommuViommuInvalidateSelftest, IommuViommuSelftest,
};

/// The mock IOMMU family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Selftest;

/// A mock stage-1 configuration: the value the nested HWPT's IOTLB entries start
/// at. The mock's nested allocation reads only `iotlb` and takes any value, so every
/// value is a valid configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MockStage1 {
    /// The initial value of each of the mock's IOTLB entries.
    pub iotlb: u32,
}

/// A mock stage-1 configuration whose IOTLB entries start at `iotlb`.
pub const fn stage1(iotlb: u32) -> MockStage1 {
    MockStage1 { iotlb }
}

impl Stage1Config for MockStage1 {
    type Data = IommuHwptSelftest;

    fn hwpt_data(&self) -> IommuHwptSelftest {
        IommuHwptSelftest {
            iotlb: self.iotlb,
            pagetable_type: 0,
        }
    }
}

impl sealed::Sealed for Selftest {}

impl Family for Selftest {
    const NAME: &'static str = "mock (selftest)";
    const VIOMMU_TYPE: u32 = IOMMU_VIOMMU_TYPE_SELFTEST;
    const VEVENTQ_TYPE: u32 = IOMMU_VEVENTQ_TYPE_SELFTEST;
    const HW_QUEUE_TYPE: Option<u32> = Some(crate::uapi::IOMMU_HW_QUEUE_TYPE_SELFTEST);
    const INITIAL: DefaultStage1 = DefaultStage1::Bypass;
    type VIommuData = IommuViommuSelftest;
    type Stage1 = MockStage1;
    type Invalidation = IommuViommuInvalidateSelftest;
    type HwInfo = IommuTestHwInfo;
    type VEvent = IommuViommuEventSelftest;

    fn default_stage1(kind: DefaultStage1) -> Option<Self::Stage1> {
        match kind {
            DefaultStage1::Bypass => Some(stage1(IOMMU_TEST_IOTLB_DEFAULT)),
            DefaultStage1::Abort => None,
        }
    }

    fn mmap_window(data: &IommuViommuSelftest) -> Option<(u64, u64)> {
        (data.out_mmap_length != 0).then_some((data.out_mmap_offset, data.out_mmap_length))
    }
}

impl NestedInvalidation for Selftest {
    type HwptInvalidation = IommuHwptInvalidateSelftest;
}

impl super::ParentNesting for Selftest {
    const NAME: &'static str = "mock (selftest), nested on the parent";
    type Stage1 = MockStage1;
    type Invalidation = IommuHwptInvalidateSelftest;
    type HwInfo = IommuTestHwInfo;
}
