// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The seccomp lists on the mock IOMMU: Phase 1 runs under a filter built only from
//! `iommufd::seccomp::{IOCTLS, SYSCALLS}`, Phase 2 and the teardown under the runtime
//! filter (`RUNTIME_IOCTLS`, `RUNTIME_SYSCALLS`) stacked on it, as a VMM locks down
//! once its guest runs; what the runtime lists leave out is refused (EPERM for an
//! ioctl request, ENOSYS for a system call). The mock's `IOMMU_TEST_CMD` is added to
//! both filters: it is the mock device's stand-in for the VFIO cdev commands (its
//! creation is the bind, its replace the attach) and carries the mock's checks.
//!
//! Needs a kernel with `CONFIG_SECCOMP_FILTER` (`rig/config/x86_64.options`): without
//! it the test fails and says so.

use crate::seccomp_filter::{self, install, raw_ioctl, run_child, run_scenario};
use iommufd::Feature;
use iommufd::arch::{DefaultStage1, Selftest, selftest::stage1};
use iommufd::mock::{MockChecks, MockDevice};
use iommufd::seccomp::{IOCTLS, RUNTIME_IOCTLS, RUNTIME_SYSCALLS, SYSCALLS, request_numbers};
use iommufd::states::{DeviceState, GuestStage1, IoasReady, VEventEntry};
use iommufd::uapi::*;
use iommufd::vsmmu::{FileRegion, GuestMemory, MappedGuestMemory};
use iommufd::{Access, ErrorKind, HwptId, IommuFd, Iova, MapAt, Op};
use rustix::fd::AsFd;
use rustix::io::Errno;
use std::sync::Arc;

