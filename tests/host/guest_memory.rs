// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The vSMMU's guest memory: memfd regions (round trips, boundaries, holes,
//! overlaps, wrap-around, errnos), the fake's fault ranges, the `vm-memory` adapter
//! over the same memfd, and no input that panics.

use iommufd::vsmmu::{
    FakeGuestMemory, FileGuestMemory, FileRegion, GuestMemory, GuestMemoryError, GuestMemoryFault,
    GuestRegionError,
};
use proptest::prelude::*;
use rustix::fd::OwnedFd;
use rustix::fs::{MemfdFlags, SealFlags, fcntl_add_seals, ftruncate, memfd_create};
use rustix::io::Errno;
use std::sync::Arc;

const MIB: u64 = 1 << 20;

fn memfd(len: u64) -> Arc<OwnedFd> {
    let fd = memfd_create("guest-ram", MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING).unwrap();
    ftruncate(&fd, len).unwrap();
    Arc::new(fd)
}

/// 1 MiB at 0 and 1 MiB at 1 MiB (contiguous, one memfd, swapped halves), and 1 MiB
/// at 4 GiB from a second memfd: a hole from 2 MiB to 4 GiB.
fn layout() -> (FileGuestMemory, Arc<OwnedFd>, Arc<OwnedFd>) {
    let low = memfd(2 * MIB);
    let high = memfd(MIB);
    let memory = FileGuestMemory::new([
        FileRegion::new(high.clone(), 1 << 32, MIB, 0),
        FileRegion::new(low.clone(), MIB, MIB, 0),
        FileRegion::new(low.clone(), 0, MIB, MIB),
    ])
    .unwrap();
    (memory, low, high)
}

fn pread(fd: &OwnedFd, offset: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0; len];
    assert_eq!(rustix::io::pread(fd, &mut buf, offset), Ok(len));
    buf
}

#[test]
fn memfd_regions_round_trip_and_land_at_their_file_offsets() {
    let (memory, low, high) = layout();
    let gpas: Vec<u64> = memory.regions().iter().map(FileRegion::gpa).collect();
    assert_eq!(gpas, [0, MIB, 1 << 32], "sorted by guest physical address");
    let data: Vec<u8> = (0..=255).collect();
    for gpa in [
        0,
        0x1234,
        MIB - 256,
        MIB,
        2 * MIB - 256,
        1 << 32,
        (1 << 32) + MIB - 256,
    ] {
        memory.write(gpa, &data).unwrap();
        let mut back = [0u8; 256];
        memory.read(gpa, &mut back).unwrap();
        assert_eq!(back[..], data[..], "{gpa:#x}");
    }
    // GPA 0 is file offset 1 MiB, GPA 1 MiB is file offset 0.
    assert_eq!(pread(&low, MIB, 256), data);
    assert_eq!(pread(&low, 0, 256), data);
    assert_eq!(pread(&high, 0, 256), data);
    memory.write_u32(0x40, 0xdead_beef).unwrap();
    assert_eq!(
        pread(&low, MIB + 0x40, 4),
        [0xef, 0xbe, 0xad, 0xde],
        "little-endian"
    );
    assert_eq!(memory.read_u32(0x40), Ok(0xdead_beef));
    memory.write_u64(0x48, 0x0123_4567_89ab_cdef).unwrap();
    assert_eq!(memory.read_u64(0x48), Ok(0x0123_4567_89ab_cdef));
}

#[test]
fn an_access_crosses_contiguous_regions_but_not_a_hole() {
    let (memory, low, _) = layout();
    // Across GPA 1 MiB: the end of the region at file offset 1 MiB, then the start
    // of the one at file offset 0.
    let data = [0xa5u8; 32];
    memory.write(MIB - 16, &data).unwrap();
    assert_eq!(pread(&low, 2 * MIB - 16, 16), [0xa5; 16]);
    assert_eq!(pread(&low, 0, 16), [0xa5; 16]);
    let mut back = [0u8; 32];
    memory.read(MIB - 16, &mut back).unwrap();
    assert_eq!(back, data);
    // Across the end of RAM at 2 MiB: refused whole, nothing written.
    let before = pread(&low, MIB - 8, 8);
    let e = memory.write(2 * MIB - 8, &[0xff; 16]).unwrap_err();
    assert_eq!(e, GuestMemoryError::unmapped(2 * MIB - 8, 16));
    assert_eq!(
        pread(&low, MIB - 8, 8),
        before,
        "a refused write wrote nothing"
    );
    let e = memory.read(2 * MIB - 8, &mut [0; 16]).unwrap_err();
    assert!(e.is_unmapped(), "{e}");
    // The last byte of each region is RAM, the next is not (or is the next region).
    assert!(memory.read(2 * MIB - 1, &mut [0]).is_ok());
    assert!(memory.read(2 * MIB, &mut [0]).unwrap_err().is_unmapped());
    assert!(memory.read((1 << 32) + MIB - 1, &mut [0]).is_ok());
    assert!(
        memory
            .read((1 << 32) + MIB, &mut [0])
            .unwrap_err()
            .is_unmapped()
    );
    assert!(
        memory
            .read((1 << 32) - 1, &mut [0; 2])
            .unwrap_err()
            .is_unmapped()
    );
}

