// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Which register each 32-bit word of the frame holds.

use super::offset as o;

/// A 32-bit register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reg32 {
    Idr(usize),
    Iidr,
    Aidr,
    Cr0,
    Cr0Ack,
    Cr1,
    Cr2,
    Statusr,
    Gbpa,
    IrqCtrl,
    IrqCtrlAck,
    Gerror,
    Gerrorn,
    GerrorIrqCfg1,
    GerrorIrqCfg2,
    StrtabBaseCfg,
    CmdqProd,
    CmdqCons,
    EventqProd,
    EventqCons,
    EventqIrqCfg1,
    EventqIrqCfg2,
}

/// A 64-bit register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reg64 {
    GerrorIrqCfg0,
    StrtabBase,
    CmdqBase,
    EventqBase,
    EventqIrqCfg0,
}

/// What one aligned 32-bit word of the frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Slot {
    Word(Reg32),
    Low(Reg64),
    High(Reg64),
    Reserved,
}

/// The word at `offset` (4-byte aligned, inside the frame); the MSI
/// configuration registers exist only with `msi`.
pub(super) fn slot(offset: u64, msi: bool) -> Slot {
    use Slot::{High, Low, Reserved, Word};
    let msi_word = |r| if msi { Word(r) } else { Reserved };
    let msi_low = |r| if msi { Low(r) } else { Reserved };
    let msi_high = |r| if msi { High(r) } else { Reserved };
    match offset {
        o::IDR0..=o::IDR5 => Word(Reg32::Idr((offset / 4) as usize)),
        o::IIDR => Word(Reg32::Iidr),
        o::AIDR => Word(Reg32::Aidr),
        o::CR0 => Word(Reg32::Cr0),
        o::CR0ACK => Word(Reg32::Cr0Ack),
        o::CR1 => Word(Reg32::Cr1),
        o::CR2 => Word(Reg32::Cr2),
        o::STATUSR => Word(Reg32::Statusr),
        o::GBPA => Word(Reg32::Gbpa),
        o::IRQ_CTRL => Word(Reg32::IrqCtrl),
        o::IRQ_CTRLACK => Word(Reg32::IrqCtrlAck),
        o::GERROR => Word(Reg32::Gerror),
        o::GERRORN => Word(Reg32::Gerrorn),
        o::GERROR_IRQ_CFG0 => msi_low(Reg64::GerrorIrqCfg0),
        0x6c => msi_high(Reg64::GerrorIrqCfg0),
        o::GERROR_IRQ_CFG1 => msi_word(Reg32::GerrorIrqCfg1),
        o::GERROR_IRQ_CFG2 => msi_word(Reg32::GerrorIrqCfg2),
        o::STRTAB_BASE => Low(Reg64::StrtabBase),
        0x84 => High(Reg64::StrtabBase),
        o::STRTAB_BASE_CFG => Word(Reg32::StrtabBaseCfg),
        o::CMDQ_BASE => Low(Reg64::CmdqBase),
        0x94 => High(Reg64::CmdqBase),
        o::CMDQ_PROD => Word(Reg32::CmdqProd),
        o::CMDQ_CONS => Word(Reg32::CmdqCons),
        o::EVENTQ_BASE => Low(Reg64::EventqBase),
        0xa4 => High(Reg64::EventqBase),
        o::EVENTQ_PROD | o::EVENTQ_PROD_PAGE0 => Word(Reg32::EventqProd),
        o::EVENTQ_CONS | o::EVENTQ_CONS_PAGE0 => Word(Reg32::EventqCons),
        o::EVENTQ_IRQ_CFG0 => msi_low(Reg64::EventqIrqCfg0),
        0xb4 => msi_high(Reg64::EventqIrqCfg0),
        o::EVENTQ_IRQ_CFG1 => msi_word(Reg32::EventqIrqCfg1),
        o::EVENTQ_IRQ_CFG2 => msi_word(Reg32::EventqIrqCfg2),
        _ => Reserved,
    }
}

impl Reg32 {
    pub(super) const fn name(self) -> &'static str {
        match self {
            Self::Idr(0) => "SMMU_IDR0",
            Self::Idr(1) => "SMMU_IDR1",
            Self::Idr(2) => "SMMU_IDR2",
            Self::Idr(3) => "SMMU_IDR3",
            Self::Idr(4) => "SMMU_IDR4",
            Self::Idr(_) => "SMMU_IDR5",
            Self::Iidr => "SMMU_IIDR",
            Self::Aidr => "SMMU_AIDR",
            Self::Cr0 => "SMMU_CR0",
            Self::Cr0Ack => "SMMU_CR0ACK",
            Self::Cr1 => "SMMU_CR1",
            Self::Cr2 => "SMMU_CR2",
            Self::Statusr => "SMMU_STATUSR",
            Self::Gbpa => "SMMU_GBPA",
            Self::IrqCtrl => "SMMU_IRQ_CTRL",
            Self::IrqCtrlAck => "SMMU_IRQ_CTRLACK",
            Self::Gerror => "SMMU_GERROR",
            Self::Gerrorn => "SMMU_GERRORN",
            Self::GerrorIrqCfg1 => "SMMU_GERROR_IRQ_CFG1",
            Self::GerrorIrqCfg2 => "SMMU_GERROR_IRQ_CFG2",
            Self::StrtabBaseCfg => "SMMU_STRTAB_BASE_CFG",
            Self::CmdqProd => "SMMU_CMDQ_PROD",
            Self::CmdqCons => "SMMU_CMDQ_CONS",
            Self::EventqProd => "SMMU_EVENTQ_PROD",
            Self::EventqCons => "SMMU_EVENTQ_CONS",
            Self::EventqIrqCfg1 => "SMMU_EVENTQ_IRQ_CFG1",
            Self::EventqIrqCfg2 => "SMMU_EVENTQ_IRQ_CFG2",
        }
    }
}

impl Reg64 {
    pub(super) const fn name(self) -> &'static str {
        match self {
            Self::GerrorIrqCfg0 => "SMMU_GERROR_IRQ_CFG0",
            Self::StrtabBase => "SMMU_STRTAB_BASE",
            Self::CmdqBase => "SMMU_CMDQ_BASE",
            Self::EventqBase => "SMMU_EVENTQ_BASE",
            Self::EventqIrqCfg0 => "SMMU_EVENTQ_IRQ_CFG0",
        }
    }
}
