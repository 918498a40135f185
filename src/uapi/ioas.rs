// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! IOAS commands: allocation, IOVA ranges, mapping, copying, unmapping, options.

use super::layout::{pin_layout, wire_struct};

wire_struct! {
    /// `struct iommu_destroy`: destroys any iommufd object by id.
    #[repr(C)]
    pub struct IommuDestroy = "iommu_destroy" {
        /// `sizeof(struct iommu_destroy)`.
        pub size: u32,
        /// The object to destroy.
        pub id: u32,
    }
}
pin_layout!(IommuDestroy, size = 8, size = 0, id = 4);

wire_struct! {
    /// `struct iommu_ioas_alloc`: allocates an I/O address space.
    #[repr(C)]
    pub struct IommuIoasAlloc = "iommu_ioas_alloc" {
        /// `sizeof(struct iommu_ioas_alloc)`.
        pub size: u32,
        /// Must be 0.
        pub flags: u32,
        /// Out: the new IOAS id.
        pub out_ioas_id: u32,
    }
}
pin_layout!(
    IommuIoasAlloc,
    size = 12,
    size = 0,
    flags = 4,
    out_ioas_id = 8
);

wire_struct! {
    /// `struct iommu_iova_range`: an inclusive IOVA interval.
    #[repr(C, align(8))]
    pub struct IommuIovaRange = "iommu_iova_range" {
        /// First IOVA of the range.
        pub start: u64,
        /// Last IOVA of the range (inclusive).
        pub last: u64,
    }
}
pin_layout!(IommuIovaRange, size = 16, start = 0, last = 8);

wire_struct! {
    /// `struct iommu_ioas_iova_ranges`: reads the IOVA ranges an IOAS can map.
    #[repr(C, align(8))]
    pub struct IommuIoasIovaRanges = "iommu_ioas_iova_ranges" {
        /// `sizeof(struct iommu_ioas_iova_ranges)`.
        pub size: u32,
        /// The IOAS to query.
        pub ioas_id: u32,
        /// In: capacity of `allowed_iovas`; out: the number of ranges there are.
        pub num_iovas: u32,
        /// Must be 0.
        pub __reserved: u32,
        /// Pointer to an array of `struct iommu_iova_range`.
        pub allowed_iovas: u64,
        /// Out: the alignment every IOVA must have.
        pub out_iova_alignment: u64,
    }
}
pin_layout!(
    IommuIoasIovaRanges,
    size = 32,
    size = 0,
    ioas_id = 4,
    num_iovas = 8,
    __reserved = 12,
    allowed_iovas = 16,
    out_iova_alignment = 24
);

wire_struct! {
    /// `struct iommu_ioas_allow_iovas`: restricts where the kernel may place IOVAs.
    #[repr(C, align(8))]
    pub struct IommuIoasAllowIovas = "iommu_ioas_allow_iovas" {
        /// `sizeof(struct iommu_ioas_allow_iovas)`.
        pub size: u32,
        /// The IOAS to restrict.
        pub ioas_id: u32,
        /// Number of entries in `allowed_iovas`.
        pub num_iovas: u32,
        /// Must be 0.
        pub __reserved: u32,
        /// Pointer to an array of `struct iommu_iova_range`.
        pub allowed_iovas: u64,
    }
}
pin_layout!(
    IommuIoasAllowIovas,
    size = 24,
    size = 0,
    ioas_id = 4,
    num_iovas = 8,
    __reserved = 12,
    allowed_iovas = 16
);

wire_struct! {
    /// `struct iommu_ioas_map`: maps process memory into an IOAS.
    #[repr(C, align(8))]
    pub struct IommuIoasMap = "iommu_ioas_map" {
        /// `sizeof(struct iommu_ioas_map)`.
        pub size: u32,
        /// [`IoasMapFlags`](super::IoasMapFlags) bits.
        pub flags: u32,
        /// The IOAS to map into.
        pub ioas_id: u32,
        /// Must be 0.
        pub __reserved: u32,
        /// Start of the process memory to map.
        pub user_va: u64,
        /// Length in bytes.
        pub length: u64,
        /// In with `FIXED_IOVA`: where to map; out: where it was mapped.
        pub iova: u64,
    }
}
pin_layout!(
    IommuIoasMap,
    size = 40,
    size = 0,
    flags = 4,
    ioas_id = 8,
    __reserved = 12,
    user_va = 16,
    length = 24,
    iova = 32
);

wire_struct! {
    /// `struct iommu_ioas_noiommu_get_pa`: physical address of a mapping in a no-IOMMU
    /// IOAS (VFIO no-IOMMU mode only).
    #[repr(C, align(8))]
    pub struct IommuIoasNoiommuGetPa = "iommu_ioas_noiommu_get_pa" {
        /// `sizeof(struct iommu_ioas_noiommu_get_pa)`.
        pub size: u32,
        /// Must be 0.
        pub flags: u32,
        /// The IOAS to query.
        pub ioas_id: u32,
        /// Must be 0.
        pub __reserved: u32,
        /// The IOVA to translate.
        pub iova: u64,
        /// Out: length of the physically contiguous run from `iova`.
        pub length: u64,
        /// Out: the physical address.
        pub out_phys: u64,
    }
}
pin_layout!(
    IommuIoasNoiommuGetPa,
    size = 40,
    iova = 16,
    length = 24,
    out_phys = 32
);

