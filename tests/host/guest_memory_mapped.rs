// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! `MappedGuestMemory`: the memfd regions mapped once. The same guest RAM seen
//! through the mapping and through `pread` (the file), region checks with the
//! caller's indices, files too short or not writable, unaligned file offsets, the
//! mappings gone on drop, and the verdict of every access the one coverage gives.

use iommufd::vsmmu::{
    FileGuestMemory, FileRegion, GuestMappingError, GuestMemory, GuestMemoryError,
    GuestRegionError, MappedGuestMemory,
};
use proptest::prelude::*;
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{MemfdFlags, ftruncate, memfd_create};
use rustix::io::Errno;
use std::sync::Arc;

const MIB: u64 = 1 << 20;

fn memfd(name: &str, len: u64) -> Arc<OwnedFd> {
    let fd = memfd_create(name, MemfdFlags::CLOEXEC).unwrap();
    ftruncate(&fd, len).unwrap();
    Arc::new(fd)
}

fn pread(fd: &OwnedFd, offset: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0; len];
    assert_eq!(rustix::io::pread(fd, &mut buf, offset), Ok(len));
    buf
}

/// The lines of this process's memory map naming `name`.
fn mappings_of(name: &str) -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .filter(|line| line.contains(name))
        .count()
}

#[test]
fn the_mapping_and_the_file_are_the_same_guest_ram() {
    // 1 MiB at 0 from file offset 1 MiB, 1 MiB at 1 MiB from offset 0 (contiguous),
    // 1 MiB at 4 GiB from another memfd at an offset no page boundary.
    let low = memfd("mapped-low", 2 * MIB);
    let high = memfd("mapped-high", 2 * MIB);
    let regions = || {
        [
            FileRegion::new(high.clone(), 1 << 32, MIB, 0x123),
            FileRegion::new(low.clone(), MIB, MIB, 0),
            FileRegion::new(low.clone(), 0, MIB, MIB),
        ]
    };
    let mapped = MappedGuestMemory::map(regions()).unwrap();
    let file = FileGuestMemory::new(regions()).unwrap();
    assert_eq!(
        mapped.ranges().collect::<Vec<_>>(),
        [(0, MIB), (MIB, MIB), (1 << 32, MIB)],
        "sorted by guest physical address"
    );
    let data: Vec<u8> = (0..=255).collect();
    for gpa in [
        0,
        0x1234,
        MIB - 128,
        2 * MIB - 256,
        1 << 32,
        (1 << 32) + MIB - 256,
    ] {
        mapped.write(gpa, &data).unwrap();
        let mut back = [0u8; 256];
        file.read(gpa, &mut back).unwrap();
        assert_eq!(back[..], data[..], "written through the mapping, {gpa:#x}");
        file.write(gpa, &[0x5a; 256]).unwrap();
        mapped.read(gpa, &mut back).unwrap();
        assert_eq!(back, [0x5a; 256], "written to the file, {gpa:#x}");
    }
    // GPA 0 is file offset 1 MiB; GPA 4 GiB is offset 0x123 of the other memfd.
    mapped.write_u32(0x40, 0xdead_beef).unwrap();
    assert_eq!(pread(&low, MIB + 0x40, 4), [0xef, 0xbe, 0xad, 0xde]);
    mapped.write_u64(1 << 32, 0x0123_4567_89ab_cdef).unwrap();
    assert_eq!(
        pread(&high, 0x123, 8),
        0x0123_4567_89ab_cdef_u64.to_le_bytes()
    );
    // Across GPA 1 MiB: the end of one mapping, then the start of the next.
    mapped.write(MIB - 16, &[0xa5; 32]).unwrap();
    assert_eq!(pread(&low, 2 * MIB - 16, 16), [0xa5; 16]);
    assert_eq!(pread(&low, 0, 16), [0xa5; 16]);
}

#[test]
fn holes_and_wrap_around_refuse_the_whole_access() {
    let fd = memfd("mapped-holes", 2 * MIB);
    let mapped = MappedGuestMemory::map([FileRegion::new(fd.clone(), 0, MIB, 0)]).unwrap();
    let before = pread(&fd, MIB - 8, 8);
    assert_eq!(
        mapped.write(MIB - 8, &[0xff; 16]),
        Err(GuestMemoryError::unmapped(MIB - 8, 16))
    );
    assert_eq!(
        pread(&fd, MIB - 8, 8),
        before,
        "a refused write wrote nothing"
    );
    assert!(mapped.read(MIB - 1, &mut [0]).is_ok());
    assert!(mapped.read(MIB, &mut [0]).unwrap_err().is_unmapped());
    for (gpa, len) in [(u64::MAX, 2usize), (u64::MAX - 3, 8)] {
        assert_eq!(
            mapped.read(gpa, &mut vec![0; len]),
            Err(GuestMemoryError::unmapped(gpa, len))
        );
    }
    assert_eq!(mapped.read(1 << 40, &mut []), Ok(()));
    let none = MappedGuestMemory::map::<Arc<OwnedFd>>([]).unwrap();
    assert!(none.read_u32(0).unwrap_err().is_unmapped());
}

