// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! What really happened when something fails: an invalidation that failed before
//! any entry is no refusal of one, and whatever holds an object keeps it alive, in
//! any drop order (issue 13). Each test failed on the code before its fix.

#![allow(unsafe_code)] // an unreadable array handed to the kernel, on purpose

use crate::common::*;
use iommufd::Feature;
use iommufd::arch::{DefaultStage1, Selftest};
use iommufd::batch::{BatchError, InvalidationBatch, VIommuIdSink};
use iommufd::mock::{MockChecks, MockDevice};
use iommufd::states::{IoasReady, S2Allocated, VDeviceBound, VIommuAllocated};
use iommufd::uapi::*;
use iommufd::{Access, Error, ErrorKind, HwptId, InvalidateTarget, IommuFd, Iova, MapAt, VIommuId};
use rustix::io::Errno;
use std::sync::Arc;
use zerocopy::IntoBytes;

const VSID: u64 = 0x42;

fn entry(vdev_id: u64, cache_id: u32) -> IommuViommuInvalidateSelftest {
    IommuViommuInvalidateSelftest {
        flags: 0,
        vdev_id: vdev_id as u32,
        cache_id,
    }
}

struct Chain {
    fd: Arc<IommuFd>,
    ioas: IoasReady,
    s2: S2Allocated,
    viommu: VIommuAllocated<Selftest>,
    dev: MockDevice,
}

fn chain() -> Chain {
    let fd = open();
    let ioas = IoasReady::new(&fd).unwrap();
    let dev = MockDevice::new(&fd, ioas.id()).unwrap();
    let s2 = ioas.alloc_nest_parent(&dev).unwrap();
    let viommu = s2.alloc_viommu::<Selftest>(&dev).unwrap();
    Chain {
        fd,
        ioas,
        s2,
        viommu,
        dev,
    }
}

fn bind(viommu: &VIommuAllocated<Selftest>, dev: MockDevice) -> VDeviceBound<Selftest, MockDevice> {
    viommu
        .bind(dev, VSID)
        .map_err(|e| e.into_parts().1)
        .unwrap()
}

