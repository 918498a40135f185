// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`VIommuWindow`]: the MMIO window a vIOMMU's driver hands user space, mapped.
//!
//! Tegra241 CMDQV returns its VINTF page0 (the guest's own virtual command queue
//! registers) at vIOMMU allocation, as an offset to `mmap` from the iommufd; a VMM
//! maps it and hands it to the guest as an MMIO region (a KVM memory slot on
//! [`as_ptr`](VIommuWindow::as_ptr)), so the guest drives the hardware queues
//! without exits. The mock returns two pages whose first word echoes the vIOMMU's
//! `in_data`. The kernel refuses any other offset or length (ENXIO), and refuses
//! to destroy the vIOMMU while it is mapped (EBUSY): the window holds the vIOMMU,
//! so it always goes first.

use super::VIommuAllocated;
use crate::arch::Family;
use crate::error::{Error, Op, Result};
use crate::ioctl::mapping::DeviceMapping;
use rustix::fd::AsFd;

/// A vIOMMU's window, mapped shared, read and write. Unmapped on drop, before the
/// vIOMMU handle it holds goes.
///
/// Registers are read and written with volatile accesses of their width;
/// [`as_ptr`](Self::as_ptr) gives the address to map into a guest. Keep the window
/// alive while anything (a KVM memory slot) uses the address.
pub struct VIommuWindow<F: Family> {
    // Field order is teardown order: unmap, then release the vIOMMU.
    mapping: DeviceMapping,
    viommu: VIommuAllocated<F>,
}

impl<F: Family> core::fmt::Debug for VIommuWindow<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VIommuWindow")
            .field("mapping", &self.mapping)
            .field("viommu", &self.viommu.id())
            .finish()
    }
}

impl<F: Family> VIommuWindow<F> {
    pub(super) fn new(viommu: &VIommuAllocated<F>) -> Result<Self> {
        let Some((offset, length)) = F::mmap_window(viommu.driver_data()) else {
            return Err(Error::Unsupported {
                op: Op::Mmap,
                reason: "the vIOMMU's driver returned no window to map",
            });
        };
        let length = usize::try_from(length)
            .map_err(|_| Error::invalid(Op::Mmap, "length", "larger than the address space"))?;
        let mapping = DeviceMapping::new(viommu.iommufd().as_fd(), offset, length)
            .map_err(|e| Error::kernel(Op::Mmap, e))?;
        Ok(Self {
            mapping,
            viommu: viommu.clone(),
        })
    }

    /// The vIOMMU it belongs to.
    pub fn viommu(&self) -> &VIommuAllocated<F> {
        &self.viommu
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.mapping.len()
    }

    /// Whether it is empty (never: the crate maps only windows with a length).
    pub fn is_empty(&self) -> bool {
        self.mapping.len() == 0
    }

    /// Its address in this process, for a KVM memory slot or another mapping into
    /// the guest. Dereferencing it is the caller's `unsafe` business.
    pub fn as_ptr(&self) -> *mut u8 {
        self.mapping.as_ptr()
    }

    /// The 32-bit register at byte `offset`; `None` when it is not 4-byte aligned
    /// or not inside the window.
    pub fn read_u32(&self, offset: usize) -> Option<u32> {
        self.mapping.read_u32(offset)
    }

    /// Writes the 32-bit register at byte `offset`; `None` (nothing written) when
    /// it is not 4-byte aligned or not inside the window.
    pub fn write_u32(&self, offset: usize, value: u32) -> Option<()> {
        self.mapping.write_u32(offset, value)
    }

    /// The 64-bit register at byte `offset`; `None` when it is not 8-byte aligned
    /// or not inside the window.
    pub fn read_u64(&self, offset: usize) -> Option<u64> {
        self.mapping.read_u64(offset)
    }

    /// Writes the 64-bit register at byte `offset`; `None` (nothing written) when
    /// it is not 8-byte aligned or not inside the window.
    pub fn write_u64(&self, offset: usize, value: u64) -> Option<()> {
        self.mapping.write_u64(offset, value)
    }
}