const GUEST_RAM: u64 = 4 << 20;
const GUEST_SID: u64 = 0x42;

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU and seccomp: run rig/x86-tier.sh"]
fn phase1_and_phase2_run_under_filters_built_from_the_lists() {
    if !crate::common::needs(&[Feature::VIommu, Feature::VDevice, Feature::VEventQueue]) {
        return;
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    assert!(
        status.lines().any(|l| l.starts_with("Seccomp:")),
        "the kernel has no CONFIG_SECCOMP (no Seccomp: line in /proc/self/status): \
         rebuild the rig's kernel with rig/config/x86_64.options, which lists SECCOMP, \
         SECCOMP_FILTER and NET"
    );
    run_child(
        &seccomp_filter::entry_name(module_path!(), "child_process_entry"),
        "walkthrough",
    );
}

/// Runs the scenario when the test binary is started again by `run_child` (the tier
/// skips it otherwise).
#[test]
#[ignore = "the seccomp tests' child process: they start it with a scenario"]
fn child_process_entry() {
    let Some(scenario) = seccomp_filter::scenario() else {
        panic!("started without a scenario: the seccomp tests start this, not a test run");
    };
    assert_eq!(scenario, "walkthrough");
    run_scenario(&scenario, walkthrough)
}

fn with_test_cmd(ops: &[Op]) -> Vec<u64> {
    request_numbers(ops)
        .chain(request_numbers(&[Op::TestCmd]))
        .collect()
}

#[track_caller]
fn refused(e: iommufd::Error, op: Op) {
    assert_eq!((e.op(), e.errno()), (op, Some(Errno::PERM)), "{e}");
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
}

fn walkthrough() {
    // The VMM's own calls before its filter: guest RAM in a memfd.
    let ram = rustix::fs::memfd_create("guest-ram", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
    rustix::fs::ftruncate(&ram, GUEST_RAM).unwrap();

    // Phase 1, VM boot, under the boot filter.
    install(SYSCALLS, &with_test_cmd(IOCTLS)).unwrap();
    let fd = Arc::new(IommuFd::open().expect("/dev/iommu under the boot filter"));
    let ioas = IoasReady::new(&fd).unwrap();
    ioas.map_file(
        ram.as_fd(),
        0,
        GUEST_RAM,
        MapAt::Fixed(Iova(MOCK_APERTURE_START)),
        Access::READ | Access::WRITE,
    )
    .unwrap();
    let dev = MockDevice::new(&fd, ioas.id()).unwrap();
    let s2 = ioas.alloc_nest_parent(&dev).unwrap();
    let viommu = s2.alloc_viommu::<Selftest>(&dev).unwrap();
    let (info, _) = viommu.hw_info(&dev).unwrap();
    assert_eq!(info.test_reg, IOMMU_HW_INFO_SELFTEST_REGVAL);
    let events = viommu.alloc_vevent_queue(16).unwrap();
    let bound = viommu
        .bind(dev, GUEST_SID)
        .map_err(|e| e.into_parts().1)
        .unwrap();
    let bypass = viommu.default_hwpt(DefaultStage1::Bypass).unwrap();
    // The vSMMU's view of guest RAM, mapped at boot (fstat, mmap).
    let guest = MappedGuestMemory::map([FileRegion::new(ram.as_fd(), 0, GUEST_RAM, 0)]).unwrap();
    // A request of the uAPI the crate does not wrap is on no list.
    assert_eq!(
        raw_ioctl(fd.as_fd(), IOMMU_IOAS_NOIOMMU_GET_PA as u64),
        Some(Errno::PERM)
    );

    // Phase 2, the guest runs: the runtime filter on top.
    install(RUNTIME_SYSCALLS, &with_test_cmd(RUNTIME_IOCTLS)).unwrap();

    // The vSMMU reads and writes guest RAM with no system call.
    guest.write_u64(0x1000, 0x5eed).unwrap();
    let mut word = [0; 8];
    rustix::io::pread(&ram, &mut word, 0x1000).unwrap();
    assert_eq!(
        (u64::from_le_bytes(word), guest.read_u64(0x1000).unwrap()),
        (0x5eed, 0x5eed)
    );

    // A guest STE write: nested HWPT, attach by replace.
    let nested = bound
        .install(&stage1(0x1111))
        .map_err(|e| e.into_parts().1)
        .unwrap();
    let first = nested.stage1_hwpt().unwrap();
    fd.check_iotlb(first, 0, 0x1111).unwrap();

    // Guest invalidations: on the vIOMMU, through a batch, and on the nested HWPT.
    let inv = |cache_id| IommuViommuInvalidateSelftest {
        flags: 0,
        vdev_id: GUEST_SID as u32,
        cache_id,
    };
    viommu.invalidate(&[inv(0), inv(2)]).unwrap();
    nested.device().check_cache(0, 0).unwrap();
    nested
        .device()
        .check_cache(1, IOMMU_TEST_DEV_CACHE_DEFAULT)
        .unwrap();
    let mut batch = viommu.batch::<8>();
    batch.push(0, inv(1)).unwrap();
    batch.flush().unwrap();
    drop(batch);
    nested.device().check_cache(1, 0).unwrap();
    nested
        .invalidate(&[IommuHwptInvalidateSelftest {
            flags: 0,
            iotlb_id: 1,
        }])
        .unwrap();
    fd.check_iotlb(first, 1, 0).unwrap();

    // A fault for the guest: read from the vEVENTQ.
    nested.device().trigger_vevent().unwrap();
    let mut buf = [0u8; 256];
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

    // The guest rewrites its STE, then disables translation; then again through the
    // runtime holder.
    let nested = nested
        .reinstall(&stage1(0x2222))
        .map_err(|e| e.into_parts().1)
        .unwrap();
    let second = nested.stage1_hwpt().unwrap();
    let bound = nested.uninstall().map_err(|e| e.into_parts().1).unwrap();
    for gone in [first, second] {
        assert_eq!(fd.destroy(gone).unwrap_err().kind(), ErrorKind::NotFound);
    }
    let mut state = DeviceState::from(bound);
    state.apply(GuestStage1::Translate(stage1(0x3333))).unwrap();
    state
        .apply(GuestStage1::Default(DefaultStage1::Bypass))
        .unwrap();
    assert_eq!(
        fd.destroy(bypass).unwrap_err().kind(),
        ErrorKind::Busy,
        "back on bypass"
    );

    // What the runtime lists leave out is refused, and changes nothing.
    refused(fd.alloc_ioas().unwrap_err(), Op::IoasAlloc);
    refused(
        viommu.alloc_vevent_queue(4).map(|_| ()).unwrap_err(),
        Op::VEventQueueAlloc,
    );
    refused(
        ioas.map_file(
            ram.as_fd(),
            0,
            4096,
            MapAt::AnyFree,
            Access::READ | Access::WRITE,
        )
        .unwrap_err(),
        Op::IoasMapFile,
    );
    refused(
        fd.hw_info::<IommuTestHwInfo>(viommu.dev_id()).unwrap_err(),
        Op::GetHwInfo,
    );
    let e = IommuFd::open().unwrap_err();
    assert_eq!((e.op(), e.errno()), (Op::Open, Some(Errno::NOSYS)), "{e}");

    // Teardown at run time: destroys and closes only.
    let ids = [
        ioas.id().raw(),
        s2.id().raw(),
        viommu.id().raw(),
        bypass.raw(),
        events.id().raw(),
    ];
    drop(state);
    drop(events);
    viommu.try_destroy().map_err(|e| e.into_parts().1).unwrap();
    s2.try_destroy().map_err(|e| e.into_parts().1).unwrap();
    ioas.try_destroy().map_err(|e| e.into_parts().1).unwrap();
    for id in ids {
        assert_eq!(
            fd.destroy(HwptId::from_raw(id)).unwrap_err().kind(),
            ErrorKind::NotFound,
            "object {id} survived"
        );
    }
    assert_eq!(fd.pending_destroys(), 0);
    drop(fd);
    drop(ram);
}
