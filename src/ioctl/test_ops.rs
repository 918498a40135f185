// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The mock's `IOMMU_TEST_OP_*` operations that hold no user pointer, each bound once
//! to its payload (its member of the `iommu_test_cmd` union): the `IOMMU_TEST_CMD`
//! variants a safe call may issue. One payload may serve several operations (the
//! PASID ones), so the binding is a constant per operation, not a trait per payload.
//! The operations with a user pointer (`MD_CHECK_MAP`, `MD_CHECK_REFS`, `DIRTY`) are
//! not here: `run_with_buffer` builds them from a borrowed buffer.

#![allow(unsafe_code)]

use crate::uapi::*;
use core::marker::PhantomData;

/// An `IOMMU_TEST_OP_*` operation whose payload is `P` and holds no user pointer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TestOp<P> {
    op: u32,
    payload: PhantomData<fn(P) -> P>,
}

impl<P> TestOp<P> {
    /// Binds `op` to payload `P`.
    ///
    /// # Safety
    ///
    /// The kernel must follow no address in `op`'s payload into this process's memory.
    /// (That `P` is `op`'s member of the union is a matter of correctness only.)
    const unsafe fn new(op: u32) -> Self {
        Self {
            op,
            payload: PhantomData,
        }
    }

    /// The `IOMMU_TEST_OP_*` number.
    pub(crate) const fn op(self) -> u32 {
        self.op
    }
}

/// Reserves an IOVA range in an IOAS.
// SAFETY: add_reserved holds an IOVA range.
pub(crate) const ADD_RESERVED: TestOp<IommuTestCmdAddReserved> =
    unsafe { TestOp::new(IOMMU_TEST_OP_ADD_RESERVED) };
/// Creates a mock device.
// SAFETY: mock_domain holds three ids the kernel writes.
pub(crate) const MOCK_DOMAIN: TestOp<IommuTestCmdMockDomain> =
    unsafe { TestOp::new(IOMMU_TEST_OP_MOCK_DOMAIN) };
/// Creates a mock device with flags.
// SAFETY: mock_domain_flags holds three ids the kernel writes and flags.
pub(crate) const MOCK_DOMAIN_FLAGS: TestOp<IommuTestCmdMockDomainFlags> =
    unsafe { TestOp::new(IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS) };
/// Replaces a mock device's attachment.
// SAFETY: mock_domain_replace holds a page table id.
pub(crate) const MOCK_DOMAIN_REPLACE: TestOp<IommuTestCmdMockDomainReplace> =
    unsafe { TestOp::new(IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE) };
/// Checks a nested IOTLB entry.
// SAFETY: check_iotlb holds an index and a value.
pub(crate) const MD_CHECK_IOTLB: TestOp<IommuTestCmdCheckIotlb> =
    unsafe { TestOp::new(IOMMU_TEST_OP_MD_CHECK_IOTLB) };
/// Injects an I/O page fault.
// SAFETY: trigger_iopf holds ids and the faulting IOVA, which the kernel only reports.
pub(crate) const TRIGGER_IOPF: TestOp<IommuTestCmdTriggerIopf> =
    unsafe { TestOp::new(IOMMU_TEST_OP_TRIGGER_IOPF) };
/// Checks a device cache entry.
// SAFETY: check_dev_cache holds an index and a value.
pub(crate) const DEV_CHECK_CACHE: TestOp<IommuTestCmdCheckDevCache> =
    unsafe { TestOp::new(IOMMU_TEST_OP_DEV_CHECK_CACHE) };
/// Injects a vEVENT.
// SAFETY: trigger_vevent holds a device id.
pub(crate) const TRIGGER_VEVENT: TestOp<IommuTestCmdTriggerVevent> =
    unsafe { TestOp::new(IOMMU_TEST_OP_TRIGGER_VEVENT) };
/// Attaches a PASID.
// SAFETY: pasid_attach holds a PASID and a page table id.
pub(crate) const PASID_ATTACH: TestOp<IommuTestCmdPasid> =
    unsafe { TestOp::new(IOMMU_TEST_OP_PASID_ATTACH) };
/// Replaces a PASID's attachment.
// SAFETY: pasid_replace holds a PASID and a page table id.
pub(crate) const PASID_REPLACE: TestOp<IommuTestCmdPasid> =
    unsafe { TestOp::new(IOMMU_TEST_OP_PASID_REPLACE) };
/// Detaches a PASID.
// SAFETY: pasid_detach holds a PASID.
pub(crate) const PASID_DETACH: TestOp<IommuTestCmdPasid> =
    unsafe { TestOp::new(IOMMU_TEST_OP_PASID_DETACH) };
/// Checks a PASID's HWPT.
// SAFETY: pasid_check holds a PASID and a HWPT id.
pub(crate) const PASID_CHECK_HWPT: TestOp<IommuTestCmdPasid> =
    unsafe { TestOp::new(IOMMU_TEST_OP_PASID_CHECK_HWPT) };