#[test]
fn unmapped_addresses_fault_and_empty_accesses_succeed_anywhere() {
    let (memory, _, _) = layout();
    for gpa in [3 * MIB, (1 << 32) - 8, 1 << 40, u64::MAX - 7] {
        let e = memory.read_u64(gpa).unwrap_err();
        assert_eq!(e, GuestMemoryError::unmapped(gpa, 8));
        assert_eq!(
            e.to_string(),
            format!("guest memory access of 8 bytes at {gpa:#x}: not guest RAM")
        );
        assert!(memory.write_u64(gpa, 1).unwrap_err().is_unmapped());
    }
    assert_eq!(memory.read(1 << 40, &mut []), Ok(()));
    assert_eq!(memory.write(u64::MAX, &[]), Ok(()));
    let none = FileGuestMemory::<Arc<OwnedFd>>::new([]).unwrap();
    assert!(none.read_u32(0).unwrap_err().is_unmapped());
}

#[test]
fn accesses_that_wrap_around_the_address_space_are_unmapped() {
    let (memory, _, _) = layout();
    // gpa + len passes u64::MAX: it would wrap to GPA 0, which is RAM.
    for (gpa, len) in [(u64::MAX, 2), (u64::MAX - 3, 8), (u64::MAX, 1)] {
        let mut buf = vec![0; len];
        assert_eq!(
            memory.read(gpa, &mut buf),
            Err(GuestMemoryError::unmapped(gpa, len))
        );
        assert_eq!(
            memory.write(gpa, &buf),
            Err(GuestMemoryError::unmapped(gpa, len))
        );
    }
    let fake = FakeGuestMemory::new(0, 64);
    assert!(fake.read_u64(u64::MAX - 3).unwrap_err().is_unmapped());
}

#[test]
fn bad_regions_are_refused_at_construction() {
    let fd = memfd(4096);
    let region = |gpa, len, offset| FileRegion::new(fd.clone(), gpa, len, offset);
    let refused = |regions: Vec<FileRegion>| FileGuestMemory::new(regions).unwrap_err();
    assert_eq!(
        refused(vec![region(0, 4096, 0), region(0x10_0000, 0, 0)]),
        GuestRegionError::Empty { index: 1 }
    );
    assert_eq!(
        refused(vec![region(u64::MAX - 4095, 4096, 0)]),
        GuestRegionError::GpaOverflow { index: 0 }
    );
    assert_eq!(
        refused(vec![region(0, 4096, i64::MAX as u64 - 4095)]),
        GuestRegionError::OffsetOverflow { index: 0 }
    );
    assert_eq!(
        refused(vec![region(0, 4096, u64::MAX)]),
        GuestRegionError::OffsetOverflow { index: 0 }
    );
    // Overlaps, whatever the order given: indices in that order, the first shared
    // address.
    let e = refused(vec![
        region(0x3000, 0x1000, 0),
        region(0, 0x1000, 0),
        region(0x2000, 0x1001, 0),
    ]);
    assert_eq!(
        e,
        GuestRegionError::Overlap {
            first: 0,
            second: 2,
            gpa: 0x3000
        }
    );
    assert_eq!(e.to_string(), "guest RAM regions 0 and 2 overlap at 0x3000");
    assert_eq!(
        refused(vec![region(0, 0x10_0000, 0), region(0x1000, 0x1000, 0)]),
        GuestRegionError::Overlap {
            first: 0,
            second: 1,
            gpa: 0x1000
        }
    );
    assert_eq!(
        refused(vec![
            region(0x1000, 0x1000, 0),
            region(0x1000, 0x1000, 0x1000)
        ]),
        GuestRegionError::Overlap {
            first: 0,
            second: 1,
            gpa: 0x1000
        }
    );
    // Touching is not overlapping; the largest file end is accepted; two GPAs may
    // alias one file range.
    FileGuestMemory::new([region(0, 0x1000, 0), region(0x1000, 0x1000, 0)]).unwrap();
    FileGuestMemory::new([region(0, 4096, i64::MAX as u64 - 4096)]).unwrap();
    let aliases = FileGuestMemory::new([region(0, 0x1000, 0), region(0x8000, 0x1000, 0)]).unwrap();
    aliases.write_u32(0x10, 9).unwrap();
    assert_eq!(aliases.read_u32(0x8010), Ok(9));
}

