// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The seccomp lists against a real filter built only from them, on `/dev/null`:
//! every listed request, issued through the crate's own code path, reaches the kernel
//! (ENOTTY), a request the lists leave out is refused (EPERM), and the runtime lists
//! refuse what only boot needs. The same check on the mock IOMMU, with a real Phase 1
//! and Phase 2, is `tests/kernel_x86/seccomp.rs`.

#![allow(unsafe_code)] // map_user on /dev/null, which never maps anything

use crate::seccomp_filter::{self, install, raw_ioctl, run_child, run_scenario};
use iommufd::seccomp::{
    IOCTLS, RUNTIME_IOCTLS, RUNTIME_SYSCALLS, SYSCALLS, Syscall, request_numbers,
};
use iommufd::uapi::{self, IommuViommuArmSmmuv3Invalidate};
use iommufd::vsmmu::{FileGuestMemory, FileRegion, GuestMemory};
use iommufd::{
    Access, DevId, Device, HwptAlloc, HwptId, IoasId, IommuFd, Iova, MapAt, Op, PtId, VIommuId,
    VfioCdev, VfioUnbound,
};
use rustix::fd::{AsFd, AsRawFd, BorrowedFd};
use rustix::io::Errno;
use std::sync::Arc;

/// Every operation, ioctl or not (`Op` is non-exhaustive: keep this in step).
const ALL_OPS: &[Op] = &[
    Op::Open,
    Op::Destroy,
    Op::IoasAlloc,
    Op::IoasIovaRanges,
    Op::IoasAllowIovas,
    Op::IoasMap,
    Op::IoasMapFile,
    Op::IoasCopy,
    Op::IoasUnmap,
    Op::Option,
    Op::VfioIoas,
    Op::HwptAlloc,
    Op::GetHwInfo,
    Op::HwptSetDirtyTracking,
    Op::HwptGetDirtyBitmap,
    Op::HwptInvalidate,
    Op::FaultQueueAlloc,
    Op::VIommuAlloc,
    Op::VDeviceAlloc,
    Op::IoasChangeProcess,
    Op::VEventQueueAlloc,
    Op::HwQueueAlloc,
    Op::VfioDeviceBindIommufd,
    Op::VfioDeviceAttachIommufdPt,
    Op::VfioDeviceDetachIommufdPt,
    Op::QueueRead,
    Op::QueueWrite,
    Op::TestCmd,
    Op::Attach,
];

/// A request no list has: `VFIO_DEVICE_GET_INFO`, which a VMM's VFIO code issues and
/// this crate never does.
const VFIO_DEVICE_GET_INFO: u64 = rustix::ioctl::opcode::none(b';', 100 + 7) as u64;

#[test]
fn the_lists_match_the_uapi_table_and_each_op_names_its_request() {
    let table: Vec<(&str, u64)> = IOCTLS
        .iter()
        .map(|op| (op.name(), op.request().unwrap() as u64))
        .collect();
    assert_eq!(
        table,
        uapi::IOCTL_REQUESTS,
        "IOCTLS is IOCTL_REQUESTS, in order"
    );
    for op in ALL_OPS {
        let listed = IOCTLS.contains(op);
        match op.request() {
            Some(_) => assert!(listed || *op == Op::TestCmd, "{op} is missing from IOCTLS"),
            None => assert!(!listed, "{op} is no ioctl"),
        }
    }
    assert!(RUNTIME_IOCTLS.iter().all(|op| IOCTLS.contains(op)));
    assert!(RUNTIME_SYSCALLS.iter().all(|s| SYSCALLS.contains(s)));
    assert!(!RUNTIME_IOCTLS.contains(&Op::IoasAlloc));
    assert!(!RUNTIME_SYSCALLS.contains(&Syscall::Open));
    assert!(!RUNTIME_SYSCALLS.contains(&Syscall::Openat));
    assert_eq!(VFIO_DEVICE_GET_INFO, 0x3b6b);
    #[cfg(feature = "mock")]
    assert_eq!(Op::TestCmd.request(), Some(uapi::IOMMU_TEST_CMD));
    assert_eq!(
        request_numbers(&[Op::QueueRead, Op::Destroy]).collect::<Vec<_>>(),
        [uapi::IOMMU_DESTROY as u64]
    );
}

