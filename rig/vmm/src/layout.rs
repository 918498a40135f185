// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The L2 guest's physical address map and interrupt numbers: one place, read by
//! the device tree and by the exit handler.

/// GICv3 distributor (64 KiB) and redistributors (128 KiB per vCPU).
pub const GIC_DIST: u64 = 0x0800_0000;
pub const GIC_DIST_SIZE: u64 = 0x1_0000;
pub const GIC_REDIST: u64 = 0x080a_0000;
pub const GIC_REDIST_SIZE: u64 = 0x2_0000;

/// The 16550 UART (the L2 console), eight byte-wide registers.
pub const UART: u64 = 0x0900_0000;
pub const UART_SIZE: u64 = 0x1000;

/// The vSMMU's register frame: pages 0 and 1, 64 KiB aligned.
pub const SMMU: u64 = 0x0910_0000;
pub const SMMU_SIZE: u64 = iommufd::vsmmu::offset::FRAME_SIZE;

/// The PCIe host's 32-bit memory window, where L2 places edu's BAR0.
pub const PCI_MMIO: u64 = 0x1000_0000;
pub const PCI_MMIO_SIZE: u64 = 0x2f00_0000;

/// ECAM for bus 0 only: 32 devices x 8 functions x 4 KiB.
pub const ECAM: u64 = 0x3f00_0000;
pub const ECAM_SIZE: u64 = 0x10_0000;

/// Guest RAM: a memfd, in KVM's memslot and the IOAS at the same addresses
/// (stage 2 is the identity on guest physical addresses).
pub const RAM: u64 = 0x4000_0000;

/// SPIs (GIC INTIDs 32 + n): the UART's (level) and the vSMMU's wired ones (edges).
pub const SPI_UART: u32 = 0;
pub const SPI_SMMU_EVENTQ: u32 = 1;
pub const SPI_SMMU_GERROR: u32 = 2;
pub const SPI_SMMU_CMD_SYNC: u32 = 3;
/// SPIs the vGIC has (a multiple of 32, at least the highest used).
pub const NR_SPIS: u32 = 32;

/// The passed-through device's guest StreamID: `iommu-map` sends bus 0's
/// requester IDs to StreamIDs from here (the device, 00:00.0, is RID 0), so that
/// L2's events name a StreamID neither the RID nor the physical one.
pub const DEVICE_SID: u32 = 0x42;
