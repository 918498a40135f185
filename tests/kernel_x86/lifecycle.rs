// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The typestate lifecycle against the mock IOMMU: Phase 1 and Phase 2, teardown in
//! every drop order, half-way failures (bad input and fail-nth at every step) and
//! failed switches, each checked through the kernel, not the crate's bookkeeping.

use crate::common::*;
use crate::fail_nth::sweep;
use iommufd::Feature;
use iommufd::arch::{DefaultStage1, Selftest, selftest::stage1};
use iommufd::mock::{MockChecks, MockDevice};
use iommufd::states::{
    DeviceState, GuestStage1, IoasReady, Nested, S2Allocated, Typed, VDeviceBound, VEventEntry,
    VIommuAllocated,
};
use iommufd::uapi::*;
use iommufd::{Error, ErrorKind, HwptId, IommuFd, Op};
use std::sync::Arc;

type Bound = VDeviceBound<Selftest, MockDevice>;

struct Phase1 {
    fd: Arc<IommuFd>,
    ioas: IoasReady,
    s2: S2Allocated,
    viommu: VIommuAllocated<Selftest>,
    bound: Bound,
}

fn phase1(virt_id: u64) -> Phase1 {
    let fd = open();
    let ioas = IoasReady::new(&fd).unwrap();
    let dev = MockDevice::new(&fd, ioas.id()).unwrap();
    let s2 = ioas.alloc_nest_parent(&dev).unwrap();
    let viommu = s2.alloc_viommu::<Selftest>(&dev).unwrap();
    let bound = viommu
        .bind(dev, virt_id)
        .map_err(|e| e.into_parts().1)
        .unwrap();
    Phase1 {
        fd,
        ioas,
        s2,
        viommu,
        bound,
    }
}

