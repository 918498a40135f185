// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Offsets of the vSMMU's registers from the base of its MMIO frame, and the rules
//! each follows (IHI 0070 §6.1 for the two 64 KiB pages, §6.3 for each register).
//!
//! 32-bit registers take aligned 32-bit accesses; 64-bit registers take one
//! aligned 64-bit access or a 32-bit access to either half. "RO" registers ignore
//! writes; "reserved" offsets (every offset not listed, and the registers of
//! features the vSMMU does not advertise: PRIQ, AGBPA, ATOS, VATOS, the Secure
//! page view, ...) read as zero and ignore writes.

/// The size of the frame a VMM maps for one vSMMU: page 0 and page 1 (§6.1).
pub const FRAME_SIZE: u64 = 0x2_0000;
/// The start of page 1 (§6.1).
pub const PAGE1: u64 = 0x1_0000;

/// SMMU_IDR0 (§6.3, SMMU_IDR0), RO: stages, table formats, coherency, ASID/VMID widths,
/// MSI, ATS, stall model, stream table levels, endianness.
pub const IDR0: u64 = 0x00;
/// SMMU_IDR1 (§6.3, SMMU_IDR1), RO: StreamID and SubstreamID widths, queue size
/// maxima (CMDQS, EVENTQS).
pub const IDR1: u64 = 0x04;
/// SMMU_IDR2 (§6.3, SMMU_IDR2), RO: the VATOS page, 0 (no VATOS).
pub const IDR2: u64 = 0x08;
/// SMMU_IDR3 (§6.3, SMMU_IDR3), RO: range invalidation, FWB, ...
pub const IDR3: u64 = 0x0c;
/// SMMU_IDR4 (§6.3, SMMU_IDR4), RO: IMPLEMENTATION DEFINED, 0.
pub const IDR4: u64 = 0x10;
/// SMMU_IDR5 (§6.3, SMMU_IDR5), RO: output address size, granules, DS.
pub const IDR5: u64 = 0x14;
/// SMMU_IIDR (§6.3, SMMU_IIDR), RO: implementer and product.
pub const IIDR: u64 = 0x18;
/// SMMU_AIDR (§6.3, SMMU_AIDR), RO: architecture revision.
pub const AIDR: u64 = 0x1c;