#[test]
fn file_errors_are_typed_faults() {
    // A region longer than its file: reads there meet the end of the file.
    let short = memfd(4096);
    let memory = FileGuestMemory::new([FileRegion::new(short.clone(), 0, 8192, 0)]).unwrap();
    let e = memory.read(4000, &mut [0; 200]).unwrap_err();
    assert_eq!(
        e,
        GuestMemoryError::new(4000, 200, GuestMemoryFault::Io(Errno::FAULT))
    );
    // Sealed against growth, writing there is refused by the kernel.
    fcntl_add_seals(&short, SealFlags::GROW).unwrap();
    let e = memory.write(8000, &[1; 8]).unwrap_err();
    assert_eq!(e.fault, GuestMemoryFault::Io(Errno::PERM));
    // Sealed against writes: every write fails, reads still work.
    fcntl_add_seals(&short, SealFlags::WRITE).unwrap();
    assert_eq!(
        memory.write_u32(0, 1).unwrap_err().fault,
        GuestMemoryFault::Io(Errno::PERM)
    );
    assert_eq!(memory.read_u32(0), Ok(0));
    // An fd not open for reading.
    let path = std::env::temp_dir().join(format!("iommufd-guest-memory-{}", std::process::id()));
    std::fs::write(&path, [0u8; 4096]).unwrap();
    let write_only = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let memory = FileGuestMemory::new([FileRegion::new(write_only, 0, 4096, 0)]).unwrap();
    memory.write_u32(0, 1).unwrap();
    assert_eq!(
        memory.read_u32(0).unwrap_err().fault,
        GuestMemoryFault::Io(Errno::BADF)
    );
}

#[test]
fn borrowed_fds_and_trait_objects_work() {
    let fd = memfd(4096);
    let borrowed = FileGuestMemory::new([FileRegion::new(
        rustix::fd::AsFd::as_fd(&*fd),
        0x1000,
        4096,
        0,
    )])
    .unwrap();
    let objects: [Box<dyn GuestMemory>; 2] = [
        Box::new(&borrowed),
        Box::new(FakeGuestMemory::new(0x1000, 4096)),
    ];
    for memory in &objects {
        memory.write_u64(0x1008, 42).unwrap();
        assert_eq!(memory.read_u64(0x1008), Ok(42));
        assert!(memory.read_u64(0).unwrap_err().is_unmapped());
    }
    drop(objects);
    let shared: Arc<dyn GuestMemory + '_> = Arc::new(borrowed);
    assert_eq!(shared.read_u64(0x1008), Ok(42));
}

#[test]
fn threads_share_one_memory() {
    let memory = Arc::new(FileGuestMemory::new([FileRegion::new(memfd(MIB), 0, MIB, 0)]).unwrap());
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let memory = &memory;
            s.spawn(move || {
                for i in 0..256u64 {
                    let gpa = (t * 256 + i) * 8;
                    memory.write_u64(gpa, gpa ^ 0x5a5a).unwrap();
                }
            });
        }
    });
    for gpa in (0..1024u64).map(|i| i * 8) {
        assert_eq!(memory.read_u64(gpa), Ok(gpa ^ 0x5a5a));
    }
}

