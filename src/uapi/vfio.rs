// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The VFIO device cdev ioctls a VMM needs with iommufd.

use super::layout::{pin_layout, wire_struct};

wire_struct! {
    /// `struct vfio_device_bind_iommufd`: binds a VFIO device cdev to an iommufd.
    #[repr(C, align(8))]
    pub struct VfioDeviceBindIommufd = "vfio_device_bind_iommufd" {
        /// `sizeof(struct vfio_device_bind_iommufd)`.
        pub argsz: u32,
        /// `VFIO_DEVICE_BIND_FLAG_TOKEN` or 0.
        pub flags: u32,
        /// The iommufd file descriptor.
        pub iommufd: i32,
        /// Out: the device id in that iommufd.
        pub out_devid: u32,
        /// Pointer to a 16-byte UUID, with `VFIO_DEVICE_BIND_FLAG_TOKEN`.
        pub token_uuid_ptr: u64,
    }
}
pin_layout!(
    VfioDeviceBindIommufd,
    size = 24,
    argsz = 0,
    flags = 4,
    iommufd = 8,
    out_devid = 12,
    token_uuid_ptr = 16
);

wire_struct! {
    /// `struct vfio_device_attach_iommufd_pt`: attaches (or replaces) the device's (or
    /// one PASID's) page table.
    #[repr(C)]
    pub struct VfioDeviceAttachIommufdPt = "vfio_device_attach_iommufd_pt" {
        /// `sizeof(struct vfio_device_attach_iommufd_pt)`.
        pub argsz: u32,
        /// `VFIO_DEVICE_ATTACH_PASID` or 0.
        pub flags: u32,
        /// In: an IOAS or HWPT id; out: the HWPT attached.
        pub pt_id: u32,
        /// The PASID, with `VFIO_DEVICE_ATTACH_PASID`.
        pub pasid: u32,
    }
}
pin_layout!(
    VfioDeviceAttachIommufdPt,
    size = 16,
    argsz = 0,
    flags = 4,
    pt_id = 8,
    pasid = 12
);

wire_struct! {
    /// `struct vfio_device_detach_iommufd_pt`: detaches the device (or one PASID).
    #[repr(C)]
    pub struct VfioDeviceDetachIommufdPt = "vfio_device_detach_iommufd_pt" {
        /// `sizeof(struct vfio_device_detach_iommufd_pt)`.
        pub argsz: u32,
        /// `VFIO_DEVICE_DETACH_PASID` or 0.
        pub flags: u32,
        /// The PASID, with `VFIO_DEVICE_DETACH_PASID`.
        pub pasid: u32,
    }
}
pin_layout!(
    VfioDeviceDetachIommufdPt,
    size = 12,
    argsz = 0,
    flags = 4,
    pasid = 8
);