#[test]
fn bad_regions_and_files_are_refused_with_the_callers_index() {
    let fd = memfd("mapped-bad", 0x4000);
    let region = |gpa, len, offset| FileRegion::new(fd.clone(), gpa, len, offset);
    let refused = |regions: Vec<FileRegion>| MappedGuestMemory::map(regions).unwrap_err();
    assert_eq!(
        refused(vec![region(0, 0x1000, 0), region(0x10_0000, 0, 0)]),
        GuestMappingError::Region(GuestRegionError::Empty { index: 1 })
    );
    assert_eq!(
        refused(vec![region(0x3000, 0x1000, 0), region(0x3800, 0x1000, 0)]),
        GuestMappingError::Region(GuestRegionError::Overlap {
            first: 0,
            second: 1,
            gpa: 0x3800
        })
    );
    assert_eq!(
        refused(vec![region(0, 0x1000, u64::MAX)]),
        GuestMappingError::Region(GuestRegionError::OffsetOverflow { index: 0 })
    );
    // The second region given (the first by address) runs past the file's end.
    let e = refused(vec![
        region(0x10_0000, 0x1000, 0),
        region(0, 0x2000, 0x3000),
    ]);
    assert_eq!(
        e,
        GuestMappingError::FileTooShort {
            index: 1,
            file_len: 0x4000
        }
    );
    assert_eq!(
        e.to_string(),
        "guest RAM region 1 ends past its file's end (16384 bytes)"
    );
    // A file open read-only cannot be mapped for writing.
    let path = std::env::temp_dir().join(format!("iommufd-mapped-{}", std::process::id()));
    std::fs::write(&path, [0u8; 4096]).unwrap();
    let read_only = std::fs::File::open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        MappedGuestMemory::map([FileRegion::new(read_only.as_fd(), 0, 4096, 0)]).unwrap_err(),
        GuestMappingError::Map {
            index: 0,
            errno: Errno::ACCESS
        }
    );
}

#[test]
fn the_mappings_go_with_the_memory_and_outlive_the_fds() {
    let name = format!("mapped-drop-{}", std::process::id());
    let fd = memfd(&name, 2 * MIB);
    let mapped = MappedGuestMemory::map([
        FileRegion::new(fd.as_fd(), 0, MIB, 0),
        FileRegion::new(fd.as_fd(), 4 * MIB, MIB, MIB),
    ])
    .unwrap();
    drop(fd);
    assert_eq!(mappings_of(&name), 2, "one mapping per region");
    // The memfd's memory lives on in the mappings.
    mapped.write_u64(4 * MIB + 8, 7).unwrap();
    assert_eq!(mapped.read_u64(4 * MIB + 8), Ok(7));
    let shared: Arc<dyn GuestMemory> = Arc::new(mapped);
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let shared = &shared;
            s.spawn(move || {
                for i in 0..256u64 {
                    shared.write_u64((t * 256 + i) * 8, t).unwrap();
                }
            });
        }
    });
    assert_eq!(shared.read_u64(3 * 256 * 8), Ok(3));
    drop(shared);
    assert_eq!(mappings_of(&name), 0, "unmapped on drop");
}

proptest! {
    #[test]
    fn every_access_agrees_with_the_file_view(
        starts in proptest::collection::vec(0u64..32, 1..4),
        gpa in prop_oneof![0u64..0x2_1000, any::<u64>(), (u64::MAX - 64)..=u64::MAX],
        len in 0usize..0x2000,
        fill in any::<u8>(),
    ) {
        // 4 KiB regions at distinct slots: holes and adjacent regions, each from
        // its own file offset.
        let mut slots = starts.clone();
        slots.sort_unstable();
        slots.dedup();
        let fd = memfd("mapped-prop", 32 * 0x1000);
        let regions = || slots.iter().map(|&p| FileRegion::new(fd.clone(), p * 0x1000, 0x1000, (31 - p) * 0x1000));
        let mapped = MappedGuestMemory::map(regions()).unwrap();
        let file = FileGuestMemory::new(regions()).unwrap();
        let data = vec![fill; len];
        let wrote = mapped.write(gpa, &data);
        prop_assert_eq!(wrote, file.write(gpa, &data));
        let (mut a, mut b) = (vec![0u8; len], vec![0u8; len]);
        prop_assert_eq!(mapped.read(gpa, &mut a), file.read(gpa, &mut b));
        prop_assert_eq!(a, b);
    }
}
