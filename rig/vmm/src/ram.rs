// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Guest RAM: one memfd, mapped into this process for KVM's memslot and the boot
//! loader, into the IOAS for the device's DMA (stage 2), and handed to the vSMMU
//! as `MappedGuestMemory`: three views of the same pages.

use crate::layout::RAM;
use kvm_bindings::kvm_userspace_memory_region;
use kvm_ioctls::VmFd;
use rustix::fd::OwnedFd;
use std::sync::Arc;

/// The memfd and this process's mapping of it.
pub struct GuestRam {
    memfd: Arc<OwnedFd>,
    ptr: *mut u8,
    size: usize,
}

// SAFETY: the mapping is shared memory that the guest and the device write as they
// please; this process only copies in and out of it (`load`, `read`).
unsafe impl Send for GuestRam {}
// SAFETY: as above: no reference into the mapping outlives a copy.
unsafe impl Sync for GuestRam {}

impl GuestRam {
    /// `size` bytes of zeroed guest RAM at [`RAM`].
    pub fn new(size: usize) -> std::io::Result<Self> {
        let memfd = rustix::fs::memfd_create("l2-ram", rustix::fs::MemfdFlags::CLOEXEC)?;
        rustix::fs::ftruncate(&memfd, size as u64)?;
        // SAFETY: a new shared mapping of the whole memfd, unmapped in Drop.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                size,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::SHARED,
                &memfd,
                0,
            )
        }?;
        Ok(Self {
            memfd: Arc::new(memfd),
            ptr: ptr.cast(),
            size,
        })
    }

    /// The memfd (offset 0 is guest physical [`RAM`]).
    pub fn memfd(&self) -> Arc<OwnedFd> {
        self.memfd.clone()
    }

    pub fn size(&self) -> u64 {
        self.size as u64
    }

    /// Registers the mapping as KVM memslot 0.
    pub fn register(&self, vm: &VmFd) -> Result<(), kvm_ioctls::Error> {
        let region = kvm_userspace_memory_region {
            slot: 0,
            flags: 0,
            guest_phys_addr: RAM,
            memory_size: self.size as u64,
            userspace_addr: self.ptr as u64,
        };
        // SAFETY: the mapping lives as long as `self`, which the VMM keeps until the
        // VM is gone.
        unsafe { vm.set_user_memory_region(region) }
    }

    /// The offset of `[gpa, gpa + len)` in the memfd, if it is all RAM.
    fn offset(&self, gpa: u64, len: usize) -> Option<usize> {
        let start = usize::try_from(gpa.checked_sub(RAM)?).ok()?;
        (start.checked_add(len)? <= self.size).then_some(start)
    }

    /// Copies `data` to guest physical `gpa` (the boot loader).
    pub fn load(&self, gpa: u64, data: &[u8]) -> Result<(), String> {
        let at = self
            .offset(gpa, data.len())
            .ok_or_else(|| format!("{} bytes at {gpa:#x} do not fit in RAM", data.len()))?;
        // SAFETY: inside the mapping (checked); a copy, no reference is kept.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.add(at), data.len()) };
        Ok(())
    }
}

impl Drop for GuestRam {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`; nothing refers to it any more.
        let _ = unsafe { rustix::mm::munmap(self.ptr.cast(), self.size) };
    }
}
