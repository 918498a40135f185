//! [`HwQueue`]: a guest command queue handed to the hardware (Tegra241 VCMDQs, the
//! mock's queues).

use super::VIommuAllocated;
use super::object::KernelObject;
use crate::arch::Family;
use crate::error::{Error, Op, Result};
use crate::ids::HwQueueId;

/// A HW queue of a vIOMMU. Dropping it destroys it; the vIOMMU stays alive while it
/// exists. Queues of one vIOMMU must be dropped in reverse index order (the kernel
/// keeps queue n busy while n + 1 exists).
pub struct HwQueue<F: Family> {
    object: KernelObject<HwQueueId>,
    index: u32,
    viommu: VIommuAllocated<F>,
}

impl<F: Family> core::fmt::Debug for HwQueue<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HwQueue")
            .field("id", &self.object.id())
            .field("index", &self.index)
            .field("viommu", &self.viommu.id())
            .finish()
    }
}

impl<F: Family> HwQueue<F> {
    pub(super) fn new(
        viommu: &VIommuAllocated<F>,
        index: u32,
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
        let object = KernelObject::make(viommu.iommufd(), |fd| {
            fd.alloc_hw_queue(viommu.id(), queue_type, index, ipa, length)
        })?;
        Ok(Self {
            object,
            index,
            viommu: viommu.clone(),
        })
    }

    /// The kernel id.
    pub fn id(&self) -> HwQueueId {
        self.object.id()
    }

    /// The queue's index in its vIOMMU.
    pub fn index(&self) -> u32 {
        self.index
    }
}
