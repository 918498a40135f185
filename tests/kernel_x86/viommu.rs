// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! VIOMMU_ALLOC, VDEVICE_ALLOC, HW_QUEUE_ALLOC and HWPT_INVALIDATE on a vIOMMU.

use crate::common::*;
use iommufd::Feature;
use iommufd::mock::{MockChecks, MockDevice};
use iommufd::uapi::*;
use iommufd::{Device, Error, ErrorKind, HwptAlloc, HwptId, IoasId, IommuFd, Iova, PtId, VIommuId};
use std::sync::Arc;

struct Setup {
    fd: Arc<IommuFd>,
    ioas: IoasId,
    dev: MockDevice,
    s2: HwptId,
    viommu: VIommuId,
}

fn viommu_setup() -> Setup {
    let (fd, ioas, dev) = ioas_with_device();
    let s2 = fd
        .alloc_hwpt(&HwptAlloc::paging(dev.dev_id(), ioas).nest_parent())
        .unwrap();
    let mut data = IommuViommuSelftest {
        in_data: 0xabcd,
        ..Default::default()
    };
    let viommu = fd.alloc_viommu(dev.dev_id(), s2, &mut data).unwrap();
    assert_eq!(
        data.out_data, 0xabcd,
        "the mock echoes in_data through the driver data"
    );
    Setup {
        fd,
        ioas,
        dev,
        s2,
        viommu,
    }
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn viommu_alloc_on_a_nest_parent_and_its_failures() {
    if !needs(&[Feature::VIommu, Feature::VDevice]) {
        return;
    }
    let s = viommu_setup();
    // The stage 2 is now referenced by the vIOMMU.
    assert_kind(s.fd.destroy(s.s2), ErrorKind::Busy);
    // Not a nest parent, an unknown type, an unknown device.
    let plain =
        s.fd.alloc_hwpt(&HwptAlloc::paging(s.dev.dev_id(), s.ioas))
            .unwrap();
    let mut data = IommuViommuSelftest::default();
    assert_kind(
        s.fd.alloc_viommu(s.dev.dev_id(), plain, &mut data),
        ErrorKind::InvalidArgument,
    );
    assert_kind(
        s.fd.alloc_viommu_raw(0x4242, s.dev.dev_id(), s.s2, &mut []),
        ErrorKind::NotSupported,
    );
    assert_kind(
        s.fd.alloc_viommu(iommufd::DevId::from_raw(9999), s.s2, &mut data),
        ErrorKind::NotFound,
    );
    s.fd.destroy(s.viommu).unwrap();
    s.fd.destroy(s.s2).unwrap();
    s.fd.destroy(plain).unwrap();
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn vdevice_alloc_and_nested_hwpt_on_the_viommu() {
    if !needs(&[Feature::VIommu, Feature::VDevice]) {
        return;
    }
    let s = viommu_setup();
    let vdev = s.fd.alloc_vdevice(s.viommu, s.dev.dev_id(), 0x42).unwrap();
    // One vDEVICE per device.
    assert_kind(
        s.fd.alloc_vdevice(s.viommu, s.dev.dev_id(), 0x43),
        ErrorKind::AlreadyExists,
    );
    assert_kind(
        s.fd.alloc_vdevice(VIommuId::from_raw(9999), s.dev.dev_id(), 1),
        ErrorKind::NotFound,
    );
    // A nested HWPT on the vIOMMU, attached by replace.
    let data = IommuHwptSelftest {
        iotlb: IOMMU_TEST_IOTLB_DEFAULT,
        pagetable_type: 0,
    };
    let nested =
        s.fd.alloc_hwpt(&HwptAlloc::nested(s.dev.dev_id(), s.viommu, &data))
            .unwrap();
    assert_eq!(s.dev.attach(PtId::Hwpt(nested)).unwrap(), nested);
    assert_kind(s.fd.destroy(s.viommu), ErrorKind::Busy);
    s.dev.attach(PtId::Ioas(s.ioas)).unwrap();
    s.fd.destroy(nested).unwrap();
    assert_kind(s.fd.destroy(s.viommu), ErrorKind::Busy); // the vDEVICE still holds it
    s.fd.destroy(vdev).unwrap();
    s.fd.destroy(s.viommu).unwrap();
    s.fd.destroy(s.s2).unwrap();
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn invalidate_on_a_viommu_clears_device_caches_and_counts_partial_failure() {
    if !needs(&[Feature::VIommu, Feature::VDevice]) {
        return;
    }
    let s = viommu_setup();
    let virt_id = 0x42;
    let vdev =
        s.fd.alloc_vdevice(s.viommu, s.dev.dev_id(), virt_id)
            .unwrap();
    for i in 0..MOCK_DEV_CACHE_NUM {
        s.dev.check_cache(i, IOMMU_TEST_DEV_CACHE_DEFAULT).unwrap();
    }
    let entry = |cache_id| IommuViommuInvalidateSelftest {
        flags: 0,
        vdev_id: virt_id as u32,
        cache_id,
    };
    s.fd.invalidate(s.viommu, &[entry(0), entry(2)]).unwrap();
    s.dev.check_cache(0, 0).unwrap();
    s.dev.check_cache(1, IOMMU_TEST_DEV_CACHE_DEFAULT).unwrap();
    s.dev.check_cache(2, 0).unwrap();
    // Entry 2 of 4 names a cache the device does not have: two handled, then EINVAL.
    let reqs = [
        entry(1),
        entry(3),
        entry(MOCK_DEV_CACHE_ID_MAX + 1),
        entry(1),
    ];
    let e = s.fd.invalidate(s.viommu, &reqs).unwrap_err();
    assert_eq!(
        e,
        Error::Invalidation {
            errno: rustix::io::Errno::INVAL,
            refused: Some(2),
            completed: 0,
            requested: 4
        }
    );
    s.dev.check_cache(1, 0).unwrap();
    s.dev.check_cache(3, 0).unwrap();
    // An unknown virtual id: the first entry fails, nothing handled.
    let stray = IommuViommuInvalidateSelftest {
        flags: 0,
        vdev_id: 0x99,
        cache_id: 0,
    };
    let e = s.fd.invalidate(s.viommu, &[stray]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(
        matches!(
            e,
            Error::Invalidation {
                refused: Some(0),
                ..
            }
        ),
        "{e}"
    );
    // An empty array is a no-op the kernel accepts.
    s.fd.invalidate::<IommuViommuInvalidateSelftest>(s.viommu, &[])
        .unwrap();
    s.fd.destroy(vdev).unwrap();
    s.fd.destroy(s.viommu).unwrap();
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn hw_queue_alloc_owns_its_stage2_pages() {
    if !needs(&[Feature::VIommu, Feature::VDevice, Feature::HwQueue]) {
        return;
    }
    let s = viommu_setup();
    let page = 4096u64;
    let q = IOMMU_HW_QUEUE_TYPE_SELFTEST;
    assert_kind(
        s.fd.alloc_hw_queue(s.viommu, IOMMU_HW_QUEUE_TYPE_DEFAULT, 0, APERTURE, page),
        ErrorKind::NotSupported,
    );
    assert_kind(
        s.fd.alloc_hw_queue(s.viommu, q, 0, APERTURE, 0),
        ErrorKind::CrateValidation,
    );
    assert_kind(
        s.fd.alloc_hw_queue(s.viommu, q, 0, u64::MAX, page),
        ErrorKind::CrateValidation,
    );
    // Nothing mapped at the queue's guest physical address yet.
    assert_kind(
        s.fd.alloc_hw_queue(s.viommu, q, 0, APERTURE, page),
        ErrorKind::NotFound,
    );
    let buf = Buffer::new(2 * page as usize);
    map_buffer(&s.fd, s.ioas, &buf, APERTURE);
    // Queues must be allocated from index 0 up, below the mock's maximum.
    assert_kind(
        s.fd.alloc_hw_queue(s.viommu, q, 1, APERTURE, page),
        ErrorKind::Rejected,
    );
    assert_kind(
        s.fd.alloc_hw_queue(s.viommu, q, IOMMU_TEST_HW_QUEUE_MAX, APERTURE, page),
        ErrorKind::InvalidArgument,
    );
    let q0 = s.fd.alloc_hw_queue(s.viommu, q, 0, APERTURE, page).unwrap();
    assert_kind(
        s.fd.alloc_hw_queue(s.viommu, q, 0, APERTURE, page),
        ErrorKind::AlreadyExists,
    );
    // The queue's page is owned by the hardware now: it cannot be unmapped.
    assert_kind(
        s.fd.unmap(s.ioas, Iova(APERTURE), 2 * page),
        ErrorKind::Busy,
    );
    let q1 =
        s.fd.alloc_hw_queue(s.viommu, q, 1, APERTURE + page / 2, page / 2)
            .unwrap();
    assert_kind(s.fd.destroy(q0), ErrorKind::Busy);
    assert_kind(s.fd.destroy(s.viommu), ErrorKind::Busy);
    s.fd.destroy(q1).unwrap();
    s.fd.destroy(q0).unwrap();
    assert_eq!(s.fd.unmap_all(s.ioas).unwrap(), 2 * page);
    s.fd.destroy(s.viommu).unwrap();
    s.fd.check_refs(buf.bytes(), 0).unwrap();
}

/// Whether `addr` starts a mapping of this process.
fn mapped_at(addr: usize) -> bool {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    maps.lines()
        .filter_map(|l| l.split('-').next())
        .any(|start| usize::from_str_radix(start, 16) == Ok(addr))
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn the_viommu_window_maps_the_driver_pages_and_unmaps_before_the_viommu_goes() {
    if !needs(&[Feature::VIommu]) {
        return;
    }
    use iommufd::arch::Selftest;
    use iommufd::states::IoasReady;
    let fd = open();
    let ioas = IoasReady::new(&fd).unwrap();
    let dev = MockDevice::new(&fd, ioas.id()).unwrap();
    let s2 = ioas.alloc_nest_parent(&dev).unwrap();
    let data = IommuViommuSelftest {
        in_data: 0x5eed_f00d,
        ..Default::default()
    };
    let viommu = s2.alloc_viommu_with::<Selftest>(&dev, data).unwrap();
    let window = viommu.map_window().unwrap();
    // The mock's two pages, the first word echoing in_data.
    assert_eq!(window.len(), 2 * 4096);
    assert_eq!(window.read_u32(0), Some(0x5eed_f00d));
    // Writes reach the driver's memory and read back, at both widths.
    window.write_u32(8, 0x1234_5678).unwrap();
    assert_eq!(window.read_u32(8), Some(0x1234_5678));
    window.write_u64(4096, u64::MAX - 1).unwrap();
    assert_eq!(window.read_u64(4096), Some(u64::MAX - 1));
    // A second mapping of the same window sees the same memory.
    let again = viommu.map_window().unwrap();
    assert_eq!(again.read_u32(8), Some(0x1234_5678));
    assert_ne!(again.as_ptr(), window.as_ptr());
    // Unaligned or outside: refused, nothing touched.
    assert_eq!(window.read_u32(2), None);
    assert_eq!(window.write_u64(4, 0), None);
    assert_eq!(window.read_u32(2 * 4096), None);
    assert_eq!(window.write_u32(2 * 4096 - 2, 0), None);
    // The window holds the vIOMMU: it cannot be destroyed under the mapping.
    let addr = window.as_ptr() as usize;
    assert!(mapped_at(addr));
    drop(again);
    let viommu = match viommu.try_destroy() {
        Err(e) => {
            assert!(matches!(e.error(), Error::StillShared { .. }));
            e.into_value()
        }
        Ok(()) => panic!("the vIOMMU went under its window"),
    };
    drop(window);
    assert!(!mapped_at(addr), "dropping the window unmaps it");
    viommu.try_destroy().map_err(|e| e.into_parts().1).unwrap();
}
