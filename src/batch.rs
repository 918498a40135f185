// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The invalidation hot path: a fixed-capacity batch of guest invalidations, filled
//! while the VMM drains the guest's command queue and sent as one
//! `IOMMU_HWPT_INVALIDATE` per guest `CMD_SYNC` (or when full). No heap, no copy:
//! the entries live in the batch and the kernel reads them in place.
//!
//! For SMMUv3, the VMM works the guest command rules out once per vIOMMU
//! ([`CommandRules`]) and hands runs of raw guest commands to
//! [`push_guest_commands`](InvalidationBatch::push_guest_commands) (or one at a time
//! to [`push_guest_command`](InvalidationBatch::push_guest_command)): a legal TLBI
//! costs a table lookup and a 16-byte store, everything else goes through the full
//! checks. The drain stops where the VMM has work of its own:
//!
//! ```no_run
//! # use iommufd::arch::{Smmuv3, smmuv3::{CommandRules, SmmuCaps}};
//! # use iommufd::batch::{BatchError, Drain};
//! # fn f(viommu: &iommufd::states::VIommuAllocated<Smmuv3>, caps: &SmmuCaps, guest_queue: &[[u8; 16]]) -> Result<(), BatchError> {
//! let rules = CommandRules::new(caps); // once, when the vIOMMU is made
//! let mut batch = viommu.batch::<63>(); // 63: the ARM driver's block per sync
//! let mut cons = 0; // the guest's CONS
//! while cons < guest_queue.len() {
//!     let run = &guest_queue[cons..];
//!     match batch.push_guest_commands(cons as u32, run, &rules, |vsid| vsid == 0x42)? {
//!         Drain::Synced { guest_index } => {
//!             // Everything before the CMD_SYNC was sent (one ioctl): complete it.
//!             cons = guest_index as usize + 1;
//!         }
//!         Drain::ReloadStes { guest_index, span } => {
//!             // Re-read the STEs `span` names and reinstall them, then go on.
//!             let _ = span;
//!             cons = guest_index as usize + 1;
//!         }
//!         Drain::End => {
//!             batch.flush()?; // the queue is empty: send what waits
//!             cons = guest_queue.len();
//!         }
//!     }
//! }
//! // On Err(e): report CERROR_ILL at e.guest_index(); the guest's CONS stops there.
//! # Ok(()) }
//! ```

use crate::IommuFd;
use crate::arch::Family;
use crate::arch::smmuv3::{CommandError, CommandRules, GuestCommand, Smmuv3, StreamSpan};
use crate::error::Error;
use crate::ids::ViommuId;
use crate::states::VIommuAllocated;
use core::marker::PhantomData;
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

/// Where [`InvalidationBatch::push_guest_commands`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drain {
    /// It took every command; what it queued waits in the batch (flush when the
    /// guest's queue is empty).
    End,
    /// It stopped after the CMD_SYNC at `guest_index`: everything before it was
    /// sent; complete the sync, then go on with the next command.
    Synced {
        /// Index of the CMD_SYNC in the guest's queue.
        guest_index: u32,
    },
    /// It stopped after the CFGI_STE* at `guest_index`: everything before it was
    /// sent; re-read these STEs and reinstall them, then go on with the next
    /// command.
    ReloadStes {
        /// Index of the CFGI_STE* in the guest's queue.
        guest_index: u32,
        /// The guest StreamIDs it names.
        span: StreamSpan,
    },
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
    /// The ioctl failed as a whole, with no command refused (the vIOMMU is gone,
    /// ENOMEM, EFAULT): none of the batch is known to have been sent; it was
    /// dropped, and can be replayed from the guest's queue (invalidations are
    /// idempotent). No guest command is illegal: report no CERROR_ILL for it.
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
/// block of commands per sync (64 pays a second sync).
///
/// Dropping a batch with entries waiting flushes them: a guest invalidation
/// silently lost would leave the device translating through page tables the guest
/// has freed. Drop cannot report what the kernel answers, so call
/// [`flush`](Self::flush) (at the guest's CMD_SYNC, and when its queue drains) and
/// report errors to the guest from there; [`clear`](Self::clear) discards what
/// waits when the guest resets its queue.
#[must_use = "a batch sends nothing until it is flushed or dropped"]
pub struct InvalidationBatch<'a, F: Family, const N: usize> {
    iommufd: &'a IommuFd,
    viommu: ViommuId,
    entries: [F::Invalidation; N],
    guest_index: [u32; N],
    len: usize,
    family: PhantomData<F>,
}

// By hand: a derive would require `F: Debug`, and the entries are wire structs
// without a Debug bound in the family; the guest indices say what waits.
impl<F: Family, const N: usize> core::fmt::Debug for InvalidationBatch<'_, F, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("InvalidationBatch")
            .field("family", &F::NAME)
            .field("viommu", &self.viommu)
            .field("capacity", &N)
            .field("guest_indices", &self.guest_indices())
            .finish()
    }
}

impl<'a, F: Family, const N: usize> InvalidationBatch<'a, F, N> {
    /// An empty batch for `viommu` (which it borrows, so the vIOMMU outlives it).
    pub fn new(viommu: &'a VIommuAllocated<F>) -> Self {
        Self::for_viommu_id(viommu.iommufd(), viommu.id())
    }

    /// An empty batch for the vIOMMU `viommu` of family `F` on `iommufd`, for VMMs
    /// that drive the id-level API; nothing checks that the id names a live vIOMMU
    /// of `F` (the kernel answers ENOENT or EINVAL on flush if not).
    pub fn for_viommu_id(iommufd: &'a IommuFd, viommu: ViommuId) -> Self {
        // N == 0 would make every push a no-op flush; refuse it at compile time.
        const { assert!(N > 0, "a batch needs room for one entry") };
        Self {
            iommufd,
            viommu,
            entries: [F::Invalidation::new_zeroed(); N],
            guest_index: [0; N],
            len: 0,
            family: PhantomData,
        }
    }

