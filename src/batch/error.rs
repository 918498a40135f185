// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`BatchError`]: why a flush failed, in the guest's queue indices.

use crate::error::Error;

/// Why a flush failed. Each names the guest queue index to report to the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// The kernel refused an entry. Every entry before it was sent (re-sent if need
    /// be: see the ARM recovery in [`IommuFd::invalidate`](crate::IommuFd::invalidate));
    /// the batch dropped the ones after it, which the guest still has in its queue.
    #[error("guest command {guest_index} refused: {error}")]
    Refused {
        /// Index of the entry's command in the guest's queue.
        guest_index: u32,
        /// The kernel's error.
        error: Error,
    },
    /// The flush failed as a whole, with no entry refused (the vIOMMU is gone,
    /// ENOMEM, EFAULT), or the re-send before a refused entry did: none of these
    /// `count` entries is known to have been sent; they were dropped, and can be
    /// replayed from the guest's queue (invalidations are idempotent). No guest
    /// command is illegal: report no command error (CERROR_ILL) for it.
    #[error("batch from guest command {first_guest_index} ({count} commands) failed: {error}")]
    Failed {
        /// Index of the batch's first command in the guest's queue.
        first_guest_index: u32,
        /// Commands not known to have been sent.
        count: u32,
        /// The kernel's error.
        error: Error,
    },
}

impl BatchError {
    /// The guest queue index to report: the refused command, or the first of those
    /// that failed.
    pub fn guest_index(&self) -> u32 {
        match *self {
            BatchError::Refused { guest_index, .. } => guest_index,
            BatchError::Failed {
                first_guest_index, ..
            } => first_guest_index,
        }
    }

    /// The kernel's (or the sink's) error.
    pub fn error(&self) -> &Error {
        match self {
            BatchError::Refused { error, .. } | BatchError::Failed { error, .. } => error,
        }
    }
}
