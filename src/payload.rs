// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Traits tying a driver payload type to the uAPI type number that announces it.
//!
//! The arch families (`crate::arch`) implement them for their payloads; a VMM can
//! implement them for a driver the crate does not know yet.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Driver data of a nested HWPT (`IOMMU_HWPT_ALLOC` with `data_type`).
pub trait HwptData: IntoBytes + Immutable + Sized {
    /// The `IOMMU_HWPT_DATA_*` value.
    const DATA_TYPE: u32;
    /// The length of the struct's first version (the driver's `min_last` field
    /// end): the least the kernel takes. The whole struct unless it grew.
    const MIN_LEN: usize = size_of::<Self>();
}

/// One entry of an `IOMMU_HWPT_INVALIDATE` array.
pub trait InvalidationEntry: IntoBytes + Immutable {
    /// The invalidation data type.
    const DATA_TYPE: u32;
}

/// A driver's `IOMMU_GET_HW_INFO` payload.
pub trait HwInfoData: FromBytes + IntoBytes + KnownLayout + Immutable {
    /// The `IOMMU_HW_INFO_TYPE_*` value.
    const INFO_TYPE: u32;
}

/// A driver's `IOMMU_VIOMMU_ALLOC` data (in and out).
pub trait VIommuData: FromBytes + IntoBytes + KnownLayout + Immutable {
    /// The `IOMMU_VIOMMU_TYPE_*` value.
    const VIOMMU_TYPE: u32;
}

/// A driver's vEVENT record, as read after each header from a vEVENTQ.
pub trait VEventRecord: FromBytes + KnownLayout + Immutable {
    /// The `IOMMU_VEVENTQ_TYPE_*` value.
    const VEVENTQ_TYPE: u32;
}

macro_rules! payload {
    ($trait:ident :: $c:ident for $($ty:ty = $v:expr),* $(,)?) => {$(
        impl $trait for $ty { const $c: u32 = $v; }
    )*};
}

use crate::uapi;
payload!(HwptData::DATA_TYPE for
    uapi::IommuHwptVtdS1 = uapi::IOMMU_HWPT_DATA_VTD_S1,
    uapi::IommuHwptArmSmmuv3 = uapi::IOMMU_HWPT_DATA_ARM_SMMUV3,
    uapi::IommuHwptAmdGuest = uapi::IOMMU_HWPT_DATA_AMD_GUEST,
);
payload!(InvalidationEntry::DATA_TYPE for
    uapi::IommuHwptVtdS1Invalidate = uapi::IOMMU_HWPT_INVALIDATE_DATA_VTD_S1,
    uapi::IommuViommuArmSmmuv3Invalidate = uapi::IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3,
);
payload!(HwInfoData::INFO_TYPE for
    uapi::IommuHwInfoVtd = uapi::IOMMU_HW_INFO_TYPE_INTEL_VTD,
    uapi::IommuHwInfoArmSmmuv3 = uapi::IOMMU_HW_INFO_TYPE_ARM_SMMUV3,
    uapi::IommuHwInfoTegra241Cmdqv = uapi::IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV,
    uapi::IommuHwInfoAmd = uapi::IOMMU_HW_INFO_TYPE_AMD,
);
payload!(VIommuData::VIOMMU_TYPE for
    uapi::IommuViommuTegra241Cmdqv = uapi::IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV,
);
payload!(VEventRecord::VEVENTQ_TYPE for
    uapi::IommuVeventArmSmmuv3 = uapi::IOMMU_VEVENTQ_TYPE_ARM_SMMUV3,
    uapi::IommuVeventTegra241Cmdqv = uapi::IOMMU_VEVENTQ_TYPE_TEGRA241_CMDQV,
);
/// The mock's nested data grew `pagetable_type` after Linux 6.12; its first
/// version is `iotlb` alone.
#[cfg(feature = "mock")]
impl HwptData for uapi::IommuHwptSelftest {
    const DATA_TYPE: u32 = uapi::IOMMU_HWPT_DATA_SELFTEST;
    const MIN_LEN: usize = 4;
}
#[cfg(feature = "mock")]
payload!(InvalidationEntry::DATA_TYPE for
    uapi::IommuHwptInvalidateSelftest = uapi::IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
    uapi::IommuViommuInvalidateSelftest = uapi::IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
);
#[cfg(feature = "mock")]
payload!(HwInfoData::INFO_TYPE for uapi::IommuTestHwInfo = uapi::IOMMU_HW_INFO_TYPE_SELFTEST);
#[cfg(feature = "mock")]
payload!(VIommuData::VIOMMU_TYPE for uapi::IommuViommuSelftest = uapi::IOMMU_VIOMMU_TYPE_SELFTEST);
#[cfg(feature = "mock")]
payload!(VEventRecord::VEVENTQ_TYPE for uapi::IommuViommuEventSelftest = uapi::IOMMU_VEVENTQ_TYPE_SELFTEST);
