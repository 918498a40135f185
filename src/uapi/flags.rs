// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The uAPI's flag words as bitflags, with a table of their C names for the header
//! check.

use bitflags::bitflags;

bitflags! {
    /// `enum iommufd_ioas_map_flags`, for MAP, MAP_FILE and COPY.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct IoasMapFlags: u32 {
        /// Map at the IOVA given, not one the kernel picks.
        const FIXED_IOVA = 1 << 0;
        /// The device may write.
        const WRITEABLE = 1 << 1;
        /// The device may read.
        const READABLE = 1 << 2;
    }
}

bitflags! {
    /// `enum iommufd_hwpt_alloc_flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct HwptAllocFlags: u32 {
        /// The HWPT can be a stage-2 parent of nested HWPTs.
        const NEST_PARENT = 1 << 0;
        /// Dirty tracking must be possible.
        const DIRTY_TRACKING = 1 << 1;
        /// `fault_id` names a fault queue.
        const FAULT_ID_VALID = 1 << 2;
        /// The HWPT may be attached to PASIDs.
        const PASID = 1 << 3;
    }
}

bitflags! {
    /// `enum iommu_hwpt_vtd_s1_flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct VtdS1Flags: u64 {
        /// Supervisor requests.
        const SRE = 1 << 0;
        /// Extended access flag.
        const EAFE = 1 << 1;
        /// Write protect.
        const WPE = 1 << 2;
    }
}

bitflags! {
    /// `enum iommu_hw_info_vtd_flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct HwInfoVtdFlags: u32 {
        /// Erratum 772415 (SPR17).
        const ERRATA_772415_SPR17 = 1 << 0;
    }
}

bitflags! {
    /// `enum iommu_hw_info_arm_smmuv3_flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct HwInfoArmSmmuv3Flags: u32 {
        /// TLBI and CFGI commands must be issued twice.
        const ERRATA_REPEAT_TLBI_CFGI = 1 << 0;
    }
}

bitflags! {
    /// `enum iommufd_hw_capabilities`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct HwCapabilities: u64 {
        /// The IOMMU can track dirty pages.
        const DIRTY_TRACKING = 1 << 0;
        /// The device's PASID capability has Execute Permission.
        const PCI_PASID_EXEC = 1 << 1;
        /// The device's PASID capability has Privileged Mode.
        const PCI_PASID_PRIV = 1 << 2;
        /// ATS cannot be used with this device.
        const PCI_ATS_NOT_SUPPORTED = 1 << 3;
    }
}

bitflags! {
    /// `enum iommufd_hw_info_flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct HwInfoFlags: u32 {
        /// `in_data_type` names the type wanted.
        const INPUT_TYPE = 1 << 0;
    }
}

bitflags! {
    /// `enum iommufd_hwpt_set_dirty_tracking_flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct DirtyTrackingFlags: u32 {
        /// Enable (absent: disable).
        const ENABLE = 1;
    }
}

bitflags! {
    /// `enum iommufd_hwpt_get_dirty_bitmap_flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct DirtyBitmapFlags: u32 {
        /// Read without clearing.
        const NO_CLEAR = 1;
    }
}

bitflags! {
    /// `enum iommu_hwpt_vtd_s1_invalidate_flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct VtdInvalidateFlags: u32 {
        /// Only leaf entries changed.
        const LEAF = 1 << 0;
    }
}

bitflags! {
    /// `enum iommu_hwpt_pgfault_flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct PgfaultFlags: u32 {
        /// `pasid` is valid.
        const PASID_VALID = 1 << 0;
        /// Last fault of its group.
        const LAST_PAGE = 1 << 1;
    }
}

bitflags! {
    /// `enum iommu_hwpt_pgfault_perm`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct PgfaultPerm: u32 {
        /// Read.
        const READ = 1 << 0;
        /// Write.
        const WRITE = 1 << 1;
        /// Execute.
        const EXEC = 1 << 2;
        /// Privileged.
        const PRIV = 1 << 3;
    }
}

bitflags! {
    /// `enum iommu_veventq_flag`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct VeventFlags: u32 {
        /// Events were lost since the last read (the queue overflowed).
        const LOST_EVENTS = 1 << 0;
    }
}

bitflags! {
    /// Flags of `struct vfio_device_bind_iommufd`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct VfioBindFlags: u32 {
        /// `token_uuid_ptr` carries a VF token.
        const TOKEN = 1 << 0;
    }
}