/// SMMU_CR0 (§6.3, SMMU_CR0), RW: SMMUEN, EVENTQEN, CMDQEN, ATSCHK (with ATS).
/// A write is stored at once and reported to the glue, which acts on it and
/// then acknowledges it in CR0ACK.
pub const CR0: u64 = 0x20;
/// SMMU_CR0ACK (§6.3, SMMU_CR0ACK), RO: the enables in effect. Only the glue
/// changes it.
pub const CR0ACK: u64 = 0x24;
/// SMMU_CR1 (§6.3, SMMU_CR1), RW: queue and table memory attributes. Writes are
/// ignored while any queue or SMMUEN is enabled (in CR0 or CR0ACK).
pub const CR1: u64 = 0x28;
/// SMMU_CR2 (§6.3, SMMU_CR2), RW: RECINVSID, PTM. Writes are ignored while
/// SMMUEN is set (in CR0 or CR0ACK).
pub const CR2: u64 = 0x2c;
/// SMMU_STATUSR (§6.3, SMMU_STATUSR), RO: 0 (never dormant).
pub const STATUSR: u64 = 0x40;
/// SMMU_GBPA (§6.3, SMMU_GBPA), RW: what DMA does while SMMUEN is 0 (ABORT, or bypass
/// with the attribute overrides). A write takes effect only with Update set
/// (a write without it is ignored, the only behaviour SMMUv3.2 permits) and
/// completes at once: Update reads 0.
pub const GBPA: u64 = 0x44;
/// SMMU_AGBPA (§6.3, SMMU_AGBPA): OPTIONAL, not implemented (reserved).
pub const AGBPA: u64 = 0x48;
/// SMMU_IRQ_CTRL (§6.3, SMMU_IRQ_CTRL), RW: GERROR_IRQEN, EVENTQ_IRQEN. Stored
/// and reported; the glue acknowledges it in IRQ_CTRLACK.
pub const IRQ_CTRL: u64 = 0x50;
/// SMMU_IRQ_CTRLACK (§6.3, SMMU_IRQ_CTRLACK), RO: only the glue changes it.
pub const IRQ_CTRLACK: u64 = 0x54;
/// SMMU_GERROR (§6.3, SMMU_GERROR), RO: errors the vSMMU raised (by toggling).
pub const GERROR: u64 = 0x60;
/// SMMU_GERRORN (§6.3, SMMU_GERRORN), RW: the guest's acknowledgements (by
/// toggling). Implemented error bits only; reported to the glue.
pub const GERRORN: u64 = 0x64;
/// SMMU_GERROR_IRQ_CFG0 (§6.3, SMMU_GERROR_IRQ_CFG0), 64-bit RW with MSIs
/// (reserved without): the GERROR MSI address, bits 51:2.
pub const GERROR_IRQ_CFG0: u64 = 0x68;
/// SMMU_GERROR_IRQ_CFG1 (§6.3, SMMU_GERROR_IRQ_CFG1), RW with MSIs: MSI data.
pub const GERROR_IRQ_CFG1: u64 = 0x70;
/// SMMU_GERROR_IRQ_CFG2 (§6.3, SMMU_GERROR_IRQ_CFG2), RW with MSIs: MemAttr, SH.
pub const GERROR_IRQ_CFG2: u64 = 0x74;
/// SMMU_STRTAB_BASE (§6.3, SMMU_STRTAB_BASE), 64-bit RW: RA and ADDR 51:6.
/// Writes are ignored while SMMUEN is set (in CR0 or CR0ACK).
pub const STRTAB_BASE: u64 = 0x80;
/// SMMU_STRTAB_BASE_CFG (§6.3, SMMU_STRTAB_BASE_CFG), RW: LOG2SIZE, SPLIT and
/// (with 2-level tables advertised) FMT. Writes are ignored while SMMUEN is set.
pub const STRTAB_BASE_CFG: u64 = 0x88;
/// SMMU_CMDQ_BASE (§6.3, SMMU_CMDQ_BASE), 64-bit RW: RA, ADDR 51:5, LOG2SIZE.
/// Writes are ignored while CMDQEN is set (in CR0 or CR0ACK); an accepted write
/// masks PROD and CONS to the new ring.
pub const CMDQ_BASE: u64 = 0x90;
/// SMMU_CMDQ_PROD (§6.3, SMMU_CMDQ_PROD), RW: the guest's write index, masked
/// to the ring's index and wrap bits; reported to the glue.
pub const CMDQ_PROD: u64 = 0x98;
/// SMMU_CMDQ_CONS (§6.3, SMMU_CMDQ_CONS), RW while CMDQEN is clear (in CR0 and
/// CR0ACK), RO while it is set: the vSMMU's read index and ERR (30:24).
pub const CMDQ_CONS: u64 = 0x9c;
/// SMMU_EVENTQ_BASE (§6.3, SMMU_EVENTQ_BASE), 64-bit RW: WA, ADDR 51:5,
/// LOG2SIZE. Writes are ignored while EVENTQEN is set (in CR0 or CR0ACK); an
/// accepted write masks PROD and CONS to the new ring.
pub const EVENTQ_BASE: u64 = 0xa0;
/// SMMU_EVENTQ_PROD (§6.3, SMMU_EVENTQ_PROD), on page 1: the vSMMU's write
/// index and OVFLG (31). RW while EVENTQEN is clear (in CR0 and CR0ACK), RO
/// while it is set.
pub const EVENTQ_PROD: u64 = PAGE1 + 0xa8;
/// SMMU_EVENTQ_CONS (§6.3, SMMU_EVENTQ_CONS), on page 1, RW: the guest's read
/// index and OVACKFLG (31); reported to the glue.
pub const EVENTQ_CONS: u64 = PAGE1 + 0xac;
/// SMMU_EVENTQ_PROD's alias on page 0. The spec reserves 0xA8 on page 0 (a
/// CONSTRAINED UNPREDICTABLE choice): it aliases page 1's register, as QEMU's
/// SMMU does and as Linux's `ARM_SMMU_OPT_PAGE0_REGS_ONLY` expects.
pub const EVENTQ_PROD_PAGE0: u64 = 0xa8;
/// SMMU_EVENTQ_CONS's alias on page 0 (see [`EVENTQ_PROD_PAGE0`]).
pub const EVENTQ_CONS_PAGE0: u64 = 0xac;
/// SMMU_EVENTQ_IRQ_CFG0 (§6.3, SMMU_EVENTQ_IRQ_CFG0), 64-bit RW with MSIs
/// (reserved without): the event queue MSI address, bits 51:2.
pub const EVENTQ_IRQ_CFG0: u64 = 0xb0;
/// SMMU_EVENTQ_IRQ_CFG1 (§6.3, SMMU_EVENTQ_IRQ_CFG1), RW with MSIs: MSI data.
pub const EVENTQ_IRQ_CFG1: u64 = 0xb8;
/// SMMU_EVENTQ_IRQ_CFG2 (§6.3, SMMU_EVENTQ_IRQ_CFG2), RW with MSIs: MemAttr, SH.
pub const EVENTQ_IRQ_CFG2: u64 = 0xbc;
/// SMMU_PRIQ_BASE (§6.3, SMMU_PRIQ_BASE): reserved here (PRI is never
/// advertised), like the rest of the PRI queue's registers up to 0xDC and on
/// page 1.
pub const PRIQ_BASE: u64 = 0xc0;
