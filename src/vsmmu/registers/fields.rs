// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The fields of the vSMMU's control registers (IHI 0070 §6.3), as typed flags
//! where the glue reads or sets them, and as the masks of what each register
//! stores (every other bit is RES0 and reads as zero).

use bitflags::bitflags;

bitflags! {
    /// SMMU_CR0 and SMMU_CR0ACK (IHI 0070 §6.3, SMMU_CR0): the enables. The guest
    /// writes CR0; the vSMMU acknowledges each change in CR0ACK once it has acted
    /// on it, and the guest polls CR0ACK until it matches.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct Cr0: u32 {
        /// SMMUEN: translation on (otherwise SMMU_GBPA decides what DMA does).
        const SMMUEN = 1 << 0;
        /// PRIQEN: the PRI queue (never writable here: no PRI is advertised).
        const PRIQEN = 1 << 1;
        /// EVENTQEN: the event queue.
        const EVENTQEN = 1 << 2;
        /// CMDQEN: the command queue.
        const CMDQEN = 1 << 3;
        /// ATSCHK: ATS translated transactions are checked against the STE
        /// (writable only when ATS is advertised).
        const ATSCHK = 1 << 4;
    }
}

bitflags! {
    /// SMMU_IRQ_CTRL and SMMU_IRQ_CTRLACK (IHI 0070 §6.3, SMMU_IRQ_CTRL): which
    /// interrupts the vSMMU may raise. Acknowledged like CR0.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct IrqCtrl: u32 {
        /// GERROR_IRQEN: global errors.
        const GERROR_IRQEN = 1 << 0;
        /// PRIQ_IRQEN (never writable here: no PRI is advertised).
        const PRIQ_IRQEN = 1 << 1;
        /// EVENTQ_IRQEN: the event queue.
        const EVENTQ_IRQEN = 1 << 2;
    }
}

bitflags! {
    /// SMMU_GERROR and SMMU_GERRORN (IHI 0070 §6.3, SMMU_GERROR): global errors.
    /// The SMMU toggles a GERROR bit to raise an error; the guest acknowledges it
    /// by toggling the same GERRORN bit. An error is active while the two differ.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct GlobalErrors: u32 {
        /// CMDQ_ERR: the command queue stopped at CMDQ_CONS, whose ERR field says why.
        const CMDQ_ERR = 1 << 0;
        /// EVENTQ_ABT_ERR: an event queue write aborted (events were lost).
        const EVENTQ_ABT_ERR = 1 << 2;
        /// PRIQ_ABT_ERR (not implemented here: no PRI).
        const PRIQ_ABT_ERR = 1 << 3;
        /// MSI_CMDQ_ABT_ERR: a CMD_SYNC MSI write aborted (with MSIs only).
        const MSI_CMDQ_ABT_ERR = 1 << 4;
        /// MSI_EVENTQ_ABT_ERR: an event queue MSI aborted (with MSIs only).
        const MSI_EVENTQ_ABT_ERR = 1 << 5;
        /// MSI_PRIQ_ABT_ERR (not implemented here: no PRI).
        const MSI_PRIQ_ABT_ERR = 1 << 6;
        /// MSI_GERROR_ABT_ERR: a GERROR MSI aborted (with MSIs only).
        const MSI_GERROR_ABT_ERR = 1 << 7;
        /// SFM_ERR: the SMMU entered service failure mode.
        const SFM_ERR = 1 << 8;
    }
}

/// SMMU_CR1: QUEUE_IC/OC/SH and TABLE_IC/OC/SH, bits 11:0.
pub(super) const CR1_MASK: u32 = 0xfff;
/// SMMU_CR2: RECINVSID (bit 1) and PTM (bit 2); E2H needs IDR0.HYP, never
/// advertised.
pub(super) const CR2_MASK: u32 = 0b110;

/// SMMU_GBPA.Update, bit 31.
pub(super) const GBPA_UPDATE: u32 = 1 << 31;
/// SMMU_GBPA.ABORT, bit 20.
pub(super) const GBPA_ABORT: u32 = 1 << 20;
/// SMMU_GBPA: MemAttr 3:0, MTCFG 4, ALLOCCFG 11:8, SHCFG 13:12, PRIVCFG 17:16,
/// INSTCFG 19:18, ABORT 20 (NSCFG is Secure-only, RES0 here).
pub(super) const GBPA_FIELDS: u32 = 0x001f_3f1f;
/// SMMU_GBPA at reset: SHCFG = 0b01 (use incoming), every other field 0.
pub(super) const GBPA_RESET: u32 = 0b01 << 12;

/// A 52-bit physical address field from bit `lo` up.
const fn address_bits(lo: u32) -> u64 {
    ((1 << 52) - 1) & !((1 << lo) - 1)
}
/// SMMU_STRTAB_BASE: RA (62) and ADDR (51:6).
pub(super) const STRTAB_BASE_MASK: u64 = 1 << 62 | address_bits(6);
/// SMMU_STRTAB_BASE_CFG: LOG2SIZE (5:0) and SPLIT (10:6).
pub(super) const STRTAB_BASE_CFG_MASK: u32 = 0x7ff;
/// SMMU_STRTAB_BASE_CFG.FMT = 2-level (bit 16; storable with IDR0.ST_LEVEL only).
pub(super) const STRTAB_BASE_CFG_FMT_2LVL: u32 = 1 << 16;
/// SMMU_CMDQ_BASE / SMMU_EVENTQ_BASE: RA or WA (62), ADDR (51:5), LOG2SIZE (4:0).
pub(super) const QUEUE_BASE_MASK: u64 = 1 << 62 | address_bits(5) | 0x1f;
/// SMMU_CMDQ_CONS.ERR, bits 30:24.
pub(super) const CMDQ_CONS_ERR_SHIFT: u32 = 24;
/// SMMU_CMDQ_CONS.ERR's width.
pub(super) const CMDQ_CONS_ERR_MASK: u32 = 0x7f << CMDQ_CONS_ERR_SHIFT;
/// SMMU_EVENTQ_PROD.OVFLG and SMMU_EVENTQ_CONS.OVACKFLG, bit 31.
pub(super) const EVENTQ_OVERFLOW: u32 = 1 << 31;
/// SMMU_*_IRQ_CFG0.ADDR, bits 51:2.
pub(super) const MSI_ADDRESS_MASK: u64 = address_bits(2);
/// SMMU_*_IRQ_CFG2: MemAttr (3:0) and SH (5:4).
pub(super) const MSI_ATTRIBUTES_MASK: u32 = 0x3f;