bitflags! {
    /// Flags of `struct vfio_device_attach_iommufd_pt` and
    /// `struct vfio_device_detach_iommufd_pt`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct VfioPasidFlags: u32 {
        /// `pasid` is valid.
        const PASID = 1 << 0;
    }
}

/// Every flag bit, by C name, for the header check.
pub const FLAG_CONSTANTS: &[(&str, u64)] = &[
    (
        "IOMMU_IOAS_MAP_FIXED_IOVA",
        IoasMapFlags::FIXED_IOVA.bits() as u64,
    ),
    (
        "IOMMU_IOAS_MAP_WRITEABLE",
        IoasMapFlags::WRITEABLE.bits() as u64,
    ),
    (
        "IOMMU_IOAS_MAP_READABLE",
        IoasMapFlags::READABLE.bits() as u64,
    ),
    (
        "IOMMU_HWPT_ALLOC_NEST_PARENT",
        HwptAllocFlags::NEST_PARENT.bits() as u64,
    ),
    (
        "IOMMU_HWPT_ALLOC_DIRTY_TRACKING",
        HwptAllocFlags::DIRTY_TRACKING.bits() as u64,
    ),
    (
        "IOMMU_HWPT_FAULT_ID_VALID",
        HwptAllocFlags::FAULT_ID_VALID.bits() as u64,
    ),
    (
        "IOMMU_HWPT_ALLOC_PASID",
        HwptAllocFlags::PASID.bits() as u64,
    ),
    ("IOMMU_VTD_S1_SRE", VtdS1Flags::SRE.bits()),
    ("IOMMU_VTD_S1_EAFE", VtdS1Flags::EAFE.bits()),
    ("IOMMU_VTD_S1_WPE", VtdS1Flags::WPE.bits()),
    (
        "IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17",
        HwInfoVtdFlags::ERRATA_772415_SPR17.bits() as u64,
    ),
    (
        "IOMMU_HW_INFO_ARM_SMMUV3_ERRATA_REPEAT_TLBI_CFGI",
        HwInfoArmSmmuv3Flags::ERRATA_REPEAT_TLBI_CFGI.bits() as u64,
    ),
    (
        "IOMMU_HW_CAP_DIRTY_TRACKING",
        HwCapabilities::DIRTY_TRACKING.bits(),
    ),
    (
        "IOMMU_HW_CAP_PCI_PASID_EXEC",
        HwCapabilities::PCI_PASID_EXEC.bits(),
    ),
    (
        "IOMMU_HW_CAP_PCI_PASID_PRIV",
        HwCapabilities::PCI_PASID_PRIV.bits(),
    ),
    (
        "IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED",
        HwCapabilities::PCI_ATS_NOT_SUPPORTED.bits(),
    ),
    (
        "IOMMU_HW_INFO_FLAG_INPUT_TYPE",
        HwInfoFlags::INPUT_TYPE.bits() as u64,
    ),
    (
        "IOMMU_HWPT_DIRTY_TRACKING_ENABLE",
        DirtyTrackingFlags::ENABLE.bits() as u64,
    ),
    (
        "IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR",
        DirtyBitmapFlags::NO_CLEAR.bits() as u64,
    ),
    (
        "IOMMU_VTD_INV_FLAGS_LEAF",
        VtdInvalidateFlags::LEAF.bits() as u64,
    ),
    (
        "IOMMU_PGFAULT_FLAGS_PASID_VALID",
        PgfaultFlags::PASID_VALID.bits() as u64,
    ),
    (
        "IOMMU_PGFAULT_FLAGS_LAST_PAGE",
        PgfaultFlags::LAST_PAGE.bits() as u64,
    ),
    ("IOMMU_PGFAULT_PERM_READ", PgfaultPerm::READ.bits() as u64),
    ("IOMMU_PGFAULT_PERM_WRITE", PgfaultPerm::WRITE.bits() as u64),
    ("IOMMU_PGFAULT_PERM_EXEC", PgfaultPerm::EXEC.bits() as u64),
    ("IOMMU_PGFAULT_PERM_PRIV", PgfaultPerm::PRIV.bits() as u64),
    (
        "IOMMU_VEVENTQ_FLAG_LOST_EVENTS",
        VeventFlags::LOST_EVENTS.bits() as u64,
    ),
    (
        "VFIO_DEVICE_BIND_FLAG_TOKEN",
        VfioBindFlags::TOKEN.bits() as u64,
    ),
    (
        "VFIO_DEVICE_ATTACH_PASID",
        VfioPasidFlags::PASID.bits() as u64,
    ),
    (
        "VFIO_DEVICE_DETACH_PASID",
        VfioPasidFlags::PASID.bits() as u64,
    ),
];
