// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The kernel's mock IOMMU (`CONFIG_IOMMUFD_TEST`), for tests: mock devices that stand
//! in for VFIO devices, and the mock's checks as assertion helpers that read the
//! kernel's own state (not the crate's bookkeeping).
//!
//! Only with the `mock` feature; a VMM never needs it.

use crate::device::Device;
use crate::error::{ErrnoExt, Error, Op, Result};
use crate::ids::{DevId, HwptId, IoasId, Iova, PtId};
use crate::ioctl::mock::{run, run_with_buffer};
use crate::ioctl::test_ops::{self as op, TestOp};
use crate::iommufd::IommuFd;
use crate::uapi::*;
use rustix::fd::AsFd;
use std::sync::Arc;

/// A mock device on the kernel's mock bus, bound to an iommufd and attached at birth.
/// Dropping it destroys it (which detaches and unbinds it).
#[derive(Debug)]
pub struct MockDevice {
    iommufd: Arc<IommuFd>,
    stdev_id: u32,
    dev_id: DevId,
    hwpt_id: HwptId,
}

/// Flags of a mock device (`MOCK_FLAGS_DEVICE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MockDeviceFlags(pub u32);

impl MockDeviceFlags {
    /// No dirty tracking.
    pub const NO_DIRTY: Self = Self(MOCK_FLAGS_DEVICE_NO_DIRTY);
    /// PASID capable.
    pub const PASID: Self = Self(MOCK_FLAGS_DEVICE_PASID);
}

impl MockDevice {
    /// Creates a mock device attached to `pt` (`IOMMU_TEST_OP_MOCK_DOMAIN`).
    pub fn new(iommufd: &Arc<IommuFd>, pt: impl Into<PtId>) -> Result<Self> {
        Self::with_flags(iommufd, pt, MockDeviceFlags::default())
    }

    /// Creates a mock device with `flags` (`IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS`).
    pub fn with_flags(
        iommufd: &Arc<IommuFd>,
        pt: impl Into<PtId>,
        flags: MockDeviceFlags,
    ) -> Result<Self> {
        let (fd, pt) = (iommufd.as_fd(), pt.into().raw());
        // No flags: the plain MOCK_DOMAIN, whose payload has no flags field.
        let (stdev_id, idev_id, hwpt_id) = if flags.0 == 0 {
            let out = run(fd, op::MOCK_DOMAIN, pt, IommuTestCmdMockDomain::default());
            out.map(|o| (o.out_stdev_id, o.out_idev_id, o.out_hwpt_id))
        } else {
            let payload = IommuTestCmdMockDomainFlags {
                dev_flags: flags.0,
                ..Default::default()
            };
            let out = run(fd, op::MOCK_DOMAIN_FLAGS, pt, payload);
            out.map(|o| (o.out_stdev_id, o.out_idev_id, o.out_hwpt_id))
        }
        .op(Op::TestCmd)?;
        Ok(Self {
            iommufd: Arc::clone(iommufd),
            stdev_id,
            dev_id: DevId::from_raw(idev_id),
            hwpt_id: HwptId::from_raw(hwpt_id),
        })
    }

    /// The HWPT the device was attached to at creation.
    pub fn initial_hwpt(&self) -> HwptId {
        self.hwpt_id
    }

    /// The selftest device object's id (the mock's handle for PASID operations).
    pub fn stdev_id(&self) -> u32 {
        self.stdev_id
    }

    /// Asserts through the mock that `pasid` is attached to `hwpt` (`None`: to
    /// nothing).
    pub fn check_pasid_hwpt(&self, pasid: u32, hwpt: Option<HwptId>) -> Result<()> {
        let p = IommuTestCmdPasid {
            pasid,
            pt_id: hwpt.map_or(0, HwptId::raw),
        };
        run(self.iommufd.as_fd(), op::PASID_CHECK_HWPT, self.stdev_id, p)
            .map(drop)
            .op(Op::TestCmd)
    }

    /// Asserts through the mock that cache entry `index` of the device holds `value`.
    pub fn check_cache(&self, index: u32, value: u32) -> Result<()> {
        let p = IommuTestCmdCheckDevCache {
            id: index,
            cache: value,
        };
        run(
            self.iommufd.as_fd(),
            op::DEV_CHECK_CACHE,
            self.dev_id.raw(),
            p,
        )
        .map(drop)
        .op(Op::TestCmd)
    }

