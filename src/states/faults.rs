// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`FaultQueue`]: I/O page faults (IOPF) of nested HWPTs, read in whole groups into
//! the caller's buffer and answered with [`PageResponse`]s.
//!
//! A device on a nested HWPT that reports to a fault queue has its page requests
//! (PCIe PRI, or SMMUv3 stalls) delivered here instead of failing: the VMM reads
//! them, injects them into the guest (a VT-d page request descriptor, an SMMUv3
//! `EVT_ID_STALL` / PRI queue entry), and sends the guest's answer back by cookie
//! (`CMD_RESUME` / `CMD_PRI_RESP` on SMMUv3: success retries the access, invalid
//! fails it). The crate's [`VSmmu`](crate::vsmmu::VSmmu) advertises neither stalls
//! nor PRI to its guest (Linux 7.3's SMMUv3 nesting forwards neither), so there
//! the queue is for VMMs with their own model; on the mock it carries
//! `IOMMU_TEST_OP_TRIGGER_IOPF`.

use super::object::KernelObject;
use crate::error::{Error, Op, Result};
use crate::ids::FaultQueueId;
use crate::iommufd::IommuFd;
use crate::uapi::{
    IOMMUFD_PAGE_RESP_INVALID, IOMMUFD_PAGE_RESP_SUCCESS, IommuHwptPageResponse, IommuHwptPgfault,
    PgfaultFlags,
};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use zerocopy::{Immutable, IntoBytes, KnownLayout};

/// A fault queue. A cheap handle: clone it to share; every nested HWPT made to
/// report to it holds it alive, so it goes after them whatever the drop order.
/// Reads never block; poll [`as_fd`](AsFd::as_fd) for readiness.
///
/// Attach it with `set_fault_queue` on a per-device state
/// ([`VDeviceBound`](super::VDeviceBound), [`S2Attached`](super::S2Attached)):
/// the nested HWPTs installed from then on report to it.
///
/// ```no_run
/// # fn f(queue: &iommufd::states::FaultQueue) -> iommufd::Result<()> {
/// use iommufd::states::PageResponse;
/// use iommufd::uapi::IommuHwptPgfault;
/// let mut buf = [IommuHwptPgfault::default(); 16];
/// for group in FaultQueue::groups(queue.read(&mut buf)?) {
///     // ... hand `group` to the guest; later, with its answer:
///     queue.respond(&[PageResponse::success(&group[0])])?;
/// }
/// # Ok(()) }
/// # use iommufd::states::FaultQueue;
/// ```
#[derive(Debug, Clone)]
pub struct FaultQueue {
    inner: Arc<FaultQueueInner>,
}

// Field order is teardown order: the kernel destroys the object only once its fd
// is closed.
#[derive(Debug)]
struct FaultQueueInner {
    fd: OwnedFd,
    object: KernelObject<FaultQueueId>,
}

impl FaultQueue {
    /// Allocates a fault queue in `iommufd`.
    pub fn new(iommufd: &Arc<IommuFd>) -> Result<Self> {
        let (id, fd) = iommufd.alloc_fault_queue()?.into_parts();
        Ok(Self {
            inner: Arc::new(FaultQueueInner {
                fd,
                object: KernelObject::adopt(iommufd, id),
            }),
        })
    }

    /// The kernel id.
    pub fn id(&self) -> FaultQueueId {
        self.inner.object.id()
    }

    /// The iommufd it lives in.
    pub fn iommufd(&self) -> &Arc<IommuFd> {
        self.inner.object.fd()
    }

    /// Reads as many whole fault groups as fit into `buf` and returns the faults
    /// read (empty when there are none). Groups are never split: a group that does
    /// not fit stays queued for the next read. Each fault read waits for a
    /// [`respond`](Self::respond) to its group.
    ///
    /// The kernel's rules (Linux 7.3, `iommufd_fault_fops_read`): when the first
    /// queued group does not fit `buf` whole (an empty `buf` with a fault pending,
    /// say), the read is refused with EINVAL
    /// ([`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument)).
    pub fn read<'b>(&self, buf: &'b mut [IommuHwptPgfault]) -> Result<&'b [IommuHwptPgfault]> {
        let n = rustix::io::read(&self.inner.fd, buf.as_mut_bytes())
            .map_err(|e| Error::kernel(Op::QueueRead, e))?;
        Ok(&buf[..n / size_of::<IommuHwptPgfault>()])
    }

    /// Splits faults [`read`](Self::read) returned into their groups (the faults
    /// of one group share its cookie, and the last has
    /// [`PgfaultFlags::LAST_PAGE`]); answer each group once.
    pub fn groups(faults: &[IommuHwptPgfault]) -> impl Iterator<Item = &[IommuHwptPgfault]> {
        faults.chunk_by(|a, b| {
            a.cookie == b.cookie
                && !PgfaultFlags::from_bits_retain(a.flags).contains(PgfaultFlags::LAST_PAGE)
        })
    }

    /// Answers fault groups, in order, and returns how many the kernel took. Fewer
    /// than given means the next one's cookie is not waiting for an answer
    /// (already answered, or never read); when it is the first, the kernel refuses
    /// the call with EINVAL.
    pub fn respond(&self, responses: &[PageResponse]) -> Result<usize> {
        let n = rustix::io::write(&self.inner.fd, responses.as_bytes())
            .map_err(|e| Error::kernel(Op::QueueWrite, e))?;
        Ok(n / size_of::<PageResponse>())
    }
}

impl AsFd for FaultQueue {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.fd.as_fd()
    }
}

/// The answer to one fault group: success (the page tables now map the address:
/// the device retries) or invalid (the access fails). Made only from these
/// constructors, so the kernel never sees another code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, IntoBytes, Immutable, KnownLayout)]
#[repr(transparent)]
pub struct PageResponse(IommuHwptPageResponse);

impl PageResponse {
    /// The group of `fault` was handled: retry.
    pub fn success(fault: &IommuHwptPgfault) -> Self {
        Self::for_cookie(fault.cookie, true)
    }

    /// The group of `fault` cannot be handled: fail the access.
    pub fn invalid(fault: &IommuHwptPgfault) -> Self {
        Self::for_cookie(fault.cookie, false)
    }

    /// The answer for the group with `cookie` (as the guest's answer carries it
    /// back): `handled` for success, else invalid.
    pub fn for_cookie(cookie: u32, handled: bool) -> Self {
        Self(IommuHwptPageResponse {
            cookie,
            code: if handled {
                IOMMUFD_PAGE_RESP_SUCCESS
            } else {
                IOMMUFD_PAGE_RESP_INVALID
            },
        })
    }

    /// The wire response.
    pub fn response(&self) -> &IommuHwptPageResponse {
        &self.0
    }
}
