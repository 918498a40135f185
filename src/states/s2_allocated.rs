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
    dirty_tracking: bool,
}

impl sealed::Sealed for S2Allocated {}
impl super::State for S2Allocated {}

impl S2Allocated {
    pub(super) fn new(ioas: &IoasReady, dev: &impl Device, dirty_tracking: bool) -> Result<Self> {
        let request = HwptAlloc::paging(dev.dev_id(), ioas.id()).nest_parent();
        let request = if dirty_tracking {
            request.dirty_tracking()
        } else {
            request
        };
        let hwpt = KernelObject::make(ioas.iommufd(), |fd| fd.alloc_hwpt(&request))?;
        Ok(Self {
            inner: Arc::new(S2Inner {
                hwpt,
                ioas: ioas.clone(),
                dirty_tracking,
            }),
        })
    }

    /// Its dirty tracker, when it was allocated with dirty tracking
    /// ([`IoasReady::alloc_dirty_tracked_nest_parent`]). The tracker shares the
    /// handle.
    pub fn dirty_tracker(&self) -> Option<DirtyTracker> {
        self.inner
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
                dirty_tracking,
            }) => hwpt.destroy().map_err(|(hwpt, e)| {
                TransitionError::new(
                    Self {
                        inner: Arc::new(S2Inner {
                            hwpt,
                            ioas,
                            dirty_tracking,
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