    /// Makes the mock report a vEVENT for this device on its vIOMMU's vEVENTQ.
    pub fn trigger_vevent(&self) -> Result<()> {
        let p = IommuTestCmdTriggerVevent {
            dev_id: self.dev_id.raw(),
        };
        run(self.iommufd.as_fd(), op::TRIGGER_VEVENT, 0, p)
            .map(drop)
            .op(Op::TestCmd)
    }

    /// Injects an I/O page fault from this device.
    pub fn trigger_iopf(&self, pasid: u32, grpid: u32, perm: PgfaultPerm, addr: u64) -> Result<()> {
        let p = IommuTestCmdTriggerIopf {
            dev_id: self.dev_id.raw(),
            pasid,
            grpid,
            perm: perm.bits(),
            addr,
        };
        run(self.iommufd.as_fd(), op::TRIGGER_IOPF, 0, p)
            .map(drop)
            .op(Op::TestCmd)
    }

    fn pasid_op(&self, which: TestOp<IommuTestCmdPasid>, pasid: u32, pt: u32) -> Result<u32> {
        let p = IommuTestCmdPasid { pasid, pt_id: pt };
        let out = run(self.iommufd.as_fd(), which, self.stdev_id, p).op(Op::TestCmd)?;
        Ok(out.pt_id)
    }
}

impl Device for MockDevice {
    fn dev_id(&self) -> DevId {
        self.dev_id
    }

    /// Replaces the attachment (`IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE`); a mock device is
    /// always attached.
    fn attach(&self, pt: PtId) -> Result<HwptId> {
        let p = IommuTestCmdMockDomainReplace { pt_id: pt.raw() };
        let out = run(
            self.iommufd.as_fd(),
            op::MOCK_DOMAIN_REPLACE,
            self.stdev_id,
            p,
        )
        .op(Op::TestCmd)?;
        // The HWPT the device left may have been waiting for it.
        self.iommufd.retry_pending_destroys();
        Ok(HwptId::from_raw(out.pt_id))
    }

    /// A mock device cannot be detached: it is destroyed instead. Always
    /// [`ErrorKind::NotSupported`](crate::ErrorKind::NotSupported).
    fn detach(&self) -> Result<()> {
        Err(Error::Unsupported {
            op: Op::Attach,
            reason: "a mock device cannot be detached: drop it",
        })
    }

    /// Attaches with `IOMMU_TEST_OP_PASID_ATTACH`, or replaces with
    /// `IOMMU_TEST_OP_PASID_REPLACE` when the PASID is already attached (the mock has a
    /// command for each; the kernel's EBUSY tells which applies).
    fn attach_pasid(&self, pasid: u32, pt: PtId) -> Result<HwptId> {
        let attached = match self.pasid_op(op::PASID_ATTACH, pasid, pt.raw()) {
            Err(e) if e.errno() == Some(rustix::io::Errno::BUSY) => {
                self.pasid_op(op::PASID_REPLACE, pasid, pt.raw())
            }
            other => other,
        }?;
        Ok(HwptId::from_raw(attached))
    }

    fn detach_pasid(&self, pasid: u32) -> Result<()> {
        self.pasid_op(op::PASID_DETACH, pasid, 0).map(drop)
    }
}

impl Drop for MockDevice {
    fn drop(&mut self) {
        // Destroying the selftest device unbinds it; an error here could only mean the
        // iommufd is already gone, which destroyed it too.
        let _ = crate::ioctl::ioas::destroy(self.iommufd.as_fd(), self.stdev_id);
        // What the device was attached to may have been waiting for it.
        self.iommufd.retry_pending_destroys();
    }
}

