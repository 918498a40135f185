// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Driver-specific payloads: HWPT data, hw_info, invalidation entries, vIOMMU data and
//! vEVENT records for Intel VT-d, ARM SMMUv3, AMD and NVIDIA Tegra241 CMDQV.
//!
//! `__aligned_le64` words are [`U64`] (little-endian whatever the host) in an 8-byte
//! aligned struct; `__aligned_u64` words are native `u64`.

use super::layout::{pin_layout, wire_struct};
use zerocopy::little_endian::U64;

wire_struct! {
    /// `struct iommu_hwpt_vtd_s1`: an Intel VT-d stage-1 page table.
    #[repr(C, align(8))]
    pub struct IommuHwptVtdS1 = "iommu_hwpt_vtd_s1" {
        /// [`VtdS1Flags`](super::VtdS1Flags) bits.
        pub flags: u64,
        /// Guest physical address of the stage-1 table.
        pub pgtbl_addr: u64,
        /// Input address width of the stage-1 table.
        pub addr_width: u32,
        /// Must be 0.
        pub __reserved: u32,
    }
}
pin_layout!(
    IommuHwptVtdS1,
    size = 24,
    flags = 0,
    pgtbl_addr = 8,
    addr_width = 16,
    __reserved = 20
);

wire_struct! {
    /// `struct iommu_hwpt_arm_smmuv3`: a guest Stream Table Entry (its first two
    /// 64-bit words).
    #[repr(C, align(8))]
    pub struct IommuHwptArmSmmuv3 = "iommu_hwpt_arm_smmuv3" {
        /// The vSTE words, little-endian.
        pub ste: [U64; 2],
    }
}
pin_layout!(IommuHwptArmSmmuv3, size = 16, ste = 0);

wire_struct! {
    /// `struct iommu_hwpt_amd_guest`: a guest AMD Device Table Entry.
    #[repr(C, align(8))]
    pub struct IommuHwptAmdGuest = "iommu_hwpt_amd_guest" {
        /// The guest DTE words.
        pub dte: [u64; 4],
    }
}
pin_layout!(IommuHwptAmdGuest, size = 32, dte = 0);

wire_struct! {
    /// `struct iommu_hw_info_vtd`: Intel VT-d capability registers.
    #[repr(C, align(8))]
    pub struct IommuHwInfoVtd = "iommu_hw_info_vtd" {
        /// `IOMMU_HW_INFO_VTD_*` errata bits.
        pub flags: u32,
        /// Must be 0.
        pub __reserved: u32,
        /// The capability register.
        pub cap_reg: u64,
        /// The extended capability register.
        pub ecap_reg: u64,
    }
}
pin_layout!(
    IommuHwInfoVtd,
    size = 24,
    flags = 0,
    __reserved = 4,
    cap_reg = 8,
    ecap_reg = 16
);

wire_struct! {
    /// `struct iommu_hw_info_arm_smmuv3`: ARM SMMUv3 identification registers.
    #[repr(C)]
    pub struct IommuHwInfoArmSmmuv3 = "iommu_hw_info_arm_smmuv3" {
        /// `IOMMU_HW_INFO_ARM_SMMUV3_*` errata bits.
        pub flags: u32,
        /// Must be 0.
        pub __reserved: u32,
        /// SMMU_IDR0 to SMMU_IDR5.
        pub idr: [u32; 6],
        /// SMMU_IIDR.
        pub iidr: u32,
        /// SMMU_AIDR.
        pub aidr: u32,
    }
}
pin_layout!(
    IommuHwInfoArmSmmuv3,
    size = 40,
    flags = 0,
    __reserved = 4,
    idr = 8,
    iidr = 32,
    aidr = 36
);

