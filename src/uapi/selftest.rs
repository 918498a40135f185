// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The kernel's mock IOMMU (`CONFIG_IOMMUFD_TEST`, `drivers/iommu/iommufd/iommufd_test.h`):
//! the `IOMMU_TEST_CMD` envelope, its per-operation payloads and the selftest driver
//! data. Only for tests against the mock; behind the `mock` feature.

use super::layout::{pin_layout, wire_struct};

/// Size of the anonymous union inside `struct iommu_test_cmd`.
pub const IOMMU_TEST_CMD_PAYLOAD_LEN: usize = 48;

wire_struct! {
    /// `struct iommu_test_cmd`: the envelope of every mock test operation. The C
    /// union is `payload`: write one of the `IommuTestCmd*` payload structs into it.
    #[repr(C, align(8))]
    pub struct IommuTestCmd = "iommu_test_cmd" {
        /// `sizeof(struct iommu_test_cmd)`.
        pub size: u32,
        /// One of the `IOMMU_TEST_OP_*` operations.
        pub op: u32,
        /// The object the operation applies to.
        pub id: u32,
        /// Must be 0.
        pub __reserved: u32,
        /// The operation's payload (the C anonymous union).
        pub payload: [u64; IOMMU_TEST_CMD_PAYLOAD_LEN / 8] => "add_reserved",
        /// Marks the end of the struct for the kernel's size checks.
        pub last: u32,
        /// Tail padding of the C struct.
        pub __pad: u32 => "__pad",
    }
}
pin_layout!(
    IommuTestCmd,
    size = 72,
    size = 0,
    op = 4,
    id = 8,
    __reserved = 12,
    payload = 16,
    last = 64
);

