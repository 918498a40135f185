// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! vIOMMU, vDEVICE, vEVENTQ, HW queue and fault queue commands on [`IommuFd`].

use super::IommuFd;
use crate::error::{ErrnoExt, Error, Op, Result};
use crate::ids::{DevId, FaultQueueId, HwQueueId, HwptId, VDeviceId, VEventQueueId, VIommuId};
use crate::ioctl;
use crate::payload::VIommuData;
use crate::uapi::{IommuHwptPageResponse, IommuHwptPgfault};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use zerocopy::IntoBytes;

/// The kernel's largest vEVENTQ depth (`VEVENTQ_MAX_DEPTH`).
pub const VEVENTQ_MAX_DEPTH: u32 = 1 << 19;

/// A virtual event queue: its object id and the fd its events are read from.
///
/// Reads never block: an empty queue reads 0 bytes; poll the fd for readiness.
#[derive(Debug)]
pub struct RawVEventQueue {
    id: VEventQueueId,
    fd: OwnedFd,
}

impl RawVEventQueue {
    /// The object id (destroy it only after dropping this, which closes the fd).
    pub fn id(&self) -> VEventQueueId {
        self.id
    }

    /// Reads as many whole events (each a `struct iommufd_vevent_header` and the
    /// type's record; a lost-events marker is a header alone) as fit into `buf`.
    /// Returns the bytes read; 0 when the queue is empty. The kernel refuses (EINVAL)
    /// a `buf` shorter than a header, even on an empty queue, and one too short for
    /// the first queued record; the size rules in full are on
    /// [`VEventQueue::read`](crate::states::VEventQueue::read).
    pub fn read(&self, buf: &mut [u8]) -> Result<usize> {
        rustix::io::read(&self.fd, buf).op(Op::QueueRead)
    }

    /// Splits the fd off, to register it with an event loop or close it.
    pub fn into_parts(self) -> (VEventQueueId, OwnedFd) {
        (self.id, self.fd)
    }
}

impl AsFd for RawVEventQueue {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// A fault queue for I/O page faults: its object id and fd.
#[derive(Debug)]
pub struct RawFaultQueue {
    id: FaultQueueId,
    fd: OwnedFd,
}

impl RawFaultQueue {
    /// The object id, for [`HwptAlloc::fault_queue`](super::HwptAlloc::fault_queue).
    pub fn id(&self) -> FaultQueueId {
        self.id
    }

    /// Reads pending faults into `faults`. Returns how many were read (0 when none).
    pub fn read(&self, faults: &mut [IommuHwptPgfault]) -> Result<usize> {
        let n = rustix::io::read(&self.fd, faults.as_mut_bytes()).op(Op::QueueRead)?;
        Ok(n / size_of::<IommuHwptPgfault>())
    }

    /// Answers faults (by cookie). Returns how many responses the kernel took.
    pub fn respond(&self, responses: &[IommuHwptPageResponse]) -> Result<usize> {
        let n = rustix::io::write(&self.fd, responses.as_bytes()).op(Op::QueueWrite)?;
        Ok(n / size_of::<IommuHwptPageResponse>())
    }

    /// Splits the fd off.
    pub fn into_parts(self) -> (FaultQueueId, OwnedFd) {
        (self.id, self.fd)
    }
}

impl AsFd for RawFaultQueue {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl IommuFd {
    /// Allocates a vIOMMU of type `D` on the nest-parent `s2`, for the physical IOMMU
    /// behind `dev`. `data` goes in and comes back with the driver's outputs.
    pub fn alloc_viommu<D: VIommuData>(
        &self,
        dev: DevId,
        s2: HwptId,
        data: &mut D,
    ) -> Result<VIommuId> {
        self.alloc_viommu_raw(D::VIOMMU_TYPE, dev, s2, data.as_mut_bytes())
    }

    /// Allocates a vIOMMU of a raw `viommu_type` (ARM SMMUv3 takes no data: pass an
    /// empty slice).
    pub fn alloc_viommu_raw(
        &self,
        viommu_type: u32,
        dev: DevId,
        s2: HwptId,
        data: &mut [u8],
    ) -> Result<VIommuId> {
        Error::check_len_u32(Op::VIommuAlloc, "data", data.len())?;
        ioctl::viommu::viommu_alloc(self.as_fd(), viommu_type, dev.raw(), s2.raw(), data)
            .op(Op::VIommuAlloc)
            .map(VIommuId::from_raw)
    }

    /// Makes `dev` visible to `viommu`'s guest as `virt_id` (the guest StreamID for
    /// SMMUv3). A device has at most one vDEVICE (EEXIST).
    pub fn alloc_vdevice(&self, viommu: VIommuId, dev: DevId, virt_id: u64) -> Result<VDeviceId> {
        ioctl::viommu::vdevice_alloc(self.as_fd(), viommu.raw(), dev.raw(), virt_id)
            .op(Op::VDeviceAlloc)
            .map(VDeviceId::from_raw)
    }

    /// Allocates a vEVENTQ of `veventq_type` on `viommu` holding up to `depth`
    /// events (one per type per vIOMMU: EEXIST for a second).
    pub fn alloc_vevent_queue(
        &self,
        viommu: VIommuId,
        veventq_type: u32,
        depth: u32,
    ) -> Result<RawVEventQueue> {
        if depth == 0 || depth > VEVENTQ_MAX_DEPTH {
            return Err(Error::invalid(
                Op::VEventQueueAlloc,
                "depth",
                "must be 1 to 2^19",
            ));
        }
        let (id, fd) =
            ioctl::viommu::veventq_alloc(self.as_fd(), viommu.raw(), veventq_type, depth)
                .op(Op::VEventQueueAlloc)?;
        Ok(RawVEventQueue {
            id: VEventQueueId::from_raw(id),
            fd,
        })
    }

    /// Hands the guest queue at guest physical `ipa` (`length` bytes, mapped in the
    /// stage 2 of `viommu`) to the hardware as queue `index` of `queue_type`.
    pub fn alloc_hw_queue(
        &self,
        viommu: VIommuId,
        queue_type: u32,
        index: u32,
        ipa: u64,
        length: u64,
    ) -> Result<HwQueueId> {
        let op = Op::HwQueueAlloc;
        if length == 0 {
            return Err(Error::invalid(op, "length", "must not be zero"));
        }
        if ipa.checked_add(length - 1).is_none() {
            return Err(Error::invalid(op, "ipa", "ipa + length wraps past 2^64"));
        }
        ioctl::viommu::hw_queue_alloc(self.as_fd(), viommu.raw(), queue_type, index, ipa, length)
            .op(op)
            .map(HwQueueId::from_raw)
    }

    /// Allocates a fault queue for I/O page faults.
    pub fn alloc_fault_queue(&self) -> Result<RawFaultQueue> {
        let (id, fd) = ioctl::hwpt::fault_queue_alloc(self.as_fd()).op(Op::FaultQueueAlloc)?;
        Ok(RawFaultQueue {
            id: FaultQueueId::from_raw(id),
            fd,
        })
    }
}
