// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! What [`VDeviceBound`](super::VDeviceBound) and [`Nested`](super::Nested) share: a
//! device, its vDEVICE, its own stage-1 HWPT if any, and the vIOMMU.

use super::VIommuAllocated;
use super::object::KernelObject;
use crate::arch::{DefaultStage1, Family, NestedInvalidation, Stage1Config};
use crate::device::Device;
use crate::error::{Error, Op, Result, TransitionError};
use crate::ids::{HwptId, PtId, VDeviceId};
use crate::iommufd::HwptAlloc;

/// Teardown undoes the attachment the binding made, whoever owns the device's fd:
/// `Drop` detaches the device first (closing a VFIO cdev would not unbind it while
/// management software keeps a duplicate of the fd), then the fields go in order:
/// the device, its stage-1 HWPT (attached to nothing now), the vDEVICE, and this
/// device's hold on the vIOMMU.
pub(super) struct Binding<F: Family, D: Device> {
    dev: HeldDevice<D>,
    pub(super) stage1: Option<Stage1Hwpt>,
    /// Where the nested HWPTs made from now on report I/O page faults.
    pub(super) faults: Option<super::FaultQueue>,
    pub(super) vdevice: KernelObject<VDeviceId>,
    pub(super) virt_id: u64,
    pub(super) viommu: VIommuAllocated<F>,
}

impl<F: Family, D: Device> Binding<F, D> {
    pub(super) fn new(
        dev: D,
        vdevice: KernelObject<VDeviceId>,
        virt_id: u64,
        viommu: VIommuAllocated<F>,
    ) -> Self {
        Self {
            dev: HeldDevice::new(dev),
            stage1: None,
            faults: None,
            vdevice,
            virt_id,
            viommu,
        }
    }

    pub(super) fn dev(&self) -> &D {
        self.dev.get()
    }

    /// The device, leaving it attached where it is; the rest of the binding goes.
    pub(super) fn into_device(mut self) -> D {
        self.dev.take()
    }

    /// Allocates a nested HWPT for `config` on the vIOMMU and attaches the device to
    /// it by replace. On failure nothing changed: the device is where it was and the
    /// new HWPT is destroyed. On success returns the HWPT the device left, if it was
    /// this device's own.
    pub(super) fn switch_to_config(&mut self, config: &F::Stage1) -> Result<Option<Stage1Hwpt>> {
        let data = config.hwpt_data();
        let request = HwptAlloc::nested(self.dev().dev_id(), self.viommu.id(), &data);
        Stage1Hwpt::make(self.viommu.iommufd(), request, &self.faults)?
            .attach_replacing(self.dev.get(), &mut self.stage1)
    }

    /// Attaches the device to the vIOMMU's default `kind` by replace; on success
    /// returns the device's own HWPT it left, if any. Fails, changing nothing, when
    /// the vIOMMU has no such default.
    pub(super) fn switch_to_default(&mut self, kind: DefaultStage1) -> Result<Option<Stage1Hwpt>> {
        let hwpt = self.viommu.default_hwpt(kind).ok_or(no_default(kind))?;
        self.dev().attach(PtId::Hwpt(hwpt))?;
        Ok(self.stage1.take())
    }

    /// Attaches the device to the stage 2 alone, outside the vIOMMU: what it stays
    /// on once the binding gives it back with [`into_device`](Self::into_device).
    pub(super) fn leave_viommu(&self) -> Result<()> {
        let s2 = self.viommu.s2().id();
        self.dev().attach(PtId::Hwpt(s2)).map(drop)
    }
}

impl<F: NestedInvalidation, D: Device> Binding<F, D> {
    /// Forwards guest invalidation requests to the device's own nested HWPT.
    pub(super) fn invalidate_stage1(&self, entries: &[F::HwptInvalidation]) -> Result<()> {
        let Some(hwpt) = &self.stage1 else {
            return Err(Error::Unsupported {
                op: Op::HwptInvalidate,
                reason: "the device is on a default stage 1, with no nested HWPT",
            });
        };
        self.viommu.iommufd().invalidate(hwpt.id(), entries)
    }
}

/// A device's own nested HWPT and the fault queue it reports to, if any. Boxed:
/// the per-device states travel by value in every `TransitionError`, and installs
/// are rare next to the moves.
#[derive(Debug)]
pub(super) struct Stage1Hwpt(Box<Stage1HwptInner>);

// Field order is teardown order: the HWPT holds the queue busy in the kernel.
#[derive(Debug)]
struct Stage1HwptInner {
    hwpt: KernelObject<HwptId>,
    faults: Option<super::FaultQueue>,
}

