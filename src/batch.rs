//! The invalidation hot path: a fixed-capacity batch of guest invalidations, filled
//! while the VMM drains the guest's command queue and sent as one
//! `IOMMU_HWPT_INVALIDATE` per guest `CMD_SYNC` (or when full). No heap, no copy:
//! the entries live in the batch and the kernel reads them in place.
//!
//! ```no_run
//! # use iommufd::arch::{Smmuv3, smmuv3::SmmuCaps};
//! # use iommufd::batch::{BatchError, Step};
//! # fn f(viommu: &iommufd::states::VIommuAllocated<Smmuv3>, caps: &SmmuCaps, guest_queue: &[[u8; 16]]) {
//! let mut batch = viommu.batch::<64>();
//! for (index, raw) in guest_queue.iter().enumerate() {
//!     match batch.push_guest_command(index as u32, raw, caps, |vsid| vsid == 0x42) {
//!         Ok(Step::Queued | Step::Synced | Step::Nothing) => {}
//!         Ok(Step::ReloadStes(span)) => { /* re-read these guest STEs, reinstall */ }
//!         Err(e) => { /* CERROR_ILL at e.guest_index(): the guest's CONS stops there */ break; }
//!     }
//! }
//! # }
//! ```

use crate::arch::Family;
use crate::arch::smmuv3::{CommandError, GuestCommand, SmmuCaps, Smmuv3, StreamSpan, classify};
use crate::error::Error;
use crate::states::VIommuAllocated;
use zerocopy::FromZeros;

/// What a pushed guest command did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Added to the batch (which may have been flushed first, being full).
    Queued,
    /// CMD_SYNC: everything before it was sent; complete the sync for the guest.
    Synced,
    /// CFGI_STE*: everything before it was sent; now re-read these STEs and
    /// reinstall them (the VMM's job).
    ReloadStes(StreamSpan),
    /// A prefetch: nothing to do.
    Nothing,
}

/// Why a batch stopped. Each names the guest queue index to report to the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// The crate refused a guest command before any ioctl (the kernel would too).
    /// Every command before it was sent.
    #[error("guest command {guest_index}: {cause}")]
    Illegal {
        /// Index of the command in the guest's queue.
        guest_index: u32,
        /// Why.
        cause: CommandError,
    },
    /// The kernel refused a command. Every command before it was sent (re-sent if
    /// need be: see the ARM recovery in [`IommuFd::invalidate`](crate::IommuFd::invalidate));
    /// the batch dropped the ones after it, which the guest still has in its queue.
    #[error("guest command {guest_index} refused: {error}")]
    Refused {
        /// Index of the command in the guest's queue.
        guest_index: u32,
        /// The kernel's error.
        error: Error,
    },
    /// The ioctl failed without saying where (ENOMEM, EFAULT): none of the batch
    /// is known to have been sent; it was dropped, and can be replayed from the
    /// guest's queue (invalidations are idempotent).
    #[error("batch from guest command {first_guest_index} ({count} commands) failed: {error}")]
    Failed {
        /// Index of the batch's first command in the guest's queue.
        first_guest_index: u32,
        /// Commands in the batch.
        count: u32,
        /// The kernel's error.
        error: Error,
    },
}

impl BatchError {
    /// The guest queue index to report (CERROR_ILL for SMMUv3).
    pub fn guest_index(&self) -> u32 {
        match *self {
            BatchError::Illegal { guest_index, .. } | BatchError::Refused { guest_index, .. } => {
                guest_index
            }
            BatchError::Failed {
                first_guest_index, ..
            } => first_guest_index,
        }
    }
}

/// Up to `N` invalidations for one vIOMMU, with the guest queue index of each.
/// Lives on the stack; never allocates. On ARM, `N = 63` matches the driver's
/// block of commands per sync (64 pays a second sync). Dropping a batch drops what
/// still waits in it: flush first.
pub struct InvalidationBatch<'a, F: Family, const N: usize> {
    viommu: &'a VIommuAllocated<F>,
    entries: [F::Invalidation; N],
    guest_index: [u32; N],
    len: usize,
}

impl<'a, F: Family, const N: usize> InvalidationBatch<'a, F, N> {
    /// An empty batch for `viommu`.
    pub fn new(viommu: &'a VIommuAllocated<F>) -> Self {
        Self {
            viommu,
            entries: [F::Invalidation::new_zeroed(); N],
            guest_index: [0; N],
            len: 0,
        }
    }

    /// Entries waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds an entry (an already-checked invalidation), flushing first when full.
    pub fn push(&mut self, guest_index: u32, entry: F::Invalidation) -> Result<(), BatchError> {
        if self.len == N {
            self.flush()?;
        }
        // N == 0 would make every push a no-op flush; refuse it at compile time.
        const { assert!(N > 0, "a batch needs room for one entry") };
        self.entries[self.len] = entry;
        self.guest_index[self.len] = guest_index;
        self.len += 1;
        Ok(())
    }

    /// Sends what waits in one ioctl and empties the batch.
    pub fn flush(&mut self) -> Result<(), BatchError> {
        let len = core::mem::take(&mut self.len);
        if len == 0 {
            return Ok(());
        }
        let entries = &self.entries[..len];
        match self.viommu.invalidate(entries) {
            Ok(()) => Ok(()),
            Err(
                error @ Error::Invalidation {
                    handled: Some(k), ..
                },
            ) if (k as usize) < len => {
                let k = k as usize;
                // Re-send everything before the refused entry: the driver may have
                // converted but never issued some of them (ARM, blocks of 63).
                if k > 0 {
                    if let Err(error) = self.viommu.invalidate(&entries[..k]) {
                        return Err(BatchError::Failed {
                            first_guest_index: self.guest_index[0],
                            count: k as u32,
                            error,
                        });
                    }
                }
                Err(BatchError::Refused {
                    guest_index: self.guest_index[k],
                    error,
                })
            }
            Err(error) => Err(BatchError::Failed {
                first_guest_index: self.guest_index[0],
                count: len as u32,
                error,
            }),
        }
    }
}

impl<'a, const N: usize> InvalidationBatch<'a, Smmuv3, N> {
    /// Takes one raw command from the guest's queue: checks it against `caps` (the
    /// SMMU the guest sees) and `has_vdevice` (guest StreamIDs with a vDEVICE), then
    /// queues it, or flushes for a CMD_SYNC or a CFGI_STE*, or refuses it after
    /// sending everything before it.
    pub fn push_guest_command(
        &mut self,
        guest_index: u32,
        raw: &[u8],
        caps: &SmmuCaps,
        has_vdevice: impl Fn(u32) -> bool,
    ) -> Result<Step, BatchError> {
        match classify(raw, caps, has_vdevice) {
            Ok(GuestCommand::Forward(entry)) => {
                self.push(guest_index, entry).map(|()| Step::Queued)
            }
            Ok(GuestCommand::Sync) => self.flush().map(|()| Step::Synced),
            Ok(GuestCommand::ReloadStes(span)) => self.flush().map(|()| Step::ReloadStes(span)),
            Ok(GuestCommand::Nothing) => Ok(Step::Nothing),
            Err(cause) => {
                self.flush()?;
                Err(BatchError::Illegal { guest_index, cause })
            }
        }
    }
}

impl<F: Family> VIommuAllocated<F> {
    /// An empty [`InvalidationBatch`] of capacity `N` for this vIOMMU.
    pub fn batch<const N: usize>(&self) -> InvalidationBatch<'_, F, N> {
        InvalidationBatch::new(self)
    }
}