#[test]
fn the_fake_faults_where_it_is_told_and_counts_accesses() {
    let memory = FakeGuestMemory::new(0x8000_0000, 0x1000);
    assert_eq!(
        (memory.base(), memory.len(), memory.is_empty()),
        (0x8000_0000, 0x1000, false)
    );
    memory.poke(0x8000_0100, &[1, 2, 3, 4]).unwrap();
    assert_eq!(memory.read_u32(0x8000_0100), Ok(0x0403_0201));
    // Outside its bytes: unmapped, counted all the same.
    assert!(memory.read_u32(0x7fff_fffe).unwrap_err().is_unmapped());
    assert!(memory.write_u32(0x8000_0ffe, 0).unwrap_err().is_unmapped());
    assert!(memory.peek(0x8000_1000, 1).unwrap_err().is_unmapped());
    assert!(memory.poke(0x7fff_ffff, &[0; 2]).unwrap_err().is_unmapped());
    assert_eq!((memory.reads(), memory.writes()), (2, 1));

    // An unreadable stream table entry (F_STE_FETCH), a queue that cannot take
    // events, a backing store that fails.
    memory.fail_reads(0x8000_0200, 64, GuestMemoryFault::Unmapped);
    memory.fail_writes(0x8000_0400, 32, GuestMemoryFault::Io(Errno::IO));
    memory.fail(0x8000_0800, 1, GuestMemoryFault::Io(Errno::FAULT));
    let e = memory.read(0x8000_0230, &mut [0; 64]).unwrap_err();
    assert_eq!(
        e,
        GuestMemoryError::unmapped(0x8000_0230, 64),
        "touching the range is enough"
    );
    assert!(
        memory.read(0x8000_0240, &mut [0; 64]).is_ok(),
        "just past it"
    );
    assert!(
        memory.read(0x8000_01c0, &mut [0; 64]).is_ok(),
        "just before it"
    );
    memory.write_u64(0x8000_0200, 7).unwrap();
    assert_eq!(
        memory.peek(0x8000_0200, 1).unwrap(),
        [7],
        "writes still land"
    );
    let e = memory.write(0x8000_0410, &[9; 16]).unwrap_err();
    assert_eq!(e.fault, GuestMemoryFault::Io(Errno::IO));
    assert_eq!(
        memory.peek(0x8000_0410, 16).unwrap(),
        [0; 16],
        "a refused write wrote nothing"
    );
    assert_eq!(memory.read(0x8000_0410, &mut [0; 16]), Ok(()));
    assert_eq!(
        memory.read_u64(0x8000_07f9).unwrap_err().fault,
        GuestMemoryFault::Io(Errno::FAULT)
    );
    assert_eq!(
        memory.write_u64(0x8000_0800, 0).unwrap_err().fault,
        GuestMemoryFault::Io(Errno::FAULT)
    );
    assert!(memory.read_u64(0x8000_07f8).is_ok());
    // Empty fault ranges match nothing; empty accesses always succeed; ranges past
    // the top of the address space stop there.
    memory.fail(0x8000_0000, 0, GuestMemoryFault::Unmapped);
    assert!(memory.read_u32(0x8000_0000).is_ok());
    assert_eq!(memory.read(0x8000_0200, &mut []), Ok(()));
    memory.fail(u64::MAX - 1, u64::MAX, GuestMemoryFault::Unmapped);
    memory.clear_faults();
    assert!(memory.read(0x8000_0200, &mut [0; 64]).is_ok());
    assert!(memory.write(0x8000_0410, &[9; 16]).is_ok());
    let debug = format!("{memory:?}");
    assert!(
        debug.contains("len: 4096") && debug.contains("fault_ranges: 0"),
        "{debug}"
    );
}

#[cfg(feature = "vm-memory")]
mod vm_memory_adapter {
    use super::*;
    use iommufd::vsmmu::VmMemory;
    use vm_memory::{FileOffset, GuestAddress, GuestMemoryMmap};

    type Mmap = GuestMemoryMmap<()>;

    #[test]
    fn the_adapter_and_the_memfd_view_see_the_same_guest_ram() {
        let ram = memfd(2 * MIB);
        let file = std::fs::File::from(ram.try_clone().unwrap());
        let mmap = Mmap::from_ranges_with_files([
            (
                GuestAddress(0),
                MIB as usize,
                Some(FileOffset::new(file.try_clone().unwrap(), MIB)),
            ),
            (
                GuestAddress(1 << 32),
                MIB as usize,
                Some(FileOffset::new(file, 0)),
            ),
        ])
        .unwrap();
        let adapter = VmMemory::new(Arc::new(mmap));
        let view = FileGuestMemory::new([
            FileRegion::new(ram.clone(), 0, MIB, MIB),
            FileRegion::new(ram, 1 << 32, MIB, 0),
        ])
        .unwrap();
        let data: Vec<u8> = (0..64).collect();
        adapter.write(0x100, &data).unwrap();
        let mut back = [0u8; 64];
        view.read(0x100, &mut back).unwrap();
        assert_eq!(back[..], data[..]);
        view.write_u64((1 << 32) + 8, 77).unwrap();
        assert_eq!(adapter.read_u64((1 << 32) + 8), Ok(77));
        // Through a reference too.
        let borrowed = VmMemory::new(&**adapter.space());
        assert_eq!(borrowed.read_u64((1 << 32) + 8), Ok(77));
    }

