// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The interrupts a vSMMU raises (SMMUv3 spec §3.18): the event queue, global
//! errors and CMD_SYNC completion, each either a wired line the VMM injects (an
//! SPI on Arm) or an MSI the guest programmed (SMMU_*_IRQ_CFG0/1, and CMD_SYNC's own
//! MSI fields).

/// Which interrupt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Interrupt {
    /// New event records (or an overflow) in the guest's event queue.
    EventQueue,
    /// A new global error in SMMU_GERROR.
    GlobalError,
    /// A CMD_SYNC with CS = SIG_IRQ completed, and MSIs are not in use for it.
    CmdSync,
}

/// Where the vSMMU's interrupts go: the VMM's interrupt controller. Called with the
/// vSMMU's lock held, from whichever thread made the interrupt happen (a vCPU
/// writing a register, the event pump): inject and return, without calling back
/// into the vSMMU.
pub trait Interrupts: Send + Sync {
    /// The wired interrupt `which` fires (edge-triggered, as the spec's are).
    fn raise(&self, which: Interrupt);

    /// An MSI the guest programmed to an address that is not guest RAM (an
    /// interrupt controller's doorbell, a GICv3 ITS's GITS_TRANSLATER say): write
    /// `data` there. MSIs to guest RAM (Linux's CMD_SYNC polling) the vSMMU writes
    /// itself.
    fn msi(&self, address: u64, data: u32);
}

/// Interrupts nobody listens to: for a guest that polls, and for tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoInterrupts;

impl Interrupts for NoInterrupts {
    fn raise(&self, _: Interrupt) {}

    fn msi(&self, _: u64, _: u32) {}
}
