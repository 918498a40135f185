// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! A shared mapping of a file range (guest RAM in a memfd) that is only ever read and
//! written by copies: no Rust reference into it exists, so a guest (or a device's
//! DMA) changing the memory under a copy only changes what is copied, as with
//! `pread`.

use rustix::fd::BorrowedFd;
use rustix::io::Errno;
use rustix::mm::{MapFlags, ProtFlags, mmap, munmap};
use std::ptr::NonNull;

/// `len` bytes of a file from `offset` on, mapped shared, read and write. Unmapped
/// on drop.
pub(crate) struct SharedMapping {
    /// The start of the mapping (page-aligned, at the page holding `offset`).
    base: NonNull<u8>,
    /// The whole mapping's length: `lead + len`.
    mapped: usize,
    /// Bytes between `base` and the byte at `offset`.
    lead: usize,
    /// The bytes the caller asked for.
    len: usize,
}

// SAFETY: the mapping is plain shared memory, reached only through copies in
// `read`/`write`, which any thread may make at any time.
unsafe impl Send for SharedMapping {}
// SAFETY: as above: `&self` hands out no reference into the mapping.
unsafe impl Sync for SharedMapping {}

impl SharedMapping {
    /// Maps `len` (> 0) bytes of `fd` from `offset` on. The caller has checked that
    /// the file holds them, so no access within `len` can meet the end of the file.
    pub(crate) fn new(fd: BorrowedFd<'_>, offset: u64, len: usize) -> Result<Self, Errno> {
        let page = rustix::param::page_size() as u64;
        let lead = (offset % page) as usize;
        let mapped = len.checked_add(lead).ok_or(Errno::NOMEM)?;
        if len == 0 {
            return Err(Errno::INVAL);
        }
        // SAFETY: a new mapping at an address the kernel chooses, so nothing the
        // process holds is replaced; it is unmapped only in `drop`.
        let base = unsafe {
            mmap(
                std::ptr::null_mut(),
                mapped,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                fd,
                offset - lead as u64,
            )
        }?;
        let base = NonNull::new(base.cast::<u8>()).ok_or(Errno::NOMEM)?;
        Ok(Self {
            base,
            mapped,
            lead,
            len,
        })
    }

    /// The length the caller asked for.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The address of byte `at` of the range, when `at .. at + n` lies within it.
    #[inline]
    fn span(&self, at: usize, n: usize) -> Option<*mut u8> {
        let end = at.checked_add(n)?;
        if end > self.len {
            return None;
        }
        // SAFETY: `lead + at <= lead + len = mapped`: within (or one past) the
        // mapping, one allocation as far as pointer arithmetic goes.
        Some(unsafe { self.base.as_ptr().add(self.lead + at) })
    }

    /// Copies `buf.len()` bytes from byte `at` of the range; `None` (and nothing
    /// copied) when they are not all within it.
    #[inline]
    pub(crate) fn read(&self, at: usize, buf: &mut [u8]) -> Option<()> {
        let from = self.span(at, buf.len())?;
        // SAFETY: `from .. from + buf.len()` is mapped, readable and backed by the
        // file (checked at `new`); `buf` is process memory outside any mapping
        // this type makes, so the two do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(from, buf.as_mut_ptr(), buf.len()) };
        Some(())
    }

    /// Copies `data` to byte `at` of the range; `None` (and nothing copied) when it
    /// does not fit within it.
    #[inline]
    pub(crate) fn write(&self, at: usize, data: &[u8]) -> Option<()> {
        let to = self.span(at, data.len())?;
        // SAFETY: as in `read`, the other way round: `to .. to + data.len()` is
        // mapped writable, and `data` lies outside it.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), to, data.len()) };
        Some(())
    }
}

impl Drop for SharedMapping {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, whole; no pointer into it outlives
        // `self` (copies only).
        let _ = unsafe { munmap(self.base.as_ptr().cast(), self.mapped) };
    }
}

impl core::fmt::Debug for SharedMapping {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SharedMapping")
            .field("base", &self.base)
            .field("len", &self.len)
            .finish()
    }
}
