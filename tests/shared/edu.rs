// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! QEMU's edu device (docs/specs/edu.rst) as a DMA engine, through its VFIO
//! regions. Shared by the arm64 kernel tests and the rig's L2 test program, which
//! include this file next to `vfio_regions.rs` as `mod vfio`.

use super::vfio::Regions;
use rustix::fd::AsFd;
use std::time::{Duration, Instant};

/// edu's own buffer, in its DMA address space.
pub const EDU_BUFFER: u64 = 0x40000;

/// edu's DMA registers in BAR0: source, destination, count, command.
const SRC: u64 = 0x80;
const DST: u64 = 0x88;
const COUNT: u64 = 0x90;
const CMD: u64 = 0x98;
/// Command bits: start (clear when done); direction device to RAM.
const CMD_START: u64 = 0x1;
const CMD_TO_RAM: u64 = 0x2;

/// An edu device reached through its VFIO device fd.
pub struct Edu(Regions);

impl Edu {
    /// Enables bus mastering and memory decoding (vfio-pci leaves them off).
    pub fn new(dev: &impl AsFd) -> Self {
        let regions = Regions::new(dev).expect("the VFIO device's regions");
        let mut command = [0u8; 2];
        regions.read(regions.config, 4, &mut command);
        let value = u16::from_le_bytes(command) | 0x6;
        regions.write(regions.config, 4, &value.to_le_bytes());
        Self(regions)
    }

    fn write64(&self, reg: u64, value: u64) {
        // One aligned 8-byte write: vfio-pci makes it a 64-bit MMIO access.
        self.0.write(self.0.bar0, reg, &value.to_le_bytes());
    }

    fn read64(&self, reg: u64) -> u64 {
        let mut b = [0u8; 8];
        self.0.read(self.0.bar0, reg, &mut b);
        u64::from_le_bytes(b)
    }

    /// Copies `count` bytes from `src` to `dst`, one of which is [`EDU_BUFFER`],
    /// the other an IOVA, and waits for it; false if it never finished.
    pub fn try_dma(&self, src: u64, dst: u64, count: u64) -> bool {
        self.write64(SRC, src);
        self.write64(DST, dst);
        self.write64(COUNT, count);
        let to_ram = if dst == EDU_BUFFER { 0 } else { CMD_TO_RAM };
        self.write64(CMD, CMD_START | to_ram);
        let start = Instant::now();
        // edu starts each copy from a 100 ms timer; a faulting copy ends too.
        while self.read64(CMD) & CMD_START != 0 {
            if start.elapsed() > Duration::from_secs(30) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    }

    /// [`try_dma`](Self::try_dma), which must finish.
    #[allow(dead_code)] // the L2 program uses try_dma only
    pub fn dma(&self, src: u64, dst: u64, count: u64) {
        assert!(self.try_dma(src, dst, count), "edu DMA did not finish");
    }
}
