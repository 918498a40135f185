// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`Feature`]: the iommufd commands younger than the oldest kernels VMMs run, the
//! first Linux release that has each, and what the crate says on a kernel without.
//!
//! A kernel without a command answers it with ENOTTY; the crate reports that as
//! [`Error::KernelLacks`](crate::Error::KernelLacks), naming the feature and the
//! release that added it, so "this kernel is too old" is never mistaken for a bad
//! argument. [`IommuFd::supports`](crate::IommuFd::supports) asks ahead of time (one
//! refused probe per feature, cached per iommufd).
//!
//! What Linux 6.12 (Debian trixie's kernel) users get: every IOAS command, paging and
//! nested HWPTs, `HWPT_INVALIDATE`, dirty tracking, `GET_HW_INFO` (without the
//! input type: the crate asks again without it and checks the type the kernel
//! reports) and fault queues; no vIOMMU, vDEVICE, vEVENTQ, HW queue, `IOAS_MAP_FILE`
//! or `IOAS_CHANGE_PROCESS`, so neither the vIOMMU path of the typestates nor
//! SMMUv3 nesting. Linux 7.2 and 7.3 have everything here.

use crate::error::Op;

/// An iommufd command some supported kernels lack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Feature {
    /// `IOMMU_FAULT_QUEUE_ALLOC`: I/O page fault queues.
    FaultQueue,
    /// `IOMMU_IOAS_MAP_FILE`: mapping a memfd's pages into an IOAS.
    IoasMapFile,
    /// `IOMMU_IOAS_CHANGE_PROCESS`: moving pinned-page accounting to a new process.
    IoasChangeProcess,
    /// `IOMMU_VIOMMU_ALLOC`: vIOMMUs (and with them nested HWPTs on a vIOMMU).
    VIommu,
    /// `IOMMU_VDEVICE_ALLOC`: vDEVICEs.
    VDevice,
    /// `IOMMU_VEVENTQ_ALLOC`: vIOMMU event queues.
    VEventQueue,
    /// `IOMMU_HW_QUEUE_ALLOC`: HW queues handed to the hardware.
    HwQueue,
}

impl Feature {
    /// Every feature, in the order of the release that added it.
    pub const ALL: [Feature; 7] = [
        Feature::FaultQueue,
        Feature::IoasMapFile,
        Feature::IoasChangeProcess,
        Feature::VIommu,
        Feature::VDevice,
        Feature::VEventQueue,
        Feature::HwQueue,
    ];

    /// A name for messages.
    pub const fn name(self) -> &'static str {
        match self {
            Feature::FaultQueue => "fault queues (IOMMU_FAULT_QUEUE_ALLOC)",
            Feature::IoasMapFile => "file mappings (IOMMU_IOAS_MAP_FILE)",
            Feature::IoasChangeProcess => "IOMMU_IOAS_CHANGE_PROCESS",
            Feature::VIommu => "vIOMMUs (IOMMU_VIOMMU_ALLOC)",
            Feature::VDevice => "vDEVICEs (IOMMU_VDEVICE_ALLOC)",
            Feature::VEventQueue => "vEVENTQs (IOMMU_VEVENTQ_ALLOC)",
            Feature::HwQueue => "HW queues (IOMMU_HW_QUEUE_ALLOC)",
        }
    }

    /// The first Linux release with it, as (major, minor).
    pub const fn first_linux(self) -> (u8, u8) {
        match self {
            Feature::FaultQueue => (6, 11),
            Feature::IoasMapFile | Feature::IoasChangeProcess => (6, 13),
            Feature::VIommu | Feature::VDevice => (6, 13),
            Feature::VEventQueue => (6, 15),
            Feature::HwQueue => (6, 17),
        }
    }

    /// The command it is.
    pub const fn op(self) -> Op {
        match self {
            Feature::FaultQueue => Op::FaultQueueAlloc,
            Feature::IoasMapFile => Op::IoasMapFile,
            Feature::IoasChangeProcess => Op::IoasChangeProcess,
            Feature::VIommu => Op::VIommuAlloc,
            Feature::VDevice => Op::VDeviceAlloc,
            Feature::VEventQueue => Op::VEventQueueAlloc,
            Feature::HwQueue => Op::HwQueueAlloc,
        }
    }

    /// The feature a command is, when some supported kernels lack it.
    pub const fn of_op(op: Op) -> Option<Feature> {
        Some(match op {
            Op::FaultQueueAlloc => Feature::FaultQueue,
            Op::IoasMapFile => Feature::IoasMapFile,
            Op::IoasChangeProcess => Feature::IoasChangeProcess,
            Op::VIommuAlloc => Feature::VIommu,
            Op::VDeviceAlloc => Feature::VDevice,
            Op::VEventQueueAlloc => Feature::VEventQueue,
            Op::HwQueueAlloc => Feature::HwQueue,
            _ => return None,
        })
    }

    pub(crate) const fn bit(self) -> u32 {
        self as u32
    }
}

impl core::fmt::Display for Feature {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let (major, minor) = self.first_linux();
        write!(f, "{} (Linux {major}.{minor})", self.name())
    }
}