impl Stage1Hwpt {
    /// Allocates `request`, made to report to `faults` when there is a queue.
    pub(super) fn make(
        fd: &std::sync::Arc<crate::IommuFd>,
        request: HwptAlloc<'_>,
        faults: &Option<super::FaultQueue>,
    ) -> Result<Self> {
        let request = match faults {
            Some(queue) => request.fault_queue(queue.id()),
            None => request,
        };
        Ok(Self(Box::new(Stage1HwptInner {
            hwpt: KernelObject::make(fd, |fd| fd.alloc_hwpt(&request))?,
            faults: faults.clone(),
        })))
    }

    pub(super) fn id(&self) -> HwptId {
        self.0.hwpt.id()
    }

    /// The fault queue this HWPT reports to.
    pub(super) fn fault_queue(&self) -> Option<&super::FaultQueue> {
        self.0.faults.as_ref()
    }

    /// Attaches `dev` to this HWPT by replace and puts it in `slot`, returning what
    /// was there. On failure nothing changed (this HWPT is destroyed).
    pub(super) fn attach_replacing(
        self,
        dev: &impl Device,
        slot: &mut Option<Stage1Hwpt>,
    ) -> Result<Option<Stage1Hwpt>> {
        dev.attach(PtId::Hwpt(self.id()))?;
        Ok(slot.replace(self))
    }
}

/// The device a binding holds, from construction until `take` gives it back
/// (which consumes the binding).
#[derive(Debug)]
pub(super) struct HeldDevice<D>(Option<D>);

impl<D> HeldDevice<D> {
    pub(super) fn new(dev: D) -> Self {
        Self(Some(dev))
    }

    pub(super) fn get(&self) -> &D {
        match &self.0 {
            Some(dev) => dev,
            None => unreachable!("only take removes the device, and its binding goes with it"),
        }
    }

    pub(super) fn take(&mut self) -> D {
        match self.0.take() {
            Some(dev) => dev,
            None => unreachable!("only take removes the device, and its binding goes with it"),
        }
    }

    /// The device, unless it was given back (for `Drop`).
    pub(super) fn held(&self) -> Option<&D> {
        self.0.as_ref()
    }
}

/// Unplugs the device of a per-device state: attaches it to the stage 2 alone, then
/// lets the rest of the binding (its vDEVICE, its nested HWPT) go. On failure the
/// state comes back unchanged.
pub(super) fn unbind<T, F: Family, D: Device>(
    state: T,
    binding: impl FnOnce(&T) -> &Binding<F, D>,
    into_binding: impl FnOnce(T) -> Binding<F, D>,
) -> Result<D, TransitionError<T>> {
    match binding(&state).leave_viommu() {
        Ok(()) => Ok(into_binding(state).into_device()),
        Err(e) => Err(TransitionError::new(state, e)),
    }
}

/// The refusal of a default the vIOMMU does not have.
pub(super) fn no_default(kind: DefaultStage1) -> Error {
    Error::Unsupported {
        op: Op::Attach,
        // The family has none, or a failed `try_destroy` could not make it again.
        reason: match kind {
            DefaultStage1::Bypass => "the vIOMMU has no bypass stage 1",
            DefaultStage1::Abort => "the vIOMMU has no abort stage 1",
        },
    }
}

/// The accessors every per-device state has, read from its `binding` field.
macro_rules! binding_accessors {
    () => {
        /// The device.
        pub fn device(&self) -> &D {
            self.binding.dev()
        }

        /// The vDEVICE's kernel id.
        pub fn vdevice_id(&self) -> crate::ids::VDeviceId {
            self.binding.vdevice.id()
        }

        /// The id the guest knows the device by (its StreamID, for SMMUv3).
        pub fn virt_id(&self) -> u64 {
            self.binding.virt_id
        }

        /// The vIOMMU the device is bound to.
        pub fn viommu(&self) -> &super::VIommuAllocated<F> {
            &self.binding.viommu
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
pub(super) use binding_accessors;

impl<F: Family, D: Device> Drop for Binding<F, D> {
    fn drop(&mut self) {
        if let Some(dev) = self.dev.held() {
            // Fails for devices that cannot detach (the mock's, which go when
            // destroyed) or are not attached; either way nothing of this binding's
            // stays attached once the device goes.
            let _ = dev.detach();
        }
    }
}

impl<F: Family, D: Device + core::fmt::Debug> core::fmt::Debug for Binding<F, D> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Binding")
            .field("dev", &self.dev)
            .field("vdevice", &self.vdevice.id())
            .field("virt_id", &self.virt_id)
            .field("stage1", &self.stage1.as_ref().map(Stage1Hwpt::id))
            .field("viommu", &self.viommu.id())
            .finish()
    }
}
