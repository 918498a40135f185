// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`HwQueue`]: a guest command queue handed to the hardware (Tegra241 VCMDQs, the
//! mock's queues).

use super::VIommuAllocated;
use super::object::KernelObject;
use crate::arch::Family;
use crate::error::{Error, Op, Result};
use crate::ids::HwQueueId;
use std::sync::Arc;

/// A HW queue of a vIOMMU. The kernel numbers a vIOMMU's queues from 0 and keeps
/// queue n busy while queue n + 1 exists, so the crate makes them as a chain: queue 0
/// from [`VIommuAllocated::alloc_hw_queue`], queue n + 1 from
/// [`alloc_next`](Self::alloc_next) on queue n, which it keeps alive. Dropping
/// queues in any order therefore destroys them last first; the vIOMMU lives while
/// any of them does.
pub struct HwQueue<F: Family> {
    inner: Arc<QueueInner<F>>,
}

// Field order is teardown order: this queue, then the queue before it, then the
// vIOMMU.
struct QueueInner<F: Family> {
    object: KernelObject<HwQueueId>,
    index: u32,
    // Held, never read: keeps the queue before this one alive.
    _previous: Option<HwQueue<F>>,
    viommu: VIommuAllocated<F>,
}

impl<F: Family> core::fmt::Debug for HwQueue<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HwQueue")
            .field("id", &self.id())
            .field("index", &self.index())
            .field("viommu", &self.inner.viommu.id())
            .finish()
    }
}

impl<F: Family> HwQueue<F> {
    pub(super) fn first(viommu: &VIommuAllocated<F>, ipa: u64, length: u64) -> Result<Self> {
        Self::alloc(viommu, None, ipa, length)
    }

    fn alloc(
        viommu: &VIommuAllocated<F>,
        previous: Option<&HwQueue<F>>,
        ipa: u64,
        length: u64,
    ) -> Result<Self> {
        let Some(queue_type) = F::HW_QUEUE_TYPE else {
            return Err(Error::InvalidInput {
                op: Op::HwQueueAlloc,
                field: "family",
                reason: "this IOMMU family has no HW queues",
            });
        };
        let index = match previous {
            None => 0,
            Some(q) => q.index().checked_add(1).ok_or(Error::InvalidInput {
                op: Op::HwQueueAlloc,
                field: "index",
                reason: "no queue index after u32::MAX",
            })?,
        };
        let object = KernelObject::make(viommu.iommufd(), |fd| {
            fd.alloc_hw_queue(viommu.id(), queue_type, index, ipa, length)
        })?;
        Ok(Self {
            inner: Arc::new(QueueInner {
                object,
                index,
                _previous: previous.map(|q| HwQueue {
                    inner: Arc::clone(&q.inner),
                }),
                viommu: viommu.clone(),
            }),
        })
    }

    /// Hands the next guest queue (index [`index`](Self::index) + 1) at guest
    /// physical `ipa` (`length` bytes, mapped in the stage 2) to the hardware. The new
    /// queue keeps this one alive.
    pub fn alloc_next(&self, ipa: u64, length: u64) -> Result<Self> {
        Self::alloc(&self.inner.viommu, Some(self), ipa, length)
    }

    /// The kernel id.
    pub fn id(&self) -> HwQueueId {
        self.inner.object.id()
    }

    /// The queue's index in its vIOMMU.
    pub fn index(&self) -> u32 {
        self.inner.index
    }

    /// The vIOMMU the queue belongs to.
    pub fn viommu(&self) -> &VIommuAllocated<F> {
        &self.inner.viommu
    }
}
