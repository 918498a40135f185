// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! IOMMU families: what each driver's vIOMMU speaks.
//!
//! A [`Family`] ties together the payload types of one kind of virtual IOMMU: the
//! vIOMMU type and its driver data, the stage-1 configuration a guest hands over
//! (an SMMUv3 Stream Table Entry, say), the invalidation entry, hw_info and the
//! vEVENT record. The lifecycle types ([`crate::states`]) are generic over it, so a
//! vSTE can never reach a vIOMMU of another kind.
//!
//! Families:
//! - [`Smmuv3`]: ARM SMMUv3 (`IOMMU_VIOMMU_TYPE_ARM_SMMUV3`).
//! - [`Tegra241Cmdqv`]: NVIDIA Tegra241 CMDQV, SMMUv3 with guest-owned command queues.
//! - `Selftest` (feature `mock`): the kernel's mock IOMMU.
//!
//! [`ParentNesting`] families nest without a vIOMMU, on the stage-2 HWPT itself:
//! - [`Vtd`]: Intel VT-d (no vIOMMU type in Linux 7.3).
//! - `Selftest` too: the mock has both paths.
//!
//! [`amd`] carries the AMD payloads (hw_info and the guest DTE); Linux 7.3 has no
//! AMD vIOMMU type and no nested allocation for it yet, so it is neither kind.

pub mod amd;
mod mismatch;
#[cfg(feature = "mock")]
#[cfg_attr(docsrs, doc(cfg(feature = "mock")))]
pub mod selftest;
pub mod smmuv3;
pub mod tegra241;
pub mod vtd;

pub use mismatch::Mismatch;
#[cfg(feature = "mock")]
#[cfg_attr(docsrs, doc(cfg(feature = "mock")))]
pub use selftest::Selftest;
pub use smmuv3::Smmuv3;
pub use tegra241::Tegra241Cmdqv;
pub use vtd::Vtd;

use crate::payload::{HwInfoData, HwptData, InvalidationEntry, VEventRecord};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// A stage-1 configuration every device of a vIOMMU can share, made once per vIOMMU
/// when the family has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DefaultStage1 {
    /// DMA passes with stage 2 only (guest physical addresses): where a device sits
    /// before the guest enables translation.
    Bypass,
    /// All DMA is refused.
    Abort,
}

impl DefaultStage1 {
    /// Both kinds, in a fixed order (the index of the per-vIOMMU table).
    pub const ALL: [DefaultStage1; 2] = [DefaultStage1::Bypass, DefaultStage1::Abort];

    pub(crate) const fn index(self) -> usize {
        match self {
            DefaultStage1::Bypass => 0,
            DefaultStage1::Abort => 1,
        }
    }
}

/// One kind of virtual IOMMU and its payloads. Sealed: the crate implements it for
/// the families it knows.
pub trait Family: sealed::Sealed + Send + Sync + 'static {
    /// A name for messages.
    const NAME: &'static str;
    /// The `IOMMU_VIOMMU_TYPE_*` value.
    const VIOMMU_TYPE: u32;
    /// The `IOMMU_VEVENTQ_TYPE_*` value of its event queue.
    const VEVENTQ_TYPE: u32;
    /// The `IOMMU_HW_QUEUE_TYPE_*` of the queues the guest hands to hardware, if
    /// the family has them.
    const HW_QUEUE_TYPE: Option<u32> = None;
    /// Where [`VIommuAllocated::bind`](crate::states::VIommuAllocated::bind) attaches a
    /// device first.
    const INITIAL: DefaultStage1;
    /// Driver data of `IOMMU_VIOMMU_ALLOC` (in and out); `()` when there is none.
    type VIommuData: FromBytes
        + IntoBytes
        + KnownLayout
        + Immutable
        + Default
        + Send
        + Sync
        + core::fmt::Debug;
    /// The guest's stage-1 configuration, parsed and checked: what
    /// [`install`](crate::states::VDeviceBound::install) and
    /// [`DeviceState::apply`](crate::states::DeviceState::apply) take, so the
    /// lifecycle never sends guest bytes nobody checked (for SMMUv3, an
    /// [`Ste`](smmuv3::Ste)). Raw nested HWPT data goes through
    /// [`HwptAlloc::nested`](crate::HwptAlloc::nested) at the id level.
    type Stage1: Stage1Config;
    /// One invalidation request, sent to the vIOMMU.
    type Invalidation: InvalidationEntry + zerocopy::FromZeros + Copy;
    /// The device's hw_info payload.
    type HwInfo: HwInfoData;
    /// One vEVENT record.
    type VEvent: VEventRecord;

    /// The stage-1 configuration for a default, or `None` when the family has no such
    /// default.
    fn default_stage1(kind: DefaultStage1) -> Option<Self::Stage1>;

    /// The window the kernel returned in the vIOMMU's driver data to `mmap` from
    /// the iommufd, as `(offset, length)`: Tegra241 CMDQV's VINTF page0, the mock's
    /// two pages. `None` when the family (or this vIOMMU) has none.
    fn mmap_window(data: &Self::VIommuData) -> Option<(u64, u64)> {
        let _ = data;
        None
    }
}

/// A guest stage-1 configuration the crate has checked, and the nested HWPT data
/// it becomes. Implemented by the families' parsed types ([`smmuv3::Ste`], the
/// mock's `MockStage1`); only their constructors and parsers make values, each
/// refusing what the family's driver refuses.
pub trait Stage1Config: Clone + PartialEq + core::fmt::Debug + Send + Sync + 'static {
    /// The nested HWPT data type the kernel takes.
    type Data: HwptData;

    /// The nested HWPT data for `IOMMU_HWPT_ALLOC`.
    fn hwpt_data(&self) -> Self::Data;
}

/// A vIOMMU family whose nested HWPTs also take invalidations themselves
/// (`IOMMU_HWPT_INVALIDATE` naming the nested HWPT): the kernel's mock, which has
/// both paths. (Intel VT-d invalidates on its nested HWPTs too, but has no vIOMMU:
/// see [`ParentNesting`].) SMMUv3 invalidates through its
/// vIOMMU only, so it has no such entry and
/// [`Nested::invalidate`](crate::states::Nested::invalidate) does not exist for it.
pub trait NestedInvalidation: Family {
    /// One invalidation request, sent to a nested HWPT.
    type HwptInvalidation: InvalidationEntry + Copy;
}

/// A family whose nested HWPTs hang off the nest-parent (stage-2) HWPT itself, with
/// no vIOMMU between: Intel VT-d in Linux 7.3, and the kernel's mock. Its guest
/// invalidations go to each nested HWPT. Sealed.
///
/// The lifecycle for it: [`S2Allocated::attach`](crate::states::S2Allocated::attach)
/// gives an [`S2Attached`](crate::states::S2Attached) device (stage 2 only: the
/// guest has translation off for it), whose
/// [`install`](crate::states::S2Attached::install) gives an
/// [`S2Nested`](crate::states::S2Nested).
pub trait ParentNesting: sealed::Sealed + Send + Sync + 'static {
    /// A name for messages.
    const NAME: &'static str;
    /// The guest's stage-1 configuration, parsed and checked.
    type Stage1: Stage1Config;
    /// One invalidation request, sent to a nested HWPT.
    type Invalidation: InvalidationEntry + Copy;
    /// The device's hw_info payload.
    type HwInfo: HwInfoData;
}

pub(crate) mod sealed {
    pub trait Sealed {}
}