/// Declares one payload of the `iommu_test_cmd` union.
macro_rules! test_payload {
    ($(#[$meta:meta])* $name:ident = $c:literal, align($a:literal) { $($(#[$fm:meta])* $f:ident : $t:ty $(=> $cf:literal)?),* $(,)? }) => {
        wire_struct! {
            $(#[$meta])*
            #[repr(C, align($a))]
            pub struct $name = $c {
                $($(#[$fm])* pub $f: $t $(=> $cf)?,)*
            }
        }
        static_assertions::const_assert!(
            ::core::mem::size_of::<$name>() <= IOMMU_TEST_CMD_PAYLOAD_LEN
        );
    };
}

test_payload! {
    /// `add_reserved`: reserves an IOVA range in an IOAS.
    IommuTestCmdAddReserved = "iommu_test_cmd::add_reserved", align(8) {
        /// Start of the range.
        start: u64,
        /// Length of the range.
        length: u64,
    }
}
test_payload! {
    /// `mock_domain`: creates a mock device attached to an IOAS or HWPT.
    IommuTestCmdMockDomain = "iommu_test_cmd::mock_domain", align(4) {
        /// Out: the selftest device object id.
        out_stdev_id: u32,
        /// Out: the HWPT the device was attached to.
        out_hwpt_id: u32,
        /// Out: the device id (as from a VFIO bind).
        out_idev_id: u32,
    }
}
test_payload! {
    /// `mock_domain_flags`: `mock_domain` with device flags.
    IommuTestCmdMockDomainFlags = "iommu_test_cmd::mock_domain_flags", align(4) {
        /// Out: the selftest device object id.
        out_stdev_id: u32,
        /// Out: the HWPT the device was attached to.
        out_hwpt_id: u32,
        /// Out: the device id.
        out_idev_id: u32,
        /// `MOCK_FLAGS_DEVICE_*` bits.
        dev_flags: u32,
    }
}
test_payload! {
    /// `mock_domain_replace`: replaces a mock device's attachment.
    IommuTestCmdMockDomainReplace = "iommu_test_cmd::mock_domain_replace", align(4) {
        /// In: the new IOAS or HWPT; out: the HWPT attached.
        pt_id: u32,
    }
}
test_payload! {
    /// `check_map`: asserts that each IOVA page of a mock domain maps the expected
    /// process page.
    IommuTestCmdCheckMap = "iommu_test_cmd::check_map", align(8) {
        /// Start of the range.
        iova: u64,
        /// Length of the range.
        length: u64,
        /// The process memory it must map.
        uptr: u64,
    }
}
test_payload! {
    /// `check_refs`: asserts the pin count of each process page in a range.
    IommuTestCmdCheckRefs = "iommu_test_cmd::check_refs", align(8) {
        /// Length of the range.
        length: u64,
        /// Start of the process memory.
        uptr: u64,
        /// Expected reference count of each page.
        refs: u32,
        /// Padding.
        __pad: u32 => "__pad",
    }
}
test_payload! {
    /// `memory_limit`: sets a temporary page-pin limit.
    IommuTestCmdMemoryLimit = "iommu_test_cmd::memory_limit", align(4) {
        /// The limit in pages.
        limit: u32,
    }
}
test_payload! {
    /// `dirty`: marks pages of a mock domain dirty.
    IommuTestCmdDirty = "iommu_test_cmd::dirty", align(8) {
        /// Must be 0.
        flags: u32,
        /// Padding.
        __pad: u32 => "__pad",
        /// Start of the range.
        iova: u64,
        /// Length of the range.
        length: u64,
        /// Bytes per bit.
        page_size: u64,
        /// Pointer to the bitmap of pages to dirty.
        uptr: u64,
        /// Out: the number of pages dirtied.
        out_nr_dirty: u64,
    }
}
test_payload! {
    /// `check_iotlb`: asserts a nested mock HWPT's IOTLB entry.
    IommuTestCmdCheckIotlb = "iommu_test_cmd::check_iotlb", align(4) {
        /// The IOTLB entry index.
        id: u32,
        /// Its expected value.
        iotlb: u32,
    }
}
test_payload! {
    /// `trigger_iopf`: injects an I/O page fault.
    IommuTestCmdTriggerIopf = "iommu_test_cmd::trigger_iopf", align(8) {
        /// The faulting device.
        dev_id: u32,
        /// The PASID.
        pasid: u32,
        /// Page request group.
        grpid: u32,
        /// `IOMMU_PGFAULT_PERM_*` bits.
        perm: u32,
        /// The faulting address.
        addr: u64,
    }
}
test_payload! {
    /// `check_dev_cache`: asserts a mock device's cache entry.
    IommuTestCmdCheckDevCache = "iommu_test_cmd::check_dev_cache", align(4) {
        /// The cache entry index.
        id: u32,
        /// Its expected value.
        cache: u32,
    }
}
test_payload! {
    /// `trigger_vevent`: makes the mock report a vEVENT for a device.
    IommuTestCmdTriggerVevent = "iommu_test_cmd::trigger_vevent", align(4) {
        /// The device.
        dev_id: u32,
    }
}
test_payload! {
    /// `pasid_attach`, `pasid_replace`, `pasid_check`: a PASID and a page table.
    IommuTestCmdPasid = "iommu_test_cmd::pasid_attach", align(4) {
        /// The PASID.
        pasid: u32,
        /// The IOAS or HWPT (for `pasid_check`: the expected HWPT, 0 for none).
        pt_id: u32,
    }
}
test_payload! {
    /// `dmabuf_get`: makes a mock dma-buf.
    IommuTestCmdDmabufGet = "iommu_test_cmd::dmabuf_get", align(4) {
        /// Length in bytes.
        length: u32,
        /// `O_*` flags of the new fd.
        open_flags: u32,
    }
}
test_payload! {
    /// `dmabuf_revoke`: revokes or restores a mock dma-buf.
    IommuTestCmdDmabufRevoke = "iommu_test_cmd::dmabuf_revoke", align(4) {
        /// The dma-buf fd.
        dmabuf_fd: i32,
        /// Non-zero to revoke.
        revoked: u32,
    }
}

wire_struct! {
    /// `struct iommu_test_hw_info`: the mock's hw_info.
    #[repr(C)]
    pub struct IommuTestHwInfo = "iommu_test_hw_info" {
        /// Must be 0.
        pub flags: u32,
        /// Always `IOMMU_HW_INFO_SELFTEST_REGVAL`.
        pub test_reg: u32,
    }
}
pin_layout!(IommuTestHwInfo, size = 8, flags = 0, test_reg = 4);

wire_struct! {
    /// `struct iommu_hwpt_selftest`: the mock's nested HWPT data.
    #[repr(C)]
    pub struct IommuHwptSelftest = "iommu_hwpt_selftest" {
        /// Initial value of every IOTLB entry.
        pub iotlb: u32,
        /// `MOCK_IOMMUPT_*` page-table type.
        pub pagetable_type: u32,
    }
}
pin_layout!(IommuHwptSelftest, size = 8, iotlb = 0, pagetable_type = 4);

wire_struct! {
    /// `struct iommu_hwpt_invalidate_selftest`: one invalidation of a nested mock HWPT.
    #[repr(C)]
    pub struct IommuHwptInvalidateSelftest = "iommu_hwpt_invalidate_selftest" {
        /// `IOMMU_TEST_INVALIDATE_FLAG_ALL` or 0.
        pub flags: u32,
        /// The IOTLB entry to clear.
        pub iotlb_id: u32,
    }
}
pin_layout!(
    IommuHwptInvalidateSelftest,
    size = 8,
    flags = 0,
    iotlb_id = 4
);

wire_struct! {
    /// `struct iommu_viommu_selftest`: the mock's vIOMMU data.
    #[repr(C, align(8))]
    pub struct IommuViommuSelftest = "iommu_viommu_selftest" {
        /// A value the kernel echoes.
        pub in_data: u32,
        /// Out: `in_data` echoed.
        pub out_data: u32,
        /// Out: mmap offset of the mock's page.
        pub out_mmap_offset: u64,
        /// Out: its length.
        pub out_mmap_length: u64,
    }
}
pin_layout!(
    IommuViommuSelftest,
    size = 24,
    in_data = 0,
    out_data = 4,
    out_mmap_offset = 8,
    out_mmap_length = 16
);

wire_struct! {
    /// `struct iommu_viommu_invalidate_selftest`: one invalidation of a mock vIOMMU's
    /// device cache.
    #[repr(C)]
    pub struct IommuViommuInvalidateSelftest = "iommu_viommu_invalidate_selftest" {
        /// `IOMMU_TEST_INVALIDATE_FLAG_ALL` or 0.
        pub flags: u32,
        /// The vDEVICE's virtual id.
        pub vdev_id: u32,
        /// The cache entry to clear.
        pub cache_id: u32,
    }
}
pin_layout!(
    IommuViommuInvalidateSelftest,
    size = 12,
    flags = 0,
    vdev_id = 4,
    cache_id = 8
);

wire_struct! {
    /// `struct iommu_viommu_event_selftest`: the mock's vEVENT record.
    #[repr(C)]
    pub struct IommuViommuEventSelftest = "iommu_viommu_event_selftest" {
        /// The vDEVICE's virtual id.
        pub virt_id: u32,
    }
}
pin_layout!(IommuViommuEventSelftest, size = 4, virt_id = 0);
