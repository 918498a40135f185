// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Mirrors of Linux 7.3's `include/uapi/linux/iommufd.h` and the VFIO device cdev
//! structs a VMM needs with it.
//!
//! Every struct is `#[repr(C)]` with its reserved fields spelled out, derives
//! zerocopy's `FromBytes`, `IntoBytes`, `Immutable` and `KnownLayout`, and has its size
//! and field offsets pinned at compile time. `rig/header-check.sh` compares every
//! struct, offset and constant here with what the C compiler reads from the kernel's
//! header. The typed API never needs this module; it is public for VMMs that want a
//! raw struct.

pub mod layout;

mod constants;
mod flags;
// The modules of `wire_struct!`s: that macro derives Debug on every struct, but
// zerocopy's KnownLayout derive, expanded inside a macro, adds public doc-hidden
// helper types without Debug that the lint then flags (google/zerocopy#3567).
#[allow(missing_debug_implementations)]
mod hwpt;
#[allow(missing_debug_implementations)]
mod ioas;
#[cfg(feature = "mock")]
#[allow(missing_debug_implementations)]
mod selftest;
#[allow(missing_debug_implementations)]
mod vendor;
#[allow(missing_debug_implementations)]
mod vfio;
#[allow(missing_debug_implementations)]
mod viommu;

pub use constants::*;
pub use flags::*;
pub use hwpt::*;
pub use ioas::*;
#[cfg(feature = "mock")]
#[cfg_attr(docsrs, doc(cfg(feature = "mock")))]
pub use selftest::*;
pub use vendor::*;
pub use vfio::*;
pub use viommu::*;

use layout::{CStruct, StructLayout};

/// The layout record of every wire struct, for the header check.
pub const STRUCTS: &[StructLayout] = &[
    IommuDestroy::LAYOUT,
    IommuIoasAlloc::LAYOUT,
    IommuIovaRange::LAYOUT,
    IommuIoasIovaRanges::LAYOUT,
    IommuIoasAllowIovas::LAYOUT,
    IommuIoasMap::LAYOUT,
    IommuIoasNoiommuGetPa::LAYOUT,
    IommuIoasMapFile::LAYOUT,
    IommuIoasCopy::LAYOUT,
    IommuIoasUnmap::LAYOUT,
    IommuOption::LAYOUT,
    IommuVfioIoas::LAYOUT,
    IommuIoasChangeProcess::LAYOUT,
    IommuHwptAlloc::LAYOUT,
    IommuHwInfo::LAYOUT,
    IommuHwptSetDirtyTracking::LAYOUT,
    IommuHwptGetDirtyBitmap::LAYOUT,
    IommuHwptInvalidate::LAYOUT,
    IommuHwptPgfault::LAYOUT,
    IommuHwptPageResponse::LAYOUT,
    IommuFaultAlloc::LAYOUT,
    IommuViommuAlloc::LAYOUT,
    IommuVdeviceAlloc::LAYOUT,
    IommufdVeventHeader::LAYOUT,
    IommuVeventqAlloc::LAYOUT,
    IommuHwQueueAlloc::LAYOUT,
    IommuHwptVtdS1::LAYOUT,
    IommuHwptArmSmmuv3::LAYOUT,
    IommuHwptAmdGuest::LAYOUT,
    IommuHwInfoVtd::LAYOUT,
    IommuHwInfoArmSmmuv3::LAYOUT,
    IommuHwInfoTegra241Cmdqv::LAYOUT,
    IommuHwInfoAmd::LAYOUT,
    IommuHwptVtdS1Invalidate::LAYOUT,
    IommuViommuArmSmmuv3Invalidate::LAYOUT,
    IommuViommuTegra241Cmdqv::LAYOUT,
    IommuVeventArmSmmuv3::LAYOUT,
    IommuVeventTegra241Cmdqv::LAYOUT,
    VfioDeviceBindIommufd::LAYOUT,
    VfioDeviceAttachIommufdPt::LAYOUT,
    VfioDeviceDetachIommufdPt::LAYOUT,
];

/// The layout record of every mock (selftest) wire struct, for the header check.
#[cfg(feature = "mock")]
#[cfg_attr(docsrs, doc(cfg(feature = "mock")))]
pub const MOCK_STRUCTS: &[StructLayout] = &[
    IommuTestCmd::LAYOUT,
    IommuTestCmdAddReserved::LAYOUT,
    IommuTestCmdMockDomain::LAYOUT,
    IommuTestCmdMockDomainFlags::LAYOUT,
    IommuTestCmdMockDomainReplace::LAYOUT,
    IommuTestCmdCheckMap::LAYOUT,
    IommuTestCmdCheckRefs::LAYOUT,
    IommuTestCmdMemoryLimit::LAYOUT,
    IommuTestCmdDirty::LAYOUT,
    IommuTestCmdCheckIotlb::LAYOUT,
    IommuTestCmdTriggerIopf::LAYOUT,
    IommuTestCmdCheckDevCache::LAYOUT,
    IommuTestCmdTriggerVevent::LAYOUT,
    IommuTestCmdPasid::LAYOUT,
    IommuTestCmdDmabufGet::LAYOUT,
    IommuTestCmdDmabufRevoke::LAYOUT,
    IommuTestHwInfo::LAYOUT,
    IommuHwptSelftest::LAYOUT,
    IommuHwptInvalidateSelftest::LAYOUT,
    IommuViommuSelftest::LAYOUT,
    IommuViommuInvalidateSelftest::LAYOUT,
    IommuViommuEventSelftest::LAYOUT,
];
