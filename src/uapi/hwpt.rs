// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Hardware page tables: allocation, hw_info, dirty tracking, invalidation, faults.

use super::layout::{pin_layout, wire_struct};

wire_struct! {
    /// `struct iommu_hwpt_alloc`: allocates a paging or nested hardware page table.
    #[repr(C, align(8))]
    pub struct IommuHwptAlloc = "iommu_hwpt_alloc" {
        /// `sizeof(struct iommu_hwpt_alloc)`.
        pub size: u32,
        /// [`HwptAllocFlags`](super::HwptAllocFlags) bits.
        pub flags: u32,
        /// The device the HWPT is made for.
        pub dev_id: u32,
        /// Parent: an IOAS, a nest-parent HWPT or a vIOMMU.
        pub pt_id: u32,
        /// Out: the new HWPT id.
        pub out_hwpt_id: u32,
        /// Must be 0.
        pub __reserved: u32,
        /// One of the `IOMMU_HWPT_DATA_*` types.
        pub data_type: u32,
        /// Length of the driver data.
        pub data_len: u32,
        /// Pointer to the driver data.
        pub data_uptr: u64,
        /// Fault queue id, with `FAULT_ID_VALID`.
        pub fault_id: u32,
        /// Must be 0.
        pub __reserved2: u32,
    }
}
pin_layout!(
    IommuHwptAlloc,
    size = 48,
    size = 0,
    flags = 4,
    dev_id = 8,
    pt_id = 12,
    out_hwpt_id = 16,
    __reserved = 20,
    data_type = 24,
    data_len = 28,
    data_uptr = 32,
    fault_id = 40,
    __reserved2 = 44
);

wire_struct! {
    /// `struct iommu_hw_info`: reads a device's IOMMU hardware information.
    #[repr(C, align(8))]
    pub struct IommuHwInfo = "iommu_hw_info" {
        /// `sizeof(struct iommu_hw_info)`.
        pub size: u32,
        /// [`HwInfoFlags`](super::HwInfoFlags) bits.
        pub flags: u32,
        /// The device to query.
        pub dev_id: u32,
        /// In: capacity of the buffer; out: the length the kernel has.
        pub data_len: u32,
        /// Pointer to the buffer.
        pub data_uptr: u64,
        /// In (with `INPUT_TYPE`): the type asked for; out: the type returned. The C
        /// union `in_data_type` / `out_data_type`.
        pub data_type: u32 => "in_data_type",
        /// Out: log2 of the maximum PASID, 0 without PASID.
        pub out_max_pasid_log2: u8,
        /// Must be 0.
        pub __reserved: [u8; 3],
        /// Out: [`HwCapabilities`](super::HwCapabilities) bits.
        pub out_capabilities: u64,
    }
}
pin_layout!(
    IommuHwInfo,
    size = 40,
    size = 0,
    flags = 4,
    dev_id = 8,
    data_len = 12,
    data_uptr = 16,
    data_type = 24,
    out_max_pasid_log2 = 28,
    __reserved = 29,
    out_capabilities = 32
);

wire_struct! {
    /// `struct iommu_hwpt_set_dirty_tracking`: turns dirty tracking on or off.
    #[repr(C)]
    pub struct IommuHwptSetDirtyTracking = "iommu_hwpt_set_dirty_tracking" {
        /// `sizeof(struct iommu_hwpt_set_dirty_tracking)`.
        pub size: u32,
        /// `IOMMU_HWPT_DIRTY_TRACKING_ENABLE` or 0.
        pub flags: u32,
        /// The HWPT.
        pub hwpt_id: u32,
        /// Must be 0.
        pub __reserved: u32,
    }
}
pin_layout!(
    IommuHwptSetDirtyTracking,
    size = 16,
    size = 0,
    flags = 4,
    hwpt_id = 8,
    __reserved = 12
);

