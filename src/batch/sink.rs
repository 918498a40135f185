// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`InvalidationSink`]: where a batch's flush goes, and the kernel's two sinks (a
//! vIOMMU handle, a vIOMMU id on an iommufd).

use crate::IommuFd;
use crate::arch::Family;
use crate::error::Result;
use crate::ids::VIommuId;
use crate::states::VIommuAllocated;
use core::marker::PhantomData;

/// Where an [`InvalidationBatch`](super::InvalidationBatch) sends what it holds:
/// one [`submit`](Self::submit) per flush, the entries read in place.
///
/// The kernel's sinks are a vIOMMU handle ([`VIommuAllocated`], owned or borrowed)
/// and [`VIommuIdSink`] (an id on an iommufd). Tests put a
/// [`RecordingSink`](super::RecordingSink) there, or their own fake: the trait is
/// open.
pub trait InvalidationSink {
    /// The family whose invalidation entries the sink takes.
    type Family: Family;

    /// Sends `entries` (never empty, at most the batch's capacity) as one request.
    ///
    /// A failure must say what ran, as the kernel's answer does: either
    /// [`Error::Invalidation`](crate::Error::Invalidation) with `refused: Some(k)`
    /// (entry `k` was refused; the ones before it were handled, though on ARM not
    /// necessarily issued, which the batch repairs by sending them again), or any
    /// other error, which says that none of the call is known to have run.
    fn submit(&self, entries: &[<Self::Family as Family>::Invalidation]) -> Result<()>;
}

// A borrowed sink is a sink: `viommu.batch()` borrows, `InvalidationBatch::new(&fake)`
// leaves the fake to the test to inspect.
impl<S: InvalidationSink + ?Sized> InvalidationSink for &S {
    type Family = S::Family;

    #[inline(always)]
    fn submit(&self, entries: &[<S::Family as Family>::Invalidation]) -> Result<()> {
        (**self).submit(entries)
    }
}

/// The vIOMMU itself: one `IOMMU_HWPT_INVALIDATE` naming it.
impl<F: Family> InvalidationSink for VIommuAllocated<F> {
    type Family = F;

    // Inlined down to the syscall, as every frame between the VMM and the kernel
    // costs about 5 ns on a CPU whose return predictor the kernel refills.
    #[inline(always)]
    fn submit(&self, entries: &[F::Invalidation]) -> Result<()> {
        self.iommufd()
            .invalidate_one_call(self.id().into(), entries)
    }
}

/// The id-level sink: the vIOMMU `viommu` of family `F` on an iommufd, for VMMs that
/// drive [`IommuFd`] themselves. Nothing checks that the id names a live vIOMMU of
/// `F`: the kernel answers ENOENT or EINVAL on the first flush if not.
pub struct VIommuIdSink<'a, F: Family> {
    iommufd: &'a IommuFd,
    viommu: VIommuId,
    family: PhantomData<F>,
}

impl<'a, F: Family> VIommuIdSink<'a, F> {
    /// The vIOMMU `viommu` on `iommufd`.
    pub fn new(iommufd: &'a IommuFd, viommu: VIommuId) -> Self {
        Self {
            iommufd,
            viommu,
            family: PhantomData,
        }
    }

    /// The vIOMMU's id.
    pub fn viommu(&self) -> VIommuId {
        self.viommu
    }
}

impl<F: Family> InvalidationSink for VIommuIdSink<'_, F> {
    type Family = F;

    #[inline(always)]
    fn submit(&self, entries: &[F::Invalidation]) -> Result<()> {
        self.iommufd
            .invalidate_one_call(self.viommu.into(), entries)
    }
}

// By hand: derives would ask `F: Clone` and `F: Debug` of the marker.
impl<F: Family> Clone for VIommuIdSink<'_, F> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<F: Family> Copy for VIommuIdSink<'_, F> {}

impl<F: Family> core::fmt::Debug for VIommuIdSink<'_, F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VIommuIdSink")
            .field("family", &F::NAME)
            .field("viommu", &self.viommu)
            .finish()
    }
}
