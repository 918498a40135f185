// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Ioctl request numbers and the uAPI's enum constants, by their C names.

use rustix::ioctl::{Opcode, opcode};

/// Declares constants under their C names and a table of them for the header check.
macro_rules! c_consts {
    ($(#[$tm:meta])* $table:ident; $($(#[$m:meta])* $name:ident : $t:ty = $v:expr;)*) => {
        $($(#[$m])* pub const $name: $t = $v;)*
        $(#[$tm])*
        pub const $table: &[(&str, u64)] = &[$((stringify!($name), $name as u64)),*];
    };
}

/// The ioctl type byte of iommufd and VFIO.
const IOMMUFD_TYPE: u8 = b';';
/// `VFIO_BASE`: VFIO's command numbers start here.
const VFIO_BASE: u8 = 100;
/// `IOMMU_TEST_CMD`'s number, for [`Op::request`](crate::Op::request) with or without
/// the `mock` feature.
pub(crate) const TEST_CMD_REQUEST: Opcode = opcode::none(IOMMUFD_TYPE, 0x80 + 32);

c_consts! {
    /// Every ioctl request number the crate can issue, by C name: build a seccomp
    /// filter from it ([`seccomp`](crate::seccomp) has the same list as `Op`s, the
    /// subset a running VM needs, and the other system calls). Each is
    /// `_IO(';', nr)`: the number carries no size or direction. The build fails
    /// unless each is bound to exactly one of the crate's wire structs.
    IOCTL_REQUESTS;
    /// Destroys an object.
    IOMMU_DESTROY: Opcode = opcode::none(IOMMUFD_TYPE, 0x80);
    /// Allocates an IOAS.
    IOMMU_IOAS_ALLOC: Opcode = opcode::none(IOMMUFD_TYPE, 0x81);
    /// Restricts the IOVAs the kernel may allocate.
    IOMMU_IOAS_ALLOW_IOVAS: Opcode = opcode::none(IOMMUFD_TYPE, 0x82);
    /// Copies mappings between IOASes.
    IOMMU_IOAS_COPY: Opcode = opcode::none(IOMMUFD_TYPE, 0x83);
    /// Reads an IOAS's usable IOVA ranges.
    IOMMU_IOAS_IOVA_RANGES: Opcode = opcode::none(IOMMUFD_TYPE, 0x84);
    /// Maps process memory.
    IOMMU_IOAS_MAP: Opcode = opcode::none(IOMMUFD_TYPE, 0x85);
    /// Unmaps a range.
    IOMMU_IOAS_UNMAP: Opcode = opcode::none(IOMMUFD_TYPE, 0x86);
    /// Reads or sets an option.
    IOMMU_OPTION: Opcode = opcode::none(IOMMUFD_TYPE, 0x87);
    /// The VFIO compatibility container's IOAS.
    IOMMU_VFIO_IOAS: Opcode = opcode::none(IOMMUFD_TYPE, 0x88);
    /// Allocates a hardware page table.
    IOMMU_HWPT_ALLOC: Opcode = opcode::none(IOMMUFD_TYPE, 0x89);
    /// Reads a device's IOMMU information.
    IOMMU_GET_HW_INFO: Opcode = opcode::none(IOMMUFD_TYPE, 0x8a);
    /// Turns dirty tracking on or off.
    IOMMU_HWPT_SET_DIRTY_TRACKING: Opcode = opcode::none(IOMMUFD_TYPE, 0x8b);
    /// Reads dirty bits.
    IOMMU_HWPT_GET_DIRTY_BITMAP: Opcode = opcode::none(IOMMUFD_TYPE, 0x8c);
    /// Forwards cache invalidations.
    IOMMU_HWPT_INVALIDATE: Opcode = opcode::none(IOMMUFD_TYPE, 0x8d);
    /// Allocates a fault queue.
    IOMMU_FAULT_QUEUE_ALLOC: Opcode = opcode::none(IOMMUFD_TYPE, 0x8e);
    /// Maps a file range.
    IOMMU_IOAS_MAP_FILE: Opcode = opcode::none(IOMMUFD_TYPE, 0x8f);
    /// Allocates a vIOMMU.
    IOMMU_VIOMMU_ALLOC: Opcode = opcode::none(IOMMUFD_TYPE, 0x90);
    /// Allocates a vDEVICE.
    IOMMU_VDEVICE_ALLOC: Opcode = opcode::none(IOMMUFD_TYPE, 0x91);
    /// Moves page accounting to the calling process.
    IOMMU_IOAS_CHANGE_PROCESS: Opcode = opcode::none(IOMMUFD_TYPE, 0x92);
    /// Allocates a vEVENTQ.
    IOMMU_VEVENTQ_ALLOC: Opcode = opcode::none(IOMMUFD_TYPE, 0x93);
    /// Allocates a HW queue.
    IOMMU_HW_QUEUE_ALLOC: Opcode = opcode::none(IOMMUFD_TYPE, 0x94);
    /// Binds a VFIO device cdev to an iommufd.
    VFIO_DEVICE_BIND_IOMMUFD: Opcode = opcode::none(IOMMUFD_TYPE, VFIO_BASE + 18);
    /// Attaches a VFIO device to an IOAS or HWPT.
    VFIO_DEVICE_ATTACH_IOMMUFD_PT: Opcode = opcode::none(IOMMUFD_TYPE, VFIO_BASE + 19);
    /// Detaches a VFIO device.
    VFIO_DEVICE_DETACH_IOMMUFD_PT: Opcode = opcode::none(IOMMUFD_TYPE, VFIO_BASE + 20);
}

c_consts! {
    /// Ioctl numbers of the uAPI the crate does not wrap, for the header check.
    UNWRAPPED_REQUESTS;
    /// No-IOMMU physical address lookup (VFIO no-IOMMU mode; not wrapped).
    IOMMU_IOAS_NOIOMMU_GET_PA: Opcode = opcode::none(IOMMUFD_TYPE, 0x95);
}

c_consts! {
    /// Enum constants of the uAPI, by C name, for the header check.
    ENUM_CONSTANTS;
    /// Option: how pinned pages are accounted.
    IOMMU_OPTION_RLIMIT_MODE: u32 = 0;
    /// Option: whether the IOAS may use huge pages.
    IOMMU_OPTION_HUGE_PAGES: u32 = 1;
    /// Option operation: set.
    IOMMU_OPTION_OP_SET: u16 = 0;
    /// Option operation: get.
    IOMMU_OPTION_OP_GET: u16 = 1;
    /// VFIO compat IOAS: read.
    IOMMU_VFIO_IOAS_GET: u16 = 0;
    /// VFIO compat IOAS: set.
    IOMMU_VFIO_IOAS_SET: u16 = 1;
    /// VFIO compat IOAS: clear.
    IOMMU_VFIO_IOAS_CLEAR: u16 = 2;
    /// HWPT data: none (a paging HWPT).
    IOMMU_HWPT_DATA_NONE: u32 = 0;
    /// HWPT data: Intel VT-d stage 1.
    IOMMU_HWPT_DATA_VTD_S1: u32 = 1;
    /// HWPT data: ARM SMMUv3 vSTE.
    IOMMU_HWPT_DATA_ARM_SMMUV3: u32 = 2;
    /// HWPT data: AMD guest DTE.
    IOMMU_HWPT_DATA_AMD_GUEST: u32 = 3;
    /// hw_info type: none.
    IOMMU_HW_INFO_TYPE_NONE: u32 = 0;
    /// hw_info type: whatever the driver reports.
    IOMMU_HW_INFO_TYPE_DEFAULT: u32 = 0;
    /// hw_info type: Intel VT-d.
    IOMMU_HW_INFO_TYPE_INTEL_VTD: u32 = 1;
    /// hw_info type: ARM SMMUv3.
    IOMMU_HW_INFO_TYPE_ARM_SMMUV3: u32 = 2;
    /// hw_info type: NVIDIA Tegra241 CMDQV.
    IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV: u32 = 3;
    /// hw_info type: AMD.
    IOMMU_HW_INFO_TYPE_AMD: u32 = 4;
    /// Invalidation data: Intel VT-d stage 1 (on a nested HWPT).
    IOMMU_HWPT_INVALIDATE_DATA_VTD_S1: u32 = 0;
    /// Invalidation data: ARM SMMUv3 commands (on a vIOMMU).
    IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3: u32 = 1;
    /// Page response: success.
    IOMMUFD_PAGE_RESP_SUCCESS: u32 = 0;
    /// Page response: invalid.
    IOMMUFD_PAGE_RESP_INVALID: u32 = 1;
    /// vIOMMU type: default (core only).
    IOMMU_VIOMMU_TYPE_DEFAULT: u32 = 0;
    /// vIOMMU type: ARM SMMUv3.
    IOMMU_VIOMMU_TYPE_ARM_SMMUV3: u32 = 1;
    /// vIOMMU type: NVIDIA Tegra241 CMDQV.
    IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV: u32 = 2;
    /// vEVENTQ type: default.
    IOMMU_VEVENTQ_TYPE_DEFAULT: u32 = 0;
    /// vEVENTQ type: ARM SMMUv3 events.
    IOMMU_VEVENTQ_TYPE_ARM_SMMUV3: u32 = 1;
    /// vEVENTQ type: Tegra241 CMDQV errors.
    IOMMU_VEVENTQ_TYPE_TEGRA241_CMDQV: u32 = 2;
    /// HW queue type: default.
    IOMMU_HW_QUEUE_TYPE_DEFAULT: u32 = 0;
    /// HW queue type: Tegra241 CMDQV virtual CMDQ.
    IOMMU_HW_QUEUE_TYPE_TEGRA241_CMDQV: u32 = 1;
}

#[cfg(feature = "mock")]
c_consts! {
    /// Constants of the kernel's mock IOMMU, by C name, for the header check.
    MOCK_CONSTANTS;
    /// The mock's command.
    IOMMU_TEST_CMD: Opcode = TEST_CMD_REQUEST;
    /// Reserves an IOVA range.
    IOMMU_TEST_OP_ADD_RESERVED: u32 = 1;
    /// Creates a mock device.
    IOMMU_TEST_OP_MOCK_DOMAIN: u32 = 2;
    /// Checks a mock domain's mapping.
    IOMMU_TEST_OP_MD_CHECK_MAP: u32 = 3;
    /// Checks page pin counts.
    IOMMU_TEST_OP_MD_CHECK_REFS: u32 = 4;
    /// Creates an emulated-device access.
    IOMMU_TEST_OP_CREATE_ACCESS: u32 = 5;
    /// Destroys pinned access pages.
    IOMMU_TEST_OP_DESTROY_ACCESS_PAGES: u32 = 6;
    /// Pins pages through an access.
    IOMMU_TEST_OP_ACCESS_PAGES: u32 = 7;
    /// Reads or writes through an access.
    IOMMU_TEST_OP_ACCESS_RW: u32 = 8;
    /// Sets a temporary memory limit.
    IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT: u32 = 9;
    /// Replaces a mock device's attachment.
    IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE: u32 = 10;
    /// Replaces an access's IOAS.
    IOMMU_TEST_OP_ACCESS_REPLACE_IOAS: u32 = 11;
    /// Creates a mock device with flags.
    IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS: u32 = 12;
    /// Dirties pages.
    IOMMU_TEST_OP_DIRTY: u32 = 13;
    /// Checks a nested IOTLB entry.
    IOMMU_TEST_OP_MD_CHECK_IOTLB: u32 = 14;
    /// Injects an I/O page fault.
    IOMMU_TEST_OP_TRIGGER_IOPF: u32 = 15;
    /// Checks a device cache entry.
    IOMMU_TEST_OP_DEV_CHECK_CACHE: u32 = 16;
    /// Injects a vEVENT.
    IOMMU_TEST_OP_TRIGGER_VEVENT: u32 = 17;
    /// Attaches a PASID.
    IOMMU_TEST_OP_PASID_ATTACH: u32 = 18;
    /// Replaces a PASID's attachment.
    IOMMU_TEST_OP_PASID_REPLACE: u32 = 19;
    /// Detaches a PASID.
    IOMMU_TEST_OP_PASID_DETACH: u32 = 20;
    /// Checks a PASID's HWPT.
    IOMMU_TEST_OP_PASID_CHECK_HWPT: u32 = 21;
    /// Makes a mock dma-buf.
    IOMMU_TEST_OP_DMABUF_GET: u32 = 22;
    /// Revokes a mock dma-buf.
    IOMMU_TEST_OP_DMABUF_REVOKE: u32 = 23;
    /// Mock page-table type: default.
    MOCK_IOMMUPT_DEFAULT: u32 = 0;
    /// Mock page-table type: huge pages.
    MOCK_IOMMUPT_HUGE: u32 = 1;
    /// First IOVA of the mock aperture.
    MOCK_APERTURE_START: u64 = 1 << 24;
    /// Last IOVA of the mock aperture.
    MOCK_APERTURE_LAST: u64 = (1 << 31) - 1;
    /// The mock's page size.
    MOCK_PAGE_SIZE: u64 = 2048;
    /// The mock's huge page size.
    MOCK_HUGE_PAGE_SIZE: u64 = 512 * 2048;
    /// Access flag: writable.
    MOCK_FLAGS_ACCESS_WRITE: u32 = 1 << 0;
    /// Access flag: syzkaller mode.
    MOCK_FLAGS_ACCESS_SYZ: u32 = 1 << 16;
    /// Access rw: write.
    MOCK_ACCESS_RW_WRITE: u32 = 1 << 0;
    /// Access rw: slow path.
    MOCK_ACCESS_RW_SLOW_PATH: u32 = 1 << 2;
    /// Access create: needs pin_pages.
    MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES: u32 = 1 << 0;
    /// Mock device flag: no dirty tracking.
    MOCK_FLAGS_DEVICE_NO_DIRTY: u32 = 1 << 0;
    /// Mock device flag: PASID capable.
    MOCK_FLAGS_DEVICE_PASID: u32 = 1 << 2;
    /// Highest nested IOTLB entry index.
    MOCK_NESTED_DOMAIN_IOTLB_ID_MAX: u32 = 3;
    /// Number of nested IOTLB entries.
    MOCK_NESTED_DOMAIN_IOTLB_NUM: u32 = 4;
    /// Highest device cache entry index.
    MOCK_DEV_CACHE_ID_MAX: u32 = 3;
    /// Number of device cache entries.
    MOCK_DEV_CACHE_NUM: u32 = 4;
    /// A PASID the mock reserves for its replace test.
    IOMMU_TEST_PASID_RESERVED: u32 = 1024;
    /// The mock's PASID width.
    MOCK_PASID_WIDTH: u32 = 20;
    /// The mock's hw_info type.
    IOMMU_HW_INFO_TYPE_SELFTEST: u32 = 0xfeed_beef;
    /// The value of the mock's `test_reg`.
    IOMMU_HW_INFO_SELFTEST_REGVAL: u32 = 0xdead_beef;
    /// The mock's nested HWPT data type.
    IOMMU_HWPT_DATA_SELFTEST: u32 = 0xdead;
    /// The IOTLB value a nested mock HWPT starts with.
    IOMMU_TEST_IOTLB_DEFAULT: u32 = 0xbad_beef;
    /// The device cache value a mock device starts with.
    IOMMU_TEST_DEV_CACHE_DEFAULT: u32 = 0xbad_dad;
    /// The mock's nested HWPT invalidation data type.
    IOMMU_HWPT_INVALIDATE_DATA_SELFTEST: u32 = 0xdead_beef;
    /// A nested HWPT invalidation data type the mock rejects.
    IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID: u32 = 0xdad_beef;
    /// Invalidate every entry.
    IOMMU_TEST_INVALIDATE_FLAG_ALL: u32 = 1 << 0;
    /// The mock's vIOMMU type.
    IOMMU_VIOMMU_TYPE_SELFTEST: u32 = 0xdead_beef;
    /// The mock's vIOMMU invalidation data type.
    IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST: u32 = 0xdead_beef;
    /// A vIOMMU invalidation data type the mock rejects.
    IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST_INVALID: u32 = 0xdad_beef;
    /// The mock's vEVENTQ type.
    IOMMU_VEVENTQ_TYPE_SELFTEST: u32 = 0xbeef_beef;
    /// The mock's HW queue type.
    IOMMU_HW_QUEUE_TYPE_SELFTEST: u32 = 0xdead_beef;
    /// How many HW queues a mock vIOMMU takes.
    IOMMU_TEST_HW_QUEUE_MAX: u32 = 2;
}
