// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The interrupts a vSMMU raises (SMMUv3 spec §3.18): the event queue, global
//! errors and CMD_SYNC completion, each either a wired line the VMM injects (an
//! SPI on Arm) or an MSI the guest programmed (SMMU_*_IRQ_CFG0/1, and CMD_SYNC's own
//! MSI fields).

use super::guest_memory::{GuestMemory, GuestMemoryError};

/// An MSI write: 32 bits of `data` at `address`, from a CMD_SYNC with SIG_IRQ or
/// from SMMU_GERROR_IRQ_CFG0..2 / SMMU_EVENTQ_IRQ_CFG0..2.
///
/// Where it goes is the VMM's decision: guest RAM (Linux's MSIPOLL points it at
/// the CMD_SYNC's own slot, `data` 0, and spins on that word: write it with
/// [`write_to`](Self::write_to)), or an interrupt controller's doorbell (a GIC
/// ITS translater: deliver the MSI through the VMM's interrupt callback). A
/// write that aborts is GERROR.MSI_CMDQ_ABT_ERR for the register file, not a
/// command error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MsiWrite {
    /// CMD_SYNC.MSIAddress (word 1 bits 51:2) or *_IRQ_CFG0.ADDR, as an address
    /// (4-byte aligned).
    pub address: u64,
    /// CMD_SYNC.MSIData (word 0 bits 63:32) or *_IRQ_CFG1.DATA.
    pub data: u32,
    /// CMD_SYNC.MSIAttr (word 0 bits 27:24) or *_IRQ_CFG2.MemAttr (bits 3:0): the
    /// write's memory type (0b1111: Normal Write-Back, which Linux uses).
    pub memory_attributes: u8,
    /// CMD_SYNC.MSH (word 0 bits 23:22) or *_IRQ_CFG2.SH (bits 5:4): the write's
    /// shareability (0b11: Inner Shareable,
    /// which Linux uses).
    pub shareability: u8,
}

impl MsiWrite {
    /// Performs the write in guest RAM: `data`, little-endian, at `address`.
    /// Fails (without writing) where `address` is not RAM: an interrupt
    /// controller's doorbell is the VMM's to deliver.
    pub fn write_to<M: GuestMemory + ?Sized>(&self, mem: &M) -> Result<(), GuestMemoryError> {
        mem.write(self.address, &self.data.to_le_bytes())
    }
}

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

/// Where the vSMMU's interrupts go: the VMM's interrupt controller. Called from
/// whichever thread made the interrupt happen (a vCPU writing a register, the
/// event pump), after the vSMMU's lock is released, so a callback may reach the
/// vSMMU again. MSI addresses are the guest's choice: route them as the VMM routes
/// any guest MSI write.
pub trait Interrupts: Send + Sync {
    /// The wired interrupt `which` fires (edge-triggered, as the spec's are).
    fn raise(&self, which: Interrupt);

    /// An MSI the guest programmed to an address that is not guest RAM (an
    /// interrupt controller's doorbell, a GICv3 ITS's GITS_TRANSLATER say): write
    /// `data` there. MSIs to guest RAM (Linux's CMD_SYNC polling) the vSMMU writes
    /// itself.
    fn msi(&self, address: u64, data: u32);
}

impl<T: Interrupts + ?Sized> Interrupts for &T {
    fn raise(&self, which: Interrupt) {
        (**self).raise(which);
    }

    fn msi(&self, address: u64, data: u32) {
        (**self).msi(address, data);
    }
}

impl<T: Interrupts + ?Sized> Interrupts for std::sync::Arc<T> {
    fn raise(&self, which: Interrupt) {
        (**self).raise(which);
    }

    fn msi(&self, address: u64, data: u32) {
        (**self).msi(address, data);
    }
}

/// Interrupts nobody listens to: for a guest that polls, and for tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoInterrupts;

impl Interrupts for NoInterrupts {
    fn raise(&self, _: Interrupt) {}

    fn msi(&self, _: u64, _: u32) {}
}

/// Interrupts the model raised while it held its lock, delivered once the lock is
/// released ([`deliver`](Self::deliver)), so a callback that comes back into the
/// vSMMU (an MSI the guest aimed at the vSMMU's own window) cannot deadlock.
#[derive(Debug, Default)]
pub(crate) struct Deferred {
    /// Wired lines raised, one bit per [`Interrupt`].
    lines: core::cell::Cell<u8>,
    /// MSIs to doorbells, in order, duplicates folded.
    msis: core::cell::Cell<[(u64, u32); Self::MSIS]>,
    len: core::cell::Cell<usize>,
}

impl Deferred {
    /// MSIs one MMIO write can queue: the GERROR and event queue MSIs, and
    /// CMD_SYNCs aimed at doorbells (each sync that asks for one; duplicates fold,
    /// and past this many the latest replaces the last, which the guest sees as
    /// one interrupt for several syncs).
    const MSIS: usize = 16;

    const fn bit(which: Interrupt) -> u8 {
        match which {
            Interrupt::EventQueue => 1,
            Interrupt::GlobalError => 2,
            Interrupt::CmdSync => 4,
        }
    }

    /// Queues the wired interrupt `which`.
    pub(crate) fn raise(&self, which: Interrupt) {
        self.lines.set(self.lines.get() | Self::bit(which));
    }

    /// Queues an MSI to a doorbell.
    pub(crate) fn msi(&self, address: u64, data: u32) {
        let mut msis = self.msis.get();
        let len = self.len.get();
        if msis[..len].contains(&(address, data)) {
            return;
        }
        let at = len.min(Self::MSIS - 1);
        msis[at] = (address, data);
        self.msis.set(msis);
        self.len.set(at + 1);
    }

    /// Delivers what was queued.
    pub(crate) fn deliver(self, to: &impl Interrupts) {
        let lines = self.lines.get();
        for which in [
            Interrupt::GlobalError,
            Interrupt::EventQueue,
            Interrupt::CmdSync,
        ] {
            if lines & Self::bit(which) != 0 {
                to.raise(which);
            }
        }
        let msis = self.msis.get();
        for &(address, data) in &msis[..self.len.get()] {
            to.msi(address, data);
        }
    }
}
