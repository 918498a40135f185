// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Bad input the crate can see is refused before any syscall, naming the field. The
//! iommufd here is `/dev/null`: a call that reached the kernel would fail with ENOTTY
//! instead, so each assertion also proves no syscall was made.

#![allow(unsafe_code)] // map_user is unsafe; these calls never reach the kernel

use iommufd::{
    Access, DevId, Error, HwptAlloc, HwptId, IoasId, IommuFd, Iova, IovaRange, MapAt, VIommuId,
};
use rustix::fd::AsFd;

fn null() -> IommuFd {
    IommuFd::open_path("/dev/null").unwrap()
}

#[track_caller]
fn refused<T: std::fmt::Debug>(r: iommufd::Result<T>, field: &str) {
    match r {
        Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field),
        other => panic!("expected the crate to refuse {field}, got {other:?}"),
    }
}

#[test]
fn mapping_checks_length_access_and_wrap() {
    let fd = null();
    let ioas = IoasId::from_raw(1);
    let file = fd.as_fd();
    refused(
        fd.map_file(ioas, file, 0, 0, MapAt::AnyFree, Access::READ),
        "length",
    );
    refused(
        fd.map_file(ioas, file, 0, 4096, MapAt::AnyFree, Access::empty()),
        "access",
    );
    refused(
        fd.map_file(ioas, file, u64::MAX, 2, MapAt::AnyFree, Access::READ),
        "start",
    );
    refused(
        fd.map_file(
            ioas,
            file,
            0,
            4096,
            MapAt::Fixed(Iova(u64::MAX - 1)),
            Access::READ,
        ),
        "iova",
    );
    let buf = [0u8; 16];
    // SAFETY: refused before the kernel sees the pointer.
    refused(
        unsafe { fd.map_user(ioas, buf.as_ptr(), 0, MapAt::AnyFree, Access::WRITE) },
        "length",
    );
    refused(
        fd.copy(ioas, MapAt::AnyFree, ioas, Iova(0), 0, Access::READ),
        "length",
    );
    refused(
        fd.copy(ioas, MapAt::AnyFree, ioas, Iova(1), 1, Access::empty()),
        "access",
    );
    refused(fd.unmap(ioas, Iova(0), 0), "length");
    refused(fd.unmap(ioas, Iova(u64::MAX), 2), "iova");
    refused(
        fd.allow_iovas(
            ioas,
            &[IovaRange {
                start: Iova(2),
                last: Iova(1),
            }],
        ),
        "ranges",
    );
}

#[test]
fn dirty_bitmap_checks_page_size_alignment_and_room() {
    let fd = null();
    let hwpt = HwptId::from_raw(1);
    let mut bitmap = [0u64; 1];
    refused(
        fd.dirty_bitmap(hwpt, Iova(0), 4096, 3000, &mut bitmap, false),
        "page_size",
    );
    refused(
        fd.dirty_bitmap(hwpt, Iova(0), 4096, 0, &mut bitmap, false),
        "page_size",
    );
    refused(
        fd.dirty_bitmap(hwpt, Iova(0), 0, 4096, &mut bitmap, false),
        "length",
    );
    refused(
        fd.dirty_bitmap(hwpt, Iova(512), 4096, 4096, &mut bitmap, false),
        "iova",
    );
    refused(
        fd.dirty_bitmap(hwpt, Iova(0), 4097, 4096, &mut bitmap, false),
        "length",
    );
    refused(
        fd.dirty_bitmap(hwpt, Iova(0), 65 * 4096, 4096, &mut bitmap, false),
        "bitmap",
    );
    // Exactly 64 pages fit in one u64: that reaches the kernel (ENOTTY here).
    let e = fd
        .dirty_bitmap(hwpt, Iova(0), 64 * 4096, 4096, &mut bitmap, false)
        .unwrap_err();
    assert_eq!(e.errno(), Some(rustix::io::Errno::NOTTY));
}