    /// Drops what waits without sending it (the guest reset or disabled its
    /// command queue).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Entries waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The entries waiting, oldest first.
    pub fn entries(&self) -> &[F::Invalidation] {
        &self.entries[..self.len]
    }

    /// The guest queue index of each waiting entry.
    pub fn guest_indices(&self) -> &[u32] {
        &self.guest_index[..self.len]
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds an entry (an already-checked invalidation), flushing first when full.
    #[inline]
    pub fn push(&mut self, guest_index: u32, entry: F::Invalidation) -> Result<(), BatchError> {
        if self.len >= N {
            self.flush_full()?;
        }
        // len < N now (a flush empties the batch); `get_mut` keeps a panic path out.
        let len = self.len;
        if let (Some(slot), Some(index)) =
            (self.entries.get_mut(len), self.guest_index.get_mut(len))
        {
            *slot = entry;
            *index = guest_index;
            self.len = len + 1;
        }
        Ok(())
    }

    #[inline(always)]
    fn invalidate(&self, entries: &[F::Invalidation]) -> Result<(), Error> {
        self.iommufd
            .invalidate_one_call(self.viommu.into(), entries)
    }

    /// The flush of a full batch, once every `N` pushes: out of line, so the push
    /// loop stays small.
    #[cold]
    #[inline(never)]
    fn flush_full(&mut self) -> Result<(), BatchError> {
        self.flush()
    }

    /// Sends what waits in one ioctl and empties the batch.
    #[inline]
    pub fn flush(&mut self) -> Result<(), BatchError> {
        let len = core::mem::take(&mut self.len);
        if len == 0 {
            return Ok(());
        }
        // Inlined down to the syscall: each frame between the VMM and the kernel
        // costs a mispredicted return on CPUs whose return predictor the kernel
        // refills on the way out (measured: about 5 ns a frame on the host).
        match self.invalidate(&self.entries[..len]) {
            Ok(()) => Ok(()),
            Err(error) => Err(self.recover(len, error)),
        }
    }

    /// What a failed flush of `len` entries tells the guest: the refused entry's
    /// guest index, after re-sending every entry before it.
    #[cold]
    #[inline(never)]
    fn recover(&self, len: usize, error: Error) -> BatchError {
        let entries = &self.entries[..len];
        match error.refused_entry() {
            Some(k) if k < len => {
                // Re-send everything before the refused entry: the driver may have
                // converted but never issued some of them (ARM, blocks of 63).
                if k > 0 {
                    if let Err(error) = self.invalidate(&entries[..k]) {
                        return BatchError::Failed {
                            first_guest_index: self.guest_index[0],
                            count: k as u32,
                            error,
                        };
                    }
                }
                BatchError::Refused {
                    guest_index: self.guest_index[k],
                    error,
                }
            }
            _ => BatchError::Failed {
                first_guest_index: self.guest_index[0],
                count: len as u32,
                error,
            },
        }
    }
}

impl<F: Family, const N: usize> Drop for InvalidationBatch<'_, F, N> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

impl<'a, const N: usize> InvalidationBatch<'a, Smmuv3, N> {
    /// Takes one raw command from the guest's queue: checks it with `rules` (the
    /// SMMU the guest sees) and `has_vdevice` (guest StreamIDs with a vDEVICE), then
    /// queues it, or flushes for a CMD_SYNC or a CFGI_STE*, or refuses it after
    /// sending everything before it.
    #[inline]
    pub fn push_guest_command(
        &mut self,
        guest_index: u32,
        raw: &[u8],
        rules: &CommandRules,
        has_vdevice: impl Fn(u32) -> bool,
    ) -> Result<Step, BatchError> {
        match rules.forwarded_tlbi(raw) {
            Some(entry) => self.push(guest_index, entry).map(|()| Step::Queued),
            None => self.push_other_command(guest_index, raw, rules, has_vdevice),
        }
    }

    /// Takes a run of raw commands from the guest's queue, `queue[0]` being guest
    /// command `first_index`, as [`push_guest_command`](Self::push_guest_command)
    /// one by one would, and stops after the first command that needs the VMM (a
    /// CMD_SYNC, a CFGI_STE*) or at the end of `queue`: the way to drain a queue
    /// into the batch.
    ///
    /// On an error, the guest's queue stops at [`BatchError::guest_index`].
    pub fn push_guest_commands(
        &mut self,
        first_index: u32,
        queue: &[[u8; 16]],
        rules: &CommandRules,
        has_vdevice: impl Fn(u32) -> bool,
    ) -> Result<Drain, BatchError> {
        for (i, raw) in queue.iter().enumerate() {
            let guest_index = first_index.wrapping_add(i as u32);
            match self.push_guest_command(guest_index, raw, rules, &has_vdevice)? {
                Step::Synced => return Ok(Drain::Synced { guest_index }),
                Step::ReloadStes(span) => return Ok(Drain::ReloadStes { guest_index, span }),
                Step::Queued | Step::Nothing => {}
            }
        }
        Ok(Drain::End)
    }

    /// Everything but a legal TLBI: the full checks, then what the command asks.
    /// Marked cold so the TLBI path is the straight line (one CMD_SYNC per batch
    /// comes here; that is cheap next to the flush it makes).
    #[cold]
    #[inline(never)]
    fn push_other_command(
        &mut self,
        guest_index: u32,
        raw: &[u8],
        rules: &CommandRules,
        has_vdevice: impl Fn(u32) -> bool,
    ) -> Result<Step, BatchError> {
        match rules.classify(raw, has_vdevice) {
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
