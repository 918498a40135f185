// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! What the vSMMU glue reads and sets in the register file: raw values, no
//! policy. Only these change CR0ACK, IRQ_CTRLACK, GERROR, EVENTQ_PROD while the
//! event queue is enabled, and CMDQ_CONS while the command queue is.

use super::fields::{CMDQ_CONS_ERR_SHIFT, EVENTQ_OVERFLOW, GBPA_ABORT};
use super::{CMDQ_ENTRY, Cr0, EVENTQ_ENTRY, GlobalErrors, IrqCtrl, Registers};
use crate::vsmmu::CError;
use crate::vsmmu::MsiWrite;
use crate::vsmmu::Ring;

impl Registers {
    /// SMMU_CR0 as the guest last wrote it.
    pub fn cr0(&self) -> Cr0 {
        self.cr0
    }

    /// SMMU_CR0ACK: what the glue acknowledged.
    pub fn cr0ack(&self) -> Cr0 {
        self.cr0ack
    }

    /// Acknowledges CR0 changes the glue has carried out (bits the vSMMU does
    /// not implement are dropped).
    pub fn set_cr0ack(&mut self, ack: Cr0) {
        self.cr0ack = ack & self.cr0_writable();
    }

    /// SMMU_CR1 (queue and table memory attributes).
    pub fn cr1(&self) -> u32 {
        self.cr1
    }

    /// SMMU_CR2 (RECINVSID, PTM).
    pub fn cr2(&self) -> u32 {
        self.cr2
    }

    /// SMMU_GBPA (Update always reads 0).
    pub fn gbpa(&self) -> u32 {
        self.gbpa
    }

    /// SMMU_GBPA.ABORT: DMA aborts while SMMUEN is 0 (otherwise it bypasses).
    pub fn gbpa_abort(&self) -> bool {
        self.gbpa & GBPA_ABORT != 0
    }

    /// SMMU_STRTAB_BASE (RA, ADDR 51:6).
    pub fn strtab_base(&self) -> u64 {
        self.strtab_base
    }

    /// SMMU_STRTAB_BASE_CFG (FMT 17:16, SPLIT 10:6, LOG2SIZE 5:0).
    pub fn strtab_base_cfg(&self) -> u32 {
        self.strtab_base_cfg
    }

    /// The command queue ring SMMU_CMDQ_BASE describes (LOG2SIZE capped at
    /// IDR1.CMDQS).
    pub fn cmdq(&self) -> Ring {
        Ring::from_base(self.cmdq_base, self.config.cmdq_max_log2size, CMDQ_ENTRY)
    }

    /// SMMU_CMDQ_BASE as stored.
    pub fn cmdq_base(&self) -> u64 {
        self.cmdq_base
    }

    /// SMMU_CMDQ_PROD: the guest's write index (with its wrap bit).
    pub fn cmdq_prod(&self) -> u32 {
        self.cmdq_prod
    }

    /// SMMU_CMDQ_CONS: the read index (with its wrap bit) and ERR in 30:24.
    pub fn cmdq_cons(&self) -> u32 {
        self.cmdq_cons
    }

    /// Sets SMMU_CMDQ_CONS: `index` (masked to the ring's index and wrap bits)
    /// and ERR. On an error, raise [`GlobalErrors::CMDQ_ERR`] too.
    pub fn set_cmdq_cons(&mut self, index: u32, err: CError) {
        self.cmdq_cons =
            index & self.cmdq().index_mask() | u32::from(err.code()) << CMDQ_CONS_ERR_SHIFT;
    }

    /// The event queue ring SMMU_EVENTQ_BASE describes (LOG2SIZE capped at
    /// IDR1.EVENTQS).
    pub fn eventq(&self) -> Ring {
        Ring::from_base(
            self.eventq_base,
            self.config.eventq_max_log2size,
            EVENTQ_ENTRY,
        )
    }

    /// SMMU_EVENTQ_BASE as stored.
    pub fn eventq_base(&self) -> u64 {
        self.eventq_base
    }

    /// SMMU_EVENTQ_PROD: the write index (with its wrap bit) and OVFLG in bit 31.
    pub fn eventq_prod(&self) -> u32 {
        self.eventq_prod
    }

    /// SMMU_EVENTQ_CONS: the guest's read index and OVACKFLG in bit 31.
    pub fn eventq_cons(&self) -> u32 {
        self.eventq_cons
    }

    /// Sets SMMU_EVENTQ_PROD: `index` (masked to the ring) and OVFLG (toggle it
    /// relative to CONS.OVACKFLG when events were lost to a full queue).
    pub fn set_eventq_prod(&mut self, index: u32, overflow: bool) {
        let flag = if overflow { EVENTQ_OVERFLOW } else { 0 };
        self.eventq_prod = index & self.eventq().index_mask() | flag;
    }

    /// SMMU_GERROR.
    pub fn gerror(&self) -> GlobalErrors {
        self.gerror
    }

    /// SMMU_GERRORN.
    pub fn gerrorn(&self) -> GlobalErrors {
        self.gerrorn
    }

    /// The errors raised and not yet acknowledged: GERROR ^ GERRORN.
    pub fn active_global_errors(&self) -> GlobalErrors {
        self.gerror ^ self.gerrorn
    }

    /// Raises `errors` by toggling their GERROR bits, except those already
    /// active or not implemented. Returns the ones newly raised: if any, and
    /// IRQ_CTRLACK.GERROR_IRQEN is set, the glue signals the GERROR interrupt.
    pub fn raise_global_errors(&mut self, errors: GlobalErrors) -> GlobalErrors {
        let new = errors & self.errors_implemented() & !self.active_global_errors();
        self.gerror ^= new;
        new
    }

    /// SMMU_IRQ_CTRL as the guest last wrote it.
    pub fn irq_ctrl(&self) -> IrqCtrl {
        self.irq_ctrl
    }

    /// SMMU_IRQ_CTRLACK: the interrupt enables in effect.
    pub fn irq_ctrlack(&self) -> IrqCtrl {
        self.irq_ctrlack
    }

    /// Acknowledges IRQ_CTRL changes the glue has carried out.
    pub fn set_irq_ctrlack(&mut self, ack: IrqCtrl) {
        self.irq_ctrlack = ack & self.irq_ctrl_writable();
    }

    /// The GERROR interrupt's MSI, when MSIs are advertised and the guest set a
    /// non-zero address (an address of 0 means the wired interrupt).
    pub fn gerror_msi(&self) -> Option<MsiWrite> {
        self.gerror_irq.msi()
    }

    /// The event queue interrupt's MSI, likewise.
    pub fn eventq_msi(&self) -> Option<MsiWrite> {
        self.eventq_irq.msi()
    }
}
