// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! IOAS_ALLOC, IOAS_IOVA_RANGES, IOAS_ALLOW_IOVAS, IOAS_MAP, IOAS_MAP_FILE, IOAS_COPY,
//! IOAS_UNMAP.

#![allow(unsafe_code)] // IOAS_MAP of test buffers is unsafe by design

use crate::common::*;
use iommufd::Feature;
use iommufd::mock::{MockChecks, MockDevice};
use iommufd::states::IoasReady;
use iommufd::uapi::{MOCK_APERTURE_LAST, MOCK_APERTURE_START, MOCK_PAGE_SIZE};
use iommufd::{Access, Device, ErrorKind, IoasId, Iova, IovaRange, MapAt, PtId};
use rustix::fd::AsFd;

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn ioas_alloc_gives_distinct_ids() {
    let fd = open();
    let a = fd.alloc_ioas().unwrap();
    let b = fd.alloc_ioas().unwrap();
    assert_ne!(a, b);
    fd.destroy(a).unwrap();
    fd.destroy(b).unwrap();
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn iova_ranges_follow_the_attached_device_and_reserved_regions() {
    let fd = open();
    let ioas = fd.alloc_ioas().unwrap();
    let empty = fd.iova_ranges(ioas).unwrap();
    assert_eq!(
        empty.ranges,
        vec![IovaRange {
            start: Iova(0),
            last: Iova(u64::MAX)
        }]
    );

    let dev = MockDevice::new(&fd, ioas).unwrap();
    let with_dev = fd.iova_ranges(ioas).unwrap();
    assert_eq!(
        with_dev.ranges,
        vec![IovaRange {
            start: Iova(MOCK_APERTURE_START),
            last: Iova(MOCK_APERTURE_LAST)
        }]
    );
    assert_eq!(with_dev.alignment, MOCK_PAGE_SIZE);

    // Reserved holes split the aperture: more ranges than the first call's buffer,
    // so the crate goes through the EMSGSIZE two-call protocol.
    for i in 1..4u64 {
        fd.add_reserved(ioas, MOCK_APERTURE_START + i * 0x10_0000, 0x1000)
            .unwrap();
    }
    let split = fd.iova_ranges(ioas).unwrap();
    assert_eq!(split.ranges.len(), 4);
    assert_eq!(
        split.ranges[0],
        IovaRange {
            start: Iova(MOCK_APERTURE_START),
            last: Iova(MOCK_APERTURE_START + 0x10_0000 - 1)
        }
    );
    assert_eq!(split.ranges[3].last, Iova(MOCK_APERTURE_LAST));
    drop(dev);
    assert_kind(fd.iova_ranges(IoasId::from_raw(9999)), ErrorKind::NotFound);
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn allow_iovas_steers_where_the_kernel_maps() {
    let (fd, ioas, _dev) = ioas_with_device();
    let window = IovaRange {
        start: Iova(0x4000_0000 - 0x10_0000),
        last: Iova(0x4000_0000 - 1),
    };
    fd.allow_iovas(ioas, &[window]).unwrap();
    let buf = Buffer::new(0x4000);
    // SAFETY: buf outlives the mapping (unmapped below).
    let iova =
        unsafe { fd.map_user(ioas, buf.ptr(), 0x4000, MapAt::AnyFree, Access::READ) }.unwrap();
    assert!(
        iova >= window.start && iova.0 + 0x4000 - 1 <= window.last.0,
        "{iova} outside the allowed window"
    );
    fd.unmap(ioas, iova, 0x4000).unwrap();

    // A backwards range is refused before the syscall, naming the field.
    let bad = IovaRange {
        start: Iova(0x2000),
        last: Iova(0x1000),
    };
    let e = fd.allow_iovas(ioas, &[bad]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CrateValidation);
    assert!(e.to_string().contains("ranges"), "{e}");
    // The kernel refuses an allowed range over a reserved region.
    fd.add_reserved(ioas, 0x3000_0000, 0x1000).unwrap();
    let over_reserved = IovaRange {
        start: Iova(0x3000_0000),
        last: Iova(0x3000_0fff),
    };
    assert!(fd.allow_iovas(ioas, &[over_reserved]).is_err());
    assert_kind(
        fd.allow_iovas(IoasId::from_raw(9999), &[window]),
        ErrorKind::NotFound,
    );
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn map_user_pins_and_maps_the_pages() {
    let (fd, ioas, dev) = ioas_with_device();
    let buf = Buffer::new(0x8000);
    let iova = map_buffer(&fd, ioas, &buf, APERTURE);
    assert_eq!(iova, Iova(APERTURE));
    // The mock's page table maps exactly our pages, and each is pinned once.
    fd.check_map(dev.initial_hwpt(), iova, buf.bytes()).unwrap();
    fd.check_refs(buf.bytes(), 1).unwrap();
    // Mapping over an existing mapping is refused.
    let again = Buffer::new(0x1000);
    // SAFETY: `again` outlives the (failing) call.
    let r = unsafe { fd.map_user(ioas, again.ptr(), 0x1000, MapAt::Fixed(iova), Access::READ) };
    assert_kind(r, ErrorKind::AlreadyExists);
    assert_eq!(fd.unmap(ioas, iova, 0x8000).unwrap(), 0x8000);
    fd.check_refs(buf.bytes(), 0).unwrap();
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn map_user_refuses_bad_input_before_the_syscall() {
    let (fd, ioas, _dev) = ioas_with_device();
    let buf = Buffer::new(0x1000);
    // SAFETY: each call fails validation before reaching the kernel.
    let zero =
        unsafe { fd.map_user(ioas, buf.ptr(), 0, MapAt::AnyFree, Access::READ) }.unwrap_err();
    assert_eq!(
        (zero.kind(), zero.to_string().contains("length")),
        (ErrorKind::CrateValidation, true),
        "{zero}"
    );
    // SAFETY: as above.
    let none = unsafe { fd.map_user(ioas, buf.ptr(), 0x1000, MapAt::AnyFree, Access::empty()) }
        .unwrap_err();
    assert!(none.to_string().contains("access"), "{none}");
    // SAFETY: as above.
    let wrap = unsafe {
        fd.map_user(
            ioas,
            buf.ptr(),
            0x1000,
            MapAt::Fixed(Iova(u64::MAX - 10)),
            Access::READ,
        )
    }
    .unwrap_err();
    assert!(wrap.to_string().contains("iova"), "{wrap}");
    // Misaligned for the mock's 2 KiB pages: the kernel says EINVAL.
    // SAFETY: buf outlives the (failing) call.
    let r = unsafe {
        fd.map_user(
            ioas,
            buf.ptr(),
            0x800,
            MapAt::Fixed(Iova(APERTURE + 0x10)),
            Access::READ,
        )
    };
    assert_kind(r, ErrorKind::InvalidArgument);
    // SAFETY: buf outlives the (failing) call.
    let r = unsafe {
        fd.map_user(
            IoasId::from_raw(9999),
            buf.ptr(),
            0x1000,
            MapAt::AnyFree,
            Access::READ,
        )
    };
    assert_kind(r, ErrorKind::NotFound);
}

fn memfd_with_pattern(len: usize) -> (rustix::fd::OwnedFd, Vec<u8>) {
    let memfd = rustix::fs::memfd_create("guest-ram", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
    let data: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
    rustix::io::write(&memfd, &data).unwrap();
    (memfd, data)
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn map_file_maps_a_memfd() {
    if !needs(&[Feature::IoasMapFile]) {
        return;
    }
    let (fd, ioas, dev) = ioas_with_device();
    let (memfd, _) = memfd_with_pattern(0x10000);
    let iova = fd
        .map_file(
            ioas,
            memfd.as_fd(),
            0x4000,
            0x8000,
            MapAt::Fixed(Iova(APERTURE)),
            Access::READ | Access::WRITE,
        )
        .unwrap();
    assert_eq!(iova, Iova(APERTURE));
    // The mock maps the memfd's pages: compare through a shared mapping of the file.
    let len = 0x10000;
    // SAFETY: a fresh shared mapping of the memfd, unmapped below.
    let view = unsafe {
        rustix::mm::mmap(
            std::ptr::null_mut(),
            len,
            rustix::mm::ProtFlags::READ,
            rustix::mm::MapFlags::SHARED,
            &memfd,
            0,
        )
    }
    .unwrap();
    // SAFETY: the mapping is len bytes and alive until munmap.
    let bytes = unsafe { std::slice::from_raw_parts(view.cast::<u8>(), len) };
    fd.check_map(dev.initial_hwpt(), iova, &bytes[0x4000..0xc000])
        .unwrap();
    // SAFETY: the mapping made above.
    unsafe { rustix::mm::munmap(view, len) }.unwrap();
    assert_eq!(fd.unmap_all(ioas).unwrap(), 0x8000);

    // A file range past the end of what is there, or a bad fd, is refused.
    let e = fd
        .map_file(
            ioas,
            memfd.as_fd(),
            u64::MAX - 0x10,
            0x1000,
            MapAt::AnyFree,
            Access::READ,
        )
        .unwrap_err();
    assert!(e.to_string().contains("start"), "{e}");
    let not_a_file = fd.map_file(ioas, fd.as_fd(), 0, 0x1000, MapAt::AnyFree, Access::READ);
    assert!(not_a_file.is_err(), "mapping /dev/iommu itself must fail");
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn copy_maps_the_same_pages_into_another_ioas() {
    let fd = open();
    let src = fd.alloc_ioas().unwrap();
    let dst = fd.alloc_ioas().unwrap();
    let dev = MockDevice::new(&fd, dst).unwrap();
    let buf = Buffer::new(0x4000);
    let src_iova = map_buffer(&fd, src, &buf, 0x1000_0000);
    let dst_iova = fd
        .copy(
            dst,
            MapAt::Fixed(Iova(APERTURE)),
            src,
            src_iova,
            0x4000,
            Access::READ,
        )
        .unwrap();
    assert_eq!(dst_iova, Iova(APERTURE));
    fd.check_map(dev.initial_hwpt(), dst_iova, buf.bytes())
        .unwrap();
    // Copying what the source does not map fails.
    assert_kind(
        fd.copy(
            dst,
            MapAt::AnyFree,
            src,
            Iova(0x2000_0000),
            0x1000,
            Access::READ,
        ),
        ErrorKind::NotFound,
    );
    drop(dev);
    fd.unmap_all(dst).unwrap();
    fd.unmap_all(src).unwrap();
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn unmap_reports_lengths_and_refuses_partial_mappings() {
    let (fd, ioas, _dev) = ioas_with_device();
    let a = Buffer::new(0x4000);
    let b = Buffer::new(0x2000);
    map_buffer(&fd, ioas, &a, APERTURE);
    map_buffer(&fd, ioas, &b, APERTURE + 0x10000);
    // Cutting a mapping in half is refused (ENOENT in the kernel's words).
    assert!(fd.unmap(ioas, Iova(APERTURE), 0x2000).is_err());
    assert_kind(
        fd.unmap(ioas, Iova(APERTURE), 0),
        ErrorKind::CrateValidation,
    );
    assert_eq!(fd.unmap(ioas, Iova(APERTURE), 0x4000).unwrap(), 0x4000);
    assert_kind(fd.unmap(ioas, Iova(APERTURE), 0x4000), ErrorKind::NotFound);
    assert_eq!(fd.unmap_all(ioas).unwrap(), 0x2000);
    assert_eq!(fd.unmap_all(ioas).unwrap(), 0);
    fd.check_refs(a.bytes(), 0).unwrap();
    fd.check_refs(b.bytes(), 0).unwrap();
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn change_process_keeps_mappings() {
    if !needs(&[Feature::IoasMapFile, Feature::IoasChangeProcess]) {
        return;
    }
    let (fd, ioas, dev) = ioas_with_device();
    let (memfd, _) = memfd_with_pattern(0x4000);
    let iova = fd
        .map_file(
            ioas,
            memfd.as_fd(),
            0,
            0x4000,
            MapAt::Fixed(Iova(APERTURE)),
            Access::READ,
        )
        .unwrap();
    fd.change_process().unwrap();
    assert_eq!(dev.attach(PtId::Ioas(ioas)).unwrap(), dev.initial_hwpt());
    assert_eq!(fd.unmap(ioas, iova, 0x4000).unwrap(), 0x4000);
    // Mappings of process memory cannot move to another process: EINVAL.
    let buf = Buffer::new(0x1000);
    map_buffer(&fd, ioas, &buf, APERTURE);
    assert_kind(fd.change_process(), ErrorKind::InvalidArgument);
    fd.unmap_all(ioas).unwrap();
}

#[test]
#[ignore = "needs /dev/iommu with the kernel's mock IOMMU: run rig/x86-tier.sh"]
fn ioas_ready_maps_copies_and_sets_its_options_itself() {
    let fd = open();
    let src = IoasReady::new(&fd).unwrap();
    let dst = IoasReady::new(&fd).unwrap();
    let dev = MockDevice::new(&fd, dst.id()).unwrap();
    let buf = Buffer::new(0x4000);
    // SAFETY: buf outlives the mapping (unmap_all below).
    let src_iova = unsafe {
        src.map_user(
            buf.ptr(),
            0x4000,
            MapAt::Fixed(Iova(0x1000_0000)),
            Access::READ,
        )
    }
    .unwrap();

    // The kernel picks inside the allowed window; the copy maps the same pages.
    let window = IovaRange {
        start: Iova(APERTURE + 0x10_0000),
        last: Iova(APERTURE + 0x20_0000 - 1),
    };
    dst.allow_iovas(&[window]).unwrap();
    let dst_iova = dst
        .copy_from(&src, src_iova, 0x4000, MapAt::AnyFree, Access::READ)
        .unwrap();
    assert!(
        dst_iova >= window.start && dst_iova.0 + 0x4000 - 1 <= window.last.0,
        "{dst_iova} outside the allowed window"
    );
    fd.check_map(dev.initial_hwpt(), dst_iova, buf.bytes())
        .unwrap();

    // An IOAS on another iommufd: refused before the syscall, naming the field.
    let elsewhere = IoasReady::new(&open()).unwrap();
    let e = elsewhere
        .copy_from(&src, src_iova, 0x4000, MapAt::AnyFree, Access::READ)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CrateValidation);
    assert!(e.to_string().contains("src"), "{e}");

    // Huge pages: on by default; the kernel refuses to turn them off while a
    // domain maps pages, and allows it once nothing is mapped.
    assert!(dst.huge_pages().unwrap());
    assert_kind(dst.set_huge_pages(false), ErrorKind::InvalidArgument);
    assert_eq!(dst.unmap_all().unwrap(), 0x4000);
    dst.set_huge_pages(false).unwrap();
    assert!(!dst.huge_pages().unwrap());
    dst.set_huge_pages(true).unwrap();
    assert!(dst.huge_pages().unwrap());
    dst.allow_iovas(&[]).unwrap();
    drop(dev);
    assert_eq!(src.unmap_all().unwrap(), 0x4000);
}
