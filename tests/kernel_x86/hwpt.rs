// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! HWPT_ALLOC, GET_HW_INFO, HWPT_SET_DIRTY_TRACKING, HWPT_GET_DIRTY_BITMAP,
//! HWPT_INVALIDATE on a nested HWPT, and the VFIO-compat IOAS.

use crate::common::*;
use iommufd::mock::{MockChecks, MockDevice, MockDeviceFlags};
use iommufd::uapi::*;
use iommufd::{Device, Error, ErrorKind, HwptAlloc, HwptId, IoasId, Iova, PtId};

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn paging_hwpt_is_attachable_and_pins_the_ioas() {
    let (fd, ioas, dev) = ioas_with_device();
    let hwpt = fd
        .alloc_hwpt(&HwptAlloc::paging(dev.dev_id(), ioas))
        .unwrap();
    assert_eq!(dev.attach(PtId::Hwpt(hwpt)).unwrap(), hwpt);
    // The IOAS is referenced by its HWPTs; the HWPT by the attached device.
    assert_kind(fd.destroy(ioas), ErrorKind::Busy);
    assert_kind(fd.destroy(hwpt), ErrorKind::Busy);
    // The HWPT the kernel made for the IOAS at creation went away with the replace.
    assert_kind(
        dev.attach(PtId::Hwpt(dev.initial_hwpt())),
        ErrorKind::NotFound,
    );
    dev.attach(PtId::Ioas(ioas)).unwrap();
    fd.destroy(hwpt).unwrap();
    assert_kind(fd.destroy(hwpt), ErrorKind::NotFound);
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn nested_hwpt_on_a_nest_parent_starts_with_the_given_iotlb() {
    let (fd, ioas, dev) = ioas_with_device();
    let parent = fd
        .alloc_hwpt(&HwptAlloc::paging(dev.dev_id(), ioas).nest_parent())
        .unwrap();
    let data = IommuHwptSelftest {
        iotlb: IOMMU_TEST_IOTLB_DEFAULT,
        pagetable_type: 0,
    };
    let nested = fd
        .alloc_hwpt(&HwptAlloc::nested(dev.dev_id(), parent, &data))
        .unwrap();
    for i in 0..MOCK_NESTED_DOMAIN_IOTLB_NUM {
        fd.check_iotlb(nested, i, IOMMU_TEST_IOTLB_DEFAULT).unwrap();
    }
    dev.attach(PtId::Hwpt(nested)).unwrap();
    assert_kind(fd.destroy(parent), ErrorKind::Busy);
    dev.attach(PtId::Ioas(ioas)).unwrap();
    fd.destroy(nested).unwrap();
    fd.destroy(parent).unwrap();
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn hwpt_alloc_failures() {
    let (fd, ioas, dev) = ioas_with_device();
    let data = IommuHwptSelftest {
        iotlb: 1,
        pagetable_type: 0,
    };
    // A nested HWPT needs a nest parent: on a plain paging HWPT it is refused.
    let plain = fd
        .alloc_hwpt(&HwptAlloc::paging(dev.dev_id(), ioas))
        .unwrap();
    assert_kind(
        fd.alloc_hwpt(&HwptAlloc::nested(dev.dev_id(), plain, &data)),
        ErrorKind::InvalidArgument,
    );
    // An unknown parent id is EINVAL too, not ENOENT (the kernel's documented quirk).
    assert_kind(
        fd.alloc_hwpt(&HwptAlloc::paging(dev.dev_id(), IoasId::from_raw(9999))),
        ErrorKind::InvalidArgument,
    );
    // A data type the driver does not know.
    let parent = fd
        .alloc_hwpt(&HwptAlloc::paging(dev.dev_id(), ioas).nest_parent())
        .unwrap();
    let bytes = [0u8; 8];
    assert_kind(
        fd.alloc_hwpt(&HwptAlloc::nested_raw(dev.dev_id(), parent, 0x1234, &bytes)),
        ErrorKind::NotSupported,
    );
    // Driver data the crate can see is meaningless for a paging HWPT.
    let e = fd
        .alloc_hwpt(&HwptAlloc::nested_raw(
            dev.dev_id(),
            ioas,
            IOMMU_HWPT_DATA_NONE,
            &bytes,
        ))
        .unwrap_err();
    assert!(
        matches!(e, Error::InvalidInput { field: "data", .. }),
        "{e}"
    );
    // Dirty tracking on a device that cannot do it.
    let no_dirty = MockDevice::with_flags(&fd, ioas, MockDeviceFlags::NO_DIRTY).unwrap();
    assert_kind(
        fd.alloc_hwpt(&HwptAlloc::paging(no_dirty.dev_id(), ioas).dirty_tracking()),
        ErrorKind::NotSupported,
    );
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn hw_info_reads_the_mock_registers() {
    let (fd, _ioas, dev) = ioas_with_device();
    let (data, info) = fd.hw_info::<IommuTestHwInfo>(dev.dev_id()).unwrap();
    assert_eq!(data.test_reg, IOMMU_HW_INFO_SELFTEST_REGVAL);
    assert_eq!(info.data_type, IOMMU_HW_INFO_TYPE_SELFTEST);
    assert_eq!(info.data_len as usize, size_of::<IommuTestHwInfo>());
    assert!(info.capabilities.contains(HwCapabilities::DIRTY_TRACKING));
    // A short buffer gets what fits; data_len still tells the full length.
    let mut short = [0u8; 4];
    let info = fd.hw_info_raw(dev.dev_id(), None, &mut short).unwrap();
    assert_eq!(info.data_len as usize, size_of::<IommuTestHwInfo>());
    // PASID width on a PASID-capable mock device.
    if !needs_mock_pasid(&fd, _ioas) {
        return;
    }
    let pasid_dev = MockDevice::with_flags(&fd, _ioas, MockDeviceFlags::PASID).unwrap();
    let info = fd.hw_info_raw(pasid_dev.dev_id(), None, &mut []).unwrap();
    assert_eq!(u32::from(info.max_pasid_log2), MOCK_PASID_WIDTH);
    // Asking for a type the driver does not have.
    assert_kind(
        fd.hw_info::<IommuHwInfoArmSmmuv3>(dev.dev_id()),
        ErrorKind::NotSupported,
    );
    assert_kind(
        fd.hw_info_raw(iommufd::DevId::from_raw(9999), None, &mut short),
        ErrorKind::NotFound,
    );
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn dirty_tracking_reports_what_the_mock_dirtied() {
    let fd = open();
    let ioas = fd.alloc_ioas().unwrap();
    // One page table entry per 4 KiB page, so the mock dirties exactly what we ask
    // (with large pages a dirty bit covers a whole contiguous run).
    fd.set_huge_pages(ioas, false).unwrap();
    let dev = MockDevice::new(&fd, ioas).unwrap();
    let hwpt = fd
        .alloc_hwpt(&HwptAlloc::paging(dev.dev_id(), ioas).dirty_tracking())
        .unwrap();
    dev.attach(PtId::Hwpt(hwpt)).unwrap();
    // The mock tracks dirtiness per 4 KiB page table entry.
    let page = 4096;
    let buf = Buffer::new(64 * page as usize);
    map_buffer(&fd, ioas, &buf, APERTURE);
    fd.set_dirty_tracking(hwpt, true).unwrap();
    // Dirty pages 1, 3 and 8 through the mock, which marks exactly those.
    assert_eq!(mark_dirty(&fd, hwpt, APERTURE, &[1, 3, 8]), 3);
    let mut bitmap = [0u64; 1];
    fd.dirty_bitmap(hwpt, Iova(APERTURE), 64 * page, page, &mut bitmap, true)
        .unwrap();
    assert_eq!(bitmap[0], 0b1_0000_1010);
    // Read and clear, then nothing is left.
    let mut again = [0u64; 1];
    fd.dirty_bitmap(hwpt, Iova(APERTURE), 64 * page, page, &mut again, false)
        .unwrap();
    assert_eq!(again[0], 0b1_0000_1010);
    let mut cleared = [0u64; 1];
    fd.dirty_bitmap(hwpt, Iova(APERTURE), 64 * page, page, &mut cleared, false)
        .unwrap();
    assert_eq!(cleared[0], 0);
    // Crate-side checks name the field.
    let mut small = [0u64; 1];
    for (e, field) in [
        (
            fd.dirty_bitmap(hwpt, Iova(APERTURE), 128 * page, page, &mut small, false),
            "bitmap",
        ),
        (
            fd.dirty_bitmap(hwpt, Iova(APERTURE + 1), page, page, &mut small, false),
            "iova",
        ),
        (
            fd.dirty_bitmap(hwpt, Iova(APERTURE), page, 3000, &mut small, false),
            "page_size",
        ),
    ] {
        match e {
            Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected a crate refusal of {field}, got {other:?}"),
        }
    }
    fd.set_dirty_tracking(hwpt, false).unwrap();
    assert_kind(
        fd.set_dirty_tracking(HwptId::from_raw(9999), true),
        ErrorKind::NotFound,
    );
    dev.attach(PtId::Ioas(ioas)).unwrap();
    fd.unmap_all(ioas).unwrap();
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn invalidate_nested_hwpt_clears_iotlb_entries_and_reports_partial_failure() {
    let (fd, ioas, dev) = ioas_with_device();
    let parent = fd
        .alloc_hwpt(&HwptAlloc::paging(dev.dev_id(), ioas).nest_parent())
        .unwrap();
    let data = IommuHwptSelftest {
        iotlb: IOMMU_TEST_IOTLB_DEFAULT,
        pagetable_type: 0,
    };
    let nested = fd
        .alloc_hwpt(&HwptAlloc::nested(dev.dev_id(), parent, &data))
        .unwrap();
    let entry = |id| IommuHwptInvalidateSelftest {
        flags: 0,
        iotlb_id: id,
    };
    fd.invalidate(nested, &[entry(1), entry(3)]).unwrap();
    fd.check_iotlb(nested, 0, IOMMU_TEST_IOTLB_DEFAULT).unwrap();
    fd.check_iotlb(nested, 1, 0).unwrap();
    fd.check_iotlb(nested, 2, IOMMU_TEST_IOTLB_DEFAULT).unwrap();
    fd.check_iotlb(nested, 3, 0).unwrap();
    // Entry 1 of 3 is out of range: the first was handled, the rest was not.
    let e = fd
        .invalidate(
            nested,
            &[
                entry(0),
                entry(MOCK_NESTED_DOMAIN_IOTLB_ID_MAX + 1),
                entry(2),
            ],
        )
        .unwrap_err();
    assert_eq!(
        e,
        Error::Invalidation {
            errno: rustix::io::Errno::INVAL,
            refused: Some(1),
            completed: 0,
            requested: 3
        }
    );
    fd.check_iotlb(nested, 0, 0).unwrap();
    fd.check_iotlb(nested, 2, IOMMU_TEST_IOTLB_DEFAULT).unwrap();
    // FLAG_ALL clears every entry.
    fd.invalidate(
        nested,
        &[IommuHwptInvalidateSelftest {
            flags: IOMMU_TEST_INVALIDATE_FLAG_ALL,
            iotlb_id: 0,
        }],
    )
    .unwrap();
    fd.check_iotlb(nested, 2, 0).unwrap();
    // entry_len 0 with entries, or a data type the mock does not take: the crate
    // refuses them before the syscall (the kernel's own EINVAL for them is driven
    // through the raw hook in `invalidation_failures_before_any_entry_are_no_refusal`).
    let raw = [0u8; 8];
    let e = fd
        .invalidate_raw(nested, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, &raw, 0, 1)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CrateValidation);
    let e = fd
        .invalidate_raw(
            nested,
            IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID,
            &raw,
            8,
            1,
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CrateValidation);
    // Entries longer than the driver's struct: 7.3's per-entry copy refuses entry 0
    // (EINVAL) whatever the tail holds, before handling it; the empty call to the
    // same HWPT succeeds, so this is the driver's refusal of entry 0. (E2BIG for
    // an unknown tail is driven through the raw hook in destroy_and_options.)
    let mut long = [0u8; 16];
    long[12] = 1;
    let e = fd
        .invalidate_raw(nested, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, &long, 16, 1)
        .unwrap_err();
    assert_eq!(
        e,
        Error::Invalidation {
            errno: rustix::io::Errno::INVAL,
            refused: Some(0),
            completed: 0,
            requested: 1
        }
    );
    // Too little data for entry_len * count is the crate's refusal.
    let e = fd
        .invalidate_raw(nested, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, &raw, 8, 2)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CrateValidation);
    // A paging HWPT is neither a nested HWPT nor a vIOMMU. Kernels with vIOMMUs
    // (6.13 on) look the id up as any object and refuse its type (EINVAL); older
    // ones look it up as a nested HWPT and find none (ENOENT).
    let e = fd.invalidate(parent, &[entry(0)]).unwrap_err();
    let want = if fd.supports(iommufd::Feature::VIommu) {
        rustix::io::Errno::INVAL
    } else {
        rustix::io::Errno::NOENT
    };
    assert_eq!(e.errno(), Some(want));
    fd.destroy(nested).unwrap();
    fd.destroy(parent).unwrap();
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn pasid_attach_replace_detach_through_the_mock() {
    let fd = open();
    let ioas = fd.alloc_ioas().unwrap();
    if !needs_mock_pasid(&fd, ioas) {
        return;
    }
    let dev = MockDevice::with_flags(&fd, ioas, MockDeviceFlags::PASID).unwrap();
    let a = fd
        .alloc_hwpt(&HwptAlloc::paging(dev.dev_id(), ioas).pasid())
        .unwrap();
    let b = fd
        .alloc_hwpt(&HwptAlloc::paging(dev.dev_id(), ioas).pasid())
        .unwrap();
    dev.check_pasid_hwpt(7, None).unwrap();
    // PASIDs need the RID itself on a PASID-compatible domain.
    assert_kind(
        dev.attach_pasid(7, PtId::Hwpt(a)),
        ErrorKind::InvalidArgument,
    );
    let rid = fd
        .alloc_hwpt(&HwptAlloc::paging(dev.dev_id(), ioas).pasid())
        .unwrap();
    dev.attach(PtId::Hwpt(rid)).unwrap();
    assert_eq!(dev.attach_pasid(7, PtId::Hwpt(a)).unwrap(), a);
    dev.check_pasid_hwpt(7, Some(a)).unwrap();
    assert!(
        dev.check_pasid_hwpt(7, Some(b)).is_err(),
        "the mock must see the real attachment"
    );
    assert_eq!(dev.attach_pasid(7, PtId::Hwpt(b)).unwrap(), b);
    dev.check_pasid_hwpt(7, Some(b)).unwrap();
    dev.detach_pasid(7).unwrap();
    dev.check_pasid_hwpt(7, None).unwrap();
    dev.attach(PtId::Ioas(ioas)).unwrap();
    fd.destroy(rid).unwrap();
    fd.destroy(a).unwrap();
    fd.destroy(b).unwrap();
}
