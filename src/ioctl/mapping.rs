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

/// `len` bytes of device memory (a vIOMMU's MMIO window) mapped shared from an
/// iommufd at `offset`, reached only by volatile accesses of the width asked for,
/// as registers need. Unmapped on drop.
pub(crate) struct DeviceMapping {
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: registers are reached only through volatile accesses, which any thread
// may make at any time; `&self` hands out no reference into the mapping.
unsafe impl Send for DeviceMapping {}
// SAFETY: as above.
unsafe impl Sync for DeviceMapping {}

impl DeviceMapping {
    /// Maps `len` bytes of `fd` at `offset` (both as the kernel reported them).
    pub(crate) fn new(fd: BorrowedFd<'_>, offset: u64, len: usize) -> Result<Self, Errno> {
        if len == 0 {
            return Err(Errno::INVAL);
        }
        // SAFETY: a new mapping at an address the kernel chooses, so nothing the
        // process holds is replaced; it is unmapped only in `drop`.
        let base = unsafe {
            mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                fd,
                offset,
            )
        }?;
        let base = NonNull::new(base.cast::<u8>()).ok_or(Errno::NOMEM)?;
        Ok(Self { base, len })
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    /// The address of the `T` at byte `at`, when it lies within the window and is
    /// aligned to its size.
    #[inline]
    fn register<T>(&self, at: usize) -> Option<*mut T> {
        let size = size_of::<T>();
        if at % size != 0 || at.checked_add(size)? > self.len {
            return None;
        }
        // SAFETY: `at + size <= len`: within the mapping.
        Some(unsafe { self.base.as_ptr().add(at) }.cast::<T>())
    }

    #[inline]
    pub(crate) fn read_u32(&self, at: usize) -> Option<u32> {
        let reg = self.register::<u32>(at)?;
        // SAFETY: `reg` is mapped, readable and aligned (checked by `register`).
        Some(unsafe { reg.read_volatile() })
    }

    #[inline]
    pub(crate) fn write_u32(&self, at: usize, value: u32) -> Option<()> {
        let reg = self.register::<u32>(at)?;
        // SAFETY: `reg` is mapped, writable and aligned (checked by `register`).
        unsafe { reg.write_volatile(value) };
        Some(())
    }

    #[inline]
    pub(crate) fn read_u64(&self, at: usize) -> Option<u64> {
        let reg = self.register::<u64>(at)?;
        // SAFETY: as in `read_u32`.
        Some(unsafe { reg.read_volatile() })
    }

    #[inline]
    pub(crate) fn write_u64(&self, at: usize, value: u64) -> Option<()> {
        let reg = self.register::<u64>(at)?;
        // SAFETY: as in `write_u32`.
        unsafe { reg.write_volatile(value) };
        Some(())
    }
}

impl Drop for DeviceMapping {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, whole; no reference into it exists.
        let _ = unsafe { munmap(self.base.as_ptr().cast(), self.len) };
    }
}

impl core::fmt::Debug for DeviceMapping {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DeviceMapping")
            .field("base", &self.base)
            .field("len", &self.len)
            .finish()
    }
}