/// Asserts through the kernel that `hwpt` is attached to something (EBUSY) without
/// changing anything when it is.
#[track_caller]
fn assert_attached(fd: &IommuFd, hwpt: HwptId) {
    assert_kind(fd.destroy(hwpt), ErrorKind::Busy);
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn phase1_then_phase2_install_invalidate_swap_uninstall() {
    if !needs(&[Feature::VIommu, Feature::VDevice, Feature::VEventQueue]) {
        return;
    }
    let Phase1 {
        fd,
        ioas,
        s2,
        viommu,
        bound,
    } = phase1(0x42);
    let bypass = viommu.default_hwpt(DefaultStage1::Bypass).unwrap();
    assert_eq!(
        viommu.default_hwpt(DefaultStage1::Abort),
        None,
        "the mock has no abort stage 1"
    );
    assert_attached(&fd, bypass);
    assert_eq!(bound.default_stage1(), DefaultStage1::Bypass);
    let events = viommu.alloc_vevent_queue(8).unwrap();

    // The guest enables translation: its configuration becomes a nested HWPT.
    let nested = bound
        .install(&stage1(0x1111))
        .map_err(|e| e.into_parts().1)
        .unwrap();
    let first = nested.stage1_hwpt().unwrap();
    for i in 0..MOCK_NESTED_DOMAIN_IOTLB_NUM {
        fd.check_iotlb(first, i, 0x1111).unwrap();
    }
    assert_attached(&fd, first);

    // Events name the guest's id for the device.
    nested.device().trigger_vevent().unwrap();
    let mut buf = [0u8; 64];
    let got: Vec<_> = events.read(&mut buf).unwrap().collect();
    assert!(
        matches!(
            got[..],
            [VEventEntry::Record {
                record: IommuViommuEventSelftest { virt_id: 0x42 },
                ..
            }]
        ),
        "{got:?}"
    );

    // Guest invalidations go through the vIOMMU, one ioctl for the batch.
    let inv = |cache_id| IommuViommuInvalidateSelftest {
        flags: 0,
        vdev_id: 0x42,
        cache_id,
    };
    viommu.invalidate(&[inv(0), inv(3)]).unwrap();
    nested.device().check_cache(0, 0).unwrap();
    nested
        .device()
        .check_cache(1, IOMMU_TEST_DEV_CACHE_DEFAULT)
        .unwrap();
    nested.device().check_cache(3, 0).unwrap();

    // Families with per-HWPT stage-1 caches (VT-d, the mock) invalidate the
    // device's nested HWPT too: entries 1 and 2 of its IOTLB only.
    let hwpt_inv = |iotlb_id| IommuHwptInvalidateSelftest { flags: 0, iotlb_id };
    nested.invalidate(&[hwpt_inv(1), hwpt_inv(2)]).unwrap();
    for (i, want) in [0x1111, 0, 0, 0x1111].into_iter().enumerate() {
        fd.check_iotlb(first, i as u32, want).unwrap();
    }
    // A refused entry says how far the kernel got, as on the vIOMMU.
    let e = nested
        .invalidate(&[hwpt_inv(3), hwpt_inv(MOCK_NESTED_DOMAIN_IOTLB_ID_MAX + 1)])
        .unwrap_err();
    assert!(
        matches!(
            e,
            iommufd::Error::Invalidation {
                refused: Some(1),
                ..
            }
        ),
        "{e:?}"
    );
    fd.check_iotlb(first, 3, 0).unwrap();

    // The guest rewrites its STE: new HWPT, replace, old one destroyed.
    let nested = nested
        .reinstall(&stage1(0x2222))
        .map_err(|e| e.into_parts().1)
        .unwrap();
    let second = nested.stage1_hwpt().unwrap();
    assert_ne!(first, second);
    fd.check_iotlb(second, 0, 0x2222).unwrap();
    assert_kind(fd.destroy(first), ErrorKind::NotFound);

    // The guest disables translation: back to bypass, nested HWPT destroyed.
    let bound = nested.uninstall().map_err(|e| e.into_parts().1).unwrap();
    assert_kind(fd.destroy(second), ErrorKind::NotFound);
    assert_attached(&fd, bypass);

    // Explicit teardown reports each step; children first or it says why not.
    let ioas = match ioas.try_destroy() {
        Err(e) => {
            assert_eq!(e.error().kind(), ErrorKind::Busy);
            e.into_value()
        }
        Ok(()) => panic!("the IOAS must outlive its children"),
    };
    drop(events);
    let dev = bound.unbind().map_err(|e| e.into_parts().1).unwrap();
    viommu.try_destroy().unwrap();
    drop(dev); // the device sat on the stage 2 after unbind
    s2.try_destroy().unwrap();
    ioas.try_destroy().unwrap();
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn every_drop_order_leaves_nothing_behind() {
    if !needs(&[Feature::VIommu, Feature::VDevice, Feature::VEventQueue]) {
        return;
    }
    // Five owners; every one of the 120 orders must leave no object in the kernel.
    let mut orders = Vec::new();
    permutations(&mut [0usize, 1, 2, 3, 4], 0, &mut orders);
    assert_eq!(orders.len(), 120);
    for order in orders {
        let Phase1 {
            fd,
            ioas,
            s2,
            viommu,
            bound,
        } = phase1(7);
        let nested = bound
            .install(&stage1(5))
            .map_err(|e| e.into_parts().1)
            .unwrap();
        let events = viommu.alloc_vevent_queue(4).unwrap();
        let ids = [
            ioas.id().raw(),
            s2.id().raw(),
            viommu.id().raw(),
            nested.stage1_hwpt().unwrap().raw(),
            nested.vdevice_id().raw(),
            viommu.default_hwpt(DefaultStage1::Bypass).unwrap().raw(),
            events.id().raw(),
        ];
        let mut owners: [Option<Box<dyn Send>>; 5] = [
            Some(Box::new(ioas)),
            Some(Box::new(s2)),
            Some(Box::new(viommu)),
            Some(Box::new(nested)),
            Some(Box::new(events)),
        ];
        for i in order {
            owners[i] = None;
        }
        for id in ids {
            // Each object was destroyed by the crate: the kernel no longer knows it.
            assert_kind(
                fd.destroy(iommufd::HwptId::from_raw(id)),
                ErrorKind::NotFound,
            );
        }
    }
}

fn permutations(items: &mut [usize], k: usize, out: &mut Vec<Vec<usize>>) {
    if k == items.len() {
        out.push(items.to_vec());
        return;
    }
    for i in k..items.len() {
        items.swap(k, i);
        permutations(items, k + 1, out);
        items.swap(k, i);
    }
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn bad_input_half_way_returns_the_device_and_leaks_nothing() {
    if !needs(&[Feature::VIommu, Feature::VDevice]) {
        return;
    }
    let Phase1 {
        fd,
        ioas,
        s2,
        viommu,
        bound,
    } = phase1(0x42);
    // A second device under the same guest id: the vDEVICE is refused (EEXIST) and
    // the device comes back untouched.
    let other = MockDevice::new(&fd, ioas.id()).unwrap();
    let initial = other.initial_hwpt();
    let e = viommu.bind(other, 0x42).unwrap_err();
    assert_eq!(e.error().kind(), ErrorKind::AlreadyExists);
    let other = e.into_value();
    assert_attached(&fd, initial);
    // A family the mock does not implement: nothing made.
    assert_kind(
        s2.alloc_viommu::<iommufd::arch::Smmuv3>(&other).map(|_| ()),
        ErrorKind::NotSupported,
    );
    // An abort default the mock family does not have: the device stays on bypass.
    let e = bound.switch_default(DefaultStage1::Abort).unwrap_err();
    assert!(
        matches!(e.error(), iommufd::Error::Unsupported { .. }),
        "the crate's own refusal, not a kernel errno: {}",
        e.error()
    );
    assert_eq!(e.error().kind(), ErrorKind::NotSupported);
    assert_eq!(e.error().errno(), None);
    let bound = e.into_value();
    assert_attached(&fd, viommu.default_hwpt(DefaultStage1::Bypass).unwrap());
    drop((bound, other, viommu, s2));
    ioas.try_destroy().unwrap();
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn phase1_under_fault_injection_destroys_what_it_made() {
    if !needs(&[Feature::VIommu, Feature::VDevice]) {
        return;
    }
    let fd = open();
    let injected = sweep(
        || {
            let ioas = IoasReady::new(&fd).unwrap();
            let dev = MockDevice::new(&fd, ioas.id()).unwrap();
            (ioas, dev)
        },
        |(ioas, dev)| {
            let result = (|| {
                let s2 = ioas.alloc_nest_parent(&dev)?;
                let viommu = s2.alloc_viommu::<Selftest>(&dev)?;
                viommu.bind(dev, 0x42).map_err(|e| e.into_parts().1)
            })();
            (ioas, result)
        },
        |(ioas, result), fired| {
            if !fired {
                assert!(
                    result.is_ok(),
                    "no injection, so Phase 1 must succeed: {result:?}"
                );
            }
            // Whatever failed, once the device is gone nothing references the IOAS.
            drop(result);
            if let Err(e) = ioas.try_destroy() {
                // The device of a failed bind was dropped with the error; a device
                // that got its own failure (mock device teardown) may keep the
                // auto domain: that would be a leak in the crate, so fail.
                panic!(
                    "IOAS still referenced after a failed Phase 1: {}",
                    e.error()
                );
            }
        },
    );
    eprintln!("Phase 1 swept under fault injection: {injected} failing sites");
    assert!(
        injected > 3,
        "fault injection reached only {injected} sites"
    );
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn failed_switches_leave_the_device_where_it_was() {
    if !needs(&[Feature::VIommu, Feature::VDevice]) {
        return;
    }
    // install: under injection, either Nested, or the device still on bypass.
    let injected = sweep(
        || phase1(0x42),
        |p| {
            let Phase1 {
                fd,
                ioas,
                s2,
                viommu,
                bound,
            } = p;
            let r = bound.install(&stage1(0x3333));
            (fd, ioas, s2, viommu, r)
        },
        |(fd, ioas, s2, viommu, r), fired| {
            match r {
                Ok(nested) => {
                    fd.check_iotlb(nested.stage1_hwpt().unwrap(), 0, 0x3333)
                        .unwrap();
                    assert_attached(&fd, nested.stage1_hwpt().unwrap());
                }
                Err(e) => {
                    assert!(fired, "install failed without injection: {}", e.error());
                    let bound = e.into_value();
                    assert_attached(&fd, viommu.default_hwpt(DefaultStage1::Bypass).unwrap());
                    // And it still works once the fault is gone.
                    let nested = bound
                        .install(&stage1(0x4444))
                        .map_err(|e| e.into_parts().1)
                        .unwrap();
                    fd.check_iotlb(nested.stage1_hwpt().unwrap(), 1, 0x4444)
                        .unwrap();
                }
            }
            // Device and HWPTs are gone with the states: nothing references the IOAS.
            drop((viommu, s2));
            ioas.try_destroy().map_err(|e| e.into_parts().1).unwrap();
        },
    );
    eprintln!("install swept under fault injection: {injected} failing sites");
    assert!(injected > 0);

    // reinstall: either the new HWPT, or the old one still attached with its values.
    let setup = || {
        let p = phase1(0x42);
        let nested = p
            .bound
            .install(&stage1(0x5555))
            .map_err(|e| e.into_parts().1)
            .unwrap();
        (p.fd, p.viommu, nested)
    };
    let injected = sweep(
        setup,
        |(fd, viommu, nested): (
            Arc<IommuFd>,
            VIommuAllocated<Selftest>,
            Nested<Selftest, MockDevice>,
        )| {
            let old = nested.stage1_hwpt().unwrap();
            (fd, viommu, old, nested.reinstall(&stage1(0x6666)))
        },
        |(fd, _viommu, old, r), fired| match r {
            Ok(nested) => {
                assert_kind(fd.destroy(old), ErrorKind::NotFound);
                fd.check_iotlb(nested.stage1_hwpt().unwrap(), 0, 0x6666)
                    .unwrap();
            }
            Err(e) => {
                assert!(fired);
                let nested = e.into_value();
                assert_eq!(nested.stage1_hwpt(), Some(old));
                assert_attached(&fd, old);
                fd.check_iotlb(old, 2, 0x5555).unwrap();
            }
        },
    );
    eprintln!("reinstall swept under fault injection: {injected} failing sites");
    assert!(injected > 0);
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn runtime_holder_follows_the_guest() {
    if !needs(&[Feature::VIommu, Feature::VDevice]) {
        return;
    }
    let Phase1 {
        fd, viommu, bound, ..
    } = phase1(0x9);
    let bypass = viommu.default_hwpt(DefaultStage1::Bypass).unwrap();
    let vdevice = bound.vdevice_id();
    let mut state = DeviceState::from(bound);
    assert_eq!((state.virt_id(), state.vdevice_id()), (0x9, vdevice));
    assert_eq!(state.viommu().id(), viommu.id());
    // On a default there is no nested HWPT to invalidate: refused, nothing sent.
    let entry = IommuHwptInvalidateSelftest {
        flags: 0,
        iotlb_id: 0,
    };
    let e = state.invalidate(&[entry]).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Unsupported {
                op: Op::HwptInvalidate,
                ..
            }
        ),
        "{e}"
    );
    let steps = [
        GuestStage1::Translate(stage1(1)),
        GuestStage1::Translate(stage1(2)),
        GuestStage1::Default(DefaultStage1::Bypass),
        GuestStage1::Default(DefaultStage1::Bypass), // already there: nothing sent
        GuestStage1::Translate(stage1(3)),
    ];
    let mut previous = None;
    for step in steps {
        state.apply(step.clone()).unwrap();
        assert_eq!(state.stage1(), &step);
        match &step {
            GuestStage1::Translate(cfg) => {
                let hwpt = state.stage1_hwpt().unwrap();
                assert_attached(&fd, hwpt);
                fd.check_iotlb(hwpt, 0, cfg.iotlb).unwrap();
                // Invalidation reaches this device's own nested HWPT.
                state.invalidate(&[entry]).unwrap();
                fd.check_iotlb(hwpt, 0, 0).unwrap();
            }
            GuestStage1::Default(_) => {
                assert_eq!(state.stage1_hwpt(), None);
                assert_attached(&fd, bypass);
            }
        }
        // The nested HWPT the device left is gone.
        if let Some(old) = previous.filter(|&old| Some(old) != state.stage1_hwpt()) {
            assert_kind(fd.destroy(old), ErrorKind::NotFound);
        }
        previous = state.stage1_hwpt();
    }
    // A default the family lacks: refused by the crate, nothing changed.
    let hwpt = state.stage1_hwpt().unwrap();
    let e = state
        .apply(GuestStage1::Default(DefaultStage1::Abort))
        .unwrap_err();
    assert!(
        matches!(e, Error::Unsupported { op: Op::Attach, .. }),
        "{e}"
    );
    assert_eq!(state.stage1(), &GuestStage1::Translate(stage1(3)));
    assert_eq!(state.stage1_hwpt(), Some(hwpt));
    assert_attached(&fd, hwpt);
    // Back to the typestates and in again: nothing in the kernel moves.
    let Typed::Nested(nested) = state.into_typed() else {
        panic!("on a nested HWPT")
    };
    assert_eq!(
        (nested.stage1_hwpt(), nested.stage1()),
        (Some(hwpt), &stage1(3))
    );
    let state = DeviceState::from(nested);
    // Unplug from nested: the device stays on the stage 2, the rest goes.
    let s2 = viommu.s2().id();
    let dev = state.unbind().map_err(|e| e.into_parts().1).unwrap();
    assert_attached(&fd, s2);
    assert_kind(fd.destroy(hwpt), ErrorKind::NotFound);
    assert_kind(fd.destroy(vdevice), ErrorKind::NotFound);
    drop(dev);
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn drop_never_panics_when_the_kernel_already_destroyed_things() {
    if !needs(&[Feature::VIommu, Feature::VDevice]) {
        return;
    }
    let Phase1 {
        fd,
        ioas,
        s2,
        viommu,
        bound,
    } = phase1(0x1);
    // Destroy the vDEVICE behind the crate's back: its own destroy then meets ENOENT.
    fd.destroy(bound.vdevice_id()).unwrap();
    drop(bound);
    drop((viommu, s2));
    ioas.try_destroy().unwrap();
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn one_viommu_serves_many_devices_and_vcpu_threads() {
    if !needs(&[Feature::VIommu, Feature::VDevice]) {
        return;
    }
    let fd = open();
    let ioas = IoasReady::new(&fd).unwrap();
    let devs: Vec<MockDevice> = (0..3)
        .map(|_| MockDevice::new(&fd, ioas.id()).unwrap())
        .collect();
    let s2 = ioas.alloc_nest_parent(&devs[0]).unwrap();
    let viommu = s2.alloc_viommu::<Selftest>(&devs[0]).unwrap();
    // A second vIOMMU on the same IOAS (in hardware: another SMMU instance) through
    // its own stage 2.
    let s2b = ioas.alloc_nest_parent(&devs[0]).unwrap();
    let viommu_b = s2b.alloc_viommu::<Selftest>(&devs[0]).unwrap();
    assert_ne!(viommu.id(), viommu_b.id());

    let nested: Vec<_> = devs
        .into_iter()
        .enumerate()
        .map(|(i, dev)| {
            let bound = viommu
                .bind(dev, 0x10 + i as u64)
                .map_err(|e| e.into_parts().1)
                .unwrap();
            bound
                .install(&stage1(0x100 + i as u32))
                .map_err(|e| e.into_parts().1)
                .unwrap()
        })
        .collect();
    // Each device got its own stage 1 on the shared vIOMMU.
    for (i, n) in nested.iter().enumerate() {
        fd.check_iotlb(n.stage1_hwpt().unwrap(), 0, 0x100 + i as u32)
            .unwrap();
    }

    // vCPU threads invalidate through &VIommuAllocated at once.
    std::thread::scope(|scope| {
        for (i, n) in nested.iter().enumerate() {
            let viommu = &viommu;
            scope.spawn(move || {
                let virt_id = n.virt_id() as u32;
                for cache_id in 0..MOCK_DEV_CACHE_NUM {
                    viommu
                        .invalidate(&[IommuViommuInvalidateSelftest {
                            flags: 0,
                            vdev_id: virt_id,
                            cache_id,
                        }])
                        .unwrap();
                }
                assert_eq!(virt_id, 0x10 + i as u32);
            });
        }
    });
    for n in &nested {
        for cache_id in 0..MOCK_DEV_CACHE_NUM {
            n.device().check_cache(cache_id, 0).unwrap();
        }
    }
    // The shared vIOMMU outlives any one device; the last one out lets it go.
    let viommu_id = viommu.id();
    drop(viommu);
    drop(s2);
    assert_attached_viommu(&fd, viommu_id);
    drop(nested);
    assert_kind(fd.destroy(viommu_id), ErrorKind::NotFound);
    drop((viommu_b, s2b));
    ioas.try_destroy().unwrap();
}

/// The vIOMMU still exists and is referenced (EBUSY, not ENOENT).
#[track_caller]
fn assert_attached_viommu(fd: &IommuFd, viommu: iommufd::VIommuId) {
    assert_kind(fd.destroy(viommu), ErrorKind::Busy);
}
