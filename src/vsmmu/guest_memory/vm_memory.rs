// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! rust-vmm's `vm-memory` as the vSMMU's guest memory: a VMM built on it (Cloud
//! Hypervisor, Firecracker, crosvm's rust-vmm users) hands over what its virtio
//! devices already get.

use super::{GuestMemory, GuestMemoryError, GuestMemoryFault, access_end};
use ::vm_memory::{Bytes, GuestAddress, GuestAddressSpace, Permissions};
use rustix::io::Errno;

/// A `vm-memory` address space as a [`GuestMemory`]: anything implementing
/// [`GuestAddressSpace`], so
/// `&GuestMemoryMmap`, `Arc<GuestMemoryMmap>` or a `GuestMemoryAtomic` (every access
/// takes a fresh snapshot, so memory hot-plugged later is seen).
///
/// An access is checked against the memory map (`check_range`) before it copies, so
/// one refused as [`GuestMemoryFault::Unmapped`] touched nothing. `vm-memory`'s
/// errors map as: an invalid or overflowing guest address, or a partial access, to
/// `Unmapped`; an I/O error to [`GuestMemoryFault::Io`] with its errno (`EIO`
/// without one); anything else (a backend address out of range, an IOMMU
/// translation failure) to `Io(EFAULT)`.
///
/// ```
/// use iommufd::vsmmu::{GuestMemory, VmMemory};
/// use std::sync::Arc;
/// use vm_memory::{GuestAddress, GuestMemoryMmap};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let ram = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0x4000_0000), 0x10_0000)])?;
/// let memory = VmMemory::new(Arc::new(ram));
/// memory.write_u32(0x4000_0040, 0xcafe)?;
/// assert_eq!(memory.read_u32(0x4000_0040)?, 0xcafe);
/// assert!(memory.read_u32(0).unwrap_err().is_unmapped());
/// # Ok(()) }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "vm-memory")))]
#[derive(Debug, Clone)]
pub struct VmMemory<S> {
    space: S,
}

impl<S> VmMemory<S> {
    /// The guest memory `space` describes.
    pub const fn new(space: S) -> Self {
        Self { space }
    }

    /// The address space.
    pub const fn space(&self) -> &S {
        &self.space
    }

    /// The address space back.
    pub fn into_inner(self) -> S {
        self.space
    }
}

impl<S> From<S> for VmMemory<S> {
    fn from(space: S) -> Self {
        Self::new(space)
    }
}

impl<S: GuestAddressSpace + Send + Sync> VmMemory<S> {
    /// One snapshot of the memory map for the whole access, checked to cover it.
    fn checked(
        &self,
        gpa: u64,
        len: usize,
        access: Permissions,
    ) -> Result<Option<S::T>, GuestMemoryError> {
        if len == 0 {
            return Ok(None);
        }
        access_end(gpa, len)?;
        let memory = self.space.memory();
        if !::vm_memory::GuestMemory::check_range(&*memory, GuestAddress(gpa), len, access) {
            return Err(GuestMemoryError::unmapped(gpa, len));
        }
        Ok(Some(memory))
    }
}

impl<S: GuestAddressSpace + Send + Sync> GuestMemory for VmMemory<S> {
    fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), GuestMemoryError> {
        let len = buf.len();
        match self.checked(gpa, len, Permissions::Read)? {
            Some(memory) => memory
                .read_slice(buf, GuestAddress(gpa))
                .map_err(|e| GuestMemoryError::new(gpa, len, fault(&e))),
            None => Ok(()),
        }
    }

    fn write(&self, gpa: u64, data: &[u8]) -> Result<(), GuestMemoryError> {
        let len = data.len();
        match self.checked(gpa, len, Permissions::Write)? {
            Some(memory) => memory
                .write_slice(data, GuestAddress(gpa))
                .map_err(|e| GuestMemoryError::new(gpa, len, fault(&e))),
            None => Ok(()),
        }
    }
}

/// The fault of a `vm-memory` error. The match ends with a wildcard because
/// another crate in the build may enable `vm-memory`'s `iommu` feature, which adds
/// a variant.
fn fault(e: &::vm_memory::GuestMemoryError) -> GuestMemoryFault {
    use ::vm_memory::GuestMemoryError as E;
    match e {
        E::InvalidGuestAddress(_) | E::GuestAddressOverflow | E::PartialBuffer { .. } => {
            GuestMemoryFault::Unmapped
        }
        E::IOError(io) => GuestMemoryFault::Io(Errno::from_io_error(io).unwrap_or(Errno::IO)),
        _ => GuestMemoryFault::Io(Errno::FAULT),
    }
}