#[test]
fn queues_and_payloads_are_checked() {
    let fd = null();
    let viommu = VIommuId::from_raw(1);
    refused(fd.alloc_vevent_queue(viommu, 1, 0), "depth");
    refused(fd.alloc_vevent_queue(viommu, 1, (1 << 19) + 1), "depth");
    refused(fd.alloc_hw_queue(viommu, 1, 0, 0, 0), "length");
    refused(fd.alloc_hw_queue(viommu, 1, 0, u64::MAX, 2), "ipa");
    let data = [1u8; 8];
    let req = HwptAlloc::nested_raw(DevId::from_raw(1), IoasId::from_raw(2), 0, &data);
    refused(fd.alloc_hwpt(&req), "data");
    refused(fd.invalidate_raw(viommu, 1, &data, 8, 2), "data");
}

#[test]
fn invalidation_bounds_and_data_types_are_checked_before_the_syscall() {
    use iommufd::uapi::{
        IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3,
    };
    let fd = null();
    let viommu = VIommuId::from_raw(1);
    let hwpt = HwptId::from_raw(2);
    let smmu = IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3;
    let page = rustix::param::page_size();
    let data = vec![0u8; 2 * page];
    // The kernel's bounds: 1 <= entry_len <= PAGE_SIZE, entry_num <= 2^19.
    refused(fd.invalidate_raw(viommu, smmu, &data, 0, 1), "entry_len");
    refused(
        fd.invalidate_raw(viommu, smmu, &data, page as u32 + 1, 1),
        "entry_len",
    );
    refused(
        fd.invalidate_raw(viommu, smmu, &[], 16, (1 << 19) + 1),
        "entry_num",
    );
    // A data type no driver takes on that kind of target: SMMUv3's on a HWPT,
    // VT-d's on a vIOMMU, an unknown one on either.
    refused(fd.invalidate_raw(hwpt, smmu, &data, 16, 1), "data_type");
    refused(
        fd.invalidate_raw(viommu, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, &data, 16, 1),
        "data_type",
    );
    refused(fd.invalidate_raw(viommu, 0x1234, &data, 16, 1), "data_type");
    // At the bounds, and with no entries (entry_len is not looked at), the call
    // reaches the kernel: ENOTTY here, reported as nothing refused.
    for (entry_len, count) in [(page as u32, 1), (1, 1), (0, 0)] {
        let e = fd
            .invalidate_raw(viommu, smmu, &data, entry_len, count)
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::Invalidation {
                    errno: rustix::io::Errno::NOTTY,
                    refused: None,
                    ..
                }
            ),
            "{e:?}"
        );
        assert_eq!(e.refused_entry(), None);
    }
    // VT-d's type on a HWPT reaches the kernel too.
    let e = fd
        .invalidate_raw(hwpt, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, &data, 32, 1)
        .unwrap_err();
    assert_eq!(e.errno(), Some(rustix::io::Errno::NOTTY));
}

#[test]
fn buffers_longer_than_a_32_bit_length_field_are_refused() {
    let fd = null();
    // 4 GiB of address space the test never touches.
    let len = 1usize << 32;
    use rustix::mm::{MapFlags, ProtFlags, mmap_anonymous};
    // SAFETY: a fresh private anonymous mapping, owned by nothing else; it is never
    // unmapped, so the slice stays valid until the process exits.
    let huge = unsafe {
        let flags = MapFlags::PRIVATE | MapFlags::NORESERVE;
        let ptr = mmap_anonymous(std::ptr::null_mut(), len, ProtFlags::READ, flags).unwrap();
        std::slice::from_raw_parts_mut(ptr.cast::<u8>(), len)
    };
    let req = HwptAlloc::nested_raw(DevId::from_raw(1), HwptId::from_raw(2), 3, huge);
    refused(fd.alloc_hwpt(&req), "data");
    refused(fd.hw_info_raw(DevId::from_raw(1), None, huge), "buf");
    refused(
        fd.alloc_viommu_raw(1, DevId::from_raw(1), HwptId::from_raw(2), huge),
        "data",
    );
    // One byte less reaches the kernel (here /dev/null: ENOTTY).
    let fits = &huge[..len - 1];
    let req = HwptAlloc::nested_raw(DevId::from_raw(1), HwptId::from_raw(2), 3, fits);
    assert_eq!(
        fd.alloc_hwpt(&req).unwrap_err().errno(),
        Some(rustix::io::Errno::NOTTY)
    );
}
