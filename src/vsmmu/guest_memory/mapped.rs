// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Guest RAM in files, mapped once into the VMM: the memfd (or hugetlbfs file) a VMM
//! maps into the IOAS with `IOMMU_IOAS_MAP_FILE`, reached by copies from a shared
//! mapping of the same file ranges. No system call per access: the vSMMU's hot path
//! (a run of guest commands per CMDQ_PROD write) costs a bounds check and a copy.

use super::file::FileRegion;
use super::regions::{self, Span};
use super::{GuestMemory, GuestMemoryError, GuestMemoryFault, GuestRegionError};
use crate::ioctl::mapping::SharedMapping;
use rustix::fd::AsFd;
use rustix::io::Errno;

/// Why [`MappedGuestMemory::map`] made no guest memory. Indices count the regions in
/// the order they were given; nothing stays mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GuestMappingError {
    /// The regions are no guest memory (the checks of [`FileGuestMemory::new`](super::FileGuestMemory::new)).
    #[error(transparent)]
    Region(#[from] GuestRegionError),
    /// The file ends before the region does: an access there would raise SIGBUS.
    #[error("guest RAM region {index} ends past its file's end ({file_len} bytes)")]
    FileTooShort {
        /// The region.
        index: usize,
        /// The file's length.
        file_len: u64,
    },
    /// `fstat` or `mmap` failed on the region's file (`EACCES` for a file not open
    /// for reading and writing, `ENODEV` for one that cannot be mapped).
    #[error("guest RAM region {index}: mapping its file failed: {errno}")]
    Map {
        /// The region.
        index: usize,
        /// The errno.
        errno: Errno,
    },
}

/// One region as it is mapped: its guest physical range and the mapping.
#[derive(Debug)]
struct MappedRegion {
    gpa: u64,
    mapping: SharedMapping,
}

impl Span for MappedRegion {
    fn base(&self) -> u64 {
        self.gpa
    }

    fn size(&self) -> u64 {
        self.mapping.len() as u64
    }
}

/// A region to map, with its place in the caller's list.
struct Indexed<F> {
    index: usize,
    region: FileRegion<F>,
}

impl<F> Span for Indexed<F> {
    fn base(&self) -> u64 {
        self.region.gpa()
    }

    fn size(&self) -> u64 {
        self.region.len()
    }
}

/// Guest RAM as [`FileRegion`]s, each mapped shared into the VMM once and read and
/// written by copies: the fast way to the memfd a VMM maps into the IOAS, where
/// [`FileGuestMemory`](super::FileGuestMemory) makes a `pread`/`pwrite` per access
/// (about 400 ns each on the bench host: 6 to 7 ns per guest command on the vSMMU's
/// command queue, against about 1 ns from a mapping).
///
/// [`map`](Self::map) checks the regions as [`FileGuestMemory::new`](super::FileGuestMemory::new) does,
/// checks that each file holds its region (an access past a file's end would raise
/// SIGBUS), and maps them; the mappings go with the value. The crate never makes a
/// reference into guest RAM: the guest changing it under a copy only changes what is
/// copied. A file that shrinks while mapped (`ftruncate`) would make an access
/// raise SIGBUS: seal guest RAM memfds with `F_SEAL_SHRINK`, as VMMs do.
///
/// An access may cross from one region into the next where they are contiguous in
/// guest physical space; any hole in it makes the whole access
/// [`GuestMemoryFault::Unmapped`] before a byte is copied. No lock, no allocation,
/// no system call.
///
/// ```
/// use iommufd::vsmmu::{FileRegion, GuestMemory, MappedGuestMemory};
/// use rustix::fs::{MemfdFlags, ftruncate, memfd_create};
/// use std::sync::Arc;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let ram = Arc::new(memfd_create("guest-ram", MemfdFlags::CLOEXEC)?);
/// ftruncate(&ram, 2 << 20)?;
/// // 1 MiB at 0 and 1 MiB at 4 GiB, both from the one memfd (which the VMM also
/// // maps into the IOAS at the same addresses).
/// let memory = MappedGuestMemory::map([
///     FileRegion::new(ram.clone(), 0, 1 << 20, 0),
///     FileRegion::new(ram, 1 << 32, 1 << 20, 1 << 20),
/// ])?;
/// memory.write_u64(1 << 32, 0x1234)?;
/// assert_eq!(memory.read_u64(1 << 32)?, 0x1234);
/// assert!(memory.read_u64(1 << 20).unwrap_err().is_unmapped());
/// # Ok(()) }
/// ```
#[doc(alias = "mmap")]
#[derive(Debug)]
pub struct MappedGuestMemory {
    /// Sorted by guest physical address, not overlapping.
    regions: Vec<MappedRegion>,
}

impl MappedGuestMemory {
    /// Maps `regions` (in any order; each fd open for reading and writing). The
    /// files are needed only here: each mapping keeps its file's memory alive
    /// after the fds are closed.
    pub fn map<F: AsFd>(
        regions: impl IntoIterator<Item = FileRegion<F>>,
    ) -> Result<Self, GuestMappingError> {
        let indexed = regions
            .into_iter()
            .enumerate()
            .map(|(index, region)| Indexed { index, region });
        let sorted = regions::sorted(indexed, |index, indexed| {
            FileRegion::check_file_range(index, &indexed.region)
        })?;
        let mut mapped = Vec::with_capacity(sorted.len());
        for Indexed { index, region } in sorted {
            let fd = region.file().as_fd();
            let map_err = |errno| GuestMappingError::Map { index, errno };
            let file_len = rustix::fs::fstat(fd).map_err(map_err)?.st_size as u64;
            // `offset + len` fits (checked above).
            if region.offset() + region.len() > file_len {
                return Err(GuestMappingError::FileTooShort { index, file_len });
            }
            let len = usize::try_from(region.len()).map_err(|_| map_err(Errno::NOMEM))?;
            let mapping = SharedMapping::new(fd, region.offset(), len).map_err(map_err)?;
            mapped.push(MappedRegion {
                gpa: region.gpa(),
                mapping,
            });
        }
        Ok(Self { regions: mapped })
    }

    /// The guest physical ranges mapped, sorted: `(base, length)` each.
    pub fn ranges(&self) -> impl ExactSizeIterator<Item = (u64, u64)> + '_ {
        self.regions
            .iter()
            .map(|region| (region.gpa, region.size()))
    }
}

impl GuestMemory for MappedGuestMemory {
    #[inline]
    fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), GuestMemoryError> {
        regions::for_each_piece(&self.regions, gpa, buf.len(), |region, at, start, piece| {
            let part = buf.get_mut(start..start + piece);
            part.and_then(|part| region.mapping.read(at as usize, part))
                .ok_or(GuestMemoryFault::Io(Errno::FAULT))
        })
    }

    #[inline]
    fn write(&self, gpa: u64, data: &[u8]) -> Result<(), GuestMemoryError> {
        regions::for_each_piece(
            &self.regions,
            gpa,
            data.len(),
            |region, at, start, piece| {
                let part = data.get(start..start + piece);
                part.and_then(|part| region.mapping.write(at as usize, part))
                    .ok_or(GuestMemoryFault::Io(Errno::FAULT))
            },
        )
    }
}
