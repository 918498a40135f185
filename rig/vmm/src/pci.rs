// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! A generic ECAM PCIe host with one device: the VFIO device at bus 0, device 0,
//! function 0. Config space goes to the VFIO config region (vfio-pci virtualizes
//! the BARs, so sizing and placement work as on hardware); BAR0 accesses go to the
//! VFIO BAR0 region at wherever L2 placed the BAR.

use crate::layout::{PCI_MMIO, PCI_MMIO_SIZE};
use crate::vfio::Regions;

/// Config space offsets.
const BAR0_REG: u64 = 0x10;
const INTERRUPT_LINE: u64 = 0x3c;
/// The BAR's address bits (a 32-bit memory BAR).
const BAR_ADDRESS: u32 = !0xf;

/// The host bridge's one device.
pub struct PciHost {
    regions: Regions,
    /// Where L2 placed BAR0, once it has.
    bar0: Option<u64>,
}

impl PciHost {
    pub fn new(regions: Regions) -> Self {
        Self {
            regions,
            bar0: None,
        }
    }

    /// Splits an ECAM offset into (device and function, register).
    fn decode(offset: u64) -> (u64, u64) {
        (offset >> 12, offset & 0xfff)
    }

    /// A config read at `offset` into the ECAM window.
    pub fn ecam_read(&self, offset: u64, data: &mut [u8]) {
        let (devfn, reg) = Self::decode(offset);
        if devfn != 0 {
            data.fill(0xff);
            return;
        }
        self.regions.read(self.regions.config, reg, data);
        // No INTx: the host has no interrupt-map (L2 polls the device).
        let pin = INTERRUPT_LINE + 1;
        if (reg..reg + data.len() as u64).contains(&pin) {
            data[(pin - reg) as usize] = 0;
        }
    }

    /// A config write at `offset` into the ECAM window.
    pub fn ecam_write(&mut self, offset: u64, data: &[u8]) {
        let (devfn, reg) = Self::decode(offset);
        if devfn != 0 {
            return;
        }
        self.regions.write(self.regions.config, reg, data);
        if (BAR0_REG..BAR0_REG + 4).contains(&reg) {
            let mut bar = [0u8; 4];
            self.regions.read(self.regions.config, BAR0_REG, &mut bar);
            // Placed once it is in the window (sizing writes all ones first).
            let address = u64::from(u32::from_le_bytes(bar) & BAR_ADDRESS);
            let window = PCI_MMIO..PCI_MMIO + PCI_MMIO_SIZE;
            self.bar0 = window.contains(&address).then_some(address);
        }
    }

    /// An access to guest physical `gpa` in the memory window: the offset into
    /// BAR0 if it falls there.
    fn bar0_offset(&self, gpa: u64, len: usize) -> Option<u64> {
        let base = self.bar0?;
        let offset = gpa.checked_sub(base)?;
        (offset + len as u64 <= self.regions.bar0.size).then_some(offset)
    }

    /// A read in the memory window; all ones outside any BAR.
    pub fn mmio_read(&self, gpa: u64, data: &mut [u8]) {
        match self.bar0_offset(gpa, data.len()) {
            Some(offset) => self.regions.read(self.regions.bar0, offset, data),
            None => data.fill(0xff),
        }
    }

    /// A write in the memory window; dropped outside any BAR.
    pub fn mmio_write(&self, gpa: u64, data: &[u8]) {
        if let Some(offset) = self.bar0_offset(gpa, data.len()) {
            self.regions.write(self.regions.bar0, offset, data);
        }
    }
}
