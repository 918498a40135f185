// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! What the tests need around the crate: the VFIO region accesses a VMM takes from
//! other crates, QEMU's edu device as a DMA engine, guest RAM in a memfd, and the
//! guest's side of stage 1 (page tables and a context descriptor), written into that
//! RAM the way a guest kernel would.

#![allow(unsafe_code)] // mmap of guest RAM, DMA

#[path = "../shared/edu.rs"]
mod edu;
#[path = "../shared/vfio_regions.rs"]
mod vfio;

pub use edu::{EDU_BUFFER, Edu};

use iommufd::arch::smmuv3;
use iommufd::states::IoasReady;
use iommufd::{Access, Iova, MapAt, VfioUnbound};
use rustix::fd::{AsFd, OwnedFd};
use std::sync::Arc;

/// The VFIO device cdevs of the guest (QEMU's edu devices, bound to vfio-pci by
/// /init), in order.
pub fn vfio_devices() -> Vec<String> {
    let mut paths: Vec<String> = std::fs::read_dir("/dev/vfio/devices")
        .expect("/dev/vfio/devices must exist in the arm64 tier")
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    paths.sort();
    assert!(
        !paths.is_empty(),
        "no VFIO device: is the edu device on vfio-pci?"
    );
    paths
}

pub fn open_device(index: usize) -> VfioUnbound {
    VfioUnbound::open(&vfio_devices()[index]).unwrap()
}

/// Waits (up to 10 s) until `queue` (a vEVENTQ's fd) is readable: a fault's event
/// reaches the vEVENTQ after the DMA that caused it has ended, as a VMM's epoll
/// sees.
pub fn wait_readable(queue: &impl AsFd) {
    use rustix::event::{PollFd, PollFlags, Timespec};
    let mut fds = [PollFd::new(queue, PollFlags::IN)];
    let timeout = Timespec {
        tv_sec: 10,
        tv_nsec: 0,
    };
    rustix::event::poll(&mut fds, Some(&timeout)).expect("poll the vEVENTQ");
}

/// Guest physical base of the guest RAM the tests map (above 4 GiB, like real RAM).
pub const RAM_IPA: u64 = 0x10_0000_0000;
pub const RAM_SIZE: usize = 4 << 20;
pub const PAGE: u64 = 4096;

/// Guest RAM: a memfd mapped in the IOAS at [`RAM_IPA`] (stage 2) and in this
/// process, so the test can play the guest writing its tables.
pub struct GuestRam {
    memfd: Arc<OwnedFd>,
    ptr: *mut u8,
}

// SAFETY: the mapping is plain shared memory; the tests access it from one thread.
unsafe impl Send for GuestRam {}

impl GuestRam {
    pub fn new(ioas: &IoasReady) -> Self {
        let memfd = rustix::fs::memfd_create("guest-ram", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
        rustix::fs::ftruncate(&memfd, RAM_SIZE as u64).unwrap();
        // SAFETY: a fresh shared mapping of the memfd, unmapped in Drop.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                RAM_SIZE,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::SHARED,
                &memfd,
                0,
            )
        }
        .unwrap()
        .cast::<u8>();
        ioas.map_file(
            memfd.as_fd(),
            0,
            RAM_SIZE as u64,
            MapAt::Fixed(Iova(RAM_IPA)),
            Access::READ | Access::WRITE,
        )
        .unwrap();
        Self {
            memfd: Arc::new(memfd),
            ptr,
        }
    }

    /// The memfd holding guest RAM (from offset 0 at [`RAM_IPA`]), for a VMM's
    /// own view of it (`vsmmu::FileGuestMemory`).
    pub fn memfd(&self) -> Arc<OwnedFd> {
        self.memfd.clone()
    }

    fn offset(ipa: u64) -> usize {
        assert!(
            (RAM_IPA..RAM_IPA + RAM_SIZE as u64).contains(&ipa),
            "{ipa:#x} outside guest RAM"
        );
        (ipa - RAM_IPA) as usize
    }

    pub fn write_u64(&self, ipa: u64, value: u64) {
        // SAFETY: inside the mapping (checked), 8-byte aligned by construction.
        unsafe {
            self.ptr
                .add(Self::offset(ipa))
                .cast::<u64>()
                .write_volatile(value.to_le())
        }
    }

    pub fn read_u64(&self, ipa: u64) -> u64 {
        // SAFETY: inside the mapping (checked).
        u64::from_le(unsafe {
            self.ptr
                .add(Self::offset(ipa))
                .cast::<u64>()
                .read_volatile()
        })
    }

    pub fn fill(&self, ipa: u64, len: usize, byte: u8) {
        let o = Self::offset(ipa);
        assert!(o + len <= RAM_SIZE);
        // SAFETY: inside the mapping (checked).
        unsafe { std::ptr::write_bytes(self.ptr.add(o), byte, len) }
    }

    pub fn bytes(&self, ipa: u64, len: usize) -> Vec<u8> {
        let o = Self::offset(ipa);
        assert!(o + len <= RAM_SIZE);
        // SAFETY: inside the mapping (checked); a copy, so DMA cannot race a borrow.
        unsafe { std::slice::from_raw_parts(self.ptr.add(o), len).to_vec() }
    }
}

