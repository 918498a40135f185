// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The invalidation hot path: a fixed-capacity batch of guest invalidations, filled
//! while the VMM drains the guest's command queue and sent as one
//! `IOMMU_HWPT_INVALIDATE` per guest sync (or when full). No heap, no copy: the
//! entries live in the batch and the kernel reads them in place.
//!
//! The batch is family-neutral: it takes already-checked entries
//! ([`push`](InvalidationBatch::push)) and sends them to its [`InvalidationSink`]
//! on [`flush`](InvalidationBatch::flush), re-sending what a refused entry may have
//! cost (the ARM recovery). What reads a guest's raw commands lives with the family
//! that defines them: for SMMUv3 (and Tegra241 CMDQV, which speaks its commands),
//! [`push_guest_commands`](InvalidationBatch::push_guest_commands) and the types of
//! [`arch::smmuv3`](crate::arch::smmuv3) ([`Drain`](crate::arch::smmuv3::Drain),
//! [`Step`](crate::arch::smmuv3::Step), [`DrainError`](crate::arch::smmuv3::DrainError)).
//!
//! # Sinks
//!
//! - `&VIommuAllocated<F>` ([`VIommuAllocated::batch`]): borrows the vIOMMU;
//! - `VIommuAllocated<F>` (`InvalidationBatch::new(viommu.clone())`): owns a handle,
//!   which keeps the vIOMMU alive (and its `try_destroy` refused) while the batch
//!   lives;
//! - [`VIommuIdSink`] ([`InvalidationBatch::for_viommu_id`]): an id on an
//!   [`IommuFd`], for VMMs on the id-level API;
//! - [`RecordingSink`]: a fake that records and answers as told, for tests.
//!
//! # Where a VMM keeps its batch
//!
//! A borrowing batch cannot sit in the struct that owns its vIOMMU: that struct
//! would borrow itself, and the lifetime parameter rustc suggests adding only moves
//! the error to where the struct is built (E0716, or E0505). Two shapes work:
//!
//! - one batch per drain, on the stack: `let mut batch = viommu.batch::<63>();` where
//!   the VMM handles a write to the guest's CMDQ_PROD (making one zeroes its
//!   arrays, about 1.3 KiB at 63: little next to the ioctl it saves);
//! - an owning batch in the struct, beside (or instead of) the handle:
//!
//! ```
//! use iommufd::arch::Smmuv3;
//! use iommufd::batch::InvalidationBatch;
//! use iommufd::states::VIommuAllocated;
//!
//! struct VirtualSmmu {
//!     viommu: VIommuAllocated<Smmuv3>,
//!     // A clone of the handle: both may be dropped in either order.
//!     batch: InvalidationBatch<VIommuAllocated<Smmuv3>, 63>,
//! }
//!
//! impl VirtualSmmu {
//!     fn new(viommu: VIommuAllocated<Smmuv3>) -> Self {
//!         let batch = InvalidationBatch::new(viommu.clone());
//!         Self { viommu, batch }
//!     }
//! }
//! ```
//!
//! In a VMM's unit tests the same struct can be generic over the sink
//! (`S: InvalidationSink<Family = Smmuv3>`) and built on a [`RecordingSink`].

mod error;
mod recording;
mod sink;

pub use error::BatchError;
pub use recording::{RecordingSink, Submission};
pub use sink::{InvalidationSink, VIommuIdSink};

use crate::IommuFd;
use crate::arch::Family;
use crate::error::Error;
use crate::ids::VIommuId;
use crate::states::VIommuAllocated;
use zerocopy::FromZeros;

/// Up to `N` invalidations for one sink (a vIOMMU, or a fake), with the guest
/// queue index of each. Lives on the stack or in the VMM's struct; never
/// allocates. On ARM, `N = 63` matches the driver's block of commands per sync (64
/// pays a second sync).
///
/// Dropping a batch with entries waiting flushes them: a guest invalidation
/// silently lost would leave the device translating through page tables the guest
/// has freed. Drop cannot report what the kernel answers, so call
/// [`flush`](Self::flush) (at the guest's sync, and when its queue drains) and
/// report errors to the guest from there; [`clear`](Self::clear) discards what
/// waits when the guest resets its queue.
#[must_use = "a batch sends nothing until it is flushed or dropped"]
pub struct InvalidationBatch<S: InvalidationSink, const N: usize> {
    sink: S,
    entries: [<S::Family as Family>::Invalidation; N],
    guest_index: [u32; N],
    len: usize,
}

// By hand: a derive would require the entries to be Debug, which the family does
// not promise; the guest indices say what waits.
impl<S: InvalidationSink + core::fmt::Debug, const N: usize> core::fmt::Debug
    for InvalidationBatch<S, N>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("InvalidationBatch")
            .field("family", &<S::Family as Family>::NAME)
            .field("sink", &self.sink)
            .field("capacity", &N)
            .field("guest_indices", &self.guest_indices())
            .finish()
    }
}

impl<'a, F: Family, const N: usize> InvalidationBatch<VIommuIdSink<'a, F>, N> {
    /// An empty batch for the vIOMMU `viommu` of family `F` on `iommufd`, for VMMs
    /// that drive the id-level API (see [`VIommuIdSink`]).
    pub fn for_viommu_id(iommufd: &'a IommuFd, viommu: VIommuId) -> Self {
        Self::new(VIommuIdSink::new(iommufd, viommu))
    }
}

