// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! CMD_SYNC (IHI 0070, §4.7.3), the guest's barrier: how it asks to be told
//! that everything before it completed.

use super::super::interrupts::MsiWrite;
use crate::arch::smmuv3::CommandError;

/// CMD_SYNC.CS, word 0 bits 13:12.
pub(super) const CS: u64 = 0b11 << 12;
/// CMD_SYNC.MSH (the MSI write's shareability), word 0 bits 23:22.
pub(super) const MSH: u64 = 0b11 << 22;
/// CMD_SYNC.MSIAttr (the MSI write's memory type), word 0 bits 27:24.
pub(super) const MSI_ATTR: u64 = 0xf << 24;
/// CMD_SYNC.MSIData, word 0 bits 63:32.
pub(super) const MSI_DATA: u64 = 0xffff_ffff << 32;
/// CMD_SYNC.MSIAddress, word 1 bits 51:2 (the address's own bits: it is 4-byte
/// aligned).
pub(super) const MSI_ADDRESS: u64 = ((1 << 52) - 1) & !0b11;

/// A CMD_SYNC the vSMMU reached: everything before it was sent to the kernel.
/// [`CommandHost::sync_complete`](super::CommandHost::sync_complete) receives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncSignal {
    /// The CMD_SYNC's index in the guest's queue (with the wrap bit).
    pub index: u32,
    /// CONS past the CMD_SYNC: the value at which the guest sees the sync
    /// complete. A guest that polls CONS (SIG_SEV, SIG_NONE) must be able to
    /// read it before it is woken: publish it to SMMU_CMDQ_CONS first.
    pub cons: u32,
    /// How the guest asked to be told (CS).
    pub cs: CompletionSignal,
}

/// CMD_SYNC.CS: how completion is signalled (§4.7.3).
///
/// How Linux's arm-smmu-v3 driver asks, and waits (`arm_smmu_cmdq_build_sync_cmd`,
/// `arm_smmu_cmdq_poll_until_sync`):
/// - with MSIs and a coherent SMMU (`ARM_SMMU_OPT_MSIPOLL`): SIG_IRQ, the MSI
///   address being the CMD_SYNC's own queue slot and MSIData 0; the driver spins
///   until the first 32-bit word of that slot reads 0, never reading CONS;
/// - otherwise: SIG_SEV, and the driver polls CMDQ_CONS until it passes the
///   CMD_SYNC, waiting in WFE between reads (an SEV wakes it early, the event
///   stream otherwise);
/// - on a secondary queue that must busy-poll (Tegra241 CMDQV): SIG_NONE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompletionSignal {
    /// SIG_NONE (0b00): no signal; the guest polls CMDQ_CONS.
    None,
    /// SIG_IRQ (0b01): an interrupt. On an SMMU with MSIs (SMMU_IDR0.MSI = 1),
    /// the MSI write the command describes; without, the wired CMD_SYNC
    /// interrupt (the VMM's interrupt callback).
    Irq(MsiWrite),
    /// SIG_SEV (0b10): a send-event, waking PEs in WFE (on a vSMMU without
    /// SMMU_IDR0.SEV the guest does not rely on it, and nothing need be done).
    Sev,
}

/// The completion signal a CMD_SYNC's words ask for. CS = 0b11 is reserved,
/// and a command with a reserved value is illegal (§4.7.3): CERROR_ILL, whatever
/// the [`ReservedBits`](super::ReservedBits) policy, which is about RES0 bits.
pub(super) fn completion_signal(w: [u64; 2]) -> Result<CompletionSignal, CommandError> {
    match (w[0] & CS) >> 12 {
        0 => Ok(CompletionSignal::None),
        1 => Ok(CompletionSignal::Irq(MsiWrite {
            address: w[1] & MSI_ADDRESS,
            data: (w[0] >> 32) as u32,
            memory_attributes: ((w[0] & MSI_ATTR) >> 24) as u8,
            shareability: ((w[0] & MSH) >> 22) as u8,
        })),
        2 => Ok(CompletionSignal::Sev),
        _ => Err(CommandError::Forbidden {
            opcode: "SYNC",
            field: "CS (0b11 is reserved)",
            word: 0,
            bits: w[0] & CS,
        }),
    }
}
