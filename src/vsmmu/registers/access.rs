// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! What an MMIO access to the register file is and what it did: the width, the
//! accesses the model refuses, and the outcome of a write the glue acts on or logs.

use super::fields::{Cr0, GlobalErrors, IrqCtrl};

/// The size of one MMIO access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Width {
    /// 8 bits (refused: [`AccessError::Width`]).
    U8,
    /// 16 bits (refused: [`AccessError::Width`]).
    U16,
    /// 32 bits: any register, or one half of a 64-bit register.
    U32,
    /// 64 bits: a 64-bit register.
    U64,
}

impl Width {
    /// The width of an access of `len` bytes (1, 2, 4 or 8).
    pub const fn from_len(len: usize) -> Option<Self> {
        match len {
            1 => Some(Self::U8),
            2 => Some(Self::U16),
            4 => Some(Self::U32),
            8 => Some(Self::U64),
            _ => None,
        }
    }

    /// Its length in bytes.
    pub const fn bytes(self) -> u8 {
        match self {
            Self::U8 => 1,
            Self::U16 => 2,
            Self::U32 => 4,
            Self::U64 => 8,
        }
    }
}

/// An access the model refuses: the spec makes it CONSTRAINED UNPREDICTABLE and
/// the model chooses RAZ/WI. Nothing changed; complete a read with 0, drop a
/// write, and log the error (it names a guest bug, or a VMM routing one for
/// [`OutOfRange`](Self::OutOfRange)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AccessError {
    /// An 8- or 16-bit access: the registers take 32- and 64-bit accesses only.
    #[error("{len}-byte access at {offset:#x}: SMMU registers take 32- or 64-bit accesses")]
    Width {
        /// The offset accessed.
        offset: u64,
        /// Its length in bytes.
        len: u8,
    },
    /// An access not aligned to its size.
    #[error("unaligned {len}-byte access at {offset:#x}")]
    Unaligned {
        /// The offset accessed.
        offset: u64,
        /// Its length in bytes.
        len: u8,
    },
    /// A 64-bit access to two 32-bit registers (or one and a reserved word): the
    /// model does not split it.
    #[error("64-bit access at {offset:#x} spans 32-bit registers")]
    SpansRegisters {
        /// The offset accessed.
        offset: u64,
    },
    /// An offset past the two pages of the frame
    /// ([`offset::FRAME_SIZE`](super::offset::FRAME_SIZE)).
    #[error("access at {offset:#x} is outside the vSMMU's two register pages")]
    OutOfRange {
        /// The offset accessed.
        offset: u64,
    },
}

/// What a write the model accepted did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Stored; nothing for the glue to do now (it reads the register when it
    /// needs it: STRTAB_BASE when SMMUEN goes on, CMDQ_BASE when CMDQEN does, ...).
    Stored,
    /// Stored; the glue must act on it.
    Effect(Effect),
    /// The register ignored the write (write-ignored by the spec, or by a choice
    /// the model makes where the spec leaves one); worth a rate-limited log line.
    Ignored(Ignored),
}

/// A register write the vSMMU glue must act on. `old` and `new` are the
/// register's stored values before and after (reserved bits already cleared).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Effect {
    /// SMMU_CR0 changed (or was rewritten): enable or disable what differs from
    /// CR0ACK, then acknowledge with
    /// [`Registers::set_cr0ack`](super::Registers::set_cr0ack).
    Cr0 {
        /// CR0 before.
        old: Cr0,
        /// CR0 now.
        new: Cr0,
    },
    /// SMMU_GBPA was updated (Update was set; it already reads 0): while SMMUEN
    /// is 0, what untranslated DMA does follows `new` (its ABORT bit).
    Gbpa {
        /// GBPA before.
        old: u32,
        /// GBPA now.
        new: u32,
    },
    /// SMMU_IRQ_CTRL was written: acknowledge with
    /// [`Registers::set_irq_ctrlack`](super::Registers::set_irq_ctrlack).
    IrqCtrl {
        /// IRQ_CTRL before.
        old: IrqCtrl,
        /// IRQ_CTRL now.
        new: IrqCtrl,
    },
    /// SMMU_GERRORN was written: the errors whose bits now match GERROR are
    /// acknowledged (a CMDQ_ERR acknowledgement restarts the command queue).
    Gerrorn {
        /// GERRORN before.
        old: GlobalErrors,
        /// GERRORN now.
        new: GlobalErrors,
    },
    /// SMMU_CMDQ_PROD was written: commands between CONS and `new` wait (if
    /// CMDQEN is acknowledged and no CMDQ_ERR is active).
    CmdqProd {
        /// PROD before.
        old: u32,
        /// PROD now, masked to the ring.
        new: u32,
    },
    /// SMMU_EVENTQ_CONS was written: the guest freed event queue slots.
    EventqCons {
        /// CONS before.
        old: u32,
        /// CONS now (index masked to the ring, OVACKFLG in bit 31).
        new: u32,
    },
}

/// A write the register ignored, for the VMM's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("write to {register} at {offset:#x} ignored: {reason}")]
pub struct Ignored {
    /// The offset written.
    pub offset: u64,
    /// The register's name (`"reserved"` for an offset that holds none).
    pub register: &'static str,
    /// Why.
    pub reason: IgnoreReason,
}

/// Why a register ignored a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IgnoreReason {
    /// A read-only register (IDRn, IIDR, AIDR, CR0ACK, STATUSR, IRQ_CTRLACK,
    /// GERROR).
    #[error("read-only")]
    ReadOnly,
    /// No register there, or one of a feature the vSMMU does not advertise.
    #[error("reserved")]
    Reserved,
    /// The queue or table it configures is enabled (in CR0 or not yet disabled
    /// in CR0ACK). The spec makes such writes CONSTRAINED UNPREDICTABLE; the
    /// model ignores them.
    #[error("its queue or table is enabled")]
    Enabled,
    /// SMMU_GBPA written without Update.
    #[error("GBPA written without Update")]
    NoUpdate,
}