#[test]
fn syscall_numbers_are_libcs() {
    let expected = [
        (Syscall::Ioctl, Some(libc::SYS_ioctl)),
        #[cfg(target_arch = "x86_64")]
        (Syscall::Open, Some(libc::SYS_open)),
        #[cfg(target_arch = "aarch64")]
        (Syscall::Open, None),
        (Syscall::Openat, Some(libc::SYS_openat)),
        (Syscall::Read, Some(libc::SYS_read)),
        (Syscall::Write, Some(libc::SYS_write)),
        (Syscall::Close, Some(libc::SYS_close)),
        (Syscall::Futex, Some(libc::SYS_futex)),
        (Syscall::Pread64, Some(libc::SYS_pread64)),
        (Syscall::Pwrite64, Some(libc::SYS_pwrite64)),
        (Syscall::Fstat, Some(libc::SYS_fstat)),
    ];
    assert_eq!(expected.len(), SYSCALLS.len());
    for (call, nr) in expected {
        assert!(SYSCALLS.contains(&call));
        assert_eq!(call.number(), nr, "{}", call.name());
    }
}

/// Issues `op`'s request through the crate's own code path on `/dev/null` fds (an
/// iommufd and a device) and returns the errno the call failed with.
fn issue(op: Op, fd: &Arc<IommuFd>, dev: BorrowedFd<'_>) -> Option<Errno> {
    let ioas = IoasId::from_raw(1);
    let hwpt = HwptId::from_raw(2);
    let viommu = VIommuId::from_raw(3);
    let dev_id = DevId::from_raw(4);
    let page = vec![0u8; 4096];
    let e = match op {
        Op::Destroy => fd.destroy(ioas).err(),
        Op::IoasAlloc => fd.alloc_ioas().err(),
        Op::IoasIovaRanges => fd.iova_ranges(ioas).err(),
        Op::IoasAllowIovas => fd.allow_iovas(ioas, &[]).err(),
        Op::IoasMap => {
            // SAFETY: /dev/null maps nothing; the page outlives the call anyway.
            unsafe { fd.map_user(ioas, page.as_ptr(), 4096, MapAt::AnyFree, Access::READ) }.err()
        }
        Op::IoasMapFile => fd
            .map_file(ioas, dev, 0, 4096, MapAt::AnyFree, Access::READ)
            .err(),
        Op::IoasCopy => fd
            .copy(ioas, MapAt::AnyFree, ioas, Iova(0), 4096, Access::READ)
            .err(),
        Op::IoasUnmap => fd.unmap(ioas, Iova(0), 4096).err(),
        Op::Option => fd.rlimit_mode().err(),
        Op::VfioIoas => fd.vfio_compat_ioas().err(),
        Op::HwptAlloc => fd.alloc_hwpt(&HwptAlloc::paging(dev_id, ioas)).err(),
        Op::GetHwInfo => fd.hw_info_raw(dev_id, None, &mut [0; 64]).err(),
        Op::HwptSetDirtyTracking => fd.set_dirty_tracking(hwpt, true).err(),
        Op::HwptGetDirtyBitmap => fd
            .dirty_bitmap(hwpt, Iova(0), 64 * 4096, 4096, &mut [0], false)
            .err(),
        Op::HwptInvalidate => fd
            .invalidate(viommu, &[IommuViommuArmSmmuv3Invalidate::default()])
            .err(),
        Op::FaultQueueAlloc => fd.alloc_fault_queue().err(),
        Op::VIommuAlloc => fd
            .alloc_viommu_raw(uapi::IOMMU_VIOMMU_TYPE_ARM_SMMUV3, dev_id, hwpt, &mut [])
            .err(),
        Op::VDeviceAlloc => fd.alloc_vdevice(viommu, dev_id, 0x42).err(),
        Op::IoasChangeProcess => fd.change_process().err(),
        Op::VEventQueueAlloc => fd
            .alloc_vevent_queue(viommu, uapi::IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, 8)
            .err(),
        Op::HwQueueAlloc => fd
            .alloc_hw_queue(
                viommu,
                uapi::IOMMU_HW_QUEUE_TYPE_TEGRA241_CMDQV,
                0,
                0x1000,
                0x1000,
            )
            .err(),
        Op::VfioDeviceBindIommufd => VfioCdev::bind(dev, fd).err().map(|e| *e.error()),
        Op::VfioDeviceAttachIommufdPt => VfioCdev::from_bound(dev, dev_id, fd)
            .attach(PtId::Ioas(ioas))
            .err(),
        Op::VfioDeviceDetachIommufdPt => VfioCdev::from_bound(dev, dev_id, fd).detach().err(),
        #[cfg(feature = "mock")]
        Op::TestCmd => iommufd::mock::MockDevice::new(fd, ioas).err(),
        other => panic!("{other} has no code path here"),
    };
    match e {
        Some(e) => {
            assert_eq!(e.op(), op, "{e}");
            e.errno()
        }
        None => None,
    }
}