/// The mock's checks and knobs that are not tied to one device.
pub trait MockChecks {
    /// Asserts that mock HWPT `hwpt` maps each page of `iova .. iova + buf.len()` to
    /// the page of `buf` at the same offset.
    fn check_map(&self, hwpt: HwptId, iova: Iova, buf: &[u8]) -> Result<()>;
    /// Asserts that each page of `buf` is pinned `refs` times.
    fn check_refs(&self, buf: &[u8], refs: u32) -> Result<()>;
    /// Asserts that IOTLB entry `index` of nested mock HWPT `hwpt` holds `value`.
    fn check_iotlb(&self, hwpt: HwptId, index: u32, value: u32) -> Result<()>;
    /// Reserves `start .. start + length` of `ioas` as the mock's reserved region.
    fn add_reserved(&self, ioas: IoasId, start: u64, length: u64) -> Result<()>;
    /// Marks dirty the pages of mock HWPT `hwpt` whose bit is set in `bitmap` (bit n:
    /// page n from `iova`, `page_size` each). Returns how many the mock marked
    /// (`out_nr_dirty`): fewer than the bits set means its entries cover more or
    /// less than `page_size` each (6.12's mock tracks 2 KiB halves of pages).
    fn set_dirty(&self, hwpt: HwptId, iova: Iova, page_size: u64, bitmap: &[u8]) -> Result<u64>;
    /// Issues raw bytes as the struct of `opcode` (only commands without user
    /// pointers), to drive the kernel's size checks (E2BIG for an unknown tail).
    fn raw_ioctl(&self, opcode: rustix::ioctl::Opcode, buf: &mut [u8]) -> Result<()>;
    /// Issues `IOMMU_HWPT_INVALIDATE` on raw `target` without the crate's checks of
    /// `data_type`, `entry_len` and `entry_num` (only that `data` holds
    /// `entry_len * entry_num` bytes), to drive the kernel's own refusals. Returns
    /// the result and the `entry_num` the kernel wrote back.
    fn invalidate_unchecked(
        &self,
        target: u32,
        data_type: u32,
        data: &[u8],
        entry_len: u32,
        entry_num: u32,
    ) -> (Result<()>, u32);
}

impl MockChecks for IommuFd {
    fn check_map(&self, hwpt: HwptId, iova: Iova, buf: &[u8]) -> Result<()> {
        run_with_buffer(
            self.as_fd(),
            IOMMU_TEST_OP_MD_CHECK_MAP,
            hwpt.raw(),
            buf,
            (iova.0, 0, 0),
        )
        .map(drop)
        .op(Op::TestCmd)
    }

    fn check_refs(&self, buf: &[u8], refs: u32) -> Result<()> {
        run_with_buffer(
            self.as_fd(),
            IOMMU_TEST_OP_MD_CHECK_REFS,
            0,
            buf,
            (0, 0, refs),
        )
        .map(drop)
        .op(Op::TestCmd)
    }

    fn check_iotlb(&self, hwpt: HwptId, index: u32, value: u32) -> Result<()> {
        let p = IommuTestCmdCheckIotlb {
            id: index,
            iotlb: value,
        };
        run(self.as_fd(), op::MD_CHECK_IOTLB, hwpt.raw(), p)
            .map(drop)
            .op(Op::TestCmd)
    }

    fn add_reserved(&self, ioas: IoasId, start: u64, length: u64) -> Result<()> {
        let p = IommuTestCmdAddReserved { start, length };
        run(self.as_fd(), op::ADD_RESERVED, ioas.raw(), p)
            .map(drop)
            .op(Op::TestCmd)
    }

    fn set_dirty(&self, hwpt: HwptId, iova: Iova, page_size: u64, bitmap: &[u8]) -> Result<u64> {
        run_with_buffer(
            self.as_fd(),
            IOMMU_TEST_OP_DIRTY,
            hwpt.raw(),
            bitmap,
            (iova.0, page_size, 0),
        )
        .map(|cmd| crate::ioctl::mock::nr_dirty(&cmd))
        .op(Op::TestCmd)
    }

    fn raw_ioctl(&self, opcode: rustix::ioctl::Opcode, buf: &mut [u8]) -> Result<()> {
        crate::ioctl::mock::raw_no_pointers(self.as_fd(), opcode, buf).op(Op::TestCmd)
    }

    fn invalidate_unchecked(
        &self,
        target: u32,
        data_type: u32,
        data: &[u8],
        entry_len: u32,
        entry_num: u32,
    ) -> (Result<()>, u32) {
        let (result, written) = crate::ioctl::hwpt::hwpt_invalidate(
            self.as_fd(),
            target,
            data_type,
            data,
            entry_len,
            entry_num,
        );
        (result.op(Op::HwptInvalidate), written)
    }
}
