// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! What [`S2Attached`](super::S2Attached) and [`S2Nested`](super::S2Nested) share: a
//! device on a stage 2, its own nested HWPT if any.

use super::S2Allocated;
use super::binding::{HeldDevice, Stage1Hwpt};
use crate::arch::{ParentNesting, Stage1Config};
use crate::device::Device;
use crate::error::Result;
use crate::ids::PtId;
use crate::iommufd::HwptAlloc;
use core::marker::PhantomData;

/// Teardown detaches the device's PASIDs and the device first, then its nested
/// HWPTs (attached to nothing now) go, then this device's hold on the stage 2.
pub(super) struct S2Binding<F: ParentNesting, D: Device> {
    dev: HeldDevice<D>,
    pub(super) stage1: Option<Stage1Hwpt>,
    /// The nested HWPTs attached per PASID, in attach order.
    pub(super) pasids: Vec<(u32, Stage1Hwpt)>,
    /// Where the nested HWPTs made from now on report I/O page faults.
    pub(super) faults: Option<super::FaultQueue>,
    pub(super) s2: S2Allocated,
    family: PhantomData<fn() -> F>,
}

impl<F: ParentNesting, D: Device> S2Binding<F, D> {
    pub(super) fn new(dev: D, s2: S2Allocated) -> Self {
        Self {
            dev: HeldDevice::new(dev),
            stage1: None,
            pasids: Vec::new(),
            faults: None,
            s2,
            family: PhantomData,
        }
    }

    pub(super) fn dev(&self) -> &D {
        self.dev.get()
    }

    /// The device, leaving it attached where it is.
    pub(super) fn into_device(mut self) -> D {
        self.dev.take()
    }

    /// Allocates a nested HWPT for `config` on the stage 2 and attaches the device
    /// to it by replace. On failure nothing changed. On success returns the nested
    /// HWPT the device left, if any.
    pub(super) fn switch_to_config(&mut self, config: &F::Stage1) -> Result<Option<Stage1Hwpt>> {
        self.make_nested(config)?
            .attach_replacing(self.dev.get(), &mut self.stage1)
    }

    /// A nested HWPT for `config` on the stage 2, PASID-compatible when the stage 2
    /// is, reporting to the fault queue set.
    pub(super) fn make_nested(&self, config: &F::Stage1) -> Result<Stage1Hwpt> {
        let data = config.hwpt_data();
        let mut request = HwptAlloc::nested(self.dev().dev_id(), self.s2.id(), &data);
        if self.s2.options().has_pasid() {
            request = request.pasid();
        }
        Stage1Hwpt::make(self.s2.iommufd(), request, &self.faults)
    }

    /// Attaches the device to the stage 2 alone; returns the nested HWPT it left.
    pub(super) fn switch_to_s2(&mut self) -> Result<Option<Stage1Hwpt>> {
        self.dev().attach(PtId::Hwpt(self.s2.id()))?;
        Ok(self.stage1.take())
    }

    /// Forwards invalidations to the device's nested HWPT, if it has one.
    pub(super) fn invalidate(&self, entries: &[F::Invalidation]) -> Result<()> {
        match &self.stage1 {
            Some(hwpt) => self.s2.iommufd().invalidate(hwpt.id(), entries),
            None => Err(crate::Error::Unsupported {
                op: crate::Op::HwptInvalidate,
                reason: "the device is on the stage 2 alone, with no nested HWPT",
            }),
        }
    }
}

impl<F: ParentNesting, D: Device> Drop for S2Binding<F, D> {
    fn drop(&mut self) {
        if let Some(dev) = self.dev.held() {
            for (pasid, _) in &self.pasids {
                let _ = dev.detach_pasid(*pasid);
            }
            // As for a vIOMMU binding: nothing of this binding stays attached once
            // the device goes (the mock's devices cannot detach; they go when
            // destroyed).
            let _ = dev.detach();
        }
    }
}

impl<F: ParentNesting, D: Device + core::fmt::Debug> core::fmt::Debug for S2Binding<F, D> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("S2Binding")
            .field("family", &F::NAME)
            .field("dev", &self.dev)
            .field("stage1", &self.stage1.as_ref().map(Stage1Hwpt::id))
            .field(
                "pasids",
                &self
                    .pasids
                    .iter()
                    .map(|(p, h)| (*p, h.id()))
                    .collect::<Vec<_>>(),
            )
            .field("s2", &self.s2.id())
            .finish()
    }
}

/// The accessors both per-device states on a stage 2 have.
macro_rules! s2_binding_accessors {
    () => {
        /// The device.
        pub fn device(&self) -> &D {
            self.binding.dev()
        }

        /// The stage 2 the device's translation ends in.
        pub fn s2(&self) -> &super::S2Allocated {
            &self.binding.s2
        }

        /// The fault queue the nested HWPTs installed from now on report I/O page
        /// faults to.
        pub fn fault_queue(&self) -> Option<&super::FaultQueue> {
            self.binding.faults.as_ref()
        }

        /// Makes the nested HWPTs installed from now on (install, reinstall)
        /// report I/O page faults to `queue`, or to none. Changes nothing in the
        /// kernel until then: the current HWPT keeps its queue.
        pub fn set_fault_queue(&mut self, queue: Option<&super::FaultQueue>) {
            self.binding.faults = queue.cloned();
        }
    };
}
pub(super) use s2_binding_accessors;
