// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! vIOMMU, vDEVICE, vEVENTQ and HW queue commands.

use super::layout::{pin_layout, wire_struct};

wire_struct! {
    /// `struct iommu_viommu_alloc`: allocates a virtual IOMMU on a nest-parent HWPT.
    #[repr(C, align(8))]
    pub struct IommuViommuAlloc = "iommu_viommu_alloc" {
        /// `sizeof(struct iommu_viommu_alloc)`.
        pub size: u32,
        /// Must be 0.
        pub flags: u32,
        /// One of the `IOMMU_VIOMMU_TYPE_*` values.
        pub r#type: u32 => "type",
        /// A device behind the physical IOMMU instance.
        pub dev_id: u32,
        /// The nest-parent HWPT (stage 2).
        pub hwpt_id: u32,
        /// Out: the new vIOMMU id.
        pub out_viommu_id: u32,
        /// Length of the driver data.
        pub data_len: u32,
        /// Must be 0.
        pub __reserved: u32,
        /// Pointer to the driver data (in and out).
        pub data_uptr: u64,
    }
}
pin_layout!(
    IommuViommuAlloc,
    size = 40,
    size = 0,
    flags = 4,
    r#type = 8,
    dev_id = 12,
    hwpt_id = 16,
    out_viommu_id = 20,
    data_len = 24,
    __reserved = 28,
    data_uptr = 32
);

wire_struct! {
    /// `struct iommu_vdevice_alloc`: binds a device to a vIOMMU under a virtual id (the
    /// guest's StreamID, RID or device id).
    #[repr(C, align(8))]
    pub struct IommuVdeviceAlloc = "iommu_vdevice_alloc" {
        /// `sizeof(struct iommu_vdevice_alloc)`.
        pub size: u32,
        /// The vIOMMU.
        pub viommu_id: u32,
        /// The physical device.
        pub dev_id: u32,
        /// Out: the new vDEVICE id.
        pub out_vdevice_id: u32,
        /// The device's id as the guest sees it.
        pub virt_id: u64,
    }
}
pin_layout!(
    IommuVdeviceAlloc,
    size = 24,
    size = 0,
    viommu_id = 4,
    dev_id = 8,
    out_vdevice_id = 12,
    virt_id = 16
);

wire_struct! {
    /// `struct iommufd_vevent_header`: precedes each event read from a vEVENTQ fd.
    #[repr(C)]
    pub struct IommufdVeventHeader = "iommufd_vevent_header" {
        /// [`VeventFlags`](super::VeventFlags) bits.
        pub flags: u32,
        /// Sequence number, wrapping at `i32::MAX`.
        pub sequence: u32,
    }
}
pin_layout!(IommufdVeventHeader, size = 8, flags = 0, sequence = 4);

wire_struct! {
    /// `struct iommu_veventq_alloc`: allocates a virtual event queue on a vIOMMU.
    #[repr(C)]
    pub struct IommuVeventqAlloc = "iommu_veventq_alloc" {
        /// `sizeof(struct iommu_veventq_alloc)`.
        pub size: u32,
        /// Must be 0.
        pub flags: u32,
        /// The vIOMMU.
        pub viommu_id: u32,
        /// One of the `IOMMU_VEVENTQ_TYPE_*` values.
        pub r#type: u32 => "type",
        /// Maximum number of events held before some are lost.
        pub veventq_depth: u32,
        /// Out: the vEVENTQ's object id.
        pub out_veventq_id: u32,
        /// Out: the vEVENTQ's file descriptor.
        pub out_veventq_fd: u32,
        /// Must be 0.
        pub __reserved: u32,
    }
}
pin_layout!(
    IommuVeventqAlloc,
    size = 32,
    size = 0,
    flags = 4,
    viommu_id = 8,
    r#type = 12,
    veventq_depth = 16,
    out_veventq_id = 20,
    out_veventq_fd = 24,
    __reserved = 28
);

wire_struct! {
    /// `struct iommu_hw_queue_alloc`: hands a guest queue (in stage-2 IPA space) to
    /// the hardware.
    #[repr(C, align(8))]
    pub struct IommuHwQueueAlloc = "iommu_hw_queue_alloc" {
        /// `sizeof(struct iommu_hw_queue_alloc)`.
        pub size: u32,
        /// Must be 0.
        pub flags: u32,
        /// The vIOMMU.
        pub viommu_id: u32,
        /// One of the `IOMMU_HW_QUEUE_TYPE_*` values.
        pub r#type: u32 => "type",
        /// Logical index of the queue in the vIOMMU.
        pub index: u32,
        /// Out: the HW queue's object id.
        pub out_hw_queue_id: u32,
        /// Guest physical address of the queue.
        pub nesting_parent_iova: u64,
        /// Length of the queue in bytes.
        pub length: u64,
    }
}
pin_layout!(
    IommuHwQueueAlloc,
    size = 40,
    size = 0,
    flags = 4,
    viommu_id = 8,
    r#type = 12,
    index = 16,
    out_hw_queue_id = 20,
    nesting_parent_iova = 24,
    length = 32
);