/// The mock's command is allowed where the crate is built with the mock.
fn mock_requests() -> Vec<u64> {
    if cfg!(feature = "mock") {
        request_numbers(&[Op::TestCmd]).collect()
    } else {
        Vec::new()
    }
}

fn full_filter() {
    let requests: Vec<u64> = request_numbers(IOCTLS).chain(mock_requests()).collect();
    install(SYSCALLS, &requests).unwrap();
}

/// An invalidation entry longer than 4 KiB makes the crate compare it with the page
/// size before the syscall: that must take no system call (no prctl, no
/// /proc/self/auxv, which the runtime filter refuses), whatever the filter.
fn long_entry_is_checked_without_a_syscall(fd: &IommuFd) {
    let data = vec![0u8; 8192];
    let e = fd
        .invalidate_raw(
            VIommuId::from_raw(3),
            uapi::IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3,
            &data,
            8192,
            1,
        )
        .unwrap_err();
    // SAFETY: sysconf takes an integer; glibc answers from the aux vector.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if page_size < 8192 {
        assert!(
            matches!(
                e,
                iommufd::Error::InvalidInput {
                    field: "entry_len",
                    ..
                }
            ),
            "{e}"
        );
    } else {
        assert_eq!(e.errno(), Some(Errno::NOTTY), "{e}");
    }
}

fn full_scenario() {
    full_filter();
    // Opening goes through the filter too (open or openat).
    let fd = Arc::new(IommuFd::open_path("/dev/null").unwrap());
    let dev = VfioUnbound::open("/dev/null").unwrap();
    for &op in IOCTLS {
        assert_eq!(issue(op, &fd, dev.as_fd()), Some(Errno::NOTTY), "{op}");
        let request = op.request().unwrap() as u64;
        assert_eq!(raw_ioctl(fd.as_fd(), request), Some(Errno::NOTTY), "{op}");
    }
    #[cfg(feature = "mock")]
    assert_eq!(issue(Op::TestCmd, &fd, dev.as_fd()), Some(Errno::NOTTY));
    #[cfg(not(feature = "mock"))]
    assert_eq!(
        raw_ioctl(fd.as_fd(), request_numbers(&[Op::TestCmd]).next().unwrap()),
        Some(Errno::PERM),
        "the mock's command is listed only with the mock"
    );
    // Left out: refused before any driver sees them.
    for request in [
        VFIO_DEVICE_GET_INFO,
        uapi::IOMMU_IOAS_NOIOMMU_GET_PA as u64,
        uapi::IOMMU_DESTROY as u64 | 1 << 32,
    ] {
        assert_eq!(
            raw_ioctl(fd.as_fd(), request),
            Some(Errno::PERM),
            "{request:#x}"
        );
    }
    // The other listed calls: read, write, close.
    let mut buf = [0u8; 16];
    assert_eq!(rustix::io::read(dev.as_fd(), &mut buf), Ok(0));
    assert_eq!(rustix::io::write(dev.as_fd(), &buf), Ok(16));
    long_entry_is_checked_without_a_syscall(&fd);
    drop(dev);
    drop(fd);
    // A call no list has.
    // SAFETY: getppid takes nothing and cannot fail, unless the filter refuses it.
    assert_eq!(unsafe { libc::syscall(libc::SYS_getppid) }, -1);
    assert_eq!(
        std::io::Error::last_os_error().raw_os_error(),
        Some(libc::ENOSYS),
        "getppid is on no list"
    );
}

