// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Why the command queue stopped, in the guest's terms: the CMDQ_CONS.ERR code
//! (IHI 0070, §7.1 and SMMU_CMDQ_CONS in §6.3) and the cause behind it.

use super::super::GuestMemoryError;
use crate::arch::smmuv3::{CommandError, DrainError};
use crate::batch::BatchError;
use crate::error::Error;

/// A CMDQ_CONS.ERR code (bits 30:24 of SMMU_CMDQ_CONS, §7.1): what the guest's
/// driver reads after GERROR.CMDQ_ERR toggles, to decide how to recover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum CError {
    /// CERROR_NONE: no error.
    None = 0,
    /// CERROR_ILL: the command at CONS is illegal. Linux's driver overwrites it
    /// with a CMD_SYNC and acknowledges, so the queue goes on after it.
    Ill = 1,
    /// CERROR_ABT: the fetch of the command at CONS aborted. Linux's driver
    /// acknowledges without touching the queue, so the SMMU fetches it again.
    Abt = 2,
    /// CERROR_ATC_INV_SYNC: an ATC invalidation before the CMD_SYNC at CONS timed
    /// out. The kernel, not the vSMMU, waits for ATC invalidations, so this
    /// queue never raises it; it is here for the register file.
    AtcInvSync = 3,
}

impl CError {
    /// The code's value in CMDQ_CONS.ERR.
    pub const fn code(self) -> u8 {
        self as u8
    }
}

/// Why [`CommandQueue::consume`](super::CommandQueue::consume) stopped before
/// PROD. Each names the guest queue index CONS stops at, and maps to the
/// CERROR code the guest reads ([`cerror`](Self::cerror)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandQueueError {
    /// The command is illegal (CERROR_ILL): the crate refused it before any
    /// ioctl, as the kernel would, or it is a command the vSMMU executes itself
    /// and sets bits the spec reserves (see
    /// [`ReservedBits`](super::ReservedBits)). Every command before it was sent.
    #[error("guest command {index}: {cause}")]
    Illegal {
        /// Its index in the guest's queue (with the wrap bit).
        index: u32,
        /// Why.
        cause: CommandError,
    },
    /// The kernel refused the command (CERROR_ILL). Every command before it was
    /// sent (re-sent where ARM may have dropped them); none after it.
    #[error("guest command {index} refused by the kernel: {error}")]
    Refused {
        /// Its index in the guest's queue.
        index: u32,
        /// The kernel's answer.
        error: Error,
    },
    /// The invalidation call failed as a whole (the vIOMMU is gone, ENOMEM):
    /// none of the `count` commands of the batch from `index` is known to have
    /// run. Reported as CERROR_ABT at the batch's first command, so the guest
    /// fetches them again (see [`CommandQueue`](super::CommandQueue) for why not CERROR_ILL).
    #[error("the {count} guest commands from {index} failed: {error}")]
    Failed {
        /// The index of the batch's first command.
        index: u32,
        /// Commands in the batch.
        count: u32,
        /// The kernel's answer.
        error: Error,
    },
    /// The command could not be read from guest memory (CERROR_ABT). Every
    /// command before it was sent.
    #[error("guest command {index} could not be fetched: {error}")]
    Fetch {
        /// Its index in the guest's queue.
        index: u32,
        /// The failed read.
        error: GuestMemoryError,
    },
}

impl CommandQueueError {
    /// The index CONS stops at (with the wrap bit).
    pub const fn index(&self) -> u32 {
        match *self {
            CommandQueueError::Illegal { index, .. }
            | CommandQueueError::Refused { index, .. }
            | CommandQueueError::Failed { index, .. }
            | CommandQueueError::Fetch { index, .. } => index,
        }
    }

    /// The CMDQ_CONS.ERR code the guest reads.
    pub const fn cerror(&self) -> CError {
        match self {
            CommandQueueError::Illegal { .. } | CommandQueueError::Refused { .. } => CError::Ill,
            CommandQueueError::Failed { .. } | CommandQueueError::Fetch { .. } => CError::Abt,
        }
    }
}

impl From<DrainError> for CommandQueueError {
    fn from(e: DrainError) -> Self {
        match e {
            DrainError::Illegal { guest_index, cause } => CommandQueueError::Illegal {
                index: guest_index,
                cause,
            },
            DrainError::Batch(e) => e.into(),
        }
    }
}

impl From<BatchError> for CommandQueueError {
    fn from(e: BatchError) -> Self {
        match e {
            BatchError::Refused { guest_index, error } => CommandQueueError::Refused {
                index: guest_index,
                error,
            },
            BatchError::Failed {
                first_guest_index,
                count,
                error,
            } => CommandQueueError::Failed {
                index: first_guest_index,
                count,
                error,
            },
        }
    }
}