impl<S: InvalidationSink, const N: usize> InvalidationBatch<S, N> {
    /// An empty batch sending to `sink`: `&viommu` (borrowed), `viommu.clone()`
    /// (owned), a [`VIommuIdSink`], a [`RecordingSink`].
    pub fn new(sink: S) -> Self {
        // N == 0 would make every push a no-op flush; refuse it at compile time.
        const { assert!(N > 0, "a batch needs room for one entry") };
        Self {
            sink,
            entries: [FromZeros::new_zeroed(); N],
            guest_index: [0; N],
            len: 0,
        }
    }

    /// Where the batch sends its entries.
    pub fn sink(&self) -> &S {
        &self.sink
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
    pub fn entries(&self) -> &[<S::Family as Family>::Invalidation] {
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

    /// The free slots, for a reader that fills them in place before it
    /// [`commit`](Self::commit)s them: the guest's commands land in the batch
    /// with no copy in between. What is not committed is never sent.
    #[inline(always)]
    pub(crate) fn free_slots(&mut self) -> &mut [<S::Family as Family>::Invalidation] {
        self.entries.get_mut(self.len..).unwrap_or_default()
    }

    /// The `count` free slots from slot `from` on, which the caller filled
    /// earlier, moved to the first free slot (the batch's length changed since:
    /// a flush, or a command that took no slot) and given back there. Empty when
    /// they are not all free slots.
    #[inline(always)]
    pub(crate) fn read_ahead(
        &mut self,
        from: usize,
        count: usize,
    ) -> &[<S::Family as Family>::Invalidation] {
        let len = self.len;
        let Some(end) = from
            .checked_add(count)
            .filter(|&end| from >= len && end <= N)
        else {
            return &[];
        };
        if from != len {
            self.entries.copy_within(from..end, len);
        }
        self.entries.get(len..len + count).unwrap_or_default()
    }

    /// Appends the first `count` free slots, as the caller filled them (at most
    /// as many as are free): guest commands `first_guest_index`, ... .
    #[inline(always)]
    pub(crate) fn commit(&mut self, first_guest_index: u32, count: usize) {
        let len = self.len;
        let indices = self.guest_index.get_mut(len..).unwrap_or_default();
        let count = count.min(indices.len());
        for (k, index) in indices.iter_mut().take(count).enumerate() {
            *index = first_guest_index.wrapping_add(k as u32);
        }
        self.len = len + count;
    }

    /// Appends the entries `next(0)`, `next(1)`, ... up to `count` of them, while
    /// `next` makes one and the batch has room (it never flushes): `next(k)` is guest
    /// command `first_guest_index + k`. Returns how many it appended. The drain's
    /// straight line: one loop with the length in a register, no call in it.
    #[inline(always)]
    pub(crate) fn append_while(
        &mut self,
        first_guest_index: u32,
        count: usize,
        mut next: impl FnMut(usize) -> Option<<S::Family as Family>::Invalidation>,
    ) -> usize {
        let len = self.len;
        let (Some(slots), Some(indices)) =
            (self.entries.get_mut(len..), self.guest_index.get_mut(len..))
        else {
            return 0;
        };
        let mut taken = 0;
        for ((slot, index), k) in slots.iter_mut().zip(indices).zip(0..count) {
            let Some(entry) = next(k) else { break };
            *slot = entry;
            *index = first_guest_index.wrapping_add(k as u32);
            taken += 1;
        }
        self.len = len + taken;
        taken
    }

    /// Adds an entry (an already-checked invalidation), flushing first when full.
    #[inline]
    pub fn push(
        &mut self,
        guest_index: u32,
        entry: <S::Family as Family>::Invalidation,
    ) -> Result<(), BatchError> {
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

    /// The flush of a full batch, once every `N` pushes: out of line, so the push
    /// loop stays small.
    #[cold]
    #[inline(never)]
    fn flush_full(&mut self) -> Result<(), BatchError> {
        self.flush()
    }

    /// Sends what waits in one call to the sink and empties the batch.
    #[inline]
    pub fn flush(&mut self) -> Result<(), BatchError> {
        let len = core::mem::take(&mut self.len);
        if len == 0 {
            return Ok(());
        }
        // Inlined down to the syscall (the kernel sinks are `inline(always)`): each
        // frame between the VMM and the kernel costs a mispredicted return on CPUs
        // whose return predictor the kernel refills on the way out (measured: about
        // 5 ns a frame on the host).
        match self.sink.submit(&self.entries[..len]) {
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
                    if let Err(error) = self.sink.submit(&entries[..k]) {
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

impl<S: InvalidationSink, const N: usize> Drop for InvalidationBatch<S, N> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

impl<F: Family> VIommuAllocated<F> {
    /// An empty [`InvalidationBatch`] of capacity `N` borrowing this vIOMMU: one per
    /// drain of the guest's queue. To keep one in a struct beside the vIOMMU, own a
    /// handle instead: `InvalidationBatch::new(viommu.clone())` (see the
    /// [module docs](crate::batch)).
    pub fn batch<const N: usize>(&self) -> InvalidationBatch<&Self, N> {
        InvalidationBatch::new(self)
    }
}
