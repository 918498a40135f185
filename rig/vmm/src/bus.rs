// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The MMIO exit handler: which device an L2 physical address belongs to.

use crate::iommu::Smmu;
use crate::layout::*;
use crate::pci::PciHost;
use crate::uart::Uart;
use iommufd::vsmmu::Width;
use kvm_ioctls::VmFd;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// The devices on L2's MMIO bus.
pub struct Bus<'a> {
    vm: &'a VmFd,
    /// The UART and its interrupt line's level.
    uart: Mutex<(Uart, bool)>,
    pci: Mutex<PciHost>,
    smmu: &'a Smmu,
    /// The invalidation sink's switch: L2 prints `BENCH-MODE per-command` or
    /// `BENCH-MODE per-sync` to flip it between bench rounds.
    one_per_ioctl: &'a AtomicBool,
}

fn within(addr: u64, base: u64, size: u64) -> Option<u64> {
    addr.checked_sub(base).filter(|&o| o < size)
}

impl<'a> Bus<'a> {
    pub fn new(vm: &'a VmFd, smmu: &'a Smmu, pci: PciHost, one_per_ioctl: &'a AtomicBool) -> Self {
        Self {
            one_per_ioctl,
            vm,
            uart: Mutex::new((Uart::default(), false)),
            pci: Mutex::new(pci),
            smmu,
        }
    }

    /// The L2 console, line by line.
    pub fn console_lines(&self) -> Vec<String> {
        self.uart
            .lock()
            .map(|u| u.0.lines().to_vec())
            .unwrap_or_default()
    }

    /// An access to the UART, then its interrupt line brought up to date.
    fn with_uart<R>(&self, access: impl FnOnce(&mut Uart) -> R) -> Option<R> {
        let mut guard = self.uart.lock().ok()?;
        let (uart, level) = &mut *guard;
        let lines = uart.lines().len();
        let result = access(uart);
        if uart.lines().len() > lines {
            match uart.lines().last().map(|l| l.trim()) {
                Some("BENCH-MODE per-command") => self.one_per_ioctl.store(true, Relaxed),
                Some("BENCH-MODE per-sync") => self.one_per_ioctl.store(false, Relaxed),
                _ => {}
            }
        }
        if uart.interrupt() != *level {
            *level = !*level;
            crate::kvm::set_spi(self.vm, SPI_UART, *level);
        }
        Some(result)
    }

    /// A load of `data.len()` bytes from `addr`; unclaimed addresses read as zero.
    pub fn read(&self, addr: u64, data: &mut [u8]) {
        data.fill(0);
        if let Some(reg) = within(addr, UART, UART_SIZE) {
            if let Some(byte) = self.with_uart(|u| u.read(reg)) {
                data[0] = byte;
            }
        } else if let Some(offset) = within(addr, SMMU, SMMU_SIZE) {
            // An access the vSMMU refuses (its width, say) reads as zero.
            let value = Width::from_len(data.len())
                .and_then(|w| self.smmu.read(offset, w).ok())
                .unwrap_or(0);
            let bytes = value.to_le_bytes();
            data.copy_from_slice(&bytes[..data.len()]);
        } else if let Some(offset) = within(addr, ECAM, ECAM_SIZE) {
            if let Ok(pci) = self.pci.lock() {
                pci.ecam_read(offset, data);
            }
        } else if within(addr, PCI_MMIO, PCI_MMIO_SIZE).is_some() {
            if let Ok(pci) = self.pci.lock() {
                pci.mmio_read(addr, data);
            }
        } else {
            eprintln!("vmm: read of {} bytes at unclaimed {addr:#x}", data.len());
        }
    }

    /// A store of `data` to `addr`; unclaimed addresses ignore it.
    pub fn write(&self, addr: u64, data: &[u8]) {
        if let Some(reg) = within(addr, UART, UART_SIZE) {
            self.with_uart(|u| u.write(reg, data[0]));
        } else if let Some(offset) = within(addr, SMMU, SMMU_SIZE) {
            let mut bytes = [0u8; 8];
            bytes[..data.len()].copy_from_slice(data);
            let value = u64::from_le_bytes(bytes);
            let outcome = Width::from_len(data.len())
                .ok_or(format!("{}-byte access", data.len()))
                .and_then(|w| self.smmu.write(offset, w, value).map_err(|e| e.to_string()));
            if let Err(e) = outcome {
                eprintln!("vmm: vSMMU write at {offset:#x}: {e}");
            }
        } else if let Some(offset) = within(addr, ECAM, ECAM_SIZE) {
            if let Ok(mut pci) = self.pci.lock() {
                pci.ecam_write(offset, data);
            }
        } else if within(addr, PCI_MMIO, PCI_MMIO_SIZE).is_some() {
            if let Ok(pci) = self.pci.lock() {
                pci.mmio_write(addr, data);
            }
        } else {
            eprintln!("vmm: write of {} bytes at unclaimed {addr:#x}", data.len());
        }
    }
}