fn runtime_scenario() {
    // Guest RAM is the VMM's own (memfd_create and ftruncate are on no list of the
    // crate's); the vSMMU reads and writes it at run time.
    let ram = rustix::fs::memfd_create("guest-ram", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
    rustix::fs::ftruncate(&ram, 4096).unwrap();
    let memory = FileGuestMemory::new([FileRegion::new(ram, 0x1000, 4096, 0)]).unwrap();
    full_filter();
    // Boot: the fds are opened before the runtime filter.
    let fd = Arc::new(IommuFd::open_path("/dev/null").unwrap());
    let dev = VfioUnbound::open("/dev/null").unwrap();
    let requests: Vec<u64> = request_numbers(RUNTIME_IOCTLS).collect();
    install(RUNTIME_SYSCALLS, &requests).unwrap();
    memory.write_u64(0x1ff8, 0x5eed).unwrap();
    assert_eq!(
        memory.read_u64(0x1ff8),
        Ok(0x5eed),
        "pread64 and pwrite64 are listed"
    );
    for &op in IOCTLS {
        let want = if RUNTIME_IOCTLS.contains(&op) {
            Errno::NOTTY
        } else {
            Errno::PERM
        };
        assert_eq!(issue(op, &fd, dev.as_fd()), Some(want), "{op}");
    }
    assert_eq!(
        fd.alloc_ioas().unwrap_err().errno(),
        Some(Errno::PERM),
        "IOAS_ALLOC is boot only"
    );
    // Opening is boot only.
    let e = IommuFd::open_path("/dev/null").unwrap_err();
    assert_eq!((e.op(), e.errno()), (Op::Open, Some(Errno::NOSYS)), "{e}");
    let mut buf = [0u8; 16];
    assert_eq!(rustix::io::read(dev.as_fd(), &mut buf), Ok(0));
    long_entry_is_checked_without_a_syscall(&fd);
    drop(dev);
    drop(fd);
}

#[test]
fn a_filter_built_from_the_lists_passes_every_listed_request_and_no_other() {
    run_child(&entry(), "full");
}

#[test]
fn the_runtime_filter_refuses_what_only_boot_needs() {
    run_child(&entry(), "runtime");
}

fn entry() -> String {
    seccomp_filter::entry_name(module_path!(), "child_process_entry")
}

/// Runs a scenario when the test binary is started again by `run_child`.
#[test]
#[ignore = "the seccomp tests' child process: they start it with a scenario"]
fn child_process_entry() {
    let Some(scenario) = seccomp_filter::scenario() else {
        panic!("started without a scenario: the seccomp tests start this, not a test run");
    };
    run_scenario(&scenario.clone(), move || match scenario.as_str() {
        "full" => full_scenario(),
        "runtime" => runtime_scenario(),
        other => panic!("unknown scenario {other}"),
    })
}

#[test]
fn a_borrowed_device_closes_nothing_and_says_what_failed() {
    let fd = Arc::new(IommuFd::open_path("/dev/null").unwrap());
    let null = std::fs::File::open("/dev/null").unwrap();
    // Binding something that is no VFIO device: the fd comes back with the error.
    let e = VfioCdev::bind(null.as_fd(), &fd).unwrap_err();
    assert_eq!(e.error().op(), Op::VfioDeviceBindIommufd);
    assert_eq!(e.error().errno(), Some(Errno::NOTTY));
    let back = e.into_value();
    let e = VfioCdev::bind_with_token(back, &fd, &[7; 16]).unwrap_err();
    assert_eq!(e.error().errno(), Some(Errno::NOTTY));

    // An already bound device by its id: no command until it is used.
    let dev = VfioCdev::from_bound(&null, DevId::from_raw(9), &fd);
    assert_eq!(dev.dev_id(), DevId::from_raw(9));
    assert!(Arc::ptr_eq(dev.iommufd(), &fd));
    assert_eq!(dev.as_fd().as_raw_fd(), null.as_raw_fd());
    let debug = format!("{dev:?}");
    assert!(
        debug.contains("VfioCdev") && debug.contains("dev_id"),
        "{debug}"
    );
    let e = dev.attach(PtId::Ioas(IoasId::from_raw(1))).unwrap_err();
    assert_eq!(
        (e.op(), e.errno()),
        (Op::VfioDeviceAttachIommufdPt, Some(Errno::NOTTY))
    );
    let e = dev.detach().unwrap_err();
    assert_eq!(
        (e.op(), e.errno()),
        (Op::VfioDeviceDetachIommufdPt, Some(Errno::NOTTY))
    );
    let e = dev
        .attach_pasid(1, PtId::Ioas(IoasId::from_raw(1)))
        .unwrap_err();
    assert_eq!(e.op(), Op::VfioDeviceAttachIommufdPt);
    let e = dev.detach_pasid(1).unwrap_err();
    assert_eq!(e.op(), Op::VfioDeviceDetachIommufdPt);
    assert!(std::ptr::eq(*dev.get_ref(), &null));
    drop(dev);
    // The fd is still open: it still reads.
    let mut buf = [0u8; 4];
    assert_eq!(rustix::io::read(&null, &mut buf), Ok(0));

    // Shared ownership: dropping the crate's handle leaves the VMM's open.
    let shared = Arc::new(std::fs::File::open("/dev/null").unwrap());
    let dev = VfioCdev::from_bound(Arc::clone(&shared), DevId::from_raw(1), &fd);
    let back = dev.into_inner();
    assert!(Arc::ptr_eq(&back, &shared));
    drop(back);
    assert_eq!(rustix::io::read(&*shared, &mut buf), Ok(0));
    assert_eq!(fd.pending_destroys(), 0);
}