    #[test]
    fn the_adapter_refuses_holes_whole_and_wrap_around() {
        let mmap = Mmap::from_ranges(&[(GuestAddress(0), 0x1000), (GuestAddress(0x1000), 0x1000)])
            .unwrap();
        let memory = VmMemory::from(&mmap);
        // Across two contiguous regions.
        memory.write(0xff8, &[3; 16]).unwrap();
        assert_eq!(memory.read_u64(0x1000), Ok(0x0303_0303_0303_0303));
        // Past the end: refused before copying anything.
        let e = memory.write(0x1ffc, &[4; 8]).unwrap_err();
        assert_eq!(e, GuestMemoryError::unmapped(0x1ffc, 8));
        assert_eq!(memory.read_u32(0x1ffc), Ok(0), "nothing written");
        assert!(memory.read_u64(0x1_0000).unwrap_err().is_unmapped());
        assert!(
            memory
                .read(u64::MAX, &mut [0; 2])
                .unwrap_err()
                .is_unmapped()
        );
        assert!(
            memory
                .write(u64::MAX - 1, &[0; 8])
                .unwrap_err()
                .is_unmapped()
        );
        assert_eq!(memory.read(0x1_0000, &mut []), Ok(()));
        let _: &Mmap = memory.into_inner();
    }

    proptest! {
        #[test]
        fn the_adapter_never_panics(gpa in any::<u64>(), len in 0usize..0x3000) {
            let mmap = Mmap::from_ranges(&[(GuestAddress(0x1000), 0x1000)]).unwrap();
            let memory = VmMemory::new(&mmap);
            let mut buf = vec![0; len];
            let inside = gpa >= 0x1000 && gpa.checked_add(len as u64).is_some_and(|end| end <= 0x2000);
            prop_assert_eq!(memory.read(gpa, &mut buf).is_ok(), inside || len == 0);
            prop_assert_eq!(memory.write(gpa, &buf).is_ok(), inside || len == 0);
        }
    }
}

/// Whether every byte of `len` bytes at `gpa` is in one of `regions` (and the
/// access does not wrap): the verdict any access must give.
fn covered(regions: &[(u64, u64)], gpa: u64, len: u64) -> bool {
    len == 0
        || gpa.checked_add(len).is_some_and(|end| {
            (gpa..end).all(|a| {
                regions
                    .iter()
                    .any(|&(base, rlen)| a >= base && a - base < rlen)
            })
        })
}

proptest! {
    #[test]
    fn no_access_panics_and_the_verdict_is_coverage(
        starts in proptest::collection::vec(0u64..64, 1..4),
        gpa in prop_oneof![0u64..0x4100, any::<u64>(), (u64::MAX - 64)..=u64::MAX],
        len in 0usize..64,
    ) {
        // 256-byte regions at distinct slots below 64: holes and adjacent regions.
        let mut slots = starts.clone();
        slots.sort_unstable();
        slots.dedup();
        let fd = memfd(64 * 0x100);
        let regions: Vec<(u64, u64)> = slots.iter().map(|&p| (p * 0x100, 0x100)).collect();
        let memory = FileGuestMemory::new(
            regions.iter().map(|&(base, rlen)| FileRegion::new(fd.clone(), base, rlen, base)),
        ).unwrap();
        let want = covered(&regions, gpa, len as u64);
        let mut buf = vec![0u8; len];
        let read = memory.read(gpa, &mut buf);
        prop_assert_eq!(read.is_ok(), want, "read {:#x}+{}: {:?}", gpa, len, read);
        if let Err(e) = read {
            prop_assert_eq!(e, GuestMemoryError::unmapped(gpa, len));
        }
        prop_assert_eq!(memory.write(gpa, &buf).is_ok(), want);
        let fake = FakeGuestMemory::new(0x100, 0x200);
        fake.fail(gpa, len as u64, GuestMemoryFault::Io(Errno::IO));
        prop_assert_eq!(fake.read(gpa, &mut buf).is_ok(), len == 0);
    }
}
