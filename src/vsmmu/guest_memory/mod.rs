// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Guest memory as the vSMMU reaches it: the stream table, the command and event
//! queues and CMD_SYNC's MSI writes all live at guest physical addresses. A VMM
//! supplies one [`GuestMemory`]; the crate has four:
//!
//! | the VMM has | use |
//! | --- | --- |
//! | guest RAM in a memfd (or any file), mapped into the IOAS with [`IoasReady::map_file`](crate::states::IoasReady::map_file) | [`MappedGuestMemory`]: the same file ranges mapped once, copies from them (no system call per access) |
//! | the same, where the VMM's filter or design rules out another mapping | [`FileGuestMemory`]: `pread`/`pwrite` on the same fd (a system call per access) |
//! | rust-vmm's `vm-memory` (`GuestMemoryMmap`, `GuestMemoryAtomic`, ...) | `VmMemory` (feature `vm-memory`) |
//! | a unit test | [`FakeGuestMemory`]: bytes in a `Vec`, ranges made to fault on demand |
//!
//! Every implementation refuses an access that is not wholly guest RAM before
//! touching anything, so a write refused as [`GuestMemoryFault::Unmapped`] wrote
//! nothing.

mod fake;
mod file;
mod mapped;
mod regions;
#[cfg(feature = "vm-memory")]
mod vm_memory;

#[cfg(feature = "vm-memory")]
pub use self::vm_memory::VmMemory;
pub use fake::FakeGuestMemory;
pub use file::{FileGuestMemory, FileRegion};
pub use mapped::{GuestMappingError, MappedGuestMemory};

use rustix::io::Errno;

/// Reads and writes of guest physical memory. `Sync`: vCPU threads call the vSMMU
/// at once. An access either completes whole or fails naming the address; it never
/// panics. An empty access succeeds wherever it is; one with `gpa + len` beyond
/// `u64::MAX` is [`GuestMemoryFault::Unmapped`] (no guest RAM wraps around).
///
/// Object-safe: a vSMMU may hold a `Box<dyn GuestMemory>` or an `Arc<dyn
/// GuestMemory>` (`&M`, `Box<M>` and `Arc<M>` implement it too).
pub trait GuestMemory: Send + Sync {
    /// Reads `buf.len()` bytes at guest physical `gpa`.
    fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), GuestMemoryError>;

    /// Writes `data` at guest physical `gpa`.
    fn write(&self, gpa: u64, data: &[u8]) -> Result<(), GuestMemoryError>;

    /// Reads a little-endian 32-bit word (the SMMU's in-memory structures are
    /// little-endian).
    fn read_u32(&self, gpa: u64) -> Result<u32, GuestMemoryError> {
        let mut bytes = [0; 4];
        self.read(gpa, &mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }

    /// Reads a little-endian 64-bit word.
    fn read_u64(&self, gpa: u64) -> Result<u64, GuestMemoryError> {
        let mut bytes = [0; 8];
        self.read(gpa, &mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    /// Writes a little-endian 32-bit word (a CMD_SYNC's MSI payload, say).
    fn write_u32(&self, gpa: u64, value: u32) -> Result<(), GuestMemoryError> {
        self.write(gpa, &value.to_le_bytes())
    }

    /// Writes a little-endian 64-bit word.
    fn write_u64(&self, gpa: u64, value: u64) -> Result<(), GuestMemoryError> {
        self.write(gpa, &value.to_le_bytes())
    }
}

impl<M: GuestMemory + ?Sized> GuestMemory for &M {
    fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), GuestMemoryError> {
        (**self).read(gpa, buf)
    }

    fn write(&self, gpa: u64, data: &[u8]) -> Result<(), GuestMemoryError> {
        (**self).write(gpa, data)
    }
}

impl<M: GuestMemory + ?Sized> GuestMemory for std::sync::Arc<M> {
    fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), GuestMemoryError> {
        (**self).read(gpa, buf)
    }

    fn write(&self, gpa: u64, data: &[u8]) -> Result<(), GuestMemoryError> {
        (**self).write(gpa, data)
    }
}

impl<M: GuestMemory + ?Sized> GuestMemory for Box<M> {
    fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), GuestMemoryError> {
        (**self).read(gpa, buf)
    }

    fn write(&self, gpa: u64, data: &[u8]) -> Result<(), GuestMemoryError> {
        (**self).write(gpa, data)
    }
}

/// Why a set of [`FileRegion`]s is no guest memory ([`FileGuestMemory::new`],
/// [`MappedGuestMemory::map`]). Indices count the regions in
/// the order they were given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GuestRegionError {
    /// A region of no bytes: a VMM bug rather than RAM.
    #[error("guest RAM region {index} is empty")]
    Empty {
        /// The region.
        index: usize,
    },
    /// `gpa + len` passes `u64::MAX`.
    #[error("guest RAM region {index} runs past the end of the guest physical address space")]
    GpaOverflow {
        /// The region.
        index: usize,
    },
    /// `offset + len` passes the largest file offset (`i64::MAX`), so no `pread` could
    /// reach its end.
    #[error("guest RAM region {index} runs past the largest file offset")]
    OffsetOverflow {
        /// The region.
        index: usize,
    },
    /// Two regions claim the same guest physical address: which file holds it would
    /// be ambiguous. (Two regions over the same file range are fine: aliases.)
    #[error("guest RAM regions {first} and {second} overlap at {gpa:#x}")]
    Overlap {
        /// The earlier of the two, in the order given.
        first: usize,
        /// The later.
        second: usize,
        /// The first guest physical address both claim.
        gpa: u64,
    },
}

/// A guest memory access that did not complete (an SMMU reports it to the guest as
/// an F_STE_FETCH, a queue abort or a GERROR, depending on what was accessed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("guest memory access of {len} bytes at {gpa:#x}: {fault}")]
pub struct GuestMemoryError {
    /// The guest physical address of the access.
    pub gpa: u64,
    /// Its length.
    pub len: usize,
    /// Why it failed.
    pub fault: GuestMemoryFault,
}

impl GuestMemoryError {
    /// The access of `len` bytes at `gpa` failed with `fault`.
    pub const fn new(gpa: u64, len: usize, fault: GuestMemoryFault) -> Self {
        Self { gpa, len, fault }
    }

    /// The access of `len` bytes at `gpa` is not (wholly) guest RAM.
    pub const fn unmapped(gpa: u64, len: usize) -> Self {
        Self::new(gpa, len, GuestMemoryFault::Unmapped)
    }

    /// Whether the access failed because it was not guest RAM (rather than because
    /// the backing store failed).
    pub const fn is_unmapped(&self) -> bool {
        matches!(self.fault, GuestMemoryFault::Unmapped)
    }
}

/// Why a guest memory access failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GuestMemoryFault {
    /// No guest RAM there (or the access runs past its end).
    #[error("not guest RAM")]
    Unmapped,
    /// The backing store failed: the errno of the file's `pread`/`pwrite`
    /// ([`FileGuestMemory`]), of `vm-memory`'s I/O, or `EFAULT` where a region's file
    /// (or a `vm-memory` backend) ends before the region does.
    #[error("{0}")]
    Io(Errno),
}

/// The end (exclusive) of an access of `len` bytes at `gpa`, or the error of an
/// access whose end does not fit a `u64` (which no guest RAM can satisfy).
fn access_end(gpa: u64, len: usize) -> Result<u64, GuestMemoryError> {
    u64::try_from(len)
        .ok()
        .and_then(|len64| gpa.checked_add(len64))
        .ok_or(GuestMemoryError::unmapped(gpa, len))
}