wire_struct! {
    /// `struct iommu_hw_info_tegra241_cmdqv`: NVIDIA Tegra241 CMDQV information.
    #[repr(C)]
    pub struct IommuHwInfoTegra241Cmdqv = "iommu_hw_info_tegra241_cmdqv" {
        /// Must be 0.
        pub flags: u32,
        /// CMDQV hardware version.
        pub version: u8,
        /// log2 of the number of virtual CMDQs.
        pub log2vcmdqs: u8,
        /// log2 of the number of SID replacements per VINTF.
        pub log2vsids: u8,
        /// Must be 0.
        pub __reserved: u8,
    }
}
pin_layout!(
    IommuHwInfoTegra241Cmdqv,
    size = 8,
    flags = 0,
    version = 4,
    log2vcmdqs = 5,
    log2vsids = 6,
    __reserved = 7
);

wire_struct! {
    /// `struct iommu_hw_info_amd`: AMD IOMMU extended feature registers.
    #[repr(C, align(8))]
    pub struct IommuHwInfoAmd = "iommu_hw_info_amd" {
        /// Extended Feature Register.
        pub efr: u64,
        /// Extended Feature 2 Register.
        pub efr2: u64,
    }
}
pin_layout!(IommuHwInfoAmd, size = 16, efr = 0, efr2 = 8);

wire_struct! {
    /// `struct iommu_hwpt_vtd_s1_invalidate`: one Intel VT-d stage-1 IOTLB
    /// invalidation.
    #[repr(C, align(8))]
    pub struct IommuHwptVtdS1Invalidate = "iommu_hwpt_vtd_s1_invalidate" {
        /// Start address (4 KiB aligned).
        pub addr: u64,
        /// Number of 4 KiB pages; `u64::MAX` for all.
        pub npages: u64,
        /// `IOMMU_VTD_INV_FLAGS_LEAF`.
        pub flags: u32,
        /// Must be 0.
        pub __reserved: u32,
    }
}
pin_layout!(
    IommuHwptVtdS1Invalidate,
    size = 24,
    addr = 0,
    npages = 8,
    flags = 16,
    __reserved = 20
);

wire_struct! {
    /// `struct iommu_viommu_arm_smmuv3_invalidate`: one guest SMMUv3 CMDQ command.
    #[repr(C, align(8))]
    pub struct IommuViommuArmSmmuv3Invalidate = "iommu_viommu_arm_smmuv3_invalidate" {
        /// The command's two words, little-endian.
        pub cmd: [U64; 2],
    }
}
pin_layout!(IommuViommuArmSmmuv3Invalidate, size = 16, cmd = 0);

wire_struct! {
    /// `struct iommu_viommu_tegra241_cmdqv`: Tegra241 CMDQV vIOMMU data (the VINTF
    /// page to mmap).
    #[repr(C, align(8))]
    pub struct IommuViommuTegra241Cmdqv = "iommu_viommu_tegra241_cmdqv" {
        /// Out: mmap offset of the VINTF page0 on the iommufd.
        pub out_vintf_mmap_offset: u64,
        /// Out: its length.
        pub out_vintf_mmap_length: u64,
    }
}
pin_layout!(
    IommuViommuTegra241Cmdqv,
    size = 16,
    out_vintf_mmap_offset = 0,
    out_vintf_mmap_length = 8
);

wire_struct! {
    /// `struct iommu_vevent_arm_smmuv3`: an SMMUv3 event record, StreamID already
    /// translated to the guest's.
    #[repr(C, align(8))]
    pub struct IommuVeventArmSmmuv3 = "iommu_vevent_arm_smmuv3" {
        /// The record's four words, little-endian.
        pub evt: [U64; 4],
    }
}
pin_layout!(IommuVeventArmSmmuv3, size = 32, evt = 0);

wire_struct! {
    /// `struct iommu_vevent_tegra241_cmdqv`: Tegra241 CMDQV logical queue error map.
    #[repr(C, align(8))]
    pub struct IommuVeventTegra241Cmdqv = "iommu_vevent_tegra241_cmdqv" {
        /// LVCMDQ_ERR_MAP0 and LVCMDQ_ERR_MAP1, little-endian.
        pub lvcmdq_err_map: [U64; 2],
    }
}
pin_layout!(IommuVeventTegra241Cmdqv, size = 16, lvcmdq_err_map = 0);