impl Drop for GuestRam {
    fn drop(&mut self) {
        // SAFETY: the mapping made in new().
        let _ = unsafe { rustix::mm::munmap(self.ptr.cast(), RAM_SIZE) };
    }
}

/// The guest's stage 1: a 4-level, 4 KiB-granule AArch64 table and one context
/// descriptor, all in guest RAM. Layout (guest physical): tables from RAM_IPA, the CD
/// after them, data pages from [`DATA_IPA`].
pub struct Stage1<'a> {
    ram: &'a GuestRam,
    next_table: u64,
    root: u64,
    pub asid: u16,
}

pub const CD_IPA: u64 = RAM_IPA + 0xf_f000;
pub const DATA_IPA: u64 = RAM_IPA + 0x10_0000;

const DESC_VALID_TABLE: u64 = 0b11;
const PAGE_AF: u64 = 1 << 10;
const PAGE_SH_INNER: u64 = 0b11 << 8;
const PAGE_AP_RW: u64 = 0b01 << 6;
const ADDR_MASK: u64 = ((1 << 48) - 1) & !0xfff;

impl<'a> Stage1<'a> {
    pub fn new(ram: &'a GuestRam, asid: u16) -> Self {
        let root = RAM_IPA;
        ram.fill(root, PAGE as usize, 0);
        let s = Self {
            ram,
            next_table: RAM_IPA + PAGE,
            root,
            asid,
        };
        s.write_cd(true);
        s
    }

    /// Writes the context descriptor: V (or not), AArch64, 48-bit input (T0SZ 16),
    /// 4 KiB granule, write-back inner shareable walks, 44-bit IPS, EPD1, R, A, ASET,
    /// the ASID, TTB0 and MAIR0 (attribute 0: normal write-back memory).
    pub fn write_cd(&self, valid: bool) {
        let t0sz = 16u64;
        let irgn0 = 0b01 << 8;
        let orgn0 = 0b01 << 10;
        let sh0 = 0b11 << 12;
        let epd1 = 1 << 30;
        let v = if valid { 1 << 31 } else { 0 };
        let ips_44 = 0b100 << 32;
        let aa64 = 1 << 41;
        let r = 1 << 45;
        let a = 1 << 46;
        let aset = 1 << 47;
        let word0 = t0sz
            | irgn0
            | orgn0
            | sh0
            | epd1
            | v
            | ips_44
            | aa64
            | r
            | a
            | aset
            | (u64::from(self.asid) << 48);
        self.ram.fill(CD_IPA, 64, 0);
        self.ram.write_u64(CD_IPA, word0);
        self.ram
            .write_u64(CD_IPA + 8, self.root & (((1 << 52) - 1) & !0xf));
        self.ram.write_u64(CD_IPA + 24, 0xff);
    }

    fn alloc_table(&mut self) -> u64 {
        let t = self.next_table;
        assert!(t < CD_IPA, "out of table pages");
        self.next_table += PAGE;
        self.ram.fill(t, PAGE as usize, 0);
        t
    }

    /// Maps the 4 KiB page at `iova` to guest physical `ipa` (replacing any mapping).
    pub fn map(&mut self, iova: u64, ipa: u64) {
        let mut table = self.root;
        for level in 0..3 {
            let index = (iova >> (39 - 9 * level)) & 0x1ff;
            let slot = table + index * 8;
            let entry = self.ram.read_u64(slot);
            table = if entry & 0b11 == DESC_VALID_TABLE {
                entry & ADDR_MASK
            } else {
                let next = self.alloc_table();
                self.ram.write_u64(slot, next | DESC_VALID_TABLE);
                next
            };
        }
        let slot = table + ((iova >> 12) & 0x1ff) * 8;
        self.ram.write_u64(
            slot,
            (ipa & ADDR_MASK) | PAGE_AF | PAGE_SH_INNER | PAGE_AP_RW | DESC_VALID_TABLE,
        );
    }

    /// Removes the mapping of the page at `iova`.
    pub fn unmap(&mut self, iova: u64) {
        let mut table = self.root;
        for level in 0..3 {
            let entry = self
                .ram
                .read_u64(table + ((iova >> (39 - 9 * level)) & 0x1ff) * 8);
            assert_eq!(entry & 0b11, DESC_VALID_TABLE, "{iova:#x} was not mapped");
            table = entry & ADDR_MASK;
        }
        self.ram.write_u64(table + ((iova >> 12) & 0x1ff) * 8, 0);
    }

    /// The guest's STE for this stage 1: V, Config = stage-1 translate, linear CD
    /// table of one entry at [`CD_IPA`], walks write-back read-allocate, inner
    /// shareable.
    pub fn vste(&self) -> smmuv3::Ste {
        use smmuv3::{Cacheability::WriteBackReadAllocate, Shareability::Inner};
        smmuv3::Ste::translate(CD_IPA)
            .expect("CD_IPA fits S1ContextPtr")
            .with_cd_attributes(WriteBackReadAllocate, WriteBackReadAllocate, Inner)
    }
}
