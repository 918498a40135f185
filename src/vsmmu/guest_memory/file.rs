// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Guest RAM in files: the memfd (or hugetlbfs file, or any file) a VMM maps into
//! the IOAS with `IOMMU_IOAS_MAP_FILE` is read and written with `pread`/`pwrite` on
//! the same fd. The crate maps nothing itself and needs no `unsafe`: the kernel
//! copies, and a guest changing the memory under a read only changes what is read.

use super::{GuestMemory, GuestMemoryError, GuestMemoryFault, GuestRegionError, regions};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use std::sync::Arc;

/// The largest end of a file range: `off_t` is signed, and the kernel refuses
/// (EINVAL) a `pread`/`pwrite` whose position plus length passes it.
const MAX_FILE_END: u64 = i64::MAX as u64;

/// One range of guest RAM: `len` bytes at guest physical `gpa`, backed by `file`
/// from byte `offset` on (the `start` the VMM passed to
/// [`IoasReady::map_file`](crate::states::IoasReady::map_file)).
///
/// `F` is anything that lends an fd: `Arc<OwnedFd>` (the default) to share the
/// memfd with the code that mapped it, `OwnedFd`, `std::fs::File`, or a
/// `BorrowedFd<'_>`. The fd must be open for reading and writing.
#[derive(Debug, Clone)]
pub struct FileRegion<F = Arc<OwnedFd>> {
    file: F,
    gpa: u64,
    len: u64,
    offset: u64,
}

impl<F> FileRegion<F> {
    /// `len` bytes of guest RAM at `gpa`, held in `file` at `offset`. Checked when
    /// the regions become a [`FileGuestMemory`].
    pub const fn new(file: F, gpa: u64, len: u64, offset: u64) -> Self {
        Self {
            file,
            gpa,
            len,
            offset,
        }
    }

    /// The file holding the region.
    pub const fn file(&self) -> &F {
        &self.file
    }

    /// Its guest physical base.
    pub const fn gpa(&self) -> u64 {
        self.gpa
    }

    /// Its length in bytes.
    pub const fn len(&self) -> u64 {
        self.len
    }

    /// Whether it is empty (which [`FileGuestMemory::new`] refuses).
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Where in the file it starts.
    pub const fn offset(&self) -> u64 {
        self.offset
    }
}

impl<F> FileRegion<F> {
    /// Refuses a file range whose end passes the largest file offset: region
    /// `index` of the caller's list.
    pub(super) fn check_file_range(index: usize, region: &Self) -> Result<(), GuestRegionError> {
        match region.offset.checked_add(region.len) {
            Some(end) if end <= MAX_FILE_END => Ok(()),
            _ => Err(GuestRegionError::OffsetOverflow { index }),
        }
    }
}

impl<F> regions::Span for FileRegion<F> {
    fn base(&self) -> u64 {
        self.gpa
    }

    fn size(&self) -> u64 {
        self.len
    }
}

/// Guest RAM as [`FileRegion`]s, read and written with `pread`/`pwrite`: what a VMM
/// that maps a memfd into the IOAS with
/// [`IoasReady::map_file`](crate::states::IoasReady::map_file) already has.
///
/// An access may cross from one region into the next where they are contiguous in
/// guest physical space (RAM in two memfds, say); any hole in it makes the whole
/// access [`GuestMemoryFault::Unmapped`] before a byte is copied. Short reads and
/// writes are continued and `EINTR` retried; any other errno is
/// [`GuestMemoryFault::Io`], and a read that meets the end of the file (a region
/// longer than its file, which `IOMMU_IOAS_MAP_FILE` would have refused) is
/// `Io(EFAULT)`, where mapped memory would have raised SIGBUS. A write there grows the
/// file, unless it is sealed (`F_SEAL_GROW`: `Io(EPERM)`).
///
/// Each access is one `pread64`/`pwrite64` per region it touches (more only on a
/// short transfer); no lock, no allocation.
///
/// ```
/// use iommufd::vsmmu::{FileGuestMemory, FileRegion, GuestMemory};
/// use rustix::fs::{MemfdFlags, ftruncate, memfd_create};
/// use std::sync::Arc;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let ram = Arc::new(memfd_create("guest-ram", MemfdFlags::CLOEXEC)?);
/// ftruncate(&ram, 2 << 20)?;
/// // 1 MiB at 0 and 1 MiB at 4 GiB, both from the one memfd (which the VMM also
/// // maps into the IOAS at the same addresses).
/// let memory = FileGuestMemory::new([
///     FileRegion::new(ram.clone(), 0, 1 << 20, 0),
///     FileRegion::new(ram, 1 << 32, 1 << 20, 1 << 20),
/// ])?;
/// memory.write_u64(1 << 32, 0x1234)?;
/// assert_eq!(memory.read_u64(1 << 32)?, 0x1234);
/// assert!(memory.read_u64(1 << 20).unwrap_err().is_unmapped());
/// # Ok(()) }
/// ```
#[doc(alias = "memfd")]
#[derive(Debug, Clone)]
pub struct FileGuestMemory<F = Arc<OwnedFd>> {
    /// Sorted by guest physical address, not overlapping.
    regions: Vec<FileRegion<F>>,
}

