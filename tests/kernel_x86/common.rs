// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Helpers shared by the kernel tests.

#![allow(unsafe_code)] // test buffers handed to the kernel for DMA

use iommufd::mock::MockDevice;
use iommufd::{ErrorKind, IoasId, IommuFd, Result};
use std::sync::Arc;

/// Opens /dev/iommu: a missing device fails the test, never skips it.
pub fn open() -> Arc<IommuFd> {
    Arc::new(IommuFd::open().expect("/dev/iommu must exist in the kernel tier"))
}

/// An iommufd, an IOAS and a mock device attached to it.
pub fn ioas_with_device() -> (Arc<IommuFd>, IoasId, MockDevice) {
    let fd = open();
    let ioas = fd.alloc_ioas().unwrap();
    let dev = MockDevice::new(&fd, ioas).unwrap();
    (fd, ioas, dev)
}

/// Asserts that `r` failed with `kind`.
#[track_caller]
pub fn assert_kind<T: std::fmt::Debug>(r: Result<T>, kind: ErrorKind) {
    match r {
        Ok(v) => panic!("expected {kind:?}, got Ok({v:?})"),
        Err(e) => assert_eq!(e.kind(), kind, "unexpected error: {e}"),
    }
}

/// A page-aligned anonymous buffer of `len` bytes, filled with a pattern.
pub struct Buffer {
    ptr: *mut u8,
    len: usize,
}

impl Buffer {
    pub fn new(len: usize) -> Self {
        let layout = std::alloc::Layout::from_size_align(len, 4096).unwrap();
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!ptr.is_null());
        let mut b = Self { ptr, len };
        for (i, byte) in b.bytes_mut().iter_mut().enumerate() {
            *byte = i as u8;
        }
        b
    }
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: ptr is a live allocation of len bytes.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: ptr is a live allocation of len bytes, borrowed exclusively.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
    pub fn ptr(&self) -> *const u8 {
        self.ptr
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        let layout = std::alloc::Layout::from_size_align(self.len, 4096).unwrap();
        // SAFETY: allocated in new() with this layout.
        unsafe { std::alloc::dealloc(self.ptr, layout) }
    }
}

/// Maps `buf` at `iova` of `ioas` for read and write.
pub fn map_buffer(fd: &IommuFd, ioas: IoasId, buf: &Buffer, iova: u64) -> iommufd::Iova {
    // SAFETY: the test keeps `buf` alive and unmaps or drops the iommufd first; it
    // reads the buffer only through the mock's checks.
    unsafe {
        fd.map_user(
            ioas,
            buf.ptr(),
            buf.bytes().len() as u64,
            iommufd::MapAt::Fixed(iommufd::Iova(iova)),
            iommufd::Access::READ | iommufd::Access::WRITE,
        )
    }
    .unwrap()
}

/// The mock's first usable IOVA.
pub const APERTURE: u64 = iommufd::uapi::MOCK_APERTURE_START;

/// Whether the running kernel has every feature a test needs. When it lacks one,
/// says so on the console past the harness's capture (`rig: UNSUPPORTED <test>:
/// needs <feature>`, which the rig counts as unsupported, never as passed) and
/// returns false: the test returns at once.
pub fn needs(features: &[iommufd::Feature]) -> bool {
    let fd = open();
    let missing: Vec<String> = features
        .iter()
        .filter(|f| !fd.supports(**f))
        .map(ToString::to_string)
        .collect();
    if missing.is_empty() {
        return true;
    }
    unsupported(&missing.join(", "));
    false
}

/// Says on the console, past the harness's capture, that the running test needs
/// `what`, which this kernel lacks.
fn unsupported(what: &str) {
    use std::io::Write;
    let test = std::thread::current()
        .name()
        .unwrap_or("<unnamed>")
        .to_string();
    // Straight to fd 2: print!/eprint! would be captured and dropped.
    let _ = writeln!(
        std::io::stderr().lock(),
        "\nrig: UNSUPPORTED {test}: needs {what}"
    );
}

/// Marks `pages` (4 KiB page numbers from `iova`) of mock HWPT `hwpt` dirty through
/// the mock and returns how many 4 KiB pages it marked. The mock's dirty granule is
/// a 4 KiB page table entry on 7.x and half a page on 6.12 (whose `DIRTY` indexes its
/// entries by the page size given): a first try at 4 KiB that marks nothing is made
/// again at 2 KiB, one entry per page.
pub fn mark_dirty(fd: &IommuFd, hwpt: iommufd::HwptId, iova: u64, pages: &[usize]) -> usize {
    use iommufd::mock::MockChecks;
    let bitmap = |granule_per_page: usize| {
        let bits = (pages.iter().max().map_or(0, |p| p + 1)) * granule_per_page;
        let mut map = vec![0u8; bits.div_ceil(8).max(8)];
        for p in pages {
            let bit = p * granule_per_page;
            map[bit / 8] |= 1 << (bit % 8);
        }
        map
    };
    let marked = fd
        .set_dirty(hwpt, iommufd::Iova(iova), 4096, &bitmap(1))
        .unwrap();
    if marked != 0 {
        return marked as usize;
    }
    fd.set_dirty(hwpt, iommufd::Iova(iova), 2048, &bitmap(2))
        .unwrap() as usize
}

/// Whether the mock makes PASID-capable devices and attaches per PASID (Linux 6.15
/// on; 6.12's mock refuses the device flag, EINVAL). Reports the test unsupported
/// when not, as [`needs`] does.
pub fn needs_mock_pasid(fd: &Arc<IommuFd>, ioas: IoasId) -> bool {
    use iommufd::mock::MockDeviceFlags;
    match MockDevice::with_flags(fd, ioas, MockDeviceFlags::PASID) {
        Ok(_) => true,
        Err(e) if e.errno() == Some(rustix::io::Errno::INVAL) => {
            unsupported("PASID-capable mock devices and PASID attach (Linux 6.15)");
            false
        }
        Err(e) => panic!("a PASID mock device: {e}"),
    }
}
