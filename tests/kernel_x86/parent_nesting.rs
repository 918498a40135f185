// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The VT-d-shaped lifecycle (nested HWPTs on the stage 2, no vIOMMU) against the
//! mock IOMMU, whose nested-on-parent path is that shape: attach, install,
//! invalidate with partial failure, reinstall, uninstall, unbind, every drop order
//! and fail-nth at every step, each checked through the kernel.

use crate::common::*;
use crate::fail_nth::sweep;
use iommufd::arch::{Selftest, selftest::stage1};
use iommufd::mock::{MockChecks, MockDevice, MockDeviceFlags};
use iommufd::states::{IoasReady, S2Allocated, S2Attached, S2DeviceState, S2Nested, S2Options};
use iommufd::uapi::*;
use iommufd::{Error, ErrorKind, HwptId, IommuFd};
use std::sync::Arc;

type Attached = S2Attached<Selftest, MockDevice>;

fn attached() -> (Arc<IommuFd>, IoasReady, S2Allocated, Attached) {
    let fd = open();
    let ioas = IoasReady::new(&fd).unwrap();
    let dev = MockDevice::new(&fd, ioas.id()).unwrap();
    let s2 = ioas.alloc_nest_parent(&dev).unwrap();
    let attached = s2.attach(dev).map_err(|e| e.into_parts().1).unwrap();
    (fd, ioas, s2, attached)
}

#[track_caller]
fn assert_attached(fd: &IommuFd, hwpt: HwptId) {
    assert_kind(fd.destroy(hwpt), ErrorKind::Busy);
}

