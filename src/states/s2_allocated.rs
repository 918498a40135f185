// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`S2Allocated`]: the stage-2 (nest-parent) page table, the second state.

use super::object::KernelObject;
use super::{DirtyTracker, IoasReady, S2Attached, VIommuAllocated, sealed};
use crate::arch::{Family, ParentNesting};
use crate::device::Device;
use crate::error::{Error, Result, TransitionError};
use crate::ids::HwptId;
use crate::iommufd::{HwptAlloc, IommuFd};
use std::sync::Arc;

/// A nest-parent HWPT: stage 2 of one physical IOMMU instance, mapping what its IOAS
/// maps. Shared: clone the handle; vIOMMUs made from it keep it alive.
///
/// Next state: [`alloc_viommu`](Self::alloc_viommu) gives a [`VIommuAllocated`].
#[derive(Debug, Clone)]
pub struct S2Allocated {
    inner: Arc<S2Inner>,
}

// Field order is teardown order: the HWPT goes before the IOAS it references.
#[derive(Debug)]
struct S2Inner {
    hwpt: KernelObject<HwptId>,
    ioas: IoasReady,
    options: S2Options,
}

/// How a stage 2 is allocated, for
/// [`IoasReady::alloc_nest_parent_with`]. The default is a plain nest parent.
///
/// ```
/// use iommufd::states::S2Options;
/// let options = S2Options::new().dirty_tracking().pasid();
/// assert!(options.has_dirty_tracking() && options.has_pasid());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct S2Options {
    dirty_tracking: bool,
    pasid: bool,
}

impl S2Options {
    /// A plain nest parent.
    pub const fn new() -> Self {
        Self {
            dirty_tracking: false,
            pasid: false,
        }
    }

    /// With dirty tracking (`IOMMU_HWPT_ALLOC_DIRTY_TRACKING`): see
    /// [`S2Allocated::dirty_tracker`].
    #[must_use]
    pub const fn dirty_tracking(mut self) -> Self {
        self.dirty_tracking = true;
        self
    }

    /// PASID-compatible (`IOMMU_HWPT_ALLOC_PASID`), and so are the nested HWPTs
    /// made on it: what a device needs before
    /// [`S2Attached::attach_pasid`](super::S2Attached::attach_pasid) (the kernel
    /// refuses PASID attachments while the device's own HWPT is not
    /// PASID-compatible).
    #[must_use]
    pub const fn pasid(mut self) -> Self {
        self.pasid = true;
        self
    }

    /// Whether dirty tracking is asked for.
    pub const fn has_dirty_tracking(&self) -> bool {
        self.dirty_tracking
    }

    /// Whether PASID compatibility is asked for.
    pub const fn has_pasid(&self) -> bool {
        self.pasid
    }
}

impl sealed::Sealed for S2Allocated {}
impl super::State for S2Allocated {}

impl S2Allocated {
    pub(super) fn new(ioas: &IoasReady, dev: &impl Device, options: S2Options) -> Result<Self> {
        let mut request = HwptAlloc::paging(dev.dev_id(), ioas.id()).nest_parent();
        if options.dirty_tracking {
            request = request.dirty_tracking();
        }
        if options.pasid {
            request = request.pasid();
        }
        let hwpt = KernelObject::make(ioas.iommufd(), |fd| fd.alloc_hwpt(&request))?;
        Ok(Self {
            inner: Arc::new(S2Inner {
                hwpt,
                ioas: ioas.clone(),
                options,
            }),
        })
    }

    /// The options it was allocated with.
    pub fn options(&self) -> S2Options {
        self.inner.options
    }

    /// Its dirty tracker, when it was allocated with
    /// [`S2Options::dirty_tracking`]. The tracker shares the handle.
    pub fn dirty_tracker(&self) -> Option<DirtyTracker> {
        self.inner
            .options
            .dirty_tracking
            .then(|| DirtyTracker::new(self.clone()))
    }

    /// The kernel id of the nest-parent HWPT.
    pub fn id(&self) -> HwptId {
        self.inner.hwpt.id()
    }

    /// The IOAS behind it.
    pub fn ioas(&self) -> &IoasReady {
        &self.inner.ioas
    }

    /// The iommufd it lives in.
    pub fn iommufd(&self) -> &Arc<IommuFd> {
        self.inner.hwpt.fd()
    }

    /// Allocates a vIOMMU of family `F` on this stage 2 for `dev`'s physical IOMMU,
    /// with the family's default driver data, and its default stage-1 HWPTs.
    pub fn alloc_viommu<F: Family>(&self, dev: &impl Device) -> Result<VIommuAllocated<F>> {
        VIommuAllocated::new(self, dev, F::VIommuData::default())
    }

    /// [`alloc_viommu`](Self::alloc_viommu) with driver data; what the driver writes
    /// back is in [`VIommuAllocated::driver_data`].
    pub fn alloc_viommu_with<F: Family>(
        &self,
        dev: &impl Device,
        data: F::VIommuData,
    ) -> Result<VIommuAllocated<F>> {
        VIommuAllocated::new(self, dev, data)
    }

    /// Attaches `dev` to this stage 2 alone, for a family that nests on it without a
    /// vIOMMU ([`ParentNesting`]: Intel VT-d). On failure the device comes back,
    /// attached where it was.
    pub fn attach<F: ParentNesting, D: Device>(
        &self,
        dev: D,
    ) -> Result<S2Attached<F, D>, TransitionError<D>> {
        S2Attached::new(self, dev)
    }

    /// Destroys the stage 2 now and reports the kernel's answer. Fails, giving the
    /// handle back, while other handles or children share it, or while a device is
    /// still attached to it (EBUSY).
    pub fn try_destroy(self) -> Result<(), TransitionError<Self>> {
        match Arc::try_unwrap(self.inner) {
            Ok(S2Inner {
                hwpt,
                ioas,
                options,
            }) => hwpt.destroy().map_err(|(hwpt, e)| {
                TransitionError::new(
                    Self {
                        inner: Arc::new(S2Inner {
                            hwpt,
                            ioas,
                            options,
                        }),
                    },
                    e,
                )
            }),
            Err(inner) => Err(TransitionError::new(
                Self { inner },
                Error::StillShared {
                    what: "stage-2 HWPT",
                },
            )),
        }
    }
}
