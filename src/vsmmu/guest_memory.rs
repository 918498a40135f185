// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Guest memory as the vSMMU reaches it: the stream table, the command and event
//! queues and CMD_SYNC's MSI writes all live at guest physical addresses. A VMM
//! supplies one [`GuestMemory`]; the crate has implementations over the memfd the
//! VMM maps into the IOAS, and over rust-vmm's `vm-memory` (feature `vm-memory`).

use rustix::io::Errno;

/// Reads and writes of guest physical memory. `Sync`: vCPU threads call the vSMMU
/// at once. An access either completes whole or fails naming the address; it never
/// panics.
pub trait GuestMemory: Send + Sync {
    /// Reads `buf.len()` bytes at guest physical `gpa`.
    fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), GuestMemoryError>;

    /// Writes `data` at guest physical `gpa`.
    fn write(&self, gpa: u64, data: &[u8]) -> Result<(), GuestMemoryError>;
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

/// Why a guest memory access failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GuestMemoryFault {
    /// No guest RAM there (or the access runs past its end).
    #[error("not guest RAM")]
    Unmapped,
    /// The backing file's read or write failed.
    #[error("{0}")]
    Io(Errno),
}