impl<F> FileGuestMemory<F> {
    /// Guest memory made of `regions`, in any order. Refuses an empty region, one
    /// whose guest physical or file range runs past what a `u64` (or `off_t`) holds,
    /// and regions that overlap in guest physical space. Makes no system call: the
    /// files are not checked until accessed.
    pub fn new(regions: impl IntoIterator<Item = FileRegion<F>>) -> Result<Self, GuestRegionError> {
        let regions = regions::sorted(regions, FileRegion::check_file_range)?;
        Ok(Self { regions })
    }

    /// The regions, sorted by guest physical address.
    pub fn regions(&self) -> &[FileRegion<F>] {
        &self.regions
    }

    /// The regions back, sorted by guest physical address.
    pub fn into_regions(self) -> Vec<FileRegion<F>> {
        self.regions
    }
}

impl<F: AsFd + Send + Sync> GuestMemory for FileGuestMemory<F> {
    fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), GuestMemoryError> {
        let len = buf.len();
        regions::for_each_piece(&self.regions, gpa, len, |region, at, start, piece| {
            let offset = region.offset + at;
            let part = buf
                .get_mut(start..start + piece)
                .ok_or(GuestMemoryFault::Io(Errno::FAULT))?;
            pread_all(region.file.as_fd(), part, offset)
        })
    }

    fn write(&self, gpa: u64, data: &[u8]) -> Result<(), GuestMemoryError> {
        regions::for_each_piece(
            &self.regions,
            gpa,
            data.len(),
            |region, at, start, piece| {
                let offset = region.offset + at;
                let part = data
                    .get(start..start + piece)
                    .ok_or(GuestMemoryFault::Io(Errno::FAULT))?;
                pwrite_all(region.file.as_fd(), part, offset)
            },
        )
    }
}

/// Fills `buf` from `fd` at `offset`, continuing short reads and retrying EINTR.
fn pread_all(
    fd: BorrowedFd<'_>,
    mut buf: &mut [u8],
    mut offset: u64,
) -> Result<(), GuestMemoryFault> {
    while !buf.is_empty() {
        match rustix::io::pread(fd, &mut *buf, offset) {
            // The end of the file: there is no more to wait for.
            Ok(0) => return Err(GuestMemoryFault::Io(Errno::FAULT)),
            Ok(n) => {
                buf = std::mem::take(&mut buf)
                    .get_mut(n..)
                    .ok_or(GuestMemoryFault::Io(Errno::IO))?;
                offset = offset.saturating_add(n as u64);
            }
            Err(Errno::INTR) => {}
            Err(errno) => return Err(GuestMemoryFault::Io(errno)),
        }
    }
    Ok(())
}

/// Writes all of `data` to `fd` at `offset`, continuing short writes and retrying
/// EINTR.
fn pwrite_all(
    fd: BorrowedFd<'_>,
    mut data: &[u8],
    mut offset: u64,
) -> Result<(), GuestMemoryFault> {
    while !data.is_empty() {
        match rustix::io::pwrite(fd, data, offset) {
            // No progress and no errno: report it rather than spin.
            Ok(0) => return Err(GuestMemoryFault::Io(Errno::IO)),
            Ok(n) => {
                data = data.get(n..).ok_or(GuestMemoryFault::Io(Errno::IO))?;
                offset = offset.saturating_add(n as u64);
            }
            Err(Errno::INTR) => {}
            Err(errno) => return Err(GuestMemoryFault::Io(errno)),
        }
    }
    Ok(())
}
