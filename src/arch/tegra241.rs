// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! NVIDIA Tegra241 CMDQV (`IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV`): an SMMUv3 with
//! virtual command queues the guest drives directly. Stage-1 configurations and the
//! commands the kernel forwards are SMMUv3's; what differs is the vIOMMU data (the
//! VINTF page to map), hw_info, the HW queues (the guest's VCMDQs, allocated with
//! [`VIommuAllocated::alloc_hw_queue`](crate::states::VIommuAllocated::alloc_hw_queue))
//! and the vEVENT (a logical queue error map). Its guest commands (those the VMM
//! still traps) drain into a batch as SMMUv3's do:
//! [`push_guest_commands`](crate::batch::InvalidationBatch::push_guest_commands).

use super::{DefaultStage1, Family, sealed, smmuv3};
use crate::uapi::{
    IOMMU_HW_QUEUE_TYPE_TEGRA241_CMDQV, IOMMU_VEVENTQ_TYPE_TEGRA241_CMDQV,
    IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV, IommuHwInfoTegra241Cmdqv, IommuVeventTegra241Cmdqv,
    IommuViommuArmSmmuv3Invalidate, IommuViommuTegra241Cmdqv,
};

/// The Tegra241 CMDQV family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tegra241Cmdqv;

impl sealed::Sealed for Tegra241Cmdqv {}

impl Family for Tegra241Cmdqv {
    const NAME: &'static str = "NVIDIA Tegra241 CMDQV";
    const VIOMMU_TYPE: u32 = IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV;
    const VEVENTQ_TYPE: u32 = IOMMU_VEVENTQ_TYPE_TEGRA241_CMDQV;
    const HW_QUEUE_TYPE: Option<u32> = Some(IOMMU_HW_QUEUE_TYPE_TEGRA241_CMDQV);
    const INITIAL: DefaultStage1 = DefaultStage1::Bypass;
    type VIommuData = IommuViommuTegra241Cmdqv;
    type Stage1 = smmuv3::Ste;
    type Invalidation = IommuViommuArmSmmuv3Invalidate;
    type HwInfo = IommuHwInfoTegra241Cmdqv;
    type VEvent = IommuVeventTegra241Cmdqv;

    fn default_stage1(kind: DefaultStage1) -> Option<Self::Stage1> {
        smmuv3::Smmuv3::default_stage1(kind)
    }

    fn mmap_window(data: &IommuViommuTegra241Cmdqv) -> Option<(u64, u64)> {
        (data.out_vintf_mmap_length != 0)
            .then_some((data.out_vintf_mmap_offset, data.out_vintf_mmap_length))
    }
}

/// The logical VCMDQs in error, from a vEVENT: bit n set means queue n stopped.
pub fn errored_queues(event: &IommuVeventTegra241Cmdqv) -> u128 {
    u128::from(event.lvcmdq_err_map[0].get()) | (u128::from(event.lvcmdq_err_map[1].get()) << 64)
}

/// What the hw_info says of the CMDQV: (version, number of VCMDQs, SID slots per VINTF).
pub fn queues(info: &IommuHwInfoTegra241Cmdqv) -> (u8, u32, u32) {
    (
        info.version,
        1u32 << info.log2vcmdqs.min(31),
        1u32 << info.log2vsids.min(31),
    )
}