fn entry(iotlb_id: u32) -> IommuHwptInvalidateSelftest {
    IommuHwptInvalidateSelftest { flags: 0, iotlb_id }
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn the_s2_path_installs_invalidates_reinstalls_and_gives_the_device_back() {
    let (fd, ioas, s2, attached) = attached();
    // The device is on the stage 2 alone, which the kernel now refuses to destroy.
    assert_attached(&fd, s2.id());
    let (info, header) = attached.hw_info().unwrap();
    assert_eq!(header.data_type, IOMMU_HW_INFO_TYPE_SELFTEST);
    assert_eq!(info.test_reg, IOMMU_HW_INFO_SELFTEST_REGVAL);

    let nested: S2Nested<Selftest, MockDevice> = attached
        .install(&stage1(0x1111))
        .map_err(|e| e.into_parts().1)
        .unwrap();
    let first = nested.stage1_hwpt().unwrap();
    assert_attached(&fd, first);
    assert_eq!(nested.s2().id(), s2.id());
    for i in 0..=MOCK_NESTED_DOMAIN_IOTLB_ID_MAX {
        fd.check_iotlb(first, i, 0x1111).unwrap();
    }

    nested.invalidate(&[entry(1), entry(3)]).unwrap();
    fd.check_iotlb(first, 0, 0x1111).unwrap();
    fd.check_iotlb(first, 1, 0).unwrap();
    fd.check_iotlb(first, 3, 0).unwrap();
    // The mock refuses entry 1 of 3: entry 0 took effect, entry 2 did not run.
    let e = nested
        .invalidate(&[
            entry(0),
            entry(MOCK_NESTED_DOMAIN_IOTLB_ID_MAX + 1),
            entry(2),
        ])
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
    assert_eq!(e.refused_entry(), Some(1));
    fd.check_iotlb(first, 0, 0).unwrap();
    fd.check_iotlb(first, 2, 0x1111).unwrap();
    // An empty array is a successful no-op.
    nested.invalidate(&[]).unwrap();

    let nested = nested
        .reinstall(&stage1(0x2222))
        .map_err(|e| e.into_parts().1)
        .unwrap();
    let second = nested.stage1_hwpt().unwrap();
    assert_ne!(second, first);
    assert_kind(fd.destroy(first), ErrorKind::NotFound);
    assert_eq!(nested.stage1(), &stage1(0x2222));
    fd.check_iotlb(second, 2, 0x2222).unwrap();

    // The guest turns translation off: back on the stage 2, the nested HWPT gone.
    let attached = nested.uninstall().map_err(|e| e.into_parts().1).unwrap();
    assert_kind(fd.destroy(second), ErrorKind::NotFound);
    assert_attached(&fd, s2.id());
    // With no nested HWPT there is nothing to invalidate: the crate says so.
    let nested = attached
        .install(&stage1(0x3333))
        .map_err(|e| e.into_parts().1)
        .unwrap();
    let third = nested.stage1_hwpt().unwrap();
    let dev = nested.unbind().map_err(|e| e.into_parts().1).unwrap();
    assert_kind(fd.destroy(third), ErrorKind::NotFound);
    // The device came back on the stage 2; once it goes, everything can.
    assert_attached(&fd, s2.id());
    drop(dev);
    s2.try_destroy().map_err(|e| e.into_parts().1).unwrap();
    ioas.try_destroy().map_err(|e| e.into_parts().1).unwrap();
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn every_drop_order_of_the_s2_path_leaves_nothing_behind() {
    for order in [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ] {
        let (fd, ioas, s2, attached) = attached();
        let nested = attached
            .install(&stage1(9))
            .map_err(|e| e.into_parts().1)
            .unwrap();
        let ids = [
            ioas.id().raw(),
            s2.id().raw(),
            nested.stage1_hwpt().unwrap().raw(),
        ];
        let mut owners: [Option<Box<dyn Send>>; 3] = [
            Some(Box::new(ioas)),
            Some(Box::new(s2)),
            Some(Box::new(nested)),
        ];
        for i in order {
            owners[i] = None;
        }
        for id in ids {
            assert_kind(fd.destroy(HwptId::from_raw(id)), ErrorKind::NotFound);
        }
    }
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn failed_s2_transitions_give_back_what_the_caller_had() {
    // attach: either attached, or the device back where it was (on the IOAS).
    let injected = sweep(
        || {
            let fd = open();
            let ioas = IoasReady::new(&fd).unwrap();
            let dev = MockDevice::new(&fd, ioas.id()).unwrap();
            let s2 = ioas.alloc_nest_parent(&dev).unwrap();
            (fd, ioas, s2, dev)
        },
        |(fd, ioas, s2, dev)| {
            let r = s2.attach::<Selftest, _>(dev);
            (fd, ioas, s2, r)
        },
        |(fd, _ioas, s2, r), fired| match r {
            Ok(attached) => assert_attached(&fd, attached.s2().id()),
            Err(e) => {
                assert!(fired, "attach failed without injection: {}", e.error());
                let dev = e.into_value();
                // Not on the stage 2: it can go while the device lives.
                let hwpt = dev.initial_hwpt();
                assert_ne!(hwpt, s2.id());
                s2.try_destroy().map_err(|e| e.into_parts().1).unwrap();
            }
        },
    );
    eprintln!("attach swept under fault injection: {injected} failing sites");

    // install: either nested, or still on the stage 2 alone and usable.
    let injected = sweep(
        attached,
        |(fd, ioas, s2, attached)| (fd, ioas, s2, attached.install(&stage1(0x4444))),
        |(fd, ioas, s2, r), fired| {
            match r {
                Ok(nested) => fd
                    .check_iotlb(nested.stage1_hwpt().unwrap(), 0, 0x4444)
                    .unwrap(),
                Err(e) => {
                    assert!(fired, "install failed without injection: {}", e.error());
                    let attached = e.into_value();
                    assert_attached(&fd, s2.id());
                    let nested = attached
                        .install(&stage1(0x5555))
                        .map_err(|e| e.into_parts().1)
                        .unwrap();
                    fd.check_iotlb(nested.stage1_hwpt().unwrap(), 1, 0x5555)
                        .unwrap();
                }
            }
            drop(s2);
            ioas.try_destroy().map_err(|e| e.into_parts().1).unwrap();
        },
    );
    eprintln!("install swept under fault injection: {injected} failing sites");
    assert!(injected > 0);

    // reinstall: either the new HWPT, or the old one still attached with its values.
    let injected = sweep(
        || {
            let (fd, _ioas, _s2, attached) = attached();
            let nested = attached
                .install(&stage1(0x6666))
                .map_err(|e| e.into_parts().1)
                .unwrap();
            (fd, nested)
        },
        |(fd, nested)| {
            let old = nested.stage1_hwpt().unwrap();
            (fd, old, nested.reinstall(&stage1(0x7777)))
        },
        |(fd, old, r), fired| match r {
            Ok(nested) => {
                assert_kind(fd.destroy(old), ErrorKind::NotFound);
                fd.check_iotlb(nested.stage1_hwpt().unwrap(), 0, 0x7777)
                    .unwrap();
            }
            Err(e) => {
                assert!(fired, "reinstall failed without injection: {}", e.error());
                let nested = e.into_value();
                assert_eq!(nested.stage1_hwpt(), Some(old));
                assert_attached(&fd, old);
                fd.check_iotlb(old, 2, 0x6666).unwrap();
            }
        },
    );
    eprintln!("reinstall swept under fault injection: {injected} failing sites");
    assert!(injected > 0);
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn a_dirty_tracked_stage2_reports_what_dma_wrote_under_a_nested_device() {
    let fd = open();
    let ioas = IoasReady::new(&fd).unwrap();
    // One page table entry per 4 KiB page, so the mock dirties exactly what we ask.
    ioas.set_huge_pages(false).unwrap();
    let dev = MockDevice::new(&fd, ioas.id()).unwrap();
    let plain = ioas.alloc_nest_parent(&dev).unwrap();
    assert!(plain.dirty_tracker().is_none());
    drop(plain);
    let s2 = ioas
        .alloc_nest_parent_with(&dev, S2Options::new().dirty_tracking())
        .unwrap();
    let tracker = s2.dirty_tracker().unwrap();
    let page = 4096u64;
    let iova = APERTURE;
    let buf = Buffer::new(64 * page as usize);
    map_buffer(&fd, ioas.id(), &buf, iova);
    // A device translated by the guest's stage 1 on top of the tracked stage 2.
    let nested = s2
        .attach::<Selftest, _>(dev)
        .map_err(|e| e.into_parts().1)
        .unwrap()
        .install(&stage1(1))
        .map_err(|e| e.into_parts().1)
        .unwrap();
    tracker.start().unwrap();
    // Pages 0, 5 and 63 written.
    let marked = mark_dirty(&fd, s2.id(), iova, &[0, 5, 63]);
    assert_eq!(marked, 3, "the mock marks the three pages asked for");
    let want = (1u64 << 0) | (1 << 5) | (1 << 63);
    // Read without clearing, twice the same; then read and clear; then nothing.
    for _ in 0..2 {
        let mut bitmap = [0u64; 1];
        tracker
            .read(iommufd::Iova(iova), 64 * page, page, &mut bitmap)
            .unwrap();
        assert_eq!(bitmap[0], want);
    }
    let mut bitmap = [0u64; 1];
    tracker
        .read_and_clear(iommufd::Iova(iova), 64 * page, page, &mut bitmap)
        .unwrap();
    assert_eq!(bitmap[0], want);
    // Bits already in the buffer stay set (it gathers several logs).
    let mut gathered = [1u64 << 9];
    tracker
        .read_and_clear(iommufd::Iova(iova), 64 * page, page, &mut gathered)
        .unwrap();
    assert_eq!(gathered[0], 1 << 9);
    // A bitmap too small for the range is refused before any syscall.
    let mut small = [0u64; 1];
    match tracker.read(iommufd::Iova(iova), 128 * page, page, &mut small) {
        Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "bitmap"),
        other => panic!("expected a refusal of the bitmap, got {other:?}"),
    }
    tracker.stop().unwrap();
    // The tracker shares the stage 2: it cannot go while the tracker lives.
    let s2 = match s2.try_destroy() {
        Err(e) => e.into_value(),
        Ok(()) => panic!("the stage 2 went while shared"),
    };
    drop((nested, tracker));
    ioas.unmap_all().unwrap();
    s2.try_destroy().map_err(|e| e.into_parts().1).unwrap();
}

fn pasid_attached() -> (Arc<IommuFd>, IoasReady, S2Allocated, Attached) {
    let fd = open();
    let ioas = IoasReady::new(&fd).unwrap();
    let dev = MockDevice::with_flags(&fd, ioas.id(), MockDeviceFlags::PASID).unwrap();
    let s2 = ioas
        .alloc_nest_parent_with(&dev, S2Options::new().pasid())
        .unwrap();
    let attached = s2.attach(dev).map_err(|e| e.into_parts().1).unwrap();
    (fd, ioas, s2, attached)
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn nested_hwpts_per_pasid_attach_replace_invalidate_and_detach() {
    let probe = open();
    if !needs_mock_pasid(&probe, probe.alloc_ioas().unwrap()) {
        return;
    }
    let (fd, _ioas, s2, mut attached) = pasid_attached();
    assert!(s2.options().has_pasid());
    attached.attach_pasid(7, &stage1(0x77)).unwrap();
    let first = attached.pasid_hwpt(7).unwrap();
    attached.device().check_pasid_hwpt(7, Some(first)).unwrap();
    fd.check_iotlb(first, 0, 0x77).unwrap();
    // A new table for the same PASID replaces the old HWPT, which goes.
    attached.attach_pasid(7, &stage1(0x88)).unwrap();
    let second = attached.pasid_hwpt(7).unwrap();
    attached.device().check_pasid_hwpt(7, Some(second)).unwrap();
    assert_kind(fd.destroy(first), ErrorKind::NotFound);
    attached.attach_pasid(9, &stage1(0x99)).unwrap();
    assert_eq!(attached.pasids().collect::<Vec<_>>(), [7, 9]);
    // Invalidations reach the PASID's own HWPT only.
    attached.invalidate_pasid(9, &[entry(2)]).unwrap();
    let ninth = attached.pasid_hwpt(9).unwrap();
    fd.check_iotlb(ninth, 2, 0).unwrap();
    fd.check_iotlb(second, 2, 0x88).unwrap();
    assert_kind(
        attached.invalidate_pasid(5, &[entry(0)]),
        ErrorKind::CrateValidation,
    );

    // The device's own translation changes under its PASIDs.
    let mut nested = attached
        .install(&stage1(0x11))
        .map_err(|e| e.into_parts().1)
        .unwrap();
    attached_check(&nested, &[(7, second), (9, ninth)]);
    nested.detach_pasid(7).unwrap();
    nested.device().check_pasid_hwpt(7, None).unwrap();
    assert_kind(fd.destroy(second), ErrorKind::NotFound);
    // Refused before any syscall, naming the PASID: nothing there, the RID, too wide.
    for (pasid, e) in [
        (7, nested.detach_pasid(7)),
        (0, nested.attach_pasid(0, &stage1(1))),
        (1 << 20, nested.attach_pasid(1 << 20, &stage1(1))),
    ] {
        match e {
            Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "pasid", "{pasid}"),
            other => panic!("pasid {pasid}: expected a refusal, got {other:?}"),
        }
    }
    // Unbinding detaches the rest and destroys their HWPTs.
    let dev = nested.unbind().map_err(|e| e.into_parts().1).unwrap();
    dev.check_pasid_hwpt(9, None).unwrap();
    assert_kind(fd.destroy(ninth), ErrorKind::NotFound);
}

fn attached_check(nested: &S2Nested<Selftest, MockDevice>, want: &[(u32, HwptId)]) {
    for (pasid, hwpt) in want {
        assert_eq!(nested.pasid_hwpt(*pasid), Some(*hwpt));
        nested
            .device()
            .check_pasid_hwpt(*pasid, Some(*hwpt))
            .unwrap();
    }
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn pasid_refusals_and_failures_leave_the_pasids_as_they_were() {
    let probe = open();
    if !needs_mock_pasid(&probe, probe.alloc_ioas().unwrap()) {
        return;
    }
    // A stage 2 without S2Options::pasid: the crate refuses before any syscall.
    let (_fd, _ioas, _s2, mut plain) = attached();
    let e = plain.attach_pasid(3, &stage1(1)).unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }), "{e}");
    assert_eq!(plain.pasids().count(), 0);

    // A device without PASID support: the kernel refuses, nothing changes.
    let fd = open();
    let ioas = IoasReady::new(&fd).unwrap();
    let dev = MockDevice::new(&fd, ioas.id()).unwrap();
    let s2 = ioas
        .alloc_nest_parent_with(&dev, S2Options::new().pasid())
        .unwrap();
    let mut attached = s2
        .attach::<Selftest, _>(dev)
        .map_err(|e| e.into_parts().1)
        .unwrap();
    let e = attached.attach_pasid(3, &stage1(1)).unwrap_err();
    assert!(e.errno().is_some(), "the kernel's refusal: {e}");
    assert_eq!(attached.pasids().count(), 0);

    // Under fault injection, a replace either takes or leaves the old HWPT.
    let injected = sweep(
        || {
            let (fd, ioas, s2, mut attached) = pasid_attached();
            attached.attach_pasid(4, &stage1(0x44)).unwrap();
            (fd, ioas, s2, attached)
        },
        |(fd, ioas, s2, mut attached)| {
            let old = attached.pasid_hwpt(4).unwrap();
            let r = attached.attach_pasid(4, &stage1(0x55));
            (fd, ioas, s2, attached, old, r)
        },
        |(fd, _ioas, _s2, attached, old, r), fired| {
            let now = attached.pasid_hwpt(4).unwrap();
            match r {
                Ok(()) => {
                    assert_kind(fd.destroy(old), ErrorKind::NotFound);
                    fd.check_iotlb(now, 0, 0x55).unwrap();
                }
                Err(e) => {
                    assert!(fired, "attach_pasid failed without injection: {e}");
                    assert_eq!(now, old);
                    fd.check_iotlb(old, 0, 0x44).unwrap();
                }
            }
            attached.device().check_pasid_hwpt(4, Some(now)).unwrap();
        },
    );
    eprintln!("attach_pasid swept under fault injection: {injected} failing sites");
    assert!(injected > 0);
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn the_s2_runtime_holder_follows_the_guest_all_or_nothing() {
    let (fd, _ioas, s2, first_state) = attached();
    let mut device: S2DeviceState<Selftest, MockDevice> = first_state.into();
    assert!(device.stage1().is_none());
    assert_kind(device.invalidate(&[entry(0)]), ErrorKind::NotSupported);
    // Staying on the stage 2 costs nothing.
    device.apply(None).unwrap();
    assert_attached(&fd, s2.id());
    device.apply(Some(stage1(0x21))).unwrap();
    let first = device.stage1_hwpt().unwrap();
    fd.check_iotlb(first, 0, 0x21).unwrap();
    // The same configuration again is a new HWPT: the guest changed its entry.
    device.apply(Some(stage1(0x21))).unwrap();
    let second = device.stage1_hwpt().unwrap();
    assert_ne!(first, second);
    assert_kind(fd.destroy(first), ErrorKind::NotFound);
    device.invalidate(&[entry(1)]).unwrap();
    fd.check_iotlb(second, 1, 0).unwrap();
    device.apply(None).unwrap();
    assert_kind(fd.destroy(second), ErrorKind::NotFound);
    assert_eq!(device.stage1_hwpt(), None);

    // Under fault injection an apply either lands or leaves everything as it was.
    let injected = sweep(
        || {
            let (fd, ioas, s2, state) = attached();
            let mut device: S2DeviceState<Selftest, MockDevice> = state.into();
            device.apply(Some(stage1(0x31))).unwrap();
            (fd, ioas, s2, device)
        },
        |(fd, ioas, s2, mut device)| {
            let old = device.stage1_hwpt().unwrap();
            let r = device.apply(Some(stage1(0x32)));
            (fd, ioas, s2, device, old, r)
        },
        |(fd, _ioas, _s2, device, old, r), fired| match r {
            Ok(()) => {
                assert_eq!(device.stage1(), Some(&stage1(0x32)));
                assert_kind(fd.destroy(old), ErrorKind::NotFound);
            }
            Err(e) => {
                assert!(fired, "apply failed without injection: {e}");
                assert_eq!(device.stage1(), Some(&stage1(0x31)));
                assert_eq!(device.stage1_hwpt(), Some(old));
                assert_attached(&fd, old);
            }
        },
    );
    eprintln!("apply swept under fault injection: {injected} failing sites");
    assert!(injected > 0);

    let dev = device.unbind().map_err(|e| e.into_parts().1).unwrap();
    drop(dev);
    s2.try_destroy().map_err(|e| e.into_parts().1).unwrap();
}