wire_struct! {
    /// `struct iommu_hwpt_get_dirty_bitmap`: reads (and clears) dirty bits.
    #[repr(C, align(8))]
    pub struct IommuHwptGetDirtyBitmap = "iommu_hwpt_get_dirty_bitmap" {
        /// `sizeof(struct iommu_hwpt_get_dirty_bitmap)`.
        pub size: u32,
        /// The HWPT.
        pub hwpt_id: u32,
        /// [`DirtyBitmapFlags`](super::DirtyBitmapFlags) bits.
        pub flags: u32,
        /// Must be 0.
        pub __reserved: u32,
        /// Start of the range.
        pub iova: u64,
        /// Length of the range.
        pub length: u64,
        /// Bytes per bit.
        pub page_size: u64,
        /// Pointer to the bitmap.
        pub data: u64,
    }
}
pin_layout!(
    IommuHwptGetDirtyBitmap,
    size = 48,
    size = 0,
    hwpt_id = 4,
    flags = 8,
    __reserved = 12,
    iova = 16,
    length = 24,
    page_size = 32,
    data = 40
);

wire_struct! {
    /// `struct iommu_hwpt_invalidate`: forwards an array of cache invalidation
    /// requests to a nested HWPT or a vIOMMU.
    #[repr(C, align(8))]
    pub struct IommuHwptInvalidate = "iommu_hwpt_invalidate" {
        /// `sizeof(struct iommu_hwpt_invalidate)`.
        pub size: u32,
        /// A nested HWPT or a vIOMMU.
        pub hwpt_id: u32,
        /// Pointer to the entry array.
        pub data_uptr: u64,
        /// One of the invalidation data types.
        pub data_type: u32,
        /// Size of one entry.
        pub entry_len: u32,
        /// In: number of entries; out: number handled.
        pub entry_num: u32,
        /// Must be 0.
        pub __reserved: u32,
    }
}
pin_layout!(
    IommuHwptInvalidate,
    size = 32,
    size = 0,
    hwpt_id = 4,
    data_uptr = 8,
    data_type = 16,
    entry_len = 20,
    entry_num = 24,
    __reserved = 28
);

wire_struct! {
    /// `struct iommu_hwpt_pgfault`: one page-fault record read from a fault queue fd.
    #[repr(C, align(8))]
    pub struct IommuHwptPgfault = "iommu_hwpt_pgfault" {
        /// `IOMMU_PGFAULT_FLAGS_*` bits.
        pub flags: u32,
        /// The device that faulted.
        pub dev_id: u32,
        /// The PASID, with `PASID_VALID`.
        pub pasid: u32,
        /// Page request group index.
        pub grpid: u32,
        /// `IOMMU_PGFAULT_PERM_*` bits.
        pub perm: u32,
        /// Must be 0.
        pub __reserved: u32,
        /// The faulting address.
        pub addr: u64,
        /// Length of the fault, for some drivers.
        pub length: u32,
        /// The cookie to answer with.
        pub cookie: u32,
    }
}
pin_layout!(
    IommuHwptPgfault,
    size = 40,
    flags = 0,
    dev_id = 4,
    pasid = 8,
    grpid = 12,
    perm = 16,
    __reserved = 20,
    addr = 24,
    length = 32,
    cookie = 36
);

wire_struct! {
    /// `struct iommu_hwpt_page_response`: the answer written to a fault queue fd.
    #[repr(C)]
    pub struct IommuHwptPageResponse = "iommu_hwpt_page_response" {
        /// The cookie of the fault answered.
        pub cookie: u32,
        /// `IOMMUFD_PAGE_RESP_SUCCESS` or `IOMMUFD_PAGE_RESP_INVALID`.
        pub code: u32,
    }
}
pin_layout!(IommuHwptPageResponse, size = 8, cookie = 0, code = 4);

wire_struct! {
    /// `struct iommu_fault_alloc`: allocates a fault queue (for I/O page faults).
    #[repr(C)]
    pub struct IommuFaultAlloc = "iommu_fault_alloc" {
        /// `sizeof(struct iommu_fault_alloc)`.
        pub size: u32,
        /// Must be 0.
        pub flags: u32,
        /// Out: the fault queue's object id.
        pub out_fault_id: u32,
        /// Out: the fault queue's file descriptor.
        pub out_fault_fd: u32,
    }
}
pin_layout!(
    IommuFaultAlloc,
    size = 16,
    size = 0,
    flags = 4,
    out_fault_id = 8,
    out_fault_fd = 12
);