wire_struct! {
    /// `struct iommu_ioas_map_file`: maps a range of a file (memfd, dma-buf) into an
    /// IOAS.
    #[repr(C, align(8))]
    pub struct IommuIoasMapFile = "iommu_ioas_map_file" {
        /// `sizeof(struct iommu_ioas_map_file)`.
        pub size: u32,
        /// [`IoasMapFlags`](super::IoasMapFlags) bits.
        pub flags: u32,
        /// The IOAS to map into.
        pub ioas_id: u32,
        /// The file descriptor to map.
        pub fd: i32,
        /// Offset in the file.
        pub start: u64,
        /// Length in bytes.
        pub length: u64,
        /// In with `FIXED_IOVA`: where to map; out: where it was mapped.
        pub iova: u64,
    }
}
pin_layout!(
    IommuIoasMapFile,
    size = 40,
    size = 0,
    flags = 4,
    ioas_id = 8,
    fd = 12,
    start = 16,
    length = 24,
    iova = 32
);

wire_struct! {
    /// `struct iommu_ioas_copy`: maps the pages behind one IOAS range into another.
    #[repr(C, align(8))]
    pub struct IommuIoasCopy = "iommu_ioas_copy" {
        /// `sizeof(struct iommu_ioas_copy)`.
        pub size: u32,
        /// [`IoasMapFlags`](super::IoasMapFlags) bits.
        pub flags: u32,
        /// The destination IOAS.
        pub dst_ioas_id: u32,
        /// The source IOAS.
        pub src_ioas_id: u32,
        /// Length in bytes.
        pub length: u64,
        /// In with `FIXED_IOVA`: where to map; out: where it was mapped.
        pub dst_iova: u64,
        /// Start of the source range.
        pub src_iova: u64,
    }
}
pin_layout!(
    IommuIoasCopy,
    size = 40,
    size = 0,
    flags = 4,
    dst_ioas_id = 8,
    src_ioas_id = 12,
    length = 16,
    dst_iova = 24,
    src_iova = 32
);

wire_struct! {
    /// `struct iommu_ioas_unmap`: unmaps a range (or everything) from an IOAS.
    #[repr(C, align(8))]
    pub struct IommuIoasUnmap = "iommu_ioas_unmap" {
        /// `sizeof(struct iommu_ioas_unmap)`.
        pub size: u32,
        /// The IOAS to unmap from.
        pub ioas_id: u32,
        /// Start of the range (0 with `length` `u64::MAX` unmaps everything).
        pub iova: u64,
        /// In: length of the range; out: the bytes unmapped.
        pub length: u64,
    }
}
pin_layout!(
    IommuIoasUnmap,
    size = 24,
    size = 0,
    ioas_id = 4,
    iova = 8,
    length = 16
);

wire_struct! {
    /// `struct iommu_option`: reads or sets an iommufd or IOAS option.
    #[repr(C, align(8))]
    pub struct IommuOption = "iommu_option" {
        /// `sizeof(struct iommu_option)`.
        pub size: u32,
        /// [`IOMMU_OPTION_RLIMIT_MODE`](super::IOMMU_OPTION_RLIMIT_MODE) or
        /// [`IOMMU_OPTION_HUGE_PAGES`](super::IOMMU_OPTION_HUGE_PAGES).
        pub option_id: u32,
        /// [`IOMMU_OPTION_OP_SET`](super::IOMMU_OPTION_OP_SET) or
        /// [`IOMMU_OPTION_OP_GET`](super::IOMMU_OPTION_OP_GET).
        pub op: u16,
        /// Must be 0.
        pub __reserved: u16,
        /// The object the option applies to (0 for the iommufd itself).
        pub object_id: u32,
        /// The value to set, or the value read.
        pub val64: u64,
    }
}
pin_layout!(
    IommuOption,
    size = 24,
    size = 0,
    option_id = 4,
    op = 8,
    __reserved = 10,
    object_id = 12,
    val64 = 16
);

wire_struct! {
    /// `struct iommu_vfio_ioas`: reads, sets or clears the IOAS of the VFIO
    /// compatibility container.
    #[repr(C)]
    pub struct IommuVfioIoas = "iommu_vfio_ioas" {
        /// `sizeof(struct iommu_vfio_ioas)`.
        pub size: u32,
        /// In for SET, out for GET.
        pub ioas_id: u32,
        /// One of the `IOMMU_VFIO_IOAS_*` operations.
        pub op: u16,
        /// Must be 0.
        pub __reserved: u16,
    }
}
pin_layout!(
    IommuVfioIoas,
    size = 12,
    size = 0,
    ioas_id = 4,
    op = 8,
    __reserved = 10
);

wire_struct! {
    /// `struct iommu_ioas_change_process`: moves the pinned-page accounting of every
    /// file-less mapping to the calling process.
    #[repr(C)]
    pub struct IommuIoasChangeProcess = "iommu_ioas_change_process" {
        /// `sizeof(struct iommu_ioas_change_process)`.
        pub size: u32,
        /// Must be 0.
        pub __reserved: u32,
    }
}
pin_layout!(IommuIoasChangeProcess, size = 8, size = 0, __reserved = 4);