/// The call failed as a whole: no entry is named, and a batch reports `Failed`.
#[track_caller]
fn nothing_refused(r: iommufd::Result<()>, errno: Errno) {
    match r {
        Err(e @ Error::Invalidation { refused: None, .. }) => {
            assert_eq!(e.errno(), Some(errno), "{e}");
            assert_eq!(e.refused_entry(), None, "{e}");
        }
        other => panic!("expected {errno:?} with no refused entry, got {other:?}"),
    }
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn an_invalidation_that_fails_before_any_entry_refuses_none() {
    if !needs(&[Feature::VIommu, Feature::VDevice]) {
        return;
    }
    let c = chain();
    let bound = bind(&c.viommu, c.dev);
    let legal = [entry(VSID, 1); 3];
    // A vIOMMU id that names nothing: ENOENT from the object lookup.
    let gone = VIommuId::from_raw(0xfff0);
    nothing_refused(c.fd.invalidate(gone, &legal), Errno::NOENT);
    // ... and the batch says the whole batch failed, not that guest command 7 was
    // illegal.
    let mut batch = InvalidationBatch::<VIommuIdSink<Selftest>, 8>::for_viommu_id(&c.fd, gone);
    for (i, e) in legal.iter().enumerate() {
        batch.push(7 + i as u32, *e).unwrap();
    }
    match batch.flush() {
        Err(BatchError::Failed {
            first_guest_index: 7,
            count: 3,
            error,
        }) => assert_eq!(error.errno(), Some(Errno::NOENT)),
        other => panic!("{other:?}"),
    }
    // A paging HWPT is neither a nested HWPT nor a vIOMMU: the core's EINVAL, the
    // same errno the mock uses to refuse an entry.
    let hwpt_entry = IommuHwptInvalidateSelftest {
        flags: 0,
        iotlb_id: 0,
    };
    nothing_refused(
        c.fd.invalidate(InvalidateTarget::Hwpt(c.s2.id()), &[hwpt_entry]),
        Errno::INVAL,
    );
    // An entry the mock refuses at index 0 (an unknown vdev_id) is still named.
    let e = c
        .viommu
        .invalidate(&[entry(0x99, 0), entry(VSID, 0)])
        .unwrap_err();
    assert_eq!(e.refused_entry(), Some(0), "{e}");
    bound
        .device()
        .check_cache(0, IOMMU_TEST_DEV_CACHE_DEFAULT)
        .unwrap();
    // An array the kernel cannot read (its memfd truncated under the mapping): EFAULT.
    let page = 4096;
    let memfd = rustix::fs::memfd_create("unreadable", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
    rustix::fs::ftruncate(&memfd, page as u64).unwrap();
    // SAFETY: a fresh shared mapping of the memfd, unmapped below; only the kernel
    // reads through it (and fails to, once the file is truncated).
    let ptr = unsafe {
        rustix::mm::mmap(
            std::ptr::null_mut(),
            page,
            rustix::mm::ProtFlags::READ,
            rustix::mm::MapFlags::SHARED,
            &memfd,
            0,
        )
    }
    .unwrap();
    rustix::fs::ftruncate(&memfd, 0).unwrap();
    // SAFETY: the mapping is `page` bytes long; nothing in this process reads it.
    let unreadable: &[IommuViommuInvalidateSelftest] =
        unsafe { std::slice::from_raw_parts(ptr.cast(), 4) };
    nothing_refused(c.viommu.invalidate(unreadable), Errno::FAULT);
    // SAFETY: mapped above, no reference into it is used past this point.
    unsafe { rustix::mm::munmap(ptr, page) }.unwrap();
    // None of the failures above invalidated anything.
    for cache in 0..=MOCK_DEV_CACHE_ID_MAX {
        bound
            .device()
            .check_cache(cache, IOMMU_TEST_DEV_CACHE_DEFAULT)
            .unwrap();
    }
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn the_kernels_own_bounds_refuse_before_any_entry() {
    if !needs(&[Feature::VIommu, Feature::VDevice]) {
        return;
    }
    // The crate refuses these before the syscall (host tests); here the raw
    // command shows the kernel refuses them too, and writes back entry_num 0.
    let c = chain();
    let _bound = bind(&c.viommu, c.dev);
    let t = IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST;
    let e12 = size_of::<IommuViommuInvalidateSelftest>() as u32;
    // Enough legal entries for the longest call below.
    let data = vec![entry(VSID, 1); (1 << 19) + 1];
    let raw = |data_type: u32, entry_len: u32, entry_num: u32| {
        let target = c.viommu.id().raw();
        c.fd.invalidate_unchecked(target, data_type, data.as_bytes(), entry_len, entry_num)
    };
    for (data_type, entry_len, entry_num) in [
        (t, 0, 1),
        (t, 4096 + 1, 1),
        (t, e12, (1 << 19) + 1),
        (IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST_INVALID, e12, 1),
    ] {
        let (r, written) = raw(data_type, entry_len, entry_num);
        assert_kind(r, ErrorKind::InvalidArgument);
        assert_eq!(written, 0, "{data_type:#x} {entry_len} {entry_num}");
    }
    // The same arguments through the crate: refused before the syscall.
    for (data_type, entry_len, count) in [
        (t, 0, 1),
        (t, 4097, 1),
        (IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST_INVALID, e12, 1),
    ] {
        assert_kind(
            c.fd.invalidate_raw(c.viommu.id(), data_type, data.as_bytes(), entry_len, count),
            ErrorKind::CrateValidation,
        );
    }
    assert_kind(
        c.fd.invalidate_raw(c.viommu.id(), t, data.as_bytes(), e12, (1 << 19) + 1),
        ErrorKind::CrateValidation,
    );
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn injected_failures_of_a_split_array_refuse_no_entry() {
    if !needs(&[Feature::VIommu, Feature::VDevice]) {
        return;
    }
    let c = chain();
    let bound = bind(&c.viommu, c.dev);
    // Three full chunks and a bit: four kernel calls.
    let entries = vec![entry(VSID, 1); 3 * iommufd::INVALIDATE_CHUNK + 10];
    let mut failed = 0;
    let hits = crate::fail_nth::sweep(
        || (),
        |()| c.viommu.invalidate(&entries),
        |r, _fired| {
            if let Err(e) = r {
                let Error::Invalidation {
                    refused, completed, ..
                } = e
                else {
                    panic!("{e:?}")
                };
                // Every entry is legal: whatever failed, nothing was refused, and
                // the calls before the failing one are counted.
                assert_eq!(refused, None, "{e}");
                assert_eq!(completed as usize % iommufd::INVALIDATE_CHUNK, 0, "{e}");
                failed += 1;
            }
        },
    );
    assert!(
        hits > 0 && failed > 0,
        "fault injection never failed the call"
    );
    drop(bound);
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn hw_queues_dropped_in_either_order_leave_nothing() {
    if !needs(&[
        Feature::VIommu,
        Feature::VDevice,
        Feature::HwQueue,
        Feature::IoasMapFile,
    ]) {
        return;
    }
    for first_dropped in [0, 1] {
        let c = chain();
        let page = 4096u64;
        let ram = rustix::fs::memfd_create("queues", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
        rustix::fs::ftruncate(&ram, 2 * page).unwrap();
        c.ioas
            .map_file(
                rustix::fd::AsFd::as_fd(&ram),
                0,
                2 * page,
                MapAt::Fixed(Iova(APERTURE)),
                Access::READ | Access::WRITE,
            )
            .unwrap();
        let q0 = c.viommu.alloc_hw_queue(APERTURE, page).unwrap();
        let q1 = q0.alloc_next(APERTURE + page, page).unwrap();
        assert_eq!((q0.index(), q1.index()), (0, 1));
        let ids = [
            q0.id().raw(),
            q1.id().raw(),
            c.viommu.id().raw(),
            c.s2.id().raw(),
            c.ioas.id().raw(),
        ];
        let mut queues = [Some(q0), Some(q1)];
        queues[first_dropped] = None;
        if first_dropped == 0 {
            // Queue 1 holds queue 0: it is still there.
            assert_kind(
                c.fd.destroy(iommufd::HwQueueId::from_raw(ids[0])),
                ErrorKind::Busy,
            );
        }
        let Chain {
            fd,
            ioas,
            s2,
            viommu,
            dev,
        } = c;
        drop((ioas, s2, viommu));
        drop(queues);
        drop(dev);
        for id in ids {
            assert_kind(fd.destroy(HwptId::from_raw(id)), ErrorKind::NotFound);
        }
        assert_eq!(fd.pending_destroys(), 0);
    }
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn an_object_a_device_is_attached_to_goes_with_the_device() {
    let fd = open();
    let buf = Buffer::new(2 * 4096);
    // A device straight on the IOAS (its automatic HWPT holds the IOAS).
    let ioas = IoasReady::new(&fd).unwrap();
    let ioas_id = ioas.id();
    map_buffer(&fd, ioas_id, &buf, APERTURE);
    let dev = MockDevice::new(&fd, ioas_id).unwrap();
    // Pinned once the device's HWPT maps it.
    fd.check_refs(buf.bytes(), 1).unwrap();
    // And a second device straight on a stage 2 of the same IOAS.
    let s2 = ioas.alloc_nest_parent(&dev).unwrap();
    let s2_id = s2.id();
    let on_s2 = MockDevice::new(&fd, s2_id).unwrap();
    drop(s2);
    drop(ioas);
    // Both still exist: the kernel keeps them for their devices.
    assert_eq!(fd.pending_destroys(), 2);
    assert_kind(fd.destroy(ioas_id), ErrorKind::Busy);
    assert_kind(fd.destroy(s2_id), ErrorKind::Busy);
    drop(on_s2);
    assert_kind(fd.destroy(s2_id), ErrorKind::NotFound);
    assert_kind(fd.destroy(ioas_id), ErrorKind::Busy);
    drop(dev);
    assert_kind(fd.destroy(ioas_id), ErrorKind::NotFound);
    assert_eq!(fd.pending_destroys(), 0);
    fd.check_refs(buf.bytes(), 0).unwrap();
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn a_dropped_batch_sends_what_waits() {
    if !needs(&[Feature::VIommu, Feature::VDevice]) {
        return;
    }
    let c = chain();
    let bound = bind(&c.viommu, c.dev);
    {
        let mut batch = c.viommu.batch::<8>();
        batch.push(0, entry(VSID, 1)).unwrap();
        batch.push(1, entry(VSID, 2)).unwrap();
        bound
            .device()
            .check_cache(1, IOMMU_TEST_DEV_CACHE_DEFAULT)
            .unwrap();
    }
    bound.device().check_cache(1, 0).unwrap();
    bound.device().check_cache(2, 0).unwrap();
    bound
        .device()
        .check_cache(0, IOMMU_TEST_DEV_CACHE_DEFAULT)
        .unwrap();
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn a_failed_viommu_try_destroy_gives_everything_back() {
    if !needs(&[Feature::VIommu, Feature::VDevice, Feature::VEventQueue]) {
        return;
    }
    let c = chain();
    // A vEVENTQ made outside the crate holds the vIOMMU.
    let outside =
        c.fd.alloc_vevent_queue(c.viommu.id(), IOMMU_VEVENTQ_TYPE_SELFTEST, 4)
            .unwrap();
    let viommu_id = c.viommu.id();
    let (viommu, e) = c.viommu.try_destroy().unwrap_err().into_parts();
    assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
    assert_eq!(viommu.id(), viommu_id);
    // The mock's one default (bypass) is there and usable: bind puts the device on
    // it, and the kernel accepts the attach.
    assert!(viommu.default_hwpt(DefaultStage1::Bypass).is_some());
    let bound = viommu
        .bind(c.dev, VSID)
        .map_err(|e| e.into_parts().1)
        .unwrap();
    assert_eq!(bound.default_stage1(), DefaultStage1::Bypass);
    let dev = bound.unbind().map_err(|e| e.into_parts().1).unwrap();
    let (veventq, fd) = outside.into_parts();
    drop(fd);
    c.fd.destroy(veventq).unwrap();
    viommu.try_destroy().unwrap();
    drop(dev);
}
