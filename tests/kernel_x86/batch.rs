// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The invalidation batch on the mock: one ioctl per flush, errors mapped back to
//! the guest's queue index, and no heap allocation on push, flush or invalidate,
//! on the success path and on the error path.

use crate::alloc_count::allocations;
use iommufd::Feature;
use iommufd::arch::{Selftest, selftest::stage1};
use iommufd::batch::BatchError;
use iommufd::mock::MockDevice;
use iommufd::states::IoasReady;
use iommufd::uapi::*;
use iommufd::{Error, IommuFd};
use std::sync::Arc;

fn entry(vdev_id: u32, cache_id: u32) -> IommuViommuInvalidateSelftest {
    IommuViommuInvalidateSelftest {
        flags: 0,
        vdev_id,
        cache_id,
    }
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn batches_flush_when_full_and_map_errors_to_the_guest_index() {
    if !crate::common::needs(&[Feature::VIommu, Feature::VDevice]) {
        return;
    }
    let fd = Arc::new(IommuFd::open().unwrap());
    let ioas = IoasReady::new(&fd).unwrap();
    let dev = MockDevice::new(&fd, ioas.id()).unwrap();
    let s2 = ioas.alloc_nest_parent(&dev).unwrap();
    let viommu = s2.alloc_viommu::<Selftest>(&dev).unwrap();
    let nested = viommu
        .bind(dev, 0x42)
        .map_err(|e| e.into_parts().1)
        .unwrap()
        .install(&stage1(1))
        .map_err(|e| e.into_parts().1)
        .unwrap();

    // Capacity 2, three entries: the third push flushes the first two.
    let mut batch = viommu.batch::<2>();
    let ((), allocs) = allocations(|| {
        batch.push(10, entry(0x42, 0)).unwrap();
        batch.push(11, entry(0x42, 1)).unwrap();
        batch.push(12, entry(0x42, 2)).unwrap();
    });
    assert_eq!(allocs, 0, "push allocated");
    nested.device().check_cache(0, 0).unwrap();
    nested.device().check_cache(1, 0).unwrap();
    nested
        .device()
        .check_cache(2, IOMMU_TEST_DEV_CACHE_DEFAULT)
        .unwrap();
    assert_eq!(batch.len(), 1);
    let (r, allocs) = allocations(|| batch.flush());
    r.unwrap();
    assert_eq!(allocs, 0, "flush allocated");
    nested.device().check_cache(2, 0).unwrap();

    // The kernel refuses the second of three (no such cache): the guest hears of
    // index 21; the first was sent.
    let mut batch = viommu.batch::<8>();
    let (r, allocs) = allocations(|| {
        batch.push(20, entry(0x42, 3)).unwrap();
        batch
            .push(21, entry(0x42, MOCK_DEV_CACHE_ID_MAX + 1))
            .unwrap();
        batch.push(22, entry(0x42, 3)).unwrap();
        batch.flush()
    });
    assert_eq!(allocs, 0, "the error path allocated");
    match r {
        Err(BatchError::Refused {
            guest_index: 21,
            error: Error::Invalidation {
                refused: Some(1), ..
            },
        }) => {}
        other => panic!("{other:?}"),
    }
    nested.device().check_cache(3, 0).unwrap();
    assert!(batch.is_empty());

    // invalidate() itself, both paths.
    let ok = [entry(0x42, 0); 64];
    let ((), allocs) = allocations(|| viommu.invalidate(&ok).unwrap());
    assert_eq!(allocs, 0);
    let bad = [entry(0x99, 0); 4];
    let (r, allocs) = allocations(|| viommu.invalidate(&bad));
    assert!(r.is_err());
    assert_eq!(allocs, 0);
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn large_arrays_are_split_below_the_drivers_allocation_limit() {
    if !crate::common::needs(&[Feature::VIommu, Feature::VDevice]) {
        return;
    }
    let fd = Arc::new(IommuFd::open().unwrap());
    let ioas = IoasReady::new(&fd).unwrap();
    let dev = MockDevice::new(&fd, ioas.id()).unwrap();
    let s2 = ioas.alloc_nest_parent(&dev).unwrap();
    let viommu = s2.alloc_viommu::<Selftest>(&dev).unwrap();
    let _bound = viommu
        .bind(dev, 0x42)
        .map_err(|e| e.into_parts().1)
        .unwrap();
    // 400,000 entries in one kernel call would exceed the mock's 4 MiB allocation
    // (and WARN); split, they go through.
    let mut many = vec![entry(0x42, 1); 400_000];
    viommu.invalidate(&many).unwrap();
    // A bad entry deep in the third chunk: its absolute index comes back.
    let bad = 2 * iommufd::INVALIDATE_CHUNK + 5;
    many[bad] = entry(0x99, 0);
    match viommu.invalidate(&many) {
        Err(Error::Invalidation {
            refused: Some(h),
            completed,
            requested: 400_000,
            ..
        }) => {
            assert_eq!(h as usize, bad);
            assert_eq!(completed as usize, 2 * iommufd::INVALIDATE_CHUNK);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn an_early_failure_is_not_reported_as_progress() {
    if !crate::common::needs(&[Feature::VIommu, Feature::VDevice]) {
        return;
    }
    let fd = Arc::new(IommuFd::open().unwrap());
    let ioas = IoasReady::new(&fd).unwrap();
    let dev = MockDevice::new(&fd, ioas.id()).unwrap();
    let s2 = ioas.alloc_nest_parent(&dev).unwrap();
    let viommu = s2.alloc_viommu::<Selftest>(&dev).unwrap();
    let _bound = viommu
        .bind(dev, 0x42)
        .map_err(|e| e.into_parts().1)
        .unwrap();
    let entries = [entry(0x42, 1); 8];
    let mut early = 0;
    crate::fail_nth::sweep(
        || (),
        |()| viommu.invalidate(&entries),
        |r, _fired| {
            if let Err(e @ Error::Invalidation { errno, refused, .. }) = r {
                // Whatever failed (an allocation before the driver looked at any
                // entry, the object lookup), no entry was refused: every entry is
                // legal.
                assert_eq!(refused, None, "{e}");
                assert_eq!(e.refused_entry(), None);
                if errno == rustix::io::Errno::NOMEM {
                    early += 1;
                }
            }
        },
    );
    assert!(
        early > 0,
        "fault injection never failed the invalidation early"
    );
}
